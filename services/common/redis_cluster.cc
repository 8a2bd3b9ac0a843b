#include "common/redis_cluster.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/status.h"

namespace govreport::redis {
namespace {

// Rounds of a call (redirects and back-offs together) before it fails:
// enough for a replica to be promoted (cluster-node-timeout plus an
// election) while the back-off doubles to its cap.
constexpr int kMaxRounds = 24;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Milliseconds(500);
// Many callers see the same MOVED at once: one CLUSTER SLOTS serves them.
constexpr absl::Duration kRefreshDebounce = absl::Milliseconds(20);

absl::Status ClusterUnavailable(absl::string_view detail) {
  return errors::Internal(absl::StatusCode::kUnavailable, detail);
}

// The table of the XMODEM CRC (poly 0x1021), built once.
std::array<uint16_t, 256> MakeCrcTable() {
  std::array<uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

bool IsName(const Args& cmd, absl::string_view name) {
  return !cmd.empty() && absl::EqualsIgnoreCase(cmd[0], name);
}

enum class Redirect { kNone, kMoved, kAsk, kRetry };

// -MOVED <slot> <host:port>, -ASK <slot> <host:port>, -TRYAGAIN, -CLUSTERDOWN.
Redirect ParseRedirect(const Reply& reply, std::string* address) {
  if (!reply.IsError()) return Redirect::kNone;
  absl::string_view text = reply.Str();
  bool moved = absl::StartsWith(text, "MOVED ");
  if (moved || absl::StartsWith(text, "ASK ")) {
    std::vector<absl::string_view> parts = absl::StrSplit(text, ' ');
    if (parts.size() >= 3) {
      *address = std::string(parts[2]);
      return moved ? Redirect::kMoved : Redirect::kAsk;
    }
  }
  if (absl::StartsWith(text, "TRYAGAIN") || absl::StartsWith(text, "CLUSTERDOWN")) {
    return Redirect::kRetry;
  }
  return Redirect::kNone;
}

absl::StatusOr<std::pair<std::string, int>> SplitAddress(absl::string_view address) {
  auto colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis cluster: node address '", address, "' needs host:port"));
  }
  return std::make_pair(std::string(address.substr(0, colon)), port);
}

}  // namespace

uint16_t Crc16(absl::string_view data) {
  static const std::array<uint16_t, 256> kTable = MakeCrcTable();
  uint16_t crc = 0;
  for (char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ static_cast<uint8_t>(c)) & 0xff]);
  }
  return crc;
}

int KeySlot(absl::string_view key) {
  auto open = key.find('{');
  if (open != absl::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != absl::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & (kClusterSlots - 1);
}

std::optional<absl::string_view> RoutingKey(const Args& cmd) {
  if (cmd.size() < 2) return std::nullopt;
  static const std::set<std::string> kKeyless = {
      "PING",   "INFO",   "SCRIPT", "CLUSTER",  "MULTI",   "EXEC",     "DISCARD", "WAIT",
      "ASKING", "TIME",   "CONFIG", "CLIENT",   "AUTH",    "HELLO",    "COMMAND", "ECHO",
      "SELECT", "DBSIZE", "ACL",    "FLUSHALL", "FLUSHDB", "READONLY", "SLOWLOG", "FUNCTION"};
  std::string name = absl::AsciiStrToUpper(cmd[0]);
  if (kKeyless.count(name) != 0) return std::nullopt;
  if (name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" || name == "EVALSHA_RO" ||
      name == "FCALL") {
    int numkeys = 0;
    if (cmd.size() < 4 || !absl::SimpleAtoi(cmd[2], &numkeys) || numkeys < 1) return std::nullopt;
    return absl::string_view(cmd[3]);
  }
  if (name == "XREAD" || name == "XREADGROUP") {
    for (size_t i = 1; i + 1 < cmd.size(); ++i) {
      if (absl::EqualsIgnoreCase(cmd[i], "STREAMS")) return absl::string_view(cmd[i + 1]);
    }
    return std::nullopt;
  }
  if (name == "XGROUP" || name == "XINFO" || name == "OBJECT" || name == "MEMORY") {
    if (cmd.size() < 3) return std::nullopt;
    return absl::string_view(cmd[2]);
  }
  return absl::string_view(cmd[1]);
}

// Commands that must run on one node together, [begin, end) of the call.
struct ClusterRouter::Unit {
  size_t begin = 0;
  size_t end = 0;
  int slot = -1;         // -1: no key, any master serves it.
  std::string redirect;  // host:port named by the last MOVED or ASK.
  bool asking = false;
  bool moved = false;  // The map was stale for it.
  bool done = false;
};

namespace {

// MULTI..EXEC is one unit; keyless commands after a command (WAIT) join
// its unit, so they run on the node that ran it.
template <typename UnitT>
std::vector<UnitT> BuildUnits(const std::vector<Args>& cmds) {
  std::vector<UnitT> units;
  size_t n = cmds.size();
  for (size_t i = 0; i < n;) {
    UnitT u;
    u.begin = i;
    u.end = i + 1;
    if (IsName(cmds[i], "MULTI")) {
      size_t j = i + 1;
      while (j < n && !IsName(cmds[j], "EXEC") && !IsName(cmds[j], "DISCARD")) ++j;
      u.end = std::min(j + 1, n);
    }
    while (u.end < n && !RoutingKey(cmds[u.end]) && !IsName(cmds[u.end], "MULTI")) ++u.end;
    for (size_t k = u.begin; k < u.end; ++k) {
      if (auto key = RoutingKey(cmds[k])) {
        u.slot = KeySlot(*key);
        break;
      }
    }
    i = u.end;
    units.push_back(std::move(u));
  }
  return units;
}

}  // namespace

ClusterRouter::ClusterRouter(const Options& options) : base_(options) {
  for (absl::string_view seed :
       absl::StrSplit(options.cluster_nodes, ',', absl::SkipWhitespace())) {
    seeds_.emplace_back(absl::StripAsciiWhitespace(seed));
  }
}

ClusterRouter::~ClusterRouter() = default;

Client* ClusterRouter::NodeLocked(const std::string& address) {
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return it->second.get();
  auto host_port = SplitAddress(address);
  if (!host_port.ok()) return nullptr;
  Options node = base_;
  node.cluster_nodes.clear();
  node.sentinels.clear();
  node.unix_socket.clear();
  node.host = host_port->first;
  node.port = host_port->second;
  return nodes_.emplace(address, std::make_unique<Client>(node)).first->second.get();
}

Client* ClusterRouter::NodeForSlot(int slot) {
  if (slot < 0) return AnyMaster();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!slots_.empty() && slots_[slot] != nullptr) return slots_[slot];
  }
  (void)RefreshSlots();
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.empty() ? nullptr : slots_[slot];
}

