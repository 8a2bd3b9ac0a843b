// The assembler's rules without Redis or the network: names, the state
// machine, job idempotency, gaps, staleness, diffs, issue dates, digests.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "assembler/assembly.h"
#include "assembler/domain.h"
#include "common/crypto.h"
#include "common/numerals.h"
#include "gtest/gtest.h"

namespace govreport::assembler {
namespace {

rpb::IndicatorValue Figure(const std::string& key, int64_t value, bool missing = false,
                           const std::string& label = "") {
  rpb::IndicatorValue v;
  v.set_key(key);
  v.set_label(label.empty() ? key + "-label" : label);
  v.set_unit("次");
  v.set_value(value);
  v.set_display(missing ? "" : std::to_string(value));
  v.set_missing(missing);
  return v;
}

pb::Report Draft() {
  pb::CreateReportRequest req;
  req.set_template_("orgs/kjj/templates/annual");
  req.set_workflow("orgs/kjj/workflows/annual");
  return NewReport({"kjj", "r1"}, req, "2023", "drafter", 100);
}

pb::Revision RevisionWith(const std::vector<rpb::IndicatorValue>& figures,
                          const std::vector<std::string>& render_missing) {
  pb::Revision rev;
  rev.set_name("orgs/kjj/reports/r1/revisions/1");
  rev.set_number(1);
  rev.set_period("2023");
  for (auto& f : figures) *rev.add_figures() = f;
  SetMissing(render_missing, &rev);
  return rev;
}

TEST(Names, ParseAndFormat) {
  auto r = ParseRevisionName("orgs/kjj/reports/r1/revisions/12");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->org, "kjj");
  EXPECT_EQ(r->id, "r1");
  EXPECT_EQ(r->number, 12);
  EXPECT_EQ(r->Name(), "orgs/kjj/reports/r1/revisions/12");
  EXPECT_EQ(r->report().Name(), "orgs/kjj/reports/r1");
  EXPECT_FALSE(ParseRevisionName("orgs/kjj/reports/r1/revisions/0").ok());
  EXPECT_FALSE(ParseRevisionName("orgs/kjj/reports/r1").ok());
  EXPECT_FALSE(ParseReportName("orgs/KJJ/reports/r1").ok());
}

TEST(Names, TemplateAndWorkflowRefs) {
  EXPECT_TRUE(CheckTemplateRef("kjj", "orgs/kjj/templates/annual").ok());
  EXPECT_TRUE(CheckTemplateRef("kjj", "orgs/kjj/templates/annual@3").ok());
  EXPECT_TRUE(CheckTemplateRef("kjj", "templates/strict-governance").ok());
  EXPECT_EQ(CheckTemplateRef("kjj", "orgs/jyj/templates/annual").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckTemplateRef("kjj", "orgs/kjj/templates/a@x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PinnedTemplate("orgs/kjj/templates/a", 4), "orgs/kjj/templates/a@4");
  EXPECT_EQ(PinnedTemplate("orgs/kjj/templates/a@2", 2), "orgs/kjj/templates/a@2");
  EXPECT_TRUE(CheckWorkflowRef("kjj", "orgs/kjj/workflows/annual").ok());
  EXPECT_EQ(CheckWorkflowRef("kjj", "orgs/jyj/workflows/annual").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Jobs, FieldsRoundTripAndIdempotencyKeyIsPerJob) {
  AssembleJob job{"kjj", "r1", 3, "drafter", "req-9"};
  streams::Entry e;
  e.id = "1-0";
  e.fields = JobFields(job);
  auto parsed = ParseJob(e);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->JobId(), "r1#3");
  EXPECT_EQ(parsed->requested_by, "drafter");
  EXPECT_EQ(parsed->request_id, "req-9");
  // Same job, same key (a redelivery finds it); another job, another key;
  // always inside the org's hash-tag slot.
  EXPECT_EQ(JobIdempotencyKey(*parsed), JobIdempotencyKey(job));
  EXPECT_EQ(JobIdempotencyKey(job), "gr:{kjj}:rpt:r1:job:3");
  EXPECT_NE(JobIdempotencyKey(job), JobIdempotencyKey({"kjj", "r1", 4, "drafter"}));
  EXPECT_NE(JobIdempotencyKey(job), JobIdempotencyKey({"jyj", "r1", 3, "drafter"}));
  e.fields = {{"report", "orgs/kjj/reports/r1"}, {"seq", "x"}};
  EXPECT_FALSE(ParseJob(e).ok());
  e.fields = {{"report", "orgs/kjj/reports/r1"}, {"seq", "1"}, {"org", "jyj"}};
  EXPECT_FALSE(ParseJob(e).ok());
}

TEST(Events, AssembledAndPublishedCarryWhatTheCommitStores) {
  pb::Revision rev;
  rev.set_number(2);
  rev.add_missing_figures("warning_film_screenings");
  events::v1::Event a = AssembledEvent({"kjj", "r1", 3, "drafter", "req-9"}, rev, 1700000000);
  EXPECT_EQ(a.kind(), events::v1::EVENT_KIND_REPORT_ASSEMBLED);
  EXPECT_EQ(a.org(), "orgs/kjj");
  EXPECT_EQ(a.actor(), "drafter");
  EXPECT_EQ(a.request_id(), "req-9");
  EXPECT_EQ(a.time().seconds(), 1700000000);
  EXPECT_EQ(a.report_assembled().report(), "orgs/kjj/reports/r1");
  EXPECT_EQ(a.report_assembled().revision(), 2);
  ASSERT_EQ(a.report_assembled().missing_figures_size(), 1);
  // A job that names nobody (queued by an older replica) is the system's.
  EXPECT_EQ(AssembledEvent({"kjj", "r1", 3, "", ""}, rev, 1).actor(), "system");

  rev.set_digest("d1");
  rev.set_signer("secretary");
  rev.set_issue_date("二〇二四年一月五日");
  pb::RenderedDocument* d = rev.add_documents();
  d->set_format(typepb::DOCUMENT_FORMAT_TXT);
  d->set_sha256(std::string(64, 'a'));
  events::v1::Event p = PublishedEvent({"kjj", "r1", 2}, rev, 1700000100);
  EXPECT_EQ(p.kind(), events::v1::EVENT_KIND_REPORT_PUBLISHED);
  EXPECT_EQ(p.actor(), "secretary");
  EXPECT_EQ(p.request_id(), "");
  EXPECT_EQ(p.report_published().report(), "orgs/kjj/reports/r1");
  EXPECT_EQ(p.report_published().revision(), 2);
  EXPECT_EQ(p.report_published().digest(), "d1");
  EXPECT_EQ(p.report_published().signer(), "secretary");
  EXPECT_EQ(p.report_published().issue_date(), rev.issue_date());
  ASSERT_EQ(p.report_published().documents_size(), 1);
  EXPECT_EQ(p.report_published().documents(0).SerializeAsString(), d->SerializeAsString());
}

TEST(Jobs, InlineAssemblySlotsAreBoundedAndGivenBack) {
  AssemblySlots slots(2);
  auto a = slots.TryAcquire();
  auto b = slots.TryAcquire();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(slots.TryAcquire().has_value());  // Both taken: the queue's.
  a.reset();
  {
    auto c = slots.TryAcquire();
    ASSERT_TRUE(c.has_value());
    // Moved, the slot is given back once: by the new holder, not by both.
    std::optional<AssemblySlots::Slot> moved(std::move(c));
    EXPECT_FALSE(slots.TryAcquire().has_value());
  }
  EXPECT_TRUE(slots.TryAcquire().has_value());
  auto again = slots.TryAcquire();
  EXPECT_TRUE(again.has_value());
  EXPECT_FALSE(slots.TryAcquire().has_value());
  AssemblySlots none(0);
  EXPECT_FALSE(none.TryAcquire().has_value());
}

TEST(Jobs, OnlyTheNewestJobOfADraftRuns) {
  pb::Report r = Draft();
  EXPECT_EQ(ClassifyJob(r, 1), JobVerdict::kRun);
  AssembleJob second = StartAssembly(r, "drafter", 101);
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(ClassifyJob(r, 1), JobVerdict::kSuperseded);
  EXPECT_EQ(ClassifyJob(r, 2), JobVerdict::kRun);
  pb::Revision rev = RevisionWith({Figure("a", 1)}, {});
  ApplyRevision(r, rev, 2, 102);
  EXPECT_FALSE(r.assembling());
  EXPECT_EQ(ClassifyJob(r, 2), JobVerdict::kApplied);
  EXPECT_EQ(ClassifyJob(r, 1), JobVerdict::kApplied);
  StartAssembly(r, "drafter", 103);
  r.set_state(pb::REPORT_STATE_IN_REVIEW);
  EXPECT_EQ(ClassifyJob(r, 3), JobVerdict::kWrongState);
}

TEST(States, DraftEditsAndTheirRefusals) {
  pb::Report r = Draft();
  int64_t v = r.version();
  EXPECT_TRUE(CheckCanChangeDraft(r, false, "x").ok());
  r.set_state(pb::REPORT_STATE_IN_REVIEW);
  EXPECT_EQ(CheckCanChangeDraft(r, false, "x").code(), absl::StatusCode::kFailedPrecondition);
  r.set_state(pb::REPORT_STATE_APPROVED);
  EXPECT_EQ(CheckCanChangeDraft(r, true, "x").code(), absl::StatusCode::kFailedPrecondition);
  r.set_state(pb::REPORT_STATE_PUBLISHED);
  auto frozen = CheckCanChangeDraft(r, false, "reassemble");
  EXPECT_EQ(frozen.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(frozen.message(), "correction")) << frozen;
  EXPECT_TRUE(CheckCanChangeDraft(r, true, "x").ok());
  r.set_state(pb::REPORT_STATE_FAILED);
  EXPECT_TRUE(CheckCanChangeDraft(r, false, "x").ok());
  StartAssembly(r, "d", 200);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_DRAFT);
  EXPECT_TRUE(r.assembling());
  EXPECT_GT(r.version(), v);
}

TEST(States, SubmitNeedsAFinishedCurrentRevision) {
  pb::Report r = Draft();
  EXPECT_EQ(CheckCanSubmit(r, 0).status().code(), absl::StatusCode::kFailedPrecondition);
  ApplyRevision(r, RevisionWith({}, {}), 1, 101);
  auto n = CheckCanSubmit(r, 0);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(CheckCanSubmit(r, 2).status().code(), absl::StatusCode::kFailedPrecondition);
  MarkInReview(r, 1, {"x"}, 102);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_IN_REVIEW);
  EXPECT_EQ(CheckCanSubmit(r, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  SetApproval(r, "orgs/kjj/approvals/a1", 103);
  ReturnToDraft(r, "rejected", "director", "数字有误", 104);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_DRAFT);
  EXPECT_EQ(r.last_comment(), "数字有误");
  EXPECT_EQ(r.last_decision_by(), "director");
  MarkInReview(r, 1, {}, 105);
  EXPECT_TRUE(r.last_comment().empty());
  Numbering numbering{"某科党〔2024〕1号", "orgs/kjj/documentNumbers/1", {}};
  numbering.settings.set_code("某科党");
  MarkApproved(r, {"orgs/kjj/approvals/a2", "secretary", 1704038400, {"张三", "李四"}}, numbering,
               106);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_APPROVED);
  EXPECT_EQ(r.issue_date(), "2024年1月1日");
  EXPECT_EQ(r.document_number(), "某科党〔2024〕1号");
  EXPECT_EQ(r.document_number_name(), "orgs/kjj/documentNumbers/1");
  EXPECT_EQ(r.document_settings().code(), "某科党");
  EXPECT_EQ(std::vector<std::string>(r.signer_names().begin(), r.signer_names().end()),
            (std::vector<std::string>{"张三", "李四"}));
  pb::Revision pub = RevisionWith({}, {});
  pub.set_digest("abc");
  pub.add_documents()->set_format(typepb::DOCUMENT_FORMAT_TXT);
  MarkPublished(r, pub, 107);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_PUBLISHED);
  EXPECT_EQ(r.digest(), "abc");
  EXPECT_EQ(r.published_revision(), 1);
  MarkFailed(r, "boom", 108);
  EXPECT_EQ(r.state(), pb::REPORT_STATE_FAILED);
  EXPECT_EQ(CheckCanSubmit(r, 0).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Gaps, MissingNamesSplitIntoFiguresAndTheRest) {
  pb::Revision rev = RevisionWith(
      {Figure("a", 1), Figure("b", 0, true, "谈心谈话")},
      {"ind.b", "ind.b.cn", "narrative.problems", "issue.date", "issue.date_cn", "ind.c.wan"});
  EXPECT_EQ(std::vector<std::string>(rev.missing().begin(), rev.missing().end()),
            (std::vector<std::string>{"ind.b", "ind.b.cn", "narrative.problems", "ind.c.wan"}));
  EXPECT_EQ(std::vector<std::string>(rev.missing_figures().begin(), rev.missing_figures().end()),
            (std::vector<std::string>{"b", "c"}));

  std::vector<std::string> ok;
  absl::Status refused = CheckGaps(rev, {}, &ok);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "b (谈心谈话)")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "c")) << refused;
  EXPECT_EQ(CheckGaps(rev, {"b"}, &ok).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckGaps(rev, {"b", "zz"}, &ok).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(CheckGaps(rev, {"ind.b", "c"}, &ok).ok());
  EXPECT_EQ(ok, (std::vector<std::string>{"b", "c"}));
  pb::Revision full = RevisionWith({Figure("a", 1)}, {"narrative.problems"});
  EXPECT_TRUE(CheckGaps(full, {}, &ok).ok());
}

