// Renders the seed report's .docx with LibreOffice and reads the PDF back:
// proof that a real word processor opens the package and lays out the text,
// headings and the odd/even page numbers. Skips when soffice or pdftotext is
// not installed.
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp

#include <algorithm>
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
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/docx/docx_writer.h"

namespace govreport::docx {
namespace {

using ::testing::HasSubstr;
using testing::OnPath;
using testing::Pixmap;
using testing::ReadFile;
using testing::ReadPpm;
using testing::Squeeze;

// Width of a UTF-8 line in half characters: ASCII (digits, *) is half width.
int HalfWidths(const std::string& line) {
  int width = 0;
  for (char c : line) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      width += 1;
    } else if ((b & 0xC0) != 0x80) {
      width += 2;  // lead byte of a CJK or full-width character
    }
  }
  return width;
}

class LibreOfficeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath("soffice")) GTEST_SKIP() << "soffice is not installed";
    if (!OnPath("pdftotext")) GTEST_SKIP() << "pdftotext is not installed";
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "gr_docx_lo_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
    seed_ = ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / "seed_report.txt");
    ASSERT_FALSE(seed_.empty());
  }
  void TearDown() override {
    if (!dir_.empty() && std::getenv("GR_DOCX_KEEP_OUTPUT") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // Runs `command` in dir_, output to `log`; returns the exit status.
  int Run(const std::string& command, const std::string& log) {
    return std::system(absl::StrCat("cd '", dir_.string(), "' && ", command, " >'",
                                    (dir_ / log).string(), "' 2>&1")
                           .c_str());
  }

  // Writes the seed as <name>.docx and converts it to <name>.pdf.
  void ConvertSeed(const std::string& name, const DocxOptions& options) {
    Convert(name, seed_, options);
  }

  void Convert(const std::string& name, const std::string& text, const DocxOptions& options) {
    absl::StatusOr<std::string> docx = WriteOfficialDocx(text, options);
    ASSERT_TRUE(docx.ok()) << docx.status();
    std::ofstream(dir_ / (name + ".docx"), std::ios::binary) << *docx;
    // A private profile: soffice refuses to share one between processes, and
    // the user's own settings must not change what the test sees.
    const int status = Run(absl::StrCat("timeout 120 soffice -env:UserInstallation=file://",
                                        (dir_ / "profile").string(), " --headless --convert-to ",
                                        testing::kSofficePdf, " --outdir . ", name, ".docx"),
                           name + ".soffice.log");
    ASSERT_EQ(status, 0) << ReadFile(dir_ / (name + ".soffice.log"));
    ASSERT_TRUE(std::filesystem::exists(dir_ / (name + ".pdf")))
        << ReadFile(dir_ / (name + ".soffice.log"));
  }

  // pdftotext of <name>.pdf with `args`; the text is returned.
  std::string PdfToText(const std::string& name, const std::string& args) {
    const std::string out = name + ".out";
    EXPECT_EQ(Run(absl::StrCat("pdftotext -enc UTF-8 ", args, " ", name, ".pdf ", out),
                  name + ".pdftotext.log"),
              0)
        << ReadFile(dir_ / (name + ".pdftotext.log"));
    return ReadFile(dir_ / out);
  }

  int PageCount(const std::string& name) {
    EXPECT_EQ(Run(absl::StrCat("pdfinfo ", name, ".pdf"), name + ".pdfinfo"), 0);
    std::smatch m;
    const std::string info = ReadFile(dir_ / (name + ".pdfinfo"));
    return std::regex_search(info, m, std::regex(R"(Pages:\s+(\d+))")) ? std::stoi(m[1]) : 0;
  }

  std::filesystem::path dir_;
  std::string seed_;
};

TEST_F(LibreOfficeTest, SeedReportRendersWithPageNumbers) {
  ConvertSeed("seed", {});
  if (HasFatalFailure()) return;

  const std::string text = Squeeze(PdfToText("seed", ""));
  EXPECT_THAT(text, HasSubstr("市科技局党组落实全面从严治党责任工作报告"));
  EXPECT_THAT(text, HasSubstr("一、主要工作成效"));
  EXPECT_THAT(text, HasSubstr("（一）强化理论武装，增强履职尽责能力。深入学习"));
  EXPECT_THAT(text, HasSubstr("一是提高政治站位。局党组始终把加强党的政治建设"));
  EXPECT_THAT(text, HasSubstr("中共*市科学技术局党组2023年*月*日"));
  EXPECT_THAT(text, HasSubstr("—1—"));
  EXPECT_THAT(text, HasSubstr("—2—"));

  // Odd page numbers sit right, even ones left: find the number below the
  // type area (which ends 35 mm above the foot) of pages 1 and 2.
  const std::string html = PdfToText("seed", "-bbox -f 1 -l 2");
  const std::regex page_re(R"re(<page width="([\d.]+)" height="([\d.]+)">)re");
  const std::regex word_re(R"re(<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" )re"
                           R"re(yMax="[\d.]+">(\d+)</word>)re");
  int page = 0;
  double width = 0, height = 0;
  bool odd_seen = false, even_seen = false;
  std::istringstream lines(html);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, page_re)) {
      ++page;
      width = std::stod(m[1]);
      height = std::stod(m[2]);
    } else if (std::regex_search(line, m, word_re) && std::stod(m[2]) > height * (297 - 35) / 297 &&
               m[4] == std::to_string(page)) {
      if (page == 1) {
        odd_seen = true;
        EXPECT_GT(std::stod(m[1]), width / 2) << "page 1 number not right";
      } else if (page == 2) {
        even_seen = true;
        EXPECT_LT(std::stod(m[3]), width / 2) << "page 2 number not left";
      }
    }
  }
  EXPECT_TRUE(odd_seen) << "no page number on page 1";
  EXPECT_TRUE(even_seen) << "no page number on page 2";
}

