#include "records/profile.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/enums.h"
#include "common/json.h"
#include "common/numerals.h"
#include "common/utf8.h"

namespace govreport::records {
namespace {

bool IsIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool Declares(const pb::ActivityType& type, const std::string& quantity) {
  for (const auto& q : type.required_quantities()) {
    if (q == quantity) return true;
  }
  for (const auto& q : type.optional_quantities()) {
    if (q == quantity) return true;
  }
  return false;
}

}  // namespace

const pb::Dimension* FindDimension(const pb::ActivityType& type, const std::string& key) {
  for (const auto& d : type.dimensions()) {
    if (d.key() == key) return &d;
  }
  return nullptr;
}

bool DimensionAllows(const pb::Dimension& d, const std::string& value) {
  if (d.values().empty()) return true;
  return std::find(d.values().begin(), d.values().end(), value) != d.values().end();
}

namespace {

int64_t Pow10(int n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

}  // namespace

absl::Status CheckDimensionValue(const std::string& value) {
  if (value.empty() || value.size() > kMaxDimensionValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be 1..", kMaxDimensionValueBytes, " bytes"));
  }
  if (FindInvalidUtf8(value) != std::string::npos) {
    return absl::InvalidArgumentError("must be UTF-8");
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '|' || c == '&' || c == '=') {
      return absl::InvalidArgumentError(
          "must not hold control characters, '|', '&' or '=' (they separate the parts of "
          "an aggregate's field)");
    }
  }
  return absl::OkStatus();
}

int64_t RatioValue(int64_t numerator, int64_t denominator, int precision) {
  __int128 scaled = static_cast<__int128>(numerator) * 100 * Pow10(precision);
  return static_cast<int64_t>((scaled * 2 + denominator) /
                              (2 * static_cast<__int128>(denominator)));
}

int64_t Rescale(int64_t value, int from_precision, int to_precision) {
  if (to_precision >= from_precision) return value * Pow10(to_precision - from_precision);
  int64_t d = Pow10(from_precision - to_precision);
  // Half away from zero, as a percentage is rounded.
  return value >= 0 ? (value + d / 2) / d : -((-value + d / 2) / d);
}

pb::ValueKind KindOf(const pb::Indicator& ind) {
  if (ind.measure().kind() == pb::MEASURE_KIND_RATIO) return pb::VALUE_KIND_PERCENT;
  if (ind.unit() == "万元" || ind.unit() == "元") return pb::VALUE_KIND_MONEY_FEN;
  return pb::VALUE_KIND_INTEGER;
}

std::string FormatValue(pb::ValueKind kind, const std::string& unit, int64_t value, int precision) {
  switch (kind) {
    case pb::VALUE_KIND_MONEY_FEN:
      return unit == "万元" ? FormatFenAsWan(value) : FormatFenAsYuan(value);
    case pb::VALUE_KIND_PERCENT:
      return FormatScaled(value, precision, /*trim_zeros=*/true);
    default:
      return absl::StrCat(value);
  }
}

namespace {

using TypesByKey = std::map<std::string, const pb::ActivityType*>;
using IndicatorsByKey = std::map<std::string, const pb::Indicator*>;

// Appends the problems of one type's dimensions (`at` names the type).
void CheckDimensions(const std::string& at, const pb::ActivityType& t,
                     std::vector<std::string>* errors) {
  if (t.dimensions_size() > kMaxDimensionsPerType) {
    errors->push_back(absl::StrCat(at, ".dimensions: ", t.dimensions_size(), ", at most ",
                                   kMaxDimensionsPerType,
                                   " per type (a record keeps a counter for every combination "
                                   "of its dimension values)"));
  }
  std::set<std::string> keys;
  for (int j = 0; j < t.dimensions_size(); ++j) {
    const auto& d = t.dimensions(j);
    std::string dat = absl::StrCat(at, ".dimensions[", j, "]");
    if (!IsIdentifier(d.key())) {
      errors->push_back(absl::StrCat(dat, ".key: '", d.key(), "' must be lower_snake_case"));
    } else if (!keys.insert(d.key()).second) {
      errors->push_back(absl::StrCat(dat, ".key: '", d.key(), "' is repeated"));
    }
    if (d.values_size() > kMaxDimensionValues) {
      errors->push_back(absl::StrCat(dat, ".values: at most ", kMaxDimensionValues));
    }
    std::set<std::string> values;
    for (const auto& v : d.values()) {
      if (absl::Status st = CheckDimensionValue(v); !st.ok()) {
        errors->push_back(absl::StrCat(dat, ".values: '", v, "' ", st.message()));
      } else if (!values.insert(v).second) {
        errors->push_back(absl::StrCat(dat, ".values: '", v, "' is repeated"));
      }
    }
  }
}

// Appends the problems of a measure's filter and of the indicator's
// breakdown: only COUNT and SUM take them (a DISTINCT union or a LATEST
// record per dimension value is not kept), and every activity type of the
// measure must declare each dimension named, with the values named allowed.
void CheckDimensionUse(const std::string& at, const pb::Indicator& ind, const TypesByKey& types,
                       std::vector<std::string>* errors) {
  const auto& m = ind.measure();
  if (m.filter().empty() && ind.breakdown().empty()) return;
  if (m.kind() != pb::MEASURE_KIND_COUNT && m.kind() != pb::MEASURE_KIND_SUM) {
    errors->push_back(absl::StrCat(
        at, m.filter().empty() ? ".breakdown" : ".measure.filter",
        ": only COUNT and SUM measures take a filter or a breakdown (",
        pb::MeasureKind_Name(m.kind()),
        " is not kept per dimension value; for a RATIO, filter or break down its terms)"));
    return;
  }
  // Each named dimension, resolved on every type of the measure.
  auto check = [&](const std::string& field, const std::string& dim,
                   const std::vector<std::string>& values) {
    for (const auto& tk : m.activity_types()) {
      auto it = types.find(tk);
      if (it == types.end()) continue;  // Reported with the types.
      const pb::Dimension* d = FindDimension(*it->second, dim);
      if (d == nullptr) {
        errors->push_back(
            absl::StrCat(at, field, ": activity type '", tk, "' has no dimension '", dim, "'"));
        continue;
      }
      for (const auto& v : values) {
        if (!DimensionAllows(*d, v)) {
          errors->push_back(absl::StrCat(at, field, ": '", v, "' is not a value of dimension '",
                                         dim, "' of activity type '", tk,
                                         "' (its values: ", absl::StrJoin(d->values(), ", "), ")"));
        }
      }
    }
  };
  std::set<std::string> named;
  int64_t combinations = 1;
  for (int i = 0; i < m.filter_size(); ++i) {
    const auto& c = m.filter(i);
    std::string field = absl::StrCat(".measure.filter[", i, "]");
    if (c.dimension().empty()) {
      errors->push_back(absl::StrCat(at, field, ".dimension: must be set"));
      continue;
    }
    if (!named.insert(c.dimension()).second) {
      errors->push_back(
          absl::StrCat(at, field, ".dimension: '", c.dimension(), "' is already filtered"));
    }
    if (c.values().empty() || c.values_size() > kMaxFilterValues) {
      errors->push_back(absl::StrCat(at, field, ".values: 1..", kMaxFilterValues, " values"));
    }
    combinations *= std::max(1, c.values_size());
    check(field, c.dimension(), {c.values().begin(), c.values().end()});
  }
  if (combinations > kMaxFilterCombinations) {
    errors->push_back(absl::StrCat(at, ".measure.filter: ", combinations,
                                   " combinations of values, at most ", kMaxFilterCombinations));
  }
  if (!ind.breakdown().empty()) {
    if (named.count(ind.breakdown()) != 0) {
      errors->push_back(absl::StrCat(at, ".breakdown: '", ind.breakdown(),
                                     "' is also filtered; break down by another dimension"));
    }
    check(".breakdown", ind.breakdown(), {});
  }
}

// Appends the activity types' problems to `errors`; `types` gains every valid key.
void CheckActivityTypes(const pb::Profile& p, TypesByKey* types, std::vector<std::string>* errors) {
  for (int i = 0; i < p.activity_types_size(); ++i) {
    const auto& t = p.activity_types(i);
    std::string at = absl::StrCat("activity_types[", i, "]");
    if (!IsIdentifier(t.key())) {
      errors->push_back(absl::StrCat(at, ".key: '", t.key(), "' must be lower_snake_case"));
    } else if (!types->emplace(t.key(), &t).second) {
      errors->push_back(absl::StrCat(at, ".key: '", t.key(), "' is repeated"));
    }
    for (const auto& q : t.required_quantities()) {
      if (!IsIdentifier(q)) {
        errors->push_back(
            absl::StrCat(at, ".required_quantities: '", q, "' must be lower_snake_case"));
      }
    }
    for (const auto& q : t.optional_quantities()) {
      if (!IsIdentifier(q)) {
        errors->push_back(
            absl::StrCat(at, ".optional_quantities: '", q, "' must be lower_snake_case"));
      }
    }
    CheckDimensions(at, t, errors);
  }
}

// Appends the problems of one indicator's measure (`at` names the indicator).
void CheckMeasure(const std::string& at, const pb::Indicator& ind, const IndicatorsByKey& inds,
                  const TypesByKey& types, std::vector<std::string>* errors) {
  const auto& m = ind.measure();
  if (absl::Status st =
          CheckEnum(absl::StrCat(at, ".measure.kind"), m.kind(), Unspecified::kRefused);
      !st.ok()) {
    errors->push_back(std::string(st.message()));
    return;
  }
  if (m.kind() == pb::MEASURE_KIND_RATIO) {
    CheckDimensionUse(at, ind, types, errors);
    for (const auto& ref : {m.numerator(), m.denominator()}) {
      auto it = inds.find(ref);
      if (it == inds.end()) {
        errors->push_back(absl::StrCat(at, ".measure: no indicator '", ref, "'"));
      } else if (it->second->measure().kind() == pb::MEASURE_KIND_RATIO) {
        errors->push_back(absl::StrCat(at, ".measure: '", ref, "' is itself a ratio"));
      }
    }
    return;
  }
  if (m.activity_types().empty()) {
    errors->push_back(absl::StrCat(at,
                                   ".measure.activity_types: must name at "
                                   "least one activity type"));
  }
  bool needs_quantity = m.kind() == pb::MEASURE_KIND_SUM || m.kind() == pb::MEASURE_KIND_LATEST;
  if (needs_quantity && m.quantity().empty()) {
    errors->push_back(absl::StrCat(at, ".measure.quantity: must be set"));
  }
  for (const auto& tk : m.activity_types()) {
    auto it = types.find(tk);
    if (it == types.end()) {
      errors->push_back(absl::StrCat(at,
                                     ".measure.activity_types: no activity "
                                     "type '",
                                     tk, "'"));
    } else if (needs_quantity && !m.quantity().empty() && !Declares(*it->second, m.quantity())) {
      errors->push_back(absl::StrCat(at, ".measure.quantity: activity type '", tk,
                                     "' has no quantity '", m.quantity(), "'"));
    }
  }
  if (KindOf(ind) == pb::VALUE_KIND_MONEY_FEN &&
      (m.kind() != pb::MEASURE_KIND_SUM || !absl::EndsWith(m.quantity(), "_fen"))) {
    errors->push_back(
        absl::StrCat(at, ": money (", ind.unit(), ") must be the SUM of a *_fen quantity"));
  }
  CheckDimensionUse(at, ind, types, errors);
}

}  // namespace

absl::Status ValidateProfile(const pb::Profile& p) {
  std::vector<std::string> errors;
  if (p.id().empty()) errors.emplace_back("profile.id: must be set");
  TypesByKey types;
  CheckActivityTypes(p, &types, &errors);
  IndicatorsByKey inds;
  for (const auto& ind : p.indicators()) inds.emplace(ind.key(), &ind);
  std::set<std::string> seen;
  for (int i = 0; i < p.indicators_size(); ++i) {
    const auto& ind = p.indicators(i);
    std::string at = absl::StrCat("indicators[", i, "] (", ind.key(), ")");
    if (!IsIdentifier(ind.key())) {
      errors.push_back(absl::StrCat(at, ".key: must be lower_snake_case"));
    } else if (!seen.insert(ind.key()).second) {
      errors.push_back(absl::StrCat(at, ".key: is repeated"));
    }
    if (ind.unit().empty()) errors.push_back(absl::StrCat(at, ".unit: must be set"));
    if (ind.precision() < 0 || ind.precision() > 6) {
      errors.push_back(absl::StrCat(at, ".precision: must be within 0..6"));
    }
    CheckMeasure(at, ind, inds, types, &errors);
  }
  if (p.indicators_size() > 1000) errors.emplace_back("indicators: at most 1000");
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("profile '", p.id(), "' has ", errors.size(),
                                                 " problem(s):\n", absl::StrJoin(errors, "\n")));
}

