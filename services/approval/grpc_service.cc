#include "approval/grpc_service.h"

#include <optional>
#include <vector>

#include "approval/convert.h"
#include "common/enums.h"
#include "common/status.h"
#include "common/timestamp.h"

namespace govreport::approval {
namespace {

v1::Role RoleToProto(const RoleView& r) {
  v1::Role out;
  out.set_name(RoleResourceName(r.org, r.role));
  for (const auto& m : r.members) out.add_members(m);
  return out;
}

}  // namespace

grpc::Status ApprovalGrpcService::CreateWorkflow(grpc::ServerContext* ctx,
                                                 const v1::CreateWorkflowRequest* req,
                                                 v1::Workflow* resp) {
  GR_AUTHENTICATE(p);
  if (absl::Status st = CheckWorkflowEnums(req->workflow()); !st.ok()) return ToGrpcStatus(st);
  auto wf = core_->CreateWorkflow(p, req->parent(), req->workflow_id(), FromProto(req->workflow()),
                                  req->request_id());
  if (!wf.ok()) return ToGrpcStatus(wf.status());
  *resp = ToProto(*wf);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::GetWorkflow(grpc::ServerContext* ctx,
                                              const v1::GetWorkflowRequest* req,
                                              v1::Workflow* resp) {
  GR_AUTHENTICATE(p);
  auto wf = core_->GetWorkflow(p, req->name());
  if (!wf.ok()) return ToGrpcStatus(wf.status());
  *resp = ToProto(*wf);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::ListWorkflows(grpc::ServerContext* ctx,
                                                const v1::ListWorkflowsRequest* req,
                                                v1::ListWorkflowsResponse* resp) {
  GR_AUTHENTICATE(p);
  auto page = core_->ListWorkflows(p, req->parent(), req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& wf : page->items) *resp->add_workflows() = ToProto(wf);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::UpdateWorkflow(grpc::ServerContext* ctx,
                                                 const v1::UpdateWorkflowRequest* req,
                                                 v1::Workflow* resp) {
  GR_AUTHENTICATE(p);
  if (absl::Status st = CheckWorkflowEnums(req->workflow()); !st.ok()) return ToGrpcStatus(st);
  auto wf = core_->UpdateWorkflow(p, req->workflow().name(), FromProto(req->workflow()),
                                  req->expected_revision(), req->request_id());
  if (!wf.ok()) return ToGrpcStatus(wf.status());
  *resp = ToProto(*wf);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::SetRoleMembers(grpc::ServerContext* ctx,
                                                 const v1::SetRoleMembersRequest* req,
                                                 v1::Role* resp) {
  GR_AUTHENTICATE(p);
  auto role = core_->SetRoleMembers(p, req->name(), {req->members().begin(), req->members().end()},
                                    req->request_id());
  if (!role.ok()) return ToGrpcStatus(role.status());
  *resp = RoleToProto(*role);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::ListRoleMembers(grpc::ServerContext* ctx,
                                                  const v1::ListRoleMembersRequest* req,
                                                  v1::Role* resp) {
  GR_AUTHENTICATE(p);
  auto role = core_->ListRoleMembers(p, req->name());
  if (!role.ok()) return ToGrpcStatus(role.status());
  *resp = RoleToProto(*role);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::ListRoles(grpc::ServerContext* ctx,
                                            const v1::ListRolesRequest* req,
                                            v1::ListRolesResponse* resp) {
  GR_AUTHENTICATE(p);
  auto page = core_->ListRoles(p, req->parent(), req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& r : page->items) *resp->add_roles() = RoleToProto(r);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::StartApproval(grpc::ServerContext* ctx,
                                                const v1::StartApprovalRequest* req,
                                                v1::Approval* resp) {
  GR_AUTHENTICATE(p);
  StartRequest in;
  in.parent = req->parent();
  in.workflow = req->workflow();
  in.subject = req->subject();
  in.title = req->title();
  in.initiator = req->initiator();
  in.comment = req->comment();
  in.request_id = req->request_id();
  in.excluded_approvers.assign(req->excluded_approvers().begin(), req->excluded_approvers().end());
  auto s = core_->StartApproval(p, in);
  if (!s.ok()) return ToGrpcStatus(s.status());
  *resp = ToProto(*s);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::Act(grpc::ServerContext* ctx, ActionType type,
                                      const ActionRequest& req, v1::Approval* resp) {
  GR_AUTHENTICATE(p);
  auto s = core_->Act(p, type, req);
  if (!s.ok()) return ToGrpcStatus(s.status());
  *resp = ToProto(*s);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::Approve(grpc::ServerContext* ctx, const v1::ApproveRequest* req,
                                          v1::Approval* resp) {
  return Act(ctx, ActionType::kApprove,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), "", "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::Reject(grpc::ServerContext* ctx, const v1::RejectRequest* req,
                                         v1::Approval* resp) {
  return Act(ctx, ActionType::kReject,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), "", req->return_to_step(), ""},
             resp);
}

grpc::Status ApprovalGrpcService::Withdraw(grpc::ServerContext* ctx, const v1::WithdrawRequest* req,
                                           v1::Approval* resp) {
  return Act(ctx, ActionType::kWithdraw,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), "", "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::Transfer(grpc::ServerContext* ctx, const v1::TransferRequest* req,
                                           v1::Approval* resp) {
  return Act(ctx, ActionType::kTransfer,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), req->to_user(), "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::AddSigner(grpc::ServerContext* ctx,
                                            const v1::AddSignerRequest* req, v1::Approval* resp) {
  return Act(ctx, ActionType::kAddSigner,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), req->user(), "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::Urge(grpc::ServerContext* ctx, const v1::UrgeRequest* req,
                                       v1::Approval* resp) {
  return Act(ctx, ActionType::kUrge,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), "", "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::Comment(grpc::ServerContext* ctx, const v1::CommentRequest* req,
                                          v1::Approval* resp) {
  return Act(ctx, ActionType::kComment,
             {req->name(), req->expected_version(), req->comment(), req->request_id(),
              req->on_behalf_of(), "", "", ""},
             resp);
}

grpc::Status ApprovalGrpcService::CancelApproval(grpc::ServerContext* ctx,
                                                 const v1::CancelApprovalRequest* req,
                                                 v1::Approval* resp) {
  ActionRequest in{
      req->name(), req->expected_version(), req->comment(), req->request_id(), "", "", "", ""};
  return Act(ctx, ActionType::kCancel, in, resp);
}

grpc::Status ApprovalGrpcService::ReassignTask(grpc::ServerContext* ctx,
                                               const v1::ReassignTaskRequest* req,
                                               v1::Approval* resp) {
  ActionRequest in{
      req->name(), req->expected_version(), req->comment(), req->request_id(), "", req->to_user(),
      "",          req->from_user()};
  return Act(ctx, ActionType::kReassign, in, resp);
}

grpc::Status ApprovalGrpcService::GetApproval(grpc::ServerContext* ctx,
                                              const v1::GetApprovalRequest* req,
                                              v1::Approval* resp) {
  GR_AUTHENTICATE(p);
  auto s = core_->GetApproval(p, req->name());
  if (!s.ok()) return ToGrpcStatus(s.status());
  *resp = ToProto(*s);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::ListApprovals(grpc::ServerContext* ctx,
                                                const v1::ListApprovalsRequest* req,
                                                v1::ListApprovalsResponse* resp) {
  GR_AUTHENTICATE(p);
  // Unset: every state.
  if (absl::Status st = CheckEnum("state", req->state(), Unspecified::kAllowed); !st.ok()) {
    return ToGrpcStatus(st);
  }
  ListFilter f;
  f.parent = req->parent();
  f.page_size = req->page_size();
  f.page_token = req->page_token();
  if (req->state() != v1::APPROVAL_STATE_UNSPECIFIED) {
    f.state = FromProto(req->state());
  }
  f.subject = req->subject();
  f.workflow = req->workflow();
  f.initiator = req->initiator();
  auto page = core_->ListApprovals(p, f);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& s : page->items) *resp->add_approvals() = ToProto(s);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::ListMyTasks(grpc::ServerContext* ctx,
                                              const v1::ListMyTasksRequest* req,
                                              v1::ListMyTasksResponse* resp) {
  GR_AUTHENTICATE(p);
  auto page = core_->ListMyTasks(p, req->parent(), req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  int64_t now = core_->NowUnix();
  for (const TaskView& tv : page->items) {
    v1::MyTask* out = resp->add_tasks();
    *out->mutable_approval() = ToProto(tv.approval);
    const StepDef& step = tv.approval.current();
    out->set_step(step.name);
    out->set_step_display_name(step.display_name);
    *out->mutable_assign_time() = ToTimestamp(tv.task.assign_unix);
    SetTimestamp(tv.approval.due_unix, [&] { return out->mutable_due_time(); });
    out->set_overdue(tv.approval.due_unix != 0 && now > tv.approval.due_unix);
    out->set_required(tv.task.required);
  }
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::GetHistory(grpc::ServerContext* ctx,
                                             const v1::GetHistoryRequest* req,
                                             v1::GetHistoryResponse* resp) {
  GR_AUTHENTICATE(p);
  auto page = core_->GetHistory(p, req->name(), req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& e : page->items) *resp->add_entries() = ToProto(e);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ApprovalGrpcService::VerifyHistory(grpc::ServerContext* ctx,
                                                const v1::VerifyHistoryRequest* req,
                                                v1::VerifyHistoryResponse* resp) {
  GR_AUTHENTICATE(p);
  auto check = core_->VerifyHistory(p, req->name());
  if (!check.ok()) return ToGrpcStatus(check.status());
  resp->set_ok(check->ok);
  resp->set_entries_checked(check->checked);
  resp->set_first_bad_sequence(check->first_bad_sequence);
  resp->set_problem(check->problem);
  resp->set_head_hash(check->head);
  return grpc::Status::OK;
}

}  // namespace govreport::approval
