// reportctl commands of the assembler (reports: create, show, watch,
// narrative, submit, approve/reject, download...) and of the approval
// service (workflows, roles, approvals, the inbox).
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/status.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"

namespace govreport::cli {
namespace {

namespace rpt = ::govreport::assembler::v1;
namespace apv = ::govreport::approval::v1;

rpt::ReportService::Stub Reports(Context& c) {
  return rpt::ReportService::Stub(c.Channel("assembler"));
}
apv::ApprovalService::Stub Approvals(Context& c) {
  return apv::ApprovalService::Stub(c.Channel("approval"));
}

std::string RequestId(Context& c) {
  std::string rid = c.flags().Get("request-id");
  return rid.empty() ? NewRequestId() : rid;
}

// "orgs/kjj/reports/x", or the short "kjj/x".
std::string ReportName(const std::string& arg) {
  if (absl::StartsWith(arg, "orgs/")) return arg;
  std::vector<std::string> parts = absl::StrSplit(arg, '/');
  if (parts.size() == 2) return absl::StrCat("orgs/", parts[0], "/reports/", parts[1]);
  return arg;
}

// Short forms: "annual" → orgs/{org}/{kind}/annual.
std::string Qualify(const std::string& org, const std::string& kind, const std::string& ref) {
  return ref.find('/') == std::string::npos ? absl::StrCat("orgs/", org, "/", kind, "/", ref) : ref;
}

std::string Time(int64_t unix) {
  if (unix == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(unix), absl::LocalTimeZone());
}

std::string StateName(rpt::ReportState s) { return rpt::ReportState_Name(s); }

std::string StateLine(const rpt::Report& r) {
  std::string s = StateName(r.state());
  if (r.state() == rpt::DRAFT) s += r.assembling() ? " (assembling)" : " (ready)";
  return s;
}

std::string Clip(const std::string& text, size_t bytes) {
  std::string one = absl::StrJoin(absl::StrSplit(text, '\n'), " ");
  if (one.size() <= bytes) return one;
  size_t cut = bytes;
  while (cut > 0 && (static_cast<unsigned char>(one[cut]) & 0xC0) == 0x80) --cut;
  return one.substr(0, cut) + "…";
}

// --narrative slot=TEXT or slot=@FILE (FILE "-" is stdin).
bool NarrativeFromFlags(Context& c, google::protobuf::Map<std::string, std::string>* out,
                        std::string* bad) {
  for (const auto& item : c.flags().GetAll("narrative")) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      *bad = absl::StrCat("--narrative wants slot=TEXT or slot=@FILE, got '", item, "'");
      return false;
    }
    std::string value = item.substr(eq + 1);
    if (absl::StartsWith(value, "@")) {
      std::string text;
      if (!ReadInput(value.substr(1), &text)) {
        *bad = absl::StrCat("cannot read ", value.substr(1));
        return false;
      }
      // A file's final newline ends the file, not the paragraph.
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      value = text;
    }
    (*out)[item.substr(0, eq)] = value;
  }
  return true;
}

absl::StatusOr<rpt::DocumentFormat> ParseFormat(const std::string& text) {
  std::string f = absl::AsciiStrToLower(text);
  if (f.empty() || f == "txt" || f == "text") return rpt::TXT;
  if (f == "md" || f == "markdown") return rpt::MD;
  if (f == "html") return rpt::HTML;
  if (f == "docx") return rpt::DOCX;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: '", text, "' is not one of txt, md, html, docx"));
}