absl::StatusOr<std::shared_ptr<const CompiledProfile>> CompiledProfile::Compile(
    pb::Profile profile) {
  if (auto st = ValidateProfile(profile); !st.ok()) return st;
  std::shared_ptr<CompiledProfile> c(new CompiledProfile());
  c->profile_ = std::move(profile);
  for (int i = 0; i < c->profile_.activity_types_size(); ++i) {
    c->types_[c->profile_.activity_types(i).key()] = i;
  }
  for (int i = 0; i < c->profile_.indicators_size(); ++i) {
    c->indicators_[c->profile_.indicators(i).key()] = i;
  }
  return std::shared_ptr<const CompiledProfile>(std::move(c));
}

const pb::ActivityType* CompiledProfile::FindType(const std::string& key) const {
  auto it = types_.find(key);
  return it == types_.end() ? nullptr : &profile_.activity_types(it->second);
}

const pb::Indicator* CompiledProfile::FindIndicator(const std::string& key) const {
  int at = IndicatorIndex(key);
  return at < 0 ? nullptr : &profile_.indicators(at);
}

int CompiledProfile::IndicatorIndex(const std::string& key) const {
  auto it = indicators_.find(key);
  return it == indicators_.end() ? -1 : it->second;
}

std::string CompiledProfile::KnownTypes() const {
  std::vector<std::string> keys;
  for (const auto& [k, i] : types_) keys.push_back(k);
  return absl::StrJoin(keys, ", ");
}

