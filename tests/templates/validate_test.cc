#include "templates/engine/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "templates/engine/mustache.h"

namespace govreport::templates {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Schema ReportSchema() {
  ReportSchemaSpec spec;
  spec.indicators = {{"party_meetings", SlotKind::kQuantity},
                     {"talks", SlotKind::kQuantity},
                     {"online_rate", SlotKind::kQuantity},
                     {"funds", SlotKind::kMoney},
                     {"opinion_incidents", SlotKind::kQuantity}};
  spec.facts = {"case_name", "vendor"};
  spec.narrative = {"problems", "plans"};
  return MakeReportSchema(spec);
}

std::vector<std::string> Strings(const std::vector<Problem>& problems) {
  std::vector<std::string> out;
  out.reserve(problems.size());
  for (const Problem& p : problems) out.push_back(p.ToString());
  return out;
}

TEST(Schema, KindsAndDerivedNames) {
  const Schema s = ReportSchema();
  EXPECT_EQ(s.KindOf("org.name"), SlotKind::kText);
  EXPECT_EQ(s.KindOf("org"), SlotKind::kMap);
  EXPECT_EQ(s.KindOf("ind"), SlotKind::kMap);
  EXPECT_EQ(s.KindOf("ind.talks"), SlotKind::kQuantity);
  EXPECT_EQ(s.KindOf("ind.talks.cn"), SlotKind::kText);
  EXPECT_EQ(s.KindOf("ind.talks.zero"), SlotKind::kBool);
  EXPECT_EQ(s.KindOf("ind.talks.wan.cn"), SlotKind::kText);
  EXPECT_EQ(s.KindOf("ind.funds.daxie"), SlotKind::kText);
  EXPECT_EQ(s.KindOf("ind.talks.daxie"), std::nullopt);  // money only
  EXPECT_EQ(s.KindOf("issue.date.cn"), SlotKind::kText);
  EXPECT_EQ(s.KindOf("period.year"), SlotKind::kNumber);
  EXPECT_EQ(s.KindOf("org.nope"), std::nullopt);
  Schema wild;
  wild.Add("facts.*", SlotKind::kText);
  EXPECT_EQ(wild.KindOf("facts.anything"), SlotKind::kText);
  EXPECT_EQ(wild.KindOf("facts.a.b"), std::nullopt);
  // An inner "*" matches one part: the rows of any indicator.
  wild.Add("ind.*", SlotKind::kQuantity)
      .Add("ind.*.rows", SlotKind::kList)
      .Add("ind.*.rows.label", SlotKind::kText)
      .Add("ind.*.rows.n", SlotKind::kQuantity);
  EXPECT_EQ(wild.KindOf("ind.granted"), SlotKind::kQuantity);
  EXPECT_EQ(wild.KindOf("ind.granted.rows"), SlotKind::kList);
  EXPECT_EQ(wild.KindOf("ind.granted.rows.label"), SlotKind::kText);
  EXPECT_EQ(wild.KindOf("ind.granted.rows.n.cn"), SlotKind::kText);
  EXPECT_EQ(wild.KindOf("ind.granted.rowz"), std::nullopt);
  EXPECT_EQ(wild.KindOf("ind.rows"), SlotKind::kQuantity);  // an indicator named rows
  EXPECT_EQ(wild.KindOf("ind.a.b.rows"), std::nullopt);
}

TEST(Validate, SharedTemplatesMayLoopOverRows) {
  Schema s = MakeReportSchema({});
  s.Add("ind.*", SlotKind::kQuantity)
      .Add("ind.*.rows", SlotKind::kList)
      .Add("ind.*.rows.label", SlotKind::kText)
      .Add("ind.*.rows.n", SlotKind::kQuantity);
  EXPECT_THAT(Validate("{{period.label_cn}}{{period.next_year}}"
                       "{{#ind.x.rows}}| {{label}} | {{n}} |{{n.cn}}{{/ind.x.rows}}",
                       s, nullptr),
              IsEmpty());
  EXPECT_THAT(Strings(Validate("{{#ind.x.rows}}{{lable}}{{/ind.x.rows}}", s, nullptr)),
              ElementsAre(HasSubstr("lable")));
}

TEST(Suggestions, EditDistance) {
  EXPECT_EQ(EditDistance("talks", "talks"), 0);
  EXPECT_EQ(EditDistance("tlaks", "talks"), 1);  // one swap
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("组织", "组识"), 1);  // code points, not bytes
  EXPECT_EQ(ClosestName("ind.tlaks", {"ind.talks", "ind.funds"}), "ind.talks");
  EXPECT_EQ(ClosestName("zzz", {"ind.talks"}), "");
}