void PrintReport(Context& c, const rpt::Report& r) {
  if (c.json()) return PrintJson(r);
  Table t({"field", "value"});
  t.Add({"name", r.name()});
  if (!r.title().empty()) t.Add({"title", r.title()});
  t.Add({"period", r.period()});
  t.Add({"template", r.template_()});
  t.Add({"workflow", r.workflow()});
  t.Add({"state", StateLine(r)});
  t.Add({"revision", r.current_revision() ? absl::StrCat(r.current_revision()) : "none yet"});
  t.Add({"version", absl::StrCat(r.version())});
  if (r.missing_figures_size() > 0) {
    t.Add({"gaps", absl::StrJoin(r.missing_figures(), ", ")});
  }
  if (r.staleness().checked()) {
    t.Add({"stale", r.staleness().stale() ? "YES: reassemble before submitting" : "no"});
  } else if (!r.staleness().check_error().empty()) {
    t.Add({"stale", absl::StrCat("unknown (", r.staleness().check_error(), ")")});
  }
  if (!r.approval().empty()) t.Add({"approval", r.approval()});
  if (r.submitted_revision()) t.Add({"submitted", absl::StrCat(r.submitted_revision())});
  if (r.accepted_gaps_size() > 0) t.Add({"accepted gaps", absl::StrJoin(r.accepted_gaps(), ", ")});
  if (!r.last_decision().empty()) {
    t.Add({"last decision", absl::StrCat(r.last_decision(), " by ", r.last_decision_by())});
    t.Add({"comment", r.last_comment()});
  }
  if (r.published_revision()) {
    t.Add({"published", absl::StrCat("revision ", r.published_revision(), ", signed by ",
                                     r.signer(), ", ", r.issue_date())});
    t.Add({"digest", r.digest()});
    std::vector<std::string> formats;
    for (int f : r.formats()) formats.push_back(rpt::DocumentFormat_Name(f));
    t.Add({"formats", absl::StrJoin(formats, ", ")});
  }
  if (!r.error().empty()) t.Add({"error", r.error()});
  std::map<std::string, std::string> narrative(r.narrative().begin(), r.narrative().end());
  for (const auto& [slot, text] : narrative)
    t.Add({absl::StrCat("narrative.", slot), Clip(text, 60)});
  t.Add({"created", absl::StrCat(Time(r.create_unix()), " by ", r.created_by())});
  t.Add({"updated", Time(r.update_unix())});
  t.Print();
  if (r.staleness().changed_figures_size() > 0 || r.staleness().changed_org_fields_size() > 0) {
    std::cout << "\nChanged since revision " << r.current_revision() << " was assembled:\n";
    Table ch({"figure", "was", "now", "label"});
    for (const auto& f : r.staleness().changed_figures()) {
      ch.Add({f.key(), f.from_missing() ? "no data" : f.from_display() + f.unit(),
              f.to_missing() ? "no data" : f.to_display() + f.unit(), f.label()});
    }
    for (const auto& f : r.staleness().changed_org_fields()) ch.Add({f, "", "changed", ""});
    ch.Print();
  }
}

void PrintRevision(Context& c, const rpt::Revision& rev) {
  if (c.json()) return PrintJson(rev);
  Table t({"field", "value"});
  t.Add({"name", rev.name()});
  t.Add({"title", rev.title()});
  t.Add({"period", absl::StrCat(rev.period(), " (", rev.first_day(), " .. ", rev.last_day(), ")")});
  t.Add({"data version", absl::StrCat(rev.data_version())});
  t.Add({"template", absl::StrCat(rev.template_(), " (revision ", rev.template_revision(), ")")});
  t.Add({"assembled", absl::StrCat(Time(rev.create_unix()), " by job ", rev.job())});
  if (rev.missing_size() > 0) t.Add({"missing", absl::StrJoin(rev.missing(), ", ")});
  if (rev.frozen()) {
    t.Add({"published", absl::StrCat(Time(rev.publish_unix()), ", signed by ", rev.signer(), ", ",
                                     rev.issue_date())});
    t.Add({"digest", rev.digest()});
    for (const auto& d : rev.documents()) {
      t.Add({rpt::DocumentFormat_Name(d.format()),
             absl::StrCat(d.size(), " bytes, sha256 ", d.sha256())});
    }
  }
  t.Print();
  std::cout << "\n";
  Table f({"figure", "value", "records", "label"});
  for (const auto& v : rev.figures()) {
    f.Add({v.key(), v.missing() ? "no data" : v.display() + v.unit(),
           absl::StrCat(v.record_count()), v.label()});
  }
  f.Print();
  std::cout << "\n" << rev.text();
  if (!absl::EndsWith(rev.text(), "\n")) std::cout << "\n";
}

absl::StatusOr<rpt::Report> FetchReport(Context& c, const std::string& name, bool staleness) {
  rpt::GetReportRequest req;
  req.set_name(name);
  req.set_skip_staleness(!staleness);
  rpt::Report r;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  grpc::Status st = Reports(c).GetReport(&ctx, req, &r);
  if (!st.ok()) return FromGrpcStatus(st);
  return r;
}