TEST(Diffs, StalenessNamesChangedFiguresOnly) {
  pb::Revision rev = RevisionWith({Figure("a", 1), Figure("b", 2), Figure("c", 0, true)}, {});
  rev.set_data_version(10);
  rev.mutable_org()->set_short_name("市科技局");
  rpb::GetIndicatorValuesResponse now;
  *now.add_values() = Figure("a", 1);
  *now.add_values() = Figure("b", 2);
  *now.add_values() = Figure("c", 0, true);
  now.set_data_version(12);
  rpb::Org org = rev.org();
  // Another period's write moved the data version; nothing here changed.
  pb::Staleness s = CompareWithCurrent(rev, now, org);
  EXPECT_TRUE(s.checked());
  EXPECT_FALSE(s.stale());
  EXPECT_EQ(s.current_data_version(), 12);

  *now.mutable_values(1) = Figure("b", 3);
  *now.mutable_values(2) = Figure("c", 4);
  (*org.mutable_facts())["case_lessons"] = "某案";
  s = CompareWithCurrent(rev, now, org);
  EXPECT_TRUE(s.stale());
  ASSERT_EQ(s.changed_figures_size(), 2);
  EXPECT_EQ(s.changed_figures(0).key(), "b");
  EXPECT_EQ(s.changed_figures(0).from_value(), 2);
  EXPECT_EQ(s.changed_figures(0).to_value(), 3);
  EXPECT_TRUE(s.changed_figures(1).from_missing());
  EXPECT_FALSE(s.changed_figures(1).to_missing());
  EXPECT_EQ(std::vector<std::string>(s.changed_org_fields().begin(), s.changed_org_fields().end()),
            std::vector<std::string>{"facts.case_lessons"});
  std::string why = DescribeStaleness(s, 1);
  EXPECT_TRUE(absl::StrContains(why, "b (b-label): 2次 → 3次")) << why;
  EXPECT_TRUE(absl::StrContains(why, "no data → 4次")) << why;
  EXPECT_TRUE(absl::StrContains(why, "Reassemble")) << why;
}

