#include "assembler/store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "assembler/lua_scripts.h"
#include "common/paging.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"

namespace govreport::assembler {
namespace {

template <typename Proto>
absl::StatusOr<Proto> Parse(absl::string_view blob, absl::string_view what) {
  Proto p;
  if (!p.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is corrupt"));
  }
  return p;
}

std::string ReportPrefix(const ReportRef& ref) {
  return absl::StrCat(OrgPrefix(ref.org), "rpt:", ref.id);
}

}  // namespace

// ---------------------------------------------------------------- commit

CommitBuilder::CommitBuilder(const ReportRef& ref, int64_t expected_version,
                             const pb::Report& next) {
  keys_ = {Store::ReportKey(ref), absl::StrCat(OrgPrefix(ref.org), "rseq"),
           absl::StrCat(OrgPrefix(ref.org), "rpts:u")};
  head_ = {absl::StrCat(expected_version),
           next.SerializeAsString(),
           absl::StrCat(next.version()),
           "0",
           "0",
           ""};
}

int CommitBuilder::KeyIndex(const std::string& key) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return static_cast<int>(i) + 1;
  }
  keys_.push_back(key);
  return static_cast<int>(keys_.size());
}

void CommitBuilder::Guard(const std::string& key) { head_[3] = absl::StrCat(KeyIndex(key)); }

void CommitBuilder::Remember(absl::string_view org, const request_id::Call& call,
                             std::string result, absl::Duration retention) {
  if (call.id.empty()) return;
  int idx = KeyIndex(request_id::Key(org, call.id));
  head_[4] = absl::StrCat(idx);
  head_[5] = call.fingerprint;
  ops_.insert(ops_.end(), {"REQ", absl::StrCat(idx), call.fingerprint, std::move(result),
                           request_id::RetentionSeconds(retention)});
}

void CommitBuilder::Set(const std::string& key, std::string value, absl::Duration ttl) {
  int idx = KeyIndex(key);
  ops_.insert(ops_.end(), {"SET", absl::StrCat(idx), std::move(value),
                           absl::StrCat(absl::ToInt64Seconds(ttl))});
}

void CommitBuilder::SetNx(const std::string& key, std::string value) {
  int idx = KeyIndex(key);
  ops_.insert(ops_.end(), {"SETNX", absl::StrCat(idx), std::move(value)});
}

void CommitBuilder::ZAdd(const std::string& key, int64_t score, const std::string& member) {
  int idx = KeyIndex(key);
  ops_.insert(ops_.end(), {"ZADD", absl::StrCat(idx), absl::StrCat(score), member});
}

void CommitBuilder::XAdd(const std::string& stream, const streams::Fields& fields) {
  int idx = KeyIndex(stream);
  ops_.insert(ops_.end(), {"XADD", absl::StrCat(idx), absl::StrCat(fields.size())});
  for (const auto& [k, v] : fields) ops_.insert(ops_.end(), {k, v});
}

void CommitBuilder::XAddOrg(absl::string_view global, absl::string_view org,
                            const streams::Fields& fields) {
  redis::Args add = streams::IndexOrgCommand(global, org);
  if (std::find(index_.begin(), index_.end(), add) == index_.end()) index_.push_back(add);
  XAdd(streams::OrgStreamKey(global, org), fields);
}

void CommitBuilder::HSet(const std::string& key, const std::string& field, std::string value) {
  int idx = KeyIndex(key);
  ops_.insert(ops_.end(), {"HSET", absl::StrCat(idx), field, std::move(value)});
}

void CommitBuilder::SRem(const std::string& key, const std::string& member) {
  int idx = KeyIndex(key);
  ops_.insert(ops_.end(), {"SREM", absl::StrCat(idx), member});
}

