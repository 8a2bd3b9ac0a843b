#include "templates/engine/value.h"

#include <google/protobuf/struct.pb.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/numerals.h"

namespace govreport::templates {
namespace {

constexpr int kMaxPrecision = 9;
constexpr int64_t kPow10[] = {1,      10,      100,      1000,      10000,
                              100000, 1000000, 10000000, 100000000, 1000000000};
// Doubles represent every integer up to 2^53 exactly; beyond, a JSON number
// cannot carry an exact amount, so the typed objects take strings.
constexpr double kMaxExactDouble = 9007199254740992.0;

int ClampPrecision(int precision) { return std::clamp(precision, 0, kMaxPrecision); }

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

std::string TwoDigits(int n) {
  std::string s = std::to_string(n);
  if (s.size() < 2) s.insert(0, 1, '0');
  return s;
}

// Integer part of a fixed-point number, rounded toward zero.
int64_t IntegerPart(int64_t scaled, int precision) {
  return scaled / kPow10[ClampPrecision(precision)];
}

int64_t ClampToInt64(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return static_cast<int64_t>(d);
}

}  // namespace

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.int_ = b ? 1 : 0;
  return v;
}

Value Value::Text(std::string text) {
  Value v;
  v.kind_ = Kind::kText;
  v.text_ = std::move(text);
  return v;
}

Value Value::Int(int64_t n) { return Fixed(n, 0); }

Value Value::Fixed(int64_t scaled, int precision) {
  Value v;
  v.kind_ = Kind::kNumber;
  v.int_ = scaled;
  v.precision_ = static_cast<int8_t>(ClampPrecision(precision));
  return v;
}

Value Value::Decimal(double value, int precision) {
  if (precision >= 0 && std::isfinite(value)) {
    const int p = ClampPrecision(precision);
    const double scaled = std::round(value * static_cast<double>(kPow10[p]));
    if (std::fabs(scaled) < 9.2e18) {
      return Fixed(static_cast<int64_t>(scaled), p);
    }
  }
  Value v;
  v.kind_ = Kind::kNumber;
  v.is_double_ = true;
  v.double_ = value;
  v.precision_ = static_cast<int8_t>(precision < 0 ? -1 : ClampPrecision(precision));
  return v;
}

Value Value::Quantity(int64_t scaled, int precision, std::string unit) {
  Value v;
  v.kind_ = Kind::kQuantity;
  v.int_ = scaled;
  v.precision_ = static_cast<int8_t>(ClampPrecision(precision));
  v.text_ = std::move(unit);
  return v;
}

Value Value::MoneyFen(int64_t fen) {
  Value v;
  v.kind_ = Kind::kMoney;
  v.int_ = fen;
  v.precision_ = 2;
  return v;
}

Value Value::Date(int year, int month, int day) {
  Value v;
  v.kind_ = Kind::kDate;
  v.int_ = (static_cast<int64_t>(year) << 16) | ((month & 0xff) << 8) | (day & 0xff);
  return v;
}

Value Value::List(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kList;
  v.items_ = std::move(items);
  return v;
}

Value Value::Map() {
  Value v;
  v.kind_ = Kind::kMap;
  return v;
}

double Value::AsDouble() const {
  if (kind_ == Kind::kBool) return static_cast<double>(int_);
  if (!is_numeric()) return 0;
  if (is_double_) return double_;
  return static_cast<double>(int_) / static_cast<double>(kPow10[ClampPrecision(precision_)]);
}

int Value::year() const { return kind_ == Kind::kDate ? static_cast<int>(int_ >> 16) : 0; }
int Value::month() const { return kind_ == Kind::kDate ? static_cast<int>((int_ >> 8) & 0xff) : 0; }
int Value::day() const { return kind_ == Kind::kDate ? static_cast<int>(int_ & 0xff) : 0; }

void Value::Append(Value item) {
  if (kind_ == Kind::kNull) kind_ = Kind::kList;
  if (kind_ != Kind::kList) return;
  items_.push_back(std::move(item));
}

namespace {

// Map keys are ordered by length first: most comparisons during lookup then
// end on the length, without comparing bytes (lookups are the hot path of
// rendering).
struct ShortFirst {
  bool operator()(const std::string& a, std::string_view b) const {
    return a.size() != b.size() ? a.size() < b.size() : std::string_view(a) < b;
  }
};

constexpr size_t kHashFrom = 9;  // keys; below, a linear scan is cheaper

}  // namespace

