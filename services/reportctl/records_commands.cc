// reportctl commands of the records service: tokens, orgs, the profile,
// figures, provenance and activity records (including file import and the
// sample year).
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "records/core.h"
#include "records/profile.h"
#include "records/sample.h"
#include "reportctl/cli.h"
#include "reportctl/import.h"

namespace govreport::cli {
namespace {

namespace pb = ::govreport::records::v1;
namespace apb = ::govreport::auth::v1;

absl::StatusOr<pb::Profile> ParseProfileFile(const std::string& path) {
  std::string text;
  if (!ReadInput(path, &text)) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  pb::Profile profile;
  if (absl::EndsWith(path, ".json")) {
    auto st = google::protobuf::util::JsonStringToMessage(text, &profile);
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.message().as_string()));
    }
  } else if (!google::protobuf::TextFormat::ParseFromString(text, &profile)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a Profile in protobuf text format (or name it .json)"));
  }
  return profile;
}

// "k=v" pairs into a map; false on a malformed pair.
template <typename Map, typename Convert>
bool ParsePairs(const std::vector<std::string>& items, Map* out, Convert convert,
                std::string* bad) {
  for (const auto& item : items) {
    for (absl::string_view pair : absl::StrSplit(item, ',', absl::SkipEmpty())) {
      auto eq = pair.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        *bad = std::string(pair);
        return false;
      }
      typename Map::mapped_type value;
      if (!convert(std::string(pair.substr(eq + 1)), &value)) {
        *bad = std::string(pair);
        return false;
      }
      (*out)[std::string(pair.substr(0, eq))] = value;
    }
  }
  return true;
}

bool AsInt(const std::string& s, int64_t* v) { return absl::SimpleAtoi(s, v); }

pb::ActivityService::Stub Activities(Context& c) {
  return pb::ActivityService::Stub(c.Channel("records"));
}
pb::IndicatorService::Stub Indicators(Context& c) {
  return pb::IndicatorService::Stub(c.Channel("records"));
}
pb::OrgService::Stub Orgs(Context& c) { return pb::OrgService::Stub(c.Channel("records")); }
apb::AuthService::Stub Tokens(Context& c) { return apb::AuthService::Stub(c.Channel("records")); }

void PrintOrg(Context& c, const pb::Org& org) {
  if (c.json()) return PrintJson(org);
  Table t({"field", "value"});
  t.Add({"name", org.name()});
  t.Add({"display_name", org.display_name()});
  t.Add({"short_name", org.short_name()});
  t.Add({"city", org.city()});
  t.Add({"district", org.district()});
  t.Add({"parent", org.parent()});
  t.Add({"revision", absl::StrCat(org.revision())});
  std::map<std::string, std::string> facts(org.facts().begin(), org.facts().end());
  for (const auto& [k, v] : facts) t.Add({absl::StrCat("facts.", k), v});
  t.Print();
}

std::string Quantities(const pb::ActivityRecord& r) {
  std::map<std::string, int64_t> q(r.quantities().begin(), r.quantities().end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : q) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, ",");
}

void PrintActivities(const google::protobuf::RepeatedPtrField<pb::ActivityRecord>& recs) {
  Table t({"name", "type", "occurred_on", "rev", "state", "quantities", "title"});
  for (const auto& r : recs) {
    t.Add({r.name(), r.type(), r.occurred_on(), absl::StrCat(r.revision()),
           r.voided() ? "voided" : "ok", Quantities(r), r.title()});
  }
  t.Print();
}

void PrintActivity(Context& c, const pb::ActivityRecord& r) {
  if (c.json()) return PrintJson(r);
  google::protobuf::RepeatedPtrField<pb::ActivityRecord> one;
  *one.Add() = r;
  PrintActivities(one);
}

