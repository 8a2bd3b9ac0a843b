// Load figures of the records service, each measured side by side with its
// peer in the same run (these machines are noisy; ratios are what count):
//   ingest.batch.*  BatchCreateActivities through gRPC vs. the same write
//                   script sent straight to Redis with pipelining
//   ingest.unary.*  CreateActivity through gRPC vs. a bare gRPC server that
//                   echoes the same message, same client, the two taking
//                   turns
//   tls.*           CreateActivity over mTLS (common/tls.h, certificates by
//                   scripts/gen-certs.sh) vs. plaintext CreateActivity, the
//                   two taking turns
//   aggregate.*     GetIndicatorValues with 1 thousand vs. 1 million records
//   records.distinct.*  another org's GetIndicatorValues while one org at
//                   its persons caps reads its widest unions, vs. idle, vs.
//                   the old HKEYS-in-Lua union over the issue-9 data
//                   (10 000 persons per record, no caps)
// Prints one flat JSON object.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/events.h"
#include "common/request_id.h"
#include "common/resource.h"
#include "common/server.h"
#include "common/status.h"
#include "common/tls.h"
#include "internal/bench/v1/echo.grpc.pb.h"
#include "records/core.h"
#include "records/grpc_service.h"
#include "records/lua_scripts.h"
#include "redis_server.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"
#include "throughput.h"

namespace govreport::bench {
namespace {

namespace pb = ::govreport::records::v1;

class EchoServer final : public v1::EchoService::Service {
  grpc::Status CreateActivity(grpc::ServerContext*, const pb::CreateActivityRequest* req,
                              pb::ActivityRecord* out) override {
    *out = req->activity();
    return grpc::Status::OK;
  }
};

pb::ActivityRecord Talk(records::SplitMix& rng) {
  pb::ActivityRecord r;
  r.set_type("heart_to_heart_talk");
  r.set_occurred_on(absl::StrFormat("2023-%02d-%02d", rng.Range(1, 12), rng.Range(1, 28)));
  r.set_title("谈心谈话");
  r.set_department("办公室");
  (*r.mutable_quantities())["participants"] = rng.Range(1, 20);
  return r;
}

double MedianMicros(int runs, const std::function<void()>& f) {
  std::vector<double> us;
  for (int i = 0; i < runs; ++i) {
    absl::Time t = absl::Now();
    f();
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t));
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// A talk's contribution JSON as the service builds it (records/domain.cc).
std::string TalkContribution(const pb::ActivityRecord& r) {
  return absl::StrCat(R"({"t":")", r.type(), R"(","d":")", r.occurred_on(),
                      R"(","v":0,"q":{"participants":")", r.quantities().at("participants"),
                      R"("},"p":[]})");
}

// Fills an org with n records straight through the write script.
void Fill(redis::Client& client, records::RecordsCore& recs, const std::string& org, int64_t n,
          records::SplitMix& rng) {
  auto profile = recs.GetProfile(org);
  const int chunk = 1000;
  for (int64_t done = 0; done < n; done += chunk) {
    std::vector<redis::ScriptCall> calls;
    calls.reserve(chunk);
    for (int i = 0; i < chunk && done + i < n; ++i) {
      pb::ActivityRecord r = Talk(rng);
      std::string id = NewId();
      r.set_name(absl::StrCat("orgs/", org, "/activities/", id));
      r.set_revision(1);
      calls.push_back(
          {{OrgPrefix(org) + "dv"},
           {"create", id, "", "", "", "0", r.SerializeAsString(), TalkContribution(r), "60"}});
    }
    auto st = client.EvalPipeline(records::WriteActivityScript(), calls);
    if (!st.ok()) {
      std::cerr << "fill failed: " << st.status() << "\n";
      std::exit(1);
    }
    if ((done / chunk) % 100 == 0) {
      std::cerr << "\rfilling " << org << ": " << done << "/" << n << std::flush;
    }
  }
  std::cerr << "\rfilling " << org << ": " << n << "/" << n << "\n";
}

