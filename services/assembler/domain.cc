#include "assembler/domain.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/markup.h"
#include "common/numerals.h"
#include "common/png.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "common/utf8.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "report_context/report_context.h"

namespace govreport::assembler {
namespace {

constexpr absl::string_view kFullWidthSpace = "\xE3\x80\x80";

const char* StateName(pb::ReportState s) {
  switch (s) {
    case pb::REPORT_STATE_DRAFT:
      return "DRAFT";
    case pb::REPORT_STATE_IN_REVIEW:
      return "IN_REVIEW";
    case pb::REPORT_STATE_APPROVED:
      return "APPROVED";
    case pb::REPORT_STATE_PUBLISHED:
      return "PUBLISHED";
    case pb::REPORT_STATE_FAILED:
      return "FAILED";
    default:
      return "UNSPECIFIED";
  }
}

void Touch(pb::Report& r, int64_t now_unix) {
  r.set_version(r.version() + 1);
  *r.mutable_update_time() = ToTimestamp(now_unix);
}

std::string Trim(absl::string_view line) {
  absl::string_view s = absl::StripAsciiWhitespace(line);
  while (absl::ConsumePrefix(&s, kFullWidthSpace)) s = absl::StripLeadingAsciiWhitespace(s);
  while (absl::ConsumeSuffix(&s, kFullWidthSpace)) s = absl::StripTrailingAsciiWhitespace(s);
  return std::string(s);
}

const rpb::IndicatorValue* FindFigure(const pb::Revision& rev, absl::string_view key) {
  for (const auto& v : rev.figures()) {
    if (v.key() == key) return &v;
  }
  return nullptr;
}

}  // namespace

// ------------------------------------------------------------------ names

std::string ReportRef::Name() const { return absl::StrCat("orgs/", org, "/reports/", id); }

std::string RevisionRef::Name() const {
  return absl::StrCat("orgs/", org, "/reports/", id, "/revisions/", number);
}

absl::StatusOr<ReportRef> ParseReportName(absl::string_view name, absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, "orgs/*/reports/*", field));
  return ReportRef{parts[0], parts[1]};
}

absl::StatusOr<RevisionRef> ParseRevisionName(absl::string_view name, absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, "orgs/*/reports/*/revisions/*", field));
  int64_t n = 0;
  if (!absl::SimpleAtoi(parts[2], &n) || n < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", name, "': the revision is a number from 1 (orgs/*/reports/*/revisions/N)"));
  }
  return RevisionRef{parts[0], parts[1], n};
}

absl::Status CheckTemplateRef(absl::string_view org, absl::string_view ref) {
  absl::string_view base = ref;
  size_t at = ref.rfind('@');
  if (at != absl::string_view::npos) {
    int64_t rev = 0;
    if (!absl::SimpleAtoi(ref.substr(at + 1), &rev) || rev < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("template: '", ref, "': after '@' comes a revision number from 1"));
    }
    base = ref.substr(0, at);
  }
  std::string own = absl::StrCat("orgs/", org, "/templates/");
  absl::string_view id = base;
  if (!absl::ConsumePrefix(&id, own) && !absl::ConsumePrefix(&id, "templates/")) {
    return absl::InvalidArgumentError(absl::StrCat("template: '", ref,
                                                   "' is neither a template of orgs/", org, " (",
                                                   own, "{id}) nor a shared one (templates/{id})"));
  }
  if (id.empty() || id.size() > 200 || std::any_of(id.begin(), id.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == '@';
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("template: '", ref, "' does not name a template"));
  }
  return absl::OkStatus();
}

std::string PinnedTemplate(absl::string_view ref, int64_t revision) {
  absl::string_view base = ref.substr(0, std::min(ref.size(), ref.rfind('@')));
  if (revision <= 0) return std::string(ref);
  return absl::StrCat(base, "@", revision);
}

std::string TemplateBase(absl::string_view ref) {
  size_t at = ref.rfind('@');
  return std::string(at == absl::string_view::npos ? ref : ref.substr(0, at));
}

absl::Status CheckWorkflowRef(absl::string_view org, absl::string_view ref) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(ref, "orgs/*/workflows/*", "workflow"));
  if (parts[0] != org) {
    return absl::InvalidArgumentError(
        absl::StrCat("workflow: ", ref, " belongs to another org; use a workflow of orgs/", org));
  }
  return absl::OkStatus();
}

// --------------------------------------------------------- assembly jobs

std::string AssembleJob::JobId() const { return absl::StrCat(id, "#", seq); }

streams::Fields JobFields(const AssembleJob& job) {
  return {{"report", ReportRef{job.org, job.id}.Name()},
          {"org", job.org},
          {"job", job.JobId()},
          {"seq", absl::StrCat(job.seq)},
          {"requested_by", job.requested_by},
          {"request_id", job.request_id}};
}

absl::StatusOr<AssembleJob> ParseJob(const streams::Entry& entry) {
  GR_ASSIGN_OR_RETURN(ReportRef ref, ParseReportName(entry.Get("report"), "report"));
  AssembleJob job;
  job.org = ref.org;
  job.id = ref.id;
  job.requested_by = entry.Get("requested_by");
  job.request_id = entry.Get("request_id");  // Absent in jobs queued before it existed.
  if (!absl::SimpleAtoi(entry.Get("seq"), &job.seq) || job.seq < 1) {
    return absl::InvalidArgumentError(absl::StrCat("job ", entry.id, ": no valid seq field"));
  }
  if (!entry.Get("org").empty() && entry.Get("org") != ref.org) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", entry.id, ": org field does not match the report"));
  }
  return job;
}

std::string JobIdempotencyKey(const AssembleJob& job) {
  return absl::StrCat(OrgPrefix(job.org), "rpt:", job.id, ":job:", job.seq);
}

