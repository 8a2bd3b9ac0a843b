#include "templates/service/formats.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/markup.h"
#include "common/png.h"
#include "common/status.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/docx/docx_writer.h"
#include "templates/layout/ofd_writer.h"
#include "templates/layout/pdf_writer.h"

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

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view View(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// --- one walk over the document for every text format ----------------------

// What comes in order down the page: the frame's parts and the text's lines.
enum class Part {
  kCopyNumber,
  kSecrecy,
  kUrgency,
  kMark,
  kDocumentNumber,  // with the 签发人 for 上行文
  kRedLine,
  kTitle,
  kRecipients,
  kLine,  // a line of the text as classified (headings, body, 附件说明,
          // 署名, 成文日期, 附注 and attachments)
  kTable,
  kNote,  // the frame's 附注
  kImprint,
};

struct Item {
  Part part;
  std::string_view text;                       // kCopyNumber … kNote
  const docx::ClassifiedLine* line = nullptr;  // kLine
  const docx::Table* table = nullptr;          // kTable
};

// Not copied or moved: the items point into it.
struct Walk {
  Walk() = default;
  Walk(const Walk&) = delete;
  Walk& operator=(const Walk&) = delete;

  std::vector<docx::ClassifiedLine> lines;
  std::vector<docx::Table> tables;
  std::vector<Item> items;
  std::string recipients;  // the frame's, with its colon
  std::string note;        // the frame's, in parentheses
  bool has_table = false;
  bool has_attachment = false;
};

// Fills `*out` in place: its items point into its own strings and vectors.
absl::Status WalkDocument(absl::string_view text, const docx::DocumentFrame& frame, Walk* out) {
  Walk& walk = *out;
  {
    auto lines = docx::ClassifyText(std::string_view(text.data(), text.size()),
                                    {.recipients_given = !frame.main_recipients.empty()});
    if (!lines.ok()) return lines.status();
    walk.lines = std::move(*lines);
  }
  if (!frame.main_recipients.empty()) {
    walk.recipients = frame.main_recipients.ends_with("：")
                          ? frame.main_recipients
                          : absl::StrCat(frame.main_recipients, "：");
  }
  walk.note = docx::NoteLine(frame.note);
  // Tables first, so that items can point at them (the vector stays put).
  for (size_t i = 0; i < walk.lines.size(); ++i) {
    if (walk.lines[i].kind == LineKind::kTableHeader) {
      walk.tables.push_back(docx::ReadTable(walk.lines, i));
    }
  }
  walk.has_table = !walk.tables.empty();
  auto& items = walk.items;
  auto add = [&items](Part part, std::string_view t) { items.push_back({part, t}); };
  if (!frame.copy_number.empty()) add(Part::kCopyNumber, frame.copy_number);
  if (!frame.secrecy.empty()) add(Part::kSecrecy, frame.secrecy);
  if (!frame.urgency.empty()) add(Part::kUrgency, frame.urgency);
  if (!frame.issuing_mark.empty()) add(Part::kMark, frame.issuing_mark);
  if (!frame.document_number.empty() || (frame.upward && !frame.signers.empty())) {
    add(Part::kDocumentNumber, frame.document_number);
  }
  if (frame.HasHeader()) add(Part::kRedLine, "");
  const bool text_has_note =
      std::any_of(walk.lines.begin(), walk.lines.end(),
                  [](const docx::ClassifiedLine& l) { return l.kind == LineKind::kNote; });
  bool note_done = walk.note.empty() || text_has_note;
  size_t table = 0;
  for (size_t i = 0; i < walk.lines.size(); ++i) {
    const docx::ClassifiedLine& line = walk.lines[i];
    switch (line.kind) {
      case LineKind::kTitle:
        add(Part::kTitle, line.text);
        if (!walk.recipients.empty()) add(Part::kRecipients, walk.recipients);
        continue;
      case LineKind::kRecipients:
        add(Part::kRecipients, line.text);
        continue;
      case LineKind::kTableHeader:
        items.push_back({Part::kTable, {}, &line, &walk.tables[table]});
        i = walk.tables[table].end - 1;
        ++table;
        continue;
      case LineKind::kAttachmentMark:
        walk.has_attachment = true;
        if (!note_done) {
          add(Part::kNote, walk.note);
          note_done = true;
        }
        break;
      default:
        break;
    }
    items.push_back({Part::kLine, line.text, &line});
    if (line.kind == LineKind::kDate && !note_done) {
      add(Part::kNote, walk.note);
      note_done = true;
    }
  }
  if (!note_done) add(Part::kNote, walk.note);
  if (frame.HasImprint()) add(Part::kImprint, "");
  return absl::OkStatus();
}

// 签发人：张三　李四, two names a line as on paper.
std::vector<std::string> SignerRows(const docx::DocumentFrame& frame) {
  std::vector<std::string> rows;
  if (!frame.upward) return rows;
  for (size_t i = 0; i < frame.signers.size(); i += 2) {
    rows.push_back(i + 1 < frame.signers.size()
                       ? absl::StrCat(frame.signers[i], "\u3000", frame.signers[i + 1])
                       : frame.signers[i]);
  }
  return rows;
}

std::string CopyToLine(const docx::DocumentFrame& frame) {
  if (frame.copy_to.empty()) return "";
  std::string line = absl::StrCat("抄送：", frame.copy_to);
  if (!line.ends_with("。")) line += "。";
  return line;
}

// The alignment a column gets where a format aligns whole columns
// (Markdown): as the rule row says, else right when every body cell is a
// number.
docx::CellAlign ColumnAlign(const docx::Table& table, size_t column) {
  if (table.align[column] != docx::CellAlign::kDefault) return table.align[column];
  bool numbers = table.rows.size() > 1;
  for (size_t r = 1; r < table.rows.size(); ++r) {
    numbers = numbers &&
              docx::CellAlignment(table, column, table.rows[r][column]) == docx::CellAlign::kRight;
  }
  return numbers ? docx::CellAlign::kRight : docx::CellAlign::kLeft;
}

// Bold for a heading sentence that CommonMark renders as bold: a closing **
// right after punctuation (。) and right before a letter (局) is not
// right-flanking, so it would not close. The sentence's last punctuation
// then goes after the **: **（一）强化理论武装**。局党组.
std::string BoldHeading(absl::string_view heading, absl::string_view rest) {
  if (rest.empty()) return absl::StrCat("**", EscapeMarkdown(heading), "**");
  absl::string_view tail;
  for (absl::string_view p : {"。", "！", "？"}) {
    if (absl::EndsWith(heading, p) && heading.size() > p.size()) {
      tail = p;
      heading.remove_suffix(p.size());
      break;
    }
  }
  return absl::StrCat("**", EscapeMarkdown(heading), "**", tail,
                      EscapeMarkdown(rest, /*line_start=*/false));
}

// 附件：1.… with its number, for the hanging indent of HTML: where the
// titles start, in characters from the margin, and where this line starts.
std::pair<double, double> EnclosureIndentEm(std::string_view text, bool first) {
  if (first) text.remove_prefix(std::string_view("附件：").size());
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
  if (n > 0 && text.substr(n).starts_with(".")) {
    ++n;
  } else if (n > 0 && text.substr(n).starts_with("．")) {
    n += std::string_view("．").size();
  } else {
    n = 0;
  }
  const double titles = 2 + 3 + docx::DisplayWidth(text.substr(0, n)) / 2.0;
  return {titles, first ? 2.0 : 5.0};
}

// A GFM pipe table; cells escaped like all text (| as \|).
void AppendMarkdownTable(const docx::Table& table, std::string* out) {
  for (size_t r = 0; r < table.rows.size(); ++r) {
    *out += "|";
    for (const std::string& cell : table.rows[r]) {
      absl::StrAppend(out, " ", EscapeMarkdown(cell, /*line_start=*/false), " |");
    }
    *out += "\n";
    if (r == 0) {
      *out += "|";
      for (size_t c = 0; c < table.rows[0].size(); ++c) {
        switch (ColumnAlign(table, c)) {
          case docx::CellAlign::kRight:
            *out += " ---: |";
            break;
          case docx::CellAlign::kCenter:
            *out += " :---: |";
            break;
          default:
            *out += " --- |";
        }
      }
      *out += "\n";
    }
  }
  *out += "\n";
}

// A line of the text: headings, 署名 and 成文日期, 附件说明, attachments, body.
void AppendMarkdownLine(const docx::ClassifiedLine& l, std::string* out) {
  const absl::string_view t = View(l.text);
  switch (l.kind) {
    case LineKind::kBlank:
      break;
    case LineKind::kHeading1:
      absl::StrAppend(out, "## ", EscapeMarkdown(t), "\n\n");
      break;
    case LineKind::kHeading2:
    case LineKind::kHeading3:
    case LineKind::kHeading4: {
      // The heading sentence in bold, the rest of the line as body.
      const size_t n = l.heading_size ? l.heading_size : t.size();
      absl::StrAppend(out, BoldHeading(t.substr(0, n), t.substr(n)), "\n\n");
      break;
    }
    case LineKind::kIssuer:
    case LineKind::kDate:
    case LineKind::kEnclosure:
    case LineKind::kEnclosureItem:
      absl::StrAppend(out, EscapeMarkdown(t), "  \n");
      break;
    case LineKind::kAttachmentMark:
      absl::StrAppend(out, "\n---\n\n", EscapeMarkdown(t), "\n\n");
      break;
    case LineKind::kAttachmentTitle:
      absl::StrAppend(out, "# ", EscapeMarkdown(t), "\n\n");
      break;
    default:
      // A line break ("  \n") of the lines above ends with this one.
      if (absl::EndsWith(*out, "  \n")) *out += "\n";
      absl::StrAppend(out, EscapeMarkdown(t), "\n\n");
  }
}

// The page: GB/T 9704 on A4 when printed (docs/documents.md).
constexpr absl::string_view kHtmlStyle =
    // GB/T 9704: A4, 版心 156 × 225 mm at 37 mm from the top, 28 mm from
    // the left; printed with exactly those margins.
    "@page{size:A4;margin:37mm 26mm 35mm 28mm}\n"
    "@page wide{size:A4 landscape;margin:28mm 37mm 26mm 35mm}\n"
    "body{max-width:156mm;margin:37mm auto;font:16pt/1.6 \"FangSong_GB2312\",\"FangSong\","
    "\"仿宋\",serif}\n"
    "@media print{body{max-width:none;margin:0}}\n"
    "h1{font:22pt \"方正小标宋简体\",\"STZhongsong\",\"SimSun\",serif;text-align:center}\n"
    "h2{font:16pt \"SimHei\",\"黑体\",sans-serif;margin:0}\n"
    "p{text-indent:2em;margin:0;text-align:justify}\n"
    "p .h2{font-family:\"KaiTi_GB2312\",\"KaiTi\",\"楷体\",serif}\n"
    "p .h3{font-weight:bold}\n"
    ".issuer,.date{text-align:right;text-indent:0}\n.date{margin-right:4em}\n"
    ".issuer{margin-top:2em}\n.sealed .issuer{margin-top:3.2em}\n"
    // The 版头: red mark and line, kept red when printed.
    ".head,.mark,.red{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    ".head{text-indent:0;font-family:\"SimHei\",\"黑体\",sans-serif}\n"
    ".mark{color:#f00;text-align:center;text-indent:0;font:36pt/1 \"方正小标宋简体\","
    "\"STZhongsong\",\"SimSun\",serif;margin:0}\n"
    ".docnum{text-indent:0;text-align:center;margin-top:3.2em}\n"
    ".docnum.up{display:flex;justify-content:space-between;align-items:flex-end;"
    "padding:0 1em;text-align:left}\n"
    ".kai{font-family:\"KaiTi_GB2312\",\"KaiTi\",\"楷体\",serif}\n"
    ".red{border:0;border-top:0.5mm solid #f00;margin:4mm 0 3.2em}\n"
    ".recipients{text-indent:0}\n"
    ".attachment{break-before:page;page-break-before:always}\n"
    ".attmark{text-indent:0;font-family:\"SimHei\",\"黑体\",sans-serif}\n"
    "table{border-collapse:collapse;width:100%;font-size:14pt;line-height:1.4;margin:0.5em 0}\n"
    "th,td{border:0.5pt solid #000;padding:0 1.5mm;vertical-align:middle}\n"
    "thead{display:table-header-group}\ntr{break-inside:avoid;page-break-inside:avoid}\n"
    ".r{text-align:right}\n.c{text-align:center}\n.l{text-align:left}\n"
    ".wide{page:wide;break-before:page;break-after:page}\n"
    // The 版记 on a last page of its own, at the foot of the type area, an
    // even (left) page: the back of the last sheet (GB/T 9704 7.4.1).
    ".imprint{font-size:14pt;margin-top:3em}\n"
    ".imprint p{text-indent:0;padding:0 1em;border-bottom:0.25mm solid #000}\n"
    ".imprint p:first-child{border-top:0.35mm solid #000}\n"
    ".imprint p:last-child{border-bottom:0.35mm solid #000}\n"
    ".imprint .cc{padding-left:4em;text-indent:-3em}\n"
    ".imprint .printed{display:flex;justify-content:space-between}\n"
    "@media print{.imprint{break-before:left;page-break-before:left;height:225mm;"
    "margin:0;display:flex;flex-direction:column;justify-content:flex-end}}\n";

void HtmlElement(std::string* out, absl::string_view open, absl::string_view text,
                 absl::string_view close) {
  absl::StrAppend(out, open);
  AppendHtml(text, out);
  absl::StrAppend(out, close);
}

// <table> with <thead> (repeated on printed pages), per-cell alignment; on
// a landscape page when too wide.
void AppendHtmlTable(const docx::Table& table, std::string* out) {
  const bool wide = docx::NeedsLandscape(table);
  *out += wide ? "<table class=\"wide\">\n<thead>\n" : "<table>\n<thead>\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    *out += "<tr>";
    for (size_t c = 0; c < table.rows[r].size(); ++c) {
      const std::string& cell = table.rows[r][c];
      if (r == 0) {
        HtmlElement(out, "<th>", cell, "</th>");
        continue;
      }
      const docx::CellAlign align = docx::CellAlignment(table, c, cell);
      HtmlElement(out,
                  align == docx::CellAlign::kRight    ? "<td class=\"r\">"
                  : align == docx::CellAlign::kCenter ? "<td class=\"c\">"
                                                      : "<td class=\"l\">",
                  cell, "</td>");
    }
    *out += r == 0 ? "</tr>\n</thead>\n<tbody>\n" : "</tr>\n";
  }
  *out += "</tbody>\n</table>\n";
}

// A line of the text; `*in_attachment` says whether a <section> of an
// attachment is open.
void AppendHtmlLine(const docx::ClassifiedLine& l, bool* in_attachment, std::string* out) {
  const absl::string_view t = View(l.text);
  switch (l.kind) {
    case LineKind::kBlank:
      break;
    case LineKind::kHeading1:
      HtmlElement(out, "<h2>", t, "</h2>\n");
      break;
    case LineKind::kHeading2:
    case LineKind::kHeading3:
    case LineKind::kHeading4: {
      const size_t n = l.heading_size ? l.heading_size : t.size();
      absl::StrAppend(out, "<p><span class=\"", l.kind == LineKind::kHeading2 ? "h2" : "h3", "\">");
      AppendHtml(t.substr(0, n), out);
      *out += "</span>";
      AppendHtml(t.substr(n), out);
      *out += "</p>\n";
      break;
    }
    case LineKind::kIssuer:
      HtmlElement(out, "<p class=\"issuer\">", t, "</p>\n");
      break;
    case LineKind::kDate:
      HtmlElement(out, "<p class=\"date\">", t, "</p>\n");
      break;
    case LineKind::kEnclosure:
    case LineKind::kEnclosureItem: {
      const auto [titles, start] = EnclosureIndentEm(l.text, l.kind == LineKind::kEnclosure);
      absl::StrAppend(out, R"(<p class="enclosure" style=")",
                      l.kind == LineKind::kEnclosure ? "margin-top:1.6em;" : "",
                      "padding-left:", titles, "em;text-indent:", start - titles, "em\">");
      AppendHtml(t, out);
      *out += "</p>\n";
      break;
    }
    case LineKind::kAttachmentMark:
      if (*in_attachment) *out += "</section>\n";
      *in_attachment = true;
      HtmlElement(out, "<section class=\"attachment\">\n<p class=\"attmark\">", t, "</p>\n");
      break;
    case LineKind::kAttachmentTitle:
      HtmlElement(out, "<h1>", t, "</h1>\n");
      break;
    default:
      HtmlElement(out, "<p>", t, "</p>\n");
  }
}

