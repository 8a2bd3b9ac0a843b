#include "records/core.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/stored_proto.h"
#include "common/timestamp.h"

namespace govreport::records {
namespace {

// NOT_FOUND with the reason of the resource's kind ("orgs/x/activities/y":
// ACTIVITY_NOT_FOUND), the message "<name> not found".
absl::Status NotFound(absl::string_view name) {
  absl::string_view kind = "org";
  if (absl::StrContains(name, "/activities/")) kind = "activity";
  if (absl::StrContains(name, "/indicators/")) kind = "indicator";
  return errors::WithReason(absl::NotFoundError(absl::StrCat(name, " not found")),
                            absl::AsciiStrToUpper(absl::StrCat(kind, "_NOT_FOUND")),
                            absl::StrCat(name, " 不存在"));
}

absl::Status RevisionMismatch(absl::Status status) {
  return errors::WithReason(
      std::move(status), "REVISION_MISMATCH",
      "资源已被他人修改，请重新读取后以其当前 revision 作为 expected_revision 重试");
}

// An event of `org_id` by `actor`, without its payload.
events::v1::Event EventOf(const std::string& org_id, events::v1::EventKind kind,
                          const std::string& actor, const std::string& request_id) {
  events::v1::Event e;
  e.set_kind(kind);
  e.set_org(absl::StrCat("orgs/", org_id));
  e.set_actor(actor);
  e.set_request_id(request_id);
  return e;
}

// Who a fingerprint names: the operator's writes are not the org's own.
std::string CallerOf(const std::string& org_id, const std::string& subject, bool operator_call) {
  return absl::StrCat(operator_call ? "*" : org_id, "/", subject);
}

absl::Status WriteError(const WriteAnswer& a, const std::string& name,
                        const std::string& request_id) {
  const redis::Reply& r = a.reply;
  switch (a.outcome) {
    case Outcome::kRequestReused:
      return request_id::Reused(request_id);
    case Outcome::kNotFound:
      return NotFound(name);
    case Outcome::kStale:
      return RevisionMismatch(absl::AbortedError(
          absl::StrCat(name, " is at revision ", r[1].AsString(),
                       "; reread it and send that revision as expected_revision")));
    case Outcome::kFinal:
      return errors::WithReason(
          absl::FailedPreconditionError(absl::StrCat(name, " is voided and can no longer change")),
          "ACTIVITY_VOIDED", "该记录已作废，不能再修改");
    case Outcome::kConflictExternal:
      return errors::WithReason(
          absl::AlreadyExistsError(absl::StrCat(
              "source_system/external_id already recorded as ", name.substr(0, name.rfind('/') + 1),
              r[1].AsString(), " with different content; amend that record instead")),
          "EXTERNAL_ID_CONFLICT",
          "相同 source_system/external_id 的记录已存在且内容不同，请修改该记录");
    case Outcome::kExists:
      return errors::WithReason(absl::AlreadyExistsError(absl::StrCat(name, " exists")),
                                "ALREADY_EXISTS", "资源已存在");
    default:
      return absl::InternalError(absl::StrCat("write script answered ", r[0].AsString()));
  }
}

}  // namespace

RecordsCore::RecordsCore(redis::Client* redis, RecordsOptions options)
    : store_(redis, options.request_retention), options_(std::move(options)) {}

void RecordsCore::SetEvent(events::v1::Event event, const std::string& rest,
                           ActivityWrite& w) const {
  absl::Time now = Now();
  events::Encoded e = events::Encode(std::move(event), now);
  w.event_head = std::move(e.payload);
  w.event_kind = std::move(e.kind);
  w.event_rest = rest;
  w.event_min_id = events::MinId(now, options_.event_retention);
}

absl::Time RecordsCore::Now() const { return options_.clock ? options_.clock() : absl::Now(); }

void RecordsCore::SetLimits(bool quota_exempt, ActivityWrite& w) const {
  if (!quota_exempt) w.quota_day = absl::FormatTime("%Y%m%d", Now(), absl::UTCTimeZone());
  w.quota_records = options_.quota_records_per_day;
  w.quota_bytes = options_.quota_bytes_per_day;
  w.max_persons_per_year = options_.max_persons_per_year;
}

absl::Status RecordsCore::LimitError(const std::string& org_id, const WriteAnswer& a) const {
  const redis::Reply& r = a.reply;
  if (a.outcome == Outcome::kLimit) {
    return errors::WithField(
        errors::WithReason(
            absl::ResourceExhaustedError(
                absl::StrCat("orgs/", org_id, ": activity.persons: ", r[3].Int(),
                             " distinct persons per activity type and year is the limit, and ",
                             r[1].AsString(), " '", r[2].AsString(), "' has ", r[4].Int(),
                             "; this record names new ones (--max-persons-per-year)")),
            "PERSONS_LIMIT_EXCEEDED",
            absl::StrCat("该活动类型本年度的不同人员数已达上限 ", r[3].Int(), " 人")),
        "activity.persons");
  }
  absl::CivilDay today = absl::ToCivilDay(Now(), absl::UTCTimeZone());
  std::string quota = r[1].AsString();
  std::string unit = quota == "records_per_day" ? "record writes" : "bytes";
  absl::Status used_up = absl::ResourceExhaustedError(absl::StrCat(
      "orgs/", org_id, ": quota ", quota, " is used up: ", r[3].Int(), " of ", r[2].Int(), " ",
      unit, " on ", absl::FormatCivilTime(today), " (UTC); it resets at ",
      absl::FormatCivilTime(today + 1), "T00:00:00Z (--quota-",
      quota == "records_per_day" ? "records" : "bytes", "-per-day)"));
  // A daily quota: a retry helps after the reset at midnight UTC.
  absl::Time reset = absl::FromCivil(today + 1, absl::UTCTimeZone());
  return errors::WithRetry(
      errors::WithReason(std::move(used_up), "QUOTA_EXCEEDED",
                         absl::StrCat("本单位今日配额 ", quota, " 已用完（UTC 零点重置）")),
      std::max(absl::ZeroDuration(), reset - Now()));
}

// ------------------------------------------------------------------ orgs

absl::Status RecordsCore::RequireOrg(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(bool exists, store_.OrgExists(org_id));
  if (!exists) return NotFound(absl::StrCat("orgs/", org_id));
  return absl::OkStatus();
}

absl::StatusOr<pb::Org> RecordsCore::CreateOrg(const std::string& org_id, pb::Org org,
                                               const std::string& request_id) {
  GR_RETURN_IF_ERROR(ValidateNewOrg(org_id, org));
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  pb::CreateOrgRequest call;
  call.set_org_id(org_id);
  *call.mutable_org() = org;
  std::string fp = request_id::Fingerprint("CreateOrg", org_id, "", call);
  org.set_name(absl::StrCat("orgs/", org_id));
  org.set_revision(1);
  *org.mutable_create_time() = ToTimestamp(absl::ToUnixSeconds(Now()));
  *org.mutable_update_time() = org.create_time();
  std::string blob = SerializeStored(org);
  GR_ASSIGN_OR_RETURN(WriteAnswer a,
                      store_.WriteOrg(org_id, "create", 0, blob, request_id, fp, blob));
  if (a.outcome == Outcome::kExists) {
    return errors::WithReason(
        absl::AlreadyExistsError(absl::StrCat("orgs/", org_id, " already exists")),
        "ORG_ALREADY_EXISTS", "该单位已存在");
  }
  if (a.outcome == Outcome::kRequestReused) return request_id::Reused(request_id);
  // The index is outside the org's slot, so it is written after; a replay
  // writes it again.
  GR_RETURN_IF_ERROR(store_.AddToOrgIndex(org_id));
  if (a.outcome == Outcome::kReplayed) return ParseStored<pb::Org>(a.reply[1].Str(), "org");
  return org;
}

absl::StatusOr<pb::Org> RecordsCore::GetOrg(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(auto blob, store_.ReadOrg(org_id));
  if (!blob) return NotFound(absl::StrCat("orgs/", org_id));
  return ParseStored<pb::Org>(*blob, "org");
}

absl::StatusOr<pb::ListOrgsResponse> RecordsCore::ListOrgs(const std::string& only, int page_size,
                                                           const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 50, 500));
  // The operator's list of every org and an org's list of itself differ.
  const std::string list = PageList({"orgs", only});
  GR_ASSIGN_OR_RETURN(std::string after, DecodeCursorToken(list, page_token));
  pb::ListOrgsResponse out;
  std::vector<std::string> ids;
  if (!only.empty()) {
    if (after.empty()) ids.push_back(only);
  } else {
    GR_ASSIGN_OR_RETURN(ids, store_.ListOrgIds(after, size + 1));
    if (static_cast<int>(ids.size()) > size) {
      ids.pop_back();
      out.set_next_page_token(EncodeCursorToken(list, ids.back()));
    }
  }
  GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadOrgs(ids));
  for (const auto& blob : blobs) {
    GR_ASSIGN_OR_RETURN(*out.add_orgs(), ParseStored<pb::Org>(blob, "org"));
  }
  return out;
}

