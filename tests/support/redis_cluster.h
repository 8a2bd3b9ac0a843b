// A real Redis Cluster for tests: six redis-server --cluster-enabled yes on
// free loopback ports, joined by redis-cli --cluster create with one
// replica per master (3 masters, 3 replicas), ready once every node says
// cluster_state:ok and sees every slot range with its replica.
#ifndef GOVREPORT_TESTS_SUPPORT_REDIS_CLUSTER_H_
#define GOVREPORT_TESTS_SUPPORT_REDIS_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "redis_server.h"

namespace govreport::testing {

class RedisCluster {
 public:
  // aof: appendonly yes with appendfsync always on every node.
  explicit RedisCluster(bool aof = false);
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  bool ok() const { return ok_; }
  // "127.0.0.1:p1,127.0.0.1:p2,..." for --redis-cluster.
  std::string seeds() const;
  // Client options in cluster mode.
  redis::Options options() const;
  size_t size() const { return nodes_.size(); }
  RedisServer& node(size_t i) { return *nodes_[i]; }
  // The node listening on `port` (nullptr if none).
  RedisServer* NodeByPort(int port);

  // A command to one node, never redirected.
  absl::StatusOr<redis::Reply> On(int port, const redis::Args& cmd) const;
  // The port of the master serving `key`'s slot, as the nodes now see it.
  absl::StatusOr<int> MasterOf(absl::string_view key) const;
  // The port of a replica of the master on `master_port`.
  absl::StatusOr<int> ReplicaOf(int master_port) const;
  absl::StatusOr<std::string> NodeId(int port) const;
  // Another master than the one on `port`.
  absl::StatusOr<int> OtherMaster(int port) const;
  // Moves `slot` from the master on `from` to the one on `to` as
  // `redis-cli --cluster reshard` does (SETSLOT IMPORTING / MIGRATING,
  // MIGRATE ... KEYS, SETSLOT NODE), `keys_per_migrate` keys at a time with
  // `pause` between, so that calls meanwhile meet every stage of it.
  absl::Status MoveSlot(int64_t slot, int from, int to, int keys_per_migrate = 8,
                        absl::Duration pause = absl::Milliseconds(5)) const;
  // MoveSlot's steps, for a test that stops halfway: the slot marked
  // importing on `to` and migrating on `from`; `keys` moved; the slot given
  // to `to` on every master.
  absl::Status BeginSlotMove(int64_t slot, int from, int to) const;
  absl::Status MigrateKeys(int from, int to, const std::vector<std::string>& keys) const;
  absl::Status EndSlotMove(int64_t slot, int from, int to) const;
  // The keys of `slot` on the node on `port` (at most `limit`).
  absl::StatusOr<std::vector<std::string>> KeysInSlot(int port, int64_t slot,
                                                      int limit = 100000) const;

  // Every live node has cluster_state:ok and sees the slot ranges, each
  // with a replica but for at most `missing_replicas` (a master killed).
  bool WaitHealthy(absl::Duration timeout, int missing_replicas = 0) const;

 private:
  bool Create();
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  bool ok_ = false;
};

// One cluster for a whole test program, started on first use and stopped
// at exit: for suites built a second time to run on a cluster
// (GOVREPORT_TEST_ON_CLUSTER), which FLUSHALL it in SetUp.
RedisCluster& SharedCluster();

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_REDIS_CLUSTER_H_
