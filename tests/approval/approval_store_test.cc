// Integration tests of the approval logic against a real redis-server:
// workflows and roles, whole chains, bad input without state change,
// idempotency, the race of N approvers, tampering with the history in
// Redis, and three replicas firing deadlines.
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "approval/convert.h"
#include "common/crypto.h"
#include "gtest/gtest.h"
#include "tests/approval/approval_test_env.h"

namespace govreport::approval {
namespace {

using testenv::Admin;
using testenv::Approver;
using testenv::Auditor;
using testenv::Drafter;
using testenv::Env;
using testenv::kParent;
using testenv::kT0;
using testenv::kWorkflow;
using testenv::MakeStep;
using testenv::User;
using T = ActionType;
using C = absl::StatusCode;

class ApprovalRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = Env::Create();
    ASSERT_NE(env_, nullptr);
    env_->SetUpChain();
  }
  ApprovalCore& core() { return env_->core(); }
  std::unique_ptr<Env> env_;
};

// ------------------------------------------------------------- workflows

TEST_F(ApprovalRedisTest, WorkflowRevisionsAndListing) {
  auto wf = core().GetWorkflow(Drafter(), kWorkflow);
  ASSERT_TRUE(wf.ok()) << wf.status();
  EXPECT_EQ(wf->revision, 1);
  EXPECT_EQ(wf->updated_by, "boss");
  ASSERT_EQ(wf->steps.size(), 3u);

  WorkflowDef edited = testenv::ChainDef();
  edited.steps[0].users = {"director", "deputy"};
  auto v2 = core().UpdateWorkflow(Admin(), kWorkflow, edited, 1, "upd-1");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->revision, 2);
  // The same request again: the first result, not a third revision.
  auto again = core().UpdateWorkflow(Admin(), kWorkflow, edited, 1, "upd-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revision, 2);
  // A stale expected revision loses.
  EXPECT_EQ(core().UpdateWorkflow(Admin(), kWorkflow, edited, 1, "").status().code(), C::kAborted);
  EXPECT_EQ(core().GetWorkflow(Drafter(), absl::StrCat(kWorkflow, "@1"))->steps[0].users,
            std::vector<std::string>{"director"});
  EXPECT_EQ(core().GetWorkflow(Drafter(), kWorkflow)->revision, 2);
  EXPECT_EQ(core().GetWorkflow(Drafter(), "orgs/acme/workflows/nope").status().code(),
            C::kNotFound);

  for (const char* id : {"b-flow", "c-flow", "d-flow"}) {
    ASSERT_TRUE(core().CreateWorkflow(Admin(), kParent, id, testenv::ChainDef(), "").ok());
  }
  std::vector<std::string> seen;
  std::string token;
  do {
    auto page = core().ListWorkflows(Drafter(), kParent, 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& w : page->items) seen.push_back(w.id);
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{"annual", "b-flow", "c-flow", "d-flow"}));
}

TEST_F(ApprovalRedisTest, WorkflowWritesAreCheckedAndAdminOnly) {
  WorkflowDef wf = testenv::ChainDef();
  EXPECT_EQ(core().CreateWorkflow(Drafter(), kParent, "x", wf, "").status().code(),
            C::kPermissionDenied);
  EXPECT_EQ(
      core().CreateWorkflow(User("boss", {"admin"}, "other"), kParent, "x", wf, "").status().code(),
      C::kPermissionDenied);
  EXPECT_EQ(core().CreateWorkflow(Admin(), kParent, "annual", wf, "").status().code(),
            C::kAlreadyExists);
  wf.steps.pop_back();  // No sign-off.
  EXPECT_EQ(core().CreateWorkflow(Admin(), kParent, "x", wf, "").status().code(),
            C::kInvalidArgument);
  wf = testenv::ChainDef();
  wf.steps[1].roles = {"ghosts"};
  auto no_members = core().CreateWorkflow(Admin(), kParent, "x", wf, "");
  EXPECT_EQ(no_members.status().code(), C::kFailedPrecondition);
  EXPECT_NE(no_members.status().message().find("ghosts"), std::string::npos);
  EXPECT_EQ(
      core().CreateWorkflow(Admin(), kParent, "Bad_Id", testenv::ChainDef(), "").status().code(),
      C::kInvalidArgument);
  // Generated ids are valid and retries keep the first one.
  auto a = core().CreateWorkflow(Admin(), kParent, "", testenv::ChainDef(), "gen-1");
  auto b = core().CreateWorkflow(Admin(), kParent, "", testenv::ChainDef(), "gen-1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id, b->id);
}

TEST_F(ApprovalRedisTest, RolesAreAdminManaged) {
  EXPECT_EQ(core().SetRoleMembers(Drafter(), "orgs/acme/roles/x", {"a"}, "").status().code(),
            C::kPermissionDenied);
  EXPECT_EQ(core().SetRoleMembers(Admin(), "orgs/acme/roles/x", {"a b"}, "").status().code(),
            C::kInvalidArgument);
  ASSERT_TRUE(core().SetRoleMembers(Admin(), "orgs/acme/roles/office", {"z", "a", "a"}, "").ok());
  auto r = core().ListRoleMembers(Drafter(), "orgs/acme/roles/office");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->members, (std::vector<std::string>{"a", "z"}));
  auto roles = core().ListRoles(Admin(), kParent, 0, "");
  ASSERT_TRUE(roles.ok());
  ASSERT_EQ(roles->items.size(), 3u);  // leaders, office, staff.
  EXPECT_EQ(roles->items[0].role, "leaders");
  // Emptying a role removes it.
  ASSERT_TRUE(core().SetRoleMembers(Admin(), "orgs/acme/roles/office", {}, "").ok());
  EXPECT_EQ(core().ListRoles(Admin(), kParent, 0, "")->items.size(), 2u);
}

