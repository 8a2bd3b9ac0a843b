// The approval service's logic, without the network: who may do what, the
// read -> decide (state machine) -> commit (one Lua script) loop, listing,
// history verification and the deadline timers. The gRPC class only
// translates protobuf to these calls and back.
#ifndef GOVREPORT_APPROVAL_APPROVALS_H_
#define GOVREPORT_APPROVAL_APPROVALS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/domain.h"
#include "approval/history.h"
#include "approval/state_machine.h"
#include "approval/store.h"
#include "common/auth.h"

namespace govreport::approval {

struct CoreOptions {
  // Injected so tests can move time forward to deadlines.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Retries of a transition whose read went stale through no fault of the
  // caller (a comment or reminder appended meanwhile).
  int max_retries = 8;
  // Keys the history chain (DeriveKey(secret, "audit-chain")); must be the
  // same on every replica and is never stored in Redis.
  std::string audit_key;
  // Subjects of operator-issued (org "*") service principals that may act
  // on behalf of a user (on_behalf_of, initiator). Nobody else may, whatever
  // the token's kind or roles.
  std::vector<std::string> delegates;
  // Flood limits: comments and urgings per user per minute, and history
  // entries per approval past which only decisions are accepted.
  int comments_per_minute = 10;
  int64_t max_history_entries = 300;
};

struct StartRequest {
  std::string parent;
  std::string workflow;
  std::string subject;
  std::string title;
  std::string initiator;
  std::string comment;
  std::string request_id;
  std::vector<std::string> excluded_approvers;
};

struct ActionRequest {
  std::string name;
  int64_t expected_version = 0;
  std::string comment;
  std::string request_id;
  std::string on_behalf_of;
  std::string target_user;     // Transfer, AddSigner, Reassign.
  std::string return_to_step;  // Reject.
  std::string from_user;       // Reassign.
};

struct ListFilter {
  std::string parent;
  int page_size = 0;
  std::string page_token;
  std::optional<ApprovalStatus> state;
  std::string subject;
  std::string workflow;
  std::string initiator;
};

template <typename T>
struct Listing {
  std::vector<T> items;
  std::string next_page_token;
};

struct RoleView {
  std::string org;
  std::string role;
  std::vector<std::string> members;
};

struct TaskView {
  ApprovalState approval;
  Task task;
};

class ApprovalCore {
 public:
  explicit ApprovalCore(Store* store, CoreOptions options = {});

  // ------------------------------------------------------------ workflows
  absl::StatusOr<WorkflowDef> CreateWorkflow(const auth::Principal& p, absl::string_view parent,
                                             absl::string_view workflow_id, WorkflowDef wf,
                                             absl::string_view request_id);
  absl::StatusOr<WorkflowDef> GetWorkflow(const auth::Principal& p, absl::string_view name);
  absl::StatusOr<Listing<WorkflowDef>> ListWorkflows(const auth::Principal& p,
                                                     absl::string_view parent, int page_size,
                                                     absl::string_view page_token);
  absl::StatusOr<WorkflowDef> UpdateWorkflow(const auth::Principal& p, absl::string_view name,
                                             WorkflowDef wf, int64_t expected_revision,
                                             absl::string_view request_id);

  // ---------------------------------------------------------------- roles
  absl::StatusOr<RoleView> SetRoleMembers(const auth::Principal& p, absl::string_view name,
                                          std::vector<std::string> members,
                                          absl::string_view request_id);
  absl::StatusOr<RoleView> ListRoleMembers(const auth::Principal& p, absl::string_view name);
  absl::StatusOr<Listing<RoleView>> ListRoles(const auth::Principal& p, absl::string_view parent,
                                              int page_size, absl::string_view page_token);

  // ------------------------------------------------------------ approvals
  absl::StatusOr<ApprovalState> StartApproval(const auth::Principal& p, const StartRequest& req);
  absl::StatusOr<ApprovalState> Act(const auth::Principal& p, ActionType type,
                                    const ActionRequest& req);
  absl::StatusOr<ApprovalState> GetApproval(const auth::Principal& p, absl::string_view name);
  absl::StatusOr<Listing<ApprovalState>> ListApprovals(const auth::Principal& p,
                                                       const ListFilter& filter);
  absl::StatusOr<Listing<TaskView>> ListMyTasks(const auth::Principal& p, absl::string_view parent,
                                                int page_size, absl::string_view page_token);
  absl::StatusOr<Listing<HistoryRecord>> GetHistory(const auth::Principal& p,
                                                    absl::string_view name, int page_size,
                                                    absl::string_view page_token);
  absl::StatusOr<ChainCheck> VerifyHistory(const auth::Principal& p, absl::string_view name);

  // --------------------------------------------------------------- timers
  // Claims the timers due at `now` (leased, so other replicas skip them)
  // and fires each: the reminder or escalation entry, its event and the
  // timer's removal are one script, which refuses a timer another replica
  // already fired. Returns how many fired here.
  absl::StatusOr<int> FireDueTimers(int64_t now, absl::Duration lease, int limit);

  int64_t NowUnix() const { return absl::ToUnixSeconds(options_.clock()); }

 private:
  struct Committed {
    WriteResult write;
    ApprovalState state;  // After the transition (kOk only).
  };
  absl::StatusOr<Committed> CommitTransition(const ApprovalState* before, Transition& t,
                                             absl::string_view request_id,
                                             absl::string_view fingerprint,
                                             absl::string_view required_timer);
  absl::Status CheckRolesHaveMembers(const WorkflowDef& wf);
  // Who acts: the caller, or the user an allow-listed platform service
  // names (and the service as `via`).
  absl::StatusOr<Actor> ActorFor(const auth::Principal& p, absl::string_view on_behalf_of) const;
  // The action a request asks for, once its version and its actor (and a
  // delegate's right to relay it) are checked.
  absl::StatusOr<Action> ActionFor(const auth::Principal& p, ActionType type,
                                   const ActionRequest& req) const;
  // A Transfer/AddSigner/Reassign target must be someone the org knows: a
  // member of one of its roles or a user this approval's workflow names.
  absl::Status CheckKnownUser(const ApprovalState& s, absl::string_view user);
  // RESOURCE_EXHAUSTED past the flood limits (comments, urgings).
  absl::Status CheckFloodLimits(const ApprovalState& s, const Actor& actor);
  bool MaySeeComments(const auth::Principal& p, const ApprovalState& s) const;

  Store* store_;
  CoreOptions options_;
};

// Runs FireDueTimers every `interval` on its own thread until destroyed.
class TimerLoop {
 public:
  TimerLoop(ApprovalCore* core, absl::Duration interval, absl::Duration lease = absl::Seconds(30),
            int batch = 100);
  ~TimerLoop();
  TimerLoop(const TimerLoop&) = delete;
  TimerLoop& operator=(const TimerLoop&) = delete;

  void Start();
  void Stop();
  int64_t fired() const { return fired_.load(); }

 private:
  void Run();

  ApprovalCore* core_;
  absl::Duration interval_;
  absl::Duration lease_;
  int batch_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> fired_{0};
  std::thread thread_;
};

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_APPROVALS_H_
