// Unit tests of the pure parts: workflow validation, the state machine over
// every action in every state, rules of duty, timers and inbox diffs, the
// history hash chain and resource names. No Redis, no network.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approval/convert.h"
#include "approval/domain.h"
#include "approval/history.h"
#include "approval/state_machine.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace govreport::approval {
namespace {

constexpr int64_t kT0 = 1700000000;

StepDef MakeStep(std::string name, StepKind kind, StepMode mode, std::vector<std::string> users,
                 std::vector<std::string> roles, int64_t due = 0, int64_t escalate = 0) {
  StepDef st;
  st.name = std::move(name);
  st.display_name = st.name;
  st.kind = kind;
  st.mode = mode;
  st.users = std::move(users);
  st.roles = std::move(roles);
  st.due_seconds = due;
  st.escalate_seconds = escalate;
  return st;
}

// 拟稿 -> 办公室主任审核 -> 分管领导审核 (会签, role) -> 党组书记签发.
WorkflowDef Chain() {
  WorkflowDef wf;
  wf.org = "acme";
  wf.id = "annual";
  wf.revision = 3;
  wf.steps = {
      MakeStep("office", StepKind::kReview, StepMode::kAny, {"director"}, {}, 3600, 7200),
      MakeStep("leaders", StepKind::kReview, StepMode::kAll, {}, {"leaders"}, 86400),
      MakeStep("sign", StepKind::kSignOff, StepMode::kAny, {"secretary"}, {}),
  };
  return wf;
}

const RoleDirectory& Roles() {
  static const RoleDirectory* r = new RoleDirectory{{"leaders", {"lead1", "lead2"}}};
  return *r;
}

Actor User(std::string subject, bool approver = true) {
  return Actor{std::move(subject), approver, false, false, /*via=*/""};
}
Actor Admin() { return Actor{"boss", false, true, false, /*via=*/""}; }
Actor System() { return Actor{"system", false, false, true, /*via=*/""}; }

ApprovalState Started(const WorkflowDef& wf = Chain(), const RoleDirectory& roles = Roles()) {
  StartInput in;
  in.org = "acme";
  in.id = "a1";
  in.workflow = wf;
  in.subject = "orgs/acme/reports/r1/revisions/2";
  in.title = "2023年度报告";
  in.initiator = "drafter";
  auto t = Start(in, roles, kT0);
  EXPECT_TRUE(t.ok()) << t.status();
  return t->next;
}

Action Act(ActionType type, Actor actor, std::string comment = "", std::string target = "",
           std::string return_to = "") {
  Action a;
  a.type = type;
  a.actor = std::move(actor);
  a.comment = std::move(comment);
  a.target_user = std::move(target);
  a.return_to_step = std::move(return_to);
  return a;
}

ApprovalState Must(const ApprovalState& s, const Action& a, int64_t now = kT0 + 10) {
  auto t = Apply(s, a, Roles(), now);
  EXPECT_TRUE(t.ok()) << ActionName(a.type) << " by " << a.actor.subject << ": " << t.status();
  return t.ok() ? t->next : s;
}

// Named states the table starts from.
std::map<std::string, ApprovalState> States() {
  std::map<std::string, ApprovalState> m;
  ApprovalState fresh = Started();
  m["fresh"] = fresh;
  ApprovalState leaders = Must(fresh, Act(ActionType::kApprove, User("director")));
  m["leaders"] = leaders;
  ApprovalState partial = Must(leaders, Act(ActionType::kApprove, User("lead1")));
  m["leaders_partial"] = partial;
  ApprovalState signoff = Must(partial, Act(ActionType::kApprove, User("lead2")));
  m["signoff"] = signoff;
  m["approved"] = Must(signoff, Act(ActionType::kApprove, User("secretary")));
  m["rejected"] = Must(fresh, Act(ActionType::kReject, User("director"), "重写"));
  m["withdrawn"] = Must(fresh, Act(ActionType::kWithdraw, User("drafter")));
  return m;
}

struct Case {
  std::string state;
  ActionType type;
  Actor actor;
  std::string comment;
  std::string target;
  std::string return_to;
  absl::StatusCode code;
  // On success: the event and the step / status after (refusals leave them out).
  std::string event{};
  std::string step_after{};
  ApprovalStatus status_after = ApprovalStatus::kInProgress;
  int64_t activation = -1;  // Remind / escalate: -1 means "current".
};

using C = absl::StatusCode;
using T = ActionType;
constexpr auto kOk = C::kOk;
constexpr auto kPerm = C::kPermissionDenied;
constexpr auto kPre = C::kFailedPrecondition;
constexpr auto kArg = C::kInvalidArgument;
constexpr auto kIn = ApprovalStatus::kInProgress;

// ---- fresh: office step, no decision yet.
std::vector<Case> FreshCases() {
  return {
      {"fresh", T::kApprove, User("director"), "", "", "", kOk, "step_approved", "leaders"},
      {"fresh", T::kApprove, User("drafter"), "", "", "", kPerm},
      {"fresh", T::kApprove, User("lead1"), "", "", "", kPerm},
      {"fresh", T::kApprove, Admin(), "", "", "", kPerm},
      {"fresh", T::kReject, User("director"), "数据有误", "", "", kOk, "rejected", "office",
       ApprovalStatus::kRejected},
      {"fresh", T::kReject, User("director"), "  ", "", "", kArg},
      {"fresh", T::kReject, User("director"), "x", "", "office", kArg},
      {"fresh", T::kReject, User("director"), "x", "", "nope", kArg},
      {"fresh", T::kReject, User("lead1"), "x", "", "", kPerm},
      {"fresh", T::kWithdraw, User("drafter"), "", "", "", kOk, "withdrawn", "office",
       ApprovalStatus::kWithdrawn},
      {"fresh", T::kWithdraw, User("director"), "", "", "", kPerm},
      {"fresh", T::kTransfer, User("director"), "", "deputy", "", kOk, "transferred", "office"},
      {"fresh", T::kTransfer, User("director"), "", "drafter", "", kPre},
      {"fresh", T::kTransfer, User("director"), "", "director", "", kArg},
      {"fresh", T::kTransfer, User("director"), "", "bad user", "", kArg},
      {"fresh", T::kTransfer, User("lead1"), "", "deputy", "", kPerm},
      {"fresh", T::kAddSigner, User("director"), "", "deputy", "", kOk, "signer_added", "office"},
      {"fresh", T::kAddSigner, User("director"), "", "drafter", "", kPre},
      {"fresh", T::kAddSigner, User("drafter"), "", "deputy", "", kPerm},
      {"fresh", T::kUrge, User("drafter"), "请尽快", "", "", kOk, "urged", "office"},
      {"fresh", T::kUrge, Admin(), "", "", "", kOk, "urged", "office"},
      {"fresh", T::kUrge, User("lead1"), "", "", "", kPerm},
      {"fresh", T::kComment, User("director"), "看过了", "", "", kOk, "commented", "office"},
      {"fresh", T::kComment, User("drafter"), "补充材料", "", "", kOk, "commented", "office"},
      {"fresh", T::kComment, User("outsider"), "hi", "", "", kPerm},
      {"fresh", T::kComment, User("drafter"), "", "", "", kArg},
      {"fresh", T::kRemind, System(), "", "", "", kOk, "reminder", "office"},
      {"fresh", T::kRemind, System(), "", "", "", kPre, "", "", kIn, /*activation=*/0},
      {"fresh", T::kRemind, User("director"), "", "", "", kPerm},
      {"fresh", T::kEscalate, System(), "", "", "", kOk, "escalated", "office"},
  };
}

// ---- leaders: ALL step via role; the director decided already. Then
// leaders_partial: lead1 approved, lead2 pending.
std::vector<Case> LeadersCases() {
  return {
      {"leaders", T::kApprove, User("lead1"), "", "", "", kOk, "task_approved", "leaders"},
      {"leaders", T::kApprove, User("lead1", /*approver=*/false), "", "", "", kPerm},
      {"leaders", T::kApprove, User("director"), "", "", "", kPerm},
      {"leaders", T::kReject, User("lead2"), "再议", "", "office", kOk, "returned", "office"},
      {"leaders", T::kReject, User("lead2"), "再议", "", "", kOk, "rejected", "leaders",
       ApprovalStatus::kRejected},
      {"leaders", T::kReject, User("lead2"), "再议", "", "leaders", kArg},
      {"leaders", T::kWithdraw, User("drafter"), "", "", "", kPre},
      {"leaders", T::kTransfer, User("lead1"), "", "director", "", kPre},
      {"leaders", T::kTransfer, User("lead1"), "", "lead3", "", kOk, "transferred", "leaders"},
      {"leaders", T::kAddSigner, User("lead1"), "", "lead2", "", kPre},
      {"leaders", T::kAddSigner, User("lead1"), "", "lead3", "", kOk, "signer_added", "leaders"},
      {"leaders", T::kUrge, User("drafter"), "", "", "", kOk, "urged", "leaders"},
      {"leaders", T::kComment, User("director"), "前一步意见", "", "", kOk, "commented", "leaders"},
      {"leaders", T::kRemind, System(), "", "", "", kOk, "reminder", "leaders"},
      {"leaders", T::kEscalate, System(), "", "", "", kOk, "escalated", "leaders"},

      {"leaders_partial", T::kApprove, User("lead1"), "", "", "", kPre},
      {"leaders_partial", T::kApprove, User("lead2"), "", "", "", kOk, "step_approved", "sign"},
      {"leaders_partial", T::kReject, User("lead2"), "不同意", "", "", kOk, "rejected", "leaders",
       ApprovalStatus::kRejected},
      {"leaders_partial", T::kReject, User("lead1"), "改主意", "", "", kPre},
      {"leaders_partial", T::kTransfer, User("lead1"), "", "lead3", "", kPre},
      {"leaders_partial", T::kTransfer, User("lead2"), "", "lead3", "", kOk, "transferred",
       "leaders"},
      {"leaders_partial", T::kWithdraw, User("drafter"), "", "", "", kPre},
      {"leaders_partial", T::kComment, User("lead1"), "同意", "", "", kOk, "commented", "leaders"},
  };
}

// ---- signoff.
std::vector<Case> SignoffCases() {
  return {
      {"signoff", T::kApprove, User("secretary"), "签发", "", "", kOk, "approved", "sign",
       ApprovalStatus::kApproved},
      {"signoff", T::kApprove, User("lead2"), "", "", "", kPerm},
      {"signoff", T::kReject, User("secretary"), "重审", "", "leaders", kOk, "returned", "leaders"},
      {"signoff", T::kReject, User("secretary"), "重审", "", "office", kOk, "returned", "office"},
      {"signoff", T::kTransfer, User("secretary"), "", "lead1", "", kPre},
      {"signoff", T::kWithdraw, User("drafter"), "", "", "", kPre},
      {"signoff", T::kUrge, User("drafter"), "", "", "", kOk, "urged", "sign"},
  };
}

std::vector<Case> Table() {
  std::vector<Case> t = FreshCases();
  for (const std::vector<Case>& more : {LeadersCases(), SignoffCases()}) {
    t.insert(t.end(), more.begin(), more.end());
  }
  // ---- finished states: every action is refused.
  for (const char* st : {"approved", "rejected", "withdrawn"}) {
    for (T type : {T::kApprove, T::kReject, T::kWithdraw, T::kTransfer, T::kAddSigner, T::kUrge,
                   T::kComment, T::kRemind, T::kEscalate}) {
      for (const Actor& who :
           {User("secretary"), User("director"), User("drafter"), Admin(), System()}) {
        t.push_back({st, type, who, "x", "deputy", "office", kPre});
      }
    }
  }
  return t;
}

TEST(StateMachineTable, EveryActionInEveryState) {
  std::map<std::string, ApprovalState> states = States();
  int n = 0;
  for (const Case& c : Table()) {
    SCOPED_TRACE(absl::StrCat("case ", n++, ": ", c.state, " / ", ActionName(c.type), " by ",
                              c.actor.subject));
    const ApprovalState& before = states.at(c.state);
    std::string snapshot = ToProto(before).SerializeAsString();
    Action a = Act(c.type, c.actor, c.comment, c.target, c.return_to);
    a.activation = c.activation >= 0 ? c.activation : before.activation;
    auto t = Apply(before, a, Roles(), kT0 + 100);
    // Pure: the input state never changes, whatever the outcome.
    EXPECT_EQ(ToProto(before).SerializeAsString(), snapshot);
    ASSERT_EQ(t.status().code(), c.code) << t.status();
    if (!t.ok()) {
      EXPECT_FALSE(t.status().message().empty());
      continue;
    }
    EXPECT_EQ(t->event_type, c.event);
    EXPECT_EQ(t->next.status, c.status_after);
    EXPECT_EQ(t->next.current().name, c.step_after);
    EXPECT_EQ(t->entry.actor, c.actor.subject);
    bool history_only = c.type == T::kUrge || c.type == T::kComment || c.type == T::kRemind ||
                        c.type == T::kEscalate;
    EXPECT_EQ(t->state_changed, !history_only);
    EXPECT_EQ(t->next.version, before.version + (history_only ? 0 : 1));
    EXPECT_EQ(t->entry.version, t->next.version);
  }
}

TEST(StateMachine, StartResolvesRolesAndExcludesInitiator) {
  WorkflowDef wf = Chain();
  wf.steps[0].users = {"director", "drafter"};
  ApprovalState s = Started(wf);
  EXPECT_EQ(s.version, 1);
  EXPECT_EQ(s.activation, 1);
  EXPECT_EQ(s.PendingUsers(), std::vector<std::string>{"director"});
  EXPECT_EQ(s.due_unix, kT0 + 3600);
  EXPECT_EQ(s.escalate_unix, kT0 + 7200);
  EXPECT_EQ(s.workflow_revision, 3);

  ApprovalState leaders = Must(s, Act(T::kApprove, User("director")));
  ASSERT_EQ(leaders.tasks.size(), 2u);
  EXPECT_EQ(leaders.tasks[0].via_role, "leaders");
  EXPECT_TRUE(leaders.tasks[0].required);
  EXPECT_EQ(leaders.due_unix, kT0 + 10 + 86400);
  EXPECT_EQ(leaders.escalate_unix, 0);
}

TEST(StateMachine, StartRefusesRoleWithoutMembers) {
  StartInput in;
  in.org = "acme";
  in.id = "a1";
  in.workflow = Chain();
  in.subject = "orgs/acme/reports/r1/revisions/1";
  in.initiator = "drafter";
  auto t = Start(in, RoleDirectory{{"leaders", {}}}, kT0);
  EXPECT_EQ(t.status().code(), kPre);
  EXPECT_NE(t.status().message().find("leaders"), std::string::npos);
  t = Start(in, RoleDirectory{}, kT0);
  EXPECT_EQ(t.status().code(), kPre);
}

TEST(StateMachine, StartRefusesStepOnlyTheInitiatorHolds) {
  StartInput in;
  in.org = "acme";
  in.id = "a1";
  in.workflow = Chain();
  in.workflow.steps[2].users = {"drafter"};
  in.subject = "orgs/acme/reports/r1/revisions/1";
  in.initiator = "drafter";
  EXPECT_EQ(Start(in, Roles(), kT0).status().code(), kPre);
}

TEST(StateMachine, StartValidatesSubject) {
  StartInput in;
  in.org = "acme";
  in.id = "a1";
  in.workflow = Chain();
  in.initiator = "drafter";
  for (const std::string& bad : std::vector<std::string>{
           "", "orgs/other/reports/r1/revisions/1", std::string("a\nb"), std::string(2000, 'x')}) {
    in.subject = bad;
    EXPECT_EQ(Start(in, Roles(), kT0).status().code(), kArg) << bad;
  }
}

TEST(StateMachine, AnyModeFirstApprovalCompletes) {
  WorkflowDef wf = Chain();
  wf.steps[0].users = {"director", "deputy"};
  ApprovalState s = Must(Started(wf), Act(T::kApprove, User("deputy")));
  EXPECT_EQ(s.current().name, "leaders");
  EXPECT_EQ(s.steps[0].approvers, std::vector<std::string>{"deputy"});
}

TEST(StateMachine, AllModeNeedsEveryone) {
  ApprovalState s = States()["leaders"];
  s = Must(s, Act(T::kApprove, User("lead2")));
  EXPECT_EQ(s.current().name, "leaders");
  EXPECT_EQ(s.PendingUsers(), std::vector<std::string>{"lead1"});
  s = Must(s, Act(T::kApprove, User("lead1")));
  EXPECT_EQ(s.current().name, "sign");
  EXPECT_EQ(s.steps[1].approvers, (std::vector<std::string>{"lead1", "lead2"}));
}

TEST(StateMachine, AddedSignerMustSignEvenInAnyStep) {
  ApprovalState s = Started();
  s = Must(s, Act(T::kAddSigner, User("director"), "", "legal"));
  s = Must(s, Act(T::kApprove, User("director")));
  EXPECT_EQ(s.current().name, "office");  // Waits for the extra signer.
  EXPECT_EQ(s.PendingUsers(), std::vector<std::string>{"legal"});
  s = Must(s, Act(T::kApprove, User("legal")));
  EXPECT_EQ(s.current().name, "leaders");
  EXPECT_EQ(s.steps[0].approvers, (std::vector<std::string>{"director", "legal"}));
}

TEST(StateMachine, TransferHandsTheTaskOver) {
  ApprovalState s = Must(Started(), Act(T::kTransfer, User("director"), "出差", "deputy"));
  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_EQ(s.tasks[0].state, TaskState::kTransferred);
  EXPECT_EQ(s.tasks[0].handed_to, "deputy");
  EXPECT_EQ(s.tasks[1].assigned_by, "director");
  EXPECT_EQ(s.PendingUsers(), std::vector<std::string>{"deputy"});
  // The one who handed it off can no longer act.
  EXPECT_EQ(Apply(s, Act(T::kApprove, User("director")), Roles(), kT0).status().code(), kPerm);
  s = Must(s, Act(T::kApprove, User("deputy")));
  EXPECT_EQ(s.current().name, "leaders");
}

TEST(StateMachine, ConsecutiveStepsNeedDifferentPeople) {
  WorkflowDef wf = Chain();
  wf.steps[1].roles = {};
  wf.steps[1].users = {"director"};
  ApprovalState s = Started(wf);
  auto t = Apply(s, Act(T::kApprove, User("director")), Roles(), kT0);
  EXPECT_EQ(t.status().code(), kPre);
  EXPECT_NE(t.status().message().find("previous step"), std::string::npos);

  wf.allow_consecutive_steps = true;
  s = Started(wf);
  s = Must(s, Act(T::kApprove, User("director")));
  EXPECT_EQ(s.current().name, "leaders");
  EXPECT_EQ(s.PendingUsers(), std::vector<std::string>{"director"});
}

TEST(StateMachine, ConsecutiveRuleDropsOnlyThePreviousApprover) {
  RoleDirectory roles = {{"leaders", {"director", "lead1"}}};
  ApprovalState s = Started(Chain(), roles);
  auto t = Apply(s, Act(T::kApprove, User("director")), roles, kT0);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->next.PendingUsers(), std::vector<std::string>{"lead1"});
}

