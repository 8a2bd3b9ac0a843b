// The event feed under load, measured side by side with its peer in the
// same run (these machines are noisy; ratios are what count):
//   events.lag_ms_*     CreateActivity returned -> its event received by a
//                       StreamEvents subscriber (one write at a time)
//   events.per_s        events delivered through StreamEvents while records
//                       are created in batches, vs. events.xread_per_s: a
//                       raw XREAD loop on the same stream at the same time
//   events.backlog_*    the same two reading a backlog already written
// Prints one flat JSON object.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/events.h"
#include "common/server.h"
#include "events/core.h"
#include "events/grpc_service.h"
#include "records/core.h"
#include "records/grpc_service.h"
#include "redis_server.h"
#include "shipped_profile.h"

namespace govreport::bench {
namespace {

namespace rpb = ::govreport::records::v1;
namespace epb = ::govreport::events::v1;
constexpr char kOrg[] = "bench";
constexpr char kToken[] = "op-secret";

struct Sizes {
  int lag_writes = 2000;
  int batches = 100;
  int batch_size = 500;
};

rpb::ActivityRecord Record(int n) {
  rpb::ActivityRecord a;
  a.set_type("theme_party_day");
  a.set_occurred_on(absl::StrCat("2023-05-", 10 + n % 18));
  a.set_title(absl::StrCat("主题党日 ", n));
  return a;
}

class Bench {
 public:
  explicit Bench(const testing::RedisServer& redis)
      : client_(redis.options()),
        authn_(&client_, kToken, absl::Seconds(5)),
        records_(&client_),
        orgs_(&records_, &authn_),
        indicators_(&records_, &authn_),
        activities_(&records_, &authn_),
        feed_(&client_),
        events_(&feed_, &authn_) {}

  bool Start() {
    ServerOptions o;
    o.services = {&orgs_, &indicators_, &activities_, &events_};
    auto s = RunningServer::Start(o);
    if (!s.ok()) return false;
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    rpb::CreateOrgRequest req;
    req.set_org_id(kOrg);
    req.mutable_org()->set_display_name(kOrg);
    rpb::Org org;
    grpc::ClientContext c1;
    auth::AttachToken(c1, kToken);
    if (!rpb::OrgService::Stub(channel_).CreateOrg(&c1, req, &org).ok()) return false;
    rpb::LoadProfileRequest load;
    load.set_parent(absl::StrCat("orgs/", kOrg));
    *load.mutable_profile() = govreport::testing::ShippedProfile();
    rpb::LoadProfileResponse lr;
    grpc::ClientContext c2;
    auth::AttachToken(c2, kToken);
    return rpb::IndicatorService::Stub(channel_).LoadProfile(&c2, load, &lr).ok();
  }

  std::string LastId() {
    auto r = client_.Command({"XREVRANGE", events::StreamKey(kOrg), "+", "-", "COUNT", "1"});
    return (r.ok() && r->Size() > 0) ? (*r)[0][0].AsString() : "0-0";
  }

  // Reads `n` events after `cursor` through StreamEvents; calls `seen` on
  // each. Returns the time the last one came.
  absl::Time Subscribe(const std::string& cursor, int n,
                       const std::function<void(const epb::Event&)>& seen) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, kToken);
    epb::StreamEventsRequest req;
    req.set_parent(absl::StrCat("orgs/", kOrg));
    req.set_after_cursor(cursor);
    auto reader = epb::EventService::Stub(channel_).StreamEvents(&ctx, req);
    epb::StreamEventsResponse r;
    int got = 0;
    while (got < n && reader->Read(&r)) {
      if (!r.has_event()) continue;
      ++got;
      if (seen) seen(r.event());
    }
    absl::Time done = absl::Now();
    ctx.TryCancel();
    reader->Finish();
    return done;
  }

  // The peer: XREAD COUNT 256 BLOCK on a connection of its own, the same
  // stream from the same cursor, fields left unparsed.
  absl::Time RawXread(const std::string& cursor, int n) {
    auto conn = client_.OpenDedicated();
    if (!conn.ok()) return absl::Now();
    (void)(*conn)->SetTimeout(absl::Seconds(3));
    std::string after = cursor;
    int got = 0;
    while (got < n) {
      auto r = (*conn)->Command(
          {"XREAD", "COUNT", "256", "BLOCK", "1000", "STREAMS", events::StreamKey(kOrg), after});
      if (!r.ok()) break;
      if (r->IsNil()) continue;
      redis::ReplyView entries = (*r)[0][1];
      got += static_cast<int>(entries.Size());
      if (entries.Size() > 0) after = entries[entries.Size() - 1][0].AsString();
    }
    return absl::Now();
  }