// -------------------------------------------------------------- a chain

TEST_F(ApprovalRedisTest, WholeChainToSignOff) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->workflow_revision, 1);
  EXPECT_EQ(s->history_length, 1);

  auto inbox = core().ListMyTasks(Approver("director"), kParent, 0, "");
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->items.size(), 1u);
  EXPECT_EQ(inbox->items[0].approval.id, s->id);

  env_->Advance(60);
  s = env_->Do(Approver("director"), T::kApprove, *s, "同意");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->current().name, "leaders");
  EXPECT_TRUE(core().ListMyTasks(Approver("director"), kParent, 0, "")->items.empty());
  EXPECT_EQ(core().ListMyTasks(Approver("lead1"), kParent, 0, "")->items.size(), 1u);
  EXPECT_EQ(core().ListMyTasks(Approver("lead2"), kParent, 0, "")->items.size(), 1u);

  s = env_->Do(Approver("lead2"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("lead1"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->current().name, "sign");
  env_->Advance(60);
  s = env_->Do(Approver("secretary"), T::kApprove, *s, "签发");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, ApprovalStatus::kApproved);
  EXPECT_EQ(s->signer, "secretary");
  EXPECT_EQ(s->sign_off_unix, kT0 + 120);
  EXPECT_EQ(s->version, 5);
  EXPECT_EQ(s->history_length, 5);

  auto stored = core().GetApproval(Auditor(), ApprovalResourceName("acme", s->id));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(ToProto(*stored).SerializeAsString(), ToProto(*s).SerializeAsString());

  auto events = env_->Events();
  ASSERT_EQ(events.size(), 5u);
  std::vector<std::string> types;
  types.reserve(events.size());
  for (auto& e : events) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"started", "step_approved", "task_approved",
                                             "step_approved", "approved"}));
  testenv::Event& approved = events.back();
  EXPECT_EQ(approved["approval"], ApprovalResourceName("acme", s->id));
  EXPECT_EQ(approved["subject"], "orgs/acme/reports/r1/revisions/1");
  EXPECT_EQ(approved["org"], "acme");
  EXPECT_EQ(approved["signer"], "secretary");
  EXPECT_EQ(approved["sign_off_unix"], absl::StrCat(kT0 + 120));
  EXPECT_EQ(approved["sign_off_time"], Rfc3339(kT0 + 120));
  EXPECT_EQ(approved["history_hash"], s->history_head);

  auto history = core().GetHistory(Auditor(), ApprovalResourceName("acme", s->id), 2, "");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(history->items.size(), 2u);
  ASSERT_FALSE(history->next_page_token.empty());
  // Raw offsets (the old tokens) are refused; only the MAC'd token pages.
  EXPECT_EQ(
      core().GetHistory(Auditor(), ApprovalResourceName("acme", s->id), 10, "2").status().code(),
      absl::StatusCode::kInvalidArgument);
  auto rest = core().GetHistory(Auditor(), ApprovalResourceName("acme", s->id), 10,
                                history->next_page_token);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->items.size(), 3u);
  EXPECT_EQ(rest->items.back().action, "approved");
  EXPECT_TRUE(rest->next_page_token.empty());
  auto check = core().VerifyHistory(Auditor(), ApprovalResourceName("acme", s->id));
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->checked, 5);

  // Approved: that revision is done for good; a new revision goes through
  // approval of its own.
  auto again = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  EXPECT_EQ(again.status().code(), C::kFailedPrecondition) << again.status();
  EXPECT_TRUE(env_->StartOn("orgs/acme/reports/r1/revisions/2").ok());
  EXPECT_EQ(env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}), 2);  // Only the new one's.
}