// Follows the report until `done` (or the deadline); prints each change
// unless quiet. Returns the last state seen.
int Follow(Context& c, const std::string& name, bool print,
           const std::function<bool(const rpt::Report&)>& done, rpt::Report* last) {
  rpt::WatchReportRequest req;
  req.set_name(name);
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto reader = Reports(c).WatchReport(&ctx, req);
  rpt::Report r;
  bool finished = false;
  while (reader->Read(&r)) {
    *last = r;
    if (print) {
      if (c.json()) {
        std::cout << ToJson(r) << std::flush;
      } else {
        std::cout << Time(r.update_unix()) << "  v" << r.version() << "  " << StateLine(r)
                  << "  revision " << r.current_revision()
                  << (r.error().empty() ? "" : "  error: " + r.error()) << std::endl;
      }
    }
    if (done(r)) {
      finished = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status st = reader->Finish();
  if (finished) return kOk;
  if (!st.ok()) return Fail(st);
  return kOk;
}

// ---------------------------------------------------------------- report

int ReportCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the period");
  Flags& f = c.flags();
  if (f.Get("template").empty() || f.Get("workflow").empty()) {
    return UsageError(cmd, "--template and --workflow are required");
  }
  rpt::CreateReportRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_period(c.args[1]);
  req.set_report_id(f.Get("id"));
  req.set_title(f.Get("title"));
  std::string org = req.parent().substr(5);
  req.set_template_(Qualify(org, "templates", f.Get("template")));
  req.set_workflow(Qualify(org, "workflows", f.Get("workflow")));
  std::string bad;
  if (!NarrativeFromFlags(c, req.mutable_narrative(), &bad)) return UsageError(cmd, bad);
  req.set_request_id(RequestId(c));
  rpt::Report resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).CreateReport(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (f.GetBool("wait")) {
    int rc = Follow(
        c, resp.name(), false,
        [](const rpt::Report& r) {
          return (r.current_revision() > 0 && !r.assembling()) || r.state() == rpt::FAILED;
        },
        &resp);
    if (rc != kOk) return rc;
    if (resp.state() == rpt::FAILED) {
      PrintReport(c, resp);
      return kRpcError;
    }
  }
  PrintReport(c, resp);
  return kOk;
}

void PrintBinding(Context& c, const rpt::TemplateWorkflows& b) {
  if (c.json()) {
    std::cout << ToJson(b);
    return;
  }
  std::cout << b.template_() << " may use: " << absl::StrJoin(b.workflows(), ", ") << "\n"
            << "bound by " << b.updated_by() << " at " << Time(b.update_unix()) << "\n";
}

int ReportBindWorkflows(Context& c, const Command& cmd) {
  if (c.args.size() < 2) return UsageError(cmd, "give the org, the template and its workflows");
  rpt::SetTemplateWorkflowsRequest req;
  req.set_parent(OrgName(c.args[0]));
  std::string org = req.parent().substr(5);
  req.set_template_(Qualify(org, "templates", c.args[1]));
  for (size_t i = 2; i < c.args.size(); ++i) {
    req.add_workflows(Qualify(org, "workflows", c.args[i]));
  }
  rpt::TemplateWorkflows resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).SetTemplateWorkflows(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (resp.workflows().empty()) {
    std::cout << resp.template_() << " is bound to no workflow: its reports cannot be created "
              << "or submitted\n";
    return kOk;
  }
  PrintBinding(c, resp);
  return kOk;
}

int ReportWorkflows(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the template");
  rpt::GetTemplateWorkflowsRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_template_(Qualify(req.parent().substr(5), "templates", c.args[1]));
  rpt::TemplateWorkflows resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).GetTemplateWorkflows(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintBinding(c, resp);
  return kOk;
}

int ReportShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report (orgs/ORG/reports/ID or ORG/ID)");
  std::string name = ReportName(c.args[0]);
  if (c.flags().IsSet("revision")) {
    auto n = c.flags().GetInt("revision");
    if (!n.ok()) return UsageError(cmd, std::string(n.status().message()));
    rpt::GetRevisionRequest req;
    req.set_name(absl::StrCat(name, "/revisions/", *n));
    rpt::Revision rev;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Reports(c).GetRevision(&ctx, req, &rev);
    if (!st.ok()) return Fail(st);
    PrintRevision(c, rev);
    return kOk;
  }
  auto r = FetchReport(c, name, true);
  if (!r.ok()) return Fail(r.status());
  PrintReport(c, *r);
  return kOk;
}

int ReportList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  rpt::ListReportsRequest req;
  req.set_parent(OrgName(c.args[0]));
  if (c.flags().IsSet("state")) {
    rpt::ReportState s;
    if (!rpt::ReportState_Parse(absl::AsciiStrToUpper(c.flags().Get("state")), &s)) {
      return UsageError(cmd, "--state: DRAFT, IN_REVIEW, APPROVED, PUBLISHED or FAILED");
    }
    req.set_state(s);
  }
  rpt::ListReportsResponse all;
  do {
    rpt::ListReportsResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Reports(c).ListReports(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& r : *resp.mutable_reports()) *all.add_reports() = std::move(r);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"name", "period", "state", "revision", "published", "updated"});
  for (const auto& r : all.reports()) {
    t.Add({r.name(), r.period(), StateLine(r), absl::StrCat(r.current_revision()),
           r.published_revision() ? absl::StrCat(r.published_revision()) : "",
           Time(r.update_unix())});
  }
  t.Print();
  return kOk;
}

