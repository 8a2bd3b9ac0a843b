// Unit tests of the template engine: typed values and derived names,
// escaping, missing-slot reporting, partials and inheritance, error
// positions, protobuf contexts and hostile input.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "templates/engine/mustache.h"
#include "templates/engine/value.h"

namespace govreport::templates {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A report context shaped as DESIGN.md "Template context" describes.
Value ReportContext() {
  Value c = Value::Map();
  c.SetPath("org.name", Value::Text("中共*市科学技术局党组"));
  c.SetPath("org.short_name", Value::Text("市科技局"));
  c.SetPath("org.city", Value::Text("*市"));
  c.SetPath("period.year", Value::Int(2022));
  c.SetPath("period.label", Value::Text("2022年"));
  c.SetPath("issue.date", Value::Date(2023, 5, 8));
  c.SetPath("ind.party_meetings", Value::Quantity(12, 0, "次"));
  c.SetPath("ind.talks", Value::Quantity(1234, 0, "人次"));
  c.SetPath("ind.online_rate", Value::Quantity(975, 1, "%"));
  c.SetPath("ind.full_rate", Value::Quantity(1000, 1, "%"));
  c.SetPath("ind.funds", Value::MoneyFen(123456));
  c.SetPath("ind.opinion_incidents", Value::Quantity(0, 0, "起"));
  c.SetPath("ind.items", Value::Quantity(1234, 0, "条"));
  return c;
}

// Compiles or fails the test; renders with the given escape mode.
RenderResult RenderOk(std::string_view text, const Value& context, Escape escape = Escape::kNone,
                      const PartialResolver* partials = nullptr) {
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(text);
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return {};
  RenderOptions options;
  options.escape = escape;
  options.partials = partials;
  absl::StatusOr<RenderResult> r = t->Render(context, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : RenderResult{};
}

std::string Text(std::string_view text, const Value& context, Escape escape = Escape::kNone,
                 const PartialResolver* partials = nullptr) {
  return RenderOk(text, context, escape, partials).text;
}

// ---------------------------------------------------------------------------
// Typed values and derived names

TEST(Values, QuantitiesPrintForTheirPrecision) {
  const Value c = ReportContext();
  EXPECT_EQ(Text("{{ind.party_meetings}}次", c), "12次");
  EXPECT_EQ(Text("达到{{ind.online_rate}}%", c), "达到97.5%");
  EXPECT_EQ(Text("{{ind.full_rate}}%", c), "100%");        // trailing zero trimmed
  EXPECT_EQ(Text("{{ind.full_rate.value}}", c), "100.0");  // raw keeps it
  EXPECT_EQ(Text("{{ind.online_rate.value}}", c), "97.5");
  EXPECT_EQ(Text("{{ind.online_rate.unit}}", c), "%");
}

TEST(Values, DerivedNumberNames) {
  const Value c = ReportContext();
  EXPECT_EQ(Text("{{ind.talks.approx}}余", c), "1200余");
  EXPECT_EQ(Text("{{ind.talks.cn}}", c), "一千二百三十四");
  EXPECT_EQ(Text("{{ind.online_rate.cn}}", c), "九十七点五");
  EXPECT_EQ(Text("{{ind.talks.wan}}万", c), "0.12万");
  EXPECT_EQ(Text("{{ind.party_meetings.zero}}/{{ind.party_meetings.nonzero}}", c), "false/true");
  // Derived names chain: value → wan → cn.
  EXPECT_EQ(Text("{{ind.talks.wan.cn}}", c), "零点一二");
  // A derived name a kind does not have is simply missing.
  EXPECT_EQ(Text("[{{ind.talks.daxie}}]", c), "[]");
}

TEST(Values, MoneyInFen) {
  const Value c = ReportContext();
  EXPECT_EQ(Text("{{ind.funds}}元", c), "1234.56元");
  EXPECT_EQ(Text("筹集资金{{ind.funds.wan}}万元", c), "筹集资金0.12万元");
  EXPECT_EQ(Text("{{ind.funds.daxie}}", c), "壹仟贰佰叁拾肆元伍角陆分");
  EXPECT_EQ(Text("{{ind.funds.value}}", c), "1234.56");
  EXPECT_EQ(Text("{{ind.funds.fen}}", c), "123456");
  EXPECT_EQ(Text("{{ind.funds.approx}}", c), "1200");
  Value big = Value::Map();
  big.Set("m", Value::MoneyFen(10010000000));
  EXPECT_EQ(Text("{{m.daxie}}|{{m.wan}}万元", big), "壹亿零壹拾万元整|10010万元");
}

TEST(Values, Dates) {
  const Value c = ReportContext();
  EXPECT_EQ(Text("{{issue.date}}", c), "2023年5月8日");
  EXPECT_EQ(Text("{{issue.date.cn}}", c), "二〇二三年五月八日");
  EXPECT_EQ(Text("{{issue.date.iso}} {{issue.date.year}}", c), "2023-05-08 2023");
  EXPECT_TRUE(ParseIsoDate("2024-02-29").ok());
  EXPECT_FALSE(ParseIsoDate("2023-02-29").ok());
  EXPECT_FALSE(ParseIsoDate("2023-5-8").ok());
}

TEST(Values, ZeroIsARealValueAndTruthy) {
  const Value c = ReportContext();
  // DESIGN.md: templates test x.zero, never a number's truthiness.
  const std::string t =
      "{{#ind.opinion_incidents.zero}}未发生网络舆情事件{{/"
      "ind.opinion_incidents.zero}}"
      "{{#ind.opinion_incidents.nonzero}}发生{{ind.opinion_incidents}}起"
      "{{/ind.opinion_incidents.nonzero}}";
  EXPECT_EQ(Text(t, c), "未发生网络舆情事件");
  EXPECT_EQ(Text("{{#ind.opinion_incidents}}shown{{/ind.opinion_incidents}}", c), "shown");
  EXPECT_THAT(RenderOk("{{ind.opinion_incidents}}", c).missing, IsEmpty());
}

TEST(Values, SetPathAndFind) {
  Value v;
  v.SetPath("a.b.c", Value::Int(1));
  v.SetPath("a.b.d", Value::Text("x"));
  v.SetPath("a.e", Value::Bool(true));
  ASSERT_TRUE(v.is_map());
  ASSERT_NE(v.Find("a"), nullptr);
  EXPECT_EQ(v.Find("a")->Find("b")->map_size(), 2u);
  EXPECT_EQ(Text("{{a.b.c}}{{a.b.d}}{{#a.e}}!{{/a.e}}", v), "1x!");
  v.SetPath("a.b", Value::Int(2));  // replaces the map
  EXPECT_EQ(Text("{{a.b}}", v), "2");
}

TEST(Values, ListsJoinWithEnumerationComma) {
  Value v = Value::Map();
  v.Set("names", Value::List({Value::Text("张三"), Value::Text("李四")}));
  EXPECT_EQ(Text("{{names}}", v), "张三、李四");
  EXPECT_EQ(Text("{{names.1}}", v), "李四");  // index after a dot
}

// ---------------------------------------------------------------------------
// Escaping

TEST(Escaping, HtmlOrNone) {
  Value v = Value::Map();
  v.Set("x", Value::Text("A & B <c> \"d\" 'e'"));
  EXPECT_EQ(Text("{{x}}", v, Escape::kHtml), "A &amp; B &lt;c&gt; &quot;d&quot; 'e'");
  EXPECT_EQ(Text("{{{x}}}|{{&x}}", v, Escape::kHtml), "A & B <c> \"d\" 'e'|A & B <c> \"d\" 'e'");
  // Text, Markdown and DOCX output: nothing escaped, so nothing doubled.
  EXPECT_EQ(Text("{{x}}", v, Escape::kNone), "A & B <c> \"d\" 'e'");
  std::string escaped;
  AppendHtmlEscaped("&amp;", &escaped);
  EXPECT_EQ(escaped, "&amp;amp;");
}

// ---------------------------------------------------------------------------
// Missing slots

TEST(Missing, ListedInOrderOnce) {
  Value c = ReportContext();
  c.SetPath("ind.pending", Value::Null());
  const RenderResult r = RenderOk(
      "{{ind.unknown}}次 {{ind.talks}} {{ind.pending}} {{ind.unknown}} "
      "{{#no_section}}{{/no_section}}{{narrative.summary}}"
      "{{#org}}{{district}}{{/org}}{{{raw.gap}}}",
      c);
  EXPECT_EQ(r.text, "次 1234   ");
  EXPECT_THAT(r.missing, ElementsAre("ind.unknown", "ind.pending", "narrative.summary",
                                     "org.district", "raw.gap"));
}

TEST(Missing, FullNamesInsideSections) {
  Value c = ReportContext();
  Value items = Value::List();
  for (int i = 0; i < 3; ++i) {
    Value item = Value::Map();
    item.Set("n", Value::Int(i));
    items.Append(std::move(item));
  }
  c.Set("items", std::move(items));
  const RenderResult r = RenderOk(
      "{{#items}}{{n}}{{title}}{{ind.nope}}{{/items}}"
      "{{#org}}{{#ind}}{{talks}}{{gone}}{{/ind}}{{/org}}",
      c);
  EXPECT_EQ(r.text, "0121234");
  // List items are named like their list, as a Schema declares them.
  EXPECT_THAT(r.missing, ElementsAre("items.title", "ind.nope", "ind.gone"));
}

// A typed value cannot hold children, so an indicator's breakdown rows sit
// beside it as "<key>.rows" (report_context.h) and read as ind.<key>.rows.
TEST(Grafted, ChildrenOfATypedValueAreFoundBesideIt) {
  Value c = ReportContext();
  Value rows = Value::List();
  for (const auto& [label, n] : {std::pair{"自然人", 7}, std::pair{"商业企业", 0}}) {
    Value row = Value::Map();
    row.Set("label", Value::Text(label));
    row.Set("n", Value::Quantity(n, 0, "件"));
    rows.Append(std::move(row));
  }
  c.FindMutable("ind")->Set("talks.rows", std::move(rows));
  const RenderResult r = RenderOk(
      "{{ind.talks}}:{{#ind.talks.rows}}|{{label}}={{n}}{{#n.zero}}(无){{/n.zero}}"
      "{{/ind.talks.rows}}|{{ind.talks.rows.0.label}} {{ind.talks.cn}}"
      "{{#ind.items.rows}}never{{/ind.items.rows}}{{ind.talks.nope}}",
      c);
  EXPECT_EQ(r.text, "1234:|自然人=7|商业企业=0(无)|自然人 一千二百三十四");
  EXPECT_THAT(r.missing, ElementsAre("ind.talks.nope"));
  // A map's own child wins; only typed values look beside themselves.
  Value m = Value::Map();
  m.SetPath("a.b", Value::Text("inside"));
  m.Set("a.b", Value::Text("beside"));
  EXPECT_EQ(RenderOk("{{a.b}}", m).text, "inside");
}

TEST(Missing, KeepsAtMostAThousandNames) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{{slot" + std::to_string(i) + "}}";
  const RenderResult r = RenderOk(text, Value::Map());
  ASSERT_THAT(r.missing, ::testing::SizeIs(1000));
  EXPECT_EQ(r.missing.back(), "slot999");
}

TEST(Missing, RenderToAppendsAndDeduplicates) {
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile("[{{a}}{{b}}]");
  ASSERT_TRUE(t.ok());
  RenderResult result;
  result.missing.emplace_back("a");
  Value v = Value::Map();
  ASSERT_TRUE(t->RenderTo(v, {}, &result).ok());
  ASSERT_TRUE(t->RenderTo(v, {}, &result).ok());
  EXPECT_EQ(result.text, "[][]");
  EXPECT_THAT(result.missing, ElementsAre("a", "b"));
}

// ---------------------------------------------------------------------------
// Partials and inheritance

TEST(Partials, ResolverAndIndentation) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("sig", "{{org.name}}\n{{issue.date}}\n").ok());
  const Value c = ReportContext();
  EXPECT_EQ(Text("正文。\n  {{>sig}}\n", c, Escape::kNone, &partials),
            "正文。\n  中共*市科学技术局党组\n  2023年5月8日\n");
  const RenderResult r = RenderOk("{{>nope}}{{>sig}}", c, Escape::kNone, &partials);
  EXPECT_THAT(r.missing_partials, ElementsAre("nope"));
}

