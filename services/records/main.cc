// records: orgs, the indicator catalogue and activity records.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/secret.h"
#include "common/server.h"
#include "records/grpc_service.h"
#include "records/records.h"

int main(int argc, char** argv) {
  using namespace govreport;
  BlockTerminationSignals();
  Flags flags("records",
              "Serves OrgService, IndicatorService, ActivityService and "
              "AuthService; all state is in Redis.");
  DefineServerFlags(flags, "127.0.0.1:7101");
  DefineRedisFlags(flags);
  ParseFlagsOrExit(flags, argc, argv);
  if (absl::Status st = ConfigurePageTokens(flags, "records"); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 2;
  }
  auto redis_options = RedisOptionsFromFlags(flags);
  if (!redis_options.ok()) {
    std::cerr << redis_options.status().message() << "\n";
    return 2;
  }
  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  records::Records records(&redis);
  records::OrgGrpc orgs(&records, &authenticator);
  records::IndicatorGrpc indicators(&records, &authenticator);
  records::ActivityGrpc activities(&records, &authenticator);
  records::AuthGrpc auth_service(&authenticator);

  auto server = RunningServer::Start(
      ServerOptionsFromFlags(flags, {&orgs, &indicators, &activities, &auth_service}, &redis));
  if (!server.ok()) {
    std::cerr << server.status().message() << "\n";
    return 1;
  }
  AnnounceListening("records", (*server)->port());
  ServeUntilSignal("records", **server, flags);
  return 0;
}
