#include "templates/layout/ofd_writer.h"

#include <hb.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "templates/docx/text_util.h"
#include "templates/docx/zip_writer.h"
#include "templates/layout/font_subset.h"

namespace govreport::layout {
namespace {

using docx::internal::AppendXmlEscaped;

constexpr double kMmPerPoint = 25.4 / 72;  // OFD measures in millimetres
constexpr absl::string_view kXmlHead = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr absl::string_view kNamespace = "xmlns:ofd=\"http://www.ofdspec.org/2016\"";

// Millimetres to a thousandth (a micrometre), without trailing zeros.
std::string Num(double mm) {
  std::string s = absl::StrFormat("%.3f", mm);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

double Rounded(double mm) { return std::round(mm * 1000) / 1000; }

std::string Rgb(uint32_t rgb) {
  return absl::StrCat((rgb >> 16) & 0xFF, " ", (rgb >> 8) & 0xFF, " ", rgb & 0xFF);
}

// A page's size in millimetres to a tenth: the layout's points are A4's
// rounded (595.3 × 841.9), which is 210 × 297 mm.
std::string PageBox(const Page& page) {
  auto tenth = [](double pt) { return std::round(pt * kMmPerPoint * 10) / 10; };
  return absl::StrCat("0 0 ", Num(tenth(page.width)), " ", Num(tenth(page.height)));
}

std::string Box(double x, double y, double w, double h) {
  return absl::StrCat(Num(x), " ", Num(y), " ", Num(w), " ", Num(h));
}

absl::StatusOr<std::chrono::year_month_day> DateOf(std::chrono::sys_seconds t) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(t)};
  if (!ymd.ok() || ymd.year() < year{1} || ymd.year() > year{9999}) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.timestamp: ", t.time_since_epoch().count(),
                     " s since 1970 is outside the years 1-9999"));
  }
  return ymd;
}

// One character of a run as the OFD places it: where its cluster's first
// glyph is, in points along the line from the line's start.
struct PlacedChar {
  std::string utf8;
  double u = 0;
};

// A cluster whose glyphs are not the characters' own (cmap) glyphs: the OFD
// names them by id in a CGTransform.
struct GlyphMapping {
  int code_position = 0, code_count = 0;
  std::vector<uint32_t> glyphs;  // ids in the subset
};

struct ShapedRun {
  PangoFont* font = nullptr;
  std::vector<PlacedChar> chars;
  std::vector<GlyphMapping> mappings;
  double end_u = 0;  // the pen after the run
};

// Whether `glyph` is what the font's cmap gives for the cluster's single
// character (then a reader finds it from the TextCode alone).
bool IsNominal(PangoFont* font, std::string_view cluster, uint32_t glyph) {
  if (cluster.empty() || g_utf8_next_char(cluster.data()) != cluster.data() + cluster.size()) {
    return false;
  }
  hb_font_t* hb = pango_font_get_hb_font(font);
  hb_codepoint_t nominal = 0;
  return hb != nullptr &&
         hb_font_get_nominal_glyph(hb, g_utf8_get_char(cluster.data()), &nominal) &&
         nominal == glyph;
}

// The run's drawn characters by cluster; clusters that draw nothing (the
// layout's zero-width spaces) are left out, as the PDF leaves them out.
ShapedRun Shape(const PangoGlyphItem* run, const char* text, double start_u, SubsetFonts& fonts) {
  ShapedRun out;
  const PangoGlyphString* shaped = run->glyphs;
  const PangoItem* item = run->item;
  out.font = item->analysis.font;
  int advance = 0;  // Pango units from the run's start
  for (int i = 0; i < shaped->num_glyphs;) {
    const int start = shaped->log_clusters[i];
    std::vector<uint32_t> drawn, original;
    double u = -1;
    for (; i < shaped->num_glyphs && shaped->log_clusters[i] == start; ++i) {
      const PangoGlyphInfo& g = shaped->glyphs[i];
      if (!DrawsNothing(g.glyph)) {
        if (drawn.empty())
          u = start_u + static_cast<double>(advance + g.geometry.x_offset) / PANGO_SCALE;
        drawn.push_back(fonts.Glyph(out.font, g.glyph));
        original.push_back(g.glyph);
      }
      advance += g.geometry.width;
    }
    const int end = i < shaped->num_glyphs ? shaped->log_clusters[i] : item->length;
    if (drawn.empty() || end <= start) continue;
    const std::string_view cluster(text + item->offset + start, static_cast<size_t>(end - start));
    const int position = static_cast<int>(out.chars.size());
    for (const char* p = cluster.data(); p < cluster.data() + cluster.size();
         p = g_utf8_next_char(p)) {
      out.chars.push_back({std::string(p, static_cast<size_t>(g_utf8_next_char(p) - p)), u});
    }
    if (drawn.size() != 1 || !IsNominal(out.font, cluster, original.front())) {
      out.mappings.push_back(
          {position, static_cast<int>(out.chars.size()) - position, std::move(drawn)});
    }
  }
  out.end_u = start_u + static_cast<double>(advance) / PANGO_SCALE;
  return out;
}

