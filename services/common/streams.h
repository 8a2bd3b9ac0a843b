// Work queues on Redis Streams with consumer groups. A consumer reads with
// XREADGROUP BLOCK on its own connection, acknowledges only after the
// handler has durably finished, reclaims entries of dead consumers with
// XAUTOCLAIM, and moves an entry that keeps failing to "<stream>:dead".
// TrimConsumed removes what every group is done with and is past a
// retention, never an entry still pending or not yet delivered to a group.
#ifndef GOVREPORT_COMMON_STREAMS_H_
#define GOVREPORT_COMMON_STREAMS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis.h"

namespace govreport::streams {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Entry {
  std::string id;
  // The stream it was read from (set by the consumers).
  std::string stream{};
  Fields fields;
  // How many times the group has handed this entry out (1 on first read).
  int64_t deliveries = 1;
  // The value of a field, or "" when absent.
  std::string Get(absl::string_view name) const;
};

// ------------------------------------------------------ per-org streams
//
// On Redis Cluster a script or MULTI touches one slot, so a queue written
// together with an org's keys is one stream per org, in the org's slot:
// `gr:q:assemble` becomes `gr:{org}:q:assemble`. Readers find the orgs in
// a small index, the set `<global>:orgs` (`gr:q:assemble:orgs`), which a
// writer adds the org to before the write that may create its stream
// (SADD: repeating it is harmless; a write that then fails leaves an org
// with nothing to read, which costs a read). The index never shrinks: it
// lists the orgs that ever had such a stream, a bounded set (departments).
// The global stream itself is the layout before per-org streams: readers
// still drain it while it exists (LegacyStreams), so nothing written
// before an upgrade is lost.

// "gr:q:assemble" of org "acme" → "gr:{acme}:q:assemble".
std::string OrgStreamKey(absl::string_view global, absl::string_view org);
// "gr:q:assemble" → "gr:q:assemble:orgs".
std::string OrgIndexKey(absl::string_view global);
// The SADD that puts `org` in the index of `global`.
redis::Args IndexOrgCommand(absl::string_view global, absl::string_view org);
// The orgs of the index, sorted.
absl::StatusOr<std::vector<std::string>> IndexedOrgs(redis::Client& client,
                                                     absl::string_view global);
// Every stream of `global` to read: each indexed org's, sorted, then the
// global (legacy) stream itself when it exists.
absl::StatusOr<std::vector<std::string>> IndexedStreams(redis::Client& client,
                                                        absl::string_view global);

// XADD; returns the entry id.
absl::StatusOr<std::string> Add(redis::Client& client, const std::string& stream,
                                const Fields& fields);

struct ConsumerOptions {
  std::string stream;
  std::string group;
  std::string consumer;  // Unique per process: host-pid-random.
  absl::Duration block = absl::Seconds(1);
  int batch = 16;
  // An entry pending longer than this with another consumer is presumed
  // abandoned (its consumer died) and is claimed.
  absl::Duration claim_idle = absl::Seconds(30);
  // Deliveries after which the entry goes to the dead-letter stream.
  int max_deliveries = 5;
  // In-process retries of a failing handler, with doubling delays.
  int attempts = 3;
  absl::Duration first_backoff = absl::Milliseconds(50);
};

// What a handler says about one entry.
enum class Outcome {
  kDone,    // Acknowledge.
  kRetry,   // Leave pending: another delivery will come.
  kReject,  // Permanently bad: to the dead-letter stream at once.
};

struct HandlerResult {
  Outcome outcome = Outcome::kDone;
  absl::Status error;  // Why, for kRetry / kReject.
  static HandlerResult Done() { return {}; }
  static HandlerResult Retry(absl::Status e) { return {Outcome::kRetry, std::move(e)}; }
  static HandlerResult Reject(absl::Status e) { return {Outcome::kReject, std::move(e)}; }
};

using Handler = std::function<HandlerResult(const Entry&)>;
// Called when an entry is dead-lettered (e.g. to mark the report failed).
using DeadLetterHook = std::function<void(const Entry&, const absl::Status&)>;

// Where the entries of `stream` that failed for good go.
inline std::string DeadLetterStream(absl::string_view stream) {
  return absl::StrCat(stream, ":dead");
}

class Consumer {
 public:
  Consumer(redis::Client* client, ConsumerOptions options);

