// The gateway in front of the whole suite in one process (the assembler's
// test stack: redis-server, records, templates, approval, assembler), over
// real HTTP with httplib's client: every route reaches its RPC, the codes
// map, JSON round-trips, the bad-input cases, SSE resume, OpenAPI, health.
#include "gateway/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "gateway/transcode.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::gateway {
namespace {

using assembler::testing::Stack;

std::map<std::string, std::shared_ptr<grpc::Channel>> Backends(Stack& stack) {
  auto dial = [](int port) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  };
  return {{"records", dial(stack.records_port())},
          {"templates", dial(stack.templates_port())},
          {"approval", dial(stack.approval_port())},
          {"assembler", dial(stack.assembler_port())}};
}

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = Stack::Start();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    auto tokens = stack_->SetUpOrg("gw");
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = new assembler::testing::OrgTokens(*tokens);
    ASSERT_TRUE(stack_->AddBaseYear("gw").ok());
    GatewayOptions o;
    o.backends = Backends(*stack_);
    o.max_body_bytes = 64 << 10;
    auto gw = Gateway::Start(o);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = gw->release();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete tokens_;
    delete stack_;
  }

  static httplib::Headers Auth(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  static httplib::Client Client(int port = 0) {
    httplib::Client c("127.0.0.1", port != 0 ? port : gateway_->port());
    c.set_read_timeout(30);
    return c;
  }
  // The "reason" of the error's ErrorInfo, "" if none.
  static std::string Reason(const std::string& body) {
    size_t at = body.find(R"("reason":")");
    if (at == std::string::npos) return "";
    at += 10;
    return body.substr(at, body.find('"', at) - at);
  }

  static Stack* stack_;
  static assembler::testing::OrgTokens* tokens_;
  static Gateway* gateway_;
};

Stack* GatewayTest::stack_ = nullptr;
assembler::testing::OrgTokens* GatewayTest::tokens_ = nullptr;
Gateway* GatewayTest::gateway_ = nullptr;

// A request path for a route: each wildcard filled with an id of the org
// set up ("orgs/gw/templates/annual"), or one that does not exist.
std::string FillPath(const PathTemplate& t, const std::map<std::string, std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const auto& seg = t.segments[i];
    std::string part = seg.literal;
    if (seg.wildcard || seg.rest) {
      auto it = i > 0 ? ids.find(t.segments[i - 1].literal) : ids.end();
      part = it != ids.end() ? it->second : "nope";
    }
    absl::StrAppend(&out, "/", part);
  }
  if (!t.verb.empty()) absl::StrAppend(&out, ":", t.verb);
  return out;
}

// The code the backend answers for the request the gateway would send.
grpc::StatusCode Direct(const Route& route, const std::string& path,
                        std::map<std::string, std::shared_ptr<grpc::Channel>>& backends,
                        const std::string& token) {
  MatchResult m = MatchRoute({route}, route.http_method, path);
  RequestError error;
  auto msg = BuildRequest(route, m.bindings, {}, route.body.empty() ? "" : "{}", &error);
  if (!msg.ok()) return grpc::StatusCode::INVALID_ARGUMENT;
  grpc::GenericStub stub(backends.at(BackendFor(route.method->service()->full_name())));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  // A stream that says nothing within 3 s opened fine (the gateway
  // answers 200 and waits too).
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(route.server_streaming ? 3 : 20));
  std::string bytes = (*msg)->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer in(&slice, 1), out;
  if (route.server_streaming) {
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&ctx, route.rpc_path, &cq);
    void* tag;
    bool ok;
    call->StartCall(&cq), cq.Next(&tag, &ok);
    call->Write(in, &cq), cq.Next(&tag, &ok);
    call->WritesDone(&cq), cq.Next(&tag, &ok);
    call->Read(&out, &cq), cq.Next(&tag, &ok);
    grpc::StatusCode code = grpc::StatusCode::OK;
    if (!ok) {
      grpc::Status st;
      call->Finish(&st, &cq), cq.Next(&tag, &ok);
      code = st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? grpc::StatusCode::OK
                                                                    : st.error_code();
    } else {
      ctx.TryCancel();
      grpc::Status st;
      call->Finish(&st, &cq), cq.Next(&tag, &ok);
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return code;
  }
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, route.rpc_path, grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return status.error_code();
}

