// A request the server cannot parse is the caller's mistake, yet gRPC's
// deserializer answers it INTERNAL with an empty message. Its commonest
// cause is a string field that is not UTF-8, which proto3 requires (a GBK
// file read as text gives exactly that; the C++ client sends it anyway). The
// interceptor made here turns such answers into INVALID_ARGUMENT naming the
// field ("requests[].activity.title: not valid UTF-8 ...").
#ifndef GOVREPORT_COMMON_PARSE_ERRORS_H_
#define GOVREPORT_COMMON_PARSE_ERRORS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace govreport {

// For ServerBuilder::experimental().SetInterceptorCreators. The first call
// also hooks protobuf's log, which is where a parser names the field that is
// not UTF-8 (the hook passes every message on to the previous handler).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewParseErrorInterceptorFactory();

// The answer to a request of `method` ("/pkg.Service/Method") that did not
// parse; `bad_field` is the full name of the string field protobuf found not
// UTF-8 ("pkg.Message.field"), or empty when it named none.
std::string ParseErrorMessage(absl::string_view method, absl::string_view bad_field);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_PARSE_ERRORS_H_
