#include "templates/service/records_figures.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/status.h"

namespace govreport::templates {

RecordsFigures::RecordsFigures(const std::shared_ptr<grpc::Channel>& channel,
                               absl::Duration deadline)
    : indicators_(records::v1::IndicatorService::NewStub(channel)),
      orgs_(records::v1::OrgService::NewStub(channel)),
      deadline_(deadline) {}

void RecordsFigures::Prepare(grpc::ClientContext& ctx, const std::string& token) const {
  auth::AttachToken(ctx, token);
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline_));
}

absl::StatusOr<records::v1::Profile> RecordsFigures::GetProfile(const std::string& org,
                                                                const std::string& token) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  records::v1::GetProfileRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  records::v1::Profile out;
  GR_RETURN_IF_ERROR(FromGrpcStatus(indicators_->GetProfile(&ctx, req, &out)));
  return out;
}

absl::StatusOr<records::v1::Org> RecordsFigures::GetOrg(const std::string& org,
                                                        const std::string& token) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  records::v1::GetOrgRequest req;
  req.set_name(absl::StrCat("orgs/", org));
  records::v1::Org out;
  GR_RETURN_IF_ERROR(FromGrpcStatus(orgs_->GetOrg(&ctx, req, &out)));
  return out;
}

absl::StatusOr<records::v1::GetIndicatorValuesResponse> RecordsFigures::GetFigures(
    const std::string& org, const std::string& period, const std::string& token) {
  grpc::ClientContext ctx;
  Prepare(ctx, token);
  records::v1::GetIndicatorValuesRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  req.set_period(period);
  records::v1::GetIndicatorValuesResponse out;
  GR_RETURN_IF_ERROR(FromGrpcStatus(indicators_->GetIndicatorValues(&ctx, req, &out)));
  return out;
}

}  // namespace govreport::templates