// Sends one request; a stream is read up to its first chunk.
int Send(httplib::Client& c, const Route& r, const std::string& path, const httplib::Headers& h,
         std::string* body) {
  if (r.server_streaming) {
    // The status comes before the events; the first chunk is enough.
    int status = -1;
    c.Get(
        path, h,
        [&](const httplib::Response& head) {
          status = head.status;
          return true;
        },
        [&](const char* data, size_t n) {
          body->append(data, n);
          return false;
        });
    return status;
  }
  std::string json = r.body.empty() ? "" : "{}";
  auto res = r.http_method == "GET"      ? c.Get(path, h)
             : r.http_method == "DELETE" ? c.Delete(path, h)
             : r.http_method == "POST"   ? c.Post(path, h, json, "application/json")
             : r.http_method == "PUT"    ? c.Put(path, h, json, "application/json")
                                         : c.Patch(path, h, json, "application/json");
  if (!res) return -1;
  *body = res->body;
  return res->status;
}

// google.rpc.Code's HTTP mapping for the codes the routes answer, written
// out here rather than taken from the gateway.
const std::map<grpc::StatusCode, int> kHttpOfCode = {
    {grpc::StatusCode::OK, 200},
    {grpc::StatusCode::INVALID_ARGUMENT, 400},
    {grpc::StatusCode::FAILED_PRECONDITION, 400},
    {grpc::StatusCode::OUT_OF_RANGE, 400},
    {grpc::StatusCode::UNAUTHENTICATED, 401},
    {grpc::StatusCode::PERMISSION_DENIED, 403},
    {grpc::StatusCode::NOT_FOUND, 404},
    {grpc::StatusCode::ALREADY_EXISTS, 409},
    {grpc::StatusCode::ABORTED, 409},
    {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
    {grpc::StatusCode::UNIMPLEMENTED, 501},
    {grpc::StatusCode::UNAVAILABLE, 503},
    {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
};

// The RPCs that must answer 2xx to the operator on the org SetUpOrg made.
constexpr const char* kExpectedToSucceed[] = {
    "GetDocumentSettings", "ListDocumentNumbers", "GetIndicator",  "GetOrg",
    "GetProfile",          "GetTemplate",         "GetWorkflow",   "ListActivities",
    "ListApprovals",       "ListIndicators",      "ListMyTasks",   "ListOrgs",
    "ListReports",         "ListRoleMembers",     "ListRoles",     "ListTemplateRevisions",
    "ListTemplates",       "ListTokens",          "ListWorkflows", "Render",
    "StreamEvents",        "ValidateTemplate",    "WhoAmI"};

// `body` parses as `type`'s JSON with no field left over.
void ExpectStrictly(const google::protobuf::Descriptor* type, const std::string& body) {
  std::unique_ptr<google::protobuf::Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  google::protobuf::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, msg.get(), strict).ok())
      << type->full_name() << ": " << body.substr(0, 300);
}