TEST_F(ApprovalRedisTest, BadInputNeverChangesState) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok());
  std::string name = ApprovalResourceName("acme", s->id);
  auto snapshot = [&] {
    auto cur = core().GetApproval(Admin(), name);
    EXPECT_TRUE(cur.ok());
    return std::make_tuple(ToProto(*cur).SerializeAsString(), env_->Events().size(),
                           env_->Count({"LLEN", Store::HistoryKey("acme", s->id)}));
  };
  auto before = snapshot();

  StartRequest unknown;
  unknown.parent = kParent;
  unknown.workflow = "orgs/acme/workflows/nope";
  unknown.subject = "orgs/acme/reports/r2/revisions/1";
  EXPECT_EQ(core().StartApproval(Drafter(), unknown).status().code(), C::kInvalidArgument);
  EXPECT_EQ(env_->StartOn("orgs/acme/reports/r1/revisions/1").status().code(),
            C::kFailedPrecondition);  // Already under approval.

  struct Bad {
    auth::Principal who;
    T type;
    std::string comment, target, return_to;
    int64_t version_delta;
    C code;
  };
  std::vector<Bad> bad = {
      {Approver("director"), T::kApprove, "", "", "", +5, C::kAborted},
      {Approver("director"), T::kApprove, "", "", "", +1, C::kAborted},
      {Approver("director"), T::kReject, "", "", "", 0, C::kInvalidArgument},
      {Approver("director"), T::kReject, "x", "", "no-such-step", 0, C::kInvalidArgument},
      {Drafter(), T::kApprove, "", "", "", 0, C::kPermissionDenied},
      {Approver("lead1"), T::kApprove, "", "", "", 0, C::kPermissionDenied},
      {User("director", {"approver"}, "other"), T::kApprove, "", "", "", 0, C::kPermissionDenied},
      {Approver("director"), T::kTransfer, "", "drafter", "", 0, C::kFailedPrecondition},
      {Approver("director"), T::kWithdraw, "", "", "", 0, C::kPermissionDenied},
  };
  for (const Bad& b : bad) {
    ApprovalState view = *s;
    view.version += b.version_delta;
    auto r = env_->Do(b.who, b.type, view, b.comment, b.target, b.return_to);
    EXPECT_EQ(r.status().code(), b.code) << ActionName(b.type) << ": " << r.status();
  }
  ActionRequest no_version;
  no_version.name = name;
  EXPECT_EQ(core().Act(Approver("director"), T::kApprove, no_version).status().code(),
            C::kInvalidArgument);
  EXPECT_EQ(before, snapshot());

  // A role emptied after the start: the step cannot activate, nothing moves.
  ASSERT_TRUE(core().SetRoleMembers(Admin(), "orgs/acme/roles/leaders", {}, "").ok());
  auto blocked = env_->Do(Approver("director"), T::kApprove, *s);
  EXPECT_EQ(blocked.status().code(), C::kFailedPrecondition);
  EXPECT_NE(blocked.status().message().find("leaders"), std::string::npos);
  EXPECT_EQ(before, snapshot());

  // Finished approvals refuse everything.
  auto w = env_->Do(Drafter(), T::kWithdraw, *s, "撤回");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->status, ApprovalStatus::kWithdrawn);
  for (T type : {T::kApprove, T::kReject, T::kWithdraw, T::kTransfer, T::kAddSigner, T::kUrge,
                 T::kComment}) {
    bool drafts = type == T::kWithdraw || type == T::kUrge;
    auto r = env_->Do(drafts ? Drafter() : Approver("director"), type, *w, "x", "deputy");
    EXPECT_EQ(r.status().code(), C::kFailedPrecondition) << ActionName(type);
  }
  EXPECT_TRUE(core().ListMyTasks(Approver("director"), kParent, 0, "")->items.empty());
  EXPECT_EQ(env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}), 0);
}