// With CharacterGrid::kCondensedSpacing LibreOffice, too, sets 22 lines of 28
// characters; page 2 is all body text. Width counts digits and * as half.
TEST_F(LibreOfficeTest, CondensedSpacingGives22LinesOf28Characters) {
  DocxOptions options;
  options.character_grid = CharacterGrid::kCondensedSpacing;
  ConvertSeed("condensed", options);
  if (HasFatalFailure()) return;

  const std::string page2 = PdfToText("condensed", "-f 2 -l 2");
  int lines = 0, longest = 0;
  std::istringstream in(page2);
  for (std::string line; std::getline(in, line);) {
    line = Squeeze(line);
    if (line.empty() || line == "—2—") continue;
    ++lines;
    longest = std::max(longest, HalfWidths(line));
  }
  EXPECT_EQ(lines, 22) << page2;
  EXPECT_LE(longest, 2 * 28) << page2;
  EXPECT_GE(longest, 2 * 28 - 1) << page2;
}

// The whole 公文 (tests/docx/testdata/full_document.txt with a 上行文 frame):
// its parts in the order of GB/T 9704, the tables' cells, the landscape page
// of the wide table, the 版记 alone on the last page at the foot of the type
// area and without a page number, and the mark and the line red in pixels.
TEST_F(LibreOfficeTest, TheWholeDocumentInOrderWithRedMarkAndImprintLast) {
  if (!OnPath("pdftoppm") || !OnPath("pdfinfo")) GTEST_SKIP() << "poppler-utils missing";
  const std::string text = ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / "full_document.txt");
  ASSERT_FALSE(text.empty());
  DocxOptions options;
  options.character_grid = CharacterGrid::kCondensedSpacing;
  options.frame = testing::FullDocumentFrame();
  Convert("full", text, options);
  if (HasFatalFailure()) return;

  const std::string all = Squeeze(PdfToText("full", ""));
  size_t at = 0;
  for (const char* part : {"000001",
                           "秘密★1年",
                           "特急",
                           "中共某市科学技术局党组",
                           "签发人：张三李四",
                           "某科党〔2024〕3号王五",
                           "某市科学技术局关于2023年度政府信息公开工作情况的报告",
                           "市人民政府办公室：",
                           "根据《中华人民共和国政府信息公开条例》规定",
                           "附件：1.政府信息公开行政复议",
                           "2.2023年度政府信息公开工作要点落实情况",
                           "某市科学技术局",
                           "2024年1月15日",
                           "（此件公开发布）",
                           "附件1",
                           "政府信息公开行政复议、行政诉讼情况统计表",
                           "附件2",
                           "门户网站政府信息公开专栏",
                           "抄送：市纪委监委",
                           "各区科技局。",
                           "某市科学技术局办公室2024年1月16日印发"}) {
    const size_t found = all.find(part, at);
    ASSERT_NE(found, std::string::npos) << part << " not after offset " << at << " in " << all;
    at = found + std::string_view(part).size();
  }

  // Tables: pdftotext -layout keeps a row on one line; its cells in order.
  std::vector<std::string> rows;
  {
    std::istringstream layout(PdfToText("full", "-layout"));
    for (std::string line; std::getline(layout, line);) rows.push_back(Squeeze(line));
  }
  for (const char* row :
       {"信息内容本年制发件数本年废止件数现行有效件数", "行政规范性文件3117", "行政强制000",
        "本年新收政府信息公开申请数量306311142", "结转下年度继续办理2000002", "行政复议10001"}) {
    EXPECT_NE(std::find(rows.begin(), rows.end(), row), rows.end()) << "no table row " << row;
  }

  const int pages = PageCount("full");
  ASSERT_GE(pages, 5);
  // The 版记 is on an even page, the back of the last sheet (7.4.1): here
  // the body ends on page 6 with 附件2, so Writer inserts a blank page 7.
  EXPECT_EQ(pages % 2, 0);
  // Every page but the last has its number, the blank one none; the last
  // holds the 版记 only.
  for (int page = 1; page < pages; ++page) {
    const std::string on_page = Squeeze(PdfToText("full", absl::StrCat("-f ", page, " -l ", page)));
    if (page == pages - 1 && on_page.empty()) continue;
    EXPECT_THAT(on_page, HasSubstr(absl::StrCat("—", page, "—"))) << "page " << page;
  }
  EXPECT_EQ(Squeeze(PdfToText("full", absl::StrCat("-f ", pages - 1, " -l ", pages - 1))), "")
      << "the page before the 版记";
  const std::string last = Squeeze(PdfToText("full", absl::StrCat("-f ", pages, " -l ", pages)));
  EXPECT_THAT(last, HasSubstr("抄送："));
  EXPECT_THAT(last, HasSubstr("2024年1月16日印发"));
  EXPECT_THAT(last, Not(HasSubstr("—")));
  EXPECT_EQ(last.find("附件"), std::string::npos) << last;

  // The wide table's page is landscape, the others portrait.
  ASSERT_EQ(Run(absl::StrCat("pdfinfo -f 1 -l ", pages, " full.pdf"), "sizes"), 0);
  const std::string sizes = ReadFile(dir_ / "sizes");
  EXPECT_THAT(sizes, HasSubstr("841.89 x 595.304"));
  EXPECT_THAT(sizes, HasSubstr("595.304 x 841.89"));
  // Its number is where the portrait pages have it once the page is turned
  // (GB/T 9704 8): 28 mm from the left edge (the portrait foot), in the
  // lower half for an odd page (the portrait right), the upper for an even.
  std::smatch size_match;
  ASSERT_TRUE(
      std::regex_search(sizes, size_match, std::regex(R"(Page +(\d+) size: +841\.89 x 595\.304)")));
  const int landscape = std::stoi(size_match[1]);
  const std::string turned =
      PdfToText("full", absl::StrCat("-bbox -f ", landscape, " -l ", landscape));
  const std::regex number_re(
      absl::StrCat(R"re(<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">)re",
                   landscape, "</word>"));
  // The leftmost word that is the page's number (the table has figures too).
  double across = 1e9, along = 0;
  for (auto it = std::sregex_iterator(turned.begin(), turned.end(), number_re);
       it != std::sregex_iterator(); ++it) {
    const double x = (std::stod((*it)[1]) + std::stod((*it)[3])) / 2;
    if (x < across) {
      across = x;
      along = (std::stod((*it)[2]) + std::stod((*it)[4])) / 2;
    }
  }
  constexpr double kPt = 72 / 25.4;
  ASSERT_LT(across, 1e9) << turned;
  EXPECT_NEAR(across / kPt, 28, 3);
  along /= kPt;
  if (landscape % 2 == 1) {
    EXPECT_GT(along, 105);
  } else {
    EXPECT_LT(along, 105);
  }

  // The 版记's last line sits on the bottom edge of the type area (262 mm
  // from the top), within 3 mm.
  const std::string bbox = PdfToText("full", absl::StrCat("-bbox -f ", pages, " -l ", pages));
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(bbox, m, std::regex(R"re(<page width="[\d.]+" height="([\d.]+)">)re")));
  const double height = std::stod(m[1]);
  double lowest = 0;
  const std::regex word_re(
      R"re(<word xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">)re");
  for (auto it = std::sregex_iterator(bbox.begin(), bbox.end(), word_re);
       it != std::sregex_iterator(); ++it) {
    lowest = std::max(lowest, std::stod((*it)[1]));
  }
  const double pt_per_mm = height / 297;
  EXPECT_NEAR(lowest / pt_per_mm, 297 - 35, 3)
      << "lowest text of the 版记 at " << lowest / pt_per_mm << " mm";

  // Page 1 in pixels (100 dpi): the mark is red, its top 72 mm from the
  // page's (37 + 35), and below it a red line across the type area.
  ASSERT_EQ(Run("pdftoppm -r 100 -f 1 -l 1 full.pdf page", "ppm.log"), 0);
  Pixmap page;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() == ".ppm") page = ReadPpm(ReadFile(entry.path()));
  }
  ASSERT_GT(page.width, 0) << "no PPM";
  const double px_per_mm = page.height / 297.0;
  int mark_top = -1, mark_bottom = -1, line_row = -1;
  for (int y = 0; y < page.height; ++y) {
    int red = 0;
    for (int x = 0; x < page.width; ++x) red += page.Red(x, y) ? 1 : 0;
    if (red > 0.9 * 156 * px_per_mm) {
      if (line_row < 0) line_row = y;
    } else if (red > 0 && line_row < 0) {
      if (mark_top < 0) mark_top = y;
      mark_bottom = y;
    }
  }
  ASSERT_GE(mark_top, 0) << "no red pixels on page 1";
  EXPECT_NEAR(mark_top / px_per_mm, 37 + 35, 3) << "mark top";
  ASSERT_GE(line_row, 0) << "no red line as wide as the type area";
  EXPECT_GT(line_row, mark_bottom);
  // Between them, black: two empty lines, the two lines of 签发人 (the
  // number on the second) and 4 mm, 2 × 10.2 + 2 × 10.2 + 4 mm.
  EXPECT_NEAR((line_row - mark_bottom) / px_per_mm, 4 * 10.2 + 4, 6);
}

}  // namespace
}  // namespace govreport::docx
