// Redis layout of the assembler and its reads and commits. Every key of a
// report carries the org's hash tag:
//   gr:{org}:rpt:{id}                hash {d: Report blob, v: version}
//   gr:{org}:rpt:{id}:rev:{n}        Revision blob
//   gr:{org}:rpt:{id}:doc:{n}:{FMT}  published document bytes
//   gr:{org}:rpt:{id}:job:{seq}      revision made by assembly job seq
//   gr:{org}:rpts                    sorted set of report ids by creation
//                                    time (ms); ties by id
//   gr:{org}:rpts:u                  sorted set of report ids by change
//                                    sequence (gr:{org}:rseq, the last one)
//   gr:{org}:rq:{request_id}         request replay (common/request_id.h)
//   gr:{org}:tplwf                   hash template → TemplateWorkflows blob
//   gr:{org}:docset                  hash {d: DocumentSettings blob,
//                                    r: revision, c: code}
//   gr:{org}:dn:ctr                  hash "{code}|{year}" → last 发文字号
//   gr:{org}:dn:by                   hash approval → register entry id
//   gr:{org}:dn:seq                  last register entry id
//   gr:{org}:dn:i                    sorted set of entry ids (score = id)
//   gr:{org}:dn:p                    set of entry ids whose report is
//                                    not published yet
//   gr:{org}:dn:{id}                 hash: one register entry (code, year,
//                                    number, revision, approval, state,
//                                    issue_unix, published, void_reason,
//                                    voided_by, void_unix)
//   gr:{org}:events                  the org's event log (common/events.h):
//                                    REPORT_ASSEMBLED / REPORT_PUBLISHED,
//                                    appended by the commit that stores the
//                                    revision / publishes it
//   gr:{org}:q:assemble              the org's assembly jobs (the workers'
//                                    consumer group reads it)
//   gr:{org}:ev:published            the org's publications
// and, each one key of its own written before the commit that may create
// the stream (common/streams.h): gr:q:assemble:orgs and
// gr:ev:published:orgs, the orgs that have such a stream. The global
// gr:q:assemble of the layout before is still drained by the workers.
#ifndef GOVREPORT_ASSEMBLER_STORE_H_
#define GOVREPORT_ASSEMBLER_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assembler/domain.h"
#include "common/events.h"
#include "common/outcome.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "common/streams.h"

namespace govreport::assembler {

struct StoreOptions {
  // How long a request_id is remembered (tests shorten it).
  absl::Duration request_retention = request_id::kRetention;
  // How long the org's event log keeps events (--event-retention-s).
  absl::Duration event_retention = events::kDefaultRetention;
  // The 32-byte key the orgs' private signing keys are sealed under
  // (--signing-master-key-file); empty: no signing keys can be made or
  // used.
  std::string signing_master_key;
  // CA certificates (PEM) an imported signing certificate must chain to
  // (--signing-ca-file); empty: any issuer is taken as given.
  std::string signing_ca_pem;
};

// An org's signing key as stored.
struct StoredSigningKey {
  pb::SigningKey key;  // state and retire_time filled in
  std::string sealed_private_key;
  std::string stored;  // the key's value as read, for ReplaceSigningKey
};

// One atomic write of a report and what goes with it.
class CommitBuilder {
 public:
  // expected_version 0: the report must not exist yet.
  CommitBuilder(const ReportRef& ref, int64_t expected_version, const pb::Report& next);

  // When `key` exists the commit is a repeat: nothing is written and its
  // value is returned (request replay, job idempotency).
  void Guard(const std::string& key);
  // The call's request id (none when empty): a repeat of the call answers
  // kReplayed with the stored `result`, another call under the id
  // kRequestReused, both before anything is written; otherwise `result` is
  // remembered with the commit.
  void Remember(absl::string_view org, const request_id::Call& call, std::string result,
                absl::Duration retention);
  void Set(const std::string& key, std::string value, absl::Duration ttl = absl::ZeroDuration());
  void SetNx(const std::string& key, std::string value);
  void ZAdd(const std::string& key, int64_t score, const std::string& member);
  void XAdd(const std::string& stream, const streams::Fields& fields);
  // XADD to the org's stream of `global` (streams::OrgStreamKey); the
  // store puts the org in the stream's index before the commit.
  void XAddOrg(absl::string_view global, absl::string_view org, const streams::Fields& fields);
  // The index writes that go before the commit.
  const std::vector<redis::Args>& index() const { return index_; }
  void HSet(const std::string& key, const std::string& field, std::string value);
  void SRem(const std::string& key, const std::string& member);
  // Appends `event` to the org's event log with the commit, trimming what
  // is older than `retention` (common/events.h).
  void AppendEvent(absl::string_view org, const events::v1::Event& event, absl::Duration retention);

  redis::ScriptCall Build() const;

