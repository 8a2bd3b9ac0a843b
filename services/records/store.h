// Every Redis key and call of the records service. Keys of an org share
// its hash tag, so each script touches one slot:
//   gr:{org}:org               hash {d: Org, r: revision}
//   gr:{org}:profile           hash {d: Profile, r: revision}
//   gr:{org}:dv                data version, bumped by every record write
//   gr:{org}:a:{id}            string: the record (ActivityRecord with its
//                              sequences); an earlier version's hash {d:
//                              record, r, c, s} until the record changes
//   gr:{org}:a:{id}:h          list of every revision of the record, from
//                              its first change on (none: revision 1 only)
//   gr:{org}:seq               the last creation sequence given
//   gr:{org}:types             set of the types records were written with
//   gr:{org}:ix:c:{type}       listing index: id by creation sequence
//                              (never moves); a directory zset of buckets
//                              ix:c:{type}:{lowest score}, each a zset of at
//                              most 128 (lua_scripts.cc, kListingLua)
//   gr:{org}:ix:d:{type}       the same, id by DateScore (date, then
//                              creation sequence)
//   gr:{org}:ix:u              the same over all types, id by change
//                              sequence (the data version of its latest write)
//   gr:{org}:acts:c:t:{type}, acts:d:t:{type} (one score, members
//                              "yyyymmdd:cseq:id"), acts:u   the previous
//                              version's listing indexes, one zset each:
//                              emptied into the above (MigrateBuckets)
//   gr:{org}:acts[:t:{type}]   zset id by date: what earlier versions wrote,
//                              emptied into the above (IndexLegacyRecords)
//   gr:{org}:acts:c, acts:d    the same over all types, as the previous
//                              version kept them: emptied into `types`
//                              (MigrateGlobalIndexes)
//   gr:{org}:ext               hash source\x1fexternal id -> "id|content hash"
//   gr:{org}:agg:{bucket}      counts and sums per year and month
//   gr:{org}:dp:{bucket}:{t}   hash person -> records naming them
//   gr:{org}:lt:{month}:{t}    zset of the counted (not voided) ids by
//                              date, for LATEST values and provenance
//   gr:{org}:pv:{month}:{t}[:{dim}={value}]  sets earlier versions wrote
//                              for provenance; no longer read or written
//   gr:{org}:dx:{bucket}:{t}:{dim}  hash value -> records carrying it
//   gr:{org}:quota:{yyyymmdd}  hash {n, b}: the day's writes and bytes
//   gr:{org}:rq:{request_id}   request replay (common/request_id.h)
//   gr:{org}:events            the org's event log (common/events.h)
//   gr:orgs                    zset (score 0) of every org id (outside any
//                              org's slot), in id order
#ifndef GOVREPORT_RECORDS_STORE_H_
#define GOVREPORT_RECORDS_STORE_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/outcome.h"
#include "common/redis.h"

namespace govreport::records {

// What a write script answered: its outcome and the rest of its reply.
struct WriteAnswer {
  Outcome outcome = Outcome::kUnknown;
  redis::Reply reply{};
};

// One record write, in the write script's terms (lua_scripts.h).
struct ActivityWrite {
  std::string op;  // create | amend | void
  std::string id;
  std::string request_id;
  std::string fingerprint;
  std::string external_key;
  std::string content_hash;
  int64_t expected_revision = 0;
  std::string blob;
  std::string contribution;
  // The org's allowance: quota_day "" is not counted; 0 is no limit.
  std::string quota_day;
  int64_t quota_records = 0;
  int64_t quota_bytes = 0;
  int64_t max_persons_per_year = 0;
  // The org's event (lua_scripts.cc): the Event without its payload ("" =
  // none), its kind number, the rest of a create's or amendment's
  // ActivityChanged (its reason), and the retention's XADD MINID.
  std::string event_head;
  std::string event_kind;
  std::string event_rest;
  std::string event_min_id;
  // An amendment's or a void's: the stored record as read, its
  // contribution and its creation sequence. The write goes through only
  // while the record is still that one (Outcome::kGone otherwise).
  std::string read_blob;
  std::string read_contribution;
  int64_t read_create_sequence = 0;
  int64_t read_revision = 0;
  int64_t read_change_sequence = 0;
};

// The score of the date index (lua_scripts.cc, date_score): the day
// (year * 512 + month * 32 + day) times 2^30 plus the creation sequence, so
// that the order is by date, then creation, and every score is below 2^53.
constexpr int64_t kDateScoreDay = int64_t{1} << 30;
inline int64_t DateScore(int year, int month, int day, int64_t create_sequence) {
  return ((int64_t{year} * 16 + month) * 32 + day) * kDateScoreDay + create_sequence;
}

class Store {
 public:
  Store(redis::Client* redis, absl::Duration request_retention);