  // XGROUP CREATE ... MKSTREAM from the start of the stream; an existing
  // group is fine.
  absl::Status EnsureGroup();
  // New entries for this consumer (blocks up to options.block).
  absl::StatusOr<std::vector<Entry>> ReadNew();
  // Entries idle past claim_idle, taken over from any consumer, with their
  // delivery counts.
  absl::StatusOr<std::vector<Entry>> ClaimAbandoned();
  absl::Status Ack(const std::string& id);
  // XADD to "<stream>:dead" with the reason, then XACK, in one MULTI.
  absl::Status DeadLetter(const Entry& entry, const absl::Status& reason);

  // Runs until *stop: claims abandoned entries, reads new ones, handles
  // each. Redis errors are retried after a pause; they never end the loop.
  void Run(const Handler& handler, const std::atomic<bool>& stop,
           const DeadLetterHook& on_dead = nullptr);
  // Handles one batch (for tests and the loop): returns entries handled.
  absl::StatusOr<int> Poll(const Handler& handler, const DeadLetterHook& on_dead = nullptr);
  // Runs the handler on one entry of this stream (retries, ack, dead letter).
  void Handle(const Entry& entry, const Handler& handler, const DeadLetterHook& on_dead);

  const ConsumerOptions& options() const { return options_; }
  std::string dead_stream() const { return DeadLetterStream(options_.stream); }

 private:
  absl::Status EnsureBlockingConnection();

  redis::Client* client_;
  ConsumerOptions options_;
  std::unique_ptr<redis::Connection> blocking_;
  absl::Time last_claim_ = absl::InfinitePast();
};

// One consumer group over every stream of an index (options.stream is the
// global name): each indexed org's stream and the legacy global one, each
// with its group, created when the stream is first seen. While idle, a
// consumer waits on all the streams at once, taking at most one entry of
// each: on one Redis a single XREADGROUP BLOCK (at most 50 ms, then the
// index is read again, so a new org's stream waits no longer); on a
// cluster (a command's keys must share a slot) reads without BLOCK,
// pipelined (one round trip per node), and `cluster_poll` between idle
// rounds. While there is work it reads stream by stream, at most `batch`
// entries in all, from a point that moves on each read, so consumers share
// a burst and orgs are served in turn. Entries are handled, acknowledged
// and dead-lettered in their own stream (`gr:{org}:q:assemble:dead`: the
// MULTI stays in the org's slot).
class IndexedConsumer {
 public:
  IndexedConsumer(redis::Client* client, ConsumerOptions options,
                  absl::Duration cluster_poll = absl::Milliseconds(100));

  // The streams of the index now, each with its group.
  absl::Status Refresh();
  absl::StatusOr<int> Poll(const Handler& handler, const DeadLetterHook& on_dead = nullptr);
  void Run(const Handler& handler, const std::atomic<bool>& stop,
           const DeadLetterHook& on_dead = nullptr);

 private:
  absl::StatusOr<std::vector<Entry>> ReadNew();
  absl::StatusOr<std::vector<Entry>> ReadNewBlocking();
  absl::StatusOr<std::vector<Entry>> ReadNewPipelined();
  absl::StatusOr<std::vector<Entry>> ReadBudgeted();
  Consumer& ConsumerOf(const std::string& stream);
  void Forget(const std::string& stream);

  redis::Client* client_;
  ConsumerOptions options_;
  absl::Duration cluster_poll_;
  std::vector<std::string> streams_;
  std::vector<std::pair<std::string, std::unique_ptr<Consumer>>> consumers_;
  std::unique_ptr<redis::Connection> blocking_;
  absl::Time last_claim_ = absl::InfinitePast();
  // The last read found work: read on with ReadBudgeted.
  bool hot_ = false;
  absl::Time last_refresh_ = absl::InfinitePast();
  size_t rotation_ = 0;
};

// XTRIM MINID of the entries of `stream` that every consumer group has
// acknowledged (older than each group's oldest pending entry and not after
// the last entry delivered to it) and that are older than `retention` at
// `now`. A stream without groups (read with XREAD) keeps `retention`.
// Returns the entries removed (0 for a stream that does not exist).
absl::StatusOr<int64_t> TrimConsumed(redis::Client& client, const std::string& stream,
                                     absl::Duration retention, absl::Time now = absl::Now());

// host-pid-random, for ConsumerOptions::consumer.
std::string DefaultConsumerName(absl::string_view role);

}  // namespace govreport::streams

#endif  // GOVREPORT_COMMON_STREAMS_H_
