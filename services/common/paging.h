// Keyset pages over a Redis sorted set ordered by (score, member): the
// cursor is the last entry read, never an offset, so entries added or
// removed meanwhile do not shift the ones not yet read. For sets whose
// entries keep their score while in the set (creation times, sequences).
// Page tokens themselves (MAC'd, bound to their list) are in resource.h.
#ifndef GOVREPORT_COMMON_PAGING_H_
#define GOVREPORT_COMMON_PAGING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis.h"

namespace govreport::paging {

// One entry of a sorted set. Scores are integers below 2^53 (times in
// seconds or ms, sequences), exact in the double Redis keeps.
struct ZEntry {
  int64_t score = 0;
  std::string member;
};

// "score:member", the cursor text that goes into a page token.
std::string EncodeZCursor(const ZEntry& last);
// INVALID_ARGUMENT "page_token: ..." for any other text.
absl::StatusOr<ZEntry> ParseZCursor(absl::string_view cursor);

// The first `count` entries after `after` (from the start without it), by
// (score, member) ascending, or descending when `descending`. Two commands
// in one pipeline: the rest of the cursor's score (ties, ordered by member),
// then the scores past it.
absl::StatusOr<std::vector<ZEntry>> ZPageAfter(redis::Client& redis, const std::string& key,
                                               const std::optional<ZEntry>& after, int count,
                                               bool descending);

}  // namespace govreport::paging

#endif  // GOVREPORT_COMMON_PAGING_H_
