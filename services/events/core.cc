#include "events/core.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/server.h"
#include "common/status.h"

namespace govreport::events {
namespace {

constexpr int kDefaultHeartbeatSeconds = 15;
constexpr int kMinHeartbeatSeconds = 1;
constexpr int kMaxHeartbeatSeconds = 300;

absl::StatusOr<absl::Duration> HeartbeatOf(const v1::StreamEventsRequest& req) {
  int s = req.heartbeat_seconds();
  if (s == 0) return absl::Seconds(kDefaultHeartbeatSeconds);
  if (s < kMinHeartbeatSeconds || s > kMaxHeartbeatSeconds) {
    return errors::InvalidField(
        "heartbeat_seconds", "INVALID_ARGUMENT",
        absl::StrCat("must be within ", kMinHeartbeatSeconds, "..", kMaxHeartbeatSeconds,
                     " (0: ", kDefaultHeartbeatSeconds, "), got ", s),
        absl::StrCat("心跳间隔须在 ", kMinHeartbeatSeconds, " 到 ", kMaxHeartbeatSeconds,
                     " 秒之间"));
  }
  return absl::Seconds(s);
}

absl::StatusOr<std::set<int>> KindsOf(const v1::StreamEventsRequest& req) {
  std::set<int> kinds;
  for (int i = 0; i < req.kinds_size(); ++i) {
    GR_RETURN_IF_ERROR(
        CheckEnum(absl::StrCat("kinds[", i, "]"), req.kinds(i), Unspecified::kRefused));
    kinds.insert(static_cast<int>(req.kinds(i)));
  }
  return kinds;
}

absl::Status CursorExpired(const Cursor& after) {
  return errors::WithReason(
      absl::OutOfRangeError(absl::StrCat(
          "after_cursor ", after.ToString(),
          " has expired: events after it are past the retention and gone; resync with the List "
          "calls (changed_after), then subscribe again from START_POSITION_NOW")),
      "EVENT_CURSOR_EXPIRED",
      "该游标之后的部分事件已超过保留期被清除：请先用 List 接口（changed_after）重新同步，"
      "再从 START_POSITION_NOW 订阅");
}

// Whether events after `after` have been trimmed. Redis 7.0 trims from the
// head without recording the greatest id it removed, so what is known is
// how many entries went, all before the first one kept. A cursor before the
// first kept entry, with entries gone, is taken as expired although the
// entries between them may all have been at or before it: at worst a
// needless resync, never a missed event.
bool Expired(const LogInfo& info, const Cursor& after) {
  if (after < info.max_deleted) return true;
  if (info.entries_added <= info.length) return false;  // Nothing trimmed.
  if (info.length == 0) return after < info.last;       // Everything trimmed.
  return after < info.first;
}

}  // namespace

void DefineEventsFlags(Flags& flags) {
  EventsOptions d;
  flags.Define("events-max-streams", absl::StrCat(d.max_streams),
               "StreamEvents streams this process serves at once (each holds a thread and a "
               "Redis connection)");
  flags.Define("events-max-streams-per-org", absl::StrCat(d.max_streams_per_org),
               "StreamEvents streams one org may have open at once on this process");
}

absl::StatusOr<EventsOptions> EventsOptionsFromFlags(const Flags& flags) {
  EventsOptions o;
  absl::StatusOr<int64_t> all = flags.GetInt("events-max-streams");
  absl::StatusOr<int64_t> per_org = flags.GetInt("events-max-streams-per-org");
  if (!all.ok() || !per_org.ok() || *all < 1 || *all > 100000 || *per_org < 1 ||
      *per_org > 100000) {
    return absl::InvalidArgumentError(
        "--events-max-streams and --events-max-streams-per-org: numbers within 1..100000");
  }
  o.max_streams = static_cast<int>(*all);
  o.max_streams_per_org = static_cast<int>(*per_org);
  return o;
}

// ------------------------------------------------------------ EventsCore

EventsCore::EventsCore(redis::Client* redis, EventsOptions options)
    : store_(redis),
      options_(options),
      slots_({"event streams", "事件订阅", "EVENT_STREAM_LIMIT"},
             {options.max_streams, options.max_streams_per_org}) {}

absl::StatusOr<std::unique_ptr<Subscription>> EventsCore::Open(const std::string& org,
                                                               const v1::StreamEventsRequest& req) {
  GR_ASSIGN_OR_RETURN(absl::Duration heartbeat, HeartbeatOf(req));
  GR_ASSIGN_OR_RETURN(std::set<int> kinds, KindsOf(req));
  if (req.start_case() == v1::StreamEventsRequest::kPosition) {
    GR_RETURN_IF_ERROR(CheckEnum("position", req.position(), Unspecified::kAllowed));
  }
  // The slot before any Redis work: the limits bound the connections too.
  GR_ASSIGN_OR_RETURN(StreamSlots::Slot slot, slots_.Acquire(org, org));
  GR_ASSIGN_OR_RETURN(Cursor start, StartCursor(org, req));
  GR_ASSIGN_OR_RETURN(std::unique_ptr<Store::Reader> reader,
                      store_.OpenReader(org, options_.max_block));
  return std::unique_ptr<Subscription>(new Subscription(
      this, org, start, std::move(kinds), heartbeat, std::move(reader), std::move(slot)));
}

absl::StatusOr<Cursor> EventsCore::StartCursor(const std::string& org,
                                               const v1::StreamEventsRequest& req) {
  std::optional<Cursor> after;
  if (req.start_case() == v1::StreamEventsRequest::kAfterCursor) {
    absl::StatusOr<Cursor> parsed = ParseCursor(req.after_cursor());
    if (!parsed.ok()) {
      return errors::InvalidField("after_cursor", "EVENT_CURSOR_INVALID", parsed.status().message(),
                                  "不是事件游标（应为某个事件或心跳的 cursor）");
    }
    after = *parsed;
  }
  // Read once at the open: NOW is the last id then, so that an event
  // committed after the open is never missed.
  GR_ASSIGN_OR_RETURN(LogInfo info, store_.Info(org));
  if (!after) {
    // OLDEST reads from the start; an empty log starts at its last id, so
    // that the first heartbeat is a cursor that has not expired already.
    bool oldest = req.start_case() == v1::StreamEventsRequest::kPosition &&
                  req.position() == v1::START_POSITION_OLDEST;
    return oldest && info.length > 0 ? Cursor{} : info.last;
  }
  if (info.last < *after) {
    return errors::InvalidField(
        "after_cursor", "EVENT_CURSOR_UNKNOWN",
        absl::StrCat(after->ToString(), " is after the last event of the org's log (",
                     info.last.ToString(),
                     "): not a cursor of this log; resync, then subscribe from START_POSITION_NOW"),
        "该游标晚于本单位事件日志的最后一个事件，不是本日志的游标：请重新同步后从 "
        "START_POSITION_NOW 订阅");
  }
  if (Expired(info, *after)) return CursorExpired(*after);
  return *after;
}

// ---------------------------------------------------------- Subscription

Subscription::Subscription(EventsCore* core, std::string org, Cursor start, std::set<int> kinds,
                           absl::Duration heartbeat, std::unique_ptr<Store::Reader> reader,
                           StreamSlots::Slot slot)
    : core_(core),
      org_(std::move(org)),
      cursor_(start),
      kinds_(std::move(kinds)),
      heartbeat_(heartbeat),
      last_sent_(absl::Now()),
      reader_(std::move(reader)),
      slot_(std::move(slot)) {}

absl::StatusOr<Subscription::Batch> Subscription::Next() {
  if (core_->stopping()) {
    return ShuttingDown("reconnect (to another replica) from your last cursor",
                        "请从最后一个游标重新连接");
  }
  Batch out;
  absl::Duration until_beat = last_sent_ + heartbeat_ - absl::Now();
  if (until_beat <= absl::ZeroDuration()) {
    out.heartbeat = true;
    last_sent_ = absl::Now();
    return out;
  }
  auto read = reader_->Read(cursor_, core_->options().batch,
                            std::min(until_beat, core_->options().max_block));
  if (!read.ok()) {
    // The subscriber resumes from its cursor; the detail is for the log.
    return errors::Internal(absl::StatusCode::kUnavailable,
                            absl::StrCat("event log of ", org_, ": ", read.status().message()));
  }
  for (StoredEvent& e : *read) {
    absl::StatusOr<Cursor> c = ParseCursor(e.id);
    if (!c.ok()) continue;  // Not an id Redis gives.
    cursor_ = *c;
    if (!kinds_.empty() && kinds_.count(e.kind) == 0) continue;
    v1::Event event;
    if (!event.ParseFromString(e.event)) {
      LogLine("events", absl::StrCat("org ", org_, ": event ", e.id, " does not parse; skipped"));
      continue;
    }
    event.set_cursor(e.id);
    out.events.push_back(std::move(event));
  }
  if (!out.events.empty()) last_sent_ = absl::Now();
  return out;
}

}  // namespace govreport::events
