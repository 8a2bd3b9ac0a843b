#include "approval/approvals.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "approval/convert.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/request_id.h"
#include "common/resource.h"
#include "common/server.h"
#include "common/status.h"
#include "common/stored_proto.h"

namespace govreport::approval {
namespace {

namespace roles = ::govreport::auth::roles;

using auth::Authenticator;
using auth::Principal;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
// ListApprovals examines at most this many approvals per call, so a filter
// that matches little cannot make one call scan the whole org.
constexpr int kMaxScan = 1000;
constexpr size_t kMaxRoleMembers = 1000;

// The cursor (the last id of the previous page) of a token of `list`, in
// the form ids have; "" for the first page.
absl::StatusOr<std::string> ReadCursor(absl::string_view list, absl::string_view token) {
  GR_ASSIGN_OR_RETURN(std::string cursor, DecodeCursorToken(list, token));
  if (!cursor.empty() && !ValidateUserId("page_token", cursor).ok()) {
    return absl::InvalidArgumentError("page_token: not a token this API issued");
  }
  return cursor;
}

// The roles each action needs, beside being the task's assignee (admins
// hold every role of their org). A recorder or a system's token can never
// decide anything.
absl::Status CheckActionRoles(const Principal& p, absl::string_view org, ActionType type) {
  switch (type) {
    case ActionType::kApprove:
    case ActionType::kReject:
    case ActionType::kTransfer:
    case ActionType::kAddSigner:
      return auth::CheckOrgRoles(p, org, roles::kDeciders);
    case ActionType::kWithdraw:
    case ActionType::kUrge:
      return auth::CheckOrgRoles(p, org, roles::kDrafters);
    case ActionType::kComment:
      return auth::CheckOrgRoles(p, org, roles::kCommenters);
    default:
      return auth::CheckOrgRoles(p, org, roles::kAdmins);
  }
}

bool TakesPart(const ApprovalState& s, absl::string_view user) {
  if (s.initiator == user) return true;
  for (const Task& t : s.tasks) {
    if (t.user == user) return true;
  }
  for (const StepProgress& sp : s.steps) {
    if (std::find(sp.approvers.begin(), sp.approvers.end(), user) != sp.approvers.end()) {
      return true;
    }
  }
  return false;
}

// What a member of the org who takes no part sees: no comments.
void RedactComments(ApprovalState& s) {
  s.last_comment.clear();
  for (Task& t : s.tasks) t.comment.clear();
}

absl::StatusOr<ApprovalState> ApprovalFromBlob(absl::string_view blob) {
  pb::Approval proto;
  if (!proto.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError("stored result of the request is unreadable");
  }
  return FromProto(proto);
}

absl::StatusOr<ApprovalState> FromPrior(const request_id::Prior& prior,
                                        absl::string_view fingerprint,
                                        absl::string_view request_id) {
  GR_ASSIGN_OR_RETURN(
      std::string result,
      request_id::FirstResult(prior, {std::string(request_id), std::string(fingerprint)}));
  return ApprovalFromBlob(result);
}

absl::StatusOr<WorkflowDef> WorkflowFromBlob(absl::string_view blob) {
  pb::Workflow proto;
  if (!proto.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError("stored result of the request is unreadable");
  }
  return FromProto(proto);
}

absl::Status Conflict(absl::string_view what, int64_t expected, absl::string_view current) {
  return errors::WithReason(
      absl::AbortedError(absl::StrCat(what, " changed: expected version ", expected, ", now ",
                                      current.empty() ? "unknown" : current,
                                      "; read it again and retry")),
      "REVISION_MISMATCH", "审批已被他人更新，请重新读取后重试");
}

}  // namespace

ApprovalCore::ApprovalCore(Store* store, CoreOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<Actor> ApprovalCore::ActorFor(const Principal& p,
                                             absl::string_view on_behalf_of) const {
  Actor self{p.subject,
             p.HasRole(auth::kApprover),
             p.HasRole(auth::kAdmin) || p.IsOperator(),
             /*system=*/false,
             /*via=*/"",
             /*token=*/"",
             /*display_name=*/p.display_name};
  if (!p.token_id.empty()) {
    self.token =
        p.issued_by.empty() ? p.token_id : absl::StrCat(p.token_id, " issued by ", p.issued_by);
  }
  if (on_behalf_of.empty() || on_behalf_of == p.subject) return self;
  // Trust comes from the operator's list, never from the token's kind or a
  // role: an org admin can mint both.
  bool delegate = p.IsOperator() && p.kind == "service" &&
                  std::find(options_.delegates.begin(), options_.delegates.end(), p.subject) !=
                      options_.delegates.end();
  if (!delegate) {
    return absl::PermissionDeniedError(
        "on_behalf_of: only a platform service the operator lists in --delegates may act for "
        "another user; call with that user's own token");
  }
  GR_RETURN_IF_ERROR(ValidateUserId("on_behalf_of", on_behalf_of));
  return Actor{std::string(on_behalf_of), /*approver=*/true,   /*admin=*/false, /*system=*/false,
               /*via=*/p.subject,         /*token=*/self.token};
}

absl::Status ApprovalCore::CheckKnownUser(const ApprovalState& s, absl::string_view user) {
  GR_RETURN_IF_ERROR(ValidateUserId("to_user", user));
  for (const StepProgress& sp : s.steps) {
    const auto& named = sp.step.users;
    if (std::find(named.begin(), named.end(), user) != named.end()) return absl::OkStatus();
  }
  GR_ASSIGN_OR_RETURN(bool member, store_->IsRoleMember(s.org, user));
  if (member) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "'", user, "' is not a member of any role of org '", s.org,
      "' nor named by this workflow: a task given to them could never be completed (add them "
      "to a role with SetRoleMembers first)"));
}

