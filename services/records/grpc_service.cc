#include "records/grpc_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"

namespace govreport::records {
namespace apb = ::govreport::auth::v1;
namespace {

namespace roles = ::govreport::auth::roles;

absl::StatusOr<std::string> OrgOfName(const std::string& name, absl::string_view pattern,
                                      absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, pattern, field));
  return parts[0];
}

struct IndicatorName {
  std::string org;
  std::string key;
};

// Indicator keys are lower_snake_case, which resource ids do not allow, so
// the last part is checked apart.
absl::StatusOr<IndicatorName> ParseIndicatorName(const std::string& name) {
  auto slash = name.rfind('/');
  std::string key = slash == std::string::npos ? "" : name.substr(slash + 1);
  if (slash == std::string::npos || key.empty() ||
      name.compare(0, slash + 1, absl::StrCat(name.substr(0, slash), "/")) != 0) {
    return errors::InvalidField(
        "name", "INVALID_NAME",
        absl::StrCat("'", name, "' is not of the form orgs/*/indicators/{key}"),
        "资源名称格式应为 orgs/*/indicators/{key}");
  }
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(absl::StrCat(name.substr(0, slash), "/x"),
                                            "orgs/*/indicators/*", "name"));
  return IndicatorName{parts[0], key};
}

absl::StatusOr<std::string> OrgOfIndicator(const std::string& name) {
  GR_ASSIGN_OR_RETURN(IndicatorName n, ParseIndicatorName(name));
  return n.org;
}

}  // namespace

// ------------------------------------------------------------------ orgs

grpc::Status OrgGrpc::CreateOrg(grpc::ServerContext* ctx, const pb::CreateOrgRequest* req,
                                pb::Org* out) {
  // Only the platform operator registers orgs.
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  if (!p->IsOperator()) {
    return ToGrpcStatus(
        errors::WithReason(absl::PermissionDeniedError("only the platform operator registers orgs"),
                           "OPERATOR_ONLY", "只有平台运营方可以登记单位"));
  }
  return ToGrpc(records_->CreateOrg(req->org_id(), req->org(), req->request_id()), out);
}

grpc::Status OrgGrpc::GetOrg(grpc::ServerContext* ctx, const pb::GetOrgRequest* req, pb::Org* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->name(), "name"), roles::kRecordReaders);
  return ToGrpc(records_->GetOrg(org), out);
}

grpc::Status OrgGrpc::ListOrgs(grpc::ServerContext* ctx, const pb::ListOrgsRequest* req,
                               pb::ListOrgsResponse* out) {
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  return ToGrpc(
      records_->ListOrgs(p->IsOperator() ? "" : p->org, req->page_size(), req->page_token()), out);
}

grpc::Status OrgGrpc::UpdateOrg(grpc::ServerContext* ctx, const pb::UpdateOrgRequest* req,
                                pb::Org* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->org().name(), "org.name"), roles::kAdmins);
  return ToGrpc(records_->UpdateOrg(*req, p->IsOperator()), out);
}

// ------------------------------------------------------------ indicators

grpc::Status IndicatorGrpc::LoadProfile(grpc::ServerContext* ctx, const pb::LoadProfileRequest* req,
                                        pb::LoadProfileResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kAdmins);
  return ToGrpc(records_->LoadProfile(org, req->profile(), req->request_id()), out);
}

grpc::Status IndicatorGrpc::GetProfile(grpc::ServerContext* ctx, const pb::GetProfileRequest* req,
                                       pb::Profile* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordReaders);
  auto profile = records_->GetProfile(org);
  if (!profile.ok()) return ToGrpcStatus(profile.status());
  *out = (*profile)->proto();
  return grpc::Status::OK;
}

