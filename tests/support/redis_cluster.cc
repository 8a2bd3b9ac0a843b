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

absl::StatusOr<int> RedisCluster::OtherMaster(int port) const {
  for (const auto& n : nodes_) {
    auto role = On(n->port(), {"ROLE"});
    if (n->port() != port && role.ok() && role->Size() > 0 && (*role)[0].AsString() == "master") {
      return n->port();
    }
  }
  return absl::NotFoundError("no other master");
}

namespace {

absl::Status Must(const absl::StatusOr<redis::Reply>& reply, int port) {
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) return absl::InternalError(absl::StrCat("node ", port, ": ", reply->Str()));
  return absl::OkStatus();
}

}  // namespace

absl::Status RedisCluster::BeginSlotMove(int64_t slot, int from, int to) const {
  auto from_id = NodeId(from);
  auto to_id = NodeId(to);
  if (!from_id.ok()) return from_id.status();
  if (!to_id.ok()) return to_id.status();
  const std::string s = absl::StrCat(slot);
  if (auto st = Must(On(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", *from_id}), to); !st.ok()) {
    return st;
  }
  return Must(On(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", *to_id}), from);
}

absl::StatusOr<std::vector<std::string>> RedisCluster::KeysInSlot(int port, int64_t slot,
                                                                  int limit) const {
  auto keys = On(port, {"CLUSTER", "GETKEYSINSLOT", absl::StrCat(slot), absl::StrCat(limit)});
  if (!keys.ok()) return keys.status();
  std::vector<std::string> out;
  out.reserve(keys->Size());
  for (size_t i = 0; i < keys->Size(); ++i) out.push_back((*keys)[i].AsString());
  return out;
}

absl::Status RedisCluster::MigrateKeys(int from, int to,
                                       const std::vector<std::string>& keys) const {
  if (keys.empty()) return absl::OkStatus();
  redis::Args migrate = {"MIGRATE", "127.0.0.1", absl::StrCat(to), "", "0", "5000", "KEYS"};
  migrate.insert(migrate.end(), keys.begin(), keys.end());
  return Must(On(from, migrate), from);
}

absl::Status RedisCluster::EndSlotMove(int64_t slot, int from, int to) const {
  auto to_id = NodeId(to);
  if (!to_id.ok()) return to_id.status();
  const redis::Args give = {"CLUSTER", "SETSLOT", absl::StrCat(slot), "NODE", *to_id};
  // The new owner first, then the old one and the other masters (as
  // redis-cli does); replicas learn it from them.
  for (int port : {to, from}) {
    if (auto st = Must(On(port, give), port); !st.ok()) return st;
  }
  for (const auto& n : nodes_) {
    auto role = On(n->port(), {"ROLE"});
    if (n->port() == to || n->port() == from || !role.ok() || (*role)[0].AsString() != "master") {
      continue;
    }
    (void)On(n->port(), give);
  }
  return absl::OkStatus();
}

absl::Status RedisCluster::MoveSlot(int64_t slot, int from, int to, int keys_per_migrate,
                                    absl::Duration pause) const {
  if (auto st = BeginSlotMove(slot, from, to); !st.ok()) return st;
  for (;;) {
    auto keys = KeysInSlot(from, slot, keys_per_migrate);
    if (!keys.ok()) return keys.status();
    if (keys->empty()) break;
    if (auto st = MigrateKeys(from, to, *keys); !st.ok()) return st;
    absl::SleepFor(pause);
  }
  return EndSlotMove(slot, from, to);
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
