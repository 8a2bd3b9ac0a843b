// The output formats of a rendered report: Markdown, HTML and plain text
// laid out from the official numbering (the same classification the DOCX
// writer uses), and the GB/T 9704 DOCX, each with the request's frame
// (版头, 主送机关, 附注, 版记) in the same order as on paper.
#ifndef GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_
#define GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/docx/docx_writer.h"

namespace govreport::templates {

// The request's frame for the layouts. INVALID_ARGUMENT naming
// frame.<field> for a field longer than its limit (docs/documents.md) or
// holding a control character (every field is one line).
absl::StatusOr<docx::DocumentFrame> FrameFromProto(const v1::DocumentFrame& frame);

// `text` was rendered without escaping; Markdown's own characters in it are
// escaped so that data never turns into markup. Tables become GFM pipe
// tables.
absl::StatusOr<std::string> ToMarkdown(absl::string_view text,
                                       const docx::DocumentFrame& frame = {});

// `text` was rendered without escaping, as for every format; all of it (the
// template's words and the values), the frame and `title` are HTML-escaped
// here, once. The result is a whole UTF-8 document that prints on A4.
absl::StatusOr<std::string> ToHtml(absl::string_view text, absl::string_view title,
                                   const docx::DocumentFrame& frame = {});

// Plain text: as rendered when there is no frame, no table and no
// attachment; otherwise the frame's lines around the text, tables aligned by
// display width, a form feed before each attachment and before the 版记.
absl::StatusOr<std::string> ToText(absl::string_view text, const docx::DocumentFrame& frame = {});

// The GB/T 9704 PDF (templates/layout): `title` and `author` for its
// document information (empty: the title and issuer lines), `timestamp_unix`
// its dates (0: 1980-01-01, as the DOCX). FAILED_PRECONDITION when a
// configured font is not installed.
absl::StatusOr<std::string> ToPdf(absl::string_view text, absl::string_view title,
                                  absl::string_view author, int64_t timestamp_unix,
                                  const docx::DocumentFrame& frame = {});

// The same layout as an OFD (GB/T 33190-2016, templates/layout/ofd_writer.h):
// `title` and `author` for its DocInfo, `timestamp_unix` its CreationDate
// and the zip entries' times (0: 1980-01-01).
absl::StatusOr<std::string> ToOfd(absl::string_view text, absl::string_view title,
                                  absl::string_view author, int64_t timestamp_unix,
                                  const docx::DocumentFrame& frame = {});

std::string ContentType(int format);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_FORMATS_H_
