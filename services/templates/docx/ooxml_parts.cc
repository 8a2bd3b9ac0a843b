#include "templates/docx/ooxml_parts.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "templates/docx/page_layout.h"
#include "templates/docx/text_util.h"

namespace govreport::docx::internal {
namespace {

namespace L = ::govreport::docx::layout;

// Latin letters and digits in Times New Roman, Chinese in `east_asia`. The
// eastAsia hint makes Word take the Chinese font for characters both scripts
// share, such as “ ” — and ·, which would otherwise come out narrow.
std::string RunFonts(absl::string_view east_asia) {
  return absl::StrCat("<w:rFonts w:ascii=\"", kFontLatin, "\" w:hAnsi=\"", kFontLatin,
                      "\" w:eastAsia=\"", east_asia, "\" w:cs=\"", kFontLatin,
                      R"(" w:hint="eastAsia"/>)");
}

std::string Size(int points) {
  return absl::StrCat("<w:sz w:val=\"", points * 2, "\"/><w:szCs w:val=\"", points * 2, "\"/>");
}

// Character spacing in twips; a run that sets it overrides its style.
std::string Spacing(int twips) { return absl::StrCat("<w:spacing w:val=\"", twips, "\"/>"); }

std::string Bold(bool on) {
  const char* v = on ? "1" : "0";
  return absl::StrCat("<w:b w:val=\"", v, "\"/><w:bCs w:val=\"", v, "\"/>");
}

// Single spacing with nothing before or after: the document grid then gives
// every body line exactly one of the 22 grid lines.
std::string GridSpacing() {
  return "<w:spacing w:before=\"0\" w:after=\"0\" w:line=\"240\" "
         "w:lineRule=\"auto\"/>";
}

// Character units (firstLineChars, rightChars) are what Word and WPS honour;
// the twip values beside them serve renderers that ignore character units.
std::string BodyIndent() {
  return absl::StrCat("<w:ind w:firstLine=\"", 2 * L::kCharPitch, R"(" w:firstLineChars="200"/>)");
}
std::string NoFirstLineIndent(absl::string_view extra = "") {
  return absl::StrCat("<w:ind", extra, R"( w:firstLine="0" w:firstLineChars="0"/>)");
}

std::string ParagraphStyle(absl::string_view id, absl::string_view name, absl::string_view ppr,
                           absl::string_view rpr) {
  return absl::StrCat(R"(<w:style w:type="paragraph" w:styleId=")", id, "\"><w:name w:val=\"", name,
                      "\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/>"
                      "<w:qFormat/><w:pPr>",
                      ppr, "</w:pPr><w:rPr>", rpr, "</w:rPr></w:style>");
}

std::string HeadingStyle(int level, absl::string_view east_asia, bool bold) {
  // Same indent and size as body text (GB/T 9704 headings are not set off),
  // only the face differs; keepNext stops a heading ending a page.
  return ParagraphStyle(
      kStyleHeading[level - 1], absl::StrCat("heading ", level),
      absl::StrCat("<w:keepNext/>", GridSpacing(), BodyIndent(),
                   R"(<w:jc w:val="both"/><w:outlineLvl w:val=")", level - 1, "\"/>"),
      absl::StrCat(RunFonts(east_asia), Bold(bold), Size(L::kBodyFontPt)));
}

struct FontEntry {
  absl::string_view name;
  absl::string_view alt_name;  // what Word/WPS try when `name` is missing
  absl::string_view panose;    // empty when not worth guessing
  absl::string_view charset;   // 86 = GB2312
  absl::string_view family;
  absl::string_view pitch;
};

constexpr FontEntry kFonts[] = {
    {kFontLatin, "", "02020603050405020304", "00", "roman", "variable"},
    {kFontFangSong, "FangSong", "", "86", "modern", "fixed"},
    {kFontKaiTi, "KaiTi", "", "86", "modern", "fixed"},
    {kFontHeiTi, "SimHei", "", "86", "modern", "fixed"},
    // Not shipped with Windows; 华文中宋 (installed with Office) is the usual
    // stand-in, and with neither Word falls back on a GB2312 serif (SimSun).
    {kFontXiaoBiaoSong, "华文中宋", "", "86", "auto", "variable"},
    {kFontSongTi, "SimSun", "02010600030101010101", "86", "auto", "variable"},
};

}  // namespace

