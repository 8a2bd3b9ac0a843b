// gRPC edge of the assembler: authenticates, authorizes the caller for the
// org the request names (before anything of that org is read), forwards
// the caller's token to the services the call needs, and translates to
// ReportCore. No logic lives here.
#ifndef GOVREPORT_ASSEMBLER_GRPC_SERVICE_H_
#define GOVREPORT_ASSEMBLER_GRPC_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "assembler/reports.h"
#include "common/auth.h"
#include "common/stream_slots.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"

namespace govreport::assembler {

struct GrpcOptions {
  // How often a watcher looks at the report's version (one HGET).
  absl::Duration watch_poll = absl::Milliseconds(100);
  // A watch without a deadline still ends after this long.
  absl::Duration watch_max = absl::Hours(1);
  // Each watch holds a server thread for its whole life: at most this many
  // at once per principal (org + subject) and per server; the next one
  // gets RESOURCE_EXHAUSTED.
  int max_watches_per_principal = 4;
  // And per org, so that one tenant minting subjects cannot fill the
  // server's share of everyone else.
  int max_watches_per_org = 32;
  int max_watches = 256;
};

class ReportGrpc final : public pb::ReportService::Service {
 public:
  ReportGrpc(ReportCore* core, auth::Authenticator* auth, GrpcOptions options = {});

  grpc::Status CreateReport(grpc::ServerContext*, const pb::CreateReportRequest*,
                            pb::Report*) override;
  grpc::Status GetReport(grpc::ServerContext*, const pb::GetReportRequest*, pb::Report*) override;
  grpc::Status ListReports(grpc::ServerContext*, const pb::ListReportsRequest*,
                           pb::ListReportsResponse*) override;
  grpc::Status WatchReport(grpc::ServerContext*, const pb::WatchReportRequest*,
                           grpc::ServerWriter<pb::Report>*) override;
  grpc::Status UpdateNarrative(grpc::ServerContext*, const pb::UpdateNarrativeRequest*,
                               pb::Report*) override;
  grpc::Status Reassemble(grpc::ServerContext*, const pb::ReassembleRequest*, pb::Report*) override;
  grpc::Status SubmitReport(grpc::ServerContext*, const pb::SubmitReportRequest*,
                            pb::Report*) override;
  grpc::Status GetRevision(grpc::ServerContext*, const pb::GetRevisionRequest*,
                           pb::Revision*) override;
  grpc::Status DiffRevisions(grpc::ServerContext*, const pb::DiffRevisionsRequest*,
                             pb::DiffRevisionsResponse*) override;
  grpc::Status GetDocument(grpc::ServerContext*, const pb::GetDocumentRequest*,
                           pb::Document*) override;
  grpc::Status GetFigureProvenance(grpc::ServerContext*, const pb::GetFigureProvenanceRequest*,
                                   pb::GetFigureProvenanceResponse*) override;
  grpc::Status SetTemplateWorkflows(grpc::ServerContext*, const pb::SetTemplateWorkflowsRequest*,
                                    pb::TemplateWorkflows*) override;
  grpc::Status GetTemplateWorkflows(grpc::ServerContext*, const pb::GetTemplateWorkflowsRequest*,
                                    pb::TemplateWorkflows*) override;
  grpc::Status GetDocumentSettings(grpc::ServerContext*, const pb::GetDocumentSettingsRequest*,
                                   pb::DocumentSettings*) override;
  grpc::Status UpdateDocumentSettings(grpc::ServerContext*,
                                      const pb::UpdateDocumentSettingsRequest*,
                                      pb::DocumentSettings*) override;
  grpc::Status ListDocumentNumbers(grpc::ServerContext*, const pb::ListDocumentNumbersRequest*,
                                   pb::ListDocumentNumbersResponse*) override;
  grpc::Status VoidDocumentNumber(grpc::ServerContext*, const pb::VoidDocumentNumberRequest*,
                                  pb::DocumentNumber*) override;
  grpc::Status CreateCertificateSigningRequest(grpc::ServerContext*,
                                               const pb::CreateCertificateSigningRequestRequest*,
                                               pb::CertificateSigningRequest*) override;
  grpc::Status ImportCertificate(grpc::ServerContext*, const pb::ImportCertificateRequest*,
                                 pb::SigningKey*) override;
  grpc::Status CreateSigningKey(grpc::ServerContext*, const pb::CreateSigningKeyRequest*,
                                pb::SigningKey*) override;
  grpc::Status ListSigningKeys(grpc::ServerContext*, const pb::ListSigningKeysRequest*,
                               pb::ListSigningKeysResponse*) override;
  grpc::Status VerifyDocument(grpc::ServerContext*, const pb::VerifyDocumentRequest*,
                              pb::VerifyDocumentResponse*) override;

  // Ends running watches (on shutdown, before the server drains).
  void StopWatches() { watches_.Stop(); }

 private:
  ReportCore* core_;
  auth::Authenticator* auth_;
  GrpcOptions options_;
  StreamSlots watches_;
};

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_GRPC_SERVICE_H_
