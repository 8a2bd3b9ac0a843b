// Page geometry of GB/T 9704-2012 (党政机关公文格式) in OOXML units.
//
// Everything is derived from the millimetre figures of the standard at compile
// time, so a reader can check the arithmetic here instead of trusting magic
// numbers in the XML. 1 twip = 1/20 pt = 1/1440 inch, so 1 mm = 56.693 twips.
#ifndef GOVREPORT_TEMPLATES_DOCX_PAGE_LAYOUT_H_
#define GOVREPORT_TEMPLATES_DOCX_PAGE_LAYOUT_H_

namespace govreport::docx::layout {

inline constexpr int kTwipsPerPoint = 20;

// Rounds to the nearest twip; all inputs are positive.
// (std::lround is not constexpr in C++20; the inputs are positive, so adding
// 0.5 before truncating rounds half up.)
// NOLINTNEXTLINE(bugprone-incorrect-roundings): positive inputs only, see above.
constexpr int MmToTwips(double mm) { return static_cast<int>(mm * 1440.0 / 25.4 + 0.5); }

// Floor division that stays correct for negative numerators.
constexpr int FloorDiv(long long num, long long den) {
  long long q = num / den;
  if ((num % den != 0) && ((num < 0) != (den < 0))) --q;
  return static_cast<int>(q);
}

// A4, 210 × 297 mm.
inline constexpr int kPageWidth = MmToTwips(210);   // 11906
inline constexpr int kPageHeight = MmToTwips(297);  // 16838

// 天头 37 mm, 订口 28 mm; the type area (版心) is 156 × 225 mm, which leaves
// 210 − 28 − 156 = 26 mm on the right and 297 − 37 − 225 = 35 mm at the foot.
inline constexpr int kMarginTop = MmToTwips(37);                 // 2098
inline constexpr int kMarginLeft = MmToTwips(28);                // 1587
inline constexpr int kMarginRight = MmToTwips(210 - 28 - 156);   // 1474
inline constexpr int kMarginBottom = MmToTwips(297 - 37 - 225);  // 1984

inline constexpr int kTextWidth = kPageWidth - kMarginLeft - kMarginRight;    // 8845 ≈ 156.0 mm
inline constexpr int kTextHeight = kPageHeight - kMarginTop - kMarginBottom;  // 12756 ≈ 225.0 mm

// 3号 body text, 22 lines of 28 characters per page.
inline constexpr int kBodyFontPt = 16;
inline constexpr int kLinesPerPage = 22;
inline constexpr int kCharsPerLine = 28;

// w:docGrid/@w:linePitch is the line height in twips:
// 12756 / 22 = 579.8, rounded down to 579 (28.95 pt) because 580 × 22 = 12760
// would overflow the type area and Word would fit only 21 lines.
inline constexpr int kLinePitch = kTextHeight / kLinesPerPage;

// w:docGrid/@w:charSpace is how much each character cell differs from the
// base font size (the 16 pt of docDefaults), in 1/4096 pt. The cell we need is
// 8845 / 28 = 315.89 twips = 15.795 pt, i.e. 0.205 pt narrower than 16 pt:
// (15.795 − 16) × 4096 = −841.1, rounded down to −842 so 28 cells still fit.
// In integers: (8845 − 28 × 320) × 4096 / (28 × 20).
inline constexpr int kCharSpace = FloorDiv(
    static_cast<long long>(kTextWidth - kCharsPerLine * kBodyFontPt * kTwipsPerPoint) * 4096,
    static_cast<long long>(kCharsPerLine) * kTwipsPerPoint);

// One grid character in twips (≈ 316), for the absolute indents written next
// to the *Chars ones for renderers that ignore character units.
inline constexpr int kCharPitch =
    (kBodyFontPt * kTwipsPerPoint * 4096 + kCharSpace * kTwipsPerPoint + 2048) / 4096;

// For CharacterGrid::kCondensedSpacing: a line grid only, and every character
// condensed by w:spacing (in twips) instead. 28 × 320 twips overshoots the
// 8845 available by 115, i.e. 4.1 twips per character; rounded down to −5
// (−0.25 pt): 28 × 315 = 8820 fits, 28 × 316 = 8848 would not.
inline constexpr int kCondensedSpacing =
    FloorDiv(kTextWidth - kCharsPerLine * kBodyFontPt * kTwipsPerPoint, kCharsPerLine);

// Title: 2号 (22 pt). Its line is two grid lines tall so the body below stays
// on the 22-line grid.
inline constexpr int kTitleFontPt = 22;
inline constexpr int kTitleLineHeight = 2 * kLinePitch;

// Page number: 4号 (14 pt) 宋体, in a footer whose one line is exactly 14 pt.
// GB/T 9704 puts the 一字线 7 mm below the type area, i.e. 35 − 7 = 28 mm above
// the page edge; the dash sits mid-line, so the footer's bottom (w:footer) is
// half a line (7 pt) lower: 1587 − 140 = 1447 twips ≈ 25.5 mm.
inline constexpr int kPageNumberFontPt = 14;
inline constexpr int kFooterLineHeight = kPageNumberFontPt * kTwipsPerPoint;
inline constexpr int kFooterDistance = MmToTwips(297 - 37 - 225 - 7) - kFooterLineHeight / 2;
// 单页码居右空一字，双页码居左空一字: one 4号 character.
inline constexpr int kPageNumberInset = kPageNumberFontPt * kTwipsPerPoint;
// No header is used; Word's usual 15 mm keeps the value unsurprising.
inline constexpr int kHeaderDistance = MmToTwips(15);

// The seal (印章) printed from the org's image: 42 mm wide, the common size
// of an organ's seal, centred over the 成文日期 with its centre 0.3 of a line
// above the date's line, so that the 署名 and date sit a little below the
// centre and the top comes within one line of the text (7.3.5.1).
inline constexpr int kSealWidth = MmToTwips(42);
inline constexpr int kSealCentreAboveDate = kLinePitch * 3 / 10;

// --- the 版头, tables and the 版记 (GB/T 9704-2012 7.2, 7.4, 8) -------------

// Line widths in OOXML border units, eighths of a point.
// NOLINTNEXTLINE(bugprone-incorrect-roundings): positive inputs only.
constexpr int MmToEighthPoints(double mm) { return static_cast<int>(mm * 72.0 / 25.4 * 8 + 0.5); }

// 发文机关标志: its top edge 35 mm below the top of the type area (7.2.4; the
// 80 mm of 上行文 was GB/T 9704-1999's and is gone from the 2012 edition).
inline constexpr int kMarkTop = MmToTwips(35);  // 1984
// Sizes tried for the mark, largest first (初号, 小初, 一号, 小一, 二号): the
// largest that fits the type area's width on one line.
inline constexpr int kMarkFontPts[] = {42, 36, 26, 24, 22};
// The red separator: 4 mm below the 发文字号 (7.2.7), as wide as the type
// area; 0.5 mm thick (the standard gives no thickness for it).
inline constexpr int kRedLineGap = MmToTwips(4);  // 227
inline constexpr int kRedLineSize = MmToEighthPoints(0.5);
// 版记 (7.4): 4号 (14 pt), the first and last separators 0.35 mm, the ones
// between 0.25 mm; 抄送 and 印发机关 one character in.
inline constexpr int kImprintFontPt = 14;
inline constexpr int kImprintIndent = kImprintFontPt * kTwipsPerPoint;
inline constexpr int kImprintThickLine = MmToEighthPoints(0.35);  // 8
inline constexpr int kImprintThinLine = MmToEighthPoints(0.25);   // 6
// Characters of a 抄送 line after 抄送：, with one character of slack against
// punctuation rules: (8845 − 2 × 280 − 3 × 280) / 280 = 26.6, so 25.
inline constexpr int kImprintCharsPerLine =
    (kTextWidth - 2 * kImprintIndent - 3 * kImprintIndent) / kImprintIndent - 1;

// Tables: 4号 (14 pt) 仿宋 in cells with 1.5 mm side margins, lines of exactly
// 20 pt; a half character is 7 pt. 3号 would leave 14 half-width columns
// fewer in 156 mm; 4号 is what tables in 公文 commonly use.
inline constexpr int kTableFontPt = 14;
inline constexpr int kTableLineHeight = 20 * kTwipsPerPoint;
inline constexpr int kTableHalfChar = kTableFontPt * kTwipsPerPoint / 2;  // 140
inline constexpr int kTableCellMargin = MmToTwips(1.5);                   // 85
// A table wider than the type area goes on a landscape page whose type area
// is the portrait one turned: 225 mm wide, 156 mm high; the margins keep the
// paper's (the table's top edge at the 订口, GB/T 9704 8).
inline constexpr int kLandscapeTextWidth = MmToTwips(225);
inline constexpr int kLandscapeMarginTop = MmToTwips(28);
inline constexpr int kLandscapeMarginBottom = MmToTwips(210 - 28 - 156);
inline constexpr int kLandscapeMarginLeft = MmToTwips(297 - 37 - 225);
inline constexpr int kLandscapeMarginRight = MmToTwips(37);

static_assert(kMarkTop == 1984 && kRedLineGap == 227 && kRedLineSize == 11);
static_assert(kImprintThickLine == 8 && kImprintThinLine == 6 && kImprintCharsPerLine == 25);
static_assert(kTableCellMargin == 85 && kLandscapeTextWidth == 12756);

static_assert(kPageWidth == 11906 && kPageHeight == 16838);
static_assert(kMarginTop == 2098 && kMarginLeft == 1587);
static_assert(kMarginRight == 1474 && kMarginBottom == 1984);
static_assert(kLinePitch == 579 && kLinePitch * kLinesPerPage <= kTextHeight);
static_assert(kCharSpace == -842);
static_assert(kCharsPerLine * (kBodyFontPt * kTwipsPerPoint * 4096 + kCharSpace * kTwipsPerPoint) <=
              kTextWidth * 4096);
static_assert(kCharPitch == 316);
static_assert(kCondensedSpacing == -5);
static_assert(kFooterDistance == 1447);

}  // namespace govreport::docx::layout

#endif  // GOVREPORT_TEMPLATES_DOCX_PAGE_LAYOUT_H_
