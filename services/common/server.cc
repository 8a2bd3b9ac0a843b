#include "common/server.h"

#include <errno.h>  // NOLINT(modernize-deprecated-headers): program_invocation_short_name
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigwait, sigset_t
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/parse_errors.h"
#include "common/reflection_v1.h"
#include "common/secret.h"
#include "common/status.h"

namespace govreport {
namespace {

// Where the services a builder registered go, as gRPC lists them once it has
// started the server (grpc::Service does not expose its name): ours for
// per-service health, all of them (gRPC's own too) for reflection v1.
struct ServiceNames {
  std::vector<std::string>* ours = nullptr;
  std::vector<std::string>* all = nullptr;
};

// A builder option is the only public way to add a plugin to one builder
// rather than to all.
class ServiceNamesPlugin : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(ServiceNames out) : out_(out) {}
  std::string name() override { return "govreport_service_names"; }
  void InitServer(grpc::ServerInitializer* /*si*/) override {}
  void Finish(grpc::ServerInitializer* si) override {
    for (const std::string& n : *si->GetServiceList()) {
      out_.all->push_back(n);
      if (!absl::StartsWith(n, "grpc.")) out_.ours->push_back(n);
    }
  }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}

 private:
  ServiceNames out_;
};

class ServiceNamesOption : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(ServiceNames out) : out_(out) {}
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(out_));
  }

 private:
  ServiceNames out_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RunningServer>> RunningServer::Start(ServerOptions options) {
  static const bool once = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)once;
  // The files first: a half-given TLS configuration is named as such, not
  // as plaintext on a public address.
  GR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                      ServerCredentials(options.tls));
  GR_RETURN_IF_ERROR(CheckListenSecurity(options.address, options.tls));
  std::unique_ptr<RunningServer> rs(new RunningServer());
  rs->options_ = std::move(options);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(rs->options_.address, credentials, &rs->port_);
  builder.SetMaxReceiveMessageSize(rs->options_.max_receive_message_bytes > 0
                                       ? rs->options_.max_receive_message_bytes
                                       : rs->options_.max_message_bytes);
  builder.SetMaxSendMessageSize(rs->options_.max_message_bytes);
  // Handlers block on Redis. With gRPC's default of at most two idle
  // pollers, every burst creates and then destroys threads; keeping more
  // of them alive halves the CPU a call costs under load.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              rs->options_.max_pollers);
  // gRPC sets SO_REUSEPORT by default: a second server on a port in use
  // would then listen too and take half the calls. Off, it fails to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::vector<std::string> all_services;
  builder.SetOption(
      std::make_unique<ServiceNamesOption>(ServiceNames{&rs->service_names_, &all_services}));
  for (grpc::Service* s : rs->options_.services) builder.RegisterService(s);
  // Reflection v1 beside gRPC's v1alpha (the plugin above): tools ask for
  // v1 first.
  rs->reflection_v1_ = std::make_unique<ReflectionV1Service>();
  builder.RegisterService(rs->reflection_v1_.get());
  // A request that does not parse (a text field not UTF-8) is INVALID_ARGUMENT.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewParseErrorInterceptorFactory());
  // Metrics and the access log, last: they see the status the caller gets.
  interceptors.push_back(metrics::NewServerInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  rs->server_ = builder.BuildAndStart();
  if (!rs->server_ || rs->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", rs->options_.address,
                     ": the port is in use (another server?) or the address is not local"));
  }
  rs->reflection_v1_->SetServices(std::move(all_services));
  if (!rs->options_.metrics_address.empty()) {
    auto endpoint = metrics::Endpoint::Start(rs->options_.metrics_address);
    if (!endpoint.ok()) return endpoint.status();
    rs->metrics_ = *std::move(endpoint);
    LogLine(ProcessName(), absl::StrCat("metrics on port ", rs->metrics_->port(), " at /metrics"));
  }
  rs->SetServing(!rs->options_.readiness || rs->options_.readiness().ok());
  if (rs->options_.readiness) {
    rs->prober_ = std::thread([raw = rs.get()] { raw->ProbeLoop(); });
  }
  return rs;
}

RunningServer::~RunningServer() { Shutdown(absl::ZeroDuration()); }

int RunningServer::metrics_port() const { return metrics_ ? metrics_->port() : 0; }

void RunningServer::SetServing(bool serving) {
  serving_.store(serving);
  if (!server_) return;
  // The empty name answers for the whole server, which is what Kubernetes
  // probes and grpc_health_probe ask by default; a client that checks the
  // service it calls asks by its full name.
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);
  for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
}

void RunningServer::MarkDraining() {
  draining_.store(true);
  serving_.store(false);
  // Every status NOT_SERVING, and later updates (the prober) ignored.
  if (server_) server_->GetHealthCheckService()->Shutdown();
}

