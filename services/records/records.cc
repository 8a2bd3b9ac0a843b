#include "records/records.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "records/lua_scripts.h"

namespace govreport::records {
namespace {

constexpr size_t kMaxText = 4096;

int64_t NowUnix() { return absl::ToUnixSeconds(absl::Now()); }

std::string Key(const std::string& org, absl::string_view suffix) {
  return absl::StrCat(OrgPrefix(org), suffix);
}

std::string DvKey(const std::string& org) { return Key(org, "dv"); }

std::string RequestKey(const std::string& org, const std::string& rid) {
  return rid.empty() ? "" : Key(org, absl::StrCat("req:", rid));
}

absl::Status ValidateRequestId(const std::string& rid) {
  if (rid.size() > 128) {
    return absl::InvalidArgumentError("request_id: at most 128 characters");
  }
  return absl::OkStatus();
}

absl::Status TextField(absl::string_view field, const std::string& value) {
  if (value.size() > kMaxText) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", value.size(), " bytes, at most ", kMaxText));
  }
  return absl::OkStatus();
}

// Org fields are printed into the report and its DOCX, where XML allows no
// C0 control character but tab and line breaks: refuse them here, at the
// edge, rather than let a signed report fail to publish later.
absl::Status OrgText(absl::string_view field, const std::string& value) {
  GR_RETURN_IF_ERROR(TextField(field, value));
  return CheckDocumentText(field, value);
}

absl::Status ValidateOrgText(const pb::Org& org) {
  GR_RETURN_IF_ERROR(OrgText("org.display_name", org.display_name()));
  GR_RETURN_IF_ERROR(OrgText("org.short_name", org.short_name()));
  GR_RETURN_IF_ERROR(OrgText("org.city", org.city()));
  GR_RETURN_IF_ERROR(OrgText("org.district", org.district()));
  for (const auto& [k, v] : org.facts()) {
    GR_RETURN_IF_ERROR(OrgText(absl::StrCat("org.facts[", k, "]"), v));
  }
  return absl::OkStatus();
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <typename Proto>
std::string Serialize(const Proto& p) {
  std::string out;
  p.SerializeToString(&out);
  return out;
}

template <typename Proto>
absl::StatusOr<Proto> Parse(absl::string_view blob, absl::string_view what) {
  Proto p;
  if (!p.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", what, " is corrupt"));
  }
  return p;
}

// The record's effect on aggregates, in the form the write script reads.
std::string Contribution(const pb::ActivityRecord& r) {
  std::string out = absl::StrCat("{\"t\":\"", r.type(), "\",\"d\":\"", r.occurred_on(),
                                 "\",\"v\":", r.voided() ? 1 : 0, ",\"q\":{");
  // Sorted for a stable encoding (the map's order is not).
  std::map<std::string, int64_t> q(r.quantities().begin(), r.quantities().end());
  bool first = true;
  for (const auto& [k, v] : q) {
    // Values as strings: Lua numbers are doubles and would print 1e+15.
    absl::StrAppend(&out, first ? "" : ",", "\"", k, "\":\"", v, "\"");
    first = false;
  }
  out += "},\"p\":[";
  std::set<std::string> persons(r.persons().begin(), r.persons().end());
  first = true;
  for (const auto& p : persons) {
    if (!first) out += ",";
    JsonQuoteTo(p, &out);
    first = false;
  }
  out += "]}";
  return out;
}

// Identity of a record's content, for "same external id, same content?".
std::string ContentHash(const pb::ActivityRecord& r) {
  pb::ActivityRecord c = r;
  c.clear_name();
  c.clear_recorded_by();
  c.clear_revision();
  c.clear_create_unix();
  c.clear_update_unix();
  c.clear_voided();
  c.clear_void_reason();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    c.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes).substr(0, 32);
}

absl::Status MapWriteError(const std::string& code, const std::string& detail,
                           const std::string& org, const std::string& id) {
  std::string name = absl::StrCat("orgs/", org, "/activities/", id);
  if (code == "NOTFOUND") return absl::NotFoundError(absl::StrCat(name, " not found"));
  if (code == "STALE") {
    return absl::AbortedError(
        absl::StrCat(name, " is at revision ", detail,
                     "; reread it and send that revision as expected_revision"));
  }
  if (code == "VOIDED") {
    return absl::FailedPreconditionError(absl::StrCat(name, " is voided and can no longer change"));
  }
  if (code == "CONFLICT_EXT") {
    return absl::AlreadyExistsError(
        absl::StrCat("source_system/external_id already recorded as orgs/", org, "/activities/",
                     detail, " with different content; amend that record instead"));
  }
  if (code == "EXISTS") return absl::AlreadyExistsError(absl::StrCat(name, " exists"));
  return absl::InternalError(absl::StrCat("write script answered ", code));
}

}  // namespace

