// Scenario 5: Redis goes away (killed, then frozen with CLIENT PAUSE).
// Every service must say NOT_SERVING on grpc.health.v1, answer calls with
// UNAVAILABLE quickly instead of hanging or inventing another error, and
// come back by itself — health SERVING, calls OK, the assembler's workers
// assembling again — without being restarted.
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

struct Probe {
  std::string what;
  const Process* process;
  // One call that needs Redis; the context carries token and deadline.
  std::function<grpc::Status(grpc::ClientContext*)> call;
  std::string token;
};

std::vector<Probe> MakeProbes(Cluster& c, const OrgFixture& org) {
  std::vector<Probe> probes;
  const std::string parent = absl::StrCat("orgs/", org.org);
  auto orgs = std::shared_ptr<rpb::OrgService::Stub>(c.Orgs());
  probes.push_back({"records GetOrg", &c.records(),
                    [orgs, parent](grpc::ClientContext* ctx) {
                      rpb::GetOrgRequest req;
                      req.set_name(parent);
                      rpb::Org out;
                      return orgs->GetOrg(ctx, req, &out);
                    },
                    org.admin});
  auto acts = std::shared_ptr<rpb::ActivityService::Stub>(c.Activities());
  probes.push_back({"records CreateActivity", &c.records(),
                    [acts, parent](grpc::ClientContext* ctx) {
                      rpb::CreateActivityRequest req;
                      req.set_parent(parent);
                      req.mutable_activity()->set_type("theme_party_day");
                      req.mutable_activity()->set_occurred_on("2023-07-01");
                      req.set_request_id("s5-probe");
                      rpb::ActivityRecord out;
                      return acts->CreateActivity(ctx, req, &out);
                    },
                    org.recorder});
  auto tpl = std::shared_ptr<tpb::TemplateService::Stub>(c.Templates());
  probes.push_back({"templates GetTemplate", c.templates(),
                    [tpl, parent](grpc::ClientContext* ctx) {
                      tpb::GetTemplateRequest req;
                      req.set_name(absl::StrCat(parent, "/templates/annual"));
                      tpb::Template out;
                      return tpl->GetTemplate(ctx, req, &out);
                    },
                    org.admin});
  auto apr = std::shared_ptr<apb::ApprovalService::Stub>(c.Approvals());
  probes.push_back({"approval GetWorkflow", c.approval(),
                    [apr, parent](grpc::ClientContext* ctx) {
                      apb::GetWorkflowRequest req;
                      req.set_name(absl::StrCat(parent, "/workflows/annual"));
                      apb::Workflow out;
                      return apr->GetWorkflow(ctx, req, &out);
                    },
                    org.admin});
  if (!c.assemblers().empty()) {
    auto rep = std::shared_ptr<asmpb::ReportService::Stub>(c.Reports());
    probes.push_back({"assembler GetReport", c.assemblers()[0],
                      [rep, parent](grpc::ClientContext* ctx) {
                        asmpb::GetReportRequest req;
                        req.set_name(absl::StrCat(parent, "/reports/fixture"));
                        req.set_skip_staleness(true);
                        asmpb::Report out;
                        return rep->GetReport(ctx, req, &out);
                      },
                      org.drafter});
  }
  return probes;
}

struct PhaseFigures {
  int detected = 0;     // Services that reported NOT_SERVING in time.
  int failed_fast = 0;  // Probes answered UNAVAILABLE within the limit.
  int recovered = 0;    // Services SERVING again and probes OK.
  double slowest_failure_ms = 0;
  double slowest_recovery_ms = 0;
};

