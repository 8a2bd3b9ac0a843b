// What report_commands.cc and approval_commands.cc share: report and
// approval names, fetching them, and how times and approvals are printed.
#ifndef GOVREPORT_REPORTCTL_REPORTS_HELPERS_H_
#define GOVREPORT_REPORTCTL_REPORTS_HELPERS_H_

#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"

namespace govreport::cli {

// report_commands.cc

// "orgs/kjj/reports/x", or the short "kjj/x".
std::string ReportName(const std::string& arg);
// Local "YYYY-MM-DD HH:MM:SS"; "" when unset.
std::string Time(const google::protobuf::Timestamp& t);
// One line of at most `bytes` bytes (cut at a character), "…" when cut.
std::string Clip(const std::string& text, size_t bytes);
absl::StatusOr<assembler::v1::Report> FetchReport(Context& c, const std::string& name,
                                                  bool staleness);
// txt (or empty), md, html, docx → the format; INVALID_ARGUMENT naming
// --format otherwise.
absl::StatusOr<type::v1::DocumentFormat> ParseFormat(const std::string& text);

// approval_commands.cc

approval::v1::ApprovalService::Stub Approvals(Context& c);
absl::StatusOr<approval::v1::Approval> FetchApproval(Context& c, const std::string& name);
void PrintApproval(Context& c, const approval::v1::Approval& a);

}  // namespace govreport::cli

#endif  // GOVREPORT_REPORTCTL_REPORTS_HELPERS_H_