absl::StatusOr<pb::Org> RecordsCore::UpdateOrg(const pb::UpdateOrgRequest& req,
                                               bool may_change_parent) {
  GR_ASSIGN_OR_RETURN(std::string org_id, ParseOrgName(req.org().name(), "org.name"));
  GR_RETURN_IF_ERROR(request_id::Validate(req.request_id()));
  GR_ASSIGN_OR_RETURN(pb::Org cur, GetOrg(org_id));
  GR_ASSIGN_OR_RETURN(pb::Org next, ApplyOrgUpdate(cur, req));
  // The write below is conditional on cur's revision, so this check holds
  // for what it replaces.
  if (next.parent() != cur.parent() && !may_change_parent) {
    return errors::WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "orgs/", org_id, ": only the platform operator sets or changes an org's parent")),
        "OPERATOR_ONLY", "只有平台运营方可以设置上级单位");
  }
  if (next.parent() == absl::StrCat("orgs/", org_id)) {
    return errors::InvalidField("org.parent", "SELF_PARENT", "an org cannot report to itself",
                                "单位不能以自身为上级单位");
  }
  int64_t expected = req.expected_revision() ? req.expected_revision() : cur.revision();
  next.set_revision(expected + 1);
  *next.mutable_update_time() = ToTimestamp(absl::ToUnixSeconds(Now()));
  std::string blob = SerializeStored(next);
  GR_ASSIGN_OR_RETURN(WriteAnswer a,
                      store_.WriteOrg(org_id, "update", expected, blob, req.request_id(),
                                      request_id::Fingerprint("UpdateOrg", org_id, "", req), blob));
  switch (a.outcome) {
    case Outcome::kOk:
      return next;
    case Outcome::kReplayed:
      return ParseStored<pb::Org>(a.reply[1].Str(), "org");
    case Outcome::kStale:
      return RevisionMismatch(absl::AbortedError(absl::StrCat(
          "orgs/", org_id, " is at revision ", a.reply[1].AsString(), ", not ", expected)));
    default:
      return WriteError(a, absl::StrCat("orgs/", org_id), req.request_id());
  }
}

