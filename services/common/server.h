// Server bootstrap shared by every binary: listening address (exclusive:
// a port in use is an error), gRPC health checking driven by a readiness
// probe (NOT_SERVING while Redis is away or the server drains, for "" and
// for every service's full name), server reflection (v1alpha: what gRPC
// 1.51 ships; v1: common/reflection_v1.h), message size limits, and
// shutdown on SIGTERM in every phase.
#ifndef GOVREPORT_COMMON_SERVER_H_
#define GOVREPORT_COMMON_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/tls.h"

namespace govreport {

class ReflectionV1Service;
namespace metrics {
class Endpoint;
}  // namespace metrics

struct ServerOptions {
  // host:port; port 0 picks a free one (see RunningServer::port()).
  std::string address = "127.0.0.1:0";
  std::vector<grpc::Service*> services;
  // Called every probe_interval; health is SERVING while it returns OK.
  std::function<absl::Status()> readiness;
  absl::Duration probe_interval = absl::Seconds(1);
  int max_message_bytes = 16 << 20;
  // Requests bigger than this are refused (RESOURCE_EXHAUSTED) before they
  // are parsed; 0: max_message_bytes.
  int max_receive_message_bytes = 0;
  // Idle handler threads kept alive (see server.cc).
  int max_pollers = 32;
  // host:port serving /metrics (common/metrics.h); empty: none.
  std::string metrics_address{};
  // Certificate, key, client CA (common/tls.h); empty: plaintext, which
  // Start refuses on an address that is not loopback unless allow_insecure.
  ServerTls tls{};
};

class RunningServer {
 public:
  static absl::StatusOr<std::unique_ptr<RunningServer>> Start(ServerOptions options);
  ~RunningServer();

  int port() const { return port_; }
  // The port serving /metrics; 0 without ServerOptions::metrics_address.
  int metrics_port() const;
  grpc::Server* server() { return server_.get(); }
  // Stops accepting calls, lets in-flight ones finish within `grace`, then
  // cancels the rest.
  void Shutdown(absl::Duration grace = absl::Seconds(10));
  // Health says NOT_SERVING from now on, for "" and every service, while
  // the server still answers: load balancers stop sending calls before the
  // drain (Shutdown) refuses them.
  void MarkDraining();
  bool serving() const { return serving_.load(); }
  // The full names of the services health answers for besides "", e.g.
  // govreport.records.v1.OrgService (gRPC's own services left out).
  const std::vector<std::string>& service_names() const { return service_names_; }

 private:
  RunningServer() = default;
  void ProbeLoop();
  void SetServing(bool serving);

  ServerOptions options_;
  std::vector<std::string> service_names_;
  // Before server_: it must outlive the server that calls it.
  std::unique_ptr<ReflectionV1Service> reflection_v1_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<metrics::Endpoint> metrics_;
  int port_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::thread prober_;
};

// Call first thing in main(), before any thread exists: blocks SIGTERM and
// SIGINT in every thread and starts the one thread that takes them, so
// that every phase (waiting for Redis, serving, draining) sees them through
// the calls below. A second signal ends the process at once.
void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT; returns the signal number.
int WaitForTerminationSignal();
// True once SIGTERM or SIGINT arrived (never without BlockTerminationSignals).
bool TerminationRequested();
// Sleeps for `d` or until SIGTERM or SIGINT; false when a signal came.
bool SleepUnlessTerminated(absl::Duration d);
// Start-up steps that need Redis: runs `step` until it succeeds, once a
// second, logging why it waits. False when SIGTERM or SIGINT came first.
bool RetryUntilTerminated(absl::string_view service, absl::string_view what,
                          const std::function<absl::Status()>& step);

// --listen, --admin-token, --shutdown-grace-ms, the secret, the TLS flags
// (common/tls.h), --metrics-listen and --metrics-sample-interval-ms (how
// often gauges read from Redis are sampled), shared by the servers.
void DefineServerFlags(Flags& flags, std::string default_listen);

// What every binary serves with: --listen, the TLS flags, its services,
// and SERVING on health while `redis` answers PING.
ServerOptions ServerOptionsFromFlags(const Flags& flags, std::vector<grpc::Service*> services,
                                     redis::Client* redis);

// The end of every main(): blocks until SIGTERM or SIGINT, runs
// `before_drain` (stop workers and timers first, so nothing new starts),
// then lets in-flight calls finish for --shutdown-grace-ms. Health is
// NOT_SERVING from the signal on. Should the drain outlast the grace by
// kDrainSlack (a worker stuck in a call), the process exits anyway: what it
// held is pending in Redis and another replica takes it over.
void ServeUntilSignal(absl::string_view service, RunningServer& server, const Flags& flags,
                      const std::function<void()>& before_drain = nullptr);

inline constexpr absl::Duration kDrainSlack = absl::Seconds(5);

// Parses flags; prints usage and exits on --help or a bad flag.
void ParseFlagsOrExit(Flags& flags, int argc, char** argv);

// --metrics-sample-interval-ms.
absl::Duration MetricsSampleInterval(const Flags& flags);

// "<service> listening on port N" on stdout (scripts that start a service
// on port 0 read it) and a log line.
void AnnounceListening(absl::string_view service, int port);

// Log lines: one JSON object per line on stderr, {"time" (RFC 3339 UTC, ms),
// "level" (info, warning, error), "service", "msg"} and, for an RPC's access
// line (common/metrics.h), request_id, principal, rpc, code, latency_ms.
void LogLine(absl::string_view service, absl::string_view message);
// The running binary's name ("records"), for lines of code that serves any.
absl::string_view ProcessName();
// A start-up failure: logs it at level error and returns the exit code, 2
// for a bad flag or file (InvalidArgument), 1 for anything else.
int FailStartup(absl::string_view service, const absl::Status& status);
void LogWarning(absl::string_view service, absl::string_view message);
void LogError(absl::string_view service, absl::string_view message);
// The object of a line without its closing brace, for callers that add
// members (",\"key\":value"); WriteLogRecord closes and writes it in one
// write, so that lines of concurrent threads never mix.
std::string LogRecordStart(absl::string_view level, absl::string_view service,
                           absl::string_view message);
void WriteLogRecord(std::string record);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_SERVER_H_
