#include "templates/docx/docx_writer.h"

#include <zip.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace govreport::docx {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string SeedText() {
  std::ifstream in(GR_DOCX_TESTDATA "/seed_report.txt", std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

struct Entry {
  std::string name;
  std::string data;
  std::tm mtime_local{};
};

// Reads every entry back with libzip, in archive order.
std::vector<Entry> Unzip(const std::string& bytes) {
  std::vector<Entry> entries;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  EXPECT_NE(source, nullptr);
  if (source == nullptr) return entries;
  std::unique_ptr<zip_t, ZipDiscard> archive(
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  EXPECT_NE(archive, nullptr) << zip_error_strerror(&error);
  zip_error_fini(&error);
  if (archive == nullptr) {
    zip_source_free(source);
    return entries;
  }
  const zip_int64_t n = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive.get(), i, 0, &stat) < 0) {
      ADD_FAILURE() << zip_strerror(archive.get());
      continue;
    }
    Entry& entry = entries.emplace_back();
    entry.name = stat.name;
    localtime_r(&stat.mtime, &entry.mtime_local);
    entry.data.resize(stat.size);
    std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(archive.get(), i, 0));
    if (file == nullptr || zip_fread(file.get(), entry.data.data(), entry.data.size()) !=
                               static_cast<zip_int64_t>(stat.size)) {
      ADD_FAILURE() << "cannot read " << entry.name;
    }
  }
  return entries;
}

std::map<std::string, std::string> Parts(const std::string& docx) {
  std::map<std::string, std::string> parts;
  for (Entry& e : Unzip(docx)) parts[e.name] = std::move(e.data);
  return parts;
}

std::string WriteOrDie(std::string_view text, const DocxOptions& options = {}) {
  absl::StatusOr<std::string> docx = WriteOfficialDocx(text, options);
  EXPECT_TRUE(docx.ok()) << docx.status();
  return docx.ok() ? *docx : std::string();
}

// --- classification ------------------------------------------------------

TEST(ClassifyLineTest, Headings) {
  const LineContext mid;
  EXPECT_EQ(ClassifyLine("一、主要工作成效", mid), LineKind::kHeading1);
  EXPECT_EQ(ClassifyLine("十二、其他", mid), LineKind::kHeading1);
  EXPECT_EQ(ClassifyLine("（一）坚决做到“两个维护”", mid), LineKind::kHeading2);
  EXPECT_EQ(ClassifyLine("(十)半角括号", mid), LineKind::kHeading2);
  EXPECT_EQ(ClassifyLine("1.加强支部建设", mid), LineKind::kHeading3);
  EXPECT_EQ(ClassifyLine("12．全角句点", mid), LineKind::kHeading3);
  EXPECT_EQ(ClassifyLine("（1）细项", mid), LineKind::kHeading4);
  EXPECT_EQ(ClassifyLine("(３)全角数字", mid), LineKind::kHeading4);
}

TEST(ClassifyLineTest, BodyLinesThatResembleHeadings) {
  const LineContext mid;
  EXPECT_EQ(ClassifyLine("一是提高政治站位。局党组……", mid), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("2022年市科技局未发生网络舆情事件。", mid), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("1.5万元用于帮扶。", mid), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("一年来，局党组……", mid), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("（注）说明", mid), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("今年，科技局……", mid), LineKind::kBody);
}

TEST(ClassifyLineTest, PositionalKinds) {
  EXPECT_EQ(ClassifyLine("  ", {.first = true}), LineKind::kBlank);
  EXPECT_EQ(ClassifyLine("\u3000\u00A0", {}), LineKind::kBlank);
  EXPECT_EQ(ClassifyLine("一、也是标题", {.first = true}), LineKind::kTitle);
  EXPECT_EQ(ClassifyLine("2023年5月8日", {.last = true}), LineKind::kDate);
  EXPECT_EQ(ClassifyLine("2023年*月*日 ", {.last = true}), LineKind::kDate);
  EXPECT_EQ(ClassifyLine("二〇二三年五月八日", {.last = true}), LineKind::kDate);
  EXPECT_EQ(ClassifyLine("２０２３年１２月３１日", {.last = true}), LineKind::kDate);
  // Only the last line can be the date, and only if it is nothing else.
  EXPECT_EQ(ClassifyLine("2023年5月8日", {}), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("2023年5月8日召开会议。", {.last = true}), LineKind::kBody);
  EXPECT_EQ(ClassifyLine("中共*市科学技术局党组", {.before_date = true}), LineKind::kIssuer);
}

TEST(ClassifyTextTest, EveryLineOfTheSeed) {
  const std::string seed = SeedText();
  ASSERT_FALSE(seed.empty());
  absl::StatusOr<std::vector<ClassifiedLine>> lines = ClassifyText(seed);
  ASSERT_TRUE(lines.ok()) << lines.status();
  std::vector<std::string_view> kinds;
  for (const ClassifiedLine& line : *lines) {
    kinds.push_back(LineKindName(line.kind));
  }
  EXPECT_THAT(kinds, ElementsAre("title", "blank", "body",                // 1-3
                                 "heading1", "heading2", "body", "body",  // 4-7
                                 "heading2", "body", "body", "body",      // 8-11
                                 "heading2", "body", "body", "body",      // 12-15
                                 "heading2", "body", "body",              // 16-18
                                 "heading1", "body", "heading1",          // 19-21
                                 "heading2", "heading2", "heading2",      // 22-24
                                 "issuer", "date", "blank"));             // 25-27

  const auto& l = *lines;
  EXPECT_EQ(l[0].text, "市科技局党组落实全面从严治党责任工作报告");
  EXPECT_EQ(l[2].line_number, 3);
  EXPECT_TRUE(l[2].text.starts_with("今年以来"));  // leading space gone
  EXPECT_EQ(l[24].text, "中共*市科学技术局党组");
  EXPECT_EQ(l[25].text, "2023年*月*日");  // trailing space and NBSP gone
  EXPECT_EQ(l[0].heading_size, 0u);

  // A heading line without body text is all heading.
  EXPECT_EQ(l[4].heading_size, l[4].text.size());
  EXPECT_EQ(l[3].heading_size, l[3].text.size());
  // "（一）强化理论武装，增强履职尽责能力。深入学习……": heading, then body.
  EXPECT_EQ(l[21].text.substr(0, l[21].heading_size), "（一）强化理论武装，增强履职尽责能力。");
  EXPECT_TRUE(l[21].text.substr(l[21].heading_size).starts_with("深入学习习近平新时代"));
  EXPECT_EQ(l[23].text.substr(0, l[23].heading_size), "（三）加强党风廉政建设，涵养良好政治生态。");
}