int ReportWatch(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  rpt::Report last;
  int rc = Follow(
      c, ReportName(c.args[0]), true, [](const rpt::Report&) { return false; }, &last);
  if (rc == kUnavailable && last.version() > 0) return kOk;  // Our own deadline ended it.
  return rc;
}

int ReportNarrative(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  rpt::UpdateNarrativeRequest req;
  req.set_name(ReportName(c.args[0]));
  std::string bad;
  if (!NarrativeFromFlags(c, req.mutable_narrative(), &bad)) return UsageError(cmd, bad);
  if (req.narrative().empty()) return UsageError(cmd, "give at least one --narrative slot=...");
  req.set_expected_version(c.flags().GetInt("expected-version").value_or(0));
  req.set_correction(c.flags().GetBool("correction"));
  req.set_request_id(RequestId(c));
  rpt::Report resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).UpdateNarrative(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintReport(c, resp);
  return kOk;
}

int ReportReassemble(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  rpt::ReassembleRequest req;
  req.set_name(ReportName(c.args[0]));
  req.set_expected_version(c.flags().GetInt("expected-version").value_or(0));
  req.set_correction(c.flags().GetBool("correction"));
  req.set_request_id(RequestId(c));
  rpt::Report resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).Reassemble(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintReport(c, resp);
  return kOk;
}

int ReportSubmit(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  rpt::SubmitReportRequest req;
  req.set_name(ReportName(c.args[0]));
  req.set_revision(c.flags().GetInt("revision").value_or(0));
  req.set_expected_version(c.flags().GetInt("expected-version").value_or(0));
  for (const auto& g : c.flags().GetAll("accept-gap")) {
    for (absl::string_view one : absl::StrSplit(g, ',', absl::SkipEmpty())) {
      req.add_accepted_gaps(std::string(one));
    }
  }
  req.set_comment(c.flags().Get("comment"));
  req.set_request_id(RequestId(c));
  rpt::Report resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).SubmitReport(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintReport(c, resp);
  return kOk;
}

// The approval of the report's submitted revision, at its current version.
absl::StatusOr<apv::Approval> CurrentApproval(Context& c, const std::string& report) {
  auto r = FetchReport(c, report, false);
  if (!r.ok()) return r.status();
  if (r->approval().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(report, " has no approval (state ",
                                                      StateName(r->state()), "); submit it first"));
  }
  apv::GetApprovalRequest req;
  req.set_name(r->approval());
  apv::Approval a;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  grpc::Status st = Approvals(c).GetApproval(&ctx, req, &a);
  if (!st.ok()) return FromGrpcStatus(st);
  return a;
}

void PrintApproval(Context& c, const apv::Approval& a) {
  if (c.json()) return PrintJson(a);
  Table t({"field", "value"});
  t.Add({"name", a.name()});
  t.Add({"subject", a.subject()});
  if (!a.title().empty()) t.Add({"title", a.title()});
  t.Add({"workflow", absl::StrCat(a.workflow(), "@", a.workflow_revision())});
  t.Add({"state", apv::ApprovalState_Name(a.state())});
  t.Add({"initiator", a.initiator()});
  if (a.state() == apv::IN_PROGRESS) {
    t.Add({"step",
           absl::StrCat(a.current_step() + 1, "/", a.steps_size(), " ", a.current_step_name())});
    std::vector<std::string> pending;
    for (const auto& task : a.tasks()) {
      if (task.state() == apv::TASK_PENDING) pending.push_back(task.user());
    }
    t.Add({"waiting for", absl::StrJoin(pending, ", ")});
    if (a.due_unix()) t.Add({"due", Time(a.due_unix())});
  }
  if (!a.signer().empty()) t.Add({"signed", absl::StrCat(a.signer(), " at ", a.sign_off_time())});
  if (!a.last_comment().empty()) t.Add({"last comment", a.last_comment()});
  t.Add({"version", absl::StrCat(a.version())});
  t.Add({"history",
         absl::StrCat(a.history_length(), " entries, head ", a.history_head().substr(0, 16))});
  t.Print();
}

