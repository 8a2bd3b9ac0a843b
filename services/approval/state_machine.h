// The approval state machine as pure functions: given a state, an action
// and the role memberships read for it, either a Transition (the next state,
// the history entry and the event to publish) or an error, never a partial
// change. The store commits a Transition atomically; nothing here touches
// Redis or the clock.
#ifndef GOVREPORT_APPROVAL_STATE_MACHINE_H_
#define GOVREPORT_APPROVAL_STATE_MACHINE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "approval/domain.h"

namespace govreport::approval {

enum class ActionType {
  kApprove,
  kReject,
  kWithdraw,
  kTransfer,
  kAddSigner,
  kUrge,
  kComment,
  kRemind,    // Timer: the step is overdue.
  kEscalate,  // Timer: past the second limit.
  kCancel,    // Org admin ends it (withdrawn).
  kReassign,  // Org admin moves a pending task to another user.
};

absl::string_view ActionName(ActionType type);

struct Actor {
  std::string subject;
  // Holds the "approver" role (or a trusted service vouches for the user).
  // Needed to act on a task that came from a role rather than a name.
  bool approver = false;
  bool admin = false;
  // The timer loop; the only actor allowed to remind and escalate.
  bool system = false;
  // The platform service that relays the action, if any (history "via").
  std::string via;
  // The token the call came with, and who issued it (history "token").
  std::string token{};
  // The display name of the actor's token (empty when it has none); kept
  // on an approved task for the 签发人 line.
  std::string display_name{};
};

inline constexpr absl::string_view kSystemActor = "system";

struct Action {
  ActionType type = ActionType::kComment;
  Actor actor;
  std::string comment;
  // Transfer, AddSigner and Reassign.
  std::string target_user;
  // Reassign: whose task moves.
  std::string from_user;
  // Reject: empty returns to the drafter.
  std::string return_to_step;
  // Remind and Escalate: the step activation the timer was set for.
  int64_t activation = 0;
};

struct StartInput {
  std::string org;
  std::string id;
  WorkflowDef workflow;
  std::string subject;
  std::string title;
  std::string initiator;
  std::string comment;
  // Separation of duties: may decide no step.
  std::vector<std::string> excluded;
  // The platform service that started it for the initiator, if any.
  std::string via;
  std::string token;  // As Actor::token.
};

using EventFields = std::vector<std::pair<std::string, std::string>>;

struct Transition {
  ApprovalState next;
  // False for entries that only add to the history (comment, urge,
  // reminder, escalation): they leave the version alone so that a reminder
  // never makes an approver's expected version stale.
  bool state_changed = false;
  // sequence, prev_hash and hash are filled in when it is committed.
  HistoryRecord entry;
  std::string event_type;
  // Beyond the fields every event carries (see FullEventFields).
  EventFields event_fields;
};

// Roles every step of the workflow names, for the store to read.
std::vector<std::string> ReferencedRoles(const std::vector<StepProgress>& steps);
std::vector<std::string> ReferencedRoles(const WorkflowDef& wf);

absl::StatusOr<Transition> Start(const StartInput& in, const RoleDirectory& roles, int64_t now);

absl::StatusOr<Transition> Apply(const ApprovalState& state, const Action& action,
                                 const RoleDirectory& roles, int64_t now);

// Whether a Remind/Escalate timer of `activation` still concerns the
// state (the same step activation, still in progress).
bool TimerApplies(const ApprovalState& state, int64_t activation);

// Inbox updates implied by a transition: users whose pending task appeared
// or disappeared. `before` is null for a new approval.
struct InboxChange {
  std::vector<std::string> add;
  std::vector<std::string> remove;
};
InboxChange InboxDiff(const ApprovalState* before, const ApprovalState& after);

enum class TimerKind { kRemind, kEscalate };

struct TimerRef {
  std::string org;
  std::string id;
  int64_t activation = 0;
  TimerKind kind = TimerKind::kRemind;
};

// "{org}|{id}|{activation}|remind" — unique per step activation, so a
// timer fires for the activation it was set for and no other.
std::string TimerMember(const TimerRef& ref);
absl::StatusOr<TimerRef> ParseTimerMember(absl::string_view member);

struct TimerChange {
  std::vector<std::pair<std::string, int64_t>> add;  // member, due unix
  std::vector<std::string> remove;
};
TimerChange TimerDiff(const ApprovalState* before, const ApprovalState& after);

// Every event: type, approval, org, subject, workflow, version, actor,
// step, time, history position and hash, then the transition's own fields.
EventFields FullEventFields(const Transition& t);

// Whether a history entry of `action` is an APPROVAL_TRANSITION event in
// the org's log (common/events.h): every entry that changes the approval
// (started, approved, rejected, returned, withdrawn, cancelled,
// transferred, reassigned, signer_added) and an escalation. Comments,
// urgings and reminders only add to the history and are not.
bool IsTransitionEvent(absl::string_view action);

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_STATE_MACHINE_H_
