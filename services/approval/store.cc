#include "approval/store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "approval/convert.h"
#include "approval/lua_scripts.h"
#include "common/request_id.h"
#include "common/status.h"
#include "common/streams.h"
#include "common/timestamp.h"

namespace govreport::approval {
namespace {

std::string OrgPrefix(absl::string_view org) { return absl::StrCat("gr:{", org, "}:"); }
std::string RequestKey(absl::string_view org, absl::string_view request_id) {
  return request_id::Key(org, request_id);
}
std::string WorkflowKey(absl::string_view org, absl::string_view id) {
  return absl::StrCat(OrgPrefix(org), "wf:", id);
}
std::string WorkflowIndexKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "wf:ids");
}
std::string RoleKey(absl::string_view org, absl::string_view role) {
  return absl::StrCat(OrgPrefix(org), "role:", role);
}
std::string RoleIndexKey(absl::string_view org) { return absl::StrCat(OrgPrefix(org), "roles"); }
std::string ApprovalIndexKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "apv:idx");
}
std::string ActiveSubjectsKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "apv:active");
}

absl::StatusOr<WriteResult> ParseWriteResult(const redis::Reply& reply) {
  WriteResult r;
  r.outcome = ParseOutcome(reply[0].Str());
  switch (r.outcome) {
    case Outcome::kOk:
    case Outcome::kRequestReused:
    case Outcome::kStale:
    case Outcome::kExists:
    case Outcome::kGone:
      return r;
    case Outcome::kConflict:
      r.current = reply[1].AsString();
      return r;
    case Outcome::kReplayed:
    case Outcome::kBusy:
    case Outcome::kFinal:
      r.result = reply[1].AsString();
      return r;
    default:
      return absl::InternalError(
          absl::StrCat("approval store: unexpected script reply '", reply[0].Str(), "'"));
  }
}

absl::StatusOr<ApprovalState> ParseApproval(redis::ReplyView version, redis::ReplyView data,
                                            redis::ReplyView hist_len, redis::ReplyView head) {
  pb::Approval proto;
  if (!proto.ParseFromArray(data.Str().data(), static_cast<int>(data.Str().size()))) {
    return absl::DataLossError("stored approval is unreadable");
  }
  auto state = FromProto(proto);
  if (!state.ok()) return state.status();
  auto v = version.AsInt();
  auto n = hist_len.AsInt();
  if (!v.ok() || !n.ok()) return absl::DataLossError("stored approval is unreadable");
  state->version = *v;
  state->history_length = *n;
  state->history_head = head.AsString();
  return state;
}

// The stored state leaves out what changes without a version bump.
std::string StateBlob(const ApprovalState& s) {
  pb::Approval p = ToProto(s);
  p.clear_history_length();
  p.clear_history_head();
  return p.SerializeAsString();
}

// The org-log event of a transition (IsTransitionEvent), at the time of
// its history entry; kind '' when the entry is none.
events::Encoded TransitionEvent(const Transition& t, absl::string_view request_id) {
  const ApprovalState& s = t.next;
  const HistoryRecord& e = t.entry;
  if (!IsTransitionEvent(e.action)) return {};
  events::v1::Event event;
  event.set_kind(events::v1::EVENT_KIND_APPROVAL_TRANSITION);
  event.set_org(absl::StrCat("orgs/", s.org));
  *event.mutable_time() = ToTimestamp(e.time_unix);
  event.set_actor(e.actor);
  event.set_request_id(std::string(request_id));
  events::v1::ApprovalTransition* at = event.mutable_approval_transition();
  at->set_approval(ApprovalResourceName(s.org, s.id));
  at->set_subject(s.subject);
  at->set_action(e.action);
  at->set_step(e.step);
  at->set_state(ToProto(s.status));
  at->set_history_sequence(e.sequence);
  return events::Encode(std::move(event), absl::FromUnixSeconds(e.time_unix));
}

}  // namespace

Store::Store(redis::Client* redis, absl::Duration request_ttl, absl::Duration event_retention)
    : redis_(redis),
      request_ttl_seconds_(std::max<int64_t>(1, absl::ToInt64Seconds(request_ttl))),
      event_retention_(event_retention) {}

std::string Store::EventStreamKey(absl::string_view org) {
  return streams::OrgStreamKey(kEventStream, org);
}
std::string Store::TimersKey(absl::string_view org) {
  return streams::OrgStreamKey(kTimersKey, org);
}