TEST_F(GatewayTest, EveryRouteReachesItsRpcWithTheMappedCode) {
  httplib::Client c = Client();
  auto list = c.Get("/v1/orgs/gw/indicators?pageSize=1", Auth(assembler::testing::kOperator));
  ASSERT_TRUE(list) << "no answer";
  ASSERT_EQ(list->status, 200) << list->body;
  // "name":"orgs/gw/indicators/KEY"
  size_t at = list->body.find("orgs/gw/indicators/");
  ASSERT_NE(at, std::string::npos) << list->body;
  at += 19;
  std::string key = list->body.substr(at, list->body.find('"', at) - at);
  std::map<std::string, std::string> ids = {
      {"orgs", "gw"},        {"templates", "annual"}, {"workflows", "annual"}, {"indicators", key},
      {"roles", "approver"}, {"revisions", "1"},      {"documentNumbers", "1"}};
  auto backends = Backends(*stack_);
  std::set<std::string> answered;  // RPCs that answered 2xx.
  for (const Route& r : gateway_->routes()) {
    std::string path = FillPath(r.path, ids);
    if (r.method->name() == "StreamEvents") path += "?position=START_POSITION_OLDEST";
    std::string body;
    int http = Send(c, r, path, Auth(assembler::testing::kOperator), &body);
    SCOPED_TRACE(absl::StrCat(r.http_method, " ", path, " → ", http, " ", body.substr(0, 300)));
    EXPECT_NE(Reason(body), "NO_ROUTE");
    EXPECT_NE(Reason(body), "METHOD_NOT_ALLOWED");
    std::string direct_path = r.server_streaming ? FillPath(r.path, ids) : path;
    grpc::StatusCode code = Direct(r, direct_path, backends, assembler::testing::kOperator);
    // A table of its own, not HttpStatusFor: a wrong mapping there would
    // be on both sides.
    auto expected = kHttpOfCode.find(code);
    if (expected == kHttpOfCode.end()) {
      ADD_FAILURE() << "no expected HTTP status for " << GrpcCodeName(code);
    } else {
      EXPECT_EQ(http, expected->second) << GrpcCodeName(code);
    }
    if (http / 100 == 2) {
      answered.insert(r.method->name());
      // A misrouted call that happens to succeed answers another type.
      if (!r.server_streaming) ExpectStrictly(r.method->output_type(), body);
    }
    if (http >= 400) {
      EXPECT_TRUE(absl::StartsWith(body, "{\"error\":{\"code\":")) << body;
    }
  }
  // The reads of what SetUpOrg made succeed.
  std::vector<std::string> missing;
  for (const char* rpc : kExpectedToSucceed) {
    if (answered.count(rpc) == 0) missing.emplace_back(rpc);
  }
  EXPECT_TRUE(missing.empty()) << "not 2xx: " << absl::StrJoin(missing, ", ")
                               << "; 2xx: " << absl::StrJoin(answered, ", ");
}

TEST_F(GatewayTest, CreatesAndReadsAnActivityAsJson) {
  httplib::Client c = Client();
  httplib::Headers h = Auth(tokens_->recorder);
  h.emplace("X-Request-Id", "gw-test-1");
  auto res = c.Post("/v1/orgs/gw/activities?requestId=gw-create-1", h,
                    R"({"type":"theme_party_day","occurredOn":"2023-11-02","title":"主题党日"})",
                    "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "gw-test-1");
  size_t at = res->body.find(R"("name":")");
  ASSERT_NE(at, std::string::npos);
  at += 8;
  std::string name = res->body.substr(at, res->body.find('"', at) - at);
  auto got = c.Get("/v1/" + name, Auth(tokens_->recorder));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_TRUE(absl::StrContains(got->body, "主题党日")) << got->body;
  EXPECT_TRUE(absl::StrContains(got->body, "\"occurredOn\":\"2023-11-02\"")) << got->body;
  // Query parameters: a filter and a repeated-free page size.
  auto listed =
      c.Get("/v1/orgs/gw/activities?type=theme_party_day&pageSize=50", Auth(tokens_->recorder));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200);
  EXPECT_TRUE(absl::StrContains(listed->body, name));
}

TEST_F(GatewayTest, ErrorsCarryTheBackendsDetails) {
  httplib::Client c = Client();
  auto none = c.Get("/v1/orgs/gw/activities");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401) << none->body;
  EXPECT_TRUE(absl::StrContains(none->body, R"("status":"UNAUTHENTICATED")")) << none->body;
  auto bad = c.Post("/v1/orgs/gw/activities", Auth(tokens_->recorder),
                    R"({"type":"no_such_type","occurredOn":"2023-11-02"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_TRUE(absl::StrContains(bad->body, "\"@type\":\"type.googleapis.com/google.rpc."))
      << bad->body;
  auto other = c.Get("/v1/orgs/other", Auth(tokens_->recorder));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403) << other->body;
}

