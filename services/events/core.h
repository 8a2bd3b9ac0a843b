// The event feed's rules: where a stream starts (a cursor, now, the oldest
// kept event), whether a cursor has expired, which events a subscriber
// gets (its org's, of the kinds it asked for), when it gets a heartbeat,
// and how many streams may be open. No gRPC here: the caller has already
// been authorized for the org (docs/events.md).
#ifndef GOVREPORT_EVENTS_CORE_H_
#define GOVREPORT_EVENTS_CORE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/events.h"
#include "common/redis.h"
#include "common/stream_slots.h"
#include "events/store.h"
#include "govreport/events/v1/events.pb.h"

namespace govreport {
class Flags;
}

namespace govreport::events {

struct EventsOptions {
  // Each open stream holds a gRPC handler thread and a Redis connection of
  // its own for its whole life: at most this many per process, and per org
  // so that one org cannot take every slot.
  int max_streams = 64;
  int max_streams_per_org = 8;
  // Entries read per XREAD, and the longest a read blocks (how soon a
  // stream sees a shutdown or a cancel).
  int batch = 256;
  absl::Duration max_block = absl::Seconds(1);
};

// --events-max-streams and --events-max-streams-per-org.
void DefineEventsFlags(Flags& flags);
absl::StatusOr<EventsOptions> EventsOptionsFromFlags(const Flags& flags);

class EventsCore;

// One open stream of one org, from where its request said.
class Subscription {
 public:
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // What one wait brought: the events to send (of the kinds asked for) and
  // whether a heartbeat is due (nothing sent for the heartbeat interval).
  struct Batch {
    std::vector<v1::Event> events{};
    bool heartbeat = false;
  };
  // Waits at most the read block (or until the heartbeat is due) for events
  // after the cursor. UNAVAILABLE once the server stops, or when Redis
  // fails: the subscriber reconnects from its last cursor.
  absl::StatusOr<Batch> Next();
  // Every event up to it has been returned (or filtered out).
  const Cursor& cursor() const { return cursor_; }

 private:
  friend class EventsCore;
  Subscription(EventsCore* core, std::string org, Cursor start, std::set<int> kinds,
               absl::Duration heartbeat, std::unique_ptr<Store::Reader> reader,
               StreamSlots::Slot slot);

  EventsCore* core_;
  std::string org_;
  Cursor cursor_;
  std::set<int> kinds_;  // Empty: every kind.
  absl::Duration heartbeat_;
  absl::Time last_sent_;
  std::unique_ptr<Store::Reader> reader_;
  StreamSlots::Slot slot_;
};

class EventsCore {
 public:
  EventsCore(redis::Client* redis, EventsOptions options = {});

  // Checks the request, takes a stream slot of `org`, resolves the start
  // position and opens the stream's Redis connection.
  absl::StatusOr<std::unique_ptr<Subscription>> Open(const std::string& org,
                                                     const v1::StreamEventsRequest& request);

  // Ends every open stream (UNAVAILABLE) and refuses new ones: called when
  // the server starts to drain.
  void Stop() { slots_.Stop(); }
  bool stopping() const { return slots_.stopping(); }

  const EventsOptions& options() const { return options_; }

 private:
  friend class Subscription;
  absl::StatusOr<Cursor> StartCursor(const std::string& org,
                                     const v1::StreamEventsRequest& request);

  Store store_;
  EventsOptions options_;
  StreamSlots slots_;
};

}  // namespace govreport::events

#endif  // GOVREPORT_EVENTS_CORE_H_