void RunningServer::ProbeLoop() {
  while (!stopping_.load()) {
    bool ok = options_.readiness().ok();
    if (ok != serving_.load() && !draining_.load()) SetServing(ok);
    absl::Time until = absl::Now() + options_.probe_interval;
    while (!stopping_.load() && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
}

void RunningServer::Shutdown(absl::Duration grace) {
  if (stopping_.exchange(true)) return;
  if (prober_.joinable()) prober_.join();
  if (server_) {
    MarkDraining();
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
    server_->Wait();
  }
}

namespace {

// The signal that asked the process to stop (0: none yet), set by the one
// thread that takes SIGTERM and SIGINT.
struct Termination {
  std::mutex mu;
  std::condition_variable cv;
  int signal = 0;
};

Termination& Term() {
  static auto* t = new Termination();  // Never destroyed: threads outlive main.
  return *t;
}

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

void TakeSignals() {
  sigset_t set = TerminationSet();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    Termination& t = Term();
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(t.mu);
      again = t.signal != 0;
      if (!again) t.signal = sig;
    }
    t.cv.notify_all();
    if (again) {
      // The operator insists: no more draining.
      static constexpr char kMessage[] = "second signal: exiting now\n";
      ssize_t written = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
      (void)written;  // Nothing to do if stderr is gone.
      _exit(128 + sig);
    }
  }
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that hangs up mid-reply must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  std::thread(TakeSignals).detach();
}

int WaitForTerminationSignal() {
  Termination& t = Term();
  std::unique_lock<std::mutex> lock(t.mu);
  t.cv.wait(lock, [&] { return t.signal != 0; });
  return t.signal;
}

bool TerminationRequested() {
  Termination& t = Term();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.signal != 0;
}

bool SleepUnlessTerminated(absl::Duration d) {
  Termination& t = Term();
  std::unique_lock<std::mutex> lock(t.mu);
  return !t.cv.wait_for(lock, absl::ToChronoNanoseconds(d), [&] { return t.signal != 0; });
}

bool RetryUntilTerminated(absl::string_view service, absl::string_view what,
                          const std::function<absl::Status()>& step) {
  for (absl::Status st = step(); !st.ok(); st = step()) {
    LogWarning(service, absl::StrCat("waiting for ", what, ": ", st.message()));
    if (!SleepUnlessTerminated(absl::Seconds(1))) return false;
  }
  return !TerminationRequested();
}

void DefineServerFlags(Flags& flags, std::string default_listen) {
  flags.Define("listen", std::move(default_listen),
               "host:port to serve gRPC on (port 0 picks a free port and "
               "prints it)");
  flags.Define("admin-token", "",
               "Secret of the platform operator (acts on every org); "
               "prefer the environment variable to the flag");
  flags.Define("shutdown-grace-ms", "10000", "How long in-flight calls may run after SIGTERM");
  flags.Define("metrics-listen", "",
               "host:port to serve Prometheus metrics on at /metrics (empty: none; port 0 picks "
               "a free port and logs it)");
  flags.Define("metrics-sample-interval-ms", "5000",
               "How often gauges read from Redis (stream lag, timers due, reports per state) "
               "are sampled, off the scrape path");
  DefineSecretFlags(flags);
  DefineServerTlsFlags(flags);
}

absl::Duration MetricsSampleInterval(const Flags& flags) {
  return absl::Milliseconds(
      std::max<int64_t>(100, flags.GetInt("metrics-sample-interval-ms").value_or(5000)));
}

ServerOptions ServerOptionsFromFlags(const Flags& flags, std::vector<grpc::Service*> services,
                                     redis::Client* redis) {
  ServerOptions options;
  options.address = flags.Get("listen");
  options.services = std::move(services);
  options.readiness = [redis] { return redis->Ping(); };
  options.metrics_address = flags.Get("metrics-listen");
  options.tls = ServerTlsFromFlags(flags);
  return options;
}

void ServeUntilSignal(absl::string_view service, RunningServer& server, const Flags& flags,
                      const std::function<void()>& before_drain) {
  int sig = WaitForTerminationSignal();
  LogLine(service, absl::StrCat("signal ", sig, ": draining"));
  server.MarkDraining();
  absl::Duration grace = absl::Milliseconds(flags.GetInt("shutdown-grace-ms").value_or(10000));
  // A drain that outlasts its bound (a handler stuck past every deadline)
  // must not keep the process: main returning first ends this thread too.
  std::thread([bound = grace + kDrainSlack, name = std::string(service)] {
    absl::SleepFor(bound);
    LogError(name, "drain took too long: exiting");
    _exit(1);
  }).detach();
  if (before_drain) before_drain();
  server.Shutdown(grace);
  LogLine(service, "stopped");
}

void ParseFlagsOrExit(Flags& flags, int argc, char** argv) {
  absl::Status st = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    std::exit(0);
  }
  // The server flags (DefineServerFlags) are checked here once for all.
  for (const char* name : {"shutdown-grace-ms", "metrics-sample-interval-ms"}) {
    if (st.ok() && flags.IsSet(name)) st = flags.GetInt(name).status();
  }
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    std::exit(2);
  }
}

void AnnounceListening(absl::string_view service, int port) {
  std::cout << service << " listening on port " << port << std::endl;
  LogLine(service, absl::StrCat("serving on port ", port));
}

std::string LogRecordStart(absl::string_view level, absl::string_view service,
                           absl::string_view message) {
  std::string record = absl::StrCat(
      R"({"time":")", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      R"(","level":")", level, R"(","service":)");
  JsonQuoteTo(service, &record);
  record += ",\"msg\":";
  JsonQuoteTo(message, &record);
  return record;
}

void WriteLogRecord(std::string record) {
  record += "}\n";
  std::fwrite(record.data(), 1, record.size(), stderr);
}

absl::string_view ProcessName() { return program_invocation_short_name; }

int FailStartup(absl::string_view service, const absl::Status& status) {
  LogError(service, absl::StrCat("fatal: ", status.ToString()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

void LogLine(absl::string_view service, absl::string_view message) {
  WriteLogRecord(LogRecordStart("info", service, message));
}

void LogWarning(absl::string_view service, absl::string_view message) {
  WriteLogRecord(LogRecordStart("warning", service, message));
}

void LogError(absl::string_view service, absl::string_view message) {
  WriteLogRecord(LogRecordStart("error", service, message));
}

}  // namespace govreport