void CommitBuilder::AppendEvent(absl::string_view org, const events::v1::Event& event,
                                absl::Duration retention) {
  int idx = KeyIndex(events::StreamKey(org));
  // Entry ids come from Redis's clock: trim by the real time.
  absl::Time now = absl::Now();
  events::Encoded e = events::Encode(event, now);
  ops_.insert(ops_.end(), {"EVENT", absl::StrCat(idx), events::MinId(now, retention),
                           std::move(e.kind), std::move(e.payload)});
}

redis::ScriptCall CommitBuilder::Build() const {
  redis::ScriptCall call;
  call.keys = keys_;
  call.args = head_;
  call.args.insert(call.args.end(), ops_.begin(), ops_.end());
  return call;
}

// ----------------------------------------------------------------- store

Store::Store(redis::Client* redis, StoreOptions options)
    : redis_(redis), options_(std::move(options)) {}

std::string Store::ReportKey(const ReportRef& ref) { return ReportPrefix(ref); }

std::string Store::RevisionKey(const RevisionRef& ref) {
  return absl::StrCat(ReportPrefix(ref.report()), ":rev:", ref.number);
}

std::string Store::DocumentKey(const RevisionRef& ref, typepb::DocumentFormat format) {
  return absl::StrCat(ReportPrefix(ref.report()), ":doc:", ref.number, ":", FormatName(format));
}

std::string Store::IndexKey(absl::string_view org) { return absl::StrCat(OrgPrefix(org), "rpts"); }

std::string Store::RequestKey(absl::string_view org, absl::string_view request_id) {
  return request_id::Key(org, request_id);
}

std::string Store::TemplateWorkflowsKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "tplwf");
}

absl::StatusOr<std::optional<pb::TemplateWorkflows>> Store::ReadTemplateWorkflows(
    absl::string_view org, absl::string_view template_base) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", TemplateWorkflowsKey(org),
                                                       std::string(template_base)}));
  if (r.IsNil()) return std::optional<pb::TemplateWorkflows>();
  GR_ASSIGN_OR_RETURN(auto b, Parse<pb::TemplateWorkflows>(r.Str(), "template workflows"));
  return std::optional<pb::TemplateWorkflows>(std::move(b));
}

absl::Status Store::WriteTemplateWorkflows(absl::string_view org,
                                           const pb::TemplateWorkflows& binding) {
  redis::Args cmd = binding.workflows().empty()
                        ? redis::Args{"HDEL", TemplateWorkflowsKey(org), binding.template_()}
                        : redis::Args{"HSET", TemplateWorkflowsKey(org), binding.template_(),
                                      binding.SerializeAsString()};
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command(cmd));
  return r.ErrorStatus();
}

absl::StatusOr<pb::Report> Store::ReadReport(const ReportRef& ref) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", ReportKey(ref), "d"}));
  if (r.IsNil()) return absl::NotFoundError(absl::StrCat(ref.Name(), " not found"));
  return Parse<pb::Report>(r.Str(), "report");
}

absl::StatusOr<int64_t> Store::ReadVersion(const ReportRef& ref) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", ReportKey(ref), "v"}));
  return r.AsInt();
}

absl::StatusOr<std::optional<request_id::Prior>> Store::ReadRequest(absl::string_view org,
                                                                    absl::string_view request_id) {
  return request_id::ReadPrior(*redis_, org, request_id);
}

absl::StatusOr<pb::Revision> Store::ReadRevision(const RevisionRef& ref) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"GET", RevisionKey(ref)}));
  if (r.IsNil()) return absl::NotFoundError(absl::StrCat(ref.Name(), " not found"));
  return Parse<pb::Revision>(r.Str(), "revision");
}

absl::StatusOr<std::string> Store::ReadDocument(const RevisionRef& ref,
                                                typepb::DocumentFormat format) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"GET", DocumentKey(ref, format)}));
  if (r.IsNil()) {
    return absl::NotFoundError(
        absl::StrCat(ref.Name(), " has no stored ", FormatName(format), " document"));
  }
  return std::string(r.Str());
}