absl::Status ApprovalCore::CheckFloodLimits(const ApprovalState& s, const Actor& actor) {
  if (s.history_length >= options_.max_history_entries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        ApprovalResourceName(s.org, s.id), " has ", s.history_length,
        " history entries, the most that take comments and urgings; decisions are still "
        "accepted"));
  }
  int64_t minute = NowUnix() / 60;
  GR_ASSIGN_OR_RETURN(int64_t n, store_->CountInMinute(s.org, "comments", actor.subject, minute));
  if (n > options_.comments_per_minute) {
    return absl::ResourceExhaustedError(absl::StrCat("'", actor.subject, "' sent more than ",
                                                     options_.comments_per_minute,
                                                     " comments or urgings this minute; wait"));
  }
  return absl::OkStatus();
}

bool ApprovalCore::MaySeeComments(const Principal& p, const ApprovalState& s) const {
  return auth::CheckOrgRoles(p, s.org, roles::kSupervisors).ok() || TakesPart(s, p.subject);
}

// ------------------------------------------------------------- workflows

absl::Status ApprovalCore::CheckRolesHaveMembers(const WorkflowDef& wf) {
  std::vector<std::string> roles = ReferencedRoles(wf);
  GR_ASSIGN_OR_RETURN(RoleDirectory dir, store_->ReadRoles(wf.org, roles));
  for (const StepDef& st : wf.steps) {
    for (const std::string& r : st.roles) {
      if (dir[r].empty()) {
        return absl::FailedPreconditionError(absl::StrCat("role '", r, "' of step '", st.name,
                                                          "' has no members in org '", wf.org,
                                                          "': set them with SetRoleMembers first"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WorkflowDef> ApprovalCore::CreateWorkflow(const Principal& p,
                                                         absl::string_view parent,
                                                         absl::string_view workflow_id,
                                                         WorkflowDef wf,
                                                         absl::string_view request_id) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kAdmins));
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  const std::string fp =
      request_id::Fingerprint("CreateWorkflow", absl::StrCat(parent, "/", workflow_id), p.subject,
                              {SerializeDeterministic(ToProto(wf))});
  GR_ASSIGN_OR_RETURN(auto prior, store_->ReadRequest(org, request_id));
  if (prior) {
    GR_ASSIGN_OR_RETURN(std::string first,
                        request_id::FirstResult(*prior, {std::string(request_id), fp}));
    return WorkflowFromBlob(first);
  }
  wf.org = org;
  wf.id = workflow_id.empty() ? NewId() : std::string(workflow_id);
  GR_RETURN_IF_ERROR(ValidateResourceId("workflow_id", wf.id));
  GR_RETURN_IF_ERROR(ValidateWorkflow(wf));
  GR_RETURN_IF_ERROR(CheckRolesHaveMembers(wf));
  wf.revision = 1;
  wf.create_unix = wf.update_unix = NowUnix();
  wf.updated_by = p.subject;
  GR_ASSIGN_OR_RETURN(WriteResult w, store_->WriteWorkflow(wf, 0, request_id, fp));
  switch (w.outcome) {
    case Outcome::kOk:
      return wf;
    case Outcome::kReplayed:
      return WorkflowFromBlob(w.result);
    case Outcome::kRequestReused:
      return request_id::Reused(request_id);
    case Outcome::kExists:
      return errors::WithReason(absl::AlreadyExistsError(absl::StrCat(
                                    "workflow ", WorkflowResourceName(org, wf.id),
                                    " already exists; use UpdateWorkflow to revise it")),
                                "WORKFLOW_ALREADY_EXISTS",
                                "审批流程已存在，请用 UpdateWorkflow 修改");
    default:
      return absl::InternalError("unexpected outcome creating a workflow");
  }
}

absl::StatusOr<WorkflowDef> ApprovalCore::GetWorkflow(const Principal& p, absl::string_view name) {
  GR_ASSIGN_OR_RETURN(WorkflowName wn, ParseWorkflowName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, wn.org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(auto wf, store_->ReadWorkflow(wn.org, wn.id, wn.revision));
  if (!wf)
    return errors::WithReason(absl::NotFoundError(absl::StrCat("workflow ", name, " not found")),
                              "WORKFLOW_NOT_FOUND", absl::StrCat("审批流程 ", name, " 不存在"));
  return *wf;
}

absl::StatusOr<Listing<WorkflowDef>> ApprovalCore::ListWorkflows(const Principal& p,
                                                                 absl::string_view parent,
                                                                 int page_size,
                                                                 absl::string_view page_token) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, kDefaultPageSize, kMaxPageSize));
  const std::string list = PageList({"workflows", org});
  GR_ASSIGN_OR_RETURN(std::string cursor, ReadCursor(list, page_token));
  GR_ASSIGN_OR_RETURN(std::vector<WorkflowDef> wfs, store_->ListWorkflows(org, cursor, size + 1));
  Listing<WorkflowDef> out;
  if (static_cast<int>(wfs.size()) > size) {
    wfs.resize(size);
    out.next_page_token = EncodeCursorToken(list, wfs.back().id);
  }
  out.items = std::move(wfs);
  return out;
}

absl::StatusOr<WorkflowDef> ApprovalCore::UpdateWorkflow(const Principal& p, absl::string_view name,
                                                         WorkflowDef wf, int64_t expected_revision,
                                                         absl::string_view request_id) {
  GR_ASSIGN_OR_RETURN(WorkflowName wn, ParseWorkflowName(name));
  if (wn.revision != 0) {
    return absl::InvalidArgumentError(
        "workflow.name: name the workflow without '@revision' to update it");
  }
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, wn.org, roles::kAdmins));
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  if (expected_revision < 0) {
    return absl::InvalidArgumentError("expected_revision: must not be negative");
  }
  const std::string fp = request_id::Fingerprint(
      "UpdateWorkflow", name, p.subject,
      {SerializeDeterministic(ToProto(wf)), absl::StrCat(expected_revision)});
  GR_ASSIGN_OR_RETURN(auto prior, store_->ReadRequest(wn.org, request_id));
  if (prior) {
    GR_ASSIGN_OR_RETURN(std::string first,
                        request_id::FirstResult(*prior, {std::string(request_id), fp}));
    return WorkflowFromBlob(first);
  }
  wf.org = wn.org;
  wf.id = wn.id;
  GR_RETURN_IF_ERROR(ValidateWorkflow(wf));
  GR_RETURN_IF_ERROR(CheckRolesHaveMembers(wf));
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    GR_ASSIGN_OR_RETURN(auto cur, store_->ReadWorkflow(wn.org, wn.id));
    if (!cur)
      return errors::WithReason(absl::NotFoundError(absl::StrCat("workflow ", name, " not found")),
                                "WORKFLOW_NOT_FOUND", absl::StrCat("审批流程 ", name, " 不存在"));
    if (expected_revision != 0 && cur->revision != expected_revision) {
      return absl::AbortedError(absl::StrCat("workflow ", name, " is at revision ", cur->revision,
                                             ", not the expected ", expected_revision,
                                             "; read it again"));
    }
    wf.revision = cur->revision + 1;
    wf.create_unix = cur->create_unix;
    wf.update_unix = NowUnix();
    wf.updated_by = p.subject;
    GR_ASSIGN_OR_RETURN(WriteResult w, store_->WriteWorkflow(wf, cur->revision, request_id, fp));
    switch (w.outcome) {
      case Outcome::kOk:
        return wf;
      case Outcome::kReplayed:
        return WorkflowFromBlob(w.result);
      case Outcome::kRequestReused:
        return request_id::Reused(request_id);
      case Outcome::kConflict:
        if (expected_revision != 0) {
          return errors::WithReason(
              absl::AbortedError(
                  absl::StrCat("workflow ", name, " was revised concurrently; read it again")),
              "REVISION_MISMATCH", "审批流程已被他人修改，请重新读取");
        }
        continue;
      default:
        return absl::InternalError("unexpected outcome updating a workflow");
    }
  }
  return absl::AbortedError(absl::StrCat("workflow ", name, " keeps changing; try again"));
}

