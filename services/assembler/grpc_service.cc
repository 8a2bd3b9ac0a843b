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

grpc::Status ReportGrpc::WatchReport(grpc::ServerContext* ctx, const pb::WatchReportRequest* req,
                                     grpc::ServerWriter<pb::Report>* writer) {
  GR_AUTHORIZE_REF(p, ref, ParseReportName(req->name()), roles::kReportReaders);
  const std::string who = absl::StrCat(p->org, "/", p->subject);
  if (grpc::Status st = AcquireWatch(p->org, who); !st.ok()) return st;
  struct Release {
    ReportGrpc* self;
    const std::string& org;
    const std::string& who;
    ~Release() { self->ReleaseWatch(org, who); }
  } release{this, p->org, who};
  absl::Time until = absl::Now() + options_.watch_max;
  int64_t sent = -1;
  while (!ctx->IsCancelled() && !stopping_.load() && absl::Now() < until) {
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
  if (stopping_.load()) {
    return ToGrpcStatus(errors::WithReason(
        absl::UnavailableError("server shutting down: call WatchReport again to go on watching"),
        "SHUTTING_DOWN", "服务正在停止，请重新调用 WatchReport 继续订阅"));
  }
  return grpc::Status::OK;
}

grpc::Status ReportGrpc::AcquireWatch(const std::string& org, const std::string& who) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (watches_ >= options_.max_watches) {
    return ToGrpcStatus(
        errors::WithReason(absl::ResourceExhaustedError(
                               absl::StrCat("this server already runs ", watches_,
                                            " watches (its limit); retry later or poll GetReport")),
                           "WATCH_LIMIT", "本服务器的订阅数已达上限，请稍后重试或轮询 GetReport"));
  }
  int& mine = watches_by_[who];
  if (mine >= options_.max_watches_per_principal) {
    if (mine == 0) watches_by_.erase(who);
    return ToGrpcStatus(
        errors::WithReason(absl::ResourceExhaustedError(absl::StrCat(
                               who, " already has ", options_.max_watches_per_principal,
                               " watches open (the limit per caller); end one first")),
                           "WATCH_LIMIT", "调用者的订阅数已达上限，请先结束一个"));
  }
  int& ours = watches_by_org_[org];
  if (ours >= options_.max_watches_per_org) {
    if (mine == 0) watches_by_.erase(who);
    return ToGrpcStatus(
        errors::WithReason(absl::ResourceExhaustedError(absl::StrCat(
                               "org ", org, " already has ", options_.max_watches_per_org,
                               " watches open (the limit per org); end one first")),
                           "WATCH_LIMIT", "本单位的订阅数已达上限，请先结束一个"));
  }
  ++mine;
  ++ours;
  ++watches_;
  return grpc::Status::OK;
}

void ReportGrpc::ReleaseWatch(const std::string& org, const std::string& who) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  --watches_;
  auto by_org = watches_by_org_.find(org);
  if (by_org != watches_by_org_.end() && --by_org->second <= 0) watches_by_org_.erase(by_org);
  auto it = watches_by_.find(who);
  if (it != watches_by_.end() && --it->second <= 0) watches_by_.erase(it);
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

}  // namespace govreport::assembler