double SizeInPoints(PangoFont* font) {
  PangoFontDescription* described = pango_font_describe(font);
  const double size = static_cast<double>(pango_font_description_get_size(described)) / PANGO_SCALE;
  pango_font_description_free(described);
  return size;
}

// What the page writers share: the next free ID, the fonts and their IDs.
struct Context {
  SubsetFonts* fonts = nullptr;
  const std::vector<SubsetFonts::EmbeddedFace>* faces = nullptr;
  std::vector<int> font_ids;  // by SubsetFonts::FaceIndex
  std::map<const std::string*, int> media_ids;
  int next_id = 1;
  int NewId() { return next_id++; }
};

// The run as one TextObject with one TextCode. Its Boundary is a box round
// the run with an em to spare (readers clip to it); TextCode's X and Y are
// in the object's space, whose origin is the Boundary's corner. A turned
// line is drawn along its baseline in that space and turned by the CTM.
void AppendRun(std::string* xml, const PlacedLine& line, const ShapedRun& run, Context& ctx) {
  const double size = SizeInPoints(run.font) * kMmPerPoint;
  const double u0 = Rounded(run.chars.front().u * kMmPerPoint);
  const double u1 = run.end_u * kMmPerPoint;
  const double x = line.x * kMmPerPoint, baseline = line.baseline * kMmPerPoint;
  double bx = 0, by = 0, bw = 0, bh = 0, code_x = 0, code_y = 0;
  std::string ctm;
  if (!line.turned) {
    bx = Rounded(x + u0 - size), by = Rounded(baseline - 1.5 * size);
    bw = u1 - u0 + 2 * size, bh = 2.5 * size;
    code_x = x + u0 - bx, code_y = baseline - by;
  } else {
    // Page (X, Y) = (x − v, baseline + u) for (u, v) along and across the
    // baseline, v upwards negative as everywhere in OFD.
    bx = Rounded(x - size), by = Rounded(baseline + u0 - size);
    bw = 2.5 * size, bh = u1 - u0 + 2 * size;
    ctm = absl::StrCat(" CTM=\"0 1 -1 0 ", Num(x - bx), " ", Num(baseline - by), "\"");
    code_x = u0;
  }
  const auto index = static_cast<size_t>(ctx.fonts->FaceIndex(run.font));
  const SubsetFonts::EmbeddedFace& face = (*ctx.faces)[index];
  absl::StrAppend(xml, "<ofd:TextObject ID=\"", ctx.NewId(), "\" Boundary=\"", Box(bx, by, bw, bh),
                  "\"", ctm, " Font=\"", ctx.font_ids[index], "\" Size=\"", Num(size), "\"",
                  face.emboldened ? " Weight=\"700\"" : "", "><ofd:FillColor Value=\"",
                  Rgb(line.rgb), "\"/>");
  for (const GlyphMapping& m : run.mappings) {
    absl::StrAppend(xml, "<ofd:CGTransform CodePosition=\"", m.code_position, "\" CodeCount=\"",
                    m.code_count, "\" GlyphCount=\"", m.glyphs.size(), "\"><ofd:Glyphs>");
    for (size_t g = 0; g < m.glyphs.size(); ++g) absl::StrAppend(xml, g ? " " : "", m.glyphs[g]);
    *xml += "</ofd:Glyphs></ofd:CGTransform>";
  }
  absl::StrAppend(xml, "<ofd:TextCode X=\"", Num(code_x), "\" Y=\"", Num(code_y), "\"");
  if (run.chars.size() > 1) {
    *xml += " DeltaX=\"";
    double previous = u0;
    for (size_t c = 1; c < run.chars.size(); ++c) {
      const double u = Rounded(run.chars[c].u * kMmPerPoint);
      absl::StrAppend(xml, c > 1 ? " " : "", Num(u - previous));
      previous = u;
    }
    *xml += "\"";
  }
  *xml += ">";
  for (const PlacedChar& c : run.chars) AppendXmlEscaped(xml, c.utf8);
  *xml += "</ofd:TextCode></ofd:TextObject>";
}

