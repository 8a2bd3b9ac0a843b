#include "common/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "common/server.h"
#include "common/status.h"
#include "common/streams.h"

namespace govreport::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

std::shared_ptr<prometheus::Registry>& SharedRegistry() {
  // Never destroyed: threads that count may outlive main.
  static auto* registry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *registry;
}

// Seconds from 1 ms to 10 s: handlers and Redis calls of this suite take a
// few milliseconds, a render or a stuck call seconds.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct GrpcFamilies {
  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& seconds;
};

GrpcFamilies& Grpc() {
  static auto* f = new GrpcFamilies{
      prometheus::BuildCounter()
          .Name("grpc_server_started_total")
          .Help("RPCs started on the server")
          .Register(Registry()),
      prometheus::BuildCounter()
          .Name("grpc_server_handled_total")
          .Help("RPCs completed on the server, by status code")
          .Register(Registry()),
      prometheus::BuildHistogram()
          .Name("grpc_server_handling_seconds")
          .Help("Time from the start of an RPC to its status (a stream: its whole life)")
          .Register(Registry()),
  };
  return *f;
}

absl::string_view TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// Codes that say the server failed rather than the caller.
absl::string_view LevelOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      return "error";
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "warning";
    default:
      return "info";
  }
}

// The series of one method, looked up once: prometheus-cpp's Family::Add
// takes the family's lock and hashes the labels, too much for every call.
struct MethodSeries {
  prometheus::Labels labels;
  prometheus::Counter* started = nullptr;
  prometheus::Histogram* seconds = nullptr;
  // By status code, made on the code's first call (17 gRPC codes).
  std::array<std::atomic<prometheus::Counter*>, 17> handled{};

  prometheus::Counter& Handled(grpc::StatusCode code) {
    size_t i = static_cast<size_t>(code) < handled.size() ? static_cast<size_t>(code) : 2;
    prometheus::Counter* c = handled[i].load(std::memory_order_acquire);
    if (c == nullptr) {
      prometheus::Labels with_code = labels;
      with_code["grpc_code"] = GrpcCodeName(static_cast<grpc::StatusCode>(i));
      c = &Grpc().handled.Add(with_code);  // The same counter on a race.
      handled[i].store(c, std::memory_order_release);
    }
    return *c;
  }
};

// The method's series, by its path ("/pkg.Service/Method") and type.
MethodSeries& SeriesFor(absl::string_view path, ServerRpcInfo::Type type) {
  static auto* mu = new absl::Mutex();
  static auto* by_path = new absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>>();
  {
    absl::ReaderMutexLock lock(mu);
    auto it = by_path->find(path);
    if (it != by_path->end()) return *it->second;
  }
  absl::WriterMutexLock lock(mu);
  std::unique_ptr<MethodSeries>& series = (*by_path)[path];
  if (series == nullptr) {
    absl::string_view full = path;
    absl::ConsumePrefix(&full, "/");
    size_t slash = full.rfind('/');
    series = std::make_unique<MethodSeries>();
    series->labels = {
        {"grpc_service", std::string(full.substr(0, slash))},
        {"grpc_method", slash == absl::string_view::npos ? std::string(full)
                                                         : std::string(full.substr(slash + 1))},
        {"grpc_type", std::string(TypeName(type))}};
    series->started = &Grpc().started.Add(series->labels);
    series->seconds = &Grpc().seconds.Add(series->labels, LatencyBuckets());
  }
  return *series;
}

class CallInterceptor;

// The calls in flight by their context, so that auth can name the caller
// to the interceptor that logs the call.
struct InFlight {
  std::mutex mu;
  absl::flat_hash_map<const grpc::ServerContextBase*, CallInterceptor*> calls;
};

InFlight& Calls() {
  static auto* f = new InFlight();
  return *f;
}