int ReportDecide(Context& c, const Command& cmd, const std::string& action) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  if (action == "reject" && c.flags().Get("comment").empty()) {
    return UsageError(cmd, "a rejection needs --comment");
  }
  auto a = CurrentApproval(c, ReportName(c.args[0]));
  if (!a.ok()) return Fail(a.status());
  apv::Approval resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  grpc::Status st;
  if (action == "approve") {
    apv::ApproveRequest req;
    req.set_name(a->name());
    req.set_expected_version(a->version());
    req.set_comment(c.flags().Get("comment"));
    req.set_request_id(RequestId(c));
    st = Approvals(c).Approve(&ctx, req, &resp);
  } else if (action == "reject") {
    apv::RejectRequest req;
    req.set_name(a->name());
    req.set_expected_version(a->version());
    req.set_comment(c.flags().Get("comment"));
    req.set_return_to_step(c.flags().Get("return-to"));
    req.set_request_id(RequestId(c));
    st = Approvals(c).Reject(&ctx, req, &resp);
  } else {
    apv::WithdrawRequest req;
    req.set_name(a->name());
    req.set_expected_version(a->version());
    req.set_comment(c.flags().Get("comment"));
    req.set_request_id(RequestId(c));
    st = Approvals(c).Withdraw(&ctx, req, &resp);
  }
  if (!st.ok()) return Fail(st);
  PrintApproval(c, resp);
  return kOk;
}

int ReportApprove(Context& c, const Command& cmd) { return ReportDecide(c, cmd, "approve"); }
int ReportReject(Context& c, const Command& cmd) { return ReportDecide(c, cmd, "reject"); }
int ReportWithdraw(Context& c, const Command& cmd) { return ReportDecide(c, cmd, "withdraw"); }

int ReportDownload(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  auto format = ParseFormat(c.flags().Get("format"));
  if (!format.ok()) return UsageError(cmd, std::string(format.status().message()));
  std::string name = ReportName(c.args[0]);
  int64_t n = 0;
  if (c.flags().IsSet("revision")) {
    auto v = c.flags().GetInt("revision");
    if (!v.ok()) return UsageError(cmd, std::string(v.status().message()));
    n = *v;
  } else {
    // The published revision if there is one, else the current draft.
    auto r = FetchReport(c, name, false);
    if (!r.ok()) return Fail(r.status());
    n = r->published_revision() ? r->published_revision() : r->current_revision();
    if (n == 0) return Fail(absl::FailedPreconditionError(name + " has no revision yet"));
  }
  std::string out = c.flags().Get("out");
  if (out.empty() && *format == rpt::DOCX) return UsageError(cmd, "a DOCX needs --out FILE");
  rpt::GetDocumentRequest req;
  req.set_name(absl::StrCat(name, "/revisions/", n));
  req.set_format(*format);
  rpt::Document doc;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).GetDocument(&ctx, req, &doc);
  if (!st.ok()) return Fail(st);
  if (Sha256Hex(doc.content()) != doc.sha256()) {
    return Fail(absl::DataLossError("the document does not match its sha256; download again"));
  }
  if (out.empty()) {
    std::cout << doc.content();
  } else {
    std::ofstream file(out, std::ios::binary);
    file << doc.content();
    if (!file) return UsageError(cmd, "cannot write " + out);
  }
  std::cerr << doc.name() << " " << rpt::DocumentFormat_Name(doc.format()) << ": "
            << doc.content().size() << " bytes, sha256 " << doc.sha256()
            << (doc.final() ? ", final" : ", preview of a draft")
            << (doc.revision_digest().empty() ? "" : ", revision digest " + doc.revision_digest())
            << "\n";
  return kOk;
}

int ReportDiff(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the report and two revision numbers");
  std::string name = ReportName(c.args[0]);
  rpt::DiffRevisionsRequest req;
  req.set_from(absl::StrCat(name, "/revisions/", c.args[1]));
  req.set_to(absl::StrCat(name, "/revisions/", c.args[2]));
  rpt::DiffRevisionsResponse d;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).DiffRevisions(&ctx, req, &d);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(d);
    return kOk;
  }
  std::cout << "data version " << d.from_data_version() << " → " << d.to_data_version()
            << (d.template_changed() ? ", template changed" : "")
            << (d.text_changed() ? ", text changed" : ", same text") << "\n";
  if (d.figures_size() > 0) {
    Table t({"figure", c.args[1], c.args[2], "label"});
    for (const auto& f : d.figures()) {
      t.Add({f.key(), f.from_missing() ? "no data" : f.from_display() + f.unit(),
             f.to_missing() ? "no data" : f.to_display() + f.unit(), f.label()});
    }
    t.Print();
  }
  for (const auto& n : d.narrative()) {
    std::cout << "narrative." << n.slot() << ": " << n.change() << "\n";
  }
  for (const auto& f : d.org_fields()) std::cout << f << ": changed\n";
  if (d.gaps_filled_size() > 0)
    std::cout << "gaps filled: " << absl::StrJoin(d.gaps_filled(), ", ") << "\n";
  if (d.gaps_opened_size() > 0)
    std::cout << "gaps opened: " << absl::StrJoin(d.gaps_opened(), ", ") << "\n";
  return kOk;
}