TEST(Diffs, RevisionsDiffFiguresNarrativeAndGaps) {
  pb::Revision a = RevisionWith({Figure("x", 1), Figure("y", 0, true)}, {"ind.y"});
  pb::Revision b = RevisionWith({Figure("x", 2), Figure("y", 5)}, {});
  b.set_name("orgs/kjj/reports/r1/revisions/2");
  (*a.mutable_narrative())["problems"] = "旧";
  (*a.mutable_narrative())["gone"] = "删";
  (*b.mutable_narrative())["problems"] = "新";
  (*b.mutable_narrative())["next_steps"] = "加";
  a.set_text("t1");
  b.set_text("t2");
  pb::DiffRevisionsResponse d = DiffRevisions(a, b);
  ASSERT_EQ(d.figures_size(), 2);
  EXPECT_EQ(d.figures(0).key(), "x");
  EXPECT_EQ(d.figures(1).key(), "y");
  ASSERT_EQ(d.narrative_size(), 3);
  EXPECT_EQ(d.narrative(0).slot(), "gone");
  EXPECT_EQ(d.narrative(0).change(), "removed");
  EXPECT_EQ(d.narrative(1).slot(), "next_steps");
  EXPECT_EQ(d.narrative(1).change(), "added");
  EXPECT_EQ(d.narrative(2).change(), "modified");
  EXPECT_EQ(d.narrative(2).to_text(), "新");
  EXPECT_TRUE(d.text_changed());
  EXPECT_FALSE(d.template_changed());
  EXPECT_EQ(std::vector<std::string>(d.gaps_filled().begin(), d.gaps_filled().end()),
            std::vector<std::string>{"y"});
  EXPECT_EQ(DiffRevisions(a, a).figures_size(), 0);
}

