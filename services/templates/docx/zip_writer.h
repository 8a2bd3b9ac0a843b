// Builds a zip archive in memory: zlib deflates the parts, libzip writes the
// archive around them. Internal to the writers of zipped packages (the DOCX
// and, in gr_layout, the OFD).
#ifndef GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_
#define GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace govreport::docx::internal {

// One part of the archive, deflated ahead of time (raw deflate, RFC 1951).
struct DeflatedEntry {
  std::string name;
  std::string deflated;
  uint32_t crc = 0;   // CRC-32 of the uncompressed data
  uint64_t size = 0;  // uncompressed
};

// Deflates `data` at `level` (1–9; window and memory fixed, so the bytes
// depend only on the data and the level). The deflate state is kept per
// thread and reset between parts: a new one costs more than the deflating
// of a whole document (libzip's ~380 KB of tables mapped and cleared
// again). A thread that wrote a document keeps 256 KB.
// INTERNAL when zlib fails.
absl::StatusOr<DeflatedEntry> Deflate(std::string name, std::string_view data, int level);

// An entry's modification time as the zip format stores it (MS-DOS date and
// time, no time zone).
struct DosTimestamp {
  uint16_t time = 0;  // hour << 11 | minute << 5 | second / 2
  uint16_t date = 0;  // (year − 1980) << 9 | month << 5 | day
};

// `t` as a DOS timestamp, clamped to its range (1980–2107, in two-second
// steps), in UTC whatever the server's time zone.
DosTimestamp DosTimeOf(std::chrono::sys_seconds t);

// Returns the archive of `entries` in the given order, all stamped with
// `mtime`. libzip writes their data as it is, without compressing it again.
// INTERNAL when libzip fails.
absl::StatusOr<std::string> ZipDeflated(std::span<const DeflatedEntry* const> entries,
                                        DosTimestamp mtime);

}  // namespace govreport::docx::internal

#endif  // GOVREPORT_TEMPLATES_DOCX_ZIP_WRITER_H_
