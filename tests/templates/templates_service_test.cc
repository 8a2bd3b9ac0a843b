// The templates service's logic against a real redis-server, with the real
// records logic behind the figures: revisions, validation, the shipped
// strict-governance template, inheritance, formats and escaping; and its
// gRPC edge under the render attacks of issue 9 (budgets, deadlines,
// cancellation, request size, concurrent renders).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "markup_checks.h"
#include "records/core.h"
#include "redis_stats.h"
#include "report_context/report_context.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"
#include "templates/service/core.h"
#include "templates/service/domain.h"
#include "templates/service/grpc_service.h"
#include "templates/service/store.h"
#include "test_redis.h"

namespace govreport::templates {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Source(const std::string& rel) {
  return ReadFile(std::string(GOVREPORT_SOURCE_DIR) + "/" + rel);
}

// The records logic itself, without a network.
class LocalFigures final : public FiguresSource {
 public:
  explicit LocalFigures(records::RecordsCore* r) : r_(r) {}
  absl::StatusOr<records::v1::Profile> GetProfile(const std::string& org,
                                                  const std::string&) override {
    auto p = r_->GetProfile(org);
    if (!p.ok()) return p.status();
    return (*p)->proto();
  }
  absl::StatusOr<records::v1::Org> GetOrg(const std::string& org, const std::string&) override {
    return r_->GetOrg(org);
  }
  absl::StatusOr<records::v1::GetIndicatorValuesResponse> GetFigures(const std::string& org,
                                                                     const std::string& period,
                                                                     const std::string&) override {
    return r_->GetIndicatorValues(org, period);
  }

 private:
  records::RecordsCore* r_;
};

class TemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    client_ = std::make_unique<redis::Client>(server_.options());
    records_ = std::make_unique<records::RecordsCore>(client_.get());
    figures_ = std::make_unique<LocalFigures>(records_.get());
    store_ = std::make_unique<Store>(client_.get());
    templates_ = std::make_unique<TemplatesCore>(store_.get(), figures_.get());
    profile_ = govreport::testing::ShippedProfile();
    records::v1::Org org;
    org.set_display_name("中共重庆市科学技术局党组");
    org.set_short_name("市科技局");
    org.set_city("重庆");
    org.set_district("渝北");
    (*org.mutable_facts())["purged_influence"] = "孙政才";
    (*org.mutable_facts())["case_lessons"] = "蔡家福";
    (*org.mutable_facts())["municipal_inspection_target"] = "市科技局";
    ASSERT_TRUE(records_->CreateOrg("kjj", org, "").ok());
    ASSERT_TRUE(records_->LoadProfile("kjj", profile_, "").ok());
    base_ = Source("deploy/profiles/strict-governance/base.mustache");
  }

  testing::TestRedis server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<records::RecordsCore> records_;
  std::unique_ptr<LocalFigures> figures_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TemplatesCore> templates_;
  records::v1::Profile profile_;
  std::string base_;
};

