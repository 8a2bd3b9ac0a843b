#include "templates/docx/docx_writer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/png.h"
#include "templates/docx/ooxml_parts.h"
#include "templates/docx/page_layout.h"
#include "templates/docx/text_util.h"
#include "templates/docx/zip_writer.h"

namespace govreport::docx {
namespace {

namespace L = ::govreport::docx::layout;
using internal::AppendXmlEscaped;

// Deflate level of the parts written per document (document.xml, core.xml),
// chosen by measurement: docs/benchmarks.md.
constexpr int kDocumentDeflateLevel = 3;

struct CivilTime {
  int year, month, day, hour, minute, second;
};

absl::StatusOr<CivilTime> ToCivilUtc(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  constexpr sys_seconds kMin{sys_days{year{1} / 1 / 1}};
  constexpr sys_seconds kMax{sys_days{year{9999} / 12 / 31} + hours{24} - seconds{1}};
  if (t < kMin || t > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.timestamp: ", t.time_since_epoch().count(),
                     " s since 1970 is outside the years 1-9999"));
  }
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  return CivilTime{static_cast<int>(ymd.year()),
                   static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day())),
                   static_cast<int>(hms.hours().count()),
                   static_cast<int>(hms.minutes().count()),
                   static_cast<int>(hms.seconds().count())};
}

std::string W3cdtf(const CivilTime& t) {
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.month, t.day, t.hour, t.minute,
                         t.second);
}

// One run; tabs become w:tab, everything else is escaped text.
void AppendRun(std::string* xml, std::string_view text, absl::string_view char_style = "") {
  if (text.empty()) return;
  *xml += "<w:r>";
  if (!char_style.empty()) {
    absl::StrAppend(xml, "<w:rPr><w:rStyle w:val=\"", char_style, "\"/></w:rPr>");
  }
  for (bool first = true; first || !text.empty(); first = false) {
    const size_t tab = text.find('\t');
    const std::string_view piece = text.substr(0, tab);
    if (!piece.empty()) {
      *xml += "<w:t xml:space=\"preserve\">";
      AppendXmlEscaped(xml, piece);
      *xml += "</w:t>";
    }
    if (tab == std::string_view::npos) break;
    *xml += "<w:tab/>";
    text.remove_prefix(tab + 1);
  }
  *xml += "</w:r>";
}

enum class Keep {
  kAsStyled,
  // A heading followed by body text in the same paragraph is body text as far
  // as page breaks go; keeping it with the next paragraph, as heading styles
  // do, would chain whole sections together and the chain, too long for a
  // page, would then be ignored altogether.
  kOff,
  // The paragraph just before the issuer and date: a page holding only those
  // is not allowed. Widow control lets its last two lines move with them
  // rather than all of it.
  kWithSignature,
};

// <w:pPr> with its children in schema order; empty parts are left out.
std::string ParagraphProperties(absl::string_view style, Keep keep, absl::string_view ind = "") {
  if (style.empty() && keep == Keep::kAsStyled && ind.empty()) return "";
  std::string ppr = "<w:pPr>";
  if (!style.empty()) {
    absl::StrAppend(&ppr, "<w:pStyle w:val=\"", style, "\"/>");
  }
  if (keep == Keep::kOff) ppr += "<w:keepNext w:val=\"0\"/>";
  if (keep == Keep::kWithSignature) ppr += "<w:keepNext/><w:widowControl/>";
  absl::StrAppend(&ppr, ind, "</w:pPr>");
  return ppr;
}

// Right indent of the issuer in 1/100 character. The date sits 右空四字, and
// GB/T 9704 (7.3.5.1) centres the issuer over it: the issuer's right edge is
// 4 + (date width − issuer width) / 2 characters from the margin. Widths are in
// half characters (digits are half width), hence the factor 100 / 4 = 25. An
// issuer wider than the date plus 8 characters would need a negative indent;
// it is then set flush right.

// Where the issuer and date (署名, 成文日期) are, if the text has them.
struct Signature {
  std::string_view issuer{}, date{};
  size_t start = 0;                // first line of issuer/date; lines.size(): none
  size_t keep_with_signature = 0;  // the paragraph before it; lines.size(): none
};

Signature FindSignature(const std::vector<ClassifiedLine>& lines) {
  Signature sig{{}, {}, lines.size(), lines.size()};
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].kind == LineKind::kIssuer) sig.issuer = lines[i].text;
    if (lines[i].kind == LineKind::kDate) sig.date = lines[i].text;
    if ((lines[i].kind == LineKind::kIssuer || lines[i].kind == LineKind::kDate) &&
        sig.start == lines.size()) {
      sig.start = i;
    }
  }
  for (size_t i = sig.start; sig.start < lines.size() && i-- > 0;) {
    if (lines[i].kind != LineKind::kBlank) {
      sig.keep_with_signature = i;
      break;
    }
  }
  return sig;
}

// A line of the text but the issuer and the date.
void AppendTextLine(std::string* xml, const ClassifiedLine& line, Keep keep) {
  switch (line.kind) {
    case LineKind::kBlank:
      // Spacing is the layout's business: blank input lines are dropped
      // and the blank lines GB/T 9704 asks for are added by the layout.
      return;
    case LineKind::kTitle:
      absl::StrAppend(xml, "<w:p>", ParagraphProperties(internal::kStyleTitle, keep));
      AppendRun(xml, line.text);
      *xml += "</w:p><w:p/>";  // 标题下空一行
      return;
    case LineKind::kHeading1:
    case LineKind::kHeading2:
    case LineKind::kHeading3:
    case LineKind::kHeading4: {
      const int level = static_cast<int>(line.kind) - static_cast<int>(LineKind::kHeading1);
      const bool run_in = line.heading_size < line.text.size();
      absl::StrAppend(xml, "<w:p>",
                      ParagraphProperties(internal::kStyleHeading[level],
                                          run_in && keep == Keep::kAsStyled ? Keep::kOff : keep));
      AppendRun(xml, line.text.substr(0, line.heading_size));
      AppendRun(xml, line.text.substr(line.heading_size), internal::kStyleRunInBody);
      *xml += "</w:p>";
      return;
    }
    case LineKind::kBody:
      absl::StrAppend(xml, "<w:p>", ParagraphProperties("", keep));
      AppendRun(xml, line.text);
      *xml += "</w:p>";
      return;
    case LineKind::kIssuer:
    case LineKind::kDate:
      return;  // AppendSignatureLine
    default:
      absl::StrAppend(xml, "<w:p>", ParagraphProperties("", keep));
      AppendRun(xml, line.text);
      *xml += "</w:p>";
      return;
  }
}

