// Redis Cluster routing for redis::Client (hiredis 0.14 has none): the key
// slot of the cluster spec (CRC16-XMODEM of the key or of its {hash tag},
// mod 16384), the key a command is routed by, and the router a Client in
// cluster mode hands every call to. The router keeps a slot map read with
// CLUSTER SLOTS and one pool (a single-node Client) per node; it follows
// -MOVED (map refreshed, command resent) and -ASK (ASKING, resent once),
// backs off on -TRYAGAIN and -CLUSTERDOWN and on nodes that refuse
// connections, and gives up after a capped number of rounds.
#ifndef GOVREPORT_COMMON_REDIS_CLUSTER_H_
#define GOVREPORT_COMMON_REDIS_CLUSTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis.h"

namespace govreport::redis {

inline constexpr int kClusterSlots = 16384;

// CRC16 with the XMODEM parameters (poly 0x1021, init 0, no reflection).
uint16_t Crc16(absl::string_view data);
// The cluster slot of a key: only the part between the first '{' and the
// next '}' is hashed when that part is not empty.
int KeySlot(absl::string_view key);
// The key a command is routed by: the first key by its position (after
// numkeys for EVAL/EVALSHA, after STREAMS for XREAD/XREADGROUP, after the
// subcommand for XGROUP/XINFO); nullopt for commands without keys.
std::optional<absl::string_view> RoutingKey(const Args& cmd);

class ClusterRouter {
 public:
  explicit ClusterRouter(const Options& options);
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  // Commands split by node, each node's share in one round trip, replies
  // put back in the callers' order. MULTI..EXEC and keyless commands that
  // follow a command (WAIT) stay with it on its node.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<Args>& cmds);
  // A pooled connection / a new one to the master of key's slot (any
  // master for an empty key).
  absl::StatusOr<Client::Lease> Acquire(absl::string_view key);
  absl::StatusOr<std::unique_ptr<Connection>> OpenDedicated(absl::string_view key);
  // CLUSTER SLOTS from the first node that answers.
  absl::Status RefreshSlots();
  // The pools of every master in the map (for SCRIPT LOAD, FLUSHALL).
  std::vector<Client*> Masters();

 private:
  struct Unit;
  Client* NodeLocked(const std::string& address);
  Client* NodeForSlot(int slot);
  Client* AnyMaster();
  std::vector<std::string> RefreshCandidates();
  absl::Status ApplySlots(const Reply& slots, const std::string& asked_host);
  // Sends every unit of one node; false when the node refused to connect
  // (nothing was sent, the units may be sent again).
  absl::StatusOr<bool> SendToNode(Client* node, const std::vector<Args>& cmds,
                                  std::vector<Unit*>& units, std::vector<Reply>& out);

  const Options base_;
  std::mutex mu_;
  std::vector<std::string> seeds_;
  std::map<std::string, std::unique_ptr<Client>> nodes_;  // Never erased.
  std::vector<Client*> slots_;                            // kClusterSlots entries.
  std::vector<std::string> replicas_;
  std::mutex refresh_mu_;
  absl::Time last_refresh_ = absl::InfinitePast();
};

}  // namespace govreport::redis

#endif  // GOVREPORT_COMMON_REDIS_CLUSTER_H_
