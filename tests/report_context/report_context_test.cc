// The report context as the assembler and the templates preview build it:
// the Chinese period wording for every period shape, the next year, and a
// broken-down indicator's rows.
#include "report_context/report_context.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace govreport::templates {
namespace {

TEST(PeriodWordingTest, EveryPeriodShapeReadsAsAReportNamesIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2023", "2023年"},
      {"2023-H1", "2023年上半年"},
      {"2023-H2", "2023年下半年"},
      {"2023-Q1", "2023年第一季度"},
      {"2023-Q2", "2023年第二季度"},
      {"2023-Q3", "2023年第三季度"},
      {"2023-Q4", "2023年第四季度"},
      {"2023-03", "2023年3月"},
      {"2023-12", "2023年12月"},
      {"2023-03..2023-08", "2023年3月至8月"},
      {"2022-11..2023-10", "2022年11月至2023年10月"},
      // By the months covered, whatever the label.
      {"2023-01..2023-12", "2023年"},
      {"2023-01..2023-06", "2023年上半年"},
      {"2023-07..2023-09", "2023年第三季度"},
      {"2023-05..2023-05", "2023年5月"},
      {"2022-01..2023-12", "2022年至2023年"},
      // Three months that are not a quarter.
      {"2023-02..2023-04", "2023年2月至4月"},
  };
  for (const auto& [label, want] : cases) {
    EXPECT_EQ(PeriodLabelChinese(label).value_or("(none)"), want) << label;
  }
  EXPECT_FALSE(PeriodLabelChinese("2023-13").has_value());
  EXPECT_FALSE(PeriodLabelChinese("").has_value());
}

TEST(PeriodWordingTest, TheNextYearIsTheYearAfterThePeriodsLastDay) {
  EXPECT_EQ(PeriodNextYear("2023"), 2024);
  EXPECT_EQ(PeriodNextYear("2023-H1"), 2024);
  EXPECT_EQ(PeriodNextYear("2023-Q4"), 2024);
  EXPECT_EQ(PeriodNextYear("2022-11..2023-10"), 2024);
  EXPECT_EQ(PeriodNextYear("2022-12"), 2023);
  EXPECT_FALSE(PeriodNextYear("nope").has_value());
}

const v1::Value* Field(const v1::ValueMap& m, const std::string& key) {
  auto it = m.fields().find(key);
  return it == m.fields().end() ? nullptr : &it->second;
}

TEST(ReportContextTest, PeriodWordsAndRowsAreInTheContext) {
  ReportContextInput in;
  in.org.set_display_name("某市人民政府办公室");
  in.figures.set_period("2023-Q3");
  in.figures.set_last_day("2023-09-30");
  auto* granted = in.figures.add_values();
  granted->set_key("granted");
  granted->set_unit("件");
  granted->set_kind(records::v1::VALUE_KIND_INTEGER);
  granted->set_value(5);
  granted->set_breakdown("applicant_type");
  for (const auto& [label, n] : {std::pair{"自然人", 4}, std::pair{"商业企业", 0}}) {
    auto* row = granted->add_rows();
    row->set_dimension_value(label);
    row->set_value(n);
  }
  auto* unstated = granted->add_rows();
  unstated->set_dimension_value("科研机构");
  unstated->set_missing(true);
  auto* plain = in.figures.add_values();
  plain->set_key("plain");
  plain->set_value(2);

  v1::ValueMap ctx = BuildReportContext(in);
  const v1::ValueMap& period = Field(ctx, "period")->map();
  EXPECT_EQ(Field(period, "label_cn")->text(), "2023年第三季度");
  EXPECT_EQ(Field(period, "next_year")->quantity().value(), 2024);
  const v1::ValueMap& ind = Field(ctx, "ind")->map();
  EXPECT_EQ(Field(ind, "granted")->quantity().value(), 5);
  ASSERT_NE(Field(ind, RowsKey("granted")), nullptr);
  const auto& rows = Field(ind, RowsKey("granted"))->list().items();
  ASSERT_EQ(rows.size(), 3);
  EXPECT_EQ(Field(rows[0].map(), "label")->text(), "自然人");
  EXPECT_EQ(Field(rows[0].map(), "n")->quantity().value(), 4);
  EXPECT_EQ(Field(rows[0].map(), "n")->quantity().unit(), "件");
  // Zero is a value; a row without a figure has none.
  EXPECT_EQ(Field(rows[1].map(), "n")->quantity().value(), 0);
  EXPECT_TRUE(rows[1].map().fields().at("n").has_quantity());
  EXPECT_EQ(Field(rows[2].map(), "n"), nullptr);
  EXPECT_EQ(Field(rows[2].map(), "label")->text(), "科研机构");
  // An indicator without a breakdown has no rows.
  EXPECT_EQ(Field(ind, RowsKey("plain")), nullptr);
}

TEST(ReportContextTest, MoneyRowsAreMoney) {
  ReportContextInput in;
  in.figures.set_period("2023");
  auto* fees = in.figures.add_values();
  fees->set_key("fees");
  fees->set_unit("万元");
  fees->set_kind(records::v1::VALUE_KIND_MONEY_FEN);
  fees->set_precision(2);
  fees->set_value(1234500);
  fees->set_breakdown("channel");
  auto* row = fees->add_rows();
  row->set_dimension_value("网上");
  row->set_value(1000000);
  v1::ValueMap ctx = BuildReportContext(in);
  const auto& rows = Field(Field(ctx, "ind")->map(), RowsKey("fees"))->list().items();
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(Field(rows[0].map(), "n")->money().fen(), 1000000);
  EXPECT_EQ(Field(rows[0].map(), "n")->money().unit(), "万元");
}

TEST(ReportContextTest, ExtraNamesListEveryBrokenDownIndicator) {
  records::v1::Profile p;
  auto* a = p.add_indicators();
  a->set_key("granted");
  a->set_unit("件");
  a->set_breakdown("applicant_type");
  auto* b = p.add_indicators();
  b->set_key("talks");
  b->set_unit("次");
  auto* c = p.add_indicators();
  c->set_key("fees");
  c->set_unit("万元");
  c->set_breakdown("channel");
  std::vector<std::pair<std::string, ContextKind>> want = {
      {"period.label_cn", ContextKind::kText},
      {"period.next_year", ContextKind::kNumber},
      {"ind.granted.rows", ContextKind::kList},
      {"ind.granted.rows.label", ContextKind::kText},
      {"ind.granted.rows.n", ContextKind::kQuantity},
      {"ind.fees.rows", ContextKind::kList},
      {"ind.fees.rows.label", ContextKind::kText},
      {"ind.fees.rows.n", ContextKind::kMoney},
  };
  EXPECT_EQ(ExtraContextNames(p), want);
}

}  // namespace
}  // namespace govreport::templates
