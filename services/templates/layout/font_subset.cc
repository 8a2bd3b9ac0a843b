#include "templates/layout/font_subset.h"

#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include <hb-ot.h>
#include <hb-subset.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-font.h>
#include FT_FREETYPE_H
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

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

// The tables every subset drops: hints and layout are of no use once the
// text is shaped.
constexpr const char* kDroppedTables[] = {"GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG",
                                          "vhea", "vmtx", "DSIG", "kern", "morx", "kerx"};

uint32_t BigEndian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// Face `index` of the font `file` without its cmap and the dropped tables.
// HarfBuzz 6's subset plan reads the source's whole cmap to keep the
// characters of the retained glyphs, half of planning a CJK subset, and
// cairo then looks each glyph's character up by walking the subset's cmap;
// the PDF draws by glyph id and takes its ToUnicode maps from the text, so
// its subsets need no cmap. The file is mapped copy-on-write and only the
// face's table directory is rewritten, so the tables stay shared with the
// page cache (copying them out would cost ~80 MB for the five faces).
// nullptr when the file is not a font HarfBuzz could read.
hb_face_t* WithoutCmap(const std::string& file, int index) {
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* mapped = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size > 12) {
    mapped =
        mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  }
  close(fd);
  if (mapped == MAP_FAILED) return nullptr;
  const auto size = static_cast<size_t>(st.st_size);
  auto* bytes = static_cast<uint8_t*>(mapped);
  size_t dir = 0;  // the face's offset table: version, numTables, 3 × uint16, 16-byte records
  if (std::memcmp(bytes, "ttcf", 4) == 0) {
    const uint32_t faces = BigEndian(bytes + 8, 4);
    dir = index >= 0 && static_cast<uint32_t>(index) < faces &&
                  12 + 4 * static_cast<size_t>(faces) <= size
              ? BigEndian(bytes + 12 + 4 * static_cast<size_t>(index), 4)
              : size;
  }
  const uint32_t tables = dir + 12 <= size ? BigEndian(bytes + dir + 4, 2) : 0;
  if (tables == 0 || dir + 12 + 16 * static_cast<size_t>(tables) > size) {
    munmap(mapped, size);
    return nullptr;
  }
  std::set<uint32_t> skipped = {HB_TAG('c', 'm', 'a', 'p')};
  for (const char* tag : kDroppedTables) skipped.insert(hb_tag_from_string(tag, 4));
  uint8_t* records = bytes + dir + 12;
  size_t kept = 0;  // the records stay sorted by tag, as readers look them up
  for (size_t i = 0; i < tables; ++i) {
    if (skipped.count(BigEndian(records + 16 * i, 4)) != 0) continue;
    std::memmove(records + 16 * kept, records + 16 * i, 16);
    ++kept;
  }
  bytes[dir + 4] = static_cast<uint8_t>(kept >> 8);
  bytes[dir + 5] = static_cast<uint8_t>(kept & 0xFF);
  hb_blob_t* blob = hb_blob_create(reinterpret_cast<const char*>(bytes),
                                   static_cast<unsigned int>(size), HB_MEMORY_MODE_READONLY,
                                   new std::pair<void*, size_t>(mapped, size), [](void* p) {
                                     auto* m = static_cast<std::pair<void*, size_t>*>(p);
                                     munmap(m->first, m->second);
                                     delete m;
                                   });
  hb_face_t* face = hb_face_create(blob, static_cast<unsigned int>(index));
  hb_blob_destroy(blob);
  return face;
}

// The source the PDF's subsets of `font`'s face are cut from: that face
// WithoutCmap, made once per font file and face index for the process and
// shared by every thread (each thread's Pango font map has its own faces of
// the same files; a HarfBuzz face is safe to read from any thread). The
// face itself when fontconfig does not say the file.
hb_face_t* PdfSubsetSource(PangoFont* font, hb_face_t* face) {
  FcPattern* pattern =
      PANGO_IS_FC_FONT(font) ? pango_fc_font_get_pattern(PANGO_FC_FONT(font)) : nullptr;
  FcChar8* file = nullptr;
  int index = 0;
  if (pattern == nullptr || FcPatternGetString(pattern, FC_FILE, 0, &file) != FcResultMatch) {
    return face;
  }
  FcPatternGetInteger(pattern, FC_INDEX, 0, &index);
  index &= 0xFFFF;  // above: a variable font's named instance, the same tables
  static std::mutex mu;
  static auto* sources = new std::map<std::pair<std::string, int>, hb_face_t*>;  // never freed
  const std::lock_guard<std::mutex> lock(mu);
  auto [it, fresh] = sources->try_emplace({reinterpret_cast<const char*>(file), index}, nullptr);
  if (fresh) {
    it->second = WithoutCmap(it->first.first, index);
    // Not the font Pango shaped with (the file changed on disk?): its own face.
    if (it->second != nullptr &&
        hb_face_get_glyph_count(it->second) != hb_face_get_glyph_count(face)) {
      hb_face_destroy(it->second);
      it->second = nullptr;
    }
  }
  return it->second == nullptr ? face : it->second;
}

