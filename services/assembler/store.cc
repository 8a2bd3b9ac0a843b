#include "assembler/store.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "assembler/lua_scripts.h"
#include "common/paging.h"
#include "common/resource.h"
#include "common/status.h"

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
  keys_.push_back(Store::ReportKey(ref));
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

Store::Store(redis::Client* redis, StoreOptions options) : redis_(redis), options_(options) {}

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

}  // namespace govreport::assembler
