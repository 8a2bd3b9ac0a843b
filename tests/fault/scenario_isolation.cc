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

// B, in its own org, naming A's resources by reference, and the same
// requests naming resources that do not exist.
std::vector<CrossRef> CrossRefs() {
  return {
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
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/annual" format: DOCUMENT_FORMAT_TXT)",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/zz-none" format: DOCUMENT_FORMAT_TXT)"},
      {"Render with A's partial", "TemplateService/Render",
       R"(parent: "orgs/iso-b" text: "{{> secret-a}}" format: DOCUMENT_FORMAT_TXT)",
       R"(parent: "orgs/iso-b" text: "{{> zz-none}}" format: DOCUMENT_FORMAT_TXT)"},
      {"Render inheriting A's template", "TemplateService/Render",
       R"(parent: "orgs/iso-b" text: "{{< secret-a}}{{/secret-a}}" format: DOCUMENT_FORMAT_TXT)",
       R"(parent: "orgs/iso-b" text: "{{< zz-none}}{{/zz-none}}" format: DOCUMENT_FORMAT_TXT)"},
      {"Validate with A's partial", "TemplateService/ValidateTemplate",
       R"(parent: "orgs/iso-b" text: "{{> secret-a}}")",
       R"(parent: "orgs/iso-b" text: "{{> zz-none}}")"},
      {"Preview A's template", "TemplateService/Preview",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/annual" period: "2023" format: DOCUMENT_FORMAT_TXT)",
       R"(parent: "orgs/iso-b" template: "orgs/iso-a/templates/zz-none" period: "2023" format: DOCUMENT_FORMAT_TXT)"},
      {"Diff against A's revision", "ReportService/DiffRevisions",
       R"(from_revision: "orgs/iso-b/reports/fixture/revisions/1" to_revision: "orgs/iso-a/reports/fixture/revisions/1")",
       R"(from_revision: "orgs/iso-b/reports/fixture/revisions/1" to_revision: "orgs/iso-a/reports/zz-none/revisions/1")"},
  };
}

// A template only A has, for the partial-by-name cases; the error is the
// scenario's summary.
absl::Status CreateSecretTemplate(Cluster& c, const OrgFixture& a) {
  tpb::CreateTemplateRequest req;
  req.set_parent("orgs/iso-a");
  req.set_template_id("secret-a");
  req.set_text("甲单位内部内容");
  req.set_request_id("s7-secret");
  tpb::Template t;
  auto stub = c.Templates();
  grpc::Status st =
      Retry(a.admin, [&](grpc::ClientContext* ctx) { return stub->CreateTemplate(ctx, req, &t); });
  if (!st.ok()) return absl::InternalError(absl::StrCat("CreateTemplate secret-a: ", Describe(st)));
  return absl::OkStatus();
}

// One run of the scenario, in its three parts. Its fields are what the
// parts share.
class IsolationMatrix {
 public:
  IsolationMatrix(const Env& env, Cluster& c, const OrgFixture& a, const OrgFixture& b)
      : env_(env), c_(c), a_(a), b_(b), caller_(Bearer(b.admin)), methods_(AllMethods()) {}

  // 1. B's admin on A's resources, existing and missing; nothing written.
  void OnOtherOrgsResources();
  // 2. B, in its own org, naming A's resources by reference.
  void CrossReferences();
  // 3. Nothing B reads about its own org mentions A.
  void OwnReads();
  void Report(Results& results, ScenarioResult& out);

 private:
  void OnOtherOrgsResource(const Method& m);
  void CrossReference(const CrossRef& ref);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& a_;
  const OrgFixture& b_;
  const std::string caller_;
  const std::vector<Method> methods_;
  const std::string secret_ = "甲单位内部内容";
  Problems problems_;
  int64_t leaks_ = 0, checked_ = 0, cases_ = 0, uncovered_ = 0, not_running_ = 0;
  int64_t writes_ = 0, ref_cases_ = 0, own_reads_ = 0;
};

void IsolationMatrix::OnOtherOrgsResources() {
  // The fixtures' own background work (the workers joining the new orgs'
  // streams, acknowledging their events) is not the refused calls'.
  c_.WaitForQuietRedis();
  auto dirty0 = c_.RedisDirty();
  for (const Method& m : methods_) OnOtherOrgsResource(m);
  auto dirty1 = c_.RedisDirty();
  writes_ = (dirty0.ok() && dirty1.ok()) ? *dirty1 - *dirty0 : -1;
  if (writes_ != 0) {
    problems_.Add(absl::StrCat("refused calls wrote to Redis: ", writes_, " changes"));
  }
}

void IsolationMatrix::OnOtherOrgsResource(const Method& m) {
  std::string label = m.path.substr(m.path.rfind('.') + 1);
  if (!m.covered) {
    ++uncovered_;
    problems_.Add(absl::StrCat(label, ": no base request, not checked"));
    return;
  }
  auto channel = ChannelFor(c_, m);
  if (!channel) {
    ++not_running_;
    return;
  }
  if (m.descriptor->name() == "WhoAmI" || m.descriptor->name() == "ListOrgs") {
    return;  // Name no org: covered by part 3.
  }
  Ids existing = Ids::Of(a_);
  Ids missing = m.org_only ? Ids::Missing("zz-nowhere") : Ids::Missing(a_.org);
  auto req_a = BuildRequest(m, existing, env_);
  auto req_m = BuildRequest(m, missing, env_);
  if (!req_a.ok() || !req_m.ok()) {
    problems_.Add(std::string(req_a.ok() ? req_m.status().message() : req_a.status().message()));
    ++uncovered_;
    return;
  }
  RawAnswer ans_a = CallRaw(channel, m, (*req_a)->SerializeAsString(), caller_, absl::Seconds(10));
  RawAnswer ans_m = CallRaw(channel, m, (*req_m)->SerializeAsString(), caller_, absl::Seconds(10));
  ++checked_;
  cases_ += 2;
  std::string msg_a = Blank(ans_a.status.error_message(), existing);
  std::string msg_m = Blank(ans_m.status.error_message(), missing);
  auto code_a = ans_a.status.error_code();
  auto code_m = ans_m.status.error_code();
  // RevokeToken names only a token id, no org: an unknown id and another
  // org's id both read "not found" (services/common/auth.cc).
  auto refused = m.descriptor->name() == "RevokeToken" ? grpc::StatusCode::NOT_FOUND
                                                       : grpc::StatusCode::PERMISSION_DENIED;
  if (code_a != refused || code_m != refused || msg_a != msg_m) {
    ++leaks_;
    problems_.Add(absl::StrFormat("%s: A's resource → %s \"%s\"; missing → %s \"%s\"", label,
                                  GrpcCodeName(code_a), msg_a, GrpcCodeName(code_m), msg_m));
  }
}

