// Reads an OFD package (GB/T 33190-2016) back: every part CRC-checked, the
// entry, the document and its pages followed with libxml2. In gr_ofd, with
// the signature (ofd_sign.h), so that a service can check or sign an OFD
// without the layout's Pango and cairo.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_OFD_READER_H_
#define GOVREPORT_TEMPLATES_LAYOUT_OFD_READER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::layout {

// The package's paths, for readers and tests.
inline constexpr absl::string_view kOfdEntry = "OFD.xml";
inline constexpr absl::string_view kOfdDocument = "Doc_0/Document.xml";

// What a reader finds in an OFD package: the document's pages and the text
// of each page's TextCodes in their order. INVALID_ARGUMENT naming what is
// wrong for bytes that are no zip, a truncated or corrupt archive, a
// missing or malformed OFD.xml, Document.xml or page, or a page the
// document lists but the package lacks.
struct OfdSummary {
  std::string doc_id;
  std::string title;
  int pages = 0;
  std::vector<std::string> page_text;  // TextCodes concatenated, per page
  std::vector<std::string> entries;    // every file in the package
};
absl::StatusOr<OfdSummary> ReadOfd(std::string_view bytes);

// Every part of a package in its order, each read through (CRC checked).
// INVALID_ARGUMENT as ReadOfd for what is no intact zip.
struct OfdPart {
  std::string name;
  std::string bytes;
};
absl::StatusOr<std::vector<OfdPart>> ReadOfdParts(std::string_view bytes);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_OFD_READER_H_