int ReportProvenance(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the report and the indicator key");
  std::string name = ReportName(c.args[0]);
  int64_t n = c.flags().GetInt("revision").value_or(0);
  if (n == 0) {
    auto r = FetchReport(c, name, false);
    if (!r.ok()) return Fail(r.status());
    n = r->current_revision();
  }
  rpt::GetFigureProvenanceRequest req;
  req.set_name(absl::StrCat(name, "/revisions/", n));
  req.set_key(c.args[1]);
  req.set_page_size(1000);
  rpt::GetFigureProvenanceResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).GetFigureProvenance(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  const auto& v = resp.value();
  std::cout << v.key() << " (" << v.label() << ") in revision " << n << ": "
            << (v.missing() ? "no data" : v.display() + v.unit());
  if (resp.changed()) {
    std::cout << "; the records now give "
              << (resp.current().missing() ? "no data" : resp.current().display() + v.unit());
  }
  std::cout << "\n" << resp.total_records() << " record(s) for " << resp.period() << ":\n";
  Table t({"record", "type", "occurred_on", "title"});
  for (const auto& r : resp.records()) t.Add({r.name(), r.type(), r.occurred_on(), r.title()});
  t.Print();
  return kOk;
}

// -------------------------------------------------------------- approval

int WorkflowCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org, the workflow id and the file");
  std::string text;
  if (!ReadInput(c.args[2], &text)) return UsageError(cmd, "cannot read " + c.args[2]);
  apv::CreateWorkflowRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_workflow_id(c.args[1]);
  if (absl::EndsWith(c.args[2], ".json")) {
    auto st = google::protobuf::util::JsonStringToMessage(text, req.mutable_workflow());
    if (!st.ok()) return UsageError(cmd, absl::StrCat(c.args[2], ": ", st.message().as_string()));
  } else if (!google::protobuf::TextFormat::ParseFromString(text, req.mutable_workflow())) {
    return UsageError(
        cmd,
        absl::StrCat(c.args[2], ": not a Workflow in protobuf text format (or name it .json)"));
  }
  req.set_request_id(RequestId(c));
  apv::Workflow resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).CreateWorkflow(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << "created " << resp.name() << " revision " << resp.revision() << " ("
              << resp.steps_size() << " steps)\n";
  }
  return kOk;
}

int WorkflowShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the workflow (orgs/ORG/workflows/ID[@N])");
  apv::GetWorkflowRequest req;
  req.set_name(c.args[0]);
  apv::Workflow w;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).GetWorkflow(&ctx, req, &w);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(w);
    return kOk;
  }
  std::cout << w.name() << "@" << w.revision() << "  " << w.display_name() << "\n";
  Table t({"#", "step", "kind", "mode", "users", "roles", "due"});
  for (int i = 0; i < w.steps_size(); ++i) {
    const auto& s = w.steps(i);
    bool last = i + 1 == w.steps_size();
    t.Add({absl::StrCat(i + 1),
           s.display_name().empty() ? s.name() : s.name() + " " + s.display_name(),
           s.kind() == apv::SIGN_OFF || (last && s.kind() == apv::STEP_KIND_UNSPECIFIED) ? "签发"
                                                                                         : "审核",
           s.mode() == apv::ALL ? "ALL (会签)" : "ANY", absl::StrJoin(s.users(), ","),
           absl::StrJoin(s.roles(), ","),
           s.due_seconds() ? absl::StrCat(s.due_seconds(), "s") : ""});
  }
  t.Print();
  return kOk;
}

int RoleSet(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the role");
  apv::SetRoleMembersRequest req;
  req.set_name(absl::StrCat(OrgName(c.args[0]), "/roles/", c.args[1]));
  for (const auto& m : c.flags().GetAll("members")) {
    for (absl::string_view one : absl::StrSplit(m, ',', absl::SkipEmpty())) {
      req.add_members(std::string(one));
    }
  }
  req.set_request_id(RequestId(c));
  apv::Role resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).SetRoleMembers(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else {
    std::cout << resp.name() << ": "
              << (resp.members().empty() ? "(removed)" : absl::StrJoin(resp.members(), ", "))
              << "\n";
  }
  return kOk;
}

