#include "common/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigwait, sigset_t

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/parse_errors.h"
#include "common/secret.h"

namespace govreport {

absl::StatusOr<std::unique_ptr<RunningServer>> RunningServer::Start(ServerOptions options) {
  static const bool once = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)once;
  std::unique_ptr<RunningServer> rs(new RunningServer());
  rs->options_ = std::move(options);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(rs->options_.address, grpc::InsecureServerCredentials(), &rs->port_);
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
  for (grpc::Service* s : rs->options_.services) builder.RegisterService(s);
  // A request that does not parse (a text field not UTF-8) is INVALID_ARGUMENT.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewParseErrorInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  rs->server_ = builder.BuildAndStart();
  if (!rs->server_ || rs->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", rs->options_.address));
  }
  rs->SetServing(!rs->options_.readiness || rs->options_.readiness().ok());
  if (rs->options_.readiness) {
    rs->prober_ = std::thread([raw = rs.get()] { raw->ProbeLoop(); });
  }
  return rs;
}

RunningServer::~RunningServer() { Shutdown(absl::ZeroDuration()); }

void RunningServer::SetServing(bool serving) {
  serving_.store(serving);
  if (!server_) return;
  // The empty name answers for the whole server, which is what Kubernetes
  // probes and grpc_health_probe ask by default.
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

void RunningServer::ProbeLoop() {
  while (!stopping_.load()) {
    bool ok = options_.readiness().ok();
    if (ok != serving_.load()) SetServing(ok);
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
    server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
    server_->Wait();
  }
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A client that hangs up mid-reply must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

void DefineServerFlags(Flags& flags, std::string default_listen) {
  flags.Define("listen", std::move(default_listen),
               "host:port to serve gRPC on (port 0 picks a free port and "
               "prints it)");
  flags.Define("admin-token", "",
               "Secret of the platform operator (acts on every org); "
               "prefer the environment variable to the flag");
  flags.Define("shutdown-grace-ms", "10000", "How long in-flight calls may run after SIGTERM");
  DefineSecretFlags(flags);
}

ServerOptions ServerOptionsFromFlags(const Flags& flags, std::vector<grpc::Service*> services,
                                     redis::Client* redis) {
  ServerOptions options;
  options.address = flags.Get("listen");
  options.services = std::move(services);
  options.readiness = [redis] { return redis->Ping(); };
  return options;
}

void ServeUntilSignal(absl::string_view service, RunningServer& server, const Flags& flags,
                      const std::function<void()>& before_drain) {
  int sig = WaitForTerminationSignal();
  LogLine(service, absl::StrCat("signal ", sig, ": draining"));
  if (before_drain) before_drain();
  server.Shutdown(absl::Milliseconds(flags.GetInt("shutdown-grace-ms").value_or(10000)));
  LogLine(service, "stopped");
}

void ParseFlagsOrExit(Flags& flags, int argc, char** argv) {
  absl::Status st = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    std::exit(0);
  }
  // The server flags (DefineServerFlags) are checked here once for all.
  if (st.ok() && flags.IsSet("shutdown-grace-ms")) st = flags.GetInt("shutdown-grace-ms").status();
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    std::exit(2);
  }
}

void AnnounceListening(absl::string_view service, int port) {
  std::cout << service << " listening on port " << port << std::endl;
  LogLine(service, absl::StrCat("serving on port ", port));
}

void LogLine(absl::string_view service, absl::string_view message) {
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()), " ",
                   service, " ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace govreport