pb::ActivityRecord Volunteers(const std::string& date, int first, int n) {
  pb::ActivityRecord r;
  r.set_type("epidemic_volunteer_service");
  r.set_occurred_on(date);
  r.set_title("疫情防控志愿服务");
  for (int i = 0; i < n; ++i) r.add_persons(absl::StrFormat("person-%06d", first + i));
  return r;
}

// The read of distinct persons before issue 9: every hash of the union
// read with HKEYS inside one script.
const redis::Script& LegacyUnionScript() {
  static const redis::Script script(R"lua(
local seen, n = {}, 0
for _, k in ipairs(ARGV) do
  for _, person in ipairs(redis.call('HKEYS', k)) do
    if not seen[person] then seen[person] = true; n = n + 1 end
  end
end
return n
)lua");
  return script;
}

// The orgs of the distinct-persons figures: a victim with a few records and
// an attacker at its caps. Returns how many persons the attacker holds.
int64_t LoadDistinctOrgs(records::RecordsCore& recs, const pb::Profile& profile) {
  for (const char* org : {"victim", "attacker", "legacy"}) {
    pb::Org o;
    o.set_display_name(org);
    (void)recs.CreateOrg(org, o, "");
    (void)recs.LoadProfile(org, profile, "");
  }
  for (int i = 0; i < 20; ++i) {
    (void)recs.CreateActivity("victim", "v", Volunteers("2023-05-01", i * 3, 3), "");
  }
  // The attacker at its caps: --max-persons-per-year distinct persons in
  // 2022 and in 2023, 500 per record (the per-record cap).
  int64_t cap = records::RecordsOptions().max_persons_per_year;
  int64_t persons = 0;
  for (int year : {2022, 2023}) {
    for (int64_t first = 0; first + 500 <= cap; first += 500) {
      pb::BatchCreateActivitiesRequest req;
      *req.add_requests()->mutable_activity() =
          Volunteers(absl::StrFormat("%d-%02d-10", year, static_cast<int>(first / 500) % 12 + 1),
                     static_cast<int>(first), 500);
      auto resp = recs.BatchCreateActivities("attacker", "a", req);
      if (!resp.ok() || resp->created() != 1) {
        std::cerr << "attacker load failed: " << resp.status() << "\n";
        std::exit(1);
      }
      persons += 500;
    }
  }
  return persons;
}

// The issue's data, as the old code took it: 20 records of 10 000 persons,
// written with the script and no caps. Returns the hashes the old union read.
std::vector<std::string> LoadLegacy(redis::Client& client) {
  std::vector<redis::ScriptCall> calls;
  calls.reserve(20);
  for (int i = 0; i < 20; ++i) {
    pb::ActivityRecord r = Volunteers(i % 2 ? "2023-03-10" : "2023-08-10", i * 10000, 10000);
    std::string id = NewId();
    std::string contrib = absl::StrCat(R"({"t":")", r.type(), R"(","d":")", r.occurred_on(),
                                       R"(","v":0,"q":{},"p":[)");
    for (int k = 0; k < r.persons_size(); ++k) {
      absl::StrAppend(&contrib, k ? "," : "", "\"", r.persons(k), "\"");
    }
    contrib += "]}";
    calls.push_back({{OrgPrefix("legacy") + "dv"},
                     {"create", id, "", "", "", "0", r.SerializeAsString(), contrib, "60"}});
  }
  auto legacy = client.EvalPipeline(records::WriteActivityScript(), calls);
  if (!legacy.ok() || (*legacy)[0].IsError()) {
    std::cerr << "legacy load failed: "
              << (legacy.ok() ? (*legacy)[0].ErrorStatus() : legacy.status()) << "\n";
    std::exit(1);
  }
  std::vector<std::string> legacy_keys;
  for (const char* b : {"2022-11", "2022-12", "2023-H1", "2023-Q3", "2023-10"}) {
    legacy_keys.push_back(
        absl::StrCat(OrgPrefix("legacy"), "dp:", b, ":epidemic_volunteer_service"));
  }
  return legacy_keys;
}