grpc::Status IndicatorGrpc::ListIndicators(grpc::ServerContext* ctx,
                                           const pb::ListIndicatorsRequest* req,
                                           pb::ListIndicatorsResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordReaders);
  auto profile = records_->GetProfile(org);
  if (!profile.ok()) return ToGrpcStatus(profile.status());
  auto size = PageSize(req->page_size(), 100, 1000);
  if (!size.ok()) return ToGrpcStatus(size.status());
  const std::string list = PageList({"indicators", org});
  auto after = DecodeCursorToken(list, req->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  // The catalogue's order; the cursor is the last key of the page.
  const auto& all = (*profile)->proto().indicators();
  int i = 0;
  if (!after->empty()) {
    while (i < all.size() && all[i].key() != *after) ++i;
    if (i == all.size()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "page_token: its indicator is no longer in the org's catalogue (the profile was "
          "replaced); list again without a page_token"));
    }
    ++i;
  }
  for (; i < all.size() && out->indicators_size() < *size; ++i) {
    pb::Indicator* ind = out->add_indicators();
    *ind = all[i];
    ind->set_name(absl::StrCat("orgs/", org, "/indicators/", ind->key()));
  }
  if (i < all.size()) out->set_next_page_token(EncodeCursorToken(list, all[i - 1].key()));
  return grpc::Status::OK;
}

grpc::Status IndicatorGrpc::GetIndicator(grpc::ServerContext* ctx,
                                         const pb::GetIndicatorRequest* req, pb::Indicator* out) {
  GR_AUTHORIZE_ORG(p, OrgOfIndicator(req->name()), roles::kRecordReaders);
  auto profile = records_->GetProfile(org);
  if (!profile.ok()) return ToGrpcStatus(profile.status());
  std::string key = req->name().substr(req->name().rfind('/') + 1);
  const pb::Indicator* ind = (*profile)->FindIndicator(key);
  if (ind == nullptr) {
    return ToGrpcStatus(
        errors::WithReason(absl::NotFoundError(absl::StrCat(req->name(), " not found")),
                           "INDICATOR_NOT_FOUND", absl::StrCat(req->name(), " 不存在")));
  }
  *out = *ind;
  out->set_name(req->name());
  return grpc::Status::OK;
}

grpc::Status IndicatorGrpc::GetIndicatorValues(grpc::ServerContext* ctx,
                                               const pb::GetIndicatorValuesRequest* req,
                                               pb::GetIndicatorValuesResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordReaders);
  return ToGrpc(records_->GetIndicatorValues(org, req->period()), out);
}

grpc::Status IndicatorGrpc::GetIndicatorProvenance(grpc::ServerContext* ctx,
                                                   const pb::GetIndicatorProvenanceRequest* req,
                                                   pb::GetIndicatorProvenanceResponse* out) {
  GR_AUTHORIZE_ORG(p, OrgOfIndicator(req->name()), roles::kRecordReaders);
  std::string key = req->name().substr(req->name().rfind('/') + 1);
  return ToGrpc(records_->GetIndicatorProvenance(org, key, req->period(), req->page_size(),
                                                 req->page_token(), req->breakdown_value()),
                out);
}

grpc::Status IndicatorGrpc::GetRollupValues(grpc::ServerContext* ctx,
                                            const pb::GetRollupValuesRequest* req,
                                            pb::GetRollupValuesResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordReaders);
  return ToGrpc(records_->GetRollupValues(org, req->period()), out);
}

grpc::Status IndicatorGrpc::GetRollupProvenance(grpc::ServerContext* ctx,
                                                const pb::GetRollupProvenanceRequest* req,
                                                pb::GetIndicatorProvenanceResponse* out) {
  GR_AUTHORIZE_ORG(p, OrgOfIndicator(req->name()), roles::kRecordReaders);
  return ToGrpc(records_->GetRollupProvenance(org, *req), out);
}

// ------------------------------------------------------------ activities

// The platform operator's writes (loading an org's history) are exempt from
// the org's daily quotas, not from the caps on persons.
grpc::Status ActivityGrpc::CreateActivity(grpc::ServerContext* ctx,
                                          const pb::CreateActivityRequest* req,
                                          pb::ActivityRecord* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordWriters);
  return ToGrpc(records_->CreateActivity(org, p->subject, req->activity(), req->request_id(),
                                         p->IsOperator()),
                out);
}