void AppendLine(std::string* xml, const PlacedLine& line, Context& ctx) {
  const char* text = pango_layout_get_text(line.layout.get());
  double u = 0;
  for (GSList* r = line.Line()->runs; r != nullptr; r = r->next) {
    const auto* glyph_item = static_cast<const PangoGlyphItem*>(r->data);
    const ShapedRun run = Shape(glyph_item, text, u, *ctx.fonts);
    u = run.end_u;
    if (run.chars.empty() || ctx.fonts->FaceIndex(run.font) < 0) continue;
    AppendRun(xml, line, run, ctx);
  }
}

void AppendRule(std::string* xml, const Rule& rule, Context& ctx) {
  const double w = rule.width * kMmPerPoint;
  const double x0 = rule.x0 * kMmPerPoint, y0 = rule.y0 * kMmPerPoint;
  const double x1 = rule.x1 * kMmPerPoint, y1 = rule.y1 * kMmPerPoint;
  const double bx = Rounded(std::min(x0, x1) - w), by = Rounded(std::min(y0, y1) - w);
  absl::StrAppend(xml, "<ofd:PathObject ID=\"", ctx.NewId(), "\" Boundary=\"",
                  Box(bx, by, std::abs(x1 - x0) + 2 * w, std::abs(y1 - y0) + 2 * w),
                  "\" LineWidth=\"", Num(w), "\"><ofd:StrokeColor Value=\"", Rgb(rule.rgb),
                  "\"/><ofd:AbbreviatedData>M ", Num(x0 - bx), " ", Num(y0 - by), " L ",
                  Num(x1 - bx), " ", Num(y1 - by), "</ofd:AbbreviatedData></ofd:PathObject>");
}

// An image fills its object's unit square; the CTM scales it to its box.
void AppendImage(std::string* xml, const PlacedImage& image, Context& ctx) {
  const double w = image.width * kMmPerPoint, h = image.height * kMmPerPoint;
  absl::StrAppend(xml, "<ofd:ImageObject ID=\"", ctx.NewId(), "\" Boundary=\"",
                  Box(image.x * kMmPerPoint, image.y * kMmPerPoint, w, h), "\" CTM=\"", Num(w),
                  " 0 0 ", Num(h), " 0 0\" ResourceID=\"", ctx.media_ids.at(image.png.get()),
                  "\"/>");
}

// Rules first, then text, then images over both, as the PDF draws them. A
// page of another size than the document's (a landscape table) has its own
// Area.
std::string PageXml(const Page& page, const Page& first, Context& ctx) {
  std::string xml = absl::StrCat(kXmlHead, "<ofd:Page ", kNamespace, ">");
  if (page.width != first.width || page.height != first.height) {
    absl::StrAppend(&xml, "<ofd:Area><ofd:PhysicalBox>", PageBox(page),
                    "</ofd:PhysicalBox></ofd:Area>");
  }
  absl::StrAppend(&xml, "<ofd:Content><ofd:Layer ID=\"", ctx.NewId(), R"(" Type="Body">)");
  for (const Rule& rule : page.rules) AppendRule(&xml, rule, ctx);
  for (const PlacedLine& line : page.lines) AppendLine(&xml, line, ctx);
  for (const PlacedImage& image : page.images) AppendImage(&xml, image, ctx);
  xml += "</ofd:Layer></ofd:Content></ofd:Page>\n";
  return xml;
}

std::string FontFileName(const SubsetFonts::EmbeddedFace& face, size_t index) {
  // CFF outlines ('OTTO') or TrueType ones.
  return absl::StrCat("font_", index, face.bytes.starts_with("OTTO") ? ".otf" : ".ttf");
}

std::string PublicResXml(const std::vector<SubsetFonts::EmbeddedFace>& faces,
                         const std::vector<int>& ids) {
  std::string xml = absl::StrCat(kXmlHead, "<ofd:Res ", kNamespace, " BaseLoc=\"Res\">");
  if (!faces.empty()) xml += "<ofd:Fonts>";
  for (size_t i = 0; i < faces.size(); ++i) {
    const SubsetFonts::EmbeddedFace& face = faces[i];
    absl::StrAppend(&xml, "<ofd:Font ID=\"", ids[i], "\" FontName=\"");
    AppendXmlEscaped(&xml, face.postscript_name.empty() ? face.family : face.postscript_name);
    xml += "\" FamilyName=\"";
    AppendXmlEscaped(&xml, face.family);
    absl::StrAppend(&xml, "\"", face.bold ? " Bold=\"true\"" : "", "><ofd:FontFile>",
                    FontFileName(face, i), "</ofd:FontFile></ofd:Font>");
  }
  if (!faces.empty()) xml += "</ofd:Fonts>";
  xml += "</ofd:Res>\n";
  return xml;
}