// Victim latency with an attacker reading on two threads.
std::string DistinctFigures(redis::Client& client, records::RecordsCore& recs,
                            const pb::Profile& profile) {
  int64_t persons = LoadDistinctOrgs(recs, profile);
  std::vector<std::string> legacy_keys = LoadLegacy(client);
  auto victim = [&recs] {
    auto v = recs.GetIndicatorValues("victim", "2023");
    if (!v.ok()) {
      std::cerr << "victim read failed: " << v.status() << "\n";
      std::exit(1);
    }
  };
  for (int i = 0; i < 50; ++i) victim();
  double idle_us = MedianMicros(301, victim);
  // The longest single command Redis ran during a phase (SLOWLOG logs all).
  auto slowest_us = [&client]() -> int64_t {
    auto log = client.Command({"SLOWLOG", "GET", "-1"});
    int64_t most = 0;
    if (log.ok()) {
      for (size_t i = 0; i < log->Size(); ++i) most = std::max<int64_t>(most, (*log)[i][2].Int());
    }
    return most;
  };
  (void)client.Command({"CONFIG", "SET", "slowlog-log-slower-than", "0"});
  (void)client.Command({"CONFIG", "SET", "slowlog-max-len", "1000000"});
  std::vector<int64_t> slowest;
  auto under = [&](const std::function<void()>& attack, int runs) {
    (void)client.Command({"SLOWLOG", "RESET"});
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    pool.reserve(2);
    for (int t = 0; t < 2; ++t) {
      pool.emplace_back([&] {
        while (!stop) attack();
      });
    }
    absl::SleepFor(absl::Milliseconds(200));
    double us = MedianMicros(runs, victim);
    stop = true;
    for (auto& th : pool) th.join();
    slowest.push_back(slowest_us());
    return us;
  };
  double after_us = under(
      [&] {
        for (const char* period : {"2022-11..2023-10", "2022-02..2023-11", "2022..2023"}) {
          auto v = recs.GetIndicatorValues("attacker", period);
          if (!v.ok()) {
            std::cerr << "attacker read failed: " << v.status() << "\n";
            std::exit(1);
          }
        }
      },
      301);
  double before_us = under(
      [&] { (void)client.Eval(LegacyUnionScript(), {OrgPrefix("legacy") + "dv"}, legacy_keys); },
      21);
  return absl::StrFormat(
      "\"records.distinct.victim_query_us\": %.1f, \"records.distinct.victim_query_us_idle\": "
      "%.1f, \"records.distinct.victim_query_us_before\": %.1f, "
      "\"records.distinct.attacker_persons\": %d, \"records.distinct.slowest_command_us\": %d, "
      "\"records.distinct.slowest_command_us_before\": %d",
      after_us, idle_us, before_us, static_cast<int>(persons), static_cast<int>(slowest[0]),
      static_cast<int>(slowest[1]));
}

struct BenchFlags {
  int64_t big = 1000000;
  int unary_calls = 4000;
  int batches = 40;
  int threads = 16;
  bool unary_only = false;
  bool unix_socket = false;
  bool distinct_only = false;
};

BenchFlags ParseFlags(int argc, char** argv) {
  BenchFlags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--big=", 0) == 0) f.big = std::stoll(a.substr(6));
    if (a == "--unary-only") f.unary_only = true;
    if (a == "--distinct-only") f.distinct_only = true;
    if (a == "--unix-socket") f.unix_socket = true;
    if (a.rfind("--threads=", 0) == 0) f.threads = std::stoi(a.substr(10));
    if (a == "--quick") {
      f.big = 20000;
      f.unary_calls = 800;
      f.batches = 8;
    }
  }
  return f;
}

struct UnaryFigures {
  double rps = 0;
  double echo_rps = 0;
  double tls_rps = 0;
  double tls_plaintext_rps = 0;  // records beside TLS, in turns with it
};

