// reportctl commands of the approval service: workflows, roles,
// approvals (show, history, verify, cancel, reassign) and the inbox.

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/enums.h"
#include "common/status.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/reports_helpers.h"

namespace govreport::cli {

namespace apv = ::govreport::approval::v1;

apv::ApprovalService::Stub Approvals(Context& c) {
  return apv::ApprovalService::Stub(c.Channel("approval"));
}

absl::StatusOr<apv::Approval> FetchApproval(Context& c, const std::string& name) {
  apv::GetApprovalRequest req;
  req.set_name(name);
  apv::Approval a;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).GetApproval(&ctx, req, &a);
  if (!st.ok()) return FromGrpcStatus(st);
  return a;
}

void PrintApproval(Context& c, const apv::Approval& a) {
  if (c.json()) return PrintJson(a);
  Table t({"field", "value"});
  t.Add({"name", a.name()});
  t.Add({"subject", a.subject()});
  if (!a.title().empty()) t.Add({"title", a.title()});
  t.Add({"workflow", absl::StrCat(a.workflow(), "@", a.workflow_revision())});
  t.Add({"state", ShortEnumName(a.state())});
  t.Add({"initiator", a.initiator()});
  if (a.state() == apv::APPROVAL_STATE_IN_PROGRESS) {
    t.Add({"step",
           absl::StrCat(a.current_step() + 1, "/", a.steps_size(), " ", a.current_step_name())});
    std::vector<std::string> pending;
    for (const auto& task : a.tasks()) {
      if (task.state() == apv::TASK_STATE_PENDING) pending.push_back(task.user());
    }
    t.Add({"waiting for", absl::StrJoin(pending, ", ")});
    if (a.has_due_time()) t.Add({"due", Time(a.due_time())});
  }
  if (!a.signer().empty()) {
    t.Add({"signed", absl::StrCat(a.signer(), " at ", Time(a.sign_off_time()))});
  }
  if (!a.last_comment().empty()) t.Add({"last comment", a.last_comment()});
  t.Add({"version", absl::StrCat(a.version())});
  t.Add({"history",
         absl::StrCat(a.history_length(), " entries, head ", a.history_head().substr(0, 16))});
  t.Print();
}

namespace {

int WorkflowCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org, the workflow id and the file");
  std::string text;
  if (!ReadInput(c.args[2], &text)) return UsageError(cmd, "cannot read " + c.args[2]);
  apv::CreateWorkflowRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_workflow_id(c.args[1]);
  bool json = absl::EndsWith(c.args[2], ".json");
  if (absl::Status st = ParseHumanWritten(text, json ? FileSyntax::kJson : FileSyntax::kTextFormat,
                                          req.mutable_workflow());
      !st.ok()) {
    return UsageError(
        cmd, absl::StrCat(c.args[2], ": ", st.message(),
                          json ? "" : " (a Workflow in protobuf text format, or name it .json)"));
  }
  req.set_request_id(RequestId(c));
  apv::Workflow resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).CreateWorkflow(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << "created " << resp.name() << " revision " << resp.revision() << " ("
              << resp.steps_size() << " steps)\n";
  }
  return kOk;
}

int WorkflowShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the workflow (orgs/ORG/workflows/ID[@N])");
  apv::GetWorkflowRequest req;
  req.set_name(c.args[0]);
  apv::Workflow w;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).GetWorkflow(&ctx, req, &w);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(w);
    return kOk;
  }
  std::cout << w.name() << "@" << w.revision() << "  " << w.display_name() << "\n";
  Table t({"#", "step", "kind", "mode", "users", "roles", "due"});
  for (int i = 0; i < w.steps_size(); ++i) {
    const auto& s = w.steps(i);
    bool last = i + 1 == w.steps_size();
    t.Add({absl::StrCat(i + 1),
           s.display_name().empty() ? s.name() : s.name() + " " + s.display_name(),
           s.kind() == apv::STEP_KIND_SIGN_OFF || (last && s.kind() == apv::STEP_KIND_UNSPECIFIED)
               ? "签发"
               : "审核",
           s.mode() == apv::STEP_MODE_ALL ? "ALL (会签)" : "ANY", absl::StrJoin(s.users(), ","),
           absl::StrJoin(s.roles(), ","),
           s.due_seconds() ? absl::StrCat(s.due_seconds(), "s") : ""});
  }
  t.Print();
  return kOk;
}

int RoleSet(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the role");
  apv::SetRoleMembersRequest req;
  req.set_name(absl::StrCat(OrgName(c.args[0]), "/roles/", c.args[1]));
  for (const auto& m : c.flags().GetAll("members")) {
    for (absl::string_view one : absl::StrSplit(m, ',', absl::SkipEmpty())) {
      req.add_members(std::string(one));
    }
  }
  req.set_request_id(RequestId(c));
  apv::Role resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).SetRoleMembers(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << resp.name() << ": "
              << (resp.members().empty() ? "(removed)" : absl::StrJoin(resp.members(), ", "))
              << "\n";
  }
  return kOk;
}

// An approval name, or a report whose current approval is meant.
absl::StatusOr<std::string> ApprovalName(Context& c, const std::string& arg) {
  if (absl::StrContains(arg, "/approvals/")) return arg;
  auto r = FetchReport(c, ReportName(arg), false);
  if (!r.ok()) return r.status();
  if (r->approval().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(r->name(), " has no approval yet"));
  }
  return r->approval();
}

int ApprovalShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  PrintApproval(c, *a);
  return kOk;
}

int ApprovalHistory(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  apv::GetHistoryRequest req;
  req.set_name(*name);
  apv::GetHistoryResponse all;
  do {
    apv::GetHistoryResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Approvals(c).GetHistory(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& e : *resp.mutable_entries()) *all.add_entries() = std::move(e);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"#", "time", "action", "actor", "step", "comment", "hash"});
  for (const auto& e : all.entries()) {
    std::string actor = e.via().empty() ? e.actor() : absl::StrCat(e.actor(), " via ", e.via());
    t.Add({absl::StrCat(e.sequence()), Time(e.time()), e.action(), actor, e.step(),
           Clip(e.comment(), 40), e.hash().substr(0, 12)});
  }
  t.Print();
  return kOk;
}

// The org admin's way out of an approval nobody can finish.
int ApprovalCancel(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  if (c.flags().Get("comment").empty()) return UsageError(cmd, "say why with --comment");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  apv::CancelApprovalRequest req;
  req.set_name(*name);
  req.set_expected_version(a->version());
  req.set_comment(c.flags().Get("comment"));
  req.set_request_id(RequestId(c));
  apv::Approval resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).CancelApproval(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintApproval(c, resp);
  return kOk;
}

int ApprovalReassign(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  if (c.flags().Get("from").empty() || c.flags().Get("to").empty()) {
    return UsageError(cmd, "name both --from USER and --to USER");
  }
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  apv::ReassignTaskRequest req;
  req.set_name(*name);
  req.set_expected_version(a->version());
  req.set_from_user(c.flags().Get("from"));
  req.set_to_user(c.flags().Get("to"));
  req.set_comment(c.flags().Get("comment"));
  req.set_request_id(RequestId(c));
  apv::Approval resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).ReassignTask(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintApproval(c, resp);
  return kOk;
}

int ApprovalVerify(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  apv::VerifyHistoryRequest req;
  req.set_name(*name);
  apv::VerifyHistoryResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).VerifyHistory(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else if (resp.ok()) {
    std::cout << *name << ": history intact, " << resp.entries_checked() << " entries, head "
              << resp.head_hash() << "\n";
  } else {
    std::cout << *name << ": history BROKEN at entry " << resp.first_bad_sequence() << ": "
              << resp.problem() << "\n";
  }
  return resp.ok() ? kOk : kRpcError;
}

int Inbox(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  apv::ListMyTasksRequest req;
  req.set_parent(OrgName(c.args[0]));
  apv::ListMyTasksResponse all;
  do {
    apv::ListMyTasksResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Approvals(c).ListMyTasks(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& t : *resp.mutable_tasks()) *all.add_tasks() = std::move(t);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"approval", "subject", "step", "since", "due", ""});
  for (const auto& task : all.tasks()) {
    t.Add({task.approval().name(), task.approval().subject(),
           task.step_display_name().empty() ? task.step() : task.step_display_name(),
           Time(task.assign_time()), Time(task.due_time()), task.overdue() ? "OVERDUE" : ""});
  }
  t.Print();
  return kOk;
}

}  // namespace

void RegisterApprovalCommands(std::vector<Command>& commands) {
  AddCommand(commands, "workflow create", "ORG ID FILE",
             "Define a workflow from a JSON (.json) or protobuf text file of a Workflow: ordered "
             "steps, each with users and/or roles, mode ANY or ALL (会签), due_seconds; the last "
             "is the sign-off (签发).",
             {}, WorkflowCreate);
  AddCommand(commands, "workflow show", "NAME[@REVISION]", "Show a workflow's steps.", {},
             WorkflowShow);
  AddCommand(commands, "role set", "ORG ROLE --members u1,u2",
             "Set who holds an org role named by workflow steps (no --members removes it).",
             {{"members", "", "Comma-separated users, repeatable"}}, RoleSet);
  AddCommand(commands, "approval show", "APPROVAL|REPORT",
             "Show an approval: step, who it waits for.", {}, ApprovalShow);
  AddCommand(commands, "approval history", "APPROVAL|REPORT", "The approval's audit trail.", {},
             ApprovalHistory);
  AddCommand(commands, "approval verify", "APPROVAL|REPORT",
             "Recompute the audit trail's hash chain; exit 1 when it was tampered with.", {},
             ApprovalVerify);
  AddCommand(commands, "approval cancel", "APPROVAL|REPORT --comment TEXT",
             "Org admin: end an approval nobody can finish; the report returns to draft.",
             {{"comment", "", "Why (required)"}}, ApprovalCancel);
  AddCommand(commands, "approval reassign",
             "APPROVAL|REPORT --from USER --to USER [--comment TEXT]",
             "Org admin: hand a pending task to another member of the org.",
             {{"from", "", "User whose pending task moves (required)"},
              {"to", "", "User who takes it (required)"},
              {"comment", "", "Comment kept in the audit trail"}},
             ApprovalReassign);
  AddCommand(commands, "inbox", "ORG", "Your pending approval tasks in the org.", {}, Inbox);
}
}  // namespace govreport::cli