TEST(StateMachine, ActivationFailsWhenRoleEmptiedMeanwhile) {
  ApprovalState s = Started();
  auto t = Apply(s, Act(T::kApprove, User("director")), RoleDirectory{{"leaders", {}}}, kT0);
  EXPECT_EQ(t.status().code(), kPre);
  EXPECT_NE(t.status().message().find("role 'leaders'"), std::string::npos);
}

TEST(StateMachine, ReturnToEarlierStepResetsLaterApprovals) {
  ApprovalState s = States()["signoff"];
  s = Must(s, Act(T::kReject, User("secretary"), "重审", "", "office"));
  EXPECT_EQ(s.current().name, "office");
  EXPECT_EQ(s.status, ApprovalStatus::kInProgress);
  EXPECT_TRUE(s.steps[0].approvers.empty());
  EXPECT_TRUE(s.steps[1].approvers.empty());
  EXPECT_EQ(s.last_comment, "重审");
  EXPECT_EQ(s.activation, 4);
  // And the chain runs again from there.
  s = Must(s, Act(T::kApprove, User("director")));
  EXPECT_EQ(s.current().name, "leaders");
}

TEST(StateMachine, ApprovedCarriesSignerAndTime) {
  ApprovalState s = States()["signoff"];
  auto t = Apply(s, Act(T::kApprove, User("secretary")), Roles(), kT0 + 500);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->next.status, ApprovalStatus::kApproved);
  EXPECT_EQ(t->next.signer, "secretary");
  EXPECT_EQ(t->next.sign_off_unix, kT0 + 500);
  EXPECT_EQ(t->next.finish_unix, kT0 + 500);
  t->entry.sequence = 9;
  t->entry.hash = "abc";
  EventFields f = FullEventFields(*t);
  std::map<std::string, std::string> m(f.begin(), f.end());
  EXPECT_EQ(m["type"], "approved");
  EXPECT_EQ(m["approval"], "orgs/acme/approvals/a1");
  EXPECT_EQ(m["subject"], "orgs/acme/reports/r1/revisions/2");
  EXPECT_EQ(m["org"], "acme");
  EXPECT_EQ(m["signer"], "secretary");
  EXPECT_EQ(m["sign_off_unix"], absl::StrCat(kT0 + 500));
  EXPECT_EQ(m["sign_off_time"], "2023-11-14T22:21:40Z");
  EXPECT_EQ(m["history_sequence"], "9");
  EXPECT_EQ(m["history_hash"], "abc");
  EXPECT_EQ(m["state"], "APPROVED");
}