// The issuer (centred over the date) or the date line.
// The seal over the 署名 and 成文日期 (7.3.5.1), as the PDF places it: an
// image in front of the text, anchored in the middle of the date so that
// it is centred on the date however the application spaces the characters,
// its centre kSealCentreAboveDate above the top of the date's paragraph
// (one exact line).
// `shift_half_chars` moves it right by that many half characters (the
// middle of the date can fall inside a character). Nothing when the image
// does not read (CheckFrame refuses such a frame first).
std::string SealDrawing(const DocumentFrame& frame, double shift_half_chars) {
  absl::StatusOr<png::Info> info = png::Inspect(frame.seal_image, "frame.seal_image");
  if (!info.ok()) return "";
  constexpr int64_t kEmuPerTwip = 635;
  const int64_t width = int64_t{L::kSealWidth} * kEmuPerTwip;
  const int64_t height = width * info->height / info->width;
  const auto shift = static_cast<int64_t>(shift_half_chars * L::kCharPitch / 2 * kEmuPerTwip);
  const int64_t centre_y = -int64_t{L::kSealCentreAboveDate} * kEmuPerTwip;
  return absl::StrCat(
      R"(<w:r><w:drawing><wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" )",
      R"(relativeHeight="251659264" behindDoc="0" locked="1" layoutInCell="1" allowOverlap="1">)",
      R"(<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="character"><wp:posOffset>)",
      shift - width / 2,
      R"(</wp:posOffset></wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>)",
      centre_y - height / 2, R"(</wp:posOffset></wp:positionV><wp:extent cx=")", width, R"(" cy=")",
      height, R"("/><wp:effectExtent l="0" t="0" r="0" b="0"/><wp:wrapNone/>)",
      R"(<wp:docPr id="1" name="印章"/><wp:cNvGraphicFramePr><a:graphicFrameLocks )",
      R"(xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" noChangeAspect="1"/>)",
      R"(</wp:cNvGraphicFramePr><a:graphic xmlns:a="http://schemas.openxmlformats.org/)",
      R"(drawingml/2006/main"><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/)",
      R"(2006/picture"><pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/)",
      R"(picture"><pic:nvPicPr><pic:cNvPr id="1" name="seal.png"/><pic:cNvPicPr/></pic:nvPicPr>)",
      R"(<pic:blipFill><a:blip r:embed=")", internal::kRelSeal,
      R"("/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm>)",
      R"(<a:off x="0" y="0"/><a:ext cx=")", width, R"(" cy=")", height,
      R"("/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>)",
      R"(</a:graphicData></a:graphic></wp:anchor></w:drawing></w:r>)");
}

bool PrintsSeal(const DocumentFrame& frame) { return frame.sealed && !frame.seal_image.empty(); }

void AppendSignatureLine(std::string* xml, const ClassifiedLine& line, const Signature& sig,
                         const DocumentFrame& frame) {
  if (line.kind == LineKind::kIssuer) {
    const int chars100 = IssuerRightIndentChars100(sig.issuer, sig.date);
    absl::StrAppend(
        xml, "<w:p>",
        ParagraphProperties(internal::kStyleIssuer, Keep::kAsStyled,
                            absl::StrCat(R"(<w:ind w:right=")", chars100 * L::kCharPitch / 100,
                                         R"(" w:rightChars=")", chars100,
                                         R"(" w:firstLine="0" w:firstLineChars="0"/>)")));
  } else {
    absl::StrAppend(xml, "<w:p>", ParagraphProperties(internal::kStyleDate, Keep::kAsStyled));
    if (PrintsSeal(frame)) {
      // Split at the last character boundary before the middle.
      const int total = internal::HalfWidthUnits(line.text);
      size_t split = 0;
      int before = 0;
      for (size_t i = 1; i <= line.text.size(); ++i) {
        if (i < line.text.size() && (line.text[i] & 0xC0) == 0x80) continue;
        const int width = internal::HalfWidthUnits(line.text.substr(0, i));
        if (2 * width > total) break;
        split = i;
        before = width;
      }
      AppendRun(xml, line.text.substr(0, split));
      *xml += SealDrawing(frame, total / 2.0 - before);
      AppendRun(xml, line.text.substr(split));
      *xml += "</w:p>";
      return;
    }
  }
  AppendRun(xml, line.text);
  *xml += "</w:p>";
}

enum class Orientation { kPortrait, kLandscape };

// Page size, margins, footers and the document grid of one section. The
// 版记's page has the empty footer: no page number there (7.5), and starts
// on an even page, the back of a sheet (`even_page`): the 版记 is on the
// document's last side (7.4.1), a blank page before it if need be.
std::string SectionProperties(CharacterGrid grid, Orientation orientation = Orientation::kPortrait,
                              bool page_numbers = true, bool even_page = false) {
  const bool landscape = orientation == Orientation::kLandscape;
  absl::string_view odd = landscape ? internal::kRelFooterTurnedOdd : internal::kRelFooterOdd;
  absl::string_view even = landscape ? internal::kRelFooterTurnedEven : internal::kRelFooterEven;
  if (!page_numbers) odd = even = internal::kRelFooterNone;
  return absl::StrCat(
      "<w:sectPr>",
      // Word uses "default" for odd pages once evenAndOddHeaders is on.
      R"(<w:footerReference w:type="default" r:id=")", odd,
      R"("/><w:footerReference w:type="even" r:id=")", even, R"("/>)",
      even_page ? R"(<w:type w:val="evenPage"/>)" : "",
      landscape
          ? absl::StrCat(R"(<w:pgSz w:w=")", L::kPageHeight, R"(" w:h=")", L::kPageWidth,
                         R"(" w:orient="landscape"/>)", R"(<w:pgMar w:top=")",
                         L::kLandscapeMarginTop, R"(" w:right=")", L::kLandscapeMarginRight,
                         R"(" w:bottom=")", L::kLandscapeMarginBottom, R"(" w:left=")",
                         L::kLandscapeMarginLeft)
          : absl::StrCat(R"(<w:pgSz w:w=")", L::kPageWidth, R"(" w:h=")", L::kPageHeight, R"("/>)",
                         R"(<w:pgMar w:top=")", L::kMarginTop, R"(" w:right=")", L::kMarginRight,
                         R"(" w:bottom=")", L::kMarginBottom, R"(" w:left=")", L::kMarginLeft),
      R"(" w:header=")", L::kHeaderDistance, R"(" w:footer=")", L::kFooterDistance,
      R"(" w:gutter="0"/>)", R"(<w:cols w:space="425"/>)",
      // 22 lines × 28 characters; see page_layout.h for the arithmetic.
      grid == CharacterGrid::kDocumentGrid
          ? absl::StrCat(R"(<w:docGrid w:type="linesAndChars" w:linePitch=")", L::kLinePitch,
                         R"(" w:charSpace=")", L::kCharSpace, R"("/>)")
          : absl::StrCat(R"(<w:docGrid w:type="lines" w:linePitch=")", L::kLinePitch, R"("/>)"),
      "</w:sectPr>");
}