TEST_F(GatewayTest, ADownBackendIsNamedWithoutGrpcsTransportText) {
  GatewayOptions o;
  o.backends = Backends(*stack_);
  // Nothing listens on port 1.
  o.backends["records"] = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  auto gw = Gateway::Start(o);
  ASSERT_TRUE(gw.ok()) << gw.status();
  httplib::Client c = Client((*gw)->port());
  auto res = c.Get("/v1/whoami", Auth(tokens_->recorder));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(Reason(res->body), "BACKEND_UNAVAILABLE");
  EXPECT_TRUE(absl::StrContains(res->body, "the records service is unavailable")) << res->body;
  EXPECT_TRUE(absl::StrContains(res->body, "google.rpc.RetryInfo")) << res->body;
  EXPECT_FALSE(absl::StrContains(res->body, "127.0.0.1")) << res->body;
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(res->body), "connect")) << res->body;
  // A backend that is up: its own error, details and all, goes through.
  auto denied = c.Get("/v1/orgs/other/templates", Auth(tokens_->recorder));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403) << denied->body;
  EXPECT_NE(Reason(denied->body), "BACKEND_UNAVAILABLE");
}

TEST_F(GatewayTest, AMissingBackendFailsStart) {
  GatewayOptions o;
  o.backends = Backends(*stack_);
  o.backends.erase("assembler");
  auto gw = Gateway::Start(o);
  EXPECT_EQ(gw.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(gw.status().message(), "assembler")) << gw.status();
}

TEST_F(GatewayTest, BadInputGetsJsonErrors) {
  httplib::Client c = Client();
  httplib::Headers h = Auth(tokens_->recorder);
  auto malformed = c.Post("/v1/orgs/gw/activities", h, R"({"type": )", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_TRUE(absl::StrContains(malformed->body, "not valid JSON")) << malformed->body;
  auto unknown =
      c.Post("/v1/orgs/gw/activities", h, R"({"type":"x","colour":"red"})", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_TRUE(absl::StrContains(unknown->body, R"("field":"activity.colour")")) << unknown->body;
  auto query = c.Get("/v1/orgs/gw/activities?colour=red", h);
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 400);
  EXPECT_TRUE(absl::StrContains(query->body, "colour")) << query->body;
  std::string big(100 << 10, ' ');
  auto large = c.Post("/v1/orgs/gw/activities", h, "{" + big + "}", "application/json");
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_TRUE(absl::StrContains(large->body, "BODY_TOO_LARGE")) << large->body;
  httplib::Headers with_id = h;
  with_id.emplace("X-Request-Id", "gw-refused-1");
  auto nothing = c.Get("/v1/nothing/here", with_id);
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->status, 404);
  EXPECT_EQ(Reason(nothing->body), "NO_ROUTE");
  // Refusals carry the request id too, the caller's or a new one.
  EXPECT_EQ(nothing->get_header_value("X-Request-Id"), "gw-refused-1");
  EXPECT_FALSE(malformed->get_header_value("X-Request-Id").empty());
  EXPECT_FALSE(large->get_header_value("X-Request-Id").empty());
  auto wrong = c.Delete("/v1/orgs/gw", h);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET, PATCH");
  EXPECT_TRUE(absl::StrContains(wrong->body, R"("code":405)")) << wrong->body;
  // What httplib refuses itself carries the code of its HTTP status.
  auto long_uri = c.Get("/v1/orgs/gw/activities?type=" + std::string(9000, 'a'), h);
  ASSERT_TRUE(long_uri);
  EXPECT_EQ(long_uri->status, 414);
  EXPECT_EQ(Reason(long_uri->body), "URI_TOO_LONG") << long_uri->body;
  EXPECT_TRUE(absl::StrContains(long_uri->body, R"("status":"RESOURCE_EXHAUSTED")"))
      << long_uri->body;
  // HEAD is GET without the body, not a 405.
  auto head = c.Head("/v1/orgs/gw", h);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty()) << head->body;
  auto with_body = c.Delete("/v1/tokens/x", h, "{}", "application/json");
  ASSERT_TRUE(with_body);
  EXPECT_EQ(with_body->status, 400);
  EXPECT_TRUE(absl::StrContains(with_body->body, "takes no body")) << with_body->body;
  // A JSON body sent as a form (curl -d without a Content-Type) is still JSON.
  auto form = c.Post("/v1/orgs/gw/activities", h, R"({"type":"x","colour":"red"})",
                     "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_TRUE(absl::StrContains(form->body, "activity.colour")) << form->body;
}