// AIP-155: a repeat returns the revision the first call wrote; the id with
// another method, template, caller or text is INVALID_ARGUMENT naming it.
TEST_F(TemplatesTest, ARepeatedRequestIdReturnsTheFirstRevisionAndNothingElse) {
  ASSERT_TRUE(templates_->Create("kjj", "memo", "{{org.name}}", "", "wang", "", "c1").ok());
  auto up = templates_->Update({"kjj", "memo", 0}, "{{org.short_name}}", "", 0, "wang", "", "u1");
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(templates_->Update({"kjj", "memo", 0}, "{{org.city}}", "", 0, "wang", "", "").ok());
  // The same update again: revision 2 as it was written, not a fourth.
  auto again =
      templates_->Update({"kjj", "memo", 0}, "{{org.short_name}}", "", 0, "wang", "", "u1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revision(), 2);
  EXPECT_EQ(again->text(), "{{org.short_name}}");
  auto reused = [](const absl::StatusOr<v1::Template>& r, const std::string& id) {
    return r.status().code() == absl::StatusCode::kInvalidArgument &&
           absl::StrContains(r.status().message(), absl::StrCat("'", id, "'"));
  };
  // Other content, other method, other template, other caller.
  EXPECT_TRUE(reused(
      templates_->Update({"kjj", "memo", 0}, "{{org.district}}", "", 0, "wang", "", "u1"), "u1"));
  EXPECT_TRUE(
      reused(templates_->Create("kjj", "memo2", "{{org.name}}", "", "wang", "", "u1"), "u1"));
  ASSERT_TRUE(templates_->Create("kjj", "memo3", "{{org.name}}", "", "wang", "", "").ok());
  EXPECT_TRUE(
      reused(templates_->Update({"kjj", "memo3", 0}, "{{org.short_name}}", "", 0, "wang", "", "u1"),
             "u1"));
  EXPECT_TRUE(reused(
      templates_->Update({"kjj", "memo", 0}, "{{org.short_name}}", "", 0, "li", "", "u1"), "u1"));
  EXPECT_EQ(templates_->Revisions({"kjj", "memo", 0})->size(), 3u);
  // Paged by revision number: 1 2 | 3, and a token of another template is
  // refused.
  auto page = templates_->ListRevisions({"kjj", "memo", 0}, 2, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->revisions_size(), 2);
  EXPECT_EQ(page->revisions(1).revision(), 2);
  auto rest = templates_->ListRevisions({"kjj", "memo", 0}, 2, page->next_page_token());
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->revisions_size(), 1);
  EXPECT_EQ(rest->revisions(0).revision(), 3);
  EXPECT_TRUE(rest->next_page_token().empty());
  EXPECT_EQ(
      templates_->ListRevisions({"kjj", "memo3", 0}, 2, page->next_page_token()).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(templates_->ListRevisions({"kjj", "memo", 0}, -1, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(templates_->Get({"kjj", "memo3", 0})->revision(), 1);
  EXPECT_EQ(templates_->Create("kjj", "memo4", "x", "", "wang", "", "a b").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TemplatesTest, RevisionsAreImmutableAndAddressable) {
  auto t1 = templates_->Create("kjj", "note", "{{org.name}}", "", "wang", "", "r1");
  ASSERT_TRUE(t1.ok()) << t1.status();
  EXPECT_EQ(t1->revision(), 1);
  auto again = templates_->Create("kjj", "note", "{{org.name}}", "", "wang", "", "r1");
  EXPECT_EQ(again->revision(), 1);  // Replayed, not a second template.
  EXPECT_EQ(templates_->Create("kjj", "note", "x", "", "wang", "", "").status().code(),
            absl::StatusCode::kAlreadyExists);
  auto t2 = templates_->Update({"kjj", "note", 0}, "{{org.short_name}}", "", 1, "wang", "", "");
  ASSERT_TRUE(t2.ok()) << t2.status();
  EXPECT_EQ(t2->revision(), 2);
  EXPECT_EQ(templates_->Update({"kjj", "note", 0}, "x", "", 1, "wang", "", "").status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(templates_->Get({"kjj", "note", 1})->text(), "{{org.name}}");
  EXPECT_EQ(templates_->Get(*ParseTemplateName("orgs/kjj/templates/note"))->revision(), 2);
  EXPECT_EQ(templates_->Get(*ParseTemplateName("orgs/kjj/templates/note@1"))->text(),
            "{{org.name}}");
  EXPECT_EQ(templates_->Revisions({"kjj", "note", 0})->size(), 2u);
  EXPECT_FALSE(ParseTemplateName("orgs/kjj/templates/note@x").ok());
  EXPECT_FALSE(ParseTemplateName("orgs/KJJ/templates/note").ok());
}

TEST_F(TemplatesTest, ValidationNamesLineColumnAndSuggestion) {
  auto problems = templates_->Validate(
      "kjj", "第一行\n开展谈心谈话{{ind.heart_to_heart_talk}}人次\n{{#org.name}}", "");
  ASSERT_TRUE(problems.ok());
  ASSERT_GE(problems->size(), 2u);
  const Problem& p = (*problems)[0];
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.column, 7);
  EXPECT_EQ(p.suggestion, "ind.heart_to_heart_talks");
  // Saving refuses it, with every problem.
  auto st = templates_->Create("kjj", "bad", "{{ind.nope}}{{#x}}", "", "wang", "", "").status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("1:1: unknown name 'ind.nope'"), std::string::npos)
      << st;
}

TEST_F(TemplatesTest, ShippedTemplateIsValidForTheShippedProfile) {
  auto problems = templates_->Validate("kjj", base_, "");
  ASSERT_TRUE(problems.ok());
  for (const auto& p : *problems) ADD_FAILURE() << p.ToString();
}

// Every slot of the seed filled with "*" again reproduces the seed: the
// template's wording equals the seed's everywhere outside the slots.
TEST_F(TemplatesTest, ShippedTemplateIsTheSeedWithSlots) {
  std::string seed_path =
      std::string(GOVREPORT_SOURCE_DIR) + "/../shared/seed/000_4ee805bd7a2c2789.txt";
  std::string seed = ReadFile(seed_path);
  if (seed.empty()) GTEST_SKIP() << "no seed at " << seed_path;
  Value ctx = Value::Map();
  ctx.SetPath("org.name", Value::Text("中共*市科学技术局党组"));
  ctx.SetPath("org.short_name", Value::Text("市科技局"));
  ctx.SetPath("org.city", Value::Text("*"));
  ctx.SetPath("org.district", Value::Text("*"));
  ctx.SetPath("facts.purged_influence", Value::Text("**"));
  ctx.SetPath("facts.case_lessons", Value::Text("*"));
  ctx.SetPath("facts.municipal_inspection_target", Value::Text("*"));
  ctx.SetPath("period.year", Value::Text("2022"));
  ctx.SetPath("issue.date", Value::Text("2023年*月*日"));
  for (const auto& ind : profile_.indicators()) {
    ctx.SetPath(absl::StrCat("ind.", ind.key()), Value::Text("*"));
  }
  // The conditional sentences as the seed has them: nothing happened.
  for (const char* zero : {"ideology_negative_incidents", "online_opinion_incidents",
                           "eight_point_violation_reports"}) {
    ctx.SetPath(absl::StrCat("ind.", zero), Value::Quantity(0, 0, "起"));
  }
  ctx.SetPath("ind.project_info_entries", Value::Map());
  ctx.SetPath("ind.project_info_entries.approx", Value::Text("*"));
  ctx.SetPath("ind.community_funds_raised", Value::Map());
  ctx.SetPath("ind.community_funds_raised.wan", Value::Text("*"));
  // The narrative sections as the seed's drafter wrote them.
  size_t problems = seed.find("二、存在问题\n") + std::string("二、存在问题\n").size();
  size_t next = seed.find("三、下一步打算\n");
  size_t steps = next + std::string("三、下一步打算\n").size();
  size_t sig = seed.find("中共*市科学技术局党组\n2023");
  ctx.SetPath("narrative.problems", Value::Text(seed.substr(problems, next - problems - 1)));
  ctx.SetPath("narrative.next_steps", Value::Text(seed.substr(steps, sig - steps - 1)));
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.text = base_;
  in.context = ctx;
  auto r = templates_->Render(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->content(), seed);
  EXPECT_EQ(r->missing_size(), 0);
}

TEST_F(TemplatesTest, SampleYearFillsEverySlot) {
  records::SampleYear sample = records::GenerateSampleYear(profile_, 2023);
  for (const auto& rec : sample.records)
    ASSERT_TRUE(records_->CreateActivity("kjj", "t", rec, "").ok());
  ReportContextInput input;
  input.org = *records_->GetOrg("kjj");
  input.figures = *records_->GetIndicatorValues("kjj", "2023");
  input.narrative = {{"problems", "一是理论学习成果转化不够到位。"},
                     {"next_steps", "（一）强化理论武装，增强履职尽责能力。深入学习。"}};
  input.issue_date = IssueDate{2024, 1, 8};
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.text = base_;
  in.context = *ToEngineContext(BuildReportContext(input));
  auto r = templates_->Render(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->content().find('*'), std::string::npos) << r->content();
  EXPECT_EQ(r->missing_size(), 0) << r->missing(0);
  EXPECT_NE(r->content().find("2024年1月8日"), std::string::npos);
  EXPECT_NE(r->content().find("2023年市科技局未发生网络舆情事件"), std::string::npos);
  EXPECT_NE(r->content().find("帮助筹集资金5.67万元"), std::string::npos) << r->content();
  EXPECT_NE(r->content().find("录入项目信息1400余条"), std::string::npos);
  EXPECT_NE(r->content().find("均达到100%"), std::string::npos);
}

TEST_F(TemplatesTest, AMissingFigureIsListedNotZero) {
  ReportContextInput input;
  input.org = *records_->GetOrg("kjj");
  input.figures = *records_->GetIndicatorValues("kjj", "2023");  // No records at all.
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.text = "谈心谈话{{ind.heart_to_heart_talks}}人次";
  in.context = *ToEngineContext(BuildReportContext(input));
  auto r = templates_->Render(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->missing_size(), 1);
  EXPECT_EQ(r->missing(0), "ind.heart_to_heart_talks");
}

TEST_F(TemplatesTest, DepartmentOverridesOneBlockOfTheSharedBase) {
  ASSERT_TRUE(
      templates_->Create("", "strict-governance-base", base_, "city-wide", "op", "", "").ok());
  std::string child =
      "{{<strict-governance-base}}{{$problems}}本局自查问题：{{narrative.problems}}\n{{/problems}}"
      "{{/strict-governance-base}}";
  auto created = templates_->Create("kjj", "report", child, "", "wang", "", "");
  ASSERT_TRUE(created.ok()) << created.status();
  Value ctx = Value::Map();
  ctx.SetPath("org.short_name", Value::Text("市科技局"));
  ctx.SetPath("narrative.problems", Value::Text("学习不够深入。"));
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.ref = TemplateRef{"kjj", "report", 0};
  in.context = ctx;
  auto r = templates_->Render(in);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->content().find("二、存在问题\n本局自查问题：学习不够深入。\n三、下一步打算"),
            std::string::npos)
      << r->content();
  EXPECT_NE(r->content().find("市科技局党组落实全面从严治党责任工作报告"), std::string::npos);
}

TEST_F(TemplatesTest, ARenderNamesTheRevisionsOfItsPartialsAndPinsGiveTheSameTextLater) {
  ASSERT_TRUE(templates_->Create("", "foot", "F1", "", "op", "", "").ok());
  ASSERT_TRUE(templates_->Create("", "b", "A{{$x}}-{{/x}}{{>foot}}", "", "op", "", "").ok());
  ASSERT_TRUE(
      templates_->Create("kjj", "report", "{{<b}}{{$x}}X{{/x}}{{/b}}", "", "w", "", "").ok());
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.ref = TemplateRef{"kjj", "report", 0};
  auto first = templates_->Render(in);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->content(), "AXF1");
  std::map<std::string, std::string> used(first->partial_revisions().begin(),
                                          first->partial_revisions().end());
  EXPECT_EQ(used, (std::map<std::string, std::string>{{"b", "templates/b@1"},
                                                      {"foot", "templates/foot@1"}}));

  ASSERT_TRUE(templates_->Update({"", "foot", 0}, "F2", "", 0, "op", "", "").ok());
  ASSERT_TRUE(
      templates_->Update({"", "b", 0}, "B{{$x}}-{{/x}}{{>foot}}", "", 0, "op", "", "").ok());
  auto latest = templates_->Render(in);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->content(), "BXF2");

  auto pins = ParsePartialPins(first->partial_revisions(), "kjj");
  ASSERT_TRUE(pins.ok()) << pins.status();
  in.pins = *pins;
  auto again = templates_->Render(in);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->content(), "AXF1");
  EXPECT_EQ(again->partial_revisions().at("foot"), "templates/foot@1");

  // An org's own template of the name, pinned, wins over the shared one.
  ASSERT_TRUE(templates_->Create("kjj", "foot", "own", "", "w", "", "").ok());
  in.pins["foot"] = TemplateRef{"kjj", "foot", 1};
  EXPECT_EQ(templates_->Render(in)->content(), "AXown");

  // A pinned revision that is not there fails the render; no gap printed.
  in.pins["foot"] = TemplateRef{"", "foot", 9};
  auto gone = templates_->Render(in);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition) << gone.status();
  EXPECT_NE(gone.status().message().find("partial_revisions[\"foot\"]"), std::string::npos)
      << gone.status();
}

