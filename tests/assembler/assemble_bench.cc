// Load program for the assembler: the whole suite in-process (real
// redis-server, records, templates, approval, N assembler replicas each
// with its own worker pool), then
//   1. latency: CreateReport → draft revision available, one report at a
//      time, polled through GetReport;
//   2. throughput: one report for each of --orgs orgs created at once by
//      concurrent clients across the replicas, until every draft is ready.
// Prints one flat JSON object:
//   {"assemble.p50_ms": .., "assemble.p99_ms": .., "assemble.reports_per_s": .., ...}
//
//   assemble_bench [--orgs=200] [--samples=100] [--replicas=2] [--workers=2] [--clients=16]
//                  [--aof] [--quick] [--template=shipped|small]
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/server.h"
#include "tests/assembler/assembler_stack.h"

namespace {

using govreport::assembler::testing::OrgTokens;
using govreport::assembler::testing::Stack;
using govreport::assembler::testing::StackOptions;
namespace v1 = ::govreport::assembler::v1;

int Fail(absl::string_view what, const absl::Status& st) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), st.ToString().c_str());
  return 1;
}

std::string g_template;  // "" : each org's small test template.

v1::CreateReportRequest Request(const std::string& org, const std::string& id) {
  v1::CreateReportRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  req.set_report_id(id);
  req.set_period("2023");
  req.set_template_(g_template.empty() ? absl::StrCat("orgs/", org, "/templates/annual")
                                       : g_template);
  req.set_workflow(absl::StrCat("orgs/", org, "/workflows/annual"));
  return req;
}

// Polls GetReport until the first revision is stored.
absl::Status WaitReady(Stack& stack, const std::string& token, const std::string& name, int replica,
                       absl::Duration poll) {
  absl::Time until = absl::Now() + absl::Seconds(120);
  v1::GetReportRequest req;
  req.set_name(name);
  req.set_skip_staleness(true);
  while (absl::Now() < until) {
    v1::Report r;
    grpc::Status st = stack.reports(replica).GetReport(Stack::Ctx(token).get(), req, &r);
    if (!st.ok()) return absl::InternalError(st.error_message());
    if (r.state() == v1::REPORT_STATE_FAILED) return absl::InternalError(r.error());
    if (r.current_revision() >= 1 && !r.assembling()) return absl::OkStatus();
    absl::SleepFor(poll);
  }
  return absl::DeadlineExceededError(absl::StrCat(name, " never became ready"));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(std::llround(p * static_cast<double>(v.size() - 1)));
  return v[std::min(i, v.size() - 1)];
}

struct BenchOptions {
  int orgs = 200;
  int samples = 100;
  int clients = 16;
  bool shipped = true;
  StackOptions stack;
};

// The flags into `out`; 0, or the exit code of a bad flag.
int ParseOptions(int argc, char** argv, BenchOptions* out) {
  govreport::Flags flags("assemble_bench",
                         "Assembly latency and throughput with the real services.");
  flags.Define("orgs", "200", "Orgs assembled concurrently in the throughput phase");
  flags.Define("samples", "100", "Reports assembled one at a time in the latency phase");
  flags.Define("replicas", "2", "Assembler replicas (each its own worker pool)");
  flags.Define("workers", "2", "Assemble worker threads per replica");
  flags.Define("clients", "16", "Concurrent clients in the throughput phase");
  flags.Define("aof", "false", "Run redis-server with appendonly (fsync always)");
  flags.Define("template", "shipped",
               "shipped: the city-wide base template of deploy/profiles with the sample year "
               "of records; small: a four-figure template with four records");
  flags.Define("quick", "false", "Small sizes (50 orgs, 20 samples) for a smoke test");
  govreport::ParseFlagsOrExit(flags, argc, argv);
  bool quick = flags.GetBool("quick");
  out->orgs = static_cast<int>(flags.GetInt("orgs").value_or(200));
  out->samples = static_cast<int>(flags.GetInt("samples").value_or(100));
  if (quick && !flags.IsSet("orgs")) out->orgs = 50;
  if (quick && !flags.IsSet("samples")) out->samples = 20;
  out->clients = static_cast<int>(flags.GetInt("clients").value_or(16));
  StackOptions& options = out->stack;
  options.replicas = static_cast<int>(flags.GetInt("replicas").value_or(2));
  options.workers = static_cast<int>(flags.GetInt("workers").value_or(2));
  options.block = absl::Seconds(1);
  options.claim_idle = absl::Seconds(30);
  options.aof = flags.GetBool("aof");
  if (out->orgs < 1 || out->samples < 1 || out->clients < 1 || options.replicas < 1 ||
      options.workers < 1) {
    std::fprintf(stderr, "--orgs, --samples, --clients, --replicas, --workers must be >= 1\n");
    return 2;
  }
  out->shipped = flags.Get("template") == "shipped";
  if (!out->shipped && flags.Get("template") != "small") {
    std::fprintf(stderr, "--template: shipped or small\n");
    return 2;
  }
  return 0;
}

// The shipped base template, shared by every org.
absl::Status LoadShippedTemplate(Stack& stack) {
  std::ifstream in(std::string(GOVREPORT_SOURCE_DIR) +
                   "/deploy/profiles/strict-governance/base.mustache");
  std::stringstream text;
  text << in.rdbuf();
  absl::Status st = stack.CreateSharedTemplate("strict-governance-base", text.str());
  if (!st.ok()) return st;
  g_template = "templates/strict-governance-base";
  return absl::OkStatus();
}

