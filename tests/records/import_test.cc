// reportctl's CSV and JSON readers.
#include "reportctl/import.h"

#include "gtest/gtest.h"

namespace govreport::cli {
namespace {

TEST(ImportTest, CsvWithQuotesPersonsAndYuan) {
  auto r = ParseCsv(
      "\xEF\xBB\xBFtype,occurred_on,title,persons,participants,amount_yuan\r\n"
      "heart_to_heart_talk,2023-01-02,\"谈心, \"\"一对一\"\"\",a;b,3,\r\n"
      "community_fundraising,2023-02-03,筹款,,,1234.5\r\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].line, 2);
  EXPECT_EQ(r.rows[0].record.title(), "谈心, \"一对一\"");
  EXPECT_EQ(r.rows[0].record.persons_size(), 2);
  EXPECT_EQ(r.rows[0].record.quantities().at("participants"), 3);
  EXPECT_EQ(r.rows[1].record.quantities().at("amount_fen"), 123450);
}

TEST(ImportTest, CsvErrorsCarryTheLine) {
  auto r =
      ParseCsv("type,occurred_on,participants\nx,2023-01-01,abc\ny,2023-01-01\nz,2023-01-01,-2\n");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_NE(r.errors[0].find("line 2"), std::string::npos);
  EXPECT_NE(r.errors[1].find("line 3"), std::string::npos);
  EXPECT_NE(r.errors[2].find("negative"), std::string::npos);
  EXPECT_FALSE(ParseCsv("type,occurred_on\n\"open,2023").errors.empty());
  EXPECT_FALSE(ParseCsv("title\nx\n").errors.empty());
}

TEST(ImportTest, YuanIsExact) {
  EXPECT_EQ(*YuanToFen("0.01"), 1);
  EXPECT_EQ(*YuanToFen("12"), 1200);
  EXPECT_EQ(*YuanToFen("99999999.99"), 9999999999);
  EXPECT_FALSE(YuanToFen("1.001").ok());
  EXPECT_FALSE(YuanToFen("-1").ok());
  EXPECT_FALSE(YuanToFen("1e3").ok());
}

TEST(ImportTest, JsonArrayAndLines) {
  auto a = ParseJson(R"([{"type":"t","occurredOn":"2023-01-01","quantities":{"items":"2"}}])");
  ASSERT_TRUE(a.errors.empty());
  EXPECT_EQ(a.rows[0].record.quantities().at("items"), 2);
  auto l = ParseJson("{\"type\":\"t\"}\n\n{\"nope\":1}\n");
  EXPECT_EQ(l.rows.size(), 1u);
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("line 3"), std::string::npos);
}

}  // namespace
}  // namespace govreport::cli
