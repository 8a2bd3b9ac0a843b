#include "report_context/report_context.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/numerals.h"
#include "records/period.h"
#include "records/profile.h"

namespace govreport::templates {
namespace {

v1::Value Text(const std::string& s) {
  v1::Value v;
  v.set_text(s);
  return v;
}

v1::ValueMap& MapAt(v1::ValueMap& parent, const std::string& key) {
  return *(*parent.mutable_fields())[key].mutable_map();
}

v1::Value Number(int64_t n) {
  v1::Value v;
  v.mutable_quantity()->set_value(n);
  return v;
}

// Month index (year * 12 + month - 1) → "2023年3月".
std::string YearMonth(int index) { return absl::StrCat(index / 12, "年", index % 12 + 1, "月"); }

// An indicator's rows: the dimension value and the row's figure, typed
// like the indicator's own.
v1::Value RowsValue(const records::v1::IndicatorValue& iv) {
  v1::Value list;
  for (const auto& row : iv.rows()) {
    v1::ValueMap& item = *list.mutable_list()->add_items()->mutable_map();
    (*item.mutable_fields())["label"] = Text(row.dimension_value());
    // A row without a figure (a SUM nobody stated) has no n: the template's
    // missing-value handling applies, as for a missing indicator.
    if (row.missing()) continue;
    records::v1::IndicatorValue cell = iv;
    cell.set_value(row.value());
    (*item.mutable_fields())["n"] = IndicatorToValue(cell);
  }
  return list;
}

// rollup.<key> (and .rows) for each rolled-up total, and rollup.children:
// one {name, org, ind: {<key>: the child's figure}} per included child.
v1::ValueMap RollupMap(const records::v1::GetRollupValuesResponse& rollup) {
  v1::ValueMap out;
  for (const auto& rolled : rollup.values()) {
    const auto& total = rolled.total();
    if (!total.breakdown().empty())
      (*out.mutable_fields())[RowsKey(total.key())] = RowsValue(total);
    if (!total.missing()) (*out.mutable_fields())[total.key()] = IndicatorToValue(total);
  }
  v1::Value children;
  std::map<std::string, v1::ValueMap*> by_org;
  for (const auto& child : rollup.children()) {
    if (child.state() != records::v1::ROLLUP_CHILD_STATE_INCLUDED) continue;
    v1::ValueMap& item = *children.mutable_list()->add_items()->mutable_map();
    (*item.mutable_fields())["name"] =
        Text(child.short_name().empty() ? child.display_name() : child.short_name());
    (*item.mutable_fields())["org"] = Text(child.display_name());
    by_org[child.org()] = &MapAt(item, "ind");
  }
  for (const auto& rolled : rollup.values()) {
    for (const auto& share : rolled.shares()) {
      auto it = by_org.find(share.org());
      if (it == by_org.end() || share.value().missing()) continue;
      (*it->second->mutable_fields())[share.value().key()] = IndicatorToValue(share.value());
    }
  }
  (*out.mutable_fields())["children"] = std::move(children);
  return out;
}

}  // namespace

std::optional<std::string> PeriodLabelChinese(const std::string& label) {
  absl::StatusOr<records::Period> p = records::ParsePeriod(label);
  if (!p.ok()) return std::nullopt;
  int first = p->first_month, last = p->last_month;
  int fy = first / 12, ly = last / 12, fm = first % 12, lm = last % 12;
  if (fm == 0 && lm == 11) {
    return fy == ly ? absl::StrCat(fy, "年") : absl::StrCat(fy, "年至", ly, "年");
  }
  if (fy == ly) {
    if (fm == 0 && lm == 5) return absl::StrCat(fy, "年上半年");
    if (fm == 6 && lm == 11) return absl::StrCat(fy, "年下半年");
    if (fm % 3 == 0 && lm == fm + 2) {
      return absl::StrCat(fy, "年第", ChineseNumerals(fm / 3 + 1), "季度");
    }
    if (fm == lm) return YearMonth(first);
    return absl::StrCat(YearMonth(first), "至", lm + 1, "月");
  }
  return absl::StrCat(YearMonth(first), "至", YearMonth(last));
}

std::optional<int> PeriodNextYear(const std::string& label) {
  absl::StatusOr<records::Period> p = records::ParsePeriod(label);
  if (!p.ok()) return std::nullopt;
  return p->last_month / 12 + 1;
}

std::string RowsKey(const std::string& indicator_key) {
  return absl::StrCat(indicator_key, ".rows");
}

ContextKind IndicatorKind(const records::v1::Indicator& indicator) {
  return records::KindOf(indicator) == records::v1::VALUE_KIND_MONEY_FEN ? ContextKind::kMoney
                                                                         : ContextKind::kQuantity;
}

std::vector<std::pair<std::string, ContextKind>> ExtraContextNames(
    const records::v1::Profile& profile) {
  std::vector<std::pair<std::string, ContextKind>> out = {
      {"period.label_cn", ContextKind::kText}, {"period.next_year", ContextKind::kNumber}};
  for (const auto& ind : profile.indicators()) {
    if (ind.breakdown().empty()) continue;
    std::string rows = absl::StrCat("ind.", ind.key(), ".rows");
    out.emplace_back(rows, ContextKind::kList);
    out.emplace_back(rows + ".label", ContextKind::kText);
    out.emplace_back(rows + ".n", IndicatorKind(ind));
  }
  if (!profile.rollup()) return out;
  out.emplace_back("rollup.children", ContextKind::kList);
  out.emplace_back("rollup.children.name", ContextKind::kText);
  out.emplace_back("rollup.children.org", ContextKind::kText);
  for (const auto& ind : profile.indicators()) {
    ContextKind kind = IndicatorKind(ind);
    out.emplace_back(absl::StrCat("rollup.", ind.key()), kind);
    out.emplace_back(absl::StrCat("rollup.children.ind.", ind.key()), kind);
    if (ind.breakdown().empty()) continue;
    std::string rows = absl::StrCat("rollup.", ind.key(), ".rows");
    out.emplace_back(rows, ContextKind::kList);
    out.emplace_back(rows + ".label", ContextKind::kText);
    out.emplace_back(rows + ".n", kind);
  }
  return out;
}

v1::Value IndicatorToValue(const records::v1::IndicatorValue& iv) {
  v1::Value v;
  switch (iv.kind()) {
    case records::v1::VALUE_KIND_MONEY_FEN: {
      v1::Money* m = v.mutable_money();
      m->set_fen(iv.value());
      m->set_unit(iv.unit());
      m->set_precision(iv.precision());
      break;
    }
    default: {
      v1::Quantity* q = v.mutable_quantity();
      q->set_value(iv.value());
      q->set_precision(iv.kind() == records::v1::VALUE_KIND_PERCENT ? iv.precision() : 0);
      q->set_unit(iv.unit());
      break;
    }
  }
  return v;
}

v1::ValueMap BuildReportContext(const ReportContextInput& in) {
  v1::ValueMap root;
  v1::ValueMap& org = MapAt(root, "org");
  (*org.mutable_fields())["name"] = Text(in.org.display_name());
  (*org.mutable_fields())["short_name"] = Text(in.org.short_name());
  (*org.mutable_fields())["city"] = Text(in.org.city());
  (*org.mutable_fields())["district"] = Text(in.org.district());
  v1::ValueMap& facts = MapAt(root, "facts");
  for (const auto& [k, val] : in.org.facts()) (*facts.mutable_fields())[k] = Text(val);
  v1::ValueMap& period = MapAt(root, "period");
  const std::string& label = in.figures.period();
  (*period.mutable_fields())["label"] = Text(label);
  // The year the period ends in: "2022-11..2023-10" reports on 2023.
  (*period.mutable_fields())["year"] = Text(
      in.figures.last_day().size() >= 4 ? in.figures.last_day().substr(0, 4) : label.substr(0, 4));
  if (auto cn = PeriodLabelChinese(label)) (*period.mutable_fields())["label_cn"] = Text(*cn);
  if (auto next = PeriodNextYear(label)) (*period.mutable_fields())["next_year"] = Number(*next);
  v1::ValueMap& narrative = MapAt(root, "narrative");
  for (const auto& [k, text] : in.narrative) (*narrative.mutable_fields())[k] = Text(text);
  v1::ValueMap& ind = MapAt(root, "ind");
  for (const auto& iv : in.figures.values()) {
    // A slot without data stays absent, so the renderer lists it as
    // missing instead of printing a zero.
    if (!iv.breakdown().empty()) (*ind.mutable_fields())[RowsKey(iv.key())] = RowsValue(iv);
    if (iv.missing()) continue;
    (*ind.mutable_fields())[iv.key()] = IndicatorToValue(iv);
  }
  if (in.figures.has_rollup()) MapAt(root, "rollup") = RollupMap(in.figures.rollup());
  if (in.issue_date) {
    v1::ValueMap& issue = MapAt(root, "issue");
    v1::Value date;
    date.mutable_date()->set_year(in.issue_date->year);
    date.mutable_date()->set_month(in.issue_date->month);
    date.mutable_date()->set_day(in.issue_date->day);
    (*issue.mutable_fields())["date"] = date;
    (*issue.mutable_fields())["date_cn"] =
        Text(FormatDateChinese(in.issue_date->year, in.issue_date->month, in.issue_date->day));
  }
  return root;
}

}  // namespace govreport::templates
