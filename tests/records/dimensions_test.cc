// Dimensions on records against a real redis-server: what a profile may
// declare and use, what a record must carry, filtered measures and
// breakdowns (rows in order, zeros, values nobody declared), amendments and
// voids keeping every cell exact, and provenance per cell.
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "records/core.h"
#include "test_redis.h"

namespace govreport::records {
namespace {

// Requests with an applicant type and an outcome (both listed), a channel
// (any value), and a fee on some; a type without dimensions beside it.
constexpr char kProfile[] = R"json({
  "id": "dims",
  "activity_types": [
    {"key": "request", "label": "申请",
     "optional_quantities": ["fee_fen", "pages"],
     "dimensions": [
       {"key": "applicant_type", "values": ["自然人", "商业企业", "科研机构"], "required": true},
       {"key": "outcome", "values": ["予以公开", "部分公开", "撤回"], "required": true},
       {"key": "channel"}
     ]},
    {"key": "meeting", "label": "会议"}
  ],
  "indicators": [
    {"key": "requests", "unit": "件", "breakdown": "applicant_type",
     "measure": {"kind": "COUNT", "activity_types": ["request"]}},
    {"key": "withdrawn", "unit": "件", "breakdown": "applicant_type",
     "measure": {"kind": "COUNT", "activity_types": ["request"],
                 "filter": [{"dimension": "outcome", "values": ["撤回"]}]}},
    {"key": "granted_any", "unit": "件",
     "measure": {"kind": "COUNT", "activity_types": ["request"],
                 "filter": [{"dimension": "outcome", "values": ["予以公开", "部分公开"]}]}},
    {"key": "by_channel", "unit": "件", "breakdown": "channel",
     "measure": {"kind": "COUNT", "activity_types": ["request"],
                 "filter": [{"dimension": "outcome", "values": ["予以公开"]}]}},
    {"key": "pages", "unit": "页", "breakdown": "outcome",
     "measure": {"kind": "SUM", "activity_types": ["request"], "quantity": "pages",
                 "filter": [{"dimension": "applicant_type", "values": ["自然人"]}]}},
    {"key": "meetings", "unit": "次", "empty_is_zero": true,
     "measure": {"kind": "COUNT", "activity_types": ["meeting"]}},
    {"key": "withdrawn_share", "unit": "%", "precision": 1,
     "measure": {"kind": "RATIO", "numerator": "withdrawn", "denominator": "requests"}}
  ]
})json";

v1::Profile Parse(const std::string& json) {
  v1::Profile p;
  absl::Status st = ParseHumanWritten(json, FileSyntax::kJson, &p);
  EXPECT_TRUE(st.ok()) << st;
  return p;
}

std::string FieldOf(const absl::Status& st) {
  errors::Details d = errors::DetailsOf(st);
  return d.fields.empty() ? "" : d.fields[0].field;
}

class DimensionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    client_ = std::make_unique<redis::Client>(server_.options());
    RecordsOptions o;
    o.profile_cache_ttl = absl::ZeroDuration();
    records_ = std::make_unique<RecordsCore>(client_.get(), o);
    v1::Org org;
    org.set_display_name("某市人民政府办公室");
    ASSERT_TRUE(records_->CreateOrg("gb", org, "").ok());
    auto loaded = records_->LoadProfile("gb", Parse(kProfile), "");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
  }

  static v1::ActivityRecord Request(const std::string& date, const std::string& applicant,
                                    const std::string& outcome, const std::string& channel = "") {
    v1::ActivityRecord r;
    r.set_type("request");
    r.set_occurred_on(date);
    r.set_title("政府信息公开申请");
    (*r.mutable_dimensions())["applicant_type"] = applicant;
    (*r.mutable_dimensions())["outcome"] = outcome;
    if (!channel.empty()) (*r.mutable_dimensions())["channel"] = channel;
    return r;
  }

  v1::ActivityRecord Create(const v1::ActivityRecord& r) {
    auto out = records_->CreateActivity("gb", "u", r, "");
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : v1::ActivityRecord();
  }

  v1::IndicatorValue Value(const std::string& key, const std::string& period = "2023") {
    auto resp = records_->GetIndicatorValues("gb", period);
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (resp.ok()) {
      for (const auto& v : resp->values()) {
        if (v.key() == key) return v;
      }
    }
    ADD_FAILURE() << "no indicator " << key;
    return {};
  }

  // "value:records" per row, in order.
  static std::vector<std::string> Rows(const v1::IndicatorValue& v) {
    std::vector<std::string> out;
    for (const auto& r : v.rows()) {
      out.push_back(absl::StrCat(r.dimension_value(), "=", r.value(), ":", r.record_count()));
    }
    return out;
  }

  std::set<std::string> Provenance(const std::string& key, const std::string& value) {
    auto prov = records_->GetIndicatorProvenance("gb", key, "2023", 1000, "", value);
    EXPECT_TRUE(prov.ok()) << prov.status();
    std::set<std::string> ids;
    if (!prov.ok()) return ids;
    EXPECT_EQ(prov->total_records(), prov->records_size());
    for (const auto& r : prov->records()) ids.insert(r.name());
    return ids;
  }

  testing::TestRedis server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<RecordsCore> records_;
};

TEST_F(DimensionsTest, ARecordsDimensionsAreCheckedAgainstItsTypeAndNothingIsWritten) {
  struct Case {
    std::map<std::string, std::string> dims;
    std::string field;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{{"applicant_type", "自然人"}}, R"(activity.dimensions["outcome"])", "DIMENSION_REQUIRED"},
      {{{"applicant_type", "自然人"}, {"outcome", "驳回"}},
       R"(activity.dimensions["outcome"])",
       "DIMENSION_VALUE_NOT_ALLOWED"},
      {{{"applicant_type", "自然人"}, {"outcome", "撤回"}, {"colour", "红"}},
       R"(activity.dimensions["colour"])",
       "UNKNOWN_DIMENSION"},
      {{{"applicant_type", "自然人"}, {"outcome", "撤回"}, {"channel", "网|上"}},
       R"(activity.dimensions["channel"])",
       "INVALID_DIMENSION_VALUE"},
      {{{"applicant_type", "自然人"}, {"outcome", "撤回"}, {"channel", ""}},
       R"(activity.dimensions["channel"])",
       "INVALID_DIMENSION_VALUE"},
  };
  for (const auto& c : cases) {
    v1::ActivityRecord r = Request("2023-03-01", "自然人", "撤回");
    r.clear_dimensions();
    for (const auto& [k, v] : c.dims) (*r.mutable_dimensions())[k] = v;
    auto out = records_->CreateActivity("gb", "u", r, "");
    ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(FieldOf(out.status()), c.field);
    EXPECT_EQ(errors::DetailsOf(out.status()).reason, c.reason) << out.status();
    EXPECT_TRUE(absl::StrContains(out.status().message(), c.field)) << out.status();
  }
  // A type without dimensions takes none.
  v1::ActivityRecord m;
  m.set_type("meeting");
  m.set_occurred_on("2023-03-01");
  (*m.mutable_dimensions())["outcome"] = "撤回";
  EXPECT_EQ(FieldOf(records_->CreateActivity("gb", "u", m, "").status()),
            R"(activity.dimensions["outcome"])");
  EXPECT_TRUE(Value("requests").missing());
  EXPECT_EQ(records_->GetIndicatorValues("gb", "2023")->data_version(), 0);
}

