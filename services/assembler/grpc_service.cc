#include "assembler/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"

namespace govreport::assembler {
namespace {

namespace roles = ::govreport::auth::roles;

struct OrgOnly {
  std::string org;
};

absl::StatusOr<OrgOnly> ParseParent(const std::string& parent) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseOrgName(parent, "parent"));
  return OrgOnly{org};
}

absl::StatusOr<OrgOnly> SettingsOrg(const std::string& name, absl::string_view field) {
  GR_ASSIGN_OR_RETURN(std::string org, ParseDocumentSettingsName(name, field));
  return OrgOnly{org};
}

bool Terminal(const pb::Report& r) {
  return r.state() == pb::REPORT_STATE_PUBLISHED || r.state() == pb::REPORT_STATE_FAILED;
}

}  // namespace

grpc::Status ReportGrpc::CreateReport(grpc::ServerContext* ctx, const pb::CreateReportRequest* req,
                                      pb::Report* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kReportWriters);
  return ToGrpc(core_->CreateReport(*p, CallAs::Forward(*ctx), parent.org, *req), out);
}

grpc::Status ReportGrpc::GetReport(grpc::ServerContext* ctx, const pb::GetReportRequest* req,
                                   pb::Report* out) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportReaders);
  return ToGrpc(core_->GetReport(CallAs::Forward(*ctx), ref, !req->skip_staleness()), out);
}

grpc::Status ReportGrpc::ListReports(grpc::ServerContext* ctx, const pb::ListReportsRequest* req,
                                     pb::ListReportsResponse* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kReportReaders);
  return ToGrpc(core_->ListReports(parent.org, *req), out);
}

ReportGrpc::ReportGrpc(ReportCore* core, auth::Authenticator* auth, GrpcOptions options)
    : core_(core),
      auth_(auth),
      options_(options),
      watches_(
          {"watches", "订阅", "WATCH_LIMIT"},
          {options.max_watches, options.max_watches_per_org, options.max_watches_per_principal}) {}

grpc::Status ReportGrpc::WatchReport(grpc::ServerContext* ctx, const pb::WatchReportRequest* req,
                                     grpc::ServerWriter<pb::Report>* writer) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportReaders);
  absl::StatusOr<StreamSlots::Slot> slot =
      watches_.Acquire(p->org, absl::StrCat(p->org, "/", p->subject));
  if (!slot.ok()) return ToGrpcStatus(slot.status());
  absl::Time until = absl::Now() + options_.watch_max;
  int64_t sent = -1;
  while (!ctx->IsCancelled() && !watches_.stopping() && absl::Now() < until) {
    // One HGET per poll; the whole report only when it changed.
    auto version = core_->Version(ref);
    if (!version.ok()) return ToGrpcStatus(version.status());
    if (*version == 0) {
      return ToGrpcStatus(
          errors::WithReason(absl::NotFoundError(absl::StrCat(ref.Name(), " not found")),
                             "REPORT_NOT_FOUND", absl::StrCat(ref.Name(), " 不存在")));
    }
    if (*version != sent) {
      auto report = core_->GetReport(CallAs::Forward(*ctx), ref, /*check_staleness=*/false);
      if (!report.ok()) return ToGrpcStatus(report.status());
      if (!writer->Write(*report)) return grpc::Status::OK;  // The client left.
      sent = report->version();
      if (Terminal(*report)) return grpc::Status::OK;
    }
    absl::SleepFor(options_.watch_poll);
  }
  // Never OK on shutdown: a client reads OK as "the watch is over", while
  // UNAVAILABLE tells it to call again (this server once restarted, or
  // another replica); the new stream starts with the report as it is then.
  if (watches_.stopping()) {
    return ToGrpcStatus(ShuttingDown("call WatchReport again to go on watching",
                                     "请重新调用 WatchReport 继续订阅"));
  }
  return grpc::Status::OK;
}

grpc::Status ReportGrpc::UpdateNarrative(grpc::ServerContext* ctx,
                                         const pb::UpdateNarrativeRequest* req, pb::Report* out) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportWriters);
  return ToGrpc(core_->UpdateNarrative(*p, CallAs::Forward(*ctx), ref, *req), out);
}

grpc::Status ReportGrpc::Reassemble(grpc::ServerContext* ctx, const pb::ReassembleRequest* req,
                                    pb::Report* out) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportWriters);
  return ToGrpc(core_->Reassemble(*p, ref, *req), out);
}

grpc::Status ReportGrpc::SubmitReport(grpc::ServerContext* ctx, const pb::SubmitReportRequest* req,
                                      pb::Report* out) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportWriters);
  return ToGrpc(core_->SubmitReport(*p, CallAs::Forward(*ctx), ref, *req), out);
}

grpc::Status ReportGrpc::GetRevision(grpc::ServerContext* ctx, const pb::GetRevisionRequest* req,
                                     pb::Revision* out) {
  GR_AUTHORIZE_REF(p, ref, ParseRevisionName(req->name()), roles::kReportReaders);
  return ToGrpc(core_->GetRevision(ref), out);
}

grpc::Status ReportGrpc::DiffRevisions(grpc::ServerContext* ctx,
                                       const pb::DiffRevisionsRequest* req,
                                       pb::DiffRevisionsResponse* out) {
  auto to = ParseRevisionName(req->to_revision(), "to_revision");
  if (!to.ok()) return ToGrpcStatus(to.status());
  GR_AUTHORIZE_REF(p, from, ParseRevisionName(req->from_revision(), "from_revision"),
                   roles::kReportReaders);
  return ToGrpc(core_->DiffRevisions(from, *to), out);
}