TEST(TemplateDomainTest, PinsNameExactRevisionsOfTheOrgsOwnOrSharedTemplates) {
  auto parse = [](std::map<std::string, std::string> m) {
    google::protobuf::Map<std::string, std::string> pins(m.begin(), m.end());
    return ParsePartialPins(pins, "kjj");
  };
  auto ok = parse({{"b", "templates/b@2"}, {"foot", "orgs/kjj/templates/foot@1"}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at("b").revision, 2);
  EXPECT_EQ(ok->at("foot").org, "kjj");
  for (const auto& [name, pin] : std::vector<std::pair<std::string, std::string>>{
           {"b", "orgs/sfj/templates/b@1"},  // another org's
           {"b", "templates/b"},             // no revision
           {"b", "templates/other@1"},       // another template
           {"b", "b@1"}}) {                  // not a template name
    auto bad = parse({{name, pin}});
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << pin;
    EXPECT_NE(bad.status().message().find("partial_revisions[\"b\"]"), std::string::npos)
        << bad.status();
  }
}

TEST_F(TemplatesTest, ABaseUpdateThatDropsAnOverriddenBlockIsRefusedNamingTheOrgs) {
  for (const std::string org : {"sfj", "jyj"}) {
    records::v1::Org o;
    o.set_display_name(org);
    ASSERT_TRUE(records_->CreateOrg(org, o, "").ok());
    ASSERT_TRUE(records_->LoadProfile(org, profile_, "").ok());
  }
  const std::string both = "{{$x}}x{{/x}}{{$y}}y{{/y}}";
  ASSERT_TRUE(templates_->Create("", "b", both, "", "op", "", "").ok());
  ASSERT_TRUE(
      templates_->Create("kjj", "report", "{{<b}}{{$x}}X{{/x}}{{/b}}", "", "w", "", "").ok());
  ASSERT_TRUE(
      templates_->Create("sfj", "report", "{{<b}}{{$y}}Y{{/y}}{{/b}}", "", "w", "", "").ok());
  // jyj extends a "b" of its own: the shared one is not what it gets.
  ASSERT_TRUE(templates_->Create("jyj", "b", "{{$x}}own{{/x}}", "", "w", "", "").ok());
  ASSERT_TRUE(
      templates_->Create("jyj", "report", "{{<b}}{{$x}}J{{/x}}{{/b}}", "", "w", "", "").ok());

  auto refused = templates_->Update({"", "b", 0}, "{{$z}}z{{/z}}", "", 0, "op", "", "");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  const std::string message(refused.status().message());
  EXPECT_NE(message.find("orgs/kjj/templates/report overrides 'x'"), std::string::npos) << message;
  EXPECT_NE(message.find("orgs/sfj/templates/report overrides 'y'"), std::string::npos) << message;
  EXPECT_NE(message.find("in orgs kjj, sfj:"), std::string::npos) << message;
  EXPECT_EQ(message.find("jyj"), std::string::npos) << message;
  EXPECT_EQ(errors::DetailsOf(refused.status()).reason, "BLOCKS_STILL_OVERRIDDEN");
  EXPECT_EQ(templates_->Get({"", "b", 0})->revision(), 1);  // nothing written

  // Keeping every overridden block is fine; so is adding one.
  ASSERT_TRUE(templates_->Update({"", "b", 0}, both + "{{$z}}z{{/z}}", "", 0, "op", "", "").ok());
  // Dropping y, with the flag, after reading the list.
  auto forced = templates_->Update({"", "b", 0}, "{{$x}}x{{/x}}", "", 0, "op", "", "", true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->revision(), 3);
  // y is already orphaned: a later edit is not held up by it.
  EXPECT_TRUE(templates_->Update({"", "b", 0}, "{{$x}}x2{{/x}}", "", 0, "op", "", "").ok());
  // A child that no longer extends the base no longer counts.
  ASSERT_TRUE(templates_->Update({"kjj", "report", 0}, "plain", "", 0, "w", "", "").ok());
  EXPECT_TRUE(templates_->Update({"", "b", 0}, "none", "", 0, "op", "", "").ok());

  // An org's own parent: only that org's templates are checked.
  auto own = templates_->Update({"jyj", "b", 0}, "{{$w}}w{{/w}}", "", 0, "w", "", "");
  ASSERT_EQ(own.status().code(), absl::StatusCode::kFailedPrecondition) << own.status();
  EXPECT_NE(own.status().message().find("orgs/jyj/templates/report overrides 'x'"),
            std::string::npos)
      << own.status();
}

TEST_F(TemplatesTest, NarrativeIsDataInEveryFormat) {
  Value ctx = Value::Map();
  ctx.SetPath("narrative.problems", Value::Text("<b>不足</b> & {{org.name}} *强调*"));
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.text = "标题\n{{narrative.problems}}\n";
  in.context = ctx;
  in.format = typepb::DOCUMENT_FORMAT_TXT;
  EXPECT_EQ(templates_->Render(in)->content(), "标题\n<b>不足</b> & {{org.name}} *强调*\n");
  in.format = typepb::DOCUMENT_FORMAT_HTML;
  std::string html = templates_->Render(in)->content();
  EXPECT_NE(html.find("&lt;b&gt;不足&lt;/b&gt; &amp; {{org.name}}"), std::string::npos) << html;
  EXPECT_EQ(html.find("&amp;amp;"), std::string::npos);  // Escaped once.
  in.format = typepb::DOCUMENT_FORMAT_MD;
  std::string md = templates_->Render(in)->content();
  EXPECT_NE(md.find("\\*强调\\*"), std::string::npos) << md;
  in.format = typepb::DOCUMENT_FORMAT_DOCX;
  auto docx = templates_->Render(in);
  ASSERT_TRUE(docx.ok()) << docx.status();
  EXPECT_EQ(docx->content().substr(0, 2), "PK");
}

// Markup in every string a user sets (the report title, the org's names,
// city, district and facts, the narrative) stays text in every format: no
// element of it in the HTML (title included), well-formed DOCX parts holding
// it literally, no Markdown or HTML markup from it in the Markdown.
TEST_F(TemplatesTest, MarkupInEveryUserStringStaysText) {
  const std::string evil =
      "</title><script>alert(1)</script><img src=x onerror=alert(1)>]]>&amp;"
      "*bold* _x_ [a](javascript:x) <b>\"'`~~s~~|";
  records::v1::Org org;
  org.set_display_name("中共" + evil + "党组");
  org.set_short_name("局" + evil);
  org.set_city("市" + evil);
  org.set_district("区" + evil);
  for (const char* fact : {"purged_influence", "case_lessons", "municipal_inspection_target"}) {
    (*org.mutable_facts())[fact] = "事" + evil;
  }
  ReportContextInput input;
  input.org = org;
  input.figures = *records_->GetIndicatorValues("kjj", "2023");
  // Line starts too: a list, a quote, a heading underline, an ordered list.
  input.narrative = {{"problems", "一是" + evil + "\n- 列表\n> 引用\n===\n1. 有序"},
                     {"next_steps", "- " + evil}};
  input.issue_date = IssueDate{2024, 1, 8};
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  // The shipped template, and one that asks for no escaping at all.
  for (const std::string& text :
       {base_, std::string("{{{org.short_name}}}\n{{&narrative.problems}}\n{{{org.name}}}\n")}) {
    in.text = text;
    in.context = *ToEngineContext(BuildReportContext(input));
    in.title = "题" + evil;
    in.author = org.display_name();
    in.format = typepb::DOCUMENT_FORMAT_TXT;
    auto plain = templates_->Render(in);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_NE(plain->content().find(evil), std::string::npos);  // Text is as rendered.

    in.format = typepb::DOCUMENT_FORMAT_HTML;
    auto html = templates_->Render(in);
    ASSERT_TRUE(html.ok()) << html.status();
    auto parsed = testing::ParseHtml(html->content());
    ASSERT_TRUE(parsed.ok());
    for (const char* element : {"script", "img", "b", "a"}) {
      EXPECT_EQ(parsed->elements.count(element), 0u) << element << "\n" << html->content();
    }
    EXPECT_EQ(parsed->title, in.title);
    EXPECT_NE(parsed->body_text.find("局" + evil), std::string::npos) << parsed->body_text;
    EXPECT_NE(parsed->body_text.find("一是" + evil), std::string::npos) << parsed->body_text;
    EXPECT_EQ(html->content().find("<script"), std::string::npos);
    EXPECT_EQ(html->content().find("<img"), std::string::npos);
    EXPECT_NE(html->content().find("&amp;amp;"), std::string::npos);      // The value's "&amp;".
    EXPECT_EQ(html->content().find("&amp;amp;amp;"), std::string::npos);  // Escaped once.

    in.format = typepb::DOCUMENT_FORMAT_DOCX;
    auto docx = templates_->Render(in);
    ASSERT_TRUE(docx.ok()) << docx.status();
    auto parts = testing::Unzip(docx->content());
    ASSERT_TRUE(parts.ok()) << parts.status();
    for (const auto& [name, xml] : *parts) {
      EXPECT_TRUE(testing::XmlText(xml).ok()) << name << " is not well-formed:\n" << xml;
    }
    auto body = testing::XmlText(parts->at("word/document.xml"), "t");
    ASSERT_TRUE(body.ok());
    EXPECT_NE(body->find("局" + evil), std::string::npos) << *body;
    EXPECT_NE(body->find("一是" + evil), std::string::npos) << *body;
    EXPECT_EQ(*testing::XmlText(parts->at("docProps/core.xml"), "title"), in.title);
    EXPECT_EQ(*testing::XmlText(parts->at("docProps/core.xml"), "creator"), org.display_name());

    in.format = typepb::DOCUMENT_FORMAT_MD;
    auto md = templates_->Render(in);
    ASSERT_TRUE(md.ok()) << md.status();
    for (const std::string& problem : testing::MarkdownMarkup(md->content())) {
      ADD_FAILURE() << problem;
    }
    EXPECT_NE(md->content().find("\\[a\\](javascript:x)"), std::string::npos) << md->content();
  }
}

TEST_F(TemplatesTest, HostileTemplatesFailCleanly) {
  TemplatesCore::RenderInput in;
  in.org = "kjj";
  in.context = Value::Map();
  in.text = std::string(20000, '{');
  EXPECT_EQ(templates_->Render(in).status().code(), absl::StatusCode::kInvalidArgument);
  in.text = "{{#a}}" + std::string(3, 'x');
  EXPECT_EQ(templates_->Render(in).status().code(), absl::StatusCode::kInvalidArgument);
  // A partial that includes itself (possible only through a later revision,
  // since saving checks that partials exist) is cut off, not followed.
  ASSERT_TRUE(templates_->Create("kjj", "loop", "x", "", "w", "", "").ok());
  ASSERT_TRUE(templates_->Update({"kjj", "loop", 0}, "{{>loop}}", "", 0, "w", "", "").ok());
  in.text = "{{>loop}}";
  EXPECT_EQ(templates_->Render(in).status().code(), absl::StatusCode::kInvalidArgument);
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "{{#a}}";
  in.text = deep;
  EXPECT_EQ(templates_->Render(in).status().code(), absl::StatusCode::kInvalidArgument);
  in.text = std::string(2 << 20, 'x');
  EXPECT_EQ(templates_->Render(in).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- the render attacks of issue 9, through the gRPC edge -----------------

// Every command Redis has run so far (INFO commandstats).
int64_t RedisCommands(redis::Client* client) {
  return govreport::testing::CommandsRun(*client).value_or(-1);
}

// Polls (a bound on waiting, not a measurement): true once `done` holds.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

v1::Value ListOf(int n) {
  v1::Value list;
  for (int i = 0; i < n; ++i) list.mutable_list()->add_items()->set_text("x");
  return list;
}

// Sections nested four deep over a list of 1000: 10^12 iterations, far
// past any deadline a test waits for.
constexpr char kRunsForever[] = "{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}";

class RenderAttackTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  void Start(RenderLimits limits) {
    client_ = std::make_unique<redis::Client>(server_.options());
    records_ = std::make_unique<records::RecordsCore>(client_.get());
    figures_ = std::make_unique<LocalFigures>(records_.get());
    store_ = std::make_unique<Store>(client_.get());
    templates_ = std::make_unique<TemplatesCore>(store_.get(), figures_.get(), limits);
    authn_ = std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::Hours(1));
    service_ = std::make_unique<TemplatesGrpc>(templates_.get(), authn_.get());
    records::v1::Profile profile = govreport::testing::ShippedProfile();
    records::v1::Org org;
    org.set_display_name("中共重庆市科学技术局党组");
    ASSERT_TRUE(records_->CreateOrg("kjj", org, "").ok());
    ASSERT_TRUE(records_->LoadProfile("kjj", profile, "").ok());
    ServerOptions o;
    o.services = {service_.get()};
    // As the templates binary sets it: context and template, no more.
    o.max_receive_message_bytes = static_cast<int>(limits.max_context_bytes + (size_t{2} << 20));
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    grpc_server_ = std::move(*s);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", grpc_server_->port()),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = v1::TemplateService::NewStub(channel_);
    auto issued = authn_->tokens().Issue(
        auth::Principal{"kjj-recorder", "kjj", {std::string(auth::kRecorder)}, "user", ""},
        absl::Hours(1));
    ASSERT_TRUE(issued.ok()) << issued.status();
    recorder_ = issued->secret;
  }

  void TearDown() override {
    if (grpc_server_) grpc_server_->Shutdown(absl::Seconds(5));
  }

  v1::RenderRequest InlineRequest(const std::string& text, int list_size) {
    v1::RenderRequest req;
    req.set_parent("orgs/kjj");
    req.set_text(text);
    if (list_size > 0) (*req.mutable_context()->mutable_fields())["l"] = ListOf(list_size);
    return req;
  }

  // As the recorder, with a deadline; `ctx` lets another thread cancel.
  grpc::Status Render(const v1::RenderRequest& req, absl::Duration deadline,
                      v1::RenderResponse* out = nullptr, grpc::ClientContext* ctx = nullptr) {
    grpc::ClientContext local;
    if (ctx == nullptr) ctx = &local;
    auth::AttachToken(*ctx, recorder_);
    ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
    v1::RenderResponse ignored;
    return stub_->Render(ctx, req, out != nullptr ? out : &ignored);
  }

  testing::TestRedis server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<records::RecordsCore> records_;
  std::unique_ptr<LocalFigures> figures_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TemplatesCore> templates_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<TemplatesGrpc> service_;
  std::unique_ptr<RunningServer> grpc_server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TemplateService::Stub> stub_;
  std::string recorder_;
};

// Issue 11: a format or layout the proto does not define was rendered as
// some default; it is INVALID_ARGUMENT naming the field.
TEST_F(RenderAttackTest, UnknownEnumValuesAreInvalidArgument) {
  Start(RenderLimits());
  v1::RenderRequest req = InlineRequest("{{org.name}}", 0);
  req.set_format(static_cast<typepb::DocumentFormat>(99));
  grpc::Status st = Render(req, absl::Seconds(10));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "format: DocumentFormat has no value 99"))
      << st.error_message();
  req.set_format(typepb::DOCUMENT_FORMAT_DOCX);
  req.set_docx_layout(static_cast<v1::DocxLayout>(5));
  st = Render(req, absl::Seconds(10));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "docx_layout: DocxLayout has no value 5"))
      << st.error_message();
  req.set_format(typepb::DOCUMENT_FORMAT_UNSPECIFIED);  // TEXT.
  req.set_docx_layout(v1::DOCX_LAYOUT_UNSPECIFIED);
  EXPECT_TRUE(Render(req, absl::Seconds(10)).ok());

  v1::PreviewRequest preview;
  preview.set_parent("orgs/kjj");
  preview.set_template_("orgs/kjj/templates/any");
  preview.set_period("2023");
  preview.set_format(static_cast<typepb::DocumentFormat>(-3));
  grpc::ClientContext ctx;
  auth::AttachToken(ctx, recorder_);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RenderResponse out;
  st = stub_->Preview(&ctx, preview, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "format: DocumentFormat has no value -3"))
      << st.error_message();
}

