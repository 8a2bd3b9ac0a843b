// Well-formed UTF-8 (Unicode 15 §3.9, D92): what protobuf requires of every
// string field, and what the documents are written in.
#ifndef GOVREPORT_COMMON_UTF8_H_
#define GOVREPORT_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace govreport {

// Length (1 to 4) of the well-formed sequence starting at s[i], or 0: no
// overlong forms, no surrogates, nothing above U+10FFFF, nothing cut short.
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Offset of the first byte of `text` that does not start a well-formed
// sequence, or std::string_view::npos when all of it is UTF-8.
size_t FindInvalidUtf8(std::string_view text);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_UTF8_H_