// The 发文字号; for 上行文 with the 签发人 on the right, the number on the
// line of the last names.
void AppendHtmlDocumentNumber(const docx::DocumentFrame& frame, absl::string_view number,
                              std::string* out) {
  const std::vector<std::string> rows = SignerRows(frame);
  if (rows.empty()) {
    HtmlElement(out, R"(<p class="docnum">)", number, "</p>\n");
    return;
  }
  HtmlElement(out, R"(<p class="docnum up"><span>)", number, "</span><span>");
  for (size_t r = 0; r < rows.size(); ++r) {
    absl::StrAppend(out,
                    r == 0 ? "签发人：" : R"(<br><span style="visibility:hidden">签发人：</span>)",
                    R"(<span class="kai">)");
    AppendHtml(rows[r], out);
    *out += "</span>";
  }
  *out += "</span></p>\n";
}

void AppendHtmlImprint(const docx::DocumentFrame& frame, std::string* out) {
  *out += "<footer class=\"imprint\">\n";
  if (!frame.copy_to.empty()) HtmlElement(out, R"(<p class="cc">)", CopyToLine(frame), "</p>\n");
  HtmlElement(out, R"(<p class="printed"><span>)", frame.printing_org, "</span><span>");
  AppendHtml(docx::PrintingDateLine(frame.printing_date), out);
  *out += "</span></p>\n</footer>\n";
}

}  // namespace

