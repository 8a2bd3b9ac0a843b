// Status helpers shared by every service: the early-return macros Abseil
// 20220623 lacks, and the one place where absl::Status becomes grpc::Status.
#ifndef GOVREPORT_COMMON_STATUS_H_
#define GOVREPORT_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GR_CONCAT_INNER_(a, b) a##b
#define GR_CONCAT_(a, b) GR_CONCAT_INNER_(a, b)

#define GR_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status gr_status_ = (expr);      \
    if (!gr_status_.ok()) return gr_status_; \
  } while (0)

#define GR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#define GR_ASSIGN_OR_RETURN(lhs, expr) \
  GR_ASSIGN_OR_RETURN_IMPL_(GR_CONCAT_(gr_statusor_, __LINE__), lhs, expr)

namespace govreport {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// "INVALID_ARGUMENT", as gRPC and google.rpc.Code spell the code; a code
// outside the 17 known ones is "CODE_<n>".
std::string GrpcCodeName(grpc::StatusCode code);

// The message a caller may read of `status`, for text that is stored and
// shown later (a report's error): an internal error's detail goes to the
// log under a new error id and the caller reads the id, as ToGrpcStatus
// does.
std::string CallerMessage(const absl::Status& status);

// For the gRPC edge: `return ToGrpc(service_.DoThing(...), response);`
template <typename T, typename Proto>
grpc::Status ToGrpc(absl::StatusOr<T> result, Proto* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace govreport

#endif  // GOVREPORT_COMMON_STATUS_H_