// Fills record fields from --type/--date/... flags (only those given).
bool ApplyRecordFlags(Context& c, pb::ActivityRecord* r, std::string* bad) {
  Flags& f = c.flags();
  if (f.IsSet("type")) r->set_type(f.Get("type"));
  if (f.IsSet("date")) r->set_occurred_on(f.Get("date"));
  if (f.IsSet("title")) r->set_title(f.Get("title"));
  if (f.IsSet("department")) r->set_department(f.Get("department"));
  if (f.IsSet("source")) r->set_source_system(f.Get("source"));
  if (f.IsSet("external-id")) r->set_external_id(f.Get("external-id"));
  if (f.IsSet("note")) r->set_note(f.Get("note"));
  if (f.IsSet("person")) {
    r->clear_persons();
    for (const auto& p : f.GetAll("person")) {
      for (absl::string_view one : absl::StrSplit(p, ',', absl::SkipEmpty())) {
        r->add_persons(std::string(one));
      }
    }
  }
  std::map<std::string, int64_t> q;
  if (!ParsePairs(f.GetAll("quantity"), &q, AsInt, bad)) return false;
  for (const auto& [k, v] : q) (*r->mutable_quantities())[k] = v;
  return true;
}

std::string RequestId(Context& c) {
  std::string rid = c.flags().Get("request-id");
  return rid.empty() ? NewRequestId() : rid;
}

// --------------------------------------------------------------- tokens

int TokenIssue(Context& c, const Command& cmd) {
  Flags& f = c.flags();
  if (f.Get("org").empty() || f.Get("subject").empty()) {
    return UsageError(cmd, "--org and --subject are required");
  }
  apb::IssueTokenRequest req;
  req.mutable_principal()->set_org(f.Get("org"));
  req.mutable_principal()->set_subject(f.Get("subject"));
  req.mutable_principal()->set_display_name(f.Get("display-name"));
  req.mutable_principal()->set_kind(f.Get("kind") == "service" ? apb::SERVICE : apb::USER);
  for (const auto& r : f.GetAll("roles")) {
    for (absl::string_view one : absl::StrSplit(r, ',', absl::SkipEmpty())) {
      req.mutable_principal()->add_roles(std::string(one));
    }
  }
  req.set_ttl_seconds(f.GetInt("ttl-seconds").value_or(0));
  apb::IssueTokenResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Tokens(c).IssueToken(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else if (f.GetBool("quiet")) {
    std::cout << resp.token() << "\n";
  } else {
    std::cout << "token_id: " << resp.token_id() << "\ntoken:    " << resp.token()
              << "\n(the token is shown once; keep it secret)\n";
  }
  return kOk;
}

int TokenList(Context& c, const Command&) {
  apb::ListTokensRequest req;
  req.set_org(c.flags().Get("org"));
  apb::ListTokensResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Tokens(c).ListTokens(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  Table t({"token_id", "subject", "org", "roles", "expires"});
  for (const auto& tok : resp.tokens()) {
    t.Add({tok.token_id(), tok.principal().subject(), tok.principal().org(),
           absl::StrJoin(tok.principal().roles(), ","),
           tok.expire_unix() ? absl::StrCat(tok.expire_unix()) : "never"});
  }
  t.Print();
  return kOk;
}

int TokenRevoke(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the token id");
  apb::RevokeTokenRequest req;
  req.set_token_id(c.args[0]);
  apb::RevokeTokenResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Tokens(c).RevokeToken(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (!c.json()) std::cout << "revoked " << c.args[0] << "\n";
  return kOk;
}

int WhoAmI(Context& c, const Command&) {
  apb::Principal resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Tokens(c).WhoAmI(&ctx, apb::WhoAmIRequest(), &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << resp.subject() << " of org " << resp.org() << " ("
              << absl::StrJoin(resp.roles(), ", ") << ")\n";
  }
  return kOk;
}

// ----------------------------------------------------------------- orgs

bool OrgFromFlags(Context& c, pb::Org* org, std::vector<std::string>* mask, std::string* bad) {
  Flags& f = c.flags();
  auto take = [&](const char* flag, const char* path, auto setter) {
    if (f.IsSet(flag)) {
      (org->*setter)(f.Get(flag));
      mask->push_back(path);
    }
  };
  take("display-name", "display_name", &pb::Org::set_display_name<const std::string&>);
  take("short-name", "short_name", &pb::Org::set_short_name<const std::string&>);
  take("city", "city", &pb::Org::set_city<const std::string&>);
  take("district", "district", &pb::Org::set_district<const std::string&>);
  take("parent", "parent", &pb::Org::set_parent<const std::string&>);
  if (f.IsSet("fact")) {
    std::map<std::string, std::string> facts;
    for (const auto& item : f.GetAll("fact")) {
      auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        *bad = item;
        return false;
      }
      facts[item.substr(0, eq)] = item.substr(eq + 1);
    }
    for (const auto& [k, v] : facts) (*org->mutable_facts())[k] = v;
    mask->push_back("facts");
  }
  return true;
}

int OrgCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org id");
  pb::CreateOrgRequest req;
  req.set_org_id(c.args[0]);
  std::vector<std::string> mask;
  std::string bad;
  if (!OrgFromFlags(c, req.mutable_org(), &mask, &bad)) {
    return UsageError(cmd, absl::StrCat("--fact wants key=value, got '", bad, "'"));
  }
  req.set_request_id(RequestId(c));
  pb::Org resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Orgs(c).CreateOrg(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintOrg(c, resp);
  return kOk;
}

int OrgGet(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org id");
  pb::GetOrgRequest req;
  req.set_name(OrgName(c.args[0]));
  pb::Org resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Orgs(c).GetOrg(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintOrg(c, resp);
  return kOk;
}

int OrgList(Context& c, const Command&) {
  pb::ListOrgsRequest req;
  pb::ListOrgsResponse all;
  do {
    pb::ListOrgsResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Orgs(c).ListOrgs(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& o : *resp.mutable_orgs()) *all.add_orgs() = std::move(o);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"name", "display_name", "short_name", "city", "district", "parent"});
  for (const auto& o : all.orgs()) {
    t.Add({o.name(), o.display_name(), o.short_name(), o.city(), o.district(), o.parent()});
  }
  t.Print();
  return kOk;
}

int OrgUpdate(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org id");
  pb::UpdateOrgRequest req;
  req.mutable_org()->set_name(OrgName(c.args[0]));
  std::vector<std::string> mask;
  std::string bad;
  if (!OrgFromFlags(c, req.mutable_org(), &mask, &bad)) {
    return UsageError(cmd, absl::StrCat("--fact wants key=value, got '", bad, "'"));
  }
  if (mask.empty()) return UsageError(cmd, "nothing to change");
  for (const auto& m : mask) req.add_update_mask(m);
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0));
  req.set_request_id(RequestId(c));
  pb::Org resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Orgs(c).UpdateOrg(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintOrg(c, resp);
  return kOk;
}

// -------------------------------------------------------------- profile

int ProfileLoad(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the profile file");
  auto profile = ParseProfileFile(c.args[1]);
  if (!profile.ok()) return Fail(profile.status());
  pb::LoadProfileRequest req;
  req.set_parent(OrgName(c.args[0]));
  *req.mutable_profile() = *profile;
  req.set_request_id(RequestId(c));
  pb::LoadProfileResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).LoadProfile(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << "loaded profile '" << profile->id() << "' into " << req.parent() << ": "
              << resp.activity_types() << " activity types, " << resp.indicators()
              << " indicators\n";
  }
  return kOk;
}

int ProfileShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  pb::GetProfileRequest req;
  req.set_parent(OrgName(c.args[0]));
  pb::Profile resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetProfile(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  Table t({"activity type", "label", "required", "optional", "persons"});
  for (const auto& a : resp.activity_types()) {
    t.Add({a.key(), a.label(), absl::StrJoin(a.required_quantities(), ","),
           absl::StrJoin(a.optional_quantities(), ","), a.persons_required() ? "yes" : ""});
  }
  t.Print();
  return kOk;
}

int IndicatorList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  pb::ListIndicatorsRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_page_size(1000);
  pb::ListIndicatorsResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).ListIndicators(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  Table t({"key", "unit", "measure", "activity types", "label"});
  for (const auto& i : resp.indicators()) {
    const auto& m = i.measure();
    std::string feed = m.kind() == pb::RATIO ? absl::StrCat(m.numerator(), " / ", m.denominator())
                                             : absl::StrJoin(m.activity_types(), ",");
    if (!m.quantity().empty()) feed += absl::StrCat(" (", m.quantity(), ")");
    t.Add({i.key(), i.unit(), pb::MeasureKind_Name(m.kind()), feed, i.label()});
  }
  t.Print();
  return kOk;
}

int Figures(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the period");
  pb::GetIndicatorValuesRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_period(c.args[1]);
  pb::GetIndicatorValuesResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetIndicatorValues(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  std::cout << req.parent() << " " << resp.period() << " (" << resp.first_day() << " .. "
            << resp.last_day() << "), data version " << resp.data_version() << "\n";
  Table t({"indicator", "value", "unit", "records", "label"});
  int missing = 0;
  for (const auto& v : resp.values()) {
    missing += v.missing();
    t.Add({v.key(), v.missing() ? "(missing)" : v.display(), v.unit(),
           absl::StrCat(v.record_count()), v.label()});
  }
  t.Print();
  std::cout << resp.values_size() << " indicators, " << missing << " without data\n";
  return kOk;
}

int Provenance(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org, the indicator key and the period");
  pb::GetIndicatorProvenanceRequest req;
  req.set_name(absl::StrCat(OrgName(c.args[0]), "/indicators/", c.args[1]));
  req.set_period(c.args[2]);
  req.set_page_size(1000);
  pb::GetIndicatorProvenanceResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetIndicatorProvenance(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  const auto& v = resp.value();
  std::cout << v.key() << " = " << (v.missing() ? "(missing)" : v.display()) << " " << v.unit()
            << " from " << resp.total_records() << " record(s)\n";
  PrintActivities(resp.records());
  return kOk;
}

// ----------------------------------------------------------- activities

int ActivityCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  pb::CreateActivityRequest req;
  req.set_parent(OrgName(c.args[0]));
  std::string bad;
  if (!ApplyRecordFlags(c, req.mutable_activity(), &bad)) {
    return UsageError(cmd, absl::StrCat("--quantity wants name=whole number, got '", bad, "'"));
  }
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).CreateActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityGet(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  pb::GetActivityRequest req;
  req.set_name(c.args[0]);
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).GetActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  Flags& f = c.flags();
  pb::ListActivitiesRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_type(f.Get("type"));
  req.set_from(f.Get("from"));
  req.set_to(f.Get("to"));
  req.set_department(f.Get("department"));
  req.set_source_system(f.Get("source"));
  req.set_include_voided(f.GetBool("include-voided"));
  int64_t limit = f.GetInt("limit").value_or(100);
  pb::ListActivitiesResponse all;
  do {
    pb::ListActivitiesResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    req.set_page_size(static_cast<int>(std::min<int64_t>(1000, limit - all.activities_size())));
    auto st = Activities(c).ListActivities(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& a : *resp.mutable_activities()) *all.add_activities() = std::move(a);
    req.set_page_token(resp.next_page_token());
    all.set_next_page_token(resp.next_page_token());
  } while (!req.page_token().empty() && all.activities_size() < limit);
  if (c.json()) {
    PrintJson(all);
  } else {
    PrintActivities(all.activities());
    std::cout << all.activities_size() << " record(s)"
              << (all.next_page_token().empty() ? "" : " (more: raise --limit)") << "\n";
  }
  return kOk;
}