std::string RunProperties(CharacterGrid grid, absl::string_view east_asia, int points, bool bold,
                          absl::string_view color) {
  const bool condensed = grid == CharacterGrid::kCondensedSpacing && points == L::kBodyFontPt;
  return absl::StrCat("<w:rPr>", RunFonts(east_asia), Bold(bold),
                      color.empty() ? "" : absl::StrCat("<w:color w:val=\"", color, "\"/>"),
                      Spacing(condensed ? L::kCondensedSpacing : 0), Size(points), "</w:rPr>");
}

std::string BlankFooterXml() {
  return absl::StrCat(kXmlDeclaration, "<w:ftr", kWordNamespaces,
                      "><w:p><w:pPr><w:pStyle w:val=\"Footer\"/></w:pPr></w:p></w:ftr>");
}

std::string ContentTypesXml(bool blank_footer, bool seal, bool turned_footers) {
  constexpr absl::string_view kWml =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.";
  std::string xml = absl::StrCat(kXmlDeclaration,
                                 "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                                 "content-types\">"
                                 "<Default Extension=\"rels\" ContentType=\"application/"
                                 "vnd.openxmlformats-package.relationships+xml\"/>"
                                 "<Default Extension=\"xml\" ContentType=\"application/xml\"/>");
  if (seal) xml += R"(<Default Extension="png" ContentType="image/png"/>)";
  auto add = [&](absl::string_view part, absl::string_view type) {
    absl::StrAppend(&xml, "<Override PartName=\"", part, "\" ContentType=\"", type, "\"/>");
  };
  add("/word/document.xml", absl::StrCat(kWml, "document.main+xml"));
  add("/word/styles.xml", absl::StrCat(kWml, "styles+xml"));
  add("/word/settings.xml", absl::StrCat(kWml, "settings+xml"));
  add("/word/fontTable.xml", absl::StrCat(kWml, "fontTable+xml"));
  add("/word/footer1.xml", absl::StrCat(kWml, "footer+xml"));
  add("/word/footer2.xml", absl::StrCat(kWml, "footer+xml"));
  if (blank_footer) add("/word/footer3.xml", absl::StrCat(kWml, "footer+xml"));
  if (turned_footers) {
    add("/word/footer4.xml", absl::StrCat(kWml, "footer+xml"));
    add("/word/footer5.xml", absl::StrCat(kWml, "footer+xml"));
  }
  add("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml");
  add("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml");
  xml += "</Types>";
  return xml;
}

std::string PackageRelsXml() {
  return absl::StrCat(kXmlDeclaration,
                      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                      "relationships\">"
                      "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/"
                      "officeDocument/2006/relationships/officeDocument\" "
                      "Target=\"word/document.xml\"/>"
                      "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/"
                      "package/2006/relationships/metadata/core-properties\" "
                      "Target=\"docProps/core.xml\"/>"
                      "<Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/"
                      "officeDocument/2006/relationships/extended-properties\" "
                      "Target=\"docProps/app.xml\"/>"
                      "</Relationships>");
}

std::string DocumentRelsXml(bool blank_footer, bool seal, bool turned_footers) {
  constexpr absl::string_view kType =
      "http://schemas.openxmlformats.org/officeDocument/2006/relationships/";
  std::string xml =
      absl::StrCat(kXmlDeclaration,
                   "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                   "relationships\">");
  auto add = [&](absl::string_view id, absl::string_view type, absl::string_view target) {
    absl::StrAppend(&xml, "<Relationship Id=\"", id, "\" Type=\"", kType, type, "\" Target=\"",
                    target, "\"/>");
  };
  add("rIdStyles", "styles", "styles.xml");
  add("rIdSettings", "settings", "settings.xml");
  add("rIdFontTable", "fontTable", "fontTable.xml");
  add(kRelFooterOdd, "footer", "footer1.xml");
  add(kRelFooterEven, "footer", "footer2.xml");
  if (blank_footer) add(kRelFooterNone, "footer", "footer3.xml");
  if (turned_footers) {
    add(kRelFooterTurnedOdd, "footer", "footer4.xml");
    add(kRelFooterTurnedEven, "footer", "footer5.xml");
  }
  if (seal) add(kRelSeal, "image", "media/seal.png");
  xml += "</Relationships>";
  return xml;
}

