// The org's event log: an outbox every service appends to in the same Lua
// step as the change it reports, so that no event exists without its
// change and no change without its event (docs/events.md).
//
// One Redis stream per org, `gr:{org}:events`, in the org's hash slot (a
// script touching the org's keys may touch it, also under Redis Cluster).
// Each entry has two fields: `k`, the EventKind number (a reader filters
// without parsing), and `e`, the serialized govreport.events.v1.Event with
// its cursor empty: the cursor is the entry id Redis assigns. Every append
// trims, approximately, what is older than the retention (XADD MINID ~),
// so the log needs no sweeper.
#ifndef GOVREPORT_COMMON_EVENTS_H_
#define GOVREPORT_COMMON_EVENTS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "govreport/events/v1/events.pb.h"

namespace govreport {
class Flags;
}

namespace govreport::events {

inline constexpr absl::Duration kDefaultRetention = absl::Hours(24 * 7);
inline constexpr absl::string_view kKindField = "k";
inline constexpr absl::string_view kEventField = "e";

std::string StreamKey(absl::string_view org);

// The XADD MINID threshold for `retention` at `now`: entries with a smaller
// id (older milliseconds) may go.
std::string MinId(absl::Time now, absl::Duration retention);

// --event-retention-s, for every binary that writes or reads events.
void DefineEventFlags(Flags& flags);
// INVALID_ARGUMENT unless a whole number of seconds > 0.
absl::StatusOr<absl::Duration> RetentionFromFlags(const Flags& flags);

// One event ready for a script: its kind as the `k` field and the
// serialized event (cursor cleared) as `e`. `time` is set to `now` when the
// caller left it empty.
struct Encoded {
  std::string kind;
  std::string payload;
};
Encoded Encode(v1::Event event, absl::Time now);

// Lua, prepended to a script that appends events. Defines
//   event_append(key, min_id, kind, payload) -> entry id
// which XADDs one entry and trims by MINID ~.
extern const char kLuaPrelude[];

// ---- Readers

// A cursor: the stream entry id "ms-seq" of an event. Ordered as Redis
// orders entry ids.
struct Cursor {
  uint64_t ms = 0;
  uint64_t seq = 0;
  std::string ToString() const;
  friend bool operator<(const Cursor& a, const Cursor& b) {
    return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
  }
  friend bool operator==(const Cursor& a, const Cursor& b) {
    return a.ms == b.ms && a.seq == b.seq;
  }
};
// INVALID_ARGUMENT unless "<digits>-<digits>", each within 64 bits.
absl::StatusOr<Cursor> ParseCursor(absl::string_view text);

}  // namespace govreport::events

#endif  // GOVREPORT_COMMON_EVENTS_H_
