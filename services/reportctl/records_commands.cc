// reportctl commands of the records service: tokens, orgs, the profile,
// indicators, figures and provenance. Activity records, file import and
// the sample year are in activity_commands.cc.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <iostream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/enums.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/records_helpers.h"

namespace govreport::cli {

namespace pb = ::govreport::records::v1;
namespace apb = ::govreport::auth::v1;

pb::IndicatorService::Stub Indicators(Context& c) {
  return pb::IndicatorService::Stub(c.Channel("records"));
}

absl::StatusOr<pb::Profile> ParseProfileFile(const std::string& path) {
  std::string text;
  if (!ReadInput(path, &text)) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  pb::Profile profile;
  bool json = absl::EndsWith(path, ".json");
  absl::Status st =
      ParseHumanWritten(text, json ? FileSyntax::kJson : FileSyntax::kTextFormat, &profile);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", st.message(),
                     json ? "" : " (a Profile in protobuf text format, or name it .json)"));
  }
  return profile;
}

namespace {

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
  t.Add({"figures_shared_with_parent", org.figures_shared_with_parent() ? "yes" : "no"});
  t.Add({"revision", absl::StrCat(org.revision())});
  std::map<std::string, std::string> facts(org.facts().begin(), org.facts().end());
  for (const auto& [k, v] : facts) t.Add({absl::StrCat("facts.", k), v});
  t.Print();
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
  req.mutable_principal()->set_kind(f.Get("kind") == "service" ? apb::PRINCIPAL_KIND_SERVICE
                                                               : apb::PRINCIPAL_KIND_USER);
  for (const auto& r : f.GetAll("roles")) {
    for (absl::string_view one : absl::StrSplit(r, ',', absl::SkipEmpty())) {
      req.mutable_principal()->add_roles(std::string(one));
    }
  }
  req.set_ttl_seconds(f.GetInt("ttl-seconds").value_or(0));
  req.set_request_id(RequestId(c));
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
           tok.has_expire_time() ? google::protobuf::util::TimeUtil::ToString(tok.expire_time())
                                 : "never"});
  }
  t.Print();
  return kOk;
}

