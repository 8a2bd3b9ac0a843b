#include "templates/layout/pdf_writer.h"

#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "templates/layout/font_subset.h"
#include "templates/layout/layout.h"
#include "templates/layout/pdf_archival.h"

namespace govreport::layout {
namespace {

cairo_status_t Append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// ISO 8601 as cairo_pdf_surface_set_metadata takes it (it writes the PDF
// date D:YYYYMMDDHHmmSSZ from it).
absl::StatusOr<std::string> Iso8601(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  constexpr sys_seconds kMin{sys_days{year{1} / 1 / 1}};
  constexpr sys_seconds kMax{sys_days{year{9999} / 12 / 31} + hours{24} - seconds{1}};
  if (t < kMin || t > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.timestamp: ", t.time_since_epoch().count(),
                     " s since 1970 is outside the years 1-9999"));
  }
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

void SetRgb(cairo_t* cr, uint32_t rgb) {
  cairo_set_source_rgb(cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0,
                       (rgb & 0xFF) / 255.0);
}

struct PngReader {
  std::string_view rest;
};

cairo_status_t ReadPng(void* closure, unsigned char* data, unsigned int length) {
  auto* reader = static_cast<PngReader*>(closure);
  if (reader->rest.size() < length) return CAIRO_STATUS_READ_ERROR;
  std::copy_n(reader->rest.data(), length, data);
  reader->rest.remove_prefix(length);
  return CAIRO_STATUS_SUCCESS;
}

// The PNG scaled into its box; cairo keeps its alpha as the PDF's soft mask.
absl::Status DrawImage(cairo_t* cr, const PlacedImage& image) {
  PngReader reader{*image.png};
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> png(
      cairo_image_surface_create_from_png_stream(ReadPng, &reader), cairo_surface_destroy);
  const int w = cairo_image_surface_get_width(png.get());
  const int h = cairo_image_surface_get_height(png.get());
  if (cairo_surface_status(png.get()) != CAIRO_STATUS_SUCCESS || w <= 0 || h <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame.seal_image: cairo cannot read the PNG: ",
                     cairo_status_to_string(cairo_surface_status(png.get()))));
  }
  cairo_save(cr);
  cairo_translate(cr, image.x, image.y);
  cairo_scale(cr, image.width / w, image.height / h);
  cairo_set_source_surface(cr, png.get(), 0, 0);
  cairo_paint(cr);
  cairo_restore(cr);
  return absl::OkStatus();
}

// The line's glyphs with the document's font subsets, and its text as
// clusters, so that text extraction gives the characters back (cairo writes
// them as the fonts' ToUnicode maps and ActualText).
absl::Status DrawLine(cairo_t* cr, const PlacedLine& line, SubsetFonts& fonts) {
  const char* text = pango_layout_get_text(line.layout.get());
  double x = line.x;
  std::vector<cairo_glyph_t> glyphs;
  std::vector<cairo_text_cluster_t> clusters;
  for (GSList* r = line.Line()->runs; r != nullptr; r = r->next) {
    const auto* run = static_cast<const PangoGlyphItem*>(r->data);
    const PangoGlyphString* shaped = run->glyphs;
    const PangoItem* item = run->item;
    PangoFont* font = item->analysis.font;
    glyphs.clear();
    clusters.clear();
    int advance = 0;  // Pango units from the run's start
    for (int i = 0; i < shaped->num_glyphs;) {
      const int start = shaped->log_clusters[i];
      int count = 0;
      for (; i < shaped->num_glyphs && shaped->log_clusters[i] == start; ++i) {
        const PangoGlyphInfo& g = shaped->glyphs[i];
        if (!DrawsNothing(g.glyph)) {
          glyphs.push_back(
              {fonts.Glyph(font, g.glyph),
               x + static_cast<double>(advance + g.geometry.x_offset) / PANGO_SCALE,
               line.baseline + static_cast<double>(g.geometry.y_offset) / PANGO_SCALE});
          ++count;
        }
        advance += g.geometry.width;
      }
      const int end = i < shaped->num_glyphs ? shaped->log_clusters[i] : item->length;
      clusters.push_back({end - start, count});
    }
    x += static_cast<double>(advance) / PANGO_SCALE;
    if (glyphs.empty()) continue;  // zero-width spaces only
    cairo_scaled_font_t* scaled = fonts.ScaledFont(font);
    if (scaled == nullptr) return absl::InternalError("no font subset for a run of glyphs");
    cairo_set_scaled_font(cr, scaled);
    cairo_show_text_glyphs(cr, text + item->offset, item->length, glyphs.data(),
                           static_cast<int>(glyphs.size()), clusters.data(),
                           static_cast<int>(clusters.size()),
                           static_cast<cairo_text_cluster_flags_t>(0));
  }
  return absl::OkStatus();
}

absl::Status DrawPage(cairo_t* cr, const Page& page, SubsetFonts& fonts) {
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  for (const Rule& rule : page.rules) {
    SetRgb(cr, rule.rgb);
    cairo_set_line_width(cr, rule.width);
    cairo_move_to(cr, rule.x0, rule.y0);
    cairo_line_to(cr, rule.x1, rule.y1);
    cairo_stroke(cr);
  }
  for (const PlacedLine& line : page.lines) {
    SetRgb(cr, line.rgb);
    if (!line.turned) {
      if (absl::Status drawn = DrawLine(cr, line, fonts); !drawn.ok()) return drawn;
      continue;
    }
    cairo_save(cr);
    cairo_translate(cr, line.x, line.baseline);
    cairo_rotate(cr, M_PI / 2);
    PlacedLine at_origin = line;
    at_origin.x = at_origin.baseline = 0;
    absl::Status drawn = DrawLine(cr, at_origin, fonts);
    cairo_restore(cr);
    if (!drawn.ok()) return drawn;
  }
  for (const PlacedImage& image : page.images) {
    if (absl::Status drawn = DrawImage(cr, image); !drawn.ok()) return drawn;
  }
  return absl::OkStatus();
}

