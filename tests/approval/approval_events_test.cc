// The approval service's events in the org's log (gr:{org}:events, read
// back with XRANGE and parsed as govreport.events.v1.Event): one
// APPROVAL_TRANSITION per decision, in order, written by the transition's
// own script, so a replayed request, a refused transition or a timer that
// another replica fired adds none; comments, urgings and reminders are not
// events; each org's events stay in its own log.
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approval/convert.h"
#include "common/events.h"
#include "gtest/gtest.h"
#include "tests/approval/approval_test_env.h"

namespace govreport::approval {
namespace {

namespace epb = ::govreport::events::v1;
using testenv::Admin;
using testenv::Approver;
using testenv::ChainDef;
using testenv::Drafter;
using testenv::Env;
using testenv::kT0;
using testenv::User;
using T = ActionType;
using C = absl::StatusCode;

class ApprovalEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = Env::Create();
    ASSERT_NE(env_, nullptr);
    env_->SetUpChain();
  }
  ApprovalCore& core() { return env_->core(); }

  // The actions of the org's log, in order.
  std::vector<std::string> Actions(const std::string& org = testenv::kOrg) {
    std::vector<std::string> out;
    for (const epb::Event& e : env_->OrgEvents(org)) {
      out.push_back(e.approval_transition().action());
    }
    return out;
  }

  // Every event of the log against the history entry it reports: same
  // action, step, actor and time; the approval's name and subject.
  void ExpectMatchesHistory(const ApprovalState& s) {
    auto history = core().GetHistory(Admin(), ApprovalResourceName(s.org, s.id), 1000, "");
    ASSERT_TRUE(history.ok()) << history.status();
    for (const epb::Event& e : env_->OrgEvents(s.org)) {
      const epb::ApprovalTransition& at = e.approval_transition();
      if (at.approval() != ApprovalResourceName(s.org, s.id)) continue;
      ASSERT_GE(at.history_sequence(), 1);
      ASSERT_LE(at.history_sequence(), static_cast<int64_t>(history->items.size()));
      const HistoryRecord& h = history->items[at.history_sequence() - 1];
      EXPECT_EQ(h.sequence, at.history_sequence());
      EXPECT_EQ(at.action(), h.action);
      EXPECT_EQ(at.step(), h.step);
      EXPECT_EQ(e.actor(), h.actor);
      EXPECT_EQ(e.time().seconds(), h.time_unix);
      EXPECT_EQ(at.subject(), s.subject);
      EXPECT_EQ(e.kind(), epb::EVENT_KIND_APPROVAL_TRANSITION);
      EXPECT_EQ(e.org(), absl::StrCat("orgs/", s.org));
    }
  }

  std::unique_ptr<Env> env_;
};

