#include "assembler/reports.h"

#include <algorithm>
#include <future>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "assembler/signing_keys.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/stored_proto.h"
#include "common/timestamp.h"

namespace govreport::assembler {
namespace {

absl::Status ReportNotFound(absl::string_view name) {
  return errors::WithReason(absl::NotFoundError(absl::StrCat(name, " not found")),
                            "REPORT_NOT_FOUND", absl::StrCat(name, " 不存在"));
}

// The upstream's error with a hint after its message, its details kept.
absl::Status AppendHint(const absl::Status& status, absl::string_view hint) {
  absl::Status out(status.code(), absl::StrCat(status.message(), hint));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status LostRace(const ReportRef& ref, int64_t stored, int64_t expected) {
  return absl::AbortedError(absl::StrCat(ref.Name(), " is at version ", stored, ", not ", expected,
                                         "; reread it and try again"));
}

// The period is checked by records itself; a period without a single
// record (its own, or for a body that rolls up, one of a child's) is
// refused here so that nobody drafts an empty report.
absl::Status RequireData(const std::string& org, const rpb::GetIndicatorValuesResponse& f) {
  for (const auto& v : f.values()) {
    if (!v.missing()) return absl::OkStatus();
  }
  for (const auto& rolled : f.rollup().values()) {
    if (!rolled.total().missing()) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("period: orgs/", org, " has no activity records in ", f.period(), " (",
                   f.first_day(), " .. ", f.last_day(), "); record the activities first"));
}

// "records: NOT_FOUND ..." on a referenced resource is the request's fault.
absl::Status AsFieldError(absl::string_view field, const absl::Status& s) {
  if (s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
  }
  return s;
}

}  // namespace

request_id::Call CallOf(absl::string_view method, absl::string_view target,
                        const auth::Principal& p, const google::protobuf::Message& request) {
  return request_id::CallOf(method, target, absl::StrCat(p.org, "/", p.subject), request);
}

ReportCore::ReportCore(Store* store, Upstream* upstream, CoreOptions options)
    : store_(store),
      upstream_(upstream),
      options_(std::move(options)),
      inline_slots_(options_.inline_assemblies) {}

absl::StatusOr<std::optional<pb::Report>> ReportCore::Replayed(const std::string& org,
                                                               const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(auto prior, store_->ReadRequest(org, call.id));
  if (!prior) return std::optional<pb::Report>();
  GR_ASSIGN_OR_RETURN(std::string first, request_id::FirstResult(*prior, call));
  GR_ASSIGN_OR_RETURN(pb::Report r, ParseStored<pb::Report>(first, "request result"));
  return std::optional<pb::Report>(std::move(r));
}

absl::StatusOr<pb::Report> ReportCore::Mutate(const ReportRef& ref, int64_t expected_version,
                                              const request_id::Call& call,
                                              const ChangeFn& change) {
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  using Result = absl::StatusOr<pb::Report>;
  pb::Report next;
  return ReadModifyCommit<Result>(
      *store_, ref, options_.max_retries + 1, std::nullopt,
      [&](absl::StatusOr<pb::Report>& read) -> Decision<Result> {
        if (!read.ok()) return Result(read.status());
        const pb::Report& cur = *read;
        if (expected_version != 0 && cur.version() != expected_version) {
          return Result(LostRace(ref, cur.version(), expected_version));
        }
        next = cur;
        absl::StatusOr<Change> c = change(next);
        if (!c.ok()) return Result(c.status());
        // Nothing to change, and no request to remember: done. With a
        // request id the unchanged report is committed anyway, so that a
        // retry of this call is recognised instead of refused as a repeat.
        if (!c->write && call.id.empty()) return Result(cur);
        if (!c->write) next = cur;
        CommitBuilder commit(ref, cur.version(), next);
        commit.Remember(ref.org, call, SerializeStored(next), store_->request_retention());
        if (c->job) {
          c->job->request_id = call.id;  // Its REPORT_ASSEMBLED event names the call.
          commit.XAddOrg(kAssembleQueue, ref.org, JobFields(*c->job));
        }
        return commit;
      },
      [&](const absl::StatusOr<CommitResult>& r) -> std::optional<Result> {
        if (!r.ok()) return Result(r.status());
        switch (r->outcome) {
          case Outcome::kOk:
            return Result(std::move(next));
          case Outcome::kReplayed:
            return Result(ParseStored<pb::Report>(r->guard_value, "request result"));
          case Outcome::kRequestReused:
            return Result(request_id::Reused(call.id));
          case Outcome::kNotFound:
            return Result(ReportNotFound(ref.Name()));
          case Outcome::kExists:
          case Outcome::kStale:
            if (expected_version != 0) return Result(LostRace(ref, r->version, expected_version));
            return std::nullopt;
          default:
            break;
        }
        return std::nullopt;
      },
      [&] {
        return Result(absl::AbortedError(absl::StrCat(ref.Name(), " kept changing; try again")));
      });
}

absl::StatusOr<std::vector<std::string>> ReportCore::NarrativeSlots(const CallAs& as,
                                                                    const std::string& org) {
  GR_ASSIGN_OR_RETURN(rpb::Profile profile, upstream_->GetProfile(as, org));
  return std::vector<std::string>(profile.narrative_slots().begin(),
                                  profile.narrative_slots().end());
}

absl::Status ReportCore::CheckWorkflowBound(const std::string& org, const std::string& template_ref,
                                            const std::string& workflow) {
  GR_ASSIGN_OR_RETURN(auto binding, store_->ReadTemplateWorkflows(org, TemplateBase(template_ref)));
  return CheckBoundWorkflow(binding ? &*binding : nullptr, org, template_ref, workflow);
}

// ------------------------------------------------------ workflow bindings

absl::StatusOr<pb::TemplateWorkflows> ReportCore::SetTemplateWorkflows(
    const auth::Principal& p, const CallAs& as, const std::string& org,
    const pb::SetTemplateWorkflowsRequest& req) {
  if (req.template_().empty()) return absl::InvalidArgumentError("template: must be set");
  GR_RETURN_IF_ERROR(CheckTemplateRef(org, req.template_()));
  if (req.workflows_size() > kMaxBoundWorkflows) {
    return absl::InvalidArgumentError(
        absl::StrCat("workflows: at most ", kMaxBoundWorkflows, " per template"));
  }
  pb::TemplateWorkflows binding;
  binding.set_parent(absl::StrCat("orgs/", org));
  binding.set_template_(TemplateBase(req.template_()));
  for (const auto& w : req.workflows()) {
    GR_RETURN_IF_ERROR(CheckWorkflowRef(org, w));
    if (std::find(binding.workflows().begin(), binding.workflows().end(), w) ==
        binding.workflows().end()) {
      binding.add_workflows(w);
    }
  }
  // A typo would bind nothing usable: the workflows must exist (asked with
  // the admin's own token). The template is only checked by name: admins
  // do not read templates, and a binding of a template that does not
  // exist yet lets nothing through.
  for (const auto& w : binding.workflows()) {
    auto wf = upstream_->GetWorkflow(as, w);
    if (!wf.ok()) return AsFieldError("workflows", wf.status());
  }
  binding.set_updated_by(p.subject);
  *binding.mutable_update_time() = ToTimestamp(Now());
  GR_RETURN_IF_ERROR(store_->WriteTemplateWorkflows(org, binding));
  return binding;
}

absl::StatusOr<pb::TemplateWorkflows> ReportCore::GetTemplateWorkflows(
    const std::string& org, const pb::GetTemplateWorkflowsRequest& req) {
  if (req.template_().empty()) return absl::InvalidArgumentError("template: must be set");
  GR_RETURN_IF_ERROR(CheckTemplateRef(org, req.template_()));
  std::string base = TemplateBase(req.template_());
  GR_ASSIGN_OR_RETURN(auto binding, store_->ReadTemplateWorkflows(org, base));
  if (!binding) {
    return errors::WithReason(
        absl::NotFoundError(absl::StrCat("no workflow is bound to ", base, " in orgs/", org)),
        "WORKFLOW_NOT_BOUND", "该模板未绑定审批流程");
  }
  return *binding;
}

// ---------------------------------------------------------------- create

absl::StatusOr<pb::Report> ReportCore::CreateReport(const auth::Principal& p, const CallAs& as,
                                                    const std::string& org,
                                                    const pb::CreateReportRequest& req) {
  const request_id::Call call = CallOf("CreateReport", absl::StrCat("orgs/", org), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  if (!req.report_id().empty() && !IsValidId(req.report_id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "report_id: '", req.report_id(), "' must be 1-63 lower-case letters, digits or '-'"));
  }
  if (req.period().empty()) return absl::InvalidArgumentError("period: must be set (e.g. 2023)");
  if (req.template_().empty()) return absl::InvalidArgumentError("template: must be set");
  if (req.workflow().empty()) return absl::InvalidArgumentError("workflow: must be set");
  if (req.title().size() > kMaxTitleBytes) {
    return absl::InvalidArgumentError(absl::StrCat("title: at most ", kMaxTitleBytes, " bytes"));
  }
  GR_RETURN_IF_ERROR(CheckDocumentText("title", req.title()));
  GR_RETURN_IF_ERROR(CheckTemplateRef(org, req.template_()));
  GR_RETURN_IF_ERROR(CheckWorkflowRef(org, req.workflow()));
  GR_RETURN_IF_ERROR(ValidateNarrative(req.narrative(), {}, "narrative"));

  GR_ASSIGN_OR_RETURN(auto replay, Replayed(org, call));
  if (replay) return *std::move(replay);

  // Everything that can be known now is checked now, so a report that is
  // created can be assembled.
  // Three independent questions to three services: asked at once, and the
  // org's fields for assembling it here when a slot is free.
  std::optional<AssemblySlots::Slot> slot = inline_slots_.TryAcquire();
  std::future<absl::StatusOr<rpb::Org>> pending_org;
  if (slot) {
    pending_org =
        std::async(std::launch::async, [&] { return upstream_->GetOrg(options_.service, org); });
  }
  auto pending_tmpl =
      std::async(std::launch::async, [&] { return upstream_->GetTemplate(as, req.template_()); });
  auto pending_wf =
      std::async(std::launch::async, [&] { return upstream_->GetWorkflow(as, req.workflow()); });
  auto figures = upstream_->GetIndicatorValues(as, org, req.period());
  auto tmpl = pending_tmpl.get();
  auto wf = pending_wf.get();
  if (!tmpl.ok()) return AsFieldError("template", tmpl.status());
  if (!wf.ok()) return AsFieldError("workflow", wf.status());
  // Both exist; whether this report may take this approval path is the org
  // admin's binding.
  GR_RETURN_IF_ERROR(CheckWorkflowBound(org, req.template_(), req.workflow()));
  if (!figures.ok()) return AsFieldError("period", figures.status());
  GR_RETURN_IF_ERROR(RequireData(org, *figures));
  if (!req.narrative().empty()) {
    GR_ASSIGN_OR_RETURN(auto slots, NarrativeSlots(as, org));
    GR_RETURN_IF_ERROR(ValidateNarrative(req.narrative(), slots, "narrative"));
  }

  ReportRef ref{org, req.report_id().empty() ? NewId() : req.report_id()};
  pb::Report report = NewReport(ref, req, figures->period(), p.subject, Now());
  // Without the org's fields (no slot, or the read failed) a worker
  // assembles it.
  absl::StatusOr<rpb::Org> org_fields;
  if (slot) org_fields = pending_org.get();
  return CommitNewReport(ref, std::move(report), call, org_fields.ok() ? &*org_fields : nullptr,
                         *figures);
}

absl::StatusOr<pb::Report> ReportCore::CommitNewReport(
    const ReportRef& ref, pb::Report report, const request_id::Call& call, const rpb::Org* org,
    const rpb::GetIndicatorValuesResponse& figures) {
  AssembleJob job{ref.org, ref.id, report.pending_job(), report.created_by(), call.id};
  const int64_t now = Now();
  std::optional<pb::Revision> revision;
  if (org != nullptr) {
    // Any failure here leaves the job to a worker, which retries it and
    // records a lasting failure on the report.
    auto rendered = RenderDraft(*upstream_, options_.service, ref, report, *org, figures);
    if (rendered.ok()) {
      revision = ApplyNewRevision(report, job, 1, *org, figures, *rendered, now);
    }
  }
  CommitBuilder commit(ref, 0, report);
  commit.Remember(ref.org, call, SerializeStored(report), store_->request_retention());
  commit.ZAdd(Store::IndexKey(ref.org), absl::ToUnixMillis(options_.clock()), ref.id);
  if (revision) {
    WriteRevision(commit, ref, job, *revision, now, store_->event_retention());
  } else {
    commit.XAddOrg(kAssembleQueue, ref.org, JobFields(job));
  }
  GR_ASSIGN_OR_RETURN(CommitResult r, store_->Commit(commit));
  switch (r.outcome) {
    case Outcome::kOk:
      report.set_change_sequence(r.change_sequence);
      return report;
    case Outcome::kReplayed:
      return ParseStored<pb::Report>(r.guard_value, "request result");
    case Outcome::kRequestReused:
      return request_id::Reused(call.id);
    case Outcome::kExists:
      return absl::AlreadyExistsError(absl::StrCat(ref.Name(), " already exists"));
    default:
      return absl::InternalError("unexpected commit outcome for a new report");
  }
}

// ------------------------------------------------------------------ read

absl::StatusOr<pb::Report> ReportCore::GetReport(const CallAs& as, const ReportRef& ref,
                                                 bool check_staleness) {
  GR_ASSIGN_OR_RETURN(pb::Report report, store_->ReadReport(ref));
  const bool published = report.state() == pb::REPORT_STATE_PUBLISHED;
  bool applicable =
      report.current_revision() > 0 && (report.state() == pb::REPORT_STATE_DRAFT ||
                                        report.state() == pb::REPORT_STATE_IN_REVIEW || published);
  if (!check_staleness || !applicable) return report;
  int64_t n = report.state() == pb::REPORT_STATE_IN_REVIEW ? report.submitted_revision()
              : published                                  ? report.published_revision()
                                                           : report.current_revision();
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(RevisionRef{ref.org, ref.id, n}));
  auto pending_org = std::async(std::launch::async, [&] { return upstream_->GetOrg(as, ref.org); });
  auto now = upstream_->GetIndicatorValues(as, ref.org, rev.period());
  auto org = pending_org.get();
  if (!now.ok()) org = now.status();
  if (!org.ok()) {
    // The report is still worth showing; say why freshness is unknown.
    report.mutable_staleness()->set_checked(false);
    report.mutable_staleness()->set_revision_data_version(rev.data_version());
    report.mutable_staleness()->set_check_error(std::string(org.status().message()));
    return report;
  }
  *report.mutable_staleness() = CompareWithCurrent(rev, *now, *org);
  if (published && ClassifyOutdated(report, report.staleness()) != OutdatedChange::kNone) {
    // A reader is the first to see that the published figures no longer
    // hold: the report records it and says so in the org's log. (Nothing
    // new, the usual case: no second read, no write.)
    absl::StatusOr<pb::Report> recorded =
        RecordOutdated(*store_, ref, n, report.staleness(), Now());
    if (recorded.ok()) {
      pb::Staleness staleness = report.staleness();
      report = *std::move(recorded);
      *report.mutable_staleness() = std::move(staleness);
    }
  }
  return report;
}

absl::StatusOr<pb::ListReportsResponse> ReportCore::ListReports(const std::string& org,
                                                                const pb::ListReportsRequest& req) {
  // Unset: every state.
  GR_RETURN_IF_ERROR(CheckEnum("state", req.state(), Unspecified::kAllowed));
  ReportQuery q;
  GR_ASSIGN_OR_RETURN(q.size, PageSize(req.page_size(), 50, 500));
  GR_ASSIGN_OR_RETURN(q.order, ParseReportOrder(req));
  q.state = req.state();
  std::string list =
      PageList({"reports", org, absl::StrCat(static_cast<int>(req.state())),
                absl::StrCat(static_cast<int>(q.order)), absl::StrCat(req.changed_after())});
  GR_ASSIGN_OR_RETURN(q.cursor, DecodeCursorToken(list, req.page_token()));
  if (q.cursor.empty() && q.order == ReportOrder::kChange) {
    q.cursor = absl::StrCat(req.changed_after());
  }
  GR_ASSIGN_OR_RETURN(Store::Page page, store_->ListReports(org, q));
  pb::ListReportsResponse out;
  for (auto& r : page.reports) *out.add_reports() = std::move(r);
  if (!page.next_cursor.empty()) {
    out.set_next_page_token(EncodeCursorToken(list, page.next_cursor));
  }
  return out;
}

absl::StatusOr<int64_t> ReportCore::Version(const ReportRef& ref) {
  return store_->ReadVersion(ref);
}

absl::StatusOr<pb::Revision> ReportCore::GetRevision(const RevisionRef& ref) {
  return store_->ReadRevision(ref);
}

absl::StatusOr<pb::DiffRevisionsResponse> ReportCore::DiffRevisions(const RevisionRef& from,
                                                                    const RevisionRef& to) {
  if (from.org != to.org) {
    return absl::InvalidArgumentError("to: both revisions must belong to the same org");
  }
  GR_ASSIGN_OR_RETURN(pb::Revision a, store_->ReadRevision(from));
  GR_ASSIGN_OR_RETURN(pb::Revision b, store_->ReadRevision(to));
  return assembler::DiffRevisions(a, b);
}

absl::StatusOr<pb::Document> ReportCore::GetDocument(const CallAs& as, const RevisionRef& ref,
                                                     typepb::DocumentFormat format) {
  GR_RETURN_IF_ERROR(CheckEnum("format", format, Unspecified::kRefused));
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(ref));
  pb::Document doc;
  doc.set_name(rev.name());
  doc.set_format(format);
  if (rev.frozen()) {
    // Published: the stored bytes, never a new rendering.
    const pb::RenderedDocument* meta = nullptr;
    for (const auto& d : rev.documents()) {
      if (d.format() == format) meta = &d;
    }
    if (meta == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(rev.name(), " was published without a ", FormatName(format), " document"));
    }
    GR_ASSIGN_OR_RETURN(std::string bytes, store_->ReadDocument(ref, format));
    // Whoever can write Redis could swap the bytes: never serve a published
    // document that is not the one its digest names.
    if (Sha256Hex(bytes) != meta->sha256()) {
      return absl::DataLossError(absl::StrCat("the stored ", FormatName(format), " document of ",
                                              rev.name(),
                                              " does not match its recorded SHA-256; it was "
                                              "altered after publication"));
    }
    doc.set_content(std::move(bytes));
    doc.set_content_type(meta->content_type());
    doc.set_sha256(meta->sha256());
    doc.set_final(true);
    doc.set_revision_digest(rev.digest());
    return doc;
  }
  // A preview of the draft from its snapshot, as the approvers will see it
  // (without 成文日期, which the sign-off sets): framed by the org's
  // settings as they are now, its 发文字号 slot empty (allocated at
  // sign-off) and no 签发人 yet.
  GR_ASSIGN_OR_RETURN(*rev.mutable_document_settings(), store_->ReadDocumentSettings(ref.org));
  GR_ASSIGN_OR_RETURN(tpb::RenderResponse r,
                      upstream_->Render(as, RenderRequestFor(rev, format, std::nullopt,
                                                             FromTimestamp(rev.create_time()))));
  doc.set_content_type(r.content_type().empty() ? DefaultContentType(format) : r.content_type());
  doc.set_sha256(Sha256Hex(r.content()));
  doc.set_content(std::move(*r.mutable_content()));
  doc.set_final(false);
  return doc;
}

