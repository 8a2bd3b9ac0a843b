// Scenario 3: every service is restarted with SIGTERM, one after another,
// while clients keep calling with deadlines and retries (the same
// request_id on a retry). Each restart must be graceful (exit 0 after the
// drain), every call attempt must end OK or with a code that says "try
// again" (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED) or "you lost a race"
// (ABORTED) — never INTERNAL or UNKNOWN — and nothing may be half-written:
// every acknowledged record, template revision, approval decision and
// report is there exactly once and whole, and the figures still equal a
// recomputation from the records.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/fault/checks.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

class Codes {
 public:
  void Add(const std::string& what, const grpc::Status& st, Problems& problems) {
    auto code = st.error_code();
    bool clean = code == grpc::StatusCode::OK || code == grpc::StatusCode::UNAVAILABLE ||
                 code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                 code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::ABORTED;
    std::lock_guard<std::mutex> lock(mu_);
    ++by_code_[CodeName(code)];
    ++attempts_;
    if (!clean) {
      ++unclean_;
      problems.Add(absl::StrCat(what, ": ", Describe(st)));
    }
  }
  int64_t attempts() const { return attempts_; }
  int64_t unclean() const { return unclean_; }
  std::map<std::string, int64_t> by_code() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_code_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> by_code_;
  std::atomic<int64_t> attempts_{0};
  std::atomic<int64_t> unclean_{0};
};

// Retry with the same request, recording every attempt's answer.
grpc::Status Counted(const std::string& what, const std::string& token, Codes& codes,
                     Problems& problems,
                     const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  return Retry(
      token,
      [&](grpc::ClientContext* ctx) {
        grpc::Status st = call(ctx);
        codes.Add(what, st, problems);
        return st;
      },
      absl::Seconds(60), absl::Seconds(3));
}

}  // namespace