// A subset of `face` with `glyphs` (and, in its cmap, `unicodes`), without
// hints and the tables a PDF does not use (shaping is done).
absl::Status Subset(hb_face_t* face, const hb_set_t* glyphs, const hb_set_t* unicodes,
                    hb_subset_plan_t** plan, cairo_font_face_t** cairo_face, hb_blob_t** blob) {
  hb_subset_input_t* input = hb_subset_input_create_or_fail();
  if (input == nullptr) return absl::InternalError("HarfBuzz: no subset input");
  hb_set_union(hb_subset_input_glyph_set(input), glyphs);
  hb_set_union(hb_subset_input_unicode_set(input), unicodes);
  // Flattened charstrings: smaller here and quicker to make.
  hb_subset_input_set_flags(input, HB_SUBSET_FLAGS_NO_HINTING | HB_SUBSET_FLAGS_DESUBROUTINIZE);
  hb_set_t* drop = hb_subset_input_set(input, HB_SUBSET_SETS_DROP_TABLE_TAG);
  for (const char* tag : kDroppedTables) hb_set_add(drop, hb_tag_from_string(tag, 4));
  *plan = hb_subset_plan_create_or_fail(face, input);
  hb_subset_input_destroy(input);
  if (*plan == nullptr) return absl::InternalError("HarfBuzz: cannot plan the font subset");
  hb_face_t* subset = hb_subset_plan_execute_or_fail(*plan);
  if (subset == nullptr) return absl::InternalError("HarfBuzz: cannot subset the font");
  auto* data = new FaceData;
  data->bytes = hb_face_reference_blob(subset);
  hb_face_destroy(subset);
  *blob = hb_blob_reference(data->bytes);
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
    hb_blob_destroy(face.bytes);
  }
}

absl::Status SubsetFonts::Build(const Document& doc, bool keep_cmap) {
  struct Used {
    hb_set_t* glyphs = hb_set_create();
    hb_set_t* unicodes = hb_set_create();
    PangoFont* first = nullptr;
  };
  std::map<FaceKey, Used> used;
  std::vector<FaceKey> order;  // of first use, so the output does not depend on addresses
  for (const Page& page : doc.pages) {
    for (const PlacedLine& line : page.lines) {
      const char* text = pango_layout_get_text(line.layout.get());
      for (GSList* r = line.Line()->runs; r != nullptr; r = r->next) {
        const auto* run = static_cast<const PangoGlyphItem*>(r->data);
        const FaceKey key = KeyOf(run->item->analysis.font);
        if (key.first == nullptr) continue;
        auto [it, fresh] = used.try_emplace(key);
        if (fresh) {
          it->second.first = run->item->analysis.font;
          order.push_back(key);
        }
        for (int i = 0; i < run->glyphs->num_glyphs; ++i) {
          const uint32_t glyph = run->glyphs->glyphs[i].glyph;
          if (!DrawsNothing(glyph)) hb_set_add(it->second.glyphs, glyph);
        }
        if (!keep_cmap) continue;
        const char* end = text + run->item->offset + run->item->length;
        for (const char* p = text + run->item->offset; p < end; p = g_utf8_next_char(p)) {
          hb_set_add(it->second.unicodes, g_utf8_get_char(p));
        }
      }
    }
  }
  absl::Status status;
  for (const FaceKey& key : order) {
    Used& in = used[key];
    Face& out = faces_[key];
    out.order = static_cast<int>(order_.size());
    order_.push_back(key);
    PangoFontDescription* described = pango_font_describe(in.first);
    out.family = pango_font_description_get_family(described);
    out.bold = key.second || pango_font_description_get_weight(described) >= PANGO_WEIGHT_SEMIBOLD;
    pango_font_description_free(described);
    if (status.ok()) {
      hb_face_t* source = keep_cmap ? key.first : PdfSubsetSource(in.first, key.first);
      status = Subset(source, in.glyphs, in.unicodes, &out.plan, &out.cairo, &out.bytes);
    }
    if (status.ok() && key.second) {
      cairo_ft_font_face_set_synthesize(out.cairo, CAIRO_FT_SYNTHESIZE_BOLD);
    }
    if (out.plan != nullptr) out.old_to_new = hb_subset_plan_old_to_new_glyph_mapping(out.plan);
    hb_set_destroy(in.glyphs);
    hb_set_destroy(in.unicodes);
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

std::vector<SubsetFonts::EmbeddedFace> SubsetFonts::Embedded() const {
  std::vector<EmbeddedFace> out;
  for (const FaceKey& key : order_) {
    const Face& face = faces_.at(key);
    EmbeddedFace e;
    unsigned int length = 0;
    const char* data = face.bytes == nullptr ? nullptr : hb_blob_get_data(face.bytes, &length);
    if (data != nullptr) e.bytes = std::string_view(data, length);
    e.family = face.family;
    char name[128];
    unsigned int size = sizeof name;
    if (hb_ot_name_get_utf8(key.first, HB_OT_NAME_ID_POSTSCRIPT_NAME,
                            hb_language_from_string("en", -1), &size, name) > 0) {
      e.postscript_name = name;
    }
    e.bold = face.bold;
    e.emboldened = key.second;
    out.push_back(std::move(e));
  }
  return out;
}

int SubsetFonts::FaceIndex(PangoFont* font) const {
  auto face = faces_.find(KeyOf(font));
  return face == faces_.end() ? -1 : face->second.order;
}

}  // namespace govreport::layout