JobVerdict ClassifyJob(const pb::Report& report, int64_t seq) {
  if (seq <= report.applied_job()) return JobVerdict::kApplied;
  if (seq < report.pending_job()) return JobVerdict::kSuperseded;
  if (report.state() != pb::REPORT_STATE_DRAFT || seq != report.pending_job())
    return JobVerdict::kWrongState;
  return JobVerdict::kRun;
}

// ----------------------------------------------------------- transitions

pb::Report NewReport(const ReportRef& ref, const pb::CreateReportRequest& req,
                     absl::string_view period_label, absl::string_view by, int64_t now_unix) {
  pb::Report r;
  r.set_name(ref.Name());
  r.set_title(req.title());
  r.set_period(std::string(period_label));
  r.set_template_(req.template_());
  r.set_workflow(req.workflow());
  r.set_state(pb::REPORT_STATE_DRAFT);
  r.set_assembling(true);
  *r.mutable_narrative() = req.narrative();
  for (const auto& [slot, text] : req.narrative()) {
    if (!text.empty()) (*r.mutable_narrative_authors())[slot].add_users(std::string(by));
  }
  r.set_pending_job(1);
  r.set_version(1);
  r.set_created_by(std::string(by));
  *r.mutable_create_time() = ToTimestamp(now_unix);
  *r.mutable_update_time() = r.create_time();
  return r;
}

absl::Status CheckCanChangeDraft(const pb::Report& report, bool correction,
                                 absl::string_view what) {
  switch (report.state()) {
    case pb::REPORT_STATE_DRAFT:
    case pb::REPORT_STATE_FAILED:
      return absl::OkStatus();
    case pb::REPORT_STATE_IN_REVIEW:
      return errors::WithReason(
          absl::FailedPreconditionError(
              absl::StrCat(report.name(), " is in review (",
                           report.approval().empty() ? "approval starting" : report.approval(),
                           "); withdraw the approval or have it rejected before you ", what)),
          "REPORT_IN_REVIEW", "报告正在审批中");
    case pb::REPORT_STATE_APPROVED:
      return errors::WithReason(
          absl::FailedPreconditionError(
              absl::StrCat(report.name(),
                           " is approved and its documents are being published; once it is "
                           "PUBLISHED a correction can start (correction=true)")),
          "REPORT_APPROVED", "报告已审批通过，正在发布");
    case pb::REPORT_STATE_PUBLISHED:
      if (correction) return absl::OkStatus();
      return errors::WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              report.name(), "/revisions/", report.published_revision(),
              " is published and frozen; to ", what,
              " start a correction (correction=true): it makes a new revision that needs "
              "approval again, and the published one stays as it is")),
          "REPORT_PUBLISHED", "报告已发布并冻结，修改需发起更正（correction=true）");
    default:
      return absl::InternalError(absl::StrCat(report.name(), ": unknown state"));
  }
}

AssembleJob StartAssembly(pb::Report& report, absl::string_view by, int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_DRAFT);
  report.set_assembling(true);
  report.clear_error();
  report.set_pending_job(report.pending_job() + 1);
  Touch(report, now_unix);
  auto ref = ParseReportName(report.name());
  AssembleJob job;
  if (ref.ok()) {
    job.org = ref->org;
    job.id = ref->id;
  }
  job.seq = report.pending_job();
  job.requested_by = std::string(by);
  return job;
}

void ApplyRevision(pb::Report& report, const pb::Revision& revision, int64_t seq,
                   int64_t now_unix) {
  report.set_current_revision(revision.number());
  report.set_applied_job(seq);
  report.set_assembling(report.pending_job() > seq);
  *report.mutable_missing_figures() = revision.missing_figures();
  report.clear_error();
  Touch(report, now_unix);
}

void MarkFailed(pb::Report& report, absl::string_view error, int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_FAILED);
  report.set_assembling(false);
  report.set_error(std::string(error));
  Touch(report, now_unix);
}

absl::StatusOr<int64_t> CheckCanSubmit(const pb::Report& report, int64_t revision) {
  switch (report.state()) {
    case pb::REPORT_STATE_DRAFT:
      break;
    case pb::REPORT_STATE_FAILED:
      return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                    report.name(), ": the last assembly failed (", report.error(),
                                    "); fix the cause and Reassemble")),
                                "REPORT_FAILED", "上次生成失败，请排除原因后重新生成");
    case pb::REPORT_STATE_IN_REVIEW:
      return errors::WithReason(
          absl::FailedPreconditionError(
              absl::StrCat(report.name(), " is already in review (", report.approval(), ")")),
          "REPORT_IN_REVIEW", "报告已在审批中");
    default:
      return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                    report.name(), " is ", StateName(report.state()),
                                    "; a correction starts with Reassemble (correction=true)")),
                                "REPORT_STATE_FORBIDS", "当前报告状态不允许此操作");
  }
  if (report.assembling() || report.current_revision() == 0) {
    return errors::WithReason(
        absl::FailedPreconditionError(
            absl::StrCat(report.name(), " is being assembled (job ", report.pending_job(),
                         "); wait for the new revision (WatchReport), review it, then submit it")),
        "REPORT_ASSEMBLING", "报告正在生成，请等待新修订");
  }
  if (revision != 0 && revision != report.current_revision()) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat("revision ", revision, " of ", report.name(),
                                                   " is not the current one (",
                                                   report.current_revision(), "); review revision ",
                                                   report.current_revision(), " and submit that")),
        "REVISION_NOT_CURRENT", "该修订不是当前修订，请审阅并提交当前修订");
  }
  return report.current_revision();
}

void MarkInReview(pb::Report& report, int64_t revision,
                  const std::vector<std::string>& accepted_gaps, int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_IN_REVIEW);
  report.set_submitted_revision(revision);
  report.clear_approval();
  report.clear_accepted_gaps();
  for (const auto& g : accepted_gaps) report.add_accepted_gaps(g);
  report.clear_last_decision();
  report.clear_last_decision_by();
  report.clear_last_comment();
  Touch(report, now_unix);
}