TEST(ClassifyTextTest, HeadingEndIgnoresPunctuationInsideQuotes) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      ClassifyText("标题\n（一）落实“三会一课。”制度。随后正文。\n一、只有标题。\n");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 3u);
  const ClassifiedLine& h = (*lines)[1];
  EXPECT_EQ(h.kind, LineKind::kHeading2);
  EXPECT_EQ(h.text.substr(0, h.heading_size), "（一）落实“三会一课。”制度。");
  // A trailing 。 with nothing after it does not split.
  EXPECT_EQ((*lines)[2].heading_size, (*lines)[2].text.size());
}

TEST(ClassifyTextTest, NoDateMeansNoSignatureBlock) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      ClassifyText("标题\r\n正文一。\r\n正文二。\r\n");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[1].kind, LineKind::kBody);
  EXPECT_EQ((*lines)[2].kind, LineKind::kBody);
  EXPECT_EQ((*lines)[2].text, "正文二。");  // \r trimmed
}

std::vector<std::string_view> Kinds(std::string_view text, const ClassifyOptions& options = {}) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines = ClassifyText(text, options);
  EXPECT_TRUE(lines.ok()) << lines.status();
  std::vector<std::string_view> kinds;
  if (lines.ok()) {
    for (const ClassifiedLine& line : *lines) kinds.push_back(LineKindName(line.kind));
  }
  return kinds;
}

TEST(ClassifyTextTest, TablesAreRunsOfLinesStartingWithABar) {
  EXPECT_THAT(Kinds("标题\n正文。\n| 项目 | 数量 |\n|---|---:|\n| 会议 | 12 |\n"
                    "|培训|3|\n\n| 另表 |\n| 一行 |\n某局\n2023年5月8日"),
              ElementsAre("title", "body", "table_header", "table_rule", "table_row", "table_row",
                          "blank", "table_header", "table_row", "issuer", "date"));
  // A rule row only counts right below the header.
  EXPECT_THAT(Kinds("标题\n| a | b |\n| c | d |\n|---|---|"),
              ElementsAre("title", "table_header", "table_row", "table_row"));
}

TEST(ClassifyTextTest, TableCellsAlignmentAndEscapedBars) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines = ClassifyText(
      "标题\n|名称|数量|说明|\n|:---|---:|:-:|\n| 甲 \\| 乙 | 1,234 | x |\n|丙|97.5%|-|");
  ASSERT_TRUE(lines.ok()) << lines.status();
  const Table table = ReadTable(*lines, 1);
  EXPECT_EQ(table.end, 5u);
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_THAT(table.rows[0], ElementsAre("名称", "数量", "说明"));
  EXPECT_THAT(table.rows[1], ElementsAre("甲 | 乙", "1,234", "x"));
  EXPECT_THAT(table.align, ElementsAre(CellAlign::kLeft, CellAlign::kRight, CellAlign::kCenter));
  EXPECT_THAT(SplitTableRow("| a | b \\|"), ElementsAre("a", "b |"));
  EXPECT_THAT(SplitTableRow("|a||"), ElementsAre("a", ""));

  // Without a rule row numbers go right, text left.
  Table plain;
  plain.rows = {{"a", "b"}};
  plain.align = {CellAlign::kDefault, CellAlign::kDefault};
  EXPECT_EQ(CellAlignment(plain, 0, "12"), CellAlign::kRight);
  EXPECT_EQ(CellAlignment(plain, 0, "-3.5%"), CellAlign::kRight);
  EXPECT_EQ(CellAlignment(plain, 0, "1,234"), CellAlign::kRight);
  EXPECT_EQ(CellAlignment(plain, 1, "12次"), CellAlign::kLeft);
  EXPECT_EQ(CellAlignment(plain, 1, "-"), CellAlign::kLeft);
  EXPECT_EQ(CellAlignment(table, 2, "12"), CellAlign::kCenter);
}

TEST(ClassifyTextTest, ARaggedTableRowIsRefusedNamingItsLine) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      ClassifyText("标题\n正文。\n|a|b|\n|---|---|\n|1|2|\n|1|2|3|\n");
  ASSERT_FALSE(lines.ok());
  EXPECT_EQ(lines.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(lines.status().message(), HasSubstr("line 6"));
  EXPECT_THAT(lines.status().message(), HasSubstr("3 cells under a header of 2 (line 3)"));
  // An escaped bar is no cell boundary, a rule row must fit too.
  EXPECT_TRUE(ClassifyText("标题\n|a|b|\n|x \\| y|z|").ok());
  EXPECT_FALSE(ClassifyText("标题\n|a|b|\n|---|").ok());
}

TEST(ClassifyTextTest, DisplayWidthCountsCjkDouble) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("会议12次"), 8);
  EXPECT_EQ(DisplayWidth("（一）"), 6);
}

