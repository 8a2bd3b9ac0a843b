// reportctl: the command line for people and scripts, against every
// govreport service.
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "reportctl/cli.h"

namespace govreport::cli {
namespace {

void DefineFlags(Flags& f) {
  f.Define("records", "127.0.0.1:7101", "Address of the records service");
  f.Define("templates", "127.0.0.1:7102", "Address of the templates service");
  f.Define("approval", "127.0.0.1:7103", "Address of the approval service");
  f.Define("assembler", "127.0.0.1:7104", "Address of the assembler service");
  f.Define("token", "", "Bearer token (prefer the environment variable)");
  f.Define("json", "false", "Print JSON instead of tables");
  f.Define("timeout-ms", "30000", "Deadline of each call");
  f.Define("request-id", "", "Idempotency key of a mutating call (random if absent)");
  // Command options.
  for (const char* name : {"org",         "subject",    "display-name",
                           "kind",        "roles",      "ttl-seconds",
                           "short-name",  "city",       "district",
                           "parent",      "fact",       "expected-revision",
                           "type",        "date",       "title",
                           "department",  "source",     "external-id",
                           "note",        "person",     "quantity",
                           "reason",      "from",       "to",
                           "limit",       "batch-size", "year",
                           "description", "format",     "out",
                           "template",    "workflow",   "id",
                           "narrative",   "revision",   "state",
                           "accept-gap",  "comment",    "expected-version",
                           "return-to",   "members",    "seed"}) {
    f.Define(name, "", "see the command's help");
  }
  for (const char* name : {"quiet", "include-voided", "dry-run", "wait", "correction"}) {
    f.Define(name, "false", "see the command's help");
  }
}

void PrintHelp(const Flags& f, const std::vector<Command>& commands) {
  std::cout << "reportctl: records, templates, approvals and reports of govreport.\n\n"
               "Usage: reportctl [global flags] COMMAND [args] [flags]\n"
               "       reportctl help COMMAND\n\nCommands:\n";
  for (const auto& c : commands) std::cout << "  " << c.path << " " << c.usage << "\n";
  std::cout << "\nGlobal flags (each also read from the environment variable shown):\n";
  for (const char* name : {"records", "templates", "approval", "assembler", "token", "json",
                           "timeout-ms", "request-id"}) {
    std::cout << "  --" << name << "  [" << Flags::EnvName(name) << "]\n";
  }
  std::cout << "\nExit codes: 0 ok, 1 refused by the server, 2 bad usage or input, "
               "3 partly done, 4 server unreachable.\n";
  (void)f;
}

const Command* Match(const std::vector<Command>& commands, const std::vector<std::string>& words,
                     size_t* used) {
  const Command* best = nullptr;
  for (const auto& c : commands) {
    std::vector<std::string> path = absl::StrSplit(c.path, ' ');
    if (path.size() > words.size()) continue;
    if (!std::equal(path.begin(), path.end(), words.begin())) continue;
    if (!best || path.size() > *used) {
      best = &c;
      *used = path.size();
    }
  }
  return best;
}

}  // namespace
}  // namespace govreport::cli

int main(int argc, char** argv) {
  using namespace govreport;
  using namespace govreport::cli;
  std::vector<Command> commands;
  RegisterRecordsCommands(commands);
  RegisterTemplateCommands(commands);
  RegisterReportCommands(commands);
  RegisterApprovalCommands(commands);
  Flags flags("reportctl", "");
  DefineFlags(flags);
  absl::Status parsed = flags.Parse(argc, argv);
  std::vector<std::string> words = flags.positional();
  bool help = flags.help_requested();
  if (!words.empty() && words[0] == "help") {
    help = true;
    words.erase(words.begin());
  }
  size_t used = 0;
  const Command* cmd = Match(commands, words, &used);
  if (help || words.empty()) {
    if (cmd) {
      std::cout << "usage: reportctl " << cmd->path << " " << cmd->usage << "\n\n"
                << cmd->help << "\n";
    } else {
      PrintHelp(flags, commands);
    }
    return words.empty() && !help ? kUsage : kOk;
  }
  if (!parsed.ok()) {
    std::cerr << "error: " << parsed.message() << "\n";
    return kUsage;
  }
  if (!cmd) {
    std::cerr << "error: unknown command '" << absl::StrJoin(words, " ")
              << "' (see reportctl --help)\n";
    return kUsage;
  }
  Context ctx(&flags);
  ctx.args.assign(words.begin() + used, words.end());
  return cmd->run(ctx);
}
