// The seal image (印章): the PNG check that guards its upload, its place
// over the 署名 and 成文日期 in the fixed layout (GB/T 9704 7.3.5.1), and the
// PDF as pdftoppm draws it: red where the seal is, only there on its page.
#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/png.h"
#include "document_checks.h"
#include "gmock/gmock.h"
#include "govreport/templates/v1/templates.pb.h"
#include "gtest/gtest.h"
#include "templates/docx/docx_writer.h"
#include "templates/docx/page_layout.h"
#include "templates/layout/fonts.h"
#include "templates/layout/layout.h"
#include "templates/service/formats.h"
#include "test_png.h"

namespace govreport::layout {
namespace {

using ::testing::HasSubstr;
using testing::OnPath;
using testing::ReadFile;

// A seal as an org would scan it: a red ring and a red star on a
// transparent background, `pixels` square.
std::string SealPng(int pixels = 400) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pixels, pixels);
  cairo_t* cr = cairo_create(surface);
  const double c = pixels / 2.0;
  cairo_set_source_rgba(cr, 0.85, 0.05, 0.05, 0.9);
  cairo_set_line_width(cr, pixels / 25.0);
  cairo_arc(cr, c, c, c - pixels / 20.0, 0, 2 * M_PI);
  cairo_stroke(cr);
  for (int i = 0; i < 10; ++i) {
    const double r = i % 2 == 0 ? pixels / 6.0 : pixels / 15.0;
    const double a = -M_PI / 2 + i * M_PI / 5;
    cairo_line_to(cr, c + r * std::cos(a), c + r * std::sin(a));
  }
  cairo_close_path(cr);
  cairo_fill(cr);
  cairo_destroy(cr);
  return testing::PngOf(surface);
}

TEST(PngInspectTest, TakesAnIntactPngAndGivesItsSize) {
  const absl::StatusOr<png::Info> info = png::Inspect(SealPng(300), "seal");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 300u);
  EXPECT_EQ(info->height, 300u);
  EXPECT_TRUE(info->has_alpha);
}

TEST(PngInspectTest, RefusesWhatIsNoIntactPng) {
  const std::string good = SealPng();
  std::string changed = good;
  changed[changed.size() / 2] ^= 0x01;
  const std::pair<const char*, std::string> bad[] = {
      {"a GIF", std::string("GIF89a\x01\x00\x01\x00", 10)},
      {"nothing", ""},
      {"cut short", good.substr(0, good.size() - 20)},
      {"the signature only", good.substr(0, 8)},
      {"a byte changed", changed},
  };
  for (const auto& [what, bytes] : bad) {
    const absl::StatusOr<png::Info> info = png::Inspect(bytes, "document_settings.seal_image");
    ASSERT_FALSE(info.ok()) << what;
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(info.status().message(), HasSubstr("document_settings.seal_image")) << what;
  }
}

TEST(PngInspectTest, RefusesTooManyBytesOrPixels) {
  const std::string png = SealPng(200);
  absl::StatusOr<png::Info> info = png::Inspect(png, "seal", {.max_bytes = png.size() - 1});
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.status().message(), HasSubstr("at most"));
  info = png::Inspect(png, "seal", {.max_side = 199});
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.status().message(), HasSubstr("200×200 pixels"));
}

// The frame a render gets refuses a bad image by its field's name.
TEST(PngInspectTest, TheRenderFrameNamesTheField) {
  templates::v1::DocumentFrame frame;
  frame.set_sealed(true);
  frame.set_seal_image("not a png");
  const absl::StatusOr<docx::DocumentFrame> f = templates::FrameFromProto(frame);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("frame.seal_image"));
  frame.set_seal_image(SealPng());
  ASSERT_TRUE(templates::FrameFromProto(frame).ok());
}

docx::DocumentFrame SealedFrame() {
  docx::DocumentFrame f;
  f.issuing_mark = "某市科学技术局文件";
  f.document_number = "某科〔2024〕3号";
  f.sealed = true;
  f.seal_image = SealPng();
  return f;
}

std::string FullDocument() {
  return ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / "full_document.txt");
}

struct SealPlace {
  int page = 0;  // 1-based; 0 when there is no image
  PlacedImage image;
  const PlacedLine* date = nullptr;
  int date_index = -1;  // in its page's lines
};

SealPlace FindSeal(const Document& doc) {
  SealPlace out;
  for (const Page& page : doc.pages) {
    if (page.images.empty()) continue;
    out.page = page.number;
    out.image = page.images.front();
    for (size_t i = 0; i < page.lines.size(); ++i) {
      if (page.lines[i].Text() != "2024年1月15日") continue;
      out.date = &page.lines[i];
      out.date_index = static_cast<int>(i);
    }
  }
  return out;
}