int ActivityHistory(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  pb::ListActivityRevisionsRequest req;
  req.set_name(c.args[0]);
  pb::ListActivityRevisionsResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).ListActivityRevisions(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  Table t({"rev", "by", "state", "occurred_on", "quantities", "reason"});
  for (const auto& r : resp.revisions()) {
    t.Add({absl::StrCat(r.revision()), r.recorded_by(), r.voided() ? "voided" : "ok",
           r.occurred_on(), Quantities(r), r.void_reason()});
  }
  t.Print();
  return kOk;
}

int ActivityAmend(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  // Start from the stored record so only the flags given change.
  pb::GetActivityRequest get;
  get.set_name(c.args[0]);
  pb::ActivityRecord cur;
  {
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).GetActivity(&ctx, get, &cur);
    if (!st.ok()) return Fail(st);
  }
  pb::AmendActivityRequest req;
  *req.mutable_activity() = cur;
  std::string bad;
  if (!ApplyRecordFlags(c, req.mutable_activity(), &bad)) {
    return UsageError(cmd, absl::StrCat("--quantity wants name=whole number, got '", bad, "'"));
  }
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0)
                                ? *c.flags().GetInt("expected-revision")
                                : cur.revision());
  req.set_reason(c.flags().Get("reason"));
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).AmendActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

