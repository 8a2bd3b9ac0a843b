#include "records/store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/events.h"
#include "common/request_id.h"
#include "common/resource.h"
#include "common/status.h"
#include "records/lua_scripts.h"

namespace govreport::records {
namespace {

std::string Key(const std::string& org, absl::string_view suffix) {
  return absl::StrCat(OrgPrefix(org), suffix);
}
std::string DataVersionKey(const std::string& org) { return Key(org, "dv"); }
std::string ActivityKey(const std::string& org, const std::string& id) {
  return Key(org, absl::StrCat("a:", id));
}

absl::StatusOr<WriteAnswer> Answer(absl::StatusOr<redis::Reply> reply) {
  if (!reply.ok()) return reply.status();
  GR_RETURN_IF_ERROR(reply->ErrorStatus());
  WriteAnswer a;
  a.outcome = ParseOutcome((*reply)[0].Str());
  a.reply = std::move(*reply);
  return a;
}

// The present ones of a pipeline of HGET d.
absl::StatusOr<std::vector<std::string>> PresentBlobs(const std::vector<redis::Reply>& replies) {
  std::vector<std::string> out;
  out.reserve(replies.size());
  for (const auto& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    if (!r.IsNil()) out.push_back(std::string(r.Str()));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> OptionalBlob(absl::StatusOr<redis::Reply> r) {
  if (!r.ok()) return r.status();
  if (r->IsNil()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(r->Str()));
}

bool IsWrongType(const redis::Reply& r) {
  return r.IsError() && absl::StartsWith(r.Str(), "WRONGTYPE");
}

}  // namespace

absl::StatusOr<std::vector<std::optional<std::string>>> Store::ReadRecords(
    const std::string& org_id, const std::vector<std::string>& ids) {
  // A record is a string; one an earlier version wrote and that has not
  // changed since is a hash {d, ...}: read again as one, a second round
  // trip for those only.
  std::vector<std::optional<std::string>> out(ids.size());
  if (ids.empty()) return out;
  std::vector<redis::Args> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) cmds.push_back({"GET", ActivityKey(org_id, id)});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  std::vector<size_t> hashes;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (IsWrongType(replies[i])) {
      hashes.push_back(i);
      continue;
    }
    GR_RETURN_IF_ERROR(replies[i].ErrorStatus());
    if (!replies[i].IsNil()) out[i] = std::string(replies[i].Str());
  }
  if (hashes.empty()) return out;
  cmds.clear();
  for (size_t i : hashes) cmds.push_back({"HGET", ActivityKey(org_id, ids[i]), "d"});
  GR_ASSIGN_OR_RETURN(auto legacy, redis_->Pipeline(cmds));
  for (size_t k = 0; k < hashes.size(); ++k) {
    GR_RETURN_IF_ERROR(legacy[k].ErrorStatus());
    if (!legacy[k].IsNil()) out[hashes[k]] = std::string(legacy[k].Str());
  }
  return out;
}

Store::Store(redis::Client* redis, absl::Duration request_retention)
    : redis_(redis), retention_seconds_(request_id::RetentionSeconds(request_retention)) {}

// ------------------------------------------------------------------ orgs

absl::StatusOr<WriteAnswer> Store::WriteOrg(const std::string& org_id, const std::string& mode,
                                            int64_t expected, const std::string& blob,
                                            const std::string& request_id,
                                            const std::string& fingerprint,
                                            const std::string& result) {
  return Answer(redis_->Eval(VersionedSetScript(),
                             {Key(org_id, "org"), request_id::Key(org_id, request_id)},
                             {mode, absl::StrCat(expected), blob,
                              request_id.empty() ? "" : fingerprint, retention_seconds_, result}));
}

absl::StatusOr<WriteAnswer> Store::WriteProfile(const std::string& org_id, const std::string& blob,
                                                const std::string& request_id,
                                                const std::string& fingerprint,
                                                const std::string& result) {
  return Answer(redis_->Eval(
      VersionedSetScript(), {Key(org_id, "profile"), request_id::Key(org_id, request_id)},
      {"put", "0", blob, request_id.empty() ? "" : fingerprint, retention_seconds_, result}));
}

absl::Status Store::AddToOrgIndex(const std::string& org_id) {
  return redis_->Command({"ZADD", std::string(kOrgIndexKey), "0", org_id}).status();
}

absl::StatusOr<bool> Store::OrgExists(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"EXISTS", Key(org_id, "org")}));
  return r.Int() != 0;
}

absl::StatusOr<std::optional<std::string>> Store::ReadOrg(const std::string& org_id) {
  return OptionalBlob(redis_->Command({"HGET", Key(org_id, "org"), "d"}));
}

