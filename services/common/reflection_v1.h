// grpc.reflection.v1.ServerReflection, which current tools (grpcurl,
// grpcui, Postman) ask for before v1alpha. gRPC 1.51 serves only v1alpha
// (its plugin, enabled in server.cc), and that implementation is not in
// the installed headers, so this one answers the same questions the same
// way over the same descriptor pool (the generated one: every service and
// message linked into the binary). RunningServer registers it beside
// v1alpha on every server.
#ifndef GOVREPORT_COMMON_REFLECTION_V1_H_
#define GOVREPORT_COMMON_REFLECTION_V1_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "internal/grpc/reflection/v1/reflection.grpc.pb.h"

namespace govreport {

class ReflectionV1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;

  // The services list_services names: every service the server offers,
  // gRPC's own included, as v1alpha lists them. gRPC knows the list only
  // once the server has started; a stream that asks before waits for it.
  // Call once.
  void SetServices(std::vector<std::string> names);

  grpc::Status ServerReflectionInfo(grpc::ServerContext* context,
                                    grpc::ServerReaderWriter<Response, Request>* stream) override;

  // One answer (an error_response when the question has none).
  Response Answer(const Request& request);

 private:
  absl::Notification services_set_;
  std::vector<std::string> services_;  // Written once, before services_set_.
};

}  // namespace govreport

#endif  // GOVREPORT_COMMON_REFLECTION_V1_H_
