// The fixed layout of an official document per GB/T 9704-2012: the pages of
// shaped, positioned lines that the PDF (and any other fixed-layout writer)
// draws as they are.
//
// The text is classified by the DOCX writer's classifier and set in its
// geometry (templates/docx/page_layout.h): A4, the 156 × 225 mm type area,
// 22 lines of 28 characters of 3号 on a fixed pitch, the 版头, tables, the
// 版记 and page numbers as docs/pdf.md describes. Pango breaks the lines
// (Unicode line breaking, which keeps closing punctuation off a line's start).
#ifndef GOVREPORT_TEMPLATES_LAYOUT_LAYOUT_H_
#define GOVREPORT_TEMPLATES_LAYOUT_LAYOUT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "templates/docx/docx_writer.h"
#include "templates/layout/fonts.h"

using PangoLayout = struct _PangoLayout;
using PangoLayoutLine = struct _PangoLayoutLine;

namespace govreport::layout {

inline constexpr uint32_t kBlack = 0x000000;
inline constexpr uint32_t kRed = 0xFF0000;  // 发文机关标志 and the line below it

// One line of shaped text. Coordinates are PDF points from the page's top
// left corner, y downwards; (x, baseline) is the start of the baseline.
struct PlacedLine {
  std::shared_ptr<PangoLayout> layout;  // keeps the line's glyphs alive
  int index = 0;                        // of the line in `layout`
  double x = 0, baseline = 0;
  uint32_t rgb = kBlack;
  // Drawn turned 90° clockwise about (x, baseline), reading downwards: the
  // page number of a landscape page, where the portrait pages have it once
  // the page is turned (GB/T 9704 8).
  bool turned = false;

  PangoLayoutLine* Line() const;
  std::string Text() const;  // the characters of the line, for tests and logs
};

// A straight line: rules, the red line, table borders.
struct Rule {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double width = 0;
  uint32_t rgb = kBlack;
};

// An image over the text, in front of it: the seal (印章) on the 署名 and
// 成文日期. (x, y) is its top left corner; the PNG is drawn scaled to
// width × height.
struct PlacedImage {
  double x = 0, y = 0, width = 0, height = 0;
  std::shared_ptr<const std::string> png;
};

// A heading the PDF lists in its outline (bookmarks).
struct OutlineEntry {
  std::string text;
  int level = 0;  // 0: the title and attachment titles, 1: 一、 headings
  double y = 0;
};

struct Page {
  double width = 0, height = 0;  // A4 portrait or landscape
  int number = 0;                // 1-based, counting every page
  bool numbered = true;          // false on the 版记's page (7.5)
  std::vector<PlacedLine> lines;
  std::vector<Rule> rules;
  std::vector<OutlineEntry> outline;
  std::vector<PlacedImage> images;  // drawn last, over lines and rules
};

struct Document {
  std::vector<Page> pages;
  std::string title;  // the title line
  std::string issuer;
};

// Lays out `text` with `frame`. INVALID_ARGUMENT as docx::ClassifyText and
// docx::CheckFrame give it, or for a text without a title line.
absl::StatusOr<Document> LayOut(std::string_view text, const docx::DocumentFrame& frame,
                                const FontMap& fonts);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_LAYOUT_H_
