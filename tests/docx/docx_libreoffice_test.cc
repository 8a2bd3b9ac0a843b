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

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/docx/docx_writer.h"

namespace govreport::docx {
namespace {

using ::testing::HasSubstr;

bool OnPath(const char* tool) {
  return std::system(absl::StrCat("command -v ", tool, " >/dev/null 2>&1").c_str()) == 0;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Drops ASCII and ideographic spaces and line breaks, which pdftotext puts
// wherever the layout broke a line.
std::string Squeeze(std::string s) {
  s = absl::StrReplaceAll(s, {{"\u3000", ""}, {"\u00A0", ""}});
  std::erase_if(
      s, [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'; });
  return s;
}

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
    absl::StatusOr<std::string> docx = WriteOfficialDocx(seed_, options);
    ASSERT_TRUE(docx.ok()) << docx.status();
    std::ofstream(dir_ / (name + ".docx"), std::ios::binary) << *docx;
    // A private profile: soffice refuses to share one between processes, and
    // the user's own settings must not change what the test sees.
    const int status = Run(absl::StrCat("timeout 120 soffice -env:UserInstallation=file://",
                                        (dir_ / "profile").string(),
                                        " --headless --convert-to pdf --outdir . ", name, ".docx"),
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

}  // namespace
}  // namespace govreport::docx
