#include "assembler/workers.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <utility>
#include <variant>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "assembler/assembly.h"
#include "assembler/signing_keys.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/resource.h"
#include "common/server.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "report_context/report_context.h"

namespace govreport::assembler {
namespace {

using streams::HandlerResult;

constexpr absl::string_view kLog = "assembler";
// Commits lost to a concurrent change of the same report are redone this
// often before the entry is left for redelivery.
constexpr int kCommitAttempts = 8;

// A failure that will not go away is dead-lettered at once; anything else
// is retried with backoff and then redelivered.
HandlerResult Failure(const absl::Status& s) {
  return IsPermanent(s) ? HandlerResult::Reject(s) : HandlerResult::Retry(s);
}

// Only the approval the assembler itself started for the report's current
// submission (recorded by SubmitReport) decides on it: an approval anyone
// started directly at the approval service on the same revision publishes,
// rejects and republishes nothing.
bool SameSubmission(const pb::Report& r, int64_t revision, absl::string_view approval) {
  return r.submitted_revision() == revision && !approval.empty() && r.approval() == approval;
}

// The submit that started an approval has not recorded it yet: an event of
// that approval may be early, so it is retried rather than dropped.
bool AwaitingApproval(const pb::Report& r, int64_t revision) {
  return r.state() == pb::REPORT_STATE_IN_REVIEW && r.submitted_revision() == revision &&
         r.approval().empty();
}

// Every pass of a read-modify-commit lost to another writer.
HandlerResult KeptChanging(absl::string_view name) {
  return HandlerResult::Retry(absl::AbortedError(absl::StrCat(name, " kept changing")));
}

// What a worker's commit means: a Redis error is retried, a lost race
// (kStale) decided again on a fresh read, anything else is done.
std::optional<HandlerResult> Committed(const absl::StatusOr<CommitResult>& result) {
  if (!result.ok()) return HandlerResult::Retry(result.status());
  if (result->outcome == Outcome::kStale) return std::nullopt;
  return HandlerResult::Done();
}

// The sign-off an approved event carries (its time, else the event's).
absl::StatusOr<SignOff> SignOffOf(const streams::Entry& entry) {
  SignOff sign_off{
      entry.Get("approval"), entry.Get("signer"), 0,
      SignerNamesOf(entry.Get("signer_names"), entry.Get("signers"), entry.Get("signer"))};
  if (!absl::SimpleAtoi(entry.Get("sign_off_unix"), &sign_off.sign_off_unix) ||
      sign_off.sign_off_unix <= 0) {
    (void)absl::SimpleAtoi(entry.Get("time_unix"), &sign_off.sign_off_unix);
  }
  if (sign_off.sign_off_unix <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("approved event ", entry.id, " has no sign_off_unix"));
  }
  return sign_off;
}

}  // namespace

Workers::Workers(Store* store, Upstream* upstream, CallAs service,
                 std::function<absl::Time()> clock)
    : store_(store), upstream_(upstream), service_(std::move(service)), clock_(std::move(clock)) {}

// -------------------------------------------------------------- assemble