 private:
  int KeyIndex(const std::string& key);
  std::vector<std::string> keys_;
  std::vector<std::string> head_;
  std::vector<std::string> ops_;
  std::vector<redis::Args> index_;
};

// Outcome (common/outcome.h) of a commit: kOk; kReplayed (a guard key or
// the request id was there: `guard_value` is its value, or the request's
// first result); kRequestReused; kExists; kNotFound; kStale.
struct CommitResult {
  Outcome outcome = Outcome::kOk;
  std::string guard_value;
  // kOk: the new version; kStale / kExists: the stored one.
  int64_t version = 0;
  // kOk: the report's new change sequence.
  int64_t change_sequence = 0;
};

// What one page of ListReports reads.
struct ReportQuery {
  ReportOrder order = ReportOrder::kNewest;
  pb::ReportState state = pb::REPORT_STATE_UNSPECIFIED;
  // The cursor: the last entry read ("" for the first page; the token's).
  std::string cursor;
  int size = 0;
};

// One allocation of the register.
struct Allocation {
  int64_t id = 0;
  int64_t number = 0;
  // False: the approval's number allocated before, given again.
  bool fresh = false;
};

// What a settings update or a void answered (kOk; kStale with the stored
// revision; kConflict with the revisions in the way; kReplayed with the
// first result; kRequestReused; kNotFound; kFinal).
struct RegisterResult {
  Outcome outcome = Outcome::kOk;
  std::string detail;
};

class Store {
 public:
  explicit Store(redis::Client* redis, StoreOptions options = {});

  static std::string ReportKey(const ReportRef& ref);
  static std::string RevisionKey(const RevisionRef& ref);
  static std::string DocumentKey(const RevisionRef& ref, typepb::DocumentFormat format);
  static std::string IndexKey(absl::string_view org);
  static std::string RequestKey(absl::string_view org, absl::string_view request_id);
  static std::string TemplateWorkflowsKey(absl::string_view org);

  // NOT_FOUND naming the report.
  absl::StatusOr<pb::Report> ReadReport(const ReportRef& ref);
  // 0 when there is no such report; one HGET, for watchers.
  absl::StatusOr<int64_t> ReadVersion(const ReportRef& ref);
  // The report id a request_id created or changed, if remembered.
  absl::StatusOr<std::optional<request_id::Prior>> ReadRequest(absl::string_view org,
                                                               absl::string_view request_id);
  absl::StatusOr<pb::Revision> ReadRevision(const RevisionRef& ref);
  absl::StatusOr<std::string> ReadDocument(const RevisionRef& ref, typepb::DocumentFormat format);

  struct Page {
    std::vector<pb::Report> reports;
    // The cursor after the last entry read; empty: the list is exhausted.
    std::string next_cursor;
  };
  // One page of `query` after its cursor: newest or oldest first by
  // creation (cursor "millis:id"), or by change sequence (cursor the last
  // sequence). A state filter scans a bounded number of entries per call,
  // so a page may be short while next_cursor is set. INVALID_ARGUMENT for
  // a cursor of another form.
  absl::StatusOr<Page> ListReports(absl::string_view org, const ReportQuery& query);

  absl::StatusOr<CommitResult> Commit(const CommitBuilder& commit);

  // Reports by state over every org, for the metrics sampler: no index by
  // state exists, so it reads the report of each index entry (the orgs of
  // records' gr:orgs, each org's gr:{org}:rpts, then pipelined HGETs), at
  // most `limit` of them; `truncated` when there were more.
  struct StateCounts {
    std::map<pb::ReportState, int64_t> counts{};
    bool truncated = false;
  };
  absl::Status CountByState(int64_t limit, StateCounts& out);

  // The org admin's binding of a template (by TemplateBase) to workflows.
  absl::StatusOr<std::optional<pb::TemplateWorkflows>> ReadTemplateWorkflows(
      absl::string_view org, absl::string_view template_base);
  // No workflows: removes the binding.
  absl::Status WriteTemplateWorkflows(absl::string_view org, const pb::TemplateWorkflows& binding);

  // ------------------------------------------- document settings, register
  static std::string DocumentSettingsKey(absl::string_view org);
  static std::string DocumentNumberKey(absl::string_view org, int64_t id);
  static std::string PendingNumbersKey(absl::string_view org);

  // The org's settings; never set: empty ones with revision 0.
  absl::StatusOr<pb::DocumentSettings> ReadDocumentSettings(absl::string_view org);
  // Stores `next` (its revision already read_revision + 1) if the stored
  // revision is still `read_revision` and, when the code changes, no
  // number is pending.
  absl::StatusOr<RegisterResult> WriteDocumentSettings(absl::string_view org, int64_t read_revision,
                                                       const pb::DocumentSettings& next,
                                                       bool code_changed,
                                                       const request_id::Call& call);
  // The approval's number under `code` and `year` (see
  // AllocateDocumentNumberScript); nullopt: the settings' 代字 is no
  // longer `code` (read them again).
  absl::StatusOr<std::optional<Allocation>> AllocateDocumentNumber(absl::string_view org,
                                                                   absl::string_view approval,
                                                                   absl::string_view code, int year,
                                                                   absl::string_view revision_name,
                                                                   int64_t now_unix);
  // The register entry an approval's number is (0: none).
  absl::StatusOr<int64_t> DocumentNumberOf(absl::string_view org, absl::string_view approval);
  absl::StatusOr<pb::DocumentNumber> ReadDocumentNumber(absl::string_view org, int64_t id);
  // The entries after `after_id`, at most `count`, by id (`ids` beside
  // them); `more`: there may be entries after the last.
  struct NumberPage {
    std::vector<pb::DocumentNumber> numbers;
    std::vector<int64_t> ids;
    bool more = false;
  };
  absl::StatusOr<NumberPage> ListDocumentNumbers(absl::string_view org, int64_t after_id,
                                                 int count);
  enum class VoidMode { kAdmin, kUnpublished };
  absl::StatusOr<RegisterResult> VoidDocumentNumber(absl::string_view org, int64_t id,
                                                    absl::string_view reason, absl::string_view by,
                                                    int64_t now_unix, VoidMode mode,
                                                    const request_id::Call& call);

