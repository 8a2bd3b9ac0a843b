// Typed values of a template context.
//
// A report's figures are not plain JSON numbers: a count, a percentage kept
// as 975 with one decimal, a sum of money in fen, a date. The engine keeps
// them typed so that formatting is its job, done one way for every template,
// and so that a template can ask for a derived form by a dotted name:
//
//   kind       {{x}} writes           derived names (x.<name>)
//   number     85, 3.20, 1.21         value wan approx cn zero nonzero
//   quantity   97.5 (975 @ 1)         value wan approx cn zero nonzero unit
//   money      1234.56 (元, from fen)  value wan approx cn zero nonzero
//                                     daxie fen
//   date       2023年5月8日            cn year month day iso
//
//   value    the raw number: all stored decimals (97.5, 100.0; money 1234.50)
//   wan      ÷ 10000, 2 decimals, trailing zeros trimmed; for money the
//            amount in 万元 (123456 fen → 0.12)
//   approx   rounded down for 余: ApproximateDown of the integer part
//   cn       Chinese numerals (1234 → 一千二百三十四, 97.5 → 九十七点五)
//   zero     true when the value is 0; nonzero: the opposite. Templates test
//            these, never a number's truthiness: every number is truthy.
//   unit     the quantity's unit text (may be empty)
//   daxie    大写金额 (壹仟贰佰叁拾肆元伍角陆分)
//   fen      the amount in fen, an integer
//   cn/year/month/day/iso of a date: 二〇二三年五月八日, 2023, 5, 8,
//            2023-05-08
// Quantities and money print with trailing zeros after the point trimmed
// (100.0% prints 100); `value` keeps them. See numerals.h for the rules.
#ifndef GOVREPORT_TEMPLATES_ENGINE_VALUE_H_
#define GOVREPORT_TEMPLATES_ENGINE_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace google::protobuf {
class Struct;
class Value;
}  // namespace google::protobuf

namespace govreport::templates {

class Value {
 public:
  enum class Kind : uint8_t {
    kNull,
    kBool,
    kText,
    kNumber,
    kQuantity,
    kMoney,
    kDate,
    kList,
    kMap,
  };

  Value() = default;  // null

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Text(std::string text);
  static Value Int(int64_t n);
  // Exact fixed-point number: Fixed(320, 2) is 3.20 and prints "3.20".
  // precision is clamped to 0..9.
  static Value Fixed(int64_t scaled, int precision);
  // A binary floating-point number (a JSON number). precision < 0 prints the
  // shortest text that reads back as `value` (1.21); precision >= 0 makes it
  // an exact Fixed number rounded to that many places, when it fits.
  static Value Decimal(double value, int precision = -1);
  // A measured figure: 975 with precision 1 is 97.5; unit is for display
  // logic only ("%", "次") and is not written by {{x}}. precision 0..9.
  static Value Quantity(int64_t scaled, int precision, std::string unit = "");
  static Value MoneyFen(int64_t fen);
  // Not checked here: ValueFromProto and ParseIsoDate check dates.
  static Value Date(int year, int month, int day);
  static Value List(std::vector<Value> items = {});
  static Value Map();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_map() const { return kind_ == Kind::kMap; }
  bool is_list() const { return kind_ == Kind::kList; }
  // number, quantity or money
  bool is_numeric() const {
    return kind_ == Kind::kNumber || kind_ == Kind::kQuantity || kind_ == Kind::kMoney;
  }

  bool bool_value() const { return kind_ == Kind::kBool && int_ != 0; }
  // kText: the text; kQuantity: the unit; otherwise empty.
  const std::string& text() const { return text_; }
  // kNumber (exact), kQuantity: the scaled integer; kMoney: fen; else 0.
  int64_t scaled() const { return is_double_ ? 0 : int_; }
  // Decimal places of scaled(): 2 for money.
  int precision() const { return precision_; }
  // A kNumber made by Decimal() with precision < 0.
  bool is_double() const { return is_double_; }
  // The numeric value as a double (money in 元), for comparisons in tests
  // and callers that need an approximation; formatting never uses it.
  double AsDouble() const;
  int year() const;
  int month() const;
  int day() const;

  // kList items, or kMap values in key order.
  const std::vector<Value>& items() const { return items_; }
  // Appends to a list; a null value becomes an empty list first. Ignored
  // for other kinds.
  void Append(Value item);

  // Map entries, sorted by key. Set on a value that is not a map makes it
  // an empty map first.
  size_t map_size() const { return kind_ == Kind::kMap ? keys_.size() : 0; }
  const std::string& map_key(size_t i) const { return keys_[i]; }
  const Value& map_value(size_t i) const { return items_[i]; }
  const Value* Find(std::string_view key) const;
  // The same with the key's HashKey already known (the renderer computes
  // it once per name at compile time).
  const Value* Find(std::string_view key, uint32_t hash) const;
  static uint32_t HashKey(std::string_view key);
  Value* FindMutable(std::string_view key);
  Value& Set(std::string_view key, Value value);
  // Set("ind.talks", v) creates the maps on the way; a non-map on the way
  // is replaced by a map.
  Value& SetPath(std::string_view dotted_name, Value value);

  // What an interpolation tag writes, before escaping: null → "", bool →
  // true/false, lists → items joined with 、, maps → "".
  void AppendText(std::string* out) const;
  std::string ToText() const;

  // Mustache truthiness: false for null, false, "", []; true otherwise
  // (numbers included, even 0: test x.zero instead).
  bool Truthy() const;

  // Computes the derived name `name` (see the table above) into *out.
  // False when this kind has no such derived name.
  bool Derived(std::string_view name, Value* out) const;

  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  Kind kind_ = Kind::kNull;
  bool is_double_ = false;
  int8_t precision_ = 0;
  int64_t int_ = 0;                // bool, scaled number, fen, yyyymmdd date
  double double_ = 0;              // is_double_ numbers
  std::string text_;               // text, or a quantity's unit
  std::vector<std::string> keys_;  // map keys, shortest first; parallel to items_
  std::vector<Value> items_;       // list items or map values
  // Larger maps (the report's 40-odd indicators) are also hashed: lookups
  // are the hot path of rendering. Open addressing; a slot holds the item
  // index + 1, 0 when empty; empty for small maps.
  std::vector<uint32_t> slots_;
  void IndexKeys();
};

// "2023-05-08" → a date value; INVALID_ARGUMENT for anything that is not a
// real calendar date.
absl::StatusOr<Value> ParseIsoDate(std::string_view text);

// Converts JSON (as protobuf Struct/Value) to a context. Numbers that are
// whole print as integers, others as the shortest decimal. Objects with one
// of these keys become typed values (services pass contexts this way):
//   {"$money": 123456}                      money in fen (number or string)
//   {"$quantity": 975, "precision": 1, "unit": "%"}
//                                           quantity (precision, unit
//                                           optional)
//   {"$decimal": "3.20"}                    exact fixed-point number
//   {"$date": "2023-05-08"}                 date
// A malformed typed object, or nesting deeper than max_depth, is
// INVALID_ARGUMENT naming the path (e.g. "ind.fund.$money").
absl::StatusOr<Value> ValueFromProto(const google::protobuf::Value& proto, int max_depth = 64);
absl::StatusOr<Value> ValueFromProto(const google::protobuf::Struct& proto, int max_depth = 64);

// The reverse, with the same typed objects, so a context survives a round
// trip (e.g. a report revision's snapshot).
void ValueToProto(const Value& value, google::protobuf::Value* proto);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_ENGINE_VALUE_H_