HandlerResult Workers::HandleAssemble(const streams::Entry& entry) {
  auto job = ParseJob(entry);
  if (!job.ok()) {
    LogLine(kLog, absl::StrCat("malformed assemble job ", entry.id, ": ", job.status().message()));
    return HandlerResult::Reject(job.status());
  }
  ReportRef ref{job->org, job->id};
  auto report = store_->ReadReport(ref);
  if (!report.ok()) {
    if (absl::IsNotFound(report.status())) {
      LogLine(kLog, absl::StrCat("job ", job->JobId(), ": ", ref.Name(),
                                 " does not exist; acknowledged"));
      return HandlerResult::Done();
    }
    return HandlerResult::Retry(report.status());
  }
  // Only the newest job of a draft assembles; a redelivered or superseded
  // one finds its work done.
  if (ClassifyJob(*report, job->seq) != JobVerdict::kRun) return HandlerResult::Done();

  // The two questions to records are independent: ask them at once.
  auto pending_org =
      std::async(std::launch::async, [&] { return upstream_->GetOrg(service_, job->org); });
  auto figures = upstream_->GetIndicatorValues(service_, job->org, report->period());
  auto org = pending_org.get();
  if (!org.ok()) return Failure(org.status());
  if (!figures.ok()) return Failure(figures.status());
  auto rendered = RenderDraft(*upstream_, service_, ref, *report, *org, *figures);
  if (!rendered.ok()) return Failure(rendered.status());

  return ReadModifyCommit<HandlerResult>(
      *store_, ref, kCommitAttempts, *std::move(report),
      [&](absl::StatusOr<pb::Report>& current) -> Decision<HandlerResult> {
        // After a lost race (a newer job, a watcher's write...) the stored
        // report decides again.
        if (!current.ok()) {
          return absl::IsNotFound(current.status()) ? HandlerResult::Done()
                                                    : HandlerResult::Retry(current.status());
        }
        if (ClassifyJob(*current, job->seq) != JobVerdict::kRun) return HandlerResult::Done();
        int64_t now = Now();
        int64_t n = current->current_revision() + 1;
        pb::Report next = *current;
        pb::Revision rev = ApplyNewRevision(next, *job, n, *org, *figures, *rendered, now);
        CommitBuilder commit(ref, current->version(), next);
        commit.Guard(JobIdempotencyKey(*job));
        WriteRevision(commit, ref, *job, rev, now, store_->event_retention());
        return commit;
      },
      Committed, [&] { return KeptChanging(ref.Name()); });
}

void Workers::OnAssembleDead(const streams::Entry& entry, const absl::Status& why) {
  auto job = ParseJob(entry);
  if (!job.ok()) return;
  ReportRef ref{job->org, job->id};
  LogLine(kLog, absl::StrCat(ref.Name(), ": assembly job ", job->JobId(),
                             " failed: ", why.message(), " (dead-lettered)"));
  // The report's error is read by its users: an internal detail (a Redis
  // reply) stays in the log.
  std::string error = absl::StrCat("assembly job ", job->JobId(), " failed: ", CallerMessage(why));
  ReadModifyCommit<HandlerResult>(
      *store_, ref, kCommitAttempts, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<HandlerResult> {
        if (!report.ok() || ClassifyJob(*report, job->seq) != JobVerdict::kRun) {
          return HandlerResult::Done();
        }
        pb::Report next = *report;
        MarkFailed(next, error, Now());
        return CommitBuilder(ref, report->version(), next);
      },
      Committed, [] { return HandlerResult::Done(); });
}

// -------------------------------------------------------- approval events

HandlerResult Workers::HandleApprovalEvent(const streams::Entry& entry) {
  std::string type = entry.Get("type");
  // "started" is not among them: which approval is the report's is what
  // SubmitReport recorded, never whoever started one on its revision.
  if (type != "approved" && type != "rejected" && type != "withdrawn") {
    return HandlerResult::Done();
  }
  std::string subject = entry.Get("subject");
  auto ref = ParseRevisionName(subject, "subject");
  if (!ref.ok()) {
    // Approvals of things other than report revisions are not ours.
    if (absl::StrContains(subject, "/reports/")) {
      LogLine(kLog, absl::StrCat("approval event ", entry.id, " (", type,
                                 "): ", ref.status().message(), "; acknowledged"));
    }
    return HandlerResult::Done();
  }
  if (!entry.Get("org").empty() && entry.Get("org") != ref->org) {
    LogLine(kLog, absl::StrCat("approval event ", entry.id, ": org ", entry.Get("org"),
                               " does not own ", subject, "; acknowledged"));
    return HandlerResult::Done();
  }
  if (type == "approved") return Publish(*ref, entry);
  return Decide(*ref, entry);
}