  // Signing keys (signing_keys.h): the number the next key gets, adding
  // it (AddSigningKeyScript), every key oldest first, one with its sealed
  // private key.
  static std::string SigningKeysKey(absl::string_view org);
  static std::string SealedKeysKey(absl::string_view org);
  absl::StatusOr<int64_t> NextSigningKeyNumber(absl::string_view org);
  absl::StatusOr<RegisterResult> AddSigningKey(absl::string_view org, int64_t n,
                                               const pb::SigningKey& key,
                                               absl::string_view sealed_private_key,
                                               int64_t now_micros, const request_id::Call& call);
  absl::StatusOr<std::vector<pb::SigningKey>> ReadSigningKeys(absl::string_view org);
  // nullopt: the org has no active key.
  absl::StatusOr<std::optional<StoredSigningKey>> ActiveSigningKey(absl::string_view org);
  // Key n; nullopt when the org has none of that number.
  absl::StatusOr<std::optional<StoredSigningKey>> ReadSigningKey(absl::string_view org, int64_t n);
  // Key n's value becomes `key` (state and retire time are not stored) if
  // it is still `stored`; false when it changed since.
  absl::StatusOr<bool> ReplaceSigningKey(absl::string_view org, int64_t n, absl::string_view stored,
                                         const pb::SigningKey& key);
  const std::string& signing_master_key() const { return options_.signing_master_key; }
  const std::string& signing_ca_pem() const { return options_.signing_ca_pem; }

  absl::Duration request_retention() const { return options_.request_retention; }
  absl::Duration event_retention() const { return options_.event_retention; }
  redis::Client& redis() { return *redis_; }

 private:
  // Key n's value and sealed private key, as stored (no state).
  absl::StatusOr<StoredSigningKey> StoredKey(absl::string_view org, absl::string_view n);
  redis::Client* redis_;
  StoreOptions options_;
};

// The 发文字号 of a sign-off of the revision `ref`, allocated in the
// register under the org's current code and the year of the sign-off day
// (given again to a redelivered approval), with the settings it was
// allocated under; an empty display when the org has no code. A settings
// change racing it is read again.
absl::StatusOr<Numbering> NumberSignOff(Store& store, const RevisionRef& ref,
                                        const SignOff& sign_off, int64_t now_unix);

// Records on a PUBLISHED report what a check of its published revision
// `revision` found (`now`, ClassifyOutdated): the outdated flag and, when
// newly outdated, the EVENT_KIND_REPORT_OUTDATED event, in one commit. A
// report that has moved on (another publication, a correction) is left
// alone. Returns the report as stored after it.
absl::StatusOr<pb::Report> RecordOutdated(Store& store, const ReportRef& ref, int64_t revision,
                                          const pb::Staleness& now, int64_t now_unix);

// The one optimistic write of a report, read → decide → commit with the
// version read, used by every writer of reports. `decide` gets the report
// as read (or why it could not be read) and either ends with an answer or
// returns the commit to try; `committed` turns that commit's result into
// the answer, or std::nullopt to decide again on a fresh read (another
// writer came first: kStale). At most `passes` passes, then `exhausted`.
// `first`, when set, is the report as the caller has just read it: the
// first pass decides on it instead of reading again.
template <typename R>
using Decision = std::variant<R, CommitBuilder>;

template <typename R>
R ReadModifyCommit(
    Store& store, const ReportRef& ref, int passes, std::optional<pb::Report> first,
    absl::FunctionRef<Decision<R>(absl::StatusOr<pb::Report>& report)> decide,
    absl::FunctionRef<std::optional<R>(const absl::StatusOr<CommitResult>& result)> committed,
    absl::FunctionRef<R()> exhausted) {
  for (int pass = 0; pass < passes; ++pass) {
    absl::StatusOr<pb::Report> report;
    if (std::optional<pb::Report> given = std::exchange(first, std::nullopt)) {
      report = *std::move(given);
    } else {
      report = store.ReadReport(ref);
    }
    Decision<R> decision = decide(report);
    if (R* answer = std::get_if<R>(&decision)) return std::move(*answer);
    std::optional<R> answer = committed(store.Commit(std::get<CommitBuilder>(decision)));
    if (answer.has_value()) return *std::move(answer);
  }
  return exhausted();
}

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_STORE_H_