// Spacing of a paragraph off the grid: exactly `twips` high.
std::string ExactLine(int twips) {
  return absl::StrCat(R"(<w:snapToGrid w:val="0"/><w:spacing w:before="0" w:after="0" w:line=")",
                      twips, R"(" w:lineRule="exact"/>)");
}

// w:ind in twips with the matching character units (1/100 of a 3号 grid
// character), so Word, WPS and LibreOffice agree.
std::string Indent(int left_chars100, int hanging_chars100) {
  return absl::StrCat(R"(<w:ind w:left=")", left_chars100 * L::kCharPitch / 100,
                      R"(" w:leftChars=")", left_chars100, R"(" w:hanging=")",
                      hanging_chars100 * L::kCharPitch / 100, R"(" w:hangingChars=")",
                      hanging_chars100, R"("/>)");
}
constexpr absl::string_view kFlushLeft = R"(<w:ind w:firstLine="0" w:firstLineChars="0"/>)";

// An empty paragraph exactly `twips` high.
void AppendSpacer(std::string* xml, int twips) {
  if (twips <= 0) return;
  absl::StrAppend(xml, "<w:p><w:pPr>", ExactLine(twips), kFlushLeft, "</w:pPr></w:p>");
}

// One run with direct formatting (`rpr` is a whole <w:rPr>).
void AppendFormattedRun(std::string* xml, std::string_view text, absl::string_view rpr) {
  if (text.empty()) return;
  absl::StrAppend(xml, "<w:r>", rpr, "<w:t xml:space=\"preserve\">");
  AppendXmlEscaped(xml, text);
  *xml += "</w:t></w:r>";
}

int WidthTwips(std::string_view text, int points) {
  return DisplayWidth(text) * points * L::kTwipsPerPoint / 2;
}

// 附件说明 (7.3.4): "附件：" 左空二字; the titles of every item start in the
// same column, after 附件： and the item's number.
std::string EnclosureIndent(std::string_view text, bool first) {
  const EnclosureIndents at = EnclosureIndentChars100(text, first);
  return Indent(at.rest, at.rest - at.first_line);
}

// How wide a column would like to be: every cell on one line (`full`), the
// body cells on one line with the header wrapped at four characters
// (`body`), and everything wrapped at four characters with numbers and Latin
// words unbroken (`minimum`); twips, cell margins included.
struct ColumnWidths {
  int full = 0;
  int body = 0;
  int minimum = 0;
};

