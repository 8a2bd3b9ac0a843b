// The fixed parts of the package (styles, settings, fonts, footers,
// relationships, properties). Internal to gr_docx; docx_writer.cc writes
// word/document.xml and assembles the zip.
#ifndef GOVREPORT_TEMPLATES_DOCX_OOXML_PARTS_H_
#define GOVREPORT_TEMPLATES_DOCX_OOXML_PARTS_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "templates/docx/docx_writer.h"

namespace govreport::docx::internal {

inline constexpr absl::string_view kXmlDeclaration =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
inline constexpr absl::string_view kWordNamespaces =
    " xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""
    " xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships\"";

// For wp:anchor (the seal image) in document.xml.
inline constexpr absl::string_view kDrawingNamespace =
    " xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\"";
inline constexpr absl::string_view kRelSeal = "rIdSeal";
inline constexpr absl::string_view kSealPart = "word/media/seal.png";

// absl::string_view (not std::) because this Abseil build keeps its own
// string_view and StrCat takes only that.

// Style ids used by document.xml; defined in StylesXml().
inline constexpr absl::string_view kStyleTitle = "Title";
inline constexpr absl::string_view kStyleHeading[] = {"Heading1", "Heading2", "Heading3",
                                                      "Heading4"};
inline constexpr absl::string_view kStyleIssuer = "Signature";
inline constexpr absl::string_view kStyleDate = "Date";
// Character style for body text that follows a heading in the same paragraph.
inline constexpr absl::string_view kStyleRunInBody = "RunInBody";

// Relationship ids of word/_rels/document.xml.rels.
inline constexpr absl::string_view kRelFooterOdd = "rIdFooterOdd";
inline constexpr absl::string_view kRelFooterEven = "rIdFooterEven";
// The footers of landscape pages: the number turned (GB/T 9704 8).
inline constexpr absl::string_view kRelFooterTurnedOdd = "rIdFooterTurnedOdd";
inline constexpr absl::string_view kRelFooterTurnedEven = "rIdFooterTurnedEven";
// The empty footer of the 版记's page (no page number there).
inline constexpr absl::string_view kRelFooterNone = "rIdFooterNone";

// Chinese font names as Word/WPS on a Chinese system list them.
inline constexpr absl::string_view kFontFangSong = "仿宋_GB2312";
inline constexpr absl::string_view kFontKaiTi = "楷体_GB2312";
inline constexpr absl::string_view kFontHeiTi = "黑体";
inline constexpr absl::string_view kFontXiaoBiaoSong = "方正小标宋简体";
inline constexpr absl::string_view kFontSongTi = "宋体";
inline constexpr absl::string_view kFontLatin = "Times New Roman";
// The red of the 发文机关标志 and the line below it.
inline constexpr absl::string_view kRed = "FF0000";

// `blank_footer`: the package has word/footer3.xml, the empty footer.
// `seal`: the document has the seal image, word/media/seal.png;
// `turned_footers`: it has landscape pages (footer4.xml and footer5.xml).
std::string ContentTypesXml(bool blank_footer, bool seal = false, bool turned_footers = false);
std::string PackageRelsXml();
std::string DocumentRelsXml(bool blank_footer, bool seal = false, bool turned_footers = false);
std::string BlankFooterXml();
// <w:rPr> of a run set directly: `east_asia` for Chinese, Times New Roman for
// the rest, `points` in size; sizes other than the body's are not condensed
// (CharacterGrid::kCondensedSpacing condenses 3号 text only). `color` is
// RRGGBB or empty.
std::string RunProperties(CharacterGrid grid, absl::string_view east_asia, int points, bool bold,
                          absl::string_view color = "");
std::string StylesXml(CharacterGrid grid);
std::string SettingsXml();
std::string FontTableXml();
// The footer of odd pages (right-aligned) or even pages (left-aligned).
// `turned`: for a landscape page, the number where the portrait pages have
// it once the page is turned (GB/T 9704 8).
std::string FooterXml(bool odd_pages, bool turned = false);
// `w3cdtf` is the timestamp as 2023-05-08T09:30:00Z; title and author are
// escaped here.
std::string CorePropertiesXml(std::string_view title, std::string_view author,
                              const std::string& w3cdtf);
std::string AppPropertiesXml();

}  // namespace govreport::docx::internal

#endif  // GOVREPORT_TEMPLATES_DOCX_OOXML_PARTS_H_
