#include "common/markup.h"

namespace govreport {

void AppendMarkupEscaped(std::string_view text, MarkupEscape mode, std::string* out) {
  size_t run = 0;  // Start of the pending run that needs no escaping.
  for (size_t i = 0; i < text.size(); ++i) {
    const char* entity = nullptr;
    switch (text[i]) {
      case '&': entity = "&amp;"; break;
      case '<': entity = "&lt;"; break;
      case '>': entity = "&gt;"; break;
      case '"': entity = "&quot;"; break;
      case '\'':
        if (mode == MarkupEscape::kXml) entity = "&apos;";
        break;
      default: break;
    }
    if (entity == nullptr) continue;
    out->append(text.data() + run, i - run);
    out->append(entity);
    run = i + 1;
  }
  out->append(text.data() + run, text.size() - run);
}

}  // namespace govreport
