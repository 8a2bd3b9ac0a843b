// Writes the rendered text of an official document as a .docx laid out per
// GB/T 9704-2012 (see page_layout.h for the geometry).
//
// Input is plain UTF-8, one paragraph per line: the first non-blank line is the
// title, the last two are the issuer (发文机关署名) and the date (成文日期).
// Headings are recognised from their official numbering (一、 （一） 1. （1）).
#ifndef GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_
#define GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace govreport::docx {

enum class LineKind {
  kBlank,
  kTitle,
  kHeading1,  // 一、 → 黑体
  kHeading2,  // （一） → 楷体
  kHeading3,  // 1. or 1． → 仿宋 bold
  kHeading4,  // （1） → 仿宋
  kBody,      // 仿宋, including 一是/二是 paragraphs
  kIssuer,    // 发文机关署名
  kDate,      // 成文日期
};

// "title", "heading1", ...; for test output and logs.
std::string_view LineKindName(LineKind kind);

// What only the position of a line can tell: a title looks like any other
// line, and an issuer is recognised by sitting right above the date.
struct LineContext {
  bool first = false;        // first non-blank line of the text
  bool last = false;         // last non-blank line of the text
  bool before_date = false;  // the next non-blank line was classified kDate
};

// Classifies one line (leading/trailing spaces, tabs and U+3000 are ignored).
// Order of precedence: blank, title (context.first), date (context.last and
// shaped like 2023年5月8日, digits may be 〇一二…, full-width or * slots),
// issuer (context.before_date), heading 1–4, body.
LineKind ClassifyLine(std::string_view line, const LineContext& context);

struct ClassifiedLine {
  int line_number = 0;  // 1-based, in the input
  LineKind kind = LineKind::kBlank;
  std::string_view text;  // the trimmed line, pointing into the input
  // For headings, how many bytes of `text` are the heading itself: up to and
  // including the first 。！？ outside brackets or quotes when body text
  // follows on the same line, else all of it. 0 for other kinds.
  size_t heading_size = 0;
};

// Classifies every line of `text`, blank ones included. The date (and with it
// the issuer) is only recognised when the last non-blank line looks like a
// date, so a text without a signature block is laid out as plain body.
// INVALID_ARGUMENT, naming line and column, for invalid UTF-8 or control
// characters XML cannot carry.
absl::StatusOr<std::vector<ClassifiedLine>> ClassifyText(std::string_view text);

// 1980-01-01T00:00:00Z, the earliest time a zip entry can carry.
inline constexpr std::chrono::sys_seconds kDefaultTimestamp{
    std::chrono::sys_days{std::chrono::year{1980} / 1 / 1}};

// How the 28 characters per line of 3号 text are obtained.
enum class CharacterGrid {
  // w:docGrid type="linesAndChars" with linePitch/charSpace: Word and WPS show
  // 每行28字、每页22行 in 页面设置 and tighten every 16 pt character by 0.2 pt
  // to fit. LibreOffice (7.4) instead gives each such character two grid
  // cells, so its PDF shows about 14 characters per line.
  kDocumentGrid,
  // w:docGrid type="lines" (still 22 lines) and every character condensed by
  // 0.25 pt through w:spacing in the styles: 28 per line in Word, WPS and
  // LibreOffice alike, but 页面设置 shows no character grid. For PDFs rendered
  // with LibreOffice.
  kCondensedSpacing,
};

struct DocxOptions {
  // dc:title in docProps/core.xml; empty means the document's title line.
  std::string title;
  // dc:creator and cp:lastModifiedBy; empty means the issuer line, if any.
  std::string author;
  // dcterms:created/modified and the mtime of every zip entry. The output
  // depends on nothing else, so the same text and options give the same bytes
  // (documents are identified by their SHA-256). Years 1–9999; zip entries
  // clamp it to 1980–2107, the range of a DOS timestamp.
  std::chrono::sys_seconds timestamp = kDefaultTimestamp;
  CharacterGrid character_grid = CharacterGrid::kDocumentGrid;
};

// Returns the bytes of the .docx. INVALID_ARGUMENT for invalid UTF-8, for
// control characters, for a text without any non-blank line, or for a
// timestamp out of range; INTERNAL if libzip fails.
absl::StatusOr<std::string> WriteOfficialDocx(std::string_view text, const DocxOptions& options);

}  // namespace govreport::docx

#endif  // GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_