absl::StatusOr<std::vector<std::string>> Store::ListOrgIds(const std::string& after,
                                                           int64_t count) {
  // Every score is 0: the set is ordered by id.
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"ZRANGEBYLEX", std::string(kOrgIndexKey),
                                       after.empty() ? "-" : absl::StrCat("(", after), "+", "LIMIT",
                                       "0", absl::StrCat(count)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::vector<std::string> ids;
  for (size_t i = 0; i < r.Size(); ++i) ids.push_back(r[i].AsString());
  return ids;
}

absl::StatusOr<std::vector<std::string>> Store::ReadOrgs(const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<std::string>();
  std::vector<redis::Args> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) cmds.push_back({"HGET", Key(id, "org"), "d"});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  return PresentBlobs(replies);
}

absl::StatusOr<Store::ProfileRead> Store::ReadProfile(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline({{"HGET", Key(org_id, "profile"), "d"},
                                                      {"EXISTS", Key(org_id, "org")}}));
  // Error replies stay in a pipeline's vector: an error read as 0 would
  // say "not found" for an org that exists.
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  ProfileRead out;
  out.org_exists = replies[1].Int() != 0;
  if (!replies[0].IsNil()) out.blob = std::string(replies[0].Str());
  return out;
}

// --------------------------------------------------------------- figures