HandlerResult Workers::Decide(const RevisionRef& ref, const streams::Entry& entry) {
  const std::string type = entry.Get("type");
  const std::string approval = entry.Get("approval");
  std::string comment = entry.Get("comment");
  if (type == "withdrawn" && comment.empty() && !approval.empty()) {
    // The withdrawn event carries no comment; the approval keeps it.
    auto a = upstream_->GetApproval(service_, approval);
    if (a.ok()) comment = a->last_comment();
  }
  return ReadModifyCommit<HandlerResult>(
      *store_, ref.report(), kCommitAttempts, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<HandlerResult> {
        if (!report.ok()) {
          if (!absl::IsNotFound(report.status())) return HandlerResult::Retry(report.status());
          LogLine(kLog, absl::StrCat("approval event ", entry.id, " (", type, ") for ", ref.Name(),
                                     ": no such report; acknowledged"));
          return HandlerResult::Done();
        }
        if (AwaitingApproval(*report, ref.number)) {
          return HandlerResult::Retry(absl::UnavailableError(absl::StrCat(
              ref.report().Name(), " has not recorded its approval yet; ", approval, " waits")));
        }
        if (report->state() != pb::REPORT_STATE_IN_REVIEW ||
            !SameSubmission(*report, ref.number, approval)) {
          LogLine(kLog, absl::StrCat("approval event ", entry.id, " (", type, ") of ", approval,
                                     " does not match the current submission of ",
                                     ref.report().Name(), "; acknowledged"));
          return HandlerResult::Done();
        }
        pb::Report next = *report;
        ReturnToDraft(next, type, entry.Get("actor"), comment, Now());
        return CommitBuilder(ref.report(), report->version(), next);
      },
      Committed, [&] { return KeptChanging(ref.Name()); });
}

// Publishing an approved revision, in three steps:
//   1. RecordApproval: the report records the approval (APPROVED) before
//      the slow part, so a redelivery after a crash goes straight to
//      rendering;
//   2. RenderFinal: the final documents from the approved snapshot, dated
//      by the sign-off;
//   3. CommitPublication: freeze, store the documents and announce, in one
//      commit.
HandlerResult Workers::Publish(const RevisionRef& ref, const streams::Entry& entry) {
  absl::StatusOr<SignOff> sign_off = SignOffOf(entry);
  if (!sign_off.ok()) return HandlerResult::Reject(sign_off.status());
  ApprovedOr approved = RecordApproval(ref, entry, *sign_off);
  if (auto* answer = std::get_if<HandlerResult>(&approved)) return *answer;
  const pb::Report& report = std::get<pb::Report>(approved);
  PublicationOr publication = RenderFinal(ref, report);
  if (auto* answer = std::get_if<HandlerResult>(&publication)) return *answer;
  return CommitPublication(ref, report, std::get<Publication>(publication));
}

Workers::ApprovedOr Workers::RecordApproval(const RevisionRef& ref, const streams::Entry& entry,
                                            const SignOff& sign_off) {
  const std::string& approval = sign_off.approval;
  pb::Report next;
  return ReadModifyCommit<ApprovedOr>(
      *store_, ref.report(), kCommitAttempts, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<ApprovedOr> {
        if (!report.ok()) {
          if (!absl::IsNotFound(report.status())) return HandlerResult::Retry(report.status());
          LogLine(kLog, absl::StrCat("approved event ", entry.id, " for ", ref.Name(),
                                     ": no such report; acknowledged"));
          return HandlerResult::Done();
        }
        if (report->state() == pb::REPORT_STATE_PUBLISHED &&
            report->published_revision() == ref.number) {
          return HandlerResult::Done();  // Redelivered after publishing.
        }
        if (AwaitingApproval(*report, ref.number)) {
          return HandlerResult::Retry(absl::UnavailableError(absl::StrCat(
              ref.report().Name(), " has not recorded its approval yet; ", approval, " waits")));
        }
        bool ours = (report->state() == pb::REPORT_STATE_IN_REVIEW ||
                     report->state() == pb::REPORT_STATE_APPROVED) &&
                    SameSubmission(*report, ref.number, approval);
        if (!ours) {
          LogLine(kLog, absl::StrCat("approved event ", entry.id, " of ", approval,
                                     " does not match the current submission of ",
                                     ref.report().Name(), "; acknowledged"));
          return HandlerResult::Done();
        }
        if (report->state() == pb::REPORT_STATE_APPROVED) {
          // Recorded before: its numbering stands, unless its number was
          // voided (the publication had failed for good) and this is a
          // replay, which gets a new one.
          if (report->document_number_name().empty()) return *std::move(report);
          auto number = ParseDocumentNumberName(report->document_number_name());
          if (!number.ok()) return HandlerResult::Reject(number.status());
          auto stored = store_->ReadDocumentNumber(ref.org, number->id);
          if (!stored.ok()) return HandlerResult::Retry(stored.status());
          if (stored->state() == pb::DOCUMENT_NUMBER_STATE_ISSUED) return *std::move(report);
        }
        absl::StatusOr<Numbering> numbering = NumberSignOff(*store_, ref, sign_off, Now());
        if (!numbering.ok()) return HandlerResult::Retry(numbering.status());
        if (numbering->display.empty()) {
          LogLine(kLog, absl::StrCat(ref.Name(), " signed off without 发文字号 or 版头: orgs/",
                                     ref.org, " has no document settings code"));
        } else {
          LogLine(kLog, absl::StrCat(ref.Name(), " signed off as ", numbering->display, " (",
                                     numbering->name, ")"));
        }
        next = *report;
        if (report->state() == pb::REPORT_STATE_APPROVED) {
          SetNumbering(next, *numbering, Now());
        } else {
          MarkApproved(next, sign_off, *numbering, Now());
        }
        return CommitBuilder(ref.report(), report->version(), next);
      },
      [&](const absl::StatusOr<CommitResult>& result) -> std::optional<ApprovedOr> {
        if (!result.ok()) return HandlerResult::Retry(result.status());
        if (result->outcome == Outcome::kOk) return std::move(next);
        return std::nullopt;  // Read again: what is stored now decides.
      },
      [&] { return KeptChanging(ref.Name()); });
}

