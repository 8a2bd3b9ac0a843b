// gateway: every RPC of the govreport services as HTTP/JSON (REST per the
// protos' google.api.http rules), server-sent events for the streams, and
// the OpenAPI document at /openapi.json. Stateless: run any number.
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/tls.h"
#include "gateway/gateway.h"

namespace {

constexpr char kService[] = "gateway";

// Every channel to a backend: TLS with --tls-ca, presenting --tls-cert as
// the client certificate where the backends require one.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const govreport::Flags& flags,
                                                    const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return govreport::DialFromFlags(flags, address, args);
}

void DefineFlags(govreport::Flags& flags) {
  flags.Define("listen", "127.0.0.1:8080",
               "host:port to serve HTTP on (HTTPS with --tls-cert/--tls-key)");
  // --tls-cert/--tls-key serve HTTPS and are the client certificate towards
  // the backends; --tls-ca verifies the backends.
  govreport::DefineClientTlsFlags(flags);
  flags.Define("insecure", "false",
               "allow plaintext HTTP on a non-loopback --listen (behind a TLS proxy: tokens "
               "are refused unless X-Forwarded-Proto is https)");
  flags.Define("records", "127.0.0.1:7101", "Address of the records service");
  flags.Define("templates", "127.0.0.1:7102", "Address of the templates service");
  flags.Define("approval", "127.0.0.1:7103", "Address of the approval service");
  flags.Define("assembler", "127.0.0.1:7104", "Address of the assembler service");
  flags.Define("max-body-bytes", "4194304", "Larger request bodies are refused (413)");
  flags.Define("rate-limit-rps", "0",
               "Requests per second per client IP (the connection's), bursts of as many; "
               "0: no limit (429 with Retry-After over it)");
  flags.Define("call-timeout-ms", "30000", "Deadline of each unary call to a backend");
  flags.Define("threads", "64", "HTTP worker threads (each open event stream holds one)");
  flags.Define("max-streams", "0",
               "Event streams open at once, below --threads (429 over it); 0: --threads / 2");
  flags.Define("metrics-listen", "", "host:port for /metrics (empty: off)");
}

absl::StatusOr<govreport::gateway::GatewayOptions> OptionsFromFlags(const govreport::Flags& flags) {
  govreport::gateway::GatewayOptions o;
  o.listen = flags.Get("listen");
  o.tls_cert = flags.Get("tls-cert");
  o.tls_key = flags.Get("tls-key");
  o.insecure = flags.GetBool("insecure");
  for (const char* backend : {"records", "templates", "approval", "assembler"}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(flags, flags.Get(backend));
    if (!channel.ok()) return channel.status();
    o.backends[backend] = *channel;
  }
  absl::StatusOr<int64_t> body = flags.GetInt("max-body-bytes");
  absl::StatusOr<int64_t> timeout = flags.GetInt("call-timeout-ms");
  absl::StatusOr<int64_t> threads = flags.GetInt("threads");
  absl::StatusOr<int64_t> streams = flags.GetInt("max-streams");
  double rps = 0;
  if (!body.ok() || !timeout.ok() || !threads.ok() || !streams.ok() || *streams < 0 ||
      !absl::SimpleAtod(flags.Get("rate-limit-rps"), &rps) || *body < 1 || *timeout < 100 ||
      *threads < 2 || *threads > 10000 || rps < 0) {
    return absl::InvalidArgumentError(
        "need --max-body-bytes >= 1, --call-timeout-ms >= 100, --threads 2..10000, "
        "--max-streams >= 0 and --rate-limit-rps >= 0");
  }
  o.max_body_bytes = static_cast<size_t>(*body);
  o.call_timeout = absl::Milliseconds(*timeout);
  o.threads = static_cast<int>(*threads);
  o.max_streams = static_cast<int>(*streams);
  o.rate_limit_rps = rps;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace govreport;  // NOLINT: a short main.
  BlockTerminationSignals();
  Flags flags("gateway", "Serves every govreport RPC as HTTP/JSON (docs/gateway.md).");
  DefineFlags(flags);
  ParseFlagsOrExit(flags, argc, argv);
  absl::StatusOr<gateway::GatewayOptions> options = OptionsFromFlags(flags);
  if (!options.ok()) return govreport::FailStartup(kService, options.status());
  std::unique_ptr<metrics::Endpoint> metrics_endpoint;
  if (!flags.Get("metrics-listen").empty()) {
    absl::StatusOr<std::unique_ptr<metrics::Endpoint>> endpoint =
        metrics::Endpoint::Start(flags.Get("metrics-listen"));
    if (!endpoint.ok()) return govreport::FailStartup(kService, endpoint.status());
    metrics_endpoint = *std::move(endpoint);
    LogLine(kService, absl::StrCat("metrics on port ", metrics_endpoint->port(), " at /metrics"));
  }
  absl::StatusOr<std::unique_ptr<gateway::Gateway>> gw = gateway::Gateway::Start(*options);
  if (!gw.ok()) return govreport::FailStartup(kService, gw.status());
  AnnounceListening(kService, (*gw)->port());
  WaitForTerminationSignal();
  LogLine(kService, "stopping");
  (*gw)->Stop();
  return 0;
}