TEST_F(ApprovalRedisTest, RequestIdsMakeActionsIdempotent) {
  auto s1 = env_->StartOn("orgs/acme/reports/r1/revisions/1", "start-1");
  auto s2 = env_->StartOn("orgs/acme/reports/r1/revisions/1", "start-1");
  ASSERT_TRUE(s1.ok() && s2.ok()) << s1.status() << s2.status();
  EXPECT_EQ(s1->id, s2->id);

  auto a1 = env_->Do(Approver("director"), T::kApprove, *s1, "", "", "", "ap-1");
  ASSERT_TRUE(a1.ok()) << a1.status();
  // The retry names the old version: still the first result, not ABORTED.
  auto a2 = env_->Do(Approver("director"), T::kApprove, *s1, "", "", "", "ap-1");
  ASSERT_TRUE(a2.ok()) << a2.status();
  EXPECT_EQ(ToProto(*a1).SerializeAsString(), ToProto(*a2).SerializeAsString());
  EXPECT_EQ(env_->Count({"LLEN", Store::HistoryKey("acme", s1->id)}), 2);
  EXPECT_EQ(env_->Events().size(), 2u);
  // Reusing the id for another call is an error naming the id, and
  // changes nothing: another caller, other content (a comment), another
  // method, another approval.
  auto reused = [](const absl::Status& st) {
    return st.code() == C::kInvalidArgument && absl::StrContains(st.message(), "'ap-1'");
  };
  EXPECT_TRUE(reused(env_->Do(Approver("lead1"), T::kApprove, *a1, "", "", "", "ap-1").status()));
  EXPECT_TRUE(
      reused(env_->Do(Approver("director"), T::kApprove, *s1, "同意", "", "", "ap-1").status()));
  EXPECT_TRUE(
      reused(env_->Do(Approver("director"), T::kComment, *s1, "", "", "", "ap-1").status()));
  auto s3 = env_->StartOn("orgs/acme/reports/r2/revisions/1", "");
  ASSERT_TRUE(s3.ok()) << s3.status();
  EXPECT_TRUE(
      reused(env_->Do(Approver("director"), T::kApprove, *s3, "", "", "", "ap-1").status()));
  EXPECT_EQ(env_->StartOn("orgs/acme/reports/r3/revisions/1", "start-1").status().code(),
            C::kInvalidArgument);
  EXPECT_EQ(env_->Count({"LLEN", Store::HistoryKey("acme", s1->id)}), 2);
  EXPECT_EQ(env_->Count({"LLEN", Store::HistoryKey("acme", s3->id)}), 1);
}

TEST_F(ApprovalRedisTest, ReturnTransferAddSignerAndComments) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok());
  s = env_->Do(Approver("director"), T::kTransfer, *s, "出差", "deputy");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(core().ListMyTasks(Approver("deputy"), kParent, 0, "")->items.size(), 1u);
  EXPECT_TRUE(core().ListMyTasks(Approver("director"), kParent, 0, "")->items.empty());
  s = env_->Do(Approver("deputy"), T::kAddSigner, *s, "", "legal");
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("deputy"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->current().name, "office");
  s = env_->Do(Approver("legal"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->current().name, "leaders");

  // Comments and urging keep the version, so a reader's view stays valid.
  int64_t v = s->version;
  ASSERT_TRUE(env_->Do(Drafter(), T::kUrge, *s, "请尽快").ok());
  ASSERT_TRUE(env_->Do(Approver("deputy"), T::kComment, *s, "已阅").ok());
  EXPECT_EQ(env_->Do(Approver("stranger"), T::kComment, *s, "hi").status().code(),
            C::kPermissionDenied);
  s = env_->Do(Approver("lead1"), T::kReject, *s, "数据需核实", "", "office");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->version, v + 1);
  EXPECT_EQ(s->current().name, "office");
  EXPECT_EQ(s->PendingUsers(), std::vector<std::string>{"director"});
  EXPECT_TRUE(core().ListMyTasks(Approver("lead2"), kParent, 0, "")->items.empty());

  auto events = env_->Events();
  std::vector<std::string> types;
  types.reserve(events.size());
  for (auto& e : events) types.push_back(e["type"]);
  EXPECT_EQ(types,
            (std::vector<std::string>{"started", "transferred", "signer_added", "task_approved",
                                      "step_approved", "urged", "commented", "returned"}));
  EXPECT_EQ(events.back()["comment"], "数据需核实");
  auto check = core().VerifyHistory(Admin(), ApprovalResourceName("acme", s->id));
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->checked, 8);
  // Only auditors (and admins) verify; participants may read.
  EXPECT_EQ(core().VerifyHistory(Drafter(), ApprovalResourceName("acme", s->id)).status().code(),
            C::kPermissionDenied);
  EXPECT_TRUE(core().GetHistory(Drafter(), ApprovalResourceName("acme", s->id), 0, "").ok());
  EXPECT_EQ(core()
                .GetHistory(Approver("stranger"), ApprovalResourceName("acme", s->id), 0, "")
                .status()
                .code(),
            C::kPermissionDenied);
}