// ----------------------------------------------------------------- roles

absl::StatusOr<RoleView> ApprovalCore::SetRoleMembers(const Principal& p, absl::string_view name,
                                                      std::vector<std::string> members,
                                                      absl::string_view request_id) {
  GR_ASSIGN_OR_RETURN(ChildName rn, ParseRoleName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, rn.org, roles::kAdmins));
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  for (size_t i = 0; i < members.size(); ++i) {
    GR_RETURN_IF_ERROR(ValidateUserId(absl::StrCat("members[", i, "]"), members[i]));
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() > kMaxRoleMembers) {
    return absl::InvalidArgumentError(
        absl::StrCat("members: at most ", kMaxRoleMembers, " per role"));
  }
  pb::Role result;
  result.set_name(RoleResourceName(rn.org, rn.id));
  for (const auto& m : members) result.add_members(m);
  GR_ASSIGN_OR_RETURN(WriteResult w,
                      store_->SetRole(rn.org, rn.id, members, request_id,
                                      request_id::Fingerprint("SetRoleMembers", name, p.subject,
                                                              {absl::StrJoin(members, "\n")}),
                                      result.SerializeAsString()));
  if (w.outcome == Outcome::kRequestReused) return request_id::Reused(request_id);
  if (w.outcome == Outcome::kReplayed) {
    pb::Role stored;
    if (!stored.ParseFromString(w.result)) {
      return absl::DataLossError("stored result of the request is unreadable");
    }
    members.assign(stored.members().begin(), stored.members().end());
  }
  return RoleView{rn.org, rn.id, std::move(members)};
}