absl::StatusOr<docx::DocumentFrame> FrameFromProto(const v1::DocumentFrame& in) {
  docx::DocumentFrame f;
  struct Field {
    const std::string& value;
    std::string* out;
    absl::string_view name;
    int max_chars;
  };
  const Field fields[] = {
      {in.copy_number(), &f.copy_number, "frame.copy_number", 16},
      {in.secrecy(), &f.secrecy, "frame.secrecy", 20},
      {in.urgency(), &f.urgency, "frame.urgency", 10},
      {in.issuing_mark(), &f.issuing_mark, "frame.issuing_mark", 40},
      {in.document_number(), &f.document_number, "frame.document_number", 40},
      {in.main_recipients(), &f.main_recipients, "frame.main_recipients", 500},
      {in.note(), &f.note, "frame.note", 500},
      {in.copy_to(), &f.copy_to, "frame.copy_to", 1000},
      {in.printing_org(), &f.printing_org, "frame.printing_org", 100},
      {in.printing_date(), &f.printing_date, "frame.printing_date", 30},
  };
  auto check = [](const std::string& value, absl::string_view name, int max_chars) -> absl::Status {
    int chars = 0;
    for (size_t i = 0; i < value.size(); ++i) {
      const auto b = static_cast<unsigned char>(value[i]);
      if ((b & 0xC0) != 0x80) ++chars;
      const bool nonchar = b == 0xEF && i + 2 < value.size() &&
                           static_cast<unsigned char>(value[i + 1]) == 0xBF &&
                           static_cast<unsigned char>(value[i + 2]) >= 0xBE;
      if (b < 0x20 || b == 0x7F || nonchar) {
        return errors::InvalidField(name, "FRAME_FIELD_INVALID",
                                    "a control character; every frame field is one line of text",
                                    "含控制字符；版头、版记的每一项是一行文字");
      }
    }
    if (chars > max_chars) {
      return errors::InvalidField(name, "FRAME_FIELD_TOO_LONG",
                                  absl::StrCat(chars, " characters, at most ", max_chars),
                                  absl::StrCat("共 ", chars, " 个字符，最多 ", max_chars, " 个"));
    }
    return absl::OkStatus();
  };
  for (const Field& field : fields) {
    GR_RETURN_IF_ERROR(check(field.value, field.name, field.max_chars));
    *field.out = field.value;
  }
  constexpr int kMaxSigners = 20;
  if (in.signers_size() > kMaxSigners) {
    return errors::InvalidField(
        "frame.signers", "FRAME_FIELD_TOO_LONG",
        absl::StrCat(in.signers_size(), " signers, at most ", kMaxSigners),
        absl::StrCat("共 ", in.signers_size(), " 位签发人，最多 ", kMaxSigners, " 位"));
  }
  for (int i = 0; i < in.signers_size(); ++i) {
    GR_RETURN_IF_ERROR(check(in.signers(i), absl::StrCat("frame.signers[", i, "]"), 32));
    if (in.signers(i).empty()) {
      return errors::InvalidField(absl::StrCat("frame.signers[", i, "]"), "FRAME_FIELD_INVALID",
                                  "an empty name", "签发人姓名为空");
    }
    f.signers.push_back(in.signers(i));
  }
  f.upward = in.upward();
  f.sealed = in.sealed();
  if (!in.seal_image().empty()) {
    GR_RETURN_IF_ERROR(png::Inspect(in.seal_image(), "frame.seal_image").status());
    f.seal_image = in.seal_image();
  }
  return f;
}

