// Redis persistence of the approval service. Every write is one Lua script,
// so a reader never sees half of a transition, and each script first looks
// up the request_id (a repeat returns the first result) and then the
// revision / version the caller computed from (a lost race changes nothing).
//
// Keys (the org in a hash tag so one script can touch all of an org's keys):
//   gr:{org}:wf:{id}            hash  rev, cur, r{n} -> Workflow (proto)
//   gr:{org}:wf:ids             zset  workflow ids (lex order)
//   gr:{org}:role:{role}        set   member user ids
//   gr:{org}:roles              zset  role names (lex order)
//   gr:{org}:apv:{id}           hash  v (version), data (Approval proto
//                                     without history fields), hn, hh
//                                     (history length and head hash)
//   gr:{org}:apv:{id}:hist      list  HistoryEntry protos, oldest first
//   gr:{org}:apv:idx            zset  approval ids (lex = creation order)
//   gr:{org}:apv:active         hash  subject -> id of its running approval
//   gr:{org}:inbox:{user}       zset  ids of approvals with a pending task
//   gr:{org}:apv:req:{rid}      hash  fp (call fingerprint), result; TTL
//   gr:{org}:events             stream the org's event log (common/events.h):
//                                     an APPROVAL_TRANSITION per transition
//                                     (IsTransitionEvent), in its commit
//   gr:{org}:ev:approval        stream of the org's transition events (the
//                                     assembler's consumer group reads it)
//   gr:{org}:timers:approval    zset  "{org}|{id}|{activation}|{kind}" by
//                                     due unix second
// Indexes (common/streams.h), so that readers find the orgs; each is one
// key written on its own before the commit, never from a script:
//   gr:ev:approval:orgs         set   orgs with an event stream
//   gr:timers:approval:orgs     set   orgs that have had timers
// Before per-org keys (read and drained, never written):
//   gr:ev:approval              stream of every org's transition events
//   gr:timers:approval          zset  every org's timers; each claim round
//                                     moves them into the orgs' own sets
#ifndef GOVREPORT_APPROVAL_STORE_H_
#define GOVREPORT_APPROVAL_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/domain.h"
#include "approval/history.h"
#include "approval/state_machine.h"
#include "common/events.h"
#include "common/outcome.h"
#include "common/redis.h"
#include "common/request_id.h"

namespace govreport::approval {

inline constexpr absl::string_view kEventStream = "gr:ev:approval";
inline constexpr absl::string_view kTimersKey = "gr:timers:approval";

struct Page {
  std::vector<std::string> items;
  std::string next_token;
};

// What a write script answered (common/outcome.h): kOk; kReplayed (the
// request_id was seen, `result` is the first result); kRequestReused (seen
// with another call); kConflict (the revision or version moved since it was
// read, `current` is the stored one); kStale (the history head moved);
// kExists (created twice); kGone (the timer was fired by another replica);
// kBusy (the subject has a running approval, `result`); kFinal (the subject
// was approved already, `result`: by which).
struct WriteResult {
  Outcome outcome = Outcome::kOk;
  std::string result{};
  std::string current{};
};

struct LoadedApproval {
  std::optional<ApprovalState> state;      // nullopt: not found.
  std::optional<request_id::Prior> prior;  // Set when the request_id was seen.
};

// What one approval transition writes.
struct CommitInput {
  const ApprovalState* before = nullptr;   // Null when it creates the approval.
  const Transition* transition = nullptr;  // Entry sealed.
  std::string request_id;
  std::string fingerprint;
  std::string result;  // Stored for repeats of request_id.
  // For timer firings: the member that must still be pending.
  std::string required_timer;
};

class Store {
 public:
  // `event_retention`: how long the org's event log keeps events
  // (--event-retention-s); each append trims what is older.
  explicit Store(redis::Client* redis, absl::Duration request_retention = request_id::kRetention,
                 absl::Duration event_retention = events::kDefaultRetention);

  redis::Client* redis() { return redis_; }

  // ------------------------------------------------------------ requests
  absl::StatusOr<std::optional<request_id::Prior>> ReadRequest(absl::string_view org,
                                                               absl::string_view request_id);