void SetApproval(pb::Report& report, absl::string_view approval, int64_t now_unix) {
  report.set_approval(std::string(approval));
  Touch(report, now_unix);
}

void ReturnToDraft(pb::Report& report, absl::string_view decision, absl::string_view by,
                   absl::string_view comment, int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_DRAFT);
  report.set_last_decision(std::string(decision));
  report.set_last_decision_by(std::string(by));
  report.set_last_comment(std::string(comment));
  Touch(report, now_unix);
}

void SetNumbering(pb::Report& report, const Numbering& numbering, int64_t now_unix) {
  report.set_document_number(numbering.display);
  report.set_document_number_name(numbering.name);
  *report.mutable_document_settings() = numbering.settings;
  Touch(report, now_unix);
}

void MarkApproved(pb::Report& report, const SignOff& s, const Numbering& numbering,
                  int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_APPROVED);
  report.set_approval(s.approval);
  report.set_signer(s.signer);
  report.clear_signer_names();
  for (const auto& n : s.signer_names) report.add_signer_names(n);
  report.set_document_number(numbering.display);
  report.set_document_number_name(numbering.name);
  *report.mutable_document_settings() = numbering.settings;
  *report.mutable_sign_off_time() = ToTimestamp(s.sign_off_unix);
  report.set_issue_date(FormatDateGb(IssueDateOf(s.sign_off_unix)));
  report.clear_error();
  Touch(report, now_unix);
}

void MarkPublished(pb::Report& report, const pb::Revision& revision, int64_t now_unix) {
  report.set_state(pb::REPORT_STATE_PUBLISHED);
  report.clear_outdated();
  report.set_published_revision(revision.number());
  report.set_digest(revision.digest());
  report.set_approval_history_head(revision.approval_history_head());
  report.clear_formats();
  for (const auto& d : revision.documents()) report.add_formats(d.format());
  report.clear_error();
  Touch(report, now_unix);
}

// ---------------------------------------------------------------- events

namespace {

events::v1::Event OrgEvent(events::v1::EventKind kind, absl::string_view org,
                           absl::string_view actor, int64_t now_unix) {
  events::v1::Event e;
  e.set_kind(kind);
  e.set_org(absl::StrCat("orgs/", org));
  *e.mutable_time() = ToTimestamp(now_unix);
  e.set_actor(actor.empty() ? "system" : std::string(actor));
  return e;
}

}  // namespace

events::v1::Event AssembledEvent(const AssembleJob& job, const pb::Revision& revision,
                                 int64_t now_unix) {
  events::v1::Event e =
      OrgEvent(events::v1::EVENT_KIND_REPORT_ASSEMBLED, job.org, job.requested_by, now_unix);
  e.set_request_id(job.request_id);
  events::v1::ReportAssembled* a = e.mutable_report_assembled();
  a->set_report(ReportRef{job.org, job.id}.Name());
  a->set_revision(revision.number());
  *a->mutable_missing_figures() = revision.missing_figures();
  return e;
}

events::v1::Event PublishedEvent(const RevisionRef& ref, const pb::Revision& frozen,
                                 int64_t now_unix) {
  events::v1::Event e =
      OrgEvent(events::v1::EVENT_KIND_REPORT_PUBLISHED, ref.org, frozen.signer(), now_unix);
  events::v1::ReportPublished* p = e.mutable_report_published();
  p->set_report(ref.report().Name());
  p->set_revision(ref.number);
  p->set_digest(frozen.digest());
  *p->mutable_documents() = frozen.documents();
  p->set_signer(frozen.signer());
  p->set_issue_date(frozen.issue_date());
  return e;
}

OutdatedChange ClassifyOutdated(const pb::Report& report, const pb::Staleness& now) {
  if (report.state() != pb::REPORT_STATE_PUBLISHED || !now.checked()) return OutdatedChange::kNone;
  if (!now.stale()) {
    return report.has_outdated() ? OutdatedChange::kCleared : OutdatedChange::kNone;
  }
  if (report.has_outdated() &&
      report.outdated().current_data_version() == now.current_data_version()) {
    return OutdatedChange::kNone;
  }
  return OutdatedChange::kOutdated;
}

events::v1::Event OutdatedEvent(const ReportRef& ref, const pb::Report& report,
                                const pb::Staleness& now, int64_t now_unix) {
  events::v1::Event e =
      OrgEvent(events::v1::EVENT_KIND_REPORT_OUTDATED, ref.org, "system", now_unix);
  events::v1::ReportOutdated* o = e.mutable_report_outdated();
  o->set_report(ref.Name());
  o->set_revision(report.published_revision());
  o->set_published_data_version(now.revision_data_version());
  o->set_current_data_version(now.current_data_version());
  *o->mutable_changed_figures() = now.changed_figures();
  *o->mutable_changed_org_fields() = now.changed_org_fields();
  return e;
}

// -------------------------------------------------------------- contents

absl::Status RecordNarrativeAuthor(pb::Report& report, absl::string_view slot, bool removed,
                                   absl::string_view user) {
  auto* authors = report.mutable_narrative_authors();
  if (removed) {
    // Its text is gone from the report, and with it its authorship.
    authors->erase(std::string(slot));
    return absl::OkStatus();
  }
  auto& users = *(*authors)[std::string(slot)].mutable_users();
  if (std::find(users.begin(), users.end(), user) != users.end()) return absl::OkStatus();
  std::vector<std::string> all = NarrativeAuthorsOf(report.narrative_authors());
  if (std::find(all.begin(), all.end(), user) == all.end() && all.size() >= kMaxNarrativeAuthors) {
    return absl::FailedPreconditionError(
        absl::StrCat("narrative: at most ", kMaxNarrativeAuthors,
                     " people may write a report's narrative, and it has that many"));
  }
  users.Add(std::string(user));
  return absl::OkStatus();
}