TEST(ClassifyTextTest, RecipientsLineRightAfterTheTitle) {
  EXPECT_THAT(Kinds("关于某事的报告\n市委：\n正文。\n某局\n2023年5月8日"),
              ElementsAre("title", "recipients", "body", "issuer", "date"));
  // Only right after the title, only short, only without a sentence end.
  EXPECT_THAT(Kinds("标题\n正文。\n市委："), ElementsAre("title", "body", "body"));
  EXPECT_THAT(Kinds("标题\n经研究，现报告如下。具体是：\n正文。"),
              ElementsAre("title", "body", "body"));
  // A frame that names the recipients makes the line body text.
  EXPECT_THAT(Kinds("标题\n市委：\n正文。", {.recipients_given = true}),
              ElementsAre("title", "body", "body"));
}

TEST(ClassifyTextTest, EnclosureNoteBeforeTheSignature) {
  EXPECT_THAT(Kinds("标题\n正文。\n附件：1.某某情况统计表\n2.某某名单\n3.说明\n"
                    "某局\n2023年5月8日"),
              ElementsAre("title", "body", "enclosure", "enclosure_item", "enclosure_item",
                          "issuer", "date"));
  // A numbered line after other text is a heading again.
  EXPECT_THAT(Kinds("标题\n附件：某表\n正文。\n2.小标题"),
              ElementsAre("title", "enclosure", "body", "heading3"));
}

TEST(ClassifyTextTest, NoteAfterTheDateKeepsIssuerAndDate) {
  EXPECT_THAT(Kinds("标题\n正文。\n某局\n2023年5月8日\n（联系人：张三，电话：12345678）\n"),
              ElementsAre("title", "body", "issuer", "date", "note"));
  // Parentheses without a date above are body.
  EXPECT_THAT(Kinds("标题\n正文。\n（完）"), ElementsAre("title", "body", "body"));
}

TEST(ClassifyTextTest, AttachmentsAfterTheDate) {
  EXPECT_THAT(Kinds("标题\n正文。\n附件：1.甲表\n2.乙表\n某局\n2023年5月8日\n（附注）\n\n"
                    "附件1\n\n甲表\n| 项目 | 数 |\n| a | 1 |\n一、说明\n附件2\n乙表\n正文。"),
              ElementsAre("title", "body", "enclosure", "enclosure_item", "issuer", "date", "note",
                          "blank", "attachment_mark", "blank", "attachment_title", "table_header",
                          "table_row", "heading1", "attachment_mark", "attachment_title", "body"));
  EXPECT_THAT(Kinds("标题\n正文。\n某局\n２０２３年５月８日\n附件\n名单\n张三"),
              ElementsAre("title", "body", "issuer", "date", "attachment_mark", "attachment_title",
                          "body"));
  // 附件 before any date is body, and so is a date in an attachment.
  EXPECT_THAT(Kinds("标题\n附件\n正文。"), ElementsAre("title", "body", "body"));
  EXPECT_THAT(Kinds("标题\n正文。\n某局\n2023年5月8日\n附件1\n表\n2023年6月1日"),
              ElementsAre("title", "body", "issuer", "date", "attachment_mark", "attachment_title",
                          "body"));
}

TEST(ClassifyTextTest, ByteOrderMarkAndWideSpacesAreNotContent) {
  absl::StatusOr<std::vector<ClassifiedLine>> lines =
      ClassifyText("\uFEFF标题\n\u3000\u3000正文。\n某局\n2023年5月8日");
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[0].kind, LineKind::kTitle);
  EXPECT_EQ((*lines)[0].text, "标题");
  EXPECT_EQ((*lines)[1].text, "正文。");
  EXPECT_EQ((*lines)[2].kind, LineKind::kIssuer);
  EXPECT_EQ((*lines)[3].kind, LineKind::kDate);
}

// --- the package -----------------------------------------------------------

TEST(WriteOfficialDocxTest, ZipOpensAndHasEveryPart) {
  const std::vector<Entry> entries = Unzip(WriteOrDie(SeedText()));
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const Entry& e : entries) names.push_back(e.name);
  EXPECT_THAT(
      names,
      ElementsAre("[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml",
                  "word/settings.xml", "word/fontTable.xml", "word/footer1.xml", "word/footer2.xml",
                  "word/_rels/document.xml.rels", "docProps/core.xml", "docProps/app.xml"));
  for (const Entry& e : entries) {
    EXPECT_TRUE(absl::StartsWith(e.data, "<?xml version=\"1.0\"")) << e.name;
  }
}

TEST(WriteOfficialDocxTest, ContentTypesAndRelationshipsNameEveryPart) {
  auto parts = Parts(WriteOrDie(SeedText()));
  const std::string& types = parts["[Content_Types].xml"];
  for (const char* part :
       {"/word/document.xml", "/word/styles.xml", "/word/settings.xml", "/word/fontTable.xml",
        "/word/footer1.xml", "/word/footer2.xml", "/docProps/core.xml", "/docProps/app.xml"}) {
    EXPECT_THAT(types, HasSubstr(absl::StrCat("PartName=\"", part, "\"")));
  }
  EXPECT_THAT(parts["_rels/.rels"], HasSubstr("Target=\"word/document.xml\""));
  const std::string& rels = parts["word/_rels/document.xml.rels"];
  for (const char* target :
       {"styles.xml", "settings.xml", "fontTable.xml", "footer1.xml", "footer2.xml"}) {
    EXPECT_THAT(rels, HasSubstr(absl::StrCat("Target=\"", target, "\"")));
  }
}