TEST_F(ApprovalRedisTest, ListApprovalsFiltersAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    auto s = env_->StartOn(absl::StrCat("orgs/acme/reports/r", i, "/revisions/1"));
    ASSERT_TRUE(s.ok());
    ids.push_back(s->id);
    if (i % 2 == 0) {
      ASSERT_TRUE(env_->Do(Drafter(), T::kWithdraw, *s).ok());
    }
  }
  std::vector<std::string> seen;
  std::string token;
  do {
    ListFilter f;
    f.parent = kParent;
    f.page_size = 3;
    f.page_token = token;
    auto page = core().ListApprovals(Auditor(), f);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& a : page->items) seen.push_back(a.id);
    token = page->next_page_token;
  } while (!token.empty());
  // Ids sort by creation time (ties within a millisecond by randomness).
  std::vector<std::string> newest_first = ids;
  std::sort(newest_first.rbegin(), newest_first.rend());
  EXPECT_EQ(seen, newest_first);

  ListFilter f;
  f.parent = kParent;
  f.state = ApprovalStatus::kWithdrawn;
  EXPECT_EQ(core().ListApprovals(Auditor(), f)->items.size(), 4u);
  f.state = ApprovalStatus::kInProgress;
  f.workflow = kWorkflow;
  EXPECT_EQ(core().ListApprovals(Auditor(), f)->items.size(), 3u);
  f = ListFilter{};
  f.parent = kParent;
  f.subject = "orgs/acme/reports/r3/revisions/1";
  auto one = core().ListApprovals(Auditor(), f);
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0].id, ids[3]);
  EXPECT_EQ(core().ListMyTasks(Approver("director"), kParent, 0, "")->items.size(), 3u);
  EXPECT_EQ(core().ListApprovals(User("x", {"auditor"}, "other"), f).status().code(),
            C::kPermissionDenied);
}

// ---------------------------------------------------------------- races

TEST_F(ApprovalRedisTest, ConcurrentApproversExactlyOneWinsEachStep) {
  constexpr int kClients = 8;
  std::vector<std::string> pool;
  pool.reserve(kClients);
  for (int i = 0; i < kClients; ++i) pool.push_back(absl::StrCat("p", i));
  ASSERT_TRUE(core().SetRoleMembers(Admin(), "orgs/acme/roles/pool", pool, "").ok());
  WorkflowDef wf;
  wf.allow_consecutive_steps = true;  // The same pool holds every step.
  wf.steps = {MakeStep("s1", StepKind::kReview, StepMode::kAny, {}, {"pool"}),
              MakeStep("s2", StepKind::kReview, StepMode::kAny, {}, {"pool"}),
              MakeStep("s3", StepKind::kSignOff, StepMode::kAny, {}, {"pool"})};
  ASSERT_TRUE(core().CreateWorkflow(Admin(), kParent, "race", wf, "").ok());
  StartRequest req;
  req.parent = kParent;
  req.workflow = "orgs/acme/workflows/race";
  req.subject = "orgs/acme/reports/race/revisions/1";
  auto s = core().StartApproval(Drafter(), req);
  ASSERT_TRUE(s.ok()) << s.status();

  // Each client its own replica, as separate servers would be.
  std::vector<Env::Replica> replicas;
  replicas.reserve(kClients);
  for (int i = 0; i < kClients; ++i) replicas.push_back(env_->NewReplica());
  for (int step = 0; step < 3; ++step) {
    std::atomic<int> ready{0};
    std::atomic<int> wins{0};
    std::atomic<int> aborted{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        ActionRequest a;
        a.name = ApprovalResourceName("acme", s->id);
        a.expected_version = s->version;
        a.comment = absl::StrCat("p", i, " approves");
        ready.fetch_add(1);
        while (ready.load() < kClients) std::this_thread::yield();
        auto r = replicas[i].core->Act(Approver(absl::StrCat("p", i)), T::kApprove, a);
        if (r.ok()) {
          wins.fetch_add(1);
        } else if (r.status().code() == C::kAborted) {
          aborted.fetch_add(1);
        } else {
          other.fetch_add(1);
          ADD_FAILURE() << r.status();
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "step " << step;
    EXPECT_EQ(aborted.load(), kClients - 1) << "step " << step;
    EXPECT_EQ(other.load(), 0);
    s = core().GetApproval(Admin(), ApprovalResourceName("acme", s->id));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->version, step + 2);
  }
  EXPECT_EQ(s->status, ApprovalStatus::kApproved);
  EXPECT_EQ(s->history_length, 4);  // started + one approval per step.
  EXPECT_EQ(env_->Events().size(), 4u);
  EXPECT_TRUE(core().VerifyHistory(Auditor(), ApprovalResourceName("acme", s->id))->ok);
}

// -------------------------------------------------------------- tamper

class TamperTest : public ApprovalRedisTest {
 protected:
  void SetUp() override {
    ApprovalRedisTest::SetUp();
    auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
    ASSERT_TRUE(s.ok());
    s = env_->Do(Approver("director"), T::kApprove, *s, "同意");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(env_->Do(Approver("lead1"), T::kComment, *s, "数据已核").ok());
    s = env_->Do(Approver("lead1"), T::kApprove, *s, "同意");
    ASSERT_TRUE(s.ok());
    s = env_->Do(Approver("lead2"), T::kApprove, *s, "同意");
    ASSERT_TRUE(s.ok());
    name_ = ApprovalResourceName("acme", s->id);
    id_ = s->id;
    key_ = Store::HistoryKey("acme", s->id);
    auto check = core().VerifyHistory(Auditor(), name_);
    ASSERT_TRUE(check.ok() && check->ok);
    ASSERT_EQ(check->checked, 5);
  }

  pb::HistoryEntry Read(int index) {
    auto r = env_->redis().Command({"LINDEX", key_, absl::StrCat(index)});
    EXPECT_TRUE(r.ok());
    pb::HistoryEntry e;
    EXPECT_TRUE(e.ParseFromString(std::string(r->Str())));
    return e;
  }
  void Write(int index, const pb::HistoryEntry& e) {
    ASSERT_TRUE(
        env_->redis().Command({"LSET", key_, absl::StrCat(index), e.SerializeAsString()}).ok());
  }
  ChainCheck Verify() {
    auto check = core().VerifyHistory(Auditor(), name_);
    EXPECT_TRUE(check.ok()) << check.status();
    return check.ok() ? *check : ChainCheck{};
  }

  const std::string& Id() const { return id_; }

  std::string name_;
  std::string id_;
  std::string key_;
};

TEST_F(TamperTest, EditedCommentIsCaught) {
  pb::HistoryEntry e = Read(2);  // Sequence 3: lead1's comment.
  e.set_comment("数据未核");
  Write(2, e);
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 3) << c.problem;
  EXPECT_EQ(c.checked, 2);
}

