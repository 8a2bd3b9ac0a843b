// What PDF/A-2b (ISO 19005-2, level B) asks of a file that cairo 1.16 does
// not write: an XMP metadata stream in the catalog that claims the part and
// level and repeats the document information, an output intent with an
// embedded sRGB ICC profile (for the DeviceRGB colour and the pages'
// transparency groups) and a file identifier. Added to cairo's output as an
// incremental update, which PDF/A-2 allows, so that no object cairo wrote
// moves. What is and is not checked: docs/pdf.md, "PDF/A-2b".
#ifndef GOVREPORT_TEMPLATES_LAYOUT_PDF_ARCHIVAL_H_
#define GOVREPORT_TEMPLATES_LAYOUT_PDF_ARCHIVAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace govreport::layout {

// The default sRGB profile: Debian's icc-profiles-free (scripts/setup-deps.sh).
inline constexpr char kDefaultSrgbProfile[] = "/usr/share/color/icc/sRGB.icc";

// An ICC profile as the output intent embeds it.
struct IccProfile {
  std::string path;
  std::string bytes;
  std::string deflated;  // the stream's data (FlateDecode)
};

// The sRGB profile: the file GOVREPORT_SRGB_ICC names, else
// kDefaultSrgbProfile, read and checked once per process (an ICC profile of
// an RGB device). FAILED_PRECONDITION naming the file and the package when
// it is missing or not such a profile; that is logged to stderr once.
absl::StatusOr<const IccProfile*> SrgbProfile();

// The document information (as cairo wrote it) that the XMP repeats.
struct ArchivalInfo {
  std::string title;
  std::string author;  // empty: none
  std::string creator;
  std::string date;  // ISO 8601 UTC, "2024-01-08T00:00:00Z": CreationDate and ModDate
};

// Appends the incremental update to `pdf`, a file as cairo 1.16 writes it
// (one cross-reference table and trailer, with /Root and /Info): a catalog
// with /Metadata and, given `profile`, /OutputIntents; both trailers get
// an /ID (the first 16 bytes of the SHA-256 of cairo's file, so that the
// same input still gives the same bytes). Without a profile the XMP does not
// claim PDF/A (pdfaid), since the file would not be. INTERNAL when `pdf` is
// not laid out as expected.
absl::Status AppendArchivalUpdate(std::string* pdf, const ArchivalInfo& info,
                                  const IccProfile* profile);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_PDF_ARCHIVAL_H_