TEST_F(DimensionsTest, FiltersAndBreakdownsCountWhatTheyName) {
  Create(Request("2023-01-05", "自然人", "撤回", "网上"));
  Create(Request("2023-02-05", "自然人", "予以公开", "信函"));
  Create(Request("2023-07-05", "科研机构", "予以公开", "网上"));
  Create(Request("2023-11-05", "自然人", "部分公开"));
  Create(Request("2022-12-31", "自然人", "撤回"));  // Another year.

  v1::IndicatorValue requests = Value("requests");
  EXPECT_EQ(requests.value(), 4);
  EXPECT_EQ(requests.breakdown(), "applicant_type");
  // Declared order; a declared value without records is 0.
  EXPECT_EQ(Rows(requests),
            (std::vector<std::string>{"自然人=3:3", "商业企业=0:0", "科研机构=1:1"}));
  EXPECT_EQ(requests.rows(1).display(), "0");
  EXPECT_FALSE(requests.rows(1).missing());

  v1::IndicatorValue withdrawn = Value("withdrawn");
  EXPECT_EQ(withdrawn.value(), 1);
  EXPECT_EQ(Rows(withdrawn),
            (std::vector<std::string>{"自然人=1:1", "商业企业=0:0", "科研机构=0:0"}));
  // Several values of one condition add up.
  EXPECT_EQ(Value("granted_any").value(), 3);
  // A dimension without listed values: the values present, in byte order;
  // a record without the dimension counts in the total only.
  v1::IndicatorValue by_channel = Value("by_channel");
  EXPECT_EQ(by_channel.value(), 2);
  EXPECT_EQ(Rows(by_channel), (std::vector<std::string>{"信函=1:1", "网上=1:1"}));
  // The half year and the quarter read their own buckets.
  EXPECT_EQ(Rows(Value("requests", "2023-H1")),
            (std::vector<std::string>{"自然人=2:2", "商业企业=0:0", "科研机构=0:0"}));
  EXPECT_EQ(Rows(Value("requests", "2022-11..2023-10")),
            (std::vector<std::string>{"自然人=3:3", "商业企业=0:0", "科研机构=1:1"}));
  // 1 of 4, 25.0 %.
  EXPECT_EQ(Value("withdrawn_share").display(), "25");
  EXPECT_EQ(Value("withdrawn_share").record_count(), 4);
}

TEST_F(DimensionsTest, AFilteredSumBrokenDownReadsOneFieldPerCell) {
  auto with_pages = [](v1::ActivityRecord r, int64_t pages) {
    (*r.mutable_quantities())["pages"] = pages;
    return r;
  };
  Create(with_pages(Request("2023-01-05", "自然人", "予以公开"), 10));
  Create(with_pages(Request("2023-01-06", "自然人", "予以公开"), 5));
  Create(with_pages(Request("2023-01-07", "科研机构", "予以公开"), 100));  // Filtered out.
  Create(Request("2023-01-08", "自然人", "部分公开"));                     // No pages stated.
  v1::IndicatorValue pages = Value("pages");
  EXPECT_EQ(pages.value(), 15);
  ASSERT_EQ(pages.rows_size(), 3);
  EXPECT_EQ(Rows(pages), (std::vector<std::string>{"予以公开=15:2", "部分公开=0:1", "撤回=0:0"}));
  // A row whose records state no pages is missing, not 0; one without
  // records is 0.
  EXPECT_TRUE(pages.rows(1).missing());
  EXPECT_FALSE(pages.rows(2).missing());
}

TEST_F(DimensionsTest, EmptyIsZeroMakesNoRecordARealZero) {
  v1::IndicatorValue meetings = Value("meetings");
  EXPECT_FALSE(meetings.missing());
  EXPECT_EQ(meetings.value(), 0);
  EXPECT_EQ(meetings.display(), "0");
  EXPECT_TRUE(Value("requests").missing());
}

