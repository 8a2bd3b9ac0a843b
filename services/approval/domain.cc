#include "approval/domain.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace govreport::approval {
namespace {

bool AllOf(absl::string_view s, bool (*ok)(char)) {
  for (char c : s) {
    if (!ok(c)) return false;
  }
  return true;
}

bool IdChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-'; }
bool RoleChar(char c) { return IdChar(c) || c == '_'; }
bool StepChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; }

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status ValidateDeadline(absl::string_view field, int64_t seconds) {
  if (seconds == 0) return absl::OkStatus();
  if (seconds < kMinDeadlineSeconds || seconds > kMaxDeadlineSeconds) {
    return Bad(field, absl::StrCat("must be 0 (none) or between ", kMinDeadlineSeconds, " and ",
                                   kMaxDeadlineSeconds, " seconds, not ", seconds));
  }
  return absl::OkStatus();
}

// "orgs/{org}/{collection}/{id}" -> {org, id}.
absl::StatusOr<ChildName> ParseChild(absl::string_view name, absl::string_view collection) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "orgs" || parts[2] != collection || parts[3].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("name '", name, "': expected orgs/{org}/", collection, "/{id}"));
  }
  if (absl::Status s = ValidateOrgId(parts[1]); !s.ok()) return s;
  return ChildName{std::string(parts[1]), std::string(parts[3])};
}

}  // namespace