// 会签 at sign-off (an ALL step): every signer, by the display name of the
// token they approved with, in the order of `signers`; a token without a
// display name gives the subject.
TEST(StateMachine, ApprovedCarriesSignerNamesOfACountersignedSignOff) {
  WorkflowDef wf = Chain();
  wf.steps.back() =
      MakeStep("sign", StepKind::kSignOff, StepMode::kAll, {"secretary", "deputy", "chief"}, {});
  ApprovalState s = Started(wf);
  s = Must(s, Act(ActionType::kApprove, User("director")));
  s = Must(s, Act(ActionType::kApprove, User("lead1")));
  s = Must(s, Act(ActionType::kApprove, User("lead2")));
  Actor deputy = User("deputy");
  deputy.display_name = "李四, 副局长";
  s = Must(s, Act(ActionType::kApprove, deputy));
  s = Must(s, Act(ActionType::kApprove, User("chief")));
  Actor secretary = User("secretary");
  secretary.display_name = "张三";
  auto t = Apply(s, Act(ActionType::kApprove, secretary), Roles(), kT0 + 500);
  ASSERT_TRUE(t.ok()) << t.status();
  EventFields f = FullEventFields(*t);
  std::map<std::string, std::string> m(f.begin(), f.end());
  EXPECT_EQ(m["type"], "approved");
  EXPECT_EQ(m["signers"], "secretary,deputy,chief");
  EXPECT_EQ(m["signer_names"], R"(["张三","李四, 副局长","chief"])");
  // Kept on the stored tasks, so a later read can tell them too.
  int named = 0;
  for (const Task& task : t->next.tasks) named += task.display_name.empty() ? 0 : 1;
  EXPECT_EQ(named, 2);
}