// Every org of `org_ids` set up by four threads, its tokens into `tokens`;
// false when one failed (said on stderr).
bool SetUpOrgs(Stack& stack, bool shipped, const std::vector<std::string>& org_ids,
               std::vector<OrgTokens>& tokens) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> setup;
  setup.reserve(4);
  for (int t = 0; t < 4; ++t) {
    setup.emplace_back([&] {
      for (int i = next++; i < static_cast<int>(org_ids.size()); i = next++) {
        auto tok = stack.SetUpOrg(org_ids[i]);
        absl::Status st = !tok.ok() ? tok.status()
                          : shipped ? stack.AddSampleYear(org_ids[i])
                                    : stack.AddBaseYear(org_ids[i]);
        if (st.ok() && shipped) {
          st = stack.BindWorkflows(org_ids[i], tok->admin, g_template,
                                   {absl::StrCat("orgs/", org_ids[i], "/workflows/annual")});
        }
        if (!st.ok()) {
          Fail(org_ids[i], st);
          failed = true;
          return;
        }
        tokens[i] = *tok;
      }
    });
  }
  for (auto& t : setup) t.join();
  return !failed;
}

// One report at a time: milliseconds from CreateReport to its draft.
absl::StatusOr<std::vector<double>> Latency(Stack& stack, const OrgTokens& lat, int samples) {
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    v1::Report r;
    absl::Time t0 = absl::Now();
    grpc::Status st = stack.reports().CreateReport(Stack::Ctx(lat.drafter).get(),
                                                   Request("latency", absl::StrCat("l", i)), &r);
    if (!st.ok()) {
      Fail("create", absl::InternalError(st.error_message()));
      return absl::InternalError("create");
    }
    absl::Status ready = WaitReady(stack, lat.drafter, r.name(), 0, absl::Microseconds(500));
    if (!ready.ok()) {
      Fail("latency", ready);
      return ready;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  return ms;
}

// One report for each of the first `orgs` orgs, by `clients` concurrent
// clients across the replicas: seconds until every draft is ready, or
// a negative number when one failed (said on stderr).
double Throughput(Stack& stack, const std::vector<std::string>& org_ids,
                  const std::vector<OrgTokens>& tokens, int orgs, int clients) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  absl::Time t0 = absl::Now();
  std::vector<std::thread> workers;
  workers.reserve(clients);
  for (int c = 0; c < clients; ++c) {
    workers.emplace_back([&, c] {
      std::vector<std::pair<std::string, int>> mine;
      for (int i = next++; i < orgs; i = next++) {
        int replica = i % stack.replica_count();
        v1::Report r;
        grpc::Status st = stack.reports(replica).CreateReport(Stack::Ctx(tokens[i].drafter).get(),
                                                              Request(org_ids[i], "annual"), &r);
        if (!st.ok()) {
          Fail("create", absl::InternalError(st.error_message()));
          failed = true;
          return;
        }
        mine.emplace_back(r.name(), i);
      }
      for (const auto& [name, i] : mine) {
        absl::Status st = WaitReady(stack, tokens[i].drafter, name, i % stack.replica_count(),
                                    absl::Milliseconds(2));
        if (!st.ok()) {
          Fail("throughput", st);
          failed = true;
          return;
        }
      }
      (void)c;
    });
  }
  for (auto& t : workers) t.join();
  if (failed) return -1;
  return absl::ToDoubleSeconds(absl::Now() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions bo;
  if (int rc = ParseOptions(argc, argv, &bo); rc != 0) return rc;
  const StackOptions& options = bo.stack;
  auto stack = Stack::Start(options);
  if (!stack.ok()) return Fail("start", stack.status());
  if (bo.shipped) {
    absl::Status st = LoadShippedTemplate(**stack);
    if (!st.ok()) return Fail("template", st);
  }

  // ------------------------------------------------------------ setup
  std::vector<std::string> org_ids;
  org_ids.reserve(bo.orgs + 1);
  for (int i = 0; i < bo.orgs; ++i) org_ids.push_back(absl::StrFormat("org%03d", i));
  org_ids.emplace_back("latency");
  std::vector<OrgTokens> tokens(org_ids.size());
  if (!SetUpOrgs(**stack, bo.shipped, org_ids, tokens)) return 1;

  // ---------------------------------------------------------- latency
  auto ms = Latency(**stack, tokens.back(), bo.samples);
  if (!ms.ok()) return 1;

  // ------------------------------------------------------- throughput
  double seconds = Throughput(**stack, org_ids, tokens, bo.orgs, bo.clients);
  if (seconds < 0) return 1;

  std::printf(
      "{\"assemble.p50_ms\": %.2f, \"assemble.p99_ms\": %.2f, \"assemble.reports_per_s\": %.1f, "
      "\"assemble.samples\": %d, \"assemble.orgs\": %d, \"assemble.replicas\": %d, "
      "\"assemble.workers_per_replica\": %d, \"assemble.throughput_seconds\": %.3f, "
      "\"assemble.aof\": %s, \"assemble.template\": \"%s\"}\n",
      Percentile(*ms, 0.5), Percentile(*ms, 0.99), bo.orgs / seconds, bo.samples, bo.orgs,
      options.replicas, options.workers, seconds, options.aof ? "true" : "false",
      bo.shipped ? "shipped" : "small");
  return 0;
}