std::vector<std::string> NarrativeAuthorsOf(
    const google::protobuf::Map<std::string, pb::NarrativeAuthors>& authors) {
  std::vector<std::string> out;
  for (const auto& [slot, a] : authors) out.insert(out.end(), a.users().begin(), a.users().end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> ExcludedApprovers(const pb::Revision& revision,
                                           absl::string_view fallback_author) {
  std::vector<std::string> out = NarrativeAuthorsOf(revision.narrative_authors());
  for (const auto& [slot, text] : revision.narrative()) {
    // Text stored before authors were recorded: its author is unknown, so
    // the report's creator answers for it.
    if (!text.empty() && revision.narrative_authors().count(slot) == 0 &&
        !fallback_author.empty()) {
      out.emplace_back(fallback_author);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status CheckBoundWorkflow(const pb::TemplateWorkflows* binding, absl::string_view org,
                                absl::string_view template_ref, absl::string_view workflow) {
  std::string base = TemplateBase(template_ref);
  if (binding == nullptr || binding->workflows().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "workflow: no workflow is bound to ", base, " in orgs/", org,
        "; an org admin binds the workflows its reports may use (SetTemplateWorkflows, "
        "reportctl report bind-workflows)"));
  }
  for (const auto& w : binding->workflows()) {
    if (w == workflow) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat("workflow: reports of ", base, " may use only ",
                                                    absl::StrJoin(binding->workflows(), ", "),
                                                    " (bound by the org admin), not ", workflow));
}

absl::Status ValidateNarrative(const google::protobuf::Map<std::string, std::string>& narrative,
                               const std::vector<std::string>& known_slots,
                               absl::string_view field) {
  for (const auto& [slot, text] : narrative) {
    if (slot.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty slot name"));
    if (!known_slots.empty() &&
        std::find(known_slots.begin(), known_slots.end(), slot) == known_slots.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", slot, "]: not a narrative slot of the org's profile (slots: ",
                       absl::StrJoin(known_slots, ", "), ")"));
    }
    if (text.size() > kMaxNarrativeBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, "[", slot, "]: ", text.size(),
                                                     " bytes, at most ", kMaxNarrativeBytes));
    }
    GR_RETURN_IF_ERROR(CheckDocumentText(absl::StrCat(field, "[", slot, "]"), text));
  }
  return absl::OkStatus();
}

void SetMissing(const std::vector<std::string>& render_missing, pb::Revision* revision) {
  std::set<std::string> figures;
  for (const auto& name : render_missing) {
    if (name == "issue" || absl::StartsWith(name, "issue.")) continue;
    revision->add_missing(name);
    absl::string_view rest = name;
    if (absl::ConsumePrefix(&rest, "ind.") && !rest.empty()) {
      std::string key(rest.substr(0, rest.find('.')));
      if (figures.insert(key).second) revision->add_missing_figures(key);
    }
  }
}

absl::Status CheckGaps(const pb::Revision& revision, const std::vector<std::string>& accepted,
                       std::vector<std::string>* normalized) {
  std::set<std::string> gaps(revision.missing_figures().begin(), revision.missing_figures().end());
  std::set<std::string> ok;
  for (const auto& a : accepted) {
    absl::string_view key = a;
    absl::ConsumePrefix(&key, "ind.");
    if (!gaps.count(std::string(key))) {
      return absl::InvalidArgumentError(
          absl::StrCat("accepted_gaps: '", a, "' is not a gap of revision ", revision.number(),
                       " (gaps: ", gaps.empty() ? "none" : absl::StrJoin(gaps, ", "), ")"));
    }
    ok.insert(std::string(key));
  }
  std::vector<std::string> open;
  for (const auto& key : revision.missing_figures()) {
    if (ok.count(key)) continue;
    const rpb::IndicatorValue* v = FindFigure(revision, key);
    open.push_back(v && !v->label().empty() ? absl::StrCat(key, " (", v->label(), ")") : key);
  }
  if (!open.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("revision ", revision.number(), " has no data for ", open.size(),
                     " figure(s): ", absl::StrJoin(open, ", "),
                     ". Record the activities and Reassemble, or accept these gaps explicitly "
                     "(accepted_gaps)"));
  }
  normalized->assign(ok.begin(), ok.end());
  return absl::OkStatus();
}

std::vector<pb::FigureChange> DiffFigures(
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& from,
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& to) {
  std::map<std::string, const rpb::IndicatorValue*> before;
  for (const auto& v : from) before[v.key()] = &v;
  std::vector<pb::FigureChange> out;
  auto add = [&out](const rpb::IndicatorValue* a, const rpb::IndicatorValue* b) {
    const rpb::IndicatorValue& any = b ? *b : *a;
    pb::FigureChange c;
    c.set_key(any.key());
    c.set_label(any.label());
    c.set_unit(any.unit());
    c.set_from_missing(a == nullptr || a->missing());
    c.set_to_missing(b == nullptr || b->missing());
    if (a && !a->missing()) {
      c.set_from_value(a->value());
      c.set_from_display(a->display());
    }
    if (b && !b->missing()) {
      c.set_to_value(b->value());
      c.set_to_display(b->display());
    }
    out.push_back(std::move(c));
  };
  for (const auto& b : to) {
    auto it = before.find(b.key());
    const rpb::IndicatorValue* a = it == before.end() ? nullptr : it->second;
    if (it != before.end()) before.erase(it);
    bool a_missing = a == nullptr || a->missing();
    bool same = a_missing == b.missing() &&
                (b.missing() || (a->value() == b.value() && a->display() == b.display()));
    if (!same) add(a, &b);
  }
  for (const auto& v : from) {
    if (before.count(v.key())) add(&v, nullptr);
  }
  return out;
}

