// UTF-8 and XML helpers of the DOCX writer. Internal to gr_docx.
#ifndef GOVREPORT_TEMPLATES_DOCX_TEXT_UTIL_H_
#define GOVREPORT_TEMPLATES_DOCX_TEXT_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace govreport::docx::internal {

// OK when `text` is well-formed UTF-8 that an XML 1.0 document can carry:
// no C0 controls other than tab and line feed (carriage return only before a
// line feed), no U+FFFE/U+FFFF. Otherwise INVALID_ARGUMENT naming `what`, the
// line and the column (in characters, 1-based).
absl::Status CheckXmlSafeUtf8(std::string_view text, std::string_view what);

// Decodes the code point at `*pos` and advances past it. `s` must have
// passed CheckXmlSafeUtf8; returns 0 at the end of `s`.
char32_t NextCodePoint(std::string_view s, size_t* pos);

// Strips ASCII whitespace, U+3000 (ideographic space), U+00A0 and U+FEFF from
// both ends: templates indent with any of them, the style does the indenting.
std::string_view TrimLine(std::string_view line);

// Display width in half characters: ASCII takes one, everything else (CJK,
// full-width punctuation) two. Used to centre the issuer over the date.
int HalfWidthUnits(std::string_view s);

// Appends `s` with & < > " ' replaced by entities, so it is safe both as text
// and inside a quoted attribute.
void AppendXmlEscaped(std::string* out, std::string_view s);

}  // namespace govreport::docx::internal

#endif  // GOVREPORT_TEMPLATES_DOCX_TEXT_UTIL_H_
