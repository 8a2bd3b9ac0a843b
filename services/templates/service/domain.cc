#include "templates/service/domain.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "report_context/report_context.h"

namespace govreport::templates {

std::string TemplateRef::Name() const {
  std::string base =
      org.empty() ? absl::StrCat("templates/", id) : absl::StrCat("orgs/", org, "/templates/", id);
  return revision ? absl::StrCat(base, "@", revision) : base;
}

absl::StatusOr<TemplateRef> ParseTemplateName(const std::string& name) {
  TemplateRef ref;
  std::string base = name;
  if (auto at = name.rfind('@'); at != std::string::npos) {
    if (!absl::SimpleAtoi(name.substr(at + 1), &ref.revision) || ref.revision < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("template '", name, "': the revision after '@' must be a number >= 1"));
    }
    base = name.substr(0, at);
  }
  if (absl::StartsWith(base, "templates/")) {
    GR_ASSIGN_OR_RETURN(auto parts, ParseName(base, "templates/*", "template"));
    ref.id = parts[0];
    return ref;
  }
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(base, "orgs/*/templates/*", "template"));
  ref.org = parts[0];
  ref.id = parts[1];
  return ref;
}

absl::StatusOr<TemplateRef> TemplateRenderableBy(const std::string& name, const std::string& org) {
  GR_ASSIGN_OR_RETURN(TemplateRef ref, ParseTemplateName(name));
  if (!ref.org.empty() && ref.org != org) {
    return errors::WithReason(
        absl::PermissionDeniedError("template: a template of another org cannot be rendered here"),
        "OTHER_ORG", "不能使用其他单位的模板");
  }
  return ref;
}

absl::StatusOr<PartialPins> ParsePartialPins(
    const google::protobuf::Map<std::string, std::string>& pins, const std::string& org) {
  // As many as a render may look up (--render-max-partial-names' default).
  constexpr size_t kMaxPins = 1000;
  if (pins.size() > kMaxPins) {
    return errors::InvalidField("partial_revisions", "TOO_MANY_PINS",
                                absl::StrCat(pins.size(), " pins, at most ", kMaxPins),
                                absl::StrCat("最多 ", kMaxPins, " 项"));
  }
  PartialPins out;
  for (const auto& pin : pins) {
    // Named, not bound: a lambda below uses them (clang 14 cannot capture
    // structured bindings).
    const std::string& name = pin.first;
    const std::string& pinned = pin.second;
    const std::string field = absl::StrCat("partial_revisions[\"", name, "\"]");
    auto bad = [&](absl::string_view why) {
      return errors::InvalidField(field, "INVALID_PIN", absl::StrCat("'", pinned, "' ", why),
                                  "须为本单位或共享模板的确定修订版，如 templates/base@3");
    };
    const std::string id = name.substr(0, name.find('@'));
    auto ref = ParseTemplateName(pinned);
    if (!ref.ok()) return bad(ref.status().message());
    if (ref->revision < 1) return bad("names no revision (write templates/id@N)");
    if (!ref->org.empty() && ref->org != org) return bad("is another org's template");
    if (ref->id != id) return bad(absl::StrCat("is not a revision of '", id, "'"));
    out.emplace(name, *std::move(ref));
  }
  return out;
}