namespace {

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    // Keys are identifiers and bucket labels: nothing to escape.
    absl::StrAppend(&out, i ? "," : "", "\"", items[i], "\"");
  }
  return out + "]";
}

std::vector<std::string> Types(const pb::Measure& m) {
  return {m.activity_types().begin(), m.activity_types().end()};
}

// Appends the fields of one cell (a total or a row) in Evaluate's order:
// per bucket, type and condition suffix, the record count then (SUM) the
// sum and the number of records that state the quantity.
void AppendCellFields(const pb::Measure& m, const std::vector<std::string>& buckets,
                      const std::vector<std::string>& suffixes, std::string* f) {
  for (const auto& b : buckets) {
    for (const auto& t : m.activity_types()) {
      for (const auto& x : suffixes) {
        absl::StrAppend(f, f->empty() ? "" : ",", "[\"", b, "\",");
        JsonQuoteTo(absl::StrCat("n|", t, x), f);
        *f += "]";
        if (m.kind() == pb::MEASURE_KIND_SUM) {
          absl::StrAppend(f, ",[\"", b, "\",");
          JsonQuoteTo(absl::StrCat("q|", t, "|", m.quantity(), x), f);
          absl::StrAppend(f, "],[\"", b, "\",");
          JsonQuoteTo(absl::StrCat("k|", t, "|", m.quantity(), x), f);
          *f += "]";
        }
      }
    }
  }
}

}  // namespace