TEST(StateMachine, TimersFollowActivations) {
  ApprovalState s0 = Started();
  TimerChange c = TimerDiff(nullptr, s0);
  ASSERT_EQ(c.add.size(), 2u);
  EXPECT_EQ(c.add[0].first, "acme|a1|1|remind");
  EXPECT_EQ(c.add[0].second, kT0 + 3600);
  EXPECT_EQ(c.add[1].first, "acme|a1|1|escalate");
  EXPECT_TRUE(c.remove.empty());

  // A transfer keeps the activation: no timer change.
  ApprovalState moved = Must(s0, Act(T::kTransfer, User("director"), "", "deputy"));
  c = TimerDiff(&s0, moved);
  EXPECT_TRUE(c.add.empty() && c.remove.empty());

  ApprovalState s1 = Must(s0, Act(T::kApprove, User("director")));
  c = TimerDiff(&s0, s1);
  EXPECT_EQ(c.remove, (std::vector<std::string>{"acme|a1|1|remind", "acme|a1|1|escalate"}));
  ASSERT_EQ(c.add.size(), 1u);  // The leaders step has no escalation.
  EXPECT_EQ(c.add[0].first, "acme|a1|2|remind");

  ApprovalState done = Must(s0, Act(T::kWithdraw, User("drafter")));
  c = TimerDiff(&s0, done);
  EXPECT_EQ(c.remove.size(), 2u);
  EXPECT_TRUE(c.add.empty());

  auto ref = ParseTimerMember("acme|a1|2|escalate");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->activation, 2);
  EXPECT_EQ(ref->kind, TimerKind::kEscalate);
  EXPECT_FALSE(ParseTimerMember("acme|a1|x|remind").ok());
  EXPECT_FALSE(ParseTimerMember("acme|a1|1").ok());
  EXPECT_TRUE(TimerApplies(s0, 1));
  EXPECT_FALSE(TimerApplies(s1, 1));
  EXPECT_FALSE(TimerApplies(done, 1));
}

