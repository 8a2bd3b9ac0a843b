// reportctl's dispatch: `reportctl --help`, `reportctl help COMMAND`,
// `COMMAND --help`, unknown commands, and that every command's help
// names the flags its usage line shows. No server is needed.
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "reportctl/cli.h"

namespace govreport::cli {
namespace {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result Reportctl(std::vector<std::string> words) {
  std::vector<std::string> argv = {"reportctl"};
  argv.insert(argv.end(), words.begin(), words.end());
  std::vector<char*> raw;
  raw.reserve(argv.size());
  for (auto& a : argv) raw.push_back(a.data());
  Result r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.code = Main(static_cast<int>(raw.size()), raw.data());
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

std::vector<std::string> Words(const std::string& path) { return absl::StrSplit(path, ' '); }

TEST(ReportctlHelpTest, HelpCommandPrintsUsageDescriptionAndFlagsWithDefaults) {
  Result r = Reportctl({"help", "activity", "import"});
  EXPECT_EQ(r.code, kOk) << r.err;
  EXPECT_TRUE(absl::StartsWith(
      r.out, "usage: reportctl activity import ORG FILE [--batch-size N] [--dry-run]\n\n"))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Rerunning the same file creates nothing twice.")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Flags:\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "--batch-size")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "(default: 500)")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "--dry-run")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "(default: false)")) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(ReportctlHelpTest, CommandDashDashHelpIsTheSameAsHelpCommand) {
  Result help = Reportctl({"help", "report", "download"});
  Result dash = Reportctl({"report", "download", "--help"});
  EXPECT_EQ(help.code, kOk);
  EXPECT_EQ(dash.code, kOk);
  EXPECT_EQ(help.out, dash.out);
  EXPECT_TRUE(absl::StrContains(help.out, "--format")) << help.out;
  EXPECT_TRUE(absl::StrContains(help.out, "(default: txt)")) << help.out;
}

TEST(ReportctlHelpTest, CommandWithoutFlagsSaysSo) {
  Result r = Reportctl({"help", "whoami"});
  EXPECT_EQ(r.code, kOk);
  EXPECT_TRUE(absl::StrContains(r.out, "No flags of its own.")) << r.out;
}

TEST(ReportctlHelpTest, HelpOfAnUnknownCommandIsAUsageError) {
  Result r = Reportctl({"help", "no-such-command"});
  EXPECT_EQ(r.code, kUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(absl::StrContains(r.err, "unknown command 'no-such-command'")) << r.err;

  r = Reportctl({"report", "frobnicate", "--help"});
  EXPECT_EQ(r.code, kUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "unknown command 'report frobnicate'")) << r.err;
}

TEST(ReportctlHelpTest, UnknownCommandIsAUsageError) {
  Result r = Reportctl({"no-such-command"});
  EXPECT_EQ(r.code, kUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "unknown command 'no-such-command'")) << r.err;
}

TEST(ReportctlHelpTest, HelpOfAGroupListsItsCommands) {
  Result r = Reportctl({"help", "approval"});
  EXPECT_EQ(r.code, kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "approval verify APPROVAL|REPORT")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "token issue")) << r.out;
}

TEST(ReportctlHelpTest, TopLevelHelpListsEveryCommand) {
  Result r = Reportctl({"--help"});
  EXPECT_EQ(r.code, kOk);
  for (const auto& c : AllCommands()) {
    EXPECT_TRUE(absl::StrContains(r.out, "  " + c.path + " " + c.usage + "\n")) << c.path;
  }
  EXPECT_TRUE(absl::StrContains(r.out, "--timeout-ms  [GOVREPORT_TIMEOUT_MS]")) << r.out;
  EXPECT_EQ(Reportctl({"help"}).out, r.out);
  // No command at all: the same text, but a usage error.
  Result none = Reportctl({});
  EXPECT_EQ(none.code, kUsage);
  EXPECT_EQ(none.out, r.out);
}

TEST(ReportctlHelpTest, EveryCommandHasHelp) {
  for (const auto& c : AllCommands()) {
    std::vector<std::string> words = Words(c.path);
    words.insert(words.begin(), "help");
    Result r = Reportctl(words);
    EXPECT_EQ(r.code, kOk) << c.path;
    EXPECT_TRUE(absl::StartsWith(r.out, "usage: reportctl " + c.path + " ")) << r.out;
    EXPECT_FALSE(c.help.empty()) << c.path;
  }
}

TEST(ReportctlHelpTest, EveryFlagOfAUsageLineIsListed) {
  const std::regex flag("--([a-z][a-z-]*)");
  for (const auto& c : AllCommands()) {
    std::set<std::string> listed;
    for (const auto& f : c.flags) listed.insert(f.name);
    for (std::sregex_iterator it(c.usage.begin(), c.usage.end(), flag), end; it != end; ++it) {
      EXPECT_TRUE(listed.count((*it)[1])) << c.path << ": --" << (*it)[1] << " is not listed";
    }
  }
}

// The parser knows a flag once: it takes a value in every command or in none.
TEST(ReportctlHelpTest, AFlagIsBooleanInEveryCommandOrInNone) {
  std::map<std::string, bool> boolean;
  for (const auto& c : AllCommands()) {
    for (const auto& f : c.flags) {
      bool b = f.default_value == "false" || f.default_value == "true";
      auto [it, fresh] = boolean.emplace(f.name, b);
      EXPECT_TRUE(fresh || it->second == b) << "--" << f.name << " in " << c.path;
    }
  }
}

}  // namespace
}  // namespace govreport::cli
