// records: orgs, the indicator catalogue and activity records.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/events.h"
#include "common/secret.h"
#include "common/server.h"
#include "events/core.h"
#include "events/grpc_service.h"
#include "records/core.h"
#include "records/grpc_service.h"

namespace {

// The limits, quotas and event retention of --max-persons-*, --quota-*
// and --event-retention-s.
absl::StatusOr<govreport::records::RecordsOptions> OptionsFromFlags(const govreport::Flags& flags) {
  govreport::records::RecordsOptions options;
  for (auto [name, field] : std::initializer_list<std::pair<const char*, int64_t*>>{
           {"max-persons-per-year", &options.max_persons_per_year},
           {"quota-records-per-day", &options.quota_records_per_day},
           {"quota-bytes-per-day", &options.quota_bytes_per_day}}) {
    auto v = flags.GetInt(name);
    if (!v.ok() || *v < 0)
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": a number >= 0"));
    *field = *v;
  }
  for (auto [name, field] : std::initializer_list<std::pair<const char*, int*>>{
           {"max-persons-per-record", &options.max_persons_per_record},
           {"max-persons-per-batch", &options.max_persons_per_batch}}) {
    auto v = flags.GetInt(name);
    if (!v.ok() || *v < 0 || *v > 1000000) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": a number within 0..1000000"));
    }
    *field = static_cast<int>(*v);
  }
  auto retention = govreport::events::RetentionFromFlags(flags);
  if (!retention.ok()) return retention.status();
  options.event_retention = *retention;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace govreport;
  BlockTerminationSignals();
  Flags flags("records",
              "Serves OrgService, IndicatorService, ActivityService, AuthService "
              "and EventService; all state is in Redis.");
  DefineServerFlags(flags, "127.0.0.1:7101");
  DefineRedisFlags(flags);
  events::DefineEventFlags(flags);
  events::DefineEventsFlags(flags);
  records::RecordsOptions defaults;
  flags.Define("max-persons-per-record", absl::StrCat(defaults.max_persons_per_record),
               "persons one activity record may name (0 = no limit)");
  flags.Define("max-persons-per-batch", absl::StrCat(defaults.max_persons_per_batch),
               "persons all records of one BatchCreateActivities may name (0 = no limit)");
  flags.Define("max-persons-per-year", absl::StrCat(defaults.max_persons_per_year),
               "distinct persons per org, activity type and calendar year (0 = no limit)");
  flags.Define("quota-records-per-day", absl::StrCat(defaults.quota_records_per_day),
               "record writes (create, amend, void) per org and UTC day (0 = no limit)");
  flags.Define("quota-bytes-per-day", absl::StrCat(defaults.quota_bytes_per_day),
               "bytes of record data written per org and UTC day (0 = no limit)");
  ParseFlagsOrExit(flags, argc, argv);
  auto options = OptionsFromFlags(flags);
  auto events_options = events::EventsOptionsFromFlags(flags);
  if (!options.ok() || !events_options.ok()) {
    return FailStartup("records", options.ok() ? events_options.status() : options.status());
  }
  if (absl::Status st = ConfigurePageTokens(flags, "records"); !st.ok()) {
    return FailStartup("records", st);
  }
  auto redis_options = RedisOptionsFromFlags(flags);
  if (!redis_options.ok()) {
    return FailStartup("records", redis_options.status());
  }
  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  if (auto secret = SecretFromFlags(flags); secret.ok()) {
    authenticator.tokens().SetReplayKey(DeriveKey(*secret, "token-request"));
  }
  records::RecordsCore records(&redis, *options);
  records::OrgGrpc orgs(&records, &authenticator);
  records::IndicatorGrpc indicators(&records, &authenticator);
  records::ActivityGrpc activities(&records, &authenticator);
  records::AuthGrpc auth_service(&authenticator);
  events::EventsCore event_feed(&redis, *events_options);
  events::EventsGrpc events_service(&event_feed, &authenticator);

  auto server = RunningServer::Start(ServerOptionsFromFlags(
      flags, {&orgs, &indicators, &activities, &auth_service, &events_service}, &redis));
  if (!server.ok()) {
    return FailStartup("records", server.status());
  }
  AnnounceListening("records", (*server)->port());
  // Open event streams end (UNAVAILABLE) before the drain, which would
  // otherwise wait for them the whole grace.
  ServeUntilSignal("records", **server, flags, [&event_feed] { event_feed.Stop(); });
  return 0;
}