int ActivityVoid(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the record name");
  if (c.flags().Get("reason").empty()) return UsageError(cmd, "--reason is required");
  pb::VoidActivityRequest req;
  req.set_name(c.args[0]);
  req.set_reason(c.flags().Get("reason"));
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0));
  req.set_request_id(RequestId(c));
  pb::ActivityRecord resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Activities(c).VoidActivity(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintActivity(c, resp);
  return kOk;
}

absl::StatusOr<pb::Profile> FetchProfile(Context& c, const std::string& org) {
  pb::GetProfileRequest req;
  req.set_parent(OrgName(org));
  pb::Profile resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetProfile(&ctx, req, &resp);
  if (!st.ok())
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  return resp;
}

// Sends records in batches; returns names by input index ("" if failed).
struct SendResult {
  std::vector<std::string> names;
  std::vector<std::string> errors;
  int created = 0;
};

absl::StatusOr<SendResult> SendBatches(Context& c, const std::string& org,
                                       const std::vector<pb::ActivityRecord>& records,
                                       const std::vector<std::string>& request_ids,
                                       const std::vector<int>& lines, bool progress) {
  int64_t batch =
      std::clamp<int64_t>(c.flags().GetInt("batch-size").value_or(500), 1, records::kMaxBatch);
  SendResult out;
  out.names.resize(records.size());
  for (size_t start = 0, end = 0; start < records.size(); start = end) {
    // At most `batch` records and the server's default persons per batch.
    end = start;
    int64_t persons = 0;
    while (end < records.size() && end - start < static_cast<size_t>(batch) &&
           (end == start ||
            persons + records[end].persons_size() <= records::kDefaultMaxPersonsPerBatch)) {
      persons += records[end].persons_size();
      ++end;
    }
    pb::BatchCreateActivitiesRequest req;
    req.set_parent(OrgName(org));
    for (size_t i = start; i < end; ++i) {
      auto* one = req.add_requests();
      *one->mutable_activity() = records[i];
      one->set_request_id(request_ids[i]);
    }
    pb::BatchCreateActivitiesResponse resp;
    // Transient failures are retried: the request ids make it safe.
    grpc::Status st;
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      c.Prepare(ctx);
      st = Activities(c).BatchCreateActivities(&ctx, req, &resp);
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
    if (!st.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    }
    for (int k = 0; k < resp.results_size(); ++k) {
      const auto& r = resp.results(k);
      size_t i = start + k;
      if (r.code() == 0) {
        out.names[i] = r.activity().name();
        ++out.created;
      } else {
        out.errors.push_back(absl::StrCat("line ", lines[i], ": ", r.message()));
      }
    }
    if (progress) {
      std::cerr << "\rimported " << end << "/" << records.size() << " ("
                << (100 * end / records.size()) << "%)" << std::flush;
    }
  }
  if (progress && !records.empty()) std::cerr << "\n";
  return out;
}

