// A supervising body's roll-up (records.proto, GetRollupValues): its
// children's figures combined by the parent's catalogue. The combining is
// here, apart from Redis, so that its rules are tested alone; RecordsCore
// (rollup.cc) reads the children and calls it.
#ifndef GOVREPORT_RECORDS_ROLLUP_H_
#define GOVREPORT_RECORDS_ROLLUP_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "govreport/records/v1/records.pb.h"
#include "records/profile.h"

namespace govreport::records {

// One child that shares its figures, as read at one data version.
struct ChildFigures {
  pb::Org org;
  int64_t data_version = 0;
  // Its own catalogue (shared with the profile cache), and its values in
  // that catalogue's order.
  std::shared_ptr<const CompiledProfile> profile;
  std::vector<pb::IndicatorValue> values;
  // For each of its DISTINCT indicators the parent also has: the persons.
  std::map<std::string, std::set<std::string>> persons;
};

// Whether the child's indicator `child` can stand in the parent's `parent`
// roll-up: "" when it can, else why not (for RollupShare.excluded).
std::string RollupMismatch(const pb::Indicator& parent, const pb::Indicator* child);

// The parent's catalogue, each indicator rolled up over `children` (in the
// order given); children, period and days are the caller's to fill.
pb::GetRollupValuesResponse CombineRollup(const CompiledProfile& parent,
                                          const std::vector<ChildFigures>& children);

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_ROLLUP_H_