TEST(WriteOfficialDocxTest, PageGeometryAndGrid) {
  const std::string doc = Parts(WriteOrDie(SeedText()))["word/document.xml"];
  EXPECT_THAT(doc, HasSubstr("<w:pgSz w:w=\"11906\" w:h=\"16838\"/>"));
  // 37 mm top, 26 mm right, 35 mm bottom, 28 mm left.
  EXPECT_THAT(doc, HasSubstr("<w:pgMar w:top=\"2098\" w:right=\"1474\" "
                             "w:bottom=\"1984\" w:left=\"1587\""));
  EXPECT_THAT(doc, HasSubstr("w:footer=\"1447\""));
  EXPECT_THAT(doc, HasSubstr("<w:docGrid w:type=\"linesAndChars\" "
                             "w:linePitch=\"579\" w:charSpace=\"-842\"/>"));
  EXPECT_THAT(doc, HasSubstr("<w:footerReference w:type=\"default\" "
                             "r:id=\"rIdFooterOdd\"/>"));
  EXPECT_THAT(doc, HasSubstr("<w:footerReference w:type=\"even\" "
                             "r:id=\"rIdFooterEven\"/>"));
}

TEST(WriteOfficialDocxTest, ParagraphsMapToStyles) {
  const std::string doc = Parts(WriteOrDie(SeedText()))["word/document.xml"];
  // Title, then the blank line under it.
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Title\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">市科技局党组落实全面从严治"
                             "党责任工作报告</w:t></w:r></w:p><w:p/>"));
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">一、主要工作成效</w:t>"));
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Heading2\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">（二）强化理论学习，厚植初"
                             "心使命思想根基</w:t></w:r></w:p>"));
  // Heading and the body text after it share one paragraph.
  EXPECT_THAT(doc, HasSubstr("（一）强化理论武装，增强履职尽责能力。</w:t></w:r>"
                             "<w:r><w:rPr><w:rStyle w:val=\"RunInBody\"/>"
                             "</w:rPr><w:t xml:space=\"preserve\">深入学习"));
  // Body paragraphs use Normal; 一是 paragraphs are body.
  EXPECT_THAT(doc, HasSubstr("<w:p><w:r><w:t xml:space=\"preserve\">一是提高"
                             "政治站位。"));
  // A blank line, then issuer centred over the date (both right-aligned).
  EXPECT_THAT(doc, HasSubstr("<w:p><w:pPr><w:keepNext/></w:pPr></w:p><w:p>"
                             "<w:pPr><w:pStyle w:val=\"Signature\"/>"));
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Date\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">2023年*月*日</w:t>"));
  // Blank input lines are not carried over, leading spaces are trimmed.
  EXPECT_THAT(doc, Not(HasSubstr("<w:t xml:space=\"preserve\"> ")));
}

TEST(WriteOfficialDocxTest, KeepsTheSignatureWithTheTextAboveIt) {
  const std::string doc = Parts(WriteOrDie(SeedText()))["word/document.xml"];
  // The last paragraph before the signature keeps with it and may give up its
  // last lines; run-in headings are not kept with the next paragraph.
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Heading2\"/><w:keepNext/>"
                             "<w:widowControl/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">（三）加强党风廉政建设"));
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Heading2\"/><w:keepNext "
                             "w:val=\"0\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">（一）强化理论武装"));
  // A heading standing alone keeps with its text through the style.
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Heading1\"/></w:pPr>"));
  // No signature, nothing kept.
  EXPECT_THAT(Parts(WriteOrDie("标题\n正文。"))["word/document.xml"], Not(HasSubstr("keepNext")));
}

TEST(WriteOfficialDocxTest, CondensedSpacingVariant) {
  DocxOptions options;
  options.character_grid = CharacterGrid::kCondensedSpacing;
  auto parts = Parts(WriteOrDie(SeedText(), options));
  EXPECT_THAT(parts["word/document.xml"],
              HasSubstr("<w:docGrid w:type=\"lines\" w:linePitch=\"579\"/>"));
  const std::string& styles = parts["word/styles.xml"];
  // Normal condenses by 5 twips; title and footer reset it.
  EXPECT_THAT(styles, HasSubstr("<w:spacing w:val=\"-5\"/><w:sz w:val=\"32\"/>"));
  EXPECT_THAT(styles, HasSubstr("<w:spacing w:val=\"0\"/><w:sz w:val=\"44\"/>"));
  EXPECT_THAT(styles, HasSubstr("<w:spacing w:val=\"0\"/><w:sz w:val=\"28\"/>"));
  // The default has no condensing.
  EXPECT_THAT(Parts(WriteOrDie(SeedText()))["word/styles.xml"],
              Not(HasSubstr("<w:spacing w:val=")));
}

TEST(WriteOfficialDocxTest, IssuerIsCentredOverTheDate) {
  const std::string doc = Parts(
      WriteOrDie("标题\n正文。\n中共重庆市科学技术局党组\n2023年5月8日\n"))["word/document.xml"];
  // Issuer 12 characters, date 6 (digits are half width): right indent
  // 4 + (6 − 12) / 2 = 1 character; the date's 4 characters are in its style.
  EXPECT_THAT(doc, HasSubstr("<w:pStyle w:val=\"Signature\"/><w:ind "
                             "w:right=\"316\" w:rightChars=\"100\""));
  const std::string styles = Parts(WriteOrDie("标题\n正文。"))["word/styles.xml"];
  EXPECT_THAT(styles, HasSubstr("w:right=\"1264\" w:rightChars=\"400\""));
}

