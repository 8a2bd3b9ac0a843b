// Scenario 4: many approvers act at once on many approvals. Each approver
// works through their inbox (ListMyTasks) and approves with the version
// they saw; losers of a race get ABORTED and look again. Some answers are
// "lost" and the same request_id is sent again, as a client would after a
// timeout. A drafter comments meanwhile. Afterwards every history verifies,
// every step was decided exactly once per assignee who had to decide, and
// every acknowledged decision is in the history exactly once.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

struct Shared {
  std::mutex mu;
  // (approval name, user) → acknowledged Approve calls (distinct request ids).
  std::map<std::pair<std::string, std::string>, int> acked;
  std::map<std::string, int> comments;  // approval → acknowledged comments
  std::atomic<int64_t> approved{0};     // approvals that reached APPROVED
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> races_lost{0};
  std::atomic<int64_t> stale{0};
  std::atomic<int64_t> repeats{0};
  std::atomic<int64_t> repeat_mismatch{0};
};

void Approver(Cluster& c, const OrgFixture& org, const std::string& user, Shared& shared,
              Problems& problems, const std::atomic<bool>& stop, uint64_t seed) {
  auto stub = c.Approvals();
  const std::string& token = org.users.at(user);
  Rng rng(seed);
  int64_t n = 0;
  while (!stop.load()) {
    apb::ListMyTasksRequest list;
    list.set_parent(absl::StrCat("orgs/", org.org));
    list.set_page_size(50);
    apb::ListMyTasksResponse tasks;
    grpc::Status st = Retry(
        token, [&](grpc::ClientContext* ctx) { return stub->ListMyTasks(ctx, list, &tasks); });
    shared.calls.fetch_add(1);
    if (!st.ok()) {
      problems.Add(absl::StrCat(user, " ListMyTasks: ", Describe(st)));
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    if (tasks.tasks_size() == 0) {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    // Not always the oldest first, so that approvers collide in many ways.
    int start = static_cast<int>(rng.Uniform(0, tasks.tasks_size() - 1));
    for (int k = 0; k < tasks.tasks_size() && !stop.load(); ++k) {
      const apb::MyTask& task = tasks.tasks((start + k) % tasks.tasks_size());
      apb::ApproveRequest req;
      req.set_name(task.approval().name());
      req.set_expected_version(task.approval().version());
      req.set_comment(absl::StrCat(user, " 同意"));
      req.set_request_id(absl::StrCat("s4-", user, "-", n++));
      apb::Approval first;
      grpc::Status a =
          Retry(token, [&](grpc::ClientContext* ctx) { return stub->Approve(ctx, req, &first); });
      shared.calls.fetch_add(1);
      if (a.error_code() == grpc::StatusCode::ABORTED) {
        shared.races_lost.fetch_add(1);
        break;  // The inbox is stale: read it again.
      }
      if (a.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        shared.stale.fetch_add(1);  // Another signer completed the step.
        continue;
      }
      if (!a.ok()) {
        problems.Add(absl::StrCat(user, " Approve ", req.name(), ": ", Describe(a)));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        ++shared.acked[{req.name(), user}];
      }
      if (first.state() == apb::APPROVAL_STATE_APPROVED) shared.approved.fetch_add(1);
      // The answer "got lost": the same request again must give the same
      // approval back and decide nothing a second time.
      if (rng.Chance(0.2)) {
        apb::Approval again;
        grpc::Status r =
            Retry(token, [&](grpc::ClientContext* ctx) { return stub->Approve(ctx, req, &again); });
        shared.repeats.fetch_add(1);
        if (!r.ok() || again.version() != first.version() ||
            again.history_head() != first.history_head()) {
          shared.repeat_mismatch.fetch_add(1);
          problems.Add(absl::StrCat(user, " repeated ", req.request_id(), ": ", Describe(r),
                                    " version ", again.version(), " vs ", first.version()));
        }
      }
    }
  }
}

void Commenter(Cluster& c, const OrgFixture& org, const std::vector<std::string>& names,
               Shared& shared, Problems& problems, const std::atomic<bool>& stop, uint64_t seed) {
  auto stub = c.Approvals();
  Rng rng(seed);
  int64_t n = 0;
  while (!stop.load()) {
    apb::CommentRequest req;
    req.set_name(
        names[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(names.size()) - 1))]);
    req.set_comment(absl::StrCat("请加快 ", n));
    req.set_request_id(absl::StrCat("s4-comment-", n++));
    apb::Approval out;
    grpc::Status st =
        Retry(org.drafter, [&](grpc::ClientContext* ctx) { return stub->Comment(ctx, req, &out); });
    shared.calls.fetch_add(1);
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(shared.mu);
      ++shared.comments[req.name()];
    } else if (st.error_code() != grpc::StatusCode::FAILED_PRECONDITION &&
               st.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // Commenting on a finished approval may be refused, and this loop
      // comments faster than the flood limit allows; nothing else.
      problems.Add(absl::StrCat("Comment ", req.name(), ": ", Describe(st)));
    }
    absl::SleepFor(absl::Milliseconds(rng.Uniform(2, 15)));
  }
}

