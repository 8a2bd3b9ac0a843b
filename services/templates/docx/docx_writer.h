// Writes the rendered text of an official document as a .docx laid out per
// GB/T 9704-2012 (see page_layout.h for the geometry).
//
// Input is plain UTF-8, one paragraph per line: the first non-blank line is the
// title, the issuer (发文机关署名) and the date (成文日期) close the body.
// Headings are recognised from their official numbering (一、 （一） 1. （1））;
// tables, 主送机关, 附件说明, 附注 and attachments from the conventions of
// docs/documents.md.
#ifndef GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_
#define GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
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
  // Tables: a run of consecutive lines starting with |. The first is the
  // header, a second of only dashes and colons (|---|:---:|) sets the
  // alignment, every other is a row.
  kTableHeader,
  kTableRule,
  kTableRow,
  kRecipients,       // 主送机关: a short line right after the title ending in ：
  kEnclosure,        // 附件说明: 附件：1. …, before the signature
  kEnclosureItem,    // its further lines, 2. …
  kNote,             // 附注: （…） right after the 成文日期
  kAttachmentMark,   // 附件 or 附件N alone on a line after the 成文日期
  kAttachmentTitle,  // the next non-blank line
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

struct ClassifyOptions {
  // The 主送机关 comes from elsewhere (DocumentFrame.main_recipients): a line
  // after the title ending in ： is then body text.
  bool recipients_given = false;
};

// Classifies every line of `text`, blank ones included. The date (and with it
// the issuer) is recognised in the last non-blank line before the first
// attachment (附件 or 附件N alone on a line), or in the line before a 附注
// （…） there; without such a date there is no signature block, no 附注 and
// no attachment, and the text is laid out as plain body. The conventions are
// in docs/documents.md. INVALID_ARGUMENT, naming line and column, for invalid
// UTF-8 or control characters XML cannot carry, and naming the line for a
// table row whose cells are more or fewer than its header's.
absl::StatusOr<std::vector<ClassifiedLine>> ClassifyText(std::string_view text,
                                                         const ClassifyOptions& options = {});

// --- tables ----------------------------------------------------------------

enum class CellAlign { kDefault, kLeft, kCenter, kRight };

struct Table {
  // rows[0] is the header; every row has as many cells as the header. Cells
  // are trimmed, with \| turned into |.
  std::vector<std::vector<std::string>> rows;
  std::vector<CellAlign> align;  // per column, from the |:---:| row
  size_t end = 0;                // index of the first line after the table
};

// The cells of one table line (its leading | and a trailing | dropped).
std::vector<std::string> SplitTableRow(std::string_view line);

// The table whose header is lines[start] (kind kTableHeader); ClassifyText
// has checked that every row fits.
Table ReadTable(const std::vector<ClassifiedLine>& lines, size_t start);

// How a body cell is aligned: as its column asks, else numbers (12, 1,234,
// 97.5%, -3) to the right and everything else to the left.
CellAlign CellAlignment(const Table& table, size_t column, std::string_view cell);

// Whether the table's cells cannot wrap into the 156 mm of a portrait page
// (four characters a column at 4号): the DOCX then sets it on a landscape
// page, the HTML on a landscape @page.
bool NeedsLandscape(const Table& table);

// `line` without the spaces ClassifyText ignores at either end (ASCII
// whitespace, U+3000, NBSP, BOM).
std::string_view TrimmedLine(std::string_view line);

// Display width in half characters: ASCII 1, everything else (CJK,
// full-width punctuation) 2.
int DisplayWidth(std::string_view text);

// --- the frame around the text (版头, 主送机关, 附注, 版记) -------------------

// What govreport.templates.v1.DocumentFrame carries; see its comments in
// templates.proto. Empty strings are left out of the document.
struct DocumentFrame {
  std::string copy_number;      // 份号
  std::string secrecy;          // 密级和保密期限
  std::string urgency;          // 紧急程度
  std::string issuing_mark;     // 发文机关标志
  std::string document_number;  // 发文字号
  bool upward = false;          // 上行文: 签发人 printed
  std::vector<std::string> signers;
  std::string main_recipients;  // 主送机关, without the colon
  std::string note;             // 附注, without the parentheses
  std::string copy_to;          // 抄送机关
  std::string printing_org;     // 印发机关
  std::string printing_date;    // 印发日期
  bool sealed = false;
  std::string seal_image;   // PNG checked by png::Inspect; printed when sealed
  bool HasHeader() const;   // anything above the title
  bool HasImprint() const;  // a 版记
  bool Empty() const;
};

// INVALID_ARGUMENT, naming frame.<field>, for invalid UTF-8 or a control
// character in any field of the frame.
absl::Status CheckFrame(const DocumentFrame& frame);

// --- geometry shared with the fixed layout (templates/layout) --------------

// The 发文机关标志's size in points: the largest of layout::kMarkFontPts that
// keeps it on one line of the type area.
int MarkFontPt(std::string_view mark);
// The issuer's right indent in 1/100 of a grid character: centred over the
// date, which sits 右空四字 (GB/T 9704 7.3.5.1).
int IssuerRightIndentChars100(std::string_view issuer, std::string_view date);
// A line of the 附件说明 (kEnclosure when `first`, else kEnclosureItem): where
// the line starts and where its further lines start (the item titles' column),
// in 1/100 of a grid character from the left margin.
struct EnclosureIndents {
  int first_line = 0;
  int rest = 0;
};
EnclosureIndents EnclosureIndentChars100(std::string_view text, bool first);
// The widths in twips of the table's columns within `width` twips, as the
// DOCX sets them: from the display widths of the cells.
std::vector<int> TableColumnWidths(const Table& table, int width);

// The 印发日期 as printed: the date followed by 印发 (unless it ends so).
std::string PrintingDateLine(std::string_view printing_date);
// The 附注 as printed: in （ ） (unless it already is).
std::string NoteLine(std::string_view note);

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
  // 版头, 主送机关, 附注 and 版记; empty: the text alone.
  DocumentFrame frame;
};

// Returns the bytes of the .docx. INVALID_ARGUMENT for invalid UTF-8, for
// control characters (in the text or the frame, naming frame.<field>), for a
// text without any non-blank line, or for a timestamp out of range; INTERNAL
// if libzip fails.
absl::StatusOr<std::string> WriteOfficialDocx(std::string_view text, const DocxOptions& options);

}  // namespace govreport::docx

#endif  // GOVREPORT_TEMPLATES_DOCX_DOCX_WRITER_H_
