// assembler: reports, their revisions and narrative, the assemble and
// finalize workers, published documents. All state is in Redis; any number
// of replicas share the work through consumer groups.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "assembler/grpc_service.h"
#include "assembler/reports.h"
#include "assembler/store.h"
#include "assembler/upstream.h"
#include "assembler/workers.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/enums.h"
#include "common/events.h"
#include "common/metrics.h"
#include "common/secret.h"
#include "common/server.h"
#include "common/signing.h"
#include "common/status.h"
#include "common/streams.h"
#include "common/tls.h"

namespace {

constexpr char kService[] = "assembler";

absl::StatusOr<std::shared_ptr<grpc::Channel>> DialPeer(const govreport::Flags& flags,
                                                        const std::string& service) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return govreport::DialFromFlags(flags, flags.Get(service), args);
}

void DefineFlags(govreport::Flags& flags) {
  govreport::DefineServerFlags(flags, "127.0.0.1:7104");
  govreport::DefineClientTlsFlags(flags);
  govreport::DefineRedisFlags(flags);
  govreport::events::DefineEventFlags(flags);
  flags.Define("records", "127.0.0.1:7101", "Address of the records service");
  flags.Define("templates", "127.0.0.1:7102", "Address of the templates service");
  flags.Define("approval", "127.0.0.1:7103", "Address of the approval service");
  flags.Define("service-token", "",
               "Token the workers call the other services with (org '*', role "
               "'service'); prefer the environment variable");
  flags.Define("signing-master-key-file", "",
               "File holding the 32-byte master key (64 hex characters: openssl rand -hex 32) "
               "the orgs' private signing keys are sealed under; unset: no signing keys");
  flags.Define("signing-ca-file", "",
               "CA certificates (PEM) an imported signing certificate must chain to "
               "(reportctl key import-certificate); unset: any issuer is taken as given");
  flags.Define("workers", "2", "Threads per replica taking assemble jobs");
  flags.Define("inline-assemblies", "-1",
               "CreateReport calls that may assemble their first revision themselves at once "
               "(committed with the report, no queue hop); -1: as many as --workers, 0: every "
               "report waits for a worker");
  flags.Define("event-workers", "1", "Threads per replica taking approval events");
  flags.Define("call-timeout-ms", "10000", "Deadline of each call to another service");
  flags.Define("render-timeout-ms", "30000", "Deadline of each render call");
  flags.Define("claim-idle-ms", "30000",
               "A job pending this long with a dead consumer is taken over");
  flags.Define("max-deliveries", "5", "Deliveries before a job goes to the dead-letter stream");
  flags.Define("watch-poll-ms", "100", "How often WatchReport looks for changes");
  flags.Define("max-watches-per-caller", "4",
               "WatchReport streams one principal may have open at once (each holds a thread)");
  flags.Define("max-watches-per-org", "32",
               "WatchReport streams the principals of one org may have open at once");
  flags.Define("max-watches", "256", "WatchReport streams this server runs at once");
  flags.Define("trim-interval-ms", "60000",
               "How often the streams are trimmed of what every group acknowledged (0: never)");
  flags.Define("outdated-check-interval-ms", "600000",
               "How often published reports are checked for records changed after publication "
               "(0: never; GetReport still checks the report it reads)");
  flags.Define("stream-retention-s", "604800",
               "Acknowledged entries of each org's gr:{org}:q:assemble, gr:{org}:ev:approval and "
               "gr:{org}:ev:published "
               "(no groups: all its entries) are kept this long");
  flags.Define("dead-letter-retention-s", "2592000",
               "Entries of the :dead streams are kept this long");
  flags.Define("metrics-report-limit", "100000",
               "Reports read per sample of govreport_reports{state} (with --metrics-listen)");
  flags.Define("metrics-report-interval-ms", "60000",
               "How often govreport_reports{state} is counted: each count reads every stored "
               "report up to --metrics-report-limit, so less often than the other gauges");
}

