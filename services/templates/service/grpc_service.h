// TemplatesGrpc, the gRPC edge of the templates binary: protobuf to the
// core's calls and back, and who may call what (the auth edge). The rules
// themselves are in core.h and domain.h.
#ifndef GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_
#define GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/auth.h"
#include "govreport/templates/v1/templates.grpc.pb.h"
#include "templates/service/core.h"

namespace govreport::templates {

class TemplatesGrpc final : public v1::TemplateService::Service {
 public:
  TemplatesGrpc(TemplatesCore* templates, auth::Authenticator* auth)
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
  TemplatesCore* templates_;
  auth::Authenticator* auth_;
};

// The call's deadline and cancellation, for the render.
CallControl CallControlOf(const grpc::ServerContext* ctx);

// The bearer secret of the call, to act on the caller's behalf downstream.
std::string CallerToken(const grpc::ServerContext& ctx);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_GRPC_SERVICE_H_