TEST(StateMachine, InboxFollowsPendingTasks) {
  ApprovalState s0 = Started();
  InboxChange c = InboxDiff(nullptr, s0);
  EXPECT_EQ(c.add, std::vector<std::string>{"director"});
  ApprovalState s1 = Must(s0, Act(T::kApprove, User("director")));
  c = InboxDiff(&s0, s1);
  EXPECT_EQ(c.add, (std::vector<std::string>{"lead1", "lead2"}));
  EXPECT_EQ(c.remove, std::vector<std::string>{"director"});
  ApprovalState s2 = Must(s1, Act(T::kApprove, User("lead1")));
  c = InboxDiff(&s1, s2);
  EXPECT_TRUE(c.add.empty());
  EXPECT_EQ(c.remove, std::vector<std::string>{"lead1"});
  ApprovalState s3 = Must(s2, Act(T::kReject, User("lead2"), "no"));
  c = InboxDiff(&s2, s3);
  EXPECT_EQ(c.remove, std::vector<std::string>{"lead2"});
}

// ------------------------------------------------------------ validation

TEST(WorkflowValidation, Table) {
  struct V {
    const char* what;
    std::function<void(WorkflowDef&)> edit;
    bool ok;
  };
  std::vector<V> cases = {
      {"valid", [](WorkflowDef&) {}, true},
      {"no steps", [](WorkflowDef& w) { w.steps.clear(); }, false},
      {"last is not sign-off", [](WorkflowDef& w) { w.steps.back().kind = StepKind::kReview; },
       false},
      {"sign-off in the middle", [](WorkflowDef& w) { w.steps[0].kind = StepKind::kSignOff; },
       false},
      {"one sign-off step",
       [](WorkflowDef& w) { w.steps.erase(w.steps.begin(), w.steps.end() - 1); }, true},
      {"no assignee",
       [](WorkflowDef& w) {
         w.steps[0].users.clear();
         w.steps[0].roles.clear();
       },
       false},
      {"duplicate step name", [](WorkflowDef& w) { w.steps[1].name = "office"; }, false},
      {"bad step name", [](WorkflowDef& w) { w.steps[1].name = "a b"; }, false},
      {"empty step name", [](WorkflowDef& w) { w.steps[1].name = ""; }, false},
      {"bad user", [](WorkflowDef& w) { w.steps[0].users = {"a,b"}; }, false},
      {"duplicate user",
       [](WorkflowDef& w) {
         w.steps[0].users = {"x", "x"};
       },
       false},
      {"bad role", [](WorkflowDef& w) { w.steps[1].roles = {"Leaders!"}; }, false},
      {"negative due", [](WorkflowDef& w) { w.steps[0].due_seconds = -5; }, false},
      {"tiny due", [](WorkflowDef& w) { w.steps[0].due_seconds = 5; }, false},
      {"huge due", [](WorkflowDef& w) { w.steps[0].due_seconds = 400LL * 86400; }, false},
      {"escalate before due", [](WorkflowDef& w) { w.steps[0].escalate_seconds = 1800; }, false},
      {"escalate without due",
       [](WorkflowDef& w) {
         w.steps[0].due_seconds = 0;
         w.steps[0].escalate_seconds = 7200;
       },
       false},
      {"no deadlines",
       [](WorkflowDef& w) {
         for (auto& s : w.steps) s.due_seconds = s.escalate_seconds = 0;
       },
       true},
      {"too many steps",
       [](WorkflowDef& w) {
         StepDef s = w.steps[0];
         w.steps.clear();
         for (int i = 0; i < 21; ++i) {
           s.name = absl::StrCat("s", i);
           w.steps.push_back(s);
         }
         w.steps.back().kind = StepKind::kSignOff;
       },
       false},
  };
  for (const V& v : cases) {
    WorkflowDef wf = Chain();
    v.edit(wf);
    absl::Status s = ValidateWorkflow(wf);
    EXPECT_EQ(s.ok(), v.ok) << v.what << ": " << s;
    if (!v.ok) {
      EXPECT_EQ(s.code(), kArg) << v.what;
    }
  }
}

