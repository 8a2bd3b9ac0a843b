#include "common/outcome.h"

#include <array>
#include <utility>

namespace govreport {
namespace {

constexpr std::array<std::pair<Outcome, absl::string_view>, 14> kTags = {{
    {Outcome::kOk, "OK"},
    {Outcome::kReplayed, "REPLAYED"},
    {Outcome::kRequestReused, "REQUEST_REUSED"},
    {Outcome::kNotFound, "NOTFOUND"},
    {Outcome::kExists, "EXISTS"},
    {Outcome::kStale, "STALE"},
    {Outcome::kConflict, "CONFLICT"},
    {Outcome::kFinal, "FINAL"},
    {Outcome::kDuplicateExternal, "DUP_EXT"},
    {Outcome::kConflictExternal, "CONFLICT_EXT"},
    {Outcome::kQuota, "QUOTA"},
    {Outcome::kLimit, "LIMIT"},
    {Outcome::kBusy, "BUSY"},
    {Outcome::kGone, "GONE"},
}};

}  // namespace

Outcome ParseOutcome(absl::string_view tag) {
  for (const auto& [outcome, text] : kTags) {
    if (text == tag) return outcome;
  }
  return Outcome::kUnknown;
}

absl::string_view OutcomeTag(Outcome outcome) {
  for (const auto& [o, text] : kTags) {
    if (o == outcome) return text;
  }
  return "UNKNOWN";
}

}  // namespace govreport