absl::Status CheckTemplateSize(const std::string& text) {
  if (text.size() > kMaxTemplateBytes) {
    return errors::InvalidField("text", "TEXT_TOO_LONG",
                                absl::StrCat(text.size(), " bytes, at most ", kMaxTemplateBytes),
                                absl::StrCat("最长 ", kMaxTemplateBytes, " 字节"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> ToEngineValue(const v1::Value& v, int depth) {
  if (depth > 32) return absl::InvalidArgumentError("context: nested deeper than 32 levels");
  switch (v.kind_case()) {
    case v1::Value::kText:
      return Value::Text(v.text());
    case v1::Value::kBoolean:
      return Value::Bool(v.boolean());
    case v1::Value::kQuantity: {
      if (v.quantity().precision() < 0 || v.quantity().precision() > 9) {
        return absl::InvalidArgumentError("context: quantity precision must be within 0..9");
      }
      return Value::Quantity(v.quantity().value(), v.quantity().precision(), v.quantity().unit());
    }
    case v1::Value::kMoney:
      return Value::MoneyFen(v.money().fen());
    case v1::Value::kDate: {
      const auto& d = v.date();
      if (d.year() < 1 || d.year() > 9999 || d.month() < 1 || d.month() > 12 || d.day() < 1 ||
          d.day() > 31) {
        return absl::InvalidArgumentError("context: a date out of the calendar");
      }
      return Value::Date(d.year(), d.month(), d.day());
    }
    case v1::Value::kList: {
      std::vector<Value> items;
      items.reserve(v.list().items_size());
      for (const auto& item : v.list().items()) {
        GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, depth + 1));
        items.push_back(std::move(x));
      }
      return Value::List(std::move(items));
    }
    case v1::Value::kMap: {
      Value m = Value::Map();
      for (const auto& [k, item] : v.map().fields()) {
        GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, depth + 1));
        m.Set(k, std::move(x));
      }
      return m;
    }
    default:
      return Value::Null();
  }
}

absl::StatusOr<Value> ToEngineContext(const v1::ValueMap& map) {
  // Field by field: copying the map into a root Value first doubled the
  // memory a big context costs.
  Value m = Value::Map();
  for (const auto& [k, item] : map.fields()) {
    GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, 1));
    m.Set(k, std::move(x));
  }
  return m;
}

namespace {

SlotKind SlotKindOf(ContextKind kind) {
  switch (kind) {
    case ContextKind::kText:
      return SlotKind::kText;
    case ContextKind::kNumber:
      return SlotKind::kNumber;
    case ContextKind::kQuantity:
      return SlotKind::kQuantity;
    case ContextKind::kMoney:
      return SlotKind::kMoney;
    case ContextKind::kList:
      return SlotKind::kList;
  }
  return SlotKind::kText;
}

}  // namespace

Schema SchemaForProfile(const records::v1::Profile& profile) {
  ReportSchemaSpec spec;
  for (const auto& ind : profile.indicators()) {
    spec.indicators.emplace_back(ind.key(), SlotKindOf(IndicatorKind(ind)));
  }
  spec.facts.assign(profile.facts().begin(), profile.facts().end());
  spec.narrative.assign(profile.narrative_slots().begin(), profile.narrative_slots().end());
  Schema schema = MakeReportSchema(spec);
  // The breakdown rows (ind.<key>.rows) and the period's wording the
  // assembler's context gives a report of this profile.
  for (const auto& [name, kind] : ExtraContextNames(profile)) schema.Add(name, SlotKindOf(kind));
  return schema;
}

Schema SharedTemplateSchema() {
  Schema schema = MakeReportSchema({});
  schema.Add("ind.*", SlotKind::kQuantity);
  // Any indicator may be broken down in the org's profile (ind.<key>.rows).
  schema.Add("ind.*.rows", SlotKind::kList);
  schema.Add("ind.*.rows.label", SlotKind::kText);
  schema.Add("ind.*.rows.n", SlotKind::kQuantity);
  // A supervising body's roll-up, when its profile has one.
  schema.Add("rollup.*", SlotKind::kQuantity);
  schema.Add("rollup.*.rows", SlotKind::kList);
  schema.Add("rollup.*.rows.label", SlotKind::kText);
  schema.Add("rollup.*.rows.n", SlotKind::kQuantity);
  schema.Add("rollup.children", SlotKind::kList);
  schema.Add("rollup.children.name", SlotKind::kText);
  schema.Add("rollup.children.org", SlotKind::kText);
  schema.Add("rollup.children.ind.*", SlotKind::kQuantity);
  schema.Add("facts.*", SlotKind::kText);
  schema.Add("narrative.*", SlotKind::kText);
  return schema;
}

}  // namespace govreport::templates
