// The one context the renderer gets for a report (names are stable API,
// see docs/templates.md):
//   org.name org.short_name org.city org.district     facts.<key>
//   period.year period.label                           narrative.<slot>
//   ind.<key> (typed: quantity, money or percent; absent when missing)
//   issue.date issue.date_cn (absent until the report is signed)
// Used by the templates service's preview and by the assembler, so both see
// exactly the same names: a library of its own (services/report_context/),
// so that neither includes the other's internals.
#ifndef GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_
#define GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_

#include <map>
#include <optional>
#include <string>

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

// One indicator value as a typed context value.
v1::Value IndicatorToValue(const records::v1::IndicatorValue& value);

}  // namespace govreport::templates

#endif  // GOVREPORT_REPORT_CONTEXT_REPORT_CONTEXT_H_
