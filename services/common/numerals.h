// Number and date formatting for Chinese official documents. Free functions,
// shared by the template engine and any code that writes figures into a
// report (DOCX writer, reportctl, tests).
//
// All money is an integer number of fen (分); nothing here goes through
// floating point except FormatShortestDecimal, which formats a double that
// already is one (a JSON number).
#ifndef GOVREPORT_COMMON_NUMERALS_H_
#define GOVREPORT_COMMON_NUMERALS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"

namespace govreport {

// Chinese numerals (小写) for an integer, as read aloud in official text:
//   0 → 零, 10 → 十, 15 → 十五, 105 → 一百零五, 110 → 一百一十,
//   1234 → 一千二百三十四, 100010 → 十万零一十, 100000000 → 一亿,
//   -3 → 负三.
// A leading 一十 is shortened to 十 only at the very start of the number.
std::string ChineseNumerals(int64_t n);

// Like ChineseNumerals for a decimal given as digits: "97.5" → 九十七点五,
// "3.05" → 三点零五, "-0.5" → 负零点五. `decimal` must be [-]digits[.digits];
// anything else is returned unchanged.
std::string ChineseNumeralsDecimal(std::string_view decimal);

// Chinese digits read one by one, as in a year: "2023" → 二〇二三.
std::string ChineseDigits(std::string_view digits);

// 大写金额 from fen, per the rules of the People's Bank of China for
// financial writing:
//   123456 → 壹仟贰佰叁拾肆元伍角陆分, 123400 → 壹仟贰佰叁拾肆元整,
//   10010000000 (100100000 元) → 壹亿零壹拾万元整, 106 → 壹元零陆分,
//   56 → 伍角陆分, 0 → 零元整, 168032 → 壹仟陆佰捌拾元零叁角贰分.
// 整 is written only when there are neither 角 nor 分 (it is optional after
// 角, and this function leaves it out there). 拾 always keeps its 壹.
std::string ChineseMoneyUppercase(int64_t fen);

// A fixed-point number held as an integer and a scale: (975, 1) is 97.5.
// With trim_zeros, trailing zeros after the point (and a bare point) go:
// (1000, 1) → "100"; without, the scale is kept: "100.0". precision 0..18.
std::string FormatScaled(int64_t scaled, int precision, bool trim_zeros);
// The same appended to *out, without allocating (the renderer's hot path).
void AppendScaled(int64_t scaled, int precision, bool trim_zeros, std::string* out);

// Fen as 元 for running text: 123456 → "1234.56", 123450 → "1234.5",
// 123400 → "1234" (trailing zeros trimmed, never rounded).
std::string FormatFenAsYuan(int64_t fen);

// Fen as 万元, rounded half away from zero to 2 decimals, trailing zeros
// trimmed: 123456 fen (1234.56 元) → "0.12", 125000 → "0.13",
// 1500000000 → "1500", 4000 → "0".
std::string FormatFenAsWan(int64_t fen);

// A fixed-point value (scaled, precision) divided by 10000 (万), rounded half
// away from zero to 2 decimals, trailing zeros trimmed: (123456, 0) → "12.35".
std::string FormatScaledAsWan(int64_t scaled, int precision);

// The same figure in hundredths of 万: (123456, 0) → 1235, i.e. 12.35万.
int64_t WanHundredths(int64_t scaled, int precision);

// The figure written before 余 ("1200余条"): rounded toward zero so that it
// never exceeds the true value, keeping
//   - below 10: the number itself (7 → 7);
//   - 10..99: the tens (56 → 50, 12 → 10);
//   - 100 and up: the two leading significant digits (1234 → 1200,
//     105 → 100, 999 → 990, 15678 → 15000).
// Negative numbers mirror positive ones (-1234 → -1200).
int64_t ApproximateDown(int64_t n);

// Shortest decimal text that reads back as the same double, never in
// exponent form: 1.21 → "1.21", 85.0 → "85", 1e21 → "1000000000000000000000".
// NaN and infinities give "NaN", "Infinity", "-Infinity".
std::string FormatShortestDecimal(double value);

// 成文日期 per GB/T 9704-2012: Arabic numerals, no zero padding:
// (2023, 5, 8) → "2023年5月8日".
std::string FormatDateGb(int year, int month, int day);

// The same date in Chinese numerals: (2023, 5, 8) → "二〇二三年五月八日",
// (2023, 10, 31) → "二〇二三年十月三十一日".
std::string FormatDateChinese(int year, int month, int day);

// The same two for a calendar day.
std::string FormatDateGb(absl::CivilDay day);
std::string FormatDateChinese(absl::CivilDay day);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_NUMERALS_H_