absl::StatusOr<std::string> ToMarkdown(absl::string_view text, const docx::DocumentFrame& frame) {
  Walk walk;
  GR_RETURN_IF_ERROR(WalkDocument(text, frame, &walk));
  std::string out;
  auto paragraph = [&out](absl::string_view t) {
    absl::StrAppend(&out, EscapeMarkdown(t), "\n\n");
  };
  for (const Item& item : walk.items) {
    const absl::string_view t = View(item.text);
    switch (item.part) {
      case Part::kCopyNumber:
      case Part::kSecrecy:
      case Part::kUrgency:
      case Part::kMark:
      case Part::kRecipients:
      case Part::kNote:
        paragraph(t);
        break;
      case Part::kDocumentNumber: {
        const std::vector<std::string> rows = SignerRows(frame);
        if (!t.empty()) paragraph(t);
        for (size_t r = 0; r < rows.size(); ++r) {
          absl::StrAppend(&out, r == 0 ? "签发人：" : "", EscapeMarkdown(rows[r], r != 0),
                          r + 1 < rows.size() ? "  \n" : "\n\n");
        }
        break;
      }
      case Part::kRedLine:
        out += "---\n\n";
        break;
      case Part::kTitle:
        absl::StrAppend(&out, "# ", EscapeMarkdown(t), "\n\n");
        break;
      case Part::kTable:
        AppendMarkdownTable(*item.table, &out);
        break;
      case Part::kImprint:
        out += "---\n\n";
        if (!frame.copy_to.empty()) paragraph(CopyToLine(frame));
        paragraph(
            absl::StrCat(frame.printing_org,
                         frame.printing_org.empty() || frame.printing_date.empty() ? "" : "\u3000",
                         docx::PrintingDateLine(frame.printing_date)));
        break;
      case Part::kLine:
        AppendMarkdownLine(*item.line, &out);
        break;
    }
  }
  return out;
}