TEST(Names, ParseAndFormat) {
  auto wn = ParseWorkflowName("orgs/acme/workflows/annual@4");
  ASSERT_TRUE(wn.ok());
  EXPECT_EQ(wn->org, "acme");
  EXPECT_EQ(wn->id, "annual");
  EXPECT_EQ(wn->revision, 4);
  EXPECT_EQ(ParseWorkflowName("orgs/acme/workflows/annual")->revision, 0);
  EXPECT_FALSE(ParseWorkflowName("orgs/acme/workflows/annual@0").ok());
  EXPECT_FALSE(ParseWorkflowName("orgs/acme/approvals/annual").ok());
  EXPECT_FALSE(ParseWorkflowName("orgs/ACME/workflows/x").ok());
  EXPECT_FALSE(ParseApprovalName("orgs/acme/approvals/").ok());
  EXPECT_FALSE(ParseApprovalName("orgs/acme/approvals/a/b").ok());
  EXPECT_EQ(ParseApprovalName("orgs/acme/approvals/a1")->id, "a1");
  EXPECT_EQ(ParseRoleName("orgs/acme/roles/party_secretary")->id, "party_secretary");
  EXPECT_FALSE(ParseRoleName("orgs/acme/roles/Bad").ok());
  EXPECT_EQ(*ParseOrgName("orgs/acme"), "acme");
  EXPECT_FALSE(ParseOrgName("acme").ok());
  EXPECT_FALSE(ParseOrgName("orgs/acme/x").ok());
  EXPECT_FALSE(ParseOrgName("orgs/{x}").ok());
  EXPECT_EQ(Rfc3339(0), "1970-01-01T00:00:00Z");
}

