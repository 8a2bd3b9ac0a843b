// The assembler's calls to the other services, each with a deadline and
// the authority of whoever it acts for: an RPC handler forwards its
// caller's own bearer token (so records, templates and approval apply
// their own checks to that person), a worker uses the service token.
#ifndef GOVREPORT_ASSEMBLER_UPSTREAM_H_
#define GOVREPORT_ASSEMBLER_UPSTREAM_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "govreport/templates/v1/templates.grpc.pb.h"

namespace govreport::assembler {

// Whose authority an outbound call carries.
struct CallAs {
  // The "authorization" metadata of the incoming call, passed on verbatim.
  std::string forwarded;
  // Or a token of our own (the worker's service token).
  std::string token;

  static CallAs Forward(const grpc::ServerContext& ctx);
  static CallAs Token(std::string token);
};

struct Peers {
  std::shared_ptr<grpc::Channel> records;
  std::shared_ptr<grpc::Channel> templates;
  std::shared_ptr<grpc::Channel> approval;
  // Every call gets this deadline.
  absl::Duration deadline = absl::Seconds(10);
  // Rendering all documents of a long report takes longer.
  absl::Duration render_deadline = absl::Seconds(30);
};

class Upstream {
 public:
  explicit Upstream(Peers peers);

  absl::StatusOr<records::v1::Org> GetOrg(const CallAs& as, const std::string& org);
  absl::StatusOr<records::v1::Profile> GetProfile(const CallAs& as, const std::string& org);
  absl::StatusOr<records::v1::GetIndicatorValuesResponse> GetIndicatorValues(
      const CallAs& as, const std::string& org, const std::string& period);
  absl::StatusOr<records::v1::GetIndicatorProvenanceResponse> GetIndicatorProvenance(
      const CallAs& as, const records::v1::GetIndicatorProvenanceRequest& req);

  absl::StatusOr<templates::v1::Template> GetTemplate(const CallAs& as, const std::string& name);
  absl::StatusOr<templates::v1::RenderResponse> Render(const CallAs& as,
                                                       const templates::v1::RenderRequest& req);

  absl::StatusOr<approval::v1::Workflow> GetWorkflow(const CallAs& as, const std::string& name);
  absl::StatusOr<approval::v1::Approval> StartApproval(
      const CallAs& as, const approval::v1::StartApprovalRequest& req);
  absl::StatusOr<approval::v1::Approval> GetApproval(const CallAs& as, const std::string& name);
  absl::StatusOr<approval::v1::Approval> Withdraw(const CallAs& as,
                                                  const approval::v1::WithdrawRequest& req);

 private:
  void Prepare(grpc::ClientContext& ctx, const CallAs& as, absl::Duration deadline) const;

  Peers peers_;
  std::unique_ptr<records::v1::OrgService::Stub> orgs_;
  std::unique_ptr<records::v1::IndicatorService::Stub> indicators_;
  std::unique_ptr<templates::v1::TemplateService::Stub> templates_;
  std::unique_ptr<approval::v1::ApprovalService::Stub> approval_;
};

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_UPSTREAM_H_
