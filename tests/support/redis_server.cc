#include "redis_server.h"

#include <netinet/in.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX kill
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace govreport::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return 0;  // As an unbound socket's name would say.
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

namespace {

// A cluster node also listens on port + 10000 (its cluster bus), which
// must be a port too, and free.
int FreeClusterPort() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = FreePort();
    if (port <= 0 || port + 10000 > 65535) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port + 10000));
    bool bus_free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (bus_free) return port;
  }
  return 0;
}

}  // namespace

RedisServer::RedisServer(bool aof, std::vector<std::string> extra_args)
    : aof_(aof), extra_args_(std::move(extra_args)) {
  char tmpl[] = "/tmp/gr-redis-XXXXXX";
  dir_ = mkdtemp(tmpl);
  bool cluster =
      std::find(extra_args_.begin(), extra_args_.end(), "--cluster-enabled") != extra_args_.end();
  // A free port can be taken between probing and binding: try others.
  for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
    port_ = cluster ? FreeClusterPort() : FreePort();
    Launch();
  }
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::socket_path() const { return dir_ + "/redis.sock"; }

std::string RedisServer::url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

redis::Options RedisServer::options() const {
  redis::Options o;
  o.port = port_;
  return o;
}

bool RedisServer::Restart() { return Launch(); }

bool RedisServer::Launch() {
  std::string port = absl::StrCat(port_);
  pid_ = fork();
  if (pid_ == 0) {
    // Quiet, local, persistent only when asked, and gone with the test
    // even when the test crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (freopen("/dev/null", "w", stdout) == nullptr) _exit(127);
    std::string sock = dir_ + "/redis.sock";
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     port,
                                     "--bind",
                                     "127.0.0.1",
                                     "--unixsocket",
                                     sock,
                                     "--dir",
                                     dir_,
                                     "--save",
                                     "",
                                     "--appendonly",
                                     aof_ ? "yes" : "no",
                                     "--appendfsync",
                                     "always"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  redis::Options o = options();
  o.connect_timeout = absl::Milliseconds(200);
  for (int i = 0; i < 100; ++i) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) break;  // Exited: port taken?
    auto conn = redis::Connection::Open(o);
    if (conn.ok() && (*conn)->Command({"PING"}).ok()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::fprintf(stderr, "redis-server did not start on port %d\n", port_);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return false;
}

void RedisServer::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

}  // namespace govreport::testing
