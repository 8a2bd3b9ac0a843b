#include "approval/state_machine.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/json.h"

namespace govreport::approval {
namespace {

bool Contains(const std::vector<std::string>& v, absl::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

absl::Status CheckComment(absl::string_view comment, bool required, absl::string_view what) {
  if (comment.size() > kMaxCommentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("comment: longer than ", kMaxCommentBytes, " bytes"));
  }
  if (required && absl::StripAsciiWhitespace(comment).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("comment: ", what, " needs a comment"));
  }
  return absl::OkStatus();
}

// Resolves the assignees of step `index` and makes it the active step.
// Fails (FAILED_PRECONDITION) rather than activate a step nobody may hold.
absl::Status Activate(ApprovalState& s, int index, const RoleDirectory& roles, int64_t now) {
  const StepDef& st = s.steps[index].step;
  const std::vector<std::string> none;
  const std::vector<std::string>& previous =
      (index > 0 && !s.allow_consecutive_steps) ? s.steps[index - 1].approvers : none;
  std::vector<Task> tasks;
  std::set<std::string> seen;
  std::vector<std::string> excluded;
  auto add = [&](const std::string& user, absl::string_view via_role) {
    if (!seen.insert(user).second) return;
    if (user == s.initiator) {
      excluded.push_back(absl::StrCat(user, " (the initiator)"));
      return;
    }
    if (Contains(previous, user)) {
      excluded.push_back(absl::StrCat(user, " (approved the previous step)"));
      return;
    }
    if (Contains(s.excluded, user)) {
      excluded.push_back(absl::StrCat(user, " (an author of what is approved)"));
      return;
    }
    Task t;
    t.user = user;
    t.via_role = std::string(via_role);
    t.required = st.mode == StepMode::kAll;
    t.assign_unix = now;
    tasks.push_back(std::move(t));
  };
  for (const std::string& u : st.users) add(u, "");
  for (const std::string& r : st.roles) {
    auto it = roles.find(r);
    if (it == roles.end() || it->second.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("role '", r, "' of step '", st.name,
                                                        "' has no members in org '", s.org,
                                                        "': set them with SetRoleMembers"));
    }
    for (const std::string& m : it->second) add(m, r);
  }
  if (tasks.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "step '", st.name, "' has no eligible assignee: ", absl::StrJoin(excluded, ", "),
        " may not hold it (rules of duty)"));
  }
  s.current_step = index;
  s.tasks = std::move(tasks);
  s.activation += 1;
  s.step_start_unix = now;
  s.due_unix = st.due_seconds ? now + st.due_seconds : 0;
  s.escalate_unix = st.escalate_seconds ? now + st.escalate_seconds : 0;
  return absl::OkStatus();
}

std::string ApprovalLabel(const ApprovalState& s) { return ApprovalResourceName(s.org, s.id); }

// The caller's pending task in the active step, or why they may not act.
absl::StatusOr<Task*> RequireAssignee(ApprovalState& s, const Actor& actor) {
  if (actor.subject == s.initiator) {
    return errors::WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "'", actor.subject, "' started this approval and cannot decide on their own draft")),
        "SELF_APPROVAL", "发起人不能审批自己的文稿");
  }
  if (Contains(s.excluded, actor.subject)) {
    return errors::WithReason(
        absl::PermissionDeniedError(absl::StrCat("'", actor.subject,
                                                 "' is an author of what is approved and cannot "
                                                 "decide on it (separation of duties)")),
        "SEPARATION_OF_DUTIES", "文稿作者不能审批该文稿（职责分离）");
  }
  Task* task = nullptr;
  for (Task& t : s.tasks) {
    if (t.user == actor.subject && t.state != TaskState::kTransferred) task = &t;
  }
  if (task == nullptr) {
    return errors::WithReason(absl::PermissionDeniedError(absl::StrCat(
                                  "'", actor.subject, "' is not an assignee of the current step '",
                                  s.current().name, "' of ", ApprovalLabel(s))),
                              "NOT_ASSIGNEE", "调用者不是当前审批环节的审批人");
  }
  if (task->state == TaskState::kApproved) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "'", actor.subject, "' has already approved step '", s.current().name, "'")),
        "ALREADY_DECIDED", "已审批过当前环节");
  }
  if (!task->via_role.empty() && !actor.approver && !actor.admin) {
    return absl::PermissionDeniedError(
        absl::StrCat("'", actor.subject, "' holds this task through role '", task->via_role,
                     "' and needs the approver role to act on it"));
  }
  return task;
}

