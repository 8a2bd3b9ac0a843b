// What a write script answered, one vocabulary for every service's Lua:
// each script returns {TAG, details...} with TAG one of the strings below.
#ifndef GOVREPORT_COMMON_OUTCOME_H_
#define GOVREPORT_COMMON_OUTCOME_H_

#include "absl/strings/string_view.h"

namespace govreport {

enum class Outcome {
  kOk,                 // OK: written.
  kReplayed,           // REPLAYED, result: a repeat of a remembered call.
  kRequestReused,      // REQUEST_REUSED: the request_id names another call.
  kNotFound,           // NOTFOUND: the target does not exist.
  kExists,             // EXISTS: a create found its target already there.
  kStale,              // STALE, current revision: expected another one.
  kConflict,           // CONFLICT, detail: the change contradicts the stored state.
  kFinal,              // FINAL: the target can no longer change (voided, approved...).
  kDuplicateExternal,  // DUP_EXT, id: the same external record, already stored.
  kConflictExternal,   // CONFLICT_EXT, id: the same external id with other content.
  kQuota,              // QUOTA, which, limit, used: a daily allowance is used up.
  kLimit,              // LIMIT, details: another cap was reached.
  kBusy,               // BUSY, holder: someone else holds the target.
  kGone,               // GONE: what the call refers to has gone meanwhile.
  kUnknown,            // Anything else: a script and its caller disagree.
};

Outcome ParseOutcome(absl::string_view tag);
absl::string_view OutcomeTag(Outcome outcome);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_OUTCOME_H_
