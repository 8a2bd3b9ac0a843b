#include "templates/service/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "templates/service/formats.h"

namespace govreport::templates {
namespace {

namespace roles = ::govreport::auth::roles;

// A template's org must be the caller's; shared templates ("templates/x")
// are readable by everyone authenticated.
absl::StatusOr<auth::Principal> AuthorizeRef(auth::Authenticator* auth,
                                             const grpc::ServerContext& ctx, const TemplateRef& ref,
                                             bool write) {
  if (ref.org.empty()) {
    GR_ASSIGN_OR_RETURN(auth::Principal p, auth->Authenticate(ctx));
    if (write && !p.IsOperator()) {
      return errors::WithReason(
          absl::PermissionDeniedError("only the platform operator changes shared templates"),
          "OPERATOR_ONLY", "只有平台运营方可以修改共享模板");
    }
    return p;
  }
  return auth->AuthorizeOrg(
      ctx, ref.org, write ? auth::RoleSet(roles::kAdmins) : auth::RoleSet(roles::kTemplateReaders));
}

// The org of a parent that may be empty (""): the shared scope.
absl::StatusOr<std::string> ScopeOf(const std::string& parent) {
  if (parent.empty()) return std::string();
  return ParseOrgName(parent);
}

}  // namespace

CallControl CallControlOf(const grpc::ServerContext* ctx) {
  CallControl call;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = absl::FromChrono(deadline);
  }
  // A client that gave up (or a deadline gRPC already enforced) cancels the
  // call; the render stops at its next check instead of running on.
  call.cancelled = [ctx] { return ctx->IsCancelled(); };
  return call;
}

std::string CallerToken(const grpc::ServerContext& ctx) {
  auto it = ctx.client_metadata().find("authorization");
  if (it == ctx.client_metadata().end()) return "";
  std::string value(it->second.data(), it->second.size());
  return value.rfind("Bearer ", 0) == 0 ? value.substr(7) : "";
}

grpc::Status TemplatesGrpc::CreateTemplate(grpc::ServerContext* ctx,
                                           const v1::CreateTemplateRequest* req,
                                           v1::Template* out) {
  auto org = ScopeOf(req->parent());
  if (!org.ok()) return ToGrpcStatus(org.status());
  auto p = AuthorizeRef(auth_, *ctx, {*org, req->template_id(), 0}, true);
  if (!p.ok()) return ToGrpcStatus(p.status());
  return ToGrpc(templates_->Create(*org, req->template_id(), req->text(), req->description(),
                                   p->subject, CallerToken(*ctx), req->request_id()),
                out);
}

grpc::Status TemplatesGrpc::GetTemplate(grpc::ServerContext* ctx, const v1::GetTemplateRequest* req,
                                        v1::Template* out) {
  auto ref = ParseTemplateName(req->name());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  auto p = AuthorizeRef(auth_, *ctx, *ref, false);
  if (!p.ok()) return ToGrpcStatus(p.status());
  return ToGrpc(templates_->Get(*ref), out);
}

grpc::Status TemplatesGrpc::ListTemplates(grpc::ServerContext* ctx,
                                          const v1::ListTemplatesRequest* req,
                                          v1::ListTemplatesResponse* out) {
  auto org = ScopeOf(req->parent());
  if (!org.ok()) return ToGrpcStatus(org.status());
  auto p = AuthorizeRef(auth_, *ctx, {*org, "x", 0}, false);
  if (!p.ok()) return ToGrpcStatus(p.status());
  return ToGrpc(templates_->List(*org, req->page_size(), req->page_token()), out);
}

grpc::Status TemplatesGrpc::UpdateTemplate(grpc::ServerContext* ctx,
                                           const v1::UpdateTemplateRequest* req,
                                           v1::Template* out) {
  auto ref = ParseTemplateName(req->name());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  auto p = AuthorizeRef(auth_, *ctx, *ref, true);
  if (!p.ok()) return ToGrpcStatus(p.status());
  return ToGrpc(templates_->Update(*ref, req->text(), req->description(), req->expected_revision(),
                                   p->subject, CallerToken(*ctx), req->request_id(),
                                   req->allow_orphaned_blocks()),
                out);
}

