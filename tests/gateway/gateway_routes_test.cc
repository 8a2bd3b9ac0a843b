// The gateway's routing and transcoding without a network: path
// templates, the routes read from the protos, requests built from path,
// query and body, errors as JSON.
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/openapi.h"
#include "gateway/rate_limit.h"
#include "gateway/routes.h"
#include "gateway/transcode.h"
#include "govreport/records/v1/records.pb.h"

namespace govreport::gateway {
namespace {

const Route& Find(const std::vector<Route>& routes, const std::string& method,
                  const std::string& path) {
  MatchResult m = MatchRoute(routes, method, path);
  EXPECT_NE(m.route, nullptr) << method << " " << path;
  static const Route kNone;
  return m.route != nullptr ? *m.route : kNone;
}

// A request path the template matches: each wildcard a value no literal
// segment has ("v3"), a "**" two segments.
std::string SamplePath(const PathTemplate& t) {
  std::string out;
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const PathTemplate::Segment& seg = t.segments[i];
    if (seg.rest) {
      absl::StrAppend(&out, "/r", i, "/s", i);
    } else if (seg.wildcard) {
      absl::StrAppend(&out, "/v", i);
    } else {
      absl::StrAppend(&out, "/", seg.literal);
    }
  }
  if (!t.verb.empty()) absl::StrAppend(&out, ":", t.verb);
  return out;
}

TEST(GatewayRoutes, ParsesTemplates) {
  auto t = ParsePathTemplate("/v1/{name=orgs/*/approvals/*}:approve");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->verb, "approve");
  ASSERT_EQ(t->segments.size(), 5u);
  ASSERT_EQ(t->variables.size(), 1u);
  EXPECT_EQ(t->variables[0].field_path, "name");
  EXPECT_EQ(t->variables[0].begin, 1u);
  EXPECT_EQ(t->variables[0].end, 5u);
  auto plain = ParsePathTemplate("/v1/tokens/{token_id}");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->variables[0].pattern, "*");
  EXPECT_FALSE(ParsePathTemplate("v1/x").ok());
  EXPECT_FALSE(ParsePathTemplate("/v1/{name=orgs/*").ok());
}

TEST(GatewayRoutes, EveryRpcHasARouteAndNoTwoRoutesCollide) {
  auto routes = BuildRoutes();
  ASSERT_TRUE(routes.ok()) << routes.status();
  std::set<std::string> rpcs;
  std::set<std::string> keys;
  for (const Route& r : *routes) {
    rpcs.insert(r.rpc_path);
    EXPECT_TRUE(keys.insert(r.http_method + " " + r.path.text).second) << r.path.text;
  }
  // Two templates of different text can still match the same path (a
  // wildcard where another has a literal): a sample path of each route
  // must come back to that route.
  for (const Route& r : *routes) {
    std::string sample = SamplePath(r.path);
    MatchResult m = MatchRoute(*routes, r.http_method, sample);
    EXPECT_EQ(m.route, &r) << r.http_method << " " << sample << " (" << r.path.text << ") went to "
                           << (m.route != nullptr ? m.route->rpc_path : "nothing");
  }
  // Every RPC of every API service: a missing rule would leave one
  // unreachable.
  std::set<std::string> services;
  for (const Route& r : *routes) {
    const auto* service = r.method->service();
    services.insert(service->name());
    for (int i = 0; i < service->method_count(); ++i) {
      EXPECT_TRUE(rpcs.count("/" + service->full_name() + "/" + service->method(i)->name()))
          << service->method(i)->full_name();
    }
  }
  EXPECT_EQ(services, (std::set<std::string>{"ActivityService", "ApprovalService", "AuthService",
                                             "EventService", "IndicatorService", "OrgService",
                                             "ReportService", "TemplateService"}));
}

TEST(GatewayRoutes, MatchesNestedAndVerbsAndReportsAllowed) {
  auto routes = BuildRoutes();
  ASSERT_TRUE(routes.ok());
  MatchResult m = MatchRoute(*routes, "POST", "/v1/orgs/a/approvals/b:approve");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method->name(), "Approve");
  ASSERT_EQ(m.bindings.size(), 1u);
  EXPECT_EQ(m.bindings[0].second, "orgs/a/approvals/b");
  m = MatchRoute(*routes, "PATCH", "/v1/orgs/a/activities/x");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.bindings[0].first, "activity.name");
  m = MatchRoute(*routes, "GET", "/v1/orgs/a/reports/r/revisions/2");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method->name(), "GetRevision");
  m = MatchRoute(*routes, "DELETE", "/v1/orgs/a");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(std::set<std::string>(m.allowed.begin(), m.allowed.end()),
            (std::set<std::string>{"GET", "PATCH"}));
  m = MatchRoute(*routes, "GET", "/v1/nothing/here");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allowed.empty());
  EXPECT_EQ(Find(*routes, "GET", "/v1/templates/shared").method->name(), "GetTemplate");
}