Workers::PublicationOr Workers::RenderFinal(const RevisionRef& ref, const pb::Report& report) {
  auto rev = store_->ReadRevision(ref);
  if (!rev.ok()) return Failure(rev.status());
  if (rev->frozen()) return HandlerResult::Done();
  // The approval's history head goes into the published revision and the
  // event: an auditor who keeps it elsewhere can later tell whether the
  // approval's history was rewritten.
  auto signed_approval = upstream_->GetApproval(service_, report.approval());
  if (!signed_approval.ok()) return Failure(signed_approval.status());
  if (signed_approval->history_head().empty()) {
    return HandlerResult::Retry(absl::UnavailableError(
        absl::StrCat(report.approval(), " has no history head to anchor the publication")));
  }
  // 21: Report.sign_off_unix of a report approved before it was a Timestamp.
  const int64_t sign_off_unix = FromTimestamp(report.sign_off_time(), report, 21);
  absl::CivilDay issue = IssueDateOf(sign_off_unix);
  Publication pub;
  pub.frozen = *rev;
  // The numbering and settings the sign-off recorded frame the documents:
  // kept on the revision, so a later settings change never reaches them.
  pub.frozen.set_document_number(report.document_number());
  pub.frozen.set_document_number_name(report.document_number_name());
  *pub.frozen.mutable_signer_names() = report.signer_names();
  if (report.has_document_settings()) {
    *pub.frozen.mutable_document_settings() = report.document_settings();
  }
  // Signed here, once per publication: an org with a key never publishes
  // unsigned (a key that cannot sign retries, then dead-letters).
  const absl::Time signing_time = absl::Now();
  auto key = OpenActiveSigningKey(*store_, ref.org, signing_time);
  if (!key.ok()) return Failure(key.status());
  for (typepb::DocumentFormat format : AllFormats()) {
    // The sign-off time fixes the DOCX metadata, so a re-render gives the
    // same bytes and the same digest.
    auto r =
        upstream_->Render(service_, RenderRequestFor(pub.frozen, format, issue, sign_off_unix));
    if (!r.ok()) return Failure(r.status());
    if (format == typepb::DOCUMENT_FORMAT_OFD && *key) {
      // The OFD carries the org's signature inside too (GB/T 38540
      // structure, docs/ofd.md), an electronic seal when it prints the
      // org's seal image; the manifest then covers the signed bytes.
      const auto& settings = pub.frozen.document_settings();
      auto signed_ofd = SignOfdWith(**key, r->content(), signing_time,
                                    settings.sealed() && !settings.seal_image().empty());
      if (!signed_ofd.ok()) return Failure(signed_ofd.status());
      r->set_content(*std::move(signed_ofd));
    }
    pb::RenderedDocument* d = pub.frozen.add_documents();
    d->set_format(format);
    d->set_content_type(r->content_type().empty() ? DefaultContentType(format) : r->content_type());
    d->set_sha256(Sha256Hex(r->content()));
    d->set_size(static_cast<int64_t>(r->content().size()));
    pub.contents.push_back(std::move(*r->mutable_content()));
  }
  pb::Revision& frozen = pub.frozen;
  frozen.set_frozen(true);
  frozen.set_approval(report.approval());
  frozen.set_signer(report.signer());
  *frozen.mutable_sign_off_time() = ToTimestamp(sign_off_unix);
  frozen.set_issue_date(report.issue_date());
  frozen.set_approval_history_head(signed_approval->history_head());
  frozen.set_digest(ManifestDigest(frozen.documents()));
  if (*key) {
    auto signature = SignManifestWith(**key, Manifest(frozen.documents()), signing_time);
    if (!signature.ok()) return Failure(signature.status());
    *frozen.mutable_signature() = *std::move(signature);
  }
  return pub;
}

