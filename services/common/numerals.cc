#include "common/numerals.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace govreport {
namespace {

constexpr const char* kLowerDigits[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
constexpr const char* kLowerUnits[] = {"", "十", "百", "千"};
constexpr const char* kUpperDigits[] = {"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"};
constexpr const char* kUpperUnits[] = {"", "拾", "佰", "仟"};

struct NumeralStyle {
  const char* const* digits;
  const char* const* units;
  // 十五 rather than 一十五 at the start of a number; financial writing
  // (大写) always keeps the 壹 so that nothing can be written in front.
  bool short_leading_ten;
};

constexpr NumeralStyle kLower{kLowerDigits, kLowerUnits, true};
constexpr NumeralStyle kUpper{kUpperDigits, kUpperUnits, false};

constexpr uint64_t kPow10[] = {1ULL,
                               10ULL,
                               100ULL,
                               1000ULL,
                               10000ULL,
                               100000ULL,
                               1000000ULL,
                               10000000ULL,
                               100000000ULL,
                               1000000000ULL,
                               10000000000ULL,
                               100000000000ULL,
                               1000000000000ULL,
                               10000000000000ULL,
                               100000000000000ULL,
                               1000000000000000ULL,
                               10000000000000000ULL,
                               100000000000000000ULL,
                               1000000000000000000ULL,
                               10000000000000000000ULL};

uint64_t Magnitude(int64_t n) {
  // Negating INT64_MIN overflows; go through unsigned arithmetic.
  return n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
}

// One group of four digits (1..9999). Zeros between non-zero digits collapse
// into one 零; trailing zeros are silent.
void AppendGroup(uint32_t n, bool leading, const NumeralStyle& style, std::string* out) {
  const int digit[4] = {static_cast<int>(n / 1000), static_cast<int>(n / 100 % 10),
                        static_cast<int>(n / 10 % 10), static_cast<int>(n % 10)};
  bool started = false;
  bool pending_zero = false;
  for (int i = 0; i < 4; ++i) {
    const int place = 3 - i;
    if (digit[i] == 0) {
      if (started) pending_zero = true;
      continue;
    }
    if (pending_zero) {
      out->append(style.digits[0]);
      pending_zero = false;
    }
    const bool short_ten =
        style.short_leading_ten && leading && !started && place == 1 && digit[i] == 1;
    if (!short_ten) out->append(style.digits[digit[i]]);
    out->append(style.units[place]);
    started = true;
  }
}

// n > 0. Numbers are read in groups of four digits (个, 万, 亿); above 亿 the
// part before 亿 is read recursively (一万二千亿). A gap of zeros at a group
// boundary reads as one 零 (一亿零一十万).
void AppendInteger(uint64_t n, bool leading, const NumeralStyle& style, std::string* out) {
  if (n < 10000) {
    AppendGroup(static_cast<uint32_t>(n), leading, style, out);
    return;
  }
  if (n < 100000000) {
    AppendGroup(static_cast<uint32_t>(n / 10000), leading, style, out);
    out->append("万");
    const auto low = static_cast<uint32_t>(n % 10000);
    if (low != 0) {
      if (low < 1000) out->append(style.digits[0]);
      AppendGroup(low, false, style, out);
    }
    return;
  }
  AppendInteger(n / 100000000, leading, style, out);
  out->append("亿");
  const uint64_t low = n % 100000000;
  if (low != 0) {
    if (low < 10000000) out->append(style.digits[0]);
    AppendInteger(low, false, style, out);
  }
}

std::string DigitsToChinese(std::string_view digits, const char* zero) {
  std::string out;
  out.reserve(digits.size() * 3);
  for (char c : digits) {
    if (c >= '0' && c <= '9') {
      out.append(c == '0' ? zero : kLowerDigits[c - '0']);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string ChineseNumerals(int64_t n) {
  if (n == 0) return kLowerDigits[0];
  std::string out;
  if (n < 0) out.append("负");
  AppendInteger(Magnitude(n), true, kLower, &out);
  return out;
}

std::string ChineseNumeralsDecimal(std::string_view decimal) {
  std::string_view s = decimal;
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  const std::string_view int_part = s.substr(0, dot);
  const std::string_view frac_part =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (!AllDigits(int_part) || (dot != std::string_view::npos && !AllDigits(frac_part))) {
    return std::string(decimal);
  }
  std::string out;
  if (negative) out.append("负");
  // Beyond 19 digits the value no longer fits; read such digits one by one.
  uint64_t value = 0;
  if (int_part.size() <= 19 &&
      std::from_chars(int_part.data(), int_part.data() + int_part.size(), value).ec ==
          std::errc()) {
    if (value == 0) {
      out.append(kLowerDigits[0]);
    } else {
      AppendInteger(value, true, kLower, &out);
    }
  } else {
    out.append(DigitsToChinese(int_part, kLowerDigits[0]));
  }
  if (!frac_part.empty()) {
    out.append("点");
    out.append(DigitsToChinese(frac_part, kLowerDigits[0]));
  }
  return out;
}

std::string ChineseDigits(std::string_view digits) { return DigitsToChinese(digits, "〇"); }

std::string ChineseMoneyUppercase(int64_t fen) {
  const uint64_t amount = Magnitude(fen);
  const uint64_t yuan = amount / 100;
  const int jiao = static_cast<int>(amount / 10 % 10);
  const int cents = static_cast<int>(amount % 10);
  std::string out;
  if (fen < 0) out.append("负");
  if (yuan > 0) {
    AppendInteger(yuan, false, kUpper, &out);
    out.append("元");
  }
  if (jiao == 0 && cents == 0) {
    if (yuan == 0) out.append("零元");
    out.append("整");
    return out;
  }
  if (jiao > 0) {
    // 壹仟陆佰捌拾元零叁角贰分: a zero in the 元 place before 角 is written.
    if (yuan > 0 && yuan % 10 == 0) out.append(kUpperDigits[0]);
    out.append(kUpperDigits[jiao]);
    out.append("角");
  } else if (yuan > 0) {
    out.append(kUpperDigits[0]);  // 壹元零陆分
  }
  if (cents > 0) {
    out.append(kUpperDigits[cents]);
    out.append("分");
  }
  return out;
}

void AppendScaled(int64_t scaled, int precision, bool trim_zeros, std::string* out) {
  if (precision < 0) precision = 0;
  if (precision > 18) precision = 18;
  const uint64_t magnitude = Magnitude(scaled);
  const uint64_t divisor = kPow10[precision];
  // 20 digits of the integer part, a sign, a point and 18 decimals.
  char buffer[48];
  char* p = buffer;
  if (scaled < 0) *p++ = '-';
  p = std::to_chars(p, buffer + sizeof(buffer), magnitude / divisor).ptr;
  if (precision > 0) {
    uint64_t frac = magnitude % divisor;
    int digits = precision;
    if (trim_zeros) {
      while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        --digits;
      }
    }
    if (digits > 0) {
      *p++ = '.';
      // frac has at most `digits` digits: write them right to left, zeros
      // in front included.
      for (int d = digits; d-- > 0;) {
        p[d] = static_cast<char>('0' + frac % 10);
        frac /= 10;
      }
      p += digits;
    }
  }
  out->append(buffer, p);
}

std::string FormatScaled(int64_t scaled, int precision, bool trim_zeros) {
  std::string out;
  AppendScaled(scaled, precision, trim_zeros, &out);
  return out;
}

std::string FormatFenAsYuan(int64_t fen) { return FormatScaled(fen, 2, true); }

int64_t WanHundredths(int64_t scaled, int precision) {
  if (precision < 0) precision = 0;
  if (precision > 18) precision = 18;
  // scaled / 10^(precision + 2), rounded half away from zero.
  const int shift = precision + 2;
  const uint64_t magnitude = Magnitude(scaled);
  uint64_t hundredths = 0;
  if (shift <= 19) {
    const uint64_t divisor = kPow10[shift];
    hundredths = magnitude / divisor;
    const uint64_t rest = magnitude % divisor;
    if (rest >= divisor - rest) ++hundredths;
  }
  return scaled < 0 ? -static_cast<int64_t>(hundredths) : static_cast<int64_t>(hundredths);
}

std::string FormatScaledAsWan(int64_t scaled, int precision) {
  return FormatScaled(WanHundredths(scaled, precision), 2, true);
}

std::string FormatFenAsWan(int64_t fen) { return FormatScaledAsWan(fen, 2); }

int64_t ApproximateDown(int64_t n) {
  const uint64_t magnitude = Magnitude(n);
  uint64_t result = magnitude;
  if (magnitude >= 10 && magnitude < 100) {
    result = magnitude / 10 * 10;
  } else if (magnitude >= 100) {
    uint64_t unit = 1;
    while (magnitude / unit >= 100) unit *= 10;
    result = magnitude / unit * unit;
  }
  // result <= magnitude, so it fits unless n was INT64_MIN; that one's
  // approximation is far below the limit.
  return n < 0 ? -static_cast<int64_t>(result) : static_cast<int64_t>(result);
}

std::string FormatShortestDecimal(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  if (value == 0) return "0";  // also -0
  char buffer[512];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
  if (result.ec != std::errc()) return "0";  // cannot happen with 512 bytes
  return std::string(buffer, result.ptr);
}

std::string FormatDateGb(int year, int month, int day) {
  std::string out = std::to_string(year);
  out.append("年");
  out.append(std::to_string(month));
  out.append("月");
  out.append(std::to_string(day));
  out.append("日");
  return out;
}

std::string FormatDateChinese(int year, int month, int day) {
  std::string out = ChineseDigits(std::to_string(year));
  out.append("年");
  out.append(ChineseNumerals(month));
  out.append("月");
  out.append(ChineseNumerals(day));
  out.append("日");
  return out;
}

std::string FormatDateGb(absl::CivilDay day) {
  return FormatDateGb(static_cast<int>(day.year()), day.month(), day.day());
}

std::string FormatDateChinese(absl::CivilDay day) {
  return FormatDateChinese(static_cast<int>(day.year()), day.month(), day.day());
}

}  // namespace govreport
