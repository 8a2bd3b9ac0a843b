#include "templates/layout/fonts.h"

#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace govreport::layout {
namespace {

struct FaceInfo {
  Face face;
  const char* name;      // as GB/T 9704 says it
  const char* variable;  // the environment variable that overrides it
};

constexpr FaceInfo kFaces[] = {
    {Face::kFangSong, "仿宋", "GOVREPORT_FONT_FANGSONG"},
    {Face::kXiaoBiaoSong, "小标宋", "GOVREPORT_FONT_XIAOBIAOSONG"},
    {Face::kHeiTi, "黑体", "GOVREPORT_FONT_HEITI"},
    {Face::kKaiTi, "楷体", "GOVREPORT_FONT_KAITI"},
    {Face::kSongTi, "宋体", "GOVREPORT_FONT_SONGTI"},
};

std::string& Field(FontMap& fonts, Face face) {
  return const_cast<std::string&>(std::as_const(fonts).Of(face));
}

struct DescriptionFree {
  void operator()(PangoFontDescription* d) const { pango_font_description_free(d); }
};
using Description = std::unique_ptr<PangoFontDescription, DescriptionFree>;

struct ObjectUnref {
  void operator()(void* o) const { g_object_unref(o); }
};

// The family fontconfig picks for `description`, and the file.
struct Resolved {
  std::string family, file;
};

Resolved Resolve(const std::string& description) {
  Resolved out;
  const Description desc(pango_font_description_from_string(description.c_str()));
  std::unique_ptr<PangoFontMap, ObjectUnref> map(pango_cairo_font_map_new());
  std::unique_ptr<PangoContext, ObjectUnref> context(pango_font_map_create_context(map.get()));
  pango_font_description_set_absolute_size(desc.get(), 16 * PANGO_SCALE);
  PangoFont* font = pango_font_map_load_font(map.get(), context.get(), desc.get());
  if (font == nullptr) return out;
  const Description got(pango_font_describe(font));
  g_object_unref(font);
  if (const char* family = pango_font_description_get_family(got.get())) out.family = family;
  // The file, for the log: fontconfig's match of the same family and weight.
  FcPattern* pattern = FcPatternCreate();
  FcPatternAddString(pattern, FC_FAMILY, reinterpret_cast<const FcChar8*>(out.family.c_str()));
  FcPatternAddInteger(pattern, FC_WEIGHT,
                      pango_font_description_get_weight(desc.get()) >= PANGO_WEIGHT_BOLD
                          ? FC_WEIGHT_BOLD
                          : FC_WEIGHT_REGULAR);
  FcConfigSubstitute(nullptr, pattern, FcMatchPattern);
  FcDefaultSubstitute(pattern);
  FcResult result = FcResultNoMatch;
  if (FcPattern* match = FcFontMatch(nullptr, pattern, &result)) {
    FcChar8* file = nullptr;
    if (FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch) {
      out.file = reinterpret_cast<const char*>(file);
    }
    FcPatternDestroy(match);
  }
  FcPatternDestroy(pattern);
  return out;
}

std::string WantedFamily(const std::string& description) {
  const Description desc(pango_font_description_from_string(description.c_str()));
  const char* family = pango_font_description_get_family(desc.get());
  return family == nullptr ? "" : family;
}

}  // namespace

const std::string& FontMap::Of(Face face) const {
  switch (face) {
    case Face::kFangSong:
      return fangsong;
    case Face::kXiaoBiaoSong:
      return xiaobiaosong;
    case Face::kHeiTi:
      return heiti;
    case Face::kKaiTi:
      return kaiti;
    case Face::kSongTi:
      break;
  }
  return songti;
}

FontMap FontMapFromEnvironment() {
  FontMap fonts;
  for (const FaceInfo& f : kFaces) {
    const char* value = std::getenv(f.variable);  // NOLINT(concurrency-mt-unsafe): read only
    if (value != nullptr && *value != '\0') Field(fonts, f.face) = value;
  }
  return fonts;
}

absl::Status CheckFontsInstalled(const FontMap& fonts) {
  for (const FaceInfo& f : kFaces) {
    const std::string& description = fonts.Of(f.face);
    const std::string wanted = WantedFamily(description);
    const Resolved got = Resolve(description);
    if (wanted.empty() || !absl::EqualsIgnoreCase(wanted, got.family)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "font for ", f.name, ": \"", description, "\" is not installed (fontconfig offers \"",
          got.family, "\" instead); install it (fc-list lists the installed families) or name an ",
          "installed one in ", f.variable));
    }
  }
  return absl::OkStatus();
}

std::string DescribeFontMap(const FontMap& fonts) {
  std::string out;
  for (const FaceInfo& f : kFaces) {
    const Resolved got = Resolve(fonts.Of(f.face));
    absl::StrAppend(&out, out.empty() ? "" : ", ", f.name, "=", fonts.Of(f.face), " (",
                    got.file.empty() ? "no file" : got.file, ")");
  }
  return out;
}

absl::StatusOr<FontMap> ConfiguredFonts() {
  static std::once_flag once;
  static absl::StatusOr<FontMap>* configured = nullptr;
  std::call_once(once, [] {
    FontMap fonts = FontMapFromEnvironment();
    absl::Status installed = CheckFontsInstalled(fonts);
    if (installed.ok()) {
      std::cerr << "fixed layout fonts: " << DescribeFontMap(fonts) << "\n";
      configured = new absl::StatusOr<FontMap>(std::move(fonts));  // lives as long as the process
    } else {
      std::cerr << "fixed layout fonts: " << installed.message() << "\n";
      configured = new absl::StatusOr<FontMap>(std::move(installed));
    }
  });
  return *configured;
}

absl::StatusOr<FontMap> CheckedFonts(const std::optional<FontMap>& fonts) {
  if (!fonts.has_value()) return ConfiguredFonts();
  if (absl::Status installed = CheckFontsInstalled(*fonts); !installed.ok()) return installed;
  return *fonts;
}

namespace internal {

PangoContext* ThreadContext() {
  struct Holder {
    PangoFontMap* map = nullptr;
    PangoContext* context = nullptr;
    Holder() {
      map = pango_cairo_font_map_new();
      context = pango_font_map_create_context(map);
      cairo_font_options_t* options = cairo_font_options_create();
      cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
      cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
      pango_cairo_context_set_font_options(context, options);
      cairo_font_options_destroy(options);
      pango_context_set_round_glyph_positions(context, FALSE);
      pango_context_set_language(context, pango_language_from_string("zh-cn"));
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    ~Holder() {
      g_object_unref(context);
      g_object_unref(map);
    }
  };
  thread_local Holder holder;
  return holder.context;
}

PangoFontDescription* NewFontDescription(const FontMap& fonts, Face face, double points,
                                         bool bold) {
  PangoFontDescription* desc = pango_font_description_from_string(fonts.Of(face).c_str());
  pango_font_description_set_absolute_size(desc, points * PANGO_SCALE);
  if (bold) pango_font_description_set_weight(desc, PANGO_WEIGHT_BOLD);
  return desc;
}

}  // namespace internal
}  // namespace govreport::layout
