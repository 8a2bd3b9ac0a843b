// Enum fields of requests, and the names of enum values.
//
// Proto3 enums are open: a client may send any number, and the generated
// code keeps it as it came, so a value the proto does not define would
// silently match nothing (a filter) or fall to some default (a setting).
// Every request enum field goes through CheckEnum at the point where the
// service first reads it.
//
// Value names carry their enum's name as prefix (AIP-126:
// MEASURE_KIND_COUNT). People read and write the short name (COUNT) in
// reportctl's tables and flags and in the profile and workflow files; the
// mapping between the two lives here and nowhere else.
#ifndef GOVREPORT_COMMON_ENUMS_H_
#define GOVREPORT_COMMON_ENUMS_H_

#include <google/protobuf/generated_enum_reflection.h>
#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace govreport {

// Whether the field may be left at its zero value (XXX_UNSPECIFIED), which
// then means what the proto documents ("all", "the default").
enum class Unspecified { kAllowed, kRefused };

// OK when `value` is a value `type` defines (not 0 when `unspecified` is
// kRefused); otherwise INVALID_ARGUMENT naming `field` and listing the values
// that are, e.g. "state: ReportState has no value 99; one of REPORT_STATE_DRAFT, ...".
// An API client sends the full names, so those are the ones listed.
absl::Status CheckEnumValue(absl::string_view field, const google::protobuf::EnumDescriptor* type,
                            int value, Unspecified unspecified);

// CheckEnum("state", req.state(), Unspecified::kAllowed).
template <typename E>
absl::Status CheckEnum(absl::string_view field, E value, Unspecified unspecified) {
  return CheckEnumValue(field, google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value),
                        unspecified);
}

// "MEASURE_KIND_" for MeasureKind: the prefix every value name of `type` starts with.
std::string EnumValuePrefix(const google::protobuf::EnumDescriptor* type);

// The value's name without its enum's prefix: "COUNT" for MEASURE_KIND_COUNT.
absl::string_view ShortEnumName(const google::protobuf::EnumValueDescriptor* value);

// ShortEnumName(rpt::REPORT_STATE_DRAFT) == "DRAFT"; the number when `type`
// does not define it.
template <typename E>
std::string ShortEnumName(E value) {
  const auto* v = google::protobuf::GetEnumDescriptor<E>()->FindValueByNumber(value);
  return v == nullptr ? std::to_string(static_cast<int>(value)) : std::string(ShortEnumName(v));
}

// The value of `type` that `name` names, in full (MEASURE_KIND_COUNT) or
// short (COUNT); nullptr when none does. Case matters, as in the proto.
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor* type, absl::string_view name);

// The syntax of a file people write.
enum class FileSyntax { kJson, kTextFormat };

// Parses the text of a file people write (an org profile, a workflow) into
// `message`: the proto3 JSON mapping or protobuf text format, where an enum
// value may also be given by its short name ("kind": "COUNT", the form the
// docs and the shipped files use). A short name is only accepted where it is
// unambiguous in its package (e.g. not APPROVED, which both ApprovalState
// and TaskState would claim). An unknown name is INVALID_ARGUMENT naming the
// field and the value.
absl::Status ParseHumanWritten(absl::string_view text, FileSyntax syntax,
                               google::protobuf::Message* message);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_ENUMS_H_