Records::Records(redis::Client* redis, RecordsOptions options) : redis_(redis), options_(options) {}

std::vector<std::string> Records::LimitArgs(bool quota_exempt) const {
  std::string day;
  if (!quota_exempt) {
    absl::Time now = options_.clock ? options_.clock() : absl::Now();
    day = absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone());
  }
  return {day, absl::StrCat(std::max<int64_t>(0, options_.quota_records_per_day)),
          absl::StrCat(std::max<int64_t>(0, options_.quota_bytes_per_day)),
          absl::StrCat(std::max<int64_t>(0, options_.max_persons_per_year))};
}

absl::Status Records::MapLimitError(const std::string& org_id, const redis::Reply& r) const {
  std::string code(r[0].Str());
  if (code == "PERSONS") {
    return absl::ResourceExhaustedError(
        absl::StrCat("orgs/", org_id, ": activity.persons: ", r[3].Int(),
                     " distinct persons per activity type and year is the limit, and ",
                     r[1].AsString(), " '", r[2].AsString(), "' has ", r[4].Int(),
                     "; this record names new ones (--max-persons-per-year)"));
  }
  absl::Time now = options_.clock ? options_.clock() : absl::Now();
  absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  std::string quota = r[1].AsString();
  std::string unit = quota == "records_per_day" ? "record writes" : "bytes";
  return absl::ResourceExhaustedError(absl::StrCat(
      "orgs/", org_id, ": quota ", quota, " is used up: ", r[3].Int(), " of ", r[2].Int(), " ",
      unit, " on ", absl::FormatCivilTime(today), " (UTC); it resets at ",
      absl::FormatCivilTime(today + 1), "T00:00:00Z (--quota-",
      quota == "records_per_day" ? "records" : "bytes", "-per-day)"));
}

std::string Records::ActivityName(const std::string& org, const std::string& id) const {
  return absl::StrCat("orgs/", org, "/activities/", id);
}

// ------------------------------------------------------------------ orgs

absl::Status Records::RequireOrg(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"EXISTS", Key(org_id, "org")}));
  if (r.Int() == 0) {
    return absl::NotFoundError(absl::StrCat("orgs/", org_id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<pb::Org> Records::CreateOrg(const std::string& org_id, pb::Org org,
                                           const std::string& request_id) {
  if (!IsValidId(org_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("org_id: '", org_id, "' must be 1-63 lower-case letters, digits or '-'"));
  }
  GR_RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (org.display_name().empty()) {
    return absl::InvalidArgumentError("org.display_name: must be set");
  }
  GR_RETURN_IF_ERROR(ValidateOrgText(org));
  if (!org.parent().empty()) {
    GR_ASSIGN_OR_RETURN(std::string parent, ParseOrgName(org.parent(), "org.parent"));
    (void)parent;
  }
  org.set_name(absl::StrCat("orgs/", org_id));
  org.set_revision(1);
  org.set_create_unix(NowUnix());
  org.set_update_unix(org.create_unix());
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(VersionedSetScript(), {Key(org_id, "org")},
                                   {"create", "0", Serialize(org), RequestKey(org_id, request_id),
                                    absl::StrCat(absl::ToInt64Seconds(options_.request_ttl))}));
  std::string code(r[0].Str());
  if (code == "EXISTS") {
    return absl::AlreadyExistsError(absl::StrCat("orgs/", org_id, " already exists"));
  }
  // The index is outside the org's slot, so it is written after; a replay
  // writes it again.
  GR_RETURN_IF_ERROR(redis_->Command({"ZADD", "gr:orgs", "0", org_id}).status());
  if (code == "DUP_REQ") return GetOrg(org_id);
  return org;
}

absl::StatusOr<pb::Org> Records::GetOrg(const std::string& org_id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", Key(org_id, "org"), "d"}));
  if (r.IsNil()) {
    return absl::NotFoundError(absl::StrCat("orgs/", org_id, " not found"));
  }
  return Parse<pb::Org>(r.Str(), "org");
}

absl::StatusOr<pb::ListOrgsResponse> Records::ListOrgs(const std::string& only, int page_size,
                                                       const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 50, 500));
  // The operator's list of every org and an org's list of itself differ.
  const std::string list = PageList({"orgs", only});
  GR_ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(list, page_token));
  pb::ListOrgsResponse out;
  std::vector<std::string> ids;
  if (!only.empty()) {
    if (offset == 0) ids.push_back(only);
  } else {
    GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"ZRANGE", "gr:orgs", absl::StrCat(offset),
                                                         absl::StrCat(offset + size)}));
    for (size_t i = 0; i < r.Size(); ++i) ids.push_back(r[i].AsString());
    if (static_cast<int>(ids.size()) > size) {
      ids.pop_back();
      out.set_next_page_token(EncodePageToken(list, offset + size));
    }
  }
  std::vector<redis::Args> cmds;
  for (const auto& id : ids) cmds.push_back({"HGET", Key(id, "org"), "d"});
  if (cmds.empty()) return out;
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    if (r.IsNil()) continue;
    GR_ASSIGN_OR_RETURN(*out.add_orgs(), Parse<pb::Org>(r.Str(), "org"));
  }
  return out;
}