HandlerResult Workers::CommitPublication(const RevisionRef& ref, const pb::Report& approved,
                                         Publication& pub) {
  pb::Revision& frozen = pub.frozen;
  std::vector<std::string> formats;
  for (const auto& d : frozen.documents()) formats.emplace_back(FormatName(d.format()));
  return ReadModifyCommit<HandlerResult>(
      *store_, ref.report(), kCommitAttempts, approved,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<HandlerResult> {
        if (!report.ok()) return HandlerResult::Retry(report.status());
        if (report->state() != pb::REPORT_STATE_APPROVED ||
            report->approval() != frozen.approval()) {
          return HandlerResult::Done();  // Another worker published it.
        }
        int64_t now = Now();
        *frozen.mutable_publish_time() = ToTimestamp(now);
        pb::Report next = *report;
        MarkPublished(next, frozen, now);
        CommitBuilder commit(ref.report(), report->version(), next);
        commit.Set(Store::RevisionKey(ref), frozen.SerializeAsString());
        for (int i = 0; i < frozen.documents_size(); ++i) {
          commit.SetNx(Store::DocumentKey(ref, frozen.documents(i).format()), pub.contents[i]);
        }
        if (auto number = ParseDocumentNumberName(frozen.document_number_name()); number.ok()) {
          // The register shows the number printed; it is no longer pending.
          commit.HSet(Store::DocumentNumberKey(ref.org, number->id), "published", "1");
          commit.SRem(Store::PendingNumbersKey(ref.org), absl::StrCat(number->id));
        }
        commit.XAddOrg(kPublishedEvents, ref.org,
                       {{"type", "published"},
                        {"report", ref.report().Name()},
                        {"revision", ref.Name()},
                        {"revision_number", absl::StrCat(ref.number)},
                        {"org", ref.org},
                        {"digest", frozen.digest()},
                        {"formats", absl::StrJoin(formats, ",")},
                        {"approval", frozen.approval()},
                        {"approval_history_head", frozen.approval_history_head()},
                        {"signer", frozen.signer()},
                        {"signer_names", JsonStringArray({frozen.signer_names().begin(),
                                                          frozen.signer_names().end()})},
                        {"document_number", frozen.document_number()},
                        {"sign_off_unix", absl::StrCat(FromTimestamp(frozen.sign_off_time()))},
                        {"issue_date", frozen.issue_date()},
                        {"signing_key", frozen.signature().signing_key()},
                        {"signature_base64", absl::Base64Escape(frozen.signature().signature())},
                        {"time_unix", absl::StrCat(now)}});
        commit.AppendEvent(ref.org, PublishedEvent(ref, frozen, now), store_->event_retention());
        return commit;
      },
      [&](const absl::StatusOr<CommitResult>& result) {
        if (result.ok() && result->outcome == Outcome::kOk) {
          LogLine(kLog, absl::StrCat(ref.Name(), " published, digest ", frozen.digest()));
        }
        return Committed(result);
      },
      [&] { return KeptChanging(ref.Name()); });
}