std::vector<std::string> ConditionSuffixes(const pb::Measure& m, const std::string& breakdown,
                                           const std::string& value) {
  // (dimension, its values) in dimension order: the order of the parts in
  // the write script's field names.
  std::map<std::string, std::vector<std::string>> conditions;
  for (const auto& c : m.filter()) {
    conditions[c.dimension()].assign(c.values().begin(), c.values().end());
  }
  if (!breakdown.empty()) conditions[breakdown] = {value};
  std::vector<std::string> out = {""};
  for (const auto& [dim, values] : conditions) {
    std::vector<std::string> next;
    for (const auto& prefix : out) {
      for (const auto& v : values) {
        next.push_back(absl::StrCat(prefix, prefix.empty() ? "|" : "&", dim, "=", v));
      }
    }
    out = std::move(next);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> CompiledProfile::FreeValueKeys(
    const Period& period) const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& ind : profile_.indicators()) {
    if (ind.breakdown().empty()) continue;
    bool free = false;
    for (const auto& t : ind.measure().activity_types()) {
      const pb::ActivityType* type = FindType(t);
      const pb::Dimension* d = type ? FindDimension(*type, ind.breakdown()) : nullptr;
      if (d != nullptr && d->values().empty()) free = true;
    }
    if (!free) continue;
    auto& keys = out[ind.key()];
    for (const auto& b : period.Buckets()) {
      for (const auto& t : ind.measure().activity_types()) {
        keys.push_back(absl::StrCat("dx:", b, ":", t, ":", ind.breakdown()));
      }
    }
  }
  return out;
}