// RenderRequest.frame reaches every format; a field over its limit is
// INVALID_ARGUMENT naming frame.<field>, and nothing is rendered.
TEST_F(RenderAttackTest, TheFrameReachesEveryFormatAndIsChecked) {
  Start(RenderLimits());
  v1::RenderRequest req = InlineRequest("标题\n正文。\n某局\n2024年1月15日", 0);
  v1::DocumentFrame& frame = *req.mutable_frame();
  frame.set_issuing_mark("中共某市科学技术局党组");
  frame.set_document_number("某科党〔2024〕3号");
  frame.set_printing_org("某局办公室");
  frame.set_printing_date("2024年1月16日");
  for (auto format : {typepb::DOCUMENT_FORMAT_TXT, typepb::DOCUMENT_FORMAT_MD,
                      typepb::DOCUMENT_FORMAT_HTML, typepb::DOCUMENT_FORMAT_DOCX}) {
    req.set_format(format);
    v1::RenderResponse out;
    grpc::Status st = Render(req, absl::Seconds(30), &out);
    ASSERT_TRUE(st.ok()) << format << ": " << st.error_message();
    if (format == typepb::DOCUMENT_FORMAT_DOCX) {
      EXPECT_EQ(out.content().substr(0, 2), "PK");
      continue;
    }
    const size_t mark = out.content().find("中共某市科学技术局党组");
    const size_t number = out.content().find("某科党〔2024〕3号");
    const size_t title = out.content().find("标题");
    const size_t printed = out.content().find("2024年1月16日印发");
    ASSERT_NE(printed, std::string::npos) << out.content();
    EXPECT_TRUE(mark < number && number < title && title < printed) << out.content();
  }
  frame.set_issuing_mark(std::string(41, 'x'));
  grpc::Status st = Render(req, absl::Seconds(10));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "frame.issuing_mark: 41 characters, at most 40"))
      << st.error_message();
  frame.set_issuing_mark("某局");
  frame.add_signers("张三\n李四");
  st = Render(req, absl::Seconds(10));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "frame.signers[0]:")) << st.error_message();
}