// With --metrics-listen: the work gauges (stream lag and pending per group,
// dead letters, reports per state), sampled off the scrape path.
std::vector<std::unique_ptr<govreport::metrics::Sampler>> StartWorkSamplers(
    const govreport::Flags& flags, govreport::redis::Client& redis,
    govreport::assembler::Store& store) {
  namespace gr = ::govreport;
  std::vector<std::unique_ptr<gr::metrics::Sampler>> samplers;
  if (flags.Get("metrics-listen").empty()) return samplers;
  samplers.push_back(
      std::make_unique<gr::metrics::Sampler>(gr::MetricsSampleInterval(flags), [&redis] {
        // Each org's stream, and the global one of the layout before.
        std::vector<std::string> streams;
        for (absl::string_view global :
             {gr::assembler::kAssembleQueue, gr::assembler::kApprovalEvents}) {
          auto names = gr::streams::IndexedStreams(redis, global);
          if (!names.ok()) return;  // Redis away: the gauges keep their last values.
          streams.insert(streams.end(), names->begin(), names->end());
        }
        (void)gr::metrics::SampleStreams(redis, streams);
      }));
  int64_t limit = std::max<int64_t>(1, flags.GetInt("metrics-report-limit").value_or(100000));
  absl::Duration every = absl::Milliseconds(
      std::max<int64_t>(1000, flags.GetInt("metrics-report-interval-ms").value_or(60000)));
  samplers.push_back(std::make_unique<gr::metrics::Sampler>(every, [&store, limit] {
    gr::assembler::Store::StateCounts counts;
    if (!store.CountByState(limit, counts).ok()) return;
    const auto* states = gr::assembler::pb::ReportState_descriptor();
    for (int i = 0; i < states->value_count(); ++i) {
      auto state = static_cast<gr::assembler::pb::ReportState>(states->value(i)->number());
      if (state == gr::assembler::pb::REPORT_STATE_UNSPECIFIED) continue;
      gr::metrics::SetReports(gr::ShortEnumName(state), counts.counts[state]);
    }
    gr::metrics::SetReportsTruncated(counts.truncated);
  }));
  return samplers;
}

// The numeric flags, read and checked once.
struct Options {
  int64_t workers = 0;
  int64_t event_workers = 0;
  int64_t inline_assemblies = 0;
  int64_t call_timeout_ms = 0;
  int64_t render_timeout_ms = 0;
  int64_t claim_idle_ms = 0;
  int64_t max_deliveries = 0;
  int64_t watch_poll_ms = 0;
  int64_t max_watches_per_caller = 0;
  int64_t max_watches = 0;
  int64_t max_watches_per_org = 0;
  int64_t trim_interval_ms = 0;
  int64_t outdated_check_interval_ms = 0;
  int64_t stream_retention_s = 0;
  int64_t dead_letter_retention_s = 0;
};

// --signing-master-key-file's key; "" (with a warning) when unset.
absl::StatusOr<std::string> SigningMasterKeyFromFlags(const govreport::Flags& flags) {
  const std::string file = flags.Get("signing-master-key-file");
  if (file.empty()) {
    govreport::LogWarning(
        kService,
        "no --signing-master-key-file: orgs cannot make signing keys, and an org that has "
        "one cannot publish until it is given");
    return std::string();
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in)
    return absl::InvalidArgumentError(
        absl::StrCat("--signing-master-key-file ", file, ": cannot read it"));
  absl::StatusOr<std::string> master = govreport::signing::ParseMasterKey(text.str());
  if (!master.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--signing-master-key-file ", file, ": ", master.status().message()));
  }
  return master;
}

