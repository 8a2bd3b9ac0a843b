// reportctl commands of the assembler: reports (create, show, watch,
// narrative, submit, approve/reject, download...). The approval service's
// own commands are in approval_commands.cc.
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/reports_helpers.h"

namespace govreport::cli {

namespace rpt = ::govreport::assembler::v1;
namespace typepb = ::govreport::type::v1;
namespace apv = ::govreport::approval::v1;

namespace {

rpt::ReportService::Stub Reports(Context& c) {
  return rpt::ReportService::Stub(c.Channel("assembler"));
}

}  // namespace

std::string ReportName(const std::string& arg) {
  if (absl::StartsWith(arg, "orgs/")) return arg;
  std::vector<std::string> parts = absl::StrSplit(arg, '/');
  if (parts.size() == 2) return absl::StrCat("orgs/", parts[0], "/reports/", parts[1]);
  return arg;
}

std::string Time(const google::protobuf::Timestamp& t) {
  const int64_t unix = FromTimestamp(t);
  if (unix == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(unix), absl::LocalTimeZone());
}

std::string Clip(const std::string& text, size_t bytes) {
  std::string one = absl::StrJoin(absl::StrSplit(text, '\n'), " ");
  if (one.size() <= bytes) return one;
  size_t cut = bytes;
  while (cut > 0 && (static_cast<unsigned char>(one[cut]) & 0xC0) == 0x80) --cut;
  return one.substr(0, cut) + "…";
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

absl::StatusOr<typepb::DocumentFormat> ParseFormat(const std::string& text) {
  std::string f = absl::AsciiStrToLower(text);
  if (f.empty() || f == "txt" || f == "text") return typepb::DOCUMENT_FORMAT_TXT;
  if (f == "md" || f == "markdown") return typepb::DOCUMENT_FORMAT_MD;
  if (f == "html") return typepb::DOCUMENT_FORMAT_HTML;
  if (f == "docx") return typepb::DOCUMENT_FORMAT_DOCX;
  if (f == "pdf") return typepb::DOCUMENT_FORMAT_PDF;
  if (f == "ofd") return typepb::DOCUMENT_FORMAT_OFD;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: '", text, "' is not one of txt, md, html, docx, pdf, ofd"));
}

namespace {

// Short forms: "annual" → orgs/{org}/{kind}/annual.
std::string Qualify(const std::string& org, const std::string& kind, const std::string& ref) {
  return ref.find('/') == std::string::npos ? absl::StrCat("orgs/", org, "/", kind, "/", ref) : ref;
}

std::string StateName(rpt::ReportState s) { return ShortEnumName(s); }

std::string StateLine(const rpt::Report& r) {
  std::string s = StateName(r.state());
  if (r.state() == rpt::REPORT_STATE_DRAFT) s += r.assembling() ? " (assembling)" : " (ready)";
  return s;
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
    for (int f : r.formats())
      formats.push_back(ShortEnumName(static_cast<typepb::DocumentFormat>(f)));
    t.Add({"formats", absl::StrJoin(formats, ", ")});
  }
  if (!r.error().empty()) t.Add({"error", r.error()});
  std::map<std::string, std::string> narrative(r.narrative().begin(), r.narrative().end());
  for (const auto& [slot, text] : narrative)
    t.Add({absl::StrCat("narrative.", slot), Clip(text, 60)});
  t.Add({"created", absl::StrCat(Time(r.create_time()), " by ", r.created_by())});
  t.Add({"updated", Time(r.update_time())});
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
  if (!rev.partial_revisions().empty()) {
    std::map<std::string, std::string> pins(rev.partial_revisions().begin(),
                                            rev.partial_revisions().end());
    std::vector<std::string> shown;
    shown.reserve(pins.size());
    for (const auto& [name, exact] : pins) shown.push_back(absl::StrCat(name, " → ", exact));
    t.Add({"partials", absl::StrJoin(shown, ", ")});
  }
  t.Add({"assembled", absl::StrCat(Time(rev.create_time()), " by job ", rev.job())});
  if (rev.missing_size() > 0) t.Add({"missing", absl::StrJoin(rev.missing(), ", ")});
  if (rev.frozen()) {
    t.Add({"published", absl::StrCat(Time(rev.publish_time()), ", signed by ", rev.signer(), ", ",
                                     rev.issue_date())});
    t.Add({"digest", rev.digest()});
    for (const auto& d : rev.documents()) {
      t.Add({ShortEnumName(d.format()), absl::StrCat(d.size(), " bytes, sha256 ", d.sha256())});
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

// Waits between the reconnections of a follow: doubling from 250 ms up to
// 5 s, each wait drawn between half and all of that (jitter), so that the
// watchers of a restarted assembler do not all come back at once.
class ReconnectBackoff {
 public:
  absl::Duration Next() {
    absl::Duration full = std::min(absl::Milliseconds(250) * (1 << attempts_), absl::Seconds(5));
    attempts_ = std::min(attempts_ + 1, 5);
    std::uniform_real_distribution<double> half_to_all(0.5, 1.0);
    return full * half_to_all(rng_);
  }
  void Reset() { attempts_ = 0; }

 private:
  int attempts_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

// Follows one report through as many WatchReport streams as it takes
// (Follow below says how).
class Follower {
 public:
  Follower(Context& c, std::string name, bool print, std::function<bool(const rpt::Report&)> done,
           rpt::Report* last)
      : c_(c),
        name_(std::move(name)),
        print_(print),
        done_(std::move(done)),
        last_(last),
        deadline_(absl::Now() +
                  absl::Milliseconds(c.flags().GetInt("timeout-ms").value_or(30000))) {}

  grpc::Status Run() {
    for (;;) {
      StreamEnd end = ReadStream();
      const grpc::Status& st = end.status;
      bool terminal = last_->state() == rpt::REPORT_STATE_PUBLISHED ||
                      last_->state() == rpt::REPORT_STATE_FAILED;
      if (end.done || (st.ok() && terminal)) return grpc::Status::OK;
      // CANCELLED is never ours here (we cancel only when done): a server
      // in its final drain cancels the calls it has not started.
      bool away = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  st.error_code() == grpc::StatusCode::CANCELLED;
      if (!st.ok() && !away) return st;
      if (end.received) backoff_.Reset();
      if (lost_.empty()) {
        lost_ = st.ok()
                    ? "the stream had ended early"
                    : absl::StrCat("the stream had ended: ",
                                   st.error_code() == grpc::StatusCode::CANCELLED ? "CANCELLED: "
                                                                                  : "UNAVAILABLE: ",
                                   st.error_message());
      }
      absl::Duration wait = backoff_.Next();
      if (absl::Now() + wait >= deadline_) {
        if (st.ok()) return {grpc::StatusCode::DEADLINE_EXCEEDED, "--timeout-ms passed"};
        return {grpc::StatusCode::UNAVAILABLE,
                absl::StrCat(st.error_message(), " (gave up reconnecting at --timeout-ms)")};
      }
      absl::SleepFor(wait);
    }
  }

 private:
  struct StreamEnd {
    grpc::Status status{};
    bool done = false;      // `done_` said so (the stream was cancelled then).
    bool received = false;  // At least one report came.
  };

  // One stream, read until it ends or `done_`. It starts with the report as
  // it is now, which after a reconnection may be the one already printed:
  // only a version not printed yet is. Once it answers after a lost one, a
  // line on stderr says why it had to reconnect.
  StreamEnd ReadStream() {
    rpt::WatchReportRequest req;
    req.set_name(name_);
    grpc::ClientContext ctx;
    c_.Prepare(ctx);
    ctx.set_deadline(absl::ToChronoTime(deadline_));
    auto reader = Reports(c_).WatchReport(&ctx, req);
    rpt::Report r;
    StreamEnd end;
    while (reader->Read(&r)) {
      end.received = true;
      if (!lost_.empty()) {
        std::cerr << "reportctl: watching " << name_ << " again (" << lost_ << ")" << std::endl;
        lost_.clear();
      }
      *last_ = r;
      if (print_ && r.version() != printed_) {
        printed_ = r.version();
        Print(r);
      }
      if (done_(r)) {
        end.done = true;
        ctx.TryCancel();
        break;
      }
    }
    end.status = reader->Finish();
    return end;
  }

  void Print(const rpt::Report& r) {
    if (c_.json()) {
      std::cout << ToJson(r) << std::flush;
    } else {
      std::cout << Time(r.update_time()) << "  v" << r.version() << "  " << StateLine(r)
                << "  revision " << r.current_revision()
                << (r.error().empty() ? "" : "  error: " + r.error()) << std::endl;
    }
  }

  Context& c_;
  const std::string name_;
  const bool print_;
  const std::function<bool(const rpt::Report&)> done_;
  rpt::Report* last_;
  const absl::Time deadline_;
  ReconnectBackoff backoff_;
  int64_t printed_ = -1;  // The version printed last.
  std::string lost_;      // Why the last stream ended, until a new one answers.
};

// Follows the report until `done`, until it is PUBLISHED or FAILED (the
// server ends the stream then) or until --timeout-ms from now; prints each
// change unless quiet; `last` is the last state seen. A stream that ends
// otherwise, UNAVAILABLE (the assembler restarting or draining, Redis
// away), CANCELLED by the server (its last moments) or OK too early (the
// server's own limit on a watch), is opened
// again after a backoff: the new one starts with the report as it is, so
// no change is missed. Returns OK, DEADLINE_EXCEEDED when the deadline
// passed while following, UNAVAILABLE when it passed while the assembler
// was away, or the error that ended it.
grpc::Status Follow(Context& c, const std::string& name, bool print,
                    const std::function<bool(const rpt::Report&)>& done, rpt::Report* last) {
  return Follower(c, name, print, done, last).Run();
}

// With --wait: follows the report until the revision of the assembly job
// `resp` queued (or of a later one) is stored, or that assembly failed;
// `resp` becomes the report then. A job is applied in order, so
// applied_job >= the call's pending_job means its revision (or a newer
// one) exists. Returns kOk, or the code to exit with.
int WaitForAssembly(Context& c, rpt::Report& resp) {
  if (!c.flags().GetBool("wait")) return kOk;
  const int64_t job = resp.pending_job();
  grpc::Status st = Follow(
      c, resp.name(), false,
      [job](const rpt::Report& r) {
        return r.applied_job() >= job || (r.state() == rpt::REPORT_STATE_FAILED && !r.assembling());
      },
      &resp);
  if (!st.ok()) return Fail(st);
  if (resp.applied_job() < job) {
    PrintReport(c, resp);
    return kRpcError;
  }
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
  if (int rc = WaitForAssembly(c, resp); rc != kOk) return rc;
  PrintReport(c, resp);
  return kOk;
}

void PrintBinding(Context& c, const rpt::TemplateWorkflows& b) {
  if (c.json()) {
    std::cout << ToJson(b);
    return;
  }
  std::cout << b.template_() << " may use: " << absl::StrJoin(b.workflows(), ", ") << "\n"
            << "bound by " << b.updated_by() << " at " << Time(b.update_time()) << "\n";
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
    const auto* s =
        FindEnumValue(rpt::ReportState_descriptor(), absl::AsciiStrToUpper(c.flags().Get("state")));
    if (s == nullptr || s->number() == 0) {
      return UsageError(cmd, "--state: DRAFT, IN_REVIEW, APPROVED, PUBLISHED or FAILED");
    }
    req.set_state(static_cast<rpt::ReportState>(s->number()));
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
           Time(r.update_time())});
  }
  t.Print();
  return kOk;
}

int ReportWatch(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the report");
  rpt::Report last;
  grpc::Status st = Follow(
      c, ReportName(c.args[0]), true, [](const rpt::Report&) { return false; }, &last);
  // Our own deadline ended a watch that was following: what was asked.
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && last.version() > 0) return kOk;
  return st.ok() ? kOk : Fail(st);
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
  if (int rc = WaitForAssembly(c, resp); rc != kOk) return rc;
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
  if (int rc = WaitForAssembly(c, resp); rc != kOk) return rc;
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
  return FetchApproval(c, r->approval());
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
  if (out.empty() && *format == typepb::DOCUMENT_FORMAT_DOCX)
    return UsageError(cmd, "a DOCX needs --out FILE");
  if (out.empty() && *format == typepb::DOCUMENT_FORMAT_PDF)
    return UsageError(cmd, "a PDF needs --out FILE");
  if (out.empty() && *format == typepb::DOCUMENT_FORMAT_OFD)
    return UsageError(cmd, "an OFD needs --out FILE");
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
  std::cerr << doc.name() << " " << ShortEnumName(doc.format()) << ": " << doc.content().size()
            << " bytes, sha256 " << doc.sha256()
            << (doc.final() ? ", final" : ", preview of a draft")
            << (doc.revision_digest().empty() ? "" : ", revision digest " + doc.revision_digest())
            << "\n";
  return kOk;
}

int ReportDiff(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the report and two revision numbers");
  std::string name = ReportName(c.args[0]);
  rpt::DiffRevisionsRequest req;
  req.set_from_revision(absl::StrCat(name, "/revisions/", c.args[1]));
  req.set_to_revision(absl::StrCat(name, "/revisions/", c.args[2]));
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

// The flags report narrative and report reassemble share.
std::vector<CommandFlag> ChangeFlags() {
  return {{"expected-version", "0", "Refuse unless the report is at this version (0: no check)"},
          {"correction", "false", "Start a corrected revision of a published report"},
          {"wait", "false", "Wait until the revision this call queued (or a newer one) is stored"}};
}

void RegisterDraftCommands(std::vector<Command>& commands) {
  AddCommand(commands, "report create",
             "ORG PERIOD --template NAME --workflow NAME [--id ID] [--title T] "
             "[--narrative slot=TEXT|slot=@FILE]... [--wait]",
             "Create a report and queue its assembly. NAME may be short (annual → "
             "orgs/ORG/templates/annual). The template, the workflow and the period are checked "
             "now; --wait follows the report until its first revision is ready.",
             {{"template", "", "Template of the report (required)"},
              {"workflow", "", "Approval workflow of the report (required)"},
              {"id", "", "Report id (generated if absent)"},
              {"title", "", "Title of the report"},
              {"narrative", "", "slot=TEXT or slot=@FILE (- is stdin), repeatable"},
              {"wait", "false", "Wait until the first revision is assembled"}},
             ReportCreate);
  AddCommand(commands, "report bind-workflows", "ORG TEMPLATE [WORKFLOW]...",
             "Org admins: let reports of TEMPLATE use only these workflows (replacing the "
             "previous binding; none removes it). A template without a binding can be neither "
             "created nor submitted. Short names as for report create.",
             {}, ReportBindWorkflows);
  AddCommand(commands, "report workflows", "ORG TEMPLATE",
             "Which workflows reports of TEMPLATE may use.", {}, ReportWorkflows);
  AddCommand(commands, "report show", "REPORT [--revision N]",
             "Show a report (orgs/ORG/reports/ID or ORG/ID): state, gaps, whether the records "
             "changed since its revision was assembled (and which figures), the last decision. "
             "With --revision: that revision's snapshot of every figure and its text.",
             {{"revision", "", "Show this revision instead of the report"}}, ReportShow);
  AddCommand(commands, "report list", "ORG [--state S]", "List an org's reports, newest first.",
             {{"state", "", "Only DRAFT, IN_REVIEW, APPROVED, PUBLISHED or FAILED"}}, ReportList);
  AddCommand(commands, "report watch", "REPORT",
             "Print every change until the report is PUBLISHED or FAILED (or --timeout-ms, "
             "then exit 0). Reconnects when the assembler restarts (a line on stderr says so); "
             "exits 4 if it is still away at --timeout-ms.",
             {}, ReportWatch);
  std::vector<CommandFlag> narrative = ChangeFlags();
  narrative.insert(narrative.begin(),
                   {"narrative", "", "slot=TEXT or slot=@FILE (- is stdin), repeatable"});
  AddCommand(commands, "report narrative",
             "REPORT --narrative slot=TEXT|slot=@FILE... [--expected-version N] [--correction] "
             "[--wait]",
             "Set narrative sections (an empty text removes one) and reassemble. Text is printed "
             "as written, never read as template syntax. --correction starts a corrected "
             "revision of a published report; --wait returns once the revision with the new "
             "text is stored.",
             std::move(narrative), ReportNarrative);
  AddCommand(commands, "report reassemble", "REPORT [--expected-version N] [--correction] [--wait]",
             "Assemble again from the current records (after a staleness warning or a failure); "
             "--wait returns once the new revision is stored.",
             ChangeFlags(), ReportReassemble);
}

void RegisterDecisionCommands(std::vector<Command>& commands) {
  AddCommand(
      commands, "report submit",
      "REPORT [--revision N] [--accept-gap KEY]... [--comment TEXT] [--expected-version N]",
      "Send the current revision for approval. Refused while it is stale or has figures "
      "without data, unless each such gap is accepted with --accept-gap.",
      {{"revision", "0", "Revision to submit (0: the current one)"},
       {"accept-gap", "", "Figure key without data to accept, repeatable or comma-separated"},
       {"comment", "", "Comment for the approvers"},
       {"expected-version", "0", "Refuse unless the report is at this version (0: no check)"}},
      ReportSubmit);
  AddCommand(commands, "report approve", "REPORT [--comment TEXT]",
             "Approve your task on the report's approval (the sign-off step publishes it).",
             {{"comment", "", "Comment kept in the audit trail"}}, ReportApprove);
  AddCommand(commands, "report reject", "REPORT --comment TEXT [--return-to STEP]",
             "Reject: back to the drafter, or to an earlier step with --return-to.",
             {{"comment", "", "Why (required)"},
              {"return-to", "", "Earlier step to return to (the drafter if absent)"}},
             ReportReject);
  AddCommand(commands, "report withdraw", "REPORT [--comment TEXT]",
             "Take a submitted report back before anyone has decided.",
             {{"comment", "", "Comment kept in the audit trail"}}, ReportWithdraw);
}

}  // namespace

void RegisterReportCommands(std::vector<Command>& commands) {
  RegisterDraftCommands(commands);
  RegisterDecisionCommands(commands);
  AddCommand(
      commands, "report download",
      "REPORT [--revision N] [--format txt|md|html|docx|pdf|ofd] [--out FILE]",
      "Write a document of the published revision (or a preview of the current draft). "
      "The sha256 is checked and printed on stderr.",
      {{"revision", "", "Revision (the published one, else the current draft)"},
       {"format", "txt", "txt, md, html, docx, pdf or ofd"},
       {"out", "", "Write to this file instead of standard output (a docx, pdf or ofd needs it)"}},
      ReportDownload);
  AddCommand(commands, "report diff", "REPORT FROM TO",
             "Which figures, narrative sections and org fields differ between two revisions.", {},
             ReportDiff);
  AddCommand(commands, "report provenance", "REPORT KEY [--revision N]",
             "The records behind one figure of a revision.",
             {{"revision", "0", "Revision (0: the current one)"}}, ReportProvenance);
}
}  // namespace govreport::cli
