#include "common/events.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/timestamp.h"

namespace govreport::events {

std::string StreamKey(absl::string_view org) { return absl::StrCat("gr:{", org, "}:events"); }

std::string MinId(absl::Time now, absl::Duration retention) {
  int64_t floor_ms = absl::ToUnixMillis(now - retention);
  return absl::StrCat(floor_ms < 0 ? 0 : floor_ms);
}

void DefineEventFlags(Flags& flags) {
  flags.Define("event-retention-s", absl::StrCat(absl::ToInt64Seconds(kDefaultRetention)),
               "How long each org's events are kept for StreamEvents subscribers");
}

absl::StatusOr<absl::Duration> RetentionFromFlags(const Flags& flags) {
  absl::StatusOr<int64_t> seconds = flags.GetInt("event-retention-s");
  if (!seconds.ok()) return seconds.status();
  if (*seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--event-retention-s must be > 0 seconds, got ", *seconds));
  }
  return absl::Seconds(*seconds);
}

Encoded Encode(v1::Event event, absl::Time now) {
  event.clear_cursor();
  if (!event.has_time()) *event.mutable_time() = ToTimestamp(now);
  Encoded out;
  out.kind = absl::StrCat(static_cast<int>(event.kind()));
  event.SerializeToString(&out.payload);
  return out;
}

// MINID ~ lets Redis drop whole macro nodes only, which is cheap; an entry
// may outlive the retention by a node's worth of entries.
const char kLuaPrelude[] = R"lua(
local function event_append(key, min_id, kind, payload)
  return redis.call('XADD', key, 'MINID', '~', min_id, '*', 'k', kind, 'e', payload)
end
)lua";

std::string Cursor::ToString() const { return absl::StrCat(ms, "-", seq); }

absl::StatusOr<Cursor> ParseCursor(absl::string_view text) {
  size_t dash = text.find('-');
  auto digits = [](absl::string_view part) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  };
  Cursor c;
  if (dash == absl::string_view::npos || !digits(text.substr(0, dash)) ||
      !digits(text.substr(dash + 1)) || !absl::SimpleAtoi(text.substr(0, dash), &c.ms) ||
      !absl::SimpleAtoi(text.substr(dash + 1), &c.seq)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an event cursor (the cursor of an event or heartbeat)"));
  }
  return c;
}

}  // namespace govreport::events
