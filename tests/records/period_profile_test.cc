// Period arithmetic, value formatting, profile validation and the shipped
// strict-governance profile.
#include <google/protobuf/util/message_differencer.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "common/enums.h"
#include "gtest/gtest.h"
#include "records/period.h"
#include "records/profile.h"
#include "reportctl/records_helpers.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"

namespace govreport::records {
namespace {

TEST(PeriodTest, ParsesEveryForm) {
  EXPECT_EQ(ParsePeriod("2023")->Buckets(), std::vector<std::string>{"2023"});
  EXPECT_EQ(
      ParsePeriod("2023-H2")->Buckets(),
      (std::vector<std::string>{"2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12"}));
  EXPECT_EQ(ParsePeriod("2023-Q2")->Buckets(),
            (std::vector<std::string>{"2023-04", "2023-05", "2023-06"}));
  EXPECT_EQ(ParsePeriod("2023-05")->Buckets(), std::vector<std::string>{"2023-05"});
  EXPECT_EQ(ParsePeriod("2022-11..2023-12")->Buckets(),
            (std::vector<std::string>{"2022-11", "2022-12", "2023"}));
  EXPECT_EQ(ParsePeriod("2022..2023")->Buckets(), (std::vector<std::string>{"2022", "2023"}));
  EXPECT_EQ(ParsePeriod("2023-Q2..2023-Q3")->Buckets().size(), 6u);
  auto p = ParsePeriod("2024-02");
  EXPECT_EQ(p->FirstDay(), "2024-02-01");
  EXPECT_EQ(p->LastDay(), "2024-02-29");
  EXPECT_EQ(ParsePeriod("2022-11..2023-10")->Months().size(), 12u);
}

TEST(PeriodTest, RejectsNonsenseWithReasons) {
  for (const char* bad : {"", "23", "2023-13", "2023-Q5", "2023-H3", "2023/05", "2023-05..2022-01",
                          "2000..2015", "abcd", "2023-05..", "2023..2024..2025"}) {
    auto p = ParsePeriod(bad);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PeriodTest, Dates) {
  EXPECT_TRUE(ParseDate("2024-02-29").ok());
  EXPECT_FALSE(ParseDate("2023-02-29").ok());
  EXPECT_FALSE(ParseDate("2023-2-1").ok());
  EXPECT_FALSE(ParseDate("yesterday").ok());
  EXPECT_EQ(ParseDate("2023-05-08")->Ordinal(), 20230508);
}

TEST(FormatTest, Units) {
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_INTEGER, "次", 12, 0), "12");
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_MONEY_FEN, "万元", 32000000, 2), "32");
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_MONEY_FEN, "万元", 56700000, 2), "56.7");
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_MONEY_FEN, "万元", 56745000, 2), "56.75");  // Half up.
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_MONEY_FEN, "元", 123456, 2), "1234.56");
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_PERCENT, "%", 975, 1), "97.5");
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_PERCENT, "%", 1000, 1), "100");
  // No floating point anywhere: a sum past 2^53 fen stays exact.
  EXPECT_EQ(FormatValue(v1::VALUE_KIND_MONEY_FEN, "元", 9007199254740993, 2), "90071992547409.93");
}

v1::Profile Tiny() {
  v1::Profile p;
  p.set_id("tiny");
  auto* t = p.add_activity_types();
  t->set_key("talk");
  t->add_required_quantities("participants");
  auto* i = p.add_indicators();
  i->set_key("talks");
  i->set_unit("次");
  i->mutable_measure()->set_kind(v1::MEASURE_KIND_COUNT);
  i->mutable_measure()->add_activity_types("talk");
  return p;
}

TEST(ProfileTest, ValidatesEveryProblemAtOnce) {
  EXPECT_TRUE(ValidateProfile(Tiny()).ok());
  v1::Profile p = Tiny();
  auto* bad = p.add_indicators();
  bad->set_key("Bad Key");
  auto* sum = p.add_indicators();
  sum->set_key("sum_x");
  sum->set_unit("人次");
  sum->mutable_measure()->set_kind(v1::MEASURE_KIND_SUM);
  sum->mutable_measure()->add_activity_types("talk");
  sum->mutable_measure()->set_quantity("nonexistent");
  auto* ratio = p.add_indicators();
  ratio->set_key("r");
  ratio->set_unit("%");
  ratio->mutable_measure()->set_kind(v1::MEASURE_KIND_RATIO);
  ratio->mutable_measure()->set_numerator("talks");
  ratio->mutable_measure()->set_denominator("missing_one");
  auto st = ValidateProfile(p);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  std::string msg(st.message());
  EXPECT_NE(msg.find("Bad Key"), std::string::npos);
  EXPECT_NE(msg.find("has no quantity 'nonexistent'"), std::string::npos);
  EXPECT_NE(msg.find("no indicator 'missing_one'"), std::string::npos);
}