uint32_t Value::HashKey(std::string_view key) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : key) h = (h ^ c) * 16777619u;
  return h;
}

void Value::IndexKeys() {
  slots_.clear();
  if (keys_.size() < kHashFrom) return;
  size_t n = 16;
  while (n < keys_.size() * 2) n *= 2;
  slots_.assign(n, 0);
  for (size_t i = 0; i < keys_.size(); ++i) {
    size_t slot = HashKey(keys_[i]) & (n - 1);
    while (slots_[slot] != 0) slot = (slot + 1) & (n - 1);
    slots_[slot] = static_cast<uint32_t>(i + 1);
  }
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kMap) return nullptr;
  return Find(key, slots_.empty() ? 0 : HashKey(key));
}

const Value* Value::Find(std::string_view key, uint32_t hash) const {
  if (kind_ != Kind::kMap) return nullptr;
  if (slots_.empty()) {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i].size() == key.size() && keys_[i] == key) return &items_[i];
    }
    return nullptr;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t slot = hash & mask; slots_[slot] != 0; slot = (slot + 1) & mask) {
    const size_t i = slots_[slot] - 1;
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

Value* Value::FindMutable(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

Value& Value::Set(std::string_view key, Value value) {
  if (kind_ != Kind::kMap) *this = Map();
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key, ShortFirst());
  const size_t index = static_cast<size_t>(it - keys_.begin());
  if (it != keys_.end() && *it == key) {
    items_[index] = std::move(value);
  } else {
    keys_.insert(it, std::string(key));
    items_.insert(items_.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
    IndexKeys();
  }
  return items_[index];
}

Value& Value::SetPath(std::string_view dotted_name, Value value) {
  Value* node = this;
  while (true) {
    const size_t dot = dotted_name.find('.');
    if (dot == std::string_view::npos) {
      return node->Set(dotted_name, std::move(value));
    }
    const std::string_view head = dotted_name.substr(0, dot);
    Value* child = node->kind_ == Kind::kMap ? node->FindMutable(head) : nullptr;
    if (child == nullptr || child->kind_ != Kind::kMap) {
      child = &node->Set(head, Map());
    }
    node = child;
    dotted_name.remove_prefix(dot + 1);
  }
}

void Value::AppendText(std::string* out) const {
  switch (kind_) {
    case Kind::kNull:
    case Kind::kMap:
      return;
    case Kind::kBool:
      out->append(int_ != 0 ? "true" : "false");
      return;
    case Kind::kText:
      out->append(text_);
      return;
    case Kind::kNumber:
      if (!is_double_) {
        AppendScaled(int_, precision_, false, out);
      } else if (precision_ < 0 || !std::isfinite(double_)) {
        out->append(FormatShortestDecimal(double_));
      } else {
        char buffer[512];
        auto result = std::to_chars(buffer, buffer + sizeof(buffer), double_,
                                    std::chars_format::fixed, precision_);
        if (result.ec == std::errc()) out->append(buffer, result.ptr);
      }
      return;
    case Kind::kQuantity:
      AppendScaled(int_, precision_, true, out);
      return;
    case Kind::kMoney:
      out->append(FormatFenAsYuan(int_));
      return;
    case Kind::kDate:
      out->append(FormatDateGb(year(), month(), day()));
      return;
    case Kind::kList:
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out->append("、");
        items_[i].AppendText(out);
      }
      return;
  }
}

std::string Value::ToText() const {
  std::string out;
  AppendText(&out);
  return out;
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kNull:
      return false;
    case Kind::kBool:
      return int_ != 0;
    case Kind::kText:
      return !text_.empty();
    case Kind::kList:
      return !items_.empty();
    default:
      return true;
  }
}

