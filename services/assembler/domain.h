// The assembler's rules without Redis or the network: resource names, the
// report state machine, assembly jobs and their idempotency keys, numeric
// gaps, staleness and revision diffs, issue dates and document digests.
// Everything here is a pure function, so it is unit-tested directly.
#ifndef GOVREPORT_ASSEMBLER_DOMAIN_H_
#define GOVREPORT_ASSEMBLER_DOMAIN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/streams.h"
#include "govreport/assembler/v1/reports.pb.h"
#include "govreport/events/v1/events.pb.h"
#include "govreport/records/v1/records.pb.h"
#include "govreport/templates/v1/templates.pb.h"

namespace govreport::assembler {

namespace pb = ::govreport::assembler::v1;
namespace typepb = ::govreport::type::v1;
namespace rpb = ::govreport::records::v1;
namespace tpb = ::govreport::templates::v1;

// Streams shared with the other services.
inline constexpr absl::string_view kAssembleQueue = "gr:q:assemble";
inline constexpr absl::string_view kApprovalEvents = "gr:ev:approval";
inline constexpr absl::string_view kPublishedEvents = "gr:ev:published";
inline constexpr absl::string_view kConsumerGroup = "assembler";

// Limits on what a drafter may send.
inline constexpr size_t kMaxNarrativeBytes = size_t{64} * 1024;
inline constexpr size_t kMaxTitleBytes = 512;
inline constexpr size_t kMaxCommentBytes = 4096;
// The approval service takes at most 50 excluded approvers.
inline constexpr size_t kMaxNarrativeAuthors = 50;
// Workflows one template may be bound to.
inline constexpr int kMaxBoundWorkflows = 20;

// ------------------------------------------------------------------ names

struct ReportRef {
  std::string org;
  std::string id;
  std::string Name() const;
};

struct RevisionRef {
  std::string org;
  std::string id;
  int64_t number = 0;
  ReportRef report() const { return {org, id}; }
  std::string Name() const;
};

absl::StatusOr<ReportRef> ParseReportName(absl::string_view name, absl::string_view field = "name");
// "orgs/{org}/reports/{id}/revisions/{n}" with n >= 1.
absl::StatusOr<RevisionRef> ParseRevisionName(absl::string_view name,
                                              absl::string_view field = "name");

// The template a report may use: one of its own org or a shared one,
// optionally pinned "@{revision}". INVALID_ARGUMENT otherwise.
absl::Status CheckTemplateRef(absl::string_view org, absl::string_view ref);
// The template name pinned to the revision that was rendered.
std::string PinnedTemplate(absl::string_view ref, int64_t revision);
// The template name without "@{revision}": what workflow bindings key on.
std::string TemplateBase(absl::string_view ref);
// "orgs/{org}/workflows/{id}" of the same org (no "@revision": the approval
// pins the workflow's revision when it starts).
absl::Status CheckWorkflowRef(absl::string_view org, absl::string_view ref);

// --------------------------------------------------------- assembly jobs

// One queued assembly: the report and the sequence number of the job, which
// the report counts (pending_job). "{id}#{seq}" identifies it everywhere.
struct AssembleJob {
  std::string org;
  std::string id;
  int64_t seq = 0;
  std::string requested_by;
  // The request_id of the call that queued it (empty: none), for the
  // REPORT_ASSEMBLED event.
  std::string request_id{};
  std::string JobId() const;
};

streams::Fields JobFields(const AssembleJob& job);
absl::StatusOr<AssembleJob> ParseJob(const streams::Entry& entry);

// Redis key that records which revision a job made; the revision script
// refuses to make a second one for the same key, so a redelivered job
// never creates a second revision.
std::string JobIdempotencyKey(const AssembleJob& job);

enum class JobVerdict {
  kRun,         // The newest job of a draft: assemble.
  kApplied,     // This job (or a newer one) already made a revision.
  kSuperseded,  // A newer job is queued; it will assemble.
  kWrongState,  // The report is no longer a draft (submitted, failed...).
};
JobVerdict ClassifyJob(const pb::Report& report, int64_t seq);

// ----------------------------------------------------------- transitions
//
// Each takes the stored report and returns the next one (version + 1,
// update time set), or FAILED_PRECONDITION naming what to do instead.

// New report: DRAFT, assembling, job 1 queued.
pb::Report NewReport(const ReportRef& ref, const pb::CreateReportRequest& req,
                     absl::string_view period_label, absl::string_view by, int64_t now_unix);

absl::Status CheckCanChangeDraft(const pb::Report& report, bool correction, absl::string_view what);
// Queues a new assembly: the report returns to DRAFT (also from FAILED and,
// for a correction, PUBLISHED) and pending_job increases. Returns the job.
AssembleJob StartAssembly(pb::Report& report, absl::string_view by, int64_t now_unix);

// A revision was stored for job `seq`.
void ApplyRevision(pb::Report& report, const pb::Revision& revision, int64_t seq, int64_t now_unix);
// The newest job was dead-lettered.
void MarkFailed(pb::Report& report, absl::string_view error, int64_t now_unix);

// Whether `revision` (0: the current one) can be submitted at all (state,
// assembly finished, current). Returns the revision number.
absl::StatusOr<int64_t> CheckCanSubmit(const pb::Report& report, int64_t revision);
void MarkInReview(pb::Report& report, int64_t revision,
                  const std::vector<std::string>& accepted_gaps, int64_t now_unix);
void SetApproval(pb::Report& report, absl::string_view approval, int64_t now_unix);
// rejected / withdrawn: back to DRAFT with the decision visible.
void ReturnToDraft(pb::Report& report, absl::string_view decision, absl::string_view by,
                   absl::string_view comment, int64_t now_unix);

struct SignOff {
  std::string approval;
  std::string signer;
  int64_t sign_off_unix = 0;
  // The 签发人 names (the approved event's signer_names; for an event
  // written before it existed, its signers' subjects, else the signer).
  std::vector<std::string> signer_names{};
};

// The 发文字号 a sign-off was given (empty display: none, the org had no
// code) and the settings the documents are framed with.
struct Numbering {
  std::string display;
  std::string name;
  pb::DocumentSettings settings;
};
// APPROVED with the sign-off, its 签发人 and its numbering.
void MarkApproved(pb::Report& report, const SignOff& sign_off, const Numbering& numbering,
                  int64_t now_unix);
// The report's numbering replaced (its number was voided before it was
// published, and a redelivered approval got a new one).
void SetNumbering(pb::Report& report, const Numbering& numbering, int64_t now_unix);
void MarkPublished(pb::Report& report, const pb::Revision& revision, int64_t now_unix);

// ----------------------------------------------------------------- events
//
// The org-log events (common/events.h) the commits append. Assembled: by
// the job's requester ("system" when it names none), with the request_id
// of the call that queued the job. Published: by the signer, with no
// request_id (an approval, not a call, publishes).
events::v1::Event AssembledEvent(const AssembleJob& job, const pb::Revision& revision,
                                 int64_t now_unix);
events::v1::Event PublishedEvent(const RevisionRef& ref, const pb::Revision& frozen,
                                 int64_t now_unix);

// What a check of a PUBLISHED report's revision against the records now
// (`now`, CompareWithCurrent) changes on the report: kOutdated when it is
// stale and the report does not show it yet at this records data version
// (the flag is set and an EVENT_KIND_REPORT_OUTDATED event appended, once
// per data version); kCleared when it reads as published again; else
// nothing. An unchecked staleness changes nothing.
enum class OutdatedChange { kNone, kOutdated, kCleared };
OutdatedChange ClassifyOutdated(const pb::Report& report, const pb::Staleness& now);
// By "system": a check, not a call, finds it.
events::v1::Event OutdatedEvent(const ReportRef& ref, const pb::Report& report,
                                const pb::Staleness& now, int64_t now_unix);

// -------------------------------------------------------------- contents

// Checks narrative slots and text: known slots (when `known_slots` is not
// empty), size, no control characters other than newline and tab. Text is
// never parsed: "{{x}}" is allowed and prints as written.
absl::Status ValidateNarrative(const google::protobuf::Map<std::string, std::string>& narrative,
                               const std::vector<std::string>& known_slots,
                               absl::string_view field);

// Records `user` as an author of the narrative slot (removed: the slot's
// text is gone, so are its authors). FAILED_PRECONDITION when a new author
// would exceed kMaxNarrativeAuthors.
absl::Status RecordNarrativeAuthor(pb::Report& report, absl::string_view slot, bool removed,
                                   absl::string_view user);
// Everyone in the map, sorted, once each.
std::vector<std::string> NarrativeAuthorsOf(
    const google::protobuf::Map<std::string, pb::NarrativeAuthors>& authors);
// Who may not approve a revision (separation of duties): every author of
// its narrative; text without recorded authors counts as fallback_author's
// (the report's creator).
std::vector<std::string> ExcludedApprovers(const pb::Revision& revision,
                                           absl::string_view fallback_author);

// Whether the org admin's binding of the template lets a report use the
// workflow. No binding (nullptr or empty): refused, since the safe default
// is that nobody picks an approval path the admin has not approved.
absl::Status CheckBoundWorkflow(const pb::TemplateWorkflows* binding, absl::string_view org,
                                absl::string_view template_ref, absl::string_view workflow);

// Splits the renderer's missing names into the revision's lists: issue.*
// is left out (filled at sign-off); ind.<key>... names give numeric gaps.
void SetMissing(const std::vector<std::string>& render_missing, pb::Revision* revision);

// Numeric gaps not accepted: FAILED_PRECONDITION listing them with labels.
// An accepted name that is not a gap is INVALID_ARGUMENT (a typo would
// otherwise accept nothing). On success *normalized holds the keys.
absl::Status CheckGaps(const pb::Revision& revision, const std::vector<std::string>& accepted,
                       std::vector<std::string>* normalized);

// A snapshot's figures as staleness and diffs compare them: the org's own,
// then each rolled-up total as "rollup.<key>" and each child's share of it
// as "rollup.<key>@orgs/<child>".
google::protobuf::RepeatedPtrField<rpb::IndicatorValue> ComparedFigures(
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& values,
    const rpb::GetRollupValuesResponse& rollup);
// Figures that differ between two snapshots, in the order of `to` (then
// those only in `from`).
std::vector<pb::FigureChange> DiffFigures(
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& from,
    const google::protobuf::RepeatedPtrField<rpb::IndicatorValue>& to);
// org.name, org.short_name, org.city, org.district and facts.<key> that differ.
std::vector<std::string> DiffOrgFields(const rpb::Org& from, const rpb::Org& to);

// Compares a revision's snapshot with the records as they are now.
pb::Staleness CompareWithCurrent(const pb::Revision& revision,
                                 const rpb::GetIndicatorValuesResponse& now,
                                 const rpb::Org& org_now);
// "figures changed since revision 3 was assembled: a (label) 12 → 13; ..."
std::string DescribeStaleness(const pb::Staleness& staleness, int64_t revision);

pb::DiffRevisionsResponse DiffRevisions(const pb::Revision& from, const pb::Revision& to);

// The figures a revision used, in the shape BuildReportContext takes.
rpb::GetIndicatorValuesResponse SnapshotFigures(const pb::Revision& revision);

// First non-blank line of a rendered text, for a report without a title.
std::string TitleFromText(absl::string_view text);

// The revision an assembly job makes from what it gathered and rendered.
pb::Revision MakeRevision(const pb::Report& report, const AssembleJob& job, int64_t number,
                          const rpb::Org& org, const rpb::GetIndicatorValuesResponse& figures,
                          const tpb::RenderResponse& rendered, int64_t now_unix);

// ------------------------------------------------------ document numbers

// Limits of the document settings (docs/assembler.md "Document settings").
inline constexpr size_t kMaxSettingsTextBytes = 200;
inline constexpr size_t kMaxCodeChars = 16;

// "orgs/{org}/documentSettings" → org.
absl::StatusOr<std::string> ParseDocumentSettingsName(absl::string_view name,
                                                      absl::string_view field = "name");
std::string DocumentSettingsName(absl::string_view org);
// "orgs/{org}/documentNumbers/{n}", n >= 1.
struct DocumentNumberRef {
  std::string org;
  int64_t id = 0;
  std::string Name() const;
};
absl::StatusOr<DocumentNumberRef> ParseDocumentNumberName(absl::string_view name,
                                                          absl::string_view field = "name");

// 机关代字: 1 to kMaxCodeChars characters, each a CJK unified ideograph
// (U+4E00..U+9FFF or U+3400..U+4DBF), an ASCII letter or an ASCII digit,
// with no run of 4 or more digits. INVALID_ARGUMENT naming `field`.
absl::Status CheckDocumentCode(absl::string_view field, absl::string_view code);
// Every field of settings as UpdateDocumentSettings stores them.
absl::Status ValidateDocumentSettings(const pb::DocumentSettings& settings);
// The stored settings with the fields of the request's update_mask (all
// when empty) replaced and checked; revision, update time and author are
// the caller's.
absl::StatusOr<pb::DocumentSettings> ApplyDocumentSettingsUpdate(
    const pb::DocumentSettings& current, const pb::UpdateDocumentSettingsRequest& req);

// 某科党〔2024〕3号: 六角括号, the year in full, no leading zero.
std::string FormatDocumentNumber(absl::string_view code, int64_t year, int64_t number);

// The 版头, 主送机关, 附注 and 版记 of a document framed by `settings`, or
// nothing when the settings have no code (the document is the text alone).
// `number` empty: a draft (its slot stays empty); `printing_day` unset:
// no 印发日期 yet.
std::optional<tpb::DocumentFrame> FrameFor(const pb::DocumentSettings& settings,
                                           absl::string_view number,
                                           const std::vector<std::string>& signers,
                                           std::optional<absl::CivilDay> printing_day);

// The 签发人 names of an approved event's fields: signer_names (a JSON
// array), else signers (comma-separated subjects), else signer.
std::vector<std::string> SignerNamesOf(absl::string_view signer_names_json,
                                       absl::string_view signers, absl::string_view signer);

// ------------------------------------------------------------- documents

// 成文日期 of a sign-off: the date in China Standard Time (UTC+8, no DST
// since 1991), where the document is signed. FormatDateGb (common/numerals.h)
// writes it as GB/T 9704 asks: 2024年1月5日.
absl::CivilDay IssueDateOf(int64_t sign_off_unix);

// Formats in publication order.
const std::vector<typepb::DocumentFormat>& AllFormats();
// "TXT", "MD", "HTML", "DOCX": part of the Redis key of a stored document
// (Store::DocumentKey), so fixed here and independent of the proto names.
absl::string_view FormatName(typepb::DocumentFormat format);
std::string DefaultContentType(typepb::DocumentFormat format);

// A render of a revision's snapshot (never the live records): the template
// pinned to the revision rendered at assembly, the narrative as data, and
// 成文日期 when `issue` is set. timestamp_unix fixes the DOCX metadata so the
// same revision gives the same bytes. The frame (FrameFor) comes from the
// revision's document_settings, document_number and signer_names; the
// 印发日期 is the 成文日期.
tpb::RenderRequest RenderRequestFor(const pb::Revision& revision, typepb::DocumentFormat format,
                                    std::optional<absl::CivilDay> issue, int64_t timestamp_unix);

// SHA-256 over "FORMAT sha256\n" of every document in format order: one
// value that changes if any document does.
// The manifest a publication signs: "FORMAT sha256\n" per document in
// format order; ManifestDigest is its SHA-256 (lower-case hex).
std::string Manifest(const google::protobuf::RepeatedPtrField<pb::RenderedDocument>& docs);
std::string ManifestDigest(const google::protobuf::RepeatedPtrField<pb::RenderedDocument>& docs);

// ---------------------------------------------------------------- listing

// The orders of ListReports (reports.proto, order_by).
enum class ReportOrder { kNewest, kOldest, kChange };

// The order a ListReportsRequest asks for, or INVALID_ARGUMENT naming
// order_by or changed_after.
absl::StatusOr<ReportOrder> ParseReportOrder(const pb::ListReportsRequest& request);

// ----------------------------------------------------------------- errors

// Whether a failure will fail again however often it is retried (bad
// template, unknown org...), as opposed to a service being away.
bool IsPermanent(const absl::Status& status);

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_DOMAIN_H_