// Takes Redis away with `down`, checks, brings it back with `up`.
PhaseFigures RunPhase(Cluster& c, const std::vector<Probe>& probes, absl::string_view name,
                      const std::function<void()>& down, const std::function<void()>& up,
                      absl::Duration detect_within, absl::Duration fail_within,
                      Problems& problems) {
  PhaseFigures f;
  down();
  absl::Time t0 = absl::Now();
  for (Process* p : c.services()) {
    if (c.WaitHealth(*p, false, detect_within)) {
      ++f.detected;
    } else {
      problems.Add(absl::StrCat(name, ": ", p->name(), " never reported NOT_SERVING"));
    }
  }
  Log(absl::StrFormat("s5 %s: %d services NOT_SERVING after %.1fs", std::string(name), f.detected,
                      absl::ToDoubleSeconds(absl::Now() - t0)));
  // All at once: each may wait for the Redis timeout, and Redis must stay
  // away for all of them.
  std::vector<grpc::Status> statuses(probes.size());
  std::vector<double> millis(probes.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < probes.size(); ++i) {
    threads.emplace_back([&, i] {
      // A deadline well past `fail_within`: a hang shows as slowness, not
      // as the client's own DEADLINE_EXCEEDED.
      auto ctx = Ctx(probes[i].token, fail_within + absl::Seconds(3));
      absl::Time s = absl::Now();
      statuses[i] = probes[i].call(ctx.get());
      millis[i] = absl::ToDoubleMilliseconds(absl::Now() - s);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < probes.size(); ++i) {
    const grpc::Status& st = statuses[i];
    double ms = millis[i];
    f.slowest_failure_ms = std::max(f.slowest_failure_ms, ms);
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE &&
        ms <= absl::ToDoubleMilliseconds(fail_within)) {
      ++f.failed_fast;
    } else {
      problems.Add(
          absl::StrFormat("%s: %s answered %s after %.0f ms (want UNAVAILABLE within "
                          "%.0f ms)",
                          std::string(name), probes[i].what, Describe(st), ms,
                          absl::ToDoubleMilliseconds(fail_within)));
    }
  }
  up();
  absl::Time t1 = absl::Now();
  for (Process* p : c.services()) {
    if (!c.WaitHealth(*p, true, absl::Seconds(15))) {
      problems.Add(absl::StrCat(name, ": ", p->name(), " did not come back to SERVING"));
      continue;
    }
    bool ok = true;
    for (const auto& probe : probes) {
      if (probe.process != p) continue;
      grpc::Status st = Retry(probe.token, probe.call, absl::Seconds(10), absl::Seconds(3));
      if (!st.ok()) {
        ok = false;
        problems.Add(
            absl::StrCat(name, ": after recovery ", probe.what, " answered ", Describe(st)));
      }
    }
    if (ok) ++f.recovered;
    f.slowest_recovery_ms =
        std::max(f.slowest_recovery_ms, absl::ToDoubleMilliseconds(absl::Now() - t1));
  }
  return f;
}

PhaseFigures RunFrozenPhase(Cluster& c, const std::vector<Probe>& probes, Problems& problems) {
  // Frozen: connections hang, so each call waits for the Redis timeout
  // (--redis-timeout-ms, 2 s by default) and must then give up.
  // CLIENT UNPAUSE would itself wait behind the pause, so the pause has a
  // length: long enough for detection (probe interval + Redis timeout) and
  // for the calls, which run at once.
  const absl::Duration pause = absl::Seconds(9);
  absl::Time paused_at;
  return RunPhase(
      c, probes, "frozen",
      [&] {
        auto conn = redis::Connection::Open(c.redis_server().options());
        paused_at = absl::Now();
        if (!conn.ok() || !(*conn)
                               ->Command({"CLIENT", "PAUSE",
                                          absl::StrCat(absl::ToInt64Milliseconds(pause)), "ALL"})
                               .ok()) {
          problems.Add("CLIENT PAUSE failed");
        }
      },
      [&] {
        if (absl::Now() - paused_at > pause) {
          problems.Add("frozen: the checks outlasted the pause; they proved nothing");
        }
        absl::SleepFor(paused_at + pause - absl::Now());
      },
      absl::Seconds(8), absl::Milliseconds(3500), problems);
}

// 1 when a report created after the outage assembles (the workers came
// back), else 0 and a problem.
int WorkersRecovered(Cluster& c, const OrgFixture& org, Problems& problems) {
  int workers_recovered = 0;
  auto rep = c.Reports();
  asmpb::CreateReportRequest req;
  req.set_parent(absl::StrCat("orgs/", org.org));
  req.set_report_id("after-outage");
  req.set_period("2023");
  req.set_template_(absl::StrCat("orgs/", org.org, "/templates/annual"));
  req.set_workflow(absl::StrCat("orgs/", org.org, "/workflows/annual"));
  req.set_request_id("s5-after-outage");
  asmpb::Report r;
  grpc::Status st =
      Retry(org.drafter, [&](grpc::ClientContext* ctx) { return rep->CreateReport(ctx, req, &r); });
  absl::Time until = absl::Now() + absl::Seconds(30);
  while (st.ok() && absl::Now() < until) {
    asmpb::GetReportRequest get;
    get.set_name(r.name());
    get.set_skip_staleness(true);
    st = Retry(org.drafter, [&](grpc::ClientContext* ctx) { return rep->GetReport(ctx, get, &r); });
    if (st.ok() && r.current_revision() >= 1 && !r.assembling()) {
      workers_recovered = 1;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (!workers_recovered) {
    problems.Add(absl::StrCat("after the outage a new report did not assemble: ", Describe(st), " ",
                              r.ShortDebugString()));
  }
  return workers_recovered;
}

void SetPhaseResults(Results& results, absl::string_view phase, const PhaseFigures& f) {
  const std::string at = absl::StrCat("faults.s5.", phase, ".");
  results.Set(at + "not_serving", static_cast<int64_t>(f.detected));
  results.Set(at + "failed_fast", static_cast<int64_t>(f.failed_fast));
  results.Set(at + "recovered", static_cast<int64_t>(f.recovered));
  results.Set(at + "slowest_failure_ms", f.slowest_failure_ms);
  results.Set(at + "recovery_ms", f.slowest_recovery_ms);
}

}  // namespace

ScenarioResult RunRedisUnavailable(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 5;
  out.name = "redis unavailable";
  ClusterOptions co;
  co.tag = "s5";
  co.assemblers = env.assembler_bin.empty() ? 0 : 1;
  co.assembler_args = {"--claim-idle-ms", "2000"};
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  auto org = c.SetUpOrg("outage");
  if (!org.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("set-up failed: ", org.status().message());
    return out;
  }
  Problems problems;
  std::vector<Probe> probes = MakeProbes(c, *org);
  int services = static_cast<int>(c.services().size());

  // Killed: connections are refused at once, so failing takes milliseconds.
  PhaseFigures killed = RunPhase(
      c, probes, "killed", [&] { c.redis_server().Kill(); },
      [&] {
        // Down a little longer, so the workers' loops see it too.
        absl::SleepFor(absl::Seconds(1));
        bool up = false;
        OnSpawnerThread([&] { up = c.redis_server().Restart(); });
        if (!up) problems.Add("redis-server did not restart");
      },
      absl::Seconds(5), absl::Seconds(1), problems);

  PhaseFigures frozen = RunFrozenPhase(c, probes, problems);

  // The assembler's workers come back too: a new report assembles.
  int workers_recovered = c.assemblers().empty() ? 0 : WorkersRecovered(c, *org, problems);
  int crashes = c.Crashes();
  results.Add("faults.crashes", crashes);
  int probes_n = static_cast<int>(probes.size());
  results.Set("faults.s5.services", static_cast<int64_t>(services));
  SetPhaseResults(results, "killed", killed);
  SetPhaseResults(results, "frozen", frozen);
  results.Set("faults.s5.workers_recovered", static_cast<int64_t>(workers_recovered));

  out.summary = absl::StrFormat(
      "did redis SIGKILL and CLIENT PAUSE with %d services: NOT_SERVING %d+%d/%d, UNAVAILABLE "
      "fast %d+%d/%d (slowest %.0f / %.0f ms), recovered %d+%d/%d%s; lost 0 (no writes "
      "acknowledged while down), crashes %d",
      services, killed.detected, frozen.detected, services, killed.failed_fast, frozen.failed_fast,
      probes_n, killed.slowest_failure_ms, frozen.slowest_failure_ms, killed.recovered,
      frozen.recovered, services,
      c.assemblers().empty() ? ", assembler skipped (not built)"
                             : (workers_recovered ? ", workers assemble again" : ", workers stuck"),
      crashes);
  out.problems = problems.First();
  bool ok = killed.detected == services && frozen.detected == services &&
            killed.failed_fast == probes_n && frozen.failed_fast == probes_n &&
            killed.recovered == services && frozen.recovered == services && crashes == 0 &&
            (c.assemblers().empty() || workers_recovered == 1);
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
  return out;
}

}  // namespace govreport::fault
