#include "templates/layout/font_subset.h"

#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include <hb-subset.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-font.h>
#include FT_FREETYPE_H

#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"

namespace govreport::layout {
namespace {

// FreeType faces are made and freed under one lock on one library (faces of
// a library must not be created concurrently); cairo may free a face on any
// thread, after the document that made it is written.
std::mutex& FreeTypeMutex() {
  static std::mutex mu;
  return mu;
}

FT_Library FreeTypeLibrary() {
  static FT_Library library = [] {
    FT_Library l = nullptr;
    return FT_Init_FreeType(&l) == 0 ? l : nullptr;
  }();
  return library;
}

// What a subset's cairo face needs alive: its FreeType face over the bytes.
struct FaceData {
  FT_Face ft = nullptr;
  hb_blob_t* bytes = nullptr;
};

void FreeFaceData(void* p) {
  auto* data = static_cast<FaceData*>(p);
  {
    const std::lock_guard<std::mutex> lock(FreeTypeMutex());
    if (data->ft != nullptr) FT_Done_Face(data->ft);
  }
  hb_blob_destroy(data->bytes);
  delete data;
}

const cairo_user_data_key_t kFaceDataKey{};

hb_face_t* HbFaceOf(PangoFont* font) {
  hb_font_t* hb = pango_font_get_hb_font(font);
  return hb == nullptr ? nullptr : hb_font_get_face(hb);
}

// A face fontconfig emboldens (a bold request it has no bold face for).
bool Emboldened(PangoFont* font) {
  if (!PANGO_IS_FC_FONT(font)) return false;
  FcBool embolden = FcFalse;
  FcPattern* pattern = pango_fc_font_get_pattern(PANGO_FC_FONT(font));
  return pattern != nullptr &&
         FcPatternGetBool(pattern, FC_EMBOLDEN, 0, &embolden) == FcResultMatch && embolden;
}

// A subset of `face` with `glyphs`, without hints and the tables a PDF does
// not use (shaping is done).
absl::Status Subset(hb_face_t* face, hb_set_t* glyphs, hb_subset_plan_t** plan,
                    cairo_font_face_t** cairo_face) {
  hb_subset_input_t* input = hb_subset_input_create_or_fail();
  if (input == nullptr) return absl::InternalError("HarfBuzz: no subset input");
  hb_set_union(hb_subset_input_glyph_set(input), glyphs);
  // Flattened charstrings: smaller here and quicker to make.
  hb_subset_input_set_flags(input, HB_SUBSET_FLAGS_NO_HINTING | HB_SUBSET_FLAGS_DESUBROUTINIZE);
  hb_set_t* drop = hb_subset_input_set(input, HB_SUBSET_SETS_DROP_TABLE_TAG);
  for (const char* tag : {"GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG", "vhea", "vmtx",
                          "DSIG", "kern", "morx", "kerx"}) {
    hb_set_add(drop, hb_tag_from_string(tag, 4));
  }
  *plan = hb_subset_plan_create_or_fail(face, input);
  hb_subset_input_destroy(input);
  if (*plan == nullptr) return absl::InternalError("HarfBuzz: cannot plan the font subset");
  hb_face_t* subset = hb_subset_plan_execute_or_fail(*plan);
  if (subset == nullptr) return absl::InternalError("HarfBuzz: cannot subset the font");
  auto* data = new FaceData;
  data->bytes = hb_face_reference_blob(subset);
  hb_face_destroy(subset);
  unsigned int length = 0;
  const char* bytes = hb_blob_get_data(data->bytes, &length);
  {
    const std::lock_guard<std::mutex> lock(FreeTypeMutex());
    FT_Library library = FreeTypeLibrary();
    if (library == nullptr || FT_New_Memory_Face(library, reinterpret_cast<const FT_Byte*>(bytes),
                                                 static_cast<FT_Long>(length), 0, &data->ft) != 0) {
      data->ft = nullptr;
    }
  }
  if (data->ft == nullptr) {
    FreeFaceData(data);
    return absl::InternalError("FreeType cannot open the font subset HarfBuzz made");
  }
  *cairo_face = cairo_ft_font_face_create_for_ft_face(data->ft, 0);
  if (cairo_font_face_set_user_data(*cairo_face, &kFaceDataKey, data, FreeFaceData) !=
      CAIRO_STATUS_SUCCESS) {
    cairo_font_face_destroy(*cairo_face);
    *cairo_face = nullptr;
    FreeFaceData(data);
    return absl::InternalError("cairo: cannot keep the font subset");
  }
  return absl::OkStatus();
}

}  // namespace

SubsetFonts::FaceKey SubsetFonts::KeyOf(PangoFont* font) {
  return {HbFaceOf(font), Emboldened(font)};
}

bool DrawsNothing(uint32_t pango_glyph) {
  return pango_glyph == PANGO_GLYPH_EMPTY || (pango_glyph & PANGO_GLYPH_UNKNOWN_FLAG) != 0;
}

SubsetFonts::~SubsetFonts() {
  for (auto& [font, scaled] : scaled_) cairo_scaled_font_destroy(scaled);
  for (auto& [key, face] : faces_) {
    if (face.cairo != nullptr) cairo_font_face_destroy(face.cairo);
    if (face.plan != nullptr) hb_subset_plan_destroy(face.plan);
  }
}

absl::Status SubsetFonts::Build(const Document& doc) {
  std::map<FaceKey, hb_set_t*> used;
  for (const Page& page : doc.pages) {
    for (const PlacedLine& line : page.lines) {
      for (GSList* r = line.Line()->runs; r != nullptr; r = r->next) {
        const auto* run = static_cast<const PangoGlyphItem*>(r->data);
        const FaceKey key = KeyOf(run->item->analysis.font);
        if (key.first == nullptr) continue;
        hb_set_t*& glyphs = used[key];
        if (glyphs == nullptr) glyphs = hb_set_create();
        for (int i = 0; i < run->glyphs->num_glyphs; ++i) {
          const uint32_t glyph = run->glyphs->glyphs[i].glyph;
          if (!DrawsNothing(glyph)) hb_set_add(glyphs, glyph);
        }
      }
    }
  }
  absl::Status status;
  for (auto& [key, glyphs] : used) {
    Face& out = faces_[key];
    if (status.ok()) status = Subset(key.first, glyphs, &out.plan, &out.cairo);
    if (status.ok() && key.second) {
      cairo_ft_font_face_set_synthesize(out.cairo, CAIRO_FT_SYNTHESIZE_BOLD);
    }
    if (out.plan != nullptr) out.old_to_new = hb_subset_plan_old_to_new_glyph_mapping(out.plan);
    hb_set_destroy(glyphs);
  }
  return status;
}

cairo_scaled_font_t* SubsetFonts::ScaledFont(PangoFont* font) {
  auto cached = scaled_.find(font);
  if (cached != scaled_.end()) return cached->second;
  auto face = faces_.find(KeyOf(font));
  if (face == faces_.end() || face->second.cairo == nullptr) return nullptr;
  cairo_scaled_font_t* pango = pango_cairo_font_get_scaled_font(PANGO_CAIRO_FONT(font));
  if (pango == nullptr) return nullptr;
  cairo_matrix_t font_matrix, ctm;
  cairo_scaled_font_get_font_matrix(pango, &font_matrix);
  cairo_scaled_font_get_ctm(pango, &ctm);
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_scaled_font_get_font_options(pango, options);
  cairo_scaled_font_t* scaled =
      cairo_scaled_font_create(face->second.cairo, &font_matrix, &ctm, options);
  cairo_font_options_destroy(options);
  scaled_[font] = scaled;
  return scaled;
}

uint32_t SubsetFonts::Glyph(PangoFont* font, uint32_t pango_glyph) const {
  auto face = faces_.find(KeyOf(font));
  if (face == faces_.end() || face->second.old_to_new == nullptr) return 0;
  const hb_codepoint_t mapped = hb_map_get(face->second.old_to_new, pango_glyph);
  return mapped == HB_MAP_VALUE_INVALID ? 0 : mapped;
}

}  // namespace govreport::layout
