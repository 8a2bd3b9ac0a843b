#include "templates/service/formats.h"

#include "absl/strings/str_cat.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/docx/docx_writer.h"

namespace govreport::templates {
namespace {

using docx::LineKind;

std::string EscapeMarkdown(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '*' || c == '_' || c == '[' || c == ']' || c == '<' || c == '>' ||
        c == '#' || c == '`' || c == '|') {
      out += '\\';
    }
    out += c;
  }
  return out;
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
                        EscapeMarkdown(t.substr(n)), "\n\n");
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
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      title,
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
        absl::StrAppend(&out, "<h1>", t, "</h1>\n");
        break;
      case LineKind::kHeading1:
        absl::StrAppend(&out, "<h2>", t, "</h2>\n");
        break;
      case LineKind::kHeading2:
      case LineKind::kHeading3:
      case LineKind::kHeading4: {
        size_t n = l.heading_size ? l.heading_size : t.size();
        absl::StrAppend(&out, "<p><span class=\"", l.kind == LineKind::kHeading2 ? "h2" : "h3",
                        "\">", t.substr(0, n), "</span>", t.substr(n), "</p>\n");
        break;
      }
      case LineKind::kIssuer:
        absl::StrAppend(&out, "<p class=\"issuer\">", t, "</p>\n");
        break;
      case LineKind::kDate:
        absl::StrAppend(&out, "<p class=\"date\">", t, "</p>\n");
        break;
      default:
        absl::StrAppend(&out, "<p>", t, "</p>\n");
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

std::string ContentType(int format) {
  switch (format) {
    case v1::MARKDOWN: return "text/markdown; charset=utf-8";
    case v1::HTML: return "text/html; charset=utf-8";
    case v1::DOCX:
      return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    default: return "text/plain; charset=utf-8";
  }
}

}  // namespace govreport::templates
