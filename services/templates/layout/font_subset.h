// The faces a laid-out document uses, each cut down by HarfBuzz's
// subsetter to the glyphs on its pages (renumbered, without hinting or
// layout tables), as cairo fonts that draw those glyphs.
//
// Why: cairo 1.16 embeds a CFF font by reading the whole font and copying
// its subroutines wholesale, so the seed report's PDF carried a 575 KB
// subset of Noto Serif CJK Bold for its title (738 KB in all). From
// HarfBuzz's subsets cairo embeds fonts of a few kilobytes: 158 KB in all,
// in two thirds of the time (docs/pdf.md, "Fonts and size").
#ifndef GOVREPORT_TEMPLATES_LAYOUT_FONT_SUBSET_H_
#define GOVREPORT_TEMPLATES_LAYOUT_FONT_SUBSET_H_

#include <cairo.h>
#include <hb-subset.h>
#include <hb.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "templates/layout/layout.h"

using PangoFont = struct _PangoFont;

namespace govreport::layout {

class SubsetFonts {
 public:
  SubsetFonts() = default;
  ~SubsetFonts();
  SubsetFonts(const SubsetFonts&) = delete;
  SubsetFonts& operator=(const SubsetFonts&) = delete;

  // Subsets every face the lines of `doc` use. INTERNAL when HarfBuzz,
  // FreeType or cairo fail on a face.
  absl::Status Build(const Document& doc);

  // The font to draw `font`'s glyphs with (same size and options as Pango's),
  // and the glyph's id in it; nullptr and 0 for a font Build did not see.
  cairo_scaled_font_t* ScaledFont(PangoFont* font);
  uint32_t Glyph(PangoFont* font, uint32_t pango_glyph) const;

 private:
  struct Face {
    const hb_map_t* old_to_new = nullptr;  // owned through `plan`
    hb_subset_plan_t* plan = nullptr;
    cairo_font_face_t* cairo = nullptr;
  };
  // A face, and whether fontconfig emboldens it (then cairo does).
  using FaceKey = std::pair<hb_face_t*, bool>;
  static FaceKey KeyOf(PangoFont* font);
  std::map<FaceKey, Face> faces_;
  std::map<PangoFont*, cairo_scaled_font_t*> scaled_;
};

// Pango's glyphs that draw nothing: the empty glyph (zero-width spaces) and
// the hex boxes of characters no font has.
bool DrawsNothing(uint32_t pango_glyph);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_FONT_SUBSET_H_