TEST(Partials, CompileErrorNamesThePartial) {
  MapPartialResolver partials;
  const absl::Status s = partials.Add("footer", "ok\n{{#x}}");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("footer:2:1:"));
}

TEST(Inheritance, DepartmentOverridesOneSection) {
  // A city-wide base with blocks; a department replaces one of them.
  MapPartialResolver partials;
  ASSERT_TRUE(partials
                  .Add("base",
                       "{{org.short_name}}党组工作报告\n"
                       "{{$achievements}}\n"
                       "一、主要工作成效\n"
                       "{{/achievements}}\n"
                       "{{$problems}}\n"
                       "二、存在问题\n"
                       "{{/problems}}\n"
                       "{{org.name}}\n")
                  .ok());
  const std::string department =
      "{{<base}}\n"
      "{{$problems}}\n"
      "二、存在问题\n"
      "理论学习成果转化不够到位。\n"
      "{{/problems}}\n"
      "{{/base}}\n";
  EXPECT_EQ(Text(department, ReportContext(), Escape::kNone, &partials),
            "市科技局党组工作报告\n"
            "一、主要工作成效\n"
            "二、存在问题\n"
            "理论学习成果转化不够到位。\n"
            "中共*市科学技术局党组\n");
}

TEST(Inheritance, DefaultContentKeepsItsIndentation) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("p", "l1\nl2\n").ok());
  const Value v = Value::Map();
  // Rendering a block's own content must read as if the block tags were
  // not there (intrinsic indentation is removed and added back).
  EXPECT_EQ(Text("a\n{{$b}}\n  x\n    y\n{{/b}}\nz", v), "a\n  x\n    y\nz");
  EXPECT_EQ(Text("{{$b}}\n  {{>p}}\n{{/b}}\n", v, Escape::kNone, &partials), "  l1\n  l2\n");
  // An override is reindented to where the parent's block sits.
  ASSERT_TRUE(partials.Add("list", "items:\n    {{$entries}}\n    {{/entries}}\n").ok());
  EXPECT_EQ(Text("{{<list}}\n{{$entries}}\n  - a\n  - b\n{{/entries}}\n{{/list}}\n", v,
                 Escape::kNone, &partials),
            "items:\n    - a\n    - b\n");
}