int ActivityImport(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the file");
  std::string content;
  if (!ReadInput(c.args[1], &content))
    return UsageError(cmd, absl::StrCat("cannot read ", c.args[1]));
  auto parsed = ParseFile(c.args[1], content);
  if (!parsed.ok()) return UsageError(cmd, std::string(parsed.status().message()));
  // Check every row against the org's catalogue before sending any, so a
  // file with a broken row changes nothing.
  auto profile = FetchProfile(c, c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  auto compiled = records::CompiledProfile::Compile(*profile);
  if (!compiled.ok()) return Fail(compiled.status());
  std::vector<std::string> errors = parsed->errors;
  for (const auto& row : parsed->rows) {
    auto st = records::ValidateActivity(**compiled, row.record);
    if (!st.ok()) errors.push_back(absl::StrCat("line ", row.line, ": ", st.message()));
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << c.args[1] << ": " << e << "\n";
    std::cerr << "nothing imported: fix the " << errors.size() << " problem(s) above\n";
    return kUsage;
  }
  if (c.flags().GetBool("dry-run")) {
    std::cout << parsed->rows.size() << " record(s) valid; nothing sent (--dry-run)\n";
    return kOk;
  }
  // A request id per row derived from the file, so re-running the same
  // import creates nothing twice.
  std::string file_id = Sha256Hex(content).substr(0, 16);
  std::vector<pb::ActivityRecord> recs;
  std::vector<std::string> rids;
  std::vector<int> lines;
  for (const auto& row : parsed->rows) {
    recs.push_back(row.record);
    rids.push_back(absl::StrCat("import-", file_id, "-", row.line));
    lines.push_back(row.line);
  }
  auto sent = SendBatches(c, c.args[0], recs, rids, lines, !c.json());
  if (!sent.ok()) return Fail(sent.status());
  for (const auto& e : sent->errors) std::cerr << c.args[1] << ": " << e << "\n";
  std::cout << sent->created << " of " << recs.size() << " record(s) stored";
  if (!sent->errors.empty()) std::cout << ", " << sent->errors.size() << " refused";
  std::cout << "\n";
  return sent->errors.empty() ? kOk : kPartial;
}

int SampleLoad(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  auto profile = FetchProfile(c, c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  int year = static_cast<int>(c.flags().GetInt("year").value_or(2023));
  uint64_t seed = static_cast<uint64_t>(c.flags().GetInt("seed").value_or(2023));
  records::SampleYear sample = records::GenerateSampleYear(*profile, year, seed);
  std::vector<std::string> rids;
  std::vector<int> lines;
  for (size_t i = 0; i < sample.records.size(); ++i) {
    rids.push_back(absl::StrCat("sample-", seed, "-", sample.records[i].external_id()));
    lines.push_back(static_cast<int>(i + 1));
  }
  auto sent = SendBatches(c, c.args[0], sample.records, rids, lines, false);
  if (!sent.ok()) return Fail(sent.status());
  if (!sent->errors.empty()) {
    for (const auto& e : sent->errors) std::cerr << "sample record " << e << "\n";
    return kPartial;
  }
  for (const auto& a : sample.amends) {
    pb::AmendActivityRequest req;
    *req.mutable_activity() = a.amended;
    req.mutable_activity()->set_name(sent->names[a.index]);
    req.set_reason(a.reason);
    // Same content every time: a rerun only adds an identical revision.
    req.set_request_id(absl::StrCat("sample-amend-", a.amended.external_id()));
    pb::ActivityRecord resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).AmendActivity(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return Fail(st);
  }
  for (const auto& v : sample.voids) {
    pb::VoidActivityRequest req;
    req.set_name(sent->names[v.index]);
    req.set_reason(v.reason);
    req.set_request_id(absl::StrCat("sample-void-", sample.records[v.index].external_id()));
    pb::ActivityRecord resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Activities(c).VoidActivity(&ctx, req, &resp);
    // Already voided by an earlier load: nothing to do.
    if (!st.ok() && st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return Fail(st);
  }
  std::cout << "sample " << year << " for " << OrgName(c.args[0]) << ": " << sample.records.size()
            << " records, " << sample.amends.size() << " amended, " << sample.voids.size()
            << " voided\n";
  return kOk;
}

int SampleCsv(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the profile file");
  auto profile = ParseProfileFile(c.args[0]);
  if (!profile.ok()) return Fail(profile.status());
  int year = static_cast<int>(c.flags().GetInt("year").value_or(2023));
  records::SampleYear sample = records::GenerateSampleYear(*profile, year);
  std::set<std::string> quantity_columns;
  for (const auto& r : sample.records) {
    for (const auto& [k, v] : r.quantities()) quantity_columns.insert(k);
  }
  auto csv = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  std::cout << "type,occurred_on,title,department,source_system,external_id,persons";
  for (const auto& q : quantity_columns) std::cout << "," << q;
  std::cout << "\n";
  for (const auto& r : sample.records) {
    std::cout << r.type() << "," << r.occurred_on() << "," << csv(r.title()) << ","
              << csv(r.department()) << ",csv-" << r.source_system() << "," << r.external_id()
              << "," << csv(absl::StrJoin(r.persons(), ";"));
    for (const auto& q : quantity_columns) {
      auto it = r.quantities().find(q);
      std::cout << "," << (it == r.quantities().end() ? "" : absl::StrCat(it->second));
    }
    std::cout << "\n";
  }
  return kOk;
}

}  // namespace

void RegisterRecordsCommands(std::vector<Command>& commands) {
  auto add = [&](std::string path, std::string usage, std::string help,
                 int (*fn)(Context&, const Command&)) {
    Command cmd{std::move(path), std::move(usage), std::move(help), nullptr};
    cmd.run = [fn, cmd](Context& c) { return fn(c, cmd); };
    commands.push_back(std::move(cmd));
  };
  add("token issue",
      "--org ORG --subject NAME --roles r1,r2 [--kind service] [--ttl-seconds N] [--quiet]",
      "Issue a bearer token (admin of ORG, or the operator). Roles: recorder, drafter, approver, "
      "admin, auditor, service. --org '*' makes an operator token. --quiet prints only the secret.",
      TokenIssue);
  add("token list", "[--org ORG]", "List the tokens of an org (never their secrets).", TokenList);
  add("token revoke", "TOKEN_ID", "Revoke a token; it stops working within seconds.", TokenRevoke);
  add("whoami", "", "Show the principal the token names.", WhoAmI);
  add("org create",
      "ORG --display-name TEXT [--short-name] [--city] [--district] [--parent orgs/P] [--fact "
      "key=value]...",
      "Register an org (platform operator only).", OrgCreate);
  add("org get", "ORG", "Show an org.", OrgGet);
  add("org list", "", "List the orgs the token may see.", OrgList);
  add("org update",
      "ORG [--display-name] [--short-name] [--city] [--district] [--parent] [--fact k=v]... "
      "[--expected-revision N]",
      "Change the fields given; --fact replaces all facts.", OrgUpdate);
  add("profile load", "ORG FILE",
      "Install an indicator profile (JSON or protobuf text) into an org.", ProfileLoad);
  add("profile show", "ORG", "Show the org's activity types.", ProfileShow);
  add("indicator list", "ORG", "Show the org's indicators and what feeds them.", IndicatorList);
  add("figures", "ORG PERIOD",
      "Every indicator for a period: 2023, 2023-H1, 2023-Q2, 2023-05 or 2022-11..2023-10. "
      "Indicators without any record are shown as missing, not as zero.",
      Figures);
  add("provenance", "ORG INDICATOR PERIOD", "The records behind one figure.", Provenance);
  add("activity create",
      "ORG --type T --date YYYY-MM-DD [--title] [--department] [--quantity k=v]... [--person "
      "id]... [--source S --external-id X]",
      "Record one activity.", ActivityCreate);
  add("activity import", "ORG FILE [--batch-size N] [--dry-run]",
      "Import records from CSV (header: type,occurred_on,title,department,source_system,"
      "external_id,persons,note,amount_yuan and one column per quantity) or JSON (an array or "
      "one ActivityRecord per line). Every row is checked first; a file with any bad row "
      "imports nothing. Rerunning the same file creates nothing twice.",
      ActivityImport);
  add("activity list",
      "ORG [--type] [--from] [--to] [--department] [--source] [--include-voided] [--limit N]",
      "List records, oldest first.", ActivityList);
  add("activity get", "NAME", "Show one record (orgs/ORG/activities/ID).", ActivityGet);
  add("activity history", "NAME", "Every revision of a record.", ActivityHistory);
  add("activity amend",
      "NAME [--type] [--date] [--quantity k=v]... [--reason TEXT] [--expected-revision N]",
      "Correct a record; the flags given replace those fields.", ActivityAmend);
  add("activity void", "NAME --reason TEXT [--expected-revision N]",
      "Void a record: it stops counting, and its history stays.", ActivityVoid);
  add("sample load", "ORG [--year 2023] [--seed N]",
      "Load the deterministic sample year of the org's profile (idempotent); another seed "
      "gives another department's year.",
      SampleLoad);
  add("sample csv", "PROFILE_FILE [--year 2023]", "Print the sample year as an import CSV.",
      SampleCsv);
}

}  // namespace govreport::cli
