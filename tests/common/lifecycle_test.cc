// The real binaries' life cycle: SIGTERM ends each of them in every phase
// (waiting for Redis, serving, draining), and a server started on a port
// that another one holds fails instead of listening beside it. The bounds
// are generous: a test fails when a process does not exit, never on how
// long it took.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX kill
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport {
namespace {

constexpr absl::Duration kBound = absl::Seconds(60);
constexpr char kSecret[] = "lifecycle-test-secret-0123456789abcdef";

// A child process whose stdout and stderr come back through one pipe.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> raw;
      raw.reserve(argv.size() + 1);
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // Reads output until it contains `text`; false at EOF or after kBound.
  bool WaitForOutput(absl::string_view text) {
    absl::Time until = absl::Now() + kBound;
    while (!absl::StrContains(output_, text) && absl::Now() < until) {
      if (!ReadSome(absl::Milliseconds(200)) && Exited()) return absl::StrContains(output_, text);
    }
    return absl::StrContains(output_, text);
  }
  // Waits for the process to end (at most kBound); its wait status.
  std::optional<int> WaitForExit() {
    absl::Time until = absl::Now() + kBound;
    while (!Exited() && absl::Now() < until) ReadSome(absl::Milliseconds(100));
    return status_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  const std::string& output() const { return output_; }
  // "... listening on port N": N.
  int AnnouncedPort() const {
    size_t at = output_.find("listening on port ");
    int port = 0;
    if (at == std::string::npos) return 0;
    std::string rest = output_.substr(at + 18);
    (void)absl::SimpleAtoi(rest.substr(0, rest.find('\n')), &port);
    return port;
  }

 private:
  bool ReadSome(absl::Duration wait) {
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) return false;
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof(buf));
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool Exited() {
    if (status_) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    return status_.has_value();
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
  std::optional<int> status_;
};

std::vector<std::string> ServerArgs(const std::string& binary, int redis_port,
                                    const std::string& listen = "127.0.0.1:0") {
  std::vector<std::string> args = {binary,
                                   "--listen",
                                   listen,
                                   "--redis-url",
                                   absl::StrCat("redis://127.0.0.1:", redis_port),
                                   "--secret-key",
                                   kSecret,
                                   "--shutdown-grace-ms",
                                   "2000"};
  return args;
}

struct Binary {
  const char* name;
  const char* path;
};

const std::vector<Binary>& Servers() {
  static const std::vector<Binary> servers = {{"records", GOVREPORT_RECORDS_BIN},
                                              {"templates", GOVREPORT_TEMPLATES_BIN},
                                              {"approval", GOVREPORT_APPROVAL_BIN},
                                              {"assembler", GOVREPORT_ASSEMBLER_BIN}};
  return servers;
}

bool ExitedCleanly(const std::optional<int>& status) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// No Redis at all: the assembler waits for it to create its groups, the
// others serve NOT_SERVING. SIGTERM ends each, with exit status 0.
TEST(LifecycleTest, SigtermEndsEveryServerWhileRedisIsAway) {
  int no_redis = testing::FreePort();
  for (const Binary& b : Servers()) {
    Child child(ServerArgs(b.path, no_redis));
    bool assembler = std::string(b.name) == "assembler";
    ASSERT_TRUE(child.WaitForOutput(assembler ? "waiting for Redis" : "listening on port"))
        << b.name << ": " << child.output();
    child.Signal(SIGTERM);
    std::optional<int> status = child.WaitForExit();
    ASSERT_TRUE(status.has_value()) << b.name << " ignored SIGTERM: " << child.output();
    EXPECT_TRUE(ExitedCleanly(status)) << b.name << ": " << child.output();
  }
}

// Serving with Redis up (the assembler's workers blocked in XREADGROUP),
// then draining: SIGTERM ends each.
TEST(LifecycleTest, SigtermEndsEveryServerWhileServing) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  for (const Binary& b : Servers()) {
    Child child(ServerArgs(b.path, redis.port()));
    ASSERT_TRUE(child.WaitForOutput("listening on port")) << b.name << ": " << child.output();
    child.Signal(SIGTERM);
    std::optional<int> status = child.WaitForExit();
    ASSERT_TRUE(status.has_value()) << b.name << " ignored SIGTERM: " << child.output();
    EXPECT_TRUE(ExitedCleanly(status)) << b.name << ": " << child.output();
    EXPECT_TRUE(absl::StrContains(child.output(), "draining")) << child.output();
  }
}

// reportctl waiting on a server that accepted the connection but never
// answers: SIGTERM ends it.
TEST(LifecycleTest, SigtermEndsReportctlInALongWait) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  Child child({GOVREPORT_REPORTCTL_BIN, "--assembler", address, "--token", "t", "--timeout-ms",
               "3600000", "report", "watch", "kjj/r"});
  // It is in its wait once it has connected.
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kBound))), 1);
  int conn = accept(listener, nullptr, nullptr);
  child.Signal(SIGTERM);
  std::optional<int> status = child.WaitForExit();
  ASSERT_TRUE(status.has_value()) << "reportctl ignored SIGTERM: " << child.output();
  // Ended by the signal, not by giving up on the server.
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << child.output();
  if (conn >= 0) close(conn);
  close(listener);
}

// A second server on a port the first one holds fails with a clear error
// (gRPC's SO_REUSEPORT would let both listen); the first keeps serving.
TEST(LifecycleTest, ASecondServerOnAPortInUseFails) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok());
  Child first(ServerArgs(GOVREPORT_RECORDS_BIN, redis.port()));
  ASSERT_TRUE(first.WaitForOutput("listening on port")) << first.output();
  int port = first.AnnouncedPort();
  ASSERT_GT(port, 0) << first.output();
  Child second(ServerArgs(GOVREPORT_RECORDS_BIN, redis.port(), absl::StrCat("127.0.0.1:", port)));
  std::optional<int> status = second.WaitForExit();
  ASSERT_TRUE(status.has_value()) << "the second server listens too: " << second.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << second.output();
  EXPECT_TRUE(absl::StrContains(second.output(), "in use")) << second.output();
  first.Signal(SIGTERM);
  EXPECT_TRUE(ExitedCleanly(first.WaitForExit())) << first.output();
}

}  // namespace
}  // namespace govreport
