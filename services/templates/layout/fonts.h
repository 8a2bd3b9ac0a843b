// The faces the fixed layout sets 仿宋, 小标宋, 黑体, 楷体 and 宋体 in.
//
// GB/T 9704 names the 方正/GB2312 faces, which Debian cannot ship; the
// defaults are the closest free faces it packages (docs/pdf.md), and a
// deployment that holds licences for the real ones names them in
// GOVREPORT_FONT_FANGSONG, _XIAOBIAOSONG, _HEITI, _KAITI and _SONGTI.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_FONTS_H_
#define GOVREPORT_TEMPLATES_LAYOUT_FONTS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Pango's own types, so that users of this header need not include Pango.
using PangoContext = struct _PangoContext;
using PangoFontDescription = struct _PangoFontDescription;

namespace govreport::layout {

enum class Face { kFangSong, kXiaoBiaoSong, kHeiTi, kKaiTi, kSongTi };

// Each face as a Pango font description: a family, optionally followed by
// style words ("Noto Serif CJK SC Bold").
struct FontMap {
  std::string fangsong = "Noto Serif CJK SC";
  std::string xiaobiaosong = "Noto Serif CJK SC Bold";
  std::string heiti = "Noto Sans CJK SC";
  std::string kaiti = "AR PL UKai CN";
  std::string songti = "Noto Serif CJK SC";

  const std::string& Of(Face face) const;
};

// The defaults with every GOVREPORT_FONT_<FACE> that is set and not empty.
FontMap FontMapFromEnvironment();

// OK when every face of `fonts` resolves to an installed font of the family
// it names; FAILED_PRECONDITION naming the face, the family and the variable
// to set otherwise (fontconfig would quietly substitute another family, and
// the document would come out in the wrong face).
absl::Status CheckFontsInstalled(const FontMap& fonts);

// FontMapFromEnvironment(), checked with CheckFontsInstalled once per
// process; the mapping (and the files it resolved to) is logged to stderr
// the first time.
absl::StatusOr<FontMap> ConfiguredFonts();

// `fonts` checked with CheckFontsInstalled, or ConfiguredFonts() when unset:
// the faces a writer's options ask for.
absl::StatusOr<FontMap> CheckedFonts(const std::optional<FontMap>& fonts);

// "仿宋=Noto Serif CJK SC (/usr/share/fonts/…), 小标宋=…": what each face
// resolves to on this machine.
std::string DescribeFontMap(const FontMap& fonts);

namespace internal {

// This thread's Pango context for laying out text for PDF: its own font map
// (Pango's font maps are not shared between threads), metrics unhinted so
// that advances are the font's own at any size.
PangoContext* ThreadContext();

// A new description of `face` at `points` (absolute size), bold if asked.
// The caller frees it with pango_font_description_free.
PangoFontDescription* NewFontDescription(const FontMap& fonts, Face face, double points, bool bold);

}  // namespace internal
}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_FONTS_H_