// Unary: the same request messages to the echo and the plaintext server;
// new ones (new request ids: no replay) to the TLS server.
UnaryFigures MeasureUnary(const BenchFlags& flags, pb::ActivityService::Stub& records_stub,
                          v1::EchoService::Stub& echo_stub, pb::ActivityService::Stub& tls_stub,
                          records::SplitMix& rng, std::atomic<int>& errors) {
  const int threads = flags.threads, per_thread = flags.unary_calls / threads;
  auto requests = [&] {
    std::vector<pb::CreateActivityRequest> reqs(static_cast<size_t>(threads) * per_thread);
    for (auto& r : reqs) {
      r.set_parent("orgs/ingest");
      *r.mutable_activity() = Talk(rng);
      r.set_request_id(RandomHex(8));
    }
    return reqs;
  };
  std::vector<pb::CreateActivityRequest> reqs = requests(), tls_reqs = requests(),
                                         beside_tls = requests();
  auto call = [&](auto& stub, const std::vector<pb::CreateActivityRequest>& from, int t, int i) {
    grpc::ClientContext ctx;
    auth::AttachToken(ctx, "bench-operator");
    pb::ActivityRecord out;
    if (!stub.CreateActivity(&ctx, from[t * per_thread + i], &out).ok()) ++errors;
  };
  // Warm the echo server, and the plaintext and TLS channels (the TLS
  // handshake) on requests the run does not count.
  Throughput(threads, 20, [&](int t, int i) { call(echo_stub, reqs, t, i); });
  std::vector<pb::CreateActivityRequest> warm = requests(), tls_warm = requests();
  const int warm_calls = std::min(20, per_thread);
  Throughput(threads, warm_calls, [&](int t, int i) { call(records_stub, warm, t, i); });
  Throughput(threads, warm_calls, [&](int t, int i) { call(tls_stub, tls_warm, t, i); });
  UnaryFigures u;
  // Each pair takes turns, a quarter of the calls at a time, the second
  // first in odd rounds, so that the machine's noise falls on both alike:
  // the echo server and records on the same messages, then plaintext and
  // TLS records on new ones (new request ids: no replay).
  SideBySide echo_side = Alternate(
      threads, per_thread, 4, [&](int t, int i) { call(echo_stub, reqs, t, i); },
      [&](int t, int i) { call(records_stub, reqs, t, i); });
  u.echo_rps = echo_side.a_rps;
  u.rps = echo_side.b_rps;
  SideBySide tls_side = Alternate(
      threads, per_thread, 4, [&](int t, int i) { call(records_stub, beside_tls, t, i); },
      [&](int t, int i) { call(tls_stub, tls_reqs, t, i); });
  u.tls_rps = tls_side.b_rps;
  u.tls_plaintext_rps = tls_side.a_rps;
  return u;
}

// A second records server, over mTLS with certificates made now by
// scripts/gen-certs.sh, and a stub that dials it with the CA and a client
// certificate, as the demo's services do.
struct TlsPeer {
  std::string dir;
  std::unique_ptr<RunningServer> server;
  std::unique_ptr<pb::ActivityService::Stub> stub;
  ~TlsPeer() {
    server.reset();
    std::filesystem::remove_all(dir);
  }
};

absl::Status StartTlsPeer(grpc::Service* activities, TlsPeer& peer) {
  peer.dir = std::filesystem::temp_directory_path() / absl::StrCat("gr-bench-tls-", getpid());
  std::string cmd = absl::StrCat(GOVREPORT_SOURCE_DIR, "/scripts/gen-certs.sh ", peer.dir,
                                 " records reportctl >/dev/null");
  if (std::system(cmd.c_str()) != 0) return absl::InternalError("gen-certs.sh failed");
  ServerOptions options;
  options.services = {activities};
  options.tls.cert_file = peer.dir + "/records.pem";
  options.tls.key_file = peer.dir + "/records.key";
  options.tls.client_ca_file = peer.dir + "/ca.pem";
  GR_ASSIGN_OR_RETURN(peer.server, RunningServer::Start(std::move(options)));
  ClientTls tls;
  tls.ca_file = peer.dir + "/ca.pem";
  tls.cert_file = peer.dir + "/reportctl.pem";
  tls.key_file = peer.dir + "/reportctl.key";
  GR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                      Dial(tls, absl::StrCat("127.0.0.1:", peer.server->port())));
  peer.stub = pb::ActivityService::NewStub(channel);
  return absl::OkStatus();
}