void Workers::OnApprovalEventDead(const streams::Entry& entry, const absl::Status& why) {
  LogLine(kLog, absl::StrCat("approval event ", entry.id, " (", entry.Get("type"), ", ",
                             entry.Get("subject"), ") dead-lettered: ", why.message()));
  if (entry.Get("type") != "approved") return;
  auto ref = ParseRevisionName(entry.Get("subject"));
  if (!ref.ok()) return;
  ReadModifyCommit<HandlerResult>(
      *store_, ref->report(), kCommitAttempts, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<HandlerResult> {
        if (!report.ok() || report->state() != pb::REPORT_STATE_APPROVED ||
            report->approval() != entry.Get("approval")) {
          return HandlerResult::Done();
        }
        pb::Report next = *report;
        std::string voided;
        if (auto number = ParseDocumentNumberName(report->document_number_name()); number.ok()) {
          // A number that will never be printed is voided, so the register
          // shows why it is a gap; a replay of the event gets a new one.
          auto v = store_->VoidDocumentNumber(
              ref->org, number->id,
              absl::StrCat("publication failed for good: ", CallerMessage(why)), "system", Now(),
              Store::VoidMode::kUnpublished, {});
          if (!v.ok()) return HandlerResult::Retry(v.status());
          if (v->outcome == Outcome::kOk || v->outcome == Outcome::kFinal) {
            voided = absl::StrCat("; its 发文字号 ", report->document_number(), " (",
                                  report->document_number_name(), ") is voided");
          }
        }
        next.set_error(absl::StrCat("publishing ", ref->Name(), " failed: ", CallerMessage(why),
                                    " (the event is in ", streams::DeadLetterStream(entry.stream),
                                    ")", voided));
        next.set_version(next.version() + 1);
        *next.mutable_update_time() = ToTimestamp(Now());
        return CommitBuilder(ref->report(), report->version(), next);
      },
      Committed, [] { return HandlerResult::Done(); });
}

// ------------------------------------------------------------- outdated

absl::StatusOr<int64_t> Workers::CheckOutdated(const std::string& org) {
  GR_ASSIGN_OR_RETURN(rpb::Org org_now, upstream_->GetOrg(service_, org));
  // One question to records per period, however many reports share it.
  std::map<std::string, rpb::GetIndicatorValuesResponse> figures;
  ReportQuery q;
  q.state = pb::REPORT_STATE_PUBLISHED;
  q.size = 100;
  int64_t checked = 0;
  do {
    GR_ASSIGN_OR_RETURN(Store::Page page, store_->ListReports(org, q));
    for (const pb::Report& report : page.reports) {
      auto ref = ParseReportName(report.name());
      if (!ref.ok()) continue;
      RevisionRef rev_ref{org, ref->id, report.published_revision()};
      GR_ASSIGN_OR_RETURN(pb::Revision rev, store_->ReadRevision(rev_ref));
      auto it = figures.find(rev.period());
      if (it == figures.end()) {
        GR_ASSIGN_OR_RETURN(rpb::GetIndicatorValuesResponse now,
                            upstream_->GetIndicatorValues(service_, org, rev.period()));
        it = figures.emplace(rev.period(), std::move(now)).first;
      }
      pb::Staleness staleness = CompareWithCurrent(rev, it->second, org_now);
      GR_RETURN_IF_ERROR(RecordOutdated(*store_, *ref, rev_ref.number, staleness, Now()).status());
      ++checked;
    }
    q.cursor = page.next_cursor;
  } while (!q.cursor.empty());
  return checked;
}

absl::StatusOr<int64_t> Workers::CheckAllOutdated() {
  GR_ASSIGN_OR_RETURN(redis::Reply orgs,
                      store_->redis().Command({"ZRANGE", std::string(kOrgIndexKey), "0", "-1"}));
  int64_t checked = 0;
  absl::Status first_error;
  for (size_t i = 0; i < orgs.Size(); ++i) {
    // One org's trouble (its records away) does not stop the others.
    absl::StatusOr<int64_t> n = CheckOutdated(orgs[i].AsString());
    if (n.ok()) {
      checked += *n;
    } else if (first_error.ok()) {
      first_error = n.status();
    }
  }
  if (!first_error.ok()) return first_error;
  return checked;
}

// ------------------------------------------------------------------ pool

WorkerPool::WorkerPool(redis::Client* redis, Workers* workers, WorkerOptions options)
    : redis_(redis), workers_(workers), options_(std::move(options)) {
  if (options_.consumer_prefix.empty()) {
    options_.consumer_prefix = streams::DefaultConsumerName("assembler");
  }
}

