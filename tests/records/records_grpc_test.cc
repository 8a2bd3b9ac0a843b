// The records binary's gRPC surface in-process: tokens, roles, tenant
// isolation and health.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/auth.h"
#include "common/enums.h"
#include "common/resource.h"
#include "common/server.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "gtest/gtest.h"
#include "internal/grpc/health/v1/health.grpc.pb.h"
#include "records/grpc_service.h"
#include "shipped_profile.h"
#include "test_redis.h"

namespace govreport::records {
namespace {

namespace apb = ::govreport::auth::v1;

class RecordsGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    // A small daily quota, so that a test can use it up.
    RecordsOptions options;
    options.quota_records_per_day = 3;
    records_ = std::make_unique<RecordsCore>(client_.get(), options);
    orgs_ = std::make_unique<OrgGrpc>(records_.get(), authn_.get());
    indicators_ = std::make_unique<IndicatorGrpc>(records_.get(), authn_.get());
    activities_ = std::make_unique<ActivityGrpc>(records_.get(), authn_.get());
    auth_service_ = std::make_unique<AuthGrpc>(authn_.get());
    ServerOptions o;
    o.services = {orgs_.get(), indicators_.get(), activities_.get(), auth_service_.get()};
    o.readiness = [this] { return client_->Ping(); };
    o.probe_interval = absl::Milliseconds(50);
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    for (const char* org : {"kjj", "jyj"}) {
      v1::CreateOrgRequest req;
      req.set_org_id(org);
      req.mutable_org()->set_display_name(org);
      v1::Org out;
      ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                    return v1::OrgService::Stub(channel_).CreateOrg(&ctx, req, &out);
                  }).ok());
      v1::LoadProfileRequest load;
      load.set_parent(absl::StrCat("orgs/", org));
      *load.mutable_profile() = govreport::testing::ShippedProfile();
      v1::LoadProfileResponse lr;
      ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                    return v1::IndicatorService::Stub(channel_).LoadProfile(&ctx, load, &lr);
                  }).ok());
    }
  }

  template <typename F>
  grpc::Status Call(const std::string& token, F f) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return f(ctx);
  }

  // kjj's token index (on a cluster under the {auth} hash tag).
  std::string TokensOfKjj() const {
    return client_->cluster() ? "gr:{auth}:org:kjj" : "gr:auth:org:kjj";
  }

  std::string Issue(const std::string& issuer, const std::string& org,
                    const std::vector<std::string>& roles) {
    apb::IssueTokenRequest req;
    req.mutable_principal()->set_subject(absl::StrCat(org, "-user"));
    req.mutable_principal()->set_org(org);
    for (auto& r : roles) req.mutable_principal()->add_roles(r);
    apb::IssueTokenResponse resp;
    auto st = Call(issuer, [&](auto& ctx) {
      return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &resp);
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.token();
  }

  grpc::Status Create(const std::string& token, const std::string& org) {
    v1::CreateActivityRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    req.mutable_activity()->set_type("theme_party_day");
    req.mutable_activity()->set_occurred_on("2023-05-04");
    v1::ActivityRecord out;
    return Call(token, [&](auto& ctx) {
      return v1::ActivityService::Stub(channel_).CreateActivity(&ctx, req, &out);
    });
  }

  testing::TestRedis redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<RecordsCore> records_;
  std::unique_ptr<OrgGrpc> orgs_;
  std::unique_ptr<IndicatorGrpc> indicators_;
  std::unique_ptr<ActivityGrpc> activities_;
  std::unique_ptr<AuthGrpc> auth_service_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(RecordsGrpcTest, NoTokenIsUnauthenticated) {
  EXPECT_EQ(Create("", "kjj").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Create("grt_forged", "kjj").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RecordsGrpcTest, RolesAndOrgsAreEnforced) {
  std::string admin = Issue("op-secret", "kjj", {"admin"});
  std::string recorder = Issue(admin, "kjj", {"recorder"});
  std::string auditor = Issue(admin, "kjj", {"auditor"});
  std::string other = Issue("op-secret", "jyj", {"recorder"});
  EXPECT_TRUE(Create(recorder, "kjj").ok());
  EXPECT_EQ(Create(auditor, "kjj").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Another org's token is refused the same way whether or not the
  // resource exists.
  grpc::Status cross = Create(other, "kjj");
  grpc::Status ghost = Create(other, "ghost-org");
  EXPECT_EQ(cross.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ghost.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::GetActivityRequest get;
  get.set_name("orgs/kjj/activities/0000000000000000001");
  v1::ActivityRecord rec;
  auto st = Call(other, [&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).GetActivity(&ctx, get, &rec);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // An org admin cannot mint tokens for another org.
  apb::IssueTokenRequest req;
  req.mutable_principal()->set_subject("x");
  req.mutable_principal()->set_org("jyj");
  apb::IssueTokenResponse resp;
  st = Call(admin, [&](auto& ctx) {
    return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &resp);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Nor the platform's own role, which once let any service token act
  // for anyone in approval.
  req.mutable_principal()->set_org("kjj");
  req.mutable_principal()->add_roles("service");
  req.mutable_principal()->set_kind(apb::PRINCIPAL_KIND_SERVICE);
  st = Call(admin, [&](auto& ctx) {
    return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &resp);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Figures for the reader roles.
  v1::GetIndicatorValuesRequest vr;
  vr.set_parent("orgs/kjj");
  vr.set_period("2023");
  v1::GetIndicatorValuesResponse values;
  st = Call(auditor, [&](auto& ctx) {
    return v1::IndicatorService::Stub(channel_).GetIndicatorValues(&ctx, vr, &values);
  });
  EXPECT_TRUE(st.ok()) << st.error_message();
  bool found = false;
  for (const auto& v : values.values()) {
    if (v.key() == "theme_party_days") {
      found = true;
      EXPECT_EQ(v.value(), 1);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RecordsGrpcTest, RevokedTokenStopsWorking) {
  apb::IssueTokenRequest req;
  req.mutable_principal()->set_subject("svc");
  req.mutable_principal()->set_org("kjj");
  req.mutable_principal()->add_roles("recorder");
  apb::IssueTokenResponse issued;
  ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &issued);
              }).ok());
  EXPECT_TRUE(Create(issued.token(), "kjj").ok());
  apb::RevokeTokenRequest rv;
  rv.set_token_id(issued.token_id());
  apb::RevokeTokenResponse out;
  ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                return apb::AuthService::Stub(channel_).RevokeToken(&ctx, rv, &out);
              }).ok());
  EXPECT_EQ(Create(issued.token(), "kjj").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// A repeat of IssueToken under its request id (a client that lost the
// reply) answers the same token, secret included, and stores one token;
// only a replica with another replay key cannot show the secret again.
TEST_F(RecordsGrpcTest, IssueTokenRepeatAnswersTheSameToken) {
  authn_->tokens().SetReplayKey("replay-key-of-the-deployment");
  apb::IssueTokenRequest req;
  req.mutable_principal()->set_subject("oa-sync");
  req.mutable_principal()->set_org("kjj");
  req.mutable_principal()->add_roles("recorder");
  req.set_request_id("issue-oa-sync-1");
  auto issue = [&](const apb::IssueTokenRequest& r, apb::IssueTokenResponse* out) {
    return Call("op-secret", [&](auto& ctx) {
      return apb::AuthService::Stub(channel_).IssueToken(&ctx, r, out);
    });
  };
  apb::IssueTokenResponse first;
  apb::IssueTokenResponse again;
  ASSERT_TRUE(issue(req, &first).ok());
  ASSERT_TRUE(issue(req, &again).ok());
  EXPECT_EQ(again.token_id(), first.token_id());
  EXPECT_EQ(again.token(), first.token());
  EXPECT_EQ(again.expire_time().seconds(), first.expire_time().seconds());
  EXPECT_EQ(client_->Command({"ZCARD", TokensOfKjj()})->AsInt().value_or(-1), 1);
  EXPECT_TRUE(Create(again.token(), "kjj").ok());

  apb::IssueTokenRequest other = req;
  other.set_ttl_seconds(3600);
  apb::IssueTokenResponse refused;
  grpc::Status st = issue(other, &refused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(client_->Command({"ZCARD", TokensOfKjj()})->AsInt().value_or(-1), 1);

  authn_->tokens().SetReplayKey("another-key");
  st = issue(req, &refused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(refused.token().empty());
}

TEST_F(RecordsGrpcTest, RevokeTokenRepeatAnswersOk) {
  apb::IssueTokenRequest req;
  req.mutable_principal()->set_subject("svc");
  req.mutable_principal()->set_org("kjj");
  req.mutable_principal()->add_roles("recorder");
  apb::IssueTokenResponse issued;
  ASSERT_TRUE(Call("op-secret", [&](auto& ctx) {
                return apb::AuthService::Stub(channel_).IssueToken(&ctx, req, &issued);
              }).ok());
  apb::RevokeTokenRequest rv;
  rv.set_token_id(issued.token_id());
  rv.set_request_id("revoke-svc-1");
  auto revoke = [&](const apb::RevokeTokenRequest& r) {
    apb::RevokeTokenResponse out;
    return Call("op-secret", [&](auto& ctx) {
      return apb::AuthService::Stub(channel_).RevokeToken(&ctx, r, &out);
    });
  };
  EXPECT_TRUE(revoke(rv).ok());
  EXPECT_TRUE(revoke(rv).ok());
  EXPECT_EQ(Create(issued.token(), "kjj").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  apb::RevokeTokenRequest without_id = rv;
  without_id.clear_request_id();
  EXPECT_EQ(revoke(without_id).error_code(), grpc::StatusCode::NOT_FOUND);
  apb::RevokeTokenRequest another = rv;
  another.set_token_id("someothertoken");
  EXPECT_EQ(revoke(another).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  apb::RevokeTokenRequest bad_id = rv;
  bad_id.set_request_id("has space");
  EXPECT_EQ(revoke(bad_id).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Issue 9: 10 000 persons per record in a batch; then a recorder past the
// org's daily quota, while the operator loading history is exempt.
TEST_F(RecordsGrpcTest, PersonsCapsAndDailyQuotaAtTheEdge) {
  std::string admin = Issue("op-secret", "kjj", {"admin"});
  std::string recorder = Issue(admin, "kjj", {"recorder"});
  v1::BatchCreateActivitiesRequest attack;
  attack.set_parent("orgs/kjj");
  for (int i = 0; i < 20; ++i) {
    auto* a = attack.add_requests()->mutable_activity();
    a->set_type("epidemic_volunteer_service");
    a->set_occurred_on("2023-05-04");
    for (int k = 0; k < 10000; ++k) a->add_persons(absl::StrCat("p", i, "-", k));
  }
  v1::BatchCreateActivitiesResponse resp;
  grpc::Status st = Call(recorder, [&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).BatchCreateActivities(&ctx, attack, &resp);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("persons"), std::string::npos) << st.error_message();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Create(recorder, "kjj").ok());
  st = Create(recorder, "kjj");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("records_per_day"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("resets at"), std::string::npos) << st.error_message();
  EXPECT_TRUE(Create("op-secret", "kjj").ok());
  // Another org's allowance is its own.
  EXPECT_TRUE(Create(Issue("op-secret", "jyj", {"recorder"}), "jyj").ok());
}

// Issue 9: ListIndicators with base64url("indicators|4294967295") cast the
// offset to int and read all[-1], a segfault for any reader. Tokens are now
// MAC'd, and hold the last key of the page, not an offset.
TEST_F(RecordsGrpcTest, ForgedIndicatorPageTokenIsRefusedAndTheServerKeepsServing) {
  std::string admin = Issue("op-secret", "kjj", {"admin"});
  std::string recorder = Issue(admin, "kjj", {"recorder"});
  auto list = [&](const std::string& token, int page_size, v1::ListIndicatorsResponse* out,
                  const std::string& org = "kjj") {
    v1::ListIndicatorsRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    req.set_page_size(page_size);
    req.set_page_token(token);
    out->Clear();
    return Call(recorder, [&](auto& ctx) {
      return v1::IndicatorService::Stub(channel_).ListIndicators(&ctx, req, out);
    });
  };
  v1::ListIndicatorsResponse page;
  // The attack, and its neighbours, in the old unauthenticated format.
  for (const char* offset : {"4294967295", "2147483648", "9223372036854775807", "-1"}) {
    grpc::Status st =
        list(absl::WebSafeBase64Escape(absl::StrCat("indicators|", offset)), 10, &page);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << offset;
    EXPECT_TRUE(absl::StartsWith(st.error_message(), "page_token: ")) << st.error_message();
  }
  // The same offsets in offset tokens with a valid MAC (the server's own
  // key: it runs in this process) are not tokens of this list any more: it
  // pages by key. A valid cursor of a key the catalogue does not hold (it
  // was replaced) is INVALID_ARGUMENT too, never a read out of bounds.
  const std::string list_id = PageList({"indicators", "kjj"});
  for (int64_t offset : {int64_t{4294967295}, int64_t{2147483648}, kMaxPageOffset,
                         std::numeric_limits<int64_t>::max(), int64_t{-1}}) {
    EXPECT_EQ(list(EncodePageToken(list_id, offset), 10, &page).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << offset;
  }
  EXPECT_EQ(list(EncodeCursorToken(list_id, "no_such_key"), 10, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Still serving: paging through gives every indicator once, and a page
  // token of kjj's list is not one of jyj's.
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::Status st = list(token, 7, &page);
    ASSERT_TRUE(st.ok()) << st.error_message();
    for (const auto& ind : page.indicators()) EXPECT_TRUE(seen.insert(ind.key()).second);
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 100);
  auto profile = records_->GetProfile("kjj");
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(static_cast<int>(seen.size()), (*profile)->proto().indicators_size());
  ASSERT_TRUE(list("", 7, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  std::string jyj_admin = Issue("op-secret", "jyj", {"admin"});
  recorder = Issue(jyj_admin, "jyj", {"recorder"});
  v1::ListIndicatorsResponse other;
  EXPECT_EQ(list(page.next_page_token(), 7, &other, "jyj").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Issue 11: a title in GBK (an Excel export read as bytes) reached the
// server as a string field that is not UTF-8; protobuf refused to parse it
// and gRPC answered INTERNAL with no message. It is the caller's mistake:
// INVALID_ARGUMENT naming the field, and nothing is written.
TEST_F(RecordsGrpcTest, TextThatIsNotUtf8IsInvalidArgumentNamingTheField) {
  const std::string gbk_title = "\xB5\xB3\xBD\xA8\xBB\xEE\xB6\xAF";  // 党建活动 in GBK
  auto before = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(before.ok());
  v1::CreateActivityRequest req;
  req.set_parent("orgs/kjj");
  req.mutable_activity()->set_type("theme_party_day");
  req.mutable_activity()->set_occurred_on("2023-05-04");
  req.mutable_activity()->set_title(gbk_title);
  v1::ActivityRecord out;
  grpc::Status st = Call("op-secret", [&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).CreateActivity(&ctx, req, &out);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "activity.title: not valid UTF-8"))
      << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "iconv")) << st.error_message();

  v1::BatchCreateActivitiesRequest batch;
  batch.set_parent("orgs/kjj");
  *batch.add_requests() = req;
  batch.mutable_requests(0)->clear_parent();
  batch.mutable_requests(0)->mutable_activity()->set_title("党建活动");
  *batch.add_requests() = batch.requests(0);
  batch.mutable_requests(1)->mutable_activity()->set_department(gbk_title);
  v1::BatchCreateActivitiesResponse resp;
  st = Call("op-secret", [&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).BatchCreateActivities(&ctx, batch, &resp);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "requests[].activity.department: "))
      << st.error_message();

  // A map key of another service's message, and the next call on the same
  // connection is answered normally.
  v1::UpdateOrgRequest update;
  update.mutable_org()->set_name("orgs/kjj");
  (*update.mutable_org()->mutable_facts())[gbk_title] = "x";
  update.add_update_mask("facts");
  v1::Org org;
  st = Call("op-secret", [&](auto& ctx) {
    return v1::OrgService::Stub(channel_).UpdateOrg(&ctx, update, &org);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "org.facts[].key: ")) << st.error_message();
  auto figures = records_->GetIndicatorValues("kjj", "2023");
  ASSERT_TRUE(figures.ok());
  EXPECT_EQ(figures->data_version(), before->data_version()) << "nothing was written";
  auto stored = records_->GetOrg("kjj");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->facts().empty());
  EXPECT_TRUE(Create("op-secret", "kjj").ok());
}

// Issue 11: enum values the proto does not define are refused, naming the
// field, instead of being read as some default.
TEST_F(RecordsGrpcTest, UnknownEnumValuesAreInvalidArgument) {
  v1::LoadProfileRequest load;
  load.set_parent("orgs/kjj");
  *load.mutable_profile() = (*records_->GetProfile("kjj"))->proto();
  load.mutable_profile()->mutable_indicators(0)->mutable_measure()->set_kind(
      static_cast<v1::MeasureKind>(99));
  v1::LoadProfileResponse lr;
  grpc::Status st = Call("op-secret", [&](auto& ctx) {
    return v1::IndicatorService::Stub(channel_).LoadProfile(&ctx, load, &lr);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(
      st.error_message(), ".measure.kind: MeasureKind has no value 99; one of MEASURE_KIND_COUNT"))
      << st.error_message();

  apb::IssueTokenRequest issue;
  issue.mutable_principal()->set_subject("bot");
  issue.mutable_principal()->set_org("kjj");
  issue.mutable_principal()->add_roles("recorder");
  issue.mutable_principal()->set_kind(static_cast<apb::PrincipalKind>(7));
  apb::IssueTokenResponse ir;
  st = Call("op-secret", [&](auto& ctx) {
    return apb::AuthService::Stub(channel_).IssueToken(&ctx, issue, &ir);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "principal.kind: PrincipalKind has no value 7"))
      << st.error_message();
  issue.mutable_principal()->set_kind(apb::PRINCIPAL_KIND_UNSPECIFIED);  // A user.
  st = Call("op-secret", [&](auto& ctx) {
    return apb::AuthService::Stub(channel_).IssueToken(&ctx, issue, &ir);
  });
  EXPECT_TRUE(st.ok()) << st.error_message();
}

#ifndef GOVREPORT_TEST_ON_CLUSTER  // Kills the one redis-server.
TEST_F(RecordsGrpcTest, HealthFollowsRedis) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  auto check = [&] {
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    stub->Check(&ctx, req, &resp);
    return resp.status();
  };
  EXPECT_EQ(check(), grpc::health::v1::HealthCheckResponse::SERVING);
  redis_server_.Kill();
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (check() == grpc::health::v1::HealthCheckResponse::SERVING && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(check(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  // Calls fail fast and cleanly while Redis is away.
  EXPECT_EQ(Create("op-secret", "kjj").error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(redis_server_.Restart());
  until = absl::Now() + absl::Seconds(10);
  while (check() != grpc::health::v1::HealthCheckResponse::SERVING && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(check(), grpc::health::v1::HealthCheckResponse::SERVING);
}
#endif

// Health answers for "" and for each service by its full name; while the
// server drains, NOT_SERVING for all of them though it still answers.
TEST_F(RecordsGrpcTest, HealthAnswersPerServiceAndIsNotServingWhileDraining) {
  namespace hpb = ::grpc::health::v1;
  auto stub = hpb::Health::NewStub(channel_);
  auto check = [&](const std::string& service, grpc::Status* st = nullptr) {
    hpb::HealthCheckRequest req;
    req.set_service(service);
    hpb::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    grpc::Status status = stub->Check(&ctx, req, &resp);
    if (st) *st = status;
    return resp.status();
  };
  const std::vector<std::string> names = {
      "govreport.records.v1.OrgService", "govreport.records.v1.IndicatorService",
      "govreport.records.v1.ActivityService", "govreport.auth.v1.AuthService"};
  EXPECT_EQ(std::set<std::string>(server_->service_names().begin(), server_->service_names().end()),
            std::set<std::string>(names.begin(), names.end()));
  for (const std::string& name : names) {
    EXPECT_EQ(check(name), hpb::HealthCheckResponse::SERVING) << name;
  }
  grpc::Status unknown;
  check("govreport.records.v1.NoSuchService", &unknown);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);

  server_->MarkDraining();
  absl::SleepFor(absl::Milliseconds(200));  // Probes run meanwhile: they must not undo it.
  for (const std::string& name : names) {
    EXPECT_EQ(check(name), hpb::HealthCheckResponse::NOT_SERVING) << name;
  }
  EXPECT_EQ(check(""), hpb::HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(Create("op-secret", "kjj").ok());  // Still answering calls.
}

}  // namespace
}  // namespace govreport::records