std::string Store::ApprovalKey(absl::string_view org, absl::string_view id) {
  return absl::StrCat(OrgPrefix(org), "apv:", id);
}
std::string Store::HistoryKey(absl::string_view org, absl::string_view id) {
  return absl::StrCat(OrgPrefix(org), "apv:", id, ":hist");
}
std::string Store::InboxKey(absl::string_view org, absl::string_view user) {
  return absl::StrCat(OrgPrefix(org), "inbox:", user);
}

absl::StatusOr<std::optional<request_id::Prior>> Store::ReadRequest(absl::string_view org,
                                                                    absl::string_view request_id) {
  return request_id::ReadPrior(*redis_, org, request_id);
}

// ------------------------------------------------------------- workflows

absl::StatusOr<std::optional<WorkflowDef>> Store::ReadWorkflow(absl::string_view org,
                                                               absl::string_view id,
                                                               int64_t revision) {
  std::string field = revision > 0 ? absl::StrCat("r", revision) : "cur";
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", WorkflowKey(org, id), field}));
  if (r.IsNil()) return std::nullopt;
  pb::Workflow proto;
  if (!proto.ParseFromArray(r.Str().data(), static_cast<int>(r.Str().size()))) {
    return absl::DataLossError(absl::StrCat("stored workflow ", id, " is unreadable"));
  }
  return FromProto(proto);
}

absl::StatusOr<WriteResult> Store::WriteWorkflow(const WorkflowDef& wf, int64_t read_revision,
                                                 absl::string_view request_id,
                                                 absl::string_view fingerprint) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(
          WorkflowScript(),
          {WorkflowKey(wf.org, wf.id), WorkflowIndexKey(wf.org), RequestKey(wf.org, request_id)},
          {request_id.empty() ? "" : std::string(fingerprint), absl::StrCat(read_revision),
           absl::StrCat(wf.revision), ToProto(wf).SerializeAsString(),
           absl::StrCat(request_ttl_seconds_), wf.id}));
  return ParseWriteResult(r);
}

absl::StatusOr<std::vector<WorkflowDef>> Store::ListWorkflows(absl::string_view org,
                                                              absl::string_view after, int limit) {
  std::string start = after.empty() ? "-" : absl::StrCat("(", after);
  GR_ASSIGN_OR_RETURN(redis::Reply ids,
                      redis_->Command({"ZRANGEBYLEX", WorkflowIndexKey(org), start, "+", "LIMIT",
                                       "0", absl::StrCat(limit)}));
  std::vector<redis::Args> cmds;
  for (size_t i = 0; i < ids.Size(); ++i) {
    cmds.push_back({"HGET", WorkflowKey(org, ids[i].Str()), "cur"});
  }
  std::vector<WorkflowDef> out;
  if (cmds.empty()) return out;
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> blobs, redis_->Pipeline(cmds));
  for (const redis::Reply& b : blobs) {
    GR_RETURN_IF_ERROR(b.ErrorStatus());
    pb::Workflow proto;
    if (b.IsNil() || !proto.ParseFromArray(b.Str().data(), static_cast<int>(b.Str().size()))) {
      continue;
    }
    out.push_back(FromProto(proto));
  }
  return out;
}

// ----------------------------------------------------------------- roles

absl::StatusOr<RoleDirectory> Store::ReadRoles(absl::string_view org,
                                               const std::vector<std::string>& roles) {
  RoleDirectory dir;
  if (roles.empty()) return dir;
  std::vector<redis::Args> cmds;
  cmds.reserve(roles.size());
  for (const auto& r : roles) cmds.push_back({"SMEMBERS", RoleKey(org, r)});
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (size_t i = 0; i < roles.size(); ++i) {
    GR_RETURN_IF_ERROR(replies[i].ErrorStatus());
    std::vector<std::string> members;
    for (size_t j = 0; j < replies[i].Size(); ++j) {
      members.push_back(replies[i][j].AsString());
    }
    // Sorted, so that assignment order does not depend on set iteration.
    std::sort(members.begin(), members.end());
    dir[roles[i]] = std::move(members);
  }
  return dir;
}