// The widest run of ASCII without a space, in half characters.
int LongestAsciiRun(std::string_view cell) {
  int longest = 0, run = 0;
  for (char c : cell) {
    const auto b = static_cast<unsigned char>(c);
    run = b < 0x80 && c != ' ' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

std::vector<ColumnWidths> MeasureColumns(const Table& table) {
  std::vector<ColumnWidths> columns(table.rows[0].size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::string& cell = table.rows[r][c];
      const int natural = DisplayWidth(cell);
      const int wrapped = std::max(LongestAsciiRun(cell), std::min(natural, 8));
      columns[c].full = std::max(columns[c].full, natural);
      columns[c].body = std::max(columns[c].body, r == 0 ? wrapped : natural);
      columns[c].minimum = std::max(columns[c].minimum, wrapped);
    }
  }
  // 60 twips to spare, so that rounding never wraps a cell that fits.
  auto twips = [](int half_chars) {
    return std::max(half_chars, 4) * L::kTableHalfChar + 60 + 2 * L::kTableCellMargin;
  };
  for (ColumnWidths& w : columns) {
    w.full = twips(w.full);
    w.body = twips(w.body);
    w.minimum = twips(w.minimum);
  }
  return columns;
}

// Column widths that fill `width`: every column its full width and the rest
// shared out by it; when that does not fit, the widths of `body` and the
// rest shared out by what each lacks of its full width; then likewise from
// the minimums; when not even they fit, the minimums squeezed alike.
std::vector<int> FitColumns(const std::vector<ColumnWidths>& want, int width) {
  long long full = 0, body = 0, minimum = 0;
  for (const ColumnWidths& w : want) {
    full += w.full;
    body += w.body;
    minimum += w.minimum;
  }
  std::vector<int> out(want.size());
  int given = 0;
  for (size_t c = 0; c < want.size(); ++c) {
    long long w = 0;
    if (full <= width) {
      w = want[c].full * static_cast<long long>(width) / std::max(full, 1LL);
    } else if (body <= width) {
      w = want[c].body +
          (want[c].full - want[c].body) * (width - body) / std::max(full - body, 1LL);
    } else if (minimum <= width) {
      w = want[c].minimum +
          (want[c].body - want[c].minimum) * (width - minimum) / std::max(body - minimum, 1LL);
    } else {
      w = want[c].minimum * static_cast<long long>(width) / std::max(minimum, 1LL);
    }
    out[c] = c + 1 == want.size() ? width - given : static_cast<int>(w);
    given += out[c];
  }
  return out;
}

class DocumentBuilder {
 public:
  DocumentBuilder(const std::vector<ClassifiedLine>& lines, const DocumentFrame& frame,
                  CharacterGrid grid)
      : lines_(lines), frame_(frame), grid_(grid), sig_(FindSignature(lines)) {}

  std::string Build() {
    xml_.reserve(EstimatedSize());
    absl::StrAppend(&xml_, internal::kXmlDeclaration, "<w:document", internal::kWordNamespaces,
                    internal::kDrawingNamespace, "><w:body>");
    if (frame_.HasHeader()) AppendHeader();
    for (size_t i = 0; i < lines_.size();) i = AppendLine(i);
    if (!frame_.note.empty() && !note_written_) AppendNote(NoteLine(frame_.note));
    if (frame_.HasImprint()) {
      // The 版记 on a page of its own, without a page number.
      absl::StrAppend(&xml_, "<w:p><w:pPr>", SectionProperties(grid_), "</w:pPr></w:p>");
      AppendImprint();
      absl::StrAppend(&xml_,
                      SectionProperties(grid_, Orientation::kPortrait, /*page_numbers=*/false,
                                        /*even_page=*/true),
                      "</w:body></w:document>");
    } else {
      absl::StrAppend(&xml_, SectionProperties(grid_), "</w:body></w:document>");
    }
    return std::move(xml_);
  }

 private:
  // Enough for the whole document.xml in one buffer, so that it is written
  // in one pass without copying: the text escaped, a paragraph's markup per
  // line, a cell's (properties, borders, run) per table cell; the frame
  // and section properties are in the constant.
  size_t EstimatedSize() const {
    size_t size = 8192;
    for (const ClassifiedLine& line : lines_) {
      size += 2 * line.text.size() + 320;
      if (line.kind == LineKind::kTableHeader || line.kind == LineKind::kTableRow) {
        size += 640 * static_cast<size_t>(std::count(line.text.begin(), line.text.end(), '|'));
      }
    }
    return size;
  }

  // Lays out lines_[i] (a table: all its lines); returns the next index.
  size_t AppendLine(size_t i) {
    const ClassifiedLine& line = lines_[i];
    switch (line.kind) {
      case LineKind::kTitle:
        AppendTextLine(&xml_, line, Keep::kAsStyled);
        if (!frame_.main_recipients.empty()) {
          AppendRecipients(frame_.main_recipients.ends_with("：")
                               ? frame_.main_recipients
                               : absl::StrCat(frame_.main_recipients, "："));
        }
        return i + 1;
      case LineKind::kRecipients:
        AppendRecipients(line.text);
        return i + 1;
      case LineKind::kTableHeader: {
        const Table table = ReadTable(lines_, i);
        AppendTable(table);
        i = table.end - 1;
        return i + 1;
      }
      case LineKind::kTableRule:
      case LineKind::kTableRow:
        return i + 1;  // read with the header
      case LineKind::kEnclosure:
      case LineKind::kEnclosureItem:
        if (!in_enclosure_) {
          in_enclosure_ = true;
          xml_ += "<w:p/>";  // 正文下空一行
        }
        absl::StrAppend(&xml_, "<w:p><w:pPr>",
                        EnclosureIndent(line.text, line.kind == LineKind::kEnclosure), "</w:pPr>");
        AppendRun(&xml_, line.text);
        xml_ += "</w:p>";
        return i + 1;
      case LineKind::kIssuer:
      case LineKind::kDate:
        if (!signature_opened_) {
          signature_opened_ = true;
          // 正文（或附件说明）下空一行; with a seal one more, so that the
          // 署名 and 成文日期 sit below the middle of a 42 mm seal whose top
          // is within a line of the text (7.3.5.1).
          xml_ += "<w:p><w:pPr><w:keepNext/></w:pPr></w:p>";
          if (frame_.sealed) xml_ += "<w:p><w:pPr><w:keepNext/></w:pPr></w:p>";
        }
        AppendSignatureLine(&xml_, line, sig_, frame_);
        if (line.kind == LineKind::kDate && !frame_.note.empty() && !HasNoteLine()) {
          AppendNote(NoteLine(frame_.note));
          note_written_ = true;
        }
        return i + 1;
      case LineKind::kNote:
        AppendNote(line.text);
        note_written_ = true;
        return i + 1;
      case LineKind::kAttachmentMark:
        AppendAttachmentMark(line.text);
        return i + 1;
      case LineKind::kAttachmentTitle: {
        // 居中编排在版心第三行: the title's box is two lines tall.
        ClassifiedLine title = line;
        title.kind = LineKind::kTitle;
        AppendTextLine(&xml_, title, Keep::kAsStyled);
        return i + 1;
      }
      default:
        if (line.kind != LineKind::kBlank) in_enclosure_ = false;
        AppendTextLine(&xml_, line,
                       i == sig_.keep_with_signature ? Keep::kWithSignature : Keep::kAsStyled);
        return i + 1;
    }
  }

  // 另面编排; "附件N" 3号黑体 顶格 on the first line (7.3.7). A 附注 of the
  // frame not written yet goes before it.
  void AppendAttachmentMark(std::string_view text) {
    if (!frame_.note.empty() && !note_written_) {
      AppendNote(NoteLine(frame_.note));
      note_written_ = true;
    }
    absl::StrAppend(&xml_, "<w:p><w:pPr><w:keepNext/><w:pageBreakBefore/>", kFlushLeft, "</w:pPr>");
    AppendFormattedRun(&xml_, text,
                       internal::RunProperties(grid_, internal::kFontHeiTi, L::kBodyFontPt, false));
    xml_ += "</w:p>";
  }

  bool HasNoteLine() const {
    return std::any_of(lines_.begin(), lines_.end(),
                       [](const ClassifiedLine& l) { return l.kind == LineKind::kNote; });
  }

  std::string Rpr(absl::string_view font, int points, bool bold = false,
                  absl::string_view color = "") const {
    return internal::RunProperties(grid_, font, points, bold, color);
  }

  // A paragraph of the 版头: one grid line high, off the grid.
  void AppendHeaderLine(absl::string_view ppr, std::string_view text, absl::string_view font) {
    absl::StrAppend(&xml_, "<w:p><w:pPr>", ExactLine(L::kLinePitch), ppr, "</w:pPr>");
    AppendFormattedRun(&xml_, text, Rpr(font, L::kBodyFontPt));
    xml_ += "</w:p>";
  }

  // 份号, 密级, 紧急程度, 发文机关标志, 发文字号 and 签发人, the red line (7.2).
  void AppendHeader() {
    int used = 0;  // twips from the top of the type area
    for (const std::string* field : {&frame_.copy_number, &frame_.secrecy, &frame_.urgency}) {
      if (field->empty()) continue;
      AppendHeaderLine(kFlushLeft, *field, internal::kFontHeiTi);  // 顶格, 3号黑体
      used += L::kLinePitch;
    }
    if (!frame_.issuing_mark.empty()) {
      AppendSpacer(&xml_, L::kMarkTop - used);
      const int pt = MarkFontPt(frame_.issuing_mark);
      absl::StrAppend(&xml_, "<w:p><w:pPr>", ExactLine(pt * L::kTwipsPerPoint), kFlushLeft,
                      R"(<w:jc w:val="center"/></w:pPr>)");
      AppendFormattedRun(&xml_, frame_.issuing_mark,
                         Rpr(internal::kFontXiaoBiaoSong, pt, false, internal::kRed));
      xml_ += "</w:p>";
      AppendSpacer(&xml_, 2 * L::kLinePitch);  // 发文字号 下空二行
    }
    if (frame_.upward && !frame_.signers.empty()) {
      AppendSigners();
    } else if (!frame_.document_number.empty()) {
      AppendHeaderLine(absl::StrCat(kFlushLeft, R"(<w:jc w:val="center"/>)"),
                       frame_.document_number, internal::kFontFangSong);
    }
    // 发文字号之下4 mm: a red line as wide as the type area.
    absl::StrAppend(&xml_, R"(<w:p><w:pPr><w:pBdr><w:bottom w:val="single" w:sz=")",
                    L::kRedLineSize, R"(" w:space="0" w:color=")", internal::kRed,
                    R"("/></w:pBdr>)", ExactLine(L::kRedLineGap), kFlushLeft, "</w:pPr></w:p>");
    // 标题 in the second line below the red line: one line here, the
    // title's two-line box gives the other.
    AppendSpacer(&xml_, L::kLinePitch);
  }

  // 上行文 (7.2.5, 7.2.6): "签发人：" 3号仿宋 and the names 3号楷体, 居右空一字,
  // two names a line, further lines aligned with the first name; the
  // 发文字号 居左空一字 on the line of the last name.
  void AppendSigners() {
    std::vector<std::string> rows;
    for (size_t i = 0; i < frame_.signers.size(); i += 2) {
      rows.push_back(i + 1 < frame_.signers.size()
                         ? absl::StrCat(frame_.signers[i], "\u3000", frame_.signers[i + 1])
                         : frame_.signers[i]);
    }
    const int label = WidthTwips("签发人：", L::kBodyFontPt);
    int names = 0;
    for (const std::string& row : rows) names = std::max(names, WidthTwips(row, L::kBodyFontPt));
    const int start = std::max(0, L::kTextWidth - L::kCharPitch - label - names);
    const std::string tabs =
        absl::StrCat(R"(<w:tabs><w:tab w:val="left" w:pos=")", start,
                     R"("/><w:tab w:val="left" w:pos=")", start + label, R"("/></w:tabs>)");
    const std::string kai = Rpr(internal::kFontKaiTi, L::kBodyFontPt);
    const std::string fang = Rpr(internal::kFontFangSong, L::kBodyFontPt);
    for (size_t r = 0; r < rows.size(); ++r) {
      const bool last = r + 1 == rows.size();
      absl::StrAppend(&xml_, "<w:p><w:pPr>", tabs, ExactLine(L::kLinePitch), R"(<w:ind w:left=")",
                      L::kCharPitch,
                      R"(" w:leftChars="100" w:firstLine="0" w:firstLineChars="0"/>)",
                      R"(<w:jc w:val="left"/></w:pPr>)");
      if (last) AppendFormattedRun(&xml_, frame_.document_number, fang);
      absl::StrAppend(&xml_, "<w:r>", fang, "<w:tab/></w:r>");
      if (r == 0) {
        AppendFormattedRun(&xml_, "签发人：", fang);
      } else {
        absl::StrAppend(&xml_, "<w:r>", fang, "<w:tab/></w:r>");
      }
      AppendFormattedRun(&xml_, rows[r], kai);
      xml_ += "</w:p>";
    }
  }

  // 主送机关 (7.3.2): 居左顶格, 回行时仍顶格.
  void AppendRecipients(std::string_view text) {
    absl::StrAppend(&xml_, "<w:p><w:pPr>", kFlushLeft, "</w:pPr>");
    AppendRun(&xml_, text);
    xml_ += "</w:p>";
  }

  // 附注 (7.3.6): 居左空二字, in parentheses, the line below the date.
  void AppendNote(std::string_view text) {
    xml_ += "<w:p>";
    AppendRun(&xml_, text);
    xml_ += "</w:p>";
  }

  // A table: 4号仿宋, the header repeated on every page, widths from the
  // display widths of the cells; too wide for 156 mm, on a landscape page.
  void AppendTable(const Table& table) {
    const size_t columns = table.rows[0].size();
    const std::vector<ColumnWidths> want = MeasureColumns(table);
    // Landscape only when the cells cannot wrap into 156 mm.
    const bool landscape = NeedsLandscape(table);
    const int width = landscape ? L::kLandscapeTextWidth : L::kTextWidth;
    if (landscape) {
      // The section before ends here, on the page before the table.
      absl::StrAppend(&xml_, "<w:p><w:pPr>", SectionProperties(grid_), "</w:pPr></w:p>");
    }
    const std::vector<int> widths = FitColumns(want, width);
    const std::string border = R"(w:val="single" w:sz="4" w:space="0" w:color="000000")";
    absl::StrAppend(&xml_, R"(<w:tbl><w:tblPr><w:tblW w:w=")", width,
                    R"(" w:type="dxa"/><w:jc w:val="center"/><w:tblBorders>)", "<w:top ", border,
                    "/><w:left ", border, "/><w:bottom ", border, "/><w:right ", border,
                    "/><w:insideH ", border, "/><w:insideV ", border,
                    R"(/></w:tblBorders><w:tblLayout w:type="fixed"/><w:tblCellMar>)",
                    R"(<w:left w:w=")", L::kTableCellMargin, R"(" w:type="dxa"/><w:right w:w=")",
                    L::kTableCellMargin, R"(" w:type="dxa"/></w:tblCellMar></w:tblPr><w:tblGrid>)");
    for (int w : widths) absl::StrAppend(&xml_, R"(<w:gridCol w:w=")", w, R"("/>)");
    xml_ += "</w:tblGrid>";
    const std::string body_rpr = Rpr(internal::kFontFangSong, L::kTableFontPt);
    const std::string header_rpr = Rpr(internal::kFontFangSong, L::kTableFontPt, true);
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const bool header = r == 0;
      xml_ += header ? "<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"
                     : "<w:tr><w:trPr><w:cantSplit/></w:trPr>";
      for (size_t c = 0; c < columns; ++c) {
        const std::string& cell = table.rows[r][c];
        absl::string_view jc = "center";
        if (!header) {
          switch (CellAlignment(table, c, cell)) {
            case CellAlign::kRight:
              jc = "right";
              break;
            case CellAlign::kCenter:
              jc = "center";
              break;
            default:
              jc = "left";
          }
        }
        absl::StrAppend(&xml_, R"(<w:tc><w:tcPr><w:tcW w:w=")", widths[c],
                        R"(" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr>)",
                        ExactLine(L::kTableLineHeight), kFlushLeft, R"(<w:jc w:val=")", jc,
                        R"("/></w:pPr>)");
        AppendFormattedRun(&xml_, cell, header ? header_rpr : body_rpr);
        xml_ += "</w:p></w:tc>";
      }
      xml_ += "</w:tr>";
    }
    xml_ += "</w:tbl>";
    if (landscape) {
      absl::StrAppend(&xml_, "<w:p><w:pPr>", SectionProperties(grid_, Orientation::kLandscape),
                      ExactLine(L::kTwipsPerPoint), "</w:pPr></w:p>");
    }
  }

  // The 版记 (7.4): 抄送 and 印发机关/印发日期 in 4号仿宋 between full-width
  // lines (0.35 mm first and last, 0.25 mm between), its last line on the
  // bottom edge of the type area. A one-column table carries the lines, so
  // they span the type area while the text keeps one character clear.
  void AppendImprint() {
    struct Row {
      std::string text, date;
      int lines = 1;
      bool hanging = false;
    };
    std::vector<Row> rows;
    if (!frame_.copy_to.empty()) {
      std::string text = absl::StrCat("抄送：", frame_.copy_to);
      if (!text.ends_with("。")) text += "。";
      const int chars = (DisplayWidth(frame_.copy_to) + 2) / 2;
      rows.push_back({text, "",
                      std::max(1, (chars + L::kImprintCharsPerLine - 1) / L::kImprintCharsPerLine),
                      true});
    }
    if (!frame_.printing_org.empty() || !frame_.printing_date.empty()) {
      rows.push_back({frame_.printing_org, PrintingDateLine(frame_.printing_date)});
    }
    int height = 0;
    for (const Row& row : rows) height += row.lines * L::kLinePitch;
    // What stays above: the type area less the table, the paragraph Word
    // needs after a table (1 pt), and a margin for the lines' own width.
    AppendSpacer(&xml_, L::kTextHeight - height - L::kTwipsPerPoint - 3 * L::kTwipsPerPoint);
    const int inner = L::kTextWidth - 2 * L::kImprintIndent;
    absl::StrAppend(&xml_, R"(<w:tbl><w:tblPr><w:tblW w:w=")", L::kTextWidth,
                    R"(" w:type="dxa"/><w:tblLayout w:type="fixed"/><w:tblCellMar>)",
                    R"(<w:top w:w="0" w:type="dxa"/><w:left w:w=")", L::kImprintIndent,
                    R"(" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w=")",
                    L::kImprintIndent, R"(" w:type="dxa"/></w:tblCellMar></w:tblPr>)",
                    R"(<w:tblGrid><w:gridCol w:w=")", L::kTextWidth, R"("/></w:tblGrid>)");
    const std::string rpr = Rpr(internal::kFontFangSong, L::kImprintFontPt);
    for (size_t r = 0; r < rows.size(); ++r) {
      const Row& row = rows[r];
      const int top = r == 0 ? L::kImprintThickLine : L::kImprintThinLine;
      const int bottom = r + 1 == rows.size() ? L::kImprintThickLine : L::kImprintThinLine;
      absl::StrAppend(
          &xml_, R"(<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val=")", row.lines * L::kLinePitch,
          R"(" w:hRule="exact"/></w:trPr><w:tc><w:tcPr><w:tcW w:w=")", L::kTextWidth,
          R"(" w:type="dxa"/><w:tcBorders><w:top w:val="single" w:sz=")", top,
          R"(" w:space="0" w:color="000000"/><w:left w:val="nil"/><w:bottom w:val="single" w:sz=")",
          bottom,
          R"(" w:space="0" w:color="000000"/><w:right w:val="nil"/></w:tcBorders>)"
          R"(<w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr>)");
      if (!row.date.empty()) {
        absl::StrAppend(&xml_, R"(<w:tabs><w:tab w:val="right" w:pos=")", inner, R"("/></w:tabs>)");
      }
      absl::StrAppend(&xml_, ExactLine(L::kLinePitch),
                      row.hanging
                          ? absl::StrCat(R"(<w:ind w:left=")", 3 * L::kImprintIndent,
                                         R"(" w:hanging=")", 3 * L::kImprintIndent, R"("/>)")
                          : std::string(kFlushLeft),
                      R"(<w:jc w:val="left"/></w:pPr>)");
      AppendFormattedRun(&xml_, row.text, rpr);
      if (!row.date.empty()) {
        absl::StrAppend(&xml_, "<w:r>", rpr, "<w:tab/></w:r>");
        AppendFormattedRun(&xml_, row.date, rpr);
      }
      xml_ += "</w:p></w:tc></w:tr>";
    }
    absl::StrAppend(&xml_, "</w:tbl><w:p><w:pPr>", ExactLine(L::kTwipsPerPoint), kFlushLeft,
                    "</w:pPr><w:r><w:rPr><w:sz w:val=\"2\"/></w:rPr></w:r></w:p>");
  }

  const std::vector<ClassifiedLine>& lines_;
  const DocumentFrame& frame_;
  const CharacterGrid grid_;
  const Signature sig_;
  std::string xml_;
  bool signature_opened_ = false;
  bool in_enclosure_ = false;
  bool note_written_ = false;
};