std::string StylesXml(CharacterGrid grid) {
  const bool condensed = grid == CharacterGrid::kCondensedSpacing;
  // Headings inherit the condensing from Normal; the title and the page
  // number are not on the 28-character grid and reset it.
  const std::string body_run =
      absl::StrCat(RunFonts(kFontFangSong), condensed ? Spacing(L::kCondensedSpacing) : "",
                   Size(L::kBodyFontPt));
  const std::string no_condensing = condensed ? Spacing(0) : "";
  std::string xml = absl::StrCat(
      kXmlDeclaration, "<w:styles", kWordNamespaces, ">",
      // Defaults carry the body font so that anything unstyled is still
      // 3号仿宋, and 16 pt is the base size that docGrid's charSpace refers to.
      "<w:docDefaults><w:rPrDefault><w:rPr>", body_run,
      "<w:lang w:val=\"en-US\" w:eastAsia=\"zh-CN\" w:bidi=\"ar-SA\"/>"
      "</w:rPr></w:rPrDefault><w:pPrDefault><w:pPr>",
      GridSpacing(), "</w:pPr></w:pPrDefault></w:docDefaults>",

      // Widow control off: it would leave grid lines empty at page ends, and
      // GB/T 9704 wants every page full at 22 lines.
      "<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\">"
      "<w:name w:val=\"Normal\"/><w:qFormat/><w:pPr>"
      "<w:widowControl w:val=\"0\"/>",
      GridSpacing(), BodyIndent(), "<w:jc w:val=\"both\"/></w:pPr><w:rPr>", body_run,
      "</w:rPr></w:style>",

      "<w:style w:type=\"character\" w:default=\"1\" "
      "w:styleId=\"DefaultParagraphFont\"><w:name w:val=\"Default Paragraph "
      "Font\"/><w:uiPriority w:val=\"1\"/><w:semiHidden/><w:unhideWhenUsed/>"
      "</w:style>",

      // The title is off the grid: its 22 pt characters do not belong in the
      // 15.8 pt cells of the body (LibreOffice would give each two cells), and
      // an exact height of two grid lines keeps the body below on the grid.
      ParagraphStyle(kStyleTitle, "Title",
                     absl::StrCat("<w:keepNext/><w:snapToGrid w:val=\"0\"/>"
                                  "<w:spacing w:before=\"0\" w:after=\"0\" w:line=\"",
                                  L::kTitleLineHeight, R"(" w:lineRule="exact"/>)",
                                  NoFirstLineIndent(), "<w:jc w:val=\"center\"/>"),
                     absl::StrCat(RunFonts(kFontXiaoBiaoSong), Bold(false), no_condensing,
                                  Size(L::kTitleFontPt))),

      HeadingStyle(1, kFontHeiTi, false), HeadingStyle(2, kFontKaiTi, false),
      HeadingStyle(3, kFontFangSong, true), HeadingStyle(4, kFontFangSong, false),

      // The issuer's right indent depends on its length and is set on the
      // paragraph; keepNext keeps it on the date's page.
      ParagraphStyle(kStyleIssuer, "Signature",
                     absl::StrCat("<w:keepNext/>", GridSpacing(), NoFirstLineIndent(),
                                  "<w:jc w:val=\"right\"/>"),
                     body_run),
      // 成文日期 右空四字.
      ParagraphStyle(kStyleDate, "Date",
                     absl::StrCat(GridSpacing(),
                                  NoFirstLineIndent(absl::StrCat(" w:right=\"", 4 * L::kCharPitch,
                                                                 R"(" w:rightChars="400")")),
                                  "<w:jc w:val=\"right\"/>"),
                     body_run),

      R"(<w:style w:type="character" w:styleId=")", kStyleRunInBody,
      "\"><w:name w:val=\"Run-in Body Text\"/>"
      "<w:basedOn w:val=\"DefaultParagraphFont\"/><w:qFormat/><w:rPr>",
      RunFonts(kFontFangSong), Bold(false), "</w:rPr></w:style>",

      // Page numbers: 4号 宋体 including the digits (半角宋体阿拉伯数字), one
      // line of exactly 14 pt off the grid so kFooterDistance holds.
      ParagraphStyle(
          "Footer", "footer",
          absl::StrCat("<w:snapToGrid w:val=\"0\"/><w:spacing w:before=\"0\" "
                       "w:after=\"0\" w:line=\"",
                       L::kFooterLineHeight, R"(" w:lineRule="exact"/>)", NoFirstLineIndent()),
          absl::StrCat("<w:rFonts w:ascii=\"", kFontSongTi, "\" w:hAnsi=\"", kFontSongTi,
                       "\" w:eastAsia=\"", kFontSongTi, "\" w:cs=\"", kFontSongTi,
                       R"(" w:hint="eastAsia"/>)", no_condensing, Size(L::kPageNumberFontPt))),
      "</w:styles>");
  return xml;
}