  bool CreateOne(int n, std::string* name) {
    rpb::CreateActivityRequest req;
    req.set_parent(absl::StrCat("orgs/", kOrg));
    *req.mutable_activity() = Record(n);
    rpb::ActivityRecord out;
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, kToken);
    bool ok = rpb::ActivityService::Stub(channel_).CreateActivity(&ctx, req, &out).ok();
    *name = out.name();
    return ok;
  }

  bool CreateBatch(int first, int size) {
    rpb::BatchCreateActivitiesRequest req;
    req.set_parent(absl::StrCat("orgs/", kOrg));
    for (int i = 0; i < size; ++i) *req.add_requests()->mutable_activity() = Record(first + i);
    rpb::BatchCreateActivitiesResponse out;
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, kToken);
    return rpb::ActivityService::Stub(channel_).BatchCreateActivities(&ctx, req, &out).ok() &&
           out.created() == size;
  }

 private:
  redis::Client client_;
  auth::Authenticator authn_;
  records::RecordsCore records_;
  records::OrgGrpc orgs_;
  records::IndicatorGrpc indicators_;
  records::ActivityGrpc activities_;
  events::EventsCore feed_;
  events::EventsGrpc events_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// One write at a time; the subscriber notes when each record's event came.
std::string MeasureLag(Bench& b, int writes) {
  std::mutex mu;
  std::map<std::string, absl::Time> received;
  std::string start = b.LastId();
  std::thread sub([&] {
    b.Subscribe(start, writes, [&](const epb::Event& e) {
      absl::Time now = absl::Now();
      std::lock_guard<std::mutex> lock(mu);
      received[e.activity_created().activity().name()] = now;
    });
  });
  absl::SleepFor(absl::Milliseconds(200));  // The stream open before the first write.
  std::map<std::string, absl::Time> returned;
  for (int i = 0; i < writes; ++i) {
    std::string name;
    if (b.CreateOne(i, &name)) returned[name] = absl::Now();
  }
  sub.join();
  std::vector<double> lags;
  for (const auto& [name, at] : returned) {
    auto it = received.find(name);
    // An event may come before the write's answer does: lag 0.
    if (it != received.end())
      lags.push_back(std::max(0.0, absl::ToDoubleMilliseconds(it->second - at)));
  }
  return absl::StrFormat(R"("events.lag_ms_p50": %.2f, "events.lag_ms_p99": %.2f)",
                         Percentile(lags, 0.5), Percentile(lags, 0.99));
}

// Batches written while both readers follow the stream from the same cursor.
std::string MeasureThroughput(Bench& b, const Sizes& s) {
  int n = s.batches * s.batch_size;
  std::string start = b.LastId();
  absl::Time t0 = absl::Now();
  absl::Time feed_done, xread_done;
  std::thread feed([&] { feed_done = b.Subscribe(start, n, nullptr); });
  std::thread xread([&] { xread_done = b.RawXread(start, n); });
  for (int i = 0; i < s.batches; ++i) b.CreateBatch(100000 + i * s.batch_size, s.batch_size);
  feed.join();
  xread.join();
  double feed_rate = n / absl::ToDoubleSeconds(feed_done - t0);
  double xread_rate = n / absl::ToDoubleSeconds(xread_done - t0);
  // The backlog just written, read again by each alone.
  absl::Time t1 = absl::Now();
  absl::Time backlog_feed = b.Subscribe(start, n, nullptr);
  absl::Time t2 = absl::Now();
  absl::Time backlog_xread = b.RawXread(start, n);
  double bf = n / absl::ToDoubleSeconds(backlog_feed - t1);
  double bx = n / absl::ToDoubleSeconds(backlog_xread - t2);
  return absl::StrFormat(
      "\"events.per_s\": %.0f, \"events.xread_per_s\": %.0f, \"events.ratio_to_xread\": %.2f, "
      "\"events.backlog_per_s\": %.0f, \"events.backlog_xread_per_s\": %.0f, "
      "\"events.backlog_ratio_to_xread\": %.2f",
      feed_rate, xread_rate, feed_rate / xread_rate, bf, bx, bf / bx);
}

int Main(int argc, char** argv) {
  Sizes s;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--quick") {
      s.lag_writes = 200;
      s.batches = 10;
    }
  }
  testing::RedisServer redis;
  if (!redis.ok()) return 1;
  Bench b(redis);
  if (!b.Start()) {
    std::cerr << "events_bench: set-up failed\n";
    return 1;
  }
  std::string lag = MeasureLag(b, s.lag_writes);
  std::string rate = MeasureThroughput(b, s);
  std::cout << "{" << lag << ", " << rate << "}\n";
  return 0;
}

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) { return govreport::bench::Main(argc, argv); }
