// The little JSON the services write by hand (Lua script arguments, stream
// fields): quoting of arbitrary UTF-8 text.
#ifndef GOVREPORT_COMMON_JSON_H_
#define GOVREPORT_COMMON_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace govreport {

// "text" with ", \ and control characters escaped.
std::string JsonQuote(absl::string_view text);
void JsonQuoteTo(absl::string_view text, std::string* out);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_JSON_H_
