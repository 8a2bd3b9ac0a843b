// Prints the HTML of the whole 公文 with a real browser (headless Chromium,
// --print-to-pdf) and reads the PDF back with poppler: proof that the print
// CSS gives A4 pages in the order of GB/T 9704, the wide table on a
// landscape page, each attachment on a new page, the red mark and the 版记
// alone at the foot of the last page. Skips when chromium or poppler is not
// installed; `GR_HTML_KEEP_OUTPUT=1` keeps the folder (/tmp/gr_html_*).
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
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/service/formats.h"

namespace govreport::templates {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::OnPath;
using testing::ReadFile;
using testing::RunCommand;
using testing::Squeeze;

constexpr double kPtPerMm = 72 / 25.4;

class HtmlPrintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath("chromium")) GTEST_SKIP() << "chromium is not installed";
    if (!OnPath("pdftotext") || !OnPath("pdfinfo") || !OnPath("pdftoppm")) {
      GTEST_SKIP() << "poppler-utils is not installed";
    }
    std::string dir_template = (std::filesystem::temp_directory_path() / "gr_html_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    if (!dir_.empty() && std::getenv("GR_HTML_KEEP_OUTPUT") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  // The HTML of `text` printed to dir_/<name>.pdf as a reader's browser
  // would print it, without the browser's own header and footer.
  void Print(const std::string& name, const std::string& text, const docx::DocumentFrame& frame) {
    absl::StatusOr<std::string> html = ToHtml(text, "", frame);
    ASSERT_TRUE(html.ok()) << html.status();
    const std::filesystem::path page = dir_ / (name + ".html");
    std::ofstream(page, std::ios::binary) << *html;
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    const testing::CommandResult printed = RunCommand(
        absl::StrCat("chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer "
                     "--user-data-dir='",
                     (dir_ / "profile").string(), "' --print-to-pdf='",
                     (dir_ / (name + ".pdf")).string(), "' 'file://", page.string(), "'"));
    ASSERT_EQ(printed.exit_code, 0) << printed.output;
    ASSERT_TRUE(std::filesystem::exists(dir_ / (name + ".pdf"))) << printed.output;
  }

  std::string Poppler(const std::string& tool, const std::string& args, const std::string& name) {
    const testing::CommandResult r =
        RunCommand(absl::StrCat(tool, " ", args, " '", (dir_ / (name + ".pdf")).string(), "' -"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  std::filesystem::path dir_;
};

TEST_F(HtmlPrintTest, TheWholeDocumentPrintsAsGbT9704Pages) {
  const std::string text = ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / "full_document.txt");
  ASSERT_FALSE(text.empty());
  Print("full", text, testing::FullDocumentFrame());
  if (HasFatalFailure()) return;

  // -raw: the order of the page's text as drawn, the HTML's order (a
  // right-aligned 成文日期 is not read after a left-aligned 附注 below it).
  const std::string all = Squeeze(Poppler("pdftotext", "-raw", "full"));
  size_t at = 0;
  for (const char* part :
       {"000001", "秘密★1年", "特急", "中共某市科学技术局党组", "某科党〔2024〕3号",
        "签发人：张三李四王五", "某市科学技术局关于2023年度政府信息公开工作情况的报告",
        "附件：1.政府信息公开行政复议", "某市科学技术局", "2024年1月15日", "（此件公开发布）",
        "附件1", "政府信息公开行政复议、行政诉讼情况统计表", "附件2", "抄送：市纪委监委",
        "某市科学技术局办公室2024年1月16日印发"}) {
    const size_t found = all.find(part, at);
    ASSERT_NE(found, std::string::npos) << part << " not after offset " << at << " in " << all;
    at = found + std::string_view(part).size();
  }

  // The mark on one line (36 pt, eleven characters in the 156 mm type area).
  {
    bool one_line = false;
    std::istringstream first(Poppler("pdftotext", "-layout -f 1 -l 1", "full"));
    for (std::string line; std::getline(first, line);) {
      one_line |= Squeeze(line) == "中共某市科学技术局党组";
    }
    EXPECT_TRUE(one_line) << Poppler("pdftotext", "-layout -f 1 -l 1", "full");
  }

  // A4 pages, portrait but for the wide table's.
  const testing::CommandResult info =
      RunCommand(absl::StrCat("pdfinfo -f 1 -l 99 '", (dir_ / "full.pdf").string(), "'"));
  ASSERT_EQ(info.exit_code, 0) << info.output;
  std::vector<std::pair<double, double>> sizes;
  const std::regex size_re(R"(Page +\d+ size: +([\d.]+) x ([\d.]+))");
  for (auto it = std::sregex_iterator(info.output.begin(), info.output.end(), size_re);
       it != std::sregex_iterator(); ++it) {
    sizes.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
  }
  ASSERT_GE(sizes.size(), 5u) << info.output;
  int landscape = 0, landscape_page = 0;
  for (size_t p = 0; p < sizes.size(); ++p) {
    const auto [w, h] = sizes[p];
    const bool turned = w > h;
    EXPECT_NEAR(turned ? h : w, 210 * kPtPerMm, 1) << "page " << p + 1;
    EXPECT_NEAR(turned ? w : h, 297 * kPtPerMm, 1) << "page " << p + 1;
    if (turned) {
      ++landscape;
      landscape_page = static_cast<int>(p) + 1;
    }
  }
  EXPECT_EQ(landscape, 1) << info.output;
  const std::string wide = Squeeze(
      Poppler("pdftotext", absl::StrCat("-f ", landscape_page, " -l ", landscape_page), "full"));
  EXPECT_THAT(wide, HasSubstr("本年新收政府信息公开申请数量")) << wide;

  // Each attachment starts a page: "附件N" is the first text of its page.
  const int pages = static_cast<int>(sizes.size());
  int attachments = 0;
  for (int p = 1; p <= pages; ++p) {
    const std::string page_text =
        Squeeze(Poppler("pdftotext", absl::StrCat("-f ", p, " -l ", p), "full"));
    if (page_text.starts_with("附件1") || page_text.starts_with("附件2")) ++attachments;
  }
  EXPECT_EQ(attachments, 2);

  // The 版记 alone on the last page, its last line at the foot of the type
  // area (262 mm from the top), within 5 mm. (Its page is not always an
  // even one: Chromium takes the style's break-before:left for a plain page
  // break and inserts no blank page; docs/documents.md says so.)
  const std::string last =
      Squeeze(Poppler("pdftotext", absl::StrCat("-f ", pages, " -l ", pages), "full"));
  EXPECT_TRUE(last.starts_with("抄送：")) << last;
  EXPECT_THAT(last, Not(HasSubstr("附件")));
  const std::string bbox =
      Poppler("pdftotext", absl::StrCat("-bbox -f ", pages, " -l ", pages), "full");
  double lowest = 0;
  const std::regex word_re(
      R"re(<word xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">)re");
  for (auto it = std::sregex_iterator(bbox.begin(), bbox.end(), word_re);
       it != std::sregex_iterator(); ++it) {
    lowest = std::max(lowest, std::stod((*it)[1]));
  }
  EXPECT_NEAR(lowest / kPtPerMm, 262, 5)
      << "the 版记's last line at " << lowest / kPtPerMm << " mm";

  // Page 1 in pixels (50 dpi): the mark and the line below it are red when
  // printed (print-color-adjust), the line across the type area.
  const testing::CommandResult ppm =
      RunCommand(absl::StrCat("pdftoppm -r 50 -f 1 -l 1 '", (dir_ / "full.pdf").string(), "' '",
                              (dir_ / "p1").string(), "'"));
  ASSERT_EQ(ppm.exit_code, 0) << ppm.output;
  testing::Pixmap first;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().extension() == ".ppm") first = testing::ReadPpm(ReadFile(entry.path()));
  }
  ASSERT_GT(first.width, 0);
  const double px_per_mm = first.width / 210.0;
  int widest_red_row = 0;
  bool red_above_line = false;
  for (int y = 0; y < first.height; ++y) {
    int red = 0;
    for (int x = 0; x < first.width; ++x) red += first.Red(x, y) ? 1 : 0;
    if (red > 0 && widest_red_row == 0 && red < 0.9 * 156 * px_per_mm) red_above_line = true;
    if (red > 0.9 * 156 * px_per_mm) widest_red_row = std::max(widest_red_row, red);
  }
  EXPECT_TRUE(red_above_line) << "no red mark";
  EXPECT_GT(widest_red_row, 0) << "no red line across the type area";
  EXPECT_LT(widest_red_row, 160 * px_per_mm);
}

}  // namespace
}  // namespace govreport::templates