absl::StatusOr<RoleView> ApprovalCore::ListRoleMembers(const Principal& p, absl::string_view name) {
  GR_ASSIGN_OR_RETURN(ChildName rn, ParseRoleName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, rn.org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(RoleDirectory dir, store_->ReadRoles(rn.org, {rn.id}));
  return RoleView{rn.org, rn.id, dir[rn.id]};
}

absl::StatusOr<Listing<RoleView>> ApprovalCore::ListRoles(const Principal& p,
                                                          absl::string_view parent, int page_size,
                                                          absl::string_view page_token) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, kDefaultPageSize, kMaxPageSize));
  const std::string list = PageList({"roles", org});
  GR_ASSIGN_OR_RETURN(std::string cursor, ReadCursor(list, page_token));
  GR_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListRoleNames(org, cursor, size + 1));
  Listing<RoleView> out;
  if (static_cast<int>(names.size()) > size) {
    names.resize(size);
    out.next_page_token = EncodeCursorToken(list, names.back());
  }
  GR_ASSIGN_OR_RETURN(RoleDirectory dir, store_->ReadRoles(org, names));
  for (const auto& n : names) out.items.push_back(RoleView{org, n, dir[n]});
  return out;
}

// ------------------------------------------------------------- approvals

absl::StatusOr<ApprovalCore::Committed> ApprovalCore::CommitTransition(
    const ApprovalState* before, Transition& t, absl::string_view request_id,
    absl::string_view fingerprint, absl::string_view required_timer) {
  int64_t length = before ? before->history_length : 0;
  // History-only entries leave the stored state as it was.
  t.entry.state_digest = StateDigest(t.state_changed || before == nullptr ? t.next : *before);
  Seal(t.entry, length + 1, before ? before->history_head : "", options_.audit_key);
  t.next.history_length = length + 1;
  t.next.history_head = t.entry.hash;
  CommitInput in;
  in.before = before;
  in.transition = &t;
  in.request_id = std::string(request_id);
  in.fingerprint = std::string(fingerprint);
  if (!request_id.empty()) in.result = ToProto(t.next).SerializeAsString();
  in.required_timer = std::string(required_timer);
  GR_ASSIGN_OR_RETURN(WriteResult w, store_->Commit(in));
  return Committed{std::move(w), t.next};
}