  // ---- orgs and profiles: versioned {d, r} hashes. `result` is what a
  // repeat of the request answers.
  absl::StatusOr<WriteAnswer> WriteOrg(const std::string& org_id, const std::string& mode,
                                       int64_t expected, const std::string& blob,
                                       const std::string& request_id,
                                       const std::string& fingerprint, const std::string& result);
  absl::StatusOr<WriteAnswer> WriteProfile(const std::string& org_id, const std::string& blob,
                                           const std::string& request_id,
                                           const std::string& fingerprint,
                                           const std::string& result);
  absl::Status AddToOrgIndex(const std::string& org_id);
  absl::StatusOr<bool> OrgExists(const std::string& org_id);
  absl::StatusOr<std::optional<std::string>> ReadOrg(const std::string& org_id);
  // Ids of the index after `after` ("" from the first) in id order, at
  // most `count`.
  absl::StatusOr<std::vector<std::string>> ListOrgIds(const std::string& after, int64_t count);
  // The orgs of `ids` that exist, in order.
  absl::StatusOr<std::vector<std::string>> ReadOrgs(const std::vector<std::string>& ids);
  struct ProfileRead {
    bool org_exists = false;
    std::optional<std::string> blob{};
  };
  absl::StatusOr<ProfileRead> ReadProfile(const std::string& org_id);

  // ---- figures
  // The read script's reply for `spec` (lua_scripts.h).
  absl::StatusOr<redis::Reply> ReadFigures(const std::string& org_id, const std::string& spec,
                                           int distinct_inline_budget);
  absl::StatusOr<int64_t> DataVersion(const std::string& org_id);
  // The exact union of the person hashes of `buckets` x `types`, in
  // pipelined HSCAN steps of about `scan_count` entries per hash.
  absl::StatusOr<std::set<std::string>> DistinctPersons(const std::string& org_id,
                                                        const std::vector<std::string>& buckets,
                                                        const std::vector<std::string>& types,
                                                        int scan_count);
  // The size of that union.
  absl::StatusOr<int64_t> CountDistinct(const std::string& org_id,
                                        const std::vector<std::string>& buckets,
                                        const std::vector<std::string>& types, int scan_count);
  // The data version, then the fields of each hash of `keys` (suffixes
  // after the org's prefix), in one round trip.
  struct HashKeys {
    int64_t data_version = 0;
    std::vector<std::vector<std::string>> keys;
  };
  absl::StatusOr<HashKeys> ReadHashKeys(const std::string& org_id,
                                        const std::vector<std::string>& keys);
  // Ids of the counted records of `types` in `months` (the lt indexes).
  absl::StatusOr<std::vector<std::string>> ProvenanceIds(const std::string& org_id,
                                                         const std::vector<std::string>& months,
                                                         const std::vector<std::string>& types);