// --signing-ca-file's certificates; "" when unset.
absl::StatusOr<std::string> SigningCaFromFlags(const govreport::Flags& flags) {
  const std::string file = flags.Get("signing-ca-file");
  if (file.empty()) return std::string();
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--signing-ca-file ", file, ": cannot read it"));
  }
  if (text.str().find("BEGIN CERTIFICATE") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--signing-ca-file ", file, ": no PEM certificate in it"));
  }
  return text.str();
}

// The signing master key and the signing CAs, from their files.
absl::StatusOr<govreport::assembler::StoreOptions> StoreOptionsFromFlags(
    const govreport::Flags& flags) {
  govreport::assembler::StoreOptions out;
  GR_ASSIGN_OR_RETURN(out.signing_master_key, SigningMasterKeyFromFlags(flags));
  GR_ASSIGN_OR_RETURN(out.signing_ca_pem, SigningCaFromFlags(flags));
  return out;
}

// CreateReport's own assemblies run with the workers' service token; without
// one there are none.
govreport::assembler::CoreOptions CoreOptionsOf(const Options& options,
                                                const std::string& service_token) {
  govreport::assembler::CoreOptions core;
  if (!service_token.empty()) {
    core.inline_assemblies =
        govreport::assembler::InlineAssemblies(options.inline_assemblies, options.workers);
  }
  core.service = govreport::assembler::CallAs::Token(service_token);
  return core;
}