TEST_F(DimensionsTest, ProvenanceListsExactlyTheRecordsBehindOneCell) {
  std::string a = Create(Request("2023-01-05", "自然人", "撤回", "网上")).name();
  std::string b = Create(Request("2023-02-05", "自然人", "予以公开", "网上")).name();
  std::string c = Create(Request("2023-07-05", "科研机构", "撤回")).name();
  EXPECT_EQ(Provenance("withdrawn", "自然人"), (std::set<std::string>{a}));
  EXPECT_EQ(Provenance("withdrawn", "科研机构"), (std::set<std::string>{c}));
  EXPECT_EQ(Provenance("withdrawn", "商业企业"), (std::set<std::string>{}));
  EXPECT_EQ(Provenance("withdrawn", ""), (std::set<std::string>{a, c}));
  EXPECT_EQ(Provenance("requests", "自然人"), (std::set<std::string>{a, b}));
  EXPECT_EQ(Provenance("by_channel", "网上"), (std::set<std::string>{b}));
  // The value of the response is the whole indicator's, with its rows.
  auto prov = records_->GetIndicatorProvenance("gb", "withdrawn", "2023", 0, "", "自然人");
  ASSERT_TRUE(prov.ok());
  EXPECT_EQ(prov->value().rows_size(), 3);
  for (const auto& [key, value, field] : {std::tuple{"granted_any", "自然人", "breakdown_value"},
                                          std::tuple{"withdrawn", "法人", "breakdown_value"}}) {
    auto bad = records_->GetIndicatorProvenance("gb", key, "2023", 0, "", value);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(FieldOf(bad.status()), field) << bad.status();
  }
  // A token is bound to its cell.
  auto first = records_->GetIndicatorProvenance("gb", "requests", "2023", 1, "", "自然人");
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token().empty());
  EXPECT_EQ(records_
                ->GetIndicatorProvenance("gb", "requests", "2023", 1, first->next_page_token(),
                                         "科研机构")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The cells recomputed from the records as they stand.
struct Expected {
  std::map<std::string, int64_t> requests;   // applicant -> count
  std::map<std::string, int64_t> withdrawn;  // applicant -> count
  std::map<std::string, int64_t> channel;    // channel -> granted count
  std::map<std::string, std::set<std::string>> withdrawn_ids;
};

TEST_F(DimensionsTest, AmendmentsAndVoidsKeepEveryCellExact) {
  const std::vector<std::string> applicants = {"自然人", "商业企业", "科研机构"};
  const std::vector<std::string> outcomes = {"予以公开", "部分公开", "撤回"};
  const std::vector<std::string> channels = {"", "网上", "信函", "当面"};
  std::mt19937 rng(13);
  auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  std::map<std::string, v1::ActivityRecord> live;  // name -> record as it stands
  for (int step = 0; step < 150; ++step) {
    int op = live.empty() ? 0 : static_cast<int>(rng() % 4);
    if (op <= 1) {
      v1::ActivityRecord r =
          Request("2023-01-01", pick(applicants), pick(outcomes), pick(channels));
      r.set_occurred_on(absl::StrCat("2023-0", 1 + rng() % 9, "-1", rng() % 9));
      v1::ActivityRecord stored = Create(r);
      live[stored.name()] = stored;
      continue;
    }
    auto it = live.begin();
    std::advance(it, rng() % live.size());
    if (op == 2) {
      v1::AmendActivityRequest amend;
      *amend.mutable_activity() = it->second;
      (*amend.mutable_activity()->mutable_dimensions())["applicant_type"] = pick(applicants);
      (*amend.mutable_activity()->mutable_dimensions())["outcome"] = pick(outcomes);
      std::string ch = pick(channels);
      if (ch.empty()) {
        amend.mutable_activity()->mutable_dimensions()->erase("channel");
      } else {
        (*amend.mutable_activity()->mutable_dimensions())["channel"] = ch;
      }
      auto out = records_->AmendActivity("gb", "u", amend);
      ASSERT_TRUE(out.ok()) << out.status();
      it->second = *out;
    } else {
      v1::VoidActivityRequest v;
      v.set_name(it->first);
      v.set_reason("重复登记");
      ASSERT_TRUE(records_->VoidActivity("gb", "u", v).ok());
      live.erase(it);
    }
  }
  Expected want;
  for (const auto& a : applicants) {
    want.requests[a] = 0;
    want.withdrawn[a] = 0;
  }
  for (const auto& [name, r] : live) {
    const auto& d = r.dimensions();
    ++want.requests[d.at("applicant_type")];
    if (d.at("outcome") == "撤回") {
      ++want.withdrawn[d.at("applicant_type")];
      want.withdrawn_ids[d.at("applicant_type")].insert(name);
    }
    if (d.at("outcome") == "予以公开" && d.contains("channel")) ++want.channel[d.at("channel")];
  }
  auto rows_of = [](const v1::IndicatorValue& v) {
    std::map<std::string, int64_t> out;
    for (const auto& r : v.rows()) out[r.dimension_value()] = r.value();
    return out;
  };
  EXPECT_EQ(rows_of(Value("requests")), want.requests);
  EXPECT_EQ(rows_of(Value("withdrawn")), want.withdrawn);
  EXPECT_EQ(rows_of(Value("by_channel")), want.channel);
  EXPECT_EQ(Value("requests").value(), static_cast<int64_t>(live.size()));
  for (const auto& a : applicants) EXPECT_EQ(Provenance("withdrawn", a), want.withdrawn_ids[a]);
}

TEST_F(DimensionsTest, AProfileThatMisusesDimensionsIsRefusedWholeNamingTheField) {
  struct Case {
    std::string indicator;  // JSON of one more indicator
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"({"key": "x", "unit": "件", "breakdown": "colour",
           "measure": {"kind": "COUNT", "activity_types": ["request"]}})",
       "indicators[7] (x).breakdown: activity type 'request' has no dimension 'colour'"},
      {R"({"key": "x", "unit": "件",
           "measure": {"kind": "COUNT", "activity_types": ["request"],
                       "filter": [{"dimension": "outcome", "values": ["驳回"]}]}})",
       "indicators[7] (x).measure.filter[0]: '驳回' is not a value of dimension 'outcome'"},
      {R"({"key": "x", "unit": "件",
           "measure": {"kind": "COUNT", "activity_types": ["request", "meeting"],
                       "filter": [{"dimension": "outcome", "values": ["撤回"]}]}})",
       "indicators[7] (x).measure.filter[0]: activity type 'meeting' has no dimension 'outcome'"},
      {R"({"key": "x", "unit": "人", "breakdown": "outcome",
           "measure": {"kind": "DISTINCT", "activity_types": ["request"]}})",
       "indicators[7] (x).breakdown: only COUNT and SUM measures take a filter or a breakdown"},
      {R"({"key": "x", "unit": "%", "breakdown": "outcome",
           "measure": {"kind": "RATIO", "numerator": "requests", "denominator": "requests"}})",
       "indicators[7] (x).breakdown: only COUNT and SUM"},
      {R"({"key": "x", "unit": "件", "breakdown": "outcome",
           "measure": {"kind": "COUNT", "activity_types": ["request"],
                       "filter": [{"dimension": "outcome", "values": ["撤回"]}]}})",
       "indicators[7] (x).breakdown: 'outcome' is also filtered"},
      {R"({"key": "x", "unit": "件",
           "measure": {"kind": "COUNT", "activity_types": ["request"],
                       "filter": [{"dimension": "outcome", "values": []}]}})",
       "indicators[7] (x).measure.filter[0].values: 1..32 values"},
  };
  for (const auto& c : cases) {
    std::string json = kProfile;
    json.insert(json.rfind(']'), absl::StrCat(",", c.indicator));
    v1::Profile p = Parse(json);
    auto out = records_->LoadProfile("gb", p, "");
    ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.says;
    EXPECT_TRUE(absl::StrContains(out.status().message(), c.says)) << out.status();
  }
  // Too many dimensions on a type, and a value that would break a field.
  v1::Profile p = Parse(kProfile);
  auto* t = p.mutable_activity_types(0);
  for (const char* k : {"a", "b"}) t->add_dimensions()->set_key(k);
  t->mutable_dimensions(0)->add_values("撤|回");
  auto out = records_->LoadProfile("gb", p, "");
  ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(out.status().message(), "activity_types[0].dimensions: 5, at most 4"))
      << out.status();
  EXPECT_TRUE(
      absl::StrContains(out.status().message(), "activity_types[0].dimensions[0].values: '撤|回'"))
      << out.status();
  // Nothing was installed: the first profile stands.
  auto stored = records_->GetProfile("gb");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)->proto().indicators_size(), 7);
  EXPECT_EQ((*stored)->proto().activity_types(0).dimensions_size(), 3);
}