// cairo 1.16 writes the document information's dates without the "D:" that
// a PDF date begins with (ISO 32000-1 7.9.4; cairo 1.17.2 adds it): insert
// it, and move the cross-reference offsets behind it, which are fixed-width
// ten-digit fields, along with startxref.
absl::Status PrefixPdfDates(std::string* pdf) {
  std::vector<size_t> at;
  for (const char* key : {"/CreationDate (", "/ModDate ("}) {
    const size_t pos = pdf->rfind(key);
    if (pos == std::string::npos) continue;
    const size_t value = pos + std::string_view(key).size();
    if (pdf->compare(value, 2, "D:") != 0) at.push_back(value);
  }
  if (at.empty()) return absl::OkStatus();
  std::sort(at.begin(), at.end());
  constexpr std::string_view kD = "D:";
  auto moved = [&](size_t offset) {
    return offset + kD.size() * static_cast<size_t>(std::lower_bound(at.begin(), at.end(), offset) -
                                                    at.begin());
  };
  std::string out;
  out.reserve(pdf->size() + kD.size() * at.size());
  size_t from = 0;
  for (size_t a : at) {
    out.append(*pdf, from, a - from);
    out.append(kD);
    from = a;
  }
  out.append(*pdf, from, std::string::npos);
  const size_t xref = out.rfind("\nxref\n");
  const size_t startxref = out.rfind("\nstartxref\n");
  if (xref == std::string::npos || startxref == std::string::npos || xref < at.back()) {
    return absl::InternalError("cairo: no cross-reference table after the document information");
  }
  // "0 N" and then N entries of 20 bytes: "oooooooooo ggggg n \n".
  size_t line = out.find('\n', xref + 6);
  for (size_t entry = line + 1; entry + 20 <= startxref; entry += 20) {
    if (out[entry + 17] != 'n') continue;  // free entries ('f') keep theirs
    const size_t offset = std::stoul(out.substr(entry, 10));
    const std::string fixed = absl::StrFormat("%010d", moved(offset));
    out.replace(entry, 10, fixed);
  }
  const size_t number = startxref + std::string_view("\nstartxref\n").size();
  const size_t end = out.find('\n', number);
  out.replace(number, end - number,
              absl::StrCat(moved(std::stoul(out.substr(number, end - number)))));
  *pdf = std::move(out);
  return absl::OkStatus();
}

struct SurfaceDestroy {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct CairoDestroy {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

}  // namespace

absl::StatusOr<std::string> WriteOfficialPdf(std::string_view text, const PdfOptions& options) {
  absl::StatusOr<FontMap> fonts = CheckedFonts(options.fonts);
  if (!fonts.ok()) return fonts.status();
  absl::StatusOr<std::string> date = Iso8601(options.timestamp);
  if (!date.ok()) return date.status();
  absl::StatusOr<Document> doc = LayOut(text, options.frame, *fonts);
  if (!doc.ok()) return doc.status();

  SubsetFonts subsets;
  if (absl::Status built = subsets.Build(*doc); !built.ok()) return built;
  std::string out;
  const Page& first = doc->pages.front();
  std::unique_ptr<cairo_surface_t, SurfaceDestroy> surface(
      cairo_pdf_surface_create_for_stream(Append, &out, first.width, first.height));
  cairo_surface_t* s = surface.get();
  const std::string title = options.title.empty() ? doc->title : options.title;
  const std::string author = options.author.empty() ? doc->issuer : options.author;
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title.c_str());
  if (!author.empty()) cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_AUTHOR, author.c_str());
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "govreport");
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, date->c_str());
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, date->c_str());
  {
    std::unique_ptr<cairo_t, CairoDestroy> cr(cairo_create(s));
    int parent = CAIRO_PDF_OUTLINE_ROOT;
    for (const Page& page : doc->pages) {
      // Before anything is drawn on the page: landscape pages of wide tables.
      cairo_pdf_surface_set_size(s, page.width, page.height);
      if (absl::Status drawn = DrawPage(cr.get(), page, subsets); !drawn.ok()) return drawn;
      for (const OutlineEntry& entry : page.outline) {
        const std::string link =
            absl::StrFormat("page=%d pos=[%.2f %.2f]", page.number, 0.0, entry.y);
        const int id = cairo_pdf_surface_add_outline(
            s, entry.level == 0 ? CAIRO_PDF_OUTLINE_ROOT : parent, entry.text.c_str(), link.c_str(),
            static_cast<cairo_pdf_outline_flags_t>(0));
        if (entry.level == 0) parent = id;
      }
      cairo_show_page(cr.get());
    }
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) {
      return absl::InternalError(
          absl::StrCat("cairo: drawing the PDF: ", cairo_status_to_string(cairo_status(cr.get()))));
    }
  }
  cairo_surface_finish(s);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("cairo: writing the PDF: ", cairo_status_to_string(cairo_surface_status(s))));
  }
  if (absl::Status st = PrefixPdfDates(&out); !st.ok()) return st;
  // Without the profile (logged once) the PDF is still written, not claiming PDF/A.
  absl::StatusOr<const IccProfile*> srgb = SrgbProfile();
  if (absl::Status st = AppendArchivalUpdate(&out, {title, author, "govreport", *date},
                                             srgb.ok() ? *srgb : nullptr);
      !st.ok()) {
    return st;
  }
  return out;
}

}  // namespace govreport::layout
