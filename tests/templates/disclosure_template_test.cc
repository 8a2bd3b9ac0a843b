// The shipped table genre's template (deploy/profiles/government-information-
// disclosure/base.mustache) checked against its shipped profile: every name
// it uses is one the report context gives a report of that profile, its
// tables are well formed (every line of a table has the cells of its
// header), and a template naming rows of an indicator without a breakdown
// is refused.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/enums.h"
#include "gtest/gtest.h"
#include "report_context/report_context.h"
#include "templates/engine/validate.h"
#include "templates/service/domain.h"

namespace govreport::templates {
namespace {

constexpr char kDir[] = "/deploy/profiles/government-information-disclosure/";

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::string(GOVREPORT_SOURCE_DIR) + kDir + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The schema the templates service checks a report of `profile` against
// (with the breakdown rows and the period's wording).
Schema ReportSchema(const records::v1::Profile& profile) { return SchemaForProfile(profile); }

records::v1::Profile ShippedProfile() {
  records::v1::Profile p;
  absl::Status st = ParseHumanWritten(ReadSource("profile.json"), FileSyntax::kJson, &p);
  EXPECT_TRUE(st.ok()) << st;
  return p;
}

TEST(DisclosureTemplateTest, TheShippedTemplateIsValidForTheShippedProfile) {
  records::v1::Profile profile = ShippedProfile();
  std::string text = ReadSource("base.mustache");
  ASSERT_FALSE(text.empty());
  for (const auto& p : Validate(text, ReportSchema(profile), nullptr)) {
    ADD_FAILURE() << p.ToString();
  }
  // Every indicator of the profile appears in the report.
  for (const auto& ind : profile.indicators()) {
    EXPECT_NE(text.find("ind." + ind.key()), std::string::npos) << ind.key();
  }
}

TEST(DisclosureTemplateTest, RowsOfAnIndicatorWithoutABreakdownAreAnUnknownName) {
  records::v1::Profile profile = ShippedProfile();
  auto problems = Validate("{{#ind.rules_made.rows}}{{n}}{{/ind.rules_made.rows}}",
                           ReportSchema(profile), nullptr);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].message.find("ind.rules_made.rows"), std::string::npos)
      << problems[0].ToString();
}

// Cells of a table line once its sections are expanded: a row section
// gives one cell per value of the breakdown's dimension.
int Cells(const std::string& line, const records::v1::Profile& profile) {
  std::string expanded = line;
  for (const auto& ind : profile.indicators()) {
    if (ind.breakdown().empty()) continue;
    std::string open = "{{#ind." + ind.key() + ".rows}}";
    std::string close = "{{/ind." + ind.key() + ".rows}}";
    size_t at = expanded.find(open);
    if (at == std::string::npos) continue;
    size_t end = expanded.find(close, at);
    std::string body = expanded.substr(at + open.size(), end - at - open.size());
    int values = 0;
    for (const auto& t : profile.activity_types()) {
      if (t.key() != ind.measure().activity_types(0)) continue;
      for (const auto& d : t.dimensions()) {
        if (d.key() == ind.breakdown()) values = d.values_size();
      }
    }
    std::string repeated;
    for (int i = 0; i < values; ++i) repeated += body;
    expanded.replace(at, end + close.size() - at, repeated);
  }
  return static_cast<int>(std::count(expanded.begin(), expanded.end(), '|')) - 1;
}

TEST(DisclosureTemplateTest, EveryLineOfATableHasTheCellsOfItsHeader) {
  records::v1::Profile profile = ShippedProfile();
  std::vector<std::string> lines = absl::StrSplit(ReadSource("base.mustache"), '\n');
  int header = -1, tables = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] != '|') {
      header = -1;
      continue;
    }
    int cells = Cells(line, profile);
    if (header < 0) {
      header = cells;
      ++tables;
      continue;
    }
    EXPECT_EQ(cells, header) << "line " << i + 1 << ": " << line;
  }
  // 二 (one table of four columns), 三 and 四.
  EXPECT_EQ(tables, 3);
}

}  // namespace
}  // namespace govreport::templates
