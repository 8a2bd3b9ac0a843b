// Every Redis call of the event feed. It reads, never writes: the services
// that make the changes append to the org's log (common/events.h).
//   gr:{org}:events   stream; entry fields k (EventKind number) and e
//                     (serialized Event, cursor empty; the entry id is it)
#ifndef GOVREPORT_EVENTS_STORE_H_
#define GOVREPORT_EVENTS_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/events.h"
#include "common/redis.h"

namespace govreport::events {

// What XINFO STREAM says of an org's log; all zero when it does not exist.
struct LogInfo {
  // The id of the last entry ever added (trimming leaves it).
  Cursor last{};
  // The first entry kept (0-0 when none is).
  Cursor first{};
  // Entries kept, and ever added: the difference was trimmed, all of them
  // before `first` (the log is only trimmed from its head).
  int64_t length = 0;
  int64_t entries_added = 0;
  // The greatest id removed by XDEL. Redis 7.0 leaves it 0-0 when it trims
  // (XADD MINID, XTRIM), hence the counts above.
  Cursor max_deleted{};
};

// One entry of the log, as stored.
struct StoredEvent {
  std::string id{};
  int kind = 0;
  std::string event{};  // Serialized v1::Event, cursor empty.
};

class Store {
 public:
  explicit Store(redis::Client* redis) : redis_(redis) {}

  absl::StatusOr<LogInfo> Info(const std::string& org);

  // Blocking reads of one org's log on a connection of its own: a BLOCK on
  // a pooled connection would hold it from every other call.
  class Reader {
   public:
    // The entries after `after`, at most `count`; waits up to `block` when
    // there are none (then returns none).
    absl::StatusOr<std::vector<StoredEvent>> Read(const Cursor& after, int count,
                                                  absl::Duration block);

   private:
    friend class Store;
    Reader(std::unique_ptr<redis::Connection> conn, std::string key)
        : conn_(std::move(conn)), key_(std::move(key)) {}
    std::unique_ptr<redis::Connection> conn_;
    std::string key_;
  };
  // A reader whose reads may block up to `max_block`.
  absl::StatusOr<std::unique_ptr<Reader>> OpenReader(const std::string& org,
                                                     absl::Duration max_block);

 private:
  redis::Client* redis_;
};

}  // namespace govreport::events

#endif  // GOVREPORT_EVENTS_STORE_H_