grpc::Status ReportGrpc::GetDocument(grpc::ServerContext* ctx, const pb::GetDocumentRequest* req,
                                     pb::Document* out) {
  GR_AUTHORIZE_REF(p, ref, ParseRevisionName(req->name()), roles::kReportReaders);
  return ToGrpc(core_->GetDocument(CallAs::Forward(*ctx), ref, req->format()), out);
}

grpc::Status ReportGrpc::GetFigureProvenance(grpc::ServerContext* ctx,
                                             const pb::GetFigureProvenanceRequest* req,
                                             pb::GetFigureProvenanceResponse* out) {
  GR_AUTHORIZE_REF(p, ref, ParseRevisionName(req->name()), roles::kReportReaders);
  return ToGrpc(core_->GetFigureProvenance(CallAs::Forward(*ctx), ref, *req), out);
}

grpc::Status ReportGrpc::SetTemplateWorkflows(grpc::ServerContext* ctx,
                                              const pb::SetTemplateWorkflowsRequest* req,
                                              pb::TemplateWorkflows* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kAdmins);
  return ToGrpc(core_->SetTemplateWorkflows(*p, CallAs::Forward(*ctx), parent.org, *req), out);
}

grpc::Status ReportGrpc::GetTemplateWorkflows(grpc::ServerContext* ctx,
                                              const pb::GetTemplateWorkflowsRequest* req,
                                              pb::TemplateWorkflows* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kWorkflowBindingReaders);
  return ToGrpc(core_->GetTemplateWorkflows(parent.org, *req), out);
}

grpc::Status ReportGrpc::GetDocumentSettings(grpc::ServerContext* ctx,
                                             const pb::GetDocumentSettingsRequest* req,
                                             pb::DocumentSettings* out) {
  GR_AUTHORIZE_REF(p, parent, SettingsOrg(req->name(), "name"), roles::kReportReaders);
  return ToGrpc(core_->GetDocumentSettings(parent.org), out);
}

grpc::Status ReportGrpc::UpdateDocumentSettings(grpc::ServerContext* ctx,
                                                const pb::UpdateDocumentSettingsRequest* req,
                                                pb::DocumentSettings* out) {
  GR_AUTHORIZE_REF(p, parent,
                   SettingsOrg(req->document_settings().name(), "document_settings.name"),
                   roles::kAdmins);
  return ToGrpc(core_->UpdateDocumentSettings(*p, parent.org, *req), out);
}

grpc::Status ReportGrpc::ListDocumentNumbers(grpc::ServerContext* ctx,
                                             const pb::ListDocumentNumbersRequest* req,
                                             pb::ListDocumentNumbersResponse* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kReportReaders);
  return ToGrpc(core_->ListDocumentNumbers(parent.org, *req), out);
}

grpc::Status ReportGrpc::VoidDocumentNumber(grpc::ServerContext* ctx,
                                            const pb::VoidDocumentNumberRequest* req,
                                            pb::DocumentNumber* out) {
  GR_AUTHORIZE_REF(p, ref, ParseDocumentNumberName(req->name()), roles::kAdmins);
  return ToGrpc(core_->VoidDocumentNumber(*p, ref, *req), out);
}

grpc::Status ReportGrpc::CreateSigningKey(grpc::ServerContext* ctx,
                                          const pb::CreateSigningKeyRequest* req,
                                          pb::SigningKey* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kAdmins);
  return ToGrpc(core_->CreateSigningKey(*p, CallAs::Forward(*ctx), parent.org, *req), out);
}

grpc::Status ReportGrpc::CreateCertificateSigningRequest(
    grpc::ServerContext* ctx, const pb::CreateCertificateSigningRequestRequest* req,
    pb::CertificateSigningRequest* out) {
  GR_AUTHORIZE_REF(p, ref, ParseSigningKeyName(req->name()), roles::kAdmins);
  return ToGrpc(core_->CreateCertificateSigningRequest(CallAs::Forward(*ctx), ref), out);
}

grpc::Status ReportGrpc::ImportCertificate(grpc::ServerContext* ctx,
                                           const pb::ImportCertificateRequest* req,
                                           pb::SigningKey* out) {
  GR_AUTHORIZE_REF(p, ref, ParseSigningKeyName(req->name()), roles::kAdmins);
  return ToGrpc(core_->ImportCertificate(ref, *req), out);
}

grpc::Status ReportGrpc::ListSigningKeys(grpc::ServerContext* ctx,
                                         const pb::ListSigningKeysRequest* req,
                                         pb::ListSigningKeysResponse* out) {
  GR_AUTHORIZE_REF(p, parent, ParseParent(req->parent()), roles::kReportReaders);
  return ToGrpc(core_->ListSigningKeys(parent.org, *req), out);
}

grpc::Status ReportGrpc::VerifyDocument(grpc::ServerContext* ctx,
                                        const pb::VerifyDocumentRequest* req,
                                        pb::VerifyDocumentResponse* out) {
  GR_AUTHORIZE_REF(p, ref, ParseRevisionName(req->name()), roles::kReportReaders);
  return ToGrpc(core_->VerifyDocument(ref, *req), out);
}

}  // namespace govreport::assembler