void IsolationMatrix::CrossReferences() {
  for (const CrossRef& ref : CrossRefs()) CrossReference(ref);
}

void IsolationMatrix::CrossReference(const CrossRef& ref) {
  Ids a_ids = Ids::Of(a_);
  a_ids.tpl = "secret-a";
  Ids none = Ids::Missing(a_.org);
  none.tpl = "zz-none";
  const Method* m = FindMethod(methods_, ref.method);
  if (m == nullptr) return;
  auto channel = ChannelFor(c_, *m);
  if (!channel) {
    ++not_running_;
    return;
  }
  auto req_a = ParseRequest(*m, ref.with_a);
  auto req_m = ParseRequest(*m, ref.with_missing);
  if (!req_a.ok() || !req_m.ok()) {
    problems_.Add(ref.label + ": does not parse");
    ++uncovered_;
    return;
  }
  RawAnswer ans_a = CallRaw(channel, *m, (*req_a)->SerializeAsString(), caller_, absl::Seconds(10));
  RawAnswer ans_m = CallRaw(channel, *m, (*req_m)->SerializeAsString(), caller_, absl::Seconds(10));
  ++ref_cases_;
  cases_ += 2;
  std::string msg_a = absl::StrReplaceAll(Blank(ans_a.status.error_message(), a_ids),
                                          {{"annual", "<id>"}, {"secret-a", "<id>"}});
  std::string msg_m =
      absl::StrReplaceAll(Blank(ans_m.status.error_message(), none), {{"zz-none", "<id>"}});
  bool same = ans_a.status.error_code() == ans_m.status.error_code() && msg_a == msg_m;
  // Accepting A's resource is a leak even when it says nothing: B used it.
  bool used = ans_a.status.ok() && !ans_m.status.ok();
  bool shows = absl::StrContains(ans_a.response, secret_) ||
               absl::StrContains(ans_a.status.error_message(), secret_);
  if (!same || used || shows) {
    ++leaks_;
    problems_.Add(absl::StrFormat("%s: A's → %s \"%s\"%s; missing → %s \"%s\"", ref.label,
                                  GrpcCodeName(ans_a.status.error_code()), msg_a,
                                  shows ? " (shows A's text)" : "",
                                  GrpcCodeName(ans_m.status.error_code()), msg_m));
  }
}

void IsolationMatrix::OwnReads() {
  for (const Method& m : methods_) {
    if (m.mutating || !m.covered) continue;
    auto channel = ChannelFor(c_, m);
    if (!channel) continue;
    auto req = BuildRequest(m, Ids::Of(b_), env_);
    if (!req.ok()) continue;
    RawAnswer ans = CallRaw(channel, m, (*req)->SerializeAsString(), caller_, absl::Seconds(10));
    ++own_reads_;
    ++cases_;
    if (absl::StrContains(ans.response, "iso-a") ||
        absl::StrContains(ans.status.error_message(), "iso-a") ||
        absl::StrContains(ans.response, secret_)) {
      ++leaks_;
      problems_.Add(absl::StrCat(m.path, ": B's own answer mentions org A"));
    }
  }
}

void IsolationMatrix::Report(Results& results, ScenarioResult& out) {
  int crashes = c_.Crashes();
  results.Add("faults.isolation_leaks", leaks_);
  results.Add("faults.crashes", crashes);
  results.Set("faults.s7.rpcs_checked", checked_);
  results.Set("faults.s7.cross_references", ref_cases_);
  results.Set("faults.s7.own_reads", own_reads_);
  results.Set("faults.s7.calls", cases_);
  results.Set("faults.s7.rpcs_uncovered", uncovered_);
  results.Set("faults.s7.rpcs_not_running", not_running_);
  results.Set("faults.s7.writes_by_refused_calls", writes_);
  out.summary = absl::StrFormat(
      "did %d RPCs × (A's resource, a missing one) as org B's admin, %d cross-org references, "
      "%d own reads (%d calls); leaks %d, writes by refused calls %d, uncovered %d, crashes %d",
      checked_, ref_cases_, own_reads_, cases_, leaks_, writes_, uncovered_, crashes);
  out.problems = problems_.First();
  out.verdict = (leaks_ == 0 && writes_ == 0 && uncovered_ == 0 && crashes == 0) ? Verdict::kPassed
                                                                                 : Verdict::kFailed;
}

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
  if (absl::Status st = CreateSecretTemplate(c, *a); !st.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = std::string(st.message());
    return out;
  }
  IsolationMatrix run(env, c, *a, *b);
  run.OnOtherOrgsResources();
  run.CrossReferences();
  run.OwnReads();
  run.Report(results, out);
  return out;
}

}  // namespace govreport::fault