absl::StatusOr<pb::Org> Records::UpdateOrg(const pb::UpdateOrgRequest& req) {
  GR_ASSIGN_OR_RETURN(std::string org_id, ParseOrgName(req.org().name(), "org.name"));
  GR_RETURN_IF_ERROR(ValidateRequestId(req.request_id()));
  GR_ASSIGN_OR_RETURN(pb::Org cur, GetOrg(org_id));
  pb::Org next = cur;
  std::set<std::string> mask(req.update_mask().begin(), req.update_mask().end());
  static const std::set<std::string> kPaths = {"display_name", "short_name", "city",
                                               "district",     "parent",     "facts"};
  for (const auto& p : mask) {
    if (!kPaths.count(p)) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: unknown path '", p,
                       "' (paths: display_name, short_name, city, district, parent, facts)"));
    }
  }
  auto want = [&](const char* p) { return mask.empty() || mask.count(p); };
  const pb::Org& in = req.org();
  if (want("display_name")) {
    if (in.display_name().empty()) {
      return absl::InvalidArgumentError("org.display_name: must not be empty");
    }
    next.set_display_name(in.display_name());
  }
  if (want("short_name")) next.set_short_name(in.short_name());
  if (want("city")) next.set_city(in.city());
  if (want("district")) next.set_district(in.district());
  if (want("parent")) next.set_parent(in.parent());
  if (want("facts")) *next.mutable_facts() = in.facts();
  GR_RETURN_IF_ERROR(ValidateOrgText(next));
  // As on create: a parent is an org name.
  if (!next.parent().empty()) {
    GR_ASSIGN_OR_RETURN(std::string parent, ParseOrgName(next.parent(), "org.parent"));
    (void)parent;
  }
  int64_t expected = req.expected_revision() ? req.expected_revision() : cur.revision();
  next.set_revision(expected + 1);
  next.set_update_unix(NowUnix());
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(VersionedSetScript(), {Key(org_id, "org")},
                                   {"update", absl::StrCat(expected), Serialize(next),
                                    RequestKey(org_id, req.request_id()),
                                    absl::StrCat(absl::ToInt64Seconds(options_.request_ttl))}));
  std::string code(r[0].Str());
  if (code == "STALE") {
    return absl::AbortedError(
        absl::StrCat("orgs/", org_id, " is at revision ", r[1].Str(), ", not ", expected));
  }
  if (code == "NOTFOUND") return absl::NotFoundError(absl::StrCat("orgs/", org_id, " not found"));
  if (code == "DUP_REQ") return GetOrg(org_id);
  return next;
}

// ------------------------------------------------------------- catalogue

absl::StatusOr<pb::LoadProfileResponse> Records::LoadProfile(const std::string& org_id,
                                                             const pb::Profile& profile,
                                                             const std::string& request_id) {
  GR_RETURN_IF_ERROR(ValidateRequestId(request_id));
  GR_ASSIGN_OR_RETURN(auto compiled, CompiledProfile::Compile(profile));
  GR_RETURN_IF_ERROR(RequireOrg(org_id));
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(VersionedSetScript(), {Key(org_id, "profile")},
                                   {"put", "0", Serialize(profile), RequestKey(org_id, request_id),
                                    absl::StrCat(absl::ToInt64Seconds(options_.request_ttl))}));
  (void)r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    profiles_.erase(org_id);
  }
  pb::LoadProfileResponse out;
  out.set_activity_types(profile.activity_types_size());
  out.set_indicators(profile.indicators_size());
  return out;
}

