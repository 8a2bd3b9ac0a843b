// A real redis-server for tests: started on a free loopback port in a
// temporary directory, stopped (and its files removed) on destruction.
#ifndef GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_
#define GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis.h"

namespace govreport::testing {

class RedisServer {
 public:
  // appendfsync "always" when aof is true (for crash tests). Check ok().
  explicit RedisServer(bool aof = false) : RedisServer(aof, {}) {}
  // With more redis-server flags (a cluster node's).
  RedisServer(bool aof, std::vector<std::string> extra_args);
  // The same, as a status for callers that want one.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(bool aof = false) {
    auto server = std::make_unique<RedisServer>(aof);
    if (!server->ok()) return absl::UnavailableError("redis-server did not start");
    return server;
  }
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const;
  // The same server on a Unix socket (unix://...).
  std::string socket_path() const;
  redis::Options options() const;
  // SIGKILL; Restart() starts it again on the same port and directory.
  void Kill();
  bool Restart();

 private:
  bool Launch();
  bool aof_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

// A port nobody listens on right now.
int FreePort();

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_