absl::StatusOr<WriteResult> Store::SetRole(absl::string_view org, absl::string_view role,
                                           const std::vector<std::string>& members,
                                           absl::string_view request_id,
                                           absl::string_view fingerprint,
                                           absl::string_view result) {
  redis::Args args{request_id.empty() ? "" : std::string(fingerprint),
                   absl::StrCat(request_ttl_seconds_), std::string(role), std::string(result)};
  args.insert(args.end(), members.begin(), members.end());
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(RoleScript(),
                   {RoleKey(org, role), RoleIndexKey(org), RequestKey(org, request_id)}, args));
  return ParseWriteResult(r);
}

absl::StatusOr<std::vector<std::string>> Store::ListRoleNames(absl::string_view org,
                                                              absl::string_view after, int limit) {
  std::string start = after.empty() ? "-" : absl::StrCat("(", after);
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"ZRANGEBYLEX", RoleIndexKey(org), start, "+",
                                                       "LIMIT", "0", absl::StrCat(limit)}));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.Size(); ++i) out.push_back(r[i].AsString());
  return out;
}

absl::StatusOr<bool> Store::IsRoleMember(absl::string_view org, absl::string_view user) {
  // Roles per org are few (an org chart, not a user directory).
  constexpr int kMaxRoles = 1000;
  GR_ASSIGN_OR_RETURN(std::vector<std::string> roles, ListRoleNames(org, "", kMaxRoles));
  if (roles.empty()) return false;
  std::vector<redis::Args> cmds;
  cmds.reserve(roles.size());
  for (const auto& r : roles) cmds.push_back({"SISMEMBER", RoleKey(org, r), std::string(user)});
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    if (r.Int() == 1) return true;
  }
  return false;
}

absl::StatusOr<int64_t> Store::CountInMinute(absl::string_view org, absl::string_view what,
                                             absl::string_view user, int64_t minute) {
  std::string key = absl::StrCat(OrgPrefix(org), "rate:", what, ":", minute, ":", user);
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                      redis_->Pipeline({{"INCR", key}, {"EXPIRE", key, "120"}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  return replies[0].Int();
}

// ------------------------------------------------------------- approvals

absl::StatusOr<LoadedApproval> Store::LoadApproval(absl::string_view org, absl::string_view id,
                                                   absl::string_view request_id) {
  std::vector<redis::Args> cmds = {{"HMGET", ApprovalKey(org, id), "v", "data", "hn", "hh"}};
  if (!request_id.empty()) cmds.push_back(request_id::ReadPriorCommand(org, request_id));
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  LoadedApproval out;
  if (replies.size() > 1) out.prior = request_id::PriorFromReply(replies[1]);
  const redis::Reply& a = replies[0];
  if (!a[0].IsNil()) {
    GR_ASSIGN_OR_RETURN(ApprovalState s, ParseApproval(a[0], a[1], a[2], a[3]));
    out.state = std::move(s);
  }
  return out;
}

absl::StatusOr<std::vector<ApprovalState>> Store::LoadApprovals(
    absl::string_view org, const std::vector<std::string>& ids) {
  std::vector<ApprovalState> out;
  if (ids.empty()) return out;
  std::vector<redis::Args> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) {
    cmds.push_back({"HMGET", ApprovalKey(org, id), "v", "data", "hn", "hh"});
  }
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (const redis::Reply& a : replies) {
    GR_RETURN_IF_ERROR(a.ErrorStatus());
    if (a[0].IsNil()) continue;
    GR_ASSIGN_OR_RETURN(ApprovalState s, ParseApproval(a[0], a[1], a[2], a[3]));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<WriteResult> Store::Commit(const CommitInput& in) {
  const Transition& t = *in.transition;
  const ApprovalState& next = t.next;
  const ApprovalState* before = in.before;
  const std::string& org = next.org;

  InboxChange inbox = InboxDiff(before, next);
  TimerChange timers = TimerDiff(before, next);
  std::string subject_op;
  if (before == nullptr) {
    subject_op = "set";
  } else if (!before->finished() && next.finished()) {
    subject_op = next.status == ApprovalStatus::kApproved ? "approved" : "clear";
  }

  // The indexes first: a commit whose index write failed is not made, and
  // one that fails after it leaves an org with nothing new to read.
  std::vector<redis::Args> index = {streams::IndexOrgCommand(kEventStream, org)};
  if (!timers.add.empty()) index.push_back(streams::IndexOrgCommand(kTimersKey, org));
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> indexed, redis_->Pipeline(index));
  for (const auto& r : indexed) GR_RETURN_IF_ERROR(r.ErrorStatus());

  redis::Args keys = {
      ApprovalKey(org, next.id), HistoryKey(org, next.id), RequestKey(org, in.request_id),
      EventStreamKey(org),       TimersKey(org),           ApprovalIndexKey(org),
      ActiveSubjectsKey(org),    events::StreamKey(org)};
  for (const auto& u : inbox.add) keys.push_back(InboxKey(org, u));
  for (const auto& u : inbox.remove) keys.push_back(InboxKey(org, u));

  EventFields event = FullEventFields(t);
  events::Encoded org_event = TransitionEvent(t, in.request_id);
  redis::Args args = {
      before ? absl::StrCat(before->version) : "0", before ? before->history_head : "",
      t.state_changed ? absl::StrCat(next.version) : "", t.state_changed ? StateBlob(next) : "",
      ToProto(t.entry).SerializeAsString(), t.entry.hash,
      in.request_id.empty() ? "" : in.fingerprint, in.result, absl::StrCat(request_ttl_seconds_),
      in.required_timer, next.id, subject_op, next.subject, absl::StrCat(inbox.add.size()),
      absl::StrCat(inbox.remove.size()), absl::StrCat(timers.add.size()),
      absl::StrCat(timers.remove.size()), absl::StrCat(event.size() * 2),
      // Redis's clock gives entry ids: trim by the real time.
      events::MinId(absl::Now(), event_retention_), std::move(org_event.kind),
      std::move(org_event.payload)};
  for (const auto& [member, due] : timers.add) {
    args.push_back(absl::StrCat(due));
    args.push_back(member);
  }
  for (const auto& member : timers.remove) args.push_back(member);
  for (const auto& [k, v] : event) {
    args.push_back(k);
    args.push_back(v);
  }
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Eval(CommitScript(), keys, args));
  return ParseWriteResult(r);
}

absl::StatusOr<std::vector<std::string>> Store::ListApprovalIds(absl::string_view org,
                                                                absl::string_view before,
                                                                int limit) {
  std::string start = before.empty() ? "+" : absl::StrCat("(", before);
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"ZREVRANGEBYLEX", ApprovalIndexKey(org), start, "-", "LIMIT",
                                       "0", absl::StrCat(limit)}));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.Size(); ++i) out.push_back(r[i].AsString());
  return out;
}