// ------------------------------------------------------------- catalogue

absl::StatusOr<pb::LoadProfileResponse> RecordsCore::LoadProfile(const std::string& org_id,
                                                                 const pb::Profile& profile,
                                                                 const std::string& request_id) {
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  GR_ASSIGN_OR_RETURN(auto compiled, CompiledProfile::Compile(profile));
  GR_RETURN_IF_ERROR(RequireOrg(org_id));
  pb::LoadProfileRequest call;
  call.set_parent(absl::StrCat("orgs/", org_id));
  *call.mutable_profile() = profile;
  pb::LoadProfileResponse out;
  out.set_activity_types(profile.activity_types_size());
  out.set_indicators(profile.indicators_size());
  GR_ASSIGN_OR_RETURN(WriteAnswer a,
                      store_.WriteProfile(org_id, SerializeStored(profile), request_id,
                                          request_id::Fingerprint("LoadProfile", org_id, "", call),
                                          SerializeStored(out)));
  if (a.outcome == Outcome::kRequestReused) return request_id::Reused(request_id);
  if (a.outcome == Outcome::kReplayed) {
    return ParseStored<pb::LoadProfileResponse>(a.reply[1].Str(), "profile load");
  }
  std::lock_guard<std::mutex> lock(mu_);
  profiles_.erase(org_id);
  return out;
}

absl::StatusOr<std::shared_ptr<const CompiledProfile>> RecordsCore::GetProfile(
    const std::string& org_id) {
  absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = profiles_.find(org_id);
    if (it != profiles_.end() && it->second.until > now) return it->second.profile;
  }
  GR_ASSIGN_OR_RETURN(Store::ProfileRead read, store_.ReadProfile(org_id));
  if (!read.org_exists) return NotFound(absl::StrCat("orgs/", org_id));
  if (!read.blob) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "orgs/", org_id, " has no indicator profile yet; load one (reportctl profile load)")),
        "PROFILE_NOT_LOADED", "本单位尚未加载指标配置（reportctl profile load）");
  }
  GR_ASSIGN_OR_RETURN(pb::Profile p, ParseStored<pb::Profile>(*read.blob, "profile"));
  GR_ASSIGN_OR_RETURN(auto compiled, CompiledProfile::Compile(std::move(p)));
  std::lock_guard<std::mutex> lock(mu_);
  profiles_[org_id] = CachedProfile{compiled, now + options_.profile_cache_ttl};
  return compiled;
}

absl::StatusOr<CompiledProfile::Figures> RecordsCore::ReadFigures(const std::string& org_id,
                                                                  const CompiledProfile& profile,
                                                                  const Period& period) {
  // A union too big for the read script is counted outside Lua, and the
  // values of a breakdown over a dimension without a list of values are
  // read before it; either is exact for the data version the script saw
  // when no write of this org came in between, which the version read
  // after the count, or with the values, proves.
  auto free_keys = profile.FreeValueKeys(period);
  constexpr int kAttempts = 4;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    CompiledProfile::ExtraValues extra;
    int64_t values_version = -1;
    if (!free_keys.empty()) {
      std::vector<std::string> keys;
      for (const auto& [ind, ks] : free_keys) keys.insert(keys.end(), ks.begin(), ks.end());
      GR_ASSIGN_OR_RETURN(Store::HashKeys read, store_.ReadHashKeys(org_id, keys));
      values_version = read.data_version;
      size_t at = 0;
      for (const auto& [ind, ks] : free_keys) {
        std::set<std::string> values;
        for (size_t i = 0; i < ks.size(); ++i, ++at) {
          values.insert(read.keys[at].begin(), read.keys[at].end());
        }
        extra[ind].assign(values.begin(), values.end());
      }
    }
    std::string spec = profile.ReadSpec(period, extra);
    GR_ASSIGN_OR_RETURN(redis::Reply r,
                        store_.ReadFigures(org_id, spec, options_.distinct_inline_budget));
    std::vector<std::string> fields;
    for (size_t i = 0; i < r[1].Size(); ++i) fields.push_back(r[1][i].AsString());
    std::vector<int64_t> distinct;
    for (size_t i = 0; i < r[2].Size(); ++i) distinct.push_back(r[2][i].Int());
    std::vector<std::string> latest;
    for (size_t i = 0; i < r[3].Size(); ++i) latest.push_back(r[3][i].AsString());
    GR_ASSIGN_OR_RETURN(int64_t dv, r[0].AsInt());
    if (values_version >= 0 && values_version != dv) continue;
    bool counted_outside = false;
    size_t di = 0;
    for (const auto& ind : profile.proto().indicators()) {
      if (ind.measure().kind() != pb::MEASURE_KIND_DISTINCT) continue;
      if (di < distinct.size() && distinct[di] < 0) {
        std::vector<std::string> types(ind.measure().activity_types().begin(),
                                       ind.measure().activity_types().end());
        GR_ASSIGN_OR_RETURN(distinct[di], store_.CountDistinct(org_id, period.Buckets(), types,
                                                               options_.distinct_scan_count));
        counted_outside = true;
      }
      ++di;
    }
    if (counted_outside) {
      GR_ASSIGN_OR_RETURN(int64_t after, store_.DataVersion(org_id));
      if (after != dv) continue;
    }
    return profile.Evaluate(period, dv, fields, distinct, latest, extra);
  }
  return ChangedDuringReads(org_id, kAttempts);
}