absl::StatusOr<Options> OptionsFromFlags(const govreport::Flags& flags) {
  Options o;
  const std::pair<const char*, int64_t*> fields[] = {
      {"workers", &o.workers},
      {"event-workers", &o.event_workers},
      {"inline-assemblies", &o.inline_assemblies},
      {"call-timeout-ms", &o.call_timeout_ms},
      {"render-timeout-ms", &o.render_timeout_ms},
      {"claim-idle-ms", &o.claim_idle_ms},
      {"max-deliveries", &o.max_deliveries},
      {"watch-poll-ms", &o.watch_poll_ms},
      {"max-watches-per-caller", &o.max_watches_per_caller},
      {"max-watches", &o.max_watches},
      {"max-watches-per-org", &o.max_watches_per_org},
      {"trim-interval-ms", &o.trim_interval_ms},
      {"outdated-check-interval-ms", &o.outdated_check_interval_ms},
      {"stream-retention-s", &o.stream_retention_s},
      {"dead-letter-retention-s", &o.dead_letter_retention_s},
  };
  for (const auto& [name, field] : fields) {
    absl::StatusOr<int64_t> v = flags.GetInt(name);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (o.workers < 0 || o.event_workers < 0 || o.inline_assemblies < -1 || o.call_timeout_ms < 100 ||
      o.render_timeout_ms < 100 || o.claim_idle_ms < 1000 || o.max_deliveries < 1 ||
      o.watch_poll_ms < 10 || o.max_watches_per_caller < 1 || o.max_watches < 1 ||
      o.max_watches > 100000 || o.max_watches_per_org < 1 || o.trim_interval_ms < 0 ||
      o.outdated_check_interval_ms < 0 || o.stream_retention_s < 0 ||
      o.dead_letter_retention_s < 0) {
    return absl::InvalidArgumentError(
        "need --workers >= 0, --event-workers >= 0, --inline-assemblies >= -1, "
        "--call-timeout-ms and --render-timeout-ms >= 100, --claim-idle-ms >= 1000, "
        "--max-deliveries >= 1, "
        "--watch-poll-ms >= 10, --max-watches-per-caller >= 1, "
        "--max-watches 1..100000, --max-watches-per-org >= 1, --trim-interval-ms, "
        "--outdated-check-interval-ms, --stream-retention-s and --dead-letter-retention-s >= 0");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace govreport;  // NOLINT: a short main.
  BlockTerminationSignals();
  Flags flags("assembler", "Serves ReportService and runs the assemble and publish workers.");
  DefineFlags(flags);
  ParseFlagsOrExit(flags, argc, argv);
  if (absl::Status st = ConfigurePageTokens(flags, kService); !st.ok())
    return govreport::FailStartup(kService, st);

  auto redis_options = RedisOptionsFromFlags(flags);
  if (!redis_options.ok()) return govreport::FailStartup(kService, redis_options.status());
  absl::StatusOr<Options> options = OptionsFromFlags(flags);
  if (!options.ok()) return govreport::FailStartup(kService, options.status());
  absl::StatusOr<absl::Duration> event_retention = events::RetentionFromFlags(flags);
  if (!event_retention.ok()) return govreport::FailStartup(kService, event_retention.status());
  std::string service_token = flags.Get("service-token");
  if (service_token.empty() && (options->workers > 0 || options->event_workers > 0)) {
    LogWarning(kService,
               "no --service-token (GOVREPORT_SERVICE_TOKEN): the workers' calls "
               "to records and templates will be refused");
  }

  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  assembler::Peers peers;
  for (auto [name, channel] : {std::pair{"records", &peers.records},
                               {"templates", &peers.templates},
                               {"approval", &peers.approval}}) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> dialed = DialPeer(flags, name);
    if (!dialed.ok()) return govreport::FailStartup(kService, dialed.status());
    *channel = *std::move(dialed);
  }
  peers.deadline = absl::Milliseconds(options->call_timeout_ms);
  peers.render_deadline = absl::Milliseconds(options->render_timeout_ms);
  assembler::Upstream upstream(peers);
  absl::StatusOr<assembler::StoreOptions> store_options = StoreOptionsFromFlags(flags);
  if (!store_options.ok()) return govreport::FailStartup(kService, store_options.status());
  store_options->event_retention = *event_retention;
  assembler::Store store(&redis, *store_options);
  assembler::ReportCore core(&store, &upstream, CoreOptionsOf(*options, service_token));
  assembler::GrpcOptions grpc_options;
  grpc_options.watch_poll = absl::Milliseconds(options->watch_poll_ms);
  grpc_options.max_watches_per_principal = static_cast<int>(options->max_watches_per_caller);
  grpc_options.max_watches = static_cast<int>(options->max_watches);
  grpc_options.max_watches_per_org = static_cast<int>(options->max_watches_per_org);
  assembler::ReportGrpc service(&core, &authenticator, grpc_options);

  auto server = RunningServer::Start(ServerOptionsFromFlags(flags, {&service}, &redis));
  if (!server.ok()) return govreport::FailStartup(kService, server.status());

  assembler::Workers workers(&store, &upstream, assembler::CallAs::Token(service_token));
  assembler::WorkerOptions worker_options;
  worker_options.assemble_workers = static_cast<int>(options->workers);
  worker_options.event_workers = static_cast<int>(options->event_workers);
  worker_options.claim_idle = absl::Milliseconds(options->claim_idle_ms);
  worker_options.max_deliveries = static_cast<int>(options->max_deliveries);
  worker_options.trim_interval = absl::Milliseconds(options->trim_interval_ms);
  worker_options.outdated_check_interval = absl::Milliseconds(options->outdated_check_interval_ms);
  worker_options.stream_retention = absl::Seconds(options->stream_retention_s);
  worker_options.dead_letter_retention = absl::Seconds(options->dead_letter_retention_s);
  assembler::WorkerPool pool(&redis, &workers, worker_options);
  // Redis may come up after us: the workers' loops wait for it, but the
  // groups must exist first. SIGTERM ends the wait.
  if (!RetryUntilTerminated(kService, "Redis", [&] { return pool.Start(); })) {
    LogLine(kService, "stopped before Redis answered");
    return 0;
  }
  AnnounceListening(kService, (*server)->port());
  std::vector<std::unique_ptr<metrics::Sampler>> samplers = StartWorkSamplers(flags, redis, store);

  ServeUntilSignal(kService, **server, flags, [&] {
    samplers.clear();
    service.StopWatches();
    pool.Stop();
  });
  return 0;
}