class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallInterceptor(ServerRpcInfo* info)
      : ctx_(info->server_context()),
        start_(std::chrono::steady_clock::now()),
        series_(SeriesFor(info->method() != nullptr ? info->method() : "", info->type())) {
    absl::string_view full = info->method() != nullptr ? info->method() : "";
    if (absl::ConsumePrefix(&full, "/")) rpc_ = std::string(full);
    series_.started->Increment();
    std::lock_guard<std::mutex> lock(Calls().mu);
    Calls().calls[ctx_] = this;
  }

  ~CallInterceptor() override {
    // A call that ended without sending a status (its client went away).
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
    std::lock_guard<std::mutex> lock(Calls().mu);
    Calls().calls.erase(ctx_);
  }

  // Under Calls().mu.
  void SetPrincipal(absl::string_view principal) { principal_ = std::string(principal); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      TakeRequestId();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      TakeRequestId();
      if (auto* md = methods->GetSendInitialMetadata(); md != nullptr) {
        md->emplace("x-request-id", request_id_);
      }
    }
    // gRPC 1.51 has no hook after the status is sent: the status about to
    // be sent, after the interceptors before this one changed it, is final.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !finished_) {
      TakeRequestId();
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void TakeRequestId() {
    if (!request_id_.empty() || ctx_ == nullptr) return;
    const auto& md = ctx_->client_metadata();
    auto it = md.find("x-request-id");
    request_id_ = RequestIdFrom(
        it == md.end() ? "" : absl::string_view(it->second.data(), it->second.size()));
  }

  void Finish(grpc::StatusCode code) {
    finished_ = true;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string code_name = GrpcCodeName(code);
    series_.Handled(code).Increment();
    series_.seconds->Observe(seconds);
    std::string principal;
    {
      std::lock_guard<std::mutex> lock(Calls().mu);
      principal = principal_;
    }
    if (request_id_.empty()) request_id_ = RequestIdFrom("");
    std::string line =
        LogRecordStart(LevelOf(code), ProcessName(), absl::StrCat(rpc_, " ", code_name));
    absl::StrAppend(&line, ",\"request_id\":", JsonQuote(request_id_),
                    ",\"principal\":", JsonQuote(principal), ",\"rpc\":", JsonQuote(rpc_),
                    ",\"code\":", JsonQuote(code_name),
                    absl::StrFormat(",\"latency_ms\":%.3f", seconds * 1000));
    WriteLogRecord(std::move(line));
  }

  const grpc::ServerContextBase* ctx_;
  std::chrono::steady_clock::time_point start_;
  MethodSeries& series_;
  std::string rpc_;
  std::string request_id_;
  std::string principal_;  // Guarded by Calls().mu.
  bool finished_ = false;
};

class CallInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallInterceptor(info);
  }
};

struct RedisFamilies {
  prometheus::Family<prometheus::Histogram>& seconds;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Gauge& in_use;
};

RedisFamilies& Redis() {
  static auto* f = new RedisFamilies{
      prometheus::BuildHistogram()
          .Name("govreport_redis_call_seconds")
          .Help("Redis round trips by command (PIPELINE: a pipeline)")
          .Register(Registry()),
      prometheus::BuildCounter()
          .Name("govreport_redis_errors_total")
          .Help("Redis calls that failed: kind io (connection) or reply (an error reply)")
          .Register(Registry()),
      prometheus::BuildGauge()
          .Name("govreport_redis_pool_in_use")
          .Help("Pooled Redis connections leased out")
          .Register(Registry())
          .Add({}),
  };
  return *f;
}

struct StreamFamilies {
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Family<prometheus::Gauge>& pending;
  prometheus::Family<prometheus::Gauge>& dead;
};

StreamFamilies& Streams() {
  static auto* f = new StreamFamilies{
      prometheus::BuildGauge()
          .Name("govreport_stream_lag")
          .Help("Stream entries not yet delivered to the consumer group")
          .Register(Registry()),
      prometheus::BuildGauge()
          .Name("govreport_stream_pending")
          .Help("Stream entries delivered to the group and not yet acknowledged")
          .Register(Registry()),
      prometheus::BuildGauge()
          .Name("govreport_stream_dead_letters")
          .Help("Entries in the stream's dead-letter stream (<stream>:dead)")
          .Register(Registry()),
  };
  return *f;
}

}  // namespace

prometheus::Registry& Registry() { return *SharedRegistry(); }

Endpoint::Endpoint(std::unique_ptr<prometheus::Exposer> exposer) : exposer_(std::move(exposer)) {
  exposer_->RegisterCollectable(SharedRegistry(), "/metrics");
  std::vector<int> ports = exposer_->GetListeningPorts();
  if (!ports.empty()) port_ = ports.front();
}