TEST_F(ApprovalEventsTest, WholeRunGivesEachTransitionInOrder) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1", "start-1");
  ASSERT_TRUE(s.ok()) << s.status();
  env_->Advance(60);
  s = env_->Do(Approver("director"), T::kApprove, *s, "同意", "", "", "ap-office");
  ASSERT_TRUE(s.ok()) << s.status();
  // Neither is an event: they change nothing an outside system acts on.
  ASSERT_TRUE(env_->Do(Drafter(), T::kUrge, *s, "请尽快").ok());
  ASSERT_TRUE(env_->Do(Approver("lead1"), T::kComment, *s, "已阅").ok());
  s = env_->Do(Approver("lead2"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("lead1"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  env_->Advance(60);
  s = env_->Do(Approver("secretary"), T::kApprove, *s, "签发", "", "", "ap-sign");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->status, ApprovalStatus::kApproved);

  std::vector<epb::Event> log = env_->OrgEvents();
  ASSERT_EQ(log.size(), 5u);
  struct Want {
    std::string action, step, actor, request_id;
    approval::v1::ApprovalState state;
    int64_t sequence, time;
  };
  const std::vector<Want> want = {
      {"started", "office", "drafter", "start-1", ToProto(ApprovalStatus::kInProgress), 1, kT0},
      {"approved", "office", "director", "ap-office", ToProto(ApprovalStatus::kInProgress), 2,
       kT0 + 60},
      {"approved", "leaders", "lead2", "", ToProto(ApprovalStatus::kInProgress), 5, kT0 + 60},
      {"approved", "leaders", "lead1", "", ToProto(ApprovalStatus::kInProgress), 6, kT0 + 60},
      {"approved", "sign", "secretary", "ap-sign", ToProto(ApprovalStatus::kApproved), 7,
       kT0 + 120},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    const epb::Event& e = log[i];
    const epb::ApprovalTransition& at = e.approval_transition();
    SCOPED_TRACE(i);
    EXPECT_EQ(e.kind(), epb::EVENT_KIND_APPROVAL_TRANSITION);
    ASSERT_EQ(e.payload_case(), epb::Event::kApprovalTransition);
    EXPECT_EQ(e.org(), "orgs/acme");
    EXPECT_EQ(e.actor(), want[i].actor);
    EXPECT_EQ(e.request_id(), want[i].request_id);
    EXPECT_EQ(e.time().seconds(), want[i].time);
    EXPECT_EQ(at.approval(), ApprovalResourceName("acme", s->id));
    EXPECT_EQ(at.subject(), "orgs/acme/reports/r1/revisions/1");
    EXPECT_EQ(at.action(), want[i].action);
    EXPECT_EQ(at.step(), want[i].step);
    EXPECT_EQ(at.state(), want[i].state);
    EXPECT_EQ(at.history_sequence(), want[i].sequence);
  }
  ExpectMatchesHistory(*s);
}

TEST_F(ApprovalEventsTest, ReplayedAndRefusedTransitionsAddNoEvent) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1", "start-1");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(env_->StartOn("orgs/acme/reports/r1/revisions/1", "start-1").ok());
  EXPECT_EQ(env_->OrgEvents().size(), 1u);

  auto a = env_->Do(Approver("director"), T::kApprove, *s, "", "", "", "ap-1");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(env_->Do(Approver("director"), T::kApprove, *s, "", "", "", "ap-1").ok());
  EXPECT_EQ(env_->OrgEvents().size(), 2u);

  // Refused before the script: a stale expected_version, a task that is
  // not the caller's, a second start on the same subject.
  EXPECT_EQ(env_->Do(Approver("lead1"), T::kApprove, *s).status().code(), C::kAborted);
  EXPECT_FALSE(env_->Do(Approver("director"), T::kApprove, *a).ok());
  EXPECT_EQ(env_->StartOn("orgs/acme/reports/r1/revisions/1").status().code(),
            C::kFailedPrecondition);
  EXPECT_EQ(env_->OrgEvents().size(), 2u);

  // Refused by the script itself: a withdrawal decided on version 1 while
  // the stored approval is at version 2 answers CONFLICT and writes
  // nothing, its event included.
  Action withdraw;
  withdraw.type = T::kWithdraw;
  withdraw.actor = Actor{"drafter", false, false, false, "", ""};
  withdraw.comment = "撤回";
  auto t = Apply(*s, withdraw, {}, env_->now());
  ASSERT_TRUE(t.ok()) << t.status();
  t->entry.sequence = s->history_length + 1;
  CommitInput in;
  in.before = &*s;
  in.transition = &*t;
  auto w = env_->store().Commit(in);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->outcome, Outcome::kConflict);
  EXPECT_EQ(env_->OrgEvents().size(), 2u);

  // A finished approval refuses everything.
  auto done = env_->Do(Approver("lead1"), T::kReject, *a, "退回重拟");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(env_->Do(Approver("lead2"), T::kReject, *done, "再退").status().code(),
            C::kFailedPrecondition);
  EXPECT_EQ(Actions(), (std::vector<std::string>{"started", "approved", "rejected"}));
  EXPECT_EQ(env_->OrgEvents().back().approval_transition().state(),
            ToProto(ApprovalStatus::kRejected));
}

TEST_F(ApprovalEventsTest, EveryDecisionIsAnEventCommentsAndRemindersAreNot) {
  ASSERT_TRUE(core().SetRoleMembers(Admin(), "orgs/acme/roles/clerks", {"clerk"}, "").ok());
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok());
  s = env_->Do(Approver("director"), T::kTransfer, *s, "出差", "deputy");
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("deputy"), T::kAddSigner, *s, "", "legal");
  ASSERT_TRUE(s.ok()) << s.status();
  ActionRequest reassign;
  reassign.name = ApprovalResourceName("acme", s->id);
  reassign.expected_version = s->version;
  reassign.target_user = "clerk";
  reassign.from_user = "legal";
  s = core().Act(Admin(), T::kReassign, reassign);
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("deputy"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("clerk"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->current().name, "leaders");
  ASSERT_TRUE(env_->Do(Approver("lead1"), T::kComment, *s, "已阅").ok());
  s = env_->Do(Approver("lead1"), T::kReject, *s, "数据需核实", "", "office");
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("director"), T::kReject, *s, "退回重拟");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{"started", "transferred", "signer_added", "reassigned",
                                      "approved", "approved", "returned", "rejected"}));
  EXPECT_EQ(env_->OrgEvents().back().approval_transition().state(),
            ToProto(ApprovalStatus::kRejected));

  // An admin's cancellation is one too (the approval ends WITHDRAWN).
  auto s2 = env_->StartOn("orgs/acme/reports/r2/revisions/1");
  ASSERT_TRUE(s2.ok());
  ActionRequest cancel;
  cancel.name = ApprovalResourceName("acme", s2->id);
  cancel.expected_version = s2->version;
  cancel.comment = "作废";
  ASSERT_TRUE(core().Act(Admin(), T::kCancel, cancel).ok());
  std::vector<epb::Event> log = env_->OrgEvents();
  EXPECT_EQ(log.back().approval_transition().action(), "cancelled");
  EXPECT_EQ(log.back().actor(), "boss");
  EXPECT_EQ(log.back().approval_transition().state(), ToProto(ApprovalStatus::kWithdrawn));
  ExpectMatchesHistory(*s);
}