absl::StatusOr<pb::GetFigureProvenanceResponse> ReportCore::GetFigureProvenance(
    const CallAs& as, const RevisionRef& ref, const pb::GetFigureProvenanceRequest& req) {
  if (req.key().empty()) return absl::InvalidArgumentError("key: must be set");
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(ref));
  pb::GetFigureProvenanceResponse out;
  bool found = false;
  for (const auto& v : rev.figures()) {
    if (v.key() == req.key()) {
      *out.mutable_value() = v;
      found = true;
    }
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat(rev.name(), " has no figure '", req.key(), "'"));
  }
  rpb::GetIndicatorProvenanceRequest pr;
  pr.set_name(absl::StrCat("orgs/", ref.org, "/indicators/", req.key()));
  pr.set_period(rev.period());
  pr.set_page_size(req.page_size());
  pr.set_page_token(req.page_token());
  GR_ASSIGN_OR_RETURN(rpb::GetIndicatorProvenanceResponse prov,
                      upstream_->GetIndicatorProvenance(as, pr));
  *out.mutable_current() = prov.value();
  google::protobuf::RepeatedPtrField<rpb::IndicatorValue> a, b;
  *a.Add() = out.value();
  *b.Add() = prov.value();
  out.set_changed(!DiffFigures(a, b).empty());
  out.set_period(rev.period());
  *out.mutable_records() = std::move(*prov.mutable_records());
  out.set_total_records(prov.total_records());
  out.set_next_page_token(prov.next_page_token());
  return out;
}

