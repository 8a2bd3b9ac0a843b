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
      if (first.state() == apb::APPROVED) shared.approved.fetch_add(1);
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
  auto stub = c.Approvals();
  const std::string parent = absl::StrCat("orgs/", org->org);
  // 会签 by the whole role, then either of two signers: every kind of race.
  apb::CreateWorkflowRequest wr;
  wr.set_parent(parent);
  wr.set_workflow_id("race");
  wr.set_request_id("s4-wf");
  apb::Step* review = wr.mutable_workflow()->add_steps();
  review->set_name("review");
  review->set_kind(apb::REVIEW);
  review->set_mode(apb::ALL);
  review->add_roles(org->role);
  apb::Step* sign = wr.mutable_workflow()->add_steps();
  sign->set_name("sign");
  sign->set_kind(apb::SIGN_OFF);
  sign->set_mode(apb::ANY);
  sign->add_users(absl::StrCat(org->org, "-director"));
  sign->add_users(absl::StrCat(org->org, "-secretary"));
  apb::Workflow wf;
  grpc::Status st = Retry(
      org->admin, [&](grpc::ClientContext* ctx) { return stub->CreateWorkflow(ctx, wr, &wf); });
  if (!st.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("CreateWorkflow: ", Describe(st));
    return out;
  }
  std::vector<std::string> names;
  for (int i = 0; i < approvals; ++i) {
    apb::StartApprovalRequest sr;
    sr.set_parent(parent);
    sr.set_workflow(wf.name());
    sr.set_subject(absl::StrCat(parent, "/reports/r", i, "/revisions/1"));
    sr.set_title(absl::StrCat("报告 ", i));
    sr.set_request_id(absl::StrCat("s4-start-", i));
    apb::Approval a;
    st = Retry(org->drafter,
               [&](grpc::ClientContext* ctx) { return stub->StartApproval(ctx, sr, &a); });
    if (!st.ok()) {
      out.verdict = Verdict::kFailed;
      out.summary = absl::StrCat("StartApproval: ", Describe(st));
      return out;
    }
    names.push_back(a.name());
  }

  Shared shared;
  Problems problems;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::vector<std::string> users;
  for (int i = 1; i <= reviewers; ++i) users.push_back(absl::StrCat(org->org, "-r", i));
  users.push_back(absl::StrCat(org->org, "-director"));
  users.push_back(absl::StrCat(org->org, "-secretary"));
  absl::Time start = absl::Now();
  for (size_t i = 0; i < users.size(); ++i) {
    threads.emplace_back(
        [&, i] { Approver(c, *org, users[i], shared, problems, stop, env.seed * 31 + i); });
  }
  threads.emplace_back([&] { Commenter(c, *org, names, shared, problems, stop, env.seed * 37); });
  while (shared.approved.load() < approvals && absl::Now() - start < bound) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // Every approval, read back.
  int64_t broken = 0, not_approved = 0, decided_twice = 0, decisions_lost = 0, comments_lost = 0;
  int64_t acked_decisions = 0;
  for (const auto& [k, n] : shared.acked) acked_decisions += n;
  for (const auto& name : names) {
    bool ok = true;
    apb::GetApprovalRequest get;
    get.set_name(name);
    apb::Approval a;
    st = Retry(org->auditor,
               [&](grpc::ClientContext* ctx) { return stub->GetApproval(ctx, get, &a); });
    if (!st.ok() || a.state() != apb::APPROVED) {
      ++not_approved;
      problems.Add(
          absl::StrCat(name, " is ", st.ok() ? apb::ApprovalState_Name(a.state()) : Describe(st)));
    }
    apb::VerifyHistoryRequest vr;
    vr.set_name(name);
    apb::VerifyHistoryResponse v;
    st = Retry(org->auditor,
               [&](grpc::ClientContext* ctx) { return stub->VerifyHistory(ctx, vr, &v); });
    if (!st.ok() || !v.ok()) {
      ok = false;
      problems.Add(
          absl::StrCat(name, " history does not verify: ", st.ok() ? v.problem() : Describe(st)));
    }
    std::vector<apb::HistoryEntry> entries;
    apb::GetHistoryRequest hr;
    hr.set_name(name);
    hr.set_page_size(100);
    while (true) {
      apb::GetHistoryResponse h;
      st = Retry(org->auditor,
                 [&](grpc::ClientContext* ctx) { return stub->GetHistory(ctx, hr, &h); });
      if (!st.ok()) {
        ok = false;
        problems.Add(absl::StrCat(name, " GetHistory: ", Describe(st)));
        break;
      }
      for (auto& e : *h.mutable_entries()) entries.push_back(std::move(e));
      if (h.next_page_token().empty()) break;
      hr.set_page_token(h.next_page_token());
    }
    std::map<std::pair<std::string, std::string>, int> decided;  // (step, actor)
    int comments = 0;
    std::string prev;
    int64_t last_version = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      if (e.sequence() != static_cast<int64_t>(i) + 1 || e.prev_hash() != prev ||
          e.version() < last_version) {
        ok = false;
        problems.Add(absl::StrCat(name, " entry ", i + 1, " out of order"));
      }
      prev = e.hash();
      last_version = e.version();
      if (e.action() == "approved") ++decided[{e.step(), e.actor()}];
      if (e.action() == "commented") ++comments;
    }
    // Each reviewer once in the 会签 step, exactly one signer in the ANY step.
    int review_decisions = 0, sign_decisions = 0;
    for (const auto& [key, n] : decided) {
      if (n > 1) {
        ++decided_twice;
        ok = false;
        problems.Add(
            absl::StrCat(name, " ", key.second, " decided step ", key.first, " ", n, " times"));
      }
      if (key.first == "review") ++review_decisions;
      if (key.first == "sign") sign_decisions += n;
    }
    if (a.state() == apb::APPROVED && (review_decisions != reviewers || sign_decisions != 1)) {
      ok = false;
      problems.Add(absl::StrCat(name, " has ", review_decisions, " review and ", sign_decisions,
                                " sign decisions"));
    }
    // Every acknowledged decision is in the history (and once: above).
    for (const auto& user : users) {
      auto it = shared.acked.find({name, user});
      if (it == shared.acked.end()) continue;
      int in_history = 0;
      for (const auto& [key, n] : decided) {
        if (key.second == user) in_history += n;
      }
      if (in_history < it->second) {
        decisions_lost += it->second - in_history;
        ok = false;
        problems.Add(absl::StrCat(name, ": ", user, " was told OK ", it->second,
                                  " times, history has ", in_history));
      }
    }
    auto cit = shared.comments.find(name);
    int acked_comments = cit == shared.comments.end() ? 0 : cit->second;
    if (comments != acked_comments) {
      comments_lost += std::abs(acked_comments - comments);
      ok = false;
      problems.Add(absl::StrCat(name, ": ", acked_comments, " comments acknowledged, ", comments,
                                " in the history"));
    }
    if (!ok) ++broken;
  }
  int64_t comments_acked = 0;
  for (const auto& [k, n] : shared.comments) comments_acked += n;
  int crashes = c.Crashes();
  results.Add("faults.histories_broken", broken);
  results.Add("faults.crashes", crashes);
  results.Set("faults.s4.approvals", static_cast<int64_t>(approvals));
  results.Set("faults.s4.approvers", static_cast<int64_t>(users.size()));
  results.Set("faults.s4.approved", static_cast<int64_t>(approvals - not_approved));
  results.Set("faults.s4.decisions_acked", acked_decisions);
  results.Set("faults.s4.decisions_lost", decisions_lost);
  results.Set("faults.s4.decided_twice", decided_twice);
  results.Set("faults.s4.races_lost", shared.races_lost.load());
  results.Set("faults.s4.step_already_done", shared.stale.load());
  results.Set("faults.s4.repeats", shared.repeats.load());
  results.Set("faults.s4.repeat_mismatches", shared.repeat_mismatch.load());
  results.Set("faults.s4.comments_acked", comments_acked);
  results.Set("faults.s4.comments_lost", comments_lost);
  results.Set("faults.s4.calls", shared.calls.load());
  results.Set("faults.s4.seconds", seconds);
  out.summary = absl::StrFormat(
      "did %d approvals by %d concurrent approvers in %.1fs (%d decisions acked, %d races lost "
      "with ABORTED, %d repeated request ids, %d comments); not approved %d, histories broken %d, "
      "decided twice %d, decisions lost %d, comments lost %d, crashes %d",
      approvals, static_cast<int>(users.size()), seconds, acked_decisions, shared.races_lost.load(),
      shared.repeats.load(), comments_acked, not_approved, broken, decided_twice, decisions_lost,
      comments_lost, crashes);
  out.problems = problems.First();
  bool ok = broken == 0 && not_approved == 0 && decided_twice == 0 && decisions_lost == 0 &&
            comments_lost == 0 && shared.repeat_mismatch.load() == 0 && crashes == 0 &&
            problems.count() == 0;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
  return out;
}

}  // namespace govreport::fault
