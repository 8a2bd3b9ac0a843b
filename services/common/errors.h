// Structured errors: what a caller's program reads besides the code and the
// English message. Inside a service an absl::Status carries, as payloads,
//   - a stable reason (UPPER_SNAKE, one per refusal a client may handle;
//     docs/errors.md lists them) and its message in Chinese for operators;
//   - the wrong fields of an INVALID_ARGUMENT, as request paths
//     ("requests[3].activity.occurred_on");
//   - after how long a retry may succeed;
//   - a mark that the message is internal (Redis, Lua, errno text).
// ToGrpcStatus (common/status.h) turns them into google.rpc.Status details
// (ErrorInfo, BadRequest, RetryInfo, LocalizedMessage zh-CN) in the
// grpc-status-details-bin trailer, filling what a status leaves out from its
// code (docs/architecture.md "Errors").
//
// absl only, so every library (page tokens, the template engine) can use it.
#ifndef GOVREPORT_COMMON_ERRORS_H_
#define GOVREPORT_COMMON_ERRORS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::errors {

// ErrorInfo.domain of every govreport error.
inline constexpr absl::string_view kDomain = "govreport.gov.cn";

// ---- Making errors

// `status` with a stable reason and, when given, its zh-CN message (else
// the code's). Code and English message stay.
absl::Status WithReason(absl::Status status, absl::string_view reason, absl::string_view zh = "");

// INVALID_ARGUMENT "<field>: <english>" naming `field` as wrong, with a
// reason and a zh-CN message (the field path is put in front of it).
absl::Status InvalidField(absl::string_view field, absl::string_view reason,
                          absl::string_view english, absl::string_view zh);

// Names `field` as wrong in an error already made; the description is
// `description`, or else the message without a leading "<field>: ". The
// message stays. Call it once per wrong field.
absl::Status WithField(absl::Status status, absl::string_view field,
                       absl::string_view description = "");

// The error of one part of a request, seen from the whole: the message
// gets `message_prefix` in front ("requests[3]: "), every field path
// `field_prefix` ("requests[3]."), the zh message `message_prefix` too;
// reason and retry stay.
absl::Status Nested(const absl::Status& status, absl::string_view message_prefix,
                    absl::string_view field_prefix);

// Tells the caller that the same call may succeed after `delay`.
absl::Status WithRetry(absl::Status status, absl::Duration delay);

// An error whose text is for the service's log only (Redis replies, Lua
// errors, errno text): the caller gets the code, a generic message and an
// error id; the log gets the detail under that id. INTERNAL, UNKNOWN and
// DATA_LOSS are treated so without the mark.
absl::Status Internal(absl::StatusCode code, absl::string_view detail);
absl::Status MarkInternal(absl::Status status);

// `status` with `prefix` in front of its message, every payload kept (a
// new absl::Status from code and message would drop them).
absl::Status Prefixed(const absl::Status& status, absl::string_view prefix);

// ---- Reading them (ToGrpcStatus, FromGrpcStatus, tests)

struct FieldViolation {
  std::string field{};
  std::string description{};
};

struct Details {
  std::string reason{};  // Explicit, or DefaultReason(code).
  std::string zh{};      // Explicit, or DefaultChinese(code).
  std::vector<FieldViolation> fields{};
  std::optional<absl::Duration> retry{};  // Explicit, or DefaultRetry(code).
  bool internal = false;                  // Marked, or a code that always is.
};
Details DetailsOf(const absl::Status& status);

// The reason of a status without one: the code's name ("NOT_FOUND").
std::string DefaultReason(absl::StatusCode code);
// The code's meaning in Chinese, for a status without its own zh message.
absl::string_view DefaultChinese(absl::StatusCode code);
// UNAVAILABLE: 1 s, ABORTED: 100 ms; nothing for other codes.
std::optional<absl::Duration> DefaultRetry(absl::StatusCode code);

// Sets the payloads from decoded details (FromGrpcStatus: an upstream's
// error keeps its reason when a service passes it on).
absl::Status WithDetails(absl::Status status, const Details& details);

}  // namespace govreport::errors

#endif  // GOVREPORT_COMMON_ERRORS_H_