absl::StatusOr<std::shared_ptr<const CompiledProfile>> Records::GetProfile(
    const std::string& org_id) {
  absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = profiles_.find(org_id);
    if (it != profiles_.end() && it->second.until > now) return it->second.profile;
  }
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline({{"HGET", Key(org_id, "profile"), "d"},
                                                      {"EXISTS", Key(org_id, "org")}}));
  // Error replies stay in a pipeline's vector: an error read as 0 would
  // say "not found" for an org that exists.
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  if (replies[1].Int() == 0) {
    return absl::NotFoundError(absl::StrCat("orgs/", org_id, " not found"));
  }
  if (replies[0].IsNil()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "orgs/", org_id, " has no indicator profile yet; load one (reportctl profile load)"));
  }
  GR_ASSIGN_OR_RETURN(pb::Profile p, Parse<pb::Profile>(replies[0].Str(), "profile"));
  GR_ASSIGN_OR_RETURN(auto compiled, CompiledProfile::Compile(std::move(p)));
  std::lock_guard<std::mutex> lock(mu_);
  profiles_[org_id] = CachedProfile{compiled, now + options_.profile_cache_ttl};
  return compiled;
}

absl::StatusOr<int64_t> Records::ScanDistinct(const std::string& org_id,
                                              const std::vector<std::string>& buckets,
                                              const std::vector<std::string>& types) {
  std::set<std::string> seen;
  // (key, cursor) of every hash still being scanned; one pipelined HSCAN
  // per hash and round, each reading about distinct_scan_count entries.
  std::vector<std::pair<std::string, std::string>> open;
  for (const auto& b : buckets) {
    for (const auto& t : types) open.emplace_back(Key(org_id, absl::StrCat("dp:", b, ":", t)), "0");
  }
  std::string count = absl::StrCat(std::max(1, options_.distinct_scan_count));
  while (!open.empty()) {
    std::vector<redis::Args> cmds;
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
  return static_cast<int64_t>(seen.size());
}

absl::StatusOr<CompiledProfile::Figures> Records::ReadFigures(const std::string& org_id,
                                                              const CompiledProfile& profile,
                                                              const Period& period) {
  std::string spec = profile.ReadSpec(period);
  std::string budget = absl::StrCat(std::max(0, options_.distinct_inline_budget));
  // A union too big for the read script is scanned outside Lua; it is
  // exact for the data version the script saw when no write of this org
  // came in between, which the version read after the scan proves.
  constexpr int kAttempts = 4;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    GR_ASSIGN_OR_RETURN(redis::Reply r,
                        redis_->Eval(ReadFiguresScript(), {DvKey(org_id)}, {spec, budget}));
    std::vector<std::string> fields;
    for (size_t i = 0; i < r[1].Size(); ++i) fields.push_back(r[1][i].AsString());
    std::vector<int64_t> distinct;
    for (size_t i = 0; i < r[2].Size(); ++i) distinct.push_back(r[2][i].Int());
    std::vector<std::string> latest;
    for (size_t i = 0; i < r[3].Size(); ++i) latest.push_back(r[3][i].AsString());
    GR_ASSIGN_OR_RETURN(int64_t dv, r[0].AsInt());
    bool scanned = false;
    size_t di = 0;
    for (const auto& ind : profile.proto().indicators()) {
      if (ind.measure().kind() != pb::DISTINCT) continue;
      if (di < distinct.size() && distinct[di] < 0) {
        std::vector<std::string> types(ind.measure().activity_types().begin(),
                                       ind.measure().activity_types().end());
        GR_ASSIGN_OR_RETURN(distinct[di], ScanDistinct(org_id, period.Buckets(), types));
        scanned = true;
      }
      ++di;
    }
    if (scanned) {
      GR_ASSIGN_OR_RETURN(redis::Reply now, redis_->Command({"GET", DvKey(org_id)}));
      int64_t after = 0;
      if (!now.IsNil()) {
        GR_ASSIGN_OR_RETURN(after, now.AsInt());
      }
      if (after != dv) continue;
    }
    return profile.Evaluate(period, dv, fields, distinct, latest);
  }
  return absl::AbortedError(absl::StrCat("orgs/", org_id, ": its records changed during each of ",
                                         kAttempts, " reads of its distinct persons; retry"));
}

absl::StatusOr<pb::GetIndicatorValuesResponse> Records::GetIndicatorValues(
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
  return out;
}

