// A city body's roll-up of the departments that report to it, against a
// real redis-server: sums, the union of persons, a ratio of the totals,
// rows, each child's share, the grant (no grant, no read; revoked at the
// next read; cleared by a move), the parent field only the operator sets,
// provenance down to a child's records, and a parent's template using the
// roll-up and a per-child table.
#include "records/rollup.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/server.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "gtest/gtest.h"
#include "records/core.h"
#include "records/grpc_service.h"
#include "report_context/report_context.h"
#include "templates/engine/mustache.h"
#include "templates/engine/validate.h"
#include "templates/service/domain.h"
#include "test_redis.h"

namespace govreport::records {
namespace {

namespace apb = ::govreport::auth::v1;

// A department: meetings by level, training fees, persons trained, and the
// share of meetings held on time.
constexpr char kChildProfile[] = R"json({
  "id": "dept",
  "activity_types": [
    {"key": "meeting", "label": "会议",
     "dimensions": [{"key": "level", "values": ["党组", "支部"], "required": true},
                    {"key": "on_time", "values": ["是", "否"], "required": true}]},
    {"key": "training", "label": "培训", "optional_quantities": ["fee_fen"],
     "persons_required": true}
  ],
  "indicators": [
    {"key": "meetings", "unit": "次", "breakdown": "level",
     "measure": {"kind": "COUNT", "activity_types": ["meeting"]}},
    {"key": "meetings_on_time", "unit": "次",
     "measure": {"kind": "COUNT", "activity_types": ["meeting"],
                 "filter": [{"dimension": "on_time", "values": ["是"]}]}},
    {"key": "on_time_share", "unit": "%", "precision": 1,
     "measure": {"kind": "RATIO", "numerator": "meetings_on_time", "denominator": "meetings"}},
    {"key": "training_fee", "unit": "万元", "precision": 2,
     "measure": {"kind": "SUM", "activity_types": ["training"], "quantity": "fee_fen"}},
    {"key": "trained", "unit": "人",
     "measure": {"kind": "DISTINCT", "activity_types": ["training"]}}
  ]
})json";

// The city body's own catalogue: the same keys, a ratio in one more
// decimal, and one key no department has.
constexpr char kCityProfile[] = R"json({
  "id": "city",
  "rollup": true,
  "activity_types": [{"key": "inspection", "label": "巡察", "optional_quantities": ["fee_fen"],
                      "dimensions": [{"key": "level", "values": ["党组", "支部"]}]}],
  "indicators": [
    {"key": "meetings", "unit": "次", "breakdown": "level",
     "measure": {"kind": "COUNT", "activity_types": ["inspection"]}},
    {"key": "meetings_on_time", "unit": "次",
     "measure": {"kind": "COUNT", "activity_types": ["inspection"]}},
    {"key": "on_time_share", "unit": "%", "precision": 2,
     "measure": {"kind": "RATIO", "numerator": "meetings_on_time", "denominator": "meetings"}},
    {"key": "training_fee", "unit": "万元", "precision": 2,
     "measure": {"kind": "SUM", "activity_types": ["inspection"], "quantity": "fee_fen"}},
    {"key": "trained", "unit": "人",
     "measure": {"kind": "DISTINCT", "activity_types": ["inspection"]}},
    {"key": "inspections", "unit": "次",
     "measure": {"kind": "COUNT", "activity_types": ["inspection"]}}
  ]
})json";

v1::Profile Parse(const std::string& json) {
  v1::Profile p;
  absl::Status st = ParseHumanWritten(json, FileSyntax::kJson, &p);
  EXPECT_TRUE(st.ok()) << st;
  return p;
}

const v1::RollupValue* Find(const v1::GetRollupValuesResponse& r, const std::string& key) {
  for (const auto& v : r.values()) {
    if (v.total().key() == key) return &v;
  }
  ADD_FAILURE() << "no rolled-up " << key;
  return nullptr;
}

// "org=display" per share, "org!" for an excluded one.
std::vector<std::string> Shares(const v1::RollupValue& v) {
  std::vector<std::string> out;
  for (const auto& s : v.shares()) {
    out.push_back(s.excluded().empty()
                      ? absl::StrCat(s.org(), "=", s.value().missing() ? "-" : s.value().display())
                      : absl::StrCat(s.org(), "!"));
  }
  return out;
}

class RollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    RecordsOptions o;
    o.profile_cache_ttl = absl::ZeroDuration();
    records_ = std::make_unique<RecordsCore>(client_.get(), o);
    AddOrg("city", "", "市直机关工委");
    // Two departments share; one reports but does not; one shares with
    // no profile; one is elsewhere.
    AddOrg("kjj", "orgs/city", "市科技局");
    AddOrg("jyj", "orgs/city", "市教育局");
    AddOrg("wsj", "orgs/city", "市卫生健康委");
    AddOrg("nyj", "orgs/city", "市农业农村委");
    AddOrg("other", "", "区委办");
    auto city = records_->LoadProfile("city", Parse(kCityProfile), "");
    ASSERT_TRUE(city.ok()) << city.status();
    for (const char* child : {"kjj", "jyj", "wsj", "other"}) {
      auto loaded = records_->LoadProfile(child, Parse(kChildProfile), "");
      ASSERT_TRUE(loaded.ok()) << loaded.status();
    }
    for (const char* child : {"kjj", "jyj", "nyj"}) ASSERT_TRUE(Share(child, true).ok());
    // kjj: 2 党组 meetings (1 on time), 1 支部; training fees 1.5 万元 for
    // p1, p2. jyj: 1 党组 on time; training 0.5 万元 for p2, p3.
    Meeting("kjj", "党组", "是");
    Meeting("kjj", "党组", "否");
    Meeting("kjj", "支部", "否");
    Training("kjj", 1500000, {"p1", "p2"});
    Meeting("jyj", "党组", "是");
    Training("jyj", 500000, {"p2", "p3"});
    // Neither of these may count.
    Meeting("wsj", "党组", "是");
    Meeting("other", "支部", "是");
  }

  void AddOrg(const std::string& id, const std::string& parent, const std::string& short_name) {
    v1::Org org;
    org.set_display_name(absl::StrCat("中共", short_name, "委员会"));
    org.set_short_name(short_name);
    org.set_parent(parent);
    auto made = records_->CreateOrg(id, org, "");
    ASSERT_TRUE(made.ok()) << made.status();
  }

  absl::StatusOr<v1::Org> Share(const std::string& org, bool shared) {
    v1::UpdateOrgRequest req;
    req.mutable_org()->set_name(absl::StrCat("orgs/", org));
    req.mutable_org()->set_figures_shared_with_parent(shared);
    req.add_update_mask("figures_shared_with_parent");
    auto out = records_->UpdateOrg(req, /*may_change_parent=*/false);
    EXPECT_TRUE(out.ok()) << out.status();
    return out;
  }

  void Meeting(const std::string& org, const std::string& level, const std::string& on_time) {
    v1::ActivityRecord r;
    r.set_type("meeting");
    r.set_occurred_on("2023-04-10");
    r.set_title("会议");
    (*r.mutable_dimensions())["level"] = level;
    (*r.mutable_dimensions())["on_time"] = on_time;
    auto out = records_->CreateActivity(org, "u", r, "");
    ASSERT_TRUE(out.ok()) << out.status();
  }

  void Training(const std::string& org, int64_t fee_fen, const std::vector<std::string>& persons) {
    v1::ActivityRecord r;
    r.set_type("training");
    r.set_occurred_on("2023-06-01");
    r.set_title("培训");
    (*r.mutable_quantities())["fee_fen"] = fee_fen;
    for (const auto& p : persons) r.add_persons(p);
    auto out = records_->CreateActivity(org, "u", r, "");
    ASSERT_TRUE(out.ok()) << out.status();
  }

  v1::GetRollupValuesResponse Rollup(const std::string& period = "2023") {
    auto r = records_->GetRollupValues("city", period);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::GetRollupValuesResponse();
  }

  testing::TestRedis redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<RecordsCore> records_;
};

