// reportctl's CSV and JSON readers.
#include "reportctl/import.h"

#include "absl/strings/match.h"
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

// `dim.KEY` columns are the record's dimension values; an empty cell sets none.
TEST(ImportTest, CsvDimensionColumns) {
  auto r = ParseCsv(
      "type,occurred_on,dim.outcome,dim.applicant_type,participants\n"
      "disclosure_request,2023-03-01,撤回,自然人,2\n"
      "disclosure_request,2023-03-02,,法人,\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].record.dimensions().at("outcome"), "撤回");
  EXPECT_EQ(r.rows[0].record.dimensions().at("applicant_type"), "自然人");
  EXPECT_EQ(r.rows[0].record.quantities().at("participants"), 2);
  EXPECT_EQ(r.rows[1].record.dimensions().count("outcome"), 0u);
  EXPECT_EQ(r.rows[1].record.dimensions().at("applicant_type"), "法人");
  EXPECT_TRUE(r.rows[1].record.quantities().empty());
  auto bad = ParseCsv("type,occurred_on,dim.\nx,2023-01-01,撤回\n");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_TRUE(absl::StrContains(bad.errors[0], "'dim.'")) << bad.errors[0];
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

// Issue 11: a CSV in GBK (Excel's "CSV" on a Chinese Windows) passed
// --dry-run and then failed the import with INTERNAL. Both now refuse it
// before anything is sent, naming the lines, and say how to convert it.
TEST(ImportTest, AFileThatIsNotUtf8IsRefusedWithItsLinesAndAHint) {
  // type,occurred_on,title / theme_party_day,2023-05-04,党建活动 (GBK).
  const std::string gbk =
      "type,occurred_on,title\r\n"
      "theme_party_day,2023-05-04,\xB5\xB3\xBD\xA8\xBB\xEE\xB6\xAF\r\n"
      "theme_party_day,2023-05-05,ok\r\n"
      "theme_party_day,2023-05-06,x\xD6\xD0\r\n";
  auto r = ParseFile("in.csv", gbk);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->rows.empty());
  ASSERT_EQ(r->errors.size(), 3u);
  EXPECT_EQ(r->errors[0], "line 2, column 28: byte 0xB5 is not UTF-8");
  EXPECT_EQ(r->errors[1], "line 4, column 29: byte 0xD6 is not UTF-8");
  EXPECT_TRUE(absl::StrContains(r->errors[2], "GBK")) << r->errors[2];
  EXPECT_TRUE(absl::StrContains(r->errors[2], "`iconv -f GBK -t UTF-8 in.csv > in.csv.utf8.csv`"))
      << r->errors[2];
  // What iconv makes of it imports.
  auto fixed =
      ParseFile("in.csv", "type,occurred_on,title\r\ntheme_party_day,2023-05-04,党建活动\r\n");
  ASSERT_TRUE(fixed.ok());
  EXPECT_TRUE(fixed->errors.empty());
  EXPECT_EQ(fixed->rows[0].record.title(), "党建活动");

  // JSON too; bytes that are not GBK either get the general hint; many bad
  // lines are summed up after the first three.
  std::string latin;
  for (int i = 0; i < 10; ++i) latin += "{\"type\":\"caf\xE9\"}\n";
  auto j = ParseFile("in.jsonl", latin);
  ASSERT_TRUE(j.ok());
  ASSERT_EQ(j->errors.size(), 5u);
  EXPECT_EQ(j->errors[0], "line 1, column 13: byte 0xE9 is not UTF-8");
  EXPECT_EQ(j->errors[3], "... and 7 more line(s)");
  EXPECT_TRUE(absl::StrContains(j->errors[4], "iconv -f <its encoding> -t UTF-8 in.jsonl"))
      << j->errors[4];
  EXPECT_TRUE(EncodingErrors("in.csv", "type,occurred_on\n谈心,2023-01-01\n").empty());
}

}  // namespace
}  // namespace govreport::cli
