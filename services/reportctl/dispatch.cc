// reportctl's dispatch: the global flags, the command table, help, and
// picking the command the words name.
#include <algorithm>
#include <iostream>
#include <set>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/tls.h"
#include "reportctl/cli.h"

namespace govreport::cli {
namespace {

// Flags every command takes, with their real defaults.
std::vector<CommandFlag> GlobalFlags() {
  std::vector<CommandFlag> flags = {
      {"records", "127.0.0.1:7101", "Address of the records service"},
      {"templates", "127.0.0.1:7102", "Address of the templates service"},
      {"approval", "127.0.0.1:7103", "Address of the approval service"},
      {"assembler", "127.0.0.1:7104", "Address of the assembler service"},
      {"token", "", "Bearer token (prefer the environment variable)"},
      {"json", "false", "Print JSON instead of tables"},
      {"timeout-ms", "30000", "Deadline of each call"},
      {"request-id", "", "Idempotency key of a mutating call (random if absent)"},
  };
  // --tls-ca, --tls-cert, --tls-key, --tls-server-name: as every client.
  for (const FlagDefinition& f : ClientTlsFlagDefinitions()) {
    flags.push_back({f.name, f.default_value, f.help});
  }
  return flags;
}

bool IsBoolean(const CommandFlag& flag) {
  return flag.default_value == "false" || flag.default_value == "true";
}

// The global flags, then every command's flags. A command flag's default
// is help text (the command applies it): the parser keeps "" for a flag
// with a value and "false" for a boolean, as it always has.
void DefineFlags(Flags& flags, const std::vector<Command>& commands) {
  for (const auto& g : GlobalFlags()) flags.Define(g.name, g.default_value, g.help);
  std::set<std::string> defined;
  for (const auto& g : GlobalFlags()) defined.insert(g.name);
  for (const auto& c : commands) {
    for (const auto& f : c.flags) {
      if (!defined.insert(f.name).second) continue;
      flags.Define(f.name, IsBoolean(f) ? "false" : "", "see the command's help");
    }
  }
}

void PrintHelp(const std::vector<Command>& commands) {
  std::cout << "reportctl: records, templates, approvals and reports of govreport.\n\n"
               "Usage: reportctl [global flags] COMMAND [args] [flags]\n"
               "       reportctl help COMMAND   (or COMMAND --help: its flags and defaults)\n\n"
               "Commands:\n";
  for (const auto& c : commands) std::cout << "  " << c.path << " " << c.usage << "\n";
  std::cout << "\nGlobal flags (each also read from the environment variable shown):\n";
  for (const auto& g : GlobalFlags()) {
    std::cout << "  --" << g.name << "  [" << Flags::EnvName(g.name) << "]  " << g.help;
    if (!g.default_value.empty()) std::cout << " (default: " << g.default_value << ")";
    std::cout << "\n";
  }
  std::cout << "\nExit codes: 0 ok, 1 refused by the server, 2 bad usage or input, "
               "3 partly done, 4 server unreachable.\n";
}

void PrintFlags(const std::vector<CommandFlag>& flags) {
  size_t width = 0;
  for (const auto& f : flags) width = std::max(width, f.name.size());
  for (const auto& f : flags) {
    std::cout << "  --" << f.name << std::string(width - f.name.size() + 2, ' ') << f.help;
    if (!f.default_value.empty()) std::cout << " (default: " << f.default_value << ")";
    std::cout << "\n";
  }
}

void PrintCommandHelp(const Command& cmd) {
  std::cout << "usage: reportctl " << cmd.path << " " << cmd.usage << "\n\n" << cmd.help << "\n";
  if (cmd.flags.empty()) {
    std::cout << "\nNo flags of its own.\n";
  } else {
    std::cout << "\nFlags:\n";
    PrintFlags(cmd.flags);
  }
  std::cout << "\nGlobal flags (--records, --token, --json, --request-id...): see reportctl "
               "--help.\n";
}

// The commands under a group of words ("report" → report create, ...).
std::vector<const Command*> Group(const std::vector<Command>& commands,
                                  const std::vector<std::string>& words) {
  std::string prefix = absl::StrJoin(words, " ") + " ";
  std::vector<const Command*> out;
  for (const auto& c : commands) {
    if (c.path.rfind(prefix, 0) == 0) out.push_back(&c);
  }
  return out;
}

// help COMMAND, COMMAND --help, or no command at all.
int Help(const std::vector<Command>& commands, const std::vector<std::string>& words,
         const Command* cmd, bool asked) {
  if (cmd) {
    PrintCommandHelp(*cmd);
    return kOk;
  }
  if (words.empty()) {
    PrintHelp(commands);
    return asked ? kOk : kUsage;
  }
  std::vector<const Command*> group = Group(commands, words);
  if (group.empty()) {
    std::cerr << "error: unknown command '" << absl::StrJoin(words, " ")
              << "' (see reportctl --help)\n";
    return kUsage;
  }
  std::cout << "Commands of '" << absl::StrJoin(words, " ") << "' (reportctl help COMMAND for "
            << "one):\n";
  for (const Command* c : group) std::cout << "  " << c->path << " " << c->usage << "\n";
  return kOk;
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

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  RegisterRecordsCommands(commands);
  RegisterActivityCommands(commands);
  RegisterTemplateCommands(commands);
  RegisterReportCommands(commands);
  RegisterApprovalCommands(commands);
  RegisterDocumentCommands(commands);
  RegisterSigningCommands(commands);
  return commands;
}

int Main(int argc, char** argv) {
  std::vector<Command> commands = AllCommands();
  Flags flags("reportctl", "");
  DefineFlags(flags, commands);
  absl::Status parsed = flags.Parse(argc, argv);
  std::vector<std::string> words = flags.positional();
  bool help = flags.help_requested();
  if (!words.empty() && words[0] == "help") {
    help = true;
    words.erase(words.begin());
  }
  size_t used = 0;
  const Command* cmd = Match(commands, words, &used);
  if (help || words.empty()) return Help(commands, words, cmd, help);
  if (!parsed.ok()) {
    std::cerr << "error: " << parsed.message() << "\n";
    return kUsage;
  }
  if (!cmd) {
    std::cerr << "error: unknown command '" << absl::StrJoin(words, " ")
              << "' (see reportctl --help)\n";
    return kUsage;
  }
  // A client certificate without a CA would go out over plaintext, its
  // token with it.
  if ((!flags.Get("tls-cert").empty() || !flags.Get("tls-key").empty()) &&
      flags.Get("tls-ca").empty()) {
    std::cerr << "error: --tls-cert/--tls-key need --tls-ca (GOVREPORT_TLS_CA): without it the "
                 "calls would be plaintext\n";
    return kUsage;
  }
  // Bad TLS files are a usage error before any call, not UNAVAILABLE later.
  // The credentials are made once: the channels use the same.
  if (absl::Status tls = ClientCredentialsFromFlags(flags).status(); !tls.ok()) {
    std::cerr << "error: " << tls.message() << "\n";
    return kUsage;
  }
  Context ctx(&flags);
  ctx.args.assign(words.begin() + used, words.end());
  return cmd->run(ctx);
}

}  // namespace govreport::cli