// ------------------------------------------------------------- drafting

absl::StatusOr<pb::Report> ReportCore::UpdateNarrative(const auth::Principal& p, const CallAs& as,
                                                       const ReportRef& ref,
                                                       const pb::UpdateNarrativeRequest& req) {
  if (req.narrative().empty()) {
    return absl::InvalidArgumentError("narrative: give at least one slot");
  }
  const request_id::Call call = CallOf("UpdateNarrative", ref.Name(), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  GR_ASSIGN_OR_RETURN(auto replay, Replayed(ref.org, call));
  if (replay) return *replay;
  GR_ASSIGN_OR_RETURN(auto slots, NarrativeSlots(as, ref.org));
  GR_RETURN_IF_ERROR(ValidateNarrative(req.narrative(), slots, "narrative"));
  int64_t now = Now();
  return Mutate(ref, req.expected_version(), call, [&](pb::Report& next) -> absl::StatusOr<Change> {
    GR_RETURN_IF_ERROR(CheckCanChangeDraft(next, req.correction(), "change the narrative"));
    auto* stored = next.mutable_narrative();
    bool changed = false;
    for (const auto& [slot, text] : req.narrative()) {
      auto it = stored->find(slot);
      if (text.empty()) {
        if (it != stored->end()) {
          stored->erase(it);
          GR_RETURN_IF_ERROR(RecordNarrativeAuthor(next, slot, /*removed=*/true, p.subject));
          changed = true;
        }
      } else if (it == stored->end() || it->second != text) {
        (*stored)[slot] = text;
        GR_RETURN_IF_ERROR(RecordNarrativeAuthor(next, slot, /*removed=*/false, p.subject));
        changed = true;
      }
    }
    // The same text again needs no new revision, unless it
    // starts a correction of a published report.
    if (!changed && next.state() == pb::REPORT_STATE_DRAFT) return Change{false, std::nullopt};
    return Change{true, StartAssembly(next, p.subject, now)};
  });
}

absl::StatusOr<pb::Report> ReportCore::Reassemble(const auth::Principal& p, const ReportRef& ref,
                                                  const pb::ReassembleRequest& req) {
  const request_id::Call call = CallOf("Reassemble", ref.Name(), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  GR_ASSIGN_OR_RETURN(auto replay, Replayed(ref.org, call));
  if (replay) return *replay;
  int64_t now = Now();
  return Mutate(ref, req.expected_version(), call, [&](pb::Report& next) -> absl::StatusOr<Change> {
    GR_RETURN_IF_ERROR(CheckCanChangeDraft(next, req.correction(), "reassemble"));
    return Change{true, StartAssembly(next, p.subject, now)};
  });
}

// ------------------------------------------------------------ submitting

absl::StatusOr<pb::Report> ReportCore::SubmitReport(const auth::Principal& p, const CallAs& as,
                                                    const ReportRef& ref,
                                                    const pb::SubmitReportRequest& req) {
  const request_id::Call call = CallOf("SubmitReport", ref.Name(), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  if (req.comment().size() > kMaxCommentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("comment: at most ", kMaxCommentBytes, " bytes"));
  }
  GR_ASSIGN_OR_RETURN(auto replay, Replayed(ref.org, call));
  if (replay) return *replay;
  GR_ASSIGN_OR_RETURN(pb::Report cur, store_->ReadReport(ref));
  // A submit that stopped between marking the report IN_REVIEW and
  // starting its approval is finished by the next one.
  if (cur.state() == pb::REPORT_STATE_IN_REVIEW && cur.approval().empty()) {
    return StartApprovalFor(as, ref, cur, req.comment(), call);
  }
  // A retried submit whose first attempt got as far as the approval (the
  // answer was lost, e.g. the replica died) finds its revision in review:
  // that is the outcome it asked for. Remember its request id and say so.
  if (cur.state() == pb::REPORT_STATE_IN_REVIEW && !call.id.empty() &&
      cur.submitted_revision() == (req.revision() ? req.revision() : cur.current_revision())) {
    return Mutate(ref, 0, call, [](pb::Report&) -> absl::StatusOr<Change> {
      return Change{false, std::nullopt};
    });
  }
  if (req.expected_version() != 0 && cur.version() != req.expected_version()) {
    return LostRace(ref, cur.version(), req.expected_version());
  }
  GR_ASSIGN_OR_RETURN(int64_t n, CheckCanSubmit(cur, req.revision()));
  // The binding may have changed since the report was created.
  GR_RETURN_IF_ERROR(CheckWorkflowBound(ref.org, cur.template_(), cur.workflow()));
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(RevisionRef{ref.org, ref.id, n}));
  std::vector<std::string> accepted;
  GR_RETURN_IF_ERROR(CheckGaps(
      rev, std::vector<std::string>(req.accepted_gaps().begin(), req.accepted_gaps().end()),
      &accepted));
  GR_ASSIGN_OR_RETURN(auto now_figures, upstream_->GetIndicatorValues(as, ref.org, rev.period()));
  GR_ASSIGN_OR_RETURN(rpb::Org org_now, upstream_->GetOrg(as, ref.org));
  pb::Staleness staleness = CompareWithCurrent(rev, now_figures, org_now);
  if (staleness.stale()) {
    return absl::FailedPreconditionError(DescribeStaleness(staleness, n));
  }
  pb::Report next = cur;
  MarkInReview(next, n, accepted, Now());
  CommitBuilder commit(ref, cur.version(), next);
  GR_ASSIGN_OR_RETURN(CommitResult r, store_->Commit(commit));
  if (r.outcome != Outcome::kOk) {
    return absl::AbortedError(absl::StrCat(
        ref.Name(), " changed while it was being submitted; reread it and submit again"));
  }
  return StartApprovalFor(as, ref, next, req.comment(), call);
}

absl::StatusOr<pb::Report> ReportCore::StartApprovalFor(const CallAs& as, const ReportRef& ref,
                                                        const pb::Report& in_review,
                                                        const std::string& comment,
                                                        const request_id::Call& call) {
  RevisionRef rev_ref{ref.org, ref.id, in_review.submitted_revision()};
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(rev_ref));
  approval::v1::StartApprovalRequest start;
  start.set_parent(absl::StrCat("orgs/", ref.org));
  start.set_workflow(in_review.workflow());
  start.set_subject(rev_ref.Name());
  start.set_title(rev.title());
  start.set_comment(comment);
  // Separation of duties: nobody who wrote the narrative approves it.
  for (const auto& u : ExcludedApprovers(rev, in_review.created_by())) {
    start.add_excluded_approvers(u);
  }
  // Derived from the IN_REVIEW commit, so a resumed submit starts the
  // same approval instead of a second one.
  start.set_request_id(
      absl::StrCat("assembler-", ref.id, "-r", rev_ref.number, "-v", in_review.version()));
  auto started = upstream_->StartApproval(as, start);
  if (!started.ok() && !IsPermanent(started.status())) {
    // The approval may or may not have started; the same request id will
    // tell when the drafter submits again, so the report stays IN_REVIEW.
    return AppendHint(started.status(), "; submit again to finish starting the approval");
  }
  if (!started.ok()) {
    // Refused for good: nothing half-done, the report is the draft it was.
    auto undo = Mutate(ref, 0, {}, [&](pb::Report& next) -> absl::StatusOr<Change> {
      if (next.state() != pb::REPORT_STATE_IN_REVIEW || !next.approval().empty() ||
          next.submitted_revision() != rev_ref.number) {
        return Change{false, std::nullopt};
      }
      next.set_state(pb::REPORT_STATE_DRAFT);
      next.set_submitted_revision(0);
      next.clear_accepted_gaps();
      next.set_version(next.version() + 1);
      *next.mutable_update_time() = ToTimestamp(Now());
      return Change{true, std::nullopt};
    });
    (void)undo;
    return started.status();
  }
  std::string approval = started->name();
  return Mutate(ref, 0, call, [&](pb::Report& next) -> absl::StatusOr<Change> {
    if (next.state() != pb::REPORT_STATE_IN_REVIEW || next.submitted_revision() != rev_ref.number) {
      // The approval already finished (its event came first): nothing to add.
      return Change{false, std::nullopt};
    }
    if (next.approval() == approval) return Change{false, std::nullopt};
    SetApproval(next, approval, Now());
    return Change{true, std::nullopt};
  });
}