absl::StatusOr<std::string> ToHtml(absl::string_view text, absl::string_view title,
                                   const docx::DocumentFrame& frame) {
  Walk walk;
  GR_RETURN_IF_ERROR(WalkDocument(text, frame, &walk));
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  AppendHtml(title, &out);
  absl::StrAppend(&out, "</title>\n<style>\n", kHtmlStyle, "</style>\n</head>\n<body",
                  frame.sealed ? " class=\"sealed\"" : "", ">\n");
  auto element = [&out](absl::string_view open, absl::string_view t, absl::string_view close) {
    absl::StrAppend(&out, open);
    AppendHtml(t, &out);
    absl::StrAppend(&out, close);
  };
  bool in_attachment = false;
  for (const Item& item : walk.items) {
    const absl::string_view t = View(item.text);
    switch (item.part) {
      case Part::kCopyNumber:
      case Part::kSecrecy:
      case Part::kUrgency:
        element("<p class=\"head\">", t, "</p>\n");
        break;
      case Part::kMark:
        // 35 mm below the type area's top, less the lines above.
        absl::StrAppend(&out, R"(<p class="mark" style="margin-top:calc(35mm - )",
                        (frame.copy_number.empty() ? 0 : 1) + (frame.secrecy.empty() ? 0 : 1) +
                            (frame.urgency.empty() ? 0 : 1),
                        " * 25.6pt)\">");
        AppendHtml(t, &out);
        out += "</p>\n";
        break;
      case Part::kDocumentNumber:
        AppendHtmlDocumentNumber(frame, t, &out);
        break;
      case Part::kRedLine:
        out += "<hr class=\"red\">\n";
        break;
      case Part::kTitle:
        element("<h1>", t, "</h1>\n");
        break;
      case Part::kRecipients:
        element("<p class=\"recipients\">", t, "</p>\n");
        break;
      case Part::kNote:
        element("<p class=\"note\">", t, "</p>\n");
        break;
      case Part::kTable:
        AppendHtmlTable(*item.table, &out);
        break;
      case Part::kImprint:
        if (in_attachment) out += "</section>\n";
        in_attachment = false;
        AppendHtmlImprint(frame, &out);
        break;
      case Part::kLine:
        AppendHtmlLine(*item.line, &in_attachment, &out);
        break;
    }
  }
  if (in_attachment) out += "</section>\n";
  out += "</body>\n</html>\n";
  return out;
}