struct BatchFigures {
  double rps = 0;
  double raw_rps = 0;
};

// Batch: 500 records per call through gRPC vs the same scripts pipelined.
BatchFigures MeasureBatch(int batches, pb::ActivityService::Stub& records_stub,
                          redis::Client& client, records::RecordsCore& recs, records::SplitMix& rng,
                          std::atomic<int>& errors) {
  const int batch = 500;
  std::vector<pb::BatchCreateActivitiesRequest> batch_reqs(batches);
  for (auto& b : batch_reqs) {
    b.set_parent("orgs/ingest");
    for (int i = 0; i < batch; ++i) {
      auto* one = b.add_requests();
      *one->mutable_activity() = Talk(rng);
      one->set_request_id(RandomHex(8));
    }
  }
  const int batch_threads = 2;
  BatchFigures f;
  f.rps = batch * Throughput(batch_threads, batches / batch_threads, [&](int t, int i) {
            grpc::ClientContext ctx;
            auth::AttachToken(ctx, "bench-operator");
            pb::BatchCreateActivitiesResponse out;
            auto st = records_stub.BatchCreateActivities(
                &ctx, batch_reqs[t * (batches / batch_threads) + i], &out);
            if (!st.ok() || out.failed()) ++errors;
          });
  // The floor: the identical script calls (same arguments the service
  // builds), pipelined straight to Redis.
  (void)recs.GetProfile("raw");
  std::vector<std::vector<redis::ScriptCall>> raw_batches(batches);
  for (int b = 0; b < batches; ++b) {
    raw_batches[b].reserve(batch_reqs[b].requests_size());
    for (const auto& one : batch_reqs[b].requests()) {
      pb::ActivityRecord r = one.activity();
      std::string id = NewId();
      r.set_name(absl::StrCat("orgs/raw/activities/", id));
      r.set_revision(1);
      // The record's event too, as the service appends it (common/events.h).
      events::v1::Event event;
      event.set_kind(events::v1::EVENT_KIND_ACTIVITY_CREATED);
      event.set_org("orgs/raw");
      event.set_request_id(one.request_id());
      events::Encoded e = events::Encode(event, absl::Now());
      raw_batches[b].push_back(
          {{OrgPrefix("raw") + "dv", request_id::Key("raw", one.request_id()),
            events::StreamKey("raw")},
           {"create", id, one.request_id(), "", "", "0", r.SerializeAsString(), TalkContribution(r),
            "604800", "", "0", "0", "0", e.payload, e.kind, "",
            events::MinId(absl::Now(), events::kDefaultRetention)}});
    }
  }
  f.raw_rps = batch * Throughput(batch_threads, batches / batch_threads, [&](int t, int i) {
                if (!client
                         .EvalPipeline(records::WriteActivityScript(),
                                       raw_batches[t * (batches / batch_threads) + i])
                         .ok()) {
                  ++errors;
                }
              });
  return f;
}

struct AggregateFigures {
  double small_us = 0;
  double big_us = 0;
};

// Aggregate queries: the same question over 1k and over `big` records.
AggregateFigures MeasureAggregates(redis::Client& client, records::RecordsCore& recs, int64_t big) {
  records::SplitMix fill_rng(2);
  Fill(client, recs, "small", 1000, fill_rng);
  Fill(client, recs, "big", big, fill_rng);
  auto query = [&](const std::string& org) {
    return [&recs, org] {
      auto v = recs.GetIndicatorValues(org, "2023");
      if (!v.ok()) std::exit(1);
    };
  };
  for (int i = 0; i < 50; ++i) {
    query("small")();
    query("big")();
  }
  AggregateFigures a;
  a.small_us = MedianMicros(301, query("small"));
  a.big_us = MedianMicros(301, query("big"));
  return a;
}