TEST_F(TamperTest, EditedAndRehashedWithTheKeyIsCaughtAtTheNextLink) {
  // Even an insider holding the key cannot edit an entry unseen: the next
  // entry links to the old hash.
  pb::HistoryEntry e = Read(1);
  e.set_actor("mallory");
  e.set_hash(EntryHash(FromProto(e), testenv::kAuditKey));
  Write(1, e);
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 3) << c.problem;
}

TEST_F(TamperTest, WholeChainRecomputedWithPlainSha256IsCaught) {
  // The attack on the unkeyed chain: rewrite an entry, recompute every
  // hash after it and the head. Without the servers' key it fails.
  std::string prev;
  int64_t n = 0;
  auto len = env_->redis().Command({"LLEN", key_});
  ASSERT_TRUE(len.ok());
  for (int64_t i = 0; i < len->Int(); ++i) {
    pb::HistoryEntry e = Read(i);
    if (i == 1) e.set_actor("mallory");
    e.set_prev_hash(prev);
    e.set_hash(Sha256Hex(CanonicalEntry(FromProto(e))));
    Write(i, e);
    prev = e.hash();
    n = i + 1;
  }
  ASSERT_TRUE(
      env_->redis()
          .Command({"HSET", Store::ApprovalKey("acme", Id()), "hh", prev, "hn", absl::StrCat(n)})
          .ok());
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 1) << c.problem;
}

TEST_F(TamperTest, SignerChangedInTheStoredStateIsCaught) {
  std::string key = Store::ApprovalKey("acme", Id());
  auto data = env_->redis().Command({"HGET", key, "data"});
  ASSERT_TRUE(data.ok());
  pb::Approval a;
  ASSERT_TRUE(a.ParseFromString(std::string(data->Str())));
  a.set_signer("mallory");
  ASSERT_TRUE(env_->redis().Command({"HSET", key, "data", a.SerializeAsString()}).ok());
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.problem.find("state"), std::string::npos) << c.problem;
}

TEST_F(TamperTest, DeletedEntryIsCaught) {
  auto raw = env_->redis().Command({"LINDEX", key_, "1"});
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(env_->redis().Command({"LREM", key_, "1", std::string(raw->Str())}).ok());
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 2) << c.problem;
}

TEST_F(TamperTest, TruncatedTailIsCaught) {
  ASSERT_TRUE(env_->redis().Command({"RPOP", key_}).ok());
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 5) << c.problem;
}

TEST_F(TamperTest, GarbageEntryIsCaught) {
  ASSERT_TRUE(env_->redis().Command({"LSET", key_, "3", "\xff\xff\xff"}).ok());
  ChainCheck c = Verify();
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad_sequence, 4) << c.problem;
}

// ------------------------------------------------------------ old data

// What an approval stored while its instants were int64 *_unix fields looks
// like: each Timestamp named in `fields` moved back to its old (now
// reserved) number as a varint of Unix seconds.
void AsStoredBeforeTimestamps(google::protobuf::Message* m,
                              const std::vector<std::pair<std::string, int>>& fields) {
  const google::protobuf::Reflection* r = m->GetReflection();
  for (const auto& [name, old_number] : fields) {
    const google::protobuf::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(name);
    ASSERT_NE(f, nullptr) << name;
    if (!r->HasField(*m, f)) continue;
    int64_t seconds =
        static_cast<const google::protobuf::Timestamp&>(r->GetMessage(*m, f)).seconds();
    r->ClearField(m, f);
    r->MutableUnknownFields(m)->AddVarint(old_number, static_cast<uint64_t>(seconds));
  }
}