std::vector<std::string> DiffOrgFields(const rpb::Org& a, const rpb::Org& b) {
  std::vector<std::string> out;
  if (a.display_name() != b.display_name()) out.emplace_back("org.name");
  if (a.short_name() != b.short_name()) out.emplace_back("org.short_name");
  if (a.city() != b.city()) out.emplace_back("org.city");
  if (a.district() != b.district()) out.emplace_back("org.district");
  std::map<std::string, std::string> fa(a.facts().begin(), a.facts().end());
  std::map<std::string, std::string> fb(b.facts().begin(), b.facts().end());
  std::set<std::string> keys;
  for (const auto& [k, v] : fa) keys.insert(k);
  for (const auto& [k, v] : fb) keys.insert(k);
  for (const auto& k : keys) {
    auto ia = fa.find(k), ib = fb.find(k);
    if (ia == fa.end() || ib == fb.end() || ia->second != ib->second) {
      out.push_back(absl::StrCat("facts.", k));
    }
  }
  return out;
}

google::protobuf::RepeatedPtrField<rpb::IndicatorValue> ComparedFigures(
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& values,
    const rpb::GetRollupValuesResponse& rollup) {
  google::protobuf::RepeatedPtrField<rpb::IndicatorValue> out = values;
  for (const auto& rolled : rollup.values()) {
    rpb::IndicatorValue& total = *out.Add();
    total = rolled.total();
    total.set_key(absl::StrCat("rollup.", rolled.total().key()));
    for (const auto& share : rolled.shares()) {
      if (!share.excluded().empty()) continue;
      rpb::IndicatorValue& v = *out.Add();
      v = share.value();
      v.set_key(absl::StrCat("rollup.", rolled.total().key(), "@", share.org()));
    }
  }
  return out;
}

pb::Staleness CompareWithCurrent(const pb::Revision& revision,
                                 const rpb::GetIndicatorValuesResponse& now,
                                 const rpb::Org& org_now) {
  pb::Staleness s;
  s.set_checked(true);
  s.set_revision_data_version(revision.data_version());
  s.set_current_data_version(now.data_version());
  // A write to another period moves the data version without changing
  // this report's figures: only a changed figure makes it stale.
  for (auto& c : DiffFigures(ComparedFigures(revision.figures(), revision.rollup()),
                             ComparedFigures(now.values(), now.rollup()))) {
    *s.add_changed_figures() = std::move(c);
  }
  for (auto& f : DiffOrgFields(revision.org(), org_now)) s.add_changed_org_fields(f);
  s.set_stale(s.changed_figures_size() > 0 || s.changed_org_fields_size() > 0);
  return s;
}

std::string DescribeStaleness(const pb::Staleness& s, int64_t revision) {
  std::vector<std::string> parts;
  for (const auto& c : s.changed_figures()) {
    parts.push_back(
        absl::StrCat(c.key(), c.label().empty() ? "" : absl::StrCat(" (", c.label(), ")"), ": ",
                     c.from_missing() ? "no data" : absl::StrCat(c.from_display(), c.unit()), " → ",
                     c.to_missing() ? "no data" : absl::StrCat(c.to_display(), c.unit())));
  }
  std::string out = absl::StrCat("revision ", revision,
                                 " is stale: the records changed since it "
                                 "was assembled (data version ",
                                 s.revision_data_version(), " → ", s.current_data_version(), ")");
  if (!parts.empty()) absl::StrAppend(&out, "; figures: ", absl::StrJoin(parts, "; "));
  if (s.changed_org_fields_size() > 0) {
    absl::StrAppend(&out, "; org fields: ", absl::StrJoin(s.changed_org_fields(), ", "));
  }
  absl::StrAppend(&out, ". Reassemble the report and submit the new revision");
  return out;
}

pb::DiffRevisionsResponse DiffRevisions(const pb::Revision& from, const pb::Revision& to) {
  pb::DiffRevisionsResponse d;
  d.set_from_revision(from.name());
  d.set_to_revision(to.name());
  d.set_from_data_version(from.data_version());
  d.set_to_data_version(to.data_version());
  for (auto& c : DiffFigures(ComparedFigures(from.figures(), from.rollup()),
                             ComparedFigures(to.figures(), to.rollup()))) {
    *d.add_figures() = std::move(c);
  }
  std::map<std::string, std::string> na(from.narrative().begin(), from.narrative().end());
  std::map<std::string, std::string> nb(to.narrative().begin(), to.narrative().end());
  std::set<std::string> slots;
  for (const auto& [k, v] : na) slots.insert(k);
  for (const auto& [k, v] : nb) slots.insert(k);
  for (const auto& slot : slots) {
    auto ia = na.find(slot), ib = nb.find(slot);
    pb::NarrativeChange c;
    c.set_slot(slot);
    if (ia == na.end()) {
      c.set_change("added");
    } else if (ib == nb.end()) {
      c.set_change("removed");
    } else if (ia->second != ib->second) {
      c.set_change("modified");
    } else {
      continue;
    }
    if (ia != na.end()) c.set_from_text(ia->second);
    if (ib != nb.end()) c.set_to_text(ib->second);
    *d.add_narrative() = std::move(c);
  }
  for (auto& f : DiffOrgFields(from.org(), to.org())) d.add_org_fields(f);
  const std::map<std::string, std::string> from_partials(from.partial_revisions().begin(),
                                                         from.partial_revisions().end());
  const std::map<std::string, std::string> to_partials(to.partial_revisions().begin(),
                                                       to.partial_revisions().end());
  d.set_template_changed(from.template_() != to.template_() ||
                         from.template_revision() != to.template_revision() ||
                         from_partials != to_partials);
  d.set_text_changed(from.text() != to.text());
  std::set<std::string> ga(from.missing_figures().begin(), from.missing_figures().end());
  std::set<std::string> gb(to.missing_figures().begin(), to.missing_figures().end());
  for (const auto& g : ga) {
    if (!gb.count(g)) d.add_gaps_filled(g);
  }
  for (const auto& g : gb) {
    if (!ga.count(g)) d.add_gaps_opened(g);
  }
  return d;
}