grpc::Status ActivityGrpc::BatchCreateActivities(grpc::ServerContext* ctx,
                                                 const pb::BatchCreateActivitiesRequest* req,
                                                 pb::BatchCreateActivitiesResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordWriters);
  return ToGrpc(records_->BatchCreateActivities(org, p->subject, *req, p->IsOperator()), out);
}

grpc::Status ActivityGrpc::GetActivity(grpc::ServerContext* ctx, const pb::GetActivityRequest* req,
                                       pb::ActivityRecord* out) {
  auto parts = ParseName(req->name(), "orgs/*/activities/*", "name");
  GR_AUTHORIZE_ORG(p, OrgOfName(req->name(), "orgs/*/activities/*", "name"), roles::kRecordReaders);
  return ToGrpc(records_->GetActivity(org, (*parts)[1]), out);
}

grpc::Status ActivityGrpc::ListActivities(grpc::ServerContext* ctx,
                                          const pb::ListActivitiesRequest* req,
                                          pb::ListActivitiesResponse* out) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent()), roles::kRecordReaders);
  return ToGrpc(records_->ListActivities(org, *req), out);
}

grpc::Status ActivityGrpc::AmendActivity(grpc::ServerContext* ctx,
                                         const pb::AmendActivityRequest* req,
                                         pb::ActivityRecord* out) {
  GR_AUTHORIZE_ORG(p, OrgOfName(req->activity().name(), "orgs/*/activities/*", "activity.name"),
                   roles::kRecordWriters);
  return ToGrpc(records_->AmendActivity(org, p->subject, *req, p->IsOperator()), out);
}

grpc::Status ActivityGrpc::VoidActivity(grpc::ServerContext* ctx,
                                        const pb::VoidActivityRequest* req,
                                        pb::ActivityRecord* out) {
  GR_AUTHORIZE_ORG(p, OrgOfName(req->name(), "orgs/*/activities/*", "name"), roles::kRecordWriters);
  return ToGrpc(records_->VoidActivity(org, p->subject, *req, p->IsOperator()), out);
}

grpc::Status ActivityGrpc::ListActivityRevisions(grpc::ServerContext* ctx,
                                                 const pb::ListActivityRevisionsRequest* req,
                                                 pb::ListActivityRevisionsResponse* out) {
  auto parts = ParseName(req->name(), "orgs/*/activities/*", "name");
  GR_AUTHORIZE_ORG(p, OrgOfName(req->name(), "orgs/*/activities/*", "name"), roles::kRecordReaders);
  auto size = PageSize(req->page_size(), 100, 1000);
  if (!size.ok()) return ToGrpcStatus(size.status());
  // The cursor is the last revision number of the page.
  const std::string list = PageList({"revisions", org, (*parts)[1]});
  auto cursor = DecodeCursorToken(list, req->page_token());
  if (!cursor.ok()) return ToGrpcStatus(cursor.status());
  int64_t after = 0;
  if (!cursor->empty() && (!absl::SimpleAtoi(*cursor, &after) || after < 0)) {
    return ToGrpcStatus(absl::InvalidArgumentError("page_token: not a token of this list"));
  }
  auto revs = records_->ListRevisions(org, (*parts)[1], after, *size + 1);
  if (!revs.ok()) return ToGrpcStatus(revs.status());
  if (static_cast<int>(revs->size()) > *size) {
    revs->pop_back();
    out->set_next_page_token(EncodeCursorToken(list, absl::StrCat(after + *size)));
  }
  for (auto& r : *revs) *out->add_revisions() = std::move(r);
  return grpc::Status::OK;
}

// ------------------------------------------------------------------ auth

