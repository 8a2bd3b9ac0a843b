#include "common/redis.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/metrics.h"
#include "common/redis_cluster.h"
#include "common/status.h"

namespace govreport::redis {
namespace {

// Every error of this client names Redis internals (addresses, commands,
// hiredis and errno text, Lua errors): marked internal, so a caller gets
// a generic message and the log the detail.
absl::Status RedisUnavailable(absl::string_view detail) {
  return errors::Internal(absl::StatusCode::kUnavailable, detail);
}
absl::Status RedisInternal(absl::string_view detail) {
  return errors::Internal(absl::StatusCode::kInternal, detail);
}

// hiredis wants parallel arrays of pointers and lengths.
struct Argv {
  explicit Argv(const Args& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

}  // namespace

absl::StatusOr<Options> ParseUrl(absl::string_view url) {
  Options o;
  if (absl::StartsWith(url, "unix://")) {
    o.unix_socket = std::string(url.substr(7));
    if (o.unix_socket.empty()) {
      return absl::InvalidArgumentError("redis url: unix:// needs a path");
    }
    return o;
  }
  if (!absl::StartsWith(url, "redis://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis url '", url, "': expected redis://host:port[/db] or unix://"));
  }
  absl::string_view rest = url.substr(8);
  if (auto at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto colon = cred.find(':'); colon != absl::string_view::npos) {
      o.username = std::string(cred.substr(0, colon));
      o.password = std::string(cred.substr(colon + 1));
    } else {
      o.password = std::string(cred);
    }
  }
  if (auto slash = rest.find('/'); slash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(slash + 1), &o.db)) {
      return absl::InvalidArgumentError(absl::StrCat("redis url '", url, "': db must be a number"));
    }
    rest = rest.substr(0, slash);
  }
  if (auto colon = rest.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &o.port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis url '", url, "': port must be a number"));
    }
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.host = std::string(rest);
  return o;
}

absl::StatusOr<int64_t> ReplyView::AsInt() const {
  if (IsNil()) return 0;
  if (IsInteger()) return Int();
  int64_t v = 0;
  if (IsString() && absl::SimpleAtoi(Str(), &v)) return v;
  return RedisInternal("redis: expected an integer reply");
}

absl::Status Reply::ErrorStatus() const {
  if (!IsError()) return absl::OkStatus();
  // Redis is loading its data after a restart, busy with a script, or in
  // a failover: the command did not run and will succeed later, so the
  // caller must see UNAVAILABLE (retry), not INTERNAL.
  absl::string_view code = Str().substr(0, Str().find(' '));
  for (absl::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "MOVED", "ASK"}) {
    if (code == transient) return RedisUnavailable(absl::StrCat("redis: ", Str()));
  }
  return RedisInternal(absl::StrCat("redis: ", Str()));
}

// ------------------------------------------------------------ Connection

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Options& options) {
  timeval tv = absl::ToTimeval(options.connect_timeout);
  redisContext* ctx = options.unix_socket.empty()
                          ? redisConnectWithTimeout(options.host.c_str(), options.port, tv)
                          : redisConnectUnixWithTimeout(options.unix_socket.c_str(), tv);
  if (ctx == nullptr) {
    return RedisUnavailable("redis: cannot allocate a context");
  }
  std::unique_ptr<Connection> conn(new Connection(ctx));
  if (ctx->err) {
    return RedisUnavailable(absl::StrCat("redis: connect to ",
                                         options.unix_socket.empty()
                                             ? absl::StrCat(options.host, ":", options.port)
                                             : options.unix_socket,
                                         ": ", ctx->errstr));
  }
  GR_RETURN_IF_ERROR(conn->SetTimeout(options.command_timeout));
  if (!options.password.empty()) {
    Args auth = options.username.empty() ? Args{"AUTH", options.password}
                                         : Args{"AUTH", options.username, options.password};
    GR_RETURN_IF_ERROR(conn->Command(auth).status());
  }
  if (options.db != 0) {
    GR_RETURN_IF_ERROR(conn->Command({"SELECT", absl::StrCat(options.db)}).status());
  }
  return conn;
}

