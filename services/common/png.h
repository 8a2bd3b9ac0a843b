// Checks that bytes are a whole, intact PNG image before they are stored
// (an org's seal image): the chunk structure and every CRC, and the image
// data inflated to exactly the rows the header announces. No pixels are
// kept; the writers hand the bytes to cairo and the DOCX as they are.
#ifndef GOVREPORT_COMMON_PNG_H_
#define GOVREPORT_COMMON_PNG_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::png {

struct Limits {
  size_t max_bytes = size_t{512} * 1024;
  uint32_t max_side = 4096;  // pixels, each of width and height
};

struct Info {
  uint32_t width = 0, height = 0;
  bool has_alpha = false;  // an alpha channel or a tRNS chunk
};

// INVALID_ARGUMENT naming `field` (reason INVALID_PNG, or PNG_TOO_LARGE
// beyond the limits) for anything that is not such a PNG: another format,
// a cut or changed file, an interlaced one (not needed for a seal).
absl::StatusOr<Info> Inspect(absl::string_view bytes, absl::string_view field,
                             const Limits& limits = {});

}  // namespace govreport::png

#endif  // GOVREPORT_COMMON_PNG_H_