bool Value::Derived(std::string_view name, Value* out) const {
  if (kind_ == Kind::kDate) {
    if (name == "cn") {
      *out = Text(FormatDateChinese(year(), month(), day()));
    } else if (name == "year") {
      *out = Int(year());
    } else if (name == "month") {
      *out = Int(month());
    } else if (name == "day") {
      *out = Int(day());
    } else if (name == "iso") {
      std::string iso = std::to_string(year());
      iso.append("-").append(TwoDigits(month())).append("-");
      iso.append(TwoDigits(day()));
      *out = Text(std::move(iso));
    } else {
      return false;
    }
    return true;
  }
  if (!is_numeric()) return false;
  const bool is_zero = is_double_ ? double_ == 0 : int_ == 0;
  if (name == "value") {
    *out = kind_ == Kind::kNumber ? *this : Fixed(int_, precision_);
  } else if (name == "wan") {
    const int64_t hundredths =
        is_double_ ? ClampToInt64(std::round(double_ / 100)) : WanHundredths(int_, precision_);
    *out = Quantity(hundredths, 2);
  } else if (name == "approx") {
    const int64_t whole =
        is_double_ ? ClampToInt64(std::trunc(double_)) : IntegerPart(int_, precision_);
    *out = Int(ApproximateDown(whole));
  } else if (name == "cn") {
    *out = Text(ChineseNumeralsDecimal(ToText()));
  } else if (name == "zero") {
    *out = Bool(is_zero);
  } else if (name == "nonzero") {
    *out = Bool(!is_zero);
  } else if (name == "unit" && kind_ == Kind::kQuantity) {
    *out = Text(text_);
  } else if (name == "daxie" && kind_ == Kind::kMoney) {
    *out = Text(ChineseMoneyUppercase(int_));
  } else if (name == "fen" && kind_ == Kind::kMoney) {
    *out = Int(int_);
  } else {
    return false;
  }
  return true;
}

bool Value::operator==(const Value& other) const {
  return kind_ == other.kind_ && is_double_ == other.is_double_ && precision_ == other.precision_ &&
         int_ == other.int_ &&
         (double_ == other.double_ || (std::isnan(double_) && std::isnan(other.double_))) &&
         text_ == other.text_ && keys_ == other.keys_ && items_ == other.items_;
}

absl::StatusOr<Value> ParseIsoDate(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError("'" + std::string(text) + "' is not a date like 2023-05-08");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const std::pair<size_t, size_t> ranges[3] = {{0, 4}, {5, 7}, {8, 10}};
  for (int i = 0; i < 3; ++i) {
    for (size_t j = ranges[i].first; j < ranges[i].second; ++j) {
      if (text[j] < '0' || text[j] > '9') return bad();
      parts[i] = parts[i] * 10 + (text[j] - '0');
    }
  }
  if (parts[0] < 1 || parts[1] < 1 || parts[1] > 12 || parts[2] < 1 ||
      parts[2] > DaysInMonth(parts[0], parts[1])) {
    return bad();
  }
  return Value::Date(parts[0], parts[1], parts[2]);
}

// ---------------------------------------------------------------------------
// Protobuf conversion.

namespace {

using google::protobuf::Struct;
using ProtoValue = google::protobuf::Value;

class FromProtoConverter {
 public:
  explicit FromProtoConverter(int max_depth) : max_depth_(max_depth) {}

  absl::StatusOr<Value> Convert(const ProtoValue& proto) {
    switch (proto.kind_case()) {
      case ProtoValue::kNullValue:
      case ProtoValue::KIND_NOT_SET:
        return Value();
      case ProtoValue::kBoolValue:
        return Value::Bool(proto.bool_value());
      case ProtoValue::kStringValue:
        return Value::Text(proto.string_value());
      case ProtoValue::kNumberValue:
        return FromNumber(proto.number_value());
      case ProtoValue::kStructValue:
        return ConvertStruct(proto.struct_value());
      case ProtoValue::kListValue: {
        if (++depth_ > max_depth_) return TooDeep();
        Value list = Value::List();
        int index = 0;
        for (const ProtoValue& item : proto.list_value().values()) {
          path_.push_back(std::to_string(index++));
          absl::StatusOr<Value> converted = Convert(item);
          if (!converted.ok()) return converted.status();
          path_.pop_back();
          list.Append(*std::move(converted));
        }
        --depth_;
        return list;
      }
    }
    return Value();
  }