// An approval name, or a report whose current approval is meant.
absl::StatusOr<std::string> ApprovalName(Context& c, const std::string& arg) {
  if (absl::StrContains(arg, "/approvals/")) return arg;
  auto r = FetchReport(c, ReportName(arg), false);
  if (!r.ok()) return r.status();
  if (r->approval().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(r->name(), " has no approval yet"));
  }
  return r->approval();
}

absl::StatusOr<apv::Approval> FetchApproval(Context& c, const std::string& name) {
  apv::GetApprovalRequest req;
  req.set_name(name);
  apv::Approval a;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).GetApproval(&ctx, req, &a);
  if (!st.ok()) return FromGrpcStatus(st);
  return a;
}

int ApprovalShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  PrintApproval(c, *a);
  return kOk;
}

int ApprovalHistory(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  apv::GetHistoryRequest req;
  req.set_name(*name);
  apv::GetHistoryResponse all;
  do {
    apv::GetHistoryResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Approvals(c).GetHistory(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& e : *resp.mutable_entries()) *all.add_entries() = std::move(e);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"#", "time", "action", "actor", "step", "comment", "hash"});
  for (const auto& e : all.entries()) {
    std::string actor = e.via().empty() ? e.actor() : absl::StrCat(e.actor(), " via ", e.via());
    t.Add({absl::StrCat(e.sequence()), Time(e.time_unix()), e.action(), actor, e.step(),
           Clip(e.comment(), 40), e.hash().substr(0, 12)});
  }
  t.Print();
  return kOk;
}

// The org admin's way out of an approval nobody can finish.
int ApprovalCancel(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  if (c.flags().Get("comment").empty()) return UsageError(cmd, "say why with --comment");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  apv::CancelApprovalRequest req;
  req.set_name(*name);
  req.set_expected_version(a->version());
  req.set_comment(c.flags().Get("comment"));
  req.set_request_id(RequestId(c));
  apv::Approval resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).CancelApproval(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintApproval(c, resp);
  return kOk;
}

int ApprovalReassign(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  if (c.flags().Get("from").empty() || c.flags().Get("to").empty()) {
    return UsageError(cmd, "name both --from USER and --to USER");
  }
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  auto a = FetchApproval(c, *name);
  if (!a.ok()) return Fail(a.status());
  apv::ReassignTaskRequest req;
  req.set_name(*name);
  req.set_expected_version(a->version());
  req.set_from_user(c.flags().Get("from"));
  req.set_to_user(c.flags().Get("to"));
  req.set_comment(c.flags().Get("comment"));
  req.set_request_id(RequestId(c));
  apv::Approval resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).ReassignTask(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintApproval(c, resp);
  return kOk;
}

int ApprovalVerify(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the approval or the report");
  auto name = ApprovalName(c, c.args[0]);
  if (!name.ok()) return Fail(name.status());
  apv::VerifyHistoryRequest req;
  req.set_name(*name);
  apv::VerifyHistoryResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Approvals(c).VerifyHistory(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
  } else if (resp.ok()) {
    std::cout << *name << ": history intact, " << resp.entries_checked() << " entries, head "
              << resp.head_hash() << "\n";
  } else {
    std::cout << *name << ": history BROKEN at entry " << resp.first_bad_sequence() << ": "
              << resp.problem() << "\n";
  }
  return resp.ok() ? kOk : kRpcError;
}

int Inbox(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  apv::ListMyTasksRequest req;
  req.set_parent(OrgName(c.args[0]));
  apv::ListMyTasksResponse all;
  do {
    apv::ListMyTasksResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Approvals(c).ListMyTasks(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& t : *resp.mutable_tasks()) *all.add_tasks() = std::move(t);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"approval", "subject", "step", "since", "due", ""});
  for (const auto& task : all.tasks()) {
    t.Add({task.approval().name(), task.approval().subject(),
           task.step_display_name().empty() ? task.step() : task.step_display_name(),
           Time(task.assign_unix()), Time(task.due_unix()), task.overdue() ? "OVERDUE" : ""});
  }
  t.Print();
  return kOk;
}

using Fn = int (*)(Context&, const Command&);

void Add(std::vector<Command>& commands, std::string path, std::string usage, std::string help,
         Fn fn) {
  Command cmd{std::move(path), std::move(usage), std::move(help), nullptr};
  cmd.run = [fn, cmd](Context& c) { return fn(c, cmd); };
  commands.push_back(std::move(cmd));
}

}  // namespace