// A template that writes the 主送机关 itself, rendered under a frame that
// gives the same one: every format names it once.
TEST_F(RenderAttackTest, RecipientsWrittenByTheTemplateAndTheFrameArePrintedOnce) {
  Start(RenderLimits());
  v1::RenderRequest req = InlineRequest("标题\n\u3000中共某市委：\n正文。\n某局\n2024年1月15日", 0);
  req.mutable_frame()->set_main_recipients("中共某市委");
  for (auto format :
       {typepb::DOCUMENT_FORMAT_TXT, typepb::DOCUMENT_FORMAT_MD, typepb::DOCUMENT_FORMAT_HTML}) {
    req.set_format(format);
    v1::RenderResponse out;
    grpc::Status st = Render(req, absl::Seconds(30), &out);
    ASSERT_TRUE(st.ok()) << format << ": " << st.error_message();
    const size_t first = out.content().find("中共某市委");
    ASSERT_NE(first, std::string::npos) << out.content();
    EXPECT_EQ(out.content().find("中共某市委", first + 1), std::string::npos) << out.content();
    EXPECT_NE(out.content().find("正文。"), std::string::npos) << out.content();
  }
  // Other recipients than the frame's stay: they are the template's text.
  req = InlineRequest("标题\n中共某区委：\n正文。\n某局\n2024年1月15日", 0);
  req.mutable_frame()->set_main_recipients("中共某市委");
  v1::RenderResponse out;
  ASSERT_TRUE(Render(req, absl::Seconds(30), &out).ok());
  EXPECT_NE(out.content().find("中共某区委："), std::string::npos) << out.content();
}