  // ---- activity records
  absl::StatusOr<WriteAnswer> WriteActivity(const std::string& org_id, const ActivityWrite& w);
  // One round trip for many writes; each answer in order.
  absl::StatusOr<std::vector<WriteAnswer>> WriteActivities(const std::string& org_id,
                                                           const std::vector<ActivityWrite>& ws);
  absl::StatusOr<std::optional<std::string>> ReadActivity(const std::string& org_id,
                                                          const std::string& id);
  // The records of `ids` that exist, in order.
  absl::StatusOr<std::vector<std::string>> ReadActivities(const std::string& org_id,
                                                          const std::vector<std::string>& ids);
  // The record as revision `revision` left it, if kept.
  absl::StatusOr<std::optional<std::string>> ReadActivityRevision(const std::string& org_id,
                                                                  const std::string& id,
                                                                  int64_t revision);
  // Revisions after `after` (their numbers start at 1), at most `count`
  // (0: all).
  absl::StatusOr<std::vector<std::string>> ReadActivityRevisions(const std::string& org_id,
                                                                 const std::string& id,
                                                                 int64_t after = 0,
                                                                 int64_t count = 0);
  // The records of `ids`, in order; nullopt for one that does not exist.
  absl::StatusOr<std::vector<std::optional<std::string>>> ReadActivitiesAt(
      const std::string& org_id, const std::vector<std::string>& ids);

  // Indexes at most `count` records stored by an earlier version
  // (lua_scripts.h); how many it took, fewer than `count` when none are left.
  absl::StatusOr<int64_t> IndexLegacyRecords(const std::string& org_id, int64_t count);
  // The same for the previous version's indexes over all types.
  absl::StatusOr<int64_t> MigrateGlobalIndexes(const std::string& org_id, int64_t count);
  // The same for the previous version's one-set listing indexes.
  absl::StatusOr<int64_t> MigrateBuckets(const std::string& org_id, int64_t count);

  // One entry of a listing index: the record's id and the entry's place
  // (its sequence, or its date-index member), the cursor after it.
  struct IndexEntry {
    std::string id;
    int64_t sequence = 0;
    std::string member;
  };
  // Entries of ix:c (by_change false; of `type`, else of every type
  // merged) or ix:u (by_change true) with a sequence greater than
  // `after`, at most `count`.
  absl::StatusOr<std::vector<IndexEntry>> ListBySequence(const std::string& org_id,
                                                         const std::string& type, bool by_change,
                                                         int64_t after, int64_t count);
  // Entries of ix:d (of `type`, else of every type merged) with a DateScore
  // from `low` (excluded when `low_excluded`) to `high`, at most `count`;
  // `member` is the cursor after each, "yyyymmdd:creation sequence:id".
  absl::StatusOr<std::vector<IndexEntry>> ListByDate(const std::string& org_id,
                                                     const std::string& type, int64_t low,
                                                     bool low_excluded, int64_t high,
                                                     int64_t count);

 private:
  // The per-type listing indexes of `kind` ("c", "d") of `type`, or of
  // every type written, named without the org's prefix.
  absl::StatusOr<std::vector<std::string>> TypeIndexes(const std::string& org_id,
                                                       absl::string_view kind,
                                                       const std::string& type);
  // Entries of the `indexes` from score `low` (excluded when
  // `low_excluded`) to `high` ("+inf" or a number), at most `count` of each,
  // merged in score order; `id` is each member, `sequence` its score.
  absl::StatusOr<std::vector<IndexEntry>> ListIndexes(const std::string& org_id,
                                                      const std::vector<std::string>& indexes,
                                                      int64_t low, bool low_excluded,
                                                      const std::string& high, int64_t count);
  // The records of `ids`, in order, in either stored form.
  absl::StatusOr<std::vector<std::optional<std::string>>> ReadRecords(
      const std::string& org_id, const std::vector<std::string>& ids);
  redis::ScriptCall ActivityCall(const std::string& org_id, const ActivityWrite& w) const;

  redis::Client* redis_;
  std::string retention_seconds_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_STORE_H_