  // ----------------------------------------------------------- workflows
  // revision 0: the current one. nullopt when there is none.
  absl::StatusOr<std::optional<WorkflowDef>> ReadWorkflow(absl::string_view org,
                                                          absl::string_view id,
                                                          int64_t revision = 0);
  // read_revision 0: create (kExists when it exists).
  absl::StatusOr<WriteResult> WriteWorkflow(const WorkflowDef& wf, int64_t read_revision,
                                            absl::string_view request_id,
                                            absl::string_view fingerprint);
  // Ids after `after` (exclusive), at most `limit`.
  absl::StatusOr<std::vector<WorkflowDef>> ListWorkflows(absl::string_view org,
                                                         absl::string_view after, int limit);

  // --------------------------------------------------------------- roles
  absl::StatusOr<RoleDirectory> ReadRoles(absl::string_view org,
                                          const std::vector<std::string>& roles);
  absl::StatusOr<WriteResult> SetRole(absl::string_view org, absl::string_view role,
                                      const std::vector<std::string>& members,
                                      absl::string_view request_id, absl::string_view fingerprint,
                                      absl::string_view result);
  // Role names after `after`, at most `limit`.
  absl::StatusOr<std::vector<std::string>> ListRoleNames(absl::string_view org,
                                                         absl::string_view after, int limit);
  // Whether `user` is a member of any role of the org.
  absl::StatusOr<bool> IsRoleMember(absl::string_view org, absl::string_view user);

  // Counts one more `what` by `user` in the given minute and returns the
  // count so far (the counter expires after two minutes).
  absl::StatusOr<int64_t> CountInMinute(absl::string_view org, absl::string_view what,
                                        absl::string_view user, int64_t minute);

  // ----------------------------------------------------------- approvals
  absl::StatusOr<LoadedApproval> LoadApproval(absl::string_view org, absl::string_view id,
                                              absl::string_view request_id);
  // Many at once (missing ones are skipped).
  absl::StatusOr<std::vector<ApprovalState>> LoadApprovals(absl::string_view org,
                                                           const std::vector<std::string>& ids);
  absl::StatusOr<WriteResult> Commit(const CommitInput& in);

  // Ids before `before` (exclusive; "" = newest), newest first.
  absl::StatusOr<std::vector<std::string>> ListApprovalIds(absl::string_view org,
                                                           absl::string_view before, int limit);
  // Inbox ids after `after` (exclusive), oldest first.
  absl::StatusOr<std::vector<std::string>> ListInbox(absl::string_view org, absl::string_view user,
                                                     absl::string_view after, int limit);
  // Entries [offset, offset + limit); limit < 0: to the end.
  absl::StatusOr<std::vector<StoredEntry>> ReadHistory(absl::string_view org, absl::string_view id,
                                                       int64_t offset, int64_t limit);

  struct HistorySnapshot {
    bool found = false;
    int64_t length = 0;  // As the approval recorded it.
    std::string head;
    std::vector<StoredEntry> entries;
    // The stored state read in the same MULTI; unset when unreadable.
    std::optional<ApprovalState> state;
  };
  // The recorded length and head together with every entry, read in one
  // MULTI so a concurrent append cannot look like tampering.
  absl::StatusOr<HistorySnapshot> ReadFullHistory(absl::string_view org, absl::string_view id);

  // -------------------------------------------------------------- timers
  // Timers whose second has come and that no replica holds (a claimed
  // timer's score is moved past its lease): govreport_timers_due.
  absl::StatusOr<int64_t> CountDueTimers(int64_t now);
  // Due timers (score <= now), leased to the caller until now + lease so
  // other replicas skip them; a replica that dies leaves them to be claimed
  // again when the lease ends.
  absl::StatusOr<std::vector<std::string>> ClaimDueTimers(int64_t now, absl::Duration lease,
                                                          int limit);
  absl::Status DropTimer(absl::string_view member);

  // Moves timers of the legacy global set into their orgs' sets (an
  // upgrade from the global layout); at most `limit` per call. Returns
  // how many were moved.
  absl::StatusOr<int64_t> MigrateLegacyTimers(int limit);

  // Key helpers (tests poke at Redis directly).
  static std::string EventStreamKey(absl::string_view org);
  static std::string TimersKey(absl::string_view org);
  static std::string ApprovalKey(absl::string_view org, absl::string_view id);
  static std::string HistoryKey(absl::string_view org, absl::string_view id);
  static std::string InboxKey(absl::string_view org, absl::string_view user);

 private:
  redis::Client* redis_;
  int64_t request_ttl_seconds_;
  absl::Duration event_retention_;
};

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_STORE_H_
