// templates: versioned report templates, validation and rendering.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/secret.h"
#include "common/server.h"
#include "templates/service/grpc_service.h"
#include "templates/service/templates.h"

int main(int argc, char** argv) {
  using namespace govreport;
  BlockTerminationSignals();
  Flags flags("templates",
              "Serves TemplateService: versioned Mustache templates checked against each "
              "org's profile, rendered to text, Markdown, HTML and GB/T 9704 DOCX.");
  DefineServerFlags(flags, "127.0.0.1:7102");
  DefineRedisFlags(flags);
  flags.Define("records", "127.0.0.1:7101", "Address of the records service");
  flags.Define("records-deadline-ms", "5000", "Deadline of each call to the records service");
  ParseFlagsOrExit(flags, argc, argv);
  if (absl::Status st = ConfigurePageTokens(flags, "templates"); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 2;
  }
  auto redis_options = RedisOptionsFromFlags(flags);
  auto deadline = flags.GetInt("records-deadline-ms");
  for (const absl::Status& st : {redis_options.status(), deadline.status()}) {
    if (!st.ok()) {
      std::cerr << st.message() << "\n";
      return 2;
    }
  }
  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  templates::RecordsFigures figures(
      grpc::CreateChannel(flags.Get("records"), grpc::InsecureChannelCredentials()),
      absl::Milliseconds(*deadline));
  templates::Templates logic(&redis, &figures);
  templates::TemplateGrpc service(&logic, &authenticator);
  auto server = RunningServer::Start(ServerOptionsFromFlags(flags, {&service}, &redis));
  if (!server.ok()) {
    std::cerr << server.status().message() << "\n";
    return 1;
  }
  AnnounceListening("templates", (*server)->port());
  ServeUntilSignal("templates", **server, flags);
  return 0;
}
