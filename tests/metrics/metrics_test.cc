// Metrics and access logs in-process: a records server with /metrics on a
// free port, a known number of calls, the counters scraped over HTTP and
// the JSON lines it wrote on stderr.
#include "common/metrics.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "assembler/store.h"
#include "common/auth.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "records/grpc_service.h"
#include "redis_server.h"

namespace govreport {
namespace {

namespace rpb = ::govreport::records::v1;
using Labels = std::map<std::string, std::string>;

// One series of the text exposition: name{labels} value.
struct Series {
  std::string name;
  Labels labels;
  double value = 0;
};

std::vector<Series> ParseExposition(const std::string& text) {
  std::vector<Series> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    Series s;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    if (brace != absl::string_view::npos && brace < space) {
      s.name = std::string(line.substr(0, brace));
      size_t close = line.rfind('}');
      for (absl::string_view kv :
           absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',', absl::SkipEmpty())) {
        size_t eq = kv.find('=');
        s.labels[std::string(kv.substr(0, eq))] =
            std::string(kv.substr(eq + 2, kv.size() - eq - 3));
      }
    } else {
      s.name = std::string(line.substr(0, space));
    }
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &s.value)) << line;
    out.push_back(std::move(s));
  }
  return out;
}

// How many series of `name` have labels that include `want`.
int Count(const std::vector<Series>& all, absl::string_view name, const Labels& want) {
  int n = 0;
  for (const Series& s : all) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    n += match ? 1 : 0;
  }
  return n;
}

// The sum of every series of `name` whose labels include `want`.
double Sum(const std::vector<Series>& all, absl::string_view name, const Labels& want) {
  double sum = 0;
  for (const Series& s : all) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) sum += s.value;
  }
  return sum;
}

// Everything written on fd 2 while alive, read back by Text().
class StderrCapture {
 public:
  StderrCapture() : path_(absl::StrCat(::testing::TempDir(), "/stderr-", getpid(), ".log")) {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    FILE* f = std::fopen(path_.c_str(), "w");
    dup2(fileno(f), STDERR_FILENO);
    std::fclose(f);
  }
  ~StderrCapture() { Restore(); }
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
  }
  std::string Text() {
    Restore();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.ok());
    client_ = std::make_unique<redis::Client>(redis_server_.options());
    authn_ =
        std::make_unique<auth::Authenticator>(client_.get(), "op-secret", absl::ZeroDuration());
    records_ = std::make_unique<records::RecordsCore>(client_.get());
    orgs_ = std::make_unique<records::OrgGrpc>(records_.get(), authn_.get());
    ServerOptions o;
    o.services = {orgs_.get()};
    o.metrics_address = "127.0.0.1:0";
    auto s = RunningServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    ASSERT_GT(server_->metrics_port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    rpb::CreateOrgRequest req;
    req.set_org_id("kjj");
    req.mutable_org()->set_display_name("kjj");
    rpb::Org out;
    ASSERT_TRUE(GetOrCreate("op-secret", "", &req, &out).ok());
  }

  grpc::Status GetOrCreate(const std::string& token, const std::string& request_id,
                           const rpb::CreateOrgRequest* create, rpb::Org* out,
                           std::string* echoed = nullptr) {
    grpc::ClientContext ctx;
    if (!token.empty()) auth::AttachToken(ctx, token);
    if (!request_id.empty()) ctx.AddMetadata("x-request-id", request_id);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status st;
    if (create != nullptr) {
      st = rpb::OrgService::Stub(channel_).CreateOrg(&ctx, *create, out);
    } else {
      rpb::GetOrgRequest get;
      get.set_name("orgs/kjj");
      st = rpb::OrgService::Stub(channel_).GetOrg(&ctx, get, out);
    }
    if (echoed != nullptr) {
      auto it = ctx.GetServerInitialMetadata().find("x-request-id");
      *echoed = it == ctx.GetServerInitialMetadata().end()
                    ? ""
                    : std::string(it->second.data(), it->second.size());
    }
    return st;
  }

  std::vector<Series> Scrape() {
    httplib::Client http("127.0.0.1", server_->metrics_port());
    auto res = http.Get("/metrics");
    EXPECT_TRUE(res) << "no answer from /metrics";
    if (!res) return {};
    EXPECT_EQ(res->status, 200);
    return ParseExposition(res->body);
  }

  govreport::testing::RedisServer redis_server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<auth::Authenticator> authn_;
  std::unique_ptr<records::RecordsCore> records_;
  std::unique_ptr<records::OrgGrpc> orgs_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