absl::Status ChangedDuringReads(const std::string& org_id, int attempts) {
  return errors::WithReason(
      absl::AbortedError(absl::StrCat("orgs/", org_id, ": its records changed during each of ",
                                      attempts, " reads of its figures; retry")),
      "CONCURRENT_WRITES", "读取期间记录不断被修改，请重试");
}

absl::StatusOr<pb::GetIndicatorValuesResponse> RecordsCore::GetIndicatorValues(
    const std::string& org_id, const std::string& period_text) {
  GR_ASSIGN_OR_RETURN(Period period, ParsePeriod(period_text));
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  GR_ASSIGN_OR_RETURN(auto figures, ReadFigures(org_id, *profile, period));
  pb::GetIndicatorValuesResponse out;
  for (auto& v : figures.values) *out.add_values() = std::move(v);
  out.set_period(period.label);
  out.set_first_day(period.FirstDay());
  out.set_last_day(period.LastDay());
  out.set_data_version(figures.data_version);
  if (profile->proto().rollup()) {
    GR_ASSIGN_OR_RETURN(*out.mutable_rollup(), ReadRollup(org_id, *profile, period));
  }
  return out;
}

namespace {

// The cell a provenance request names must be one the indicator has.
absl::Status CheckBreakdownValue(const CompiledProfile& profile, const pb::Indicator& ind,
                                 const std::string& value) {
  if (ind.breakdown().empty()) {
    return errors::InvalidField(
        "breakdown_value", "NO_BREAKDOWN",
        absl::StrCat("indicator '", ind.key(), "' has no breakdown; leave breakdown_value empty"),
        "该指标没有分项，breakdown_value 应为空");
  }
  bool any_value = false;
  for (const auto& t : ind.measure().activity_types()) {
    const pb::ActivityType* type = profile.FindType(t);
    const pb::Dimension* d = type ? FindDimension(*type, ind.breakdown()) : nullptr;
    if (d != nullptr && DimensionAllows(*d, value)) any_value = true;
  }
  if (!any_value) {
    CompiledProfile::ExtraValues none;
    return errors::InvalidField(
        "breakdown_value", "DIMENSION_VALUE_NOT_ALLOWED",
        absl::StrCat("'", value, "' is not a value of '", ind.breakdown(), "' (its values: ",
                     absl::StrJoin(profile.BreakdownValues(ind, none), ", "), ")"),
        absl::StrCat("'", value, "' 不是 ", ind.breakdown(), " 的取值"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RecordsCore::ProvenanceOf(const std::string& org_id,
                                                                   const pb::Measure& m,
                                                                   const Period& period,
                                                                   const std::string& breakdown,
                                                                   const std::string& value) {
  // (dimension, values): the filter's conditions and the cell's.
  std::vector<std::pair<std::string, std::vector<std::string>>> conditions;
  for (const auto& c : m.filter()) {
    conditions.emplace_back(c.dimension(),
                            std::vector<std::string>(c.values().begin(), c.values().end()));
  }
  if (!breakdown.empty()) conditions.emplace_back(breakdown, std::vector<std::string>{value});
  std::vector<std::string> types(m.activity_types().begin(), m.activity_types().end());
  GR_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                      store_.ProvenanceIds(org_id, period.Months(), types));
  if (conditions.empty()) return ids;
  // The records that carry, for every condition, one of its values (their
  // dimensions, as the aggregates counted them), read 1000 at a time.
  std::vector<std::string> out;
  constexpr size_t kChunk = 1000;
  for (size_t at = 0; at < ids.size(); at += kChunk) {
    std::vector<std::string> chunk(
        ids.begin() + static_cast<std::ptrdiff_t>(at),
        ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), at + kChunk)));
    GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadActivitiesAt(org_id, chunk));
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (!blobs[i]) continue;
      GR_ASSIGN_OR_RETURN(auto rec, ParseStored<pb::ActivityRecord>(*blobs[i], "record"));
      if (rec.voided()) continue;
      bool passes = std::all_of(conditions.begin(), conditions.end(), [&rec](const auto& c) {
        auto it = rec.dimensions().find(c.first);
        return it != rec.dimensions().end() &&
               std::find(c.second.begin(), c.second.end(), it->second) != c.second.end();
      });
      if (passes) out.push_back(chunk[i]);
    }
  }
  return out;
}