namespace {

absl::Status AppendEntries(const redis::Reply& r, std::vector<paging::ZEntry>& out) {
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  for (size_t i = 0; i + 1 < r.Size(); i += 2) {
    paging::ZEntry e;
    e.member = r[i].AsString();
    // Sequences are integers below 2^53: exact as doubles.
    GR_ASSIGN_OR_RETURN(e.score, r[i + 1].AsInt());
    out.push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::Status BadCursor() {
  return absl::InvalidArgumentError("page_token: not a token of this order");
}

// The next `count` entries of the index of `order` after `cursor`.
absl::StatusOr<std::vector<paging::ZEntry>> ReadReportIndex(redis::Client& redis,
                                                            absl::string_view org,
                                                            ReportOrder order,
                                                            const std::string& cursor, int count) {
  std::vector<paging::ZEntry> out;
  const std::string n = absl::StrCat(count);
  if (order == ReportOrder::kChange) {
    int64_t after = 0;
    if (!cursor.empty() && !absl::SimpleAtoi(cursor, &after)) return BadCursor();
    GR_ASSIGN_OR_RETURN(
        redis::Reply r,
        redis.Command({"ZRANGEBYSCORE", absl::StrCat(OrgPrefix(org), "rpts:u"),
                       absl::StrCat("(", after), "+inf", "WITHSCORES", "LIMIT", "0", n}));
    GR_RETURN_IF_ERROR(AppendEntries(r, out));
    return out;
  }
  // By creation: ties of one millisecond by id; entries never move.
  std::optional<paging::ZEntry> after;
  if (!cursor.empty()) {
    GR_ASSIGN_OR_RETURN(after, paging::ParseZCursor(cursor));
  }
  return paging::ZPageAfter(redis, Store::IndexKey(org), after, count,
                            order == ReportOrder::kNewest);
}

}  // namespace

absl::StatusOr<Store::Page> Store::ListReports(absl::string_view org, const ReportQuery& q) {
  Page page;
  const bool filtered = q.state != pb::REPORT_STATE_UNSPECIFIED;
  const int chunk = filtered ? std::max(q.size * 2, 100) : q.size;
  std::string cursor = q.cursor;
  for (int round = 0; round < 10 && static_cast<int>(page.reports.size()) < q.size; ++round) {
    GR_ASSIGN_OR_RETURN(auto entries, ReadReportIndex(*redis_, org, q.order, cursor, chunk));
    std::vector<redis::Args> cmds;
    cmds.reserve(entries.size());
    for (const auto& e : entries) {
      cmds.push_back({"HGET", ReportKey(ReportRef{std::string(org), e.member}), "d"});
    }
    std::vector<redis::Reply> blobs;
    if (!cmds.empty()) {
      GR_ASSIGN_OR_RETURN(blobs, redis_->Pipeline(cmds));
    }
    size_t used = 0;
    for (; used < entries.size() && static_cast<int>(page.reports.size()) < q.size; ++used) {
      const paging::ZEntry& e = entries[used];
      cursor = q.order == ReportOrder::kChange ? absl::StrCat(e.score) : paging::EncodeZCursor(e);
      GR_RETURN_IF_ERROR(blobs[used].ErrorStatus());
      if (blobs[used].IsNil()) continue;
      GR_ASSIGN_OR_RETURN(pb::Report r, Parse<pb::Report>(blobs[used].Str(), "report"));
      // Changed since the index was read: it comes again further on.
      if (q.order == ReportOrder::kChange && r.change_sequence() != e.score) continue;
      if (filtered && r.state() != q.state) continue;
      page.reports.push_back(std::move(r));
    }
    if (static_cast<int>(entries.size()) < chunk && used == entries.size()) return page;
  }
  page.next_cursor = cursor;
  return page;
}

absl::StatusOr<CommitResult> Store::Commit(const CommitBuilder& commit) {
  redis::ScriptCall call = commit.Build();
  if (!commit.index().empty()) {
    // Before the commit: a stream is never written before its org is
    // indexed, so no reader can miss it (common/streams.h).
    GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> indexed, redis_->Pipeline(commit.index()));
    for (const auto& r : indexed) GR_RETURN_IF_ERROR(r.ErrorStatus());
  }
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Eval(CommitReportScript(), call.keys, call.args));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  CommitResult out;
  out.outcome = ParseOutcome(r[0].Str());
  switch (out.outcome) {
    case Outcome::kReplayed:
      out.guard_value = r[1].AsString();
      return out;
    case Outcome::kRequestReused:
    case Outcome::kNotFound:
      return out;
    case Outcome::kOk:
    case Outcome::kExists:
    case Outcome::kStale:
      break;
    default:
      return absl::InternalError(absl::StrCat("commit script answered ", r[0].Str()));
  }
  GR_ASSIGN_OR_RETURN(out.version, r[1].AsInt());
  if (out.outcome == Outcome::kOk) {
    GR_ASSIGN_OR_RETURN(out.change_sequence, r[2].AsInt());
  }
  return out;
}