TEST(WriteOfficialDocxTest, FontsAndStyles) {
  auto parts = Parts(WriteOrDie(SeedText()));
  const std::string& styles = parts["word/styles.xml"];
  for (const char* east_asia : {"仿宋_GB2312", "楷体_GB2312", "黑体", "方正小标宋简体", "宋体"}) {
    EXPECT_THAT(styles, HasSubstr(absl::StrCat("w:eastAsia=\"", east_asia, "\"")));
  }
  EXPECT_THAT(styles, HasSubstr("w:ascii=\"Times New Roman\" "
                                "w:hAnsi=\"Times New Roman\""));
  for (const char* id : {"Normal", "Title", "Heading1", "Heading2", "Heading3", "Heading4",
                         "Signature", "Date", "Footer", "RunInBody"}) {
    EXPECT_THAT(styles, HasSubstr(absl::StrCat("w:styleId=\"", id, "\"")));
  }
  // Body: 3号, two-character first-line indent, justified.
  EXPECT_THAT(styles, HasSubstr("<w:ind w:firstLine=\"632\" "
                                "w:firstLineChars=\"200\"/><w:jc w:val=\"both\"/>"));
  EXPECT_THAT(styles, HasSubstr("<w:sz w:val=\"32\"/>"));
  // Title: 2号 centred; heading 3 bold; page numbers 4号.
  EXPECT_THAT(styles, HasSubstr("<w:jc w:val=\"center\"/>"));
  EXPECT_THAT(styles, HasSubstr("<w:sz w:val=\"44\"/>"));
  EXPECT_THAT(styles, HasSubstr("w:eastAsia=\"仿宋_GB2312\" w:cs=\"Times New "
                                "Roman\" w:hint=\"eastAsia\"/><w:b w:val=\"1\"/>"));
  EXPECT_THAT(styles, HasSubstr("<w:sz w:val=\"28\"/>"));

  const std::string& fonts = parts["word/fontTable.xml"];
  EXPECT_THAT(fonts, HasSubstr("<w:font w:name=\"仿宋_GB2312\"><w:altName "
                               "w:val=\"FangSong\"/>"));
  EXPECT_THAT(fonts, HasSubstr("<w:font w:name=\"楷体_GB2312\"><w:altName "
                               "w:val=\"KaiTi\"/>"));
  EXPECT_THAT(fonts, HasSubstr("<w:font w:name=\"黑体\"><w:altName "
                               "w:val=\"SimHei\"/>"));
  EXPECT_THAT(fonts, HasSubstr("<w:font w:name=\"方正小标宋简体\"><w:altName "
                               "w:val=\"华文中宋\"/>"));
  EXPECT_THAT(fonts, HasSubstr("<w:font w:name=\"宋体\"><w:altName "
                               "w:val=\"SimSun\"/>"));
}

TEST(WriteOfficialDocxTest, OddAndEvenFooters) {
  auto parts = Parts(WriteOrDie(SeedText()));
  EXPECT_THAT(parts["word/settings.xml"], HasSubstr("<w:evenAndOddHeaders/>"));
  const std::string& odd = parts["word/footer1.xml"];
  const std::string& even = parts["word/footer2.xml"];
  for (const std::string* footer : {&odd, &even}) {
    EXPECT_THAT(*footer, HasSubstr("<w:t xml:space=\"preserve\">— </w:t>"));
    EXPECT_THAT(*footer, HasSubstr("<w:instrText xml:space=\"preserve\"> PAGE "
                                   "</w:instrText>"));
    EXPECT_THAT(*footer, HasSubstr("<w:t xml:space=\"preserve\"> —</w:t>"));
  }
  EXPECT_THAT(odd, HasSubstr("<w:ind w:right=\"280\""));
  EXPECT_THAT(odd, HasSubstr("<w:jc w:val=\"right\"/>"));
  EXPECT_THAT(even, HasSubstr("<w:ind w:left=\"280\""));
  EXPECT_THAT(even, HasSubstr("<w:jc w:val=\"left\"/>"));
}

TEST(WriteOfficialDocxTest, CorePropertiesDefaultToTitleAndIssuer) {
  DocxOptions options;
  options.timestamp = std::chrono::sys_days{std::chrono::year{2023} / 5 / 8} +
                      std::chrono::hours{9} + std::chrono::minutes{30};
  auto core = Parts(WriteOrDie(SeedText(), options))["docProps/core.xml"];
  EXPECT_THAT(core, HasSubstr("<dc:title>市科技局党组落实全面从严治党责任工作"
                              "报告</dc:title>"));
  EXPECT_THAT(core, HasSubstr("<dc:creator>中共*市科学技术局党组</dc:creator>"));
  EXPECT_THAT(core, HasSubstr(">2023-05-08T09:30:00Z</dcterms:created>"));
  EXPECT_THAT(core, HasSubstr(">2023-05-08T09:30:00Z</dcterms:modified>"));

  options.title = "另一个标题";
  options.author = "市科技局";
  core = Parts(WriteOrDie(SeedText(), options))["docProps/core.xml"];
  EXPECT_THAT(core, HasSubstr("<dc:title>另一个标题</dc:title>"));
  EXPECT_THAT(core, HasSubstr("<dc:creator>市科技局</dc:creator>"));
}

TEST(WriteOfficialDocxTest, SameInputSameBytes) {
  const std::string seed = SeedText();
  DocxOptions options;
  options.timestamp = std::chrono::sys_days{std::chrono::year{2023} / 5 / 8};
  const std::string a = WriteOrDie(seed, options);
  const std::string b = WriteOrDie(seed, options);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);

  options.timestamp += std::chrono::seconds{2};
  EXPECT_NE(WriteOrDie(seed, options), a);
}