absl::StatusOr<redis::Reply> Store::ReadFigures(const std::string& org_id, const std::string& spec,
                                                int distinct_inline_budget) {
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(ReadFiguresScript(), {DataVersionKey(org_id)},
                                   {spec, absl::StrCat(std::max(0, distinct_inline_budget)),
                                    redis_->cluster() ? "1" : "0"}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  return r;
}

absl::StatusOr<int64_t> Store::DataVersion(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(redis::Reply now, redis_->Command({"GET", DataVersionKey(org_id)}));
  if (now.IsNil()) return 0;
  return now.AsInt();
}

absl::StatusOr<int64_t> Store::CountDistinct(const std::string& org_id,
                                             const std::vector<std::string>& buckets,
                                             const std::vector<std::string>& types,
                                             int scan_count) {
  GR_ASSIGN_OR_RETURN(auto persons, DistinctPersons(org_id, buckets, types, scan_count));
  return static_cast<int64_t>(persons.size());
}

absl::StatusOr<std::set<std::string>> Store::DistinctPersons(
    const std::string& org_id, const std::vector<std::string>& buckets,
    const std::vector<std::string>& types, int scan_count) {
  std::set<std::string> seen;
  // (key, cursor) of every hash still being scanned; one pipelined HSCAN
  // per hash and round.
  std::vector<std::pair<std::string, std::string>> open;
  for (const auto& b : buckets) {
    for (const auto& t : types) open.emplace_back(Key(org_id, absl::StrCat("dp:", b, ":", t)), "0");
  }
  std::string count = absl::StrCat(std::max(1, scan_count));
  while (!open.empty()) {
    std::vector<redis::Args> cmds;
    cmds.reserve(open.size());
    for (const auto& [key, cursor] : open) cmds.push_back({"HSCAN", key, cursor, "COUNT", count});
    GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
    std::vector<std::pair<std::string, std::string>> next;
    for (size_t i = 0; i < replies.size(); ++i) {
      GR_RETURN_IF_ERROR(replies[i].ErrorStatus());
      auto entries = replies[i][1];
      for (size_t k = 0; k + 1 < entries.Size(); k += 2) seen.insert(entries[k].AsString());
      std::string cursor = replies[i][0].AsString();
      if (cursor != "0") next.emplace_back(open[i].first, cursor);
    }
    open = std::move(next);
  }
  return seen;
}

absl::StatusOr<Store::HashKeys> Store::ReadHashKeys(const std::string& org_id,
                                                    const std::vector<std::string>& keys) {
  std::vector<redis::Args> cmds;
  cmds.reserve(keys.size() + 1);
  cmds.push_back({"GET", DataVersionKey(org_id)});
  for (const auto& k : keys) cmds.push_back({"HKEYS", Key(org_id, k)});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  HashKeys out;
  if (!replies[0].IsNil()) {
    GR_ASSIGN_OR_RETURN(out.data_version, replies[0].AsInt());
  }
  for (size_t i = 1; i < replies.size(); ++i) {
    std::vector<std::string> fields;
    for (size_t j = 0; j < replies[i].Size(); ++j) fields.push_back(replies[i][j].AsString());
    out.keys.push_back(std::move(fields));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Store::ProvenanceIds(
    const std::string& org_id, const std::vector<std::string>& months,
    const std::vector<std::string>& types) {
  // The latest-value indexes hold exactly the counted (not voided) records
  // of a month and type: provenance needs no set of its own.
  std::vector<redis::Args> cmds;
  for (const auto& m : months) {
    for (const auto& t : types)
      cmds.push_back({"ZRANGE", Key(org_id, absl::StrCat("lt:", m, ":", t)), "0", "-1"});
  }
  std::vector<std::string> ids;
  if (cmds.empty()) return ids;
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    for (size_t i = 0; i < r.Size(); ++i) ids.push_back(r[i].AsString());
  }
  return ids;
}

// ------------------------------------------------------------ activities

redis::ScriptCall Store::ActivityCall(const std::string& org_id, const ActivityWrite& w) const {
  redis::ScriptCall call;
  call.keys = {DataVersionKey(org_id), request_id::Key(org_id, w.request_id),
               events::StreamKey(org_id)};
  call.args = {w.op,
               w.id,
               w.request_id.empty() ? "" : w.fingerprint,
               w.external_key,
               w.content_hash,
               absl::StrCat(w.expected_revision),
               w.blob,
               w.contribution,
               retention_seconds_,
               w.quota_day,
               absl::StrCat(std::max<int64_t>(0, w.quota_records)),
               absl::StrCat(std::max<int64_t>(0, w.quota_bytes)),
               absl::StrCat(std::max<int64_t>(0, w.max_persons_per_year)),
               w.event_head,
               w.event_kind,
               w.event_rest,
               w.event_min_id,
               w.read_blob,
               w.read_contribution,
               absl::StrCat(w.read_create_sequence),
               absl::StrCat(w.read_revision),
               redis_->cluster() ? "1" : "0",
               absl::StrCat(w.read_change_sequence)};
  return call;
}

absl::StatusOr<WriteAnswer> Store::WriteActivity(const std::string& org_id,
                                                 const ActivityWrite& w) {
  redis::ScriptCall call = ActivityCall(org_id, w);
  return Answer(redis_->Eval(WriteActivityScript(), call.keys, call.args));
}

absl::StatusOr<std::vector<WriteAnswer>> Store::WriteActivities(
    const std::string& org_id, const std::vector<ActivityWrite>& ws) {
  std::vector<redis::ScriptCall> calls;
  calls.reserve(ws.size());
  for (const auto& w : ws) calls.push_back(ActivityCall(org_id, w));
  GR_ASSIGN_OR_RETURN(auto replies, redis_->EvalPipeline(WriteActivityScript(), calls));
  std::vector<WriteAnswer> out;
  out.reserve(replies.size());
  for (auto& r : replies) {
    GR_ASSIGN_OR_RETURN(WriteAnswer a, Answer(std::move(r)));
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> Store::ReadActivity(const std::string& org_id,
                                                               const std::string& id) {
  GR_ASSIGN_OR_RETURN(auto one, ReadRecords(org_id, {id}));
  return std::move(one[0]);
}

absl::StatusOr<std::vector<std::string>> Store::ReadActivities(
    const std::string& org_id, const std::vector<std::string>& ids) {
  GR_ASSIGN_OR_RETURN(auto all, ReadRecords(org_id, ids));
  std::vector<std::string> out;
  out.reserve(all.size());
  for (auto& r : all) {
    if (r) out.push_back(std::move(*r));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> Store::ReadActivityRevision(const std::string& org_id,
                                                                       const std::string& id,
                                                                       int64_t revision) {
  // A record never changed has no history list: its revision 1 is itself.
  std::string history = absl::StrCat(ActivityKey(org_id, id), ":h");
  GR_ASSIGN_OR_RETURN(
      auto replies,
      redis_->Pipeline({{"LINDEX", history, absl::StrCat(revision - 1)}, {"EXISTS", history}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  if (!replies[0].IsNil()) return std::optional<std::string>(std::string(replies[0].Str()));
  if (revision != 1 || replies[1].Int() != 0) return std::optional<std::string>();
  return ReadActivity(org_id, id);
}

absl::StatusOr<std::vector<std::string>> Store::ReadActivityRevisions(const std::string& org_id,
                                                                      const std::string& id,
                                                                      int64_t after,
                                                                      int64_t count) {
  // Revision n is element n - 1 of the list, which is only appended to;
  // a record without a list has one revision, itself (no change yet).
  std::string history = absl::StrCat(ActivityKey(org_id, id), ":h");
  GR_ASSIGN_OR_RETURN(auto replies,
                      redis_->Pipeline({{"LRANGE", history, absl::StrCat(after),
                                         count > 0 ? absl::StrCat(after + count - 1) : "-1"},
                                        {"EXISTS", history}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::vector<std::string> out;
  if (replies[1].Int() == 0) {
    if (after != 0) return out;
    GR_ASSIGN_OR_RETURN(auto current, ReadActivity(org_id, id));
    if (current) out.push_back(std::move(*current));
    return out;
  }
  for (size_t i = 0; i < replies[0].Size(); ++i) out.push_back(replies[0][i].AsString());
  return out;
}

absl::StatusOr<std::vector<std::optional<std::string>>> Store::ReadActivitiesAt(
    const std::string& org_id, const std::vector<std::string>& ids) {
  return ReadRecords(org_id, ids);
}

absl::StatusOr<std::vector<std::string>> Store::TypeIndexes(const std::string& org_id,
                                                            absl::string_view kind,
                                                            const std::string& type) {
  std::vector<std::string> indexes;
  if (!type.empty()) {
    indexes.push_back(absl::StrCat("ix:", kind, ":", type));
    return indexes;
  }
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"SMEMBERS", Key(org_id, "types")}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  for (size_t i = 0; i < r.Size(); ++i)
    indexes.push_back(absl::StrCat("ix:", kind, ":", r[i].Str()));
  return indexes;
}

absl::StatusOr<int64_t> Store::MigrateGlobalIndexes(const std::string& org_id, int64_t count) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(MigrateGlobalIndexesScript(), {DataVersionKey(org_id)}, {absl::StrCat(count)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  return r.AsInt();
}

absl::StatusOr<int64_t> Store::MigrateBuckets(const std::string& org_id, int64_t count) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Eval(MigrateBucketsScript(), {DataVersionKey(org_id)},
                                                   {absl::StrCat(count)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  return r.AsInt();
}

absl::StatusOr<int64_t> Store::IndexLegacyRecords(const std::string& org_id, int64_t count) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(IndexLegacyRecordsScript(), {DataVersionKey(org_id)}, {absl::StrCat(count)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  return r.AsInt();
}

absl::StatusOr<std::vector<Store::IndexEntry>> Store::ListIndexes(
    const std::string& org_id, const std::vector<std::string>& indexes, int64_t low,
    bool low_excluded, const std::string& high, int64_t count) {
  std::vector<IndexEntry> out;
  if (indexes.empty()) return out;
  std::vector<std::string> args{absl::StrCat(low), low_excluded ? "1" : "0", high,
                                absl::StrCat(count), redis_->cluster() ? "1" : "0"};
  args.insert(args.end(), indexes.begin(), indexes.end());
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(ListIndexScript(), {DataVersionKey(org_id)}, args));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  // The first `count` of the merge are among the first `count` of each.
  for (size_t i = 0; i < r.Size(); ++i) {
    for (size_t j = 0; j + 1 < r[i].Size(); j += 2) {
      IndexEntry e;
      e.id = r[i][j].AsString();
      // Scores are integers below 2^53, sent as their digits.
      GR_ASSIGN_OR_RETURN(e.sequence, r[i][j + 1].AsInt());
      out.push_back(std::move(e));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const IndexEntry& x, const IndexEntry& y) { return x.sequence < y.sequence; });
  if (static_cast<int64_t>(out.size()) > count) out.resize(static_cast<size_t>(count));
  return out;
}

absl::StatusOr<std::vector<Store::IndexEntry>> Store::ListBySequence(const std::string& org_id,
                                                                     const std::string& type,
                                                                     bool by_change, int64_t after,
                                                                     int64_t count) {
  std::vector<std::string> indexes{"ix:u"};
  if (!by_change) {
    GR_ASSIGN_OR_RETURN(indexes, TypeIndexes(org_id, "c", type));
  }
  return ListIndexes(org_id, indexes, after, true, "+inf", count);
}

absl::StatusOr<std::vector<Store::IndexEntry>> Store::ListByDate(const std::string& org_id,
                                                                 const std::string& type,
                                                                 int64_t low, bool low_excluded,
                                                                 int64_t high, int64_t count) {
  GR_ASSIGN_OR_RETURN(std::vector<std::string> indexes, TypeIndexes(org_id, "d", type));
  GR_ASSIGN_OR_RETURN(std::vector<IndexEntry> out,
                      ListIndexes(org_id, indexes, low, low_excluded, absl::StrCat(high), count));
  for (IndexEntry& e : out) {
    const int64_t day = e.sequence / kDateScoreDay;
    e.member = absl::StrFormat("%04d%02d%02d:%015d:%s", day / 512, day % 512 / 32, day % 32,
                               e.sequence % kDateScoreDay, e.id);
  }
  return out;
}

}  // namespace govreport::records
