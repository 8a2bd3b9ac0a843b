#include "tests/fault/requests.h"

#include <google/protobuf/text_format.h>
#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/crypto.h"

namespace govreport::fault {
namespace {

namespace gp = ::google::protobuf;

// service full name → the binary that serves it.
const std::vector<std::pair<std::string, std::string>>& Services() {
  static const auto* services = new std::vector<std::pair<std::string, std::string>>{
      {"govreport.records.v1.OrgService", "records"},
      {"govreport.records.v1.IndicatorService", "records"},
      {"govreport.records.v1.ActivityService", "records"},
      {"govreport.auth.v1.AuthService", "records"},
      {"govreport.templates.v1.TemplateService", "templates"},
      {"govreport.approval.v1.ApprovalService", "approval"},
      {"govreport.assembler.v1.ReportService", "assembler"},
  };
  return *services;
}

// Well-formed requests a member of {ORG} with the right role could send.
// {RID} is a fresh request id; {NEW} a fresh resource id. A table of its own
// (not the body of BaseRequests): it is data, not code.
constexpr std::pair<const char*, const char*> kBaseRequests[] = {
    // records: orgs
    {"OrgService/CreateOrg",
     R"(org_id: "{ORG}" org { display_name: "中共测试局党组" short_name: "测试局" } request_id: "{RID}")"},
    {"OrgService/GetOrg", R"(name: "orgs/{ORG}")"},
    {"OrgService/ListOrgs", R"(page_size: 10)"},
    {"OrgService/UpdateOrg",
     R"(org { name: "orgs/{ORG}" display_name: "中共改名局党组" short_name: "改名局" city: "某市" district: "某区" facts { key: "case_lessons" value: "某案" } } request_id: "{RID}")"},
    // records: indicators
    {"IndicatorService/LoadProfile", R"(parent: "orgs/{ORG}" request_id: "{RID}")"},
    {"IndicatorService/GetProfile", R"(parent: "orgs/{ORG}")"},
    {"IndicatorService/ListIndicators", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"IndicatorService/GetIndicator", R"(name: "orgs/{ORG}/indicators/{IND}")"},
    {"IndicatorService/GetIndicatorValues", R"(parent: "orgs/{ORG}" period: "2023")"},
    {"IndicatorService/GetIndicatorProvenance",
     R"(name: "orgs/{ORG}/indicators/{IND}" period: "2023" page_size: 5)"},
    {"IndicatorService/GetRollupValues", R"(parent: "orgs/{ORG}" period: "2023")"},
    // The fixture's orgs have no children: a sound request is refused
    // (NOT_SHARED), and a mutated one must be refused as cleanly.
    {"IndicatorService/GetRollupProvenance",
     R"(name: "orgs/{ORG}/indicators/{IND}" child: "orgs/{ORG}" period: "2023" page_size: 5)"},
    // records: activities
    {"ActivityService/CreateActivity",
     R"(parent: "orgs/{ORG}" activity { type: "theme_party_day" occurred_on: "2023-07-01" title: "主题党日" quantities { key: "participants" value: 20 } persons: "p1" source_system: "oa" external_id: "{NEW}" attachments { uri: "https://oa.example/a.pdf" sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } } request_id: "{RID}")"},
    {"ActivityService/BatchCreateActivities",
     R"(parent: "orgs/{ORG}" requests { activity { type: "theme_party_day" occurred_on: "2023-07-01" title: "主题党日" } request_id: "{RID}" })"},
    {"ActivityService/GetActivity", R"(name: "orgs/{ORG}/activities/{ACT}")"},
    {"ActivityService/ListActivities",
     R"(parent: "orgs/{ORG}" page_size: 5 type: "heart_to_heart_talk" from_date: "2023-01-01" to_date: "2023-12-31")"},
    {"ActivityService/AmendActivity",
     R"(activity { name: "orgs/{ORG}/activities/{ACT}" type: "heart_to_heart_talk" occurred_on: "2023-04-20" title: "谈心谈话" quantities { key: "participants" value: 13 } } expected_revision: 1 request_id: "{RID}" reason: "更正人数")"},
    {"ActivityService/VoidActivity",
     R"(name: "orgs/{ORG}/activities/{ACT}" reason: "重复录入" expected_revision: 1 request_id: "{RID}")"},
    {"ActivityService/ListActivityRevisions", R"(name: "orgs/{ORG}/activities/{ACT}")"},
    // auth
    {"AuthService/IssueToken",
     R"(principal { subject: "new-auditor" org: "{ORG}" roles: "auditor" } ttl_seconds: 3600 request_id: "{RID}")"},
    {"AuthService/RevokeToken", R"(token_id: "{TOK}" request_id: "{RID}")"},
    {"AuthService/ListTokens", R"(org: "{ORG}" page_size: 10)"},
    {"AuthService/WhoAmI", ""},
    // templates
    {"TemplateService/CreateTemplate",
     R"(parent: "orgs/{ORG}" template_id: "{NEW}" text: "{{org.name}}{{period.year}}" description: "d" request_id: "{RID}")"},
    {"TemplateService/GetTemplate", R"(name: "orgs/{ORG}/templates/{TPL}")"},
    {"TemplateService/ListTemplates", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"TemplateService/UpdateTemplate",
     R"(name: "orgs/{ORG}/templates/{TPL}" text: "{{org.short_name}}" expected_revision: 1 request_id: "{RID}")"},
    {"TemplateService/ListTemplateRevisions", R"(name: "orgs/{ORG}/templates/{TPL}")"},
    {"TemplateService/ValidateTemplate",
     R"(parent: "orgs/{ORG}" text: "{{org.name}}{{ind.theme_party_days}}")"},
    {"TemplateService/Render",
     R"(parent: "orgs/{ORG}" template: "orgs/{ORG}/templates/{TPL}" context { fields { key: "org" value { map { fields { key: "name" value { text: "中共测试局党组" } } } } } } format: DOCUMENT_FORMAT_TXT)"},
    {"TemplateService/Preview",
     R"(parent: "orgs/{ORG}" template: "orgs/{ORG}/templates/{TPL}" period: "2023" format: DOCUMENT_FORMAT_TXT narrative { key: "problems" value: "无" })"},
    // approval
    {"ApprovalService/CreateWorkflow",
     R"(parent: "orgs/{ORG}" workflow_id: "{NEW}" workflow { display_name: "审批" steps { name: "office" kind: STEP_KIND_REVIEW users: "{USER}" due_seconds: 86400 } steps { name: "sign" kind: STEP_KIND_SIGN_OFF users: "{USER2}" } } request_id: "{RID}")"},
    {"ApprovalService/GetWorkflow", R"(name: "orgs/{ORG}/workflows/{WF}")"},
    {"ApprovalService/ListWorkflows", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ApprovalService/UpdateWorkflow",
     R"(workflow { name: "orgs/{ORG}/workflows/{WF}" display_name: "审批" steps { name: "office" kind: STEP_KIND_REVIEW users: "{USER}" } steps { name: "sign" kind: STEP_KIND_SIGN_OFF users: "{USER2}" } } expected_revision: 1 request_id: "{RID}")"},
    {"ApprovalService/SetRoleMembers",
     R"(name: "orgs/{ORG}/roles/{ROLE}" members: "{USER}" members: "{USER2}" request_id: "{RID}")"},
    {"ApprovalService/ListRoleMembers", R"(name: "orgs/{ORG}/roles/{ROLE}")"},
    {"ApprovalService/ListRoles", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ApprovalService/StartApproval",
     R"(parent: "orgs/{ORG}" workflow: "orgs/{ORG}/workflows/{WF}" subject: "orgs/{ORG}/reports/x/revisions/1" title: "报告" comment: "请审核" request_id: "{RID}")"},
    {"ApprovalService/Approve",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 comment: "同意" request_id: "{RID}")"},
    {"ApprovalService/Reject",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 comment: "请修改" request_id: "{RID}")"},
    {"ApprovalService/Withdraw",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 comment: "撤回" request_id: "{RID}")"},
    {"ApprovalService/Transfer",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 to_user: "{USER2}" request_id: "{RID}")"},
    {"ApprovalService/AddSigner",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 user: "{USER2}" request_id: "{RID}")"},
    {"ApprovalService/Urge",
     R"(name: "orgs/{ORG}/approvals/{APR}" comment: "催办" request_id: "{RID}")"},
    {"ApprovalService/Comment",
     R"(name: "orgs/{ORG}/approvals/{APR}" comment: "意见" request_id: "{RID}")"},
    {"ApprovalService/CancelApproval",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 comment: "作废" request_id: "{RID}")"},
    {"ApprovalService/ReassignTask",
     R"(name: "orgs/{ORG}/approvals/{APR}" expected_version: 1 from_user: "{USER}" to_user: "{USER2}" request_id: "{RID}")"},
    {"ApprovalService/GetApproval", R"(name: "orgs/{ORG}/approvals/{APR}")"},
    {"ApprovalService/ListApprovals",
     R"(parent: "orgs/{ORG}" page_size: 5 state: APPROVAL_STATE_IN_PROGRESS)"},
    {"ApprovalService/ListMyTasks", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ApprovalService/GetHistory", R"(name: "orgs/{ORG}/approvals/{APR}" page_size: 5)"},
    {"ApprovalService/VerifyHistory", R"(name: "orgs/{ORG}/approvals/{APR}")"},
    // assembler
    {"ReportService/CreateReport",
     R"(parent: "orgs/{ORG}" report_id: "{NEW}" period: "2023" template: "orgs/{ORG}/templates/{TPL}" workflow: "orgs/{ORG}/workflows/{WF}" title: "报告" narrative { key: "problems" value: "无" } request_id: "{RID}")"},
    {"ReportService/GetReport", R"(name: "orgs/{ORG}/reports/{REP}" skip_staleness: true)"},
    {"ReportService/ListReports", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ReportService/WatchReport", R"(name: "orgs/{ORG}/reports/{REP}")"},
    {"ReportService/UpdateNarrative",
     R"(name: "orgs/{ORG}/reports/{REP}" narrative { key: "problems" value: "问题" } request_id: "{RID}")"},
    {"ReportService/Reassemble", R"(name: "orgs/{ORG}/reports/{REP}" request_id: "{RID}")"},
    {"ReportService/SubmitReport",
     R"(name: "orgs/{ORG}/reports/{REP}" revision: {REV} comment: "请审核" request_id: "{RID}")"},
    {"ReportService/GetRevision", R"(name: "orgs/{ORG}/reports/{REP}/revisions/{REV}")"},
    {"ReportService/DiffRevisions",
     R"(from_revision: "orgs/{ORG}/reports/{REP}/revisions/{REV}" to_revision: "orgs/{ORG}/reports/{REP}/revisions/{REV}")"},
    {"ReportService/GetDocument",
     R"(name: "orgs/{ORG}/reports/{REP}/revisions/{REV}" format: DOCUMENT_FORMAT_TXT)"},
    {"ReportService/GetFigureProvenance",
     R"(name: "orgs/{ORG}/reports/{REP}/revisions/{REV}" key: "{IND}" page_size: 5)"},
    {"ReportService/SetTemplateWorkflows",
     R"(parent: "orgs/{ORG}" template: "orgs/{ORG}/templates/{TPL}" workflows: "orgs/{ORG}/workflows/{WF}")"},
    {"ReportService/GetTemplateWorkflows",
     R"(parent: "orgs/{ORG}" template: "orgs/{ORG}/templates/{TPL}")"},
    {"ReportService/GetDocumentSettings", R"(name: "orgs/{ORG}/documentSettings")"},
    {"ReportService/UpdateDocumentSettings",
     R"(document_settings { name: "orgs/{ORG}/documentSettings" note: "此件公开发布" } update_mask: "note" request_id: "{RID}")"},
    {"ReportService/ListDocumentNumbers", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ReportService/VoidDocumentNumber",
     R"(name: "orgs/{ORG}/documentNumbers/1" reason: "作废" request_id: "{RID}")"},
    {"ReportService/CreateSigningKey",
     R"(parent: "orgs/{ORG}" validity_days: 30 request_id: "{RID}")"},
    {"ReportService/ListSigningKeys", R"(parent: "orgs/{ORG}" page_size: 5)"},
    {"ReportService/CreateCertificateSigningRequest", R"(name: "orgs/{ORG}/signingKeys/1")"},
    {"ReportService/ImportCertificate",
     R"(name: "orgs/{ORG}/signingKeys/1" certificate_pem: "-----BEGIN CERTIFICATE-----")"},
    {"ReportService/VerifyDocument",
     R"(name: "orgs/{ORG}/reports/{REP}/revisions/{REV}" format: DOCUMENT_FORMAT_TXT content: "x")"},
};

const std::map<std::string, std::string>& BaseRequests() {
  static const auto* base =
      new std::map<std::string, std::string>(std::begin(kBaseRequests), std::end(kBaseRequests));
  return *base;
}

bool WaitTag(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
    if (got == tag) return ok;
  }
  return false;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

Ids Ids::Of(const OrgFixture& f) {
  Ids ids;
  ids.org = f.org;
  ids.act = f.activity_id;
  ids.ind = "heart_to_heart_talks";
  ids.tpl = f.template_id;
  ids.wf = f.workflow_id;
  ids.role = f.role;
  ids.apr = f.approval_id.empty() ? "no-approval" : f.approval_id;
  ids.rep = f.report_id.empty() ? "no-report" : f.report_id;
  ids.rev = absl::StrCat(f.revision > 0 ? f.revision : 1);
  ids.tok = f.spare_token_id;
  ids.user = absl::StrCat(f.org, "-director");
  ids.user2 = absl::StrCat(f.org, "-secretary");
  return ids;
}

Ids Ids::Missing(const std::string& org) {
  Ids ids;
  ids.org = org;
  ids.act = "zz0000000000000000";
  ids.ind = "no_such_indicator";
  ids.tpl = "no-such-template";
  ids.wf = "no-such-workflow";
  ids.role = "no-such-role";
  ids.apr = "no-such-approval";
  ids.rep = "no-such-report";
  ids.rev = "7";
  ids.tok = "zz0000000000000001";
  ids.user = absl::StrCat(org, "-nobody");
  ids.user2 = absl::StrCat(org, "-nobody2");
  return ids;
}

std::map<std::string, std::string> Ids::Placeholders() const {
  return {{"{ORG}", org}, {"{ACT}", act},   {"{IND}", ind},   {"{TPL}", tpl},
          {"{WF}", wf},   {"{ROLE}", role}, {"{APR}", apr},   {"{REP}", rep},
          {"{REV}", rev}, {"{TOK}", tok},   {"{USER}", user}, {"{USER2}", user2}};
}

std::vector<Method> AllMethods() {
  std::vector<Method> out;
  const gp::DescriptorPool* pool = gp::DescriptorPool::generated_pool();
  for (const auto& [service_name, binary] : Services()) {
    const gp::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const gp::MethodDescriptor* m = service->method(i);
      Method method;
      method.descriptor = m;
      method.path = absl::StrCat("/", service->full_name(), "/", m->name());
      method.service = binary;
      method.server_streaming = m->server_streaming();
      auto it = BaseRequests().find(absl::StrCat(service->name(), "/", m->name()));
      if (it != BaseRequests().end()) {
        method.base = it->second;
        method.covered = true;
      }
      const std::string& n = m->name();
      method.mutating =
          !(absl::StartsWith(n, "Get") || absl::StartsWith(n, "List") ||
            absl::StartsWith(n, "Verify") || absl::StartsWith(n, "Validate") ||
            absl::StartsWith(n, "Render") || absl::StartsWith(n, "Preview") ||
            absl::StartsWith(n, "Watch") || absl::StartsWith(n, "Diff") || n == "WhoAmI");
      // Only {ORG} among the placeholders (or a fresh {NEW} id).
      bool other = false;
      for (absl::string_view p :
           {"{ACT}", "{IND}", "{TPL}", "{WF}", "{ROLE}", "{APR}", "{REP}", "{REV}", "{TOK}"}) {
        if (absl::StrContains(method.base, p)) other = true;
      }
      method.org_only = !other;
      out.push_back(std::move(method));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<gp::Message>> BuildRequest(const Method& method, const Ids& ids,
                                                          const Env& env) {
  const gp::Message* prototype =
      gp::MessageFactory::generated_factory()->GetPrototype(method.descriptor->input_type());
  std::unique_ptr<gp::Message> msg(prototype->New());
  auto subs = ids.Placeholders();
  std::vector<std::pair<std::string, std::string>> replace(subs.begin(), subs.end());
  std::string fresh = NewId();
  replace.emplace_back("{RID}", absl::StrCat("rid-", fresh));
  replace.emplace_back("{NEW}", absl::StrCat("new-", fresh.substr(0, 12)));
  std::string text = absl::StrReplaceAll(method.base, replace);
  if (!gp::TextFormat::ParseFromString(text, msg.get())) {
    return absl::InternalError(absl::StrCat(method.path, ": base request does not parse: ", text));
  }
  if (method.descriptor->name() == "LoadProfile") {
    auto profile = LoadProfileFile(env.source_dir);
    if (!profile.ok()) return profile.status();
    auto* req = dynamic_cast<rpb::LoadProfileRequest*>(msg.get());
    if (req != nullptr) *req->mutable_profile() = *profile;
  }
  return msg;
}

absl::StatusOr<std::unique_ptr<gp::Message>> ParseRequest(const Method& method,
                                                          const std::string& text) {
  const gp::Message* prototype =
      gp::MessageFactory::generated_factory()->GetPrototype(method.descriptor->input_type());
  std::unique_ptr<gp::Message> msg(prototype->New());
  if (!gp::TextFormat::ParseFromString(text, msg.get())) {
    return absl::InternalError(absl::StrCat(method.path, ": request does not parse: ", text));
  }
  return msg;
}

const Method* FindMethod(const std::vector<Method>& methods, absl::string_view label) {
  for (const Method& m : methods) {
    if (absl::EndsWith(m.path, absl::StrCat(".", label))) return &m;
  }
  return nullptr;
}

std::shared_ptr<grpc::Channel> ChannelFor(Cluster& cluster, const Method& method) {
  if (method.service == "records") return cluster.Channel(cluster.records());
  if (method.service == "templates" && cluster.templates()) {
    return cluster.Channel(*cluster.templates());
  }
  if (method.service == "approval" && cluster.approval()) {
    return cluster.Channel(*cluster.approval());
  }
  if (method.service == "assembler" && !cluster.assemblers().empty()) {
    return cluster.Channel(*cluster.assemblers()[0]);
  }
  return nullptr;
}

RawAnswer CallRaw(std::shared_ptr<grpc::Channel> channel, const Method& method,
                  const std::string& bytes, const std::string& authorization,
                  absl::Duration deadline) {
  RawAnswer answer;
  grpc::GenericStub stub(std::move(channel));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer request = ToBuffer(bytes);
  if (!method.server_streaming) {
    grpc::ByteBuffer response;
    auto call = stub.PrepareUnaryCall(&ctx, method.path, request, &cq);
    call->StartCall();
    int tag = 1;
    call->Finish(&response, &answer.status, &tag);
    WaitTag(cq, &tag);
    if (answer.status.ok()) answer.response = FromBuffer(response);
  } else {
    // The first message of the stream, then hang up: a stream that keeps
    // going is a healthy answer here.
    int start = 1, write = 2, read = 3, finish = 4;
    auto call = stub.PrepareCall(&ctx, method.path, &cq);
    call->StartCall(&start);
    bool ok = WaitTag(cq, &start);
    if (ok) {
      call->WriteLast(request, grpc::WriteOptions(), &write);
      WaitTag(cq, &write);
      grpc::ByteBuffer response;
      call->Read(&response, &read);
      if (WaitTag(cq, &read)) {
        answer.response = FromBuffer(response);
        ctx.TryCancel();
        call->Finish(&answer.status, &finish);
        WaitTag(cq, &finish);
        answer.status = grpc::Status::OK;
        cq.Shutdown();
        void* t;
        bool o;
        while (cq.Next(&t, &o)) {
        }
        return answer;
      }
    }
    call->Finish(&answer.status, &finish);
    WaitTag(cq, &finish);
  }
  cq.Shutdown();
  void* t;
  bool o;
  while (cq.Next(&t, &o)) {
  }
  return answer;
}

std::string Bearer(const std::string& token) { return absl::StrCat("Bearer ", token); }

}  // namespace govreport::fault