Client* ClusterRouter::AnyMaster() {
  bool empty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    empty = slots_.empty();
  }
  if (empty) (void)RefreshSlots();
  std::lock_guard<std::mutex> lock(mu_);
  for (Client* node : slots_) {
    if (node != nullptr) return node;
  }
  return nullptr;
}

std::vector<Client*> ClusterRouter::Masters() {
  (void)AnyMaster();  // Loads the map on first use.
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Client*> out;
  for (Client* node : slots_) {
    if (node != nullptr && std::find(out.begin(), out.end(), node) == out.end()) {
      out.push_back(node);
    }
  }
  return out;
}

std::vector<std::string> ClusterRouter::RefreshCandidates() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  auto add = [&out](const std::string& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  for (const auto& [address, node] : nodes_) add(address);
  for (const auto& r : replicas_) add(r);
  for (const auto& s : seeds_) add(s);
  return out;
}

absl::Status ClusterRouter::ApplySlots(const Reply& slots, const std::string& asked_host) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Client*> table(kClusterSlots, nullptr);
  std::vector<std::string> replicas;
  // Each entry: start, end, master [ip, port, id, ...], replicas...; an
  // empty ip means "the host you asked".
  auto address = [&asked_host](ReplyView node) {
    std::string host = node[0].AsString();
    return absl::StrCat(host.empty() ? asked_host : host, ":", node[1].Int());
  };
  for (size_t i = 0; i < slots.Size(); ++i) {
    ReplyView entry = slots[i];
    long long start = entry[0].Int();
    long long end = entry[1].Int();
    if (entry.Size() < 3 || start < 0 || end >= kClusterSlots || start > end) {
      return ClusterUnavailable("redis cluster: malformed CLUSTER SLOTS reply");
    }
    Client* master = NodeLocked(address(entry[2]));
    if (master == nullptr) return ClusterUnavailable("redis cluster: bad node address");
    std::fill(table.begin() + start, table.begin() + end + 1, master);
    for (size_t r = 3; r < entry.Size(); ++r) replicas.push_back(address(entry[r]));
  }
  slots_ = std::move(table);
  replicas_ = std::move(replicas);
  return absl::OkStatus();
}

absl::Status ClusterRouter::RefreshSlots() {
  std::lock_guard<std::mutex> lock(refresh_mu_);
  if (absl::Now() - last_refresh_ < kRefreshDebounce) return absl::OkStatus();
  absl::Status last = ClusterUnavailable("redis cluster: no seed node given");
  for (const std::string& candidate : RefreshCandidates()) {
    auto host_port = SplitAddress(candidate);
    if (!host_port.ok()) return host_port.status();
    Options o = base_;
    o.host = host_port->first;
    o.port = host_port->second;
    auto conn = Connection::Open(o);
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    auto reply = (*conn)->Command({"CLUSTER", "SLOTS"});
    if (!reply.ok() || reply->Size() == 0) {
      last =
          reply.ok() ? ClusterUnavailable("redis cluster: a node knows no slots") : reply.status();
      continue;
    }
    GR_RETURN_IF_ERROR(ApplySlots(*reply, o.host));
    last_refresh_ = absl::Now();
    return absl::OkStatus();
  }
  return last;
}

