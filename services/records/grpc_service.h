// gRPC edge of the records binary: authenticates, authorizes for the org
// named in the request, and translates to RecordsCore. No logic lives here.
#ifndef GOVREPORT_RECORDS_GRPC_SERVICE_H_
#define GOVREPORT_RECORDS_GRPC_SERVICE_H_

#include "common/auth.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "records/core.h"

namespace govreport::records {

class OrgGrpc final : public pb::OrgService::Service {
 public:
  OrgGrpc(RecordsCore* records, auth::Authenticator* auth) : records_(records), auth_(auth) {}
  grpc::Status CreateOrg(grpc::ServerContext*, const pb::CreateOrgRequest*, pb::Org*) override;
  grpc::Status GetOrg(grpc::ServerContext*, const pb::GetOrgRequest*, pb::Org*) override;
  grpc::Status ListOrgs(grpc::ServerContext*, const pb::ListOrgsRequest*,
                        pb::ListOrgsResponse*) override;
  grpc::Status UpdateOrg(grpc::ServerContext*, const pb::UpdateOrgRequest*, pb::Org*) override;

 private:
  RecordsCore* records_;
  auth::Authenticator* auth_;
};

class IndicatorGrpc final : public pb::IndicatorService::Service {
 public:
  IndicatorGrpc(RecordsCore* records, auth::Authenticator* auth) : records_(records), auth_(auth) {}
  grpc::Status LoadProfile(grpc::ServerContext*, const pb::LoadProfileRequest*,
                           pb::LoadProfileResponse*) override;
  grpc::Status GetProfile(grpc::ServerContext*, const pb::GetProfileRequest*,
                          pb::Profile*) override;
  grpc::Status ListIndicators(grpc::ServerContext*, const pb::ListIndicatorsRequest*,
                              pb::ListIndicatorsResponse*) override;
  grpc::Status GetIndicator(grpc::ServerContext*, const pb::GetIndicatorRequest*,
                            pb::Indicator*) override;
  grpc::Status GetIndicatorValues(grpc::ServerContext*, const pb::GetIndicatorValuesRequest*,
                                  pb::GetIndicatorValuesResponse*) override;
  grpc::Status GetRollupValues(grpc::ServerContext*, const pb::GetRollupValuesRequest*,
                               pb::GetRollupValuesResponse*) override;
  grpc::Status GetRollupProvenance(grpc::ServerContext*, const pb::GetRollupProvenanceRequest*,
                                   pb::GetIndicatorProvenanceResponse*) override;
  grpc::Status GetIndicatorProvenance(grpc::ServerContext*,
                                      const pb::GetIndicatorProvenanceRequest*,
                                      pb::GetIndicatorProvenanceResponse*) override;

 private:
  RecordsCore* records_;
  auth::Authenticator* auth_;
};

class ActivityGrpc final : public pb::ActivityService::Service {
 public:
  ActivityGrpc(RecordsCore* records, auth::Authenticator* auth) : records_(records), auth_(auth) {}
  grpc::Status CreateActivity(grpc::ServerContext*, const pb::CreateActivityRequest*,
                              pb::ActivityRecord*) override;
  grpc::Status BatchCreateActivities(grpc::ServerContext*, const pb::BatchCreateActivitiesRequest*,
                                     pb::BatchCreateActivitiesResponse*) override;
  grpc::Status GetActivity(grpc::ServerContext*, const pb::GetActivityRequest*,
                           pb::ActivityRecord*) override;
  grpc::Status ListActivities(grpc::ServerContext*, const pb::ListActivitiesRequest*,
                              pb::ListActivitiesResponse*) override;
  grpc::Status AmendActivity(grpc::ServerContext*, const pb::AmendActivityRequest*,
                             pb::ActivityRecord*) override;
  grpc::Status VoidActivity(grpc::ServerContext*, const pb::VoidActivityRequest*,
                            pb::ActivityRecord*) override;
  grpc::Status ListActivityRevisions(grpc::ServerContext*, const pb::ListActivityRevisionsRequest*,
                                     pb::ListActivityRevisionsResponse*) override;

 private:
  RecordsCore* records_;
  auth::Authenticator* auth_;
};

class AuthGrpc final : public ::govreport::auth::v1::AuthService::Service {
 public:
  explicit AuthGrpc(auth::Authenticator* auth) : auth_(auth) {}
  grpc::Status IssueToken(grpc::ServerContext*, const ::govreport::auth::v1::IssueTokenRequest*,
                          ::govreport::auth::v1::IssueTokenResponse*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const ::govreport::auth::v1::RevokeTokenRequest*,
                           ::govreport::auth::v1::RevokeTokenResponse*) override;
  grpc::Status ListTokens(grpc::ServerContext*, const ::govreport::auth::v1::ListTokensRequest*,
                          ::govreport::auth::v1::ListTokensResponse*) override;
  grpc::Status WhoAmI(grpc::ServerContext*, const ::govreport::auth::v1::WhoAmIRequest*,
                      ::govreport::auth::v1::Principal*) override;

 private:
  auth::Authenticator* auth_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_GRPC_SERVICE_H_