TEST(GatewayTranscode, BuildsFromBodyQueryAndPath) {
  auto routes = BuildRoutes();
  ASSERT_TRUE(routes.ok());
  const Route& update = Find(*routes, "PATCH", "/v1/orgs/a");
  MatchResult m = MatchRoute(*routes, "PATCH", "/v1/orgs/a");
  QueryParams query = {
      {"updateMask", "display_name"}, {"update_mask", "parent"}, {"expectedRevision", "7"}};
  RequestError error;
  auto msg = BuildRequest(update, m.bindings, query, R"({"displayName":"x"})", &error);
  ASSERT_TRUE(msg.ok()) << error.message;
  auto& req = static_cast<records::v1::UpdateOrgRequest&>(**msg);
  EXPECT_EQ(req.org().name(), "orgs/a");
  EXPECT_EQ(req.org().display_name(), "x");
  EXPECT_EQ(req.update_mask_size(), 2);
  EXPECT_EQ(req.expected_revision(), 7);

  // Nested query parameters (a.b).
  const Route& amend = Find(*routes, "PATCH", "/v1/orgs/a/activities/b");
  m = MatchRoute(*routes, "PATCH", "/v1/orgs/a/activities/b");
  msg = BuildRequest(amend, m.bindings, {{"activity.title", "t"}, {"reason", "r"}}, "", &error);
  ASSERT_TRUE(msg.ok()) << error.message;
  auto& a = static_cast<records::v1::AmendActivityRequest&>(**msg);
  EXPECT_EQ(a.activity().title(), "t");
  EXPECT_EQ(a.activity().name(), "orgs/a/activities/b");
}

TEST(GatewayTranscode, RefusesUnknownFieldsWithTheirPath) {
  auto routes = BuildRoutes();
  ASSERT_TRUE(routes.ok());
  MatchResult m = MatchRoute(*routes, "POST", "/v1/orgs/a/activities");
  ASSERT_NE(m.route, nullptr);
  RequestError error;
  EXPECT_FALSE(BuildRequest(*m.route, m.bindings, {}, R"({"title":"t","bogus":1})", &error).ok());
  EXPECT_EQ(error.field, "activity.bogus");
  error = {};
  EXPECT_FALSE(BuildRequest(*m.route, m.bindings, {}, R"({"title": )", &error).ok());
  EXPECT_TRUE(absl::StrContains(error.message, "not valid JSON")) << error.message;
  error = {};
  EXPECT_FALSE(BuildRequest(*m.route, m.bindings, {{"nope", "1"}}, "", &error).ok());
  EXPECT_EQ(error.field, "nope");
  error = {};
  m = MatchRoute(*routes, "POST", "/v1/orgs/a/activities:batchCreate");
  EXPECT_FALSE(
      BuildRequest(*m.route, m.bindings, {}, R"({"requests":[{"activity":{"x":1}}]})", &error)
          .ok());
  EXPECT_EQ(error.field, "requests[0].activity.x");
}

TEST(GatewayTranscode, ErrorJsonCarriesDetails) {
  grpc::Status st = GatewayError(grpc::StatusCode::INVALID_ARGUMENT, "BAD_REQUEST", "bad", "f.g");
  std::string json = ErrorJson(st);
  EXPECT_TRUE(absl::StrContains(json, R"("code":400)")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("status":"INVALID_ARGUMENT")")) << json;
  EXPECT_TRUE(absl::StrContains(json, "type.googleapis.com/google.rpc.ErrorInfo")) << json;
  EXPECT_TRUE(absl::StrContains(json, "type.googleapis.com/google.rpc.BadRequest")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("field":"f.g")")) << json;
  // Made as every service's errors: the project's domain, a zh-CN message.
  EXPECT_TRUE(absl::StrContains(json, R"("domain":"govreport.gov.cn")")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("locale":"zh-CN")")) << json;
  EXPECT_EQ(st.error_message(), "bad");
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::ABORTED), 409);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
}

TEST(GatewayRateLimit, NewKeysPastTheCapShareOneBucket) {
  RateLimiter limiter(1, /*max_buckets=*/2);
  absl::Time t0 = absl::FromUnixSeconds(1000);
  int retry = 0;
  EXPECT_TRUE(limiter.Allow("a", t0, &retry));
  EXPECT_TRUE(limiter.Allow("b", t0, &retry));
  EXPECT_FALSE(limiter.Allow("a", t0, &retry));
  EXPECT_EQ(retry, 1);
  // The map is full and no bucket is: every new key takes from the shared
  // overflow bucket, which holds one request.
  EXPECT_TRUE(limiter.Allow("c", t0, &retry));
  EXPECT_FALSE(limiter.Allow("d", t0, &retry));
  EXPECT_FALSE(limiter.Allow("e", t0, &retry));
  // A second later a and b are full again; the sweep drops them and a new
  // key gets its own bucket.
  absl::Time t1 = t0 + absl::Seconds(2);
  EXPECT_TRUE(limiter.Allow("f", t1, &retry));
  EXPECT_TRUE(limiter.Allow("g", t1, &retry));
  EXPECT_FALSE(limiter.Allow("f", t1, &retry));
}

TEST(GatewayOpenApi, HasEveryRoute) {
  auto routes = BuildRoutes();
  ASSERT_TRUE(routes.ok());
  std::string doc = OpenApiJson(*routes);
  EXPECT_TRUE(absl::StrContains(doc, R"("openapi": "3.0.3")")) << doc.substr(0, 200);
  EXPECT_TRUE(absl::StrContains(doc, R"("/v1/orgs/{orgsId}/activities")"));
  EXPECT_TRUE(absl::StrContains(doc, R"("/v1/orgs/{orgsId}/approvals/{approvalsId}:approve")"));
  EXPECT_TRUE(absl::StrContains(doc, "govreport.records.v1.ActivityRecord"));
  EXPECT_TRUE(absl::StrContains(doc, R"("scheme": "bearer")"));
}

}  // namespace
}  // namespace govreport::gateway