TEST(Validate, ACleanTemplateHasNoProblems) {
  const std::string text =
      "{{org.short_name}}党组落实全面从严治党责任工作报告\n"
      "党组专题研究部署党建和党风廉政建设工作{{ind.party_meetings}}次，"
      "开展谈心谈话{{ind.talks}}人次。\n"
      "参学率达到{{ind.online_rate}}%。录入项目信息{{ind.talks.approx}}余条。\n"
      "帮助筹集资金{{ind.funds.wan}}万元（{{ind.funds.daxie}}）。\n"
      "{{#ind.opinion_incidents.zero}}{{period.label}}{{org.short_name}}"
      "未发生网络舆情事件。{{/ind.opinion_incidents.zero}}\n"
      "{{^narrative.problems}}（待补充）{{/narrative.problems}}"
      "{{narrative.problems}}\n"
      "深刻汲取{{facts.case_name}}等案件教训\n"
      "{{#org}}{{name}}{{/org}}\n"
      "{{issue.date}} {{issue.date.cn}} {{issue.date_cn}}\n";
  EXPECT_THAT(Strings(Validate(text, ReportSchema(), nullptr)), IsEmpty());
}

TEST(Validate, UnknownNameWithSuggestionAndPosition) {
  const std::vector<Problem> problems =
      Validate("第一行\n党组专题研究部署工作{{ind.party_meetigns}}次", ReportSchema(), nullptr);
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_EQ(problems[0].column, 11);  // ten Chinese characters before it
  EXPECT_EQ(problems[0].suggestion, "ind.party_meetings");
  EXPECT_EQ(problems[0].ToString(),
            "2:11: unknown name 'ind.party_meetigns'; did you mean "
            "'ind.party_meetings'?");
}

TEST(Validate, UnknownNameWithoutACloseMatch) {
  const std::vector<Problem> problems = Validate("{{budget}}", ReportSchema(), nullptr);
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_EQ(problems[0].suggestion, "");
  EXPECT_THAT(problems[0].message, HasSubstr("names start with facts., ind., issue., narrative., "
                                             "org., period."));
}

TEST(Validate, ReportsEveryProblemNotJustTheFirst) {
  const std::string text =
      "{{org.nmae}}\n"                                  // 1: unknown name
      "{{#org.name}}x{{/org.name}}\n"                   // 2: section over text
      "{{#ind.talks}}y{{/ind.talks}}\n"                 // 3: section over a number
      "{{#ind.talks.zero}}{{/b}}{{/ind.talks.zero}}\n"  // 4: mismatch
      "{{= x =}}\n"                                     // 5: bad delimiters
      "{{ind}}\n"                                       // 6: a group printed
      "{{#ind.talks.zero}}\n";                          // 7: never closed
  const std::vector<Problem> problems = Validate(text, ReportSchema(), nullptr);
  EXPECT_THAT(Strings(problems),
              ElementsAre("1:1: unknown name 'org.nmae'; did you mean 'org.name'?",
                          HasSubstr("2:1: section {{#org.name}} is opened over the text "
                                    "'org.name'"),
                          HasSubstr("3:1: section {{#ind.talks}} always renders: a number is "
                                    "true even when it is 0; test {{#ind.talks.nonzero}}"),
                          HasSubstr("4:20: closing tag '{{/b}}' does not match the open "
                                    "section 'ind.talks.zero'"),
                          HasSubstr("5:1: set-delimiter tag '{{= x =}}' needs exactly two "
                                    "delimiters"),
                          HasSubstr("6:1: 'ind' is a group of values and prints nothing "
                                    "useful; name one value, like 'ind."),
                          HasSubstr("7:1: section 'ind.talks.zero' is never closed; add "
                                    "{{/ind.talks.zero}}")));
  EXPECT_EQ(problems[2].suggestion, "ind.talks.nonzero");
}