// The defaults leave the shipped report far inside its budget: a whole
// year of records renders within a hundredth of it.
TEST_F(RenderAttackTest, TheShippedTemplateRendersWellWithinTheBudget) {
  RenderLimits limits;
  limits.max_steps = RenderLimits().max_steps / 100;
  limits.max_output_bytes = RenderLimits().max_output_bytes / 100;
  limits.max_partial_expansions = 10;
  limits.max_partial_names = 10;
  Start(limits);
  auto loaded = records_->GetProfile("kjj");
  ASSERT_TRUE(loaded.ok());
  const records::v1::Profile profile = (*loaded)->proto();
  records::SampleYear sample = records::GenerateSampleYear(profile, 2023);
  for (const auto& rec : sample.records) {
    ASSERT_TRUE(records_->CreateActivity("kjj", "t", rec, "").ok());
  }
  ReportContextInput input;
  input.org = *records_->GetOrg("kjj");
  input.figures = *records_->GetIndicatorValues("kjj", "2023");
  input.narrative = {{"problems", "一是理论学习成果转化不够到位。"}};
  ASSERT_TRUE(templates_
                  ->Create("", "strict-governance-base",
                           Source("deploy/profiles/strict-governance/base.mustache"), "", "op", "",
                           "")
                  .ok());
  auto child = templates_->Create("kjj", "report",
                                  "{{<strict-governance-base}}{{$problems}}{{narrative.problems}}\n"
                                  "{{/problems}}{{/strict-governance-base}}",
                                  "", "admin", "", "");
  ASSERT_TRUE(child.ok()) << child.status();
  v1::RenderRequest req;
  req.set_parent("orgs/kjj");
  req.set_template_("orgs/kjj/templates/report");
  *req.mutable_context() = BuildReportContext(input);
  for (typepb::DocumentFormat format :
       {typepb::DOCUMENT_FORMAT_TXT, typepb::DOCUMENT_FORMAT_HTML, typepb::DOCUMENT_FORMAT_DOCX}) {
    req.set_format(format);
    v1::RenderResponse out;
    grpc::Status st = Render(req, absl::Seconds(30), &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
}

// {{#l}}{{#l}}{{> nope}}{{/l}}{{/l}} was n^2 lookups of "nope", two Redis
// commands each: 180 000 commands at n = 300, minutes at n = 1000.
TEST_F(RenderAttackTest, NestedSectionPartialBombAsInlineTextByARecorder) {
  Start({});
  for (int n : {300, 1000}) {
    const int64_t before = RedisCommands(client_.get());
    v1::RenderResponse out;
    grpc::Status st =
        Render(InlineRequest("{{#l}}{{#l}}{{> nope}}{{/l}}{{/l}}", n), absl::Seconds(60), &out);
    const int64_t commands = RedisCommands(client_.get()) - before;
    // Within the default budget it finishes; a smaller one would end it
    // with RESOURCE_EXHAUSTED. Either way Redis hears of "nope" once.
    ASSERT_TRUE(st.ok() || st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << st.error_message();
    EXPECT_LE(commands, 20) << "n=" << n;  // was 2 n^2
    if (st.ok()) {
      ASSERT_EQ(out.missing_size(), 1);
      EXPECT_EQ(out.missing(0), "partial:nope");
    }
  }
  EXPECT_EQ(templates_->stats().in_progress, 0);
}

// p0 includes p1 twice, p1 includes p2 twice, ... p29: 2^30 expansions,
// which ran past a 120 s deadline at 72k Redis commands a second.
TEST_F(RenderAttackTest, DoublingChainOfStoredPartialsEndsAtTheExpansionBudget) {
  Start({});
  ASSERT_TRUE(templates_->Create("kjj", "p29", "x", "", "admin", "", "").ok());
  for (int i = 28; i >= 0; --i) {
    const std::string next = absl::StrCat("p", i + 1);
    auto created =
        templates_->Create("kjj", absl::StrCat("p", i),
                           absl::StrCat("{{>", next, "}}{{>", next, "}}"), "", "admin", "", "");
    ASSERT_TRUE(created.ok()) << created.status();
  }
  const int64_t before = RedisCommands(client_.get());
  v1::RenderRequest req;
  req.set_parent("orgs/kjj");
  req.set_template_("orgs/kjj/templates/p0");
  grpc::Status st = Render(req, absl::Seconds(60));
  const int64_t commands = RedisCommands(client_.get()) - before;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("max_partial_expansions"), std::string::npos)
      << st.error_message();
  // Each of the 30 names: its latest revision in the org and shared
  // scopes, and at most its text; pipelined level by level.
  EXPECT_LE(commands, 4 * 30 + 10);
  EXPECT_EQ(templates_->stats().exhausted, 1);

  // Inline, by the recorder, the same.
  st = Render(InlineRequest("{{>p0}}", 0), absl::Seconds(60));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
}

// Validation asks for each partial name once, however often it is used.
TEST_F(RenderAttackTest, ValidationLooksUpEachPartialOnce) {
  Start({});
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{{>nope}}";
  const int64_t before = RedisCommands(client_.get());
  auto problems = templates_->Validate("kjj", text, "");
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_FALSE(problems->empty());
  EXPECT_LE(RedisCommands(client_.get()) - before, 20);  // was 40 000
}

// The client's 2 s deadline passed and the render ran on for minutes.
TEST_F(RenderAttackTest, ADeadlineStopsTheRenderOnTheServer) {
  RenderLimits limits;
  limits.max_steps = ~uint64_t{0};
  limits.max_concurrent = 1;
  limits.queue_wait = absl::ZeroDuration();
  Start(limits);
  grpc::Status st = Render(InlineRequest(kRunsForever, 1000), absl::Seconds(1));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();
  // The server's work stops too: no render left in progress ...
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 0; }));
  const RenderStats stats = templates_->stats();
  EXPECT_EQ(stats.stopped_deadline + stats.stopped_cancelled, 1);
  // ... and the one slot serves the next call.
  v1::RenderResponse out;
  st = Render(InlineRequest("{{#l}}a{{/l}}", 3), absl::Seconds(30), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.content(), "aaa");
}