absl::StatusOr<ApprovalState> ApprovalCore::StartApproval(const Principal& p,
                                                          const StartRequest& req) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(req.parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kInitiators));
  GR_RETURN_IF_ERROR(request_id::Validate(req.request_id));
  auto wn = ParseWorkflowName(req.workflow);
  if (!wn.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("workflow: ", wn.status().message()));
  }
  if (wn->org != org) {
    return absl::InvalidArgumentError(
        absl::StrCat("workflow: ", req.workflow, " is not a workflow of ", req.parent));
  }
  GR_ASSIGN_OR_RETURN(Actor initiator, ActorFor(p, req.initiator));
  // The comment is left out: it is the note of the first history entry, and
  // the assembler resumes a lost start under its derived id with the
  // comment of the drafter's next submit.
  const std::string fp =
      request_id::Fingerprint("StartApproval", req.parent, initiator.subject,
                              {req.workflow, req.subject, req.title, req.initiator, p.subject,
                               absl::StrJoin(req.excluded_approvers, "\n")});
  GR_ASSIGN_OR_RETURN(auto prior, store_->ReadRequest(org, req.request_id));
  if (prior) return FromPrior(*prior, fp, req.request_id);

  GR_ASSIGN_OR_RETURN(auto wf, store_->ReadWorkflow(org, wn->id, wn->revision));
  if (!wf) {
    return absl::InvalidArgumentError(
        absl::StrCat("workflow: ", req.workflow, " does not exist; see ListWorkflows"));
  }
  GR_ASSIGN_OR_RETURN(RoleDirectory roles, store_->ReadRoles(org, ReferencedRoles(*wf)));
  StartInput in;
  in.org = org;
  in.workflow = std::move(*wf);
  in.subject = req.subject;
  in.title = req.title;
  in.initiator = initiator.subject;
  in.comment = req.comment;
  in.excluded = req.excluded_approvers;
  in.via = initiator.via;
  in.token = initiator.token;
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    in.id = NewId();
    GR_ASSIGN_OR_RETURN(Transition t, Start(in, roles, NowUnix()));
    GR_ASSIGN_OR_RETURN(Committed c, CommitTransition(nullptr, t, req.request_id, fp, ""));
    switch (c.write.outcome) {
      case Outcome::kOk:
        return c.state;
      case Outcome::kReplayed:
        return ApprovalFromBlob(c.write.result);
      case Outcome::kRequestReused:
        return request_id::Reused(req.request_id);
      case Outcome::kBusy:
        return errors::WithReason(
            absl::FailedPreconditionError(absl::StrCat(
                "subject '", req.subject, "' is already under approval in ",
                ApprovalResourceName(org, c.write.result), "; withdraw or finish that one first")),
            "SUBJECT_UNDER_APPROVAL", "该文稿已在审批中，请先撤回或完成该审批");
      case Outcome::kFinal:
        return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                      "subject '", req.subject, "' was approved already in ",
                                      ApprovalResourceName(org, c.write.result),
                                      "; a new revision needs an approval of its own")),
                                  "SUBJECT_ALREADY_APPROVED", "该文稿已审批通过，新修订需另行审批");
      case Outcome::kExists:
        continue;  // Id collision: draw another.
      default:
        return absl::InternalError("unexpected outcome starting an approval");
    }
  }
  return absl::UnavailableError("could not allocate an approval id; try again");
}

absl::StatusOr<Action> ApprovalCore::ActionFor(const Principal& p, ActionType type,
                                               const ActionRequest& req) const {
  // Comments and urging leave the state alone, so a stale view is harmless
  // there; every decision must say which version it was made on.
  bool versioned = type != ActionType::kUrge && type != ActionType::kComment;
  if (req.expected_version < 0 || (versioned && req.expected_version == 0)) {
    return absl::InvalidArgumentError(
        "expected_version: required; use the version from GetApproval");
  }
  GR_ASSIGN_OR_RETURN(Actor actor, ActorFor(p, req.on_behalf_of));
  // A delegate relays what a drafter does; a decision is made by the
  // approver's own token, never relayed.
  if (!actor.via.empty() && type != ActionType::kWithdraw && type != ActionType::kUrge &&
      type != ActionType::kComment) {
    return absl::PermissionDeniedError(
        absl::StrCat("on_behalf_of: a delegate may withdraw, urge and comment for a user, not ",
                     ActionName(type), "; the approver calls with their own token"));
  }
  Action action;
  action.type = type;
  action.actor = std::move(actor);
  action.comment = req.comment;
  action.target_user = req.target_user;
  action.return_to_step = req.return_to_step;
  action.from_user = req.from_user;
  return action;
}

