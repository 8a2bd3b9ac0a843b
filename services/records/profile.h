// An org's catalogue: activity types and indicators, validated once when
// loaded, then indexed for the write path (is this type known? which
// quantities does it need?) and the read path (which aggregates feed which
// indicator?).
#ifndef GOVREPORT_RECORDS_PROFILE_H_
#define GOVREPORT_RECORDS_PROFILE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "govreport/records/v1/records.pb.h"
#include "records/period.h"

namespace govreport::records {

namespace pb = ::govreport::records::v1;

// Every problem of a profile at once, one per line, each naming the field.
absl::Status ValidateProfile(const pb::Profile& profile);

// RATIO → PERCENT; 元/万元 → MONEY_FEN; anything else → INTEGER.
pb::ValueKind KindOf(const pb::Indicator& indicator);

// 12 | 97.5 | 3.2: what the report prints for a value of this kind.
std::string FormatValue(pb::ValueKind kind, const std::string& unit, int64_t value, int precision);

class CompiledProfile {
 public:
  static absl::StatusOr<std::shared_ptr<const CompiledProfile>> Compile(pb::Profile profile);

  const pb::Profile& proto() const { return profile_; }
  const pb::ActivityType* FindType(const std::string& key) const;
  const pb::Indicator* FindIndicator(const std::string& key) const;
  std::string KnownTypes() const;

  // The read plan for a period: the JSON argument of ReadFiguresScript.
  std::string ReadSpec(const Period& period) const;
  // Turns the script's reply into one value per indicator, in catalogue
  // order. `latest_ids` receives the record behind each LATEST indicator.
  struct Figures {
    int64_t data_version = 0;
    std::vector<pb::IndicatorValue> values;
    std::map<std::string, std::string> latest_ids;
  };
  Figures Evaluate(const Period& period, int64_t data_version,
                   const std::vector<std::string>& fields, const std::vector<int64_t>& distinct,
                   const std::vector<std::string>& latest) const;

 private:
  CompiledProfile() = default;
  pb::Profile profile_;
  std::map<std::string, int> types_;
  std::map<std::string, int> indicators_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_PROFILE_H_