namespace {

// A table drawn with - | +, each column as wide as its widest cell by display
// width (CJK two columns, ASCII one); numbers right, header centred.
void AppendTextTable(const docx::Table& table, std::string* out) {
  const size_t columns = table.rows[0].size();
  std::vector<int> width(columns, 0);
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], docx::DisplayWidth(row[c]));
  }
  std::string rule = "+";
  for (int w : width) absl::StrAppend(&rule, std::string(static_cast<size_t>(w) + 2, '-'), "+");
  rule += "\n";
  *out += rule;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    *out += "|";
    for (size_t c = 0; c < columns; ++c) {
      const std::string& cell = table.rows[r][c];
      const int pad = width[c] - docx::DisplayWidth(cell);
      const docx::CellAlign align =
          r == 0 ? docx::CellAlign::kCenter : docx::CellAlignment(table, c, cell);
      const int left = align == docx::CellAlign::kRight    ? pad
                       : align == docx::CellAlign::kCenter ? pad / 2
                                                           : 0;
      absl::StrAppend(out, " ", std::string(static_cast<size_t>(left), ' '), cell,
                      std::string(static_cast<size_t>(pad - left), ' '), " |");
    }
    *out += "\n";
    if (r == 0) *out += rule;
  }
  *out += rule;
}

}  // namespace