// Whether `user` may take a task in the active step (转办 / 加签 target).
absl::Status CheckEligible(const ApprovalState& s, absl::string_view user) {
  if (user == s.initiator) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", user, "' started this approval and cannot approve it"));
  }
  if (Contains(s.excluded, user)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", user, "' is an author of what is approved and cannot approve it"));
  }
  if (s.FindTask(user) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", user, "' is already an assignee of step '", s.current().name, "'"));
  }
  if (!s.allow_consecutive_steps && s.current_step > 0 &&
      Contains(s.steps[s.current_step - 1].approvers, user)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", user, "' approved the previous step and cannot hold step '",
                     s.current().name, "' too"));
  }
  return absl::OkStatus();
}

bool StepComplete(const ApprovalState& s) {
  bool any_optional_approved = false;
  bool has_optional = false;
  for (const Task& t : s.tasks) {
    if (t.state == TaskState::kTransferred) continue;
    if (t.required) {
      if (t.state != TaskState::kApproved) return false;
    } else {
      has_optional = true;
      if (t.state == TaskState::kApproved) any_optional_approved = true;
    }
  }
  // ALL steps have only required tasks; ANY steps need one of theirs.
  return !has_optional || any_optional_approved;
}

std::vector<std::string> ApprovedUsers(const ApprovalState& s) {
  std::vector<std::string> out;
  for (const Task& t : s.tasks) {
    if (t.state == TaskState::kApproved) out.push_back(t.user);
  }
  return out;
}

// The 签发人 of a completed sign-off step as a JSON array of strings, in
// the order of `approvers`: each one's display name when they approved,
// else their subject. JSON because a display name may hold a comma.
std::string SignerNamesJson(const ApprovalState& s, const std::vector<std::string>& approvers) {
  std::vector<std::string> names;
  names.reserve(approvers.size());
  for (const std::string& user : approvers) {
    std::string name = user;
    for (const Task& t : s.tasks) {
      if (t.user == user && t.state == TaskState::kApproved && !t.display_name.empty()) {
        name = t.display_name;
      }
    }
    names.push_back(std::move(name));
  }
  return JsonStringArray(names);
}

void Finish(ApprovalState& s, ApprovalStatus status, int64_t now) {
  s.status = status;
  s.finish_unix = now;
  s.due_unix = 0;
  s.escalate_unix = 0;
}

absl::Status ValidateSubject(absl::string_view org, absl::string_view subject) {
  if (subject.empty() || subject.size() > 1024) {
    return absl::InvalidArgumentError(
        "subject: the report revision reference must be 1-1024 bytes");
  }
  for (unsigned char c : subject) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("subject: control characters are not allowed");
    }
  }
  if (absl::StartsWith(subject, "orgs/") &&
      !absl::StartsWith(subject, absl::StrCat("orgs/", org, "/"))) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject '", subject, "' belongs to another org than '", org, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ActionName(ActionType type) {
  switch (type) {
    case ActionType::kApprove:
      return "approve";
    case ActionType::kReject:
      return "reject";
    case ActionType::kWithdraw:
      return "withdraw";
    case ActionType::kTransfer:
      return "transfer";
    case ActionType::kAddSigner:
      return "add_signer";
    case ActionType::kUrge:
      return "urge";
    case ActionType::kComment:
      return "comment";
    case ActionType::kRemind:
      return "remind";
    case ActionType::kEscalate:
      return "escalate";
    case ActionType::kCancel:
      return "cancel";
    case ActionType::kReassign:
      return "reassign";
  }
  return "unknown";
}

