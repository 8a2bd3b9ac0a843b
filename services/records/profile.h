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

// Dimensions (records.proto, Dimension): a record keeps a counter for every
// non-empty combination of its dimension values, so 4 per type make at
// most 15 counters per bucket and quantity.
inline constexpr int kMaxDimensionsPerType = 4;
inline constexpr int kMaxDimensionValues = 64;
inline constexpr size_t kMaxDimensionValueBytes = 64;
// A filter's values per condition, and the combinations of them it reads.
inline constexpr int kMaxFilterValues = 32;
inline constexpr int64_t kMaxFilterCombinations = 64;

// 1..64 bytes of UTF-8 without control characters, '|', '&' or '=' (they
// separate the parts of an aggregate's field name); the message says why not.
absl::Status CheckDimensionValue(const std::string& value);

// The aggregate field suffixes of a measure's records that pass its
// filter and, when `breakdown` is set, carry `value` for it: "" for no
// condition, else one "|dim=value&dim=value" (dimension order) per
// combination of the filter's values.
std::vector<std::string> ConditionSuffixes(const pb::Measure& measure,
                                           const std::string& breakdown = "",
                                           const std::string& value = "");

// The dimension `key` of `type`, or null.
const pb::Dimension* FindDimension(const pb::ActivityType& type, const std::string& key);

// Whether `value` is one `d` allows (any, when it lists none).
bool DimensionAllows(const pb::Dimension& d, const std::string& value);

// Every problem of a profile at once, one per line, each naming the field.
absl::Status ValidateProfile(const pb::Profile& profile);

// numerator / denominator * 100, scaled by 10^precision, rounded half up
// (denominator > 0).
int64_t RatioValue(int64_t numerator, int64_t denominator, int precision);

// A value scaled by 10^from_precision, scaled by 10^to_precision instead.
int64_t Rescale(int64_t value, int from_precision, int to_precision);

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
  // The indicator's place in the catalogue (and in Figures::values), or -1.
  int IndicatorIndex(const std::string& key) const;
  std::string KnownTypes() const;

  // Values of a breakdown dimension that its types do not list but the
  // period's records carry, per indicator key, in byte order (the rows
  // after the declared ones).
  using ExtraValues = std::map<std::string, std::vector<std::string>>;
  // The breakdowns whose dimension lets some type of the measure carry any
  // value: indicator key -> the value-presence hashes to read
  // ("dx:{bucket}:{type}:{dimension}", after the org's prefix).
  std::map<std::string, std::vector<std::string>> FreeValueKeys(const Period& period) const;
  // The rows of a broken-down indicator: the declared values (the first
  // type's order, then values only later types declare), then `extra`.
  std::vector<std::string> BreakdownValues(const pb::Indicator& indicator,
                                           const ExtraValues& extra) const;

  // The read plan for a period: the JSON argument of ReadFiguresScript.
  std::string ReadSpec(const Period& period, const ExtraValues& extra = {}) const;
  // Turns the script's reply into one value per indicator, in catalogue
  // order. `latest_ids` receives the record behind each LATEST indicator.
  struct Figures {
    int64_t data_version = 0;
    std::vector<pb::IndicatorValue> values;
    std::map<std::string, std::string> latest_ids;
  };
  Figures Evaluate(const Period& period, int64_t data_version,
                   const std::vector<std::string>& fields, const std::vector<int64_t>& distinct,
                   const std::vector<std::string>& latest, const ExtraValues& extra = {}) const;

 private:
  CompiledProfile() = default;
  pb::Profile profile_;
  std::map<std::string, int> types_;
  std::map<std::string, int> indicators_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_PROFILE_H_