// Issue 11: the instants became google.protobuf.Timestamp fields with new
// numbers. State and history stored before read back with the same
// instants (the deadlines stay, and the chain sealed over the seconds still
// verifies), not as unset nor as another field.
TEST_F(ApprovalRedisTest, StateAndHistoryStoredWithUnixSecondsReadTheSame) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok()) << s.status();
  env_->Advance(60);
  s = env_->Do(Approver("director"), T::kApprove, *s, "同意");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_NE(s->due_unix, 0);
  const std::string name = ApprovalResourceName("acme", s->id);
  pb::Approval now = ToProto(*s);
  EXPECT_EQ(now.due_time().seconds(), s->due_unix);
  EXPECT_EQ(now.create_time().seconds(), kT0);
  EXPECT_FALSE(now.has_finish_time());  // Unset, not 1970.

  const std::string key = Store::ApprovalKey("acme", s->id);
  auto data = env_->redis().Command({"HGET", key, "data"});
  ASSERT_TRUE(data.ok());
  pb::Approval old;
  ASSERT_TRUE(old.ParseFromString(std::string(data->Str())));
  AsStoredBeforeTimestamps(&old, {{"step_start_time", 13},
                                  {"due_time", 14},
                                  {"escalate_time", 15},
                                  {"create_time", 19},
                                  {"update_time", 20},
                                  {"finish_time", 21},
                                  {"sign_off_time", 23}});
  for (auto& t : *old.mutable_tasks()) {
    AsStoredBeforeTimestamps(&t, {{"assign_time", 8}, {"act_time", 9}});
  }
  for (auto& sp : *old.mutable_steps()) AsStoredBeforeTimestamps(&sp, {{"complete_time", 3}});
  ASSERT_FALSE(old.has_due_time());
  ASSERT_TRUE(env_->redis().Command({"HSET", key, "data", old.SerializeAsString()}).ok());
  const std::string hist = Store::HistoryKey("acme", s->id);
  for (int i = 0; i < s->history_length; ++i) {
    auto raw = env_->redis().Command({"LINDEX", hist, absl::StrCat(i)});
    ASSERT_TRUE(raw.ok());
    pb::HistoryEntry e;
    ASSERT_TRUE(e.ParseFromString(std::string(raw->Str())));
    AsStoredBeforeTimestamps(&e, {{"time", 2}});
    ASSERT_TRUE(env_->redis().Command({"LSET", hist, absl::StrCat(i), e.SerializeAsString()}).ok());
  }

  auto back = core().GetApproval(Auditor(), name);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToProto(*back).SerializeAsString(), now.SerializeAsString());
  auto check = core().VerifyHistory(Auditor(), name);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->ok) << check->problem;
  EXPECT_EQ(check->checked, s->history_length);
  auto history = core().GetHistory(Auditor(), name, 10, "");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->items.size(), 2u);
  EXPECT_EQ(history->items[0].time_unix, kT0);
  EXPECT_EQ(history->items[1].time_unix, kT0 + 60);
  // The next action writes the new fields; it sees the deadline it had.
  s = env_->Do(Approver("lead1"), T::kApprove, *back);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->due_unix, now.due_time().seconds());
}

// -------------------------------------------------------------- timers

TEST_F(ApprovalRedisTest, ThreeReplicasFireEachDeadlineOnce) {
  constexpr int kApprovals = 30;
  for (int i = 0; i < kApprovals; ++i) {
    ASSERT_TRUE(env_->StartOn(absl::StrCat("orgs/acme/reports/t", i, "/revisions/1")).ok());
  }
  ASSERT_EQ(env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}), 2 * kApprovals);
  env_->Advance(7300);  // Past due (3600) and escalation (7200).

  std::vector<Env::Replica> replicas;
  replicas.reserve(3);
  for (int i = 0; i < 3; ++i) replicas.push_back(env_->NewReplica());
  std::atomic<int> fired{0};
  std::vector<std::thread> threads;
  threads.reserve(replicas.size());
  for (auto& r : replicas) {
    threads.emplace_back([&, core = r.core.get()] {
      // Small batches so the replicas interleave.
      for (int round = 0; round < 200; ++round) {
        auto n = core->FireDueTimers(env_->now(), absl::Seconds(30), 3);
        ASSERT_TRUE(n.ok()) << n.status();
        fired.fetch_add(*n);
        if (env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}) == 0) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fired.load(), 2 * kApprovals);
  EXPECT_EQ(env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}), 0);

  std::map<std::string, int> reminders, escalations;
  for (auto& e : env_->Events()) {
    if (e["type"] == "reminder") ++reminders[e["approval"]];
    if (e["type"] == "escalated") ++escalations[e["approval"]];
  }
  EXPECT_EQ(reminders.size(), static_cast<size_t>(kApprovals));
  EXPECT_EQ(escalations.size(), static_cast<size_t>(kApprovals));
  for (auto& [name, n] : reminders) EXPECT_EQ(n, 1) << name;
  for (auto& [name, n] : escalations) EXPECT_EQ(n, 1) << name;
  // Nothing fires twice later either.
  env_->Advance(3600);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 0);
}

