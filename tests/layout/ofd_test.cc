// The OFD (GB/T 33190-2016) read back by real tools: Info-ZIP's unzip takes
// the package apart, xmllint finds every part well-formed and the elements
// and attributes the schema requires where it requires them, FreeType opens
// every embedded font and finds a glyph for every character drawn in it,
// and the text of each page's TextCodes is the text the layout set on that
// page. The seal is an image resource, the landscape page has its own box,
// and a cut or changed package is refused with a message, never a crash.
#include <ft2build.h>
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp
#include FT_FREETYPE_H

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/layout/fonts.h"
#include "templates/layout/layout.h"
#include "templates/layout/ofd_writer.h"
#include "test_png.h"

namespace govreport::layout {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::OnPath;
using testing::ReadFile;
using testing::RunCommand;

std::string Fixture(const char* name) { return ReadFile(fs::path(GR_DOCX_TESTDATA) / name); }

docx::DocumentFrame ExampleFrame() {
  docx::DocumentFrame f = testing::FullDocumentFrame();
  f.seal_image = testing::RingPng(200, 200);
  return f;
}

OfdOptions Dated(std::chrono::sys_seconds t = std::chrono::sys_days{std::chrono::year{2024} / 1 /
                                                                    16}) {
  OfdOptions options;
  options.timestamp = t;
  return options;
}

struct XmlDocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDoc = std::unique_ptr<xmlDoc, XmlDocFree>;

XmlDoc Parse(const fs::path& file) {
  return XmlDoc(xmlReadFile(file.c_str(), nullptr, XML_PARSE_NONET));
}

std::string Attr(const xmlNode* node, const char* name) {
  xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string out = v == nullptr ? "" : reinterpret_cast<const char*>(v);
  xmlFree(v);
  return out;
}

std::string Content(const xmlNode* node) {
  xmlChar* v = xmlNodeGetContent(node);
  std::string out = v == nullptr ? "" : reinterpret_cast<const char*>(v);
  xmlFree(v);
  return out;
}

// Every element named `name` under `node`, in document order.
void Find(const xmlNode* node, std::string_view name, std::vector<const xmlNode*>* out) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (std::string_view(reinterpret_cast<const char*>(c->name)) == name) out->push_back(c);
    Find(c, name, out);
  }
}

std::vector<const xmlNode*> All(const XmlDoc& doc, std::string_view name) {
  std::vector<const xmlNode*> out;
  if (doc != nullptr) Find(reinterpret_cast<const xmlNode*>(doc.get()), name, &out);
  return out;
}

// What xmllint --xpath prints for `expr` on `file` (local names, so the
// expressions need no namespace binding).
std::string XPath(const fs::path& file, const std::string& expr) {
  const testing::CommandResult r =
      RunCommand(absl::StrCat("xmllint --xpath \"", expr, "\" '", file.string(), "'"));
  if (r.exit_code != 0) return absl::StrCat("xmllint failed: ", r.output);
  return std::string(absl::StripTrailingAsciiWhitespace(r.output));
}

std::string El(absl::string_view name) { return absl::StrCat("*[local-name()='", name, "']"); }

struct Case {
  const char* fixture;
  bool framed;
};

class OfdTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    for (const char* tool : {"unzip", "xmllint"}) {
      if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed (scripts/setup-deps.sh)";
    }
    absl::StatusOr<FontMap> fonts = ConfiguredFonts();
    ASSERT_TRUE(fonts.ok()) << fonts.status();
    if (GetParam().framed) frame_ = ExampleFrame();
    absl::StatusOr<Document> doc = LayOut(Fixture(GetParam().fixture), frame_, *fonts);
    ASSERT_TRUE(doc.ok()) << doc.status();
    doc_ = *std::move(doc);
    absl::StatusOr<std::string> ofd = WriteOfd(doc_, Dated());
    ASSERT_TRUE(ofd.ok()) << ofd.status();
    ofd_ = *std::move(ofd);
    std::string dir_template = (fs::temp_directory_path() / "ofd_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
    { std::ofstream(dir_ / "doc.ofd", std::ios::binary) << ofd_; }
    const testing::CommandResult unzipped =
        RunCommand(absl::StrCat("cd '", dir_.string(), "' && unzip -q doc.ofd -d x"));
    ASSERT_EQ(unzipped.exit_code, 0) << unzipped.output;
    root_ = dir_ / "x";
  }
  // GR_OFD_KEEP_OUTPUT=1 keeps each case's package and its parts for a look.
  void TearDown() override {
    const char* keep = std::getenv("GR_OFD_KEEP_OUTPUT");
    if (keep != nullptr && *keep != '\0') {
      std::cerr << "kept " << (dir_ / "doc.ofd") << "\n";
      return;
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path PageFile(size_t p) const {
    return root_ / "Doc_0" / "Pages" / absl::StrCat("Page_", p) / "Content.xml";
  }

  docx::DocumentFrame frame_;
  Document doc_;
  std::string ofd_;
  fs::path dir_, root_;
};

TEST_P(OfdTest, EveryPartIsWellFormedXml) {
  int parts = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (entry.path().extension() != ".xml") continue;
    ++parts;
    const testing::CommandResult lint =
        RunCommand(absl::StrCat("xmllint --noout '", entry.path().string(), "'"));
    EXPECT_EQ(lint.exit_code, 0) << entry.path() << ": " << lint.output;
  }
  // OFD.xml, Document.xml, PublicRes.xml, a Content.xml per page (and
  // DocumentRes.xml when sealed).
  EXPECT_EQ(parts, 3 + static_cast<int>(doc_.pages.size()) + (GetParam().framed ? 1 : 0));
}

TEST_P(OfdTest, TheEntryAndTheDocumentHaveTheRequiredElements) {
  const fs::path ofd = root_ / "OFD.xml";
  EXPECT_EQ(XPath(ofd, absl::StrCat("string(/", El("OFD"), "/@Version)")), "1.0");
  EXPECT_EQ(XPath(ofd, absl::StrCat("string(/", El("OFD"), "/@DocType)")), "OFD");
  const std::string body = absl::StrCat("/", El("OFD"), "/", El("DocBody"));
  EXPECT_THAT(XPath(ofd, absl::StrCat("string(", body, "/", El("DocInfo"), "/", El("DocID"), ")")),
              ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(
      XPath(ofd, absl::StrCat("string(", body, "/", El("DocInfo"), "/", El("CreationDate"), ")")),
      "2024-01-16");
  EXPECT_EQ(XPath(ofd, absl::StrCat("string(", body, "/", El("DocRoot"), ")")),
            "Doc_0/Document.xml");

  const fs::path document = root_ / "Doc_0" / "Document.xml";
  const std::string common = absl::StrCat("/", El("Document"), "/", El("CommonData"));
  EXPECT_EQ(XPath(document, absl::StrCat("string(", common, "/", El("PageArea"), "/",
                                         El("PhysicalBox"), ")")),
            "0 0 210 297");
  EXPECT_EQ(XPath(document, absl::StrCat("string(", common, "/", El("PublicRes"), ")")),
            "PublicRes.xml");
  const std::string pages = absl::StrCat("/", El("Document"), "/", El("Pages"), "/", El("Page"));
  EXPECT_EQ(XPath(document, absl::StrCat("count(", pages, "[@ID and @BaseLoc])")),
            absl::StrCat(doc_.pages.size()));
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    EXPECT_TRUE(fs::exists(PageFile(p))) << PageFile(p);
  }
}

// Every object has an ID, unique in the document and at most MaxUnitID;
// every TextObject its Boundary, Font (a font of PublicRes) and Size.
TEST_P(OfdTest, IdsAreUniqueAndObjectsHaveTheirRequiredAttributes) {
  int max_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      XPath(root_ / "Doc_0" / "Document.xml", absl::StrCat("string(//", El("MaxUnitID"), ")")),
      &max_id));
  std::set<int> ids;
  std::set<std::string> font_ids;
  auto take = [&](const XmlDoc& doc) {
    for (const char* name :
         {"Font", "MultiMedia", "Layer", "TextObject", "PathObject", "ImageObject"}) {
      for (const xmlNode* n : All(doc, name)) {
        int id = 0;
        ASSERT_TRUE(absl::SimpleAtoi(Attr(n, "ID"), &id)) << name;
        EXPECT_TRUE(ids.insert(id).second) << "ID " << id << " twice";
        EXPECT_LE(id, max_id);
        EXPECT_FALSE(Attr(n, "Boundary").empty() && std::string_view(name).ends_with("Object"))
            << name << " " << id << " without Boundary";
        if (std::string_view(name) == "Font") font_ids.insert(Attr(n, "ID"));
      }
    }
  };
  take(Parse(root_ / "Doc_0" / "PublicRes.xml"));
  if (GetParam().framed) take(Parse(root_ / "Doc_0" / "DocumentRes.xml"));
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    const XmlDoc page = Parse(PageFile(p));
    ASSERT_NE(page, nullptr);
    take(page);
    for (const xmlNode* text : All(page, "TextObject")) {
      EXPECT_TRUE(font_ids.contains(Attr(text, "Font"))) << "page " << p;
      double size = 0;
      EXPECT_TRUE(absl::SimpleAtod(Attr(text, "Size"), &size) && size > 0);
    }
  }
}