absl::StatusOr<pb::GetIndicatorProvenanceResponse> RecordsCore::GetIndicatorProvenance(
    const std::string& org_id, const std::string& key, const std::string& period_text,
    int page_size, const std::string& page_token, const std::string& breakdown_value) {
  GR_ASSIGN_OR_RETURN(Period period, ParsePeriod(period_text));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 100, 1000));
  // A cell's list is its own; the whole indicator's keeps the id it had
  // before cells existed, so tokens given out then still read.
  std::string list_id = breakdown_value.empty()
                            ? PageList({"provenance", org_id, key, period.label})
                            : PageList({"provenance", org_id, key, period.label, breakdown_value});
  GR_ASSIGN_OR_RETURN(std::string after, DecodeCursorToken(list_id, page_token));
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  const pb::Indicator* ind = profile->FindIndicator(key);
  if (ind == nullptr) {
    return NotFound(absl::StrCat("orgs/", org_id, "/indicators/", key));
  }
  if (!breakdown_value.empty())
    GR_RETURN_IF_ERROR(CheckBreakdownValue(*profile, *ind, breakdown_value));
  GR_ASSIGN_OR_RETURN(auto figures, ReadFigures(org_id, *profile, period));
  pb::GetIndicatorProvenanceResponse out;
  for (const auto& v : figures.values) {
    if (v.key() == key) *out.mutable_value() = v;
  }
  // A ratio is fed by the records of both its terms.
  std::vector<const pb::Indicator*> feeding;
  if (ind->measure().kind() == pb::MEASURE_KIND_RATIO) {
    feeding.push_back(profile->FindIndicator(ind->measure().numerator()));
    feeding.push_back(profile->FindIndicator(ind->measure().denominator()));
  } else {
    feeding.push_back(ind);
  }
  std::set<std::string> ids;
  for (const pb::Indicator* f : feeding) {
    if (f->measure().kind() == pb::MEASURE_KIND_LATEST) {
      // Only the one record whose value was taken.
      auto it = figures.latest_ids.find(f->key());
      if (it != figures.latest_ids.end()) ids.insert(it->second);
      continue;
    }
    GR_ASSIGN_OR_RETURN(auto fed,
                        ProvenanceOf(org_id, f->measure(), period,
                                     f == ind && !breakdown_value.empty() ? ind->breakdown() : "",
                                     breakdown_value));
    ids.insert(fed.begin(), fed.end());
  }
  out.set_total_records(static_cast<int64_t>(ids.size()));
  // In id order, after the last id of the previous page.
  std::vector<std::string> page;
  for (auto it = ids.upper_bound(after); it != ids.end(); ++it) {
    if (static_cast<int>(page.size()) == size) {
      out.set_next_page_token(EncodeCursorToken(list_id, page.back()));
      break;
    }
    page.push_back(*it);
  }
  GR_ASSIGN_OR_RETURN(auto records, FetchActivities(org_id, page));
  for (auto& r : records) *out.add_records() = std::move(r);
  return out;
}

// ------------------------------------------------------------ activities

