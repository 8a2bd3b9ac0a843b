// The text formats (Markdown, HTML, TXT) with the frame and tables; the
// Markdown is also read back by a real CommonMark implementation (cmark,
// Debian's package; the checks that need it skip when it is missing).
#include "templates/service/formats.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "document_checks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace govreport::templates {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

docx::DocumentFrame FullFrame() {
  docx::DocumentFrame f;
  f.copy_number = "000001";
  f.secrecy = "秘密★1年";
  f.urgency = "特急";
  f.issuing_mark = "中共某市科学技术局党组";
  f.document_number = "某科党〔2024〕3号";
  f.upward = true;
  f.signers = {"张三", "李四", "王五"};
  f.main_recipients = "市委";
  f.note = "此件公开发布";
  f.copy_to = "市纪委监委，市委组织部";
  f.printing_org = "某局办公室";
  f.printing_date = "2024年1月16日";
  return f;
}

constexpr absl::string_view kText =
    "关于某事的报告\n"
    "（一）强化理论武装。局党组深入学习。\n"
    "| 项目 | 数量 | 说明 |\n"
    "|---|---:|:---:|\n"
    "| 会议 | 12 | a\\|b |\n"
    "| 专题培训班 | 3 | * |\n"
    "附件：1.甲表\n"
    "2.乙表\n"
    "某局\n"
    "2024年1月15日\n"
    "附件1\n"
    "甲表\n"
    "正文。\n";

// Offsets of `needles` in `haystack`, which must all be there, in order.
void ExpectInOrder(const std::string& haystack, const std::vector<std::string>& needles) {
  size_t at = 0;
  for (const std::string& needle : needles) {
    const size_t found = haystack.find(needle, at);
    ASSERT_NE(found, std::string::npos) << "\"" << needle << "\" not after offset " << at << " in\n"
                                        << haystack;
    at = found + needle.size();
  }
}

// `markdown` rendered to HTML by cmark, or nothing when cmark is missing.
std::optional<std::string> Cmark(const std::string& markdown) {
  if (!testing::OnPath("cmark")) return std::nullopt;
  const std::filesystem::path in =
      std::filesystem::temp_directory_path() / absl::StrCat("gr_formats_", getpid(), ".md");
  std::ofstream(in, std::ios::binary) << markdown;
  testing::CommandResult html = testing::RunCommand(absl::StrCat("cmark '", in.string(), "'"));
  std::filesystem::remove(in);
  return html.output;
}

TEST(MarkdownTest, FrameAsParagraphsInThePagesOrder) {
  auto md = ToMarkdown(kText, FullFrame());
  ASSERT_TRUE(md.ok()) << md.status();
  ExpectInOrder(
      *md, {"000001\n\n", "秘密★1年\n\n", "特急\n\n", "中共某市科学技术局党组\n\n",
            "某科党〔2024〕3号\n\n", "签发人：张三\u3000李四  \n王五\n\n", "---\n\n",
            "# 关于某事的报告\n\n", "市委：\n\n", "| 项目 | 数量 | 说明 |", "附件：1.甲表  \n",
            "某局  \n", "2024年1月15日  \n", "（此件公开发布）\n\n", "---\n\n附件1\n\n# 甲表\n\n",
            "---\n\n抄送：市纪委监委，市委组织部。\n\n", "某局办公室\u30002024年1月16日印发\n\n"});
}

TEST(MarkdownTest, TablesArePipeTablesWithEscapedCells) {
  auto md = ToMarkdown(kText);
  ASSERT_TRUE(md.ok()) << md.status();
  ExpectInOrder(*md, {"| 项目 | 数量 | 说明 |\n| --- | ---: | :---: |\n| 会议 | 12 | a\\|b |\n"
                      "| 专题培训班 | 3 | \\* |\n\n"});
  // Without a rule row, an all-number column goes right.
  auto plain = ToMarkdown("标题\n|a|b|\n|x|1|\n|y|2|");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(*plain, HasSubstr("| --- | ---: |"));
  const auto html = Cmark(*md);
  if (!html) GTEST_SKIP() << "cmark is not installed (apt-get install cmark)";
  // CommonMark itself has no tables; the cells' bar stays one cell's text
  // and nothing turns into emphasis.
  EXPECT_THAT(*html, Not(HasSubstr("<em>")));
}

// **（一）…。**局党组 is not bold under CommonMark (the closing ** follows
// punctuation and precedes a letter, so it is not right-flanking); the
// sentence's 。 goes after the ** instead.
TEST(MarkdownTest, HeadingSentencesAreBoldUnderCommonMark) {
  auto md = ToMarkdown(
      "标题\n（一）强化理论武装。局党组深入学习。\n（二）落实“三会一课”。随后。\n"
      "1.加强支部建设！正文。\n（三）只有标题。\n");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_THAT(*md, HasSubstr("**（一）强化理论武装**。局党组深入学习。"));
  const auto html = Cmark(*md);
  if (!html) GTEST_SKIP() << "cmark is not installed (apt-get install cmark)";
  EXPECT_THAT(*html, HasSubstr("<strong>（一）强化理论武装</strong>。局党组深入学习。"));
  EXPECT_THAT(*html, HasSubstr("<strong>（二）落实“三会一课”</strong>。随后。"));
  EXPECT_THAT(*html, HasSubstr("<strong>1.加强支部建设</strong>！正文。"));
  EXPECT_THAT(*html, HasSubstr("<strong>（三）只有标题。</strong>"));
  EXPECT_THAT(*html, Not(HasSubstr("**")));
}

