// templates: versioned report templates, validation and rendering.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/secret.h"
#include "common/server.h"
#include "common/tls.h"
#include "templates/layout/fonts.h"
#include "templates/service/core.h"
#include "templates/service/grpc_service.h"
#include "templates/service/records_figures.h"
#include "templates/service/store.h"

namespace {

using namespace govreport;

// The render budget (docs/templates.md); a render past one ends with
// RESOURCE_EXHAUSTED, past the call's deadline with DEADLINE_EXCEEDED.
void DefineRenderFlags(Flags& flags) {
  const templates::RenderLimits defaults;
  flags.Define("render-max-steps", absl::StrCat(defaults.max_steps),
               "Steps (nodes visited, section iterations) one render may take");
  flags.Define("render-max-output-bytes", absl::StrCat(defaults.max_output_bytes),
               "Bytes one render may write");
  flags.Define("render-max-partial-expansions", absl::StrCat(defaults.max_partial_expansions),
               "Partials and parents one render may expand, in all");
  flags.Define("render-max-partial-names", absl::StrCat(defaults.max_partial_names),
               "Different partial names one render may look up");
  flags.Define("render-max-concurrent", absl::StrCat(defaults.max_concurrent),
               "Renders in progress at once; more are refused with RESOURCE_EXHAUSTED");
  flags.Define("render-max-concurrent-per-org", absl::StrCat(defaults.max_concurrent_per_org),
               "Of those, renders one org's callers may have in progress (the platform's "
               "own calls are not held to it)");
  flags.Define("render-queue-wait-ms", absl::StrCat(absl::ToInt64Milliseconds(defaults.queue_wait)),
               "How long a render waits for a free slot before it is refused");
  flags.Define("render-max-context-bytes", absl::StrCat(defaults.max_context_bytes),
               "Bytes of a request's context (or a preview's narrative)");
}

// The --render-* flags; a bad one adds its error to `checks`.
templates::RenderLimits RenderLimitsFromFlags(const Flags& flags,
                                              std::vector<absl::Status>& checks) {
  templates::RenderLimits limits;
  auto positive = [&](const char* name, auto* field) {
    auto v = flags.GetInt(name);
    if (v.ok() && *v < 1) v = absl::InvalidArgumentError(absl::StrCat("--", name, " must be >= 1"));
    checks.push_back(v.status());
    if (v.ok()) *field = static_cast<std::remove_pointer_t<decltype(field)>>(*v);
  };
  positive("render-max-steps", &limits.max_steps);
  positive("render-max-output-bytes", &limits.max_output_bytes);
  positive("render-max-partial-expansions", &limits.max_partial_expansions);
  positive("render-max-partial-names", &limits.max_partial_names);
  positive("render-max-concurrent", &limits.max_concurrent);
  positive("render-max-concurrent-per-org", &limits.max_concurrent_per_org);
  positive("render-max-context-bytes", &limits.max_context_bytes);
  auto queue_wait = flags.GetInt("render-queue-wait-ms");
  checks.push_back(queue_wait.status());
  if (queue_wait.ok()) limits.queue_wait = absl::Milliseconds(*queue_wait);
  return limits;
}

}  // namespace

int main(int argc, char** argv) {
  BlockTerminationSignals();
  Flags flags("templates",
              "Serves TemplateService: versioned Mustache templates checked against each "
              "org's profile, rendered to text, Markdown, HTML and GB/T 9704 DOCX and PDF.");
  DefineServerFlags(flags, "127.0.0.1:7102");
  DefineClientTlsFlags(flags);
  DefineRedisFlags(flags);
  flags.Define("records", "127.0.0.1:7101", "Address of the records service");
  flags.Define("records-deadline-ms", "5000", "Deadline of each call to the records service");
  DefineRenderFlags(flags);
  ParseFlagsOrExit(flags, argc, argv);
  if (absl::Status st = ConfigurePageTokens(flags, "templates"); !st.ok()) {
    return FailStartup("templates", st);
  }
  auto redis_options = RedisOptionsFromFlags(flags);
  auto deadline = flags.GetInt("records-deadline-ms");
  std::vector<absl::Status> checks = {redis_options.status(), deadline.status()};
  const templates::RenderLimits limits = RenderLimitsFromFlags(flags, checks);
  for (const absl::Status& st : checks) {
    if (!st.ok()) {
      return FailStartup("templates", st);
    }
  }
  // The PDF's faces, checked and logged once now; a missing one fails the
  // PDF renders (FAILED_PRECONDITION), not the other formats.
  (void)layout::ConfiguredFonts();
  redis::Client redis(*redis_options);
  auth::Authenticator authenticator(&redis, flags.Get("admin-token"));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> records =
      DialFromFlags(flags, flags.Get("records"));
  if (!records.ok()) {
    return FailStartup("templates", records.status());
  }
  templates::RecordsFigures figures(*records, absl::Milliseconds(*deadline));
  templates::Store store(&redis);
  templates::TemplatesCore core(&store, &figures, limits);
  templates::TemplatesGrpc service(&core, &authenticator);
  ServerOptions server_options = ServerOptionsFromFlags(flags, {&service}, &redis);
  // A request is at most a context and a template (1 MiB): gRPC refuses
  // bigger ones before they are parsed. Responses (DOCX, HTML) may be larger.
  server_options.max_receive_message_bytes =
      static_cast<int>(std::min<size_t>(limits.max_context_bytes + (size_t{2} << 20), INT32_MAX));
  auto server = RunningServer::Start(std::move(server_options));
  if (!server.ok()) {
    return FailStartup("templates", server.status());
  }
  AnnounceListening("templates", (*server)->port());
  ServeUntilSignal("templates", **server, flags);
  return 0;
}
