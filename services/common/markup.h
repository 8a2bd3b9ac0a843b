// Escaping of text written into HTML or XML, shared by the template engine
// (HTML, the Mustache spec's set) and the DOCX writer (XML).
#ifndef GOVREPORT_COMMON_MARKUP_H_
#define GOVREPORT_COMMON_MARKUP_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace govreport {

enum class MarkupEscape {
  kHtml,  // & < > " — exactly what the Mustache spec escapes
  kXml,   // & < > " ' — safe in XML text and in either quoting of attributes
};

void AppendMarkupEscaped(std::string_view text, MarkupEscape mode, std::string* out);

// Text that ends up in a document: XML allows no C0 control character but
// tab and line breaks, so such text is refused where it enters (org fields,
// templates, titles), not when a signed report fails to publish.
// INVALID_ARGUMENT naming `field` and the byte.
absl::Status CheckDocumentText(absl::string_view field, absl::string_view text);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_MARKUP_H_