const Labels kGetOrg = {{"grpc_service", "govreport.records.v1.OrgService"},
                        {"grpc_method", "GetOrg"},
                        {"grpc_type", "unary"}};

Labels With(Labels l, const std::string& k, const std::string& v) {
  l[k] = v;
  return l;
}

TEST_F(MetricsTest, CountersMoveByTheCallsMadeWithTheirCodes) {
  constexpr int kOk = 5;
  constexpr int kRefused = 3;
  std::vector<Series> before = Scrape();
  rpb::Org out;
  for (int i = 0; i < kOk; ++i) ASSERT_TRUE(GetOrCreate("op-secret", "", nullptr, &out).ok());
  for (int i = 0; i < kRefused; ++i) {
    EXPECT_EQ(GetOrCreate("not-a-token", "", nullptr, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  std::vector<Series> after = Scrape();
  auto delta = [&](absl::string_view name, const Labels& l) {
    return Sum(after, name, l) - Sum(before, name, l);
  };
  EXPECT_EQ(delta("grpc_server_started_total", kGetOrg), kOk + kRefused);
  EXPECT_EQ(delta("grpc_server_handled_total", With(kGetOrg, "grpc_code", "OK")), kOk);
  EXPECT_EQ(delta("grpc_server_handled_total", With(kGetOrg, "grpc_code", "UNAUTHENTICATED")),
            kRefused);
  EXPECT_EQ(delta("grpc_server_handled_total", kGetOrg), kOk + kRefused);
  EXPECT_EQ(delta("grpc_server_handling_seconds_count", kGetOrg), kOk + kRefused);
  EXPECT_EQ(delta("grpc_server_handling_seconds_bucket", With(kGetOrg, "le", "+Inf")),
            kOk + kRefused);
  // Every call reads Redis (the token, then the org).
  EXPECT_GE(delta("govreport_redis_call_seconds_count", {}), kOk + kRefused);
  // The pool gauge follows a lease out and back.
  ASSERT_EQ(Count(after, "govreport_redis_pool_in_use", {}), 1);
  EXPECT_EQ(Sum(after, "govreport_redis_pool_in_use", {}), 0);
  {
    absl::StatusOr<redis::Client::Lease> lease = client_->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(Sum(Scrape(), "govreport_redis_pool_in_use", {}), 1);
  }
  EXPECT_EQ(Sum(Scrape(), "govreport_redis_pool_in_use", {}), 0);
}

TEST_F(MetricsTest, RedisErrorsAreCounted) {
  std::vector<Series> before = Scrape();
  EXPECT_FALSE(client_->Command({"NOSUCHCOMMAND"}).ok());
  std::vector<Series> after = Scrape();
  Labels l = {{"command", "NOSUCHCOMMAND"}, {"kind", "reply"}};
  EXPECT_EQ(Sum(after, "govreport_redis_errors_total", l) -
                Sum(before, "govreport_redis_errors_total", l),
            1);
}

TEST_F(MetricsTest, AccessLogIsOneJsonObjectPerLineWithoutSecrets) {
  const std::string kSecret = "secret-token-4b1d9e";
  rpb::Org out;
  std::string echoed_given;
  std::string echoed_new;
  std::string text;
  {
    StderrCapture capture;
    EXPECT_TRUE(GetOrCreate("op-secret", "rid-given-1", nullptr, &out, &echoed_given).ok());
    EXPECT_EQ(GetOrCreate(kSecret, "", nullptr, &out, &echoed_new).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    LogLine("metrics_test", "a plain line");
    text = capture.Text();
  }
  EXPECT_EQ(echoed_given, "rid-given-1");
  EXPECT_EQ(echoed_new.size(), 32u) << echoed_new;
  EXPECT_FALSE(absl::StrContains(text, kSecret)) << text;
  EXPECT_FALSE(absl::StrContains(text, "op-secret")) << text;
  std::vector<google::protobuf::Struct> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct obj;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &obj).ok()) << line;
    for (const char* field : {"time", "level", "service", "msg"}) {
      EXPECT_TRUE(obj.fields().contains(field)) << field << " missing: " << line;
    }
    lines.push_back(std::move(obj));
  }
  ASSERT_EQ(lines.size(), 3u) << text;
  auto str = [](const google::protobuf::Struct& s, const char* f) {
    return s.fields().at(f).string_value();
  };
  EXPECT_EQ(str(lines[0], "request_id"), "rid-given-1");
  EXPECT_EQ(str(lines[0], "principal"), "*/operator");
  EXPECT_EQ(str(lines[0], "rpc"), "govreport.records.v1.OrgService/GetOrg");
  EXPECT_EQ(str(lines[0], "code"), "OK");
  EXPECT_EQ(str(lines[0], "level"), "info");
  EXPECT_GE(lines[0].fields().at("latency_ms").number_value(), 0);
  EXPECT_TRUE(absl::EndsWith(str(lines[0], "time"), "Z")) << str(lines[0], "time");
  EXPECT_EQ(str(lines[1], "request_id"), echoed_new);
  EXPECT_EQ(str(lines[1], "principal"), "");
  EXPECT_EQ(str(lines[1], "code"), "UNAUTHENTICATED");
  EXPECT_EQ(str(lines[2], "msg"), "a plain line");
  EXPECT_EQ(str(lines[2], "service"), "metrics_test");
}

TEST_F(MetricsTest, StreamGroupsAreSampled) {
  const std::string kStream = "gr:test:metrics";
  ASSERT_TRUE(client_->Command({"XGROUP", "CREATE", kStream, "g1", "0", "MKSTREAM"}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client_->Command({"XADD", kStream, "*", "k", "v"}).ok());
  ASSERT_TRUE(
      client_->Command({"XREADGROUP", "GROUP", "g1", "c1", "COUNT", "1", "STREAMS", kStream, ">"})
          .ok());
  ASSERT_TRUE(client_->Command({"XADD", kStream + ":dead", "*", "k", "v"}).ok());
  {
    // The sampler runs at once, then every interval; one run is enough.
    metrics::Sampler sampler(absl::Hours(1), [&] {
      ASSERT_TRUE(metrics::SampleStreams(*client_, {kStream, "gr:test:none"}).ok());
    });
  }
  std::vector<Series> now = Scrape();
  Labels group = {{"stream", kStream}, {"group", "g1"}};
  EXPECT_EQ(Sum(now, "govreport_stream_lag", group), 2);
  EXPECT_EQ(Sum(now, "govreport_stream_pending", group), 1);
  EXPECT_EQ(Sum(now, "govreport_stream_dead_letters", {{"stream", kStream}}), 1);
  // A stream nobody made has its series, at 0.
  ASSERT_EQ(Count(now, "govreport_stream_dead_letters", {{"stream", "gr:test:none"}}), 1);
  EXPECT_EQ(Sum(now, "govreport_stream_dead_letters", {{"stream", "gr:test:none"}}), 0);
}

// Reports per state come from reading every report (there is no index by
// state), bounded by a limit.
TEST_F(MetricsTest, ReportsAreCountedByStateUpToTheLimit) {
  namespace apb = ::govreport::assembler::v1;
  const std::pair<const char*, apb::ReportState> reports[] = {
      {"gr:{kjj}:rpt:a", apb::REPORT_STATE_DRAFT},
      {"gr:{kjj}:rpt:b", apb::REPORT_STATE_IN_REVIEW},
      {"gr:{jyj}:rpt:c", apb::REPORT_STATE_IN_REVIEW}};
  int n = 0;
  for (const auto& [key, state] : reports) {
    apb::Report r;
    r.set_state(state);
    std::string id = std::string(key).substr(std::string(key).rfind(':') + 1);
    std::string index =
        absl::StrCat(std::string(key).substr(0, std::string(key).find("}:") + 2), "rpts");
    ASSERT_TRUE(client_->Command({"HSET", key, "d", r.SerializeAsString(), "v", "1"}).ok());
    ASSERT_TRUE(client_->Command({"ZADD", index, absl::StrCat(++n), id}).ok());
  }
  // kjj is made by SetUp through records; jyj is listed as records would.
  ASSERT_TRUE(client_->Command({"ZADD", "gr:orgs", "0", "jyj"}).ok());
  assembler::Store store(client_.get());
  assembler::Store::StateCounts counts;
  ASSERT_TRUE(store.CountByState(100, counts).ok());
  EXPECT_EQ(counts.counts[apb::REPORT_STATE_DRAFT], 1);
  EXPECT_EQ(counts.counts[apb::REPORT_STATE_IN_REVIEW], 2);
  EXPECT_FALSE(counts.truncated);
  ASSERT_TRUE(store.CountByState(2, counts).ok());
  int64_t total = 0;
  for (const auto& [state, count] : counts.counts) total += count;
  EXPECT_EQ(total, 2);
  EXPECT_TRUE(counts.truncated);
}

}  // namespace
}  // namespace govreport
