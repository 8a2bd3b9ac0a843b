#include "report_context/report_context.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/numerals.h"

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

}  // namespace

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
  v1::ValueMap& narrative = MapAt(root, "narrative");
  for (const auto& [k, text] : in.narrative) (*narrative.mutable_fields())[k] = Text(text);
  v1::ValueMap& ind = MapAt(root, "ind");
  for (const auto& iv : in.figures.values()) {
    // A slot without data stays absent, so the renderer lists it as
    // missing instead of printing a zero.
    if (iv.missing()) continue;
    (*ind.mutable_fields())[iv.key()] = IndicatorToValue(iv);
  }
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
