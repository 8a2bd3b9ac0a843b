#include "common/png.h"

#include <zlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace govreport::png {
namespace {

constexpr absl::string_view kSignature("\x89PNG\r\n\x1a\n", 8);

uint32_t ReadBe32(absl::string_view bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

absl::Status Invalid(absl::string_view field, absl::string_view english) {
  return errors::InvalidField(field, "INVALID_PNG", absl::StrCat("not a usable PNG: ", english),
                              absl::StrCat("不是可用的 PNG 图片：", english));
}

// Bits per pixel of a colour type and bit depth the PNG standard allows;
// 0 for a combination it does not.
int BitsPerPixel(int color_type, int depth) {
  switch (color_type) {
    case 0:  // grey
      return (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16) ? depth : 0;
    case 3:  // palette
      return (depth == 1 || depth == 2 || depth == 4 || depth == 8) ? depth : 0;
    case 2:  // RGB
      return (depth == 8 || depth == 16) ? 3 * depth : 0;
    case 4:  // grey + alpha
      return (depth == 8 || depth == 16) ? 2 * depth : 0;
    case 6:  // RGBA
      return (depth == 8 || depth == 16) ? 4 * depth : 0;
    default:
      return 0;
  }
}

// Inflates the image data and counts its bytes, without keeping them.
absl::StatusOr<uint64_t> InflatedSize(const std::string& deflated, uint64_t expected) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return absl::InternalError("zlib: inflateInit failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  z.avail_in = static_cast<uInt>(deflated.size());
  unsigned char buffer[16384];
  uint64_t total = 0;
  int rc = Z_OK;
  while (rc == Z_OK && total <= expected) {
    z.next_out = buffer;
    z.avail_out = sizeof buffer;
    rc = inflate(&z, Z_NO_FLUSH);
    total += sizeof buffer - z.avail_out;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // cut short
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InvalidArgumentError("the image data is cut or damaged");
  return total;
}

}  // namespace

absl::StatusOr<Info> Inspect(absl::string_view bytes, absl::string_view field,
                             const Limits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return errors::InvalidField(
        field, "PNG_TOO_LARGE", absl::StrCat(bytes.size(), " bytes, at most ", limits.max_bytes),
        absl::StrCat("图片 ", bytes.size(), " 字节，最多 ", limits.max_bytes, " 字节"));
  }
  if (bytes.substr(0, kSignature.size()) != kSignature) {
    return Invalid(field, "it does not begin with the PNG signature");
  }
  Info info;
  int bits = 0;
  bool interlaced = false;
  bool seen_header = false, seen_end = false;
  std::string image_data;
  size_t at = kSignature.size();
  while (!seen_end) {
    if (at + 12 > bytes.size()) return Invalid(field, "the file is cut short");
    const uint32_t length = ReadBe32(bytes, at);
    if (length > bytes.size() - at - 12) return Invalid(field, "the file is cut short");
    const absl::string_view type = bytes.substr(at + 4, 4);
    const absl::string_view data = bytes.substr(at + 8, length);
    const uint32_t crc = ReadBe32(bytes, at + 8 + length);
    const uLong computed =
        crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + at + 4), length + 4);
    if (computed != crc) {
      return Invalid(field, absl::StrCat("the checksum of chunk ", type, " is wrong"));
    }
    if (!seen_header && type != "IHDR") return Invalid(field, "the first chunk is not IHDR");
    if (type == "IHDR") {
      if (seen_header || length != 13) return Invalid(field, "a malformed IHDR chunk");
      seen_header = true;
      info.width = ReadBe32(bytes, at + 8);
      info.height = ReadBe32(bytes, at + 12);
      const int depth = static_cast<unsigned char>(data[8]);
      const int color_type = static_cast<unsigned char>(data[9]);
      bits = BitsPerPixel(color_type, depth);
      if (bits == 0 || data[10] != 0 || data[11] != 0) {
        return Invalid(field, "an unknown colour type, bit depth or method");
      }
      interlaced = data[12] != 0;
      info.has_alpha = color_type == 4 || color_type == 6;
    } else if (type == "IDAT") {
      image_data.append(data.data(), data.size());
    } else if (type == "tRNS") {
      info.has_alpha = true;
    } else if (type == "IEND") {
      seen_end = true;
    }
    at += 12 + length;
  }
  if (info.width == 0 || info.height == 0) return Invalid(field, "the image has no pixels");
  if (info.width > limits.max_side || info.height > limits.max_side) {
    return errors::InvalidField(
        field, "PNG_TOO_LARGE",
        absl::StrCat(info.width, "×", info.height, " pixels, at most ", limits.max_side,
                     " on each side"),
        absl::StrCat("图片 ", info.width, "×", info.height, " 像素，每边最多 ", limits.max_side));
  }
  if (interlaced) return Invalid(field, "interlaced PNGs are not taken; save it without");
  if (image_data.empty()) return Invalid(field, "there is no image data");
  // Each row: a filter byte, then the pixels rounded up to whole bytes.
  const uint64_t row = 1 + (uint64_t{info.width} * bits + 7) / 8;
  const uint64_t expected = row * info.height;
  absl::StatusOr<uint64_t> inflated = InflatedSize(image_data, expected);
  if (!inflated.ok()) return Invalid(field, inflated.status().message());
  if (*inflated != expected) {
    return Invalid(field, absl::StrCat("the image data holds ", *inflated, " bytes, the header ",
                                       "announces ", expected));
  }
  return info;
}

}  // namespace govreport::png