// The characters of the layout's lines, page by page, without the
// zero-width spaces that draw nothing.
std::vector<std::string> LayoutText(const Document& doc) {
  std::vector<std::string> out;
  for (const Page& page : doc.pages) {
    std::string text;
    for (const PlacedLine& line : page.lines) text += line.Text();
    out.push_back(text);
  }
  return out;
}

TEST_P(OfdTest, EachPagesTextCodesAreTheLayoutsTextOfThatPage) {
  const std::vector<std::string> expected = LayoutText(doc_);
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    std::string text;
    const XmlDoc page = Parse(PageFile(p));
    for (const xmlNode* code : All(page, "TextCode")) text += Content(code);
    EXPECT_TRUE(text == expected[p]) << "page " << p + 1 << ":\n" << text << "\n≠\n" << expected[p];
  }
  // ReadOfd, the suite's own reader, agrees.
  const absl::StatusOr<OfdSummary> summary = ReadOfd(ofd_);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->pages, static_cast<int>(doc_.pages.size()));
  EXPECT_TRUE(summary->page_text == expected);
  EXPECT_EQ(summary->title, doc_.title);
}

// Each font file opens in FreeType, and every character of the TextCodes
// set in it has a glyph there; glyph ids of CGTransforms are in the font.
TEST_P(OfdTest, EmbeddedFontsOpenAndMapEveryCharacterDrawn) {
  FT_Library library = nullptr;
  ASSERT_EQ(FT_Init_FreeType(&library), 0);
  std::map<std::string, FT_Face> faces;  // by Font ID
  std::vector<std::string> bytes;
  bytes.reserve(16);
  const XmlDoc res = Parse(root_ / "Doc_0" / "PublicRes.xml");
  for (const xmlNode* font : All(res, "Font")) {
    std::vector<const xmlNode*> file;
    Find(font, "FontFile", &file);
    ASSERT_EQ(file.size(), 1u);
    bytes.push_back(ReadFile(root_ / "Doc_0" / "Res" / Content(file.front())));
    ASSERT_FALSE(bytes.back().empty()) << Content(file.front());
    FT_Face face = nullptr;
    ASSERT_EQ(FT_New_Memory_Face(library, reinterpret_cast<const FT_Byte*>(bytes.back().data()),
                                 static_cast<FT_Long>(bytes.back().size()), 0, &face),
              0)
        << Content(file.front());
    faces[Attr(font, "ID")] = face;
  }
  ASSERT_FALSE(faces.empty());
  int characters = 0;
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    const XmlDoc page = Parse(PageFile(p));
    for (const xmlNode* text : All(page, "TextObject")) {
      FT_Face face = faces.at(Attr(text, "Font"));
      std::vector<const xmlNode*> codes, glyphs;
      Find(text, "TextCode", &codes);
      Find(text, "Glyphs", &glyphs);
      for (const xmlNode* code : codes) {
        const std::string s = Content(code);
        for (const char* c = s.c_str(); *c != '\0'; c = g_utf8_next_char(c)) {
          ++characters;
          EXPECT_NE(FT_Get_Char_Index(face, g_utf8_get_char(c)), 0u)
              << "U+" << std::hex << g_utf8_get_char(c) << " on page " << std::dec << p + 1;
        }
      }
      for (const xmlNode* g : glyphs) {
        for (absl::string_view id : absl::StrSplit(Content(g), ' ')) {
          long glyph = 0;
          EXPECT_TRUE(absl::SimpleAtoi(id, &glyph) && glyph > 0 && glyph < face->num_glyphs);
        }
      }
    }
  }
  EXPECT_GT(characters, 100);
  for (auto& [id, face] : faces) FT_Done_Face(face);
  FT_Done_FreeType(library);
}

