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
  std::string out = "govreport.approval.history.v1\n";
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
  Field(out, "prev_hash", e.prev_hash);
  return out;
}

std::string EntryHash(const HistoryRecord& e) { return Sha256Hex(CanonicalEntry(e)); }

void Seal(HistoryRecord& e, int64_t sequence, absl::string_view head) {
  e.sequence = sequence;
  e.prev_hash = std::string(head);
  e.hash = EntryHash(e);
}

ChainCheck VerifyChain(const std::vector<StoredEntry>& entries, int64_t expected_length,
                       absl::string_view expected_head) {
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
    if (EntryHash(r) != r.hash) {
      return fail(seq, absl::StrCat("entry ", seq, " does not match its hash: it was altered"));
    }
    prev = r.hash;
    c.checked = seq;
    c.head = prev;
  }
  int64_t n = static_cast<int64_t>(entries.size());
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
  return c;
}

}  // namespace govreport::approval
