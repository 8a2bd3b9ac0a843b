// Conversions between the domain structs and their protobuf messages. The
// same messages are the storage format in Redis, so one mapping serves the
// API and the store.
#ifndef GOVREPORT_APPROVAL_CONVERT_H_
#define GOVREPORT_APPROVAL_CONVERT_H_

#include "absl/status/statusor.h"
#include "approval/domain.h"
#include "govreport/approval/v1/approval.pb.h"

namespace govreport::approval {

namespace pb = ::govreport::approval::v1;

pb::Step ToProto(const StepDef& step);
StepDef FromProto(const pb::Step& step);

pb::Workflow ToProto(const WorkflowDef& wf);
// Org and id come from the resource name (or stay empty when it is empty).
WorkflowDef FromProto(const pb::Workflow& wf);
// INVALID_ARGUMENT naming the field ("workflow.steps[2].mode") when a step's
// kind or mode is a number the proto does not define; FromProto would read
// it as REVIEW or ANY.
absl::Status CheckWorkflowEnums(const pb::Workflow& wf);

pb::Approval ToProto(const ApprovalState& s);
absl::StatusOr<ApprovalState> FromProto(const pb::Approval& a);

pb::HistoryEntry ToProto(const HistoryRecord& e);
HistoryRecord FromProto(const pb::HistoryEntry& e);

pb::ApprovalState ToProto(ApprovalStatus s);
ApprovalStatus FromProto(pb::ApprovalState s);

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_CONVERT_H_
