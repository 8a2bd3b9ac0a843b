#include "templates/docx/docx_writer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "templates/docx/ooxml_parts.h"
#include "templates/docx/page_layout.h"
#include "templates/docx/text_util.h"
#include "templates/docx/zip_writer.h"

namespace govreport::docx {
namespace {

namespace L = ::govreport::docx::layout;
using internal::AppendXmlEscaped;

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

// DOS timestamps cover 1980..2107 in two-second steps.
internal::DosTimestamp ToDos(CivilTime t) {
  if (t.year < 1980) t = {1980, 1, 1, 0, 0, 0};
  if (t.year > 2107) t = {2107, 12, 31, 23, 59, 58};
  return {static_cast<uint16_t>(t.hour << 11 | t.minute << 5 | t.second / 2),
          static_cast<uint16_t>((t.year - 1980) << 9 | t.month << 5 | t.day)};
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
int IssuerRightIndentChars100(std::string_view issuer, std::string_view date) {
  const int delta = internal::HalfWidthUnits(date) - internal::HalfWidthUnits(issuer);
  return std::max(0, 400 + 25 * delta);
}

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
void AppendSignatureLine(std::string* xml, const ClassifiedLine& line, const Signature& sig) {
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
  }
  AppendRun(xml, line.text);
  *xml += "</w:p>";
}

// Page size, margins, footers and the document grid.
std::string SectionProperties(CharacterGrid grid) {
  return absl::StrCat(
      "<w:sectPr>",
      // Word uses "default" for odd pages once evenAndOddHeaders is on.
      R"(<w:footerReference w:type="default" r:id=")", internal::kRelFooterOdd,
      R"("/><w:footerReference w:type="even" r:id=")", internal::kRelFooterEven, R"("/>)",
      R"(<w:pgSz w:w=")", L::kPageWidth, R"(" w:h=")", L::kPageHeight, R"("/>)",
      R"(<w:pgMar w:top=")", L::kMarginTop, R"(" w:right=")", L::kMarginRight, R"(" w:bottom=")",
      L::kMarginBottom, R"(" w:left=")", L::kMarginLeft, R"(" w:header=")", L::kHeaderDistance,
      R"(" w:footer=")", L::kFooterDistance, R"(" w:gutter="0"/>)", R"(<w:cols w:space="425"/>)",
      // 22 lines × 28 characters; see page_layout.h for the arithmetic.
      grid == CharacterGrid::kDocumentGrid
          ? absl::StrCat(R"(<w:docGrid w:type="linesAndChars" w:linePitch=")", L::kLinePitch,
                         R"(" w:charSpace=")", L::kCharSpace, R"("/>)")
          : absl::StrCat(R"(<w:docGrid w:type="lines" w:linePitch=")", L::kLinePitch, R"("/>)"),
      "</w:sectPr>");
}

std::string DocumentXml(const std::vector<ClassifiedLine>& lines, CharacterGrid grid) {
  const Signature sig = FindSignature(lines);
  std::string xml = absl::StrCat(internal::kXmlDeclaration, "<w:document",
                                 internal::kWordNamespaces, "><w:body>");
  bool signature_opened = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const ClassifiedLine& line = lines[i];
    if (line.kind != LineKind::kIssuer && line.kind != LineKind::kDate) {
      AppendTextLine(&xml, line,
                     i == sig.keep_with_signature ? Keep::kWithSignature : Keep::kAsStyled);
      continue;
    }
    if (!signature_opened) {
      signature_opened = true;
      xml += "<w:p><w:pPr><w:keepNext/></w:pPr></w:p>";  // 正文下空一行
    }
    AppendSignatureLine(&xml, line, sig);
  }
  absl::StrAppend(&xml, SectionProperties(grid), "</w:body></w:document>");
  return xml;
}

}  // namespace

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
  absl::StatusOr<std::vector<ClassifiedLine>> lines = ClassifyText(text);
  if (!lines.ok()) return lines.status();
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

  // [Content_Types].xml first, as consumers that stream the zip expect.
  const internal::ZipEntry entries[] = {
      {"[Content_Types].xml", internal::ContentTypesXml()},
      {"_rels/.rels", internal::PackageRelsXml()},
      {"word/document.xml", DocumentXml(*lines, options.character_grid)},
      {"word/styles.xml", internal::StylesXml(options.character_grid)},
      {"word/settings.xml", internal::SettingsXml()},
      {"word/fontTable.xml", internal::FontTableXml()},
      {"word/footer1.xml", internal::FooterXml(/*odd_pages=*/true)},
      {"word/footer2.xml", internal::FooterXml(/*odd_pages=*/false)},
      {"word/_rels/document.xml.rels", internal::DocumentRelsXml()},
      {"docProps/core.xml", internal::CorePropertiesXml(title, issuer, W3cdtf(*time))},
      {"docProps/app.xml", internal::AppPropertiesXml()},
  };
  return internal::ZipInMemory(entries, ToDos(*time));
}

}  // namespace govreport::docx
