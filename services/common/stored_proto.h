// Protos as Redis stores them: one way to write them and one way to read
// them back, so an unreadable blob is always DATA_LOSS naming what it was.
#ifndef GOVREPORT_COMMON_STORED_PROTO_H_
#define GOVREPORT_COMMON_STORED_PROTO_H_

#include <google/protobuf/message_lite.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace govreport {

inline std::string SerializeStored(const google::protobuf::MessageLite& proto) {
  return proto.SerializeAsString();
}

// The same message always gives the same bytes (maps in key order): for
// digests and fingerprints, not for storage.
std::string SerializeDeterministic(const google::protobuf::MessageLite& proto);

// `what` names the blob in the error ("record orgs/a/activities/x").
absl::Status ParseStoredInto(absl::string_view blob, absl::string_view what,
                             google::protobuf::MessageLite* proto);

template <typename Proto>
absl::StatusOr<Proto> ParseStored(absl::string_view blob, absl::string_view what) {
  Proto proto;
  if (absl::Status s = ParseStoredInto(blob, what, &proto); !s.ok()) return s;
  return proto;
}

}  // namespace govreport

#endif  // GOVREPORT_COMMON_STORED_PROTO_H_