TEST_F(ApprovalEventsTest, TimerEscalationIsOneEventBySystem) {
  auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(s.ok());
  env_->Advance(3700);  // Past the reminder (3600), not the escalation (7200).
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 1);
  EXPECT_EQ(Actions(), std::vector<std::string>{"started"});
  env_->Advance(3600);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 1);
  std::vector<epb::Event> log = env_->OrgEvents();
  ASSERT_EQ(log.size(), 2u);
  const epb::Event& e = log.back();
  EXPECT_EQ(e.actor(), "system");
  EXPECT_EQ(e.request_id(), "");
  EXPECT_EQ(e.time().seconds(), env_->now());
  EXPECT_EQ(e.approval_transition().action(), "escalated");
  EXPECT_EQ(e.approval_transition().step(), "office");
  EXPECT_EQ(e.approval_transition().state(), ToProto(ApprovalStatus::kInProgress));
  EXPECT_EQ(e.approval_transition().history_sequence(), 3);
  // Fired once: nothing more later.
  env_->Advance(3600);
  EXPECT_EQ(*core().FireDueTimers(env_->now(), absl::Seconds(30), 100), 0);
  EXPECT_EQ(env_->OrgEvents().size(), 2u);
}

// Three replicas race for the same due timers: a timer another replica
// fired is refused by the script (GONE), so each escalation is one event.
TEST_F(ApprovalEventsTest, RacingReplicasEscalateEachApprovalOnce) {
  constexpr int kApprovals = 12;
  for (int i = 0; i < kApprovals; ++i) {
    ASSERT_TRUE(env_->StartOn(absl::StrCat("orgs/acme/reports/t", i, "/revisions/1")).ok());
  }
  env_->Advance(7300);
  std::vector<Env::Replica> replicas;
  replicas.reserve(3);
  for (int i = 0; i < 3; ++i) replicas.push_back(env_->NewReplica());
  std::vector<std::thread> threads;
  threads.reserve(replicas.size());
  for (auto& r : replicas) {
    threads.emplace_back([&, c = r.core.get()] {
      for (int round = 0; round < 100; ++round) {
        ASSERT_TRUE(c->FireDueTimers(env_->now(), absl::Seconds(30), 2).ok());
        if (env_->Count({"ZCARD", Store::TimersKey(testenv::kOrg)}) == 0) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, int> escalations;
  for (const epb::Event& e : env_->OrgEvents()) {
    const epb::ApprovalTransition& at = e.approval_transition();
    EXPECT_NE(at.action(), "reminder");
    if (at.action() == "escalated") ++escalations[at.approval()];
  }
  EXPECT_EQ(escalations.size(), static_cast<size_t>(kApprovals));
  for (const auto& [name, n] : escalations) EXPECT_EQ(n, 1) << name;
}

TEST_F(ApprovalEventsTest, EachOrgHasItsOwnLog) {
  auth::Principal beta_admin = User("boss", {"admin"}, "beta");
  ASSERT_TRUE(core().SetRoleMembers(beta_admin, "orgs/beta/roles/leaders", {"lead1"}, "").ok());
  ASSERT_TRUE(core().CreateWorkflow(beta_admin, "orgs/beta", "annual", ChainDef(), "").ok());
  StartRequest req;
  req.parent = "orgs/beta";
  req.workflow = "orgs/beta/workflows/annual";
  req.subject = "orgs/beta/reports/r1/revisions/1";
  auto b = core().StartApproval(User("drafter", {"drafter"}, "beta"), req);
  ASSERT_TRUE(b.ok()) << b.status();
  auto a = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(env_->Do(Approver("director"), T::kApprove, *a).ok());
  ActionRequest approve;
  approve.name = ApprovalResourceName("beta", b->id);
  approve.expected_version = b->version;
  ASSERT_TRUE(core().Act(User("director", {"approver"}, "beta"), T::kApprove, approve).ok());

  std::vector<epb::Event> acme = env_->OrgEvents("acme");
  std::vector<epb::Event> beta = env_->OrgEvents("beta");
  ASSERT_EQ(acme.size(), 2u);
  ASSERT_EQ(beta.size(), 2u);
  for (const epb::Event& e : acme) {
    EXPECT_EQ(e.org(), "orgs/acme");
    EXPECT_EQ(e.approval_transition().approval(), ApprovalResourceName("acme", a->id));
  }
  for (const epb::Event& e : beta) {
    EXPECT_EQ(e.org(), "orgs/beta");
    EXPECT_EQ(e.approval_transition().approval(), ApprovalResourceName("beta", b->id));
  }
  EXPECT_EQ(env_->Count({"EXISTS", events::StreamKey("gamma")}), 0);
}

}  // namespace
}  // namespace govreport::approval