TEST_P(OfdTest, SameInputSameBytes) {
  absl::StatusOr<std::string> again = WriteOfd(doc_, Dated());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == ofd_);
}

// Against the schema itself where one is at hand: GOVREPORT_OFD_XSD_DIR
// names a directory with the standard's OFD.xsd, Document.xsd, Res.xsd and
// Page.xsd (the suite does not ship them; docs/ofd.md).
TEST_P(OfdTest, ValidAgainstTheSchemaWhenGiven) {
  const char* xsd = std::getenv("GOVREPORT_OFD_XSD_DIR");
  if (xsd == nullptr || *xsd == '\0') GTEST_SKIP() << "GOVREPORT_OFD_XSD_DIR is not set";
  std::vector<std::pair<std::string, fs::path>> parts = {
      {"OFD.xsd", root_ / "OFD.xml"},
      {"Document.xsd", root_ / "Doc_0" / "Document.xml"},
      {"Res.xsd", root_ / "Doc_0" / "PublicRes.xml"}};
  if (GetParam().framed) parts.emplace_back("Res.xsd", root_ / "Doc_0" / "DocumentRes.xml");
  for (size_t p = 0; p < doc_.pages.size(); ++p) parts.emplace_back("Page.xsd", PageFile(p));
  for (const auto& [schema, file] : parts) {
    const testing::CommandResult r =
        RunCommand(absl::StrCat("xmllint --noout --schema '", (fs::path(xsd) / schema).string(),
                                "' '", file.string(), "'"));
    EXPECT_EQ(r.exit_code, 0) << file << ":\n" << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OfdTest,
                         ::testing::Values(Case{"seed_report.txt", false},
                                           Case{"full_document.txt", true}),
                         [](const auto& p) { return p.param.framed ? "Full" : "Seed"; });

class OfdFullTest : public OfdTest {};

// The seal PNG is a MultiMedia of DocumentRes, stored as it is, and an
// ImageObject on the page of the 成文日期 draws it in the layout's box.
TEST_P(OfdFullTest, TheSealIsAnImageResourceDrawnInItsBox) {
  const XmlDoc res = Parse(root_ / "Doc_0" / "DocumentRes.xml");
  const std::vector<const xmlNode*> media = All(res, "MultiMedia");
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(Attr(media[0], "Type"), "Image");
  std::vector<const xmlNode*> file;
  Find(media[0], "MediaFile", &file);
  ASSERT_EQ(file.size(), 1u);
  EXPECT_TRUE(ReadFile(root_ / "Doc_0" / "Res" / Content(file[0])) == frame_.seal_image);
  int drawn = 0;
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    const XmlDoc page = Parse(PageFile(p));
    for (const xmlNode* image : All(page, "ImageObject")) {
      ++drawn;
      EXPECT_EQ(Attr(image, "ResourceID"), Attr(media[0], "ID"));
      ASSERT_EQ(doc_.pages[p].images.size(), 1u) << "page " << p + 1;
      const PlacedImage& placed = doc_.pages[p].images[0];
      std::vector<double> box;
      for (absl::string_view v : absl::StrSplit(Attr(image, "Boundary"), ' ')) {
        double d = 0;
        ASSERT_TRUE(absl::SimpleAtod(v, &d));
        box.push_back(d);
      }
      ASSERT_EQ(box.size(), 4u);
      constexpr double kMm = 72 / 25.4;
      EXPECT_NEAR(box[0], placed.x / kMm, 0.001);
      EXPECT_NEAR(box[2], 42, 0.01);  // GB/T 9704's 42 mm seal, as in the PDF
      EXPECT_EQ(Attr(image, "CTM"), absl::StrCat(box[2], " 0 0 ", box[3], " 0 0"));
    }
  }
  EXPECT_EQ(drawn, 1);
}