// ------------------------------------------------------ document settings

absl::StatusOr<pb::DocumentSettings> ReportCore::GetDocumentSettings(const std::string& org) {
  return store_->ReadDocumentSettings(org);
}

absl::StatusOr<pb::DocumentSettings> ReportCore::UpdateDocumentSettings(
    const auth::Principal& p, const std::string& org,
    const pb::UpdateDocumentSettingsRequest& req) {
  const request_id::Call call = CallOf("UpdateDocumentSettings", DocumentSettingsName(org), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  if (req.expected_revision() < 0) {
    return errors::InvalidField("expected_revision", "INVALID_ARGUMENT", "must not be negative",
                                "不能为负数");
  }
  for (int pass = 0; pass <= options_.max_retries; ++pass) {
    GR_ASSIGN_OR_RETURN(pb::DocumentSettings cur, store_->ReadDocumentSettings(org));
    if (req.expected_revision() != 0 && cur.revision() != req.expected_revision()) {
      // A repeat of a call that went through finds the revision it made.
      GR_ASSIGN_OR_RETURN(auto prior, store_->ReadRequest(org, call.id));
      if (prior) {
        GR_ASSIGN_OR_RETURN(std::string first, request_id::FirstResult(*prior, call));
        return ParseStored<pb::DocumentSettings>(first, "request result");
      }
      return errors::WithReason(
          absl::AbortedError(absl::StrCat(DocumentSettingsName(org), " is at revision ",
                                          cur.revision(), ", not ", req.expected_revision(),
                                          "; read it again and retry")),
          "REVISION_MISMATCH", "发文设置已被他人更新，请重新读取后重试");
    }
    GR_ASSIGN_OR_RETURN(pb::DocumentSettings next, ApplyDocumentSettingsUpdate(cur, req));
    next.set_name(DocumentSettingsName(org));
    next.set_revision(cur.revision() + 1);
    *next.mutable_update_time() = ToTimestamp(Now());
    next.set_updated_by(p.subject);
    GR_ASSIGN_OR_RETURN(
        RegisterResult r,
        store_->WriteDocumentSettings(org, cur.revision(), next, next.code() != cur.code(), call));
    switch (r.outcome) {
      case Outcome::kOk:
        return next;
      case Outcome::kReplayed:
        return ParseStored<pb::DocumentSettings>(r.detail, "request result");
      case Outcome::kRequestReused:
        return request_id::Reused(call.id);
      case Outcome::kConflict:
        return errors::WithField(
            errors::WithReason(
                absl::FailedPreconditionError(absl::StrCat(
                    "document_settings.code: cannot change while a signed report waits to be "
                    "published with a number under the current code '",
                    cur.code(), "' (", r.detail,
                    "); change it once they are published, or their publication failed")),
                "DOCUMENT_NUMBER_PENDING",
                "已签发的报告正在以现有机关代字印发，暂不能修改机关代字"),
            "document_settings.code");
      case Outcome::kStale:
        continue;  // Changed since it was read: decide again.
      default:
        return absl::InternalError("unexpected answer of the settings script");
    }
  }
  return absl::AbortedError(absl::StrCat(DocumentSettingsName(org), " kept changing; try again"));
}

absl::StatusOr<pb::SigningKey> ReportCore::CreateSigningKey(
    const auth::Principal& p, const CallAs& as, const std::string& org,
    const pb::CreateSigningKeyRequest& req) {
  const request_id::Call call =
      CallOf("CreateSigningKey", absl::StrCat("orgs/", org, "/signingKeys"), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  // The certificate names the org as people know it.
  GR_ASSIGN_OR_RETURN(rpb::Org o, upstream_->GetOrg(as, org));
  signing::CertificateSubject subject{o.display_name().empty() ? org : o.display_name(), org};
  return assembler::CreateSigningKey(*store_, org, subject, req.validity_days(), p.subject,
                                     options_.clock(), call);
}

absl::StatusOr<pb::CertificateSigningRequest> ReportCore::CreateCertificateSigningRequest(
    const CallAs& as, const SigningKeyRef& ref) {
  // The subject the key's self-signed certificate has: the org as people
  // know it now.
  GR_ASSIGN_OR_RETURN(rpb::Org o, upstream_->GetOrg(as, ref.org));
  signing::CertificateSubject subject{o.display_name().empty() ? ref.org : o.display_name(),
                                      ref.org};
  return CertificateSigningRequestOf(*store_, ref, subject);
}

absl::StatusOr<pb::SigningKey> ReportCore::ImportCertificate(
    const SigningKeyRef& ref, const pb::ImportCertificateRequest& req) {
  return assembler::ImportCertificate(*store_, ref, req.certificate_pem(), options_.clock());
}

absl::StatusOr<pb::ListSigningKeysResponse> ReportCore::ListSigningKeys(
    const std::string& org, const pb::ListSigningKeysRequest& req) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(req.page_size(), 50, 200));
  const std::string list = PageList({"signingKeys", org});
  GR_ASSIGN_OR_RETURN(std::string cursor, DecodeCursorToken(list, req.page_token()));
  size_t skip = 0;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor, &skip)) {
    return absl::InvalidArgumentError("page_token: not a token of this list");
  }
  // Keys only grow, oldest first: a position is a stable cursor.
  GR_ASSIGN_OR_RETURN(std::vector<pb::SigningKey> keys, store_->ReadSigningKeys(org));
  pb::ListSigningKeysResponse out;
  for (size_t i = skip; i < keys.size() && out.signing_keys_size() < size; ++i) {
    *out.add_signing_keys() = std::move(keys[i]);
  }
  if (skip + static_cast<size_t>(size) < keys.size()) {
    out.set_next_page_token(EncodeCursorToken(list, absl::StrCat(skip + size)));
  }
  return out;
}

