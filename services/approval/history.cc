#include "approval/history.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace govreport::approval {
namespace {

void Field(std::string& out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(&out, name, ":", value.size(), ":", value, "\n");
}

}  // namespace

std::string CanonicalEntry(const HistoryRecord& e) {
  std::string out = "govreport.approval.history.v2\n";
  Field(out, "sequence", absl::StrCat(e.sequence));
  Field(out, "time_unix", absl::StrCat(e.time_unix));
  Field(out, "action", e.action);
  Field(out, "actor", e.actor);
  Field(out, "step", e.step);
  Field(out, "comment", e.comment);
  Field(out, "details", absl::StrCat(e.details.size()));
  for (const auto& [k, v] : e.details) {  // std::map: sorted.
    Field(out, "key", k);
    Field(out, "value", v);
  }
  Field(out, "version", absl::StrCat(e.version));
  Field(out, "via", e.via);
  Field(out, "token", e.token);
  Field(out, "state_digest", e.state_digest);
  Field(out, "prev_hash", e.prev_hash);
  return out;
}

std::string EntryHash(const HistoryRecord& e, absl::string_view key) {
  return HmacSha256Hex(key, CanonicalEntry(e));
}

std::string StateDigest(const ApprovalState& s) {
  std::string out = "govreport.approval.state.v1\n";
  Field(out, "org", s.org);
  Field(out, "id", s.id);
  Field(out, "subject", s.subject);
  Field(out, "title", s.title);
  Field(out, "workflow", absl::StrCat(s.workflow_id, "@", s.workflow_revision));
  Field(out, "initiator", s.initiator);
  Field(out, "status", StatusName(s.status));
  Field(out, "current_step", absl::StrCat(s.current_step));
  Field(out, "activation", absl::StrCat(s.activation));
  Field(out, "decisions", absl::StrCat(s.decisions));
  Field(out, "version", absl::StrCat(s.version));
  Field(out, "signer", s.signer);
  Field(out, "sign_off_unix", absl::StrCat(s.sign_off_unix));
  Field(out, "finish_unix", absl::StrCat(s.finish_unix));
  Field(out, "excluded", absl::StrCat(s.excluded.size()));
  for (const std::string& u : s.excluded) Field(out, "user", u);
  Field(out, "steps", absl::StrCat(s.steps.size()));
  for (const StepProgress& p : s.steps) {
    Field(out, "step", p.step.name);
    Field(out, "kind", p.step.kind == StepKind::kSignOff ? "sign_off" : "review");
    Field(out, "mode", p.step.mode == StepMode::kAll ? "all" : "any");
    Field(out, "complete_unix", absl::StrCat(p.complete_unix));
    Field(out, "approvers", absl::StrCat(p.approvers.size()));
    for (const std::string& u : p.approvers) Field(out, "user", u);
  }
  Field(out, "tasks", absl::StrCat(s.tasks.size()));
  for (const Task& t : s.tasks) {
    Field(out, "user", t.user);
    Field(out, "state", absl::StrCat(static_cast<int>(t.state)));
    Field(out, "required", t.required ? "1" : "0");
    Field(out, "added", t.added ? "1" : "0");
    Field(out, "via_role", t.via_role);
    Field(out, "handed_to", t.handed_to);
  }
  return Sha256Hex(out);
}

void Seal(HistoryRecord& e, int64_t sequence, absl::string_view head, absl::string_view key) {
  e.sequence = sequence;
  e.prev_hash = std::string(head);
  e.hash = EntryHash(e, key);
}

ChainCheck VerifyChain(const std::vector<StoredEntry>& entries, int64_t expected_length,
                       absl::string_view expected_head, absl::string_view key,
                       absl::string_view state_digest) {
  ChainCheck c;
  auto fail = [&c](int64_t seq, std::string problem) {
    c.ok = false;
    c.first_bad_sequence = seq;
    c.problem = std::move(problem);
    return c;
  };
  std::string prev;
  for (size_t i = 0; i < entries.size(); ++i) {
    int64_t seq = static_cast<int64_t>(i) + 1;
    const StoredEntry& se = entries[i];
    if (!se.parsed) {
      return fail(seq, absl::StrCat("entry ", seq, " is unreadable"));
    }
    const HistoryRecord& r = se.record;
    if (r.sequence != seq) {
      return fail(seq, absl::StrCat("position ", seq, " holds entry ", r.sequence,
                                    ": an entry was removed or reordered"));
    }
    if (r.prev_hash != prev) {
      return fail(seq, absl::StrCat("entry ", seq,
                                    " does not link to the entry before it: "
                                    "one of them was altered or replaced"));
    }
    if (!ConstantTimeEquals(EntryHash(r, key), r.hash)) {
      return fail(seq, absl::StrCat("entry ", seq, " does not match its hash: it was altered"));
    }
    prev = r.hash;
    c.checked = seq;
    c.head = prev;
  }
  auto n = static_cast<int64_t>(entries.size());
  if (n < expected_length) {
    return fail(n + 1, absl::StrCat("entries ", n + 1, "..", expected_length, " are missing"));
  }
  if (n > expected_length) {
    return fail(expected_length + 1,
                absl::StrCat("entry ", expected_length + 1, " was appended outside the service"));
  }
  if (prev != expected_head) {
    return fail(n, absl::StrCat("entry ", n,
                                " does not match the head hash the approval "
                                "recorded: it was altered"));
  }
  if (n > 0 && entries.back().record.state_digest != state_digest) {
    return fail(n, absl::StrCat("the stored state (status, steps, signer) is not the one entry ", n,
                                " sealed: it was altered outside the service"));
  }
  return c;
}

}  // namespace govreport::approval
