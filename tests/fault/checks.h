// Checks shared by the scenarios: read back every record of an org,
// recompute every indicator from the raw records independently of the
// service's aggregates, and compare with what GetIndicatorValues says.
#ifndef GOVREPORT_TESTS_FAULT_CHECKS_H_
#define GOVREPORT_TESTS_FAULT_CHECKS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/fault/harness.h"

namespace govreport::fault {

// Every record of the org, voided ones included, by ListActivities paging.
absl::StatusOr<std::vector<rpb::ActivityRecord>> ListAllActivities(Cluster& cluster,
                                                                   const std::string& token,
                                                                   const std::string& org);

// Every indicator of `profile` over [first_day, last_day] computed from
// the records alone, with the service's documented rules: COUNT and SUM
// over the records of the types, DISTINCT persons, LATEST = the record
// with the greatest (occurred_on, id), RATIO rounded half up; "missing"
// when no record feeds the number.
std::map<std::string, rpb::IndicatorValue> Recompute(
    const rpb::Profile& profile, const std::vector<rpb::ActivityRecord>& records,
    const std::string& first_day, const std::string& last_day);

// Recomputes the figures of each period and compares value, missing and
// record count with GetIndicatorValues. Returns the number of indicator
// values that differ; descriptions go to `problems`.
absl::StatusOr<int64_t> CompareAggregates(Cluster& cluster, const std::string& token,
                                          const std::string& org, const rpb::Profile& profile,
                                          const std::vector<rpb::ActivityRecord>& records,
                                          const std::vector<std::string>& periods,
                                          Problems& problems);

// The same content as sent (the fields a client controls).
bool SameContent(const rpb::ActivityRecord& sent, const rpb::ActivityRecord& stored);

// A plausible record of a random type of the profile, dated within
// [2022-09, 2024-03], with the quantities and persons its type needs.
rpb::ActivityRecord RandomRecord(const rpb::Profile& profile, Rng& rng);

}  // namespace govreport::fault

#endif  // GOVREPORT_TESTS_FAULT_CHECKS_H_
