#include "approval/convert.h"

#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/status.h"
#include "common/timestamp.h"

// FromProto reads what Redis holds. A message stored before its instants
// became Timestamps has them at the old int64 fields' numbers (reserved in
// approval.proto; the third argument of FromTimestamp): the timers and the
// history's hash chain need them back, not unset.

namespace govreport::approval {
namespace {

pb::TaskState ToProto(TaskState s) {
  switch (s) {
    case TaskState::kPending:
      return pb::TASK_STATE_PENDING;
    case TaskState::kApproved:
      return pb::TASK_STATE_APPROVED;
    case TaskState::kTransferred:
      return pb::TASK_STATE_TRANSFERRED;
  }
  return pb::TASK_STATE_UNSPECIFIED;
}

TaskState FromProto(pb::TaskState s) {
  switch (s) {
    case pb::TASK_STATE_APPROVED:
      return TaskState::kApproved;
    case pb::TASK_STATE_TRANSFERRED:
      return TaskState::kTransferred;
    default:
      return TaskState::kPending;
  }
}

}  // namespace

pb::Step ToProto(const StepDef& st) {
  pb::Step p;
  p.set_name(st.name);
  p.set_display_name(st.display_name);
  p.set_kind(st.kind == StepKind::kSignOff ? pb::STEP_KIND_SIGN_OFF : pb::STEP_KIND_REVIEW);
  p.set_mode(st.mode == StepMode::kAll ? pb::STEP_MODE_ALL : pb::STEP_MODE_ANY);
  for (const auto& u : st.users) p.add_users(u);
  for (const auto& r : st.roles) p.add_roles(r);
  p.set_due_seconds(st.due_seconds);
  p.set_escalate_seconds(st.escalate_seconds);
  return p;
}

StepDef FromProto(const pb::Step& p) {
  StepDef st;
  st.name = p.name();
  st.display_name = p.display_name();
  // Unspecified is REVIEW; validation then insists the last step says
  // SIGN_OFF explicitly.
  st.kind = p.kind() == pb::STEP_KIND_SIGN_OFF ? StepKind::kSignOff : StepKind::kReview;
  st.mode = p.mode() == pb::STEP_MODE_ALL ? StepMode::kAll : StepMode::kAny;
  st.users.assign(p.users().begin(), p.users().end());
  st.roles.assign(p.roles().begin(), p.roles().end());
  st.due_seconds = p.due_seconds();
  st.escalate_seconds = p.escalate_seconds();
  return st;
}

absl::Status CheckWorkflowEnums(const pb::Workflow& wf) {
  for (int i = 0; i < wf.steps_size(); ++i) {
    std::string at = absl::StrCat("workflow.steps[", i, "]");
    GR_RETURN_IF_ERROR(CheckEnum(at + ".kind", wf.steps(i).kind(), Unspecified::kAllowed));
    GR_RETURN_IF_ERROR(CheckEnum(at + ".mode", wf.steps(i).mode(), Unspecified::kAllowed));
  }
  return absl::OkStatus();
}

pb::Workflow ToProto(const WorkflowDef& wf) {
  pb::Workflow p;
  if (!wf.org.empty()) p.set_name(WorkflowResourceName(wf.org, wf.id));
  p.set_display_name(wf.display_name);
  p.set_description(wf.description);
  for (const auto& st : wf.steps) *p.add_steps() = ToProto(st);
  p.set_allow_consecutive_steps(wf.allow_consecutive_steps);
  p.set_revision(wf.revision);
  *p.mutable_create_time() = ToTimestamp(wf.create_unix);
  *p.mutable_update_time() = ToTimestamp(wf.update_unix);
  p.set_updated_by(wf.updated_by);
  return p;
}

WorkflowDef FromProto(const pb::Workflow& p) {
  WorkflowDef wf;
  if (auto name = ParseWorkflowName(p.name()); name.ok()) {
    wf.org = name->org;
    wf.id = name->id;
  }
  wf.display_name = p.display_name();
  wf.description = p.description();
  for (const auto& st : p.steps()) wf.steps.push_back(FromProto(st));
  wf.allow_consecutive_steps = p.allow_consecutive_steps();
  wf.revision = p.revision();
  wf.create_unix = FromTimestamp(p.create_time(), p, 7);
  wf.update_unix = FromTimestamp(p.update_time(), p, 8);
  wf.updated_by = p.updated_by();
  return wf;
}

pb::ApprovalState ToProto(ApprovalStatus s) {
  switch (s) {
    case ApprovalStatus::kInProgress:
      return pb::APPROVAL_STATE_IN_PROGRESS;
    case ApprovalStatus::kApproved:
      return pb::APPROVAL_STATE_APPROVED;
    case ApprovalStatus::kRejected:
      return pb::APPROVAL_STATE_REJECTED;
    case ApprovalStatus::kWithdrawn:
      return pb::APPROVAL_STATE_WITHDRAWN;
  }
  return pb::APPROVAL_STATE_UNSPECIFIED;
}

ApprovalStatus FromProto(pb::ApprovalState s) {
  switch (s) {
    case pb::APPROVAL_STATE_APPROVED:
      return ApprovalStatus::kApproved;
    case pb::APPROVAL_STATE_REJECTED:
      return ApprovalStatus::kRejected;
    case pb::APPROVAL_STATE_WITHDRAWN:
      return ApprovalStatus::kWithdrawn;
    default:
      return ApprovalStatus::kInProgress;
  }
}

pb::Approval ToProto(const ApprovalState& s) {
  pb::Approval p;
  p.set_name(ApprovalResourceName(s.org, s.id));
  p.set_subject(s.subject);
  p.set_title(s.title);
  p.set_workflow(WorkflowResourceName(s.org, s.workflow_id));
  p.set_workflow_revision(s.workflow_revision);
  p.set_initiator(s.initiator);
  p.set_state(ToProto(s.status));
  for (const StepProgress& sp : s.steps) {
    pb::StepProgress* out = p.add_steps();
    *out->mutable_step() = ToProto(sp.step);
    for (const auto& u : sp.approvers) out->add_approvers(u);
    SetTimestamp(sp.complete_unix, [&] { return out->mutable_complete_time(); });
  }
  p.set_current_step(s.current_step);
  if (s.current_step >= 0 && s.current_step < static_cast<int>(s.steps.size())) {
    p.set_current_step_name(s.steps[s.current_step].step.name);
  }
  for (const Task& t : s.tasks) {
    pb::Task* out = p.add_tasks();
    out->set_user(t.user);
    out->set_state(ToProto(t.state));
    out->set_via_role(t.via_role);
    out->set_required(t.required);
    out->set_added(t.added);
    out->set_assigned_by(t.assigned_by);
    out->set_handed_to(t.handed_to);
    *out->mutable_assign_time() = ToTimestamp(t.assign_unix);
    SetTimestamp(t.act_unix, [&] { return out->mutable_act_time(); });
    out->set_comment(t.comment);
    out->set_display_name(t.display_name);
  }
  p.set_activation(s.activation);
  *p.mutable_step_start_time() = ToTimestamp(s.step_start_unix);
  SetTimestamp(s.due_unix, [&] { return p.mutable_due_time(); });
  SetTimestamp(s.escalate_unix, [&] { return p.mutable_escalate_time(); });
  p.set_decisions(s.decisions);
  p.set_allow_consecutive_steps(s.allow_consecutive_steps);
  p.set_version(s.version);
  *p.mutable_create_time() = ToTimestamp(s.create_unix);
  *p.mutable_update_time() = ToTimestamp(s.update_unix);
  SetTimestamp(s.finish_unix, [&] { return p.mutable_finish_time(); });
  p.set_signer(s.signer);
  SetTimestamp(s.sign_off_unix, [&] { return p.mutable_sign_off_time(); });
  p.set_last_comment(s.last_comment);
  p.set_history_length(s.history_length);
  p.set_history_head(s.history_head);
  for (const auto& u : s.excluded) p.add_excluded_approvers(u);
  return p;
}

absl::StatusOr<ApprovalState> FromProto(const pb::Approval& p) {
  auto name = ParseApprovalName(p.name());
  if (!name.ok()) return name.status();
  auto wf = ParseWorkflowName(p.workflow());
  if (!wf.ok()) return wf.status();
  ApprovalState s;
  s.org = name->org;
  s.id = name->id;
  s.subject = p.subject();
  s.title = p.title();
  s.workflow_id = wf->id;
  s.workflow_revision = p.workflow_revision();
  s.initiator = p.initiator();
  s.status = FromProto(p.state());
  for (const auto& sp : p.steps()) {
    StepProgress out;
    out.step = FromProto(sp.step());
    out.approvers.assign(sp.approvers().begin(), sp.approvers().end());
    out.complete_unix = FromTimestamp(sp.complete_time(), sp, 3);
    s.steps.push_back(std::move(out));
  }
  s.current_step = p.current_step();
  if (s.steps.empty() || s.current_step < 0 || s.current_step >= static_cast<int>(s.steps.size())) {
    return absl::DataLossError(
        absl::StrCat("stored approval ", p.name(), " has no valid current step"));
  }
  for (const auto& t : p.tasks()) {
    Task out;
    out.user = t.user();
    out.state = FromProto(t.state());
    out.via_role = t.via_role();
    out.required = t.required();
    out.added = t.added();
    out.assigned_by = t.assigned_by();
    out.handed_to = t.handed_to();
    out.assign_unix = FromTimestamp(t.assign_time(), t, 8);
    out.act_unix = FromTimestamp(t.act_time(), t, 9);
    out.comment = t.comment();
    out.display_name = t.display_name();
    s.tasks.push_back(std::move(out));
  }
  s.activation = p.activation();
  s.step_start_unix = FromTimestamp(p.step_start_time(), p, 13);
  s.due_unix = FromTimestamp(p.due_time(), p, 14);
  s.escalate_unix = FromTimestamp(p.escalate_time(), p, 15);
  s.decisions = p.decisions();
  s.allow_consecutive_steps = p.allow_consecutive_steps();
  s.version = p.version();
  s.create_unix = FromTimestamp(p.create_time(), p, 19);
  s.update_unix = FromTimestamp(p.update_time(), p, 20);
  s.finish_unix = FromTimestamp(p.finish_time(), p, 21);
  s.signer = p.signer();
  s.sign_off_unix = FromTimestamp(p.sign_off_time(), p, 23);
  s.last_comment = p.last_comment();
  s.history_length = p.history_length();
  s.history_head = p.history_head();
  s.excluded.assign(p.excluded_approvers().begin(), p.excluded_approvers().end());
  return s;
}

pb::HistoryEntry ToProto(const HistoryRecord& e) {
  pb::HistoryEntry p;
  p.set_sequence(e.sequence);
  *p.mutable_time() = ToTimestamp(e.time_unix);
  p.set_action(e.action);
  p.set_actor(e.actor);
  p.set_step(e.step);
  p.set_comment(e.comment);
  for (const auto& [k, v] : e.details) (*p.mutable_details())[k] = v;
  p.set_version(e.version);
  p.set_prev_hash(e.prev_hash);
  p.set_via(e.via);
  p.set_token(e.token);
  p.set_state_digest(e.state_digest);
  p.set_hash(e.hash);
  return p;
}

HistoryRecord FromProto(const pb::HistoryEntry& p) {
  HistoryRecord e;
  e.sequence = p.sequence();
  e.time_unix = FromTimestamp(p.time(), p, 2);
  e.action = p.action();
  e.actor = p.actor();
  e.step = p.step();
  e.comment = p.comment();
  for (const auto& [k, v] : p.details()) e.details[k] = v;
  e.version = p.version();
  e.prev_hash = p.prev_hash();
  e.via = p.via();
  e.token = p.token();
  e.state_digest = p.state_digest();
  e.hash = p.hash();
  return e;
}

}  // namespace govreport::approval