absl::StatusOr<ApprovalState> ApprovalCore::Act(const Principal& p, ActionType type,
                                                const ActionRequest& req) {
  GR_ASSIGN_OR_RETURN(ChildName an, ParseApprovalName(req.name));
  if (type == ActionType::kRemind || type == ActionType::kEscalate) {
    return absl::InvalidArgumentError("reminders come from the timer loop");
  }
  GR_RETURN_IF_ERROR(CheckActionRoles(p, an.org, type));
  GR_RETURN_IF_ERROR(request_id::Validate(req.request_id));
  GR_ASSIGN_OR_RETURN(Action action, ActionFor(p, type, req));
  const Actor& actor = action.actor;
  const std::string fp =
      request_id::Fingerprint(ActionName(type), req.name, actor.subject,
                              {absl::StrCat(req.expected_version), req.comment, req.on_behalf_of,
                               req.target_user, req.return_to_step, req.from_user, p.subject});

  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    GR_ASSIGN_OR_RETURN(LoadedApproval loaded, store_->LoadApproval(an.org, an.id, req.request_id));
    if (loaded.prior) return FromPrior(*loaded.prior, fp, req.request_id);
    if (!loaded.state) {
      return errors::WithReason(
          absl::NotFoundError(absl::StrCat("approval ", req.name, " not found")),
          "APPROVAL_NOT_FOUND", "审批不存在");
    }
    const ApprovalState& cur = *loaded.state;
    if (req.expected_version != 0 && cur.version != req.expected_version) {
      return Conflict(absl::StrCat("approval ", req.name), req.expected_version,
                      absl::StrCat(cur.version));
    }
    RoleDirectory roles;
    if (type == ActionType::kApprove || type == ActionType::kReject) {
      // Only these activate a step, which resolves its roles.
      GR_ASSIGN_OR_RETURN(roles, store_->ReadRoles(an.org, ReferencedRoles(cur.steps)));
    }
    if (!cur.finished() && (type == ActionType::kTransfer || type == ActionType::kAddSigner ||
                            type == ActionType::kReassign)) {
      GR_RETURN_IF_ERROR(CheckKnownUser(cur, req.target_user));
    }
    GR_ASSIGN_OR_RETURN(Transition t, Apply(cur, action, roles, NowUnix()));
    // Counted once per call, and only for a comment that would be written.
    if ((type == ActionType::kComment || type == ActionType::kUrge) && attempt == 0) {
      GR_RETURN_IF_ERROR(CheckFloodLimits(cur, actor));
    }
    GR_ASSIGN_OR_RETURN(Committed c, CommitTransition(&cur, t, req.request_id, fp, ""));
    switch (c.write.outcome) {
      case Outcome::kOk:
        return c.state;
      case Outcome::kReplayed:
        return FromPrior({fp, c.write.result}, fp, req.request_id);
      case Outcome::kRequestReused:
        return request_id::Reused(req.request_id);
      case Outcome::kConflict:
        // Someone else's decision landed between our read and our write.
        if (req.expected_version != 0) {
          return Conflict(absl::StrCat("approval ", req.name), req.expected_version,
                          c.write.current);
        }
        continue;
      case Outcome::kStale:
        continue;  // Only the history grew: decide again on the new head.
      default:
        return absl::InternalError("unexpected outcome of an approval action");
    }
  }
  return errors::WithReason(
      absl::AbortedError(absl::StrCat("approval ", req.name, " is too busy right now; try again")),
      "CONCURRENT_WRITES", "审批正被频繁更新，请重试");
}