// One run of the scenario: a race workflow and its approvals set up, the
// approvers and a commenter racing, then every approval read back. Its
// fields are what the phases share.
class ApprovalRaces {
 public:
  ApprovalRaces(const Env& env, Cluster& c, const OrgFixture& org, int reviewers)
      : env_(env),
        c_(c),
        org_(org),
        reviewers_(reviewers),
        stub_(c.Approvals()),
        parent_(absl::StrCat("orgs/", org.org)) {}

  // The workflow and `approvals` approvals of it; the error is the
  // scenario's summary.
  absl::Status SetUp(int approvals);
  // Every approver and the commenter until all are approved or `bound`.
  void Race(int approvals, absl::Duration bound);
  // Every approval, read back.
  void Check();
  void Report(int approvals, Results& results, ScenarioResult& out) const;

 private:
  // The checks of one approval; false when it is broken.
  bool CheckApproval(const std::string& name);
  // Its whole history, page by page; `ok` false when a page failed.
  std::vector<apb::HistoryEntry> History(const std::string& name, bool& ok);
  // Each reviewer once in the 会签 step, exactly one signer in the ANY
  // step, every acknowledged decision in the history.
  bool CheckDecisions(const std::string& name, const apb::Approval& a,
                      const std::map<std::pair<std::string, std::string>, int>& decided);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& org_;
  const int reviewers_;
  std::unique_ptr<apb::ApprovalService::Stub> stub_;
  const std::string parent_;
  std::vector<std::string> names_;
  std::vector<std::string> users_;
  Shared shared_;
  Problems problems_;
  double seconds_ = 0;
  int64_t broken_ = 0, not_approved_ = 0, decided_twice_ = 0, decisions_lost_ = 0;
  int64_t comments_lost_ = 0;
  int crashes_ = 0;
};

absl::Status ApprovalRaces::SetUp(int approvals) {
  // 会签 by the whole role, then either of two signers: every kind of race.
  apb::CreateWorkflowRequest wr;
  wr.set_parent(parent_);
  wr.set_workflow_id("race");
  wr.set_request_id("s4-wf");
  apb::Step* review = wr.mutable_workflow()->add_steps();
  review->set_name("review");
  review->set_kind(apb::STEP_KIND_REVIEW);
  review->set_mode(apb::STEP_MODE_ALL);
  review->add_roles(org_.role);
  apb::Step* sign = wr.mutable_workflow()->add_steps();
  sign->set_name("sign");
  sign->set_kind(apb::STEP_KIND_SIGN_OFF);
  sign->set_mode(apb::STEP_MODE_ANY);
  sign->add_users(absl::StrCat(org_.org, "-director"));
  sign->add_users(absl::StrCat(org_.org, "-secretary"));
  apb::Workflow wf;
  grpc::Status st = Retry(
      org_.admin, [&](grpc::ClientContext* ctx) { return stub_->CreateWorkflow(ctx, wr, &wf); });
  if (!st.ok()) return absl::InternalError(absl::StrCat("CreateWorkflow: ", Describe(st)));
  names_.reserve(approvals);
  for (int i = 0; i < approvals; ++i) {
    apb::StartApprovalRequest sr;
    sr.set_parent(parent_);
    sr.set_workflow(wf.name());
    sr.set_subject(absl::StrCat(parent_, "/reports/r", i, "/revisions/1"));
    sr.set_title(absl::StrCat("报告 ", i));
    sr.set_request_id(absl::StrCat("s4-start-", i));
    apb::Approval a;
    st = Retry(org_.drafter,
               [&](grpc::ClientContext* ctx) { return stub_->StartApproval(ctx, sr, &a); });
    if (!st.ok()) return absl::InternalError(absl::StrCat("StartApproval: ", Describe(st)));
    names_.push_back(a.name());
  }
  return absl::OkStatus();
}