// An upgrade from the global layout: timers the code before left in
// gr:timers:approval are moved into their org's set and fire once.
TEST_F(ApprovalRedisTest, TimersOfTheGlobalSetBeforeAnUpgradeFireOnce) {
  auto s = env_->StartOn("orgs/acme/reports/legacy/revisions/1");
  ASSERT_TRUE(s.ok()) << s.status();
  auto members =
      env_->redis().Command({"ZRANGE", Store::TimersKey(testenv::kOrg), "0", "-1", "WITHSCORES"});
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->Size(), 4u);  // The reminder and the escalation.
  for (size_t i = 0; i + 1 < members->Size(); i += 2) {
    ASSERT_TRUE(env_->redis()
                    .Command({"ZADD", std::string(kTimersKey), (*members)[i + 1].AsString(),
                              (*members)[i].AsString()})
                    .ok());
  }
  ASSERT_TRUE(env_->redis().Command({"DEL", Store::TimersKey(testenv::kOrg)}).ok());
  ASSERT_TRUE(env_->redis().Command({"DEL", streams::OrgIndexKey(kTimersKey)}).ok());

  env_->Advance(7300);  // Past due and escalation.
  EXPECT_EQ(*env_->store().CountDueTimers(env_->now()), 2);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 2);
  EXPECT_EQ(env_->Count({"ZCARD", std::string(kTimersKey)}), 0);
  EXPECT_EQ(env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}), 0);
  int fired = 0;
  for (auto& e : env_->Events()) fired += e["type"] == "reminder" || e["type"] == "escalated";
  EXPECT_EQ(fired, 2);
  env_->Advance(3600);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 0);
}

TEST_F(ApprovalRedisTest, TimerLoopsOnThreeReplicas) {
  constexpr int kApprovals = 10;
  for (int i = 0; i < kApprovals; ++i) {
    ASSERT_TRUE(env_->StartOn(absl::StrCat("orgs/acme/reports/t", i, "/revisions/1")).ok());
  }
  env_->Advance(7300);
  std::vector<Env::Replica> replicas;
  std::vector<std::unique_ptr<TimerLoop>> loops;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(env_->NewReplica());
    loops.push_back(std::make_unique<TimerLoop>(replicas.back().core.get(), absl::Milliseconds(5),
                                                absl::Seconds(30), 2));
  }
  for (auto& l : loops) l->Start();
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (auto& l : loops) l->Stop();
  int64_t total = 0;
  for (auto& l : loops) total += l->fired();
  EXPECT_EQ(total, 2 * kApprovals);
  int events = 0;
  for (auto& e : env_->Events()) {
    events += e["type"] == "reminder" || e["type"] == "escalated";
  }
  EXPECT_EQ(events, 2 * kApprovals);
}

TEST_F(ApprovalRedisTest, TimersOfAFinishedStepNeverFire) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok());
  env_->Advance(100);
  s = env_->Do(Approver("director"), T::kApprove, *s);  // Office done early.
  ASSERT_TRUE(s.ok());
  auto members = env_->redis().Command({"ZRANGE", Store::TimersKey(testenv::kOrg), "0", "-1"});
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->Size(), 1u);
  EXPECT_EQ((*members)[0].Str(), absl::StrCat("acme|", s->id, "|2|remind"));

  env_->Advance(86400);  // Leaders' deadline.
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 1);
  auto events = env_->Events();
  ASSERT_EQ(events.back()["type"], "reminder");
  EXPECT_EQ(events.back()["step"], "leaders");
  EXPECT_EQ(events.back()["assignees"], "lead1,lead2");
  // A reminder does not make the approvers' view stale.
  EXPECT_TRUE(env_->Do(Approver("lead1"), T::kApprove, *s).ok());
}

TEST_F(ApprovalRedisTest, LeasedTimerIsRetakenAfterTheLease) {
  ASSERT_TRUE(env_->StartOn("orgs/acme/reports/r1/revisions/1").ok());
  env_->Advance(3700);
  // A replica claims the reminder and dies before firing it.
  auto store = Store(&env_->redis());
  auto claimed = store.ClaimDueTimers(env_->now(), absl::Seconds(30), 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 10), 0);
  env_->Advance(31);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 10), 1);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 10), 0);
}

}  // namespace
}  // namespace govreport::approval