// The deflate state is kept per thread and reused: what a thread wrote before
// (a larger document, another frame) must not show in the next document's
// bytes, and another thread must write the same ones.
TEST(WriteOfficialDocxTest, SameBytesAfterOtherDocumentsAndOnAnotherThread) {
  const std::string seed = SeedText();
  const std::string first = WriteOrDie(seed);
  DocxOptions framed;
  framed.frame.issuing_mark = "重庆市科学技术局文件";
  framed.frame.copy_to = "市纪委监委";
  std::string tables = "表格\n| 项目 | 数量 |\n|---|---:|\n";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&tables, "| 第", i, "项 | ", i * 7, " |\n");
  ASSERT_FALSE(WriteOrDie(tables, framed).empty());
  EXPECT_EQ(WriteOrDie(seed), first);
  std::string on_thread;
  std::thread([&] { on_thread = WriteOrDie(seed); }).join();
  EXPECT_EQ(on_thread, first);
}

TEST(WriteOfficialDocxTest, BytesDoNotDependOnTheTimeZone) {
  const char* saved = std::getenv("TZ");
  const std::string saved_tz = saved ? saved : "";
  DocxOptions options;
  options.timestamp = std::chrono::sys_days{std::chrono::year{2023} / 5 / 8} +
                      std::chrono::hours{23} + std::chrono::minutes{59};
  setenv("TZ", "UTC0", 1);
  tzset();
  const std::string utc = WriteOrDie(SeedText(), options);
  setenv("TZ", "CST-8", 1);  // Beijing, no tzdata needed
  tzset();
  const std::string beijing = WriteOrDie(SeedText(), options);
  if (saved) {
    setenv("TZ", saved_tz.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(utc, beijing);
}

TEST(WriteOfficialDocxTest, ZipEntriesCarryTheTimestamp) {
  DocxOptions options;
  options.timestamp = std::chrono::sys_days{std::chrono::year{2023} / 5 / 8} +
                      std::chrono::hours{9} + std::chrono::minutes{30} + std::chrono::seconds{10};
  for (const Entry& e : Unzip(WriteOrDie("标题", options))) {
    // libzip reads the DOS fields back as local time, which are the UTC
    // fields of the option.
    EXPECT_EQ(e.mtime_local.tm_year, 123) << e.name;
    EXPECT_EQ(e.mtime_local.tm_mon, 4) << e.name;
    EXPECT_EQ(e.mtime_local.tm_mday, 8) << e.name;
    EXPECT_EQ(e.mtime_local.tm_hour, 9) << e.name;
    EXPECT_EQ(e.mtime_local.tm_min, 30) << e.name;
    EXPECT_EQ(e.mtime_local.tm_sec, 10) << e.name;
  }
}

TEST(WriteOfficialDocxTest, TimestampOutOfRange) {
  DocxOptions options;
  options.timestamp = std::chrono::sys_days{std::chrono::year{-5} / 1 / 1};
  EXPECT_EQ(WriteOfficialDocx("标题", options).status().code(), absl::StatusCode::kInvalidArgument);
  // Before 1980 is fine in core.xml; the zip clamps it.
  options.timestamp = std::chrono::sys_days{std::chrono::year{1970} / 1 / 1};
  const std::string core = Parts(WriteOrDie("标题", options))["docProps/core.xml"];
  EXPECT_THAT(core, HasSubstr(">1970-01-01T00:00:00Z</dcterms:created>"));
}

TEST(WriteOfficialDocxTest, EscapesXml) {
  DocxOptions options;
  options.title = "R&D <\"x\"> 'y'";
  options.author = "A&B";
  const std::string text =
      "关于<script>&“引号”的报告\n正文 a < b && c > d \"q\" "
      "'a'\n一、A&B\t制表\n";
  auto parts = Parts(WriteOrDie(text, options));
  const std::string& doc = parts["word/document.xml"];
  EXPECT_THAT(doc, HasSubstr("关于&lt;script&gt;&amp;“引号”的报告"));
  EXPECT_THAT(doc, HasSubstr("正文 a &lt; b &amp;&amp; c &gt; d &quot;q&quot; "
                             "&apos;a&apos;"));
  EXPECT_THAT(doc, HasSubstr("一、A&amp;B</w:t><w:tab/><w:t "
                             "xml:space=\"preserve\">制表"));
  EXPECT_THAT(doc, Not(HasSubstr("<script>")));
  const std::string& core = parts["docProps/core.xml"];
  EXPECT_THAT(core, HasSubstr("<dc:title>R&amp;D &lt;&quot;x&quot;&gt; "
                              "&apos;y&apos;</dc:title>"));
  EXPECT_THAT(core, HasSubstr("<dc:creator>A&amp;B</dc:creator>"));
}

TEST(WriteOfficialDocxTest, RejectsInvalidUtf8) {
  for (std::string_view bad : {
           std::string_view("标题\n正文\xFF"),
           std::string_view("标题\n\xC0\xAF"),          // overlong '/'
           std::string_view("标题\n\xED\xA0\x80"),      // surrogate
           std::string_view("标题\n\xE4\xB8"),          // truncated
           std::string_view("标题\n\xF4\x90\x80\x80"),  // above U+10FFFF
           std::string_view("标题\n\x80"),              // lone continuation
       }) {
    absl::StatusOr<std::string> docx = WriteOfficialDocx(bad, {});
    EXPECT_EQ(docx.status().code(), absl::StatusCode::kInvalidArgument) << docx.status();
    EXPECT_THAT(docx.status().message(), HasSubstr("line 2"));
  }
  DocxOptions options;
  options.author = "\xFF";
  EXPECT_EQ(WriteOfficialDocx("标题", options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WriteOfficialDocxTest, RejectsCharactersXmlCannotCarry) {
  absl::StatusOr<std::string> docx = WriteOfficialDocx("标题\n正\x01文", {});
  EXPECT_EQ(docx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(docx.status().message(), HasSubstr("line 2, column 2"));
  EXPECT_EQ(WriteOfficialDocx("标题\n\xEF\xBF\xBF", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteOfficialDocx("标题\r正文", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WriteOfficialDocxTest, RejectsTextWithoutTitle) {
  EXPECT_EQ(WriteOfficialDocx("", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteOfficialDocx(" \n\u3000\n", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- the frame and tables --------------------------------------------------

DocumentFrame FullFrame() {
  DocumentFrame f;
  f.copy_number = "000001";
  f.secrecy = "秘密★1年";
  f.urgency = "特急";
  f.issuing_mark = "中共某市科学技术局党组";
  f.document_number = "某科党〔2024〕3号";
  f.copy_to = "市纪委监委，市委组织部";
  f.printing_org = "某市科学技术局办公室";
  f.printing_date = "2024年1月16日";
  return f;
}

std::string DocumentOf(std::string_view text, const DocumentFrame& frame) {
  DocxOptions options;
  options.frame = frame;
  return Parts(WriteOrDie(text, options))["word/document.xml"];
}

// Offsets of `needles` in `haystack`, which must all be there, in order.
void ExpectInOrder(const std::string& haystack, const std::vector<std::string>& needles) {
  size_t at = 0;
  for (const std::string& needle : needles) {
    const size_t found = haystack.find(needle, at);
    ASSERT_NE(found, std::string::npos) << needle << " not found after offset " << at;
    at = found + needle.size();
  }
}

constexpr std::string_view kFramedText =
    "关于某事的报告\n正文。\n附件：1.甲表\n2.乙表\n某局\n2024年1月15日\n附件1\n甲表\n| 项目 | 数 "
    "|\n"
    "| 会议 | 3 |\n";

TEST(DocxFrameTest, HeaderPartsComeInTheStandardsOrder) {
  const std::string doc = DocumentOf(kFramedText, FullFrame());
  ExpectInOrder(
      doc,
      {"000001", "秘密★1年", "特急", "w:color w:val=\"FF0000\"", "中共某市科学技术局党组",
       "某科党〔2024〕3号", R"(w:bottom w:val="single" w:sz="11" w:space="0" w:color="FF0000")",
       "关于某事的报告", "正文。", "附件：1.甲表", "某局", "2024年1月15日", "w:pageBreakBefore",
       "附件1", "甲表", "<w:tbl>", "抄送：市纪委监委，市委组织部。", "某市科学技术局办公室",
       "2024年1月16日印发"});
  // The mark: 小标宋, centred, its top 35 mm (1984 twips) below the type
  // area's top after the three lines of 份号, 密级 and 紧急程度.
  EXPECT_TRUE(absl::StrContains(doc, "w:line=\"247\" w:lineRule=\"exact\""));  // 1984 − 3 × 579
  EXPECT_TRUE(absl::StrContains(doc, "w:eastAsia=\"方正小标宋简体\""));
  EXPECT_TRUE(absl::StrContains(doc, "<w:sz w:val=\"72\"/>"));  // 36 pt: 11 characters fit
}

TEST(DocxFrameTest, UpwardDocumentsCarryTheSigners) {
  DocumentFrame frame = FullFrame();
  frame.upward = true;
  frame.signers = {"张三", "李四", "王五"};
  const std::string doc = DocumentOf(kFramedText, frame);
  // Two names a line; the 发文字号 on the line of the last one, 签发人：
  // in 仿宋, the names in 楷体.
  ExpectInOrder(doc, {"签发人：", "楷体_GB2312", "张三\u3000李四", "某科党〔2024〕3号", "<w:tab/>",
                      "王五", "w:color=\"FF0000\"/></w:pBdr>"});
  EXPECT_THAT(doc,
              Not(HasSubstr("签发人：</w:t></w:r><w:r><w:rPr><w:rFonts w:ascii=\"Times New "
                            "Roman\" w:hAnsi=\"Times New Roman\" w:eastAsia=\"楷体_GB2312\" "
                            "w:cs=\"Times New Roman\" w:hint=\"eastAsia\"/><w:b w:val=\"0\"/>"
                            "<w:bCs w:val=\"0\"/><w:spacing w:val=\"0\"/><w:sz w:val=\"32\"/>"
                            "<w:szCs w:val=\"32\"/></w:rPr><w:t xml:space=\"preserve\">王五")));
  // Without 上行文 the signers are not printed and the number is centred.
  frame.upward = false;
  EXPECT_THAT(DocumentOf(kFramedText, frame), Not(HasSubstr("签发人")));
}

TEST(DocxFrameTest, RecipientsNoteAndSeal) {
  DocumentFrame frame;
  frame.main_recipients = "市委";
  frame.note = "此件公开发布";
  const std::string doc = DocumentOf("标题\n正文。\n某局\n2024年1月15日", frame);
  ExpectInOrder(
      doc,
      {"标题",
       R"(w:firstLine="0" w:firstLineChars="0"/></w:pPr><w:r><w:t xml:space="preserve">市委：)",
       "正文。", "2024年1月15日", "（此件公开发布）"});
  // A 主送 line of the text itself, flush left too; with a frame's, body.
  const std::string own = DocumentOf("标题\n市委：\n正文。", {});
  EXPECT_THAT(own, HasSubstr("w:firstLineChars=\"0\"/></w:pPr><w:r><w:t "
                             "xml:space=\"preserve\">市委："));
  // A seal adds one empty line above the 署名.
  const std::string unsealed = DocumentOf("标题\n正文。\n某局\n2024年1月15日", {});
  frame = {};
  frame.sealed = true;
  const std::string sealed = DocumentOf("标题\n正文。\n某局\n2024年1月15日", frame);
  const std::string blank = "<w:p><w:pPr><w:keepNext/></w:pPr></w:p>";
  EXPECT_THAT(unsealed, HasSubstr(blank + "<w:p><w:pPr><w:pStyle w:val=\"Signature\"/>"));
  EXPECT_THAT(unsealed, Not(HasSubstr(blank + blank)));
  EXPECT_THAT(sealed, HasSubstr(blank + blank + "<w:p><w:pPr><w:pStyle w:val=\"Signature\"/>"));
}

TEST(DocxFrameTest, ImprintPageHasNoPageNumber) {
  DocumentFrame frame;
  frame.printing_org = "某局办公室";
  frame.printing_date = "2024年1月16日";
  std::map<std::string, std::string> parts = [&] {
    DocxOptions options;
    options.frame = frame;
    return Parts(WriteOrDie("标题\n正文。", options));
  }();
  ASSERT_TRUE(parts.count("word/footer3.xml"));
  EXPECT_THAT(parts["word/footer3.xml"], Not(HasSubstr("PAGE")));
  EXPECT_THAT(parts["[Content_Types].xml"], HasSubstr("/word/footer3.xml"));
  EXPECT_THAT(parts["word/_rels/document.xml.rels"], HasSubstr("Id=\"rIdFooterNone\""));
  const std::string& doc = parts["word/document.xml"];
  // Two sections: the text with page numbers, then the 版记 without.
  ExpectInOrder(doc,
                {"正文。", R"(<w:sectPr><w:footerReference w:type="default" r:id="rIdFooterOdd")",
                 "某局办公室", "2024年1月16日印发",
                 R"(<w:sectPr><w:footerReference w:type="default" r:id="rIdFooterNone")"});
  // The 版记's section starts on an even page (7.4.1), the text's does not.
  const size_t last_section = doc.rfind("<w:sectPr>");
  EXPECT_NE(doc.find(R"(<w:type w:val="evenPage"/>)", last_section), std::string::npos);
  EXPECT_EQ(doc.find(R"(<w:type w:val="evenPage"/>)"), doc.rfind(R"(<w:type w:val="evenPage"/>)"));
  // 0.35 mm lines first and last (one row: both).
  EXPECT_THAT(doc, HasSubstr("<w:top w:val=\"single\" w:sz=\"8\""));
  EXPECT_THAT(doc, HasSubstr("<w:bottom w:val=\"single\" w:sz=\"8\""));
  // No 版记, no third footer: the package is as before.
  EXPECT_FALSE(Parts(WriteOrDie("标题\n正文。")).count("word/footer3.xml"));
}

TEST(DocxTableTest, HeaderRepeatsNumbersGoRightWidthsFollowTheText) {
  const std::string doc =
      DocumentOf("标题\n| 项目名称很长很长很长 | 数 |\n| 会议 | 1,234 |\n| 培训 | 5 |", {});
  ExpectInOrder(doc, {"<w:tbl>", "<w:tblW w:w=\"8845\"", "<w:gridCol w:w=\"", "<w:tblHeader/>",
                      "项目名称很长很长很长", "<w:jc w:val=\"left\"/>", "会议",
                      "<w:jc w:val=\"right\"/>", "1,234", "</w:tbl>"});
  EXPECT_EQ(doc.find("<w:tblHeader/>"), doc.rfind("<w:tblHeader/>"));  // the header row only
  EXPECT_THAT(doc, HasSubstr("w:eastAsia=\"仿宋_GB2312\""));
  EXPECT_THAT(doc, HasSubstr("<w:sz w:val=\"28\"/>"));  // 4号
  // The first column, 20 half characters, is wider than the second, 5.
  const size_t first = doc.find("<w:gridCol w:w=\"") + 16;
  const size_t second = doc.find("<w:gridCol w:w=\"", first) + 16;
  EXPECT_GT(std::stoi(doc.substr(first)), 2 * std::stoi(doc.substr(second)));
  EXPECT_EQ(std::stoi(doc.substr(first)) + std::stoi(doc.substr(second)), 8845);
  EXPECT_THAT(doc, Not(HasSubstr("w:orient=\"landscape\"")));
}

TEST(DocxTableTest, ATableTooWideForThePageGoesLandscape) {
  std::string header = "|", row = "|";
  for (int c = 0; c < 12; ++c) {
    header += " 第" + std::to_string(c) + "列数量 |";
    row += " 12345678 |";
  }
  const std::string doc = DocumentOf("标题\n正文。\n" + header + "\n" + row + "\n后文。", {});
  // Portrait section ends before the table, the table's section is landscape
  // with the type area turned (225 mm wide), and the text after is portrait.
  const std::string landscape =
      R"(<w:pgSz w:w="16838" w:h="11906" w:orient="landscape"/>)"
      R"(<w:pgMar w:top="1587" w:right="2098" w:bottom="1474" w:left="1984")";
  ExpectInOrder(
      doc, {"正文。", R"(<w:pgSz w:w="11906" w:h="16838"/>)", "<w:tbl>", R"(<w:tblW w:w="12756")",
            "</w:tbl>", landscape, "后文。", R"(<w:pgSz w:w="11906" w:h="16838"/>)"});
}

TEST(DocxFrameTest, FrameFieldsAreCheckedLikeTheText) {
  DocxOptions options;
  options.frame.note = "bad\x01";
  absl::StatusOr<std::string> docx = WriteOfficialDocx("标题", options);
  ASSERT_FALSE(docx.ok());
  EXPECT_EQ(docx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(docx.status().message(), HasSubstr("frame.note"));
  options.frame = {};
  options.frame.signers = {"张三", "\xff"};
  docx = WriteOfficialDocx("标题", options);
  ASSERT_FALSE(docx.ok());
  EXPECT_THAT(docx.status().message(), HasSubstr("frame.signers[1]"));
}

TEST(DocxFrameTest, SameFrameSameBytes) {
  DocxOptions options;
  options.frame = FullFrame();
  EXPECT_EQ(WriteOrDie(kFramedText, options), WriteOrDie(kFramedText, options));
}

}  // namespace
}  // namespace govreport::docx
