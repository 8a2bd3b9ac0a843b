// The output formats of a rendered report: plain text as rendered, Markdown
// and HTML laid out from the official numbering (the same classification
// the DOCX writer uses), and the GB/T 9704 DOCX.
#ifndef GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_
#define GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::templates {

// `text` was rendered without escaping; Markdown's own characters in it are
// escaped so that data never turns into markup.
absl::StatusOr<std::string> ToMarkdown(absl::string_view text);

// `text` was rendered without escaping, as for every format; all of it (the
// template's words and the values) and `title` are HTML-escaped here, once.
// The result is a whole UTF-8 document.
absl::StatusOr<std::string> ToHtml(absl::string_view text, absl::string_view title);

std::string ContentType(int format);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_
