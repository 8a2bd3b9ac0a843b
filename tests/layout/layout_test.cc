// The fixed layout without a PDF reader: lines per page and characters per
// line on the GB/T 9704 grid, the order of the whole 公文's parts, line
// breaking, page numbers, determinism of the PDF bytes and the answers to
// bad input and missing fonts.
#include "templates/layout/layout.h"

#include <pango/pango.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX setenv

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/docx/page_layout.h"
#include "templates/layout/fonts.h"
#include "templates/layout/pdf_writer.h"

namespace govreport::layout {
namespace {

using ::testing::HasSubstr;
using testing::ReadFile;

std::string Fixture(const char* name) {
  return ReadFile(std::filesystem::path(GR_DOCX_TESTDATA) / name);
}

// Width in half characters: ASCII half, everything else whole.
int HalfWidths(std::string_view s) { return docx::DisplayWidth(s); }

bool IsPageNumber(const std::string& text) { return text.starts_with("— "); }

constexpr double kPtPerMm = 72.0 / 25.4;

// Page 2 of the seed report is body text only: 22 lines, each of at most 28
// characters and most of exactly 28, on a pitch of 225 mm / 22.
TEST(LayoutTest, BodyTextIs22LinesOf28Characters) {
  absl::StatusOr<Document> doc = LayOut(Fixture("seed_report.txt"), {}, FontMap());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_GE(doc->pages.size(), 3u);
  const Page& page = doc->pages[1];
  std::vector<const PlacedLine*> body;
  for (const PlacedLine& line : page.lines) {
    if (!IsPageNumber(line.Text())) body.push_back(&line);
  }
  ASSERT_EQ(body.size(), 22u);
  int full = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const std::string text = body[i]->Text();
    int width = HalfWidths(text);
    // Closing punctuation may hang into the margin (the DOCX's renderers
    // compress or hang it the same way).
    for (std::string_view p : {"，", "。", "、", "；", "：", "”", "）"}) {
      if (text.ends_with(p)) width -= 2;
    }
    EXPECT_LE(width, 56) << text;
    full += width >= 50 ? 1 : 0;  // 28 characters, some of them half width
    if (i > 0) {
      EXPECT_NEAR(body[i]->baseline - body[i - 1]->baseline, 579.0 / 20, 1e-6);
    }
    // Inside the type area: 28 mm from the left, 37 mm from the top, 225 mm tall.
    EXPECT_GE(body[i]->x, 28 * kPtPerMm - 0.05);
    EXPECT_GT(body[i]->baseline, 37 * kPtPerMm);
    EXPECT_LT(body[i]->baseline, (37 + 225) * kPtPerMm);
  }
  EXPECT_GE(full, 17) << "most lines of a body page hold 28 characters";
}

// Unicode line breaking as Pango does it: no line starts with closing
// punctuation, none ends with opening punctuation.
TEST(LayoutTest, NoLineStartsWithClosingPunctuation) {
  const std::u32string closing = U"，。、；：？！）》」』】〕”’…·";
  const std::u32string opening = U"（《「『【〔“‘";
  for (const char* name : {"seed_report.txt", "full_document.txt"}) {
    absl::StatusOr<Document> doc = LayOut(Fixture(name), testing::FullDocumentFrame(), FontMap());
    ASSERT_TRUE(doc.ok()) << doc.status();
    int lines = 0;
    for (const Page& page : doc->pages) {
      for (const PlacedLine& line : page.lines) {
        const std::string text = line.Text();
        if (text.empty()) continue;
        ++lines;
        std::u32string u;
        for (size_t pos = 0; pos < text.size();) {
          const auto b = static_cast<unsigned char>(text[pos]);
          const size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
          char32_t c = n == 1 ? b : b & (0xFF >> (n + 1));
          for (size_t k = 1; k < n; ++k) c = (c << 6) | (text[pos + k] & 0x3F);
          u.push_back(c);
          pos += n;
        }
        EXPECT_EQ(closing.find(u.front()), std::u32string::npos) << name << ": " << text;
        EXPECT_EQ(opening.find(u.back()), std::u32string::npos) << name << ": " << text;
      }
    }
    EXPECT_GT(lines, 40) << name;
  }
}

std::string AllText(const Document& doc) {
  std::string out;
  for (const Page& page : doc.pages) {
    for (const PlacedLine& line : page.lines) {
      if (!IsPageNumber(line.Text())) out += line.Text();
    }
  }
  return out;
}

// The whole 公文: its parts in the order of GB/T 9704, the wide table on a
// landscape page, the 版记 alone on an unnumbered last page with its last
// rule on the bottom edge of the type area, the red mark and line on page 1.
TEST(LayoutTest, TheWholeDocumentInOrder) {
  absl::StatusOr<Document> doc =
      LayOut(Fixture("full_document.txt"), testing::FullDocumentFrame(), FontMap());
  ASSERT_TRUE(doc.ok()) << doc.status();
  const std::string all = AllText(*doc);
  size_t at = 0;
  for (const char* part :
       {"000001", "秘密★1年", "特急", "中共某市科学技术局党组", "签发人：张三　李四",
        "某科党〔2024〕3号王五", "某市科学技术局关于2023年度政府信息公开", "市人民政府办公室：",
        "附件：1.政府信息公开行政复议", "某市科学技术局2024年1月15日", "（此件公开发布）", "附件1",
        "附件2", "抄送：市纪委监委", "某市科学技术局办公室2024年1月16日印发"}) {
    const size_t found = all.find(part, at);
    ASSERT_NE(found, std::string::npos) << part << " not after offset " << at << " in " << all;
    at = found + std::string_view(part).size();
  }
  const std::vector<Page>& pages = doc->pages;
  ASSERT_GE(pages.size(), 5u);
  // The 版记 is on an even page; a blank page before it has no number.
  EXPECT_EQ(pages.size() % 2, 0u);
  size_t numbered_pages = pages.size() - 1;
  if (pages[numbered_pages - 1].lines.empty()) {
    EXPECT_FALSE(pages[numbered_pages - 1].numbered);
    --numbered_pages;
  }
  int landscape = 0;
  for (const Page& page : pages) landscape += page.width > page.height ? 1 : 0;
  EXPECT_EQ(landscape, 1);
  const Page& last = pages.back();
  EXPECT_FALSE(last.numbered);
  for (const PlacedLine& line : last.lines) EXPECT_FALSE(IsPageNumber(line.Text()));
  double lowest = 0;
  for (const Rule& rule : last.rules) lowest = std::max(lowest, rule.y0 + rule.width / 2);
  EXPECT_NEAR(lowest, (37 + 225) * kPtPerMm, 0.5);
  std::vector<const PlacedLine*> numbers(pages.size(), nullptr);
  for (size_t p = 0; p < numbered_pages; ++p) {
    EXPECT_TRUE(pages[p].numbered) << p;
    for (const PlacedLine& line : pages[p].lines) {
      if (line.Text() == absl::StrCat("— ", p + 1, " —")) numbers[p] = &line;
    }
    ASSERT_NE(numbers[p], nullptr) << "page " << p + 1;
    if (pages[p].width > pages[p].height) continue;
    EXPECT_FALSE(numbers[p]->turned);
    // 单页码居右, 双页码居左.
    if (p % 2 == 0) {
      EXPECT_GT(numbers[p]->x, pages[p].width / 2);
    } else {
      EXPECT_LT(numbers[p]->x, pages[p].width / 2);
    }
  }
  // The landscape page's number is where a portrait page of its parity has
  // it once the page is turned (8): portrait (x, y) is landscape (297 mm − y,
  // x), read downwards.
  for (size_t p = 0; p < numbered_pages; ++p) {
    if (pages[p].width < pages[p].height) continue;
    size_t portrait = p >= 2 ? p - 2 : p + 2;
    ASSERT_LT(portrait, numbered_pages);
    ASSERT_LT(pages[portrait].width, pages[portrait].height);
    EXPECT_TRUE(numbers[p]->turned);
    EXPECT_NEAR(numbers[p]->x, pages[p].width - numbers[portrait]->baseline, 0.01);
    // The digits differ in width ("— 3 —" and "— 5 —").
    EXPECT_NEAR(numbers[p]->baseline, numbers[portrait]->x, 3);
  }
  // Page 1: the mark in red, 35 mm below the type area's top, and a red rule
  // across the type area below it.
  const PlacedLine* mark = nullptr;
  for (const PlacedLine& line : pages[0].lines) {
    if (line.Text() == "中共某市科学技术局党组") mark = &line;
  }
  ASSERT_NE(mark, nullptr);
  EXPECT_EQ(mark->rgb, kRed);
  const std::vector<Rule> red = [&] {
    std::vector<Rule> out;
    for (const Rule& r : pages[0].rules) {
      if (r.rgb == kRed) out.push_back(r);
    }
    return out;
  }();
  ASSERT_EQ(red.size(), 1u);
  EXPECT_NEAR(red[0].x1 - red[0].x0, 156 * kPtPerMm, 0.5);
  EXPECT_GT(red[0].y0, mark->baseline);
}

// The 版记 is on the document's last side, the back of a sheet (7.4.1): after
// one page of body it is page 2; after two, a blank unnumbered page 3 comes
// before it.
TEST(LayoutTest, TheImprintIsOnAnEvenPage) {
  docx::DocumentFrame frame;
  frame.copy_to = "市纪委监委";
  frame.printing_org = "某市科学技术局办公室";
  frame.printing_date = "2024年1月16日";
  for (int paragraphs : {1, 15}) {
    std::string text = "关于统计情况的报告\n";
    for (int i = 0; i < paragraphs; ++i) {
      text +=
          "　　全年共受理政府信息公开申请，按期答复，未发生逾期答复的情况，答复质量稳步提高。\n";
    }
    text += "某市统计局\n2024年1月15日\n";
    absl::StatusOr<Document> doc = LayOut(text, frame, FontMap());
    ASSERT_TRUE(doc.ok()) << doc.status();
    const std::vector<Page>& pages = doc->pages;
    ASSERT_EQ(pages.size(), paragraphs == 1 ? 2u : 4u) << paragraphs;
    EXPECT_FALSE(pages.back().numbered);
    Document imprint;
    imprint.pages = {pages.back()};
    EXPECT_EQ(AllText(imprint).find("抄送："), 0u);
    if (pages.size() == 4) {
      EXPECT_TRUE(pages[2].lines.empty());
      EXPECT_TRUE(pages[2].rules.empty());
      EXPECT_FALSE(pages[2].numbered);
      EXPECT_TRUE(pages[1].numbered);
    }
  }
}

// A table continued on a new page repeats its header row there.
TEST(LayoutTest, TableHeaderRepeatsOnTheNextPage) {
  std::string text = "关于统计情况的报告\n一、总体情况\n| 项目 | 数量 |\n|---|---:|\n";
  for (int i = 1; i <= 60; ++i) absl::StrAppend(&text, "| 项目", i, " | ", i * 7, " |\n");
  text += "某市统计局\n2024年1月15日\n";
  absl::StatusOr<Document> doc = LayOut(text, {}, FontMap());
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_GE(doc->pages.size(), 2u);
  for (size_t p = 0; p < 2; ++p) {
    std::vector<std::string> texts;
    for (const PlacedLine& line : doc->pages[p].lines) texts.push_back(line.Text());
    EXPECT_THAT(texts, ::testing::Contains("项目")) << "page " << p + 1;
    EXPECT_THAT(texts, ::testing::Contains("数量")) << "page " << p + 1;
  }
  // Numbers are right-aligned: the right edges of 7 and 420 coincide.
  double right7 = -1, right420 = -2;
  for (const Page& page : doc->pages) {
    for (const PlacedLine& line : page.lines) {
      PangoRectangle logical;
      pango_layout_line_get_extents(line.Line(), nullptr, &logical);
      const double right = line.x + static_cast<double>(logical.width) / PANGO_SCALE;
      if (line.Text() == "7") right7 = right;
      if (line.Text() == "420") right420 = right;
    }
  }
  EXPECT_NEAR(right7, right420, 0.01);
}

PdfOptions At(std::chrono::sys_seconds t) {
  PdfOptions o;
  o.timestamp = t;
  o.frame = testing::FullDocumentFrame();
  return o;
}

// The same input gives the same bytes, the document time is its date, and
// the fonts are embedded.
TEST(PdfWriterTest, SameInputSameBytesDatedByTheDocumentTime) {
  using namespace std::chrono;
  const std::string text = Fixture("full_document.txt");
  const sys_seconds t = sys_days{year{2024} / 1 / 15} + hours{9} + minutes{30};
  absl::StatusOr<std::string> a = WriteOfficialPdf(text, At(t));
  absl::StatusOr<std::string> b = WriteOfficialPdf(text, At(t));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(a->starts_with("%PDF-1.5"));
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(*a, HasSubstr("/CreationDate (D:20240115093000"));
  EXPECT_THAT(*a, HasSubstr("/ModDate (D:20240115093000"));
  EXPECT_THAT(*a, HasSubstr("/FontFile3"));  // the CFF of Noto CJK, embedded
  absl::StatusOr<std::string> later = WriteOfficialPdf(text, At(t + seconds{1}));
  ASSERT_TRUE(later.ok());
  EXPECT_NE(*a, *later);
}

TEST(PdfWriterTest, BadInputIsInvalidArgument) {
  EXPECT_EQ(WriteOfficialPdf("", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteOfficialPdf("标题\n正文\x01", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteOfficialPdf("标题\n\xff\xfe", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  PdfOptions o;
  o.frame.issuing_mark = "某局\x02";
  const absl::Status s = WriteOfficialPdf("标题\n正文", o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("frame.issuing_mark"));
  PdfOptions early;
  early.timestamp = std::chrono::sys_seconds{std::chrono::seconds{-70000000000}};
  EXPECT_EQ(WriteOfficialPdf("标题\n正文", early).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A face that is not installed is refused by name, not silently replaced.
TEST(PdfWriterTest, MissingFontIsFailedPrecondition) {
  FontMap fonts;
  fonts.kaiti = "No Such Kai Font 9704";
  const absl::Status installed = CheckFontsInstalled(fonts);
  EXPECT_EQ(installed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(installed.message(), HasSubstr("楷体"));
  EXPECT_THAT(installed.message(), HasSubstr("GOVREPORT_FONT_KAITI"));
  EXPECT_TRUE(CheckFontsInstalled(FontMap()).ok()) << CheckFontsInstalled(FontMap());
  PdfOptions o;
  o.fonts = fonts;
  EXPECT_EQ(WriteOfficialPdf("标题\n正文", o).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FontsTest, EnvironmentOverridesTheDefaults) {
  ASSERT_EQ(setenv("GOVREPORT_FONT_FANGSONG", "AR PL UKai CN", 1), 0);
  const FontMap fonts = FontMapFromEnvironment();
  unsetenv("GOVREPORT_FONT_FANGSONG");
  EXPECT_EQ(fonts.fangsong, "AR PL UKai CN");
  EXPECT_EQ(fonts.heiti, FontMap().heiti);
  EXPECT_THAT(DescribeFontMap(fonts), HasSubstr("仿宋=AR PL UKai CN ("));
}

}  // namespace
}  // namespace govreport::layout