absl::StatusOr<pb::GetIndicatorProvenanceResponse> Records::GetIndicatorProvenance(
    const std::string& org_id, const std::string& key, const std::string& period_text,
    int page_size, const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(Period period, ParsePeriod(period_text));
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 100, 1000));
  std::string list_id = PageList({"provenance", org_id, key, period.label});
  GR_ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(list_id, page_token));
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  const pb::Indicator* ind = profile->FindIndicator(key);
  if (ind == nullptr) {
    return absl::NotFoundError(absl::StrCat("orgs/", org_id, "/indicators/", key, " not found"));
  }
  GR_ASSIGN_OR_RETURN(auto figures, ReadFigures(org_id, *profile, period));
  pb::GetIndicatorProvenanceResponse out;
  for (const auto& v : figures.values) {
    if (v.key() == key) *out.mutable_value() = v;
  }
  // A ratio is fed by the records of both its terms.
  std::vector<const pb::Indicator*> feeding;
  if (ind->measure().kind() == pb::RATIO) {
    feeding.push_back(profile->FindIndicator(ind->measure().numerator()));
    feeding.push_back(profile->FindIndicator(ind->measure().denominator()));
  } else {
    feeding.push_back(ind);
  }
  std::set<std::string> ids;
  for (const pb::Indicator* f : feeding) {
    if (f->measure().kind() == pb::LATEST) {
      // Only the one record whose value was taken.
      auto it = figures.latest_ids.find(f->key());
      if (it != figures.latest_ids.end()) ids.insert(it->second);
      continue;
    }
    redis::Args cmd{"SUNION"};
    for (const auto& m : period.Months()) {
      for (const auto& t : f->measure().activity_types()) {
        cmd.push_back(Key(org_id, absl::StrCat("pv:", m, ":", t)));
      }
    }
    GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command(cmd));
    for (size_t i = 0; i < r.Size(); ++i) ids.insert(r[i].AsString());
  }
  out.set_total_records(static_cast<int64_t>(ids.size()));
  std::vector<std::string> page;
  int64_t i = 0;
  for (const auto& id : ids) {
    if (i >= offset && static_cast<int64_t>(page.size()) < size) page.push_back(id);
    ++i;
  }
  if (offset + size < static_cast<int64_t>(ids.size())) {
    out.set_next_page_token(EncodePageToken(list_id, offset + size));
  }
  GR_ASSIGN_OR_RETURN(auto records, FetchActivities(org_id, page));
  for (auto& r : records) *out.add_records() = std::move(r);
  return out;
}

// ------------------------------------------------------------ activities

