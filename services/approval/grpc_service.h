// The gRPC edge of the approval service: authenticates the caller, turns
// protobuf requests into ApprovalCore calls and the results back into
// protobuf. No decisions are made here.
#ifndef GOVREPORT_APPROVAL_GRPC_SERVICE_H_
#define GOVREPORT_APPROVAL_GRPC_SERVICE_H_

#include "approval/approvals.h"
#include "common/auth.h"
#include "govreport/approval/v1/approval.grpc.pb.h"

namespace govreport::approval {

class ApprovalGrpcService final : public v1::ApprovalService::Service {
 public:
  ApprovalGrpcService(ApprovalCore* core, auth::Authenticator* auth) : core_(core), auth_(auth) {}

  grpc::Status CreateWorkflow(grpc::ServerContext* ctx, const v1::CreateWorkflowRequest* req,
                              v1::Workflow* resp) override;
  grpc::Status GetWorkflow(grpc::ServerContext* ctx, const v1::GetWorkflowRequest* req,
                           v1::Workflow* resp) override;
  grpc::Status ListWorkflows(grpc::ServerContext* ctx, const v1::ListWorkflowsRequest* req,
                             v1::ListWorkflowsResponse* resp) override;
  grpc::Status UpdateWorkflow(grpc::ServerContext* ctx, const v1::UpdateWorkflowRequest* req,
                              v1::Workflow* resp) override;

  grpc::Status SetRoleMembers(grpc::ServerContext* ctx, const v1::SetRoleMembersRequest* req,
                              v1::Role* resp) override;
  grpc::Status ListRoleMembers(grpc::ServerContext* ctx, const v1::ListRoleMembersRequest* req,
                               v1::Role* resp) override;
  grpc::Status ListRoles(grpc::ServerContext* ctx, const v1::ListRolesRequest* req,
                         v1::ListRolesResponse* resp) override;

  grpc::Status StartApproval(grpc::ServerContext* ctx, const v1::StartApprovalRequest* req,
                             v1::Approval* resp) override;
  grpc::Status Approve(grpc::ServerContext* ctx, const v1::ApproveRequest* req,
                       v1::Approval* resp) override;
  grpc::Status Reject(grpc::ServerContext* ctx, const v1::RejectRequest* req,
                      v1::Approval* resp) override;
  grpc::Status Withdraw(grpc::ServerContext* ctx, const v1::WithdrawRequest* req,
                        v1::Approval* resp) override;
  grpc::Status Transfer(grpc::ServerContext* ctx, const v1::TransferRequest* req,
                        v1::Approval* resp) override;
  grpc::Status AddSigner(grpc::ServerContext* ctx, const v1::AddSignerRequest* req,
                         v1::Approval* resp) override;
  grpc::Status Urge(grpc::ServerContext* ctx, const v1::UrgeRequest* req,
                    v1::Approval* resp) override;
  grpc::Status Comment(grpc::ServerContext* ctx, const v1::CommentRequest* req,
                       v1::Approval* resp) override;
  grpc::Status CancelApproval(grpc::ServerContext* ctx, const v1::CancelApprovalRequest* req,
                              v1::Approval* resp) override;
  grpc::Status ReassignTask(grpc::ServerContext* ctx, const v1::ReassignTaskRequest* req,
                            v1::Approval* resp) override;
  grpc::Status GetApproval(grpc::ServerContext* ctx, const v1::GetApprovalRequest* req,
                           v1::Approval* resp) override;
  grpc::Status ListApprovals(grpc::ServerContext* ctx, const v1::ListApprovalsRequest* req,
                             v1::ListApprovalsResponse* resp) override;
  grpc::Status ListMyTasks(grpc::ServerContext* ctx, const v1::ListMyTasksRequest* req,
                           v1::ListMyTasksResponse* resp) override;
  grpc::Status GetHistory(grpc::ServerContext* ctx, const v1::GetHistoryRequest* req,
                          v1::GetHistoryResponse* resp) override;
  grpc::Status VerifyHistory(grpc::ServerContext* ctx, const v1::VerifyHistoryRequest* req,
                             v1::VerifyHistoryResponse* resp) override;

 private:
  grpc::Status Act(grpc::ServerContext* ctx, ActionType type, const ActionRequest& req,
                   v1::Approval* resp);

  ApprovalCore* core_;
  auth::Authenticator* auth_;
};

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_GRPC_SERVICE_H_