std::string ReadSource(const std::string& path) {
  std::ifstream in(absl::StrCat(GOVREPORT_SOURCE_DIR, "/", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr char kDir[] = "deploy/profiles/government-information-disclosure/";

// The shipped table genre: its profile loads, its sample year imports, and
// the figures keep the national format's check (本列数据的勾稽关系: 第一项加
// 第二项之和，等于第三项加第四项之和) in every applicant column.
TEST_F(DimensionsTest, TheShippedDisclosureProfileLoadsAndItsSampleYearAddsUp) {
  v1::Profile profile = Parse(ReadSource(absl::StrCat(kDir, "profile.json")));
  v1::Org org;
  org.set_display_name("某市人民政府办公室");
  ASSERT_TRUE(records_->CreateOrg("zfb", org, "").ok());
  auto loaded = records_->LoadProfile("zfb", profile, "");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->indicators(), profile.indicators_size());
  std::istringstream lines(ReadSource(absl::StrCat(kDir, "sample-2023.jsonl")));
  std::string line;
  int requests = 0, cases = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    v1::ActivityRecord r;
    ASSERT_TRUE(ParseHumanWritten(line, FileSyntax::kJson, &r).ok()) << line;
    if (r.type() == "disclosure_request") ++requests;
    if (r.type() == "disclosure_case") ++cases;
    auto out = records_->CreateActivity("zfb", "sample", r, "");
    ASSERT_TRUE(out.ok()) << out.status() << "\n" << line;
  }
  ASSERT_GT(requests, 100);
  auto figures = records_->GetIndicatorValues("zfb", "2023");
  ASSERT_TRUE(figures.ok()) << figures.status();
  std::map<std::string, v1::IndicatorValue> by_key;
  for (const auto& v : figures->values()) {
    EXPECT_FALSE(v.missing()) << v.key();
    by_key[v.key()] = v;
  }
  auto column = [&](const std::string& key, int c) { return by_key[key].rows(c).value(); };
  const v1::IndicatorValue& total = by_key["result_total"];
  ASSERT_EQ(total.rows_size(), 6);
  for (int c = 0; c < 6; ++c) {
    EXPECT_EQ(column("apply_new", c) + column("apply_carried", c),
              column("result_total", c) + column("carry_forward", c))
        << total.rows(c).dimension_value();
    int64_t outcomes = 0;
    for (const auto& [key, v] : by_key) {
      if (absl::StartsWith(key, "result_") && key != "result_total") outcomes += v.rows(c).value();
      if (absl::StartsWith(key, "denied_") || absl::StartsWith(key, "unable_") ||
          absl::StartsWith(key, "rejected_")) {
        outcomes += v.rows(c).value();
      }
    }
    EXPECT_EQ(outcomes, column("result_total", c)) << total.rows(c).dimension_value();
  }
  EXPECT_EQ(by_key["apply_new"].value() + by_key["apply_carried"].value(), requests);
  EXPECT_EQ(by_key["review_cases"].value() + by_key["direct_suit_cases"].value() +
                by_key["after_review_suit_cases"].value(),
            cases);
  EXPECT_EQ(by_key["review_cases"].rows_size(), 4);
  EXPECT_EQ(by_key["rules_total"].value(), 37);
  EXPECT_EQ(by_key["procurement_projects"].value(), 7);
}

}  // namespace
}  // namespace govreport::records
