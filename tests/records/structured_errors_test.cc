// Structured errors as a client reads them: google.rpc.Status decoded from
// the grpc-status-details-bin trailer of real calls to an in-process records
// server over a real redis-server. ErrorInfo (reason, domain), BadRequest
// (field path), RetryInfo (UNAVAILABLE, ABORTED, a daily quota),
// LocalizedMessage (zh-CN); and no Redis or Lua text reaches the caller.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/auth.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/server.h"
#include "common/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "records/grpc_service.h"
#include "redis_server.h"
#include "shipped_profile.h"

namespace govreport::records {
namespace {

// What a client in any language gets from its googleapis-common-protos.
struct Decoded {
  google::rpc::Status status;
  std::optional<google::rpc::ErrorInfo> info;
  std::optional<google::rpc::BadRequest> bad;
  std::optional<google::rpc::RetryInfo> retry;
  std::optional<google::rpc::LocalizedMessage> zh;
};

Decoded Decode(const grpc::Status& st) {
  Decoded d;
  EXPECT_TRUE(d.status.ParseFromString(st.error_details())) << "no grpc-status-details-bin";
  EXPECT_EQ(d.status.code(), static_cast<int>(st.error_code()));
  EXPECT_EQ(d.status.message(), st.error_message());
  for (const google::protobuf::Any& any : d.status.details()) {
    if (any.Is<google::rpc::ErrorInfo>()) any.UnpackTo(&d.info.emplace());
    if (any.Is<google::rpc::BadRequest>()) any.UnpackTo(&d.bad.emplace());
    if (any.Is<google::rpc::RetryInfo>()) any.UnpackTo(&d.retry.emplace());
    if (any.Is<google::rpc::LocalizedMessage>()) any.UnpackTo(&d.zh.emplace());
  }
  return d;
}

class StructuredErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    RecordsOptions options;
    options.quota_records_per_day = 3;
    records_ = std::make_unique<RecordsCore>(client_.get(), options);
    orgs_ = std::make_unique<OrgGrpc>(records_.get(), authn_.get());
    indicators_ = std::make_unique<IndicatorGrpc>(records_.get(), authn_.get());
    activities_ = std::make_unique<ActivityGrpc>(records_.get(), authn_.get());
    ServerOptions o;
    o.services = {orgs_.get(), indicators_.get(), activities_.get()};
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    v1::CreateOrgRequest req;
    req.set_org_id("kjj");
    req.mutable_org()->set_display_name("kjj");
    v1::Org org;
    ASSERT_TRUE(Call([&](auto& ctx) {
                  return v1::OrgService::Stub(channel_).CreateOrg(&ctx, req, &org);
                }).ok());
    v1::LoadProfileRequest load;
    load.set_parent("orgs/kjj");
    *load.mutable_profile() = govreport::testing::ShippedProfile();
    v1::LoadProfileResponse lr;
    ASSERT_TRUE(Call([&](auto& ctx) {
                  return v1::IndicatorService::Stub(channel_).LoadProfile(&ctx, load, &lr);
                }).ok());
  }

  template <typename F>
  grpc::Status Call(F f) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, token_);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return f(ctx);
  }

  grpc::Status Create(const std::string& date, const std::string& request_id = "",
                      v1::ActivityRecord* out = nullptr) {
    v1::CreateActivityRequest req;
    req.set_parent("orgs/kjj");
    req.set_request_id(request_id);
    req.mutable_activity()->set_type("theme_party_day");
    req.mutable_activity()->set_occurred_on(date);
    v1::ActivityRecord ignored;
    return Call([&](auto& ctx) {
      return v1::ActivityService::Stub(channel_).CreateActivity(&ctx, req, out ? out : &ignored);
    });
  }

  testing::RedisServer redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<RecordsCore> records_;
  std::unique_ptr<OrgGrpc> orgs_;
  std::unique_ptr<IndicatorGrpc> indicators_;
  std::unique_ptr<ActivityGrpc> activities_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_ = "op-secret";
};

TEST_F(StructuredErrorsTest, BadDateNamesTheFieldWithReasonDomainAndChinese) {
  grpc::Status st = Create("2023-13-45");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The English message is as before.
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "activity.occurred_on: ")) << st.error_message();
  Decoded d = Decode(st);
  ASSERT_TRUE(d.info.has_value());
  EXPECT_EQ(d.info->reason(), "INVALID_DATE");
  EXPECT_EQ(d.info->domain(), errors::kDomain);
  ASSERT_TRUE(d.bad.has_value());
  ASSERT_EQ(d.bad->field_violations_size(), 1);
  EXPECT_EQ(d.bad->field_violations(0).field(), "activity.occurred_on");
  EXPECT_FALSE(d.bad->field_violations(0).description().empty());
  ASSERT_TRUE(d.zh.has_value());
  EXPECT_EQ(d.zh->locale(), "zh-CN");
  EXPECT_TRUE(absl::StrContains(d.zh->message(), "日期")) << d.zh->message();
  EXPECT_FALSE(d.retry.has_value()) << "a bad date does not get better by retrying";
}