namespace {

// The report ids of one org's index, at most `limit`.
absl::StatusOr<std::vector<std::string>> IndexedIds(redis::Client& redis, const std::string& index,
                                                    int64_t limit) {
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis.Command({"ZRANGE", index, "0", absl::StrCat(limit - 1)}));
  std::vector<std::string> ids;
  ids.reserve(r.Size());
  for (size_t i = 0; i < r.Size(); ++i) ids.push_back(r[i].AsString());
  return ids;
}

// Adds the states of the reports `ids` of `org`, read in pipelines of 500.
absl::Status CountStates(redis::Client& redis, const std::string& org,
                         const std::vector<std::string>& ids,
                         std::map<pb::ReportState, int64_t>& counts) {
  constexpr size_t kChunk = 500;
  for (size_t at = 0; at < ids.size(); at += kChunk) {
    std::vector<redis::Args> cmds;
    for (size_t i = at; i < std::min(ids.size(), at + kChunk); ++i) {
      cmds.push_back({"HGET", Store::ReportKey({org, ids[i]}), "d"});
    }
    GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> blobs, redis.Pipeline(cmds));
    for (const redis::Reply& blob : blobs) {
      if (blob.IsNil() || !blob.ErrorStatus().ok()) continue;
      absl::StatusOr<pb::Report> r = Parse<pb::Report>(blob.Str(), "report");
      if (r.ok()) ++counts[r->state()];
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Store::CountByState(int64_t limit, StateCounts& out) {
  out = StateCounts{};
  // The orgs as records keeps them: SCAN, which would find the indexes
  // without it, is refused to every service (deploy/redis/users.acl.template).
  GR_ASSIGN_OR_RETURN(redis::Reply orgs,
                      redis_->Command({"ZRANGE", std::string(kOrgIndexKey), "0", "-1"}));
  int64_t read = 0;
  for (size_t k = 0; k < orgs.Size(); ++k) {
    std::string org = orgs[k].AsString();
    // One more than may be read, to tell whether the limit cut this org.
    GR_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                        IndexedIds(*redis_, IndexKey(org), limit - read + 1));
    if (static_cast<int64_t>(ids.size()) > limit - read) {
      ids.resize(limit - read);
      out.truncated = true;
    }
    read += static_cast<int64_t>(ids.size());
    GR_RETURN_IF_ERROR(CountStates(*redis_, org, ids, out.counts));
    if (out.truncated) break;
  }
  return absl::OkStatus();
}

// ------------------------------------------- document settings, register

namespace {

std::string NumberPrefix(absl::string_view org) { return absl::StrCat(OrgPrefix(org), "dn:"); }

// An entry as the allocate and void scripts write it (HGETALL).
absl::StatusOr<pb::DocumentNumber> EntryFromHash(absl::string_view org, int64_t id,
                                                 const redis::Reply& r) {
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < r.Size(); i += 2) f[r[i].AsString()] = r[i + 1].AsString();
  pb::DocumentNumber out;
  out.set_name(DocumentNumberRef{std::string(org), id}.Name());
  int64_t year = 0, number = 0, issued = 0, voided = 0;
  if (!absl::SimpleAtoi(f["year"], &year) || !absl::SimpleAtoi(f["number"], &number)) {
    return absl::DataLossError(absl::StrCat("stored ", out.name(), " is corrupt"));
  }
  out.set_code(f["code"]);
  out.set_year(static_cast<int32_t>(year));
  out.set_number(number);
  out.set_display(FormatDocumentNumber(out.code(), year, number));
  out.set_revision(f["revision"]);
  out.set_approval(f["approval"]);
  out.set_state(f["state"] == "VOIDED" ? pb::DOCUMENT_NUMBER_STATE_VOIDED
                                       : pb::DOCUMENT_NUMBER_STATE_ISSUED);
  if (absl::SimpleAtoi(f["issue_unix"], &issued)) *out.mutable_issue_time() = ToTimestamp(issued);
  out.set_published(f["published"] == "1");
  out.set_void_reason(f["void_reason"]);
  out.set_voided_by(f["voided_by"]);
  if (absl::SimpleAtoi(f["void_unix"], &voided)) *out.mutable_void_time() = ToTimestamp(voided);
  return out;
}

absl::StatusOr<RegisterResult> RegisterAnswer(const redis::Reply& r) {
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  RegisterResult out;
  out.outcome = ParseOutcome(r[0].Str());
  if (out.outcome == Outcome::kUnknown) {
    return absl::InternalError(absl::StrCat("register script answered ", r[0].Str()));
  }
  if (r.Size() > 1) out.detail = r[1].AsString();
  return out;
}

}  // namespace