absl::StatusOr<std::string> ToText(absl::string_view text, const docx::DocumentFrame& frame) {
  // Without a frame, a text with no line that could start a table or an
  // attachment stays exactly as rendered (nor is it checked further).
  if (frame.Empty()) {
    bool plain = true;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      const std::string_view trimmed = docx::TrimmedLine(View(line));
      if (trimmed.starts_with('|') || trimmed.starts_with("附件")) plain = false;
    }
    if (plain) return std::string(text);
  }
  Walk walk;
  GR_RETURN_IF_ERROR(WalkDocument(text, frame, &walk));
  if (frame.Empty() && !walk.has_table && !walk.has_attachment) return std::string(text);
  // The red line and the 版记's rules: 28 characters wide, as the type area.
  const std::string rule(size_t{2} * 28, '-');
  std::string out;
  for (const Item& item : walk.items) {
    const absl::string_view t = View(item.text);
    switch (item.part) {
      case Part::kCopyNumber:
      case Part::kSecrecy:
      case Part::kUrgency:
      case Part::kMark:
      case Part::kTitle:
      case Part::kRecipients:
      case Part::kNote:
        absl::StrAppend(&out, t, "\n");
        if (item.part == Part::kMark) out += "\n";
        break;
      case Part::kDocumentNumber: {
        const std::vector<std::string> rows = SignerRows(frame);
        if (rows.empty()) {
          absl::StrAppend(&out, t, "\n");
          break;
        }
        for (size_t r = 0; r < rows.size(); ++r) {
          absl::StrAppend(&out, r + 1 == rows.size() ? t : "", r + 1 == rows.size() ? "\u3000" : "",
                          r == 0 ? "签发人：" : "", rows[r], "\n");
        }
        break;
      }
      case Part::kRedLine:
        absl::StrAppend(&out, rule, "\n\n");
        break;
      case Part::kTable:
        AppendTextTable(*item.table, &out);
        break;
      case Part::kImprint:
        absl::StrAppend(&out, "\f\n", rule, "\n");
        if (!frame.copy_to.empty()) absl::StrAppend(&out, CopyToLine(frame), "\n", rule, "\n");
        absl::StrAppend(&out, frame.printing_org,
                        frame.printing_org.empty() || frame.printing_date.empty() ? "" : "\u3000",
                        docx::PrintingDateLine(frame.printing_date), "\n", rule, "\n");
        break;
      case Part::kLine:
        // A form feed starts each attachment on a page of its own.
        if (item.line->kind == LineKind::kAttachmentMark) out += "\f\n";
        absl::StrAppend(&out, t, "\n");
        break;
    }
  }
  return out;
}

