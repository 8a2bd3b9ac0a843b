// fault_runner: runs the fault scenarios (docs/faults.md) against the real
// service binaries and a real redis-server on this machine, prints per
// scenario what was done and what was lost, and writes one flat JSON
// object (faults.*). Exits non-zero when anything acknowledged was lost or
// duplicated, a history broke, a service crashed or a tenant boundary
// leaked.
//
//   fault_runner [--short] [--only=1,5] [--out=build/fault/results.json]
//   fault_runner --mixed [--quick]      the mixed load of scripts/bench.sh
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX SIGPIPE
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/server.h"
#include "tests/fault/harness.h"
#include "tests/fault/scenarios.h"

namespace {

using namespace govreport::fault;  // NOLINT: a short main.

// Every counter the issue names exists in the output, even when the
// scenario that fills it was skipped (its verdict says so).
constexpr const char* kRequiredKeys[] = {"faults.records_acked",      "faults.records_lost",
                                         "faults.records_duplicated", "faults.aggregate_mismatches",
                                         "faults.jobs_submitted",     "faults.jobs_lost",
                                         "faults.jobs_duplicated",    "faults.histories_broken",
                                         "faults.bad_requests_sent",  "faults.crashes",
                                         "faults.isolation_leaks"};

// Counters that must be zero.
constexpr const char* kMustBeZero[] = {
    "faults.records_lost", "faults.records_duplicated", "faults.aggregate_mismatches",
    "faults.jobs_lost",    "faults.jobs_duplicated",    "faults.histories_broken",
    "faults.crashes",      "faults.isolation_leaks"};

std::string VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPassed:
      return "passed";
    case Verdict::kFailed:
      return "failed";
    case Verdict::kSkipped:
      return "skipped";
  }
  return "?";
}

void MakeDirs(const std::string& path) {
  std::string partial;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    partial += std::string(part) + "/";
    mkdir(partial.c_str(), 0755);
  }
}

std::string Dirname(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

struct Tally {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};

// Runs the scenarios numbered in `only` (all when empty), printing each
// verdict; their figures go to `results`.
Tally RunScenarios(const Env& env, const std::set<int>& only, Results& results) {
  const std::vector<std::pair<int, std::function<ScenarioResult(const Env&, Results&)>>> all = {
      {1, RunIngestUnderRedisCrashes}, {2, RunWorkerCrashes},
      {3, RunServiceRestarts},         {4, RunApprovalRaces},
      {5, RunRedisUnavailable},        {6, RunBadInput},
      {7, RunIsolationMatrix},         {8, RunAbuse}};
  for (const char* key : kRequiredKeys) results.Add(key, 0);
  results.Set("faults.mode", std::string(env.short_mode ? "short" : "full"));
  Tally tally;
  absl::Time start = absl::Now();
  for (const auto& [number, run] : all) {
    if (!only.empty() && !only.count(number)) continue;
    Log(absl::StrCat("scenario ", number, " starting"));
    absl::Time t0 = absl::Now();
    ScenarioResult r = run(env, results);
    double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    std::string line =
        absl::StrCat("scenario ", r.number, " ", r.name, ": ", VerdictName(r.verdict), " (",
                     absl::StrFormat("%.1f", seconds), "s) — ", r.summary);
    std::cout << line << std::endl;
    for (const auto& p : r.problems) std::cout << "    " << p << std::endl;
    results.Set(absl::StrCat("faults.scenario.", r.number, ".verdict"), VerdictName(r.verdict));
    results.Set(absl::StrCat("faults.scenario.", r.number, ".seconds"), seconds);
    if (r.verdict == Verdict::kPassed) ++tally.passed;
    if (r.verdict == Verdict::kFailed) ++tally.failed;
    if (r.verdict == Verdict::kSkipped) ++tally.skipped;
  }
  results.Set("faults.scenarios_passed", static_cast<int64_t>(tally.passed));
  results.Set("faults.scenarios_failed", static_cast<int64_t>(tally.failed));
  results.Set("faults.scenarios_skipped", static_cast<int64_t>(tally.skipped));
  results.Set("faults.seconds", absl::ToDoubleSeconds(absl::Now() - start));
  return tally;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  govreport::Flags flags("fault_runner",
                         "Fault scenarios against the real binaries (docs/faults.md).");
  flags.Define("short", "false", "CI length: about two minutes in all");
  flags.Define("only", "", "Comma-separated scenario numbers to run (default: all)");
  flags.Define("build-dir", GOVREPORT_BUILD_DIR, "Where the service binaries were built");
  flags.Define("source-dir", GOVREPORT_SOURCE_DIR, "The source tree (profiles, templates)");
  flags.Define("out", "", "results.json path (default: <build-dir>/fault/results.json)");
  flags.Define("seed", "1", "Seed of every random choice");
  flags.Define("mixed", "false", "Run the mixed load of scripts/bench.sh instead");
  flags.Define("quick", "false", "With --mixed: small counts, for a smoke test");
  flags.Define("redis-aof", "true",
               "false runs Redis without AOF, to see the checks catch the losses");
  govreport::ParseFlagsOrExit(flags, argc, argv);

  std::string build_dir = flags.Get("build-dir");
  std::string out_path =
      flags.Get("out").empty() ? build_dir + "/fault/results.json" : flags.Get("out");
  std::string run_dir = absl::StrCat(
      build_dir, "/fault/run-",
      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::LocalTimeZone()), "-", getpid());
  MakeDirs(run_dir);
  Env env = MakeEnv(build_dir, flags.Get("source-dir"), run_dir);
  env.short_mode = flags.GetBool("short");
  env.seed = static_cast<uint64_t>(flags.GetInt("seed").value_or(1));
  env.redis_aof = flags.GetBool("redis-aof");
  Log(absl::StrCat("service logs in ", run_dir));

  Results results;
  if (flags.GetBool("mixed")) {
    int rc = RunMixedLoad(env, flags.GetBool("quick"), results);
    std::cout << results.Json();
    return rc;
  }

  std::set<int> only;
  for (absl::string_view part : absl::StrSplit(flags.Get("only"), ',', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(part, &n)) only.insert(n);
  }
  const Tally tally = RunScenarios(env, only, results);

  std::string json = results.Json();
  MakeDirs(Dirname(out_path));
  std::ofstream(out_path) << json;
  std::cout << json;
  bool bad = tally.failed > 0;
  for (const char* key : kMustBeZero) {
    if (results.Int(key) != 0) {
      std::cout << key << " = " << results.Int(key) << ", must be 0" << std::endl;
      bad = true;
    }
  }
  std::cout << "fault scenarios: " << tally.passed << " passed, " << tally.failed << " failed, "
            << tally.skipped << " skipped; results in " << out_path << std::endl;
  return bad ? 1 : 0;
}
