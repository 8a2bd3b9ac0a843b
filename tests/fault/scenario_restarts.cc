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
    ++by_code_[GrpcCodeName(code)];
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

struct Acked {
  rpb::ActivityRecord content;
  std::string name;
};

// One run of the scenario: the clients (one thread each, started by
// StartClients), the restarts on the caller's thread, then the checks of
// what the clients were told against what is stored. Its fields are what
// the phases share.
class ServiceRestarts {
 public:
  ServiceRestarts(const Env& env, Cluster& c, const OrgFixture& org, const rpb::Profile& profile)
      : env_(env), c_(c), org_(org), profile_(profile), parent_(absl::StrCat("orgs/", org.org)) {}

  void StartClients() {
    StartRecordWriters();
    StartTemplateWriter();
    StartApprover();
    if (!c_.assemblers().empty()) StartReportCreator();
    StartReader();
  }
  // Restarts every service `cycles` times, then stops the clients.
  void RestartServices(int cycles, int grace_ms);
  // Nothing half-written.
  void Check() {
    CheckRecords();
    CheckTemplates();
    CheckApprovals();
    CheckReports();
    crashes_ = c_.Crashes();
  }
  void Report(Results& results, ScenarioResult& out) const;

 private:
  void StartRecordWriters();
  void StartTemplateWriter();
  void StartApprover();
  void StartReportCreator();
  void StartReader();
  void CheckRecords();
  void CheckTemplates();
  void CheckApprovals();
  void CheckReports();

  const Env& env_;
  Cluster& c_;
  const OrgFixture& org_;
  const rpb::Profile& profile_;
  const std::string parent_;
  Problems problems_;
  Codes codes_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  // What the clients were told (under mu_).
  std::mutex mu_;
  std::vector<Acked> records_acked_;
  std::atomic<int64_t> records_sent_{0};
  std::map<int64_t, std::string> template_acked_;  // revision → text
  int64_t template_sent_ = 0;
  std::vector<std::string> approvals_done_;
  int64_t approvals_started_ = 0;
  std::vector<std::string> reports_created_;
  // The restarts.
  int restarts_ = 0, graceful_ = 0, came_back_ = 0;
  double slowest_drain_ms_ = 0;
  double seconds_ = 0;
  // The checks.
  int64_t lost_ = 0, duplicated_ = 0, mismatches_ = 0, half_ = 0;
  int64_t approvals_bad_ = 0, reports_bad_ = 0;
  int crashes_ = 0;
};

// Records: two writers.
void ServiceRestarts::StartRecordWriters() {
  for (int w = 0; w < 2; ++w) {
    threads_.emplace_back([this, w] {
      auto stub = c_.Activities();
      Rng rng(env_.seed * 17 + w);
      for (int n = 0; !stop_.load(); ++n) {
        rpb::CreateActivityRequest req;
        req.set_parent(parent_);
        *req.mutable_activity() = RandomRecord(profile_, rng);
        req.mutable_activity()->set_source_system("fault-s3");
        req.mutable_activity()->set_external_id(absl::StrCat("w", w, "-", n));
        req.set_request_id(absl::StrCat("s3-", w, "-", n));
        rpb::ActivityRecord rec;
        records_sent_.fetch_add(1);
        grpc::Status st =
            Counted("CreateActivity", org_.recorder, codes_, problems_,
                    [&](grpc::ClientContext* ctx) { return stub->CreateActivity(ctx, req, &rec); });
        if (st.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          records_acked_.push_back({req.activity(), rec.name()});
        }
        absl::SleepFor(absl::Milliseconds(rng.Uniform(2, 10)));
      }
    });
  }
}

