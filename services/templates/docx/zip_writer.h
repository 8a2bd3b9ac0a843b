// Builds a zip archive in memory with libzip. Internal to gr_docx.
#ifndef GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_
#define GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace govreport::docx::internal {

struct ZipEntry {
  std::string name;
  std::string data;
};

// An entry's modification time as the zip format stores it (MS-DOS date and
// time, no time zone).
struct DosTimestamp {
  uint16_t time = 0;  // hour << 11 | minute << 5 | second / 2
  uint16_t date = 0;  // (year − 1980) << 9 | month << 5 | day
};

// Returns the archive with `entries` deflated in the given order, all stamped
// with `mtime`. INTERNAL when libzip fails.
absl::StatusOr<std::string> ZipInMemory(std::span<const ZipEntry> entries, DosTimestamp mtime);

}  // namespace govreport::docx::internal

#endif  // GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_
