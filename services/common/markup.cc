#include "common/markup.h"

#include "absl/strings/str_cat.h"

namespace govreport {

void AppendMarkupEscaped(std::string_view text, MarkupEscape mode, std::string* out) {
  size_t run = 0;  // Start of the pending run that needs no escaping.
  for (size_t i = 0; i < text.size(); ++i) {
    const char* entity = nullptr;
    switch (text[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = "&quot;";
        break;
      case '\'':
        if (mode == MarkupEscape::kXml) entity = "&apos;";
        break;
      default:
        break;
    }
    if (entity == nullptr) continue;
    out->append(text.data() + run, i - run);
    out->append(entity);
    run = i + 1;
  }
  out->append(text.data() + run, text.size() - run);
}

absl::Status CheckDocumentText(absl::string_view field, absl::string_view text) {
  int line = 1;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') ++line;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": line ", line, ": control character U+00",
                       absl::Hex(c, absl::kZeroPad2), " is not allowed in a document"));
    }
  }
  return absl::OkStatus();
}

}  // namespace govreport