std::string DocumentXml(const std::vector<ClassifiedLine>& lines, const DocumentFrame& frame,
                        CharacterGrid grid) {
  return DocumentBuilder(lines, frame, grid).Build();
}

// The parts that are the same in every document, in each of their variants
// (with the 版记's blank footer or not, one styles.xml per character grid),
// deflated once at the strongest level.
struct StaticParts {
  absl::Status status;  // the first failure, if any
  // [blank footer][turned footers]
  internal::DeflatedEntry content_types[2][2], document_rels[2][2], styles[2];
  internal::DeflatedEntry package_rels, settings, font_table, footer_odd, footer_even, footer_blank,
      footer_turned_odd, footer_turned_even, app;
};

const StaticParts& PrebuiltParts() {
  static const StaticParts* const kParts = [] {
    auto* parts = new StaticParts;
    auto deflate = [parts](internal::DeflatedEntry* out, std::string name, const std::string& xml) {
      absl::StatusOr<internal::DeflatedEntry> entry =
          internal::Deflate(std::move(name), xml, /*level=*/9);
      if (entry.ok()) {
        *out = *std::move(entry);
      } else if (parts->status.ok()) {
        parts->status = entry.status();
      }
    };
    for (int blank : {0, 1}) {
      for (int turned : {0, 1}) {
        deflate(&parts->content_types[blank][turned], "[Content_Types].xml",
                internal::ContentTypesXml(blank == 1, /*seal=*/false, turned == 1));
        deflate(&parts->document_rels[blank][turned], "word/_rels/document.xml.rels",
                internal::DocumentRelsXml(blank == 1, /*seal=*/false, turned == 1));
      }
    }
    deflate(&parts->styles[0], "word/styles.xml",
            internal::StylesXml(CharacterGrid::kDocumentGrid));
    deflate(&parts->styles[1], "word/styles.xml",
            internal::StylesXml(CharacterGrid::kCondensedSpacing));
    deflate(&parts->package_rels, "_rels/.rels", internal::PackageRelsXml());
    deflate(&parts->settings, "word/settings.xml", internal::SettingsXml());
    deflate(&parts->font_table, "word/fontTable.xml", internal::FontTableXml());
    deflate(&parts->footer_odd, "word/footer1.xml", internal::FooterXml(/*odd_pages=*/true));
    deflate(&parts->footer_even, "word/footer2.xml", internal::FooterXml(/*odd_pages=*/false));
    deflate(&parts->footer_blank, "word/footer3.xml", internal::BlankFooterXml());
    deflate(&parts->footer_turned_odd, "word/footer4.xml",
            internal::FooterXml(/*odd_pages=*/true, /*turned=*/true));
    deflate(&parts->footer_turned_even, "word/footer5.xml",
            internal::FooterXml(/*odd_pages=*/false, /*turned=*/true));
    deflate(&parts->app, "docProps/app.xml", internal::AppPropertiesXml());
    return parts;
  }();
  return *kParts;
}

}  // namespace

