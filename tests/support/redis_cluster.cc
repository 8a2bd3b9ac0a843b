#include "redis_cluster.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace govreport::testing {
namespace {

constexpr int kNodes = 6;

}  // namespace

RedisCluster::RedisCluster(bool aof) {
  for (int i = 0; i < kNodes; ++i) {
    // A short node timeout: a dead master is replaced in about two seconds.
    auto node = std::make_unique<RedisServer>(
        aof, std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file",
                                      "nodes.conf", "--cluster-node-timeout", "1000"});
    if (!node->ok()) return;
    nodes_.push_back(std::move(node));
  }
  ok_ = Create() && WaitHealthy(absl::Seconds(60));
}

bool RedisCluster::Create() {
  std::vector<std::string> addresses;
  for (const auto& n : nodes_) addresses.push_back(absl::StrCat("127.0.0.1:", n->port()));
  std::string cmd = absl::StrCat("redis-cli --cluster create ", absl::StrJoin(addresses, " "),
                                 " --cluster-replicas 1 --cluster-yes >/dev/null 2>&1");
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "redis-cli --cluster create failed\n");
    return false;
  }
  return true;
}

std::string RedisCluster::seeds() const {
  std::vector<std::string> addresses;
  for (const auto& n : nodes_) addresses.push_back(absl::StrCat("127.0.0.1:", n->port()));
  return absl::StrJoin(addresses, ",");
}

redis::Options RedisCluster::options() const {
  redis::Options o;
  o.cluster_nodes = seeds();
  return o;
}

RedisServer* RedisCluster::NodeByPort(int port) {
  for (auto& n : nodes_) {
    if (n->port() == port) return n.get();
  }
  return nullptr;
}

absl::StatusOr<redis::Reply> RedisCluster::On(int port, const redis::Args& cmd) const {
  redis::Options o;
  o.port = port;
  o.connect_timeout = absl::Milliseconds(300);
  auto conn = redis::Connection::Open(o);
  if (!conn.ok()) return conn.status();
  return (*conn)->Command(cmd);
}

absl::StatusOr<int> RedisCluster::MasterOf(absl::string_view key) const {
  for (const auto& n : nodes_) {
    if (!n->ok()) continue;
    auto slot = On(n->port(), {"CLUSTER", "KEYSLOT", std::string(key)});
    auto slots = On(n->port(), {"CLUSTER", "SLOTS"});
    if (!slot.ok() || !slots.ok()) continue;
    for (size_t i = 0; i < slots->Size(); ++i) {
      redis::ReplyView e = (*slots)[i];
      if (e[0].Int() <= slot->Int() && slot->Int() <= e[1].Int())
        return static_cast<int>(e[2][1].Int());
    }
  }
  return absl::UnavailableError("no node knows the slot");
}

absl::StatusOr<int> RedisCluster::ReplicaOf(int master_port) const {
  auto slots = On(master_port, {"CLUSTER", "SLOTS"});
  if (!slots.ok()) return slots.status();
  for (size_t i = 0; i < slots->Size(); ++i) {
    redis::ReplyView e = (*slots)[i];
    if (e[2][1].Int() == master_port && e.Size() > 3) return static_cast<int>(e[3][1].Int());
  }
  return absl::NotFoundError("the master has no replica");
}

absl::StatusOr<std::string> RedisCluster::NodeId(int port) const {
  auto id = On(port, {"CLUSTER", "MYID"});
  if (!id.ok()) return id.status();
  return std::string(id->Str());
}

bool RedisCluster::WaitHealthy(absl::Duration timeout, int missing_replicas) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    bool healthy = true;
    for (const auto& n : nodes_) {
      if (!n->ok()) continue;
      auto info = On(n->port(), {"CLUSTER", "INFO"});
      auto slots = On(n->port(), {"CLUSTER", "SLOTS"});
      size_t without_replica = 0;
      if (slots.ok()) {
        for (size_t i = 0; i < slots->Size(); ++i)
          without_replica += (*slots)[i].Size() > 3 ? 0 : 1;
      }
      if (!info.ok() || !absl::StrContains(info->Str(), "cluster_state:ok") || !slots.ok() ||
          slots->Size() < 3 || static_cast<int>(without_replica) > missing_replicas) {
        healthy = false;
        break;
      }
    }
    if (healthy) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::fprintf(stderr, "redis cluster not healthy in time\n");
  return false;
}

RedisCluster& SharedCluster() {
  static RedisCluster cluster;
  return cluster;
}

}  // namespace govreport::testing