TEST_F(StructuredErrorsTest, UnknownActivityTypeAndReusedRequestIdHaveTheirReasons) {
  v1::CreateActivityRequest req;
  req.set_parent("orgs/kjj");
  req.mutable_activity()->set_type("no_such_type");
  req.mutable_activity()->set_occurred_on("2023-05-04");
  v1::ActivityRecord out;
  grpc::Status st = Call([&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).CreateActivity(&ctx, req, &out);
  });
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Decoded d = Decode(st);
  EXPECT_EQ(d.info->reason(), "UNKNOWN_ACTIVITY_TYPE");
  EXPECT_EQ(d.bad->field_violations(0).field(), "activity.type");

  ASSERT_TRUE(Create("2023-05-04", "rq-1").ok());
  st = Create("2023-05-05", "rq-1");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  d = Decode(st);
  EXPECT_EQ(d.info->reason(), "REQUEST_ID_REUSED");
  EXPECT_EQ(d.bad->field_violations(0).field(), "request_id");
}

TEST_F(StructuredErrorsTest, RevisionMismatchIsAbortedWithRetryInfo) {
  v1::ActivityRecord created;
  ASSERT_TRUE(Create("2023-05-04", "", &created).ok());
  v1::AmendActivityRequest req;
  *req.mutable_activity() = created;
  req.mutable_activity()->set_occurred_on("2023-05-06");
  req.set_expected_revision(created.revision() + 5);
  req.set_reason("date");
  v1::ActivityRecord out;
  grpc::Status st = Call([&](auto& ctx) {
    return v1::ActivityService::Stub(channel_).AmendActivity(&ctx, req, &out);
  });
  ASSERT_EQ(st.error_code(), grpc::StatusCode::ABORTED) << st.error_message();
  Decoded d = Decode(st);
  EXPECT_EQ(d.info->reason(), "REVISION_MISMATCH");
  ASSERT_TRUE(d.retry.has_value());
  EXPECT_GT(d.retry->retry_delay().seconds() * 1000000000LL + d.retry->retry_delay().nanos(), 0);
}

TEST_F(StructuredErrorsTest, NotFoundAndPermissionHaveResourceReasons) {
  v1::GetActivityRequest req;
  req.set_name("orgs/kjj/activities/nope");
  v1::ActivityRecord out;
  grpc::Status st = Call(
      [&](auto& ctx) { return v1::ActivityService::Stub(channel_).GetActivity(&ctx, req, &out); });
  ASSERT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Decode(st).info->reason(), "ACTIVITY_NOT_FOUND");

  grpc::ClientContext ctx;
  st = v1::ActivityService::Stub(channel_).GetActivity(&ctx, req, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Decode(st).info->reason(), "TOKEN_MISSING");
}

TEST_F(StructuredErrorsTest, DailyQuotaIsResourceExhaustedWithReasonAndRetryInfo) {
  // The operator is exempt from quotas; an org's recorder is not.
  auth::Principal recorder;
  recorder.subject = "rec";
  recorder.org = "kjj";
  recorder.roles = {std::string(auth::kRecorder)};
  auto issued = authn_->tokens().Issue(recorder, absl::Hours(1));
  ASSERT_TRUE(issued.ok()) << issued.status();
  token_ = issued->secret;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Create("2023-05-04").ok());
  grpc::Status st = Create("2023-05-04");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  Decoded d = Decode(st);
  EXPECT_EQ(d.info->reason(), "QUOTA_EXCEEDED");
  ASSERT_TRUE(d.retry.has_value());
  EXPECT_GT(d.retry->retry_delay().seconds(), 0);
}

TEST_F(StructuredErrorsTest, RedisDownIsUnavailableWithRetryAndNoRedisText) {
  redis_server_.Kill();
  grpc::Status st = Create("2023-05-04");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  for (const char* internal : {"redis", "connect", "refused", "127.0.0.1", "hiredis"}) {
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(st.error_message()), internal))
        << st.error_message();
  }
  EXPECT_TRUE(absl::StrContains(st.error_message(), "error id")) << st.error_message();
  Decoded d = Decode(st);
  EXPECT_EQ(d.info->reason(), "UNAVAILABLE");
  EXPECT_FALSE(d.info->metadata().at("error_id").empty());
  EXPECT_TRUE(absl::StrContains(st.error_message(), d.info->metadata().at("error_id")));
  ASSERT_TRUE(d.retry.has_value());
  EXPECT_EQ(d.retry->retry_delay().seconds(), 1);
  EXPECT_EQ(d.zh->locale(), "zh-CN");
  EXPECT_TRUE(absl::StrContains(d.zh->message(), d.info->metadata().at("error_id")));
  ASSERT_TRUE(redis_server_.Restart());
}