std::string MediaFileName(int id) { return absl::StrCat("image_", id, ".png"); }

std::string DocumentResXml(const std::map<const std::string*, int>& media) {
  std::string xml =
      absl::StrCat(kXmlHead, "<ofd:Res ", kNamespace, " BaseLoc=\"Res\"><ofd:MultiMedias>");
  std::vector<int> ids;
  ids.reserve(media.size());
  for (const auto& [png, id] : media) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (int id : ids) {
    absl::StrAppend(&xml, "<ofd:MultiMedia ID=\"", id,
                    R"(" Type="Image" Format="PNG"><ofd:MediaFile>)", MediaFileName(id),
                    "</ofd:MediaFile></ofd:MultiMedia>");
  }
  xml += "</ofd:MultiMedias></ofd:Res>\n";
  return xml;
}

// The outline (bookmarks) as the PDF has it: titles, and 一、 headings under
// the title before them.
void AppendOutlines(std::string* xml, const Document& doc, const std::vector<int>& page_ids) {
  bool any = false, open = false;
  for (size_t p = 0; p < doc.pages.size(); ++p) {
    for (const OutlineEntry& entry : doc.pages[p].outline) {
      if (!any) *xml += "<ofd:Outlines>";
      any = true;
      if (entry.level == 0 && open) *xml += "</ofd:OutlineElem>";
      *xml += "<ofd:OutlineElem Title=\"";
      AppendXmlEscaped(xml, entry.text);
      absl::StrAppend(
          xml,
          R"("><ofd:Actions><ofd:Action Event="CLICK"><ofd:Goto><ofd:Dest Type="XYZ" PageID=")",
          page_ids[p], R"(" Left="0" Top=")", Num(entry.y * kMmPerPoint),
          "\"/></ofd:Goto></ofd:Action></ofd:Actions>");
      if (entry.level == 0) {
        open = true;
      } else {
        *xml += "</ofd:OutlineElem>";
      }
    }
  }
  if (open) *xml += "</ofd:OutlineElem>";
  if (any) *xml += "</ofd:Outlines>";
}

std::string DocumentXml(const Document& doc, const std::vector<int>& page_ids, int max_id,
                        bool has_media) {
  const Page& first = doc.pages.front();
  std::string xml =
      absl::StrCat(kXmlHead, "<ofd:Document ", kNamespace, "><ofd:CommonData><ofd:MaxUnitID>",
                   max_id, "</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>", PageBox(first),
                   "</ofd:PhysicalBox></ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes>",
                   has_media ? "<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes>" : "",
                   "</ofd:CommonData><ofd:Pages>");
  for (size_t p = 0; p < page_ids.size(); ++p) {
    absl::StrAppend(&xml, "<ofd:Page ID=\"", page_ids[p], "\" BaseLoc=\"Pages/Page_", p,
                    "/Content.xml\"/>");
  }
  xml += "</ofd:Pages>";
  AppendOutlines(&xml, doc, page_ids);
  xml += "</ofd:Document>\n";
  return xml;
}

std::string OfdXml(const OfdOptions& options, const Document& doc, std::string_view doc_id,
                   std::chrono::year_month_day date) {
  std::string xml = absl::StrCat(kXmlHead, "<ofd:OFD ", kNamespace,
                                 " Version=\"1.0\" DocType=\"OFD\"><ofd:DocBody><ofd:DocInfo>"
                                 "<ofd:DocID>");
  AppendXmlEscaped(&xml, doc_id);
  xml += "</ofd:DocID><ofd:Title>";
  AppendXmlEscaped(&xml, options.title.empty() ? doc.title : options.title);
  xml += "</ofd:Title>";
  const std::string& author = options.author.empty() ? doc.issuer : options.author;
  if (!author.empty()) {
    xml += "<ofd:Author>";
    AppendXmlEscaped(&xml, author);
    xml += "</ofd:Author>";
  }
  const std::string day =
      absl::StrFormat("%04d-%02u-%02u", static_cast<int>(date.year()),
                      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  absl::StrAppend(&xml, "<ofd:CreationDate>", day, "</ofd:CreationDate><ofd:ModDate>", day,
                  "</ofd:ModDate><ofd:Creator>govreport</ofd:Creator></ofd:DocInfo>"
                  "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>\n");
  return xml;
}

// FNV-1a, twice with different bases: an identifier of the content, not a
// digest anything relies on (the publication's manifest has the SHA-256).
std::string ContentId(const std::vector<std::string>& parts) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (const std::string& part : parts) {
    for (unsigned char c : part) {
      a = (a ^ c) * 0x100000001b3ULL;
      b = (b ^ c) * 0x100000001b3ULL;
    }
  }
  return absl::StrFormat("%016x%016x", a, b);
}

}  // namespace