std::vector<std::string> CompiledProfile::BreakdownValues(const pb::Indicator& ind,
                                                          const ExtraValues& extra) const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& t : ind.measure().activity_types()) {
    const pb::ActivityType* type = FindType(t);
    const pb::Dimension* d = type ? FindDimension(*type, ind.breakdown()) : nullptr;
    if (d == nullptr) continue;
    for (const auto& v : d->values()) {
      if (seen.insert(v).second) out.push_back(v);
    }
  }
  if (auto it = extra.find(ind.key()); it != extra.end()) {
    for (const auto& v : it->second) {
      if (seen.insert(v).second) out.push_back(v);
    }
  }
  return out;
}

// Field order is the order Evaluate consumes them: for each non-ratio
// indicator its total's fields (AppendCellFields), then each breakdown
// row's.
std::string CompiledProfile::ReadSpec(const Period& period, const ExtraValues& extra) const {
  std::vector<std::string> buckets = period.Buckets();
  std::vector<std::string> months = period.Months();
  std::vector<std::string> newest_first(months.rbegin(), months.rend());
  std::string f, d, l;
  for (const auto& ind : profile_.indicators()) {
    const auto& m = ind.measure();
    if (m.kind() == pb::MEASURE_KIND_RATIO) continue;
    AppendCellFields(m, buckets, ConditionSuffixes(m), &f);
    if (!ind.breakdown().empty()) {
      for (const auto& v : BreakdownValues(ind, extra)) {
        AppendCellFields(m, buckets, ConditionSuffixes(m, ind.breakdown(), v), &f);
      }
    }
    if (m.kind() == pb::MEASURE_KIND_DISTINCT) {
      absl::StrAppend(&d, d.empty() ? "" : ",", "[", JsonList(buckets), ",", JsonList(Types(m)),
                      "]");
    } else if (m.kind() == pb::MEASURE_KIND_LATEST) {
      absl::StrAppend(&l, l.empty() ? "" : ",", "[", JsonList(newest_first), ",",
                      JsonList(Types(m)), ",\"", m.quantity(), "\"]");
    }
  }
  // cjson reads [] as an empty table either way.
  return absl::StrCat("{\"f\":[", f, "],\"d\":[", d, "],\"l\":[", l, "]}");
}

