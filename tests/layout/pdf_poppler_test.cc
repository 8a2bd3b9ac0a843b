// The PDF read back by real tools: poppler's pdftotext gives the TXT format's
// text (modulo layout whitespace, table rules and page numbers), pdffonts
// lists every font embedded, pdftoppm shows the 发文机关标志 and the line
// below it in red, and LibreOffice's rendering of the DOCX of the same input
// has as many pages. Skips when poppler (or, for the page count, soffice) is
// not installed.
#include <cairo-pdf.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "govreport/type/v1/document_format.pb.h"
#include "gtest/gtest.h"
#include "templates/docx/docx_writer.h"
#include "templates/layout/pdf_archival.h"
#include "templates/layout/pdf_writer.h"
#include "templates/service/formats.h"

namespace govreport::layout {
namespace {

using ::testing::HasSubstr;
using testing::OnPath;
using testing::ReadFile;
using testing::Squeeze;

std::string Fixture(const char* name) {
  return ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / name);
}

// The TXT format without what only plain text has: the red line and the
// 版记's rules (lines of dashes), a table's +---+ rules and | separators.
std::string TextOfTxt(const std::string& txt) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(txt, '\n')) {
    if (line.find_first_not_of("-+ \f") == absl::string_view::npos) continue;
    std::string l(line);
    if (l.starts_with("|")) std::erase(l, '|');
    absl::StrAppend(&out, l, "\n");
  }
  return Squeeze(out);
}

struct Case {
  const char* fixture;
  bool framed;
};

class PdfPopplerTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    for (const char* tool : {"pdftotext", "pdffonts", "pdfinfo", "pdftoppm"}) {
      if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed (poppler-utils)";
    }
    std::string dir_template = (std::filesystem::temp_directory_path() / "gr_pdf_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
    text_ = Fixture(GetParam().fixture);
    ASSERT_FALSE(text_.empty());
    if (GetParam().framed) frame_ = testing::FullDocumentFrame();
    // Through the templates service's formats, as a render asks for it.
    absl::StatusOr<std::string> pdf = templates::ToPdf(text_, "", "", 0, frame_);
    ASSERT_TRUE(pdf.ok()) << pdf.status();
    std::ofstream(dir_ / "doc.pdf", std::ios::binary) << *pdf;
  }
  void TearDown() override {
    if (!dir_.empty() && std::getenv("GR_PDF_KEEP_OUTPUT") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Runs `command` in dir_; its stdout and stderr go to `log`.
  int Run(const std::string& command, const std::string& log) {
    return std::system(absl::StrCat("cd '", dir_.string(), "' && ", command, " >'",
                                    (dir_ / log).string(), "' 2>&1")
                           .c_str());
  }
  std::string Output(const std::string& command) {
    const std::string log = absl::StrCat("out", ++runs_, ".log");
    EXPECT_EQ(Run(command, log), 0) << command << ": " << ReadFile(dir_ / log);
    return ReadFile(dir_ / log);
  }
  int Pages(const std::string& pdf) {
    std::smatch m;
    const std::string info = Output(absl::StrCat("pdfinfo ", pdf));
    return std::regex_search(info, m, std::regex(R"(Pages:\s+(\d+))")) ? std::stoi(m[1]) : 0;
  }

  std::filesystem::path dir_;
  std::string text_;
  docx::DocumentFrame frame_;
  int runs_ = 0;
};

// In the order the content is drawn (-raw), which is the reading order;
// the page numbers, drawn last on each page, left out.
TEST_P(PdfPopplerTest, TextIsTheTxtFormatsText) {
  const absl::StatusOr<std::string> txt = templates::ToText(text_, frame_);
  ASSERT_TRUE(txt.ok()) << txt.status();
  std::string pdf = Squeeze(Output("pdftotext -raw -enc UTF-8 doc.pdf -"));
  pdf = std::regex_replace(pdf, std::regex("—\\d+—"), "");
  EXPECT_EQ(pdf, TextOfTxt(*txt));
  // pdfinfo reads the document information without a complaint: the dates
  // and the cross-reference table are well formed.
  const std::string info = Output("pdfinfo doc.pdf");
  EXPECT_THAT(info, HasSubstr("CreationDate:    Tue Jan  1 00:00:00 1980 UTC"));
  EXPECT_THAT(info, Not(HasSubstr("Error")));
  EXPECT_THAT(info, HasSubstr("Page size:       595.3 x 841.9 pts (A4)"));
}

// What PDF/A-2b adds to cairo's file (templates/layout/pdf_archival.h), read
// by qpdf and poppler: the file checks clean, the trailer has an /ID, the
// catalog the XMP metadata and the sRGB output intent, whose profile is the
// installed file byte for byte; the XMP is well-formed XML, claims part 2
// level B and repeats pdfinfo's title and dates.
TEST_P(PdfPopplerTest, ArchivalMetadataOutputIntentAndId) {
  if (!OnPath("qpdf")) GTEST_SKIP() << "qpdf is not installed";
  Output("qpdf --check doc.pdf");
  std::smatch m;
  const std::string trailer = Output("qpdf --show-object=trailer doc.pdf");
  EXPECT_TRUE(std::regex_search(trailer, std::regex(R"(/ID \[ <([0-9a-f]{32})> <\1> \])")))
      << trailer;
  ASSERT_TRUE(std::regex_search(trailer, m, std::regex(R"(/Root (\d+) 0 R)"))) << trailer;
  const std::string catalog = Output(absl::StrCat("qpdf --show-object=", m[1].str(), " doc.pdf"));
  EXPECT_THAT(catalog, ::testing::ContainsRegex("/Metadata [0-9]+ 0 R"));
  ASSERT_TRUE(std::regex_search(catalog, m, std::regex(R"(/OutputIntents \[ (\d+) 0 R \])")))
      << catalog;
  const std::string intent = Output(absl::StrCat("qpdf --show-object=", m[1].str(), " doc.pdf"));
  EXPECT_THAT(intent, HasSubstr("/S /GTS_PDFA1"));
  ASSERT_TRUE(std::regex_search(intent, m, std::regex(R"(/DestOutputProfile (\d+) 0 R)")))
      << intent;
  Output(absl::StrCat("qpdf --show-object=", m[1].str(), " --filtered-stream-data doc.pdf"));
  EXPECT_EQ(ReadFile(dir_ / absl::StrCat("out", runs_, ".log")), ReadFile(kDefaultSrgbProfile));

  ASSERT_EQ(Run("pdfinfo -meta doc.pdf", "meta.xml"), 0);
  const std::string xmp = ReadFile(dir_ / "meta.xml");
  if (OnPath("xmllint")) Output("xmllint --noout meta.xml");
  EXPECT_THAT(xmp, HasSubstr("<pdfaid:part>2</pdfaid:part>"));
  EXPECT_THAT(xmp, HasSubstr("<pdfaid:conformance>B</pdfaid:conformance>"));
  const std::string info = Output("pdfinfo doc.pdf");
  ASSERT_TRUE(std::regex_search(info, m, std::regex(R"(Title:\s+(.+))")));
  EXPECT_THAT(xmp, HasSubstr(absl::StrCat("<rdf:li xml:lang=\"x-default\">", m[1].str(), "<")));
  EXPECT_THAT(info, HasSubstr("CreationDate:    Tue Jan  1 00:00:00 1980 UTC"));
  EXPECT_THAT(xmp, HasSubstr("<xmp:CreateDate>1980-01-01T00:00:00Z</xmp:CreateDate>"));
  EXPECT_THAT(xmp, HasSubstr("<xmp:ModifyDate>1980-01-01T00:00:00Z</xmp:ModifyDate>"));
  EXPECT_THAT(xmp, HasSubstr("<xmp:CreatorTool>govreport</xmp:CreatorTool>"));
  EXPECT_THAT(xmp, HasSubstr("<pdf:Producer>cairo "));
}

cairo_status_t AppendTo(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// Without an sRGB profile (not installed): the metadata and the /ID, but
// neither the output intent nor a PDF/A claim; XML in the title escaped.
TEST(PdfArchivalTest, WithoutAProfileNoOutputIntentAndNoClaim) {
  if (!OnPath("qpdf") || !OnPath("pdfinfo")) GTEST_SKIP() << "qpdf or pdfinfo is not installed";
  std::string pdf;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(AppendTo, &pdf, 595, 842);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, "A & <B>");
  cairo_t* cr = cairo_create(surface);
  cairo_show_page(cr);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);  // finishes the file
  ASSERT_TRUE(
      AppendArchivalUpdate(&pdf, {"A & <B>", "", "govreport", "2024-01-08T00:00:00Z"}, nullptr)
          .ok());
  std::string dir = (std::filesystem::temp_directory_path() / "gr_pdfa_XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::filesystem::path file = std::filesystem::path(dir) / "doc.pdf";
  std::ofstream(file, std::ios::binary) << pdf;
  auto output = [&](const std::string& command) {
    const std::filesystem::path log = std::filesystem::path(dir) / "out.log";
    EXPECT_EQ(
        std::system(
            absl::StrCat(command, " '", file.string(), "' >'", log.string(), "' 2>&1").c_str()),
        0)
        << command << ": " << ReadFile(log);
    return ReadFile(log);
  };
  output("qpdf --check");
  EXPECT_THAT(output("qpdf --show-object=trailer"), ::testing::ContainsRegex("/ID \\[ <"));
  const std::string xmp = output("pdfinfo -meta");
  EXPECT_THAT(xmp, HasSubstr("<rdf:li xml:lang=\"x-default\">A &amp; &lt;B&gt;</rdf:li>"));
  EXPECT_THAT(xmp, HasSubstr("<xmp:CreateDate>2024-01-08T00:00:00Z</xmp:CreateDate>"));
  EXPECT_THAT(xmp, Not(HasSubstr("pdfaid:part")));
  EXPECT_THAT(output("qpdf --json --json-key=qpdf"), Not(HasSubstr("OutputIntent")));
  std::filesystem::remove_all(dir);
}

TEST(PdfFormatTest, ContentTypeIsApplicationPdf) {
  EXPECT_EQ(templates::ContentType(type::v1::DOCUMENT_FORMAT_PDF), "application/pdf");
}

TEST_P(PdfPopplerTest, EveryFontIsEmbedded) {
  const std::string fonts = Output("pdffonts doc.pdf");
  std::istringstream in(fonts);
  int listed = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("name") || line.starts_with("---") || line.empty()) continue;
    ++listed;
    // name type encoding emb sub uni: the type has spaces ("CID Type 0C").
    EXPECT_THAT(line, ::testing::ContainsRegex(" yes +yes +yes ")) << line;
  }
  EXPECT_GE(listed, 3) << fonts;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PdfPopplerTest,
                         ::testing::Values(Case{"seed_report.txt", false},
                                           Case{"full_document.txt", true}),
                         [](const auto& p) { return p.param.framed ? "Full" : "Seed"; });