absl::StatusOr<std::unique_ptr<Endpoint>> Endpoint::Start(absl::string_view address) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(std::string(address), 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  return std::unique_ptr<Endpoint>(new Endpoint(std::move(exposer)));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerInterceptorFactory() {
  return std::make_unique<CallInterceptorFactory>();
}

void NotePrincipal(const grpc::ServerContextBase* ctx, absl::string_view principal) {
  std::lock_guard<std::mutex> lock(Calls().mu);
  auto it = Calls().calls.find(ctx);
  if (it != Calls().calls.end()) it->second->SetPrincipal(principal);
}

std::string RequestIdFrom(absl::string_view sent) {
  if (!sent.empty() && request_id::Validate(sent).ok()) return std::string(sent);
  return RandomHex(16);
}

void ObserveRedisCall(absl::string_view command, absl::Duration took, bool io_error,
                      bool error_reply) {
  // Per thread, so that the common case takes no lock: the command names
  // are a fixed set of literals.
  thread_local absl::flat_hash_map<std::string, prometheus::Histogram*> seconds;
  auto it = seconds.find(command);
  if (it == seconds.end()) {
    std::string name = absl::AsciiStrToUpper(command);
    it =
        seconds.emplace(command, &Redis().seconds.Add({{"command", name}}, LatencyBuckets())).first;
  }
  it->second->Observe(absl::ToDoubleSeconds(took));
  if (io_error || error_reply) {
    Redis()
        .errors
        .Add({{"command", absl::AsciiStrToUpper(command)}, {"kind", io_error ? "io" : "reply"}})
        .Increment();
  }
}

void AddRedisPoolInUse(int delta) { Redis().in_use.Increment(delta); }

void ObserveHttpRequest(absl::string_view method, absl::string_view rpc, int status,
                        absl::Duration took) {
  static auto& requests = prometheus::BuildCounter()
                              .Name("http_requests_total")
                              .Help("HTTP requests answered by the gateway, by RPC and status")
                              .Register(Registry());
  static auto& seconds = prometheus::BuildHistogram()
                             .Name("http_request_duration_seconds")
                             .Help("Time to the response headers, by RPC")
                             .Register(Registry());
  std::string m(method);
  std::string r(rpc);
  requests.Add({{"method", m}, {"rpc", r}, {"code", absl::StrCat(status)}}).Increment();
  seconds.Add({{"method", m}, {"rpc", r}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

absl::Status SampleStreams(redis::Client& redis, absl::Span<const std::string> streams) {
  for (const std::string& stream : streams) {
    absl::StatusOr<redis::Reply> groups = redis.Command({"XINFO", "GROUPS", stream});
    // No such key: the stream is made with its first group or entry.
    if (groups.ok()) {
      for (size_t g = 0; g < groups->Size(); ++g) {
        redis::ReplyView group = (*groups)[g];
        std::string name;
        std::optional<int64_t> lag;
        std::optional<int64_t> pending;
        for (size_t i = 0; i + 1 < group.Size(); i += 2) {
          absl::string_view key = group[i].Str();
          if (key == "name") name = std::string(group[i + 1].Str());
          // lag is nil while Redis cannot tell (after deletions).
          if (key == "lag" && group[i + 1].IsInteger()) lag = *group[i + 1].AsInt();
          if (key == "pending" && group[i + 1].IsInteger()) pending = *group[i + 1].AsInt();
        }
        prometheus::Labels labels{{"stream", stream}, {"group", name}};
        if (lag) Streams().lag.Add(labels).Set(static_cast<double>(*lag));
        if (pending) Streams().pending.Add(labels).Set(static_cast<double>(*pending));
      }
    } else if (absl::IsUnavailable(groups.status())) {
      return groups.status();
    }
    absl::StatusOr<redis::Reply> dead = redis.Command({"XLEN", streams::DeadLetterStream(stream)});
    if (!dead.ok()) return dead.status();
    Streams().dead.Add({{"stream", stream}}).Set(static_cast<double>(dead->AsInt().value_or(0)));
  }
  return absl::OkStatus();
}

namespace {

prometheus::Family<prometheus::Gauge>& WorkGauge(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(Registry());
}

}  // namespace

void SetReports(absl::string_view state, int64_t count) {
  static auto& family = WorkGauge("govreport_reports", "Reports by state, over every org");
  family.Add({{"state", std::string(state)}}).Set(static_cast<double>(count));
}

void SetReportsTruncated(bool truncated) {
  static auto& gauge = WorkGauge("govreport_reports_truncated",
                                 "1 when govreport_reports stopped at --metrics-report-limit")
                           .Add({});
  gauge.Set(truncated ? 1 : 0);
}

void SetTimersDue(int64_t count) {
  static auto& gauge =
      WorkGauge("govreport_timers_due", "Approval timers due and not yet fired").Add({});
  gauge.Set(static_cast<double>(count));
}

Sampler::Sampler(absl::Duration interval, std::function<void()> sample)
    : interval_(interval), sample_(std::move(sample)), thread_([this] { Loop(); }) {}

Sampler::~Sampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Sampler::Loop() {
  for (;;) {
    sample_();
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stop_; })) return;
  }
}

}  // namespace govreport::metrics
