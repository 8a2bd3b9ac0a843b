// Admission for long-lived server streams (WatchReport, StreamEvents). Each
// open stream holds a sync-server thread (and maybe a Redis connection) for
// its whole life, so a server bounds how many it serves: in all, per org
// (one tenant cannot fill everyone's share) and per caller. When the
// server starts to drain, Stop() ends them: a stream the server ends is
// never OK, which a client would read as "done", but UNAVAILABLE
// (ShuttingDown), which tells it to call again.
#ifndef GOVREPORT_COMMON_STREAM_SLOTS_H_
#define GOVREPORT_COMMON_STREAM_SLOTS_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport {

struct StreamLimits {
  int total = 64;
  int per_org = 8;
  int per_caller = 0;  // 0: no limit of its own.
};

// How the refusals name the streams, for the caller and in docs/errors.md.
struct StreamNames {
  std::string english;  // "event streams"
  std::string chinese;  // "事件订阅"
  std::string reason;   // "EVENT_STREAM_LIMIT"
};

class StreamSlots {
 public:
  // One taken slot; gives it back when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class StreamSlots;
    Slot(StreamSlots* owner, std::string org, std::string caller);
    StreamSlots* owner_;
    std::string org_;
    std::string caller_;
  };

  StreamSlots(StreamNames names, StreamLimits limits);

  // A slot for a stream of `org` opened by `caller` (org + subject), or
  // RESOURCE_EXHAUSTED naming the limit, with RetryInfo; UNAVAILABLE once
  // stopped.
  absl::StatusOr<Slot> Acquire(const std::string& org, const std::string& caller);

  // Called as the server starts to drain: open streams end and new ones are
  // refused, each with ShuttingDown.
  void Stop() { stopping_.store(true); }
  bool stopping() const { return stopping_.load(); }

  // Waits up to `limit` for every slot to be given back, so a server that
  // stops lets its open streams write their last event first; false if some
  // are still open.
  bool WaitUntilIdle(absl::Duration limit);

  const StreamLimits& limits() const { return limits_; }

 private:
  void Release(const std::string& org, const std::string& caller);

  StreamNames names_;
  StreamLimits limits_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  int open_ = 0;                                     // Guarded by mu_.
  absl::flat_hash_map<std::string, int> by_org_;     // Guarded by mu_.
  absl::flat_hash_map<std::string, int> by_caller_;  // Guarded by mu_.
};

// UNAVAILABLE, reason SHUTTING_DOWN, RetryInfo 1 s, for a stream the server
// ends or refuses as it stops; `what_next` tells the client how to go on
// ("call WatchReport again to go on watching").
absl::Status ShuttingDown(absl::string_view what_next, absl::string_view what_next_zh);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_STREAM_SLOTS_H_
