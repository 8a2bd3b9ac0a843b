// The attacks of the security review against the approval logic, each as
// it was performed: a task given to a user who does not exist, the author
// of the narrative approving, comments read by a member who takes no part,
// a comment flood, and a second approval of a revision already approved.
// Each fails without its fix.
#include <string>

#include "absl/strings/str_cat.h"
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
using testenv::kWorkflow;
using testenv::User;
using T = ActionType;
using C = absl::StatusCode;

class ApprovalSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = Env::Create();
    ASSERT_NE(env_, nullptr);
    env_->SetUpChain();
    auto s = env_->StartOn("orgs/acme/reports/r1/revisions/1");
    ASSERT_TRUE(s.ok()) << s.status();
    started_ = *s;
  }
  ApprovalCore& core() { return env_->core(); }
  std::string Name() const { return ApprovalResourceName("acme", started_.id); }
  ApprovalState Current() {
    auto s = core().GetApproval(testenv::Admin(), Name());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : ApprovalState{};
  }
  absl::StatusOr<ApprovalState> AsAdmin(T type, const ApprovalState& s, std::string from,
                                        std::string to, std::string comment) {
    ActionRequest req;
    req.name = Name();
    req.expected_version = s.version;
    req.from_user = std::move(from);
    req.target_user = std::move(to);
    req.comment = std::move(comment);
    return core().Act(testenv::Admin(), type, req);
  }

  std::unique_ptr<Env> env_;
  ApprovalState started_;
};

TEST_F(ApprovalSecurityTest, ATaskCannotGoToAUserTheOrgDoesNotKnow) {
  // The typo that wedged an approval for good.
  for (T type : {T::kTransfer, T::kAddSigner}) {
    auto r = env_->Do(Approver("director"), type, started_, "", "dirctor");
    EXPECT_EQ(r.status().code(), C::kFailedPrecondition) << ActionName(type) << r.status();
  }
  EXPECT_EQ(Current().version, started_.version);
  // A member of a role is fine.
  EXPECT_TRUE(env_->Do(Approver("director"), T::kTransfer, started_, "", "deputy").ok());
}

TEST_F(ApprovalSecurityTest, AnAdminCancelsOrReassignsAndTheHistorySaysSo) {
  ApprovalState s = started_;
  // Not for anyone else.
  ActionRequest req;
  req.name = Name();
  req.expected_version = s.version;
  req.comment = "不需要了";
  EXPECT_EQ(core().Act(Approver("director"), T::kCancel, req).status().code(),
            C::kPermissionDenied);
  EXPECT_EQ(core().Act(Drafter(), T::kCancel, req).status().code(), C::kPermissionDenied);

  auto moved = AsAdmin(T::kReassign, s, "director", "deputy", "主任调岗");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->PendingUsers(), std::vector<std::string>{"deputy"});
  EXPECT_EQ(AsAdmin(T::kReassign, *moved, "director", "legal", "").status().code(),
            C::kFailedPrecondition);  // No longer director's.
  EXPECT_EQ(AsAdmin(T::kReassign, *moved, "deputy", "nobody", "").status().code(),
            C::kFailedPrecondition);  // Unknown user.

  EXPECT_EQ(AsAdmin(T::kCancel, *moved, "", "", "").status().code(),
            C::kInvalidArgument);  // A reason is required.
  auto cancelled = AsAdmin(T::kCancel, *moved, "", "", "报告作废");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status, ApprovalStatus::kWithdrawn);
  auto history = core().GetHistory(Auditor(), Name(), 0, "");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->items.size(), 3u);
  EXPECT_EQ(history->items[1].action, "reassigned");
  EXPECT_EQ(history->items[2].action, "cancelled");
  EXPECT_EQ(history->items[2].actor, "boss");
  EXPECT_TRUE(core().VerifyHistory(Auditor(), Name())->ok);
  // The revision may go through approval again after a cancellation.
  EXPECT_TRUE(env_->StartOn("orgs/acme/reports/r1/revisions/1").ok());
}