void ApprovalRaces::Race(int approvals, absl::Duration bound) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 1; i <= reviewers_; ++i) users_.push_back(absl::StrCat(org_.org, "-r", i));
  users_.push_back(absl::StrCat(org_.org, "-director"));
  users_.push_back(absl::StrCat(org_.org, "-secretary"));
  absl::Time start = absl::Now();
  threads.reserve(users_.size() + 1);
  for (size_t i = 0; i < users_.size(); ++i) {
    threads.emplace_back(
        [&, i] { Approver(c_, org_, users_[i], shared_, problems_, stop, env_.seed * 31 + i); });
  }
  threads.emplace_back(
      [&] { Commenter(c_, org_, names_, shared_, problems_, stop, env_.seed * 37); });
  while (shared_.approved.load() < approvals && absl::Now() - start < bound) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
}

void ApprovalRaces::Check() {
  for (const auto& name : names_) {
    if (!CheckApproval(name)) ++broken_;
  }
  crashes_ = c_.Crashes();
}

std::vector<apb::HistoryEntry> ApprovalRaces::History(const std::string& name, bool& ok) {
  std::vector<apb::HistoryEntry> entries;
  apb::GetHistoryRequest hr;
  hr.set_name(name);
  hr.set_page_size(100);
  while (true) {
    apb::GetHistoryResponse h;
    grpc::Status st = Retry(
        org_.auditor, [&](grpc::ClientContext* ctx) { return stub_->GetHistory(ctx, hr, &h); });
    if (!st.ok()) {
      ok = false;
      problems_.Add(absl::StrCat(name, " GetHistory: ", Describe(st)));
      break;
    }
    for (auto& e : *h.mutable_entries()) entries.push_back(std::move(e));
    if (h.next_page_token().empty()) break;
    hr.set_page_token(h.next_page_token());
  }
  return entries;
}

bool ApprovalRaces::CheckApproval(const std::string& name) {
  bool ok = true;
  apb::GetApprovalRequest get;
  get.set_name(name);
  apb::Approval a;
  grpc::Status st = Retry(
      org_.auditor, [&](grpc::ClientContext* ctx) { return stub_->GetApproval(ctx, get, &a); });
  if (!st.ok() || a.state() != apb::APPROVAL_STATE_APPROVED) {
    ++not_approved_;
    problems_.Add(
        absl::StrCat(name, " is ", st.ok() ? apb::ApprovalState_Name(a.state()) : Describe(st)));
  }
  apb::VerifyHistoryRequest vr;
  vr.set_name(name);
  apb::VerifyHistoryResponse v;
  st = Retry(org_.auditor,
             [&](grpc::ClientContext* ctx) { return stub_->VerifyHistory(ctx, vr, &v); });
  if (!st.ok() || !v.ok()) {
    ok = false;
    problems_.Add(
        absl::StrCat(name, " history does not verify: ", st.ok() ? v.problem() : Describe(st)));
  }
  std::vector<apb::HistoryEntry> entries = History(name, ok);
  std::map<std::pair<std::string, std::string>, int> decided;  // (step, actor)
  int comments = 0;
  std::string prev;
  int64_t last_version = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.sequence() != static_cast<int64_t>(i) + 1 || e.prev_hash() != prev ||
        e.version() < last_version) {
      ok = false;
      problems_.Add(absl::StrCat(name, " entry ", i + 1, " out of order"));
    }
    prev = e.hash();
    last_version = e.version();
    if (e.action() == "approved") ++decided[{e.step(), e.actor()}];
    if (e.action() == "commented") ++comments;
  }
  if (!CheckDecisions(name, a, decided)) ok = false;
  auto cit = shared_.comments.find(name);
  int acked_comments = cit == shared_.comments.end() ? 0 : cit->second;
  if (comments != acked_comments) {
    comments_lost_ += std::abs(acked_comments - comments);
    ok = false;
    problems_.Add(absl::StrCat(name, ": ", acked_comments, " comments acknowledged, ", comments,
                               " in the history"));
  }
  return ok;
}