absl::StatusOr<ApprovalState> ApprovalCore::GetApproval(const Principal& p,
                                                        absl::string_view name) {
  GR_ASSIGN_OR_RETURN(ChildName an, ParseApprovalName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, an.org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(LoadedApproval loaded, store_->LoadApproval(an.org, an.id, ""));
  if (!loaded.state) {
    return errors::WithReason(absl::NotFoundError(absl::StrCat("approval ", name, " not found")),
                              "APPROVAL_NOT_FOUND", "审批不存在");
  }
  if (!MaySeeComments(p, *loaded.state)) RedactComments(*loaded.state);
  return std::move(*loaded.state);
}

absl::StatusOr<Listing<ApprovalState>> ApprovalCore::ListApprovals(const Principal& p,
                                                                   const ListFilter& f) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(f.parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(int size, PageSize(f.page_size, kDefaultPageSize, kMaxPageSize));
  // Bound to the filters too: a cursor is a position in what they select.
  const std::string list =
      PageList({"approvals", org, f.state ? absl::StrCat(static_cast<int>(*f.state)) : "",
                f.subject, f.workflow, f.initiator});
  GR_ASSIGN_OR_RETURN(std::string cursor, ReadCursor(list, f.page_token));
  std::string workflow_id;
  if (!f.workflow.empty()) {
    GR_ASSIGN_OR_RETURN(WorkflowName wn, ParseWorkflowName(f.workflow));
    workflow_id = wn.id;
  }
  Listing<ApprovalState> out;
  int scanned = 0;
  while (static_cast<int>(out.items.size()) < size) {
    if (scanned >= kMaxScan) {
      out.next_page_token = EncodeCursorToken(list, cursor);  // Stop; the client goes on.
      return out;
    }
    int batch = std::min(100, kMaxScan - scanned);
    GR_ASSIGN_OR_RETURN(std::vector<std::string> ids, store_->ListApprovalIds(org, cursor, batch));
    if (ids.empty()) return out;
    GR_ASSIGN_OR_RETURN(std::vector<ApprovalState> states, store_->LoadApprovals(org, ids));
    size_t k = 0;
    for (const std::string& id : ids) {
      ++scanned;
      cursor = id;
      // LoadApprovals skips vanished ids; keep the two lists aligned.
      if (k >= states.size() || states[k].id != id) continue;
      ApprovalState& s = states[k++];
      bool match = (!f.state || s.status == *f.state) &&
                   (f.subject.empty() || s.subject == f.subject) &&
                   (workflow_id.empty() || s.workflow_id == workflow_id) &&
                   (f.initiator.empty() || s.initiator == f.initiator);
      if (!match) continue;
      if (!MaySeeComments(p, s)) RedactComments(s);
      out.items.push_back(std::move(s));
      if (static_cast<int>(out.items.size()) == size) {
        out.next_page_token = EncodeCursorToken(list, cursor);
        return out;
      }
    }
    if (static_cast<int>(ids.size()) < batch) return out;  // The end.
  }
  return out;
}

absl::StatusOr<Listing<TaskView>> ApprovalCore::ListMyTasks(const Principal& p,
                                                            absl::string_view parent, int page_size,
                                                            absl::string_view page_token) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(parent));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, kDefaultPageSize, kMaxPageSize));
  // Each user's inbox is a list of its own.
  const std::string list = PageList({"tasks", org, p.subject});
  GR_ASSIGN_OR_RETURN(std::string cursor, ReadCursor(list, page_token));
  GR_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                      store_->ListInbox(org, p.subject, cursor, size + 1));
  Listing<TaskView> out;
  if (static_cast<int>(ids.size()) > size) {
    ids.resize(size);
    out.next_page_token = EncodeCursorToken(list, ids.back());
  }
  GR_ASSIGN_OR_RETURN(std::vector<ApprovalState> states, store_->LoadApprovals(org, ids));
  for (ApprovalState& s : states) {
    const Task* task = s.finished() ? nullptr : s.FindTask(p.subject);
    if (task == nullptr || task->state != TaskState::kPending) continue;
    Task copy = *task;
    out.items.push_back(TaskView{std::move(s), std::move(copy)});
  }
  return out;
}

absl::StatusOr<Listing<HistoryRecord>> ApprovalCore::GetHistory(const Principal& p,
                                                                absl::string_view name,
                                                                int page_size,
                                                                absl::string_view page_token) {
  GR_ASSIGN_OR_RETURN(ChildName an, ParseApprovalName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, an.org, roles::kAnyMember));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 100, 1000));
  const std::string list = PageList({"history", an.org, an.id});
  GR_ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(list, page_token));
  GR_ASSIGN_OR_RETURN(LoadedApproval loaded, store_->LoadApproval(an.org, an.id, ""));
  if (!loaded.state) {
    return errors::WithReason(absl::NotFoundError(absl::StrCat("approval ", name, " not found")),
                              "APPROVAL_NOT_FOUND", "审批不存在");
  }
  // Auditors read every history; otherwise only those taking part.
  if (!auth::CheckOrgRoles(p, an.org, roles::kOverseers).ok()) {
    if (!TakesPart(*loaded.state, p.subject)) {
      return absl::PermissionDeniedError(
          absl::StrCat("'", p.subject, "' takes no part in ", name,
                       " and needs the auditor role to read its history"));
    }
  }
  GR_ASSIGN_OR_RETURN(std::vector<StoredEntry> entries,
                      store_->ReadHistory(an.org, an.id, offset, size));
  Listing<HistoryRecord> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].parsed) {
      // Show the hole rather than hide it; VerifyHistory explains.
      HistoryRecord bad;
      bad.sequence = offset + static_cast<int64_t>(i) + 1;
      bad.action = "unreadable";
      out.items.push_back(std::move(bad));
    } else {
      out.items.push_back(std::move(entries[i].record));
    }
  }
  if (static_cast<int>(entries.size()) == size && offset + size < loaded.state->history_length) {
    out.next_page_token = EncodePageToken(list, offset + size);
  }
  return out;
}