TEST_F(GatewayTest, RateLimitAnswers429WithRetryAfter) {
  GatewayOptions o;
  o.backends = Backends(*stack_);
  o.rate_limit_rps = 0.01;  // one request, then one per 100 s
  auto gw = Gateway::Start(o);
  ASSERT_TRUE(gw.ok()) << gw.status();
  httplib::Client c = Client((*gw)->port());
  auto first = c.Get("/v1/whoami", Auth(tokens_->recorder));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  auto second = c.Get("/v1/whoami", Auth(tokens_->recorder));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(second->get_header_value("Retry-After"), "100");
  EXPECT_EQ(Reason(second->body), "RATE_LIMITED");
  EXPECT_TRUE(absl::StrContains(second->body, R"("retryDelay":"100s")")) << second->body;
  // The bucket is the client's address: another token, or a made-up one
  // each time, gets no fresh bucket.
  auto other = c.Get("/v1/whoami", Auth(tokens_->drafter));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 429);
  for (int i = 0; i < 20; ++i) {
    auto fake = c.Get("/v1/whoami", Auth(absl::StrCat("fake-token-", i)));
    ASSERT_TRUE(fake);
    EXPECT_EQ(fake->status, 429) << i;
  }
}

TEST_F(GatewayTest, PlaintextOnNonLoopbackNeedsInsecureAndRefusesTokens) {
  GatewayOptions o;
  o.backends = Backends(*stack_);
  o.listen = "0.0.0.0:0";
  auto refused = Gateway::Start(o);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  // The HTTPS files are checked as the services check theirs.
  GatewayOptions missing = o;
  missing.tls_cert = "/nonexistent/gateway.crt";
  missing.tls_key = "/nonexistent/gateway.key";
  auto unreadable = Gateway::Start(missing);
  EXPECT_EQ(unreadable.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(unreadable.status().message(), "--tls-cert"))
      << unreadable.status();
  missing.tls_key.clear();
  EXPECT_EQ(Gateway::Start(missing).status().code(), absl::StatusCode::kInvalidArgument);
  o.insecure = true;
  auto gw = Gateway::Start(o);
  ASSERT_TRUE(gw.ok()) << gw.status();
  httplib::Client c = Client((*gw)->port());
  auto with_token = c.Get("/v1/whoami", Auth(tokens_->recorder));
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 403);
  EXPECT_EQ(Reason(with_token->body), "PLAINTEXT_TOKEN");
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  httplib::Headers proxied = Auth(tokens_->recorder);
  proxied.emplace("X-Forwarded-Proto", "https");
  auto via_proxy = c.Get("/v1/whoami", proxied);
  ASSERT_TRUE(via_proxy);
  EXPECT_EQ(via_proxy->status, 200) << via_proxy->body;
}

// Reads SSE events of `path` until `count` events named "event" came.
std::vector<std::string> ReadEventIds(httplib::Client& c, const std::string& path,
                                      const httplib::Headers& h, size_t count) {
  std::vector<std::string> ids;
  std::string buffer;
  c.Get(path, h, [&](const char* data, size_t n) {
    buffer.append(data, n);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string block = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (!absl::StrContains(block, "event: event\n")) continue;
      for (absl::string_view line : absl::StrSplit(block, '\n')) {
        if (absl::ConsumePrefix(&line, "id: ")) ids.emplace_back(line);
      }
    }
    return ids.size() < count;
  });
  return ids;
}

