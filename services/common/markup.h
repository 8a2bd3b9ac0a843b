// Escaping of text written into HTML or XML, shared by the template engine
// (HTML, the Mustache spec's set) and the DOCX writer (XML).
#ifndef GOVREPORT_COMMON_MARKUP_H_
#define GOVREPORT_COMMON_MARKUP_H_

#include <string>
#include <string_view>

namespace govreport {

enum class MarkupEscape {
  kHtml,  // & < > " — exactly what the Mustache spec escapes
  kXml,   // & < > " ' — safe in XML text and in either quoting of attributes
};

void AppendMarkupEscaped(std::string_view text, MarkupEscape mode, std::string* out);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_MARKUP_H_