  absl::StatusOr<Value> ConvertStruct(const Struct& proto) {
    if (++depth_ > max_depth_) return TooDeep();
    for (const char* marker : {"$money", "$quantity", "$decimal", "$date"}) {
      if (proto.fields().count(marker) != 0) {
        absl::StatusOr<Value> typed = ConvertTyped(proto, marker);
        --depth_;
        return typed;
      }
    }
    // Protobuf maps are unordered: collect, sort once, then build, so a
    // large object costs n log n rather than n^2 insertions.
    std::vector<std::pair<std::string_view, const ProtoValue*>> fields;
    fields.reserve(proto.fields().size());
    for (const auto& [key, value] : proto.fields()) {
      fields.emplace_back(key, &value);
    }
    std::sort(fields.begin(), fields.end());
    Value map = Value::Map();
    for (const auto& [key, value] : fields) {
      path_.emplace_back(key);
      absl::StatusOr<Value> converted = Convert(*value);
      if (!converted.ok()) return converted.status();
      path_.pop_back();
      map.Set(key, *std::move(converted));  // appends: keys arrive sorted
    }
    --depth_;
    return map;
  }

 private:
  static Value FromNumber(double d) {
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(d));
    }
    return Value::Decimal(d);
  }

  absl::Status Error(std::string_view what) const {
    std::string path;
    for (const std::string& part : path_) {
      if (!path.empty()) path.push_back('.');
      path.append(part);
    }
    if (path.empty()) path = "(root)";
    return absl::InvalidArgumentError("context value " + path + ": " + std::string(what));
  }

  absl::Status TooDeep() const {
    return Error("nested deeper than " + std::to_string(max_depth_) + " levels");
  }

  // An integer carried as a JSON number (exact up to 2^53) or a string.
  absl::StatusOr<int64_t> Integer(const ProtoValue& proto, std::string_view field) {
    path_.emplace_back(field);
    if (proto.kind_case() == ProtoValue::kNumberValue) {
      const double d = proto.number_value();
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) <= kMaxExactDouble) {
        path_.pop_back();
        return static_cast<int64_t>(d);
      }
    } else if (proto.kind_case() == ProtoValue::kStringValue) {
      const std::string& s = proto.string_value();
      int64_t n = 0;
      auto result = std::from_chars(s.data(), s.data() + s.size(), n);
      if (!s.empty() && result.ec == std::errc() && result.ptr == s.data() + s.size()) {
        path_.pop_back();
        return n;
      }
    }
    absl::Status status = Error(
        "must be a whole number (a JSON integer up to 2^53, or a string of "
        "digits for larger ones)");
    path_.pop_back();
    return status;
  }

  absl::StatusOr<std::string> String(const ProtoValue& proto, std::string_view field) {
    if (proto.kind_case() == ProtoValue::kStringValue) {
      return proto.string_value();
    }
    path_.emplace_back(field);
    absl::Status status = Error("must be a string");
    path_.pop_back();
    return status;
  }

  absl::StatusOr<Value> ConvertTyped(const Struct& proto, std::string_view marker) {
    const auto& fields = proto.fields();
    const bool quantity = marker == "$quantity";
    for (const auto& [key, unused] : fields) {
      if (key == marker) continue;
      if (quantity && (key == "precision" || key == "unit")) continue;
      return Error("typed value " + std::string(marker) + " has an unexpected field '" + key + "'" +
                   (quantity ? " (allowed: precision, unit)" : ""));
    }
    const ProtoValue& main = fields.at(std::string(marker));
    if (marker == "$money") {
      absl::StatusOr<int64_t> fen = Integer(main, marker);
      if (!fen.ok()) return fen.status();
      return Value::MoneyFen(*fen);
    }
    if (marker == "$quantity") {
      absl::StatusOr<int64_t> scaled = Integer(main, marker);
      if (!scaled.ok()) return scaled.status();
      int64_t precision = 0;
      if (auto it = fields.find("precision"); it != fields.end()) {
        absl::StatusOr<int64_t> p = Integer(it->second, "precision");
        if (!p.ok()) return p.status();
        if (*p < 0 || *p > kMaxPrecision) {
          return Error("precision must be 0..9");
        }
        precision = *p;
      }
      std::string unit;
      if (auto it = fields.find("unit"); it != fields.end()) {
        absl::StatusOr<std::string> u = String(it->second, "unit");
        if (!u.ok()) return u.status();
        unit = *std::move(u);
      }
      return Value::Quantity(*scaled, static_cast<int>(precision), std::move(unit));
    }
    absl::StatusOr<std::string> text = String(main, marker);
    if (!text.ok()) return text.status();
    if (marker == "$date") {
      absl::StatusOr<Value> date = ParseIsoDate(*text);
      if (!date.ok()) {
        path_.emplace_back(marker);
        absl::Status status = Error(std::string(date.status().message()));
        path_.pop_back();
        return status;
      }
      return date;
    }
    // $decimal: [-]digits[.digits], at most 9 decimals.
    const std::string& s = *text;
    size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
    const size_t int_begin = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    bool ok = i > int_begin;
    int precision = 0;
    if (ok && i < s.size() && s[i] == '.') {
      const size_t frac_begin = ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      precision = static_cast<int>(i - frac_begin);
      ok = precision >= 1 && precision <= kMaxPrecision;
    }
    std::string digits = s.substr(0, s.find('.'));
    if (precision > 0) digits.append(s.substr(s.find('.') + 1));
    int64_t scaled = 0;
    if (ok) {
      auto result = std::from_chars(digits.data(), digits.data() + digits.size(), scaled);
      ok = i == s.size() && result.ec == std::errc() && result.ptr == digits.data() + digits.size();
    }
    if (!ok) {
      path_.emplace_back(marker);
      absl::Status status = Error("must be a decimal like \"3.20\" (at most 9 decimals)");
      path_.pop_back();
      return status;
    }
    return Value::Fixed(scaled, precision);
  }

  const int max_depth_;
  int depth_ = 0;
  std::vector<std::string> path_;
};