ScenarioResult RunServiceRestarts(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 3;
  out.name = "service restarts under load";
  if (env.templates_bin.empty() || env.approval_bin.empty()) {
    out.verdict = Verdict::kSkipped;
    out.summary = "templates or approval binary not built";
    return out;
  }
  const int cycles = env.short_mode ? 1 : 3;
  const int grace_ms = 2000;
  ClusterOptions co;
  co.tag = "s3";
  co.grace_ms = grace_ms;
  co.assemblers = env.assembler_bin.empty() ? 0 : 2;
  co.assembler_args = {"--claim-idle-ms", "2000"};
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  auto org = c.SetUpOrg("restarts");
  auto profile = LoadProfileFile(env.source_dir);
  if (!org.ok() || !profile.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("set-up failed: ",
                               org.ok() ? profile.status().message() : org.status().message());
    return out;
  }
  const std::string parent = absl::StrCat("orgs/", org->org);
  Problems problems;
  Codes codes;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;

  // Records: two writers.
  struct Acked {
    rpb::ActivityRecord content;
    std::string name;
  };
  std::mutex mu;
  std::vector<Acked> records_acked;
  std::atomic<int64_t> records_sent{0};
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      auto stub = c.Activities();
      Rng rng(env.seed * 17 + w);
      for (int n = 0; !stop.load(); ++n) {
        rpb::CreateActivityRequest req;
        req.set_parent(parent);
        *req.mutable_activity() = RandomRecord(*profile, rng);
        req.mutable_activity()->set_source_system("fault-s3");
        req.mutable_activity()->set_external_id(absl::StrCat("w", w, "-", n));
        req.set_request_id(absl::StrCat("s3-", w, "-", n));
        rpb::ActivityRecord rec;
        records_sent.fetch_add(1);
        grpc::Status st =
            Counted("CreateActivity", org->recorder, codes, problems,
                    [&](grpc::ClientContext* ctx) { return stub->CreateActivity(ctx, req, &rec); });
        if (st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          records_acked.push_back({req.activity(), rec.name()});
        }
        absl::SleepFor(absl::Milliseconds(rng.Uniform(2, 10)));
      }
    });
  }

  // Templates: revisions of one template.
  std::map<int64_t, std::string> template_acked;  // revision → text
  int64_t template_sent = 0;
  {
    auto stub = c.Templates();
    tpb::CreateTemplateRequest req;
    req.set_parent(parent);
    req.set_template_id("load");
    req.set_text("第0版{{org.name}}");
    req.set_request_id("s3-tpl-create");
    tpb::Template t;
    grpc::Status st = Retry(
        org->admin, [&](grpc::ClientContext* ctx) { return stub->CreateTemplate(ctx, req, &t); });
    if (st.ok()) template_acked[t.revision()] = t.text();
  }
  threads.emplace_back([&] {
    auto stub = c.Templates();
    for (int k = 1; !stop.load(); ++k) {
      tpb::UpdateTemplateRequest req;
      req.set_name(absl::StrCat(parent, "/templates/load"));
      req.set_text(absl::StrCat("第", k, "版{{org.name}}"));
      req.set_request_id(absl::StrCat("s3-tpl-", k));
      tpb::Template t;
      ++template_sent;
      grpc::Status st =
          Counted("UpdateTemplate", org->admin, codes, problems,
                  [&](grpc::ClientContext* ctx) { return stub->UpdateTemplate(ctx, req, &t); });
      if (st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (template_acked.count(t.revision()) && template_acked[t.revision()] != t.text()) {
          problems.Add(absl::StrCat("template revision ", t.revision(), " acknowledged twice"));
        }
        template_acked[t.revision()] = t.text();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });

  // Approvals: start, then both steps.
  std::vector<std::string> approvals_done;
  int64_t approvals_started = 0;
  threads.emplace_back([&] {
    auto stub = c.Approvals();
    for (int k = 0; !stop.load(); ++k) {
      apb::StartApprovalRequest sr;
      sr.set_parent(parent);
      sr.set_workflow(absl::StrCat(parent, "/workflows/", org->workflow_id));
      sr.set_subject(absl::StrCat(parent, "/reports/r", k, "/revisions/1"));
      sr.set_request_id(absl::StrCat("s3-start-", k));
      apb::Approval a;
      ++approvals_started;
      grpc::Status st =
          Counted("StartApproval", org->drafter, codes, problems,
                  [&](grpc::ClientContext* ctx) { return stub->StartApproval(ctx, sr, &a); });
      if (!st.ok()) continue;
      bool ok = true;
      for (const std::string& who :
           {absl::StrCat(org->org, "-director"), absl::StrCat(org->org, "-secretary")}) {
        apb::ApproveRequest ar;
        ar.set_name(a.name());
        ar.set_expected_version(a.version());
        ar.set_request_id(absl::StrCat("s3-approve-", k, "-", who));
        apb::Approval next;
        st = Counted("Approve", org->users.at(who), codes, problems,
                     [&](grpc::ClientContext* ctx) { return stub->Approve(ctx, ar, &next); });
        if (!st.ok()) {
          ok = false;
          break;
        }
        a = next;
      }
      if (ok) {
        std::lock_guard<std::mutex> lock(mu);
        approvals_done.push_back(a.name());
      }
    }
  });

  // Reports (with the assembler): create and wait until assembled.
  std::vector<std::string> reports_created;
  if (!c.assemblers().empty()) {
    threads.emplace_back([&] {
      for (int k = 0; !stop.load(); ++k) {
        asmpb::CreateReportRequest req;
        req.set_parent(parent);
        req.set_report_id(absl::StrCat("load-", k));
        req.set_period("2023");
        req.set_template_(absl::StrCat(parent, "/templates/", org->template_id));
        req.set_workflow(absl::StrCat(parent, "/workflows/", org->workflow_id));
        req.set_request_id(absl::StrCat("s3-report-", k));
        asmpb::Report r;
        grpc::Status st = CallReports(c, org->drafter, [&](auto& stub, auto* ctx) {
          grpc::Status s = stub.CreateReport(ctx, req, &r);
          codes.Add("CreateReport", s, problems);
          return s;
        });
        if (st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          reports_created.push_back(r.name());
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
  }

  // Readers.
  threads.emplace_back([&] {
    auto stub = c.Indicators();
    while (!stop.load()) {
      rpb::GetIndicatorValuesRequest req;
      req.set_parent(parent);
      req.set_period("2023");
      rpb::GetIndicatorValuesResponse resp;
      Counted("GetIndicatorValues", org->auditor, codes, problems,
              [&](grpc::ClientContext* ctx) { return stub->GetIndicatorValues(ctx, req, &resp); });
      absl::SleepFor(absl::Milliseconds(10));
    }
  });

  // The restarts, on this thread.
  absl::Time start = absl::Now();
  absl::SleepFor(absl::Milliseconds(800));  // Load first.
  int restarts = 0, graceful = 0, came_back = 0;
  double slowest_drain_ms = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    for (Process* p : c.services()) {
      absl::Time t0 = absl::Now();
      int rc = p->Terminate(absl::Milliseconds(grace_ms) + absl::Seconds(5));
      double drain = absl::ToDoubleMilliseconds(absl::Now() - t0);
      slowest_drain_ms = std::max(slowest_drain_ms, drain);
      ++restarts;
      if (rc == 0) {
        ++graceful;
      } else {
        problems.Add(absl::StrCat(p->name(), " exited ", rc, " on SIGTERM"));
      }
      Log(absl::StrFormat("s3: %s stopped (exit %d) in %.0f ms", p->name(), rc, drain));
      absl::SleepFor(absl::Milliseconds(300));  // Clients meet a closed port.
      absl::Status st = p->Start();
      if (st.ok() && c.WaitHealth(*p, true, absl::Seconds(20))) {
        ++came_back;
      } else {
        problems.Add(absl::StrCat(p->name(), " did not come back: ", st.message()));
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
  }
  absl::SleepFor(absl::Milliseconds(500));
  stop.store(true);
  for (auto& t : threads) t.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // Nothing half-written. Records first.
  int64_t lost = 0, duplicated = 0, mismatches = 0, half = 0;
  auto all = ListAllActivities(c, c.operator_token(), org->org);
  if (!all.ok()) {
    problems.Add(std::string(all.status().message()));
    ++lost;
  } else {
    std::map<std::string, int> by_ext;
    std::map<std::string, const rpb::ActivityRecord*> by_name;
    for (const auto& r : *all) {
      ++by_ext[absl::StrCat(r.source_system(), "/", r.external_id())];
      by_name[r.name()] = &r;
    }
    for (const auto& [ext, n] : by_ext) {
      if (n > 1) {
        duplicated += n - 1;
        problems.Add(absl::StrCat(ext, " stored ", n, " times"));
      }
    }
    for (const Acked& a : records_acked) {
      auto it = by_name.find(a.name);
      if (it == by_name.end()) {
        ++lost;
        problems.Add(absl::StrCat("acknowledged ", a.name, " is gone"));
      } else if (!SameContent(a.content, *it->second)) {
        ++half;
        problems.Add(absl::StrCat(a.name, " differs from what was sent"));
      }
    }
    auto m = CompareAggregates(c, c.operator_token(), org->org, *profile, *all,
                               {"2023", "2023-Q2", "2022-11..2023-10", "2024-Q1"}, problems);
    mismatches = m.ok() ? *m : 1;
  }
  // Template revisions: contiguous, each acknowledged text exactly where
  // it was acknowledged.
  {
    auto stub = c.Templates();
    tpb::ListTemplateRevisionsRequest req;
    req.set_name(absl::StrCat(parent, "/templates/load"));
    tpb::ListTemplateRevisionsResponse resp;
    grpc::Status st = Retry(org->admin, [&](grpc::ClientContext* ctx) {
      return stub->ListTemplateRevisions(ctx, req, &resp);
    });
    std::map<int64_t, std::string> stored;
    std::set<std::string> texts;
    for (const auto& t : resp.revisions()) {
      stored[t.revision()] = t.text();
      if (!texts.insert(t.text()).second) {
        ++duplicated;
        problems.Add(absl::StrCat("template text stored twice: ", t.text()));
      }
    }
    if (!st.ok()) problems.Add(absl::StrCat("ListTemplateRevisions: ", Describe(st)));
    for (const auto& [rev, text] : template_acked) {
      if (stored[rev] != text) {
        ++lost;
        problems.Add(absl::StrCat("template revision ", rev, " was acknowledged as ", text,
                                  ", stored ", stored[rev]));
      }
    }
    int64_t expect = 1;
    for (const auto& [rev, text] : stored) {
      if (rev != expect++) {
        ++half;
        problems.Add(absl::StrCat("template revisions skip to ", rev));
        break;
      }
    }
  }
  // Approvals: approved, verified, each step decided once.
  int64_t approvals_bad = 0;
  {
    auto stub = c.Approvals();
    for (const auto& name : approvals_done) {
      apb::VerifyHistoryRequest vr;
      vr.set_name(name);
      apb::VerifyHistoryResponse v;
      grpc::Status st = Retry(
          org->auditor, [&](grpc::ClientContext* ctx) { return stub->VerifyHistory(ctx, vr, &v); });
      apb::GetHistoryRequest hr;
      hr.set_name(name);
      hr.set_page_size(100);
      apb::GetHistoryResponse h;
      grpc::Status hs = Retry(
          org->auditor, [&](grpc::ClientContext* ctx) { return stub->GetHistory(ctx, hr, &h); });
      int approved = 0;
      for (const auto& e : h.entries()) approved += e.action() == "approved";
      if (!st.ok() || !v.ok() || !hs.ok() || approved != 2) {
        ++approvals_bad;
        problems.Add(absl::StrCat(name, ": verify ", st.ok() && v.ok(), ", ", approved,
                                  " approvals in history"));
      }
    }
  }
  // Reports: each assembled exactly once, none stuck.
  int64_t reports_bad = 0;
  for (const auto& name : reports_created) {
    asmpb::Report r;
    absl::Time until = absl::Now() + absl::Seconds(30);
    grpc::Status st;
    while (true) {
      asmpb::GetReportRequest get;
      get.set_name(name);
      get.set_skip_staleness(true);
      st = CallReports(c, org->drafter,
                       [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r); });
      if ((st.ok() && !r.assembling()) || absl::Now() > until) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (!st.ok() || r.assembling() || r.current_revision() != 1) {
      ++reports_bad;
      problems.Add(absl::StrCat(name, ": ", Describe(st), " assembling ", r.assembling(),
                                " revision ", r.current_revision()));
    }
  }
  int crashes = c.Crashes();

  results.Add("faults.records_acked", static_cast<int64_t>(records_acked.size()));
  results.Add("faults.records_lost", lost);
  results.Add("faults.records_duplicated", duplicated);
  results.Add("faults.aggregate_mismatches", mismatches);
  results.Add("faults.histories_broken", approvals_bad);
  results.Add("faults.jobs_submitted", static_cast<int64_t>(reports_created.size()));
  results.Add("faults.jobs_lost", reports_bad);
  results.Add("faults.crashes", crashes);
  results.Set("faults.s3.restarts", static_cast<int64_t>(restarts));
  results.Set("faults.s3.graceful_exits", static_cast<int64_t>(graceful));
  results.Set("faults.s3.came_back", static_cast<int64_t>(came_back));
  results.Set("faults.s3.slowest_drain_ms", slowest_drain_ms);
  results.Set("faults.s3.call_attempts", codes.attempts());
  results.Set("faults.s3.unclean_answers", codes.unclean());
  results.Set("faults.s3.half_written", half);
  results.Set("faults.s3.template_revisions_acked", static_cast<int64_t>(template_acked.size()));
  results.Set("faults.s3.approvals_completed", static_cast<int64_t>(approvals_done.size()));
  results.Set("faults.s3.reports_created", static_cast<int64_t>(reports_created.size()));
  results.Set("faults.s3.seconds", seconds);
  for (const auto& [code, n] : codes.by_code()) {
    results.Set(absl::StrCat("faults.s3.code.", code), n);
  }
  out.summary = absl::StrFormat(
      "did %d SIGTERM restarts (%d graceful, slowest drain %.0f ms) under %d calls: %d records, "
      "%d template revisions, %d approvals, %d reports acknowledged; unclean answers %d, lost "
      "%d, duplicated %d, half-written %d, aggregate mismatches %d, broken approvals %d, bad "
      "reports %d, crashes %d",
      restarts, graceful, slowest_drain_ms, codes.attempts(),
      static_cast<int>(records_acked.size()), static_cast<int>(template_acked.size()),
      static_cast<int>(approvals_done.size()), static_cast<int>(reports_created.size()),
      codes.unclean(), lost, duplicated, half, mismatches, approvals_bad, reports_bad, crashes);
  out.problems = problems.First();
  bool ok = graceful == restarts && came_back == restarts && codes.unclean() == 0 && lost == 0 &&
            duplicated == 0 && half == 0 && mismatches == 0 && approvals_bad == 0 &&
            reports_bad == 0 && crashes == 0;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
  return out;
}

}  // namespace govreport::fault