TEST_F(GatewayTest, EventsAsSseResumeFromLastEventId) {
  httplib::Client c = Client();
  for (const char* day : {"2023-05-04", "2023-06-05", "2023-08-06"}) {
    auto made = c.Post("/v1/orgs/gw/activities", Auth(tokens_->recorder),
                       absl::StrCat(R"({"type":"theme_party_day","occurredOn":")", day, R"("})"),
                       "application/json");
    ASSERT_TRUE(made);
    ASSERT_EQ(made->status, 200) << made->body;
  }
  httplib::Headers h = Auth(tokens_->auditor);
  std::string path = "/v1/orgs/gw/events:stream?position=START_POSITION_OLDEST";
  std::vector<std::string> ids = ReadEventIds(c, path, h, 3);
  ASSERT_EQ(ids.size(), 3u);
  httplib::Headers resume = h;
  resume.emplace("Last-Event-ID", ids[0]);
  std::vector<std::string> again = ReadEventIds(c, "/v1/orgs/gw/events:stream", resume, 2);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0], ids[1]);
  EXPECT_EQ(again[1], ids[2]);
  // Last-Event-ID wins over ?position= (a browser's EventSource reconnects
  // to the same URL, position and all).
  std::vector<std::string> resumed = ReadEventIds(c, path, resume, 1);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0], ids[1]);
  // A bad cursor is an HTTP error, not a 200 stream.
  httplib::Headers bad = h;
  bad.emplace("Last-Event-ID", "garbage");
  auto res = c.Get("/v1/orgs/gw/events:stream", bad);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
}

TEST_F(GatewayTest, StreamsOverTheLimitGet429AndStopEndsThemWithShuttingDown) {
  GatewayOptions o;
  o.backends = Backends(*stack_);
  o.threads = 4;
  o.max_streams = 1;
  o.keepalive = absl::Milliseconds(100);
  auto gw = Gateway::Start(o);
  ASSERT_TRUE(gw.ok()) << gw.status();
  const std::string path = "/v1/orgs/gw/events:stream";
  httplib::Headers h = Auth(tokens_->auditor);
  absl::Notification opened;
  absl::Mutex mu;
  std::string body;
  int status = -1;
  std::thread open_stream([&] {
    httplib::Client c = Client((*gw)->port());
    c.Get(
        path, h,
        [&](const httplib::Response& head) {
          status = head.status;
          opened.Notify();
          return true;
        },
        [&](const char* data, size_t n) {
          absl::MutexLock lock(&mu);
          body.append(data, n);
          return true;
        });
    if (!opened.HasBeenNotified()) opened.Notify();
  });
  opened.WaitForNotification();
  EXPECT_EQ(status, 200);
  httplib::Client c = Client((*gw)->port());
  auto second = c.Get(path, h);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  EXPECT_EQ(Reason(second->body), "GATEWAY_STREAM_LIMIT");
  EXPECT_EQ(second->get_header_value("Retry-After"), "5");
  EXPECT_TRUE(absl::StrContains(second->body, "google.rpc.RetryInfo")) << second->body;
  (*gw)->Stop();
  open_stream.join();
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(absl::StrContains(body, "retry: 1000\nevent: error\n")) << body;
  EXPECT_TRUE(absl::StrContains(body, R"("status":"UNAVAILABLE")")) << body;
  EXPECT_TRUE(absl::StrContains(body, "SHUTTING_DOWN")) << body;
  EXPECT_FALSE(absl::StrContains(body, "event: end")) << body;
}

TEST_F(GatewayTest, ServesOpenApiAndHealth) {
  httplib::Client c = Client();
  auto doc = c.Get("/openapi.json");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, 200);
  EXPECT_TRUE(absl::StrContains(doc->body, "/v1/orgs/{orgsId}/activities"));
  auto healthz = c.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  auto readyz = c.Get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200) << readyz->body;
}

}  // namespace
}  // namespace govreport::gateway
