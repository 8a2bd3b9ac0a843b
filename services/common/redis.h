// Redis client over hiredis 0.14: RAII owners for contexts and replies, a
// timeout on every call, a connection pool that replaces a context after any
// I/O error, pipelining, and Lua scripts run by EVALSHA with a NOSCRIPT
// fallback. Optional Sentinel discovery of the master, or Redis Cluster
// routing (redis_cluster.h) when cluster seed nodes are given.
#ifndef GOVREPORT_COMMON_REDIS_H_
#define GOVREPORT_COMMON_REDIS_H_

#include <hiredis/hiredis.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::redis {

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;
  std::string username;  // ACL user (Redis 6+); empty uses "default".
  std::string password;
  int db = 0;
  // "host:port,host:port" of Sentinels; when set, host/port are asked of
  // them on every (re)connect, so a failover is followed automatically.
  std::string sentinels;
  std::string sentinel_master = "mymaster";
  // "host:port,host:port" of Redis Cluster nodes (any, masters or
  // replicas); when set, every call is routed by its key's slot and
  // host/port/unix_socket/sentinels are not used.
  std::string cluster_nodes;
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration command_timeout = absl::Seconds(2);
  int pool_size = 16;
  // When > 0, every call of a write script (Script::kWrites) is followed
  // by WAIT wait_replicas on its node, and fails UNAVAILABLE when fewer
  // replicas confirmed it within wait_timeout (the write ran on the master:
  // a retry under the same request id replays it).
  int wait_replicas = 0;
  absl::Duration wait_timeout = absl::Seconds(1);
};

// Parses redis://[user:password@]host:port[/db] or unix:///path/to/socket.
absl::StatusOr<Options> ParseUrl(absl::string_view url);

class ReplyView {
 public:
  explicit ReplyView(const redisReply* reply) : r_(reply) {}
  bool IsNil() const { return r_ == nullptr || r_->type == REDIS_REPLY_NIL; }
  bool IsError() const { return r_ && r_->type == REDIS_REPLY_ERROR; }
  bool IsString() const {
    return r_ && (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS);
  }
  bool IsInteger() const { return r_ && r_->type == REDIS_REPLY_INTEGER; }
  bool IsArray() const { return r_ && r_->type == REDIS_REPLY_ARRAY; }
  absl::string_view Str() const {
    return (r_ && r_->str) ? absl::string_view(r_->str, r_->len) : absl::string_view();
  }
  long long Int() const { return r_ ? r_->integer : 0; }
  size_t Size() const { return IsArray() ? r_->elements : 0; }
  ReplyView operator[](size_t i) const { return ReplyView(i < Size() ? r_->element[i] : nullptr); }
  // Integer replies, or strings holding an integer; nil counts as 0.
  absl::StatusOr<int64_t> AsInt() const;
  std::string AsString() const { return std::string(Str()); }

 private:
  const redisReply* r_;
};

class Reply {
 public:
  struct Deleter {
    void operator()(redisReply* r) const {
      if (r) freeReplyObject(r);
    }
  };
  Reply() = default;
  explicit Reply(redisReply* r) : owner_(r) {}
  ReplyView view() const { return ReplyView(owner_.get()); }
  bool IsNil() const { return view().IsNil(); }
  bool IsError() const { return view().IsError(); }
  absl::string_view Str() const { return view().Str(); }
  long long Int() const { return view().Int(); }
  size_t Size() const { return view().Size(); }
  ReplyView operator[](size_t i) const { return view()[i]; }
  absl::StatusOr<int64_t> AsInt() const { return view().AsInt(); }
  // An error reply as a Status (OK otherwise).
  absl::Status ErrorStatus() const;

 private:
  std::unique_ptr<redisReply, Deleter> owner_;
};

using Args = std::vector<std::string>;

class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One command; an error reply becomes a Status.
  absl::StatusOr<Reply> Command(const Args& args);
  // Many commands in one round trip; error replies stay in the vector.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<Args>& cmds);
  // For blocking reads: the socket timeout must exceed the BLOCK time.
  absl::Status SetTimeout(absl::Duration timeout);
  // After an I/O error the context cannot be trusted (a reply may be half
  // read), so it is never reused.
  bool broken() const { return broken_; }
  uint64_t generation = 0;

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  absl::StatusOr<std::vector<Reply>> RoundTrip(const std::vector<Args>& cmds);
  absl::Status IoError(absl::string_view what);
  redisContext* ctx_;
  bool broken_ = false;
};

class ClusterRouter;

class Script {
 public:
  // kWrites: a write whose acknowledgement waits for Options::wait_replicas.
  enum Kind { kReads, kWrites };
  explicit Script(std::string source, Kind kind = kReads);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }
  bool writes() const { return writes_; }

 private:
  std::string source_;
  std::string sha1_;
  bool writes_;
};

struct ScriptCall {
  Args keys;
  Args args;
};

class Client {
 public:
  explicit Client(Options options);
  ~Client();

  class Lease {
   public:
    Lease(Client* owner, std::unique_ptr<Connection> conn);
    Lease(Lease&&) = default;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    Client* owner_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits at most command_timeout for a pooled connection. In cluster
  // mode the connection is to the master of `key`'s slot (any master for
  // no key), and the commands sent on it are not redirected: a lease is
  // for commands of that one slot.
  absl::StatusOr<Lease> Acquire(absl::string_view key = {});
  // A connection outside the pool, for blocking reads (XREADGROUP BLOCK),
  // to the master of `key`'s slot in cluster mode. After an error on it,
  // call RefreshSlots() and open a new one.
  absl::StatusOr<std::unique_ptr<Connection>> OpenDedicated(absl::string_view key = {});

  absl::StatusOr<Reply> Command(const Args& args);
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<Args>& cmds);
  // EVALSHA; on NOSCRIPT loads the script and runs it again.
  absl::StatusOr<Reply> Eval(const Script& script, const Args& keys, const Args& args);
  // Many EVALSHA calls of one script in one round trip (one NOSCRIPT retry).
  absl::StatusOr<std::vector<Reply>> EvalPipeline(const Script& script,
                                                  const std::vector<ScriptCall>& calls);
  absl::Status Ping();
  // Cluster mode: reads the slot map again (CLUSTER SLOTS). OK otherwise.
  absl::Status RefreshSlots();
  bool cluster() const { return cluster_ != nullptr; }

  const Options& options() const { return options_; }

 private:
  void Release(std::unique_ptr<Connection> conn);
  absl::StatusOr<Lease> AcquireLocal();
  absl::StatusOr<std::unique_ptr<Connection>> OpenLocal();
  absl::StatusOr<Reply> ClusterCommand(const Args& args);
  // EVALSHA commands, each followed by stride - 1 others (its WAIT), with
  // the NOSCRIPT fallback.
  absl::StatusOr<std::vector<Reply>> RunScript(const Script& script, std::vector<Args> cmds,
                                               size_t stride);
  absl::StatusOr<Options> ResolveMaster() const;

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  // Bumped after an I/O error so every idle connection of the same era is
  // dropped too: after a Redis restart they are all dead.
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<ClusterRouter> cluster_;
};

}  // namespace govreport::redis

#endif  // GOVREPORT_COMMON_REDIS_H_