absl::StatusOr<RecordsCore::PreparedWrite> RecordsCore::PrepareCreate(
    const std::string& org_id, const CompiledProfile& profile, const std::string& recorded_by,
    const pb::ActivityRecord& in, const std::string& request_id, bool quota_exempt) {
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  GR_RETURN_IF_ERROR(ValidateActivity(profile, in, options_.max_persons_per_record));
  PreparedWrite p;
  std::string id = NewId();
  p.record = in;
  p.record.set_name(ActivityName(org_id, id));
  p.record.set_recorded_by(recorded_by);
  p.record.set_revision(1);
  p.record.set_voided(false);
  p.record.clear_void_reason();
  p.record.clear_change_reason();
  p.record.clear_create_sequence();  // Given by the write script.
  p.record.clear_change_sequence();
  *p.record.mutable_create_time() = ToTimestamp(absl::ToUnixSeconds(Now()));
  *p.record.mutable_update_time() = p.record.create_time();
  ActivityWrite& w = p.write;
  w.op = "create";
  w.id = id;
  w.request_id = request_id;
  // The record as sent is the content, so a batch item and a single create
  // of the same record are the same call.
  w.fingerprint = request_id::Fingerprint("CreateActivity", absl::StrCat("orgs/", org_id),
                                          CallerOf(org_id, recorded_by, quota_exempt),
                                          {SerializeDeterministic(in)});
  w.external_key = ExternalKey(in);
  w.content_hash = ContentHash(in);
  w.blob = SerializeStored(p.record);
  w.contribution = Contribution(p.record);
  SetLimits(quota_exempt, w);
  SetEvent(EventOf(org_id, events::v1::EVENT_KIND_ACTIVITY_CREATED, recorded_by, request_id), "",
           w);
  return p;
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::FinishWrite(const std::string& org_id,
                                                            const PreparedWrite& p,
                                                            const WriteAnswer& a) {
  switch (a.outcome) {
    case Outcome::kOk: {
      pb::ActivityRecord rec = p.record;
      GR_ASSIGN_OR_RETURN(int64_t change, a.reply[3].AsInt());
      GR_ASSIGN_OR_RETURN(int64_t create, a.reply[4].AsInt());
      rec.set_change_sequence(change);
      rec.set_create_sequence(create);
      return rec;
    }
    case Outcome::kReplayed: {
      // The first result: the record as that call left it.
      std::pair<std::string, std::string> id_rev = absl::StrSplit(a.reply[1].Str(), '@');
      int64_t rev = 0;
      if (absl::SimpleAtoi(id_rev.second, &rev)) {
        GR_ASSIGN_OR_RETURN(auto blob, store_.ReadActivityRevision(org_id, id_rev.first, rev));
        if (blob) return ParseStored<pb::ActivityRecord>(*blob, "record revision");
      }
      return GetActivity(org_id, id_rev.first);
    }
    case Outcome::kDuplicateExternal:
      return GetActivity(org_id, a.reply[1].AsString());
    case Outcome::kQuota:
    case Outcome::kLimit:
      return LimitError(org_id, a);
    default:
      return WriteError(a, ActivityName(org_id, p.write.id), p.write.request_id);
  }
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::CreateActivity(const std::string& org_id,
                                                               const std::string& recorded_by,
                                                               const pb::ActivityRecord& record,
                                                               const std::string& request_id,
                                                               bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  GR_ASSIGN_OR_RETURN(PreparedWrite p, PrepareCreate(org_id, *profile, recorded_by, record,
                                                     request_id, quota_exempt));
  GR_ASSIGN_OR_RETURN(WriteAnswer a, store_.WriteActivity(org_id, p.write));
  return FinishWrite(org_id, p, a);
}

absl::StatusOr<pb::BatchCreateActivitiesResponse> RecordsCore::BatchCreateActivities(
    const std::string& org_id, const std::string& recorded_by,
    const pb::BatchCreateActivitiesRequest& req, bool quota_exempt) {
  if (req.requests_size() > kMaxBatch) {
    return errors::InvalidField(
        "requests", "BATCH_TOO_LARGE",
        absl::StrCat(req.requests_size(), " records, at most ", kMaxBatch, " per batch; split it"),
        absl::StrCat("每批最多 ", kMaxBatch, " 条记录，请拆分"));
  }
  std::vector<std::string> request_ids;
  int64_t persons = 0;
  for (const auto& one : req.requests()) {
    request_ids.push_back(one.request_id());
    persons += one.activity().persons_size();
  }
  GR_RETURN_IF_ERROR(request_id::ValidateBatch(request_ids, "requests"));
  if (options_.max_persons_per_batch > 0 && persons > options_.max_persons_per_batch) {
    return errors::InvalidField(
        "requests[].activity.persons", "BATCH_TOO_LARGE",
        absl::StrCat(persons, " persons in the batch, at most ", options_.max_persons_per_batch,
                     " per batch; split it"),
        absl::StrCat("每批最多 ", options_.max_persons_per_batch, " 名人员，请拆分"));
  }
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  pb::BatchCreateActivitiesResponse out;
  std::vector<PreparedWrite> prepared;
  std::vector<int> slot_of_write;
  std::string parent = absl::StrCat("orgs/", org_id);
  for (int i = 0; i < req.requests_size(); ++i) {
    const auto& one = req.requests(i);
    pb::BatchResult* result = out.add_results();
    if (!one.parent().empty() && one.parent() != parent) {
      result->set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
      result->set_message(absl::StrCat("requests[", i, "].parent: must be empty or ", parent));
      continue;
    }
    auto p = PrepareCreate(org_id, *profile, recorded_by, one.activity(), one.request_id(),
                           quota_exempt);
    if (!p.ok()) {
      result->set_code(static_cast<int>(p.status().code()));
      result->set_message(absl::StrCat("requests[", i, "]: ", p.status().message()));
      continue;
    }
    prepared.push_back(std::move(*p));
    slot_of_write.push_back(i);
  }
  if (!prepared.empty()) {
    std::vector<ActivityWrite> writes;
    writes.reserve(prepared.size());
    for (const auto& p : prepared) writes.push_back(p.write);
    GR_ASSIGN_OR_RETURN(auto answers, store_.WriteActivities(org_id, writes));
    for (size_t k = 0; k < prepared.size(); ++k) {
      pb::BatchResult* result = out.mutable_results(slot_of_write[k]);
      auto rec = FinishWrite(org_id, prepared[k], answers[k]);
      if (rec.ok()) {
        *result->mutable_activity() = std::move(*rec);
        result->set_already_present(answers[k].outcome == Outcome::kReplayed ||
                                    answers[k].outcome == Outcome::kDuplicateExternal);
      } else {
        result->set_code(static_cast<int>(rec.status().code()));
        result->set_message(
            absl::StrCat("requests[", slot_of_write[k], "]: ", rec.status().message()));
      }
    }
  }
  for (const auto& r : out.results()) {
    if (r.code() != 0) {
      out.set_failed(out.failed() + 1);
    } else if (r.already_present()) {
      out.set_already_present(out.already_present() + 1);
    } else {
      out.set_created(out.created() + 1);
    }
  }
  return out;
}

absl::StatusOr<std::vector<pb::ActivityRecord>> RecordsCore::FetchActivities(
    const std::string& org_id, const std::vector<std::string>& ids) {
  GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadActivities(org_id, ids));
  std::vector<pb::ActivityRecord> out;
  out.reserve(blobs.size());
  for (const auto& blob : blobs) {
    GR_ASSIGN_OR_RETURN(pb::ActivityRecord rec, ParseStored<pb::ActivityRecord>(blob, "record"));
    out.push_back(std::move(rec));
  }
  return out;
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::GetActivity(const std::string& org_id,
                                                            const std::string& id) {
  GR_ASSIGN_OR_RETURN(auto blob, store_.ReadActivity(org_id, id));
  if (!blob) return NotFound(ActivityName(org_id, id));
  return ParseStored<pb::ActivityRecord>(*blob, "record");
}

namespace {

constexpr absl::string_view OrderName(ActivityOrder order) {
  switch (order) {
    case ActivityOrder::kCreate:
      return "create_sequence";
    case ActivityOrder::kDate:
      return "occurred_on";
    case ActivityOrder::kChange:
      return "change_sequence";
  }
  return "";
}

}  // namespace

absl::Status RecordsCore::IndexLegacyRecords(const std::string& org_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (indexed_orgs_.count(org_id) != 0) return absl::OkStatus();
  }
  constexpr int64_t kChunk = 1000;
  for (;;) {
    GR_ASSIGN_OR_RETURN(int64_t taken, store_.IndexLegacyRecords(org_id, kChunk));
    if (taken < kChunk) break;
  }
  for (;;) {
    GR_ASSIGN_OR_RETURN(int64_t taken, store_.MigrateGlobalIndexes(org_id, kChunk));
    if (taken < kChunk) break;
  }
  for (;;) {
    GR_ASSIGN_OR_RETURN(int64_t moved, store_.MigrateBuckets(org_id, kChunk));
    if (moved < kChunk) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  indexed_orgs_.insert(org_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Store::IndexEntry>> RecordsCore::ScanActivityIndex(
    const std::string& org_id, const pb::ListActivitiesRequest& req, ActivityOrder order,
    const std::string& cursor, int count) {
  if (order == ActivityOrder::kDate) {
    // A DateScore range: from the cursor "yyyymmdd:creation sequence:id"
    // (excluded) or from_date, to the last score of to_date.
    int64_t low = 0;
    bool low_excluded = false;
    int64_t high = DateScore(9999, 12, 31, kDateScoreDay - 1);
    if (!cursor.empty()) {
      std::vector<absl::string_view> parts = absl::StrSplit(cursor, ':');
      int day = 0;
      int64_t create_sequence = 0;
      if (parts.size() != 3 || parts[0].size() != 8 || !absl::SimpleAtoi(parts[0], &day) ||
          !absl::SimpleAtoi(parts[1], &create_sequence) || create_sequence < 0 ||
          create_sequence >= kDateScoreDay) {
        return absl::InvalidArgumentError("page_token: not a token of this order");
      }
      low = DateScore(day / 10000, day / 100 % 100, day % 100, create_sequence);
      low_excluded = true;
    } else if (!req.from_date().empty()) {
      GR_ASSIGN_OR_RETURN(Date from, ParseDate(req.from_date()));
      low = DateScore(from.year, from.month, from.day, 0);
    }
    if (!req.to_date().empty()) {
      GR_ASSIGN_OR_RETURN(Date to, ParseDate(req.to_date()));
      high = DateScore(to.year, to.month, to.day, kDateScoreDay - 1);
    }
    return store_.ListByDate(org_id, req.type(), low, low_excluded, high, count);
  }
  int64_t after = 0;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor, &after)) {
    return absl::InvalidArgumentError("page_token: not a token of this order");
  }
  if (cursor.empty() && order == ActivityOrder::kChange) after = req.changed_after();
  // The change index is not kept per type: the type is a filter there.
  return store_.ListBySequence(org_id, order == ActivityOrder::kChange ? "" : req.type(),
                               order == ActivityOrder::kChange, after, count);
}

absl::StatusOr<pb::ListActivitiesResponse> RecordsCore::ListActivities(
    const std::string& org_id, const pb::ListActivitiesRequest& req) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(req.page_size(), 100, 1000));
  GR_ASSIGN_OR_RETURN(ActivityOrder order, ParseActivityOrder(req));
  for (const auto& [field, value] :
       {std::pair{"from_date", &req.from_date()}, std::pair{"to_date", &req.to_date()}}) {
    if (value->empty()) continue;
    if (auto d = ParseDate(*value); !d.ok()) {
      return errors::InvalidField(field, "INVALID_DATE", d.status().message(), "日期不正确");
    }
  }
  // The token is bound to the org, the order and the filters, so it cannot
  // be replayed on another list.
  std::string list_id =
      PageList({"activities", org_id, req.type(), req.from_date(), req.to_date(), req.department(),
                req.source_system(), req.include_voided() ? "voided" : "", OrderName(order),
                absl::StrCat(req.changed_after())});
  GR_ASSIGN_OR_RETURN(std::string cursor, DecodeCursorToken(list_id, req.page_token()));
  GR_RETURN_IF_ERROR(RequireOrg(org_id));
  GR_RETURN_IF_ERROR(IndexLegacyRecords(org_id));
  pb::ListActivitiesResponse out;
  const bool indexed =
      req.department().empty() && req.source_system().empty() && req.include_voided() &&
      (order == ActivityOrder::kDate || (req.from_date().empty() && req.to_date().empty())) &&
      (order != ActivityOrder::kChange || req.type().empty());
  // Filters without an index are applied here, over a bounded scan per call.
  const int chunk = indexed ? size : std::max(size * 2, 200);
  for (int round = 0; round < 20 && out.activities_size() < size; ++round) {
    GR_ASSIGN_OR_RETURN(auto entries, ScanActivityIndex(org_id, req, order, cursor, chunk));
    std::vector<std::string> ids;
    ids.reserve(entries.size());
    for (const auto& e : entries) ids.push_back(e.id);
    GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadActivitiesAt(org_id, ids));
    size_t used = 0;
    for (size_t i = 0; i < entries.size() && out.activities_size() < size; ++i, ++used) {
      const Store::IndexEntry& e = entries[i];
      cursor = order == ActivityOrder::kDate ? e.member : absl::StrCat(e.sequence);
      if (!blobs[i]) continue;
      GR_ASSIGN_OR_RETURN(pb::ActivityRecord rec,
                          ParseStored<pb::ActivityRecord>(*blobs[i], "record"));
      // Changed since the index was read: it is listed again at its new
      // place, further on.
      if (order == ActivityOrder::kChange && rec.change_sequence() != e.sequence) continue;
      if (!MatchesListing(req, rec)) continue;
      *out.add_activities() = std::move(rec);
    }
    if (static_cast<int>(entries.size()) < chunk && used == entries.size()) {
      return out;  // The index is exhausted.
    }
  }
  out.set_next_page_token(EncodeCursorToken(list_id, cursor));
  return out;
}