absl::StatusOr<pb::VerifyDocumentResponse> ReportCore::VerifyDocument(
    const RevisionRef& ref, const pb::VerifyDocumentRequest& req) {
  GR_RETURN_IF_ERROR(CheckEnum("format", req.format(), Unspecified::kRefused));
  constexpr size_t kMaxContentBytes = size_t{16} << 20;
  if (req.content().size() > kMaxContentBytes) {
    return errors::InvalidField(
        "content", "CONTENT_TOO_LARGE",
        absl::StrCat(req.content().size(), " bytes, at most ", kMaxContentBytes), "文件过大");
  }
  GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(ref));
  if (!rev.frozen()) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat(rev.name(),
                                                   " is not published: a draft has "
                                                   "no signature to verify")),
        "NOT_PUBLISHED", "该修订版尚未印发，没有签名");
  }
  GR_ASSIGN_OR_RETURN(std::vector<pb::SigningKey> keys, store_->ReadSigningKeys(ref.org));
  return VerifyPublished(rev, req.format(), req.content(), keys);
}

absl::StatusOr<pb::ListDocumentNumbersResponse> ReportCore::ListDocumentNumbers(
    const std::string& org, const pb::ListDocumentNumbersRequest& req) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(req.page_size(), 100, 1000));
  if (!req.code().empty()) GR_RETURN_IF_ERROR(CheckDocumentCode("code", req.code()));
  if (req.year() < 0) {
    return errors::InvalidField("year", "INVALID_ARGUMENT", "must not be negative", "不能为负数");
  }
  const std::string list = PageList({"documentNumbers", org, req.code(), absl::StrCat(req.year())});
  GR_ASSIGN_OR_RETURN(std::string cursor, DecodeCursorToken(list, req.page_token()));
  int64_t after = 0;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor, &after)) {
    return absl::InvalidArgumentError("page_token: not a token of this list");
  }
  pb::ListDocumentNumbersResponse out;
  // A filter reads a bounded number of entries per call, so a page may be
  // short while a token is given.
  const bool filtered = !req.code().empty() || req.year() != 0;
  const int chunk = filtered ? std::max(size * 2, 200) : size;
  for (int round = 0; round < 10 && out.document_numbers_size() < size; ++round) {
    GR_ASSIGN_OR_RETURN(Store::NumberPage page, store_->ListDocumentNumbers(org, after, chunk));
    size_t used = 0;
    for (; used < page.numbers.size() && out.document_numbers_size() < size; ++used) {
      pb::DocumentNumber& n = page.numbers[used];
      after = page.ids[used];
      if (!req.code().empty() && n.code() != req.code()) continue;
      if (req.year() != 0 && n.year() != req.year()) continue;
      *out.add_document_numbers() = std::move(n);
    }
    if (!page.more && used == page.numbers.size()) return out;
  }
  out.set_next_page_token(EncodeCursorToken(list, absl::StrCat(after)));
  return out;
}