TEST(Narrative, TemplateSyntaxIsAllowedControlCharactersAreNot) {
  google::protobuf::Map<std::string, std::string> n;
  n["problems"] = "存在{{org.name}}与{{{x}}}问题\n\t第二行";
  EXPECT_TRUE(ValidateNarrative(n, {"problems", "next_steps"}, "narrative").ok());
  n["unknown"] = "x";
  auto st = ValidateNarrative(n, {"problems", "next_steps"}, "narrative");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "narrative[unknown]")) << st;
  n.erase("unknown");
  n["problems"] = std::string("a\x01", 2);
  EXPECT_EQ(ValidateNarrative(n, {}, "narrative").code(), absl::StatusCode::kInvalidArgument);
  n["problems"] = std::string(kMaxNarrativeBytes + 1, 'a');
  EXPECT_EQ(ValidateNarrative(n, {}, "narrative").code(), absl::StatusCode::kInvalidArgument);
}

TEST(Documents, IssueDateIsChinaStandardTime) {
  // 2023-12-31T16:30:00Z is 2024-01-01 00:30 in Beijing.
  absl::CivilDay d = IssueDateOf(1704040200);
  EXPECT_EQ(d, absl::CivilDay(2024, 1, 1));
  EXPECT_EQ(FormatDateGb(d), "2024年1月1日");
  // 2023-05-08T15:59:59Z is still 5月8日 23:59:59 in Beijing.
  EXPECT_EQ(FormatDateGb(IssueDateOf(1683561599)), "2023年5月8日");
}

