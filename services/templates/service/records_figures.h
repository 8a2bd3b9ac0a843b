// FiguresSource over gRPC: the records service's profiles, orgs and live
// figures, each call with the caller's token and a deadline.
#ifndef GOVREPORT_TEMPLATES_SERVICE_RECORDS_FIGURES_H_
#define GOVREPORT_TEMPLATES_SERVICE_RECORDS_FIGURES_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "templates/service/core.h"

namespace govreport::templates {

class RecordsFigures final : public FiguresSource {
 public:
  RecordsFigures(const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline);
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

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_RECORDS_FIGURES_H_
