#include "common/numerals.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace govreport {
namespace {

TEST(ChineseNumerals, SmallNumbers) {
  EXPECT_EQ(ChineseNumerals(0), "零");
  EXPECT_EQ(ChineseNumerals(1), "一");
  EXPECT_EQ(ChineseNumerals(9), "九");
  EXPECT_EQ(ChineseNumerals(10), "十");
  EXPECT_EQ(ChineseNumerals(15), "十五");
  EXPECT_EQ(ChineseNumerals(20), "二十");
  EXPECT_EQ(ChineseNumerals(99), "九十九");
}

TEST(ChineseNumerals, ZerosInside) {
  EXPECT_EQ(ChineseNumerals(100), "一百");
  EXPECT_EQ(ChineseNumerals(101), "一百零一");
  EXPECT_EQ(ChineseNumerals(105), "一百零五");
  EXPECT_EQ(ChineseNumerals(110), "一百一十");
  EXPECT_EQ(ChineseNumerals(1001), "一千零一");
  EXPECT_EQ(ChineseNumerals(1010), "一千零一十");
  EXPECT_EQ(ChineseNumerals(1100), "一千一百");
  EXPECT_EQ(ChineseNumerals(1234), "一千二百三十四");
}

TEST(ChineseNumerals, WanAndYi) {
  EXPECT_EQ(ChineseNumerals(10000), "一万");
  EXPECT_EQ(ChineseNumerals(10001), "一万零一");
  EXPECT_EQ(ChineseNumerals(10010), "一万零一十");
  EXPECT_EQ(ChineseNumerals(100000), "十万");
  EXPECT_EQ(ChineseNumerals(110000), "十一万");
  EXPECT_EQ(ChineseNumerals(100010), "十万零一十");
  EXPECT_EQ(ChineseNumerals(107000), "十万七千");
  EXPECT_EQ(ChineseNumerals(12345678), "一千二百三十四万五千六百七十八");
  EXPECT_EQ(ChineseNumerals(10000001), "一千万零一");
  EXPECT_EQ(ChineseNumerals(100000000), "一亿");
  EXPECT_EQ(ChineseNumerals(100000001), "一亿零一");
  EXPECT_EQ(ChineseNumerals(100100000), "一亿零一十万");
  EXPECT_EQ(ChineseNumerals(110000000), "一亿一千万");
  EXPECT_EQ(ChineseNumerals(1000000000), "十亿");
  EXPECT_EQ(ChineseNumerals(1234567890000), "一万二千三百四十五亿六千七百八十九万");
  EXPECT_EQ(ChineseNumerals(10000000000000000), "一亿亿");
}

TEST(ChineseNumerals, Negative) {
  EXPECT_EQ(ChineseNumerals(-3), "负三");
  EXPECT_EQ(ChineseNumerals(-15), "负十五");
  // The extreme does not crash or overflow.
  EXPECT_FALSE(ChineseNumerals(std::numeric_limits<int64_t>::min()).empty());
}

TEST(ChineseNumeralsDecimal, Decimals) {
  EXPECT_EQ(ChineseNumeralsDecimal("97.5"), "九十七点五");
  EXPECT_EQ(ChineseNumeralsDecimal("3.05"), "三点零五");
  EXPECT_EQ(ChineseNumeralsDecimal("0.5"), "零点五");
  EXPECT_EQ(ChineseNumeralsDecimal("-0.5"), "负零点五");
  EXPECT_EQ(ChineseNumeralsDecimal("1234"), "一千二百三十四");
  EXPECT_EQ(ChineseNumeralsDecimal("abc"), "abc");  // not a number: as is
  EXPECT_EQ(ChineseNumeralsDecimal("1."), "1.");
}

TEST(ChineseDigits, OneByOne) {
  EXPECT_EQ(ChineseDigits("2023"), "二〇二三");
  EXPECT_EQ(ChineseDigits("1900"), "一九〇〇");
}

TEST(ChineseMoneyUppercase, Examples) {
  EXPECT_EQ(ChineseMoneyUppercase(123456), "壹仟贰佰叁拾肆元伍角陆分");
  EXPECT_EQ(ChineseMoneyUppercase(123400), "壹仟贰佰叁拾肆元整");
  EXPECT_EQ(ChineseMoneyUppercase(123450), "壹仟贰佰叁拾肆元伍角");
  EXPECT_EQ(ChineseMoneyUppercase(106), "壹元零陆分");
  EXPECT_EQ(ChineseMoneyUppercase(56), "伍角陆分");
  EXPECT_EQ(ChineseMoneyUppercase(6), "陆分");
  EXPECT_EQ(ChineseMoneyUppercase(0), "零元整");
  EXPECT_EQ(ChineseMoneyUppercase(1000), "壹拾元整");
  EXPECT_EQ(ChineseMoneyUppercase(1050), "壹拾元零伍角");
  EXPECT_EQ(ChineseMoneyUppercase(168032), "壹仟陆佰捌拾元零叁角贰分");
  EXPECT_EQ(ChineseMoneyUppercase(10700053), "壹拾万柒仟元零伍角叁分");
  EXPECT_EQ(ChineseMoneyUppercase(10010000000), "壹亿零壹拾万元整");
  EXPECT_EQ(ChineseMoneyUppercase(10000000000), "壹亿元整");
  EXPECT_EQ(ChineseMoneyUppercase(100000100), "壹佰万零壹元整");
  EXPECT_EQ(ChineseMoneyUppercase(-123456), "负壹仟贰佰叁拾肆元伍角陆分");
  EXPECT_FALSE(ChineseMoneyUppercase(std::numeric_limits<int64_t>::min()).empty());
}

TEST(FormatScaled, TrimAndKeep) {
  EXPECT_EQ(FormatScaled(975, 1, true), "97.5");
  EXPECT_EQ(FormatScaled(1000, 1, true), "100");
  EXPECT_EQ(FormatScaled(1000, 1, false), "100.0");
  EXPECT_EQ(FormatScaled(320, 2, true), "3.2");
  EXPECT_EQ(FormatScaled(320, 2, false), "3.20");
  EXPECT_EQ(FormatScaled(5, 3, false), "0.005");
  EXPECT_EQ(FormatScaled(-5, 3, true), "-0.005");
  EXPECT_EQ(FormatScaled(12, 0, true), "12");
  EXPECT_EQ(FormatScaled(std::numeric_limits<int64_t>::min(), 0, true), "-9223372036854775808");
  EXPECT_EQ(FormatScaled(std::numeric_limits<int64_t>::min(), 18, false), "-9.223372036854775808");
  EXPECT_EQ(FormatScaled(7, 18, false), "0.000000000000000007");
  EXPECT_EQ(FormatScaled(1050, 3, true), "1.05");
}

TEST(FormatScaled, AppendScaledAppends) {
  std::string out = "共";
  AppendScaled(975, 1, true, &out);
  AppendScaled(1000, 1, true, &out);
  EXPECT_EQ(out, "共97.5100");
}

TEST(Money, YuanAndWan) {
  EXPECT_EQ(FormatFenAsYuan(123456), "1234.56");
  EXPECT_EQ(FormatFenAsYuan(123450), "1234.5");
  EXPECT_EQ(FormatFenAsYuan(123400), "1234");
  EXPECT_EQ(FormatFenAsYuan(5), "0.05");
  EXPECT_EQ(FormatFenAsWan(123456), "0.12");  // 1234.56 元
  EXPECT_EQ(FormatFenAsWan(125000), "0.13");  // 0.125 万, half up
  EXPECT_EQ(FormatFenAsWan(124999), "0.12");
  EXPECT_EQ(FormatFenAsWan(1500000000), "1500");  // 1500 万元
  EXPECT_EQ(FormatFenAsWan(123456789), "123.46");
  EXPECT_EQ(FormatFenAsWan(4000), "0");
  EXPECT_EQ(FormatFenAsWan(-125000), "-0.13");
  EXPECT_EQ(FormatScaledAsWan(123456, 0), "12.35");
  EXPECT_EQ(FormatScaledAsWan(9750, 1), "0.1");
  EXPECT_EQ(WanHundredths(123456, 0), 1235);
}

TEST(ApproximateDown, KeepsTwoLeadingDigits) {
  EXPECT_EQ(ApproximateDown(1234), 1200);
  EXPECT_EQ(ApproximateDown(56), 50);
  EXPECT_EQ(ApproximateDown(12), 10);
  EXPECT_EQ(ApproximateDown(7), 7);
  EXPECT_EQ(ApproximateDown(0), 0);
  EXPECT_EQ(ApproximateDown(100), 100);
  EXPECT_EQ(ApproximateDown(105), 100);
  EXPECT_EQ(ApproximateDown(999), 990);
  EXPECT_EQ(ApproximateDown(15678), 15000);
  EXPECT_EQ(ApproximateDown(-1234), -1200);
  EXPECT_EQ(ApproximateDown(std::numeric_limits<int64_t>::max()), 9200000000000000000);
}

TEST(FormatShortestDecimal, NoExponents) {
  EXPECT_EQ(FormatShortestDecimal(1.21), "1.21");
  EXPECT_EQ(FormatShortestDecimal(85.0), "85");
  EXPECT_EQ(FormatShortestDecimal(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatShortestDecimal(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatShortestDecimal(0.0001), "0.0001");
  EXPECT_EQ(FormatShortestDecimal(-0.0), "0");
  EXPECT_EQ(FormatShortestDecimal(-2.5), "-2.5");
}

TEST(Dates, GbAndChinese) {
  EXPECT_EQ(FormatDateGb(2023, 5, 8), "2023年5月8日");
  EXPECT_EQ(FormatDateGb(2023, 12, 31), "2023年12月31日");
  EXPECT_EQ(FormatDateChinese(2023, 5, 8), "二〇二三年五月八日");
  EXPECT_EQ(FormatDateChinese(2023, 10, 31), "二〇二三年十月三十一日");
  EXPECT_EQ(FormatDateChinese(2020, 11, 20), "二〇二〇年十一月二十日");
  EXPECT_EQ(FormatDateGb(absl::CivilDay(2023, 5, 8)), "2023年5月8日");
  EXPECT_EQ(FormatDateChinese(absl::CivilDay(2023, 10, 31)), "二〇二三年十月三十一日");
}

}  // namespace
}  // namespace govreport