// The wide table's page is landscape in its own Area; its page number is
// turned by its TextObject's CTM; the red line under the 发文机关标志 is a
// red PathObject on page 1.
TEST_P(OfdFullTest, LandscapePageRedLineAndTurnedNumber) {
  int landscape = 0;
  for (size_t p = 0; p < doc_.pages.size(); ++p) {
    const std::string box = XPath(PageFile(p), absl::StrCat("string(/", El("Page"), "/", El("Area"),
                                                            "/", El("PhysicalBox"), ")"));
    const bool wide = doc_.pages[p].width > doc_.pages[p].height;
    EXPECT_EQ(box, wide ? "0 0 297 210" : "") << "page " << p + 1;
    if (!wide) continue;
    ++landscape;
    EXPECT_EQ(XPath(PageFile(p), absl::StrCat("count(//", El("TextObject"),
                                              "[starts-with(@CTM, '0 1 -1 0 ')])")),
              "1")
        << "the turned page number";
  }
  EXPECT_EQ(landscape, 1);
  EXPECT_NE(XPath(PageFile(0), absl::StrCat("count(//", El("PathObject"), "[", El("StrokeColor"),
                                            "/@Value='255 0 0'])")),
            "0");
}

INSTANTIATE_TEST_SUITE_P(Full, OfdFullTest, ::testing::Values(Case{"full_document.txt", true}));

// ------------------------------------------------------------------
// An independent reader: ofd.js 0.2.6 (npm, Apache-2.0, a JavaScript OFD
// renderer with its own zip and XML parsing) in Debian's headless chromium.
// The pages it draws are read back from the DOM chromium dumps: as many as
// the layout's, each one's text the layout's text of that page, the red line
// on page 1, the seal image 42 mm wide, the landscape page wider than high.
// Skips without chromium or ofd.js (scripts/setup-deps.sh --docs installs
// both; GR_OFDJS names another copy of ofd.umd.min.js).

// Loads the OFD named after the page's '#', draws every page into #out and
// marks the body with the page count (or the error) when done.
constexpr char kHarness[] = R"(<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body><div id="out"></div><script src="ofd.umd.min.js"></script><script>
function mark(k, v) { document.body.setAttribute(k, v); }
window.onerror = function(m) { mark('data-error', m); };
ofd.parseOfdDocument({ofd: location.hash.slice(1), success: function(res) {
  var pages = ofd.renderOfd(794, res[0]);
  pages.forEach(function(p) { document.getElementById('out').appendChild(p); });
  mark('data-pages', pages.length);
}, fail: function(e) { mark('data-error', String(e)); }});
</script></body></html>
)";

std::string Bundle() {
  const char* env = std::getenv("GR_OFDJS");
  return env != nullptr && *env != '\0' ? env : GR_OFDJS_BUNDLE;
}

// A page as ofd.js drew it: its size in CSS pixels and its SVG markup.
struct DrawnPage {
  double width = 0, height = 0;
  std::string markup;
  std::string Text() const {
    static const std::regex kText("<text[^>]*>([^<]*)</text>");
    std::string out;
    for (std::sregex_iterator it(markup.begin(), markup.end(), kText), end; it != end; ++it) {
      out += (*it)[1].str();
    }
    return out;
  }
};

std::vector<DrawnPage> Pages(const std::string& dom) {
  static const std::regex kPage(
      R"re(<div id="\d+" style="margin-bottom: 20px;position: relative;width:([\d.]+)px;height:([\d.]+)px;)re");
  std::vector<DrawnPage> out;
  std::vector<std::pair<size_t, size_t>> starts;
  for (std::sregex_iterator it(dom.begin(), dom.end(), kPage), end; it != end; ++it) {
    DrawnPage p;
    (void)absl::SimpleAtod((*it)[1].str(), &p.width);
    (void)absl::SimpleAtod((*it)[2].str(), &p.height);
    out.push_back(p);
    starts.emplace_back(static_cast<size_t>(it->position()), static_cast<size_t>(it->length()));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t from = starts[i].first + starts[i].second;
    const size_t to = i + 1 < starts.size() ? starts[i + 1].first : dom.size();
    out[i].markup = dom.substr(from, to - from);
  }
  return out;
}