Connection::~Connection() {
  if (ctx_) redisFree(ctx_);
}

absl::Status Connection::IoError(absl::string_view what) {
  broken_ = true;
  return RedisUnavailable(
      absl::StrCat("redis: ", what, ": ", ctx_->errstr[0] ? ctx_->errstr : "connection lost"));
}

absl::Status Connection::SetTimeout(absl::Duration timeout) {
  if (redisSetTimeout(ctx_, absl::ToTimeval(timeout)) != REDIS_OK) {
    return IoError("set timeout");
  }
  return absl::OkStatus();
}

absl::StatusOr<Reply> Connection::Command(const Args& args) {
  if (broken_) return RedisUnavailable("redis: connection is broken");
  Argv argv(args);
  absl::string_view name = args.empty() ? "command" : absl::string_view(args[0]);
  absl::Time start = absl::Now();
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.ptrs.data(), argv.lens.data()));
  if (raw == nullptr) {
    metrics::ObserveRedisCall(name, absl::Now() - start, true, false);
    return IoError(name);
  }
  Reply reply(raw);
  absl::Status error = reply.ErrorStatus();
  metrics::ObserveRedisCall(name, absl::Now() - start, false, !error.ok());
  GR_RETURN_IF_ERROR(error);
  return reply;
}

namespace {

bool IsNoScript(const Reply& r) { return r.IsError() && absl::StartsWith(r.Str(), "NOSCRIPT"); }

}  // namespace

absl::StatusOr<std::vector<Reply>> Connection::Pipeline(const std::vector<Args>& cmds) {
  if (broken_) return RedisUnavailable("redis: connection is broken");
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Reply>> replies = RoundTrip(cmds);
  // NOSCRIPT is not an error of the call: EvalPipeline loads the script and
  // sends it again.
  bool error_reply =
      replies.ok() && std::any_of(replies->begin(), replies->end(),
                                  [](const Reply& r) { return r.IsError() && !IsNoScript(r); });
  metrics::ObserveRedisCall("PIPELINE", absl::Now() - start, !replies.ok(), error_reply);
  return replies;
}