TEST_F(RenderAttackTest, ACancelledCallStopsTheRender) {
  RenderLimits limits;
  limits.max_steps = ~uint64_t{0};
  Start(limits);
  grpc::ClientContext ctx;
  grpc::Status st;
  std::thread call(
      [&] { st = Render(InlineRequest(kRunsForever, 1000), absl::Seconds(600), nullptr, &ctx); });
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 1; }));
  ctx.TryCancel();
  call.join();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED) << st.error_message();
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 0; }));
  EXPECT_EQ(templates_->stats().stopped_cancelled, 1);
}

// 15 MB contexts took the replica to 758 MB; a context over the limit is
// refused before it is converted, one far over it before it is parsed.
TEST_F(RenderAttackTest, AnOversizedContextIsRefused) {
  RenderLimits limits;
  limits.max_context_bytes = 1 << 20;
  Start(limits);
  v1::RenderRequest req = InlineRequest("{{big}}", 0);
  (*req.mutable_context()->mutable_fields())["big"].set_text(std::string(1 << 20, 'x'));
  grpc::Status st = Render(req, absl::Seconds(30));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("context:"), std::string::npos) << st.error_message();
  (*req.mutable_context()->mutable_fields())["big"].set_text(std::string(15 << 20, 'x'));
  st = Render(req, absl::Seconds(30));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_EQ(templates_->stats().finished, 0);
  // A preview's narrative is bounded alike.
  v1::PreviewRequest preview;
  preview.set_template_("templates/x");
  (*preview.mutable_narrative())["problems"] = std::string((1 << 20) + 1, 'x');
  EXPECT_EQ(templates_->Preview(preview, "kjj", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Within the limit it renders.
  (*req.mutable_context()->mutable_fields())["big"].set_text("ok");
  v1::RenderResponse out;
  st = Render(req, absl::Seconds(30), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.content(), "ok");
}

// A context within the byte limit that does not convert (a date out of
// the calendar) is refused, and its render slot is given back: refused
// renders must not use up the replica's slots.
TEST_F(RenderAttackTest, AContextThatDoesNotConvertGivesItsSlotBack) {
  RenderLimits limits;
  limits.max_concurrent = 1;
  limits.queue_wait = absl::ZeroDuration();
  Start(limits);
  v1::RenderRequest req = InlineRequest("{{d}}", 0);
  auto* date = (*req.mutable_context()->mutable_fields())["d"].mutable_date();
  date->set_year(2023);
  date->set_month(13);
  date->set_day(1);
  for (int i = 0; i < 3; ++i) {
    grpc::Status st = Render(req, absl::Seconds(30));
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_NE(st.error_message().find("out of the calendar"), std::string::npos)
        << st.error_message();
  }
  EXPECT_EQ(templates_->stats().in_progress, 0);
  EXPECT_EQ(templates_->stats().refused_busy, 0);
  EXPECT_TRUE(Render(InlineRequest("a", 0), absl::Seconds(30)).ok());
}

TEST_F(RenderAttackTest, RendersBeyondTheConcurrencyLimitAreRefused) {
  RenderLimits limits;
  limits.max_steps = ~uint64_t{0};
  limits.max_concurrent = 2;
  limits.queue_wait = absl::ZeroDuration();
  Start(limits);
  grpc::ClientContext ctx[2];
  grpc::Status st[2];
  std::vector<std::thread> calls;
  calls.reserve(2);
  for (int i = 0; i < 2; ++i) {
    calls.emplace_back([&, i] {
      st[i] = Render(InlineRequest(kRunsForever, 1000), absl::Seconds(600), nullptr, &ctx[i]);
    });
  }
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 2; }));
  grpc::Status extra = Render(InlineRequest("a", 0), absl::Seconds(30));
  EXPECT_EQ(extra.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << extra.error_message();
  EXPECT_NE(extra.error_message().find("too many renders in progress"), std::string::npos);
  EXPECT_EQ(templates_->stats().refused_busy, 1);
  for (auto& c : ctx) c.TryCancel();
  for (auto& t : calls) t.join();
  for (auto& s : st) EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 0; }));
  EXPECT_TRUE(Render(InlineRequest("a", 0), absl::Seconds(30)).ok());
}