TEST(SealLayoutTest, TheSealIsCentredOverTheDateWithItsTopNearTheText) {
  const std::string text = FullDocument();
  ASSERT_FALSE(text.empty());
  const absl::StatusOr<FontMap> fonts = ConfiguredFonts();
  ASSERT_TRUE(fonts.ok()) << fonts.status();
  const absl::StatusOr<Document> doc = LayOut(text, SealedFrame(), *fonts);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const SealPlace seal = FindSeal(*doc);
  ASSERT_GT(seal.page, 0) << "no seal drawn";
  ASSERT_NE(seal.date, nullptr) << "the seal is not on the page of the 成文日期";
  constexpr double kMm = 72 / 25.4;
  EXPECT_NEAR(seal.image.width, 42 * kMm, 0.1);
  EXPECT_NEAR(seal.image.height, 42 * kMm, 0.1);  // a square PNG
  PangoRectangle logical;
  pango_layout_line_get_extents(seal.date->Line(), nullptr, &logical);
  const double date_centre = seal.date->x + logical.width / 2.0 / PANGO_SCALE;
  EXPECT_NEAR(seal.image.x + seal.image.width / 2, date_centre, 0.5);
  // The date's line lies below the seal's centre, inside the seal.
  const double centre_y = seal.image.y + seal.image.height / 2;
  EXPECT_GT(seal.date->baseline, centre_y);
  EXPECT_LT(seal.date->baseline, seal.image.y + seal.image.height);
  // Its top within one line (28.95 pt) below the last line of text, which
  // comes before the 署名 and the date on the page.
  ASSERT_GE(seal.date_index, 2);
  const Page& page = doc->pages[seal.page - 1];
  const PlacedLine& last_text = page.lines[seal.date_index - 2];
  const double pitch = docx::layout::kLinePitch / 20.0;
  EXPECT_GT(seal.image.y, last_text.baseline) << last_text.Text();
  EXPECT_LT(seal.image.y, last_text.baseline + pitch) << last_text.Text();
}

TEST(SealLayoutTest, NoImageWithoutSealedOrWithoutAnImage) {
  const std::string text = FullDocument();
  const absl::StatusOr<FontMap> fonts = ConfiguredFonts();
  ASSERT_TRUE(fonts.ok()) << fonts.status();
  docx::DocumentFrame unsealed = SealedFrame();
  unsealed.sealed = false;
  docx::DocumentFrame no_image = SealedFrame();
  no_image.seal_image.clear();
  for (const docx::DocumentFrame& frame : {unsealed, no_image}) {
    const absl::StatusOr<Document> doc = LayOut(text, frame, *fonts);
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(FindSeal(*doc).page, 0);
  }
}

// pdftoppm's page: red inside the seal's box and none around it (the
// page of the date has no other red).
TEST(SealPdfTest, TheSealIsRedOverTheDate) {
  if (!OnPath("pdftoppm")) GTEST_SKIP() << "pdftoppm is not installed (poppler-utils)";
  const std::string text = FullDocument();
  const absl::StatusOr<FontMap> fonts = ConfiguredFonts();
  ASSERT_TRUE(fonts.ok()) << fonts.status();
  const absl::StatusOr<Document> doc = LayOut(text, SealedFrame(), *fonts);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const SealPlace seal = FindSeal(*doc);
  ASSERT_GT(seal.page, 1);
  const absl::StatusOr<std::string> pdf = templates::ToPdf(text, "", "", 0, SealedFrame());
  ASSERT_TRUE(pdf.ok()) << pdf.status();
  std::string dir = (std::filesystem::temp_directory_path() / "gr_seal_XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/doc.pdf", std::ios::binary) << *pdf;
  const testing::CommandResult drawn =
      testing::RunCommand(absl::StrCat("cd '", dir, "' && pdftoppm -r 72 -f ", seal.page, " -l ",
                                       seal.page, " -singlefile doc.pdf page"));
  ASSERT_EQ(drawn.exit_code, 0) << drawn.output;
  const testing::Pixmap page = testing::ReadPpm(ReadFile(dir + "/page.ppm"));
  if (std::getenv("GR_PDF_KEEP_OUTPUT") == nullptr) std::filesystem::remove_all(dir);
  ASSERT_GT(page.width, 0);
  // 72 dpi: one pixel per point.
  int inside = 0, outside = 0;
  for (int y = 0; y < page.height; ++y) {
    for (int x = 0; x < page.width; ++x) {
      if (!page.Red(x, y)) continue;
      const bool in_box = x >= seal.image.x - 1 && x <= seal.image.x + seal.image.width + 1 &&
                          y >= seal.image.y - 1 && y <= seal.image.y + seal.image.height + 1;
      (in_box ? inside : outside) += 1;
    }
  }
  // The ring alone covers about an eighth of the box.
  EXPECT_GT(inside, seal.image.width * seal.image.height / 16);
  EXPECT_EQ(outside, 0);
}

