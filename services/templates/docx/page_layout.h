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