rpb::GetIndicatorValuesResponse SnapshotFigures(const pb::Revision& revision) {
  rpb::GetIndicatorValuesResponse f;
  *f.mutable_values() = revision.figures();
  f.set_period(revision.period());
  f.set_first_day(revision.first_day());
  f.set_last_day(revision.last_day());
  f.set_data_version(revision.data_version());
  if (revision.has_rollup()) *f.mutable_rollup() = revision.rollup();
  return f;
}

std::string TitleFromText(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string t = Trim(line);
    if (!t.empty()) return t.size() > kMaxTitleBytes ? t.substr(0, kMaxTitleBytes) : t;
  }
  return "";
}

pb::Revision MakeRevision(const pb::Report& report, const AssembleJob& job, int64_t number,
                          const rpb::Org& org, const rpb::GetIndicatorValuesResponse& figures,
                          const tpb::RenderResponse& rendered, int64_t now_unix) {
  pb::Revision rev;
  rev.set_name(RevisionRef{job.org, job.id, number}.Name());
  rev.set_number(number);
  rev.set_period(figures.period().empty() ? report.period() : figures.period());
  rev.set_first_day(figures.first_day());
  rev.set_last_day(figures.last_day());
  rev.set_data_version(figures.data_version());
  *rev.mutable_figures() = figures.values();
  if (figures.has_rollup()) *rev.mutable_rollup() = figures.rollup();
  *rev.mutable_narrative() = report.narrative();
  *rev.mutable_narrative_authors() = report.narrative_authors();
  *rev.mutable_org() = org;
  rev.set_template_(report.template_());
  rev.set_template_revision(rendered.template_revision());
  *rev.mutable_partial_revisions() = rendered.partial_revisions();
  rev.set_text(rendered.content());
  rev.set_title(report.title().empty() ? TitleFromText(rev.text()) : report.title());
  SetMissing(std::vector<std::string>(rendered.missing().begin(), rendered.missing().end()), &rev);
  rev.set_job(job.JobId());
  rev.set_requested_by(job.requested_by);
  *rev.mutable_create_time() = ToTimestamp(now_unix);
  return rev;
}

// ------------------------------------------------------ document numbers

absl::StatusOr<std::string> ParseDocumentSettingsName(absl::string_view name,
                                                      absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, "orgs/*/documentSettings", field));
  return parts[0];
}

std::string DocumentSettingsName(absl::string_view org) {
  return absl::StrCat("orgs/", org, "/documentSettings");
}

std::string DocumentNumberRef::Name() const {
  return absl::StrCat("orgs/", org, "/documentNumbers/", id);
}

absl::StatusOr<DocumentNumberRef> ParseDocumentNumberName(absl::string_view name,
                                                          absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, "orgs/*/documentNumbers/*", field));
  DocumentNumberRef ref{parts[0], 0};
  if (!absl::SimpleAtoi(parts[1], &ref.id) || ref.id < 1 || parts[1][0] == '0') {
    return errors::InvalidField(
        field, "INVALID_NAME",
        absl::StrCat("'", name, "' is not orgs/{org}/documentNumbers/{n} with n = 1, 2, ..."),
        "不是有效的发文字号登记名称");
  }
  return ref;
}

