// The assembler's request logic without gRPC: what each ReportService call
// checks, asks the other services and commits. The caller (the gRPC edge)
// has already authorized the principal for the org named in the request;
// outbound calls carry `as`, the caller's own token.
#ifndef GOVREPORT_ASSEMBLER_REPORTS_H_
#define GOVREPORT_ASSEMBLER_REPORTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assembler/assembly.h"
#include "assembler/domain.h"
#include "assembler/signing_keys.h"
#include "assembler/store.h"
#include "assembler/upstream.h"
#include "common/auth.h"
#include "common/request_id.h"

namespace govreport::assembler {

struct CoreOptions {
  // Injected so tests can fix time.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Commits lost to a concurrent change of the same report are redone
  // this often (only when the caller sent no expected_version).
  int max_retries = 8;
  // CreateReport assembles the first revision itself, committed with the
  // report, while fewer than this many of its assemblies are under way
  // (no queue hop, no second read of the figures, one commit instead of
  // two); past that, or when a step fails, a worker does it. 0: always a
  // worker.
  int inline_assemblies = 0;
  // The authority of those assemblies' calls: the workers' service token.
  CallAs service;
};

// --inline-assemblies as CoreOptions.inline_assemblies takes it: -1 is as
// many as the replica's workers.
inline int InlineAssemblies(int64_t requested, int64_t workers) {
  return static_cast<int>(requested < 0 ? workers : requested);
}

class ReportCore {
 public:
  ReportCore(Store* store, Upstream* upstream, CoreOptions options = {});

  absl::StatusOr<pb::Report> CreateReport(const auth::Principal& p, const CallAs& as,
                                          const std::string& org,
                                          const pb::CreateReportRequest& req);
  // check_staleness: ask records whether the current revision's figures
  // still hold (DRAFT and IN_REVIEW reports).
  absl::StatusOr<pb::Report> GetReport(const CallAs& as, const ReportRef& ref,
                                       bool check_staleness);
  absl::StatusOr<pb::ListReportsResponse> ListReports(const std::string& org,
                                                      const pb::ListReportsRequest& req);
  absl::StatusOr<pb::Report> UpdateNarrative(const auth::Principal& p, const CallAs& as,
                                             const ReportRef& ref,
                                             const pb::UpdateNarrativeRequest& req);
  absl::StatusOr<pb::Report> Reassemble(const auth::Principal& p, const ReportRef& ref,
                                        const pb::ReassembleRequest& req);
  absl::StatusOr<pb::Report> SubmitReport(const auth::Principal& p, const CallAs& as,
                                          const ReportRef& ref, const pb::SubmitReportRequest& req);
  absl::StatusOr<pb::Revision> GetRevision(const RevisionRef& ref);
  // Both revisions must belong to the same org (the one authorized).
  absl::StatusOr<pb::DiffRevisionsResponse> DiffRevisions(const RevisionRef& from,
                                                          const RevisionRef& to);
  absl::StatusOr<pb::Document> GetDocument(const CallAs& as, const RevisionRef& ref,
                                           typepb::DocumentFormat format);
  absl::StatusOr<pb::GetFigureProvenanceResponse> GetFigureProvenance(
      const CallAs& as, const RevisionRef& ref, const pb::GetFigureProvenanceRequest& req);
  // The org admin binds a template to the workflows its reports may use.
  absl::StatusOr<pb::TemplateWorkflows> SetTemplateWorkflows(
      const auth::Principal& p, const CallAs& as, const std::string& org,
      const pb::SetTemplateWorkflowsRequest& req);
  absl::StatusOr<pb::TemplateWorkflows> GetTemplateWorkflows(
      const std::string& org, const pb::GetTemplateWorkflowsRequest& req);
  // The org's document settings and its 发文字号 register.
  absl::StatusOr<pb::DocumentSettings> GetDocumentSettings(const std::string& org);
  absl::StatusOr<pb::DocumentSettings> UpdateDocumentSettings(
      const auth::Principal& p, const std::string& org,
      const pb::UpdateDocumentSettingsRequest& req);
  absl::StatusOr<pb::ListDocumentNumbersResponse> ListDocumentNumbers(
      const std::string& org, const pb::ListDocumentNumbersRequest& req);
  absl::StatusOr<pb::DocumentNumber> VoidDocumentNumber(const auth::Principal& p,
                                                        const DocumentNumberRef& ref,
                                                        const pb::VoidDocumentNumberRequest& req);
  // Signing keys and verification (signing_keys.h).
  absl::StatusOr<pb::CertificateSigningRequest> CreateCertificateSigningRequest(
      const CallAs& as, const SigningKeyRef& ref);
  absl::StatusOr<pb::SigningKey> ImportCertificate(const SigningKeyRef& ref,
                                                   const pb::ImportCertificateRequest& req);
  absl::StatusOr<pb::SigningKey> CreateSigningKey(const auth::Principal& p, const CallAs& as,
                                                  const std::string& org,
                                                  const pb::CreateSigningKeyRequest& req);
  absl::StatusOr<pb::ListSigningKeysResponse> ListSigningKeys(
      const std::string& org, const pb::ListSigningKeysRequest& req);
  absl::StatusOr<pb::VerifyDocumentResponse> VerifyDocument(const RevisionRef& ref,
                                                            const pb::VerifyDocumentRequest& req);
  // One cheap read for watchers: 0 when the report does not exist.
  absl::StatusOr<int64_t> Version(const ReportRef& ref);

 private:
  // Read → change → commit with the version read, redone when another
  // writer got there first. `change` edits the next report and may return a
  // job to queue in the same commit; returning std::nullopt from `changed`
  // means nothing to write. Callers answer a known request id first
  // (Replayed), before `change` could refuse the state a repeat finds; a
  // repeat that raced in is replayed or refused by the commit itself.
  struct Change {
    bool write = true;
    std::optional<AssembleJob> job;
  };
  using ChangeFn = std::function<absl::StatusOr<Change>(pb::Report& next)>;
  absl::StatusOr<pb::Report> Mutate(const ReportRef& ref, int64_t expected_version,
                                    const request_id::Call& call, const ChangeFn& change);
  // The first result of a repeated call; INVALID_ARGUMENT when the id
  // names another call.
  absl::StatusOr<std::optional<pb::Report>> Replayed(const std::string& org,
                                                     const request_id::Call& call);
  absl::StatusOr<pb::Report> StartApprovalFor(const CallAs& as, const ReportRef& ref,
                                              const pb::Report& in_review,
                                              const std::string& comment,
                                              const request_id::Call& call);
  // FAILED_PRECONDITION unless the org admin bound the template to it.
  absl::Status CheckWorkflowBound(const std::string& org, const std::string& template_ref,
                                  const std::string& workflow);
  absl::StatusOr<std::vector<std::string>> NarrativeSlots(const CallAs& as, const std::string& org);
  // Stores the new report with its first job, or with revision 1 already
  // made from `org` and `figures` when `org` is given and the render works.
  absl::StatusOr<pb::Report> CommitNewReport(const ReportRef& ref, pb::Report report,
                                             const request_id::Call& call, const rpb::Org* org,
                                             const rpb::GetIndicatorValuesResponse& figures);
  int64_t Now() const { return absl::ToUnixSeconds(options_.clock()); }

  Store* store_;
  Upstream* upstream_;
  CoreOptions options_;
  AssemblySlots inline_slots_;
};

// The call of a request, for the request-id toolkit: the caller is the
// principal's org and subject.
request_id::Call CallOf(absl::string_view method, absl::string_view target,
                        const auth::Principal& p, const google::protobuf::Message& request);

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_REPORTS_H_
