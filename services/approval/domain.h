// Domain types of the approval service: workflow definitions, the state of
// one approval run, and the resource names and identifiers they use. Plain
// structs, so the state machine is testable without protobuf or Redis.
#ifndef GOVREPORT_APPROVAL_DOMAIN_H_
#define GOVREPORT_APPROVAL_DOMAIN_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::approval {

enum class StepKind { kReview, kSignOff };
enum class StepMode { kAny, kAll };

struct StepDef {
  std::string name;
  std::string display_name;
  StepKind kind = StepKind::kReview;
  StepMode mode = StepMode::kAny;
  std::vector<std::string> users;
  std::vector<std::string> roles;
  int64_t due_seconds = 0;
  int64_t escalate_seconds = 0;
};

struct WorkflowDef {
  std::string org;
  std::string id;
  std::string display_name;
  std::string description;
  std::vector<StepDef> steps;
  bool allow_consecutive_steps = false;
  int64_t revision = 0;
  int64_t create_unix = 0;
  int64_t update_unix = 0;
  std::string updated_by;
};

// Deadline bounds: shorter is a typo, longer is no deadline at all.
inline constexpr int64_t kMinDeadlineSeconds = 60;
inline constexpr int64_t kMaxDeadlineSeconds = 365LL * 24 * 3600;
inline constexpr int kMaxSteps = 20;
inline constexpr int kMaxTasksPerStep = 50;
inline constexpr size_t kMaxCommentBytes = 4000;
inline constexpr size_t kMaxExcludedApprovers = 50;

// INVALID_ARGUMENT naming the first problem (field path included). Role
// membership is not checked here: it lives in Redis.
absl::Status ValidateWorkflow(const WorkflowDef& wf);

enum class ApprovalStatus { kInProgress, kApproved, kRejected, kWithdrawn };
enum class TaskState { kPending, kApproved, kTransferred };

absl::string_view StatusName(ApprovalStatus s);

struct Task {
  std::string user;
  TaskState state = TaskState::kPending;
  std::string via_role;
  bool required = false;
  bool added = false;
  std::string assigned_by;
  std::string handed_to;
  int64_t assign_unix = 0;
  int64_t act_unix = 0;
  std::string comment;
  // The approver's display name when they approved (Actor::display_name).
  std::string display_name{};
};

struct StepProgress {
  StepDef step;
  std::vector<std::string> approvers;
  int64_t complete_unix = 0;
};

struct ApprovalState {
  std::string org;
  std::string id;
  std::string subject;
  std::string title;
  std::string workflow_id;
  int64_t workflow_revision = 0;
  std::string initiator;
  ApprovalStatus status = ApprovalStatus::kInProgress;
  std::vector<StepProgress> steps;
  int current_step = 0;
  std::vector<Task> tasks;
  int64_t activation = 0;
  int64_t step_start_unix = 0;
  int64_t due_unix = 0;
  int64_t escalate_unix = 0;
  int64_t decisions = 0;
  bool allow_consecutive_steps = false;
  int64_t version = 0;
  int64_t create_unix = 0;
  int64_t update_unix = 0;
  int64_t finish_unix = 0;
  std::string signer;
  int64_t sign_off_unix = 0;
  std::string last_comment;
  // May decide no step: the authors of what is approved.
  std::vector<std::string> excluded;
  // Kept beside the state in Redis (not bumped by the version).
  int64_t history_length = 0;
  std::string history_head;

  bool finished() const { return status != ApprovalStatus::kInProgress; }
  const StepDef& current() const { return steps[current_step].step; }
  // Users holding a pending task of the active step (none once finished).
  std::vector<std::string> PendingUsers() const;
  // The task of `user` in the active step that is not handed off, if any.
  const Task* FindTask(absl::string_view user) const;
};

struct HistoryRecord {
  int64_t sequence = 0;
  int64_t time_unix = 0;
  std::string action;
  std::string actor;
  std::string step;
  std::string comment;
  std::map<std::string, std::string> details;
  int64_t version = 0;
  // The platform service that relayed the action, if any.
  std::string via;
  // "TOKEN_ID issued by ORG/SUBJECT" of the call's token.
  std::string token;
  // StateDigest of the approval after this entry.
  std::string state_digest;
  std::string prev_hash;
  std::string hash;
};

// Role name -> member user ids, as read from Redis for one transition.
using RoleDirectory = std::map<std::string, std::vector<std::string>>;

// ---------------------------------------------------------- identifiers

absl::Status ValidateOrgId(absl::string_view org);
// Workflow ids: lower-case letters, digits and '-', up to 63.
absl::Status ValidateResourceId(absl::string_view what, absl::string_view id);
// Role names: lower-case letters, digits, '_' and '-', up to 64.
absl::Status ValidateRoleName(absl::string_view role);
// User ids: 1..128 bytes, no whitespace, control characters, ',' or '|'
// (both are separators in events and timer members).
absl::Status ValidateUserId(absl::string_view what, absl::string_view user);

// ------------------------------------------------------- resource names

absl::StatusOr<std::string> ParseOrgName(absl::string_view name);  // orgs/{org}

struct WorkflowName {
  std::string org;
  std::string id;
  int64_t revision = 0;  // 0: the current one.
};
absl::StatusOr<WorkflowName> ParseWorkflowName(absl::string_view name);

struct ChildName {
  std::string org;
  std::string id;
};
absl::StatusOr<ChildName> ParseApprovalName(absl::string_view name);
absl::StatusOr<ChildName> ParseRoleName(absl::string_view name);

std::string OrgName(absl::string_view org);
std::string WorkflowResourceName(absl::string_view org, absl::string_view id);
std::string ApprovalResourceName(absl::string_view org, absl::string_view id);
std::string RoleResourceName(absl::string_view org, absl::string_view role);

// RFC 3339 in UTC: 2023-05-08T02:03:04Z.
std::string Rfc3339(int64_t unix_seconds);

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_DOMAIN_H_