absl::StatusOr<std::vector<Reply>> Connection::RoundTrip(const std::vector<Args>& cmds) {
  for (const auto& cmd : cmds) {
    Argv argv(cmd);
    if (redisAppendCommandArgv(ctx_, static_cast<int>(cmd.size()), argv.ptrs.data(),
                               argv.lens.data()) != REDIS_OK) {
      return IoError("pipeline append");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      return IoError("pipeline read");
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

// ---------------------------------------------------------------- Script

Script::Script(std::string source, Kind kind)
    : source_(std::move(source)), sha1_(Sha1Hex(source_)), writes_(kind == kWrites) {}

// ---------------------------------------------------------------- Client

Client::Client(Options options) : options_(std::move(options)) {
  if (!options_.cluster_nodes.empty()) cluster_ = std::make_unique<ClusterRouter>(options_);
}

Client::~Client() = default;

Client::Lease::Lease(Client* owner, std::unique_ptr<Connection> conn)
    : owner_(owner), conn_(std::move(conn)) {
  metrics::AddRedisPoolInUse(1);
}

Client::Lease::~Lease() {
  if (owner_ && conn_) {
    metrics::AddRedisPoolInUse(-1);
    owner_->Release(std::move(conn_));
  }
}

absl::StatusOr<Options> Client::ResolveMaster() const {
  if (options_.sentinels.empty()) return options_;
  absl::Status last = RedisUnavailable("redis: no sentinel configured");
  for (absl::string_view addr : absl::StrSplit(options_.sentinels, ',')) {
    Options s;
    s.connect_timeout = options_.connect_timeout;
    s.command_timeout = options_.command_timeout;
    auto colon = addr.rfind(':');
    s.host = std::string(addr.substr(0, colon));
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &s.port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis: sentinel address '", addr, "' needs host:port"));
    }
    auto conn = Connection::Open(s);
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    auto reply =
        (*conn)->Command({"SENTINEL", "get-master-addr-by-name", options_.sentinel_master});
    if (!reply.ok() || reply->Size() != 2) {
      last = reply.ok()
                 ? RedisUnavailable(absl::StrCat("redis: sentinel ", addr, " does not know '",
                                                 options_.sentinel_master, "'"))
                 : reply.status();
      continue;
    }
    Options master = options_;
    master.host = (*reply)[0].AsString();
    if (!absl::SimpleAtoi((*reply)[1].Str(), &master.port)) continue;
    return master;
  }
  return last;
}

absl::StatusOr<std::unique_ptr<Connection>> Client::OpenDedicated(absl::string_view key) {
  if (cluster_) return cluster_->OpenDedicated(key);
  return OpenLocal();
}

absl::StatusOr<std::unique_ptr<Connection>> Client::OpenLocal() {
  GR_ASSIGN_OR_RETURN(Options target, ResolveMaster());
  return Connection::Open(target);
}

absl::StatusOr<Client::Lease> Client::Acquire(absl::string_view key) {
  if (cluster_) return cluster_->Acquire(key);
  return AcquireLocal();
}

absl::StatusOr<Client::Lease> Client::AcquireLocal() {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.command_timeout);
  while (true) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->generation == generation_.load()) return Lease(this, std::move(conn));
      --open_;  // From before the last I/O error: drop it.
    }
    if (open_ < options_.pool_size) {
      ++open_;
      lock.unlock();
      auto conn = OpenLocal();
      if (!conn.ok()) {
        std::lock_guard<std::mutex> relock(mu_);
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      (*conn)->generation = generation_.load();
      return Lease(this, std::move(*conn));
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return RedisUnavailable("redis: connection pool exhausted");
    }
  }
}

