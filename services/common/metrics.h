// Prometheus metrics of every binary (docs/observability.md lists them):
// one registry per process, served on --metrics-listen at /metrics; the one
// gRPC server interceptor that counts and times every call and writes its
// access log line; the Redis client's call metrics; and a sampler thread for
// gauges read from Redis, so that a slow Redis never blocks a scrape.
#ifndef GOVREPORT_COMMON_METRICS_H_
#define GOVREPORT_COMMON_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace govreport::redis {
class Client;
}  // namespace govreport::redis

namespace govreport::metrics {

// The process's registry: every metric of the binary lives here.
prometheus::Registry& Registry();

// An HTTP listener serving Registry() at /metrics.
class Endpoint {
 public:
  // `address` host:port (port 0 picks a free one); an error when it cannot
  // listen there.
  static absl::StatusOr<std::unique_ptr<Endpoint>> Start(absl::string_view address);
  int port() const { return port_; }

 private:
  explicit Endpoint(std::unique_ptr<prometheus::Exposer> exposer);
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// For ServerBuilder::experimental().SetInterceptorCreators, after every
// interceptor that may change the status (it reads the one sent):
// grpc_server_started_total, grpc_server_handled_total and
// grpc_server_handling_seconds per service, method and type, the access log
// line (one JSON object on stderr per call) and the x-request-id echo in the
// response's initial metadata.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerInterceptorFactory();

// The caller of a call in flight, for its access log line: "org/subject"
// (never a token). Called by auth once it knows who calls; nothing happens
// for a context the interceptor does not see.
void NotePrincipal(const grpc::ServerContextBase* ctx, absl::string_view principal);

// The x-request-id of a call: the caller's when it sent a valid one (printable
// ASCII, at most 128 characters), otherwise a new random one.
std::string RequestIdFrom(absl::string_view sent);

// Redis client metrics (common/redis.cc): one call of `command` (a
// pipeline is "PIPELINE") that took `took`; `io_error`: the connection
// failed, `error_reply`: Redis answered an error.
void ObserveRedisCall(absl::string_view command, absl::Duration took, bool io_error,
                      bool error_reply);
// Pooled connections leased out, over every client of the process.
void AddRedisPoolInUse(int delta);

// The gateway's HTTP edge: one request answered with `status` after `took`
// (until the headers, for an event stream). `rpc` is the route's RPC
// ("/govreport.records.v1.ActivityService/CreateActivity", "" when none
// matched), never the path itself: the label's values stay as few as the
// routes.
void ObserveHttpRequest(absl::string_view method, absl::string_view rpc, int status,
                        absl::Duration took);

// Runs `sample` every `interval` on its own thread until destroyed; the
// first run is at once (and completes even when it is destroyed at once). A
// sample sets gauges; scrapes only read them.
class Sampler {
 public:
  Sampler(absl::Duration interval, std::function<void()> sample);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

 private:
  void Loop();
  absl::Duration interval_;
  std::function<void()> sample_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// One sample of Redis Streams consumer groups (XINFO GROUPS, XLEN):
// govreport_stream_lag{stream,group} (entries not yet delivered to the
// group), govreport_stream_pending{stream,group} (delivered, not yet
// acknowledged) and govreport_stream_dead_letters{stream} (the length of
// "<stream>:dead", common/streams.h). A stream that does not exist yet has
// no groups and no series.
absl::Status SampleStreams(redis::Client& redis, absl::Span<const std::string> streams);

// Work gauges set by a service's sampler: govreport_reports{state} (the
// assembler; state the short name, e.g. IN_REVIEW), govreport_reports_truncated
// (1: the count stopped at its limit), govreport_timers_due (approval timers
// whose time has come and that no replica has fired yet).
void SetReports(absl::string_view state, int64_t count);
void SetReportsTruncated(bool truncated);
void SetTimersDue(int64_t count);

}  // namespace govreport::metrics

#endif  // GOVREPORT_COMMON_METRICS_H_