// The one cross-org rule of Render and Preview: an org renders its own
// templates and the shared ones, never another org's.
TEST_F(RenderAttackTest, AnotherOrgsTemplateIsRenderedNeitherByRenderNorByPreview) {
  Start(RenderLimits{});
  ASSERT_TRUE(templates_->Create("", "shared-note", "共享", "", "op", "", "").ok());
  ASSERT_TRUE(templates_->Create("kjj", "own-note", "本局", "", "admin", "", "").ok());
  auto render = [&](const std::string& name, v1::RenderResponse* out) {
    v1::RenderRequest req;
    req.set_parent("orgs/kjj");
    req.set_template_(name);
    return Render(req, absl::Seconds(30), out);
  };
  v1::RenderResponse out;
  grpc::Status st = render("templates/shared-note", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.content(), "共享");
  st = render("orgs/kjj/templates/own-note", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.content(), "本局");
  // Refused before any lookup: whether it exists is not told either.
  st = render("orgs/jyj/templates/own-note", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_NE(st.error_message().find("another org"), std::string::npos) << st.error_message();

  grpc::ClientContext ctx;
  auth::AttachToken(ctx, recorder_);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::PreviewRequest preview;
  preview.set_parent("orgs/kjj");
  preview.set_template_("orgs/jyj/templates/own-note");
  preview.set_period("2023");
  st = stub_->Preview(&ctx, preview, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_EQ(templates_->stats().finished, 2);
}

// One tenant cannot take every render slot of a replica: past its per-org
// share it is refused while the platform's own renders still run.
TEST_F(RenderAttackTest, OneOrgGetsOnlyItsShareOfTheRenderSlots) {
  RenderLimits limits;
  limits.max_steps = ~uint64_t{0};
  limits.max_concurrent = 4;
  limits.max_concurrent_per_org = 2;
  limits.queue_wait = absl::ZeroDuration();
  Start(limits);
  grpc::ClientContext ctx[2];
  std::vector<std::thread> calls;
  calls.reserve(2);
  for (grpc::ClientContext& c : ctx) {
    calls.emplace_back([this, call = &c] {
      (void)Render(InlineRequest(kRunsForever, 1000), absl::Seconds(600), nullptr, call);
    });
  }
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 2; }));
  grpc::Status extra = Render(InlineRequest("a", 0), absl::Seconds(30));
  EXPECT_EQ(extra.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << extra.error_message();
  EXPECT_NE(extra.error_message().find("of org 'kjj'"), std::string::npos) << extra.error_message();
  // The platform (the assembler's workers) renders for the org all the same.
  grpc::ClientContext op;
  auth::AttachToken(op, "op-secret");
  op.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::RenderResponse out;
  grpc::Status platform = stub_->Render(&op, InlineRequest("a", 0), &out);
  EXPECT_TRUE(platform.ok()) << platform.error_message();
  for (auto& c : ctx) c.TryCancel();
  for (auto& t : calls) t.join();
  ASSERT_TRUE(Eventually([&] { return templates_->stats().in_progress == 0; }));
}

TEST(TemplateDomainTest, AnOrgRendersItsOwnAndSharedTemplatesOnly) {
  auto own = TemplateRenderableBy("orgs/kjj/templates/note@2", "kjj");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->org, "kjj");
  EXPECT_EQ(own->id, "note");
  EXPECT_EQ(own->revision, 2);
  auto shared = TemplateRenderableBy("templates/base", "kjj");
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->org, "");
  EXPECT_EQ(TemplateRenderableBy("orgs/jyj/templates/note", "kjj").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(TemplateRenderableBy("orgs/kjj/note", "kjj").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// docs/templates.md lists these keys; operators and migrations rely on them.
TEST(TemplateStoreTest, KeysAreTheDocumentedOnes) {
  EXPECT_EQ(Store::TemplateKey("kjj", "note"), "gr:{kjj}:tpl:note");
  EXPECT_EQ(Store::TemplateKey("", "base"), "gr:{_shared}:tpl:base");
  EXPECT_EQ(Store::IndexKey("kjj"), "gr:{kjj}:tpls");
  EXPECT_EQ(Store::IndexKey(""), "gr:{_shared}:tpls");
  EXPECT_EQ(Store::RequestKey("kjj", "r1"), "gr:{kjj}:rq:r1");
  EXPECT_EQ(Store::RequestKey("", "r1"), "gr:{_shared}:rq:r1");
  EXPECT_EQ(Store::ExtendsKey("kjj", "base"), "gr:{kjj}:extends:base");
  EXPECT_EQ(Store::ExtendsKey("", "base"), "gr:{_shared}:extends:base");
}

}  // namespace
}  // namespace govreport::templates