namespace {

// What the first pass of Evaluate learnt beyond the values: the records of
// each activity type in the period, and the record (and its type) behind
// each LATEST indicator. A ratio's record count is the distinct records of
// its terms, which overlap when the terms share a type.
struct Feeds {
  // type -> filter (its condition suffixes joined; "" unfiltered) -> records.
  std::map<std::string, std::map<std::string, int64_t>> records_of_type;
  struct Latest {
    std::string id;
    std::string type;
  };
  std::map<std::string, Latest> latest;
};

int64_t DistinctRecords(const pb::Profile& profile, const pb::Measure& ratio, const Feeds& feeds) {
  std::set<std::string> types;
  std::set<std::string> latest_ids;
  std::vector<Feeds::Latest> latest;
  for (const std::string& key : {ratio.numerator(), ratio.denominator()}) {
    for (const auto& ind : profile.indicators()) {
      if (ind.key() != key) continue;
      if (ind.measure().kind() == pb::MEASURE_KIND_LATEST) {
        auto it = feeds.latest.find(key);
        if (it != feeds.latest.end()) latest.push_back(it->second);
      } else {
        types.insert(ind.measure().activity_types().begin(), ind.measure().activity_types().end());
      }
    }
  }
  // Per type: the unfiltered count when a term has it (every filtered
  // subset is inside it), else the filtered counts added up (exact when the
  // filters are disjoint, as two values of one dimension are).
  int64_t n = 0;
  for (const auto& t : types) {
    auto it = feeds.records_of_type.find(t);
    if (it == feeds.records_of_type.end()) continue;
    if (auto all = it->second.find(""); all != it->second.end()) {
      n += all->second;
      continue;
    }
    for (const auto& [filter, count] : it->second) n += count;
  }
  // A LATEST term's record is already counted when its type is.
  for (const auto& one : latest) {
    if (!types.contains(one.type) && latest_ids.insert(one.id).second) ++n;
  }
  return n;
}

// The second pass of Evaluate: a ratio is computed from the values of its
// numerator and denominator (never ratios themselves), rounded half up.
void EvaluateRatios(const pb::Profile& profile, const Feeds& feeds,
                    std::vector<pb::IndicatorValue>* values) {
  std::map<std::string, const pb::IndicatorValue*> by_key;
  for (const auto& v : *values) by_key[v.key()] = &v;
  for (int i = 0; i < profile.indicators_size(); ++i) {
    const auto& m = profile.indicators(i).measure();
    pb::IndicatorValue& v = (*values)[i];
    if (m.kind() == pb::MEASURE_KIND_RATIO) {
      const auto* num = by_key[m.numerator()];
      const auto* den = by_key[m.denominator()];
      v.set_record_count(DistinctRecords(profile, m, feeds));
      if (num->missing() || den->missing() || den->value() == 0) {
        v.set_missing(true);
      } else {
        v.set_value(RatioValue(num->value(), den->value(), v.precision()));
      }
    }
    if (!v.missing()) {
      v.set_display(FormatValue(v.kind(), v.unit(), v.value(), v.precision()));
    }
  }
}

// Reads the script's replies in ReadSpec's order.
class ReplyCursor {
 public:
  ReplyCursor(const std::vector<std::string>& fields, const std::vector<int64_t>& distinct,
              const std::vector<std::string>& latest)
      : fields_(fields), distinct_(distinct), latest_(latest) {}
  int64_t NextField() {
    int64_t v = 0;
    if (fi_ < fields_.size()) (void)absl::SimpleAtoi(fields_[fi_], &v);
    ++fi_;
    return v;
  }
  int64_t NextDistinct() {
    int64_t v = di_ < distinct_.size() ? distinct_[di_] : 0;
    ++di_;
    return v;
  }
  // value, record id, its type.
  std::array<std::string, 3> NextLatest() {
    std::array<std::string, 3> out;
    for (auto& s : out) {
      if (li_ < latest_.size()) s = latest_[li_];
      ++li_;
    }
    return out;
  }

