// The keyed hash chain of an approval's history. Each entry's hash is an
// HMAC, under a key only the approval servers hold (derived from the
// deployment secret, never in Redis), over the previous entry's hash, its
// own fields and a digest of the state it led to. So whoever can write
// Redis but lacks the key cannot edit, remove, reorder or append entries,
// nor change the state (signer, decided steps), without VerifyChain
// noticing.
#ifndef GOVREPORT_APPROVAL_HISTORY_H_
#define GOVREPORT_APPROVAL_HISTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "approval/domain.h"

namespace govreport::approval {

// Length-prefixed fields, details sorted by key: the same entry always
// encodes to the same bytes, whatever protobuf does with map order.
std::string CanonicalEntry(const HistoryRecord& entry);
// Lower-case hex HMAC-SHA-256 of CanonicalEntry (which includes prev_hash
// and state_digest) under `key`.
std::string EntryHash(const HistoryRecord& entry, absl::string_view key);

// Lower-case hex SHA-256 of the state fields that matter to an auditor:
// status, steps and who decided them, tasks, signer and sign-off time,
// initiator, subject, excluded approvers, version.
std::string StateDigest(const ApprovalState& state);

// Fills sequence, prev_hash and hash for an entry appended after `head`
// (state_digest must be set already).
void Seal(HistoryRecord& entry, int64_t sequence, absl::string_view head, absl::string_view key);

struct StoredEntry {
  bool parsed = false;  // False when the stored bytes are not an entry.
  HistoryRecord record;
};

struct ChainCheck {
  bool ok = true;
  int64_t checked = 0;
  int64_t first_bad_sequence = 0;
  std::string problem;
  std::string head;
};

// `expected_length` and `expected_head` are what the approval recorded
// when it appended its last entry; `state_digest` is StateDigest of the
// stored state, which the newest entry must have sealed.
ChainCheck VerifyChain(const std::vector<StoredEntry>& entries, int64_t expected_length,
                       absl::string_view expected_head, absl::string_view key,
                       absl::string_view state_digest);

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_HISTORY_H_