TEST(OfdJsTest, OfdJsInChromiumDrawsThePagesTextRedLineSealAndLandscapePage) {
  if (!OnPath("chromium")) GTEST_SKIP() << "chromium is not installed (setup-deps.sh --docs)";
  if (!fs::exists(Bundle())) GTEST_SKIP() << Bundle() << " is missing (setup-deps.sh --docs)";
  absl::StatusOr<FontMap> fonts = ConfiguredFonts();
  ASSERT_TRUE(fonts.ok()) << fonts.status();
  const docx::DocumentFrame frame = ExampleFrame();
  absl::StatusOr<Document> doc =
      LayOut(ReadFile(fs::path(GR_DOCX_TESTDATA) / "full_document.txt"), frame, *fonts);
  ASSERT_TRUE(doc.ok()) << doc.status();
  absl::StatusOr<std::string> ofd = WriteOfd(*doc, {});
  ASSERT_TRUE(ofd.ok()) << ofd.status();

  std::string dir = (fs::temp_directory_path() / "ofd_js_XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(fs::path(dir) / "doc.ofd", std::ios::binary) << *ofd;
  std::ofstream(fs::path(dir) / "page.html") << kHarness;
  fs::copy_file(Bundle(), fs::path(dir) / "ofd.umd.min.js");
  const testing::CommandResult drawn = RunCommand(absl::StrCat(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --allow-file-access-from-files "
      "--virtual-time-budget=30000 --dump-dom 'file://",
      dir, "/page.html#doc.ofd' 2>/dev/null"));
  fs::remove_all(dir);
  ASSERT_NE(drawn.output.find("data-pages=\"" + std::to_string(doc->pages.size()) + "\""),
            std::string::npos)
      << drawn.output.substr(0, 2000);

  const std::vector<DrawnPage> pages = Pages(drawn.output);
  const std::vector<std::string> expected = LayoutText(*doc);
  ASSERT_EQ(pages.size(), doc->pages.size());
  int landscape = 0, seals = 0;
  for (size_t p = 0; p < pages.size(); ++p) {
    // The fixtures hold no & < > ", which ofd.js would give back escaped.
    EXPECT_TRUE(pages[p].Text() == expected[p]) << "page " << p + 1 << ":\n" << pages[p].Text();
    const bool wide = doc->pages[p].width > doc->pages[p].height;
    EXPECT_EQ(pages[p].width > pages[p].height, wide) << "page " << p + 1;
    landscape += wide ? 1 : 0;
    // The seal: an SVG image of the PNG, 42 mm of the page's 210 mm.
    static const std::regex kImage(
        R"re(width: ([\d.]+)px; height: ([\d.]+)px; ;z-index: \d+"><image xlink:href="data:image/png;base64,)re");
    std::smatch m;
    if (std::regex_search(pages[p].markup, m, kImage)) {
      ++seals;
      double w = 0;
      ASSERT_TRUE(absl::SimpleAtod(m[1].str(), &w));
      EXPECT_NEAR(w / pages[p].width * 210, 42, 0.5) << "page " << p + 1;
    }
  }
  EXPECT_EQ(landscape, 1);
  EXPECT_EQ(seals, 1);
  EXPECT_NE(pages[0].markup.find(R"re(stroke="rgb(255, 0, 0)")re"), std::string::npos)
      << "no red line on page 1";
}

TEST(OfdReadTest, CutOrChangedPackagesAreRefusedWithAMessage) {
  absl::StatusOr<std::string> ofd = WriteOfficialOfd(Fixture("seed_report.txt"), {});
  ASSERT_TRUE(ofd.ok()) << ofd.status();
  ASSERT_TRUE(ReadOfd(*ofd).ok());
  std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", ""}, {"text", "not an OFD at all"}, {"half", ofd->substr(0, ofd->size() / 2)}};
  for (size_t cut : {size_t{22}, size_t{100}, ofd->size() - 1, ofd->size() - 30}) {
    bad.emplace_back(absl::StrCat("cut to ", cut), ofd->substr(0, cut));
  }
  for (size_t at : {size_t{60}, ofd->size() / 3, ofd->size() / 2}) {
    std::string changed = *ofd;
    changed[at] = static_cast<char>(changed[at] ^ 0x55);
    bad.emplace_back(absl::StrCat("byte ", at, " changed"), changed);
  }
  for (const auto& [what, bytes] : bad) {
    const absl::StatusOr<OfdSummary> read = ReadOfd(bytes);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(read.status().message(), HasSubstr("not a readable OFD")) << what;
  }
}

TEST(OfdWriteTest, RefusesATimestampOutOfRange) {
  const absl::StatusOr<std::string> ofd = WriteOfficialOfd(
      Fixture("seed_report.txt"), Dated(std::chrono::sys_days{std::chrono::year{10000} / 1 / 1}));
  EXPECT_EQ(ofd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ofd.status().message(), HasSubstr("options.timestamp"));
}

}  // namespace
}  // namespace govreport::layout
