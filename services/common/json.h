// The little JSON the services write by hand (Lua script arguments, stream
// fields): quoting of arbitrary UTF-8 text.
#ifndef GOVREPORT_COMMON_JSON_H_
#define GOVREPORT_COMMON_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace govreport {

// "text" with ", \ and control characters escaped.
std::string JsonQuote(absl::string_view text);
void JsonQuoteTo(absl::string_view text, std::string* out);
// ["a","b"]: a list of texts in a stream field, where one may hold a comma.
std::string JsonStringArray(const std::vector<std::string>& items);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_JSON_H_