TEST_F(RollupTest, TotalsAreSumsUnionsAndRatiosOfTheTotals) {
  v1::GetRollupValuesResponse r = Rollup();
  EXPECT_EQ(r.period(), "2023");
  EXPECT_EQ(r.first_day(), "2023-01-01");
  const auto* meetings = Find(r, "meetings");
  ASSERT_NE(meetings, nullptr);
  EXPECT_EQ(meetings->total().value(), 4);
  EXPECT_EQ(meetings->total().record_count(), 4);
  EXPECT_EQ(Shares(*meetings), (std::vector<std::string>{"orgs/jyj=1", "orgs/kjj=3"}));
  ASSERT_EQ(meetings->total().rows_size(), 2);
  EXPECT_EQ(meetings->total().rows(0).dimension_value(), "党组");
  EXPECT_EQ(meetings->total().rows(0).value(), 3);
  EXPECT_EQ(meetings->total().rows(1).dimension_value(), "支部");
  EXPECT_EQ(meetings->total().rows(1).value(), 1);
  // (1 + 1) / (3 + 1), not the mean of 33.3% and 100%; in the city's two
  // decimals, the departments' shares rescaled to them.
  const auto* share = Find(r, "on_time_share");
  ASSERT_NE(share, nullptr);
  EXPECT_EQ(share->total().display(), "50");
  EXPECT_EQ(share->total().value(), 5000);
  EXPECT_EQ(Shares(*share), (std::vector<std::string>{"orgs/jyj=100", "orgs/kjj=33.3"}));
  const auto* fee = Find(r, "training_fee");
  ASSERT_NE(fee, nullptr);
  EXPECT_EQ(fee->total().value(), 2000000);
  EXPECT_EQ(fee->total().display(), "2");
  // p2 trained in both: 3 persons, not 4.
  const auto* trained = Find(r, "trained");
  ASSERT_NE(trained, nullptr);
  EXPECT_EQ(trained->total().value(), 3);
  EXPECT_EQ(Shares(*trained), (std::vector<std::string>{"orgs/jyj=2", "orgs/kjj=2"}));
  // A key no department has: each share says why, the total is missing.
  const auto* inspections = Find(r, "inspections");
  ASSERT_NE(inspections, nullptr);
  EXPECT_TRUE(inspections->total().missing());
  EXPECT_EQ(Shares(*inspections), (std::vector<std::string>{"orgs/jyj!", "orgs/kjj!"}));
  EXPECT_EQ(inspections->shares(0).excluded(), "no indicator 'inspections' in its catalogue");
}

TEST_F(RollupTest, EveryChildIsListedWithWhyItCountsOrNot) {
  v1::GetRollupValuesResponse r = Rollup();
  std::map<std::string, v1::RollupChildState> states;
  for (const auto& c : r.children()) states[c.org()] = c.state();
  EXPECT_EQ(states, (std::map<std::string, v1::RollupChildState>{
                        {"orgs/jyj", v1::ROLLUP_CHILD_STATE_INCLUDED},
                        {"orgs/kjj", v1::ROLLUP_CHILD_STATE_INCLUDED},
                        {"orgs/nyj", v1::ROLLUP_CHILD_STATE_NO_PROFILE},
                        {"orgs/wsj", v1::ROLLUP_CHILD_STATE_NOT_SHARED}}));
  for (const auto& c : r.children()) {
    if (c.state() == v1::ROLLUP_CHILD_STATE_INCLUDED) {
      EXPECT_GT(c.data_version(), 0) << c.org();
    }
  }
}

TEST_F(RollupTest, ARevokedGrantLeavesTheRollupAtTheNextRead) {
  ASSERT_TRUE(Share("kjj", false).ok());
  v1::GetRollupValuesResponse r = Rollup();
  EXPECT_EQ(Find(r, "meetings")->total().value(), 1);
  EXPECT_EQ(Find(r, "trained")->total().value(), 2);
  v1::GetRollupProvenanceRequest req;
  req.set_name("orgs/city/indicators/meetings");
  req.set_child("orgs/kjj");
  req.set_period("2023");
  auto denied = records_->GetRollupProvenance("city", req);
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status())) << denied.status();
  EXPECT_EQ(errors::DetailsOf(denied.status()).reason, "NOT_SHARED");
}

TEST_F(RollupTest, ProvenanceReachesTheChildsRecordsOnlyWhereItShares) {
  v1::GetRollupProvenanceRequest req;
  req.set_name("orgs/city/indicators/meetings");
  req.set_child("orgs/kjj");
  req.set_period("2023");
  req.set_breakdown_value("党组");
  auto prov = records_->GetRollupProvenance("city", req);
  ASSERT_TRUE(prov.ok()) << prov.status();
  EXPECT_EQ(prov->total_records(), 2);
  for (const auto& rec : prov->records()) EXPECT_EQ(rec.name().substr(0, 9), "orgs/kjj/");
  // Not shared, not a child, no such org: one answer for all three.
  for (const char* child : {"orgs/wsj", "orgs/other", "orgs/ghost"}) {
    req.set_child(child);
    auto denied = records_->GetRollupProvenance("city", req);
    EXPECT_TRUE(absl::IsPermissionDenied(denied.status())) << child << denied.status();
  }
  req.set_child("kjj");
  EXPECT_TRUE(absl::IsInvalidArgument(records_->GetRollupProvenance("city", req).status()));
}