absl::StatusOr<std::string> WriteOfd(const Document& doc, const OfdOptions& options) {
  absl::StatusOr<std::chrono::year_month_day> date = DateOf(options.timestamp);
  if (!date.ok()) return date.status();
  if (doc.pages.empty()) return absl::InvalidArgumentError("the document has no page");
  SubsetFonts fonts;
  if (absl::Status built = fonts.Build(doc, /*keep_cmap=*/true); !built.ok()) return built;
  const std::vector<SubsetFonts::EmbeddedFace> faces = fonts.Embedded();

  Context ctx;
  ctx.fonts = &fonts;
  ctx.faces = &faces;
  for (size_t i = 0; i < faces.size(); ++i) ctx.font_ids.push_back(ctx.NewId());
  std::vector<const std::string*> media;  // in order of first use
  for (const Page& page : doc.pages) {
    for (const PlacedImage& image : page.images) {
      if (ctx.media_ids.try_emplace(image.png.get(), 0).second) media.push_back(image.png.get());
    }
  }
  for (const std::string* png : media) ctx.media_ids[png] = ctx.NewId();
  std::vector<int> page_ids;
  for (size_t p = 0; p < doc.pages.size(); ++p) page_ids.push_back(ctx.NewId());
  std::vector<std::string> pages;
  for (const Page& page : doc.pages) pages.push_back(PageXml(page, doc.pages.front(), ctx));

  const std::string doc_id = options.doc_id.empty() ? ContentId(pages) : options.doc_id;
  std::vector<std::pair<std::string, std::string>> parts = {
      {std::string(kOfdEntry), OfdXml(options, doc, doc_id, *date)},
      {std::string(kOfdDocument), DocumentXml(doc, page_ids, ctx.next_id - 1, !media.empty())},
      {"Doc_0/PublicRes.xml", PublicResXml(faces, ctx.font_ids)}};
  if (!media.empty()) parts.emplace_back("Doc_0/DocumentRes.xml", DocumentResXml(ctx.media_ids));
  for (size_t p = 0; p < pages.size(); ++p) {
    parts.emplace_back(absl::StrCat("Doc_0/Pages/Page_", p, "/Content.xml"), std::move(pages[p]));
  }
  std::vector<docx::internal::DeflatedEntry> entries;
  entries.reserve(parts.size() + faces.size() + media.size());
  auto add = [&](std::string name, std::string_view data, int level) -> absl::Status {
    absl::StatusOr<docx::internal::DeflatedEntry> e =
        docx::internal::Deflate(std::move(name), data, level);
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
    return absl::OkStatus();
  };
  for (const auto& [name, xml] : parts) {
    if (absl::Status s = add(name, xml, 6); !s.ok()) return s;
  }
  for (size_t i = 0; i < faces.size(); ++i) {
    if (absl::Status s =
            add(absl::StrCat("Doc_0/Res/", FontFileName(faces[i], i)), faces[i].bytes, 6);
        !s.ok()) {
      return s;
    }
  }
  for (const std::string* png : media) {  // already compressed
    if (absl::Status s =
            add(absl::StrCat("Doc_0/Res/", MediaFileName(ctx.media_ids[png])), *png, 0);
        !s.ok()) {
      return s;
    }
  }
  std::vector<const docx::internal::DeflatedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  return docx::internal::ZipDeflated(order, docx::internal::DosTimeOf(options.timestamp));
}

absl::StatusOr<std::string> WriteOfficialOfd(std::string_view text, const OfdOptions& options) {
  absl::StatusOr<FontMap> fonts = CheckedFonts(options.fonts);
  if (!fonts.ok()) return fonts.status();
  if (absl::StatusOr<std::chrono::year_month_day> date = DateOf(options.timestamp); !date.ok()) {
    return date.status();
  }
  absl::StatusOr<Document> doc = LayOut(text, options.frame, *fonts);
  if (!doc.ok()) return doc.status();
  return WriteOfd(*doc, options);
}

}  // namespace govreport::layout