TEST(HtmlTest, PrintsOnA4WithTheFrameInOrder) {
  docx::DocumentFrame frame = FullFrame();
  frame.note = "<script>x</script>";
  auto html = ToHtml(kText, "t", frame);
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_THAT(*html, HasSubstr("@page{size:A4;margin:37mm 26mm 35mm 28mm}"));
  EXPECT_THAT(*html, HasSubstr(".mark{color:#f00;"));
  EXPECT_THAT(*html, HasSubstr("print-color-adjust:exact"));
  ExpectInOrder(*html, {"<p class=\"head\">000001</p>",
                        "秘密★1年",
                        "特急",
                        "<p class=\"mark\"",
                        "中共某市科学技术局党组",
                        "<p class=\"docnum up\"><span>某科党〔2024〕3号",
                        "签发人：<span class=\"kai\">张三\u3000李四</span>",
                        "王五",
                        "<hr class=\"red\">",
                        "<h1>关于某事的报告</h1>",
                        "<p class=\"recipients\">市委：</p>",
                        "<table>\n<thead>\n<tr><th>项目</th>",
                        std::string("</thead>\n<tbody>\n<tr><td class=\"l\">会议</td>") +
                            R"(<td class="r">12</td><td class="c">a|b</td>)",
                        "<p class=\"enclosure\"",
                        "附件：1.甲表",
                        "<p class=\"issuer\">某局",
                        "<p class=\"date\">2024年1月15日",
                        "&lt;script&gt;",
                        "<section class=\"attachment\">\n<p class=\"attmark\">附件1</p>",
                        "<h1>甲表</h1>",
                        "</section>",
                        "<footer class=\"imprint\">",
                        "抄送：市纪委监委，市委组织部。",
                        "2024年1月16日印发",
                        "</footer>"});
  EXPECT_THAT(*html, Not(HasSubstr("<script>")));
}

TEST(HtmlTest, AWideTableGetsTheLandscapePage) {
  std::string header = "|", row = "|";
  for (int c = 0; c < 12; ++c) {
    header += " 第" + std::to_string(c) + "列数量 |";
    row += " 12345678 |";
  }
  auto html = ToHtml("标题\n" + header + "\n" + row, "t");
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_THAT(*html, HasSubstr("<table class=\"wide\">"));
  EXPECT_THAT(*html, HasSubstr("@page wide{size:A4 landscape;"));
}

TEST(TextTest, UnchangedWithoutFrameOrTable) {
  const std::string text = "  标题\n\u3000正文。 \n\n某局\n2024年1月15日\n（附注）\n";
  auto out = ToText(text);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, text);
}

// Every line of a TXT table is as wide as the others by display width, CJK
// counted double; numbers right, text left, header centred.
TEST(TextTest, TablesAlignByDisplayWidth) {
  auto out = ToText("标题\n| 项目 | 数量 |\n| 会议abc | 12 |\n| 专题培训班 | 3 |\n后文。");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "标题\n"
            "+------------+------+\n"
            "|    项目    | 数量 |\n"
            "+------------+------+\n"
            "| 会议abc    |   12 |\n"
            "| 专题培训班 |    3 |\n"
            "+------------+------+\n"
            "后文。\n");
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    if (absl::StartsWith(line, "+") || absl::StartsWith(line, "|")) {
      EXPECT_EQ(docx::DisplayWidth(std::string_view(line.data(), line.size())), 21) << line;
    }
  }
}

TEST(TextTest, FrameLinesAndFormFeeds) {
  auto out = ToText(kText, FullFrame());
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectInOrder(
      *out,
      {"000001\n", "秘密★1年\n", "特急\n", "中共某市科学技术局党组\n", "签发人：张三\u3000李四\n",
       "某科党〔2024〕3号\u3000王五\n", std::string(56, '-'), "关于某事的报告\n", "市委：\n",
       "|    项目    | 数量 | 说明 |\n", "附件：1.甲表\n", "某局\n", "2024年1月15日\n",
       "（此件公开发布）\n", "\f\n附件1\n", "甲表\n", "\f\n" + std::string(56, '-'),
       "抄送：市纪委监委，市委组织部。\n", "某局办公室\u30002024年1月16日印发\n"});
}

TEST(FormatsTest, ARaggedTableIsRefusedInEveryFormat) {
  const std::string text = "标题\n|a|b|\n|1|2|3|\n";
  for (const absl::Status& st :
       {ToText(text).status(), ToMarkdown(text).status(), ToHtml(text, "t").status()}) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(st.message()), HasSubstr("line 3"));
  }
}

TEST(FormatsTest, FrameFromProtoChecksEveryField) {
  v1::DocumentFrame in;
  in.set_issuing_mark("某局");
  in.set_upward(true);
  in.add_signers("张三");
  in.set_sealed(true);
  auto frame = FrameFromProto(in);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->issuing_mark, "某局");
  EXPECT_TRUE(frame->upward && frame->sealed);
  EXPECT_EQ(frame->signers, std::vector<std::string>{"张三"});

  in.set_copy_to(std::string(1001, 'a'));
  EXPECT_EQ(FrameFromProto(in).status().message(), "frame.copy_to: 1001 characters, at most 1000");
  in.clear_copy_to();
  in.set_note("一\t二");
  EXPECT_TRUE(absl::StartsWith(FrameFromProto(in).status().message(), "frame.note: "));
  in.clear_note();
  in.add_signers("");
  EXPECT_TRUE(absl::StartsWith(FrameFromProto(in).status().message(), "frame.signers[1]: "));
}

}  // namespace
}  // namespace govreport::templates
