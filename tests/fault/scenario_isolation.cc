// Scenario 7: the tenant isolation matrix. For every RPC, org B's admin
// (the strongest role an org has) calls it on org A's existing resource
// and on one that does not exist. Both must be refused with
// PERMISSION_DENIED and the same message once the names are blanked out,
// so a refusal never tells B whether A's resource exists; and nothing may
// be written. Then B, acting in its own org, names A's resources by
// reference (template, workflow, partial, revision) and must get the
// same answer as for names that do not exist; and no answer B gets about
// its own org mentions A.
#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "tests/fault/requests.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

// The message with every id of `ids` blanked out, longest first.
std::string Blank(const std::string& message, const Ids& ids) {
  std::vector<std::string> values;
  for (const auto& [k, v] : ids.Placeholders()) {
    if (!v.empty()) values.push_back(v);
  }
  std::sort(values.begin(), values.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string out = message;
  for (const auto& v : values) out = absl::StrReplaceAll(out, {{v, "<id>"}});
  return out;
}

struct CrossRef {
  std::string label;
  std::string method;  // "TemplateService/Render"
  std::string with_a;  // Text format naming A's resource.
  std::string with_missing;
};

}  // namespace

ScenarioResult RunIsolationMatrix(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 7;
  out.name = "tenant isolation matrix";
  ClusterOptions co;
  co.tag = "s7";
  co.assemblers = env.assembler_bin.empty() ? 0 : 1;
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  auto a = c.SetUpOrg("iso-a");
  auto b = c.SetUpOrg("iso-b");
  if (!a.ok() || !b.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary =
        absl::StrCat("set-up failed: ", a.ok() ? b.status().message() : a.status().message());
    return out;
  }
  // A template only A has, for the partial-by-name cases.
  {
    tpb::CreateTemplateRequest req;
    req.set_parent("orgs/iso-a");
    req.set_template_id("secret-a");
    req.set_text("甲单位内部内容");
    req.set_request_id("s7-secret");
    tpb::Template t;
    auto stub = c.Templates();
    grpc::Status st = Retry(
        a->admin, [&](grpc::ClientContext* ctx) { return stub->CreateTemplate(ctx, req, &t); });
    if (!st.ok()) {
      out.verdict = Verdict::kFailed;
      out.summary = absl::StrCat("CreateTemplate secret-a: ", Describe(st));
      return out;
    }
  }
  Problems problems;
  int64_t leaks = 0, checked = 0, cases = 0, uncovered = 0, not_running = 0;
  const std::string caller = Bearer(b->admin);
  auto dirty0 = c.RedisDirty();

  // 1. B's admin on A's resources, existing and missing.
  for (const Method& m : AllMethods()) {
    std::string label = m.path.substr(m.path.rfind('.') + 1);
    if (!m.covered) {
      ++uncovered;
      problems.Add(absl::StrCat(label, ": no base request, not checked"));
      continue;
    }
    auto channel = ChannelFor(c, m);
    if (!channel) {
      ++not_running;
      continue;
    }
    if (m.descriptor->name() == "WhoAmI" || m.descriptor->name() == "ListOrgs") {
      continue;  // Name no org: covered by part 3.
    }
    Ids existing = Ids::Of(*a);
    Ids missing = m.org_only ? Ids::Missing("zz-nowhere") : Ids::Missing(a->org);
    auto req_a = BuildRequest(m, existing, env);
    auto req_m = BuildRequest(m, missing, env);
    if (!req_a.ok() || !req_m.ok()) {
      problems.Add(std::string(req_a.ok() ? req_m.status().message() : req_a.status().message()));
      ++uncovered;
      continue;
    }
    RawAnswer ans_a = CallRaw(channel, m, (*req_a)->SerializeAsString(), caller, absl::Seconds(10));
    RawAnswer ans_m = CallRaw(channel, m, (*req_m)->SerializeAsString(), caller, absl::Seconds(10));
    ++checked;
    cases += 2;
    std::string msg_a = Blank(ans_a.status.error_message(), existing);
    std::string msg_m = Blank(ans_m.status.error_message(), missing);
    auto code_a = ans_a.status.error_code();
    auto code_m = ans_m.status.error_code();
    // RevokeToken names only a token id, no org: an unknown id and another
    // org's id both read "not found" (services/common/auth.cc).
    auto refused = m.descriptor->name() == "RevokeToken" ? grpc::StatusCode::NOT_FOUND
                                                         : grpc::StatusCode::PERMISSION_DENIED;
    if (code_a != refused || code_m != refused || msg_a != msg_m) {
      ++leaks;
      problems.Add(absl::StrFormat("%s: A's resource → %s \"%s\"; missing → %s \"%s\"", label,
                                   CodeName(code_a), msg_a, CodeName(code_m), msg_m));
    }
  }
  auto dirty1 = c.RedisDirty();
  int64_t writes = (dirty0.ok() && dirty1.ok()) ? *dirty1 - *dirty0 : -1;
  if (writes != 0) {
    problems.Add(absl::StrCat("refused calls wrote to Redis: ", writes, " changes"));
  }

  // 2. B, in its own org, naming A's resources by reference.
  const std::vector<CrossRef> refs = {
      {"CreateReport with A's template", "ReportService/CreateReport",
       R"(parent: "orgs/iso-b" report_id: "x1" period: "2023" template: "orgs/iso-a/templates/annual" workflow: "orgs/iso-b/workflows/annual" request_id: "s7-x1")",
       R"(parent: "orgs/iso-b" report_id: "x1" period: "2023" template: "orgs/iso-a/templates/zz-none" workflow: "orgs/iso-b/workflows/annual" request_id: "s7-x1")"},
      {"CreateReport with A's workflow", "ReportService/CreateReport",
       R"(parent: "orgs/iso-b" report_id: "x2" period: "2023" template: "orgs/iso-b/templates/annual" workflow: "orgs/iso-a/workflows/annual" request_id: "s7-x2")",
       R"(parent: "orgs/iso-b" report_id: "x2" period: "2023" template: "orgs/iso-b/templates/annual" workflow: "orgs/iso-a/workflows/zz-none" request_id: "s7-x2")"},
      {"StartApproval with A's workflow", "ApprovalService/StartApproval",
       R"(parent: "orgs/iso-b" workflow: "orgs/iso-a/workflows/annual" subject: "orgs/iso-b/reports/x/revisions/1" request_id: "s7-x3")",
       R"(parent: "orgs/iso-b" workflow: "orgs/iso-a/workflows/zz-none" subject: "orgs/iso-b/reports/x/revisions/1" request_id: "s7-x3")"},
      {"Render A's template", "TemplateService/Render",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/annual" format: TEXT)",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/zz-none" format: TEXT)"},
      {"Render with A's partial", "TemplateService/Render",
       R"(parent: "orgs/iso-b" text: "{{> secret-a}}" format: TEXT)",
       R"(parent: "orgs/iso-b" text: "{{> zz-none}}" format: TEXT)"},
      {"Render inheriting A's template", "TemplateService/Render",
       R"(parent: "orgs/iso-b" text: "{{< secret-a}}{{/secret-a}}" format: TEXT)",
       R"(parent: "orgs/iso-b" text: "{{< zz-none}}{{/zz-none}}" format: TEXT)"},
      {"Validate with A's partial", "TemplateService/ValidateTemplate",
       R"(parent: "orgs/iso-b" text: "{{> secret-a}}")",
       R"(parent: "orgs/iso-b" text: "{{> zz-none}}")"},
      {"Preview A's template", "TemplateService/Preview",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/annual" period: "2023" format: TEXT)",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/zz-none" period: "2023" format: TEXT)"},
      {"Diff against A's revision", "ReportService/DiffRevisions",
       R"(from: "orgs/iso-b/reports/fixture/revisions/1" to: "orgs/iso-a/reports/fixture/revisions/1")",
       R"(from: "orgs/iso-b/reports/fixture/revisions/1" to: "orgs/iso-a/reports/zz-none/revisions/1")"},
  };
  std::vector<Method> methods = AllMethods();
  const std::string secret = "甲单位内部内容";
  Ids a_ids = Ids::Of(*a);
  a_ids.tpl = "secret-a";
  Ids none = Ids::Missing(a->org);
  none.tpl = "zz-none";
  int64_t ref_cases = 0;
  for (const CrossRef& ref : refs) {
    const Method* m = FindMethod(methods, ref.method);
    if (m == nullptr) continue;
    auto channel = ChannelFor(c, *m);
    if (!channel) {
      ++not_running;
      continue;
    }
    auto req_a = ParseRequest(*m, ref.with_a);
    auto req_m = ParseRequest(*m, ref.with_missing);
    if (!req_a.ok() || !req_m.ok()) {
      problems.Add(ref.label + ": does not parse");
      ++uncovered;
      continue;
    }
    RawAnswer ans_a =
        CallRaw(channel, *m, (*req_a)->SerializeAsString(), caller, absl::Seconds(10));
    RawAnswer ans_m =
        CallRaw(channel, *m, (*req_m)->SerializeAsString(), caller, absl::Seconds(10));
    ++ref_cases;
    cases += 2;
    std::string msg_a = absl::StrReplaceAll(Blank(ans_a.status.error_message(), a_ids),
                                            {{"annual", "<id>"}, {"secret-a", "<id>"}});
    std::string msg_m =
        absl::StrReplaceAll(Blank(ans_m.status.error_message(), none), {{"zz-none", "<id>"}});
    bool same = ans_a.status.error_code() == ans_m.status.error_code() && msg_a == msg_m;
    // Accepting A's resource is a leak even when it says nothing: B used it.
    bool used = ans_a.status.ok() && !ans_m.status.ok();
    bool shows = absl::StrContains(ans_a.response, secret) ||
                 absl::StrContains(ans_a.status.error_message(), secret);
    if (!same || used || shows) {
      ++leaks;
      problems.Add(absl::StrFormat("%s: A's → %s \"%s\"%s; missing → %s \"%s\"", ref.label,
                                   CodeName(ans_a.status.error_code()), msg_a,
                                   shows ? " (shows A's text)" : "",
                                   CodeName(ans_m.status.error_code()), msg_m));
    }
  }

  // 3. Nothing B reads about its own org mentions A.
  int64_t own_reads = 0;
  for (const Method& m : methods) {
    if (m.mutating || !m.covered) continue;
    auto channel = ChannelFor(c, m);
    if (!channel) continue;
    auto req = BuildRequest(m, Ids::Of(*b), env);
    if (!req.ok()) continue;
    RawAnswer ans = CallRaw(channel, m, (*req)->SerializeAsString(), caller, absl::Seconds(10));
    ++own_reads;
    ++cases;
    if (absl::StrContains(ans.response, "iso-a") ||
        absl::StrContains(ans.status.error_message(), "iso-a") ||
        absl::StrContains(ans.response, secret)) {
      ++leaks;
      problems.Add(absl::StrCat(m.path, ": B's own answer mentions org A"));
    }
  }

  int crashes = c.Crashes();
  results.Add("faults.isolation_leaks", leaks);
  results.Add("faults.crashes", crashes);
  results.Set("faults.s7.rpcs_checked", checked);
  results.Set("faults.s7.cross_references", ref_cases);
  results.Set("faults.s7.own_reads", own_reads);
  results.Set("faults.s7.calls", cases);
  results.Set("faults.s7.rpcs_uncovered", uncovered);
  results.Set("faults.s7.rpcs_not_running", not_running);
  results.Set("faults.s7.writes_by_refused_calls", writes);
  out.summary = absl::StrFormat(
      "did %d RPCs × (A's resource, a missing one) as org B's admin, %d cross-org references, "
      "%d own reads (%d calls); leaks %d, writes by refused calls %d, uncovered %d, crashes %d",
      checked, ref_cases, own_reads, cases, leaks, writes, uncovered, crashes);
  out.problems = problems.First();
  out.verdict = (leaks == 0 && writes == 0 && uncovered == 0 && crashes == 0) ? Verdict::kPassed
                                                                              : Verdict::kFailed;
  return out;
}

}  // namespace govreport::fault
