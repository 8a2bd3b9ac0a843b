// Redis Cluster figures of the records service (issue 15), each beside its
// peer in the same run:
//   cluster.ingest.*    records written per second through RecordsCore on a
//                       six-node cluster vs. one redis-server, same threads
//                       and batches (ratio_to_single)
//   cluster.slot_balance  max/min of the commands each master served while
//                       200 orgs were created, loaded and written (goal <= 1.2)
//   faults.cluster.*    writers with WAIT 1 (--redis-wait-replicas 1) while
//                       the master of one org's slot is killed (appendfsync
//                       always): acknowledged records lost and duplicated
//                       after the replica took over, and the seconds from the
//                       kill to the slot's first write (failover_seconds) and
//                       to its first write acknowledged by a replica, once
//                       the killed node, restarted after 4 s, is its replica
//                       (wait_acknowledged_seconds)
// Prints one flat JSON object. --quick: small sizes.
#include <atomic>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "records/core.h"
#include "redis_cluster.h"
#include "redis_server.h"
#include "redis_stats.h"
#include "shipped_profile.h"

namespace govreport::bench {
namespace {

namespace pb = ::govreport::records::v1;
using testing::RedisCluster;
using testing::RedisServer;

pb::ActivityRecord Talk(const std::string& title, int n) {
  pb::ActivityRecord r;
  r.set_type("heart_to_heart_talk");
  r.set_occurred_on(absl::StrFormat("2023-%02d-%02d", 1 + n % 12, 1 + n % 28));
  r.set_title(title);
  r.set_department("办公室");
  (*r.mutable_quantities())["participants"] = 1 + n % 20;
  return r;
}

records::RecordsOptions Unlimited() {
  records::RecordsOptions o;
  o.quota_records_per_day = 0;
  o.quota_bytes_per_day = 0;
  return o;
}

bool SetUpOrgs(records::RecordsCore& recs, const std::vector<std::string>& orgs) {
  pb::Profile profile = testing::ShippedProfile();
  for (const auto& org : orgs) {
    pb::Org o;
    o.set_display_name(org);
    if (!recs.CreateOrg(org, o, "").ok() || !recs.LoadProfile(org, profile, "").ok()) return false;
  }
  return true;
}

std::vector<std::string> OrgNames(int n, absl::string_view prefix) {
  std::vector<std::string> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat(prefix, i));
  return out;
}

// Records per second: `threads` writers, batches of 50, round robin over
// the orgs.
double Ingest(const redis::Options& options, int total, int threads) {
  redis::Client client(options);
  records::RecordsCore recs(&client, Unlimited());
  std::vector<std::string> orgs = OrgNames(12, "ing");
  // CreateOrg answers ALREADY_EXISTS from the second round on: fine.
  (void)SetUpOrgs(recs, orgs);
  constexpr int kBatch = 50;
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int b; (b = next.fetch_add(1)) < total / kBatch;) {
        pb::BatchCreateActivitiesRequest req;
        for (int i = 0; i < kBatch; ++i) {
          *req.add_requests()->mutable_activity() = Talk("谈心谈话", b * kBatch + i);
        }
        if (!recs.BatchCreateActivities(orgs[b % orgs.size()], "bench", req).ok()) ++errors;
      }
    });
  }
  for (auto& th : pool) th.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (errors > 0) std::cerr << "ingest: " << errors << " batches failed\n";
  return total / seconds;
}

int64_t CommandsServed(const RedisCluster& cluster, int port) {
  auto info = cluster.On(port, {"INFO", "commandstats"});
  return info.ok() ? testing::TotalCalls(info->Str()) : -1;
}

std::vector<int> Masters(const RedisCluster& cluster) {
  std::set<int> out;
  auto slots = cluster.On(cluster.MasterOf("x").value_or(0), {"CLUSTER", "SLOTS"});
  for (size_t i = 0; slots.ok() && i < slots->Size(); ++i) {
    out.insert(static_cast<int>((*slots)[i][2][1].Int()));
  }
  return {out.begin(), out.end()};
}

double SlotBalance(RedisCluster& cluster, int records_per_org) {
  std::vector<int> masters = Masters(cluster);
  for (int port : masters) (void)cluster.On(port, {"CONFIG", "RESETSTAT"});
  redis::Client client(cluster.options());
  records::RecordsCore recs(&client, Unlimited());
  std::vector<std::string> orgs = OrgNames(200, "dept");
  if (!SetUpOrgs(recs, orgs)) return -1;
  for (const auto& org : orgs) {
    pb::BatchCreateActivitiesRequest req;
    for (int i = 0; i < records_per_org; ++i)
      *req.add_requests()->mutable_activity() = Talk("t", i);
    if (!recs.BatchCreateActivities(org, "bench", req).ok()) return -1;
    if (!recs.GetIndicatorValues(org, "2023").ok()) return -1;
  }
  int64_t most = 0;
  int64_t least = INT64_MAX;
  for (int port : masters) {
    int64_t served = CommandsServed(cluster, port);
    std::cerr << "slot balance: master " << port << " served " << served << " commands\n";
    most = std::max(most, served);
    least = std::min(least, served);
  }
  return least > 0 ? static_cast<double>(most) / static_cast<double>(least) : -1;
}

struct FaultFigures {
  int64_t acknowledged = 0;
  int64_t lost = 0;
  int64_t duplicated = 0;
  double failover_seconds = -1;
  // From the kill to the victim org's first write acknowledged with WAIT 1.
  double wait_acknowledged_seconds = -1;
};