std::string SettingsXml() {
  return absl::StrCat(kXmlDeclaration, "<w:settings", kWordNamespaces, ">",
                      "<w:zoom w:percent=\"100\"/>"
                      "<w:defaultTabStop w:val=\"420\"/>"
                      // Two footers: odd pages right, even pages left.
                      "<w:evenAndOddHeaders/>"
                      // Punctuation keeps its full width so every line holds 28 cells.
                      "<w:characterSpacingControl w:val=\"doNotCompress\"/>"
                      // Word 2013+ layout, so Word does not open it in compatibility mode.
                      "<w:compat><w:compatSetting w:name=\"compatibilityMode\" "
                      "w:uri=\"http://schemas.microsoft.com/office/word\" w:val=\"15\"/>"
                      "</w:compat>"
                      "<w:themeFontLang w:val=\"en-US\" w:eastAsia=\"zh-CN\"/>"
                      "<w:decimalSymbol w:val=\".\"/><w:listSeparator w:val=\",\"/>"
                      "</w:settings>");
}

std::string FontTableXml() {
  std::string xml = absl::StrCat(kXmlDeclaration, "<w:fonts", kWordNamespaces, ">");
  for (const FontEntry& f : kFonts) {
    absl::StrAppend(&xml, "<w:font w:name=\"", f.name, "\">");
    if (!f.alt_name.empty()) {
      absl::StrAppend(&xml, "<w:altName w:val=\"", f.alt_name, "\"/>");
    }
    if (!f.panose.empty()) {
      absl::StrAppend(&xml, "<w:panose1 w:val=\"", f.panose, "\"/>");
    }
    absl::StrAppend(&xml, "<w:charset w:val=\"", f.charset, "\"/><w:family w:val=\"", f.family,
                    "\"/><w:pitch w:val=\"", f.pitch, "\"/></w:font>");
  }
  xml += "</w:fonts>";
  return xml;
}