 private:
  const std::vector<std::string>& fields_;
  const std::vector<int64_t>& distinct_;
  const std::vector<std::string>& latest_;
  size_t fi_ = 0, di_ = 0, li_ = 0;
};

// One cell's sums, read in AppendCellFields' order.
struct CellSums {
  int64_t records = 0;
  int64_t sum = 0;
  int64_t stating = 0;
  std::map<std::string, int64_t> of_type;
};

CellSums ReadCell(const pb::Measure& m, size_t buckets, size_t suffixes, ReplyCursor& in) {
  CellSums c;
  for (size_t b = 0; b < buckets; ++b) {
    for (const auto& t : m.activity_types()) {
      for (size_t x = 0; x < suffixes; ++x) {
        int64_t n = in.NextField();
        c.records += n;
        c.of_type[t] += n;
        if (m.kind() == pb::MEASURE_KIND_SUM) {
          c.sum += in.NextField();
          c.stating += in.NextField();
        }
      }
    }
  }
  return c;
}

// A SUM that no record states (only records without the quantity) is
// missing, not 0: a sentence built on 0 would state a fact no record
// states. A sum that is not 0 is stated by some record whatever the count
// says (aggregates written before the count existed have none).
bool SumUnstated(const CellSums& c) { return c.sum == 0 && c.stating <= 0; }

// The rows of a broken-down COUNT or SUM, in BreakdownValues' order. A
// declared value without records is a real 0; an undeclared one without
// records (present only among records the filter leaves out) is no row.
void EvaluateRows(const CompiledProfile& profile, const pb::Indicator& ind,
                  const CompiledProfile::ExtraValues& extra, size_t buckets, ReplyCursor& in,
                  pb::IndicatorValue& v) {
  const auto& m = ind.measure();
  std::vector<std::string> values = profile.BreakdownValues(ind, extra);
  std::set<std::string> declared;
  {
    CompiledProfile::ExtraValues none;
    for (const auto& one : profile.BreakdownValues(ind, none)) declared.insert(one);
  }
  v.set_breakdown(ind.breakdown());
  for (const auto& value : values) {
    size_t suffixes = ConditionSuffixes(m, ind.breakdown(), value).size();
    CellSums c = ReadCell(m, buckets, suffixes, in);
    if (c.records == 0 && declared.count(value) == 0) continue;
    pb::BreakdownRow* row = v.add_rows();
    row->set_dimension_value(value);
    row->set_record_count(c.records);
    row->set_value(m.kind() == pb::MEASURE_KIND_SUM ? c.sum : c.records);
    row->set_missing(m.kind() == pb::MEASURE_KIND_SUM && c.records > 0 && SumUnstated(c));
    if (!row->missing()) {
      row->set_display(FormatValue(v.kind(), v.unit(), row->value(), v.precision()));
    }
  }
}

// One COUNT, SUM, DISTINCT or LATEST value (and a COUNT's or SUM's rows).
void EvaluateMeasure(const CompiledProfile& profile, const pb::Indicator& ind,
                     const CompiledProfile::ExtraValues& extra, size_t buckets, ReplyCursor& in,
                     Feeds& feeds, pb::IndicatorValue& v) {
  const auto& m = ind.measure();
  std::vector<std::string> suffixes = ConditionSuffixes(m);
  CellSums c = ReadCell(m, buckets, suffixes.size(), in);
  std::string filter = absl::StrJoin(suffixes, ",");
  for (const auto& [t, n] : c.of_type) feeds.records_of_type[t][filter] = n;
  v.set_record_count(c.records);
  bool missing = c.records == 0;
  switch (m.kind()) {
    case pb::MEASURE_KIND_COUNT:
      v.set_value(c.records);
      break;
    case pb::MEASURE_KIND_SUM:
      v.set_value(c.sum);
      missing = missing || SumUnstated(c);
      break;
    case pb::MEASURE_KIND_DISTINCT:
      v.set_value(in.NextDistinct());
      break;
    case pb::MEASURE_KIND_LATEST: {
      auto [raw, id, type] = in.NextLatest();
      int64_t x = 0;
      missing = raw.empty() || !absl::SimpleAtoi(raw, &x);
      v.set_record_count(missing ? 0 : 1);
      if (!missing) {
        v.set_value(x);
        feeds.latest[ind.key()] = {id, type};
      }
      break;
    }
    default:
      break;
  }
  // A table genre prints every cell: no record is a real 0 there.
  if (missing && ind.empty_is_zero() && c.records == 0) {
    missing = false;
    v.set_value(0);
  }
  v.set_missing(missing);
  if (!ind.breakdown().empty()) EvaluateRows(profile, ind, extra, buckets, in, v);
}

}  // namespace

CompiledProfile::Figures CompiledProfile::Evaluate(const Period& period, int64_t data_version,
                                                   const std::vector<std::string>& fields,
                                                   const std::vector<int64_t>& distinct,
                                                   const std::vector<std::string>& latest,
                                                   const ExtraValues& extra) const {
  Figures out;
  out.data_version = data_version;
  ReplyCursor in(fields, distinct, latest);
  Feeds feeds;
  size_t buckets = period.Buckets().size();
  out.values.reserve(profile_.indicators_size());
  for (const auto& ind : profile_.indicators()) {
    pb::IndicatorValue v;
    v.set_key(ind.key());
    v.set_label(ind.label());
    v.set_unit(ind.unit());
    v.set_kind(KindOf(ind));
    v.set_precision(v.kind() == pb::VALUE_KIND_MONEY_FEN && ind.precision() == 0 ? 2
                                                                                 : ind.precision());
    if (ind.measure().kind() != pb::MEASURE_KIND_RATIO) {
      EvaluateMeasure(*this, ind, extra, buckets, in, feeds, v);
    }
    out.values.push_back(std::move(v));
  }
  for (const auto& [key, one] : feeds.latest) out.latest_ids[key] = one.id;
  EvaluateRatios(profile_, feeds, &out.values);
  return out;
}

}  // namespace govreport::records
