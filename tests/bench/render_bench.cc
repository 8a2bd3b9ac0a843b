// Rendering the shipped report template, side by side with mstch (Debian's
// libmstch) on the same template and data; and writing the DOCX. Before
// timing, checks that both engines print the same text, and leaves the
// flattened template, the data (JSON) and the expected text in the output
// folder for the Jinja2 comparison (scripts/jinja_bench.py).
#include <benchmark/benchmark.h>

#include <fstream>
#include <iostream>
#include <mstch/mstch.hpp>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/enums.h"
#include "common/numerals.h"
#include "common/signing.h"
#include "govreport/records/v1/records.pb.h"
#include "records/profile.h"
#include "report_context/report_context.h"
#include "shipped_profile.h"
#include "templates/docx/docx_writer.h"
#include "templates/engine/mustache.h"
#include "templates/layout/ofd_writer.h"
#include "templates/layout/pdf_writer.h"
#include "templates/service/domain.h"

namespace govreport::bench {
namespace {

namespace rpb = ::govreport::records::v1;
using templates::CompiledTemplate;
using templates::Value;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Fixture {
  std::string base;  // The shipped template (with blocks).
  std::string flat;  // The same without block and comment lines.
  Value context;
  mstch::map mstch_context;
  std::string json_context;
  std::string expected;
  std::shared_ptr<const CompiledTemplate> compiled;
};

// The shipped template with its inheritance-only tags removed: what a plain
// Mustache engine (and a Jinja2 translation) can render.
std::string Flatten(const std::string& base) {
  std::string out;
  std::istringstream in(base);
  std::string line;
  bool in_comment = false;
  bool first = true;
  while (std::getline(in, line)) {
    if (in_comment) {
      if (line.find("}}") != std::string::npos) in_comment = false;
      continue;
    }
    if (line.rfind("{{!", 0) == 0) {
      in_comment = line.find("}}") == std::string::npos;
      continue;
    }
    if (std::regex_match(line, std::regex(R"(\{\{[$/][a-z_]+\}\})"))) continue;
    if (!first) out += "\n";
    out += line;
    first = false;
  }
  return out + "\n";
}

// The seed's org, facts, narrative and issue date; the figures come from
// AddFigures.
templates::ReportContextInput SeedInput() {
  templates::ReportContextInput in;
  in.org.set_display_name("中共重庆市科学技术局党组");
  in.org.set_short_name("市科技局");
  in.org.set_city("重庆");
  in.org.set_district("渝北");
  (*in.org.mutable_facts())["purged_influence"] = "孙政才";
  (*in.org.mutable_facts())["case_lessons"] = "蔡家福";
  (*in.org.mutable_facts())["municipal_inspection_target"] = "市科技局";
  in.figures.set_period("2023");
  in.figures.set_last_day("2023-12-31");
  in.narrative = {
      {"problems", "今年，局党组全面从严治党工作虽取得了一定成效，但仍然存在一些差距。"},
      {"next_steps",
       "（一）强化理论武装，增强履职尽责能力。深入学习，持续巩固。\n"
       "（二）突出党建引领，推动党建与业务融合发展。创新党建载体平台。"}};
  in.issue_date = templates::IssueDate{2024, 1, 8};
  return in;
}

// A deterministic year of figures, one per indicator of the profile; the
// three incident counts are zero. Returns the same values as the engine
// prints them, for mstch.
mstch::map AddFigures(const rpb::Profile& profile, rpb::GetIndicatorValuesResponse* figures) {
  int i = 0;
  mstch::map ind;
  for (const auto& def : profile.indicators()) {
    rpb::IndicatorValue* v = figures->add_values();
    v->set_key(def.key());
    v->set_unit(def.unit());
    v->set_kind(records::KindOf(def));
    v->set_precision(def.precision());
    bool zero = def.key().find("incidents") != std::string::npos ||
                def.key() == "eight_point_violation_reports";
    int64_t value = zero                                     ? 0
                    : v->kind() == rpb::VALUE_KIND_MONEY_FEN ? 56700000
                    : v->kind() == rpb::VALUE_KIND_PERCENT
                        ? 975
                        : 3 + 7 * (i++ % 11) + (def.key() == "project_info_entries" ? 1400 : 0);
    v->set_value(value);
    if (zero) {
      ind[def.key()] = mstch::map{{"zero", true}};
    } else if (def.key() == "project_info_entries") {
      ind[def.key()] = mstch::map{{"approx", std::to_string(ApproximateDown(value))}};
    } else if (v->kind() == rpb::VALUE_KIND_MONEY_FEN) {
      ind[def.key()] = mstch::map{{"wan", FormatFenAsWan(value)}};
    } else {
      ind[def.key()] = records::FormatValue(v->kind(), def.unit(), value, def.precision());
    }
  }
  return ind;
}

mstch::map MstchContext(const templates::ReportContextInput& in, const mstch::map& ind) {
  return mstch::map{{"org", mstch::map{{"name", in.org.display_name()},
                                       {"short_name", in.org.short_name()},
                                       {"city", in.org.city()},
                                       {"district", in.org.district()}}},
                    {"facts", mstch::map{{"purged_influence", std::string("孙政才")},
                                         {"case_lessons", std::string("蔡家福")},
                                         {"municipal_inspection_target", std::string("市科技局")}}},
                    {"period", mstch::map{{"year", std::string("2023")}}},
                    {"issue", mstch::map{{"date", std::string("2024年1月8日")}}},
                    {"narrative", mstch::map{{"problems", in.narrative.at("problems")},
                                             {"next_steps", in.narrative.at("next_steps")}}},
                    {"ind", ind}};
}

// The JSON twin of the mstch data, for Jinja2.
std::string JsonContext(const templates::ReportContextInput& in, const mstch::map& ind) {
  std::string json = R"({"ind":{)";
  bool first = true;
  for (const auto& [k, node] : ind) {
    json += first ? "" : ",";
    first = false;
    if (const auto* s = boost::get<std::string>(&node)) {
      absl::StrAppend(&json, "\"", k, R"(":")", *s, "\"");
    } else {
      const auto& m = boost::get<mstch::map>(node);
      auto it = m.begin();
      if (const auto* b = boost::get<bool>(&it->second)) {
        absl::StrAppend(&json, "\"", k, R"(":{")", it->first, "\":", *b ? "true" : "false", "}");
      } else {
        absl::StrAppend(&json, "\"", k, R"(":{")", it->first, R"(":")",
                        boost::get<std::string>(it->second), R"("})");
      }
    }
  }
  absl::StrAppend(&json, R"(},"org":{"name":")", in.org.display_name(),
                  R"(","short_name":"市科技局","city":"重庆","district":"渝北"},)"
                  R"("facts":{"purged_influence":"孙政才","case_lessons":"蔡家福",)"
                  R"("municipal_inspection_target":"市科技局"},"period":{"year":"2023"},)"
                  R"("issue":{"date":"2024年1月8日"},"narrative":{"problems":")",
                  in.narrative.at("problems"), R"(","next_steps":")",
                  absl::StrReplaceAll(in.narrative.at("next_steps"), {{"\n", "\\n"}}), R"("}})");
  return json;
}