absl::StatusOr<Client::Lease> ClusterRouter::Acquire(absl::string_view key) {
  Client* node = key.empty() ? AnyMaster() : NodeForSlot(KeySlot(key));
  if (node == nullptr) return ClusterUnavailable("redis cluster: no node serves the slot");
  return node->Acquire();
}

absl::StatusOr<std::unique_ptr<Connection>> ClusterRouter::OpenDedicated(absl::string_view key) {
  Client* node = key.empty() ? AnyMaster() : NodeForSlot(KeySlot(key));
  if (node == nullptr) return ClusterUnavailable("redis cluster: no node serves the slot");
  return node->OpenDedicated();
}

absl::StatusOr<bool> ClusterRouter::SendToNode(Client* node, const std::vector<Args>& cmds,
                                               std::vector<Unit*>& units, std::vector<Reply>& out) {
  auto lease = node->Acquire();
  if (!lease.ok()) {
    // Sent again by the map, after a back-off (a failover may be under way).
    for (Unit* u : units) {
      u->redirect.clear();
      u->asking = false;
    }
    return false;
  }
  // The whole call on this node, no ASKING (one org's batch): sent as it
  // is, without copying its arguments.
  size_t covered = 0;
  bool asking = false;
  for (const Unit* u : units) {
    covered += u->end - u->begin;
    asking = asking || u->asking;
  }
  std::vector<Args> batch;
  if (covered != cmds.size() || asking) {
    for (Unit* u : units) {
      if (u->asking) batch.push_back({"ASKING"});
      batch.insert(batch.end(), cmds.begin() + static_cast<std::ptrdiff_t>(u->begin),
                   cmds.begin() + static_cast<std::ptrdiff_t>(u->end));
    }
  }
  GR_ASSIGN_OR_RETURN(std::vector<Reply> replies, (*lease)->Pipeline(batch.empty() ? cmds : batch));
  size_t r = 0;
  for (Unit* u : units) {
    if (u->asking) ++r;  // ASKING's own +OK.
    u->asking = false;
    u->redirect.clear();
    Redirect kind = Redirect::kNone;
    std::string address;
    for (size_t k = 0; k < u->end - u->begin && kind == Redirect::kNone; ++k) {
      kind = ParseRedirect(replies[r + k], &address);
    }
    if (kind == Redirect::kNone) {
      for (size_t k = u->begin; k < u->end; ++k) out[k] = std::move(replies[r++]);
      u->done = true;
      continue;
    }
    r += u->end - u->begin;
    if (kind != Redirect::kRetry) u->redirect = address;
    u->asking = kind == Redirect::kAsk;
    u->moved = kind == Redirect::kMoved;
  }
  return true;
}

absl::StatusOr<std::vector<Reply>> ClusterRouter::Pipeline(const std::vector<Args>& cmds) {
  std::vector<Unit> units = BuildUnits<Unit>(cmds);
  std::vector<Reply> out(cmds.size());
  absl::Duration backoff = kFirstBackoff;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::map<Client*, std::vector<Unit*>> by_node;
    for (Unit& u : units) {
      if (u.done) continue;
      Client* node = nullptr;
      if (!u.redirect.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        node = NodeLocked(u.redirect);
      } else {
        node = NodeForSlot(u.slot);
      }
      if (node == nullptr) return ClusterUnavailable("redis cluster: no node serves the slot");
      by_node[node].push_back(&u);
    }
    if (by_node.empty()) return out;
    bool wait = false;
    bool refresh = false;
    for (auto& [node, node_units] : by_node) {
      absl::StatusOr<bool> sent = SendToNode(node, cmds, node_units, out);
      if (!sent.ok()) {
        // Lost mid round trip: the commands may have run, so they are not
        // sent again; the next call starts from a fresh map.
        (void)RefreshSlots();
        return sent.status();
      }
      if (!*sent) wait = refresh = true;
    }
    for (Unit& u : units) {
      if (u.done) continue;
      if (u.moved) {
        u.moved = false;
        refresh = true;
      } else if (u.redirect.empty()) {
        wait = true;  // TRYAGAIN, CLUSTERDOWN, or a node that refused.
      }
    }
    if (refresh) (void)RefreshSlots();
    if (wait) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  return ClusterUnavailable("redis cluster: too many redirects and retries");
}

}  // namespace govreport::redis
