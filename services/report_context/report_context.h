// The one context the renderer gets for a report (names are stable API,
// see docs/templates.md):
//   org.name org.short_name org.city org.district     facts.<key>
//   period.year period.label period.label_cn period.next_year
//   narrative.<slot>
//   ind.<key> (typed: quantity, money or percent; absent when missing)
//   ind.<key>.rows (a broken-down indicator: one {label, n} per row)
//   rollup.<key>, rollup.<key>.rows (an org whose profile rolls up: the
//     children's total, like ind.<key>), rollup.children (one {name, org,
//     ind.<key>} per child in the roll-up, by org id)
//   issue.date issue.date_cn (absent until the report is signed)
// Used by the templates service's preview and by the assembler, so both see
// exactly the same names: a library of its own (services/report_context/),
// so that neither includes the other's internals.
#ifndef GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_
#define GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "govreport/records/v1/records.pb.h"
#include "govreport/templates/v1/templates.pb.h"

namespace govreport::templates {

struct IssueDate {
  int year = 0;
  int month = 0;
  int day = 0;
};

struct ReportContextInput {
  records::v1::Org org;
  records::v1::GetIndicatorValuesResponse figures;
  std::map<std::string, std::string> narrative;
  std::optional<IssueDate> issue_date;
};

v1::ValueMap BuildReportContext(const ReportContextInput& input);

// The period as a report names it: 2023年, 2023年上半年, 2023年下半年,
// 2023年第三季度, 2023年3月, 2023年3月至8月, 2022年11月至2023年10月,
// 2022年至2023年. By the months it covers, whatever label named them
// ("2023-01..2023-06" is 2023年上半年). nullopt for a label that is not a
// period (records/period.h).
std::optional<std::string> PeriodLabelChinese(const std::string& period_label);

// The year after the period's last day (下一步工作: "2024年"), or nullopt.
std::optional<int> PeriodNextYear(const std::string& period_label);

// A broken-down indicator's rows in the context: the list's name in the
// `ind` map ("<key>.rows", the child `rows` of `ind.<key>`), and each row
// as a map {label: text (the dimension value), n: the typed value, as
// ind.<key> prints it; n.value, n.cn, n.zero ... as for an indicator}.
std::string RowsKey(const std::string& indicator_key);

// What a name of the context holds, for checking templates against a
// profile (the templates service's schema declares these).
enum class ContextKind { kText, kNumber, kQuantity, kMoney, kList };

// ind.<key>'s kind: kMoney for 元 and 万元, else kQuantity.
ContextKind IndicatorKind(const records::v1::Indicator& indicator);

// Every name BuildReportContext gives a report of `profile` beyond those of
// DESIGN.md's list that every profile has (org.*, period.year,
// period.label, issue.*, facts.*, narrative.*, ind.<key>): period.label_cn,
// period.next_year, and for each broken-down indicator ind.<key>.rows
// (kList), ind.<key>.rows.label (kText) and ind.<key>.rows.n (kQuantity or
// kMoney, like ind.<key>); and when the profile has rollup set, the
// rollup.* names below.
std::vector<std::pair<std::string, ContextKind>> ExtraContextNames(
    const records::v1::Profile& profile);

// One indicator value as a typed context value.
v1::Value IndicatorToValue(const records::v1::IndicatorValue& value);

}  // namespace govreport::templates

#endif  // GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_