// Templates: revisions of one template.
void ServiceRestarts::StartTemplateWriter() {
  {
    auto stub = c_.Templates();
    tpb::CreateTemplateRequest req;
    req.set_parent(parent_);
    req.set_template_id("load");
    req.set_text("第0版{{org.name}}");
    req.set_request_id("s3-tpl-create");
    tpb::Template t;
    grpc::Status st = Retry(
        org_.admin, [&](grpc::ClientContext* ctx) { return stub->CreateTemplate(ctx, req, &t); });
    if (st.ok()) template_acked_[t.revision()] = t.text();
  }
  threads_.emplace_back([this] {
    auto stub = c_.Templates();
    for (int k = 1; !stop_.load(); ++k) {
      tpb::UpdateTemplateRequest req;
      req.set_name(absl::StrCat(parent_, "/templates/load"));
      req.set_text(absl::StrCat("第", k, "版{{org.name}}"));
      req.set_request_id(absl::StrCat("s3-tpl-", k));
      tpb::Template t;
      ++template_sent_;
      grpc::Status st =
          Counted("UpdateTemplate", org_.admin, codes_, problems_,
                  [&](grpc::ClientContext* ctx) { return stub->UpdateTemplate(ctx, req, &t); });
      if (st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (template_acked_.count(t.revision()) && template_acked_[t.revision()] != t.text()) {
          problems_.Add(absl::StrCat("template revision ", t.revision(), " acknowledged twice"));
        }
        template_acked_[t.revision()] = t.text();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
}

// Approvals: start, then both steps.
void ServiceRestarts::StartApprover() {
  threads_.emplace_back([this] {
    auto stub = c_.Approvals();
    for (int k = 0; !stop_.load(); ++k) {
      apb::StartApprovalRequest sr;
      sr.set_parent(parent_);
      sr.set_workflow(absl::StrCat(parent_, "/workflows/", org_.workflow_id));
      sr.set_subject(absl::StrCat(parent_, "/reports/r", k, "/revisions/1"));
      sr.set_request_id(absl::StrCat("s3-start-", k));
      apb::Approval a;
      ++approvals_started_;
      grpc::Status st =
          Counted("StartApproval", org_.drafter, codes_, problems_,
                  [&](grpc::ClientContext* ctx) { return stub->StartApproval(ctx, sr, &a); });
      if (!st.ok()) continue;
      bool ok = true;
      for (const std::string& who :
           {absl::StrCat(org_.org, "-director"), absl::StrCat(org_.org, "-secretary")}) {
        apb::ApproveRequest ar;
        ar.set_name(a.name());
        ar.set_expected_version(a.version());
        ar.set_request_id(absl::StrCat("s3-approve-", k, "-", who));
        apb::Approval next;
        st = Counted("Approve", org_.users.at(who), codes_, problems_,
                     [&](grpc::ClientContext* ctx) { return stub->Approve(ctx, ar, &next); });
        if (!st.ok()) {
          ok = false;
          break;
        }
        a = next;
      }
      if (ok) {
        std::lock_guard<std::mutex> lock(mu_);
        approvals_done_.push_back(a.name());
      }
    }
  });
}

// Reports (with the assembler): create and wait until assembled.
void ServiceRestarts::StartReportCreator() {
  threads_.emplace_back([this] {
    for (int k = 0; !stop_.load(); ++k) {
      asmpb::CreateReportRequest req;
      req.set_parent(parent_);
      req.set_report_id(absl::StrCat("load-", k));
      req.set_period("2023");
      req.set_template_(absl::StrCat(parent_, "/templates/", org_.template_id));
      req.set_workflow(absl::StrCat(parent_, "/workflows/", org_.workflow_id));
      req.set_request_id(absl::StrCat("s3-report-", k));
      asmpb::Report r;
      grpc::Status st = CallReports(c_, org_.drafter, [&](auto& stub, auto* ctx) {
        grpc::Status s = stub.CreateReport(ctx, req, &r);
        codes_.Add("CreateReport", s, problems_);
        return s;
      });
      if (st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        reports_created_.push_back(r.name());
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
}

// Readers.
void ServiceRestarts::StartReader() {
  threads_.emplace_back([this] {
    auto stub = c_.Indicators();
    while (!stop_.load()) {
      rpb::GetIndicatorValuesRequest req;
      req.set_parent(parent_);
      req.set_period("2023");
      rpb::GetIndicatorValuesResponse resp;
      Counted("GetIndicatorValues", org_.auditor, codes_, problems_,
              [&](grpc::ClientContext* ctx) { return stub->GetIndicatorValues(ctx, req, &resp); });
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
}

// The restarts, on this thread.
void ServiceRestarts::RestartServices(int cycles, int grace_ms) {
  absl::Time start = absl::Now();
  absl::SleepFor(absl::Milliseconds(800));  // Load first.
  for (int cycle = 0; cycle < cycles; ++cycle) {
    for (Process* p : c_.services()) {
      absl::Time t0 = absl::Now();
      int rc = p->Terminate(absl::Milliseconds(grace_ms) + absl::Seconds(5));
      double drain = absl::ToDoubleMilliseconds(absl::Now() - t0);
      slowest_drain_ms_ = std::max(slowest_drain_ms_, drain);
      ++restarts_;
      if (rc == 0) {
        ++graceful_;
      } else {
        problems_.Add(absl::StrCat(p->name(), " exited ", rc, " on SIGTERM"));
      }
      Log(absl::StrFormat("s3: %s stopped (exit %d) in %.0f ms", p->name(), rc, drain));
      absl::SleepFor(absl::Milliseconds(300));  // Clients meet a closed port.
      absl::Status st = p->Start();
      if (st.ok() && c_.WaitHealth(*p, true, absl::Seconds(20))) {
        ++came_back_;
      } else {
        problems_.Add(absl::StrCat(p->name(), " did not come back: ", st.message()));
      }
      absl::SleepFor(absl::Milliseconds(500));
    }
  }
  absl::SleepFor(absl::Milliseconds(500));
  stop_.store(true);
  for (auto& t : threads_) t.join();
  seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
}

// Records: each acknowledged one there once, as sent; the figures equal
// a recomputation.
void ServiceRestarts::CheckRecords() {
  auto all = ListAllActivities(c_, c_.operator_token(), org_.org);
  if (!all.ok()) {
    problems_.Add(std::string(all.status().message()));
    ++lost_;
    return;
  }
  std::map<std::string, int> by_ext;
  std::map<std::string, const rpb::ActivityRecord*> by_name;
  for (const auto& r : *all) {
    ++by_ext[absl::StrCat(r.source_system(), "/", r.external_id())];
    by_name[r.name()] = &r;
  }
  for (const auto& [ext, n] : by_ext) {
    if (n > 1) {
      duplicated_ += n - 1;
      problems_.Add(absl::StrCat(ext, " stored ", n, " times"));
    }
  }
  for (const Acked& a : records_acked_) {
    auto it = by_name.find(a.name);
    if (it == by_name.end()) {
      ++lost_;
      problems_.Add(absl::StrCat("acknowledged ", a.name, " is gone"));
    } else if (!SameContent(a.content, *it->second)) {
      ++half_;
      problems_.Add(absl::StrCat(a.name, " differs from what was sent"));
    }
  }
  auto m = CompareAggregates(c_, c_.operator_token(), org_.org, profile_, *all,
                             {"2023", "2023-Q2", "2022-11..2023-10", "2024-Q1"}, problems_);
  mismatches_ = m.ok() ? *m : 1;
}

// Template revisions: contiguous, each acknowledged text exactly where it
// was acknowledged.
void ServiceRestarts::CheckTemplates() {
  auto stub = c_.Templates();
  tpb::ListTemplateRevisionsRequest req;
  req.set_name(absl::StrCat(parent_, "/templates/load"));
  req.set_page_size(1000);
  std::map<int64_t, std::string> stored;
  std::set<std::string> texts;
  // Every page (the list pages by revision number).
  do {
    tpb::ListTemplateRevisionsResponse resp;
    grpc::Status st = Retry(org_.admin, [&](grpc::ClientContext* ctx) {
      return stub->ListTemplateRevisions(ctx, req, &resp);
    });
    if (!st.ok()) {
      problems_.Add(absl::StrCat("ListTemplateRevisions: ", Describe(st)));
      break;
    }
    for (const auto& t : resp.revisions()) {
      stored[t.revision()] = t.text();
      if (!texts.insert(t.text()).second) {
        ++duplicated_;
        problems_.Add(absl::StrCat("template text stored twice: ", t.text()));
      }
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  for (const auto& [rev, text] : template_acked_) {
    if (stored[rev] != text) {
      ++lost_;
      problems_.Add(absl::StrCat("template revision ", rev, " was acknowledged as ", text,
                                 ", stored ", stored[rev]));
    }
  }
  int64_t expect = 1;
  for (const auto& [rev, text] : stored) {
    if (rev != expect++) {
      ++half_;
      problems_.Add(absl::StrCat("template revisions skip to ", rev));
      break;
    }
  }
}

// Approvals: approved, verified, each step decided once.
void ServiceRestarts::CheckApprovals() {
  auto stub = c_.Approvals();
  for (const auto& name : approvals_done_) {
    apb::VerifyHistoryRequest vr;
    vr.set_name(name);
    apb::VerifyHistoryResponse v;
    grpc::Status st = Retry(
        org_.auditor, [&](grpc::ClientContext* ctx) { return stub->VerifyHistory(ctx, vr, &v); });
    apb::GetHistoryRequest hr;
    hr.set_name(name);
    hr.set_page_size(100);
    apb::GetHistoryResponse h;
    grpc::Status hs = Retry(
        org_.auditor, [&](grpc::ClientContext* ctx) { return stub->GetHistory(ctx, hr, &h); });
    int approved = 0;
    for (const auto& e : h.entries()) approved += e.action() == "approved";
    if (!st.ok() || !v.ok() || !hs.ok() || approved != 2) {
      ++approvals_bad_;
      problems_.Add(absl::StrCat(name, ": verify ", st.ok() && v.ok(), ", ", approved,
                                 " approvals in history"));
    }
  }
}

// Reports: each assembled exactly once, none stuck.
void ServiceRestarts::CheckReports() {
  for (const auto& name : reports_created_) {
    asmpb::Report r;
    absl::Time until = absl::Now() + absl::Seconds(30);
    grpc::Status st;
    while (true) {
      asmpb::GetReportRequest get;
      get.set_name(name);
      get.set_skip_staleness(true);
      st = CallReports(c_, org_.drafter,
                       [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r); });
      if ((st.ok() && !r.assembling()) || absl::Now() > until) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (!st.ok() || r.assembling() || r.current_revision() != 1) {
      ++reports_bad_;
      problems_.Add(absl::StrCat(name, ": ", Describe(st), " assembling ", r.assembling(),
                                 " revision ", r.current_revision()));
    }
  }
}

void ServiceRestarts::Report(Results& results, ScenarioResult& out) const {
  results.Add("faults.records_acked", static_cast<int64_t>(records_acked_.size()));
  results.Add("faults.records_lost", lost_);
  results.Add("faults.records_duplicated", duplicated_);
  results.Add("faults.aggregate_mismatches", mismatches_);
  results.Add("faults.histories_broken", approvals_bad_);
  results.Add("faults.jobs_submitted", static_cast<int64_t>(reports_created_.size()));
  results.Add("faults.jobs_lost", reports_bad_);
  results.Add("faults.crashes", crashes_);
  results.Set("faults.s3.restarts", static_cast<int64_t>(restarts_));
  results.Set("faults.s3.graceful_exits", static_cast<int64_t>(graceful_));
  results.Set("faults.s3.came_back", static_cast<int64_t>(came_back_));
  results.Set("faults.s3.slowest_drain_ms", slowest_drain_ms_);
  results.Set("faults.s3.call_attempts", codes_.attempts());
  results.Set("faults.s3.unclean_answers", codes_.unclean());
  results.Set("faults.s3.half_written", half_);
  results.Set("faults.s3.template_revisions_acked", static_cast<int64_t>(template_acked_.size()));
  results.Set("faults.s3.approvals_completed", static_cast<int64_t>(approvals_done_.size()));
  results.Set("faults.s3.reports_created", static_cast<int64_t>(reports_created_.size()));
  results.Set("faults.s3.seconds", seconds_);
  for (const auto& [code, n] : codes_.by_code()) {
    results.Set(absl::StrCat("faults.s3.code.", code), n);
  }
  out.summary = absl::StrFormat(
      "did %d SIGTERM restarts (%d graceful, slowest drain %.0f ms) under %d calls: %d records, "
      "%d template revisions, %d approvals, %d reports acknowledged; unclean answers %d, lost "
      "%d, duplicated %d, half-written %d, aggregate mismatches %d, broken approvals %d, bad "
      "reports %d, crashes %d",
      restarts_, graceful_, slowest_drain_ms_, codes_.attempts(),
      static_cast<int>(records_acked_.size()), static_cast<int>(template_acked_.size()),
      static_cast<int>(approvals_done_.size()), static_cast<int>(reports_created_.size()),
      codes_.unclean(), lost_, duplicated_, half_, mismatches_, approvals_bad_, reports_bad_,
      crashes_);
  out.problems = problems_.First();
  bool ok = graceful_ == restarts_ && came_back_ == restarts_ && codes_.unclean() == 0 &&
            lost_ == 0 && duplicated_ == 0 && half_ == 0 && mismatches_ == 0 &&
            approvals_bad_ == 0 && reports_bad_ == 0 && crashes_ == 0;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
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
  ServiceRestarts run(env, c, *org, *profile);
  run.StartClients();
  run.RestartServices(cycles, grace_ms);
  run.Check();
  run.Report(results, out);
  return out;
}

}  // namespace govreport::fault