void IntegerToProto(int64_t n, ProtoValue* proto) {
  if (std::fabs(static_cast<double>(n)) <= kMaxExactDouble) {
    proto->set_number_value(static_cast<double>(n));
  } else {
    proto->set_string_value(std::to_string(n));
  }
}

}  // namespace

absl::StatusOr<Value> ValueFromProto(const google::protobuf::Value& proto, int max_depth) {
  return FromProtoConverter(max_depth).Convert(proto);
}

absl::StatusOr<Value> ValueFromProto(const google::protobuf::Struct& proto, int max_depth) {
  return FromProtoConverter(max_depth).ConvertStruct(proto);
}

void ValueToProto(const Value& value, google::protobuf::Value* proto) {
  proto->Clear();
  switch (value.kind()) {
    case Value::Kind::kNull:
      proto->set_null_value(google::protobuf::NULL_VALUE);
      return;
    case Value::Kind::kBool:
      proto->set_bool_value(value.bool_value());
      return;
    case Value::Kind::kText:
      proto->set_string_value(value.text());
      return;
    case Value::Kind::kNumber:
      if (value.is_double()) {
        proto->set_number_value(value.AsDouble());
      } else if (value.precision() == 0) {
        IntegerToProto(value.scaled(), proto);
      } else {
        (*proto->mutable_struct_value()->mutable_fields())["$decimal"].set_string_value(
            value.ToText());
      }
      return;
    case Value::Kind::kQuantity: {
      auto* fields = proto->mutable_struct_value()->mutable_fields();
      IntegerToProto(value.scaled(), &(*fields)["$quantity"]);
      if (value.precision() != 0) {
        (*fields)["precision"].set_number_value(value.precision());
      }
      if (!value.text().empty()) {
        (*fields)["unit"].set_string_value(value.text());
      }
      return;
    }
    case Value::Kind::kMoney:
      IntegerToProto(value.scaled(), &(*proto->mutable_struct_value()->mutable_fields())["$money"]);
      return;
    case Value::Kind::kDate: {
      Value iso;
      value.Derived("iso", &iso);
      (*proto->mutable_struct_value()->mutable_fields())["$date"].set_string_value(iso.text());
      return;
    }
    case Value::Kind::kList: {
      auto* list = proto->mutable_list_value();
      for (const Value& item : value.items()) {
        ValueToProto(item, list->add_values());
      }
      return;
    }
    case Value::Kind::kMap: {
      auto* fields = proto->mutable_struct_value()->mutable_fields();
      for (size_t i = 0; i < value.map_size(); ++i) {
        ValueToProto(value.map_value(i), &(*fields)[value.map_key(i)]);
      }
      return;
    }
  }
}

}  // namespace govreport::templates