void Client::Release(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn->broken()) {
    generation_.fetch_add(1);
    --open_;
  } else {
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

absl::StatusOr<Reply> Client::Command(const Args& args) {
  if (cluster_) return ClusterCommand(args);
  GR_ASSIGN_OR_RETURN(Lease conn, Acquire());
  return conn->Command(args);
}

absl::StatusOr<Reply> Client::ClusterCommand(const Args& args) {
  // What is about the whole data set (FLUSHALL, the script cache) goes to
  // every master; the first master's reply stands for all.
  bool every_master = !args.empty() && (absl::EqualsIgnoreCase(args[0], "FLUSHALL") ||
                                        absl::EqualsIgnoreCase(args[0], "FLUSHDB") ||
                                        absl::EqualsIgnoreCase(args[0], "SCRIPT"));
  if (every_master) {
    std::vector<Client*> masters = cluster_->Masters();
    if (masters.empty()) return RedisUnavailable("redis cluster: no master known");
    std::optional<Reply> first;
    for (Client* m : masters) {
      GR_ASSIGN_OR_RETURN(Reply r, m->Command(args));
      if (!first) first = std::move(r);
    }
    return std::move(*first);
  }
  GR_ASSIGN_OR_RETURN(std::vector<Reply> replies, cluster_->Pipeline({args}));
  GR_RETURN_IF_ERROR(replies[0].ErrorStatus());
  return std::move(replies[0]);
}

absl::Status Client::RefreshSlots() {
  return cluster_ ? cluster_->RefreshSlots() : absl::OkStatus();
}

absl::StatusOr<std::vector<Reply>> Client::Pipeline(const std::vector<Args>& cmds) {
  if (cluster_) return cluster_->Pipeline(cmds);
  GR_ASSIGN_OR_RETURN(Lease conn, Acquire());
  return conn->Pipeline(cmds);
}

namespace {

Args EvalShaArgs(const Script& script, const Args& keys, const Args& args) {
  Args cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha1());
  cmd.push_back(absl::StrCat(keys.size()));
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

}  // namespace

absl::StatusOr<Reply> Client::Eval(const Script& script, const Args& keys, const Args& args) {
  GR_ASSIGN_OR_RETURN(auto replies, EvalPipeline(script, {ScriptCall{keys, args}}));
  GR_RETURN_IF_ERROR(replies[0].ErrorStatus());
  return std::move(replies[0]);
}

absl::StatusOr<std::vector<Reply>> Client::EvalPipeline(const Script& script,
                                                        const std::vector<ScriptCall>& calls) {
  // A write script followed by WAIT on its own node: acknowledged only
  // once wait_replicas replicas have it too.
  const bool wait = options_.wait_replicas > 0 && script.writes();
  const size_t stride = wait ? 2 : 1;
  std::vector<Args> cmds;
  cmds.reserve(calls.size() * stride);
  for (const auto& c : calls) {
    cmds.push_back(EvalShaArgs(script, c.keys, c.args));
    if (wait) {
      cmds.push_back({"WAIT", absl::StrCat(options_.wait_replicas),
                      absl::StrCat(absl::ToInt64Milliseconds(options_.wait_timeout))});
    }
  }
  GR_ASSIGN_OR_RETURN(std::vector<Reply> replies, RunScript(script, std::move(cmds), stride));
  if (!wait) return replies;
  std::vector<Reply> out;
  out.reserve(calls.size());
  for (size_t i = 0; i < replies.size(); i += 2) {
    if (!replies[i].IsError() && replies[i + 1].Int() < options_.wait_replicas) {
      // It ran on the master but no replica confirmed it in time: the
      // caller retries under its request id, which replays it.
      return RedisUnavailable("redis: a write was not acknowledged by a replica in time");
    }
    out.push_back(std::move(replies[i]));
  }
  return out;
}

absl::StatusOr<std::vector<Reply>> Client::RunScript(const Script& script, std::vector<Args> cmds,
                                                     size_t stride) {
  std::optional<Lease> conn;
  if (!cluster_) {
    GR_ASSIGN_OR_RETURN(Lease lease, Acquire());
    conn.emplace(std::move(lease));
  }
  auto send = [&](const std::vector<Args>& batch) {
    return cluster_ ? cluster_->Pipeline(batch) : (*conn)->Pipeline(batch);
  };
  GR_ASSIGN_OR_RETURN(std::vector<Reply> replies, send(cmds));
  // A script cache flushed by a restart or SCRIPT FLUSH: load once, then
  // rerun only the calls that did not execute (with their WAIT).
  std::vector<size_t> retry;
  for (size_t i = 0; i < replies.size(); i += stride) {
    if (IsNoScript(replies[i])) retry.push_back(i);
  }
  if (retry.empty()) return replies;
  if (cluster_) {
    // Which node said NOSCRIPT matters little: a new master (a promoted
    // replica, a node added) lacks the script, so every master gets it.
    for (Client* master : cluster_->Masters()) {
      GR_RETURN_IF_ERROR(master->Command({"SCRIPT", "LOAD", script.source()}).status());
    }
  } else {
    GR_RETURN_IF_ERROR((*conn)->Command({"SCRIPT", "LOAD", script.source()}).status());
  }
  std::vector<Args> again;
  again.reserve(retry.size() * stride);
  for (size_t i : retry) {
    for (size_t k = 0; k < stride; ++k) again.push_back(std::move(cmds[i + k]));
  }
  GR_ASSIGN_OR_RETURN(std::vector<Reply> second, send(again));
  for (size_t r = 0; r < retry.size(); ++r) {
    for (size_t k = 0; k < stride; ++k) replies[retry[r] + k] = std::move(second[r * stride + k]);
  }
  return replies;
}

absl::Status Client::Ping() { return Command({"PING"}).status(); }

}  // namespace govreport::redis