TEST_F(RollupTest, AMoveClearsTheGrantAndOnlyTheOperatorMoves) {
  v1::UpdateOrgRequest move;
  move.mutable_org()->set_name("orgs/kjj");
  move.mutable_org()->set_parent("orgs/other");
  move.add_update_mask("parent");
  auto refused = records_->UpdateOrg(move, /*may_change_parent=*/false);
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_EQ(errors::DetailsOf(refused.status()).reason, "OPERATOR_ONLY");
  auto moved = records_->UpdateOrg(move, /*may_change_parent=*/true);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_FALSE(moved->figures_shared_with_parent());
  EXPECT_EQ(Find(Rollup(), "meetings")->total().value(), 1);
  // The admin's other changes need no operator.
  v1::UpdateOrgRequest rename;
  rename.mutable_org()->set_name("orgs/kjj");
  rename.mutable_org()->set_short_name("科技局");
  rename.add_update_mask("short_name");
  EXPECT_TRUE(records_->UpdateOrg(rename, false).ok());
  move.mutable_org()->set_parent("orgs/kjj");
  EXPECT_TRUE(absl::IsInvalidArgument(records_->UpdateOrg(move, true).status()));
}

TEST_F(RollupTest, TheParentsFiguresCarryTheRollupAndItsTemplateUsesIt) {
  auto figures = records_->GetIndicatorValues("city", "2023");
  ASSERT_TRUE(figures.ok()) << figures.status();
  ASSERT_TRUE(figures->has_rollup());
  EXPECT_EQ(Find(figures->rollup(), "meetings")->total().value(), 4);
  // A department's own figures carry none.
  auto own = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->has_rollup());

  const std::string text =
      "全市共召开会议{{rollup.meetings}}次，按时召开率{{rollup.on_time_share}}%，"
      "培训{{rollup.trained}}人。\n"
      "{{#rollup.children}}{{name}}：会议{{ind.meetings}}次，培训费{{ind.training_fee.wan}}万元；\n"
      "{{/rollup.children}}"
      "{{#rollup.meetings.rows}}{{label}}{{n}}次 {{/rollup.meetings.rows}}";
  templates::Schema schema = templates::SchemaForProfile(Parse(kCityProfile));
  for (const auto& p : templates::Validate(text, schema, nullptr)) {
    ADD_FAILURE() << p.message;
  }
  templates::ReportContextInput in;
  in.org.set_display_name("中共市直机关工委");
  in.figures = *figures;
  auto context = templates::ToEngineContext(templates::BuildReportContext(in));
  ASSERT_TRUE(context.ok()) << context.status();
  auto compiled = templates::CompiledTemplate::Compile(text);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  auto rendered = compiled->Render(*context);
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_EQ(rendered->text,
            "全市共召开会议4次，按时召开率50%，培训3人。\n"
            "市教育局：会议1次，培训费0.5万元；\n"
            "市科技局：会议3次，培训费1.5万元；\n"
            "党组3次 支部1次 ");
  EXPECT_TRUE(rendered->missing.empty());
}

// Pure combining: a child whose indicator is of another kind is left out
// with the reason, never added in.
TEST(CombineRollupTest, AMismatchedIndicatorIsExcludedWithItsReason) {
  v1::Indicator parent;
  parent.set_key("fee");
  parent.set_unit("万元");
  parent.mutable_measure()->set_kind(v1::MEASURE_KIND_SUM);
  v1::Indicator count = parent;
  count.set_unit("次");
  EXPECT_EQ(RollupMismatch(parent, &count), "its 'fee' is in 次, not 万元");
  count.mutable_measure()->set_kind(v1::MEASURE_KIND_COUNT);
  EXPECT_EQ(RollupMismatch(parent, &count),
            "its 'fee' is MEASURE_KIND_COUNT, not MEASURE_KIND_SUM");
  v1::Indicator split = parent;
  split.set_breakdown("level");
  EXPECT_EQ(RollupMismatch(parent, &split), "its 'fee' is broken down by 'level', not ''");
  EXPECT_EQ(RollupMismatch(parent, &parent), "");
}

