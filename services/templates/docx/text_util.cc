#include "templates/docx/text_util.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "common/markup.h"
#include "common/utf8.h"

namespace govreport::docx::internal {

using ::govreport::Utf8SequenceLength;

absl::Status CheckXmlSafeUtf8(std::string_view text, std::string_view what) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: invalid UTF-8 at line %d, column %d (byte 0x%02X at offset %d)",
                          what, line, column, b, i));
    }
    if (b == '\n') {
      ++line;
      column = 1;
      ++i;
      continue;
    }
    const bool stray_cr = b == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n');
    if ((b < 0x20 && b != '\t' && b != '\r') || stray_cr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: control character U+%04X at line %d, column %d is not allowed", what,
                          b, line, column));
    }
    // U+FFFE and U+FFFF are not XML characters (EF BF BE / EF BF BF).
    if (n == 3 && b == 0xEF && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
        static_cast<unsigned char>(text[i + 2]) >= 0xBE) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: noncharacter U+FFF%c at line %d, column %d is not allowed", what,
                          text[i + 2] == '\xBE' ? 'E' : 'F', line, column));
    }
    i += n;
    ++column;
  }
  return absl::OkStatus();
}

char32_t NextCodePoint(std::string_view s, size_t* pos) {
  if (*pos >= s.size()) return 0;
  const auto b0 = static_cast<unsigned char>(s[*pos]);
  size_t n = 1;
  char32_t cp = b0;
  if (b0 >= 0xF0) {
    n = 4;
    cp = b0 & 0x07;
  } else if (b0 >= 0xE0) {
    n = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xC0) {
    n = 2;
    cp = b0 & 0x1F;
  }
  for (size_t k = 1; k < n && *pos + k < s.size(); ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[*pos + k]) & 0x3F);
  }
  *pos += n;
  return cp;
}

std::string_view TrimLine(std::string_view line) {
  static constexpr std::string_view kWideSpaces[] = {"\u3000", "\u00A0", "\uFEFF"};
  auto is_ascii_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  for (bool changed = true; changed;) {
    changed = false;
    while (!line.empty() && is_ascii_space(line.front())) {
      line.remove_prefix(1);
      changed = true;
    }
    while (!line.empty() && is_ascii_space(line.back())) {
      line.remove_suffix(1);
      changed = true;
    }
    for (std::string_view space : kWideSpaces) {
      if (line.starts_with(space)) {
        line.remove_prefix(space.size());
        changed = true;
      }
      if (line.ends_with(space)) {
        line.remove_suffix(space.size());
        changed = true;
      }
    }
  }
  return line;
}

int HalfWidthUnits(std::string_view s) {
  int units = 0;
  for (size_t pos = 0; pos < s.size();) {
    units += NextCodePoint(s, &pos) < 0x80 ? 1 : 2;
  }
  return units;
}

void AppendXmlEscaped(std::string* out, std::string_view s) {
  AppendMarkupEscaped(s, MarkupEscape::kXml, out);
}

}  // namespace govreport::docx::internal
