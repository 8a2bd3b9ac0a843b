// Paragraph classification of an official document's plain text.
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

absl::StatusOr<std::vector<ClassifiedLine>> ClassifyText(std::string_view text) {
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
  const size_t first = content.empty() ? lines.size() : content.front();
  const size_t last = content.empty() ? lines.size() : content.back();
  // The issuer is only the line above a date; find out whether there is one.
  const bool has_date =
      !content.empty() &&
      ClassifyLine(lines[last].text, {.first = last == first, .last = true}) == LineKind::kDate;
  const size_t issuer =
      has_date && content.size() >= 3 ? content[content.size() - 2] : lines.size();

  for (size_t i = 0; i < lines.size(); ++i) {
    ClassifiedLine& line = lines[i];
    line.kind = ClassifyLine(line.text,
                             {.first = i == first, .last = i == last, .before_date = i == issuer});
    if (IsHeading(line.kind)) line.heading_size = HeadingSize(line.text);
  }
  return lines;
}

}  // namespace govreport::docx
