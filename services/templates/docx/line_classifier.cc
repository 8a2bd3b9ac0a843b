// Paragraph classification of an official document's plain text.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "templates/docx/docx_writer.h"
#include "templates/docx/text_util.h"

namespace govreport::docx {
namespace {

using internal::NextCodePoint;
using internal::TrimLine;

bool IsChineseNumeral(char32_t c) {
  switch (c) {
    case U'〇':
    case U'零':
    case U'一':
    case U'二':
    case U'三':
    case U'四':
    case U'五':
    case U'六':
    case U'七':
    case U'八':
    case U'九':
    case U'十':
    case U'百':
      return true;
    default:
      return false;
  }
}

// ASCII or full-width (U+FF10..U+FF19) digit.
bool IsDigit(char32_t c) { return (c >= U'0' && c <= U'9') || (c >= U'０' && c <= U'９'); }

bool IsOpenParen(char32_t c) { return c == U'（' || c == U'('; }
bool IsCloseParen(char32_t c) { return c == U'）' || c == U')'; }

// A cursor over the code points of a validated line.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool AtEnd() const { return pos_ >= s_.size(); }
  char32_t Peek() const {
    size_t p = pos_;
    return NextCodePoint(s_, &p);
  }
  char32_t Next() { return NextCodePoint(s_, &pos_); }
  // Consumes one code point if `pred` holds for it.
  template <typename Pred>
  bool Take(Pred pred) {
    if (AtEnd() || !pred(Peek())) return false;
    Next();
    return true;
  }
  bool Take(char32_t c) {
    return Take([c](char32_t x) { return x == c; });
  }
  // Consumes a run of at least one code point satisfying `pred`.
  template <typename Pred>
  bool TakeRun(Pred pred) {
    if (!Take(pred)) return false;
    while (Take(pred)) {
    }
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

bool IsDateDigit(char32_t c) {
  // Slots that are not filled yet render as * (or ＊), as in 2023年*月*日.
  return IsDigit(c) || (IsChineseNumeral(c) && c != U'百') || c == U'*' || c == U'＊';
}

// 2023年5月8日, 二〇二三年五月八日, 2023年*月*日; nothing else on the line.
bool LooksLikeDate(std::string_view line) {
  Cursor c(line);
  return c.TakeRun(IsDateDigit) && c.Take(U'年') && c.TakeRun(IsDateDigit) && c.Take(U'月') &&
         c.TakeRun(IsDateDigit) && c.Take(U'日') && c.AtEnd();
}

LineKind HeadingKind(std::string_view line) {
  {
    Cursor c(line);  // 一、 十二、
    if (c.TakeRun(IsChineseNumeral) && c.Take(U'、')) return LineKind::kHeading1;
  }
  {
    Cursor c(line);  // （一）
    if (c.Take(IsOpenParen) && c.TakeRun(IsChineseNumeral) && c.Take(IsCloseParen)) {
      return LineKind::kHeading2;
    }
  }
  {
    Cursor c(line);  // 1. 1．  — but not a decimal such as 1.5万元
    if (c.TakeRun(IsDigit) && c.Take([](char32_t x) { return x == U'.' || x == U'．'; }) &&
        (c.AtEnd() || !IsDigit(c.Peek()))) {
      return LineKind::kHeading3;
    }
  }
  {
    Cursor c(line);  // （1）
    if (c.Take(IsOpenParen) && c.TakeRun(IsDigit) && c.Take(IsCloseParen)) {
      return LineKind::kHeading4;
    }
  }
  return LineKind::kBody;
}

bool IsHeading(LineKind kind) {
  return kind == LineKind::kHeading1 || kind == LineKind::kHeading2 ||
         kind == LineKind::kHeading3 || kind == LineKind::kHeading4;
}

// Bytes of `line` that form the heading sentence. A heading may be followed by
// body text on the same line
// (（一）强化理论武装，增强履职尽责能力。深入学习……): the heading ends at the
// first 。！？ that is not inside brackets or quotes.
size_t HeadingSize(std::string_view line) {
  int depth = 0;
  for (size_t pos = 0; pos < line.size();) {
    const char32_t c = NextCodePoint(line, &pos);
    switch (c) {
      case U'（':
      case U'(':
      case U'“':
      case U'‘':
      case U'《':
      case U'「':
      case U'『':
      case U'【':
      case U'〔':
        ++depth;
        break;
      case U'）':
      case U')':
      case U'”':
      case U'’':
      case U'》':
      case U'」':
      case U'』':
      case U'】':
      case U'〕':
        if (depth > 0) --depth;
        break;
      case U'。':
      case U'！':
      case U'？':
        if (depth == 0) {
          return TrimLine(line.substr(pos)).empty() ? line.size() : pos;
        }
        break;
      default:
        break;
    }
  }
  return line.size();
}

bool IsTableLine(std::string_view line) { return line.starts_with('|'); }

// |---|:---:|---:|: every cell dashes with an optional colon at either end.
bool IsRuleRow(const std::vector<std::string>& cells) {
  if (cells.empty()) return false;
  for (const std::string& cell : cells) {
    std::string_view c = cell;
    if (c.starts_with(':')) c.remove_prefix(1);
    if (c.ends_with(':')) c.remove_suffix(1);
    if (c.empty() || c.find_first_not_of('-') != std::string_view::npos) return false;
  }
  return true;
}

CellAlign RuleAlign(std::string_view cell) {
  const bool left = cell.starts_with(':');
  const bool right = cell.size() > 1 && cell.ends_with(':');
  if (left && right) return CellAlign::kCenter;
  if (right) return CellAlign::kRight;
  if (left) return CellAlign::kLeft;
  return CellAlign::kDefault;
}

// 附件 or 附件N (ASCII or full-width digits), nothing else.
bool IsAttachmentMark(std::string_view line) {
  if (!line.starts_with("附件")) return false;
  Cursor c(line.substr(std::string_view("附件").size()));
  while (c.Take(IsDigit)) {
  }
  return c.AtEnd();
}

// （…） or (…): a 附注.
bool LooksLikeNote(std::string_view line) {
  return (line.starts_with("（") || line.starts_with("(")) &&
         (line.ends_with("）") || line.ends_with(")"));
}

// 附件： or 附件:
bool IsEnclosureStart(std::string_view line) {
  return line.starts_with("附件：") || line.starts_with("附件:");
}

// 2. or 2． followed by a name: a further line of the 附件说明.
bool IsEnclosureItem(std::string_view line) {
  Cursor c(line);
  return c.TakeRun(IsDigit) && c.Take([](char32_t x) { return x == U'.' || x == U'．'; }) &&
         !c.AtEnd();
}

// 主送机关: at most two lines of body text (56 characters), ending in ：,
// without a sentence end in it.
bool LooksLikeRecipients(std::string_view line) {
  return line.ends_with("：") && DisplayWidth(line) <= 2 * 2 * 28 &&
         line.find("。") == std::string_view::npos && HeadingKind(line) == LineKind::kBody;
}

}  // namespace

std::string_view LineKindName(LineKind kind) {
  switch (kind) {
    case LineKind::kBlank:
      return "blank";
    case LineKind::kTitle:
      return "title";
    case LineKind::kHeading1:
      return "heading1";
    case LineKind::kHeading2:
      return "heading2";
    case LineKind::kHeading3:
      return "heading3";
    case LineKind::kHeading4:
      return "heading4";
    case LineKind::kBody:
      return "body";
    case LineKind::kIssuer:
      return "issuer";
    case LineKind::kDate:
      return "date";
    case LineKind::kTableHeader:
      return "table_header";
    case LineKind::kTableRule:
      return "table_rule";
    case LineKind::kTableRow:
      return "table_row";
    case LineKind::kRecipients:
      return "recipients";
    case LineKind::kEnclosure:
      return "enclosure";
    case LineKind::kEnclosureItem:
      return "enclosure_item";
    case LineKind::kNote:
      return "note";
    case LineKind::kAttachmentMark:
      return "attachment_mark";
    case LineKind::kAttachmentTitle:
      return "attachment_title";
  }
  return "unknown";
}

LineKind ClassifyLine(std::string_view line, const LineContext& context) {
  line = TrimLine(line);
  if (line.empty()) return LineKind::kBlank;
  if (context.first) return LineKind::kTitle;
  if (context.last && LooksLikeDate(line)) return LineKind::kDate;
  if (context.before_date) return LineKind::kIssuer;
  return HeadingKind(line);
}

std::vector<std::string> SplitTableRow(std::string_view line) {
  line = TrimLine(line);
  if (line.starts_with('|')) line.remove_prefix(1);
  // A trailing | closes the row unless it is escaped.
  if (line.ends_with('|') && !line.ends_with("\\|")) line.remove_suffix(1);
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      cells.emplace_back(TrimLine(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  cells.emplace_back(TrimLine(cell));
  return cells;
}

Table ReadTable(const std::vector<ClassifiedLine>& lines, size_t start) {
  Table table;
  size_t i = start;
  for (; i < lines.size(); ++i) {
    const LineKind kind = lines[i].kind;
    if (i > start && kind != LineKind::kTableRule && kind != LineKind::kTableRow) break;
    std::vector<std::string> cells = SplitTableRow(lines[i].text);
    if (kind == LineKind::kTableRule) {
      for (const std::string& cell : cells) table.align.push_back(RuleAlign(cell));
      continue;
    }
    table.rows.push_back(std::move(cells));
  }
  table.align.resize(table.rows.empty() ? 0 : table.rows[0].size(), CellAlign::kDefault);
  table.end = i;
  return table;
}

CellAlign CellAlignment(const Table& table, size_t column, std::string_view cell) {
  if (column < table.align.size() && table.align[column] != CellAlign::kDefault) {
    return table.align[column];
  }
  // A number: digits with , . % and a leading sign, at least one digit.
  std::string_view c = cell;
  if (c.starts_with('-') || c.starts_with('+')) c.remove_prefix(1);
  if (c.ends_with('%')) c.remove_suffix(1);
  const bool number = !c.empty() && (c.front() >= '0' && c.front() <= '9') &&
                      c.find_first_not_of("0123456789,.") == std::string_view::npos;
  return number ? CellAlign::kRight : CellAlign::kLeft;
}

int DisplayWidth(std::string_view text) { return internal::HalfWidthUnits(text); }

std::string_view TrimmedLine(std::string_view line) { return TrimLine(line); }

namespace {

constexpr LineKind kUnset = LineKind::kBlank;  // every non-blank line is given a kind

bool IsTableKind(LineKind kind) {
  return kind == LineKind::kTableHeader || kind == LineKind::kTableRule ||
         kind == LineKind::kTableRow;
}

// Tables: runs of adjacent lines starting with |, each row as wide as the
// header.
absl::Status MarkTables(std::vector<ClassifiedLine>& lines, size_t first) {
  const size_t n = lines.size();
  for (size_t i = first + 1; i < n;) {
    if (!IsTableLine(lines[i].text)) {
      ++i;
      continue;
    }
    const size_t header_cells = SplitTableRow(lines[i].text).size();
    lines[i].kind = LineKind::kTableHeader;
    size_t j = i + 1;
    for (; j < n && IsTableLine(lines[j].text); ++j) {
      const std::vector<std::string> cells = SplitTableRow(lines[j].text);
      lines[j].kind = j == i + 1 && IsRuleRow(cells) ? LineKind::kTableRule : LineKind::kTableRow;
      if (cells.size() != header_cells) {
        return absl::InvalidArgumentError(absl::StrFormat(
            R"(text: line %d: a table row of %d cells under a header of %d (line %d); every row )"
            R"(needs as many cells as the header, and a | inside a cell is written \|)",
            lines[j].line_number, cells.size(), header_cells, lines[i].line_number));
      }
    }
    i = j;
  }
  return absl::OkStatus();
}

// Where the signature block is; lines.size() for what is not there.
struct Closing {
  size_t date, note, attachments;
};

// The 成文日期: the last content line before the first attachment mark (or
// before the end), or the line above a 附注 there. Marks them and the 署名.
Closing MarkClosing(std::vector<ClassifiedLine>& lines, const std::vector<size_t>& content) {
  const size_t n = lines.size();
  Closing closing{n, n, n};
  std::vector<size_t> candidates;  // positions in `content`
  for (size_t k = 1; k < content.size(); ++k) {
    if (!IsTableKind(lines[content[k]].kind) && IsAttachmentMark(lines[content[k]].text)) {
      candidates.push_back(k);
    }
  }
  candidates.push_back(content.size());
  size_t date_at = 0;  // the date's position in `content`
  for (size_t k : candidates) {
    if (k < 2) continue;
    size_t before = k - 1;
    size_t note_at = n;
    if (LooksLikeNote(lines[content[before]].text) && k >= 3) {
      note_at = content[before];
      --before;
    }
    if (before != 0 && !IsTableKind(lines[content[before]].kind) &&
        ClassifyLine(lines[content[before]].text, {.last = true}) == LineKind::kDate) {
      closing = {content[before], note_at, k < content.size() ? content[k] : n};
      date_at = before;
      break;
    }
  }
  if (closing.date == n) return closing;
  lines[closing.date].kind = LineKind::kDate;
  if (closing.note < n) lines[closing.note].kind = LineKind::kNote;
  // The issuer: the line above the date, unless that is the title.
  if (date_at >= 2 && !IsTableKind(lines[content[date_at - 1]].kind)) {
    lines[content[date_at - 1]].kind = LineKind::kIssuer;
  }
  return closing;
}

// Every line not given a kind yet: attachments, 附件说明, headings, body.
void MarkTheRest(std::vector<ClassifiedLine>& lines, size_t first, const Closing& closing) {
  const size_t main_end = std::min(closing.date, closing.attachments);
  bool in_enclosure = false;
  bool want_attachment_title = false;
  for (size_t i = first + 1; i < lines.size(); ++i) {
    ClassifiedLine& line = lines[i];
    if (line.text.empty()) continue;
    if (line.kind != kUnset) {
      in_enclosure = false;
      continue;
    }
    if (i >= closing.attachments && IsAttachmentMark(line.text)) {
      line.kind = LineKind::kAttachmentMark;
      want_attachment_title = true;
      in_enclosure = false;
      continue;
    }
    if (want_attachment_title) {
      line.kind = LineKind::kAttachmentTitle;
      want_attachment_title = false;
      continue;
    }
    if (i < main_end && IsEnclosureStart(line.text)) {
      line.kind = LineKind::kEnclosure;
      in_enclosure = true;
      continue;
    }
    if (in_enclosure && i < main_end && IsEnclosureItem(line.text)) {
      line.kind = LineKind::kEnclosureItem;
      continue;
    }
    in_enclosure = false;
    line.kind = HeadingKind(line.text);
    if (IsHeading(line.kind)) line.heading_size = HeadingSize(line.text);
  }
}

}  // namespace

absl::StatusOr<std::vector<ClassifiedLine>> ClassifyText(std::string_view text,
                                                         const ClassifyOptions& options) {
  if (absl::Status s = internal::CheckXmlSafeUtf8(text, "text"); !s.ok()) {
    return s;
  }
  if (text.starts_with("\uFEFF")) text.remove_prefix(3);  // byte-order mark

  std::vector<ClassifiedLine> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ClassifiedLine& line = lines.emplace_back();
    line.line_number = static_cast<int>(lines.size());
    line.text = TrimLine(raw);
  }
  std::vector<size_t> content;  // indices of non-blank lines
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].text.empty()) content.push_back(i);
  }
  if (content.empty()) return lines;
  const size_t first = content.front();
  lines[first].kind = LineKind::kTitle;
  if (absl::Status s = MarkTables(lines, first); !s.ok()) return s;
  const Closing closing = MarkClosing(lines, content);
  // 主送机关: the line right after the title.
  if (!options.recipients_given && content.size() >= 2) {
    ClassifiedLine& line = lines[content[1]];
    if (line.kind == kUnset && LooksLikeRecipients(line.text)) line.kind = LineKind::kRecipients;
  }
  MarkTheRest(lines, first, closing);
  return lines;
}

}  // namespace govreport::docx