std::string FooterXml(bool odd_pages, bool turned) {
  // 单页码居右空一字，双页码居左空一字.
  const std::string ppr = absl::StrCat(
      "<w:pPr><w:pStyle w:val=\"Footer\"/><w:ind w:", odd_pages ? "right" : "left", "=\"",
      L::kPageNumberInset, R"(" w:firstLine="0" w:firstLineChars="0"/><w:jc w:val=")",
      odd_pages ? "right" : "left", "\"/></w:pPr>");
  // "— N —": the dashes are the 一字线 on each side of the number; the cached
  // field result is what a viewer shows before it updates fields.
  const std::string number =
      absl::StrCat("<w:p>", ppr,
                   "<w:r><w:t xml:space=\"preserve\">— </w:t></w:r>"
                   "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r>"
                   "<w:r><w:instrText xml:space=\"preserve\"> PAGE </w:instrText></w:r>"
                   "<w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>"
                   "<w:r><w:t>",
                   odd_pages ? "1" : "2",
                   "</w:t></w:r>"
                   "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>"
                   "<w:r><w:t xml:space=\"preserve\"> —</w:t></w:r>"
                   "</w:p>");
  if (!turned)
    return absl::StrCat(kXmlDeclaration, "<w:ftr", kWordNamespaces, ">", number, "</w:ftr>");
  // A landscape page keeps its number where the portrait pages have it once
  // the page is turned (GB/T 9704 8): the page's top is the portrait page's
  // left edge, so the footer line becomes a column 28 mm from the left edge
  // along the portrait type area (28 to 184 mm from the top), read
  // downwards. A floating one-cell table with vertical text (tbRl) holds
  // it; the footer's own paragraph stays empty.
  constexpr int kColumn = L::kFooterLineHeight;
  return absl::StrCat(
      kXmlDeclaration, "<w:ftr", kWordNamespaces,
      R"(><w:tbl><w:tblPr><w:tblpPr w:leftFromText="0" w:rightFromText="0" )",
      R"(w:vertAnchor="page" w:horzAnchor="page" w:tblpX=")",
      L::MmToTwips(297 - 37 - 225 - 7) - kColumn / 2, R"(" w:tblpY=")", L::kMarginLeft,
      R"("/><w:tblW w:w=")", kColumn,
      R"(" w:type="dxa"/><w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="0" )",
      R"(w:type="dxa"/><w:right w:w="0" w:type="dxa"/></w:tblCellMar></w:tblPr>)",
      R"(<w:tblGrid><w:gridCol w:w=")", kColumn,
      R"("/></w:tblGrid><w:tr><w:trPr><w:trHeight w:val=")", L::kTextWidth,
      R"(" w:hRule="exact"/></w:trPr><w:tc><w:tcPr><w:tcW w:w=")", kColumn,
      R"(" w:type="dxa"/><w:textDirection w:val="tbRl"/><w:vAlign w:val="center"/></w:tcPr>)",
      number,
      "</w:tc></w:tr></w:tbl><w:p><w:pPr><w:pStyle w:val=\"Footer\"/></w:pPr></w:p></w:ftr>");
}

std::string CorePropertiesXml(std::string_view title, std::string_view author,
                              const std::string& w3cdtf) {
  std::string xml = absl::StrCat(kXmlDeclaration,
                                 "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/"
                                 "package/2006/metadata/core-properties\" "
                                 "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                                 "xmlns:dcterms=\"http://purl.org/dc/terms/\" "
                                 "xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" "
                                 "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">");
  xml += "<dc:title>";
  AppendXmlEscaped(&xml, title);
  xml += "</dc:title><dc:creator>";
  AppendXmlEscaped(&xml, author);
  xml += "</dc:creator><cp:lastModifiedBy>";
  AppendXmlEscaped(&xml, author);
  absl::StrAppend(&xml,
                  "</cp:lastModifiedBy><dc:language>zh-CN</dc:language>"
                  "<dcterms:created xsi:type=\"dcterms:W3CDTF\">",
                  w3cdtf,
                  "</dcterms:created>"
                  "<dcterms:modified xsi:type=\"dcterms:W3CDTF\">",
                  w3cdtf, "</dcterms:modified></cp:coreProperties>");
  return xml;
}

std::string AppPropertiesXml() {
  return absl::StrCat(kXmlDeclaration,
                      "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/"
                      "2006/extended-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/"
                      "officeDocument/2006/docPropsVTypes\">"
                      "<Application>govreport</Application><DocSecurity>0</DocSecurity>"
                      "</Properties>");
}

}  // namespace govreport::docx::internal