bool NeedsLandscape(const Table& table) {
  int narrowest = 0;
  for (const ColumnWidths& w : MeasureColumns(table)) narrowest += w.minimum;
  return narrowest > L::kTextWidth;
}

int MarkFontPt(std::string_view mark) {
  for (int pt : L::kMarkFontPts) {
    if (WidthTwips(mark, pt) <= L::kTextWidth) return pt;
  }
  return L::kMarkFontPts[std::size(L::kMarkFontPts) - 1];
}

// The date sits 右空四字 and the issuer's right edge is 4 + (date width −
// issuer width) / 2 characters from the margin. Widths are in half
// characters (digits are half width), hence the factor 100 / 4 = 25. An
// issuer wider than the date plus 8 characters would need a negative indent;
// it is then set flush right.
int IssuerRightIndentChars100(std::string_view issuer, std::string_view date) {
  const int delta = internal::HalfWidthUnits(date) - internal::HalfWidthUnits(issuer);
  return std::max(0, 400 + 25 * delta);
}

// 附件说明 (7.3.4): "附件：" 左空二字; the titles of every item start in the
// same column, after 附件： and the item's number.
EnclosureIndents EnclosureIndentChars100(std::string_view text, bool first) {
  if (first) text.remove_prefix(std::string_view("附件：").size());
  size_t number = 0;
  while (number < text.size() && text[number] >= '0' && text[number] <= '9') ++number;
  if (number > 0 && text.substr(number).starts_with(".")) {
    number += 1;
  } else if (number > 0 && text.substr(number).starts_with("．")) {
    number += std::string_view("．").size();
  } else {
    number = 0;
  }
  const int number_chars100 = DisplayWidth(text.substr(0, number)) * 50;
  const int title_chars100 = 200 + 300 + number_chars100;  // 左空二字, 附件：, 1.
  return {first ? 200 : title_chars100 - number_chars100, title_chars100};
}