TEST(Convert, ApprovalRoundTrips) {
  ApprovalState s = States()["leaders_partial"];
  s.history_length = 4;
  s.history_head = "ff";
  auto back = FromProto(ToProto(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToProto(*back).SerializeAsString(), ToProto(s).SerializeAsString());
  WorkflowDef wf = Chain();
  EXPECT_EQ(ToProto(FromProto(ToProto(wf))).SerializeAsString(), ToProto(wf).SerializeAsString());
}

// ---------------------------------------------------------- hash chain

constexpr char kKey[] = "the-servers-audit-key";

std::vector<StoredEntry> Chain5() {
  std::vector<StoredEntry> out;
  std::string head;
  for (int i = 1; i <= 5; ++i) {
    HistoryRecord r;
    r.time_unix = kT0 + i;
    r.action = i == 1 ? "started" : "approved";
    r.actor = absl::StrCat("u", i);
    r.step = "office";
    r.comment = absl::StrCat("意见", i);
    r.details = {{"k", absl::StrCat(i)}, {"a", "b"}};
    r.version = i;
    r.state_digest = absl::StrCat("state", i);
    Seal(r, i, head, kKey);
    head = r.hash;
    out.push_back({true, r});
  }
  return out;
}

TEST(HistoryChain, IntactChainVerifies) {
  auto c = Chain5();
  ChainCheck check = VerifyChain(c, 5, c.back().record.hash, kKey, "state5");
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.checked, 5);
  EXPECT_EQ(check.head, c.back().record.hash);
  EXPECT_TRUE(VerifyChain({}, 0, "", kKey, "").ok);
}

