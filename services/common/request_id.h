// Request ids (AIP-155), once for every mutating RPC of every service.
//
// A request_id names one call within an org for kRetention. A repeat of
// the same call (same method, target, caller and content) returns the
// first result and changes nothing; the same id with another method,
// target, caller or content is INVALID_ARGUMENT naming the id. An empty id
// means "no replay protection".
//
// Each id is a hash `gr:{org}:rq:{id}` with fields `fp` (the call's
// fingerprint) and `result` (what the service needs to answer a repeat),
// checked and written by the service's Lua script in the same step as the
// change, through kLuaPrelude.
#ifndef GOVREPORT_COMMON_REQUEST_ID_H_
#define GOVREPORT_COMMON_REQUEST_ID_H_

#include <google/protobuf/message.h>

#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/redis.h"

namespace govreport::request_id {

// How long an id is remembered; the protos state it to clients.
inline constexpr absl::Duration kRetention = absl::Hours(24 * 7);
inline constexpr size_t kMaxLength = 128;

// At most kMaxLength printable ASCII characters without spaces, so that an
// id is safe in a key, a log line and an error message. `field` names it
// in the error ("request_id", "requests[3].request_id").
absl::Status Validate(absl::string_view id, absl::string_view field = "request_id");

// Each id valid, and no two non-empty ids equal: two items of one batch
// sharing an id would make the second one a silent replay of the first.
// `ids[i]` is named "<prefix>[i].request_id".
absl::Status ValidateBatch(absl::Span<const std::string> ids, absl::string_view prefix);

// The Redis key of an id, in the org's hash slot. With an empty id, a key
// that is never written, for scripts that take the key anyway.
std::string Key(absl::string_view org, absl::string_view id);

// What makes two calls "the same call": the method, the resource it
// targets, who calls, and the request's content with its request_id
// cleared (deterministic serialization, so map order does not count).
std::string Fingerprint(absl::string_view method, absl::string_view target,
                        absl::string_view caller, const google::protobuf::Message& request);

// The same for a call whose content the service holds as values, not as a
// proto: the parts are length-prefixed, so no two different lists join
// to the same text.
std::string Fingerprint(absl::string_view method, absl::string_view target,
                        absl::string_view caller, std::initializer_list<absl::string_view> parts);

// One call as the service sees it: its id (empty: no replay protection)
// and its fingerprint. The gRPC adapter makes it from the request, the core
// validates and uses it.
struct Call {
  std::string id;
  std::string fingerprint;
};
// The request's own `request_id` field, fingerprinted as above.
Call CallOf(absl::string_view method, absl::string_view target, absl::string_view caller,
            const google::protobuf::Message& request);

// What a known id remembers.
struct Prior {
  std::string fingerprint;
  std::string result;
};
// The HMGET that reads it, for a pipeline, and its reply read back
// (nullopt: the id is not known).
redis::Args ReadPriorCommand(absl::string_view org, absl::string_view id);
std::optional<Prior> PriorFromReply(const redis::Reply& reply);
// Reads it in one round trip; none for an empty id.
absl::StatusOr<std::optional<Prior>> ReadPrior(redis::Client& redis, absl::string_view org,
                                               absl::string_view id);
// What a known id answers `call`: the first result when it is the same
// call, INVALID_ARGUMENT (Reused) when it is another.
absl::StatusOr<std::string> FirstResult(const Prior& prior, const Call& call);

// INVALID_ARGUMENT for an id that names another call.
absl::Status Reused(absl::string_view id);

// The seconds argument scripts take for kRetention (or a test's shorter one).
std::string RetentionSeconds(absl::Duration retention = kRetention);

// Lua functions every write script starts with:
//   request_prior(key, fp) -> nil (new call, or no id: fp == ''),
//                             {'REPLAYED', result} or {'REQUEST_REUSED'}
//   request_remember(key, fp, result, ttl_seconds)
// Scripts return the prior answer as is, so Outcome parses it.
extern const char kLuaPrelude[];

}  // namespace govreport::request_id

#endif  // GOVREPORT_COMMON_REQUEST_ID_H_
