#include "assembler/upstream.h"

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/errors.h"
#include "common/status.h"

namespace govreport::assembler {
namespace {

// The callee's status with the callee named, so a person can tell which
// service refused.
absl::Status Refused(absl::string_view service, const grpc::Status& st) {
  return errors::Prefixed(FromGrpcStatus(st), absl::StrCat(service, ": "));
}

template <typename Resp, typename Call>
absl::StatusOr<Resp> Invoke(absl::string_view service, Call call) {
  Resp resp;
  grpc::Status st = call(&resp);
  if (!st.ok()) return Refused(service, st);
  return resp;
}

}  // namespace

CallAs CallAs::Forward(const grpc::ServerContext& ctx) {
  CallAs as;
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) as.forwarded.assign(it->second.data(), it->second.size());
  return as;
}

CallAs CallAs::Token(std::string token) {
  CallAs as;
  as.token = std::move(token);
  return as;
}

Upstream::Upstream(Peers peers) : peers_(std::move(peers)) {
  if (peers_.records) {
    orgs_ = records::v1::OrgService::NewStub(peers_.records);
    indicators_ = records::v1::IndicatorService::NewStub(peers_.records);
  }
  if (peers_.templates) templates_ = templates::v1::TemplateService::NewStub(peers_.templates);
  if (peers_.approval) approval_ = approval::v1::ApprovalService::NewStub(peers_.approval);
}

void Upstream::Prepare(grpc::ClientContext& ctx, const CallAs& as, absl::Duration deadline) const {
  if (!as.forwarded.empty()) {
    ctx.AddMetadata("authorization", as.forwarded);
  } else {
    auth::AttachToken(ctx, as.token);
  }
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
}

absl::StatusOr<records::v1::Org> Upstream::GetOrg(const CallAs& as, const std::string& org) {
  return Invoke<records::v1::Org>("records", [&](records::v1::Org* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    records::v1::GetOrgRequest req;
    req.set_name(absl::StrCat("orgs/", org));
    return orgs_->GetOrg(&ctx, req, out);
  });
}

absl::StatusOr<records::v1::Profile> Upstream::GetProfile(const CallAs& as,
                                                          const std::string& org) {
  return Invoke<records::v1::Profile>("records", [&](records::v1::Profile* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    records::v1::GetProfileRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    return indicators_->GetProfile(&ctx, req, out);
  });
}

absl::StatusOr<records::v1::GetIndicatorValuesResponse> Upstream::GetIndicatorValues(
    const CallAs& as, const std::string& org, const std::string& period) {
  return Invoke<records::v1::GetIndicatorValuesResponse>(
      "records", [&](records::v1::GetIndicatorValuesResponse* out) {
        grpc::ClientContext ctx;
        Prepare(ctx, as, peers_.deadline);
        records::v1::GetIndicatorValuesRequest req;
        req.set_parent(absl::StrCat("orgs/", org));
        req.set_period(period);
        return indicators_->GetIndicatorValues(&ctx, req, out);
      });
}

absl::StatusOr<records::v1::GetIndicatorProvenanceResponse> Upstream::GetIndicatorProvenance(
    const CallAs& as, const records::v1::GetIndicatorProvenanceRequest& req) {
  return Invoke<records::v1::GetIndicatorProvenanceResponse>(
      "records", [&](records::v1::GetIndicatorProvenanceResponse* out) {
        grpc::ClientContext ctx;
        Prepare(ctx, as, peers_.deadline);
        return indicators_->GetIndicatorProvenance(&ctx, req, out);
      });
}

absl::StatusOr<templates::v1::Template> Upstream::GetTemplate(const CallAs& as,
                                                              const std::string& name) {
  return Invoke<templates::v1::Template>("templates", [&](templates::v1::Template* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    templates::v1::GetTemplateRequest req;
    req.set_name(name);
    return templates_->GetTemplate(&ctx, req, out);
  });
}

absl::StatusOr<templates::v1::RenderResponse> Upstream::Render(
    const CallAs& as, const templates::v1::RenderRequest& req) {
  return Invoke<templates::v1::RenderResponse>("templates",
                                               [&](templates::v1::RenderResponse* out) {
                                                 grpc::ClientContext ctx;
                                                 Prepare(ctx, as, peers_.render_deadline);
                                                 return templates_->Render(&ctx, req, out);
                                               });
}

absl::StatusOr<approval::v1::Workflow> Upstream::GetWorkflow(const CallAs& as,
                                                             const std::string& name) {
  return Invoke<approval::v1::Workflow>("approval", [&](approval::v1::Workflow* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    approval::v1::GetWorkflowRequest req;
    req.set_name(name);
    return approval_->GetWorkflow(&ctx, req, out);
  });
}

absl::StatusOr<approval::v1::Approval> Upstream::StartApproval(
    const CallAs& as, const approval::v1::StartApprovalRequest& req) {
  return Invoke<approval::v1::Approval>("approval", [&](approval::v1::Approval* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    return approval_->StartApproval(&ctx, req, out);
  });
}

absl::StatusOr<approval::v1::Approval> Upstream::GetApproval(const CallAs& as,
                                                             const std::string& name) {
  return Invoke<approval::v1::Approval>("approval", [&](approval::v1::Approval* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    approval::v1::GetApprovalRequest req;
    req.set_name(name);
    return approval_->GetApproval(&ctx, req, out);
  });
}

absl::StatusOr<approval::v1::Approval> Upstream::Withdraw(
    const CallAs& as, const approval::v1::WithdrawRequest& req) {
  return Invoke<approval::v1::Approval>("approval", [&](approval::v1::Approval* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, as, peers_.deadline);
    return approval_->Withdraw(&ctx, req, out);
  });
}

}  // namespace govreport::assembler