std::vector<std::string> ReferencedRoles(const std::vector<StepProgress>& steps) {
  std::set<std::string> roles;
  for (const StepProgress& p : steps) {
    roles.insert(p.step.roles.begin(), p.step.roles.end());
  }
  return {roles.begin(), roles.end()};
}

std::vector<std::string> ReferencedRoles(const WorkflowDef& wf) {
  std::set<std::string> roles;
  for (const StepDef& st : wf.steps) roles.insert(st.roles.begin(), st.roles.end());
  return {roles.begin(), roles.end()};
}

absl::StatusOr<Transition> Start(const StartInput& in, const RoleDirectory& roles, int64_t now) {
  if (absl::Status s = ValidateSubject(in.org, in.subject); !s.ok()) return s;
  if (in.title.size() > 200) {
    return absl::InvalidArgumentError("title: longer than 200 bytes");
  }
  if (absl::Status s = ValidateUserId("initiator", in.initiator); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckComment(in.comment, false, ""); !s.ok()) return s;
  if (absl::Status s = ValidateWorkflow(in.workflow); !s.ok()) return s;
  if (in.excluded.size() > kMaxExcludedApprovers) {
    return absl::InvalidArgumentError(
        absl::StrCat("excluded_approvers: at most ", kMaxExcludedApprovers));
  }
  for (const std::string& u : in.excluded) {
    if (absl::Status s = ValidateUserId("excluded_approvers", u); !s.ok()) return s;
  }

  Transition t;
  ApprovalState& s = t.next;
  s.org = in.org;
  s.id = in.id;
  s.subject = in.subject;
  s.title = in.title;
  s.workflow_id = in.workflow.id;
  s.workflow_revision = in.workflow.revision;
  s.initiator = in.initiator;
  s.excluded = in.excluded;
  std::sort(s.excluded.begin(), s.excluded.end());
  s.excluded.erase(std::unique(s.excluded.begin(), s.excluded.end()), s.excluded.end());
  s.allow_consecutive_steps = in.workflow.allow_consecutive_steps;
  for (const StepDef& st : in.workflow.steps) s.steps.push_back({st, {}, 0});
  s.create_unix = now;
  s.update_unix = now;
  s.version = 1;

  // Fail at submission, not halfway through the chain, when a later step
  // could never be staffed. (Membership may still change before then; the
  // step is resolved again when it becomes active.)
  for (const StepDef& st : in.workflow.steps) {
    bool someone = false;
    auto eligible = [&](const std::string& u) {
      return u != in.initiator && !Contains(s.excluded, u);
    };
    for (const std::string& u : st.users) someone |= eligible(u);
    for (const std::string& r : st.roles) {
      auto it = roles.find(r);
      if (it == roles.end() || it->second.empty()) {
        return absl::FailedPreconditionError(absl::StrCat("role '", r, "' of step '", st.name,
                                                          "' has no members in org '", in.org,
                                                          "': set them with SetRoleMembers"));
      }
      for (const std::string& m : it->second) someone |= eligible(m);
    }
    if (!someone) {
      return absl::FailedPreconditionError(absl::StrCat(
          "step '", st.name, "' has no assignee other than the initiator '", in.initiator,
          "' and the authors of the report, who cannot approve their own draft"));
    }
  }
  if (absl::Status st = Activate(s, 0, roles, now); !st.ok()) return st;

  t.state_changed = true;
  t.entry.time_unix = now;
  t.entry.action = "started";
  t.entry.actor = in.initiator;
  t.entry.via = in.via;
  t.entry.token = in.token;
  t.entry.step = s.current().name;
  t.entry.comment = in.comment;
  t.entry.details = {{"subject", in.subject},
                     {"workflow", WorkflowResourceName(in.org, in.workflow.id)},
                     {"workflow_revision", absl::StrCat(in.workflow.revision)},
                     {"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  t.entry.version = s.version;
  t.event_type = "started";
  t.event_fields = {{"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  if (s.due_unix) t.event_fields.push_back({"due_unix", absl::StrCat(s.due_unix)});
  return t;
}

namespace {

// What an action did: changed the approval (its version moves) or only
// added to the history.
enum class Effect { kStateChanged, kHistoryOnly };

// One function per action. Each checks the action against t.next (a copy
// of the state as read), changes t.next, and fills in the history entry
// t.entry and the event; Apply alone moves the version.
absl::StatusOr<Effect> ApplyApprove(Transition& t, const Action& a, const RoleDirectory& roles,
                                    int64_t now) {
  ApprovalState& s = t.next;
  HistoryRecord& e = t.entry;
  if (absl::Status st = CheckComment(a.comment, false, ""); !st.ok()) return st;
  auto task = RequireAssignee(s, a.actor);
  if (!task.ok()) return task.status();
  (*task)->state = TaskState::kApproved;
  (*task)->act_unix = now;
  (*task)->comment = a.comment;
  (*task)->display_name = a.actor.display_name;
  s.decisions += 1;
  e.action = "approved";
  if (!StepComplete(s)) {
    e.details = {{"step_complete", "false"}};
    t.event_type = "task_approved";
    t.event_fields = {{"remaining", absl::StrJoin(s.PendingUsers(), ",")}};
    return Effect::kStateChanged;
  }
  StepProgress& done = s.steps[s.current_step];
  done.approvers = ApprovedUsers(s);
  done.complete_unix = now;
  e.details = {{"step_complete", "true"}, {"step_approvers", absl::StrJoin(done.approvers, ",")}};
  if (s.current_step + 1 == static_cast<int>(s.steps.size())) {
    Finish(s, ApprovalStatus::kApproved, now);
    s.signer = a.actor.subject;
    s.sign_off_unix = now;
    e.details["signer"] = s.signer;
    t.event_type = "approved";
    t.event_fields = {{"signer", s.signer},
                      {"signers", absl::StrJoin(done.approvers, ",")},
                      {"signer_names", SignerNamesJson(s, done.approvers)},
                      {"sign_off_unix", absl::StrCat(now)},
                      {"sign_off_time", Rfc3339(now)}};
    return Effect::kStateChanged;
  }
  if (absl::Status st = Activate(s, s.current_step + 1, roles, now); !st.ok()) return st;
  e.details["next_step"] = s.current().name;
  e.details["assignees"] = absl::StrJoin(s.PendingUsers(), ",");
  t.event_type = "step_approved";
  t.event_fields = {{"next_step", s.current().name},
                    {"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  if (s.due_unix) t.event_fields.push_back({"due_unix", absl::StrCat(s.due_unix)});
  return Effect::kStateChanged;
}

// The index of the earlier step a rejection returns to; -1 for the drafter.
absl::StatusOr<int> ReturnTarget(const ApprovalState& s, absl::string_view return_to_step) {
  if (return_to_step.empty()) return -1;
  int target = -1;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (s.steps[i].step.name == return_to_step) target = static_cast<int>(i);
  }
  if (target < 0) {
    std::vector<std::string> names;
    for (const StepProgress& p : s.steps) names.push_back(p.step.name);
    return absl::InvalidArgumentError(
        absl::StrCat("return_to_step: no step named '", return_to_step,
                     "' in this workflow (steps: ", absl::StrJoin(names, ", "), ")"));
  }
  if (target >= s.current_step) {
    return absl::InvalidArgumentError(
        absl::StrCat("return_to_step: '", return_to_step, "' is not before the current step '",
                     s.current().name, "'; leave it empty to return to the drafter"));
  }
  return target;
}

absl::StatusOr<Effect> ApplyReject(Transition& t, const Action& a, const RoleDirectory& roles,
                                   int64_t now) {
  ApprovalState& s = t.next;
  HistoryRecord& e = t.entry;
  if (absl::Status st = CheckComment(a.comment, true, "a rejection"); !st.ok()) return st;
  absl::StatusOr<int> target = ReturnTarget(s, a.return_to_step);
  if (!target.ok()) return target.status();
  auto task = RequireAssignee(s, a.actor);
  if (!task.ok()) return task.status();
  (*task)->act_unix = now;
  (*task)->comment = a.comment;
  s.decisions += 1;
  s.last_comment = a.comment;
  if (*target < 0) {
    Finish(s, ApprovalStatus::kRejected, now);
    e.action = "rejected";
    e.details = {{"return_to", "drafter"}};
    t.event_type = "rejected";
    t.event_fields = {{"return_to", "drafter"}, {"initiator", s.initiator}, {"comment", a.comment}};
    return Effect::kStateChanged;
  }
  for (size_t i = *target; i < s.steps.size(); ++i) {
    s.steps[i].approvers.clear();
    s.steps[i].complete_unix = 0;
  }
  if (absl::Status st = Activate(s, *target, roles, now); !st.ok()) return st;
  e.action = "returned";
  e.details = {{"return_to", a.return_to_step},
               {"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  t.event_type = "returned";
  t.event_fields = {{"return_to", a.return_to_step},
                    {"assignees", absl::StrJoin(s.PendingUsers(), ",")},
                    {"comment", a.comment}};
  return Effect::kStateChanged;
}

absl::StatusOr<Effect> ApplyWithdraw(Transition& t, const Action& a, int64_t now) {
  ApprovalState& s = t.next;
  if (absl::Status st = CheckComment(a.comment, false, ""); !st.ok()) return st;
  if (a.actor.subject != s.initiator) {
    return absl::PermissionDeniedError(
        absl::StrCat("only the initiator '", s.initiator, "' can withdraw ", ApprovalLabel(s)));
  }
  if (s.decisions > 0) {
    return absl::FailedPreconditionError(
        "cannot withdraw: an approver has already decided (withdrawal is "
        "possible only before the first decision); ask for a rejection");
  }
  Finish(s, ApprovalStatus::kWithdrawn, now);
  s.last_comment = a.comment;
  t.entry.action = "withdrawn";
  t.event_type = "withdrawn";
  t.event_fields = {{"initiator", s.initiator}};
  return Effect::kStateChanged;
}

// 转办 (kTransfer: the caller's task moves to another user) and 加签
// (kAddSigner: another user must sign too).
absl::StatusOr<Effect> ApplyTransferOrAddSigner(Transition& t, const Action& a, int64_t now) {
  ApprovalState& s = t.next;
  HistoryRecord& e = t.entry;
  bool transfer = a.type == ActionType::kTransfer;
  if (absl::Status st = CheckComment(a.comment, false, ""); !st.ok()) return st;
  if (absl::Status st = ValidateUserId(transfer ? "to_user" : "user", a.target_user); !st.ok()) {
    return st;
  }
  auto task = RequireAssignee(s, a.actor);
  if (!task.ok()) return task.status();
  if (a.target_user == a.actor.subject) {
    return absl::InvalidArgumentError(transfer ? "to_user: cannot transfer a task to yourself"
                                               : "user: cannot add yourself as a signer");
  }
  if (absl::Status st = CheckEligible(s, a.target_user); !st.ok()) return st;
  if (s.tasks.size() >= kMaxTasksPerStep) {
    return absl::FailedPreconditionError(
        absl::StrCat("step '", s.current().name, "' already has ", s.tasks.size(), " tasks"));
  }
  Task added;
  added.user = a.target_user;
  added.assigned_by = a.actor.subject;
  added.assign_unix = now;
  if (transfer) {
    added.required = (*task)->required;
    added.added = (*task)->added;
    (*task)->state = TaskState::kTransferred;
    (*task)->handed_to = a.target_user;
    (*task)->act_unix = now;
    (*task)->comment = a.comment;
    e.action = "transferred";
    e.details = {{"from", a.actor.subject}, {"to", a.target_user}};
    t.event_type = "transferred";
    t.event_fields = {{"from", a.actor.subject}, {"to", a.target_user}};
  } else {
    // An extra signer must sign even in an ANY step: that is the point of
    // asking for one.
    added.required = true;
    added.added = true;
    e.action = "signer_added";
    e.details = {{"user", a.target_user}};
    t.event_type = "signer_added";
    t.event_fields = {{"user", a.target_user}};
  }
  s.tasks.push_back(std::move(added));
  return Effect::kStateChanged;
}

absl::StatusOr<Effect> ApplyUrge(Transition& t, const Action& a) {
  const ApprovalState& s = t.next;
  if (absl::Status st = CheckComment(a.comment, false, ""); !st.ok()) return st;
  if (a.actor.subject != s.initiator && !a.actor.admin) {
    return absl::PermissionDeniedError("only the initiator or an org admin can urge the approvers");
  }
  t.entry.action = "urged";
  t.entry.details = {{"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  t.event_type = "urged";
  t.event_fields = {{"assignees", absl::StrJoin(s.PendingUsers(), ",")}};
  return Effect::kHistoryOnly;
}

absl::StatusOr<Effect> ApplyComment(Transition& t, const Action& a) {
  const ApprovalState& s = t.next;
  if (absl::Status st = CheckComment(a.comment, true, "Comment"); !st.ok()) return st;
  bool participant = a.actor.admin || a.actor.subject == s.initiator;
  for (const Task& task : s.tasks) participant |= task.user == a.actor.subject;
  for (const StepProgress& p : s.steps) participant |= Contains(p.approvers, a.actor.subject);
  if (!participant) {
    return absl::PermissionDeniedError(absl::StrCat("'", a.actor.subject, "' takes no part in ",
                                                    ApprovalLabel(s), " and cannot comment on it"));
  }
  t.entry.action = "commented";
  t.event_type = "commented";
  return Effect::kHistoryOnly;
}

// The timer loop's kRemind (the step is overdue) and kEscalate.
absl::StatusOr<Effect> ApplyTimer(Transition& t, const Action& a, int64_t now) {
  const ApprovalState& s = t.next;
  HistoryRecord& e = t.entry;
  if (!a.actor.system) return absl::PermissionDeniedError("only the timer loop sends reminders");
  if (!TimerApplies(s, a.activation)) {
    return absl::FailedPreconditionError("the timer's step is no longer active");
  }
  bool remind = a.type == ActionType::kRemind;
  e.action = remind ? "reminder" : "escalated";
  std::string pending = absl::StrJoin(s.PendingUsers(), ",");
  int64_t due = remind ? s.due_unix : s.escalate_unix;
  e.details = {{"assignees", pending}, {"due_unix", absl::StrCat(due)}};
  t.event_type = e.action;
  t.event_fields = {{"assignees", pending},
                    {"due_unix", absl::StrCat(s.due_unix)},
                    {"overdue_seconds", absl::StrCat(now - s.due_unix)},
                    {"initiator", s.initiator}};
  if (!remind) t.event_fields.push_back({"escalate_unix", absl::StrCat(s.escalate_unix)});
  return Effect::kHistoryOnly;
}

absl::StatusOr<Effect> ApplyCancel(Transition& t, const Action& a, int64_t now) {
  ApprovalState& s = t.next;
  if (absl::Status st = CheckComment(a.comment, true, "cancelling"); !st.ok()) return st;
  if (!a.actor.admin)
    return absl::PermissionDeniedError("only an org admin can cancel an approval");
  Finish(s, ApprovalStatus::kWithdrawn, now);
  s.last_comment = a.comment;
  t.entry.action = "cancelled";
  // Consumers treat it as a withdrawal: the report returns to draft.
  t.event_type = "withdrawn";
  t.event_fields = {
      {"initiator", s.initiator}, {"cancelled_by", a.actor.subject}, {"comment", a.comment}};
  return Effect::kStateChanged;
}

absl::StatusOr<Effect> ApplyReassign(Transition& t, const Action& a, int64_t now) {
  ApprovalState& s = t.next;
  if (absl::Status st = CheckComment(a.comment, false, ""); !st.ok()) return st;
  if (!a.actor.admin) return absl::PermissionDeniedError("only an org admin can reassign a task");
  if (absl::Status st = ValidateUserId("to_user", a.target_user); !st.ok()) return st;
  Task* from = nullptr;
  for (Task& task : s.tasks) {
    if (task.user == a.from_user && task.state == TaskState::kPending) from = &task;
  }
  if (from == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "from_user: '", a.from_user, "' holds no pending task of step '", s.current().name, "'"));
  }
  if (absl::Status st = CheckEligible(s, a.target_user); !st.ok()) return st;
  Task moved;
  moved.user = a.target_user;
  moved.required = from->required;
  moved.added = from->added;
  moved.assigned_by = a.actor.subject;
  moved.assign_unix = now;
  from->state = TaskState::kTransferred;
  from->handed_to = a.target_user;
  from->act_unix = now;
  from->comment = a.comment;
  s.tasks.push_back(std::move(moved));
  t.entry.action = "reassigned";
  t.entry.details = {{"from", a.from_user}, {"to", a.target_user}};
  t.event_type = "transferred";
  t.event_fields = {{"from", a.from_user}, {"to", a.target_user}, {"by", a.actor.subject}};
  return Effect::kStateChanged;
}

absl::StatusOr<Effect> ApplyAction(Transition& t, const Action& a, const RoleDirectory& roles,
                                   int64_t now) {
  switch (a.type) {
    case ActionType::kApprove:
      return ApplyApprove(t, a, roles, now);
    case ActionType::kReject:
      return ApplyReject(t, a, roles, now);
    case ActionType::kWithdraw:
      return ApplyWithdraw(t, a, now);
    case ActionType::kTransfer:
    case ActionType::kAddSigner:
      return ApplyTransferOrAddSigner(t, a, now);
    case ActionType::kUrge:
      return ApplyUrge(t, a);
    case ActionType::kComment:
      return ApplyComment(t, a);
    case ActionType::kRemind:
    case ActionType::kEscalate:
      return ApplyTimer(t, a, now);
    case ActionType::kCancel:
      return ApplyCancel(t, a, now);
    case ActionType::kReassign:
      return ApplyReassign(t, a, now);
  }
  return absl::InvalidArgumentError("unknown action");
}

}  // namespace

absl::StatusOr<Transition> Apply(const ApprovalState& state, const Action& a,
                                 const RoleDirectory& roles, int64_t now) {
  if (state.finished()) {
    return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                  ApprovalLabel(state), " is ", StatusName(state.status),
                                  ": no further action is possible")),
                              "APPROVAL_FINISHED", "审批已结束，不能再操作");
  }
  Transition t;
  t.next = state;
  HistoryRecord& e = t.entry;
  e.time_unix = now;
  e.actor = a.actor.subject;
  e.via = a.actor.via;
  e.token = a.actor.token;
  e.step = state.current().name;
  e.comment = a.comment;
  e.version = state.version;
  absl::StatusOr<Effect> effect = ApplyAction(t, a, roles, now);
  if (!effect.ok()) return effect.status();
  // The one place the version moves: only a change of state moves it, so a
  // comment or a reminder never makes an approver's expected version stale.
  if (*effect == Effect::kStateChanged) {
    t.state_changed = true;
    t.next.version += 1;
    t.next.update_unix = now;
    e.version = t.next.version;
  }
  return t;
}

bool TimerApplies(const ApprovalState& state, int64_t activation) {
  return !state.finished() && state.activation == activation;
}

InboxChange InboxDiff(const ApprovalState* before, const ApprovalState& after) {
  std::vector<std::string> old_users;
  if (before != nullptr) old_users = before->PendingUsers();
  std::vector<std::string> new_users = after.PendingUsers();
  InboxChange c;
  for (const std::string& u : new_users) {
    if (!Contains(old_users, u)) c.add.push_back(u);
  }
  for (const std::string& u : old_users) {
    if (!Contains(new_users, u)) c.remove.push_back(u);
  }
  return c;
}

std::string TimerMember(const TimerRef& ref) {
  return absl::StrCat(ref.org, "|", ref.id, "|", ref.activation, "|",
                      ref.kind == TimerKind::kRemind ? "remind" : "escalate");
}

absl::StatusOr<TimerRef> ParseTimerMember(absl::string_view member) {
  std::vector<absl::string_view> parts = absl::StrSplit(member, '|');
  TimerRef ref;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[2], &ref.activation) ||
      (parts[3] != "remind" && parts[3] != "escalate") || !ValidateOrgId(parts[0]).ok() ||
      !ValidateResourceId("approval id", parts[1]).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed timer member '", member, "'"));
  }
  ref.org = std::string(parts[0]);
  ref.id = std::string(parts[1]);
  ref.kind = parts[3] == "remind" ? TimerKind::kRemind : TimerKind::kEscalate;
  return ref;
}

TimerChange TimerDiff(const ApprovalState* before, const ApprovalState& after) {
  TimerChange c;
  bool was_active = before != nullptr && !before->finished();
  bool is_active = !after.finished();
  bool same = was_active && is_active && before->activation == after.activation;
  if (same) return c;
  if (was_active) {
    for (TimerKind k : {TimerKind::kRemind, TimerKind::kEscalate}) {
      c.remove.push_back(TimerMember({before->org, before->id, before->activation, k}));
    }
  }
  if (is_active) {
    if (after.due_unix) {
      c.add.emplace_back(TimerMember({after.org, after.id, after.activation, TimerKind::kRemind}),
                         after.due_unix);
    }
    if (after.escalate_unix) {
      c.add.emplace_back(TimerMember({after.org, after.id, after.activation, TimerKind::kEscalate}),
                         after.escalate_unix);
    }
  }
  return c;
}

EventFields FullEventFields(const Transition& t) {
  const ApprovalState& s = t.next;
  const HistoryRecord& e = t.entry;
  EventFields f = {
      {"type", t.event_type},
      {"approval", ApprovalResourceName(s.org, s.id)},
      {"org", s.org},
      {"subject", s.subject},
      {"workflow", WorkflowResourceName(s.org, s.workflow_id)},
      {"workflow_revision", absl::StrCat(s.workflow_revision)},
      {"state", std::string(StatusName(s.status))},
      {"version", absl::StrCat(s.version)},
      {"actor", e.actor},
      {"step", e.step},
      {"time_unix", absl::StrCat(e.time_unix)},
      {"time", Rfc3339(e.time_unix)},
      {"history_sequence", absl::StrCat(e.sequence)},
      {"history_hash", e.hash},
  };
  if (!s.title.empty()) f.push_back({"title", s.title});
  if (!e.via.empty()) f.push_back({"via", e.via});
  f.insert(f.end(), t.event_fields.begin(), t.event_fields.end());
  return f;
}

bool IsTransitionEvent(absl::string_view action) {
  static const auto* kActions = new std::set<std::string, std::less<>>{
      "started",   "approved",    "rejected",   "returned",     "withdrawn",
      "cancelled", "transferred", "reassigned", "signer_added", "escalated"};
  return kActions->count(action) > 0;
}

}  // namespace govreport::approval