std::string Store::DocumentSettingsKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "docset");
}

std::string Store::DocumentNumberKey(absl::string_view org, int64_t id) {
  return absl::StrCat(NumberPrefix(org), id);
}

std::string Store::PendingNumbersKey(absl::string_view org) {
  return absl::StrCat(NumberPrefix(org), "p");
}

absl::StatusOr<pb::DocumentSettings> Store::ReadDocumentSettings(absl::string_view org) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", DocumentSettingsKey(org), "d"}));
  if (r.IsNil()) {
    pb::DocumentSettings empty;
    empty.set_name(DocumentSettingsName(org));
    return empty;
  }
  return Parse<pb::DocumentSettings>(r.Str(), "document settings");
}

absl::StatusOr<RegisterResult> Store::WriteDocumentSettings(absl::string_view org,
                                                            int64_t read_revision,
                                                            const pb::DocumentSettings& next,
                                                            bool code_changed,
                                                            const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(
          UpdateDocumentSettingsScript(),
          {DocumentSettingsKey(org), PendingNumbersKey(org), request_id::Key(org, call.id)},
          {absl::StrCat(read_revision), next.SerializeAsString(), next.code(),
           code_changed ? "1" : "0", call.id.empty() ? "" : call.fingerprint,
           request_id::RetentionSeconds(options_.request_retention)}));
  return RegisterAnswer(r);
}

std::string Store::SigningKeysKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "sigkeys");
}

std::string Store::SealedKeysKey(absl::string_view org) {
  return absl::StrCat(OrgPrefix(org), "sigkeys:sealed");
}

absl::StatusOr<int64_t> Store::NextSigningKeyNumber(absl::string_view org) {
  // A number taken by a call that then fails is a gap, never a reuse: the
  // sealed key is bound to its name.
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"HINCRBY", SigningKeysKey(org), "seq", "1"}));
  return r.AsInt();
}