TEST(Validate, ScopesFollowSections) {
  Schema s = ReportSchema();
  s.Add("items", SlotKind::kList).Add("items.title", SlotKind::kText);
  EXPECT_THAT(Validate("{{#items}}{{title}}{{org.name}}{{/items}}", s, nullptr), IsEmpty());
  const std::vector<Problem> problems =
      Validate("{{#org}}{{nmae}}{{/org}}{{#items}}{{titel}}{{/items}}", s, nullptr);
  ASSERT_THAT(problems, SizeIs(2));
  EXPECT_EQ(problems[0].suggestion, "org.name");
  EXPECT_EQ(problems[1].suggestion, "items.title");
}

TEST(Validate, PartialsAndParents) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("signature", "{{org.name}}\n{{issue.dat}}\n").ok());
  ASSERT_TRUE(partials.Add("base", "{{$achievements}}{{/achievements}}{{$plans}}{{/plans}}").ok());
  const std::vector<Problem> problems = Validate(
      "{{>signatur}}\n"
      "{{<base}}{{$plan}}x{{/plan}}{{/base}}\n"
      "{{>signature}}\n"
      "{{>*ind.nope}}\n",
      ReportSchema(), &partials);
  EXPECT_THAT(Strings(problems),
              ElementsAre("1:1: partial 'signatur' does not exist; did you mean 'signature'?",
                          "2:10: block 'plan' is not a block of parent 'base', so it "
                          "overrides nothing; did you mean 'plans'?",
                          HasSubstr("4:1: unknown name 'ind.nope'"),
                          "signature:2:1: unknown name 'issue.dat'; did you mean "
                          "'issue.date'?"));
  EXPECT_EQ(problems[3].partial, "signature");
}

TEST(Validate, HostileInputDoesNotCrash) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "{{#org}}";
  const std::vector<Problem> problems = Validate(deep, ReportSchema(), nullptr);
  ASSERT_FALSE(problems.empty());
  EXPECT_THAT(problems[0].message, HasSubstr("nested deeper than 1000"));

  ValidateOptions options;
  options.compile.max_nesting = 20000;
  EXPECT_FALSE(Validate(deep, ReportSchema(), nullptr, options).empty());

  std::string big;
  while (big.size() < (1u << 20)) big += "{{ind.talks}}{{ind.tlaks}}\n";
  const std::vector<Problem> many = Validate(big, ReportSchema(), nullptr);
  ASSERT_THAT(many, SizeIs(201));  // capped, plus the note saying so
  EXPECT_THAT(many.back().message, HasSubstr("too many problems"));

  EXPECT_THAT(Validate("{{", ReportSchema(), nullptr),
              ElementsAre(::testing::Field(&Problem::message, HasSubstr("never closed"))));
}

TEST(Validate, CatchesSlipsThatRenderQuietly) {
  // A comment that holds a tag ends early and prints the rest; money
  // written before 万元 without .wan is off by 10 000.
  const std::vector<Problem> problems = Validate(
      "{{! inherit it with {{<base}} and override }}\n"
      "帮助筹集资金{{ind.funds}}万元，即{{ind.funds.wan}}万元\n",
      ReportSchema(), nullptr);
  EXPECT_THAT(
      Strings(problems),
      ElementsAre(HasSubstr("1:1: comment '{{! inherit it with {{<base}}' contains '{{': it "
                            "ends at the first '}}'"),
                  "2:7: 'ind.funds' is money: {{ind.funds}} writes 元 (1234.56), but 万 "
                  "follows; write {{ind.funds.wan}} for 万元"));
  EXPECT_EQ(problems[1].suggestion, "ind.funds.wan");
  // Compiling accepts the comment, as the spec requires.
  EXPECT_TRUE(CompiledTemplate::Compile("{{! a {{b}}").ok());
}

TEST(Validate, MalformedMegabyteStaysFast) {
  // Each bad triple would cost a scan to the end of the text; the parser
  // stops once it has enough problems to report.
  std::string text;
  while (text.size() < (1u << 20)) text += "{{{x}} ";
  const std::vector<Problem> problems = Validate(text, ReportSchema(), nullptr);
  EXPECT_THAT(problems, SizeIs(201));
  EXPECT_THAT(problems[0].message, HasSubstr("must end with '}}}'"));
}

TEST(Validate, SelfIncludingPartialTerminates) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("loop", "{{>loop}}{{ind.x}}").ok());
  const std::vector<Problem> problems = Validate("{{>loop}}", ReportSchema(), &partials);
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_EQ(problems[0].partial, "loop");
}

}  // namespace
}  // namespace govreport::templates