int Main(int argc, char** argv) {
  const BenchFlags flags = ParseFlags(argc, argv);
  testing::RedisServer server;
  if (!server.ok()) return 1;
  redis::Options ro = server.options();
  if (flags.unix_socket) ro.unix_socket = server.socket_path();
  ro.pool_size = 32;
  // The "before" figure waits seconds behind the old unions.
  ro.command_timeout = absl::Seconds(60);
  redis::Client client(ro);
  auth::Authenticator authn(&client, "bench-operator");
  records::RecordsCore recs(&client);
  records::OrgGrpc orgs(&recs, &authn);
  records::IndicatorGrpc inds(&recs, &authn);
  records::ActivityGrpc acts(&recs, &authn);
  EchoServer echo;
  ServerOptions so;
  so.services = {&orgs, &inds, &acts};
  auto rs = RunningServer::Start(so);
  ServerOptions eo;
  eo.services = {&echo};
  auto es = RunningServer::Start(eo);
  if (!rs.ok() || !es.ok()) return 1;
  pb::Profile profile = govreport::testing::ShippedProfile();
  for (const char* org : {"ingest", "raw", "small", "big"}) {
    pb::Org o;
    o.set_display_name(org);
    (void)recs.CreateOrg(org, o, "");
    (void)recs.LoadProfile(org, profile, "");
  }
  if (flags.distinct_only) {
    std::cout << "{" << DistinctFigures(client, recs, profile) << "}\n";
    return 0;
  }
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*rs)->port()),
                                     grpc::InsecureChannelCredentials());
  auto echo_channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*es)->port()),
                                          grpc::InsecureChannelCredentials());
  auto records_stub = pb::ActivityService::NewStub(channel);
  auto echo_stub = v1::EchoService::NewStub(echo_channel);
  records::ActivityGrpc tls_acts(&recs, &authn);
  TlsPeer tls_peer;
  if (absl::Status st = StartTlsPeer(&tls_acts, tls_peer); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  records::SplitMix rng(1);
  std::atomic<int> errors{0};
  const UnaryFigures unary =
      MeasureUnary(flags, *records_stub, *echo_stub, *tls_peer.stub, rng, errors);
  const std::string tls_figures =
      absl::StrFormat(R"("tls.unary_rps": %.0f, "tls.ratio_to_plaintext": %.3f)", unary.tls_rps,
                      unary.tls_rps / unary.tls_plaintext_rps);
  if (flags.unary_only) {
    std::cout << absl::StrFormat(
        "{\"ingest.unary.rps\": %.0f, \"ingest.unary.echo_rps\": %.0f, %s}\n", unary.rps,
        unary.echo_rps, tls_figures);
    return 0;
  }
  const BatchFigures batch = MeasureBatch(flags.batches, *records_stub, client, recs, rng, errors);
  const AggregateFigures agg = MeasureAggregates(client, recs, flags.big);
  std::string distinct = DistinctFigures(client, recs, profile);

  std::cout << absl::StrFormat(
      "{\"ingest.batch.records_per_s\": %.0f, \"ingest.batch.redis_raw_per_s\": %.0f, "
      "\"ingest.batch.ratio_to_redis\": %.3f, \"ingest.unary.rps\": %.0f, "
      "\"ingest.unary.echo_rps\": %.0f, \"ingest.unary.ratio_to_echo\": %.3f, "
      "\"aggregate.query_us_1k\": %.1f, \"aggregate.query_us_1m\": %.1f, "
      "\"aggregate.flatness\": %.3f, \"aggregate.big_records\": %d, %s, %s, \"bench.errors\": "
      "%d}\n",
      batch.rps, batch.raw_rps, batch.rps / batch.raw_rps, unary.rps, unary.echo_rps,
      unary.rps / unary.echo_rps, agg.small_us, agg.big_us, agg.big_us / agg.small_us,
      static_cast<int>(flags.big), distinct, tls_figures, errors.load());
  return errors.load() ? 1 : 0;
}

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) { return govreport::bench::Main(argc, argv); }
