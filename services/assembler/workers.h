// The assembler's background work, on Redis Streams with consumer groups
// so any number of replicas share it:
//   gr:q:assemble    assemble jobs: fetch figures and org fields from
//                    records, render through templates, store a revision
//                    with the snapshot of every value used.
//   gr:ev:approval   approval outcomes: approved → fill 成文日期, render the
//                    final documents, freeze, digest, announce on
//                    gr:ev:published; rejected / withdrawn → back to DRAFT.
// Handlers are idempotent: a redelivered entry finds its work done.
#ifndef GOVREPORT_ASSEMBLER_WORKERS_H_
#define GOVREPORT_ASSEMBLER_WORKERS_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "assembler/domain.h"
#include "assembler/store.h"
#include "assembler/upstream.h"
#include "common/streams.h"

namespace govreport::assembler {

class Workers {
 public:
  // `service` authenticates the workers' calls (a token of org "*" with
  // role "service").
  Workers(
      Store* store, Upstream* upstream, CallAs service,
      std::function<absl::Time()> clock = [] { return absl::Now(); });

  streams::HandlerResult HandleAssemble(const streams::Entry& entry);
  // The newest job of a draft failed for good: the report shows FAILED
  // with the error.
  void OnAssembleDead(const streams::Entry& entry, const absl::Status& why);

  streams::HandlerResult HandleApprovalEvent(const streams::Entry& entry);
  // Publishing failed for good: the report stays APPROVED and shows why.
  void OnApprovalEventDead(const streams::Entry& entry, const absl::Status& why);

  // Checks every PUBLISHED report of the org against its records now and
  // records those that became outdated (RecordOutdated). Returns how many
  // were checked.
  absl::StatusOr<int64_t> CheckOutdated(const std::string& org);
  // The same for every org records knows (gr:orgs).
  absl::StatusOr<int64_t> CheckAllOutdated();

 private:
  streams::HandlerResult Publish(const RevisionRef& ref, const streams::Entry& entry);
  // The steps of Publish. Each ends early with the entry's answer.
  using ApprovedOr = std::variant<pb::Report, streams::HandlerResult>;
  ApprovedOr RecordApproval(const RevisionRef& ref, const streams::Entry& entry,
                            const SignOff& sign_off);
  // The revision to freeze, with its documents (bytes in format order).
  struct Publication {
    pb::Revision frozen;
    std::vector<std::string> contents;
  };
  using PublicationOr = std::variant<Publication, streams::HandlerResult>;
  PublicationOr RenderFinal(const RevisionRef& ref, const pb::Report& report);
  streams::HandlerResult CommitPublication(const RevisionRef& ref, const pb::Report& approved,
                                           Publication& pub);
  streams::HandlerResult Decide(const RevisionRef& ref, const streams::Entry& entry);
  int64_t Now() const { return absl::ToUnixSeconds(clock_()); }

  Store* store_;
  Upstream* upstream_;
  CallAs service_;
  std::function<absl::Time()> clock_;
};

struct WorkerOptions {
  // Threads per replica reading gr:q:assemble.
  int assemble_workers = 2;
  // Threads per replica reading gr:ev:approval.
  int event_workers = 1;
  // Unique per process; threads append their index.
  std::string consumer_prefix;
  absl::Duration block = absl::Seconds(1);
  absl::Duration claim_idle = absl::Seconds(30);
  int max_deliveries = 5;
  int attempts = 3;
  absl::Duration first_backoff = absl::Milliseconds(100);
  // How often the streams this service owns are trimmed (TrimStreams);
  // zero: never.
  absl::Duration trim_interval = absl::Minutes(1);
  // Entries every group acknowledged are kept this long (a stream without
  // groups, gr:ev:published, is read with XREAD: its readers get this long).
  absl::Duration stream_retention = absl::Hours(24 * 7);
  absl::Duration dead_letter_retention = absl::Hours(24 * 30);
  // How often published reports are checked for records changed after
  // publication (Workers::CheckAllOutdated); zero: never (GetReport still
  // checks the report it reads).
  absl::Duration outdated_check_interval = absl::Minutes(10);
};

// The worker threads of one replica.
class WorkerPool {
 public:
  WorkerPool(redis::Client* redis, Workers* workers, WorkerOptions options);
  ~WorkerPool();
  // Creates the consumer groups, then starts the threads.
  absl::Status Start();
  // Lets each thread finish the entry it holds (at most one BLOCK wait).
  void Stop();
  // One trim of gr:q:assemble, gr:ev:approval, gr:ev:published and their
  // dead-letter streams (streams::TrimConsumed); the pool's trim thread
  // runs it every trim_interval. Returns the entries removed.
  absl::StatusOr<int64_t> TrimStreams(absl::Time now = absl::Now());

 private:
  void TrimLoop();
  void OutdatedLoop();
  streams::ConsumerOptions ConsumerFor(absl::string_view stream, int index) const;

  redis::Client* redis_;
  Workers* workers_;
  WorkerOptions options_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_WORKERS_H_