std::vector<int> TableColumnWidths(const Table& table, int width) {
  return FitColumns(MeasureColumns(table), width);
}

absl::Status CheckFrame(const DocumentFrame& frame) {
  for (const auto& [value, what] : {
           std::pair{&frame.copy_number, "frame.copy_number"},
           std::pair{&frame.secrecy, "frame.secrecy"},
           std::pair{&frame.urgency, "frame.urgency"},
           std::pair{&frame.issuing_mark, "frame.issuing_mark"},
           std::pair{&frame.document_number, "frame.document_number"},
           std::pair{&frame.main_recipients, "frame.main_recipients"},
           std::pair{&frame.note, "frame.note"},
           std::pair{&frame.copy_to, "frame.copy_to"},
           std::pair{&frame.printing_org, "frame.printing_org"},
           std::pair{&frame.printing_date, "frame.printing_date"},
       }) {
    if (absl::Status s = internal::CheckXmlSafeUtf8(*value, what); !s.ok()) return s;
  }
  for (size_t i = 0; i < frame.signers.size(); ++i) {
    if (absl::Status s =
            internal::CheckXmlSafeUtf8(frame.signers[i], absl::StrCat("frame.signers[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  if (!frame.seal_image.empty()) {
    return png::Inspect(frame.seal_image, "frame.seal_image").status();
  }
  return absl::OkStatus();
}

bool DocumentFrame::HasHeader() const {
  return !copy_number.empty() || !secrecy.empty() || !urgency.empty() || !issuing_mark.empty() ||
         !document_number.empty() || (upward && !signers.empty());
}

bool DocumentFrame::HasImprint() const {
  return !copy_to.empty() || !printing_org.empty() || !printing_date.empty();
}

bool DocumentFrame::Empty() const {
  return !HasHeader() && !HasImprint() && main_recipients.empty() && note.empty() && !sealed;
}

std::string PrintingDateLine(std::string_view printing_date) {
  if (printing_date.empty() || printing_date.ends_with("印发")) return std::string(printing_date);
  return absl::StrCat(absl::string_view(printing_date.data(), printing_date.size()), "印发");
}

std::string NoteLine(std::string_view note) {
  if (note.empty() || (note.starts_with("（") && note.ends_with("）"))) return std::string(note);
  return absl::StrCat("（", absl::string_view(note.data(), note.size()), "）");
}

absl::StatusOr<std::string> WriteOfficialDocx(std::string_view text, const DocxOptions& options) {
  const DocumentFrame& frame = options.frame;
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      ClassifyText(text, {.recipients_given = !frame.main_recipients.empty()});
  if (!lines.ok()) return lines.status();
  if (absl::Status s = CheckFrame(frame); !s.ok()) return s;
  for (const auto& [value, what] :
       {std::pair{std::string_view(options.title), "options.title"},
        std::pair{std::string_view(options.author), "options.author"}}) {
    if (absl::Status s = internal::CheckXmlSafeUtf8(value, what); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<CivilTime> time = ToCivilUtc(options.timestamp);
  if (!time.ok()) return time.status();

  std::string_view title, issuer;
  for (const ClassifiedLine& line : *lines) {
    if (line.kind == LineKind::kTitle) title = line.text;
    if (line.kind == LineKind::kIssuer) issuer = line.text;
  }
  if (title.empty()) {
    return absl::InvalidArgumentError(
        "text: no title; the first non-blank line is the document's title");
  }
  if (!options.title.empty()) title = options.title;
  if (!options.author.empty()) issuer = options.author;

  const StaticParts& fixed = PrebuiltParts();
  if (!fixed.status.ok()) return fixed.status;
  const std::string document_xml = DocumentXml(*lines, frame, options.character_grid);
  // Landscape sections refer to the turned footers, which are then packed.
  const int turned = absl::StrContains(document_xml, internal::kRelFooterTurnedOdd) ? 1 : 0;
  absl::StatusOr<internal::DeflatedEntry> document =
      internal::Deflate("word/document.xml", document_xml, kDocumentDeflateLevel);
  if (!document.ok()) return document.status();
  absl::StatusOr<internal::DeflatedEntry> core = internal::Deflate(
      "docProps/core.xml", internal::CorePropertiesXml(title, issuer, W3cdtf(*time)),
      kDocumentDeflateLevel);
  if (!core.ok()) return core.status();
  const bool blank_footer = frame.HasImprint();
  const int blank = blank_footer ? 1 : 0;
  const int grid = options.character_grid == CharacterGrid::kDocumentGrid ? 0 : 1;
  // A seal adds its image and so changes the content types and the
  // relationships, which are then deflated for this document.
  const internal::DeflatedEntry* content_types = &fixed.content_types[blank][turned];
  const internal::DeflatedEntry* document_rels = &fixed.document_rels[blank][turned];
  absl::StatusOr<internal::DeflatedEntry> sealed_types, sealed_rels, seal;
  if (PrintsSeal(frame)) {
    sealed_types = internal::Deflate(
        "[Content_Types].xml", internal::ContentTypesXml(blank_footer, /*seal=*/true, turned == 1),
        kDocumentDeflateLevel);
    sealed_rels = internal::Deflate(
        "word/_rels/document.xml.rels",
        internal::DocumentRelsXml(blank_footer, /*seal=*/true, turned == 1), kDocumentDeflateLevel);
    // A PNG is deflated already.
    seal = internal::Deflate(std::string(internal::kSealPart), frame.seal_image, /*level=*/0);
    for (const auto* part : {&sealed_types, &sealed_rels, &seal}) {
      if (!part->ok()) return part->status();
    }
    content_types = &*sealed_types;
    document_rels = &*sealed_rels;
  }
  // [Content_Types].xml first, as consumers that stream the zip expect.
  std::vector<const internal::DeflatedEntry*> entries = {
      content_types,   &fixed.package_rels, &*document,        &fixed.styles[grid],
      &fixed.settings, &fixed.font_table,   &fixed.footer_odd, &fixed.footer_even};
  if (blank_footer) entries.push_back(&fixed.footer_blank);
  if (turned == 1) {
    entries.insert(entries.end(), {&fixed.footer_turned_odd, &fixed.footer_turned_even});
  }
  if (PrintsSeal(frame)) entries.push_back(&*seal);
  entries.insert(entries.end(), {document_rels, &*core, &fixed.app});
  return internal::ZipDeflated(entries, internal::DosTimeOf(options.timestamp));
}

}  // namespace govreport::docx