TEST(Inheritance, DynamicParent) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("layout", "<{{$body}}default{{/body}}>").ok());
  Value v = Value::Map();
  v.Set("which", Value::Text("layout"));
  EXPECT_EQ(Text("{{<*which}}{{$body}}mine{{/body}}{{/*which}}", v, Escape::kNone, &partials),
            "<mine>");
}

// ---------------------------------------------------------------------------
// Errors carry line:column

absl::Status CompileError(std::string_view text) {
  CompileOptions options;
  options.name = "report.mustache";
  return CompiledTemplate::Compile(text, options).status();
}

TEST(Errors, LineAndColumn) {
  absl::Status s = CompileError("第一行\n正文{{#ind.x.zero}}未发生\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // Column counts code points: 正文 is two characters, the tag starts at 3.
  EXPECT_THAT(s.message(), HasSubstr("report.mustache:2:3:"));
  EXPECT_THAT(s.message(), HasSubstr("never closed"));

  s = CompileError("{{#a}}\n  {{/b}}\n{{/a}}");
  EXPECT_THAT(s.message(), HasSubstr("report.mustache:2:3:"));
  EXPECT_THAT(s.message(), HasSubstr("does not match"));

  s = CompileError("text {{unclosed\nmore");
  EXPECT_THAT(s.message(), HasSubstr("1:6:"));
  EXPECT_THAT(s.message(), HasSubstr("never closed with '}}'"));

  s = CompileError("x\n{{=<% =}}");
  EXPECT_THAT(s.message(), HasSubstr("2:1:"));
  EXPECT_THAT(s.message(), HasSubstr("two delimiters"));

  s = CompileError("{{a b}}");
  EXPECT_THAT(s.message(), HasSubstr("contains a space"));
  s = CompileError("{{a..b}}");
  EXPECT_THAT(s.message(), HasSubstr("empty part"));
  s = CompileError("{{/a}}");
  EXPECT_THAT(s.message(), HasSubstr("closes nothing"));
  s = CompileError("{{<p}}{{#x}}{{/x}}{{/p}}");
  EXPECT_THAT(s.message(), HasSubstr("only {{$block}}"));
  s = CompileError("{{{x}}");
  EXPECT_THAT(s.message(), HasSubstr("must end with '}}}'"));
}

TEST(Errors, DelimiterTricks) {
  Value v = Value::Map();
  v.Set("x", Value::Text("X"));
  EXPECT_EQ(Text("{{=| |=}}|x|{{x}}|={{ }}=|{{x}}", v), "X{{x}}X");
  EXPECT_EQ(Text("{{=[[ ]]=}}[[x]][[={{ }}=]]{{x}}", v), "XX");
  EXPECT_EQ(Text("{{!{{x}}}}after", v), "}}after");
  EXPECT_EQ(Text("{{=<< >>=}}<<{x}>>", v), "X");  // triple with any delimiters
  EXPECT_FALSE(CompiledTemplate::Compile("{{=<<>>=}}").ok());
  EXPECT_FALSE(CompiledTemplate::Compile("{{=a b c=}}").ok());
}

// ---------------------------------------------------------------------------
// Hostile input

TEST(Hostile, OneMegabyteTemplate) {
  const std::string line =
      "党组专题研究部署工作{{ind.party_meetings}}次，"
      "{{#ind.talks.nonzero}}谈心谈话{{ind.talks}}人次{{/ind.talks.nonzero}}\n";
  std::string text;
  int lines = 0;
  for (; text.size() < (1u << 20); ++lines) text += line;
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(text);
  ASSERT_TRUE(t.ok()) << t.status();
  RenderOptions options;
  options.escape = Escape::kNone;
  absl::StatusOr<RenderResult> r = t->Render(ReportContext(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string one = Text(line, ReportContext());
  EXPECT_EQ(one, "党组专题研究部署工作12次，谈心谈话1234人次\n");
  EXPECT_EQ(r->text.size(), one.size() * lines);
  EXPECT_THAT(r->missing, IsEmpty());
}

TEST(Hostile, OneMegabyteOfOneLine) {
  std::string text;
  while (text.size() < (1u << 20)) text += "{{a}}{{!c}}";
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(text);
  ASSERT_TRUE(t.ok()) << t.status();
  Value v = Value::Map();
  v.Set("a", Value::Text("x"));
  absl::StatusOr<RenderResult> r = t->Render(v, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text.size(), text.size() / 11);
}

std::string Nested(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "{{#a}}";
  text += "{{x}}";
  for (int i = 0; i < depth; ++i) text += "{{/a}}";
  return text;
}

TEST(Hostile, TenThousandDeep) {
  const std::string text = Nested(10000);
  // The default limit rejects it early, with a position.
  absl::Status s = CompiledTemplate::Compile(text).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nested deeper than 1000"));
  // Raised, it compiles and renders without touching the C++ stack.
  CompileOptions options;
  options.max_nesting = 20000;
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(text, options);
  ASSERT_TRUE(t.ok()) << t.status();
  Value v = Value::Map();
  v.Set("a", Value::Bool(true));
  v.Set("x", Value::Text("deep"));
  absl::StatusOr<RenderResult> r = t->Render(v, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "deep");
  // Unclosed and deep.
  std::string open;
  for (int i = 0; i < 10000; ++i) open += "{{#a}}";
  EXPECT_FALSE(CompiledTemplate::Compile(open, options).ok());
}

TEST(Hostile, PartialIncludingItselfStops) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("loop", "x{{>loop}}").ok());
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile("line 1\n  {{>loop}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.partials = &partials;
  absl::StatusOr<RenderResult> r = t->Render(Value::Map(), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("loop:1:2:"));
  EXPECT_THAT(r.status().message(), HasSubstr("include itself"));

  // The same through inheritance, and a block overriding itself.
  ASSERT_TRUE(partials.Add("p", "{{<p}}{{/p}}").ok());
  t = CompiledTemplate::Compile("{{<p}}{{/p}}");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Render(Value::Map(), options).ok());
  ASSERT_TRUE(partials.Add("q", "{{$a}}q{{/a}}").ok());
  t = CompiledTemplate::Compile("{{<q}}{{$a}}[{{$a}}x{{/a}}]{{/a}}{{/q}}");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Render(Value::Map(), options).ok());
}

