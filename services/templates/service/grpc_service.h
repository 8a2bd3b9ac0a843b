// gRPC edge of the templates binary, and the client of the records service
// it uses for profiles and live figures (calls carry the caller's token and a
// deadline).
#ifndef GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_
#define GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/auth.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "govreport/templates/v1/templates.grpc.pb.h"
#include "templates/service/templates.h"

namespace govreport::templates {

class RecordsFigures final : public FiguresSource {
 public:
  RecordsFigures(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline);
  absl::StatusOr<records::v1::Profile> GetProfile(const std::string& org,
                                                  const std::string& token) override;
  absl::StatusOr<records::v1::Org> GetOrg(const std::string& org,
                                          const std::string& token) override;
  absl::StatusOr<records::v1::GetIndicatorValuesResponse> GetFigures(
      const std::string& org, const std::string& period, const std::string& token) override;

 private:
  void Prepare(grpc::ClientContext& ctx, const std::string& token) const;
  std::unique_ptr<records::v1::IndicatorService::Stub> indicators_;
  std::unique_ptr<records::v1::OrgService::Stub> orgs_;
  absl::Duration deadline_;
};

class TemplateGrpc final : public v1::TemplateService::Service {
 public:
  TemplateGrpc(Templates* templates, auth::Authenticator* auth)
      : templates_(templates), auth_(auth) {}
  grpc::Status CreateTemplate(grpc::ServerContext*, const v1::CreateTemplateRequest*,
                              v1::Template*) override;
  grpc::Status GetTemplate(grpc::ServerContext*, const v1::GetTemplateRequest*,
                           v1::Template*) override;
  grpc::Status ListTemplates(grpc::ServerContext*, const v1::ListTemplatesRequest*,
                             v1::ListTemplatesResponse*) override;
  grpc::Status UpdateTemplate(grpc::ServerContext*, const v1::UpdateTemplateRequest*,
                              v1::Template*) override;
  grpc::Status ListTemplateRevisions(grpc::ServerContext*, const v1::ListTemplateRevisionsRequest*,
                                     v1::ListTemplateRevisionsResponse*) override;
  grpc::Status ValidateTemplate(grpc::ServerContext*, const v1::ValidateTemplateRequest*,
                                v1::ValidateTemplateResponse*) override;
  grpc::Status Render(grpc::ServerContext*, const v1::RenderRequest*, v1::RenderResponse*) override;
  grpc::Status Preview(grpc::ServerContext*, const v1::PreviewRequest*,
                       v1::RenderResponse*) override;

 private:
  Templates* templates_;
  auth::Authenticator* auth_;
};

// The call's deadline and cancellation, for the render.
CallControl CallControlOf(const grpc::ServerContext* ctx);

// The bearer secret of the call, to act on the caller's behalf downstream.
std::string CallerToken(const grpc::ServerContext& ctx);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_