TEST_F(ApprovalSecurityTest, TheNarrativesAuthorsDecideNothing) {
  StartRequest req;
  req.parent = kParent;
  req.workflow = kWorkflow;
  req.subject = "orgs/acme/reports/r2/revisions/1";
  // lead1 wrote 存在问题 for the drafter: excluded from the 会签 step.
  req.excluded_approvers = {"lead1"};
  auto s = core().StartApproval(Drafter(), req);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->excluded, std::vector<std::string>{"lead1"});
  s = env_->Do(Approver("director"), T::kApprove, *s);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->PendingUsers(), std::vector<std::string>{"lead2"});
  EXPECT_EQ(env_->Do(Approver("lead1"), T::kApprove, *s).status().code(), C::kPermissionDenied);
  // Nor can a task be handed to them.
  EXPECT_EQ(env_->Do(Approver("lead2"), T::kTransfer, *s, "", "lead1").status().code(),
            C::kFailedPrecondition);
  // A step only authors could hold is refused at submission.
  req.subject = "orgs/acme/reports/r3/revisions/1";
  req.excluded_approvers = {"director"};
  EXPECT_EQ(core().StartApproval(Drafter(), req).status().code(), C::kFailedPrecondition);
}

TEST_F(ApprovalSecurityTest, CommentsAreForParticipantsAdminsAndAuditors) {
  auto s = env_->Do(Approver("director"), T::kComment, started_, "内部意见：数据待核");
  ASSERT_TRUE(s.ok()) << s.status();
  s = env_->Do(Approver("director"), T::kReject, Current(), "内部意见：退回");
  ASSERT_TRUE(s.ok()) << s.status();
  auto recorder = User("oa", {"recorder"});
  auto seen = core().GetApproval(recorder, Name());
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->last_comment.empty());
  for (const Task& t : seen->tasks) EXPECT_TRUE(t.comment.empty());
  ListFilter f;
  f.parent = kParent;
  auto listed = core().ListApprovals(recorder, f);
  ASSERT_TRUE(listed.ok());
  ASSERT_FALSE(listed->items.empty());
  for (const ApprovalState& a : listed->items) EXPECT_TRUE(a.last_comment.empty());
  EXPECT_EQ(core().GetHistory(recorder, Name(), 0, "").status().code(), C::kPermissionDenied);
  for (const auto& who : {Drafter(), Approver("director"), Auditor(), testenv::Admin()}) {
    auto full = core().GetApproval(who, Name());
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(full->last_comment, "内部意见：退回") << who.subject;
  }
}

TEST_F(ApprovalSecurityTest, ACommentFloodIsCut) {
  int accepted = 0;
  absl::Status last;
  for (int i = 0; i < 40; ++i) {
    auto s = env_->Do(Approver("director"), T::kComment, started_, std::string(4000, 'x'));
    if (s.ok()) {
      ++accepted;
    } else {
      last = s.status();
    }
  }
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(last.code(), C::kResourceExhausted) << last;
  // Another participant is not held back by the flooder; a minute later
  // the flooder may speak again.
  EXPECT_TRUE(env_->Do(Drafter(), T::kComment, started_, "请尽快").ok());
  env_->Advance(61);
  EXPECT_TRUE(env_->Do(Approver("director"), T::kComment, started_, "x").ok());
  // Decisions are never held back by the flood limits.
  EXPECT_TRUE(env_->Do(Approver("director"), T::kApprove, Current(), "同意").ok());
}

TEST_F(ApprovalSecurityTest, HistoryLengthCapsCommentsNotDecisions) {
  CoreOptions o = env_->Options();
  o.comments_per_minute = 1000;
  o.max_history_entries = 5;
  Env::Replica replica = env_->NewReplica();
  ApprovalCore capped(replica.store.get(), o);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    ActionRequest req;
    req.name = Name();
    req.comment = "x";
    if (capped.Act(Drafter(), T::kComment, req).ok()) ++accepted;
  }
  EXPECT_EQ(accepted, 4);  // started + 4 comments = 5 entries.
  ActionRequest approve;
  approve.name = Name();
  approve.expected_version = started_.version;
  EXPECT_TRUE(capped.Act(Approver("director"), T::kApprove, approve).ok());
}

TEST_F(ApprovalSecurityTest, AnApprovedRevisionIsNeverApprovedAgain) {
  ApprovalState s = started_;
  for (const char* who : {"director", "lead1", "lead2", "secretary"}) {
    auto next = env_->Do(Approver(who), T::kApprove, s, "同意");
    ASSERT_TRUE(next.ok()) << who << next.status();
    s = *next;
  }
  ASSERT_EQ(s.status, ApprovalStatus::kApproved);
  auto again = env_->StartOn("orgs/acme/reports/r1/revisions/1");
  EXPECT_EQ(again.status().code(), C::kFailedPrecondition) << again.status();
  EXPECT_NE(again.status().message().find("approved already"), std::string::npos);
}

}  // namespace
}  // namespace govreport::approval