absl::Status Records::ValidateActivity(const CompiledProfile& profile, const pb::ActivityRecord& r,
                                       int max_persons) {
  const pb::ActivityType* type = profile.FindType(r.type());
  if (r.type().empty()) return absl::InvalidArgumentError("activity.type: must be set");
  if (type == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("activity.type: unknown activity type '",
                                                   r.type(), "' (known: ", profile.KnownTypes(),
                                                   ")"));
  }
  auto date = ParseDate(r.occurred_on());
  if (!date.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("activity.occurred_on: ", date.status().message()));
  }
  for (const auto& q : type->required_quantities()) {
    if (!r.quantities().contains(q)) {
      return absl::InvalidArgumentError(
          absl::StrCat("activity.quantities[", q, "]: required for type '", r.type(), "'"));
    }
  }
  for (const auto& [q, v] : r.quantities()) {
    bool declared =
        std::find(type->required_quantities().begin(), type->required_quantities().end(), q) !=
            type->required_quantities().end() ||
        std::find(type->optional_quantities().begin(), type->optional_quantities().end(), q) !=
            type->optional_quantities().end();
    if (!declared) {
      return absl::InvalidArgumentError(
          absl::StrCat("activity.quantities[", q, "]: type '", r.type(), "' has no such quantity"));
    }
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("activity.quantities[", q, "]: ", v, " is negative"));
    }
  }
  if (type->persons_required() && r.persons().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("activity.persons: type '", r.type(), "' must name the persons"));
  }
  if (max_persons > 0 && r.persons_size() > max_persons) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activity.persons: ", r.persons_size(), " persons, at most ", max_persons, " per record"));
  }
  for (const auto& p : r.persons()) {
    if (p.empty() || p.size() > 128) {
      return absl::InvalidArgumentError("activity.persons: each person id must be 1..128 bytes");
    }
  }
  GR_RETURN_IF_ERROR(TextField("activity.title", r.title()));
  GR_RETURN_IF_ERROR(TextField("activity.department", r.department()));
  GR_RETURN_IF_ERROR(TextField("activity.note", r.note()));
  GR_RETURN_IF_ERROR(TextField("activity.source_system", r.source_system()));
  GR_RETURN_IF_ERROR(TextField("activity.external_id", r.external_id()));
  if (r.external_id().empty() != r.source_system().empty()) {
    return absl::InvalidArgumentError(
        "activity.external_id: source_system and external_id go together");
  }
  for (int i = 0; i < r.attachments_size(); ++i) {
    if (!IsHex64(r.attachments(i).sha256())) {
      return absl::InvalidArgumentError(
          absl::StrCat("activity.attachments[", i, "].sha256: 64 lower-case hex digits"));
    }
    GR_RETURN_IF_ERROR(TextField("activity.attachments.uri", r.attachments(i).uri()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Records::PreparedWrite> Records::PrepareCreate(
    const std::string& org_id, const CompiledProfile& profile, const std::string& recorded_by,
    const pb::ActivityRecord& in, const std::string& request_id, bool quota_exempt) {
  GR_RETURN_IF_ERROR(ValidateRequestId(request_id));
  GR_RETURN_IF_ERROR(ValidateActivity(profile, in, options_.max_persons_per_record));
  PreparedWrite w;
  w.id = NewId();
  w.record = in;
  w.record.set_name(ActivityName(org_id, w.id));
  w.record.set_recorded_by(recorded_by);
  w.record.set_revision(1);
  w.record.set_voided(false);
  w.record.clear_void_reason();
  w.record.set_create_unix(NowUnix());
  w.record.set_update_unix(w.record.create_unix());
  std::string ext =
      in.external_id().empty() ? "" : absl::StrCat(in.source_system(), "\x1f", in.external_id());
  w.call.keys = {DvKey(org_id)};
  w.call.args = {"create",
                 w.id,
                 request_id,
                 ext,
                 ContentHash(in),
                 "0",
                 Serialize(w.record),
                 Contribution(w.record),
                 absl::StrCat(absl::ToInt64Seconds(options_.request_ttl))};
  for (auto& a : LimitArgs(quota_exempt)) w.call.args.push_back(std::move(a));
  return w;
}

absl::StatusOr<pb::ActivityRecord> Records::FinishWrite(const std::string& org_id,
                                                        const PreparedWrite& w,
                                                        const redis::Reply& r) {
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::string code(r[0].Str());
  if (code == "OK") return w.record;
  if (code == "DUP_REQ" || code == "DUP_EXT") return GetActivity(org_id, r[1].AsString());
  if (code == "QUOTA" || code == "PERSONS") return MapLimitError(org_id, r);
  return MapWriteError(code, r[1].AsString(), org_id, w.id);
}

absl::StatusOr<pb::ActivityRecord> Records::CreateActivity(const std::string& org_id,
                                                           const std::string& recorded_by,
                                                           const pb::ActivityRecord& record,
                                                           const std::string& request_id,
                                                           bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  GR_ASSIGN_OR_RETURN(PreparedWrite w, PrepareCreate(org_id, *profile, recorded_by, record,
                                                     request_id, quota_exempt));
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(WriteActivityScript(), w.call.keys, w.call.args));
  return FinishWrite(org_id, w, r);
}

absl::StatusOr<pb::BatchCreateActivitiesResponse> Records::BatchCreateActivities(
    const std::string& org_id, const std::string& recorded_by,
    const pb::BatchCreateActivitiesRequest& req, bool quota_exempt) {
  if (req.requests_size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("requests: ", req.requests_size(),
                                                   " records, at most ", kMaxBatch,
                                                   " per batch; split it"));
  }
  int64_t persons = 0;
  for (const auto& one : req.requests()) persons += one.activity().persons_size();
  if (options_.max_persons_per_batch > 0 && persons > options_.max_persons_per_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("requests[].activity.persons: ", persons, " persons in the batch, at most ",
                     options_.max_persons_per_batch, " per batch; split it"));
  }
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  pb::BatchCreateActivitiesResponse out;
  std::vector<PreparedWrite> writes;
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
    auto w = PrepareCreate(org_id, *profile, recorded_by, one.activity(), one.request_id(),
                           quota_exempt);
    if (!w.ok()) {
      result->set_code(static_cast<int>(w.status().code()));
      result->set_message(absl::StrCat("requests[", i, "]: ", w.status().message()));
      continue;
    }
    writes.push_back(std::move(*w));
    slot_of_write.push_back(i);
  }
  if (!writes.empty()) {
    std::vector<redis::ScriptCall> calls;
    calls.reserve(writes.size());
    for (const auto& w : writes) calls.push_back(w.call);
    GR_ASSIGN_OR_RETURN(auto replies, redis_->EvalPipeline(WriteActivityScript(), calls));
    for (size_t k = 0; k < writes.size(); ++k) {
      pb::BatchResult* result = out.mutable_results(slot_of_write[k]);
      auto rec = FinishWrite(org_id, writes[k], replies[k]);
      if (rec.ok()) {
        *result->mutable_activity() = std::move(*rec);
      } else {
        result->set_code(static_cast<int>(rec.status().code()));
        result->set_message(
            absl::StrCat("requests[", slot_of_write[k], "]: ", rec.status().message()));
      }
    }
  }
  for (const auto& r : out.results()) {
    if (r.code() == 0) {
      out.set_created(out.created() + 1);
    } else {
      out.set_failed(out.failed() + 1);
    }
  }
  return out;
}

