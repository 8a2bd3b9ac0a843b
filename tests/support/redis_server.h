// A real redis-server for tests: started on a free loopback port in a
// temporary directory, stopped (and its files removed) on destruction.
#ifndef GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_
#define GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <string>

#include "common/redis.h"

namespace govreport::testing {

class RedisServer {
 public:
  // appendfsync "always" when aof is true (for crash tests).
  explicit RedisServer(bool aof = false);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const;
  // The same server on a Unix socket (unix://...).
  std::string socket_path() const;
  redis::Options options() const;
  // SIGKILL, then start again on the same port and directory.
  void Kill();
  bool Start();

 private:
  bool aof_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

// A port nobody listens on right now.
int FreePort();

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_REDIS_SERVER_H_