TEST(Hostile, OutputAndStepLimits) {
  Value v = Value::Map();
  Value list = Value::List();
  for (int i = 0; i < 100; ++i) list.Append(Value::Int(i));
  v.Set("l", list);
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{#l}}{{#l}}{{#l}}{{#l}}0123456789{{/l}}{{/l}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.max_output_bytes = 1000;
  absl::StatusOr<RenderResult> r = t->Render(v, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("max_output_bytes"));

  // Nothing written, but 10^8 iterations: the step limit ends it.
  t = CompiledTemplate::Compile("{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  options = RenderOptions();
  options.max_steps = 100000;
  r = t->Render(v, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("max_steps"));
}

// Counts what the renderer asks of it, hits and misses.
class CountingResolver final : public PartialResolver {
 public:
  explicit CountingResolver(const PartialResolver* inner) : inner_(inner) {}
  std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const override {
    ++finds;
    return inner_->Find(name);
  }
  mutable int finds = 0;

 private:
  const PartialResolver* inner_;
};

Value ListContext(int n) {
  Value list = Value::List();
  for (int i = 0; i < n; ++i) list.Append(Value::Int(i));
  Value v = Value::Map();
  v.Set("l", list);
  return v;
}

// The issue's bomb: n^2 lookups of a partial that does not exist were n^2
// resolver calls (each two Redis commands in the service).
TEST(Budget, EachPartialNameIsResolvedOncePerRender) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("p", "x").ok());
  CountingResolver counting(&partials);
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{#l}}{{#l}}{{> nope}}{{>p}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.partials = &counting;
  absl::StatusOr<RenderResult> r = t->Render(ListContext(300), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counting.finds, 2);
  EXPECT_EQ(r->partial_lookups, 2u);
  EXPECT_EQ(r->partial_expansions, 90000u);
  EXPECT_EQ(r->text.size(), 90000u);
  EXPECT_THAT(r->missing_partials, ElementsAre("nope"));
  // A second render resolves again: nothing is kept between renders.
  r = t->Render(ListContext(2), options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(counting.finds, 4);
}

// a includes b twice, b includes c twice, ...: 2^30 expansions, 30 deep.
TEST(Budget, ADoublingChainOfPartialsEndsAtTheExpansionBudget) {
  MapPartialResolver partials;
  for (int i = 0; i < 30; ++i) {
    const std::string next = absl::StrCat("p", i + 1);
    ASSERT_TRUE(
        partials.Add(absl::StrCat("p", i), absl::StrCat("{{>", next, "}}{{>", next, "}}")).ok());
  }
  ASSERT_TRUE(partials.Add("p30", "").ok());
  CountingResolver counting(&partials);
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile("{{>p0}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.partials = &counting;
  RenderResult result;
  absl::Status st = t->RenderTo(Value::Map(), options, &result);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("more than 100000 partials"));
  EXPECT_THAT(st.message(), HasSubstr("max_partial_expansions"));
  EXPECT_EQ(result.partial_expansions, 100001u);
  EXPECT_LE(counting.finds, 31);

  options.max_partial_expansions = 10;
  st = t->RenderTo(Value::Map(), options, &result);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("more than 10 partials"));
  // A short chain within the budget renders.
  t = CompiledTemplate::Compile("{{>p28}}");  // 1 + 2 + 4
  ASSERT_TRUE(t.ok());
  options.max_partial_expansions = 7;
  EXPECT_TRUE(t->Render(Value::Map(), options).ok());
  options.max_partial_expansions = 6;
  EXPECT_EQ(t->Render(Value::Map(), options).status().code(), absl::StatusCode::kResourceExhausted);
}

// Dynamic names come from the context: a list of distinct names is not a
// lookup each without bound.
TEST(Budget, DifferentPartialNamesAreBounded) {
  Value list = Value::List();
  for (int i = 0; i < 5000; ++i) {
    Value item = Value::Map();
    item.Set("n", Value::Text("name" + std::to_string(i)));
    list.Append(std::move(item));
  }
  Value v = Value::Map();
  v.Set("l", list);
  MapPartialResolver partials;
  CountingResolver counting(&partials);
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile("{{#l}}{{>*n}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.partials = &counting;
  absl::StatusOr<RenderResult> r = t->Render(v, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("more than 1000 different partial names"));
  EXPECT_EQ(counting.finds, 1000);
  options.max_partial_names = 5000;
  EXPECT_TRUE(t->Render(v, options).ok());
}

TEST(Budget, StepsCountSectionIterations) {
  absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile("{{#l}}{{#l}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.max_steps = 1'000'000;
  RenderResult result;
  ASSERT_TRUE(t->RenderTo(ListContext(300), options, &result).ok());
  EXPECT_GE(result.steps, 90000u);
  options.max_steps = 90000;
  absl::Status st = t->RenderTo(ListContext(300), options, &result);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("more than 90000 steps"));
}

TEST(Budget, APastDeadlineStopsTheRender) {
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.max_steps = ~uint64_t{0};
  options.deadline = absl::Now() - absl::Seconds(1);
  options.check_every = 1000;
  RenderResult result;
  absl::Status st = t->RenderTo(ListContext(1000), options, &result);  // 10^12 iterations
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_LE(result.steps, 1000u);
  // A deadline ahead changes nothing.
  options.deadline = absl::InfiniteFuture();
  options.max_steps = 1000;
  EXPECT_EQ(t->Render(ListContext(1000), options).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Budget, CancellationStopsTheRender) {
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{#l}}{{#l}}{{#l}}{{#l}}x{{/l}}{{/l}}{{/l}}{{/l}}");
  ASSERT_TRUE(t.ok());
  RenderOptions options;
  options.max_steps = ~uint64_t{0};
  options.max_output_bytes = ~size_t{0};
  options.check_every = 100;
  int asked = 0;
  options.cancelled = [&asked] { return ++asked == 50; };
  RenderResult result;
  absl::Status st = t->RenderTo(ListContext(1000), options, &result);
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
  EXPECT_EQ(asked, 50);
  EXPECT_LE(result.steps, 5100u);
}

TEST(Hostile, ContextOfTheWrongType) {
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{org.name}}{{#ind}}{{x}}{{/ind}}{{.}}");
  ASSERT_TRUE(t.ok());
  for (const Value& context : {Value(), Value::Text("text"), Value::Int(3), Value::List({Value()}),
                               Value::Date(2023, 5, 8)}) {
    absl::StatusOr<RenderResult> r = t->Render(context, {});
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->missing.empty());
    EXPECT_EQ(r->missing.front(), "org.name");
  }
}

TEST(Concurrency, OneTemplateManyThreads) {
  MapPartialResolver partials;
  ASSERT_TRUE(partials.Add("p", "{{ind.talks.cn}}").ok());
  absl::StatusOr<CompiledTemplate> t =
      CompiledTemplate::Compile("{{org.short_name}}{{>p}}{{ind.funds.daxie}}");
  ASSERT_TRUE(t.ok());
  const Value context = ReportContext();
  const std::string expected = "市科技局一千二百三十四壹仟贰佰叁拾肆元伍角陆分";
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> ok(kThreads, 0);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RenderOptions options;
      options.partials = &partials;
      for (int n = 0; n < 500; ++n) {
        absl::StatusOr<RenderResult> r = t->Render(context, options);
        if (r.ok() && r->text == expected) ++ok[i];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int count : ok) EXPECT_EQ(count, 500);
}

// ---------------------------------------------------------------------------
// Contexts from protobuf Struct (JSON)

absl::StatusOr<Value> FromJson(const std::string& json) {
  google::protobuf::Value proto;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &proto);
  if (!parsed.ok()) return absl::InvalidArgumentError(parsed.ToString());
  return ValueFromProto(proto);
}

TEST(Proto, NumbersAndTypedObjects) {
  absl::StatusOr<Value> v = FromJson(R"({
    "n": 85, "d": 1.21, "neg": -3, "big": 1e21, "s": "x", "b": true,
    "none": null, "list": [1, 2.5],
    "ind": {
      "talks": {"$quantity": 1234, "unit": "人次"},
      "rate": {"$quantity": "975", "precision": 1, "unit": "%"},
      "funds": {"$money": "123456"},
      "avg": {"$decimal": "3.20"}
    },
    "issue": {"date": {"$date": "2023-05-08"}}
  })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Text("{{n}} {{d}} {{neg}} {{big}} {{s}} {{b}} [{{none}}] {{list}}", *v),
            "85 1.21 -3 1000000000000000000000 x true [] 1、2.5");
  EXPECT_EQ(Text("{{ind.talks.approx}}|{{ind.rate}}|{{ind.funds.wan}}|"
                 "{{ind.avg}}|{{issue.date.cn}}",
                 *v),
            "1200|97.5|0.12|3.20|二〇二三年五月八日");
}

TEST(Proto, BadTypedObjectsNameThePath) {
  absl::StatusOr<Value> v = FromJson(R"({"ind": {"funds": {"$money": 1.5}}})");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("ind.funds.$money"));
  v = FromJson(R"({"d": {"$date": "2023-13-01"}})");
  EXPECT_THAT(v.status().message(), HasSubstr("d.$date"));
  v = FromJson(R"({"q": {"$quantity": 1, "colour": "red"}})");
  EXPECT_THAT(v.status().message(), HasSubstr("unexpected field 'colour'"));
  v = FromJson(R"({"q": {"$quantity": 1, "precision": 12}})");
  EXPECT_THAT(v.status().message(), HasSubstr("precision must be 0..9"));
  v = FromJson(R"({"x": {"$decimal": "1.2.3"}})");
  EXPECT_FALSE(v.ok());
}

TEST(Proto, DepthLimit) {
  google::protobuf::Value deep;
  google::protobuf::Value* cursor = &deep;
  for (int i = 0; i < 200; ++i) {
    cursor =
        (*cursor->mutable_struct_value()->mutable_fields())["a"].mutable_list_value()->add_values();
  }
  absl::StatusOr<Value> v = ValueFromProto(deep);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("nested deeper than 64"));
}

TEST(Proto, RoundTrip) {
  const Value original = ReportContext();
  google::protobuf::Value proto;
  ValueToProto(original, &proto);
  absl::StatusOr<Value> back = ValueFromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, original);
}

}  // namespace
}  // namespace govreport::templates