absl::StatusOr<std::vector<pb::ActivityRecord>> Records::FetchActivities(
    const std::string& org_id, const std::vector<std::string>& ids) {
  std::vector<pb::ActivityRecord> out;
  if (ids.empty()) return out;
  std::vector<redis::Args> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) cmds.push_back({"HGET", Key(org_id, absl::StrCat("a:", id)), "d"});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  out.reserve(ids.size());
  for (const auto& r : replies) {
    GR_RETURN_IF_ERROR(r.ErrorStatus());
    if (r.IsNil()) continue;
    GR_ASSIGN_OR_RETURN(pb::ActivityRecord rec, Parse<pb::ActivityRecord>(r.Str(), "record"));
    out.push_back(std::move(rec));
  }
  return out;
}

absl::StatusOr<pb::ActivityRecord> Records::GetActivity(const std::string& org_id,
                                                        const std::string& id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"HGET", Key(org_id, absl::StrCat("a:", id)), "d"}));
  if (r.IsNil()) return absl::NotFoundError(absl::StrCat(ActivityName(org_id, id), " not found"));
  return Parse<pb::ActivityRecord>(r.Str(), "record");
}

absl::StatusOr<pb::ListActivitiesResponse> Records::ListActivities(
    const std::string& org_id, const pb::ListActivitiesRequest& req) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(req.page_size(), 100, 1000));
  // The token is bound to the org and the filters, so it cannot be replayed
  // on another list.
  std::string list_id =
      PageList({"activities", org_id, req.type(), req.from(), req.to(), req.department(),
                req.source_system(), req.include_voided() ? "voided" : ""});
  GR_ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(list_id, req.page_token()));
  std::string min = "-inf", max = "+inf";
  if (!req.from().empty()) {
    auto d = ParseDate(req.from());
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("from: ", d.status().message()));
    min = absl::StrCat(d->Ordinal());
  }
  if (!req.to().empty()) {
    auto d = ParseDate(req.to());
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("to: ", d.status().message()));
    max = absl::StrCat(d->Ordinal());
  }
  GR_RETURN_IF_ERROR(RequireOrg(org_id));
  std::string index =
      req.type().empty() ? Key(org_id, "acts") : Key(org_id, absl::StrCat("acts:t:", req.type()));
  pb::ListActivitiesResponse out;
  bool filtered =
      !req.department().empty() || !req.source_system().empty() || !req.include_voided();
  // Scan in chunks; filters that have no index are applied here, bounded
  // per call so one request cannot scan an unbounded set.
  const int chunk = filtered ? std::max(size * 2, 200) : size;
  int64_t pos = offset;
  for (int round = 0; round < 20 && out.activities_size() < size; ++round) {
    GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"ZRANGEBYSCORE", index, min, max, "LIMIT",
                                                         absl::StrCat(pos), absl::StrCat(chunk)}));
    std::vector<std::string> ids;
    for (size_t i = 0; i < r.Size(); ++i) ids.push_back(r[i].AsString());
    GR_ASSIGN_OR_RETURN(auto recs, FetchActivities(org_id, ids));
    size_t used = 0;
    for (auto& rec : recs) {
      if (out.activities_size() >= size) break;
      ++used;
      if (!req.include_voided() && rec.voided()) continue;
      if (!req.department().empty() && rec.department() != req.department()) continue;
      if (!req.source_system().empty() && rec.source_system() != req.source_system()) continue;
      *out.add_activities() = std::move(rec);
    }
    pos += static_cast<int64_t>(used);
    if (static_cast<int>(ids.size()) < chunk && used == ids.size()) {
      return out;  // The index is exhausted.
    }
  }
  out.set_next_page_token(EncodePageToken(list_id, pos));
  return out;
}