absl::StatusOr<std::string> ToPdf(absl::string_view text, absl::string_view title,
                                  absl::string_view author, int64_t timestamp_unix,
                                  const docx::DocumentFrame& frame) {
  layout::PdfOptions options;
  options.title = std::string(title);
  options.author = std::string(author);
  if (timestamp_unix > 0) {
    options.timestamp = std::chrono::sys_seconds{std::chrono::seconds{timestamp_unix}};
  }
  options.frame = frame;
  return layout::WriteOfficialPdf(View(text), options);
}

absl::StatusOr<std::string> ToOfd(absl::string_view text, absl::string_view title,
                                  absl::string_view author, int64_t timestamp_unix,
                                  const docx::DocumentFrame& frame) {
  layout::OfdOptions options;
  options.title = std::string(title);
  options.author = std::string(author);
  if (timestamp_unix > 0) {
    options.timestamp = std::chrono::sys_seconds{std::chrono::seconds{timestamp_unix}};
  }
  options.frame = frame;
  return layout::WriteOfficialOfd(View(text), options);
}

std::string ContentType(int format) {
  switch (format) {
    case typepb::DOCUMENT_FORMAT_MD:
      return "text/markdown; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_HTML:
      return "text/html; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_DOCX:
      return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    case typepb::DOCUMENT_FORMAT_PDF:
      return "application/pdf";
    case typepb::DOCUMENT_FORMAT_OFD:
      return "application/ofd";
    default:
      return "text/plain; charset=utf-8";
  }
}

}  // namespace govreport::templates