namespace {

// The code point of the well-formed sequence of `len` bytes at s[i].
char32_t CodePointAt(absl::string_view s, size_t i, size_t len) {
  static constexpr unsigned char kLead[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t c = static_cast<unsigned char>(s[i]) & kLead[len];
  for (size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

bool IsCjkIdeograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF);
}

absl::Status BadCode(absl::string_view field, absl::string_view english, absl::string_view zh) {
  return errors::InvalidField(field, "INVALID_DOCUMENT_CODE", english, zh);
}

absl::Status CheckSettingsText(absl::string_view field, absl::string_view text) {
  if (text.size() > kMaxSettingsTextBytes) {
    return errors::InvalidField(field, "TEXT_TOO_LONG",
                                absl::StrCat("at most ", kMaxSettingsTextBytes, " bytes"),
                                absl::StrCat("不能超过 ", kMaxSettingsTextBytes, " 字节"));
  }
  absl::Status s = CheckDocumentText(field, text);
  if (!s.ok()) return errors::WithField(s, field);
  // Each is one line of the 版头 or 版记: no line break or tab either.
  if (text.find_first_of("\n\r\t") != absl::string_view::npos) {
    return errors::InvalidField(field, "CONTROL_CHARACTER",
                                "holds a line break or tab; it is printed on one line",
                                "不能包含换行符或制表符");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckDocumentCode(absl::string_view field, absl::string_view code) {
  if (code.empty()) return BadCode(field, "must not be empty", "不能为空");
  size_t chars = 0;
  int digit_run = 0;
  const std::string_view bytes(code.data(), code.size());
  for (size_t i = 0; i < code.size();) {
    size_t len = Utf8SequenceLength(bytes, i);
    if (len == 0) return BadCode(field, "is not UTF-8", "不是有效的 UTF-8 文本");
    char32_t c = CodePointAt(code, i, len);
    bool digit = c >= '0' && c <= '9';
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!digit && !letter && !IsCjkIdeograph(c)) {
      return BadCode(field,
                     absl::StrCat("'", code, "' has '", code.substr(i, len),
                                  "': a 机关代字 holds only CJK ideographs, ASCII letters and "
                                  "digits (no brackets, spaces or punctuation)"),
                     absl::StrCat("机关代字只能包含汉字、英文字母和数字，不能包含“",
                                  code.substr(i, len), "”"));
    }
    digit_run = digit ? digit_run + 1 : 0;
    if (digit_run >= 4) {
      return BadCode(field,
                     absl::StrCat("'", code,
                                  "' has a run of 4 digits, which reads as a year; the year is "
                                  "added as 〔year〕 by itself"),
                     "机关代字不能包含年份（连续 4 位数字），年份由系统以〔年份〕加入");
    }
    ++chars;
    i += len;
  }
  if (chars > kMaxCodeChars) {
    return BadCode(field, absl::StrCat("at most ", kMaxCodeChars, " characters"),
                   absl::StrCat("机关代字不能超过 ", kMaxCodeChars, " 个字符"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDocumentSettings(const pb::DocumentSettings& s) {
  const std::pair<const char*, const std::string*> texts[] = {
      {"document_settings.issuing_mark", &s.issuing_mark()},
      {"document_settings.code", &s.code()},
      {"document_settings.main_recipients", &s.main_recipients()},
      {"document_settings.copy_to", &s.copy_to()},
      {"document_settings.printing_org", &s.printing_org()},
      {"document_settings.note", &s.note()},
      {"document_settings.secrecy", &s.secrecy()},
      {"document_settings.urgency", &s.urgency()},
  };
  for (const auto& [field, text] : texts) GR_RETURN_IF_ERROR(CheckSettingsText(field, *text));
  if (!s.seal_image().empty()) {
    GR_RETURN_IF_ERROR(png::Inspect(s.seal_image(), "document_settings.seal_image").status());
  }
  if (!s.code().empty()) {
    GR_RETURN_IF_ERROR(CheckDocumentCode("document_settings.code", s.code()));
    if (s.issuing_mark().empty()) {
      return errors::InvalidField("document_settings.issuing_mark", "FIELD_REQUIRED",
                                  "must be set when a code is (the 版头 carries both)",
                                  "设置机关代字时必须填写发文机关标志");
    }
  }
  if (!s.urgency().empty() && s.urgency() != "特急" && s.urgency() != "加急") {
    return errors::InvalidField("document_settings.urgency", "INVALID_URGENCY",
                                "must be empty, 特急 or 加急", "紧急程度只能为空、特急或加急");
  }
  if (!s.secrecy().empty()) {
    absl::string_view rest = s.secrecy();
    bool level = absl::ConsumePrefix(&rest, "绝密") || absl::ConsumePrefix(&rest, "机密") ||
                 absl::ConsumePrefix(&rest, "秘密");
    bool period_ok = rest.empty() || (absl::ConsumePrefix(&rest, "★") && !rest.empty());
    if (!level || !period_ok) {
      return errors::InvalidField("document_settings.secrecy", "INVALID_SECRECY",
                                  "must be empty, or 绝密, 机密 or 秘密, optionally followed by ★ "
                                  "and the period (秘密★1年)",
                                  "密级只能为空，或绝密、机密、秘密，其后可加★和保密期限");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<pb::DocumentSettings> ApplyDocumentSettingsUpdate(
    const pb::DocumentSettings& current, const pb::UpdateDocumentSettingsRequest& req) {
  static const std::set<std::string> kPaths = {
      "issuing_mark", "code",    "main_recipients", "copy_to", "printing_org", "upward",
      "note",         "secrecy", "urgency",         "sealed",  "seal_image"};
  std::set<std::string> mask(req.update_mask().begin(), req.update_mask().end());
  for (const auto& path : mask) {
    if (!kPaths.count(path)) {
      return errors::InvalidField(
          "update_mask", "UNKNOWN_MASK_PATH",
          absl::StrCat("unknown path '", path, "' (paths: ", absl::StrJoin(kPaths, ", "), ")"),
          absl::StrCat("未知的字段路径 '", path, "'"));
    }
  }
  auto want = [&](const char* path) { return mask.empty() || mask.count(path) > 0; };
  const pb::DocumentSettings& in = req.document_settings();
  pb::DocumentSettings next = current;
  if (want("issuing_mark")) next.set_issuing_mark(in.issuing_mark());
  if (want("code")) next.set_code(in.code());
  if (want("main_recipients")) next.set_main_recipients(in.main_recipients());
  if (want("copy_to")) next.set_copy_to(in.copy_to());
  if (want("printing_org")) next.set_printing_org(in.printing_org());
  if (want("upward")) next.set_upward(in.upward());
  if (want("note")) next.set_note(in.note());
  if (want("secrecy")) next.set_secrecy(in.secrecy());
  if (want("urgency")) next.set_urgency(in.urgency());
  if (want("sealed")) next.set_sealed(in.sealed());
  if (want("seal_image")) next.set_seal_image(in.seal_image());
  GR_RETURN_IF_ERROR(ValidateDocumentSettings(next));
  return next;
}

std::string FormatDocumentNumber(absl::string_view code, int64_t year, int64_t number) {
  return absl::StrCat(code, "〔", year, "〕", number, "号");
}

std::optional<tpb::DocumentFrame> FrameFor(const pb::DocumentSettings& settings,
                                           absl::string_view number,
                                           const std::vector<std::string>& signers,
                                           std::optional<absl::CivilDay> printing_day) {
  if (settings.code().empty()) return std::nullopt;
  tpb::DocumentFrame f;
  f.set_secrecy(settings.secrecy());
  f.set_urgency(settings.urgency());
  f.set_issuing_mark(settings.issuing_mark());
  f.set_document_number(std::string(number));
  f.set_upward(settings.upward());
  for (const auto& s : signers) f.add_signers(s);
  f.set_main_recipients(settings.main_recipients());
  f.set_note(settings.note());
  f.set_copy_to(settings.copy_to());
  f.set_printing_org(settings.printing_org());
  if (printing_day) f.set_printing_date(FormatDateGb(*printing_day));
  f.set_sealed(settings.sealed());
  if (settings.sealed()) f.set_seal_image(settings.seal_image());
  return f;
}

std::vector<std::string> SignerNamesOf(absl::string_view signer_names_json,
                                       absl::string_view signers, absl::string_view signer) {
  std::vector<std::string> out;
  google::protobuf::ListValue names;
  if (!signer_names_json.empty() &&
      google::protobuf::util::JsonStringToMessage(std::string(signer_names_json), &names).ok()) {
    for (const auto& v : names.values()) {
      if (v.kind_case() == google::protobuf::Value::kStringValue && !v.string_value().empty()) {
        out.push_back(v.string_value());
      }
    }
    if (!out.empty()) return out;
  }
  for (absl::string_view s : absl::StrSplit(signers, ',', absl::SkipEmpty())) {
    out.emplace_back(s);
  }
  if (out.empty() && !signer.empty()) out.emplace_back(signer);
  return out;
}

// ------------------------------------------------------------- documents

absl::CivilDay IssueDateOf(int64_t sign_off_unix) {
  return absl::ToCivilDay(absl::FromUnixSeconds(sign_off_unix), absl::FixedTimeZone(8 * 3600));
}

const std::vector<typepb::DocumentFormat>& AllFormats() {
  static const std::vector<typepb::DocumentFormat> kAll = {
      typepb::DOCUMENT_FORMAT_TXT,  typepb::DOCUMENT_FORMAT_MD,  typepb::DOCUMENT_FORMAT_HTML,
      typepb::DOCUMENT_FORMAT_DOCX, typepb::DOCUMENT_FORMAT_PDF, typepb::DOCUMENT_FORMAT_OFD};
  return kAll;
}

absl::string_view FormatName(typepb::DocumentFormat format) {
  switch (format) {
    case typepb::DOCUMENT_FORMAT_TXT:
      return "TXT";
    case typepb::DOCUMENT_FORMAT_MD:
      return "MD";
    case typepb::DOCUMENT_FORMAT_HTML:
      return "HTML";
    case typepb::DOCUMENT_FORMAT_DOCX:
      return "DOCX";
    case typepb::DOCUMENT_FORMAT_PDF:
      return "PDF";
    case typepb::DOCUMENT_FORMAT_OFD:
      return "OFD";
    default:
      return "UNSPECIFIED";
  }
}

std::string DefaultContentType(typepb::DocumentFormat format) {
  switch (format) {
    case typepb::DOCUMENT_FORMAT_MD:
      return "text/markdown; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_HTML:
      return "text/html; charset=utf-8";
    case typepb::DOCUMENT_FORMAT_DOCX:
      return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    case typepb::DOCUMENT_FORMAT_PDF:
      return "application/pdf";
    case typepb::DOCUMENT_FORMAT_OFD:
      return "application/ofd";
    default:
      return "text/plain; charset=utf-8";
  }
}

tpb::RenderRequest RenderRequestFor(const pb::Revision& revision, typepb::DocumentFormat format,
                                    std::optional<absl::CivilDay> issue, int64_t timestamp_unix) {
  templates::ReportContextInput in;
  in.org = revision.org();
  in.figures = SnapshotFigures(revision);
  in.narrative =
      std::map<std::string, std::string>(revision.narrative().begin(), revision.narrative().end());
  if (issue) {
    in.issue_date =
        templates::IssueDate{static_cast<int>(issue->year()), issue->month(), issue->day()};
  }
  tpb::RenderRequest req;
  auto ref = ParseRevisionName(revision.name());
  req.set_parent(absl::StrCat("orgs/", ref.ok() ? ref->org : ""));
  req.set_template_(PinnedTemplate(revision.template_(), revision.template_revision()));
  *req.mutable_partial_revisions() = revision.partial_revisions();
  *req.mutable_context() = templates::BuildReportContext(in);
  req.set_format(format);  // The templates service takes the same enum.
  req.set_title(revision.title());
  req.set_author(revision.org().display_name());
  SetTimestamp(timestamp_unix, [&] { return req.mutable_document_time(); });
  std::optional<tpb::DocumentFrame> frame = FrameFor(
      revision.document_settings(), revision.document_number(),
      std::vector<std::string>(revision.signer_names().begin(), revision.signer_names().end()),
      issue);
  if (frame) *req.mutable_frame() = *std::move(frame);
  return req;
}

std::string ManifestDigest(const google::protobuf::RepeatedPtrField<pb::RenderedDocument>& docs) {
  return Sha256Hex(Manifest(docs));
}

std::string Manifest(const google::protobuf::RepeatedPtrField<pb::RenderedDocument>& docs) {
  std::vector<const pb::RenderedDocument*> sorted;
  for (const auto& d : docs) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->format() < b->format(); });
  std::string manifest;
  for (const auto* d : sorted)
    absl::StrAppend(&manifest, FormatName(d->format()), " ", d->sha256(), "\n");
  return manifest;
}

// ----------------------------------------------------------------- errors

bool IsPermanent(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<ReportOrder> ParseReportOrder(const pb::ListReportsRequest& req) {
  const std::string& o = req.order_by();
  GR_ASSIGN_OR_RETURN(bool by_change, InChangeOrder(o, req.changed_after()));
  if (by_change) return ReportOrder::kChange;
  // The create_unix spellings are those of before the field became the
  // Timestamp create_time; clients written then keep working.
  if (o.empty() || o == "create_time desc" || o == "create_unix desc") return ReportOrder::kNewest;
  if (o == "create_time" || o == "create_unix") return ReportOrder::kOldest;
  return absl::InvalidArgumentError(
      absl::StrCat("order_by: '", o,
                   "' is not an order of this list (\"create_time desc\", the default; "
                   "\"create_time\"; \"change_sequence\")"));
}

}  // namespace govreport::assembler