TEST(Documents, ManifestDigestIsOrderIndependentAndCoversEveryDocument) {
  google::protobuf::RepeatedPtrField<pb::RenderedDocument> docs;
  auto add = [&](typepb::DocumentFormat f, const std::string& bytes) {
    pb::RenderedDocument* d = docs.Add();
    d->set_format(f);
    d->set_sha256(Sha256Hex(bytes));
  };
  add(typepb::DOCUMENT_FORMAT_DOCX, "docx");
  add(typepb::DOCUMENT_FORMAT_TXT, "txt");
  std::string digest = ManifestDigest(docs);
  EXPECT_EQ(digest, Sha256Hex("TXT " + Sha256Hex("txt") + "\nDOCX " + Sha256Hex("docx") + "\n"));
  docs.SwapElements(0, 1);
  EXPECT_EQ(ManifestDigest(docs), digest);
  docs.Mutable(0)->set_sha256(Sha256Hex("changed"));
  EXPECT_NE(ManifestDigest(docs), digest);
}

TEST(Documents, RenderRequestUsesTheSnapshotAndPinnedTemplate) {
  pb::Revision rev = RevisionWith({Figure("a", 7), Figure("b", 0, true)}, {});
  rev.set_template_("orgs/kjj/templates/annual");
  rev.set_template_revision(3);
  rev.set_title("标题");
  rev.mutable_org()->set_display_name("中共某市科学技术局党组");
  (*rev.mutable_narrative())["problems"] = "{{x}}";
  tpb::RenderRequest r =
      RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_DOCX, absl::CivilDay(2024, 1, 5), 1704400000);
  EXPECT_EQ(r.parent(), "orgs/kjj");
  EXPECT_EQ(r.template_(), "orgs/kjj/templates/annual@3");
  EXPECT_EQ(r.format(), typepb::DOCUMENT_FORMAT_DOCX);
  EXPECT_EQ(r.document_time().seconds(), 1704400000);
  EXPECT_EQ(r.author(), "中共某市科学技术局党组");
  const auto& f = r.context().fields();
  EXPECT_EQ(f.at("narrative").map().fields().at("problems").text(), "{{x}}");
  EXPECT_TRUE(f.at("ind").map().fields().contains("a"));
  EXPECT_FALSE(f.at("ind").map().fields().contains("b"));
  EXPECT_EQ(f.at("issue").map().fields().at("date").date().day(), 5);
  EXPECT_FALSE(RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_TXT, std::nullopt, 0)
                   .context()
                   .fields()
                   .contains("issue"));
}