absl::StatusOr<RecordsCore::PreparedWrite> RecordsCore::PrepareChange(
    const std::string& org_id, const std::string& recorded_by, const Change& change,
    bool quota_exempt, const std::string& read_blob) {
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  GR_ASSIGN_OR_RETURN(pb::ActivityRecord cur, ParseStored<pb::ActivityRecord>(read_blob, "record"));
  pb::ActivityRecord next = cur;
  if (change.amended != nullptr) {
    GR_ASSIGN_OR_RETURN(
        next, ApplyAmendment(*profile, cur, *change.amended, options_.max_persons_per_record));
  }
  if (!change.void_reason.empty()) {
    next.set_voided(true);
    next.set_void_reason(change.void_reason);
  }
  // Each revision says why it was made (not the reason of the one before).
  next.set_change_reason(change.reason);
  int64_t expected = change.expected_revision ? change.expected_revision : cur.revision();
  next.set_revision(expected + 1);
  next.set_recorded_by(recorded_by);
  *next.mutable_update_time() = ToTimestamp(absl::ToUnixSeconds(Now()));
  PreparedWrite p;
  p.record = next;
  ActivityWrite& w = p.write;
  w.op = change.void_reason.empty() ? "amend" : "void";
  w.id = change.id;
  w.request_id = change.request_id;
  w.fingerprint = change.fingerprint;
  w.expected_revision = expected;
  w.blob = SerializeStored(next);
  w.contribution = Contribution(next);
  // The script holds the record it changes to what was read here: the
  // record keeps no copy of its contribution or its revision.
  w.read_blob = read_blob;
  w.read_contribution = Contribution(cur);
  w.read_create_sequence = cur.create_sequence();
  w.read_revision = cur.revision();
  w.read_change_sequence = cur.change_sequence();
  SetLimits(quota_exempt, w);
  if (change.void_reason.empty()) {
    events::v1::ActivityChanged rest;
    rest.set_reason(change.reason);
    SetEvent(
        EventOf(org_id, events::v1::EVENT_KIND_ACTIVITY_AMENDED, recorded_by, change.request_id),
        rest.SerializeAsString(), w);
  } else {
    events::v1::Event voided =
        EventOf(org_id, events::v1::EVENT_KIND_ACTIVITY_VOIDED, recorded_by, change.request_id);
    voided.mutable_activity_voided()->set_activity(ActivityName(org_id, change.id));
    voided.mutable_activity_voided()->set_reason(change.void_reason);
    SetEvent(std::move(voided), "", w);
  }
  return p;
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::ChangeActivity(const std::string& org_id,
                                                               const std::string& recorded_by,
                                                               const Change& change,
                                                               bool quota_exempt) {
  GR_RETURN_IF_ERROR(request_id::Validate(change.request_id));
  GR_RETURN_IF_ERROR(CheckTextField("reason", change.reason));
  // GONE: another write changed the record after it was read here; read
  // it again.
  constexpr int kAttempts = 4;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    GR_ASSIGN_OR_RETURN(auto blob, store_.ReadActivity(org_id, change.id));
    if (!blob) return NotFound(ActivityName(org_id, change.id));
    GR_ASSIGN_OR_RETURN(PreparedWrite p,
                        PrepareChange(org_id, recorded_by, change, quota_exempt, *blob));
    GR_ASSIGN_OR_RETURN(WriteAnswer a, store_.WriteActivity(org_id, p.write));
    if (a.outcome != Outcome::kGone) return FinishWrite(org_id, p, a);
  }
  return errors::WithReason(
      absl::AbortedError(absl::StrCat(ActivityName(org_id, change.id), " changed during each of ",
                                      kAttempts, " attempts to change it; retry")),
      "CONCURRENT_WRITES", "修改期间记录不断被他人修改，请重试");
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::AmendActivity(const std::string& org_id,
                                                              const std::string& recorded_by,
                                                              const pb::AmendActivityRequest& req,
                                                              bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto parts,
                      ParseName(req.activity().name(), "orgs/*/activities/*", "activity.name"));
  if (parts[0] != org_id) return absl::InvalidArgumentError("activity.name: wrong org");
  Change change;
  change.id = parts[1];
  change.expected_revision = req.expected_revision();
  change.request_id = req.request_id();
  change.fingerprint = request_id::Fingerprint("AmendActivity", req.activity().name(),
                                               CallerOf(org_id, recorded_by, quota_exempt), req);
  change.amended = &req.activity();
  change.reason = req.reason();
  return ChangeActivity(org_id, recorded_by, change, quota_exempt);
}