// Red pixels per row of a page pdftoppm wrote.
std::vector<int> RedPerRow(const std::string& bytes, int* width) {
  const testing::Pixmap page = testing::ReadPpm(bytes);
  std::vector<int> rows;
  for (int y = 0; y < page.height; ++y) {
    int red = 0;
    for (int x = 0; x < page.width; ++x) red += page.Red(x, y) ? 1 : 0;
    rows.push_back(red);
  }
  *width = page.width;
  return rows;
}

using PdfPixelsTest = PdfPopplerTest;

// Page 1 at 100 dpi: the mark red, its top 72 mm from the page's (37 + 35),
// and below it a red line across the type area (156 mm); nothing red on
// page 2.
TEST_P(PdfPixelsTest, MarkAndLineAreRed) {
  Output("pdftoppm -r 100 -f 1 -l 2 doc.pdf page");
  int width = 0;
  const std::vector<int> rows = RedPerRow(ReadFile(dir_ / "page-1.ppm"), &width);
  ASSERT_FALSE(rows.empty());
  const double px_per_mm = static_cast<double>(rows.size()) / 297.0;
  int mark_top = -1, mark_bottom = -1, line_row = -1;
  for (int y = 0; y < static_cast<int>(rows.size()); ++y) {
    if (rows[y] > 0.9 * 156 * px_per_mm) {
      if (line_row < 0) line_row = y;
    } else if (rows[y] > 0 && line_row < 0) {
      if (mark_top < 0) mark_top = y;
      mark_bottom = y;
    }
  }
  ASSERT_GE(mark_top, 0) << "no red pixels on page 1";
  EXPECT_NEAR(mark_top / px_per_mm, 37 + 35, 3) << "mark top";
  ASSERT_GE(line_row, 0) << "no red line as wide as the type area";
  EXPECT_LT(rows[line_row], 158 * px_per_mm) << "the red line is wider than the type area";
  // Two empty lines, the two lines of 签发人 and 4 mm: 4 × 10.2 + 4 mm.
  EXPECT_NEAR((line_row - mark_bottom) / px_per_mm, 4 * 10.2 + 4, 6);
  int width2 = 0;
  for (int red : RedPerRow(ReadFile(dir_ / "page-2.ppm"), &width2)) ASSERT_EQ(red, 0);
}