absl::StatusOr<pb::DocumentNumber> ReportCore::VoidDocumentNumber(
    const auth::Principal& p, const DocumentNumberRef& ref,
    const pb::VoidDocumentNumberRequest& req) {
  const request_id::Call call = CallOf("VoidDocumentNumber", ref.Name(), p, req);
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  if (req.reason().empty()) {
    return errors::InvalidField("reason", "FIELD_REQUIRED",
                                "must be set: the register says why the number is a gap",
                                "必须填写作废原因");
  }
  if (req.reason().size() > kMaxSettingsTextBytes) {
    return errors::InvalidField("reason", "TEXT_TOO_LONG",
                                absl::StrCat("at most ", kMaxSettingsTextBytes, " bytes"),
                                absl::StrCat("不能超过 ", kMaxSettingsTextBytes, " 字节"));
  }
  GR_RETURN_IF_ERROR(CheckDocumentText("reason", req.reason()));
  GR_ASSIGN_OR_RETURN(RegisterResult r,
                      store_->VoidDocumentNumber(ref.org, ref.id, req.reason(), p.subject, Now(),
                                                 Store::VoidMode::kAdmin, call));
  switch (r.outcome) {
    case Outcome::kOk:
    case Outcome::kReplayed:
      return store_->ReadDocumentNumber(ref.org, ref.id);
    case Outcome::kRequestReused:
      return request_id::Reused(call.id);
    case Outcome::kNotFound:
      return errors::WithReason(absl::NotFoundError(absl::StrCat(ref.Name(), " not found")),
                                "DOCUMENT_NUMBER_NOT_FOUND", "该发文字号不存在");
    case Outcome::kFinal:
      return errors::WithReason(
          absl::FailedPreconditionError(absl::StrCat(ref.Name(), " is voided already")),
          "DOCUMENT_NUMBER_VOIDED", "该发文字号已作废");
    case Outcome::kConflict:
      return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                    ref.Name(), " is being published with ", r.detail,
                                    "; it is voided by itself if that publication fails for good")),
                                "DOCUMENT_NUMBER_PENDING", "该发文字号的报告正在印发，不能作废");
    default:
      return absl::InternalError("unexpected answer of the void script");
  }
}

}  // namespace govreport::assembler