grpc::Status TemplatesGrpc::ListTemplateRevisions(grpc::ServerContext* ctx,
                                                  const v1::ListTemplateRevisionsRequest* req,
                                                  v1::ListTemplateRevisionsResponse* out) {
  auto ref = ParseTemplateName(req->name());
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  auto p = AuthorizeRef(auth_, *ctx, *ref, false);
  if (!p.ok()) return ToGrpcStatus(p.status());
  auto page = templates_->ListRevisions(*ref, req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  *out = std::move(*page);
  return grpc::Status::OK;
}

grpc::Status TemplatesGrpc::ValidateTemplate(grpc::ServerContext* ctx,
                                             const v1::ValidateTemplateRequest* req,
                                             v1::ValidateTemplateResponse* out) {
  auto org = ParseOrgName(req->parent());
  if (!org.ok()) return ToGrpcStatus(org.status());
  auto p = auth_->AuthorizeOrg(*ctx, *org, roles::kTemplateReaders);
  if (!p.ok()) return ToGrpcStatus(p.status());
  auto problems = templates_->Validate(*org, req->text(), CallerToken(*ctx));
  if (!problems.ok()) return ToGrpcStatus(problems.status());
  out->set_valid(problems->empty());
  for (const auto& pr : *problems) {
    v1::Problem* x = out->add_problems();
    x->set_line(pr.line);
    x->set_column(pr.column);
    x->set_message(pr.partial.empty() ? pr.message
                                      : absl::StrCat("in ", pr.partial, ": ", pr.message));
    x->set_suggestion(pr.suggestion);
  }
  return grpc::Status::OK;
}

grpc::Status TemplatesGrpc::Render(grpc::ServerContext* ctx, const v1::RenderRequest* req,
                                   v1::RenderResponse* out) {
  auto org = ParseOrgName(req->parent());
  if (!org.ok()) return ToGrpcStatus(org.status());
  auto p = auth_->AuthorizeOrg(*ctx, *org, roles::kTemplateReaders);
  if (!p.ok()) return ToGrpcStatus(p.status());
  // Unset: DOCUMENT_FORMAT_TXT, and DOCX_LAYOUT_CONDENSED.
  for (const absl::Status& st :
       {CheckEnum("format", req->format(), Unspecified::kAllowed),
        CheckEnum("docx_layout", req->docx_layout(), Unspecified::kAllowed)}) {
    if (!st.ok()) return ToGrpcStatus(st);
  }
  TemplatesCore::RenderInput in;
  in.org = *org;
  if (req->source_case() == v1::RenderRequest::kTemplate) {
    auto ref = TemplateRenderableBy(req->template_(), *org);
    if (!ref.ok()) return ToGrpcStatus(ref.status());
    in.ref = *ref;
  } else {
    in.text = req->text();
  }
  in.context_bytes = req->context().ByteSizeLong();
  if (in.context_bytes > templates_->limits().max_context_bytes) {
    return ToGrpcStatus(templates_->ContextFromRequest(req->context()).status());
  }
  in.request_context = &req->context();
  in.call = CallControlOf(ctx);
  in.call.platform = p->IsOperator();
  in.format = req->format() == typepb::DOCUMENT_FORMAT_UNSPECIFIED ? typepb::DOCUMENT_FORMAT_TXT
                                                                   : req->format();
  in.docx_layout = req->docx_layout();
  in.title = req->title();
  in.author = req->author();
  in.timestamp_unix = FromTimestamp(req->document_time());
  if (req->has_frame()) {
    auto frame = FrameFromProto(req->frame());
    if (!frame.ok()) return ToGrpcStatus(frame.status());
    in.frame = std::move(*frame);
  }
  auto pins = ParsePartialPins(req->partial_revisions(), *org);
  if (!pins.ok()) return ToGrpcStatus(pins.status());
  in.pins = std::move(*pins);
  return ToGrpc(templates_->Render(in), out);
}

grpc::Status TemplatesGrpc::Preview(grpc::ServerContext* ctx, const v1::PreviewRequest* req,
                                    v1::RenderResponse* out) {
  auto org = ParseOrgName(req->parent());
  if (!org.ok()) return ToGrpcStatus(org.status());
  auto p = auth_->AuthorizeOrg(*ctx, *org, roles::kTemplateReaders);
  if (!p.ok()) return ToGrpcStatus(p.status());
  auto ref = TemplateRenderableBy(req->template_(), *org);
  if (!ref.ok()) return ToGrpcStatus(ref.status());
  CallControl call = CallControlOf(ctx);
  call.platform = p->IsOperator();
  return ToGrpc(templates_->Preview(*req, *org, CallerToken(*ctx), call), out);
}

}  // namespace govreport::templates