int TokenRevoke(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the token id");
  apb::RevokeTokenRequest req;
  req.set_token_id(c.args[0]);
  req.set_request_id(RequestId(c));
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
  if (f.IsSet("share-figures")) {
    std::string v = f.Get("share-figures");
    if (v != "yes" && v != "no") {
      *bad = absl::StrCat("--share-figures wants yes or no, got '", v, "'");
      return false;
    }
    org->set_figures_shared_with_parent(v == "yes");
    mask->push_back("figures_shared_with_parent");
  }
  if (f.IsSet("fact")) {
    std::map<std::string, std::string> facts;
    for (const auto& item : f.GetAll("fact")) {
      auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        *bad = absl::StrCat("--fact wants key=value, got '", item, "'");
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
  if (!OrgFromFlags(c, req.mutable_org(), &mask, &bad)) return UsageError(cmd, bad);
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
  if (!OrgFromFlags(c, req.mutable_org(), &mask, &bad)) return UsageError(cmd, bad);
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
    std::string feed = m.kind() == pb::MEASURE_KIND_RATIO
                           ? absl::StrCat(m.numerator(), " / ", m.denominator())
                           : absl::StrJoin(m.activity_types(), ",");
    if (!m.quantity().empty()) feed += absl::StrCat(" (", m.quantity(), ")");
    t.Add({i.key(), i.unit(), ShortEnumName(m.kind()), feed, i.label()});
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
    // A broken-down indicator's rows, one line each under its total.
    for (const auto& row : v.rows()) {
      t.Add({absl::StrCat("  ", row.dimension_value()), row.missing() ? "(missing)" : row.display(),
             v.unit(), absl::StrCat(row.record_count()), ""});
    }
  }
  t.Print();
  std::cout << resp.values_size() << " indicators, " << missing << " without data\n";
  return kOk;
}

// "key = 12 次 from 12 record(s)", then the records; after `prefix`.
void PrintProvenance(Context& c, const std::string& prefix,
                     const pb::GetIndicatorProvenanceResponse& resp) {
  if (c.json()) return PrintJson(resp);
  const auto& v = resp.value();
  std::cout << prefix << v.key() << " = " << (v.missing() ? "(missing)" : v.display()) << " "
            << v.unit() << " from " << resp.total_records() << " record(s)\n";
  PrintActivities(resp.records());
}

int Provenance(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org, the indicator key and the period");
  pb::GetIndicatorProvenanceRequest req;
  req.set_name(absl::StrCat(OrgName(c.args[0]), "/indicators/", c.args[1]));
  req.set_period(c.args[2]);
  req.set_breakdown_value(c.flags().Get("breakdown-value"));
  req.set_page_size(1000);
  pb::GetIndicatorProvenanceResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetIndicatorProvenance(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintProvenance(c, "", resp);
  return kOk;
}

// The children of a roll-up, then each indicator's total with every
// child's share indented under it.
void PrintRollup(const std::string& parent, const pb::GetRollupValuesResponse& r) {
  std::map<std::string, std::string> names;
  int included = 0;
  Table children({"child", "short_name", "state", "data_version"});
  for (const auto& c : r.children()) {
    names[c.org()] = c.short_name().empty() ? c.org() : c.short_name();
    included += c.state() == pb::ROLLUP_CHILD_STATE_INCLUDED;
    children.Add(
        {c.org(), c.short_name(), ShortEnumName(c.state()),
         c.state() == pb::ROLLUP_CHILD_STATE_INCLUDED ? absl::StrCat(c.data_version()) : ""});
  }
  std::cout << parent << " " << r.period() << " (" << r.first_day() << " .. " << r.last_day()
            << "): " << included << " of " << r.children_size() << " children included\n";
  children.Print();
  Table t({"indicator", "value", "unit", "records", "note"});
  for (const auto& v : r.values()) {
    const auto& total = v.total();
    t.Add({total.key(), total.missing() ? "(missing)" : total.display(), total.unit(),
           absl::StrCat(total.record_count()), total.label()});
    for (const auto& share : v.shares()) {
      const auto& sv = share.value();
      t.Add({absl::StrCat("  ", names[share.org()]), sv.missing() ? "(missing)" : sv.display(),
             sv.unit(), absl::StrCat(sv.record_count()),
             share.excluded().empty() ? "" : absl::StrCat("not counted: ", share.excluded())});
    }
  }
  t.Print();
}

int Rollup(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the parent org and the period");
  pb::GetRollupValuesRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_period(c.args[1]);
  pb::GetRollupValuesResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetRollupValues(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  PrintRollup(req.parent(), resp);
  return kOk;
}

int RollupProvenance(Context& c, const Command& cmd) {
  if (c.args.size() != 4) {
    return UsageError(cmd, "give the parent org, the indicator key, the child org and the period");
  }
  pb::GetRollupProvenanceRequest req;
  req.set_name(absl::StrCat(OrgName(c.args[0]), "/indicators/", c.args[1]));
  req.set_child(OrgName(c.args[2]));
  req.set_period(c.args[3]);
  req.set_breakdown_value(c.flags().Get("breakdown-value"));
  req.set_page_size(1000);
  pb::GetIndicatorProvenanceResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Indicators(c).GetRollupProvenance(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintProvenance(c, req.child() + " ", resp);
  return kOk;
}

// The fields of an org that org create and org update set.
std::vector<CommandFlag> OrgFlags() {
  return {{"display-name", "", "Full name, as in the report's heading (中共某市科学技术局党组)"},
          {"short-name", "", "Short name (市科技局)"},
          {"city", "", "City"},
          {"district", "", "District"},
          {"parent", "", "Parent org, orgs/P (platform operator only)"},
          {"share-figures", "", "yes: the parent may roll up this org's figures; no: it may not"},
          {"fact", "", "key=value, repeatable: profile facts for text slots (all replaced)"}};
}

void RegisterTokenCommands(std::vector<Command>& commands) {
  AddCommand(
      commands, "token issue",
      "--org ORG --subject NAME --roles r1,r2 [--kind service] [--ttl-seconds N] [--quiet]",
      "Issue a bearer token (admin of ORG, or the operator). Roles: recorder, drafter, approver, "
      "admin, auditor, service. --org '*' makes an operator token. --quiet prints only the "
      "secret.",
      {{"org", "", "Org the token acts in (required; '*' for the operator)"},
       {"subject", "", "Who holds the token (required)"},
       {"display-name", "", "The holder's name as people read it"},
       {"roles", "", "Comma-separated roles, repeatable"},
       {"kind", "user", "user or service"},
       {"ttl-seconds", "0", "Lifetime; 0 never expires"},
       {"quiet", "false", "Print only the token"}},
      TokenIssue);
  AddCommand(commands, "token list", "[--org ORG]",
             "List the tokens of an org (never their secrets).",
             {{"org", "", "Org whose tokens to list (the token's own org if absent)"}}, TokenList);
  AddCommand(commands, "token revoke", "TOKEN_ID",
             "Revoke a token; it stops working within seconds.", {}, TokenRevoke);
  AddCommand(commands, "whoami", "", "Show the principal the token names.", {}, WhoAmI);
}

void RegisterOrgCommands(std::vector<Command>& commands) {
  AddCommand(commands, "org create",
             "ORG --display-name TEXT [--short-name] [--city] [--district] [--parent orgs/P] "
             "[--fact key=value]...",
             "Register an org (platform operator only).", OrgFlags(), OrgCreate);
  AddCommand(commands, "org get", "ORG", "Show an org.", {}, OrgGet);
  AddCommand(commands, "org list", "", "List the orgs the token may see.", {}, OrgList);
  std::vector<CommandFlag> update = OrgFlags();
  update.push_back(
      {"expected-revision", "0", "Refuse unless the org is at this revision (0: no check)"});
  AddCommand(commands, "org update",
             "ORG [--display-name] [--short-name] [--city] [--district] [--parent] "
             "[--share-figures yes|no] [--fact k=v]... [--expected-revision N]",
             "Change the fields given; --fact replaces all facts.", std::move(update), OrgUpdate);
}

}  // namespace

void RegisterRecordsCommands(std::vector<Command>& commands) {
  RegisterTokenCommands(commands);
  RegisterOrgCommands(commands);
  AddCommand(commands, "profile load", "ORG FILE",
             "Install an indicator profile (JSON or protobuf text) into an org.", {}, ProfileLoad);
  AddCommand(commands, "profile show", "ORG", "Show the org's activity types.", {}, ProfileShow);
  AddCommand(commands, "indicator list", "ORG", "Show the org's indicators and what feeds them.",
             {}, IndicatorList);
  AddCommand(commands, "figures", "ORG PERIOD",
             "Every indicator for a period: 2023, 2023-H1, 2023-Q2, 2023-05 or 2022-11..2023-10. "
             "Indicators without any record are shown as missing, not as zero; a broken-down "
             "indicator's rows follow it, indented.",
             {}, Figures);
  AddCommand(commands, "provenance", "ORG INDICATOR PERIOD [--breakdown-value V]",
             "The records behind one figure, or behind one row of a broken-down figure.",
             {{"breakdown-value", "", "Only the row of this dimension value (自然人)"}},
             Provenance);
  AddCommand(commands, "rollup", "ORG PERIOD",
             "The roll-up of the orgs that report to ORG and share their figures with it: each "
             "indicator of ORG's catalogue, the total (sums, the union of persons, ratios of the "
             "totals) and every child's share under it.",
             {}, Rollup);
  AddCommand(commands, "rollup provenance", "ORG INDICATOR CHILD PERIOD [--breakdown-value V]",
             "The records of one child behind its share of a rolled-up figure.",
             {{"breakdown-value", "", "Only the row of this dimension value"}}, RollupProvenance);
}
}  // namespace govreport::cli
