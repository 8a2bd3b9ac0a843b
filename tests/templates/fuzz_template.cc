// libFuzzer target: compile, validate and render arbitrary bytes as a
// template against a small fixed context. Built with
// clang -fsanitize=fuzzer,address when GOVREPORT_BUILD_FUZZ is on; the
// fuzz_template_smoke test runs the same function over a few fixed inputs.
//
// The input is also registered as the partial "self" (and as "parent"), so
// {{>self}} and {{<parent}} exercise recursion limits and inheritance.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "templates/engine/mustache.h"
#include "templates/engine/validate.h"
#include "templates/engine/value.h"

namespace {

using govreport::templates::CompiledTemplate;
using govreport::templates::CompileOptions;
using govreport::templates::Escape;
using govreport::templates::MapPartialResolver;
using govreport::templates::RenderOptions;
using govreport::templates::Schema;
using govreport::templates::SlotKind;
using govreport::templates::Value;

const Value& Context() {
  static const Value* context = [] {
    auto* v = new Value(Value::Map());
    v->SetPath("org.name", Value::Text("中共*市科学技术局党组"));
    v->SetPath("org.short_name", Value::Text("市科技局"));
    v->SetPath("ind.talks", Value::Quantity(1234, 0, "人次"));
    v->SetPath("ind.rate", Value::Quantity(975, 1, "%"));
    v->SetPath("ind.fund", Value::MoneyFen(123456));
    v->SetPath("ind.none", Value::Quantity(0, 0));
    v->SetPath("issue.date", Value::Date(2023, 5, 8));
    v->SetPath("flag", Value::Bool(true));
    v->SetPath("name", Value::Text("self"));
    Value list = Value::List();
    for (int i = 0; i < 3; ++i) {
      Value item = Value::Map();
      item.Set("n", Value::Int(i));
      item.Set("items", Value::List({Value::Int(i), Value::Text("<&>")}));
      list.Append(std::move(item));
    }
    v->Set("items", std::move(list));
    return v;
  }();
  return *context;
}

const Schema& TheSchema() {
  static const Schema* schema = [] {
    auto* s = new Schema();
    s->Add("org.name", SlotKind::kText)
        .Add("org.short_name", SlotKind::kText)
        .Add("ind.talks", SlotKind::kQuantity)
        .Add("ind.rate", SlotKind::kQuantity)
        .Add("ind.fund", SlotKind::kMoney)
        .Add("issue.date", SlotKind::kDate)
        .Add("flag", SlotKind::kBool)
        .Add("items", SlotKind::kList)
        .Add("items.n", SlotKind::kNumber);
    return s;
  }();
  return *schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CompileOptions compile;
  compile.max_nesting = 200;
  absl::StatusOr<CompiledTemplate> compiled = CompiledTemplate::Compile(text, compile);

  MapPartialResolver partials;
  if (compiled.ok()) {
    auto shared = std::make_shared<const CompiledTemplate>(*compiled);
    partials.Add("self", shared);
    partials.Add("parent", shared);
  }
  govreport::templates::ValidateOptions validate;
  validate.compile = compile;
  (void)govreport::templates::Validate(text, TheSchema(), &partials, validate);

  if (!compiled.ok()) return 0;
  for (Escape escape : {Escape::kHtml, Escape::kNone}) {
    RenderOptions options;
    options.escape = escape;
    options.partials = &partials;
    options.max_output_bytes = 1 << 20;
    options.max_include_depth = 16;
    options.max_steps = 200'000;
    (void)compiled->Render(Context(), options);
    (void)compiled->Render(Value::Text("wrong type"), options);
  }
  return 0;
}
