#include "templates/service/formats.h"

#include "absl/strings/str_cat.h"
#include "common/markup.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/docx/docx_writer.h"

namespace govreport::templates {

namespace typepb = ::govreport::type::v1;
namespace {

using docx::LineKind;

// Markdown is rendered to HTML by whoever reads it, so no character of the
// text may act as Markdown or HTML there: what opens emphasis, code, links
// and images ([ is enough: ]( and ![ need it), raw HTML and autolinks (<),
// entities (&), quotes (>), headings (#) and GFM tables and strikethrough
// (| ~) is backslash-escaped, and so are the characters that
// open a block only at the start of a line (- + = and "1." / "1)" lists). A
// CR inside a line starts a new line for CommonMark, so what follows it counts
// as a line start too.
std::string EscapeMarkdown(absl::string_view text, bool line_start = true) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '<':
      case '>':
      case '#':
      case '&':
      case '|':
      case '~':
        out += '\\';
        break;
      case '-':
      case '+':
      case '=':
        if (line_start) out += '\\';
        break;
      default:
        if (line_start && c >= '0' && c <= '9') {
          // Escape the dot or parenthesis after a leading number.
          size_t j = i;
          while (j < text.size() && j - i < 10 && text[j] >= '0' && text[j] <= '9') ++j;
          if (j < text.size() && (text[j] == '.' || text[j] == ')')) {
            out.append(text.data() + i, j - i);
            out += '\\';
            i = j - 1;
            line_start = false;
            continue;
          }
        }
        break;
    }
    out += c;
    if (c == '\r') {
      line_start = true;
    } else if (c != ' ' && c != '\t') {
      line_start = false;
    }
  }
  return out;
}

// Every byte of the rendered text is text in HTML: the template's words and
// the values alike (the engine renders HTML unescaped, like the other formats,
// so {{{x}}} cannot smuggle markup in and nothing is escaped twice).
void AppendHtml(absl::string_view text, std::string* out) {
  AppendMarkupEscaped(std::string_view(text.data(), text.size()), MarkupEscape::kHtml, out);
}

}  // namespace

absl::StatusOr<std::string> ToMarkdown(absl::string_view text) {
  auto lines = docx::ClassifyText(std::string_view(text.data(), text.size()));
  if (!lines.ok()) return lines.status();
  std::string out;
  for (const auto& l : *lines) {
    absl::string_view t(l.text.data(), l.text.size());
    switch (l.kind) {
      case LineKind::kBlank:
        continue;
      case LineKind::kTitle:
        absl::StrAppend(&out, "# ", EscapeMarkdown(t), "\n\n");
        break;
      case LineKind::kHeading1:
        absl::StrAppend(&out, "## ", EscapeMarkdown(t), "\n\n");
        break;
      case LineKind::kHeading2:
      case LineKind::kHeading3:
      case LineKind::kHeading4: {
        // The heading sentence in bold, the rest of the line as body.
        size_t n = l.heading_size ? l.heading_size : t.size();
        absl::StrAppend(&out, "**", EscapeMarkdown(t.substr(0, n)), "**",
                        EscapeMarkdown(t.substr(n), /*line_start=*/false), "\n\n");
        break;
      }
      case LineKind::kIssuer:
      case LineKind::kDate:
        absl::StrAppend(&out, EscapeMarkdown(t), "  \n");
        break;
      default:
        absl::StrAppend(&out, EscapeMarkdown(t), "\n\n");
    }
  }
  return out;
}

absl::StatusOr<std::string> ToHtml(absl::string_view text, absl::string_view title) {
  auto lines = docx::ClassifyText(std::string_view(text.data(), text.size()));
  if (!lines.ok()) return lines.status();
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  AppendHtml(title, &out);
  absl::StrAppend(
      &out,
      "</title>\n<style>\n"
      "body{max-width:156mm;margin:37mm auto;font:16pt/1.6 \"FangSong_GB2312\",\"FangSong\","
      "\"仿宋\",serif}\n"
      "h1{font:22pt \"方正小标宋简体\",\"STZhongsong\",\"SimSun\",serif;text-align:center}\n"
      "h2{font:16pt \"SimHei\",\"黑体\",sans-serif;margin:0}\n"
      "p{text-indent:2em;margin:0;text-align:justify}\n"
      "p .h2{font-family:\"KaiTi_GB2312\",\"KaiTi\",\"楷体\",serif}\n"
      "p .h3{font-weight:bold}\n"
      ".issuer,.date{text-align:right;text-indent:0}\n.date{margin-right:4em}\n"
      ".issuer{margin-top:2em}\n"
      "</style>\n</head>\n<body>\n");
  for (const auto& l : *lines) {
    absl::string_view t(l.text.data(), l.text.size());
    switch (l.kind) {
      case LineKind::kBlank:
        continue;
      case LineKind::kTitle:
        out += "<h1>";
        AppendHtml(t, &out);
        out += "</h1>\n";
        break;
      case LineKind::kHeading1:
        out += "<h2>";
        AppendHtml(t, &out);
        out += "</h2>\n";
        break;
      case LineKind::kHeading2:
      case LineKind::kHeading3:
      case LineKind::kHeading4: {
        size_t n = l.heading_size ? l.heading_size : t.size();
        absl::StrAppend(&out, "<p><span class=\"", l.kind == LineKind::kHeading2 ? "h2" : "h3",
                        "\">");
        AppendHtml(t.substr(0, n), &out);
        out += "</span>";
        AppendHtml(t.substr(n), &out);
        out += "</p>\n";
        break;
      }
      case LineKind::kIssuer:
        out += "<p class=\"issuer\">";
        AppendHtml(t, &out);
        out += "</p>\n";
        break;
      case LineKind::kDate:
        out += "<p class=\"date\">";
        AppendHtml(t, &out);
        out += "</p>\n";
        break;
      default:
        out += "<p>";
        AppendHtml(t, &out);
        out += "</p>\n";
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

std::string ContentType(int format) {
  switch (format) {
    case typepb::DOCUMENT_FORMAT_MD:
      return "text/markdown; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_HTML:
      return "text/html; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_DOCX:
      return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    default:
      return "text/plain; charset=utf-8";
  }
}

}  // namespace govreport::templates
