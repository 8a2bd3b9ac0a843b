// approval: workflow definitions, approval runs, deadlines and the audit
// trail, all state in Redis. Any number of replicas may run; each also runs
// the deadline timer loop, and every timer fires once across them.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "approval/approvals.h"
#include "approval/grpc_service.h"
#include "approval/store.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/events.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "common/secret.h"
#include "common/server.h"

namespace {

constexpr char kService[] = "approval";

}  // namespace

namespace govreport {
namespace {

// With --metrics-listen: govreport_timers_due, the timers whose second has
// come (a claimed timer's score moves past its lease, so it is not counted).
std::unique_ptr<metrics::Sampler> StartTimerSampler(const Flags& flags, approval::Store& store) {
  if (flags.Get("metrics-listen").empty()) return nullptr;
  return std::make_unique<metrics::Sampler>(MetricsSampleInterval(flags), [&store] {
    absl::StatusOr<int64_t> due = store.CountDueTimers(absl::ToUnixSeconds(absl::Now()));
    if (due.ok()) metrics::SetTimersDue(*due);
  });
}

}  // namespace
}  // namespace govreport

int main(int argc, char** argv) {
  using namespace govreport;  // NOLINT: a short main.
  BlockTerminationSignals();
  Flags flags("approval", "Approval chains (拟稿 -> 审核 -> 签发) over report revisions.");
  DefineServerFlags(flags, "127.0.0.1:7103");
  DefineRedisFlags(flags);
  events::DefineEventFlags(flags);
  flags.Define("timers", "true",
               "Run the deadline timer loop in this replica (reminders, "
               "escalations)");
  flags.Define("timer-interval-ms", "1000", "How often due timers are polled");
  flags.Define("timer-lease-ms", "30000",
               "How long a claimed timer is reserved for this replica before "
               "another may fire it");
  flags.Define("delegates", "",
               "Comma-separated subjects of operator-issued (org '*') service tokens that may "
               "act on behalf of a user (on_behalf_of, initiator); empty: nobody");
  flags.Define("comments-per-minute", "10", "Comments and urgings a user may send per minute");
  flags.Define("max-history-entries", "300",
               "History entries of one approval past which comments and urgings are refused");
  ParseFlagsOrExit(flags, argc, argv);

  auto redis_options = RedisOptionsFromFlags(flags);
  if (!redis_options.ok()) return govreport::FailStartup(kService, redis_options.status());
  auto interval_ms = flags.GetInt("timer-interval-ms");
  if (!interval_ms.ok()) return govreport::FailStartup(kService, interval_ms.status());
  auto lease_ms = flags.GetInt("timer-lease-ms");
  if (!lease_ms.ok()) return govreport::FailStartup(kService, lease_ms.status());
  if (*interval_ms < 10 || *lease_ms < 1000) {
    return govreport::FailStartup(
        kService, absl::InvalidArgumentError(
                      "--timer-interval-ms >= 10 and --timer-lease-ms >= 1000 are required"));
  }

  // The audit chain is keyed: without the deployment's secret it could be
  // rewritten by whoever can write Redis, so there is no default.
  auto secret = SecretFromFlags(flags);
  if (!secret.ok()) return govreport::FailStartup(kService, secret.status());
  if (absl::Status st = ConfigurePageTokens(flags, kService); !st.ok())
    return govreport::FailStartup(kService, st);
  auto per_minute = flags.GetInt("comments-per-minute");
  if (!per_minute.ok()) return govreport::FailStartup(kService, per_minute.status());
  auto max_history = flags.GetInt("max-history-entries");
  if (!max_history.ok()) return govreport::FailStartup(kService, max_history.status());
  auto event_retention = events::RetentionFromFlags(flags);
  if (!event_retention.ok()) return govreport::FailStartup(kService, event_retention.status());
  approval::CoreOptions core_options;
  core_options.audit_key = DeriveKey(*secret, "audit-chain");
  core_options.delegates = absl::StrSplit(flags.Get("delegates"), ',', absl::SkipEmpty());
  core_options.comments_per_minute = static_cast<int>(*per_minute);
  core_options.max_history_entries = *max_history;

  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  approval::Store store(&redis, request_id::kRetention, *event_retention);
  approval::ApprovalCore core(&store, std::move(core_options));
  approval::ApprovalGrpcService service(&core, &authenticator);

  auto server = RunningServer::Start(ServerOptionsFromFlags(flags, {&service}, &redis));
  if (!server.ok()) return govreport::FailStartup(kService, server.status());
  AnnounceListening(kService, (*server)->port());

  std::unique_ptr<approval::TimerLoop> timers;
  if (flags.GetBool("timers")) {
    timers = std::make_unique<approval::TimerLoop>(&core, absl::Milliseconds(*interval_ms),
                                                   absl::Milliseconds(*lease_ms));
    timers->Start();
  }

  std::unique_ptr<metrics::Sampler> sampler = StartTimerSampler(flags, store);

  ServeUntilSignal(kService, **server, flags, [&] {
    sampler.reset();
    if (timers) timers->Stop();
  });
  return 0;
}