absl::StatusOr<RegisterResult> Store::AddSigningKey(absl::string_view org, int64_t n,
                                                    const pb::SigningKey& key,
                                                    absl::string_view sealed_private_key,
                                                    int64_t now_micros,
                                                    const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(AddSigningKeyScript(),
                   {SigningKeysKey(org), SealedKeysKey(org), request_id::Key(org, call.id)},
                   {absl::StrCat(n), key.SerializeAsString(), std::string(sealed_private_key),
                    absl::StrCat(now_micros), call.id.empty() ? "" : call.fingerprint,
                    request_id::RetentionSeconds(options_.request_retention)}));
  return RegisterAnswer(r);
}

absl::StatusOr<std::vector<pb::SigningKey>> Store::ReadSigningKeys(absl::string_view org) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGETALL", SigningKeysKey(org)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::map<int64_t, pb::SigningKey> keys;
  std::map<int64_t, int64_t> retired;
  int64_t active = 0;
  for (size_t i = 0; i + 1 < r.Size(); i += 2) {
    const std::string field = r[i].AsString();
    const std::string value = r[i + 1].AsString();
    int64_t n = 0;
    if (field == "active") {
      if (!absl::SimpleAtoi(value, &active)) return absl::DataLossError("corrupt active key");
    } else if (field.size() > 1 && field[0] == 'k' && absl::SimpleAtoi(field.substr(1), &n)) {
      GR_ASSIGN_OR_RETURN(keys[n], Parse<pb::SigningKey>(value, "signing key"));
    } else if (field.size() > 1 && field[0] == 'r' && absl::SimpleAtoi(field.substr(1), &n)) {
      int64_t when = 0;
      if (!absl::SimpleAtoi(value, &when)) return absl::DataLossError("corrupt retire time");
      retired[n] = when;
    }
  }
  std::vector<pb::SigningKey> out;
  out.reserve(keys.size());
  for (auto& [n, key] : keys) {
    key.set_state(n == active ? pb::SIGNING_KEY_STATE_ACTIVE : pb::SIGNING_KEY_STATE_RETIRED);
    if (auto it = retired.find(n); it != retired.end() && n != active) {
      key.mutable_retire_time()->set_seconds(it->second / 1000000);
      key.mutable_retire_time()->set_nanos(static_cast<int32_t>(it->second % 1000000) * 1000);
    }
    out.push_back(std::move(key));
  }
  return out;
}

absl::StatusOr<StoredSigningKey> Store::StoredKey(absl::string_view org, absl::string_view n) {
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> got,
                      redis_->Pipeline({{"HGET", SigningKeysKey(org), absl::StrCat("k", n)},
                                        {"HGET", SealedKeysKey(org), absl::StrCat("s", n)}}));
  for (const redis::Reply& r : got) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    if (r.IsNil()) return absl::DataLossError(absl::StrCat("signing key ", n, " is incomplete"));
  }
  StoredSigningKey out;
  out.stored = std::string(got[0].Str());
  GR_ASSIGN_OR_RETURN(out.key, Parse<pb::SigningKey>(out.stored, "signing key"));
  out.sealed_private_key = std::string(got[1].Str());
  return out;
}

absl::StatusOr<std::optional<StoredSigningKey>> Store::ActiveSigningKey(absl::string_view org) {
  GR_ASSIGN_OR_RETURN(redis::Reply active,
                      redis_->Command({"HGET", SigningKeysKey(org), "active"}));
  if (active.IsNil()) return std::optional<StoredSigningKey>();
  GR_ASSIGN_OR_RETURN(StoredSigningKey out, StoredKey(org, active.Str()));
  out.key.set_state(pb::SIGNING_KEY_STATE_ACTIVE);
  return out;
}

