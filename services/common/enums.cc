#include "common/enums.h"

#include <google/protobuf/descriptor.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace govreport {

absl::Status CheckEnumValue(absl::string_view field, const google::protobuf::EnumDescriptor* type,
                            int value, Unspecified unspecified) {
  bool zero_ok = unspecified == Unspecified::kAllowed;
  if (type->FindValueByNumber(value) != nullptr && (value != 0 || zero_ok)) {
    return absl::OkStatus();
  }
  std::string names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    absl::StrAppend(&names, names.empty() ? "" : ", ", type->value(i)->name());
  }
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be set, one of ", names));
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", type->name(), " has no value ", value,
                                                 "; one of ", names, zero_ok ? " (or unset)" : ""));
}

}  // namespace govreport