struct RedBox {
  int left = 1 << 30, top = 1 << 30, right = -1, bottom = -1, pixels = 0;
  double CentreX() const { return (left + right) / 2.0; }
  double CentreY() const { return (top + bottom) / 2.0; }
};

RedBox RedBoxOf(const testing::Pixmap& page) {
  RedBox box;
  for (int y = 0; y < page.height; ++y) {
    for (int x = 0; x < page.width; ++x) {
      if (!page.Red(x, y)) continue;
      box = {std::min(box.left, x), std::min(box.top, y), std::max(box.right, x),
             std::max(box.bottom, y), box.pixels + 1};
    }
  }
  return box;
}

// The date's box on a page as pdftotext -bbox gives it, in points: from the
// word that starts with the year to the last "日" on its line.
struct DateBox {
  double left = -1, right = -1, top = -1, bottom = -1;
};

DateBox DateBoxOf(const std::string& bbox_html) {
  DateBox box;
  const std::regex word(
      R"re(<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>)re");
  for (auto it = std::sregex_iterator(bbox_html.begin(), bbox_html.end(), word);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const double top = std::stod(m[2]);
    const std::string text = m[5];
    if (box.left < 0 && text.starts_with("2024")) {
      box = {std::stod(m[1]), std::stod(m[3]), top, std::stod(m[4])};
    }
    if (box.left >= 0 && std::abs(top - box.top) < 2 && text.ends_with("日")) {
      box.right = std::stod(m[3]);
    }
  }
  return box;
}

// In both the PDF and LibreOffice's rendering of the DOCX, on the page of
// the date (72 dpi, a pixel a point): the seal's red centred on the date
// within 3 mm, the date below the seal's centre and inside it, and the seal
// 42 mm wide; and the DOCX holds the PNG as it was given.
TEST(SealDocxTest, BothRenderingsPutTheSealOverTheDate) {
  for (const char* tool : {"soffice", "pdftoppm", "pdftotext", "unzip"}) {
    if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  const std::string text = FullDocument();
  const absl::StatusOr<std::string> pdf = templates::ToPdf(text, "", "", 0, SealedFrame());
  ASSERT_TRUE(pdf.ok()) << pdf.status();
  docx::DocxOptions options;
  options.frame = SealedFrame();
  const absl::StatusOr<std::string> docx = docx::WriteOfficialDocx(text, options);
  ASSERT_TRUE(docx.ok()) << docx.status();
  std::string dir = (std::filesystem::temp_directory_path() / "gr_seal_XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/ours.pdf", std::ios::binary) << *pdf;
  std::ofstream(dir + "/doc.docx", std::ios::binary) << *docx;
  testing::CommandResult run = testing::RunCommand(
      absl::StrCat("cd '", dir, "' && unzip -p doc.docx word/media/seal.png > seal.png && soffice ",
                   "-env:UserInstallation=file://", dir, "/profile --headless --convert-to ",
                   testing::kSofficePdf, " doc.docx", " >/dev/null"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(ReadFile(dir + "/seal.png"), SealedFrame().seal_image) << "the image part";
  constexpr double kMm = 72 / 25.4;
  for (const char* name : {"ours", "doc"}) {
    SCOPED_TRACE(name);
    // The date's page: the last page that has it.
    run = testing::RunCommand(
        absl::StrCat("cd '", dir, "' && pdftotext -layout ", name, ".pdf - | awk -v RS='\\f' ",
                     "'/2024 *年 *1 *月 *15 *日/ { page = NR } END { print page }'"));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const int page = std::atoi(run.output.c_str());
    ASSERT_GT(page, 0) << "no date found";
    run = testing::RunCommand(absl::StrCat(
        "cd '", dir, "' && pdftoppm -r 72 -f ", page, " -l ", page, " -singlefile ", name, ".pdf ",
        name, " && pdftotext -bbox -f ", page, " -l ", page, " ", name, ".pdf -"));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const DateBox date = DateBoxOf(run.output);
    ASSERT_GE(date.right, 0) << run.output;
    const RedBox seal = RedBoxOf(testing::ReadPpm(ReadFile(absl::StrCat(dir, "/", name, ".ppm"))));
    ASSERT_GT(seal.pixels, 0) << "no seal drawn on page " << page;
    // SealPng's ring spans 94% of the image.
    EXPECT_NEAR(seal.right - seal.left, 0.94 * 42 * kMm, 2 * kMm);
    EXPECT_NEAR(seal.CentreX(), (date.left + date.right) / 2, 3 * kMm);
    EXPECT_GT(date.top, seal.CentreY());
    EXPECT_LT(date.bottom, seal.bottom);
  }
  if (std::getenv("GR_PDF_KEEP_OUTPUT") == nullptr) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace govreport::layout