TEST_F(StructuredErrorsTest, LuaAndRedisErrorTextIsScrubbed) {
  // A request id's key of the wrong type: the write script's HMGET fails
  // inside Lua with Redis's WRONGTYPE text.
  ASSERT_TRUE(client_->Command({"SET", "gr:{kjj}:rq:broken", "x"}).ok());
  grpc::Status st = Create("2023-05-04", "broken");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INTERNAL) << st.error_message();
  for (const char* internal : {"WRONGTYPE", "redis", "script", "HMGET", "user_script"}) {
    EXPECT_FALSE(absl::StrContains(st.error_message(), internal)) << st.error_message();
  }
  Decoded d = Decode(st);
  EXPECT_EQ(d.info->reason(), "INTERNAL");
  for (const google::protobuf::Any& any : d.status.details()) {
    EXPECT_FALSE(absl::StrContains(any.value(), "WRONGTYPE"));
  }
  EXPECT_TRUE(absl::StrContains(st.error_message(), d.info->metadata().at("error_id")));
}

// The payload API itself.
TEST(ErrorsTest, NestedRepathsFieldsAndKeepsReason) {
  absl::Status inner =
      errors::InvalidField("activity.occurred_on", "INVALID_DATE", "not a date", "日期不正确");
  absl::Status outer = errors::Nested(inner, "requests[3]: ", "requests[3].");
  EXPECT_EQ(outer.message(), "requests[3]: activity.occurred_on: not a date");
  errors::Details d = errors::DetailsOf(outer);
  EXPECT_EQ(d.reason, "INVALID_DATE");
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].field, "requests[3].activity.occurred_on");
  EXPECT_EQ(d.fields[0].description, "not a date");
  EXPECT_EQ(d.zh, "requests[3]: activity.occurred_on：日期不正确");
}

TEST(ErrorsTest, DefaultsComeFromTheCode) {
  errors::Details d = errors::DetailsOf(absl::NotFoundError("x"));
  EXPECT_EQ(d.reason, "NOT_FOUND");
  EXPECT_FALSE(d.zh.empty());
  EXPECT_FALSE(d.retry.has_value());
  EXPECT_FALSE(d.internal);
  EXPECT_TRUE(errors::DetailsOf(absl::AbortedError("x")).retry.has_value());
  EXPECT_TRUE(errors::DetailsOf(absl::InternalError("x")).internal);
  // WithField describes the field by the message without its path.
  d = errors::DetailsOf(errors::WithField(absl::InvalidArgumentError("to: bad"), "to"));
  EXPECT_EQ(d.fields[0].description, "bad");
}

TEST(ErrorsTest, CallerMessageKeepsRedisTextOutOfStoredErrors) {
  // What a worker stores in Report.error: an upstream's refusal reads as
  // it was said, a Redis reply only as an error id.
  EXPECT_EQ(CallerMessage(absl::FailedPreconditionError("template has no body")),
            "template has no body");
  std::string stored = CallerMessage(
      errors::Internal(absl::StatusCode::kUnavailable, "ERR EVALSHA connection reset by peer"));
  EXPECT_TRUE(absl::StrContains(stored, "error id ")) << stored;
  EXPECT_FALSE(absl::StrContains(stored, "EVALSHA")) << stored;
  EXPECT_EQ(CallerMessage(absl::OkStatus()), "");
}

TEST(ErrorsTest, FromGrpcStatusKeepsAnUpstreamsDetails) {
  absl::Status original = errors::WithRetry(
      errors::InvalidField("a.b", "SOME_REASON", "wrong", "错误"), absl::Milliseconds(250));
  absl::Status back = FromGrpcStatus(ToGrpcStatus(original));
  EXPECT_EQ(back.code(), original.code());
  EXPECT_EQ(back.message(), original.message());
  errors::Details d = errors::DetailsOf(back);
  EXPECT_EQ(d.reason, "SOME_REASON");
  EXPECT_EQ(d.fields[0].field, "a.b");
  EXPECT_EQ(d.zh, "a.b：错误");
  EXPECT_EQ(d.retry, absl::Milliseconds(250));
}

TEST(ErrorsTest, MessageAndDetailsTogetherFitTheHeaderLimit) {
  // Chinese is percent-encoded three times over: the worst case.
  std::string long_text;
  for (int i = 0; i < 1000; ++i) long_text += "错";
  absl::Status st = absl::InvalidArgumentError(long_text);
  for (int i = 0; i < 40; ++i) {
    st = errors::WithField(std::move(st), absl::StrCat("requests[", i, "].activity.note"),
                           long_text);
  }
  grpc::Status out = ToGrpcStatus(st);
  size_t wire = (out.error_details().size() + 2) / 3 * 4;
  for (unsigned char c : out.error_message()) wire += (c < 0x20 || c > 0x7e) ? 3 : 1;
  EXPECT_LE(wire, 7u * 1024);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(out.error_details()));
  // Clients (grpc_status.rpc_status) insist that the two messages agree.
  EXPECT_EQ(rpc.message(), out.error_message());
  EXPECT_GE(rpc.details_size(), 3);  // ErrorInfo, BadRequest, LocalizedMessage.
}

}  // namespace
}  // namespace govreport::records