TEST(ProfileTest, EvaluateMissingAndRatio) {
  v1::Profile p = Tiny();
  for (const char* key : {"done", "all"}) {
    auto* i = p.add_indicators();
    i->set_key(key);
    i->set_unit("名");
    i->mutable_measure()->set_kind(v1::MEASURE_KIND_SUM);
    i->mutable_measure()->add_activity_types("talk");
    i->mutable_measure()->set_quantity("participants");
  }
  auto* r = p.add_indicators();
  r->set_key("rate");
  r->set_unit("%");
  r->set_precision(1);
  r->mutable_measure()->set_kind(v1::MEASURE_KIND_RATIO);
  r->mutable_measure()->set_numerator("talks");
  r->mutable_measure()->set_denominator("all");
  auto c = CompiledProfile::Compile(p);
  ASSERT_TRUE(c.ok()) << c.status();
  Period year = *ParsePeriod("2023");
  // Per indicator: count; count, sum, records stating it (twice).
  auto f = (*c)->Evaluate(year, 7, {"3", "3", "40", "3", "3", "30", "3"}, {}, {});
  EXPECT_EQ(f.values[0].value(), 3);
  EXPECT_EQ(f.values[1].value(), 40);
  EXPECT_EQ(f.values[3].display(), "10");  // 3 / 30 = 10.0 %.
  // The ratio's terms count the same three talks: three records, not six.
  EXPECT_EQ(f.values[3].record_count(), 3);
  auto empty = (*c)->Evaluate(year, 7, {"0", "0", "0", "0", "0", "0", "0"}, {}, {});
  EXPECT_TRUE(empty.values[0].missing());
  EXPECT_TRUE(empty.values[3].missing());
}

using govreport::testing::ShippedProfile;

TEST(ShippedProfileTest, IsValidAndCoversTheSeedUnits) {
  v1::Profile p = ShippedProfile();
  ASSERT_TRUE(ValidateProfile(p).ok()) << ValidateProfile(p);
  std::set<std::string> units;
  for (const auto& i : p.indicators()) units.insert(i.unit());
  for (const char* u : {"次", "人次", "份", "名", "件", "条", "篇", "%", "万元", "家"}) {
    EXPECT_TRUE(units.count(u)) << u;
  }
}

TEST(SampleTest, DeterministicAndValid) {
  v1::Profile p = ShippedProfile();
  SampleYear a = GenerateSampleYear(p, 2023), b = GenerateSampleYear(p, 2023);
  ASSERT_EQ(a.records.size(), b.records.size());
  EXPECT_GT(a.records.size(), 200u);
  for (size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a.records[i], b.records[i]));
  }
  EXPECT_FALSE(a.amends.empty());
  EXPECT_FALSE(a.voids.empty());
  std::set<std::string> types;
  for (const auto& r : a.records) types.insert(r.type());
  EXPECT_EQ(static_cast<int>(types.size()), p.activity_types_size());
}

// A profile file as people write it: the shipped one and the docs use the
// short enum names ("kind": "COUNT"), which keep loading next to the full
// AIP-126 names (MEASURE_KIND_COUNT).
std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ProfileFileTest, ShippedProfileWithShortEnumNamesLoads) {
  auto p = cli::ParseProfileFile(std::string(GOVREPORT_SOURCE_DIR) +
                                 "/deploy/profiles/strict-governance/profile.json");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(ValidateProfile(*p).ok());
  std::set<v1::MeasureKind> kinds;
  for (const auto& i : p->indicators()) kinds.insert(i.measure().kind());
  EXPECT_TRUE(kinds.count(v1::MEASURE_KIND_COUNT));
  EXPECT_TRUE(kinds.count(v1::MEASURE_KIND_SUM));
  EXPECT_TRUE(kinds.count(v1::MEASURE_KIND_RATIO));
  EXPECT_FALSE(kinds.count(v1::MEASURE_KIND_UNSPECIFIED));
}

TEST(ProfileFileTest, ShortAndFullNamesGiveTheSameProfile) {
  const std::string short_json = R"({"indicators": [
      {"key": "a", "measure": {"kind": "COUNT"}}, {"key": "b", "measure": {"kind": "SUM"}}]})";
  const std::string full_json = R"({"indicators": [
      {"key": "a", "measure": {"kind": "MEASURE_KIND_COUNT"}},
      {"key": "b", "measure": {"kind": "MEASURE_KIND_SUM"}}]})";
  auto a = cli::ParseProfileFile(WriteTemp("short.json", short_json));
  auto b = cli::ParseProfileFile(WriteTemp("full.json", full_json));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->indicators(0).measure().kind(), v1::MEASURE_KIND_COUNT);
  EXPECT_EQ(a->indicators(1).measure().kind(), v1::MEASURE_KIND_SUM);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*a, *b));
  // Protobuf text format takes the same names.
  auto c = cli::ParseProfileFile(
      WriteTemp("short.textproto",
                "indicators { key: \"a\" measure { kind: COUNT } }\n"
                "indicators { key: \"b\" measure { kind: MEASURE_KIND_SUM } }\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*a, *c));
}

TEST(ProfileFileTest, UnknownEnumNameIsRefusedNamingTheFieldAndTheValue) {
  auto p = cli::ParseProfileFile(
      WriteTemp("bad.json", R"({"indicators": [{"key": "a", "measure": {"kind": "CONUT"}}]})"));
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  std::string m(p.status().message());
  EXPECT_TRUE(absl::StrContains(m, "bad.json")) << m;
  EXPECT_TRUE(absl::StrContains(m, "kind")) << m;
  EXPECT_TRUE(absl::StrContains(m, "CONUT")) << m;
  EXPECT_TRUE(absl::StrContains(m, "COUNT or MEASURE_KIND_COUNT")) << m;
  p = cli::ParseProfileFile(
      WriteTemp("bad.textproto", "indicators { key: \"a\" measure { kind: CONUT } }\n"));
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  m = std::string(p.status().message());
  EXPECT_TRUE(absl::StrContains(m, "line 1")) << m;
  EXPECT_TRUE(absl::StrContains(m, "CONUT")) << m;
}

}  // namespace
}  // namespace govreport::records