WorkerPool::~WorkerPool() { Stop(); }

streams::ConsumerOptions WorkerPool::ConsumerFor(absl::string_view stream, int index) const {
  streams::ConsumerOptions o;
  o.stream = std::string(stream);
  o.group = std::string(kConsumerGroup);
  o.consumer =
      absl::StrCat(options_.consumer_prefix, stream == kAssembleQueue ? "-a" : "-e", index);
  o.block = options_.block;
  o.claim_idle = options_.claim_idle;
  o.max_deliveries = options_.max_deliveries;
  o.attempts = options_.attempts;
  o.first_backoff = options_.first_backoff;
  return o;
}

absl::Status WorkerPool::Start() {
  // Each org's stream gets its group when the consumers first see it; the
  // first look is here, so that a Redis that is away stops the start.
  for (absl::string_view stream : {kAssembleQueue, kApprovalEvents}) {
    streams::IndexedConsumer setup(redis_, ConsumerFor(stream, 0));
    absl::Status st = setup.Refresh();
    if (!st.ok()) return st;
  }
  stop_.store(false);
  for (int i = 0; i < options_.assemble_workers; ++i) {
    threads_.emplace_back([this, opts = ConsumerFor(kAssembleQueue, i)] {
      streams::IndexedConsumer consumer(redis_, opts);
      consumer.Run([this](const streams::Entry& e) { return workers_->HandleAssemble(e); }, stop_,
                   [this](const streams::Entry& e, const absl::Status& why) {
                     workers_->OnAssembleDead(e, why);
                   });
    });
  }
  if (options_.trim_interval > absl::ZeroDuration()) {
    threads_.emplace_back([this] { TrimLoop(); });
  }
  if (options_.outdated_check_interval > absl::ZeroDuration()) {
    threads_.emplace_back([this] { OutdatedLoop(); });
  }
  for (int i = 0; i < options_.event_workers; ++i) {
    threads_.emplace_back([this, opts = ConsumerFor(kApprovalEvents, i)] {
      streams::IndexedConsumer consumer(redis_, opts);
      consumer.Run([this](const streams::Entry& e) { return workers_->HandleApprovalEvent(e); },
                   stop_,
                   [this](const streams::Entry& e, const absl::Status& why) {
                     workers_->OnApprovalEventDead(e, why);
                   });
    });
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> WorkerPool::TrimStreams(absl::Time now) {
  int64_t removed = 0;
  for (absl::string_view global : {kAssembleQueue, kApprovalEvents, kPublishedEvents}) {
    // Every org's stream, and the global one of the layout before while
    // it exists; their dead letters beside each.
    GR_ASSIGN_OR_RETURN(std::vector<std::string> names, streams::IndexedStreams(*redis_, global));
    if (std::find(names.begin(), names.end(), global) == names.end()) names.emplace_back(global);
    for (const std::string& stream : names) {
      for (bool dead : {false, true}) {
        std::string name = dead ? streams::DeadLetterStream(stream) : stream;
        GR_ASSIGN_OR_RETURN(
            int64_t n, streams::TrimConsumed(
                           *redis_, name,
                           dead ? options_.dead_letter_retention : options_.stream_retention, now));
        removed += n;
      }
    }
  }
  return removed;
}

// Every replica trims: a trim is idempotent, and a replica that is down
// does not stop the others'.
void WorkerPool::TrimLoop() {
  while (!stop_.load()) {
    (void)TrimStreams();  // Redis away: the next round tries again.
    absl::Time until = absl::Now() + options_.trim_interval;
    while (!stop_.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(100));
  }
}

// Every replica checks: a check records a finding once (ClassifyOutdated),
// so two replicas finding the same change append one event.
void WorkerPool::OutdatedLoop() {
  while (!stop_.load()) {
    absl::Time until = absl::Now() + options_.outdated_check_interval;
    while (!stop_.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(100));
    if (stop_.load()) break;
    absl::StatusOr<int64_t> checked = workers_->CheckAllOutdated();
    if (!checked.ok()) {
      LogLine(kLog, absl::StrCat("outdated check: ", checked.status().message()));
    }
  }
}

void WorkerPool::Stop() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace govreport::assembler