absl::StatusOr<pb::ActivityRecord> RecordsCore::VoidActivity(const std::string& org_id,
                                                             const std::string& recorded_by,
                                                             const pb::VoidActivityRequest& req,
                                                             bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(req.name(), "orgs/*/activities/*", "name"));
  if (parts[0] != org_id) return absl::InvalidArgumentError("name: wrong org");
  if (req.reason().empty()) {
    return absl::InvalidArgumentError("reason: say why the record is voided");
  }
  Change change;
  change.id = parts[1];
  change.expected_revision = req.expected_revision();
  change.request_id = req.request_id();
  change.fingerprint = request_id::Fingerprint("VoidActivity", req.name(),
                                               CallerOf(org_id, recorded_by, quota_exempt), req);
  change.void_reason = req.reason();
  change.reason = req.reason();
  return ChangeActivity(org_id, recorded_by, change, quota_exempt);
}

absl::StatusOr<std::vector<pb::ActivityRecord>> RecordsCore::ListRevisions(
    const std::string& org_id, const std::string& id, int64_t after, int limit) {
  GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadActivityRevisions(org_id, id, after, limit));
  if (blobs.empty() && after > 0) {
    // Past the last revision of a record that exists: an empty page.
    GR_ASSIGN_OR_RETURN(auto current, store_.ReadActivity(org_id, id));
    if (current) return std::vector<pb::ActivityRecord>();
  }
  if (blobs.empty()) {
    return NotFound(ActivityName(org_id, id));
  }
  std::vector<pb::ActivityRecord> out;
  for (const auto& blob : blobs) {
    GR_ASSIGN_OR_RETURN(pb::ActivityRecord rec, ParseStored<pb::ActivityRecord>(blob, "revision"));
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace govreport::records