Fixture& Get() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    std::string root = GOVREPORT_SOURCE_DIR;
    f->base = ReadFile(root + "/deploy/profiles/strict-governance/base.mustache");
    f->flat = Flatten(f->base);
    rpb::Profile profile = govreport::testing::ShippedProfile();
    templates::ReportContextInput in = SeedInput();
    mstch::map ind = AddFigures(profile, &in.figures);
    templates::v1::ValueMap ctx = templates::BuildReportContext(in);
    f->context = *templates::ToEngineContext(ctx);
    f->mstch_context = MstchContext(in, ind);
    f->json_context = JsonContext(in, ind);
    auto compiled = CompiledTemplate::Compile(f->base);
    if (!compiled.ok()) {
      std::cerr << compiled.status() << "\n";
      std::exit(1);
    }
    f->compiled = std::make_shared<const CompiledTemplate>(std::move(*compiled));
    templates::RenderOptions options;
    options.escape = templates::Escape::kNone;
    f->expected = f->compiled->Render(f->context, options)->text;
    return f;
  }();
  return *fixture;
}

void BM_RenderSeed(benchmark::State& state) {
  Fixture& f = Get();
  templates::RenderOptions options;
  options.escape = templates::Escape::kNone;
  for (auto _ : state) {
    auto r = f.compiled->Render(f.context, options);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RenderSeed);

void BM_RenderSeedMstch(benchmark::State& state) {
  Fixture& f = Get();
  for (auto _ : state) {
    std::string out = mstch::render(f.flat, f.mstch_context);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RenderSeedMstch);

void BM_RenderDocx(benchmark::State& state) {
  Fixture& f = Get();
  for (auto _ : state) {
    auto bytes = docx::WriteOfficialDocx(f.expected, {});
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_RenderDocx);

// A 政府信息公开工作年度报告-like text: prose, then five tables of 10 to 30
// rows (six columns, figures right), one attachment, and the whole frame.
std::string TableReport() {
  std::string text =
      "某市科学技术局2023年政府信息公开工作年度报告\n市人民政府办公室：\n"
      "本报告根据《中华人民共和国政府信息公开条例》编制。\n";
  const char* headings[] = {
      "一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
      "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况"};
  int rows = 10;
  for (const char* heading : headings) {
    absl::StrAppend(
        &text, heading, "\n全年各项工作数据如下表。\n",
        "| 项目 | 自然人 | 商业企业 | 科研机构 | 其他 | 总计 |\n|---|---:|---:|---:|---:|---:|\n");
    for (int r = 0; r < rows; ++r) {
      absl::StrAppend(&text, "| 第", r + 1, "项办理结果（区分处理的） | ", r * 3, " | ", r, " | ",
                      r % 4, " | ", r % 2, " | ", r * 4 + r % 4 + r % 2, " |\n");
    }
    rows += 5;
  }
  absl::StrAppend(&text,
                  "附件：1.政府信息公开情况统计表\n某市科学技术局\n2024年1月15日\n"
                  "（此件公开发布）\n附件1\n政府信息公开情况统计表\n"
                  "| 类别 | 数量 |\n|---|---:|\n| 主动公开 | 1234 |\n| 依申请公开 | 42 |\n");
  return text;
}

void BM_RenderDocxTables(benchmark::State& state) {
  const std::string text = TableReport();
  docx::DocxOptions options;
  docx::DocumentFrame& f = options.frame;
  f.copy_number = "000001";
  f.issuing_mark = "某市科学技术局文件";
  f.document_number = "某科〔2024〕3号";
  f.upward = true;
  f.signers = {"张三"};
  f.copy_to = "市纪委监委，市委组织部";
  f.printing_org = "某市科学技术局办公室";
  f.printing_date = "2024年1月16日";
  if (!docx::WriteOfficialDocx(text, options).ok()) {
    state.SkipWithError("the table report does not lay out");
    return;
  }
  for (auto _ : state) {
    auto bytes = docx::WriteOfficialDocx(text, options);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_RenderDocxTables);

// The seed report as a PDF: classification, Pango shaping and line breaking,
// pagination and cairo's PDF with its font subsets (docs/pdf.md).
void BM_RenderPdf(benchmark::State& state) {
  Fixture& f = Get();
  if (auto first = layout::WriteOfficialPdf(f.expected, {}); !first.ok()) {
    state.SkipWithError(std::string(first.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto bytes = layout::WriteOfficialPdf(f.expected, {});
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_RenderPdf)->Unit(benchmark::kMillisecond);

// The seed report as an OFD: the same layout as BM_RenderPdf, then the OFD
// XML, the HarfBuzz subsets (with their cmaps) and the zip (docs/ofd.md).
void BM_RenderOfd(benchmark::State& state) {
  Fixture& f = Get();
  if (auto first = layout::WriteOfficialOfd(f.expected, {}); !first.ok()) {
    state.SkipWithError(std::string(first.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto bytes = layout::WriteOfficialOfd(f.expected, {});
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_RenderOfd)->Unit(benchmark::kMillisecond);

// One SM2-with-SM3 signature over a publication's manifest (a line of
// SHA-256 per format), as publication makes it: the sealed key already opened, its PEM
// parsed on every call.
void BM_SignManifest(benchmark::State& state) {
  auto key = signing::GenerateSm2KeyPair();
  if (!key.ok()) {
    state.SkipWithError(std::string(key.status().message()).c_str());
    return;
  }
  std::string manifest;
  for (const char* format : {"txt", "md", "html", "docx", "pdf", "ofd"}) {
    absl::StrAppend(&manifest, format, " ", std::string(64, 'a'), "\n");
  }
  for (auto _ : state) {
    auto signature = signing::Sign(key->private_pem, manifest);
    benchmark::DoNotOptimize(signature);
  }
}
BENCHMARK(BM_SignManifest)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) {
  using govreport::bench::Get;
  auto& f = Get();
  // The comparison is only fair if both engines print the same report.
  std::string theirs = mstch::render(f.flat, f.mstch_context);
  if (theirs != f.expected) {
    std::cerr << "mstch and govreport disagree; not comparing.\n--- govreport\n"
              << f.expected << "\n--- mstch\n"
              << theirs << "\n";
    return 1;
  }
  const char* out_dir = std::getenv("GOVREPORT_BENCH_DIR");
  if (out_dir) {
    std::ofstream(std::string(out_dir) + "/render_flat.mustache") << f.flat;
    std::ofstream(std::string(out_dir) + "/render_context.json") << f.json_context;
    std::ofstream(std::string(out_dir) + "/render_expected.txt") << f.expected;
    // The DOCX and PDF that BM_RenderDocx and BM_RenderPdf write: the
    // LibreOffice peer converts the same DOCX (scripts/libreoffice_bench.py),
    // and both PDFs stay there to be compared.
    auto seed_docx = govreport::docx::WriteOfficialDocx(f.expected, {});
    auto seed_pdf = govreport::layout::WriteOfficialPdf(f.expected, {});
    if (!seed_docx.ok() || !seed_pdf.ok()) {
      std::cerr << "the seed DOCX: " << seed_docx.status() << "; PDF: " << seed_pdf.status()
                << "\n";
      return 1;
    }
    std::ofstream(std::string(out_dir) + "/render_seed.docx", std::ios::binary) << *seed_docx;
    std::ofstream(std::string(out_dir) + "/render_seed.pdf", std::ios::binary) << *seed_pdf;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