absl::StatusOr<std::vector<std::string>> Store::ListInbox(absl::string_view org,
                                                          absl::string_view user,
                                                          absl::string_view after, int limit) {
  std::string start = after.empty() ? "-" : absl::StrCat("(", after);
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"ZRANGEBYLEX", InboxKey(org, user), start,
                                                       "+", "LIMIT", "0", absl::StrCat(limit)}));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.Size(); ++i) out.push_back(r[i].AsString());
  return out;
}

absl::StatusOr<std::vector<StoredEntry>> Store::ReadHistory(absl::string_view org,
                                                            absl::string_view id, int64_t offset,
                                                            int64_t limit) {
  int64_t stop = limit < 0 ? -1 : offset + limit - 1;
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"LRANGE", HistoryKey(org, id),
                                                       absl::StrCat(offset), absl::StrCat(stop)}));
  std::vector<StoredEntry> out;
  out.reserve(r.Size());
  for (size_t i = 0; i < r.Size(); ++i) {
    StoredEntry e;
    pb::HistoryEntry proto;
    absl::string_view raw = r[i].Str();
    if (proto.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      e.parsed = true;
      e.record = FromProto(proto);
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<Store::HistorySnapshot> Store::ReadFullHistory(absl::string_view org,
                                                              absl::string_view id) {
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                      redis_->Pipeline({{"MULTI"},
                                        {"HMGET", ApprovalKey(org, id), "v", "hn", "hh", "data"},
                                        {"LRANGE", HistoryKey(org, id), "0", "-1"},
                                        {"EXEC"}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  const redis::Reply& exec = replies.back();
  if (exec.Size() != 2) {
    return absl::UnavailableError("approval store: history read was aborted");
  }
  HistorySnapshot snap;
  redis::ReplyView meta = exec[0];
  if (meta[0].IsNil()) return snap;
  snap.found = true;
  GR_ASSIGN_OR_RETURN(snap.length, meta[1].AsInt());
  snap.head = meta[2].AsString();
  // An unreadable state is tampering too: VerifyChain then finds no match.
  auto state = ParseApproval(meta[0], meta[3], meta[1], meta[2]);
  if (state.ok()) snap.state = std::move(*state);
  redis::ReplyView list = exec[1];
  snap.entries.reserve(list.Size());
  for (size_t i = 0; i < list.Size(); ++i) {
    StoredEntry e;
    pb::HistoryEntry proto;
    absl::string_view raw = list[i].Str();
    if (proto.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
      e.parsed = true;
      e.record = FromProto(proto);
    }
    snap.entries.push_back(std::move(e));
  }
  return snap;
}

// ---------------------------------------------------------------- timers

namespace {

// The org of a timer member ("{org}|{id}|..."); empty when it has none.
absl::string_view TimerOrg(absl::string_view member) {
  size_t bar = member.find('|');
  return bar == absl::string_view::npos ? absl::string_view() : member.substr(0, bar);
}

}  // namespace

absl::StatusOr<int64_t> Store::MigrateLegacyTimers(int limit) {
  GR_ASSIGN_OR_RETURN(redis::Reply legacy,
                      redis_->Command({"ZRANGE", std::string(kTimersKey), "0",
                                       absl::StrCat(std::max(1, limit) - 1), "WITHSCORES"}));
  if (legacy.Size() == 0) return 0;
  // Copy first (NX: a copy already made and leased keeps its lease), then
  // remove: a move cut short is repeated by the next round.
  std::vector<redis::Args> copy;
  redis::Args remove = {"ZREM", std::string(kTimersKey)};
  for (size_t i = 0; i + 1 < legacy.Size(); i += 2) {
    std::string member = legacy[i].AsString();
    absl::string_view org = TimerOrg(member);
    if (!org.empty()) {
      copy.push_back(streams::IndexOrgCommand(kTimersKey, org));
      copy.push_back({"ZADD", TimersKey(org), "NX", legacy[i + 1].AsString(), member});
    }
    remove.push_back(std::move(member));  // Without an org it could never fire.
  }
  if (!copy.empty()) {
    GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> copied, redis_->Pipeline(copy));
    for (const auto& r : copied) GR_RETURN_IF_ERROR(r.ErrorStatus());
  }
  GR_ASSIGN_OR_RETURN(redis::Reply removed, redis_->Command(remove));
  return removed.AsInt();
}

absl::StatusOr<std::vector<std::string>> Store::ClaimDueTimers(int64_t now, absl::Duration lease,
                                                               int limit) {
  GR_RETURN_IF_ERROR(MigrateLegacyTimers(limit).status());
  GR_ASSIGN_OR_RETURN(std::vector<std::string> orgs, streams::IndexedOrgs(*redis_, kTimersKey));
  std::vector<std::string> out;
  if (orgs.empty()) return out;
  // One claim per org, in its slot, pipelined: one round trip per node.
  const redis::Args args = {absl::StrCat(now),
                            absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(lease))),
                            absl::StrCat(limit)};
  std::vector<redis::ScriptCall> calls;
  calls.reserve(orgs.size());
  for (const auto& org : orgs) calls.push_back({{TimersKey(org)}, args});
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies,
                      redis_->EvalPipeline(ClaimScript(), calls));
  for (const redis::Reply& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    for (size_t i = 0; i < r.Size(); ++i) out.push_back(r[i].AsString());
  }
  return out;
}

absl::StatusOr<int64_t> Store::CountDueTimers(int64_t now) {
  GR_ASSIGN_OR_RETURN(std::vector<std::string> orgs, streams::IndexedOrgs(*redis_, kTimersKey));
  std::vector<redis::Args> cmds = {{"ZCOUNT", std::string(kTimersKey), "-inf", absl::StrCat(now)}};
  for (const auto& org : orgs)
    cmds.push_back({"ZCOUNT", TimersKey(org), "-inf", absl::StrCat(now)});
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> counts, redis_->Pipeline(cmds));
  int64_t due = 0;
  for (const auto& r : counts) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    due += r.AsInt().value_or(0);
  }
  return due;
}

absl::Status Store::DropTimer(absl::string_view member) {
  absl::string_view org = TimerOrg(member);
  std::string key = org.empty() ? std::string(kTimersKey) : TimersKey(org);
  return redis_->Command({"ZREM", key, std::string(member)}).status();
}

}  // namespace govreport::approval