void RegisterReportCommands(std::vector<Command>& commands) {
  Add(commands, "report create",
      "ORG PERIOD --template NAME --workflow NAME [--id ID] [--title T] "
      "[--narrative slot=TEXT|slot=@FILE]... [--wait]",
      "Create a report and queue its assembly. NAME may be short (annual → "
      "orgs/ORG/templates/annual). The template, the workflow and the period are checked now; "
      "--wait follows the report until its first revision is ready.",
      ReportCreate);
  Add(commands, "report bind-workflows", "ORG TEMPLATE [WORKFLOW]...",
      "Org admins: let reports of TEMPLATE use only these workflows (replacing the previous "
      "binding; none removes it). A template without a binding can be neither created nor "
      "submitted. Short names as for report create.",
      ReportBindWorkflows);
  Add(commands, "report workflows", "ORG TEMPLATE", "Which workflows reports of TEMPLATE may use.",
      ReportWorkflows);
  Add(commands, "report show", "REPORT [--revision N]",
      "Show a report (orgs/ORG/reports/ID or ORG/ID): state, gaps, whether the records changed "
      "since its revision was assembled (and which figures), the last decision. With "
      "--revision: that revision's snapshot of every figure and its text.",
      ReportShow);
  Add(commands, "report list", "ORG [--state S]", "List an org's reports, newest first.",
      ReportList);
  Add(commands, "report watch", "REPORT",
      "Print every state change until the report is PUBLISHED or FAILED (or --timeout-ms).",
      ReportWatch);
  Add(commands, "report narrative",
      "REPORT --narrative slot=TEXT|slot=@FILE... [--expected-version N] [--correction]",
      "Set narrative sections (an empty text removes one) and reassemble. Text is printed as "
      "written, never read as template syntax. --correction starts a corrected revision of a "
      "published report.",
      ReportNarrative);
  Add(commands, "report reassemble", "REPORT [--expected-version N] [--correction]",
      "Assemble again from the current records (after a staleness warning or a failure).",
      ReportReassemble);
  Add(commands, "report submit",
      "REPORT [--revision N] [--accept-gap KEY]... [--comment TEXT] [--expected-version N]",
      "Send the current revision for approval. Refused while it is stale or has figures "
      "without data, unless each such gap is accepted with --accept-gap.",
      ReportSubmit);
  Add(commands, "report approve", "REPORT [--comment TEXT]",
      "Approve your task on the report's approval (the sign-off step publishes it).",
      ReportApprove);
  Add(commands, "report reject", "REPORT --comment TEXT [--return-to STEP]",
      "Reject: back to the drafter, or to an earlier step with --return-to.", ReportReject);
  Add(commands, "report withdraw", "REPORT [--comment TEXT]",
      "Take a submitted report back before anyone has decided.", ReportWithdraw);
  Add(commands, "report download", "REPORT [--revision N] [--format txt|md|html|docx] [--out FILE]",
      "Write a document of the published revision (or a preview of the current draft). The "
      "sha256 is checked and printed on stderr.",
      ReportDownload);
  Add(commands, "report diff", "REPORT FROM TO",
      "Which figures, narrative sections and org fields differ between two revisions.", ReportDiff);
  Add(commands, "report provenance", "REPORT KEY [--revision N]",
      "The records behind one figure of a revision.", ReportProvenance);
}

void RegisterApprovalCommands(std::vector<Command>& commands) {
  Add(commands, "workflow create", "ORG ID FILE",
      "Define a workflow from a JSON (.json) or protobuf text file of a Workflow: ordered steps, "
      "each with users and/or roles, mode ANY or ALL (会签), due_seconds; the last is the "
      "sign-off (签发).",
      WorkflowCreate);
  Add(commands, "workflow show", "NAME[@REVISION]", "Show a workflow's steps.", WorkflowShow);
  Add(commands, "role set", "ORG ROLE --members u1,u2",
      "Set who holds an org role named by workflow steps (no --members removes it).", RoleSet);
  Add(commands, "approval show", "APPROVAL|REPORT", "Show an approval: step, who it waits for.",
      ApprovalShow);
  Add(commands, "approval history", "APPROVAL|REPORT", "The approval's audit trail.",
      ApprovalHistory);
  Add(commands, "approval verify", "APPROVAL|REPORT",
      "Recompute the audit trail's hash chain; exit 1 when it was tampered with.", ApprovalVerify);
  Add(commands, "approval cancel", "APPROVAL|REPORT --comment TEXT",
      "Org admin: end an approval nobody can finish; the report returns to draft.", ApprovalCancel);
  Add(commands, "approval reassign", "APPROVAL|REPORT --from USER --to USER [--comment TEXT]",
      "Org admin: hand a pending task to another member of the org.", ApprovalReassign);
  Add(commands, "inbox", "ORG", "Your pending approval tasks in the org.", Inbox);
}

}  // namespace govreport::cli