// Every title of an org's records, with how often it occurs.
std::map<std::string, int> Titles(records::RecordsCore& recs, const std::string& org) {
  std::map<std::string, int> out;
  pb::ListActivitiesRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  req.set_page_size(500);
  while (true) {
    auto page = recs.ListActivities(org, req);
    if (!page.ok()) {
      std::cerr << "list " << org << ": " << page.status() << "\n";
      break;
    }
    for (const auto& a : page->activities()) ++out[a.title()];
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  return out;
}

FaultFigures KillAMasterUnderLoad(absl::Duration before, absl::Duration restart_after,
                                  absl::Duration after) {
  FaultFigures f;
  RedisCluster cluster(/*aof=*/true);
  if (!cluster.ok()) return f;
  redis::Options options = cluster.options();
  options.wait_replicas = 1;
  options.wait_timeout = absl::Seconds(1);
  redis::Client client(options);
  records::RecordsCore recs(&client, Unlimited());
  std::vector<std::string> orgs = OrgNames(6, "fault");
  if (!SetUpOrgs(recs, orgs)) return f;
  const std::string victim_org = orgs[0];
  const int victim = *cluster.MasterOf(absl::StrCat("gr:{", victim_org, "}:dv"));
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> killed_at_us{0};
  std::atomic<int64_t> recovered_at_us{0};
  std::vector<std::thread> writers;
  writers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string& org = orgs[i % orgs.size()];
        std::string title = absl::StrCat("w", t, "-", i);
        // Retried under the same request id until acknowledged: a write
        // that ran but was not confirmed is replayed, not written twice.
        for (int attempt = 0; attempt < 100 && !stop; ++attempt) {
          // Only a call sent after the kill tells that the slot is back.
          int64_t sent_us = absl::ToUnixMicros(absl::Now());
          if (recs.CreateActivity(org, "bench", Talk(title, i), title).ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert(absl::StrCat(org, "/", title));
            if (org == victim_org && killed_at_us > 0 && sent_us > killed_at_us &&
                recovered_at_us == 0) {
              recovered_at_us = absl::ToUnixMicros(absl::Now());
            }
            break;
          }
          absl::SleepFor(absl::Milliseconds(50));
        }
      }
    });
  }
  absl::SleepFor(before);
  cluster.NodeByPort(victim)->Kill();
  absl::Time killed = absl::Now();
  killed_at_us = absl::ToUnixMicros(killed);
  // The slot takes writes again once its replica is promoted (a probe
  // without WAIT says when).
  redis::Client probe(cluster.options());
  const std::string probe_key = absl::StrCat("gr:{", victim_org, "}:probe");
  while (!probe.Command({"SET", probe_key, "1"}).ok() && absl::Now() - killed < after) {
  }
  f.failover_seconds = absl::ToDoubleSeconds(absl::Now() - killed);
  // The promoted replica has no replica of its own, so WAIT 1 writes to
  // the slot are not acknowledged until the dead node, restarted as a
  // supervisor would, rejoins as its replica.
  absl::SleepFor(restart_after - (absl::Now() - killed));
  if (!cluster.NodeByPort(victim)->Restart()) std::cerr << "the killed node did not restart\n";
  absl::SleepFor(after - (absl::Now() - killed));
  stop = true;
  for (auto& th : writers) th.join();
  if (recovered_at_us > 0) f.wait_acknowledged_seconds = (recovered_at_us - killed_at_us) / 1e6;
  f.acknowledged = static_cast<int64_t>(acknowledged.size());
  std::set<std::string> stored;
  for (const auto& org : orgs) {
    for (const auto& [title, count] : Titles(recs, org)) {
      stored.insert(absl::StrCat(org, "/", title));
      f.duplicated += count - 1;
    }
  }
  for (const auto& a : acknowledged) f.lost += stored.count(a) ? 0 : 1;
  return f;
}

int Main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int total = quick ? 2000 : 20000;
  RedisServer single;
  RedisCluster cluster;
  if (!single.ok() || !cluster.ok()) {
    std::cerr << "redis did not start\n";
    return 1;
  }
  // Taking turns, a quarter of the records at a time, so that the
  // machine's noise falls on both.
  double single_seconds = 0;
  double cluster_seconds = 0;
  const int quarter = total / 4;
  for (int round = 0; round < 4; ++round) {
    single_seconds += static_cast<double>(quarter) / Ingest(single.options(), quarter, 4);
    cluster_seconds += static_cast<double>(quarter) / Ingest(cluster.options(), quarter, 4);
  }
  double single_rps = 4 * quarter / single_seconds;
  double cluster_rps = 4 * quarter / cluster_seconds;
  double balance = SlotBalance(cluster, quick ? 5 : 20);
  FaultFigures f = KillAMasterUnderLoad(absl::Seconds(quick ? 2 : 5), absl::Seconds(4),
                                        absl::Seconds(quick ? 10 : 15));
  std::cout << absl::StrFormat(
      "{\"cluster.ingest.records_per_s\": %.0f, \"cluster.ingest.single_records_per_s\": %.0f, "
      "\"cluster.ingest.ratio_to_single\": %.3f, \"cluster.slot_balance\": %.3f, "
      "\"faults.cluster.acknowledged\": %d, \"faults.cluster.records_lost\": %d, "
      "\"faults.cluster.records_duplicated\": %d, \"faults.cluster.failover_seconds\": %.2f, "
      "\"faults.cluster.wait_acknowledged_seconds\": %.2f}\n",
      cluster_rps, single_rps, cluster_rps / single_rps, balance, f.acknowledged, f.lost,
      f.duplicated, f.failover_seconds, f.wait_acknowledged_seconds);
  return 0;
}

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) { return govreport::bench::Main(argc, argv); }