bool ApprovalRaces::CheckDecisions(
    const std::string& name, const apb::Approval& a,
    const std::map<std::pair<std::string, std::string>, int>& decided) {
  bool ok = true;
  int review_decisions = 0, sign_decisions = 0;
  for (const auto& [key, n] : decided) {
    if (n > 1) {
      ++decided_twice_;
      ok = false;
      problems_.Add(
          absl::StrCat(name, " ", key.second, " decided step ", key.first, " ", n, " times"));
    }
    if (key.first == "review") ++review_decisions;
    if (key.first == "sign") sign_decisions += n;
  }
  if (a.state() == apb::APPROVAL_STATE_APPROVED &&
      (review_decisions != reviewers_ || sign_decisions != 1)) {
    ok = false;
    problems_.Add(absl::StrCat(name, " has ", review_decisions, " review and ", sign_decisions,
                               " sign decisions"));
  }
  // Every acknowledged decision is in the history (and once: above).
  for (const auto& user : users_) {
    auto it = shared_.acked.find({name, user});
    if (it == shared_.acked.end()) continue;
    int in_history = 0;
    for (const auto& [key, n] : decided) {
      if (key.second == user) in_history += n;
    }
    if (in_history < it->second) {
      decisions_lost_ += it->second - in_history;
      ok = false;
      problems_.Add(absl::StrCat(name, ": ", user, " was told OK ", it->second,
                                 " times, history has ", in_history));
    }
  }
  return ok;
}

void ApprovalRaces::Report(int approvals, Results& results, ScenarioResult& out) const {
  int64_t acked_decisions = 0;
  for (const auto& [k, n] : shared_.acked) acked_decisions += n;
  int64_t comments_acked = 0;
  for (const auto& [k, n] : shared_.comments) comments_acked += n;
  results.Add("faults.histories_broken", broken_);
  results.Add("faults.crashes", crashes_);
  results.Set("faults.s4.approvals", static_cast<int64_t>(approvals));
  results.Set("faults.s4.approvers", static_cast<int64_t>(users_.size()));
  results.Set("faults.s4.approved", static_cast<int64_t>(approvals - not_approved_));
  results.Set("faults.s4.decisions_acked", acked_decisions);
  results.Set("faults.s4.decisions_lost", decisions_lost_);
  results.Set("faults.s4.decided_twice", decided_twice_);
  results.Set("faults.s4.races_lost", shared_.races_lost.load());
  results.Set("faults.s4.step_already_done", shared_.stale.load());
  results.Set("faults.s4.repeats", shared_.repeats.load());
  results.Set("faults.s4.repeat_mismatches", shared_.repeat_mismatch.load());
  results.Set("faults.s4.comments_acked", comments_acked);
  results.Set("faults.s4.comments_lost", comments_lost_);
  results.Set("faults.s4.calls", shared_.calls.load());
  results.Set("faults.s4.seconds", seconds_);
  out.summary = absl::StrFormat(
      "did %d approvals by %d concurrent approvers in %.1fs (%d decisions acked, %d races lost "
      "with ABORTED, %d repeated request ids, %d comments); not approved %d, histories broken %d, "
      "decided twice %d, decisions lost %d, comments lost %d, crashes %d",
      approvals, static_cast<int>(users_.size()), seconds_, acked_decisions,
      shared_.races_lost.load(), shared_.repeats.load(), comments_acked, not_approved_, broken_,
      decided_twice_, decisions_lost_, comments_lost_, crashes_);
  out.problems = problems_.First();
  bool ok = broken_ == 0 && not_approved_ == 0 && decided_twice_ == 0 && decisions_lost_ == 0 &&
            comments_lost_ == 0 && shared_.repeat_mismatch.load() == 0 && crashes_ == 0 &&
            problems_.count() == 0;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
}

}  // namespace

ScenarioResult RunApprovalRaces(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 4;
  out.name = "approval races";
  if (env.approval_bin.empty()) {
    out.verdict = Verdict::kSkipped;
    out.summary = "approval binary not built";
    return out;
  }
  const int approvals = env.short_mode ? 120 : 1000;
  const int reviewers = 4;
  const absl::Duration bound = env.short_mode ? absl::Seconds(60) : absl::Seconds(240);
  ClusterOptions co;
  co.tag = "s4";
  co.templates = false;
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  FixtureOptions fo;
  fo.role_members = reviewers;
  fo.approval = false;
  auto org = c.SetUpOrg("races", fo);
  if (!org.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("set-up failed: ", org.status().message());
    return out;
  }
  ApprovalRaces run(env, c, *org, reviewers);
  if (absl::Status st = run.SetUp(approvals); !st.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = std::string(st.message());
    return out;
  }
  run.Race(approvals, bound);
  run.Check();
  run.Report(approvals, results, out);
  return out;
}

}  // namespace govreport::fault
