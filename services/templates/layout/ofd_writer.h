// Writes the rendered text of an official document as an OFD (GB/T
// 33190-2016, the fixed-layout format of Chinese e-government and archives),
// laid out exactly as the PDF is: the same Document of positioned glyph runs
// (layout.h) written as OFD XML, each face embedded as the HarfBuzz subset the
// PDF embeds (with a cmap of the characters drawn), the red line and rules as
// paths, the seal as an image, all zipped by the DOCX's zip writer. What is in
// the package and what a reader must support: docs/ofd.md.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_OFD_WRITER_H_
#define GOVREPORT_TEMPLATES_LAYOUT_OFD_WRITER_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "templates/docx/docx_writer.h"
#include "templates/layout/fonts.h"
#include "templates/layout/layout.h"
#include "templates/layout/ofd_reader.h"

namespace govreport::layout {

struct OfdOptions {
  // DocInfo's Title; empty means the title line.
  std::string title;
  // DocInfo's Author; empty means the issuer line, if any.
  std::string author;
  // DocInfo's CreationDate and the zip entries' times. The output depends on
  // nothing else, so the same text, options and fonts give the same bytes.
  // Years 1–9999.
  std::chrono::sys_seconds timestamp = docx::kDefaultTimestamp;
  // DocInfo's DocID; empty means one derived from the document's content
  // (32 hex digits, the same for the same document).
  std::string doc_id;
  // 版头, 主送机关, 附注 and 版记; empty: the text alone.
  docx::DocumentFrame frame;
  // The faces; unset means ConfiguredFonts() (the environment's, checked).
  std::optional<FontMap> fonts;
};

// Returns the bytes of the OFD of a laid-out document. INVALID_ARGUMENT for
// a timestamp out of range or a seal that is no readable PNG; INTERNAL when
// HarfBuzz, zlib or libzip fail.
absl::StatusOr<std::string> WriteOfd(const Document& doc, const OfdOptions& options);

// Lays `text` out as WriteOfficialPdf does and writes it as an OFD.
// INVALID_ARGUMENT for what WriteOfficialPdf refuses; FAILED_PRECONDITION
// when a configured font is not installed.
absl::StatusOr<std::string> WriteOfficialOfd(std::string_view text, const OfdOptions& options);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_OFD_WRITER_H_