// The frame comes from the revision's snapshot of the settings at sign-off,
// never from settings read later; no code: no frame (the text alone).
TEST(Documents, FrameFromTheSnapshotOfTheSettings) {
  pb::Revision rev = RevisionWith({Figure("a", 7)}, {});
  EXPECT_FALSE(RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_TXT, absl::CivilDay(2024, 1, 5), 0)
                   .has_frame());
  pb::DocumentSettings* s = rev.mutable_document_settings();
  s->set_issuing_mark("中共某市科学技术局党组");
  s->set_code("某科党");
  s->set_main_recipients("市委");
  s->set_copy_to("市纪委监委，市委组织部");
  s->set_printing_org("中共某市科学技术局党组办公室");
  s->set_upward(true);
  s->set_note("此件公开发布");
  s->set_secrecy("秘密★1年");
  s->set_urgency("加急");
  s->set_sealed(true);
  rev.set_document_number("某科党〔2024〕3号");
  rev.add_signer_names("张三");
  rev.add_signer_names("李四");
  tpb::RenderRequest r =
      RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_DOCX, absl::CivilDay(2024, 1, 5), 1704400000);
  ASSERT_TRUE(r.has_frame());
  const tpb::DocumentFrame& f = r.frame();
  EXPECT_EQ(f.issuing_mark(), "中共某市科学技术局党组");
  EXPECT_EQ(f.document_number(), "某科党〔2024〕3号");
  EXPECT_TRUE(f.upward());
  EXPECT_EQ(std::vector<std::string>(f.signers().begin(), f.signers().end()),
            (std::vector<std::string>{"张三", "李四"}));
  EXPECT_EQ(f.main_recipients(), "市委");
  EXPECT_EQ(f.note(), "此件公开发布");
  EXPECT_EQ(f.copy_to(), "市纪委监委，市委组织部");
  EXPECT_EQ(f.printing_org(), "中共某市科学技术局党组办公室");
  EXPECT_EQ(f.printing_date(), "2024年1月5日");
  EXPECT_TRUE(f.sealed());
  EXPECT_EQ(f.secrecy(), "秘密★1年");
  EXPECT_EQ(f.urgency(), "加急");
  EXPECT_TRUE(f.copy_number().empty());
  // The seal image goes with the frame only while the settings say sealed.
  EXPECT_TRUE(f.seal_image().empty());
  s->set_seal_image("PNG bytes");
  EXPECT_EQ(RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_PDF, absl::CivilDay(2024, 1, 5), 0)
                .frame()
                .seal_image(),
            "PNG bytes");
  s->set_sealed(false);
  EXPECT_TRUE(RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_PDF, absl::CivilDay(2024, 1, 5), 0)
                  .frame()
                  .seal_image()
                  .empty());
  s->set_sealed(true);
  s->clear_seal_image();
  // The same revision gives the same frame, byte for byte.
  EXPECT_EQ(f.SerializeAsString(), RenderRequestFor(rev, typepb::DOCUMENT_FORMAT_DOCX,
                                                    absl::CivilDay(2024, 1, 5), 1704400000)
                                       .frame()
                                       .SerializeAsString());
  // A draft: the 版头 with an empty 文号 slot, no 签发人, no 印发日期.
  pb::Revision draft = rev;
  draft.clear_document_number();
  draft.clear_signer_names();
  tpb::RenderRequest d = RenderRequestFor(draft, typepb::DOCUMENT_FORMAT_TXT, std::nullopt, 0);
  ASSERT_TRUE(d.has_frame());
  EXPECT_TRUE(d.frame().document_number().empty());
  EXPECT_TRUE(d.frame().signers().empty());
  EXPECT_TRUE(d.frame().printing_date().empty());
  EXPECT_EQ(d.frame().issuing_mark(), "中共某市科学技术局党组");
}