// The gRPC surface: the parent's readers see the roll-up; a child's token
// does not, and a parent's token still cannot read a child directly.
class RollupGrpcTest : public RollupTest {
 protected:
  void SetUp() override {
    RollupTest::SetUp();
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    orgs_ = std::make_unique<OrgGrpc>(records_.get(), authn_.get());
    indicators_ = std::make_unique<IndicatorGrpc>(records_.get(), authn_.get());
    auth_service_ = std::make_unique<AuthGrpc>(authn_.get());
    ServerOptions o;
    o.services = {orgs_.get(), indicators_.get(), auth_service_.get()};
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  template <typename F>
  grpc::Status Call(const std::string& token, F f) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return f(ctx);
  }

  std::string Issue(const std::string& org, const std::vector<std::string>& roles) {
    apb::IssueTokenRequest req;
    req.mutable_principal()->set_subject(absl::StrCat(org, "-user"));
    req.mutable_principal()->set_org(org);
    for (const auto& r : roles) req.mutable_principal()->add_roles(r);
    apb::IssueTokenResponse resp;
    auto st = Call("op-secret", [&](auto& ctx) {
      return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &resp);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.token();
  }

  grpc::Status GetRollup(const std::string& token, const std::string& org,
                         v1::GetRollupValuesResponse* out) {
    v1::GetRollupValuesRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    req.set_period("2023");
    return Call(token, [&](auto& ctx) {
      return v1::IndicatorService::Stub(channel_).GetRollupValues(&ctx, req, out);
    });
  }

  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<OrgGrpc> orgs_;
  std::unique_ptr<IndicatorGrpc> indicators_;
  std::unique_ptr<AuthGrpc> auth_service_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(RollupGrpcTest, OnlyTheParentsReadersSeeTheRollup) {
  v1::GetRollupValuesResponse out;
  ASSERT_TRUE(GetRollup(Issue("city", {"auditor"}), "city", &out).ok());
  EXPECT_EQ(Find(out, "meetings")->total().value(), 4);
  // A department's token: not the city's roll-up, and its own has no
  // children (no sibling is ever in it).
  std::string kjj = Issue("kjj", {"auditor"});
  EXPECT_EQ(GetRollup(kjj, "city", &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(GetRollup(kjj, "kjj", &out).ok());
  EXPECT_EQ(out.children_size(), 0);
  // The grant is for the roll-up: the city still cannot read kjj itself.
  v1::GetIndicatorValuesRequest direct;
  direct.set_parent("orgs/kjj");
  direct.set_period("2023");
  v1::GetIndicatorValuesResponse values;
  EXPECT_EQ(Call(Issue("city", {"auditor"}),
                 [&](auto& ctx) {
                   return v1::IndicatorService::Stub(channel_).GetIndicatorValues(&ctx, direct,
                                                                                  &values);
                 })
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RollupGrpcTest, AnAdminSharesButOnlyTheOperatorSetsTheParent) {
  std::string admin = Issue("wsj", {"admin"});
  v1::UpdateOrgRequest req;
  req.mutable_org()->set_name("orgs/wsj");
  req.mutable_org()->set_figures_shared_with_parent(true);
  req.add_update_mask("figures_shared_with_parent");
  v1::Org org;
  auto update = [&](const std::string& token) {
    return Call(token, [&](auto& ctx) {
      return v1::OrgService::Stub(channel_).UpdateOrg(&ctx, req, &org);
    });
  };
  ASSERT_TRUE(update(admin).ok());
  EXPECT_TRUE(org.figures_shared_with_parent());
  v1::GetRollupValuesResponse out;
  ASSERT_TRUE(GetRollup(Issue("city", {"auditor"}), "city", &out).ok());
  EXPECT_EQ(Find(out, "meetings")->total().value(), 5);
  // Attaching itself to another body is not the department's to do.
  req.mutable_org()->set_parent("orgs/other");
  req.clear_update_mask();
  req.add_update_mask("parent");
  EXPECT_EQ(update(admin).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(update("op-secret").ok());
  EXPECT_EQ(org.parent(), "orgs/other");
}

}  // namespace
}  // namespace govreport::records
