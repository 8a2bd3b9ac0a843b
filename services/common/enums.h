// Enum fields of requests. Proto3 enums are open: a client may send any
// number, and the generated code keeps it as it came, so a value the proto
// does not define would silently match nothing (a filter) or fall to some
// default (a setting). Every request enum field goes through CheckEnum at
// the point where the service first reads it.
#ifndef GOVREPORT_COMMON_ENUMS_H_
#define GOVREPORT_COMMON_ENUMS_H_

#include <google/protobuf/generated_enum_reflection.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace govreport {

// Whether the field may be left at its zero value (XXX_UNSPECIFIED), which
// then means what the proto documents ("all", "the default").
enum class Unspecified { kAllowed, kRefused };

// OK when `value` is a value `type` defines (not 0 when `unspecified` is
// kRefused); otherwise INVALID_ARGUMENT naming `field` and listing the values
// that are, e.g. "state: ReportState has no value 99; one of DRAFT, IN_REVIEW, ...".
absl::Status CheckEnumValue(absl::string_view field, const google::protobuf::EnumDescriptor* type,
                            int value, Unspecified unspecified);

// CheckEnum("state", req.state(), Unspecified::kAllowed).
template <typename E>
absl::Status CheckEnum(absl::string_view field, E value, Unspecified unspecified) {
  return CheckEnumValue(field, google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value),
                        unspecified);
}

}  // namespace govreport

#endif  // GOVREPORT_COMMON_ENUMS_H_