TEST(HistoryChain, DetectsEveryKindOfTampering) {
  struct Tamper {
    const char* what;
    std::function<void(std::vector<StoredEntry>&)> edit;
    int64_t first_bad;
  };
  std::vector<Tamper> cases = {
      {"edited comment", [](auto& c) { c[2].record.comment = "改过"; }, 3},
      {"edited detail", [](auto& c) { c[1].record.details["k"] = "9"; }, 2},
      {"edited actor", [](auto& c) { c[0].record.actor = "mallory"; }, 1},
      // Whoever lacks the key cannot rehash: the edited entry itself fails.
      {"edited and rehashed without the key",
       [](auto& c) {
         c[2].record.comment = "改过";
         c[2].record.hash = EntryHash(c[2].record, "a-guessed-key");
       },
       3},
      {"last edited and rehashed with plain SHA-256",
       [](auto& c) {
         c[4].record.comment = "改过";
         c[4].record.hash = Sha256Hex(CanonicalEntry(c[4].record));
       },
       5},
      {"whole chain recomputed without the key",
       [](auto& c) {
         std::string head;
         for (size_t i = 0; i < c.size(); ++i) {
           c[i].record.actor = "mallory";
           Seal(c[i].record, static_cast<int64_t>(i) + 1, head, "");
           head = c[i].record.hash;
         }
       },
       1},
      {"state digest of the head replaced",
       [](auto& c) {
         c[4].record.state_digest = "forged";
         c[4].record.hash = EntryHash(c[4].record, "a-guessed-key");
       },
       5},
      {"deleted middle", [](auto& c) { c.erase(c.begin() + 1); }, 2},
      {"deleted last", [](auto& c) { c.pop_back(); }, 5},
      {"swapped", [](auto& c) { std::swap(c[1], c[2]); }, 2},
      {"unreadable", [](auto& c) { c[3].parsed = false; }, 4},
      {"appended",
       [](auto& c) {
         HistoryRecord r = c.back().record;
         Seal(r, 6, r.hash, "a-guessed-key");
         c.push_back({true, r});
       },
       6},
  };
  for (const Tamper& t : cases) {
    auto c = Chain5();
    std::string head = c.back().record.hash;
    t.edit(c);
    ChainCheck check = VerifyChain(c, 5, head, kKey, "state5");
    EXPECT_FALSE(check.ok) << t.what;
    EXPECT_EQ(check.first_bad_sequence, t.first_bad) << t.what << ": " << check.problem;
    EXPECT_FALSE(check.problem.empty()) << t.what;
  }
}

TEST(HistoryChain, StateChangedBehindTheChainIsCaught) {
  auto c = Chain5();
  // The stored state (e.g. its signer) no longer matches what entry 5 sealed.
  ChainCheck check = VerifyChain(c, 5, c.back().record.hash, kKey, "state-with-another-signer");
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_sequence, 5) << check.problem;
}

TEST(HistoryChain, StateDigestCoversSignerAndDecidedSteps) {
  ApprovalState s;
  s.org = "acme";
  s.id = "a1";
  s.steps.push_back({MakeStep("office", StepKind::kReview, StepMode::kAny, {"u"}, {}), {}, 0});
  std::string base = StateDigest(s);
  ApprovalState signer = s;
  signer.signer = "mallory";
  ApprovalState signed_at = s;
  signed_at.sign_off_unix = 1;
  ApprovalState decided = s;
  decided.steps[0].approvers = {"mallory"};
  ApprovalState status = s;
  status.status = ApprovalStatus::kApproved;
  for (const ApprovalState* changed : {&signer, &signed_at, &decided, &status}) {
    EXPECT_NE(StateDigest(*changed), base);
  }
  // What only changes beside the version is not covered.
  ApprovalState head = s;
  head.history_head = "x";
  head.history_length = 9;
  EXPECT_EQ(StateDigest(head), base);
}

TEST(HistoryChain, CanonicalFormIgnoresDetailOrderButNotContent) {
  HistoryRecord a;
  a.details = {{"x", "1"}, {"y", "2"}};
  HistoryRecord b;
  b.details = {{"y", "2"}, {"x", "1"}};
  EXPECT_EQ(EntryHash(a, kKey), EntryHash(b, kKey));
  // Length prefixes keep field boundaries: "ab"+"c" differs from "a"+"bc".
  HistoryRecord c;
  c.actor = "ab";
  c.step = "c";
  HistoryRecord d;
  d.actor = "a";
  d.step = "bc";
  EXPECT_NE(EntryHash(c, kKey), EntryHash(d, kKey));
  EXPECT_EQ(EntryHash(a, kKey).size(), 64u);
  EXPECT_NE(EntryHash(a, kKey), EntryHash(a, "another-key"));
}

}  // namespace
}  // namespace govreport::approval