absl::StatusOr<std::optional<StoredSigningKey>> Store::ReadSigningKey(absl::string_view org,
                                                                      int64_t n) {
  // Every key for the state and retire time of this one.
  GR_ASSIGN_OR_RETURN(std::vector<pb::SigningKey> keys, ReadSigningKeys(org));
  for (auto& k : keys) {
    if (k.name() != absl::StrCat("orgs/", org, "/signingKeys/", n)) continue;
    GR_ASSIGN_OR_RETURN(StoredSigningKey out, StoredKey(org, absl::StrCat(n)));
    out.key = std::move(k);
    return std::optional<StoredSigningKey>(std::move(out));
  }
  return std::optional<StoredSigningKey>();
}

absl::StatusOr<bool> Store::ReplaceSigningKey(absl::string_view org, int64_t n,
                                              absl::string_view stored, const pb::SigningKey& key) {
  pb::SigningKey bare = key;
  bare.clear_state();
  bare.clear_retire_time();
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Eval(ReplaceSigningKeyScript(), {SigningKeysKey(org)},
                                                   {absl::StrCat("k", n), std::string(stored),
                                                    bare.SerializeAsString()}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  return r.Int() == 1;
}

absl::StatusOr<std::optional<Allocation>> Store::AllocateDocumentNumber(
    absl::string_view org, absl::string_view approval, absl::string_view code, int year,
    absl::string_view revision_name, int64_t now_unix) {
  const std::string p = NumberPrefix(org);
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(AllocateDocumentNumberScript(),
                   {DocumentSettingsKey(org), p + "ctr", p + "by", p + "seq", p + "i", p + "p"},
                   {std::string(approval), std::string(code), absl::StrCat(year),
                    std::string(revision_name), absl::StrCat(now_unix)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  if (r[0].Str() == "STALE") return std::optional<Allocation>();
  Allocation a;
  if (r[0].Str() != "OK" || r.Size() < 4 || !absl::SimpleAtoi(r[1].Str(), &a.id) ||
      !absl::SimpleAtoi(r[2].Str(), &a.number)) {
    return absl::InternalError("allocate script gave an answer of another form");
  }
  a.fresh = r[3].Str() == "1";
  return std::optional<Allocation>(a);
}

absl::StatusOr<int64_t> Store::DocumentNumberOf(absl::string_view org, absl::string_view approval) {
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"HGET", NumberPrefix(org) + "by", std::string(approval)}));
  if (r.IsNil()) return 0;
  int64_t id = 0;
  if (!absl::SimpleAtoi(r.Str(), &id)) return absl::DataLossError("stored register id is corrupt");
  return id;
}

absl::StatusOr<pb::DocumentNumber> Store::ReadDocumentNumber(absl::string_view org, int64_t id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGETALL", DocumentNumberKey(org, id)}));
  if (r.Size() == 0) {
    return absl::NotFoundError(
        absl::StrCat(DocumentNumberRef{std::string(org), id}.Name(), " not found"));
  }
  return EntryFromHash(org, id, r);
}

absl::StatusOr<Store::NumberPage> Store::ListDocumentNumbers(absl::string_view org,
                                                             int64_t after_id, int count) {
  GR_ASSIGN_OR_RETURN(redis::Reply ids, redis_->Command({"ZRANGEBYSCORE", NumberPrefix(org) + "i",
                                                         absl::StrCat("(", after_id), "+inf",
                                                         "LIMIT", "0", absl::StrCat(count)}));
  GR_RETURN_IF_ERROR(ids.ErrorStatus());
  NumberPage page;
  std::vector<redis::Args> cmds;
  std::vector<int64_t> order;
  for (size_t i = 0; i < ids.Size(); ++i) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(ids[i].Str(), &id)) return absl::DataLossError("corrupt register index");
    order.push_back(id);
    cmds.push_back({"HGETALL", DocumentNumberKey(org, id)});
  }
  if (cmds.empty()) return page;
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> entries, redis_->Pipeline(cmds));
  for (size_t i = 0; i < entries.size(); ++i) {
    GR_ASSIGN_OR_RETURN(pb::DocumentNumber n, EntryFromHash(org, order[i], entries[i]));
    page.numbers.push_back(std::move(n));
  }
  page.ids = std::move(order);
  page.more = static_cast<int>(page.ids.size()) == count;
  return page;
}

