// The records rules as pure functions over values: what a valid org and
// activity record are, how an update or amendment changes one, and what a
// record contributes to the aggregates. No Redis and no network, so
// reportctl validates a file with the very rules the server applies.
#ifndef GOVREPORT_RECORDS_DOMAIN_H_
#define GOVREPORT_RECORDS_DOMAIN_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "govreport/records/v1/records.pb.h"
#include "records/profile.h"

namespace govreport::records {

inline constexpr int kMaxBatch = 1000;
inline constexpr int kDefaultMaxPersonsPerRecord = 500;
inline constexpr int kDefaultMaxPersonsPerBatch = 5000;
// Bytes of any one text field of an org or a record.
inline constexpr size_t kMaxText = 4096;

// At most kMaxText bytes.
absl::Status CheckTextField(absl::string_view field, absl::string_view value);

// A record's content against the org's activity types (0: no cap on persons).
absl::Status ValidateActivity(const CompiledProfile& profile, const pb::ActivityRecord& record,
                              int max_persons = kDefaultMaxPersonsPerRecord);

// A new org: its id, a display name, printable texts and a parent that is
// an org name.
absl::Status ValidateNewOrg(absl::string_view org_id, const pb::Org& org);

// `current` with the paths of `request.update_mask` (all when empty) taken
// from `request.org`, validated like a new org. Revision and times are the
// caller's to set.
absl::StatusOr<pb::Org> ApplyOrgUpdate(const pb::Org& current, const pb::UpdateOrgRequest& request);

// `current` with the content of `amended`, validated; source_system and
// external_id never change.
absl::StatusOr<pb::ActivityRecord> ApplyAmendment(const CompiledProfile& profile,
                                                  const pb::ActivityRecord& current,
                                                  const pb::ActivityRecord& amended,
                                                  int max_persons);

std::string ActivityName(absl::string_view org_id, absl::string_view id);

// The record's effect on aggregates, in the JSON form the write script reads.
std::string Contribution(const pb::ActivityRecord& record);

// Identity of a record's content, for "same external id, same content?".
std::string ContentHash(const pb::ActivityRecord& record);

// "source_system\x1fexternal_id", or "" for a record without one.
std::string ExternalKey(const pb::ActivityRecord& record);

// The orders of ListActivities (records.proto, order_by).
enum class ActivityOrder { kCreate, kDate, kChange };

// The order a ListActivitiesRequest asks for, or INVALID_ARGUMENT naming
// order_by or changed_after.
absl::StatusOr<ActivityOrder> ParseActivityOrder(const pb::ListActivitiesRequest& request);

// Whether `record` passes the request's filters (type, from/to, department,
// source_system, include_voided). Dates are strict YYYY-MM-DD, so they
// compare as text.
bool MatchesListing(const pb::ListActivitiesRequest& request, const pb::ActivityRecord& record);

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_DOMAIN_H_