absl::StatusOr<pb::ActivityRecord> Records::ChangeActivity(
    const std::string& org_id, const std::string& recorded_by, const std::string& id,
    int64_t expected_revision, const std::string& request_id, bool void_it,
    const std::string& reason, const pb::ActivityRecord* amended, bool quota_exempt) {
  GR_RETURN_IF_ERROR(ValidateRequestId(request_id));
  GR_RETURN_IF_ERROR(TextField("reason", reason));
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(org_id));
  GR_ASSIGN_OR_RETURN(pb::ActivityRecord cur, GetActivity(org_id, id));
  pb::ActivityRecord next = cur;
  if (amended != nullptr) {
    if ((!amended->source_system().empty() && amended->source_system() != cur.source_system()) ||
        (!amended->external_id().empty() && amended->external_id() != cur.external_id())) {
      return absl::InvalidArgumentError(
          "activity.source_system/external_id: cannot change on amend");
    }
    next.set_type(amended->type());
    next.set_occurred_on(amended->occurred_on());
    next.set_title(amended->title());
    next.set_department(amended->department());
    *next.mutable_quantities() = amended->quantities();
    *next.mutable_persons() = amended->persons();
    *next.mutable_attachments() = amended->attachments();
    next.set_note(amended->note());
    GR_RETURN_IF_ERROR(ValidateActivity(*profile, next, options_.max_persons_per_record));
  }
  if (void_it) {
    next.set_voided(true);
    next.set_void_reason(reason);
  }
  int64_t expected = expected_revision ? expected_revision : cur.revision();
  next.set_revision(expected + 1);
  next.set_recorded_by(recorded_by);
  next.set_update_unix(NowUnix());
  redis::Args args = {void_it ? "void" : "amend",
                      id,
                      request_id,
                      "",
                      "",
                      absl::StrCat(expected),
                      Serialize(next),
                      Contribution(next),
                      absl::StrCat(absl::ToInt64Seconds(options_.request_ttl))};
  for (auto& a : LimitArgs(quota_exempt)) args.push_back(std::move(a));
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Eval(WriteActivityScript(), {DvKey(org_id)}, args));
  std::string code(r[0].Str());
  if (code == "OK") return next;
  if (code == "DUP_REQ") return GetActivity(org_id, id);
  if (code == "QUOTA" || code == "PERSONS") return MapLimitError(org_id, r);
  return MapWriteError(code, r[1].AsString(), org_id, id);
}

absl::StatusOr<pb::ActivityRecord> Records::AmendActivity(const std::string& org_id,
                                                          const std::string& recorded_by,
                                                          const pb::AmendActivityRequest& req,
                                                          bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto parts,
                      ParseName(req.activity().name(), "orgs/*/activities/*", "activity.name"));
  if (parts[0] != org_id) return absl::InvalidArgumentError("activity.name: wrong org");
  return ChangeActivity(org_id, recorded_by, parts[1], req.expected_revision(), req.request_id(),
                        false, req.reason(), &req.activity(), quota_exempt);
}

absl::StatusOr<pb::ActivityRecord> Records::VoidActivity(const std::string& org_id,
                                                         const std::string& recorded_by,
                                                         const pb::VoidActivityRequest& req,
                                                         bool quota_exempt) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(req.name(), "orgs/*/activities/*", "name"));
  if (parts[0] != org_id) return absl::InvalidArgumentError("name: wrong org");
  if (req.reason().empty()) {
    return absl::InvalidArgumentError("reason: say why the record is voided");
  }
  return ChangeActivity(org_id, recorded_by, parts[1], req.expected_revision(), req.request_id(),
                        true, req.reason(), nullptr, quota_exempt);
}

absl::StatusOr<std::vector<pb::ActivityRecord>> Records::ListRevisions(const std::string& org_id,
                                                                       const std::string& id) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Command({"LRANGE", Key(org_id, absl::StrCat("a:", id, ":h")), "0", "-1"}));
  if (r.Size() == 0)
    return absl::NotFoundError(absl::StrCat(ActivityName(org_id, id), " not found"));
  std::vector<pb::ActivityRecord> out;
  for (size_t i = 0; i < r.Size(); ++i) {
    GR_ASSIGN_OR_RETURN(pb::ActivityRecord rec, Parse<pb::ActivityRecord>(r[i].Str(), "revision"));
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace govreport::records
