// JSON ⇄ protobuf for the gateway: the request message of a route built
// from its path bindings, query parameters and body (per the HttpRule),
// responses as proto3 JSON, and gRPC statuses as HTTP errors with the
// google.rpc.Status details as JSON.
#ifndef GOVREPORT_GATEWAY_TRANSCODE_H_
#define GOVREPORT_GATEWAY_TRANSCODE_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/routes.h"

namespace govreport::gateway {

// The query parameters, as httplib gives them.
using QueryParams = std::multimap<std::string, std::string>;

// A request the gateway refuses before calling a backend.
struct RequestError {
  std::string message;
  std::string field;  // The field path at fault, when there is one.
};

// The request of `route`: the body (JSON; "*" the whole request, a field
// name that field, "" none: then a non-empty body is an error), then the
// query parameters (field paths by proto or JSON name, "a.b" for nested
// fields, repeated fields by repeating the parameter), then the path
// bindings. Unknown fields and parameters are refused with their path.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(const Route& route,
                                                                        const Bindings& bindings,
                                                                        const QueryParams& query,
                                                                        absl::string_view body,
                                                                        RequestError* error);

// Sets one field by its path from text ("12", "true", an enum name or
// number, base64 for bytes); repeated fields get the value appended.
absl::Status SetFieldByPath(google::protobuf::Message& msg, absl::string_view path,
                            absl::string_view value);

// proto3 JSON (lowerCamel names, enums by name).
std::string ToJson(const google::protobuf::Message& msg);
// A serialized message as proto3 JSON, straight from the bytes (no
// message in between); `type_url` "type.googleapis.com/<full name>" of a
// generated type. False if it does not parse.
bool BytesToJson(const std::string& type_url, const std::string& bytes, std::string* json);

// The standard mapping of gRPC codes to HTTP statuses (google.rpc.Code).
int HttpStatusFor(grpc::StatusCode code);

// {"error":{"code":HTTP,"status":"NAME","message":...,"details":[...]}},
// the details decoded from the serialized google.rpc.Status (as in
// grpc-status-details-bin), each with its "@type". `http`: the HTTP
// status when it is not the standard one for the code (405, 413).
std::string ErrorJson(const grpc::Status& status, int http = 0);
// An error of the gateway itself, made as every service makes its errors
// (common/errors.h): `reason`, its zh-CN message, a BadRequest naming
// `field` when set; GatewayError turns it into the grpc::Status with the
// google.rpc details (ToGrpcStatus: ErrorInfo of the project's domain,
// LocalizedMessage, RetryInfo when the status has one).
absl::Status GatewayStatus(grpc::StatusCode code, absl::string_view reason,
                           absl::string_view message, absl::string_view field = "");
grpc::Status GatewayError(grpc::StatusCode code, absl::string_view reason,
                          absl::string_view message, absl::string_view field = "");

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_TRANSCODE_H_