INSTANTIATE_TEST_SUITE_P(Full, PdfPixelsTest, ::testing::Values(Case{"full_document.txt", true}));

using PdfLibreOfficeTest = PdfPopplerTest;

// As many pages as LibreOffice makes of the DOCX of the same input (the
// condensed grid, which LibreOffice sets at 28 characters a line).
TEST_P(PdfLibreOfficeTest, AsManyPagesAsTheDocxInLibreOffice) {
  if (!OnPath("soffice")) GTEST_SKIP() << "soffice is not installed";
  docx::DocxOptions options;
  options.character_grid = docx::CharacterGrid::kCondensedSpacing;
  options.frame = frame_;
  absl::StatusOr<std::string> docx = docx::WriteOfficialDocx(text_, options);
  ASSERT_TRUE(docx.ok()) << docx.status();
  std::ofstream(dir_ / "lo.docx", std::ios::binary) << *docx;
  // A private profile: soffice refuses to share one between processes.
  ASSERT_EQ(Run(absl::StrCat("timeout 120 soffice -env:UserInstallation=file://",
                             (dir_ / "profile").string(), " --headless --convert-to ",
                             testing::kSofficePdf, " lo.docx"),
                "soffice.log"),
            0)
      << ReadFile(dir_ / "soffice.log");
  const int libreoffice = Pages("lo.pdf");
  ASSERT_GT(libreoffice, 0);
  ASSERT_EQ(Pages("doc.pdf"), libreoffice);
  if (!GetParam().framed) return;
  // The whole 公文 (no Latin text inside Chinese, no “ at a line's end, see
  // docs/pdf.md) breaks line for line as LibreOffice breaks the DOCX.
  for (int page = 1; page <= libreoffice; ++page) {
    auto lines = [&](const char* pdf) {
      std::vector<std::string> out;
      const std::string text =
          Output(absl::StrCat("pdftotext -enc UTF-8 -f ", page, " -l ", page, " ", pdf, " -"));
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        std::string squeezed = Squeeze(std::string(line));
        if (!squeezed.empty()) out.push_back(std::move(squeezed));
      }
      return out;
    };
    EXPECT_EQ(lines("doc.pdf"), lines("lo.pdf")) << "page " << page;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PdfLibreOfficeTest,
                         ::testing::Values(Case{"seed_report.txt", false},
                                           Case{"full_document.txt", true}),
                         [](const auto& p) { return p.param.framed ? "Full" : "Seed"; });

}  // namespace
}  // namespace govreport::layout