grpc::Status AuthGrpc::IssueToken(grpc::ServerContext* ctx, const apb::IssueTokenRequest* req,
                                  apb::IssueTokenResponse* out) {
  const apb::Principal& want = req->principal();
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  // Unset is a user.
  if (absl::Status st = CheckEnum("principal.kind", want.kind(), Unspecified::kAllowed); !st.ok()) {
    return ToGrpcStatus(st);
  }
  auth::Principal np;
  np.subject = want.subject();
  np.org = want.org();
  np.display_name = want.display_name();
  np.kind = want.kind() == apb::PRINCIPAL_KIND_SERVICE ? "service" : "user";
  np.roles.assign(want.roles().begin(), want.roles().end());
  if (absl::Status st = auth::CheckIssuable(*p, np, req->ttl_seconds()); !st.ok()) {
    return ToGrpcStatus(st);
  }
  const std::string caller = absl::StrCat(p->org, "/", p->subject);
  const auth::TokenCall call{
      request_id::CallOf("IssueToken", absl::StrCat(np.org, "/", np.subject), caller, *req),
      p->org};
  auto issued = auth_->tokens().Issue(np, absl::Seconds(req->ttl_seconds()), caller, call);
  if (!issued.ok()) return ToGrpcStatus(issued.status());
  out->set_token_id(issued->token_id);
  out->set_token(issued->secret);
  SetTimestamp(issued->expire_unix, [&] { return out->mutable_expire_time(); });
  *out->mutable_principal() = want;
  return grpc::Status::OK;
}

grpc::Status AuthGrpc::RevokeToken(grpc::ServerContext* ctx, const apb::RevokeTokenRequest* req,
                                   apb::RevokeTokenResponse*) {
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  if (auto st = auth::CheckOrgRoles(*p, p->org, roles::kAdmins); !st.ok()) {
    return ToGrpcStatus(st);
  }
  const auth::TokenCall call{request_id::CallOf("RevokeToken", req->token_id(),
                                                absl::StrCat(p->org, "/", p->subject), *req),
                             p->org};
  return ToGrpcStatus(auth_->tokens().Revoke(req->token_id(), p->org, call));
}

grpc::Status AuthGrpc::ListTokens(grpc::ServerContext* ctx, const apb::ListTokensRequest* req,
                                  apb::ListTokensResponse* out) {
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  std::string org = req->org().empty() ? p->org : req->org();
  if (auto st = auth::CheckOrgRoles(*p, org, roles::kAdminsAndAuditors); !st.ok()) {
    return ToGrpcStatus(st);
  }
  auto size = PageSize(req->page_size(), 100, 1000);
  if (!size.ok()) return ToGrpcStatus(size.status());
  const std::string page_list = PageList({"tokens", org});
  auto after = DecodeCursorToken(page_list, req->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  auto list = auth_->tokens().List(org, *after, *size);
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const auto& t : list->tokens) {
    apb::TokenInfo* info = out->add_tokens();
    info->set_token_id(t.token_id);
    *info->mutable_issue_time() = ToTimestamp(t.issue_unix);
    SetTimestamp(t.expire_unix, [&] { return info->mutable_expire_time(); });
    apb::Principal* pr = info->mutable_principal();
    pr->set_subject(t.principal.subject);
    pr->set_org(t.principal.org);
    pr->set_display_name(t.principal.display_name);
    for (const auto& r : t.principal.roles) pr->add_roles(r);
  }
  if (!list->next.empty()) out->set_next_page_token(EncodeCursorToken(page_list, list->next));
  return grpc::Status::OK;
}

grpc::Status AuthGrpc::WhoAmI(grpc::ServerContext* ctx, const apb::WhoAmIRequest*,
                              apb::Principal* out) {
  auto p = auth_->Authenticate(*ctx);
  if (!p.ok()) return ToGrpcStatus(p.status());
  out->set_subject(p->subject);
  out->set_org(p->org);
  out->set_display_name(p->display_name);
  out->set_kind(p->kind == "service" ? apb::PRINCIPAL_KIND_SERVICE : apb::PRINCIPAL_KIND_USER);
  for (const auto& r : p->roles) out->add_roles(r);
  return grpc::Status::OK;
}

}  // namespace govreport::records
