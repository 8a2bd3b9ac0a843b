// Writes the rendered text of an official document as a PDF laid out per
// GB/T 9704-2012, exactly as the DOCX (templates/docx) is: the same
// classification, geometry and frame, fixed here by the suite itself (Pango
// shapes and breaks the lines, cairo writes the PDF with every font embedded
// as a subset). What it lays out and how PDF/A-2b stands: docs/pdf.md.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_PDF_WRITER_H_
#define GOVREPORT_TEMPLATES_LAYOUT_PDF_WRITER_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "templates/docx/docx_writer.h"
#include "templates/layout/fonts.h"

namespace govreport::layout {

struct PdfOptions {
  // The document information's Title; empty means the title line.
  std::string title;
  // Author; empty means the issuer line, if any.
  std::string author;
  // CreationDate and ModDate. The output depends on nothing else, so the
  // same text, options and fonts give the same bytes. Years 1–9999.
  std::chrono::sys_seconds timestamp = docx::kDefaultTimestamp;
  // 版头, 主送机关, 附注 and 版记; empty: the text alone.
  docx::DocumentFrame frame;
  // The faces; unset means ConfiguredFonts() (the environment's, checked).
  std::optional<FontMap> fonts;
};

// Returns the bytes of the PDF. INVALID_ARGUMENT for what WriteOfficialDocx
// refuses (invalid UTF-8, control characters, no title, a timestamp out of
// range); FAILED_PRECONDITION when a configured font is not installed;
// INTERNAL if cairo fails.
absl::StatusOr<std::string> WriteOfficialPdf(std::string_view text, const PdfOptions& options);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_PDF_WRITER_H_