absl::Status ValidateWorkflow(const WorkflowDef& wf) {
  if (wf.display_name.size() > 200) {
    return Bad("workflow.display_name", "longer than 200 bytes");
  }
  if (wf.description.size() > 4000) {
    return Bad("workflow.description", "longer than 4000 bytes");
  }
  if (wf.steps.empty()) {
    return Bad("workflow.steps", "a workflow needs at least one step");
  }
  if (wf.steps.size() > kMaxSteps) {
    return Bad("workflow.steps", absl::StrCat("at most ", kMaxSteps, " steps"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    const StepDef& st = wf.steps[i];
    std::string field = absl::StrCat("workflow.steps[", i, "]");
    if (st.name.empty() || st.name.size() > 64 || !AllOf(st.name, StepChar)) {
      return Bad(absl::StrCat(field, ".name"),
                 absl::StrCat("'", st.name, "' must be 1-64 letters, digits, '_' or '-'"));
    }
    if (!names.insert(st.name).second) {
      return Bad(absl::StrCat(field, ".name"),
                 absl::StrCat("step name '", st.name, "' is used twice"));
    }
    if (st.display_name.size() > 200) {
      return Bad(absl::StrCat(field, ".display_name"), "longer than 200 bytes");
    }
    bool last = i + 1 == wf.steps.size();
    if (last && st.kind != StepKind::kSignOff) {
      return Bad(absl::StrCat(field, ".kind"),
                 "the last step must be the sign-off (SIGN_OFF, 签发)");
    }
    if (!last && st.kind == StepKind::kSignOff) {
      return Bad(absl::StrCat(field, ".kind"), "only the last step may be the sign-off");
    }
    if (st.users.empty() && st.roles.empty()) {
      return Bad(field, absl::StrCat("step '", st.name, "' has no assignee: name users or roles"));
    }
    if (st.users.size() + st.roles.size() > kMaxTasksPerStep) {
      return Bad(field, absl::StrCat("at most ", kMaxTasksPerStep, " assignees per step"));
    }
    std::set<std::string> seen;
    for (size_t u = 0; u < st.users.size(); ++u) {
      std::string f = absl::StrCat(field, ".users[", u, "]");
      if (absl::Status s = ValidateUserId(f, st.users[u]); !s.ok()) return s;
      if (!seen.insert(st.users[u]).second) {
        return Bad(f, absl::StrCat("'", st.users[u], "' is listed twice"));
      }
    }
    seen.clear();
    for (size_t r = 0; r < st.roles.size(); ++r) {
      std::string f = absl::StrCat(field, ".roles[", r, "]");
      if (absl::Status s = ValidateRoleName(st.roles[r]); !s.ok()) {
        return Bad(f, s.message());
      }
      if (!seen.insert(st.roles[r]).second) {
        return Bad(f, absl::StrCat("'", st.roles[r], "' is listed twice"));
      }
    }
    if (absl::Status s = ValidateDeadline(absl::StrCat(field, ".due_seconds"), st.due_seconds);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ValidateDeadline(absl::StrCat(field, ".escalate_seconds"), st.escalate_seconds);
        !s.ok()) {
      return s;
    }
    if (st.escalate_seconds != 0 &&
        (st.due_seconds == 0 || st.escalate_seconds <= st.due_seconds)) {
      return Bad(absl::StrCat(field, ".escalate_seconds"),
                 "escalation needs a due time and must come after it");
    }
  }
  return absl::OkStatus();
}

absl::string_view StatusName(ApprovalStatus s) {
  switch (s) {
    case ApprovalStatus::kInProgress:
      return "IN_PROGRESS";
    case ApprovalStatus::kApproved:
      return "APPROVED";
    case ApprovalStatus::kRejected:
      return "REJECTED";
    case ApprovalStatus::kWithdrawn:
      return "WITHDRAWN";
  }
  return "UNKNOWN";
}

std::vector<std::string> ApprovalState::PendingUsers() const {
  std::vector<std::string> out;
  if (finished()) return out;
  for (const Task& t : tasks) {
    if (t.state == TaskState::kPending) out.push_back(t.user);
  }
  return out;
}

const Task* ApprovalState::FindTask(absl::string_view user) const {
  for (const Task& t : tasks) {
    if (t.user == user && t.state != TaskState::kTransferred) return &t;
  }
  return nullptr;
}

absl::Status ValidateOrgId(absl::string_view org) {
  if (org.empty() || org.size() > 63 || !AllOf(org, IdChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("org id '", org, "' must be 1-63 lower-case letters, digits or '-'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateResourceId(absl::string_view what, absl::string_view id) {
  if (id.empty() || id.size() > 63 || !AllOf(id, IdChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", id, "' must be 1-63 lower-case letters, digits or '-'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRoleName(absl::string_view role) {
  if (role.empty() || role.size() > 64 || !AllOf(role, RoleChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("role '", role, "' must be 1-64 lower-case letters, digits, '_' or '-'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUserId(absl::string_view what, absl::string_view user) {
  bool ok = !user.empty() && user.size() <= 128;
  for (unsigned char c : user) {
    if (c <= 0x20 || c == 0x7f || c == ',' || c == '|') ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": user id '", user,
                     "' must be 1-128 bytes without spaces, control characters, ',' or "
                     "'|'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseOrgName(absl::string_view name) {
  absl::string_view org = name;
  if (!absl::ConsumePrefix(&org, "orgs/") || org.find('/') != org.npos) {
    return absl::InvalidArgumentError(absl::StrCat("parent '", name, "': expected orgs/{org}"));
  }
  if (absl::Status s = ValidateOrgId(org); !s.ok()) return s;
  return std::string(org);
}

absl::StatusOr<WorkflowName> ParseWorkflowName(absl::string_view name) {
  absl::string_view base = name;
  int64_t revision = 0;
  if (auto at = name.find('@'); at != name.npos) {
    base = name.substr(0, at);
    if (!absl::SimpleAtoi(name.substr(at + 1), &revision) || revision < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("workflow name '", name, "': the revision after '@' must be >= 1"));
    }
  }
  auto child = ParseChild(base, "workflows");
  if (!child.ok()) return child.status();
  if (absl::Status s = ValidateResourceId("workflow id", child->id); !s.ok()) {
    return s;
  }
  return WorkflowName{child->org, child->id, revision};
}

absl::StatusOr<ChildName> ParseApprovalName(absl::string_view name) {
  auto child = ParseChild(name, "approvals");
  if (!child.ok()) return child.status();
  if (absl::Status s = ValidateResourceId("approval id", child->id); !s.ok()) {
    return s;
  }
  return child;
}

absl::StatusOr<ChildName> ParseRoleName(absl::string_view name) {
  auto child = ParseChild(name, "roles");
  if (!child.ok()) return child.status();
  if (absl::Status s = ValidateRoleName(child->id); !s.ok()) return s;
  return child;
}

std::string OrgName(absl::string_view org) { return absl::StrCat("orgs/", org); }

std::string WorkflowResourceName(absl::string_view org, absl::string_view id) {
  return absl::StrCat("orgs/", org, "/workflows/", id);
}

std::string ApprovalResourceName(absl::string_view org, absl::string_view id) {
  return absl::StrCat("orgs/", org, "/approvals/", id);
}

std::string RoleResourceName(absl::string_view org, absl::string_view role) {
  return absl::StrCat("orgs/", org, "/roles/", role);
}

std::string Rfc3339(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

}  // namespace govreport::approval