absl::StatusOr<ChainCheck> ApprovalCore::VerifyHistory(const Principal& p, absl::string_view name) {
  GR_ASSIGN_OR_RETURN(ChildName an, ParseApprovalName(name));
  GR_RETURN_IF_ERROR(auth::CheckOrgRoles(p, an.org, roles::kOverseers));
  GR_ASSIGN_OR_RETURN(Store::HistorySnapshot snap, store_->ReadFullHistory(an.org, an.id));
  if (!snap.found) {
    return errors::WithReason(absl::NotFoundError(absl::StrCat("approval ", name, " not found")),
                              "APPROVAL_NOT_FOUND", "审批不存在");
  }
  return VerifyChain(snap.entries, snap.length, snap.head, options_.audit_key,
                     snap.state ? StateDigest(*snap.state) : "unreadable");
}

// ---------------------------------------------------------------- timers

absl::StatusOr<int> ApprovalCore::FireDueTimers(int64_t now, absl::Duration lease, int limit) {
  GR_ASSIGN_OR_RETURN(std::vector<std::string> due, store_->ClaimDueTimers(now, lease, limit));
  int fired = 0;
  absl::Status first_error;
  for (const std::string& member : due) {
    auto ref = ParseTimerMember(member);
    if (!ref.ok()) {
      (void)store_->DropTimer(member);  // Nothing could ever fire it.
      continue;
    }
    Action action;
    action.type = ref->kind == TimerKind::kRemind ? ActionType::kRemind : ActionType::kEscalate;
    action.actor = Actor{std::string(kSystemActor), false, false, /*system=*/true, /*via=*/""};
    action.activation = ref->activation;
    for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
      auto loaded = store_->LoadApproval(ref->org, ref->id, "");
      if (!loaded.ok()) {
        // Left leased: another pass fires it after the lease.
        if (first_error.ok()) first_error = loaded.status();
        break;
      }
      if (!loaded->state || !TimerApplies(*loaded->state, ref->activation)) {
        (void)store_->DropTimer(member);  // Step done meanwhile.
        break;
      }
      auto t = Apply(*loaded->state, action, {}, now);
      if (!t.ok()) {
        (void)store_->DropTimer(member);
        break;
      }
      auto c = CommitTransition(&*loaded->state, *t, "", "", member);
      if (!c.ok()) {
        if (first_error.ok()) first_error = c.status();
        break;
      }
      if (c->write.outcome == Outcome::kOk) ++fired;
      if (c->write.outcome != Outcome::kConflict && c->write.outcome != Outcome::kStale) {
        break;  // Fired here, or by another replica (kTimerGone).
      }
    }
  }
  if (fired == 0 && !first_error.ok()) return first_error;
  return fired;
}

TimerLoop::TimerLoop(ApprovalCore* core, absl::Duration interval, absl::Duration lease, int batch)
    : core_(core), interval_(interval), lease_(lease), batch_(batch) {}

TimerLoop::~TimerLoop() { Stop(); }

void TimerLoop::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void TimerLoop::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void TimerLoop::Run() {
  absl::Time last_error = absl::InfinitePast();
  while (!stop_.load()) {
    auto fired = core_->FireDueTimers(core_->NowUnix(), lease_, batch_);
    if (fired.ok()) {
      fired_.fetch_add(*fired);
      // A full batch means more may be due: go again at once.
      if (*fired >= batch_) continue;
    } else if (absl::Now() - last_error > absl::Minutes(1)) {
      last_error = absl::Now();  // Redis away: say so, not once a second.
      LogWarning("approval", absl::StrCat("timer loop: ", fired.status().ToString()));
    }
    absl::Time until = absl::Now() + interval_;
    while (!stop_.load() && absl::Now() < until) {
      absl::SleepFor(std::min(interval_, absl::Milliseconds(50)));
    }
  }
}

}  // namespace govreport::approval