absl::StatusOr<RegisterResult> Store::VoidDocumentNumber(absl::string_view org, int64_t id,
                                                         absl::string_view reason,
                                                         absl::string_view by, int64_t now_unix,
                                                         VoidMode mode,
                                                         const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(
          VoidDocumentNumberScript(),
          {DocumentNumberKey(org, id), PendingNumbersKey(org), request_id::Key(org, call.id)},
          {absl::StrCat(id), std::string(reason), std::string(by), absl::StrCat(now_unix),
           mode == VoidMode::kAdmin ? "admin" : "unpublished",
           call.id.empty() ? "" : call.fingerprint,
           request_id::RetentionSeconds(options_.request_retention)}));
  return RegisterAnswer(r);
}

absl::StatusOr<Numbering> NumberSignOff(Store& store, const RevisionRef& ref,
                                        const SignOff& sign_off, int64_t now_unix) {
  const int year = static_cast<int>(IssueDateOf(sign_off.sign_off_unix).year());
  constexpr int kPasses = 8;
  for (int pass = 0; pass < kPasses; ++pass) {
    GR_ASSIGN_OR_RETURN(pb::DocumentSettings settings, store.ReadDocumentSettings(ref.org));
    Numbering out;
    if (settings.code().empty()) {
      out.settings = std::move(settings);
      return out;
    }
    GR_ASSIGN_OR_RETURN(std::optional<Allocation> a,
                        store.AllocateDocumentNumber(ref.org, sign_off.approval, settings.code(),
                                                     year, ref.Name(), now_unix));
    if (!a) continue;  // The 代字 changed meanwhile: read the settings again.
    out.name = DocumentNumberRef{ref.org, a->id}.Name();
    if (a->fresh) {
      out.display = FormatDocumentNumber(settings.code(), year, a->number);
    } else {
      // Given before (a redelivery): printed as the register has it.
      GR_ASSIGN_OR_RETURN(pb::DocumentNumber stored, store.ReadDocumentNumber(ref.org, a->id));
      out.display = stored.display();
    }
    out.settings = std::move(settings);
    return out;
  }
  return absl::AbortedError(
      absl::StrCat("the document settings of orgs/", ref.org, " kept changing"));
}

absl::StatusOr<pb::Report> RecordOutdated(Store& store, const ReportRef& ref, int64_t revision,
                                          const pb::Staleness& now, int64_t now_unix) {
  using Result = absl::StatusOr<pb::Report>;
  pb::Report next;
  constexpr int kPasses = 8;
  return ReadModifyCommit<Result>(
      store, ref, kPasses, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<Result> {
        if (!report.ok()) return Result(report.status());
        if (report->published_revision() != revision) return Result(*report);
        OutdatedChange change = ClassifyOutdated(*report, now);
        if (change == OutdatedChange::kNone) return Result(*report);
        next = *report;
        if (change == OutdatedChange::kCleared) {
          next.clear_outdated();
        } else {
          *next.mutable_outdated() = now;
        }
        next.set_version(report->version() + 1);
        *next.mutable_update_time() = ToTimestamp(now_unix);
        CommitBuilder commit(ref, report->version(), next);
        if (change == OutdatedChange::kOutdated) {
          commit.AppendEvent(ref.org, OutdatedEvent(ref, next, now, now_unix),
                             store.event_retention());
        }
        return commit;
      },
      [&](const absl::StatusOr<CommitResult>& result) -> std::optional<Result> {
        if (!result.ok()) return Result(result.status());
        if (result->outcome == Outcome::kOk) {
          next.set_change_sequence(result->change_sequence);
          return Result(next);
        }
        return std::nullopt;
      },
      [&] { return Result(absl::AbortedError(absl::StrCat(ref.Name(), " kept changing"))); });
}

}  // namespace govreport::assembler