TEST(Documents, NumbersAndSignerNames) {
  EXPECT_EQ(FormatDocumentNumber("某科党", 2024, 3), "某科党〔2024〕3号");
  EXPECT_EQ(FormatDocumentNumber("京政办发", 2025, 12), "京政办发〔2025〕12号");
  EXPECT_EQ(SignerNamesOf(R"(["张三","李四, 副局长"])", "a,b", "a"),
            (std::vector<std::string>{"张三", "李四, 副局长"}));
  // Events from before signer_names: the subjects, else the signer.
  EXPECT_EQ(SignerNamesOf("", "a,b", "a"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SignerNamesOf("not json", "", "sec"), std::vector<std::string>{"sec"});
  EXPECT_TRUE(SignerNamesOf("", "", "").empty());
  auto n = ParseDocumentNumberName("orgs/kjj/documentNumbers/12");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->id, 12);
  EXPECT_EQ(n->Name(), "orgs/kjj/documentNumbers/12");
  for (const char* bad : {"orgs/kjj/documentNumbers/0", "orgs/kjj/documentNumbers/012",
                          "orgs/kjj/documentNumbers/x", "orgs/kjj/reports/1"}) {
    EXPECT_EQ(ParseDocumentNumberName(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(*ParseDocumentSettingsName("orgs/kjj/documentSettings"), "kjj");
}

TEST(Errors, PermanentVersusRetryable) {
  EXPECT_TRUE(IsPermanent(absl::InvalidArgumentError("")));
  EXPECT_TRUE(IsPermanent(absl::NotFoundError("")));
  EXPECT_TRUE(IsPermanent(absl::UnauthenticatedError("")));
  EXPECT_FALSE(IsPermanent(absl::UnavailableError("")));
  EXPECT_FALSE(IsPermanent(absl::DeadlineExceededError("")));
  EXPECT_FALSE(IsPermanent(absl::AbortedError("")));
}

TEST(Text, TitleIsTheFirstNonBlankLine) {
  EXPECT_EQ(TitleFromText("\n  \n\xE3\x80\x80市科技局党组工作报告 \n正文"), "市科技局党组工作报告");
  EXPECT_EQ(TitleFromText(""), "");
}

}  // namespace
}  // namespace govreport::assembler

namespace govreport::assembler {
namespace {

// Separation of duties: every writer of a section counts, a removed
// section's writers no longer do, and the count of authors is bounded.
TEST(NarrativeAuthors, EveryWriterOfTheSubmittedNarrativeIsExcluded) {
  pb::Report r;
  ASSERT_TRUE(RecordNarrativeAuthor(r, "problems", false, "director").ok());
  ASSERT_TRUE(RecordNarrativeAuthor(r, "problems", false, "drafter").ok());
  ASSERT_TRUE(RecordNarrativeAuthor(r, "problems", false, "director").ok());
  ASSERT_TRUE(RecordNarrativeAuthor(r, "next_steps", false, "writer").ok());
  EXPECT_EQ(r.narrative_authors().at("problems").users_size(), 2);
  EXPECT_EQ(NarrativeAuthorsOf(r.narrative_authors()),
            (std::vector<std::string>{"director", "drafter", "writer"}));
  ASSERT_TRUE(RecordNarrativeAuthor(r, "next_steps", true, "drafter").ok());
  EXPECT_EQ(NarrativeAuthorsOf(r.narrative_authors()),
            (std::vector<std::string>{"director", "drafter"}));

  pb::Revision rev;
  *rev.mutable_narrative_authors() = r.narrative_authors();
  (*rev.mutable_narrative())["problems"] = "x";
  // Text from before authors were recorded answers to the creator.
  (*rev.mutable_narrative())["legacy"] = "y";
  EXPECT_EQ(ExcludedApprovers(rev, "creator"),
            (std::vector<std::string>{"creator", "director", "drafter"}));

  pb::Report many;
  for (size_t i = 0; i < kMaxNarrativeAuthors; ++i) {
    ASSERT_TRUE(RecordNarrativeAuthor(many, "problems", false, absl::StrCat("u", i)).ok());
  }
  EXPECT_EQ(RecordNarrativeAuthor(many, "next_steps", false, "one-more").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(RecordNarrativeAuthor(many, "next_steps", false, "u3").ok());
}

TEST(WorkflowBinding, UnboundTemplatesAndOtherWorkflowsAreRefused) {
  EXPECT_EQ(
      CheckBoundWorkflow(nullptr, "kjj", "orgs/kjj/templates/annual@2", "orgs/kjj/workflows/annual")
          .code(),
      absl::StatusCode::kFailedPrecondition);
  pb::TemplateWorkflows b;
  b.set_template_("orgs/kjj/templates/annual");
  EXPECT_EQ(
      CheckBoundWorkflow(&b, "kjj", "orgs/kjj/templates/annual", "orgs/kjj/workflows/a").code(),
      absl::StatusCode::kFailedPrecondition);
  b.add_workflows("orgs/kjj/workflows/annual");
  absl::Status s =
      CheckBoundWorkflow(&b, "kjj", "orgs/kjj/templates/annual", "orgs/kjj/workflows/quick");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "orgs/kjj/workflows/annual")) << s.message();
  EXPECT_TRUE(
      CheckBoundWorkflow(&b, "kjj", "orgs/kjj/templates/annual@3", "orgs/kjj/workflows/annual")
          .ok());
  EXPECT_EQ(TemplateBase("templates/base@4"), "templates/base");
  EXPECT_EQ(TemplateBase("templates/base"), "templates/base");
}

}  // namespace
}  // namespace govreport::assembler
