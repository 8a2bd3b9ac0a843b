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
#include <string>
#include <string_view>
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

  // Subsets every face the lines of `doc` use. With `keep_cmap` the subsets
  // also map the characters drawn in them to their glyphs (a PDF draws by
  // glyph id and does without; an OFD reader may look characters up).
  // INTERNAL when HarfBuzz, FreeType or cairo fail on a face.
  absl::Status Build(const Document& doc, bool keep_cmap = false);

  // The font to draw `font`'s glyphs with (same size and options as Pango's),
  // and the glyph's id in it; nullptr and 0 for a font Build did not see.
  cairo_scaled_font_t* ScaledFont(PangoFont* font);
  uint32_t Glyph(PangoFont* font, uint32_t pango_glyph) const;

  // For writers that embed the subsets as files (the OFD): each face in the
  // order the document first uses it, and the index of `font`'s face in
  // that order (-1 for a font Build did not see).
  struct EmbeddedFace {
    std::string_view bytes;  // an OpenType font, valid while this lives
    std::string family;      // as fontconfig names it
    std::string postscript_name;
    bool bold = false;        // a bold face, or one fontconfig emboldens
    bool emboldened = false;  // the latter: readers must embolden it too
  };
  std::vector<EmbeddedFace> Embedded() const;
  int FaceIndex(PangoFont* font) const;

 private:
  struct Face {
    const hb_map_t* old_to_new = nullptr;  // owned through `plan`
    hb_subset_plan_t* plan = nullptr;
    cairo_font_face_t* cairo = nullptr;
    hb_blob_t* bytes = nullptr;  // the subset, one reference of its own
    int order = 0;
    std::string family;
    bool bold = false;
  };
  // A face, and whether fontconfig emboldens it (then cairo does).
  using FaceKey = std::pair<hb_face_t*, bool>;
  static FaceKey KeyOf(PangoFont* font);
  std::map<FaceKey, Face> faces_;
  std::vector<FaceKey> order_;
  std::map<PangoFont*, cairo_scaled_font_t*> scaled_;
};

// Pango's glyphs that draw nothing: the empty glyph (zero-width spaces) and
// the hex boxes of characters no font has.
bool DrawsNothing(uint32_t pango_glyph);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_FONT_SUBSET_H_
