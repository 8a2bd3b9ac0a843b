// The hash chain of an approval's history. Each entry's hash covers the
// previous entry's hash and its own fields in a canonical encoding, so
// editing, removing, reordering or appending entries behind the service's
// back breaks the chain at the first affected entry.
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
// Lower-case hex SHA-256 of CanonicalEntry (which includes prev_hash).
std::string EntryHash(const HistoryRecord& entry);

// Fills sequence, prev_hash and hash for an entry appended after `head`.
void Seal(HistoryRecord& entry, int64_t sequence, absl::string_view head);

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
// when it appended its last entry.
ChainCheck VerifyChain(const std::vector<StoredEntry>& entries, int64_t expected_length,
                       absl::string_view expected_head);

}  // namespace govreport::approval

#endif  // GOVREPORT_APPROVAL_HISTORY_H_
