// The assembler through gRPC with the real records, templates and approval
// services in-process, real tokens and a real redis-server: assembly,
// redelivery, staleness, submit refusals, approval → publication, rejection,
// stray events, narrative as data, tenant isolation and bad input.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "assembler/domain.h"
#include "assembler/signing_keys.h"
#include "assembler/store.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/events.h"
#include "common/numerals.h"
#include "common/signing.h"
#include "common/status.h"
#include "common/streams.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "gtest/gtest.h"
#include "markup_checks.h"
#include "templates/layout/ofd_reader.h"
#include "templates/layout/ofd_seal.h"
#include "templates/layout/ofd_sign.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {
namespace {

namespace apb = ::govreport::approval::v1;
namespace typepb = ::govreport::type::v1;
using grpc::StatusCode;
using testing::Stack;
using testing::StackOptions;

constexpr char kWorkflow[] = "orgs/kjj/workflows/annual";
constexpr char kTemplate[] = "orgs/kjj/templates/annual";
constexpr char kGap[] = "warning_film_screenings";

// The stream of org kjj (common/streams.h: gr:{kjj}:q:assemble ...).
std::string Kjj(absl::string_view global) { return streams::OrgStreamKey(global, "kjj"); }

std::vector<std::map<std::string, std::string>> ReadStream(redis::Client& redis,
                                                           const std::string& stream) {
  std::vector<std::map<std::string, std::string>> out;
  auto r = redis.Command({"XRANGE", stream, "-", "+"});
  if (!r.ok()) return out;
  for (size_t i = 0; i < r->Size(); ++i) {
    std::map<std::string, std::string> e;
    e["_id"] = (*r)[i][0].AsString();
    redis::ReplyView kv = (*r)[i][1];
    for (size_t j = 0; j + 1 < kv.Size(); j += 2) e[kv[j].AsString()] = kv[j + 1].AsString();
    out.push_back(std::move(e));
  }
  return out;
}

// The org's event log (gr:{org}:events), each entry's `e` parsed.
std::vector<events::v1::Event> OrgEvents(redis::Client& redis, const std::string& org) {
  std::vector<events::v1::Event> out;
  auto r = redis.Command({"XRANGE", events::StreamKey(org), "-", "+"});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  for (size_t i = 0; i < r->Size(); ++i) {
    redis::ReplyView kv = (*r)[i][1];
    events::v1::Event e;
    for (size_t j = 0; j + 1 < kv.Size(); j += 2) {
      if (kv[j].Str() == events::kEventField) {
        EXPECT_TRUE(e.ParseFromString(kv[j + 1].AsString()));
      }
    }
    e.set_cursor((*r)[i][0].AsString());
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<events::v1::Event> OfKind(const std::vector<events::v1::Event>& log,
                                      events::v1::EventKind kind) {
  std::vector<events::v1::Event> out;
  for (const auto& e : log) {
    if (e.kind() == kind) out.push_back(e);
  }
  return out;
}

class AssemblerTest : public ::testing::Test {
 protected:
  virtual StackOptions Options() { return {}; }

  void SetUp() override {
    auto s = Stack::Start(Options());
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    auto t = stack_->SetUpOrg("kjj");
    ASSERT_TRUE(t.ok()) << t.status();
    kjj_ = *t;
    ASSERT_TRUE(stack_->AddBaseYear("kjj").ok());
  }

  grpc::Status CreateReport(const std::string& token, const std::string& id, v1::Report* out,
                            const std::string& request_id = "", const std::string& period = "2023",
                            const std::string& tmpl = kTemplate,
                            const std::string& workflow = kWorkflow,
                            const std::string& parent = "orgs/kjj") {
    v1::CreateReportRequest req;
    req.set_parent(parent);
    req.set_report_id(id);
    req.set_period(period);
    req.set_template_(tmpl);
    req.set_workflow(workflow);
    req.set_request_id(request_id);
    return stack_->reports().CreateReport(Stack::Ctx(token).get(), req, out);
  }

  // Creates orgs/kjj/reports/{id} and waits for its first revision.
  v1::Report Ready(const std::string& id) {
    v1::Report r;
    grpc::Status st = CreateReport(kjj_.drafter, id, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return WaitRevision(r.name(), 1);
  }

  v1::Report WaitRevision(const std::string& name, int64_t n) {
    auto r = stack_->WaitFor(kjj_.drafter, name, [n](const v1::Report& report) {
      return report.current_revision() >= n && !report.assembling();
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Report();
  }

  v1::Report WaitState(const std::string& name, v1::ReportState state) {
    auto r = stack_->WaitFor(kjj_.drafter, name,
                             [state](const v1::Report& report) { return report.state() == state; });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Report();
  }

  v1::Revision Revision(const std::string& name, int64_t n, const std::string& token = "") {
    v1::GetRevisionRequest req;
    req.set_name(absl::StrCat(name, "/revisions/", n));
    v1::Revision out;
    grpc::Status st = stack_->reports().GetRevision(
        Stack::Ctx(token.empty() ? kjj_.drafter : token).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  grpc::Status Submit(const v1::Report& r, const std::vector<std::string>& gaps, v1::Report* out) {
    v1::SubmitReportRequest req;
    req.set_name(r.name());
    req.set_revision(r.current_revision());
    for (auto& g : gaps) req.add_accepted_gaps(g);
    req.set_comment("请审核");
    return stack_->reports().SubmitReport(Stack::Ctx(kjj_.drafter).get(), req, out);
  }

  v1::Report GetWithStaleness(const std::string& name) {
    v1::GetReportRequest req;
    req.set_name(name);
    v1::Report out;
    grpc::Status st = stack_->reports().GetReport(Stack::Ctx(kjj_.drafter).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  grpc::Status Decide(const std::string& token, const std::string& approval, bool approve,
                      const std::string& comment = "") {
    apb::GetApprovalRequest get;
    get.set_name(approval);
    apb::Approval a;
    grpc::Status st = stack_->approvals().GetApproval(Stack::Ctx(token).get(), get, &a);
    if (!st.ok()) return st;
    if (approve) {
      apb::ApproveRequest req;
      req.set_name(approval);
      req.set_expected_version(a.version());
      req.set_comment(comment);
      return stack_->approvals().Approve(Stack::Ctx(token).get(), req, &a);
    }
    apb::RejectRequest req;
    req.set_name(approval);
    req.set_expected_version(a.version());
    req.set_comment(comment);
    return stack_->approvals().Reject(Stack::Ctx(token).get(), req, &a);
  }

  grpc::Status UpdateNarrative(const std::string& name,
                               const std::map<std::string, std::string>& narrative, v1::Report* out,
                               bool correction = false, int64_t expected_version = 0) {
    v1::UpdateNarrativeRequest req;
    req.set_name(name);
    for (auto& [k, v] : narrative) (*req.mutable_narrative())[k] = v;
    req.set_correction(correction);
    req.set_expected_version(expected_version);
    return stack_->reports().UpdateNarrative(Stack::Ctx(kjj_.drafter).get(), req, out);
  }

  // Submits, then has the director and the secretary approve: PUBLISHED.
  v1::Report Publish(const std::string& id) {
    v1::Report r = Ready(id);
    v1::Report submitted;
    grpc::Status st = Submit(r, {kGap}, &submitted);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
    st = Decide(kjj_.secretary, submitted.approval(), true, "同意");
    EXPECT_TRUE(st.ok()) << st.error_message();
    return WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  }

  // Waits until the workers have taken every approval event and none is
  // pending (handled, acknowledged or dead-lettered).
  void WaitEventsHandled() {
    absl::Time until = absl::Now() + absl::Seconds(20);
    while (absl::Now() < until) {
      auto p = stack_->redis().Command({"XPENDING", Kjj(kApprovalEvents), "assembler"});
      auto info = stack_->redis().Command({"XINFO", "GROUPS", Kjj(kApprovalEvents)});
      if (!p.ok() || !info.ok() || info->Size() == 0) {
        // The workers make the group when they first see the org's stream.
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
      int64_t lag = -1;
      for (size_t i = 0; i + 1 < (*info)[0].Size(); i += 2) {
        if ((*info)[0][i].Str() == "lag") lag = (*info)[0][i + 1].Int();
      }
      if ((*p)[0].Int() == 0 && lag == 0) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "approval events still pending";
  }

  // Starts an approval directly at the approval service, as any drafter
  // can, bypassing the assembler.
  grpc::Status StartDirectly(const std::string& token, const std::string& subject,
                             const std::string& workflow, apb::Approval* out) {
    apb::StartApprovalRequest req;
    req.set_parent("orgs/kjj");
    req.set_workflow(workflow);
    req.set_subject(subject);
    req.set_title("直接发起");
    return stack_->approvals().StartApproval(Stack::Ctx(token).get(), req, out);
  }

  grpc::Status Bind(const std::string& token, const std::string& tmpl,
                    const std::vector<std::string>& workflows, v1::TemplateWorkflows* out) {
    v1::SetTemplateWorkflowsRequest req;
    req.set_parent("orgs/kjj");
    req.set_template_(tmpl);
    for (auto& w : workflows) req.add_workflows(w);
    return stack_->reports().SetTemplateWorkflows(Stack::Ctx(token).get(), req, out);
  }

  // A one-step workflow (only the sign-off), as an org might keep for
  // routine notices.
  std::string QuickWorkflow() {
    apb::CreateWorkflowRequest wr;
    wr.set_parent("orgs/kjj");
    wr.set_workflow_id("quick");
    apb::Workflow* wf = wr.mutable_workflow();
    wf->set_display_name("简易审批");
    apb::Step* sign = wf->add_steps();
    sign->set_name("sign");
    sign->set_kind(apb::STEP_KIND_SIGN_OFF);
    sign->add_users("kjj-secretary");
    apb::Workflow out;
    grpc::Status st = stack_->approvals().CreateWorkflow(Stack::Ctx(kjj_.admin).get(), wr, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out.name();
  }

  // Every format of the published revision `rev` of `pub`: final, with
  // its digest, and together the revision's digest. The bytes by format
  // into `bytes`.
  void ExpectFinalDocuments(const v1::Revision& rev, const v1::Report& pub,
                            std::map<typepb::DocumentFormat, std::string>* bytes) {
    google::protobuf::RepeatedPtrField<v1::RenderedDocument> seen;
    for (typepb::DocumentFormat f : AllFormats()) {
      v1::GetDocumentRequest dr;
      dr.set_name(rev.name());
      dr.set_format(f);
      v1::Document doc;
      grpc::Status st = stack_->reports().GetDocument(Stack::Ctx(kjj_.auditor).get(), dr, &doc);
      ASSERT_TRUE(st.ok()) << st.error_message();
      EXPECT_TRUE(doc.final());
      EXPECT_FALSE(doc.content().empty());
      EXPECT_EQ(doc.sha256(), Sha256Hex(doc.content())) << FormatName(f);
      EXPECT_EQ(doc.revision_digest(), pub.digest());
      v1::RenderedDocument* d = seen.Add();
      d->set_format(f);
      d->set_sha256(Sha256Hex(doc.content()));
      (*bytes)[f] = doc.content();
    }
    EXPECT_EQ(ManifestDigest(seen), pub.digest());
  }

  // The approval event that published `r` (as `pub`), delivered again.
  void ExpectRedeliveredApprovalChangesNothing(const v1::Report& r, const v1::Report& pub) {
    auto events = ReadStream(stack_->redis(), Kjj(kApprovalEvents));
    streams::Entry again;
    again.id = "redelivered";
    for (const auto& e : events) {
      if (e.at("type") != "approved") continue;
      for (const auto& [k, v] : e) {
        if (k != "_id") again.fields.emplace_back(k, v);
      }
    }
    ASSERT_FALSE(again.fields.empty());
    EXPECT_EQ(stack_->workers().HandleApprovalEvent(again).outcome, streams::Outcome::kDone);
    EXPECT_EQ(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).size(), 1u);
    EXPECT_EQ(Revision(r.name(), 1).digest(), pub.digest());
  }

  std::unique_ptr<Stack> stack_;
  testing::OrgTokens kjj_;
};

TEST_F(AssemblerTest, CreateAssemblesADraftRevisionWithItsSnapshot) {
  v1::Report created;
  grpc::Status st = CreateReport(kjj_.drafter, "annual-2023", &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(created.name(), "orgs/kjj/reports/annual-2023");
  EXPECT_EQ(created.state(), v1::REPORT_STATE_DRAFT);
  // A worker slot was free: CreateReport made revision 1 itself, committed
  // with the report, and queued no job.
  EXPECT_FALSE(created.assembling());
  EXPECT_EQ(created.current_revision(), 1);
  EXPECT_EQ(created.applied_job(), 1);
  EXPECT_TRUE(ReadStream(stack_->redis(), Kjj(kAssembleQueue)).empty());
  EXPECT_EQ(created.created_by(), "kjj-drafter");
  ASSERT_TRUE(created.has_create_time());
  EXPECT_GT(created.create_time().seconds(), 0);
  EXPECT_FALSE(created.has_sign_off_time());  // Unset until signed, not 1970.

  v1::Report ready = WaitRevision(created.name(), 1);
  EXPECT_EQ(ready.state(), v1::REPORT_STATE_DRAFT);
  // The instants stored at creation read back as they were written.
  EXPECT_EQ(ready.create_time().seconds(), created.create_time().seconds());
  EXPECT_GE(ready.update_time().seconds(), ready.create_time().seconds());
  EXPECT_EQ(ready.current_revision(), 1);
  EXPECT_EQ(
      std::vector<std::string>(ready.missing_figures().begin(), ready.missing_figures().end()),
      std::vector<std::string>{kGap});

  v1::Revision rev = Revision(created.name(), 1);
  EXPECT_EQ(rev.name(), "orgs/kjj/reports/annual-2023/revisions/1");
  EXPECT_EQ(rev.period(), "2023");
  EXPECT_EQ(rev.first_day(), "2023-01-01");
  EXPECT_GE(rev.create_time().seconds(), created.create_time().seconds());
  EXPECT_FALSE(rev.has_publish_time());
  EXPECT_GT(rev.data_version(), 0);
  EXPECT_EQ(rev.template_revision(), 1);
  EXPECT_EQ(rev.org().short_name(), "市kjj局");
  EXPECT_GT(rev.figures_size(), 40);  // Every indicator of the catalogue.
  EXPECT_TRUE(absl::StrContains(rev.text(), "市kjj局党组2023年度落实全面从严治党责任工作报告"))
      << rev.text();
  EXPECT_TRUE(absl::StrContains(rev.text(), "谈心谈话12人次")) << rev.text();
  EXPECT_EQ(rev.title(), "市kjj局党组2023年度落实全面从严治党责任工作报告");
  // issue.date is filled at sign-off, so it is not a gap of the draft.
  for (const auto& m : rev.missing()) EXPECT_FALSE(absl::StartsWith(m, "issue")) << m;
  EXPECT_TRUE(std::find(rev.missing().begin(), rev.missing().end(), "narrative.problems") !=
              rev.missing().end());
  EXPECT_FALSE(rev.frozen());

  // The draft preview renders from the snapshot.
  v1::GetDocumentRequest dr;
  dr.set_name(rev.name());
  dr.set_format(typepb::DOCUMENT_FORMAT_TXT);
  v1::Document doc;
  st = stack_->reports().GetDocument(Stack::Ctx(kjj_.auditor).get(), dr, &doc);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(doc.final());
  EXPECT_EQ(doc.content(), rev.text());
  EXPECT_EQ(doc.sha256(), Sha256Hex(doc.content()));

  v1::ListReportsRequest lr;
  lr.set_parent("orgs/kjj");
  v1::ListReportsResponse list;
  ASSERT_TRUE(stack_->reports().ListReports(Stack::Ctx(kjj_.director).get(), lr, &list).ok());
  ASSERT_EQ(list.reports_size(), 1);
  EXPECT_EQ(list.reports(0).name(), created.name());
  EXPECT_EQ(list.reports(0).create_time().seconds(), created.create_time().seconds());
}

TEST_F(AssemblerTest, RepeatedRequestIdReturnsTheFirstReport) {
  v1::Report a, b;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "", &a, "req-create-1").ok());
  ASSERT_TRUE(CreateReport(kjj_.drafter, "", &b, "req-create-1").ok());
  EXPECT_EQ(a.name(), b.name());
  v1::Report c;
  EXPECT_EQ(CreateReport(kjj_.drafter, "annual-x", &c).error_code(), StatusCode::OK);
  EXPECT_EQ(CreateReport(kjj_.drafter, "annual-x", &c).error_code(), StatusCode::ALREADY_EXISTS);
  // The repeat answers the first result, its revision included, and
  // assembles nothing again.
  EXPECT_EQ(b.current_revision(), 1);
  EXPECT_EQ(b.version(), a.version());
  v1::GetRevisionRequest second;
  second.set_name(absl::StrCat(a.name(), "/revisions/2"));
  v1::Revision none;
  EXPECT_EQ(
      stack_->reports().GetRevision(Stack::Ctx(kjj_.drafter).get(), second, &none).error_code(),
      StatusCode::NOT_FOUND);
}

// The same id for another call (other content, another method, another
// report) is INVALID_ARGUMENT naming the id; a repeat is the report as the
// first call left it, even after the report moved on.
TEST_F(AssemblerTest, ARequestIdNamesOneCall) {
  v1::Report a;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "rid-a", &a, "rid-1").ok());
  v1::Report other;
  grpc::Status st = CreateReport(kjj_.drafter, "rid-b", &other, "rid-1");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "'rid-1'")) << st.error_message();
  st = CreateReport(kjj_.drafter, "rid-a", &other, "rid-1", "2022");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  WaitRevision(a.name(), 1);

  auto narrate = [&](const std::string& name, const std::string& text, const std::string& rid,
                     v1::Report* out) {
    v1::UpdateNarrativeRequest req;
    req.set_name(name);
    (*req.mutable_narrative())["problems"] = text;
    req.set_request_id(rid);
    return stack_->reports().UpdateNarrative(Stack::Ctx(kjj_.drafter).get(), req, out);
  };
  v1::Report first, again;
  ASSERT_TRUE(narrate(a.name(), "一是……", "rid-2", &first).ok());
  ASSERT_TRUE(narrate(a.name(), "二是……", "", &other).ok());
  ASSERT_TRUE(narrate(a.name(), "一是……", "rid-2", &again).ok());
  EXPECT_EQ(again.version(), first.version());
  EXPECT_EQ(again.narrative().at("problems"), "一是……");
  st = narrate(a.name(), "三是……", "rid-2", &other);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  // Another method under the id.
  v1::ReassembleRequest rr;
  rr.set_name(a.name());
  rr.set_request_id("rid-2");
  EXPECT_EQ(stack_->reports().Reassemble(Stack::Ctx(kjj_.drafter).get(), rr, &other).error_code(),
            StatusCode::INVALID_ARGUMENT);
  // Another report under the id.
  v1::Report b = Ready("rid-c");
  EXPECT_EQ(narrate(b.name(), "一是……", "rid-2", &other).error_code(),
            StatusCode::INVALID_ARGUMENT);
  v1::GetReportRequest get;
  get.set_name(a.name());
  v1::Report now;
  ASSERT_TRUE(stack_->reports().GetReport(Stack::Ctx(kjj_.drafter).get(), get, &now).ok());
  EXPECT_EQ(now.narrative().at("problems"), "二是……");
}

TEST_F(AssemblerTest, StaleDraftIsReportedAndRefusedUntilReassembled) {
  v1::Report r = Ready("stale");
  // A record of another period moves the data version but no figure.
  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2022-07-01").ok());
  v1::Report fresh = GetWithStaleness(r.name());
  EXPECT_TRUE(fresh.staleness().checked());
  EXPECT_FALSE(fresh.staleness().stale());
  EXPECT_GT(fresh.staleness().current_data_version(), fresh.staleness().revision_data_version());

  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2023-08-01").ok());
  v1::Report stale = GetWithStaleness(r.name());
  ASSERT_TRUE(stale.staleness().stale());
  ASSERT_EQ(stale.staleness().changed_figures_size(), 1);
  EXPECT_EQ(stale.staleness().changed_figures(0).key(), "theme_party_days");
  EXPECT_EQ(stale.staleness().changed_figures(0).from_value(), 1);
  EXPECT_EQ(stale.staleness().changed_figures(0).to_value(), 2);

  v1::Report out;
  grpc::Status st = Submit(r, {kGap}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "theme_party_days")) << st.error_message();
  EXPECT_EQ(WaitState(r.name(), v1::REPORT_STATE_DRAFT).state(), v1::REPORT_STATE_DRAFT);

  v1::ReassembleRequest rr;
  rr.set_name(r.name());
  ASSERT_TRUE(stack_->reports().Reassemble(Stack::Ctx(kjj_.drafter).get(), rr, &out).ok());
  WaitRevision(r.name(), 2);
  EXPECT_FALSE(GetWithStaleness(r.name()).staleness().stale());

  v1::DiffRevisionsRequest dq;
  dq.set_from_revision(absl::StrCat(r.name(), "/revisions/1"));
  dq.set_to_revision(absl::StrCat(r.name(), "/revisions/2"));
  v1::DiffRevisionsResponse diff;
  ASSERT_TRUE(stack_->reports().DiffRevisions(Stack::Ctx(kjj_.drafter).get(), dq, &diff).ok());
  ASSERT_EQ(diff.figures_size(), 1);
  EXPECT_EQ(diff.figures(0).key(), "theme_party_days");
  EXPECT_EQ(diff.figures(0).to_display(), "2");
  EXPECT_TRUE(diff.text_changed());
  EXPECT_EQ(diff.narrative_size(), 0);

  // The records behind a figure of a revision.
  v1::GetFigureProvenanceRequest pq;
  pq.set_name(absl::StrCat(r.name(), "/revisions/1"));
  pq.set_key("theme_party_days");
  v1::GetFigureProvenanceResponse prov;
  ASSERT_TRUE(
      stack_->reports().GetFigureProvenance(Stack::Ctx(kjj_.auditor).get(), pq, &prov).ok());
  EXPECT_EQ(prov.value().value(), 1);
  EXPECT_EQ(prov.current().value(), 2);
  EXPECT_TRUE(prov.changed());
  EXPECT_EQ(prov.total_records(), 2);
}

TEST_F(AssemblerTest, SubmitRefusesNumericGapsUnlessAccepted) {
  v1::Report r = Ready("gaps");
  v1::Report out;
  grpc::Status st = Submit(r, {}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(), kGap)) << st.error_message();
  st = Submit(r, {"ind.no_such_figure"}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(WaitState(r.name(), v1::REPORT_STATE_DRAFT).approval(), "");  // Nothing half-done.

  st = Submit(r, {absl::StrCat("ind.", kGap)}, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.state(), v1::REPORT_STATE_IN_REVIEW);
  EXPECT_EQ(out.submitted_revision(), 1);
  EXPECT_FALSE(out.approval().empty());
  EXPECT_EQ(std::vector<std::string>(out.accepted_gaps().begin(), out.accepted_gaps().end()),
            std::vector<std::string>{kGap});
  apb::GetApprovalRequest get;
  get.set_name(out.approval());
  apb::Approval a;
  ASSERT_TRUE(stack_->approvals().GetApproval(Stack::Ctx(kjj_.drafter).get(), get, &a).ok());
  EXPECT_EQ(a.subject(), absl::StrCat(r.name(), "/revisions/1"));
  EXPECT_EQ(a.initiator(), "kjj-drafter");

  // In review: the draft is locked.
  st = UpdateNarrative(r.name(), {{"problems", "x"}}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  st = Submit(out, {kGap}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
}

TEST_F(AssemblerTest, ApprovalPublishesFrozenDocumentsWithDigests) {
  v1::Report r = Ready("publish");
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  grpc::Status st = Decide(kjj_.secretary, submitted.approval(), true, "同意");
  ASSERT_TRUE(st.ok()) << st.error_message();

  v1::Report pub = WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  EXPECT_EQ(pub.published_revision(), 1);
  EXPECT_EQ(pub.signer(), "kjj-secretary");
  EXPECT_EQ(pub.formats_size(), 6);
  ASSERT_FALSE(pub.digest().empty());
  std::string date = FormatDateGb(IssueDateOf(pub.sign_off_time().seconds()));
  EXPECT_EQ(pub.issue_date(), date);

  v1::Revision rev = Revision(r.name(), 1);
  EXPECT_TRUE(rev.frozen());
  EXPECT_EQ(rev.digest(), pub.digest());
  EXPECT_EQ(rev.sign_off_time().seconds(), pub.sign_off_time().seconds());
  EXPECT_GE(rev.publish_time().seconds(), rev.sign_off_time().seconds());
  EXPECT_EQ(rev.issue_date(), pub.issue_date());
  std::map<typepb::DocumentFormat, std::string> bytes;
  ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(rev, pub, &bytes));
  EXPECT_TRUE(absl::StrContains(bytes[typepb::DOCUMENT_FORMAT_TXT], date))
      << bytes[typepb::DOCUMENT_FORMAT_TXT];
  EXPECT_EQ(bytes[typepb::DOCUMENT_FORMAT_DOCX].substr(0, 2), "PK");
  EXPECT_EQ(bytes[typepb::DOCUMENT_FORMAT_OFD].substr(0, 2), "PK");  // a zip, OFD.xml first
  EXPECT_TRUE(absl::StrContains(bytes[typepb::DOCUMENT_FORMAT_OFD].substr(0, 64), "OFD.xml"));

  auto published = ReadStream(stack_->redis(), Kjj(kPublishedEvents));
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0]["report"], r.name());
  EXPECT_EQ(published[0]["revision"], rev.name());
  EXPECT_EQ(published[0]["digest"], pub.digest());
  EXPECT_EQ(published[0]["formats"], "TXT,MD,HTML,DOCX,PDF,OFD");

  // A redelivered approval event changes nothing and announces nothing.
  ASSERT_NO_FATAL_FAILURE(ExpectRedeliveredApprovalChangesNothing(r, pub));

  // Published means frozen; a correction is a new revision and approval.
  v1::Report out;
  st = UpdateNarrative(r.name(), {{"problems", "补充"}}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  v1::ReassembleRequest rr;
  rr.set_name(r.name());
  EXPECT_EQ(stack_->reports().Reassemble(Stack::Ctx(kjj_.drafter).get(), rr, &out).error_code(),
            StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "补充"}}, &out, /*correction=*/true).ok());
  v1::Report corrected = WaitRevision(r.name(), 2);
  EXPECT_EQ(corrected.state(), v1::REPORT_STATE_DRAFT);
  EXPECT_EQ(corrected.published_revision(), 1);
  EXPECT_EQ(corrected.digest(), pub.digest());
  v1::GetDocumentRequest dr;
  dr.set_name(rev.name());
  dr.set_format(typepb::DOCUMENT_FORMAT_DOCX);
  v1::Document doc;
  ASSERT_TRUE(stack_->reports().GetDocument(Stack::Ctx(kjj_.drafter).get(), dr, &doc).ok());
  EXPECT_EQ(doc.content(), bytes[typepb::DOCUMENT_FORMAT_DOCX]);
  EXPECT_FALSE(Revision(r.name(), 2).frozen());
}

// A shared partial changes between assembly and sign-off: the published
// documents are what the approvers read (the revision pins the partial's
// revision), and a correction picks the new text up, visibly in the diff.
TEST_F(AssemblerTest, PublicationRendersThePartialsTheRevisionWasAssembledWith) {
  ASSERT_TRUE(stack_->CreateSharedTemplate("closing", "特此报告。").ok());
  std::string text = testing::kTemplateText;
  const std::string at = "{{narrative.next_steps}}\n";
  ASSERT_NE(text.find(at), std::string::npos);
  text.replace(text.find(at), at.size(), at + "{{>closing}}\n");
  ASSERT_TRUE(stack_->CreateOrgTemplate("kjj", "pinned", text).ok());
  const std::string tmpl = "orgs/kjj/templates/pinned";
  v1::TemplateWorkflows bound;
  ASSERT_TRUE(Bind(kjj_.admin, tmpl, {kWorkflow}, &bound).ok());
  v1::Report r;
  grpc::Status st = CreateReport(kjj_.drafter, "pinned", &r, "", "2023", tmpl);
  ASSERT_TRUE(st.ok()) << st.error_message();
  r = WaitRevision(r.name(), 1);
  v1::Revision assembled = Revision(r.name(), 1);
  EXPECT_EQ(assembled.partial_revisions().at("closing"), "templates/closing@1");
  EXPECT_TRUE(absl::StrContains(assembled.text(), "特此报告。")) << assembled.text();

  ASSERT_TRUE(stack_->UpdateTemplate("templates/closing", "以上报告，请审阅。").ok());
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true, "同意").ok());
  v1::Report pub = WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  std::map<typepb::DocumentFormat, std::string> bytes;
  ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(Revision(r.name(), 1), pub, &bytes));
  const std::string& published = bytes[typepb::DOCUMENT_FORMAT_TXT];
  EXPECT_TRUE(absl::StrContains(published, "特此报告。")) << published;
  EXPECT_FALSE(absl::StrContains(published, "请审阅")) << published;

  v1::Report out;
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "补充"}}, &out, /*correction=*/true).ok());
  WaitRevision(r.name(), 2);
  v1::Revision corrected = Revision(r.name(), 2);
  EXPECT_EQ(corrected.partial_revisions().at("closing"), "templates/closing@2");
  EXPECT_TRUE(absl::StrContains(corrected.text(), "以上报告，请审阅。")) << corrected.text();
  v1::DiffRevisionsRequest dq;
  dq.set_from_revision(absl::StrCat(r.name(), "/revisions/1"));
  dq.set_to_revision(absl::StrCat(r.name(), "/revisions/2"));
  v1::DiffRevisionsResponse diff;
  ASSERT_TRUE(stack_->reports().DiffRevisions(Stack::Ctx(kjj_.drafter).get(), dq, &diff).ok());
  EXPECT_TRUE(diff.template_changed());
}

// The org's key signs every publication from the moment it exists; any
// published document verifies against it (here and with openssl) until one
// byte changes; a rotation retires the key without breaking what it signed.
TEST_F(AssemblerTest, PublicationsAreSignedByTheOrgsKeyAndVerifyUntilAByteChanges) {
  auto verify = [&](const std::string& revision, typepb::DocumentFormat format,
                    const std::string& content) {
    v1::VerifyDocumentRequest req;
    req.set_name(revision);
    req.set_format(format);
    req.set_content(content);
    v1::VerifyDocumentResponse out;
    grpc::Status st = stack_->reports().VerifyDocument(Stack::Ctx(kjj_.auditor).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  };
  // Before the org has a key: published unsigned, and verification says so.
  v1::Report before = Publish("unsigned");
  v1::Revision plain = Revision(before.name(), 1);
  EXPECT_FALSE(plain.has_signature());
  std::map<typepb::DocumentFormat, std::string> bytes;
  ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(plain, before, &bytes));
  v1::VerifyDocumentResponse unsigned_doc =
      verify(plain.name(), typepb::DOCUMENT_FORMAT_TXT, bytes[typepb::DOCUMENT_FORMAT_TXT]);
  EXPECT_TRUE(unsigned_doc.content_matches());
  EXPECT_FALSE(unsigned_doc.valid());
  ASSERT_EQ(unsigned_doc.problems_size(), 1);
  EXPECT_TRUE(absl::StrContains(unsigned_doc.problems(0), "unsigned"));

  v1::CreateSigningKeyRequest create;
  create.set_parent("orgs/kjj");
  create.set_request_id("key-1");
  v1::SigningKey key1;
  EXPECT_EQ(stack_->reports()
                .CreateSigningKey(Stack::Ctx(kjj_.drafter).get(), create, &key1)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  grpc::Status st = stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key1);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(key1.name(), "orgs/kjj/signingKeys/1");
  EXPECT_EQ(key1.state(), v1::SIGNING_KEY_STATE_ACTIVE);
  EXPECT_EQ(key1.algorithm(), "SM2-with-SM3");
  EXPECT_TRUE(absl::StrContains(key1.certificate_pem(), "BEGIN CERTIFICATE"));
  EXPECT_EQ(key1.not_after().seconds() - key1.not_before().seconds(), 730 * 86400);
  v1::SigningKey again;
  ASSERT_TRUE(
      stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &again).ok());
  EXPECT_EQ(again.name(), key1.name());  // the request replayed, no second key
  create.set_request_id("");
  create.set_validity_days(-1);
  EXPECT_EQ(
      stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &again).error_code(),
      StatusCode::INVALID_ARGUMENT);

  v1::Report pub = Publish("signed");
  v1::Revision rev = Revision(pub.name(), 1);
  ASSERT_TRUE(rev.has_signature());
  EXPECT_EQ(rev.signature().signing_key(), key1.name());
  EXPECT_EQ(Sha256Hex(rev.signature().manifest()), rev.digest());
  bytes.clear();
  ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(rev, pub, &bytes));
  for (const auto& [format, content] : bytes) {
    v1::VerifyDocumentResponse ok = verify(rev.name(), format, content);
    EXPECT_TRUE(ok.valid()) << FormatName(format) << ": " << absl::StrJoin(ok.problems(), "; ");
    EXPECT_EQ(ok.embedded_signature_valid(), format == typepb::DOCUMENT_FORMAT_OFD)
        << FormatName(format);
    std::string changed = content;
    changed[changed.size() / 2] ^= 1;
    v1::VerifyDocumentResponse bad = verify(rev.name(), format, changed);
    EXPECT_FALSE(bad.valid()) << FormatName(format);
    EXPECT_FALSE(bad.content_matches()) << FormatName(format);
    EXPECT_TRUE(bad.signature_valid()) << FormatName(format);  // the manifest still is
  }
  auto published = ReadStream(stack_->redis(), Kjj(kPublishedEvents));
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1]["signing_key"], key1.name());
  EXPECT_FALSE(published[1]["signature_base64"].empty());

  // Rotation: the old key is retired and still verifies what it signed.
  v1::SigningKey key2;
  ASSERT_TRUE(
      stack_->reports()
          .CreateSigningKey(Stack::Ctx(kjj_.admin).get(), v1::CreateSigningKeyRequest(), &key2)
          .error_code() == StatusCode::INVALID_ARGUMENT);  // no parent
  create.set_validity_days(30);
  ASSERT_TRUE(stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key2).ok());
  EXPECT_EQ(key2.name(), "orgs/kjj/signingKeys/2");
  v1::ListSigningKeysRequest lr;
  lr.set_parent("orgs/kjj");
  v1::ListSigningKeysResponse keys;
  ASSERT_TRUE(stack_->reports().ListSigningKeys(Stack::Ctx(kjj_.auditor).get(), lr, &keys).ok());
  ASSERT_EQ(keys.signing_keys_size(), 2);
  EXPECT_EQ(keys.signing_keys(0).state(), v1::SIGNING_KEY_STATE_RETIRED);
  EXPECT_TRUE(keys.signing_keys(0).has_retire_time());
  EXPECT_EQ(keys.signing_keys(1).state(), v1::SIGNING_KEY_STATE_ACTIVE);
  EXPECT_TRUE(verify(rev.name(), typepb::DOCUMENT_FORMAT_DOCX, bytes[typepb::DOCUMENT_FORMAT_DOCX])
                  .valid());

  // A signature changed in Redis no longer verifies.
  const std::string key = Store::RevisionKey(RevisionRef{"kjj", "signed", 1});
  auto stored = stack_->redis().Command({"GET", key});
  ASSERT_TRUE(stored.ok());
  v1::Revision tampered;
  ASSERT_TRUE(tampered.ParseFromString(std::string(stored->Str())));
  std::string* sig = tampered.mutable_signature()->mutable_signature();
  (*sig)[sig->size() / 2] ^= 1;
  ASSERT_TRUE(stack_->redis().Command({"SET", key, tampered.SerializeAsString()}).ok());
  v1::VerifyDocumentResponse forged =
      verify(rev.name(), typepb::DOCUMENT_FORMAT_TXT, bytes[typepb::DOCUMENT_FORMAT_TXT]);
  EXPECT_TRUE(forged.content_matches());
  EXPECT_FALSE(forged.signature_valid());
  EXPECT_FALSE(forged.valid());

  // A draft has nothing to verify.
  v1::Report draft = Ready("draft");
  v1::VerifyDocumentRequest dq;
  dq.set_name(absl::StrCat(draft.name(), "/revisions/1"));
  dq.set_format(typepb::DOCUMENT_FORMAT_TXT);
  v1::VerifyDocumentResponse none;
  EXPECT_EQ(
      stack_->reports().VerifyDocument(Stack::Ctx(kjj_.auditor).get(), dq, &none).error_code(),
      StatusCode::FAILED_PRECONDITION);
}

// An org with a key and a seal image publishes its OFD with an electronic
// seal (GB/T 38540, docs/ofd.md): made by its key, the seal image the
// picture, its certificate the signer's; VerifyDocument takes it (the
// layout tests change its bytes: ofd_seal_test).
TEST_F(AssemblerTest, ASealedOrgsOfdCarriesAnElectronicSealThatVerifies) {
  // A 2 × 2 PNG: the layout draws any PNG 42 mm wide.
  static const char kPng[] =
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52"
      "\x00\x00\x00\x02\x00\x00\x00\x02\x08\x06\x00\x00\x00\x72\xb6\x0d"
      "\x24\x00\x00\x00\x11\x49\x44\x41\x54\x78\x9c\x63\xb8\x2b\x28\xf8"
      "\x1f\x84\x19\x60\x0c\x00\x46\xfe\x07\xf9\x27\x44\xb2\xe3\x00\x00"
      "\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";
  const std::string png(kPng, sizeof kPng - 1);
  v1::UpdateDocumentSettingsRequest set;
  set.mutable_document_settings()->set_name("orgs/kjj/documentSettings");
  // The 公文 frame (and so the seal) needs the 发文机关代字.
  set.mutable_document_settings()->set_issuing_mark("中共某市科学技术局党组");
  set.mutable_document_settings()->set_code("某科党");
  set.mutable_document_settings()->set_sealed(true);
  set.mutable_document_settings()->set_seal_image(png);
  v1::DocumentSettings settings;
  grpc::Status st =
      stack_->reports().UpdateDocumentSettings(Stack::Ctx(kjj_.admin).get(), set, &settings);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::CreateSigningKeyRequest create;
  create.set_parent("orgs/kjj");
  v1::SigningKey key;
  ASSERT_TRUE(stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key).ok());

  v1::Report pub = Publish("sealed");
  v1::Revision rev = Revision(pub.name(), 1);
  std::map<typepb::DocumentFormat, std::string> bytes;
  ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(rev, pub, &bytes));
  const std::string& ofd = bytes[typepb::DOCUMENT_FORMAT_OFD];
  absl::StatusOr<std::vector<layout::OfdPart>> parts = layout::ReadOfdParts(ofd);
  ASSERT_TRUE(parts.ok()) << parts.status();
  std::map<std::string, std::string> by_name;
  for (const auto& p : *parts) by_name[p.name] = p.bytes;
  EXPECT_TRUE(absl::StrContains(by_name[std::string(layout::kOfdSignatures)], "Type=\"Seal\""));
  absl::StatusOr<layout::ses::ParsedSignature> seal =
      layout::ses::ParseSignature(by_name[std::string(layout::kOfdSignedValue)]);
  ASSERT_TRUE(seal.ok()) << seal.status();
  EXPECT_EQ(seal->seal_der, by_name[std::string(layout::kOfdSealFile)]);
  EXPECT_EQ(seal->seal.info.esid, key.name());
  EXPECT_EQ(seal->seal.info.picture, png);
  EXPECT_EQ(seal->seal.info.width_mm, 42);
  EXPECT_EQ(seal->seal.info.height_mm, 42);
  absl::StatusOr<signing::CertificateInfo> cert = signing::ReadCertificate(key.certificate_pem());
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(seal->info.certificate_der, cert->der);
  EXPECT_EQ(seal->seal.maker_certificate_der, cert->der);  // a self-made seal
  EXPECT_EQ(seal->seal.info.name, cert->common_name);

  v1::VerifyDocumentRequest req;
  req.set_name(rev.name());
  req.set_format(typepb::DOCUMENT_FORMAT_OFD);
  req.set_content(ofd);
  v1::VerifyDocumentResponse out;
  ASSERT_TRUE(stack_->reports().VerifyDocument(Stack::Ctx(kjj_.auditor).get(), req, &out).ok());
  EXPECT_TRUE(out.valid()) << absl::StrJoin(out.problems(), "; ");
  EXPECT_TRUE(out.embedded_signature_valid());
}

// The whole file at `path`; "" when it cannot be read.
std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A CA (openssl, SM2) issues the key's certificate from the key's request;
// the imported certificate signs from then on, and what the key signed
// under its self-signed one still verifies.
TEST_F(AssemblerTest, ACaIssuedCertificateReplacesTheSelfSignedOne) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl";
  v1::CreateSigningKeyRequest create;
  create.set_parent("orgs/kjj");
  v1::SigningKey key;
  ASSERT_TRUE(stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key).ok());
  // Self-signed: the issuer is the subject, the org id and its display name.
  EXPECT_TRUE(key.certificate_issuer().starts_with("O=kjj,CN=")) << key.certificate_issuer();
  v1::Report before = Publish("before-ca");
  const v1::Revision self_signed = Revision(before.name(), 1);
  ASSERT_TRUE(self_signed.has_signature());

  v1::CreateCertificateSigningRequestRequest cq;
  cq.set_name(key.name());
  v1::CertificateSigningRequest csr;
  EXPECT_EQ(stack_->reports()
                .CreateCertificateSigningRequest(Stack::Ctx(kjj_.drafter).get(), cq, &csr)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  grpc::Status st =
      stack_->reports().CreateCertificateSigningRequest(Stack::Ctx(kjj_.admin).get(), cq, &csr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(csr.signing_key(), key.name());
  EXPECT_TRUE(absl::StrContains(csr.csr_pem(), "BEGIN CERTIFICATE REQUEST")) << csr.csr_pem();

  // The CA's side, with openssl alone: the request's own signature checks
  // (SM2 with the distinguishing ID), and the CA signs it.
  const std::string dir = ::testing::TempDir() + "/ca-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/key.csr") << csr.csr_pem();
  const std::string id = "distid:1234567812345678";
  auto run = [&](const std::string& command) {
    return std::system(absl::StrCat("cd '", dir, "' && ", command, " >>log 2>&1").c_str());
  };
  ASSERT_EQ(run("openssl req -in key.csr -verify -noout -vfyopt " + id), 0) << Slurp(dir + "/log");
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out ca.key"), 0);
  ASSERT_EQ(run("openssl req -new -x509 -key ca.key -sm3 -sigopt " + id +
                " -subj '/CN=Test CA' -days 30 -out ca.pem"),
            0)
      << Slurp(dir + "/log");
  ASSERT_EQ(run("openssl x509 -req -in key.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sm3 "
                "-sigopt " +
                id + " -vfyopt " + id + " -days 10 -out key.pem"),
            0)
      << Slurp(dir + "/log");

  v1::ImportCertificateRequest iq;
  iq.set_name(key.name());
  iq.set_certificate_pem(Slurp(dir + "/key.pem"));
  v1::SigningKey imported;
  EXPECT_EQ(stack_->reports()
                .ImportCertificate(Stack::Ctx(kjj_.drafter).get(), iq, &imported)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  st = stack_->reports().ImportCertificate(Stack::Ctx(kjj_.admin).get(), iq, &imported);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(imported.certificate_issuer(), "CN=Test CA");
  EXPECT_NE(imported.certificate_sha256(), key.certificate_sha256());
  ASSERT_EQ(imported.previous_certificates_pem_size(), 1);
  EXPECT_EQ(imported.previous_certificates_pem(0), key.certificate_pem());
  EXPECT_EQ(imported.not_after().seconds() - imported.not_before().seconds(), 10 * 86400);
  v1::SigningKey again;
  ASSERT_TRUE(stack_->reports().ImportCertificate(Stack::Ctx(kjj_.admin).get(), iq, &again).ok());
  EXPECT_EQ(again.previous_certificates_pem_size(), 1) << "the same certificate changes nothing";

  std::map<typepb::DocumentFormat, std::string> bytes;
  v1::Report after = Publish("after-ca");
  const v1::Revision ca_signed = Revision(after.name(), 1);
  ASSERT_TRUE(ca_signed.has_signature());
  EXPECT_EQ(ca_signed.signature().certificate_pem(), imported.certificate_pem());
  for (const auto& [rev, report] : {std::pair{self_signed, before}, std::pair{ca_signed, after}}) {
    bytes.clear();
    ASSERT_NO_FATAL_FAILURE(ExpectFinalDocuments(rev, report, &bytes));
    v1::VerifyDocumentRequest req;
    req.set_name(rev.name());
    req.set_format(typepb::DOCUMENT_FORMAT_TXT);
    req.set_content(bytes[typepb::DOCUMENT_FORMAT_TXT]);
    v1::VerifyDocumentResponse out;
    ASSERT_TRUE(stack_->reports().VerifyDocument(Stack::Ctx(kjj_.auditor).get(), req, &out).ok());
    EXPECT_TRUE(out.valid()) << rev.name() << ": " << absl::StrJoin(out.problems(), "; ");
  }

  // Refused: the CA's own certificate (another key), no certificate, a key
  // that does not exist, a retired key.
  auto import_code = [&](const std::string& name, const std::string& pem) {
    v1::ImportCertificateRequest bad;
    bad.set_name(name);
    bad.set_certificate_pem(pem);
    v1::SigningKey ignored;
    return stack_->reports()
        .ImportCertificate(Stack::Ctx(kjj_.admin).get(), bad, &ignored)
        .error_code();
  };
  EXPECT_EQ(import_code(key.name(), Slurp(dir + "/ca.pem")), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(import_code(key.name(), "-----BEGIN CERTIFICATE-----\nAAAA\n"),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(import_code("orgs/kjj/signingKeys/9", iq.certificate_pem()), StatusCode::NOT_FOUND);
  EXPECT_EQ(import_code("orgs/kjj/signingKeys/x", iq.certificate_pem()),
            StatusCode::INVALID_ARGUMENT);
  v1::SigningKey key2;
  ASSERT_TRUE(stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key2).ok());
  EXPECT_EQ(import_code(key.name(), iq.certificate_pem()), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(stack_->reports()
                .CreateCertificateSigningRequest(Stack::Ctx(kjj_.admin).get(), cq, &csr)
                .error_code(),
            StatusCode::FAILED_PRECONDITION);
}

class AssemblerWithoutMasterKeyTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.signing_master_key.clear();
    return o;
  }
};

// No master key: no key can be made, and an org that has one (made by a
// replica that had the master key) is not published unsigned.
TEST_F(AssemblerWithoutMasterKeyTest, NoKeyIsMadeAndAnOrgWithAKeyIsNeverPublishedUnsigned) {
  v1::CreateSigningKeyRequest create;
  create.set_parent("orgs/kjj");
  v1::SigningKey key;
  grpc::Status st = stack_->reports().CreateSigningKey(Stack::Ctx(kjj_.admin).get(), create, &key);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "--signing-master-key-file"));

  StoreOptions with_key;
  with_key.signing_master_key = std::string(32, '\x5a');
  Store other_replica(&stack_->redis(), with_key);
  auto made = CreateSigningKey(other_replica, "kjj", {"kjj", "kjj"}, 0, "kjj-admin", absl::Now(),
                               request_id::Call{});
  ASSERT_TRUE(made.ok()) << made.status();

  v1::Report r = Ready("held");
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true, "同意").ok());
  auto failed = stack_->WaitFor(kjj_.drafter, r.name(),
                                [](const v1::Report& report) { return !report.error().empty(); });
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_NE(failed->state(), v1::REPORT_STATE_PUBLISHED);
  EXPECT_TRUE(absl::StrContains(failed->error(), "master key")) << failed->error();
  EXPECT_TRUE(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).empty());
}

// Records of the period changed after publication: the published report
// shows it (outdated, with the figures that changed) and the org's log has
// one EVENT_KIND_REPORT_OUTDATED per records data version, whether a reader
// or the workers' sweep found it; a correction's publication clears it.
TEST_F(AssemblerTest, APublishedReportWhoseRecordsChangedIsFlaggedOutdatedOnce) {
  v1::Report r = Ready("outdated");
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true).ok());
  WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  auto outdated_events = [&] {
    return OfKind(OrgEvents(stack_->redis(), "kjj"), events::v1::EVENT_KIND_REPORT_OUTDATED);
  };

  // Another period's record: the data version moves, no figure does.
  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2022-07-01").ok());
  v1::Report fresh = GetWithStaleness(r.name());
  EXPECT_TRUE(fresh.staleness().checked());
  EXPECT_FALSE(fresh.staleness().stale());
  EXPECT_FALSE(fresh.has_outdated());
  EXPECT_TRUE(outdated_events().empty());

  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2023-08-01").ok());
  v1::Report seen = GetWithStaleness(r.name());
  EXPECT_EQ(seen.state(), v1::REPORT_STATE_PUBLISHED);
  ASSERT_TRUE(seen.outdated().stale());
  ASSERT_EQ(seen.outdated().changed_figures_size(), 1);
  EXPECT_EQ(seen.outdated().changed_figures(0).key(), "theme_party_days");
  EXPECT_EQ(seen.outdated().changed_figures(0).from_value(), 1);
  EXPECT_EQ(seen.outdated().changed_figures(0).to_value(), 2);
  // Stored, not only computed for this answer.
  v1::GetReportRequest plain;
  plain.set_name(r.name());
  plain.set_skip_staleness(true);
  v1::Report stored;
  ASSERT_TRUE(stack_->reports().GetReport(Stack::Ctx(kjj_.drafter).get(), plain, &stored).ok());
  EXPECT_TRUE(stored.outdated().stale());

  // Read again, swept by the workers: still one event.
  GetWithStaleness(r.name());
  auto swept = stack_->workers().CheckAllOutdated();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_GE(*swept, 1);
  std::vector<events::v1::Event> log = outdated_events();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].actor(), "system");
  EXPECT_EQ(log[0].report_outdated().report(), r.name());
  EXPECT_EQ(log[0].report_outdated().revision(), 1);
  ASSERT_EQ(log[0].report_outdated().changed_figures_size(), 1);
  EXPECT_EQ(log[0].report_outdated().changed_figures(0).key(), "theme_party_days");
  EXPECT_GT(log[0].report_outdated().current_data_version(),
            log[0].report_outdated().published_data_version());

  // A further change of the period: the sweep finds it first, one more event.
  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2023-09-01").ok());
  ASSERT_TRUE(stack_->workers().CheckOutdated("kjj").ok());
  log = outdated_events();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].report_outdated().changed_figures(0).to_value(), 3);
  EXPECT_EQ(GetWithStaleness(r.name()).outdated().changed_figures(0).to_value(), 3);
  EXPECT_EQ(outdated_events().size(), 2u);

  // The correction: reassembled, approved, published again; not outdated.
  v1::ReassembleRequest rr;
  rr.set_name(r.name());
  rr.set_correction(true);
  v1::Report out;
  ASSERT_TRUE(stack_->reports().Reassemble(Stack::Ctx(kjj_.drafter).get(), rr, &out).ok());
  v1::Report corrected = WaitRevision(r.name(), 2);
  ASSERT_TRUE(Submit(corrected, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true).ok());
  v1::Report republished = WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  EXPECT_EQ(republished.published_revision(), 2);
  EXPECT_FALSE(republished.has_outdated());
  EXPECT_FALSE(GetWithStaleness(r.name()).has_outdated());
  EXPECT_EQ(outdated_events().size(), 2u);
}

TEST_F(AssemblerTest, RejectionAndWithdrawalReturnToDraftWithTheComment) {
  v1::Report r = Ready("reject");
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), false, "请补充存在的问题").ok());
  v1::Report back = WaitState(r.name(), v1::REPORT_STATE_DRAFT);
  EXPECT_EQ(back.last_decision(), "rejected");
  EXPECT_EQ(back.last_decision_by(), "kjj-director");
  EXPECT_EQ(back.last_comment(), "请补充存在的问题");

  ASSERT_TRUE(Submit(back, {kGap}, &submitted).ok());
  apb::WithdrawRequest wr;
  wr.set_name(submitted.approval());
  wr.set_expected_version(0);
  apb::GetApprovalRequest get;
  get.set_name(submitted.approval());
  apb::Approval a;
  ASSERT_TRUE(stack_->approvals().GetApproval(Stack::Ctx(kjj_.drafter).get(), get, &a).ok());
  wr.set_expected_version(a.version());
  wr.set_comment("先撤回修改");
  grpc::Status st = stack_->approvals().Withdraw(Stack::Ctx(kjj_.drafter).get(), wr, &a);
  ASSERT_TRUE(st.ok()) << st.error_message();
  back = stack_
             ->WaitFor(kjj_.drafter, r.name(),
                       [](const v1::Report& report) {
                         return report.state() == v1::REPORT_STATE_DRAFT &&
                                report.last_decision() == "withdrawn";
                       })
             .value_or(v1::Report());
  EXPECT_EQ(back.last_comment(), "先撤回修改");
  // Editable again.
  v1::Report out;
  EXPECT_TRUE(UpdateNarrative(r.name(), {{"problems", "已补充"}}, &out).ok());
}

TEST_F(AssemblerTest, EventsForUnknownReportsAreAcknowledged) {
  int64_t now = absl::ToUnixSeconds(absl::Now());
  streams::Fields ghost = {{"type", "approved"}, {"approval", "orgs/kjj/approvals/nope"},
                           {"org", "kjj"},       {"subject", "orgs/kjj/reports/ghost/revisions/1"},
                           {"signer", "x"},      {"sign_off_unix", absl::StrCat(now)}};
  streams::Entry e;
  e.id = "direct";
  e.fields = ghost;
  EXPECT_EQ(stack_->workers().HandleApprovalEvent(e).outcome, streams::Outcome::kDone);
  e.fields[3].second = "orgs/kjj/reports/BAD!/revisions/x";
  EXPECT_EQ(stack_->workers().HandleApprovalEvent(e).outcome, streams::Outcome::kDone);
  e.fields[3].second = "orgs/jyj/reports/r/revisions/1";  // Org mismatch.
  EXPECT_EQ(stack_->workers().HandleApprovalEvent(e).outcome, streams::Outcome::kDone);

  // Through the running workers, in the global stream of the layout before
  // per-org streams (an upgrade's leftovers are drained): acknowledged,
  // nothing dead-lettered, and the worker goes on to serve real work.
  ASSERT_TRUE(streams::Add(stack_->redis(), "gr:ev:approval", ghost).ok());
  v1::Report r = Ready("after-ghost");
  EXPECT_EQ(r.current_revision(), 1);
  absl::Time until = absl::Now() + absl::Seconds(10);
  int64_t pending = -1;
  while (absl::Now() < until) {
    auto p = stack_->redis().Command({"XPENDING", "gr:ev:approval", "assembler"});
    auto info = stack_->redis().Command({"XINFO", "GROUPS", "gr:ev:approval"});
    if (!p.ok() || !info.ok() || info->Size() == 0) {  // Its group is not made yet.
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    int64_t lag = -1;
    for (size_t i = 0; i + 1 < (*info)[0].Size(); i += 2) {
      if ((*info)[0][i].Str() == "lag") lag = (*info)[0][i + 1].Int();
    }
    pending = (*p)[0].Int();
    if (pending == 0 && lag == 0) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(pending, 0);
  auto dead = stack_->redis().Command({"XLEN", "gr:ev:approval:dead"});
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->Int(), 0);
}

TEST_F(AssemblerTest, NarrativeIsDataNeverTemplateSyntax) {
  v1::Report r = Ready("narrative");
  const std::string tricky = "存在{{org.name}}与{{#ind}}x{{/ind}}{{> evil}}<b>问题</b>";
  v1::Report out;
  grpc::Status st = UpdateNarrative(r.name(), {{"problems", tricky}, {"next_steps", "继续"}}, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(out.assembling());
  WaitRevision(r.name(), 2);
  v1::Revision rev = Revision(r.name(), 2);
  EXPECT_TRUE(absl::StrContains(rev.text(), tricky)) << rev.text();
  EXPECT_EQ(rev.narrative().at("problems"), tricky);
  v1::GetDocumentRequest dr;
  dr.set_name(rev.name());
  dr.set_format(typepb::DOCUMENT_FORMAT_HTML);
  v1::Document html;
  ASSERT_TRUE(stack_->reports().GetDocument(Stack::Ctx(kjj_.drafter).get(), dr, &html).ok());
  EXPECT_TRUE(absl::StrContains(html.content(), "{{org.name}}")) << html.content();
  EXPECT_FALSE(absl::StrContains(html.content(), "<b>问题")) << html.content();

  // Unknown slots and control characters are refused; the same text again
  // makes no new revision; a stale expected_version loses.
  st = UpdateNarrative(r.name(), {{"no_such_slot", "x"}}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  st = UpdateNarrative(r.name(), {{"problems", std::string("a\x07", 2)}}, &out);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  v1::Report same;
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", tricky}}, &same).ok());
  EXPECT_FALSE(same.assembling());
  EXPECT_EQ(same.current_revision(), 2);
  st = UpdateNarrative(r.name(), {{"problems", "y"}}, &out, false, same.version() - 1);
  EXPECT_EQ(st.error_code(), StatusCode::ABORTED);

  v1::DiffRevisionsRequest dq;
  dq.set_from_revision(absl::StrCat(r.name(), "/revisions/1"));
  dq.set_to_revision(absl::StrCat(r.name(), "/revisions/2"));
  v1::DiffRevisionsResponse diff;
  ASSERT_TRUE(stack_->reports().DiffRevisions(Stack::Ctx(kjj_.drafter).get(), dq, &diff).ok());
  EXPECT_EQ(diff.figures_size(), 0);
  ASSERT_EQ(diff.narrative_size(), 2);
  EXPECT_EQ(diff.narrative(0).slot(), "next_steps");
  EXPECT_EQ(diff.narrative(1).change(), "added");
}

// A drafter's title and an admin's org names with markup in them, through
// assembly, approval (comments too) and publication: the signed HTML has no
// element from them (its <title> is the title as text), the DOCX parts are
// well-formed and hold them literally, the Markdown turns none into markup.
TEST_F(AssemblerTest, MarkupInUserStringsStaysTextInThePublishedDocuments) {
  namespace checks = ::govreport::testing;
  const std::string evil =
      "</title><script>alert(1)</script><img src=x onerror=alert(1)>]]>&amp;"
      "*bold* _x_ [a](javascript:x) <b>\"'";
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->records_port()),
                                     grpc::InsecureChannelCredentials());
  auto orgs = records::v1::OrgService::NewStub(channel);
  records::v1::UpdateOrgRequest update;
  update.mutable_org()->set_name("orgs/kjj");
  update.mutable_org()->set_display_name("中共" + evil + "党组");
  update.mutable_org()->set_short_name("局" + evil);
  update.mutable_org()->set_city("市" + evil);
  update.mutable_org()->set_district("区" + evil);
  for (const char* fact : {"purged_influence", "case_lessons", "municipal_inspection_target"}) {
    (*update.mutable_org()->mutable_facts())[fact] = "事" + evil;
  }
  records::v1::Org org;
  grpc::Status st = orgs->UpdateOrg(Stack::Ctx(kjj_.admin).get(), update, &org);
  ASSERT_TRUE(st.ok()) << st.error_message();

  v1::CreateReportRequest create;
  create.set_parent("orgs/kjj");
  create.set_report_id("markup");
  create.set_period("2023");
  create.set_template_(kTemplate);
  create.set_workflow(kWorkflow);
  create.set_title("题" + evil);
  (*create.mutable_narrative())["problems"] = "一是" + evil;
  (*create.mutable_narrative())["next_steps"] = "- " + evil;
  v1::Report r;
  st = stack_->reports().CreateReport(Stack::Ctx(kjj_.drafter).get(), create, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  r = WaitRevision(r.name(), 1);
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true, evil).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true, evil).ok());
  WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);

  std::map<typepb::DocumentFormat, std::string> bytes;
  for (typepb::DocumentFormat f : {typepb::DOCUMENT_FORMAT_TXT, typepb::DOCUMENT_FORMAT_HTML,
                                   typepb::DOCUMENT_FORMAT_MD, typepb::DOCUMENT_FORMAT_DOCX}) {
    v1::GetDocumentRequest dr;
    dr.set_name(absl::StrCat(r.name(), "/revisions/1"));
    dr.set_format(f);
    v1::Document doc;
    st = stack_->reports().GetDocument(Stack::Ctx(kjj_.drafter).get(), dr, &doc);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_TRUE(doc.final());
    bytes[f] = doc.content();
  }
  EXPECT_TRUE(absl::StrContains(bytes[typepb::DOCUMENT_FORMAT_TXT], "局" + evil))
      << bytes[typepb::DOCUMENT_FORMAT_TXT];

  auto html = checks::ParseHtml(bytes[typepb::DOCUMENT_FORMAT_HTML]);
  ASSERT_TRUE(html.ok());
  for (const char* element : {"script", "img", "b", "a"}) {
    EXPECT_EQ(html->elements.count(element), 0u) << element << "\n"
                                                 << bytes[typepb::DOCUMENT_FORMAT_HTML];
  }
  EXPECT_EQ(html->title, "题" + evil);
  EXPECT_TRUE(absl::StrContains(html->body_text, "局" + evil)) << html->body_text;
  EXPECT_TRUE(absl::StrContains(html->body_text, "一是" + evil)) << html->body_text;
  EXPECT_FALSE(absl::StrContains(bytes[typepb::DOCUMENT_FORMAT_HTML], "<script"));

  auto parts = checks::Unzip(bytes[typepb::DOCUMENT_FORMAT_DOCX]);
  ASSERT_TRUE(parts.ok()) << parts.status();
  for (const auto& [name, xml] : *parts) {
    EXPECT_TRUE(checks::XmlText(xml).ok()) << name << " is not well-formed:\n" << xml;
  }
  auto body = checks::XmlText(parts->at("word/document.xml"), "t");
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(absl::StrContains(*body, "局" + evil)) << *body;
  EXPECT_TRUE(absl::StrContains(*body, "中共" + evil + "党组")) << *body;
  EXPECT_EQ(*checks::XmlText(parts->at("docProps/core.xml"), "title"), "题" + evil);
  EXPECT_EQ(*checks::XmlText(parts->at("docProps/core.xml"), "creator"), "中共" + evil + "党组");

  for (const std::string& problem : checks::MarkdownMarkup(bytes[typepb::DOCUMENT_FORMAT_MD])) {
    ADD_FAILURE() << problem << "\n" << bytes[typepb::DOCUMENT_FORMAT_MD];
  }
}

TEST_F(AssemblerTest, OrgsCannotSeeEachOther) {
  auto jyj = stack_->SetUpOrg("jyj");
  ASSERT_TRUE(jyj.ok()) << jyj.status();
  v1::Report r = Ready("secret");
  v1::GetReportRequest get;
  get.set_name(r.name());
  v1::Report out;
  EXPECT_EQ(stack_->reports().GetReport(Stack::Ctx(jyj->drafter).get(), get, &out).error_code(),
            StatusCode::PERMISSION_DENIED);
  get.set_name("orgs/kjj/reports/does-not-exist");
  EXPECT_EQ(stack_->reports().GetReport(Stack::Ctx(jyj->drafter).get(), get, &out).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::ListReportsRequest lr;
  lr.set_parent("orgs/kjj");
  v1::ListReportsResponse list;
  EXPECT_EQ(stack_->reports().ListReports(Stack::Ctx(jyj->admin).get(), lr, &list).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::GetRevisionRequest rq;
  rq.set_name(absl::StrCat(r.name(), "/revisions/1"));
  v1::Revision rev;
  EXPECT_EQ(stack_->reports().GetRevision(Stack::Ctx(jyj->auditor).get(), rq, &rev).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::GetDocumentRequest dq;
  dq.set_name(rq.name());
  dq.set_format(typepb::DOCUMENT_FORMAT_TXT);
  v1::Document doc;
  EXPECT_EQ(stack_->reports().GetDocument(Stack::Ctx(jyj->drafter).get(), dq, &doc).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateReport(jyj->drafter, "x", &out).error_code(), StatusCode::PERMISSION_DENIED);
  // A report of kjj cannot use jyj's workflow or template either.
  EXPECT_EQ(
      CreateReport(kjj_.drafter, "x", &out, "", "2023", kTemplate, "orgs/jyj/workflows/annual")
          .error_code(),
      StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      CreateReport(kjj_.drafter, "x", &out, "", "2023", "orgs/jyj/templates/annual").error_code(),
      StatusCode::INVALID_ARGUMENT);
  // Each org lists only its own reports; roles still apply inside an org.
  ASSERT_TRUE(stack_->AddBaseYear("jyj").ok());
  v1::Report theirs;
  ASSERT_TRUE(CreateReport(jyj->drafter, "mine", &theirs, "", "2023", "orgs/jyj/templates/annual",
                           "orgs/jyj/workflows/annual", "orgs/jyj")
                  .ok());
  lr.set_parent("orgs/jyj");
  ASSERT_TRUE(stack_->reports().ListReports(Stack::Ctx(jyj->auditor).get(), lr, &list).ok());
  ASSERT_EQ(list.reports_size(), 1);
  EXPECT_EQ(list.reports(0).name(), "orgs/jyj/reports/mine");
  EXPECT_EQ(CreateReport(kjj_.recorder, "y", &out).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateReport("", "y", &out).error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(AssemblerTest, BadInputIsRefusedAndNothingIsHalfDone) {
  v1::Report out;
  grpc::Status st = CreateReport(kjj_.drafter, "a", &out, "", "2023", "orgs/kjj/templates/nope");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "template")) << st.error_message();
  st = CreateReport(kjj_.drafter, "a", &out, "", "2023", kTemplate, "orgs/kjj/workflows/nope");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "workflow")) << st.error_message();
  st = CreateReport(kjj_.drafter, "a", &out, "", "2019");
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "no activity records")) << st.error_message();
  st = CreateReport(kjj_.drafter, "a", &out, "", "2023-13");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "period")) << st.error_message();
  st = CreateReport(kjj_.drafter, "Bad Id", &out);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  v1::SubmitReportRequest sr;
  sr.set_name("orgs/kjj/reports/absent");
  EXPECT_EQ(stack_->reports().SubmitReport(Stack::Ctx(kjj_.drafter).get(), sr, &out).error_code(),
            StatusCode::NOT_FOUND);
  v1::ListReportsRequest lr;
  lr.set_parent("orgs/kjj");
  v1::ListReportsResponse list;
  ASSERT_TRUE(stack_->reports().ListReports(Stack::Ctx(kjj_.drafter).get(), lr, &list).ok());
  EXPECT_EQ(list.reports_size(), 0);
  EXPECT_TRUE(ReadStream(stack_->redis(), Kjj(kAssembleQueue)).empty());
}

// Issue 11: ListReports(state=99) answered OK with nothing; a value the
// proto does not define is INVALID_ARGUMENT naming the field.
TEST_F(AssemblerTest, UnknownEnumValuesAreInvalidArgument) {
  v1::Report ready = Ready("enums");
  v1::ListReportsRequest lr;
  lr.set_parent("orgs/kjj");
  lr.set_state(static_cast<v1::ReportState>(99));
  v1::ListReportsResponse list;
  grpc::Status st = stack_->reports().ListReports(Stack::Ctx(kjj_.drafter).get(), lr, &list);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(st.error_message(), "state: ReportState has no value 99"))
      << st.error_message();
  lr.set_state(v1::REPORT_STATE_DRAFT);
  ASSERT_TRUE(stack_->reports().ListReports(Stack::Ctx(kjj_.drafter).get(), lr, &list).ok());
  EXPECT_EQ(list.reports_size(), 1);

  v1::GetDocumentRequest doc;
  doc.set_name(absl::StrCat(ready.name(), "/revisions/1"));
  v1::Document out;
  for (int format : {0, 99}) {
    doc.set_format(static_cast<typepb::DocumentFormat>(format));
    st = stack_->reports().GetDocument(Stack::Ctx(kjj_.drafter).get(), doc, &out);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << format;
    EXPECT_TRUE(absl::StartsWith(st.error_message(), "format: ")) << st.error_message();
  }
  doc.set_format(typepb::DOCUMENT_FORMAT_TXT);
  EXPECT_TRUE(stack_->reports().GetDocument(Stack::Ctx(kjj_.drafter).get(), doc, &out).ok());
}

TEST_F(AssemblerTest, WatchStreamsChangesUntilCancelled) {
  v1::Report r = Ready("watched");
  grpc::ClientContext ctx;
  auth::AttachToken(ctx, kjj_.drafter);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WatchReportRequest req;
  req.set_name(r.name());
  auto reader = stack_->reports().WatchReport(&ctx, req);
  v1::Report first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.current_revision(), 1);
  v1::Report out;
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "新的问题"}}, &out).ok());
  std::vector<v1::Report> seen;
  v1::Report msg;
  while (reader->Read(&msg)) {
    seen.push_back(msg);
    if (msg.current_revision() == 2 && !msg.assembling()) break;
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().current_revision(), 2);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i].version(), seen[i - 1].version());
  ctx.TryCancel();
  while (reader->Read(&msg)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
}

// On shutdown (SIGTERM: main calls StopWatches before the drain) a watch
// ends UNAVAILABLE with reason SHUTTING_DOWN, never OK, which a client
// would read as "the watch is over"; one opened then is refused the same.
TEST_F(AssemblerTest, WatchEndsUnavailableWhenTheServerStops) {
  v1::Report r = Ready("watched-at-shutdown");
  auto ctx = Stack::Ctx(kjj_.drafter);
  v1::WatchReportRequest req;
  req.set_name(r.name());
  auto reader = stack_->reports().WatchReport(ctx.get(), req);
  v1::Report msg;
  ASSERT_TRUE(reader->Read(&msg));
  stack_->report_grpc().StopWatches();
  while (reader->Read(&msg)) {
  }
  grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_EQ(errors::DetailsOf(FromGrpcStatus(st)).reason, "SHUTTING_DOWN");

  auto late_ctx = Stack::Ctx(kjj_.drafter);
  auto late = stack_->reports().WatchReport(late_ctx.get(), req);
  int received = 0;
  while (late->Read(&msg)) ++received;
  EXPECT_EQ(late->Finish().error_code(), StatusCode::UNAVAILABLE);
  EXPECT_EQ(received, 0);
}

// ------------------------------------------------------ issue 9: security

// Floods: each watch holds a server thread, so one caller may hold only a
// few at once; the next is refused, other callers are not affected, and a
// watch that ends gives its slot back.
TEST_F(AssemblerTest, WatchesPerCallerAreCapped) {
  v1::Report r = Ready("watch-flood");
  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::Report>> reader;
  };
  auto open = [&](const std::string& token) {
    Watch w;
    w.ctx = std::make_unique<grpc::ClientContext>();
    auth::AttachToken(*w.ctx, token);
    w.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WatchReportRequest req;
    req.set_name(r.name());
    w.reader = stack_->reports().WatchReport(w.ctx.get(), req);
    return w;
  };
  std::vector<Watch> mine;
  for (int i = 0; i < 4; ++i) {
    mine.push_back(open(kjj_.drafter));
    v1::Report first;
    ASSERT_TRUE(mine.back().reader->Read(&first)) << "watch " << i;
  }
  // The attack: one more, and then many more, from the same caller.
  for (int i = 0; i < 20; ++i) {
    Watch extra = open(kjj_.drafter);
    v1::Report msg;
    EXPECT_FALSE(extra.reader->Read(&msg));
    EXPECT_EQ(extra.reader->Finish().error_code(), StatusCode::RESOURCE_EXHAUSTED);
  }
  // Another caller still watches.
  Watch auditor = open(kjj_.auditor);
  v1::Report msg;
  ASSERT_TRUE(auditor.reader->Read(&msg));
  // Ending a watch frees its slot (the server notices at its next poll).
  mine[0].ctx->TryCancel();
  while (mine[0].reader->Read(&msg)) {
  }
  (void)mine[0].reader->Finish();
  bool reopened = false;
  for (int attempt = 0; attempt < 200 && !reopened; ++attempt) {
    Watch again = open(kjj_.drafter);
    if (again.reader->Read(&msg)) {
      reopened = true;
      again.ctx->TryCancel();
      while (again.reader->Read(&msg)) {
      }
      (void)again.reader->Finish();
    } else {
      EXPECT_EQ(again.reader->Finish().error_code(), StatusCode::RESOURCE_EXHAUSTED);
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  EXPECT_TRUE(reopened);
  auditor.ctx->TryCancel();
  for (size_t i = 1; i < mine.size(); ++i) {  // mine[0] is finished already.
    mine[i].ctx->TryCancel();
    while (mine[i].reader->Read(&msg)) {
    }
    (void)mine[i].reader->Finish();
  }
  while (auditor.reader->Read(&msg)) {
  }
  (void)auditor.reader->Finish();
}

// Opens one WatchReport stream per token at once and keeps those that
// started; the refused ones must say RESOURCE_EXHAUSTED with `why`.
class WatchCrowd {
 public:
  WatchCrowd(Stack& stack, const std::string& report, const std::vector<std::string>& tokens,
             const std::string& why) {
    for (const std::string& token : tokens) {
      ctxs_.push_back(std::make_unique<grpc::ClientContext>());
      auth::AttachToken(*ctxs_.back(), token);
      ctxs_.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::WatchReportRequest req;
      req.set_name(report);
      readers_.push_back(stack.reports().WatchReport(ctxs_.back().get(), req));
      v1::Report msg;
      if (readers_.back()->Read(&msg)) {
        ++open;
        continue;
      }
      grpc::Status st = readers_.back()->Finish();
      EXPECT_EQ(st.error_code(), StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_TRUE(absl::StrContains(st.error_message(), why)) << st.error_message();
      readers_.back().reset();
      ++refused;
    }
  }
  ~WatchCrowd() {
    for (auto& c : ctxs_) c->TryCancel();
    for (auto& rd : readers_) {
      if (!rd) continue;
      v1::Report msg;
      while (rd->Read(&msg)) {
      }
      (void)rd->Finish();
    }
  }
  int open = 0, refused = 0;

 private:
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs_;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Report>>> readers_;
};

class AssemblerWatchServerCapTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.max_watches = 3;
    return o;
  }
};

// Many principals together are bounded by the server's limit.
TEST_F(AssemblerWatchServerCapTest, WatchesPerServerAreCapped) {
  v1::Report r = Ready("watch-server");
  WatchCrowd crowd(*stack_, r.name(),
                   {kjj_.drafter, kjj_.auditor, kjj_.director, kjj_.secretary, kjj_.drafter},
                   "its limit");
  EXPECT_EQ(crowd.open, 3);
  EXPECT_EQ(crowd.refused, 2);
}

class AssemblerWatchOrgCapTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.max_watches_per_org = 3;
    return o;
  }
};

// An admin can mint subjects at will: one org's principals together are
// bounded, so that they cannot fill the server's slots for other orgs.
TEST_F(AssemblerWatchOrgCapTest, WatchesPerOrgAreCapped) {
  v1::Report r = Ready("watch-org");
  WatchCrowd crowd(*stack_, r.name(), {kjj_.drafter, kjj_.auditor, kjj_.director, kjj_.secretary},
                   "per org");
  EXPECT_EQ(crowd.open, 3);
  EXPECT_EQ(crowd.refused, 1);
}

// Whoever can write Redis swaps a published document's bytes: GetDocument
// refuses to serve them.
TEST_F(AssemblerTest, TamperedPublishedDocumentIsDataLoss) {
  v1::Report pub = Publish("tampered");
  ASSERT_EQ(pub.state(), v1::REPORT_STATE_PUBLISHED);
  RevisionRef ref{"kjj", "tampered", 1};
  auto w = stack_->redis().Command({"SET", Store::DocumentKey(ref, typepb::DOCUMENT_FORMAT_HTML),
                                    "<html><body>伪造的报告</body></html>"});
  ASSERT_TRUE(w.ok()) << w.status();
  v1::GetDocumentRequest dr;
  dr.set_name(ref.Name());
  dr.set_format(typepb::DOCUMENT_FORMAT_HTML);
  v1::Document doc;
  grpc::Status st = stack_->reports().GetDocument(Stack::Ctx(kjj_.auditor).get(), dr, &doc);
  EXPECT_EQ(st.error_code(), StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_TRUE(doc.content().empty());
  // The untouched documents are still served.
  dr.set_format(typepb::DOCUMENT_FORMAT_TXT);
  st = stack_->reports().GetDocument(Stack::Ctx(kjj_.auditor).get(), dr, &doc);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

// Separation of duties: a director who also drafts writes a narrative
// section, the drafter rewrites it and submits. Everyone who wrote the
// narrative is sent as excluded from approving, not only the submitter.
TEST_F(AssemblerTest, NarrativeAuthorsAreExcludedFromApproving) {
  const std::string director_drafting =
      stack_->Issue("kjj-director", "kjj", {"approver", "drafter"});
  const std::string writer = stack_->Issue("kjj-writer", "kjj", {"drafter"});
  v1::Report r = Ready("sod");
  v1::UpdateNarrativeRequest ur;
  ur.set_name(r.name());
  (*ur.mutable_narrative())["problems"] = "主任写的问题";
  v1::Report out;
  grpc::Status st =
      stack_->reports().UpdateNarrative(Stack::Ctx(director_drafting).get(), ur, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  (*ur.mutable_narrative())["problems"] = "起草人改过的问题";
  ASSERT_TRUE(stack_->reports().UpdateNarrative(Stack::Ctx(kjj_.drafter).get(), ur, &out).ok());
  ur.clear_narrative();
  (*ur.mutable_narrative())["next_steps"] = "写作者的打算";
  ASSERT_TRUE(stack_->reports().UpdateNarrative(Stack::Ctx(writer).get(), ur, &out).ok());
  // Queued jobs that a newer one supersedes are dropped: wait for the last.
  auto settled = stack_->WaitFor(kjj_.drafter, r.name(), [](const v1::Report& x) {
    return !x.assembling() && x.applied_job() == x.pending_job();
  });
  ASSERT_TRUE(settled.ok()) << settled.status();
  v1::Report ready = *settled;
  ASSERT_EQ(ready.narrative_authors().at("problems").users_size(), 2);
  EXPECT_EQ(ready.narrative_authors().at("problems").users(0), "kjj-director");
  EXPECT_EQ(
      Revision(r.name(), ready.current_revision()).narrative_authors().at("next_steps").users(0),
      "kjj-writer");

  v1::Report submitted;
  (void)Submit(ready, {kGap}, &submitted);  // The approval service may refuse: nobody left.
  auto sent = stack_->started_approvals();
  ASSERT_FALSE(sent.empty());
  const auto& start = sent.back();
  EXPECT_EQ(start.subject(), absl::StrCat(r.name(), "/revisions/", ready.current_revision()));
  EXPECT_EQ(std::vector<std::string>(start.excluded_approvers().begin(),
                                     start.excluded_approvers().end()),
            (std::vector<std::string>{"kjj-director", "kjj-drafter", "kjj-writer"}));
}

// A drafter may not pick a one-step workflow for the annual report: the org
// admin binds the template to the workflows its reports may use.
TEST_F(AssemblerTest, WorkflowsAreBoundToTheTemplateByTheAdmin) {
  const std::string quick = QuickWorkflow();
  v1::Report r;
  grpc::Status st = CreateReport(kjj_.drafter, "shortcut", &r, "", "2023", kTemplate, quick);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), kWorkflow)) << st.error_message();

  // Only the admin binds.
  v1::TemplateWorkflows bound;
  st = Bind(kjj_.drafter, kTemplate, {kWorkflow, quick}, &bound);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED) << st.error_message();
  st = Bind(kjj_.admin, kTemplate, {"orgs/kjj/workflows/typo"}, &bound);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();
  st = Bind(kjj_.admin, kTemplate, {"orgs/jyj/workflows/annual"}, &bound);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << st.error_message();

  // A template nobody bound: nothing goes.
  ASSERT_TRUE(stack_->CreateSharedTemplate("unbound", testing::kTemplateText).ok());
  st = CreateReport(kjj_.drafter, "unbound", &r, "", "2023", "templates/unbound", kWorkflow);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "no workflow is bound")) << st.error_message();

  // Bound to both: the quick one is allowed, pinned revisions too.
  ASSERT_TRUE(Bind(kjj_.admin, absl::StrCat(kTemplate, "@1"), {kWorkflow, quick}, &bound).ok());
  EXPECT_EQ(bound.template_(), kTemplate);
  EXPECT_EQ(bound.updated_by(), "kjj-admin");
  st = CreateReport(kjj_.drafter, "quick", &r, "", "2023", kTemplate, quick);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::Report ready = WaitRevision(r.name(), 1);

  // The admin narrows it again: the report made under the old binding
  // cannot be submitted on the quick workflow.
  ASSERT_TRUE(Bind(kjj_.admin, kTemplate, {kWorkflow}, &bound).ok());
  v1::GetTemplateWorkflowsRequest gr;
  gr.set_parent("orgs/kjj");
  gr.set_template_(kTemplate);
  ASSERT_TRUE(
      stack_->reports().GetTemplateWorkflows(Stack::Ctx(kjj_.drafter).get(), gr, &bound).ok());
  EXPECT_EQ(bound.workflows_size(), 1);
  v1::Report submitted;
  st = Submit(ready, {kGap}, &submitted);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), kWorkflow)) << st.error_message();
  EXPECT_EQ(GetWithStaleness(r.name()).state(), v1::REPORT_STATE_DRAFT);
  EXPECT_TRUE(stack_->started_approvals().empty());

  // Removing the binding stops everything of the template.
  ASSERT_TRUE(Bind(kjj_.admin, kTemplate, {}, &bound).ok());
  st = CreateReport(kjj_.drafter, "after-unbind", &r);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  st = stack_->reports().GetTemplateWorkflows(Stack::Ctx(kjj_.drafter).get(), gr, &bound);
  EXPECT_EQ(st.error_code(), StatusCode::NOT_FOUND);
}

// A drafter starts a second approval directly at the approval service on
// the revision in review (before the assembler recorded its own), and
// later one on the published revision: neither publishes or republishes.
TEST_F(AssemblerTest, OnlyTheApprovalTheAssemblerStartedPublishes) {
  v1::Report r = Ready("second-approval");
  const std::string subject = absl::StrCat(r.name(), "/revisions/1");
  // The window between SubmitReport marking the report IN_REVIEW and
  // recording its approval (kept open, as a submit that stopped there).
  ReportRef ref{"kjj", "second-approval"};
  auto cur = stack_->store().ReadReport(ref);
  ASSERT_TRUE(cur.ok()) << cur.status();
  v1::Report next = *cur;
  MarkInReview(next, 1, {kGap}, absl::ToUnixSeconds(absl::Now()));
  auto c = stack_->store().Commit(CommitBuilder(ref, cur->version(), next));
  ASSERT_TRUE(c.ok() && c->outcome == Outcome::kOk);

  apb::Approval rogue;
  grpc::Status st = StartDirectly(kjj_.drafter, subject, kWorkflow, &rogue);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(Decide(kjj_.director, rogue.name(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, rogue.name(), true).ok());

  // Its approval published nothing, and the approval service will not
  // approve that revision again: the drafter's submit is refused (naming
  // the other approval) and the report is a draft again, to be reassembled.
  WaitEventsHandled();
  EXPECT_TRUE(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).empty());
  v1::SubmitReportRequest sr;
  sr.set_name(r.name());
  v1::Report resumed;
  st = stack_->reports().SubmitReport(Stack::Ctx(kjj_.drafter).get(), sr, &resumed);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), rogue.name())) << st.error_message();
  v1::Report now = GetWithStaleness(r.name());
  EXPECT_EQ(now.state(), v1::REPORT_STATE_DRAFT);
  EXPECT_TRUE(now.approval().empty());
  EXPECT_TRUE(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).empty());

  // A report published by its own approval: another approval on the
  // published revision is refused, and nothing is republished.
  v1::Report pub = Publish("second-approval-2");
  ASSERT_EQ(pub.state(), v1::REPORT_STATE_PUBLISHED);
  ASSERT_EQ(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).size(), 1u);
  apb::Approval again;
  st = StartDirectly(kjj_.drafter, absl::StrCat(pub.name(), "/revisions/1"), kWorkflow, &again);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION) << st.error_message();
  WaitEventsHandled();
  EXPECT_EQ(ReadStream(stack_->redis(), Kjj(kPublishedEvents)).size(), 1u);
  v1::Revision rev = Revision(pub.name(), 1);
  EXPECT_EQ(rev.approval(), pub.approval());
  EXPECT_EQ(rev.digest(), pub.digest());
}

// The audit anchor: the published revision, the report and the published
// event carry the approval's history head, the hash VerifyHistory reports.
TEST_F(AssemblerTest, PublicationAnchorsTheApprovalHistoryHead) {
  v1::Report pub = Publish("anchored");
  ASSERT_EQ(pub.state(), v1::REPORT_STATE_PUBLISHED);
  apb::VerifyHistoryRequest vr;
  vr.set_name(pub.approval());
  apb::VerifyHistoryResponse verified;
  grpc::Status st =
      stack_->approvals().VerifyHistory(Stack::Ctx(kjj_.auditor).get(), vr, &verified);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(verified.ok()) << verified.problem();
  ASSERT_FALSE(verified.head_hash().empty());
  EXPECT_EQ(pub.approval_history_head(), verified.head_hash());
  EXPECT_EQ(Revision(pub.name(), 1).approval_history_head(), verified.head_hash());
  auto published = ReadStream(stack_->redis(), Kjj(kPublishedEvents));
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0]["approval_history_head"], verified.head_hash());
  EXPECT_EQ(published[0]["approval"], pub.approval());
}

// The org's log gets one REPORT_ASSEMBLED per stored revision and one
// REPORT_PUBLISHED per publication, each in the commit that made it, with
// the approval's transitions in between; another org's log none of them.
TEST_F(AssemblerTest, AssemblyAndPublicationAreEventsInTheOrgLog) {
  auto jyj = stack_->SetUpOrg("jyj");
  ASSERT_TRUE(jyj.ok()) << jyj.status();
  ASSERT_TRUE(stack_->AddBaseYear("jyj").ok());
  v1::Report theirs;
  ASSERT_TRUE(CreateReport(jyj->drafter, "theirs", &theirs, "", "2023", "orgs/jyj/templates/annual",
                           "orgs/jyj/workflows/annual", "orgs/jyj")
                  .ok());

  v1::Report created;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "evented", &created, "req-evented").ok());
  v1::Report r = WaitRevision(created.name(), 1);
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true, "同意").ok());
  v1::Report pub = WaitState(r.name(), v1::REPORT_STATE_PUBLISHED);
  ASSERT_TRUE(stack_
                  ->WaitFor(jyj->drafter, theirs.name(),
                            [](const v1::Report& x) { return x.current_revision() >= 1; })
                  .ok());

  // The base year's records are in the same log (records writes them);
  // this test is about what the assembler and approval append.
  std::vector<events::v1::Event> log;
  for (events::v1::Event& e : OrgEvents(stack_->redis(), "kjj")) {
    if (e.kind() > events::v1::EVENT_KIND_ACTIVITY_VOIDED) log.push_back(std::move(e));
  }
  std::vector<events::v1::EventKind> kinds;
  for (const auto& e : log) {
    kinds.push_back(e.kind());
    EXPECT_EQ(e.org(), "orgs/kjj");
  }
  using K = events::v1::EventKind;
  EXPECT_EQ(kinds, (std::vector<K>{events::v1::EVENT_KIND_REPORT_ASSEMBLED,
                                   events::v1::EVENT_KIND_APPROVAL_TRANSITION,
                                   events::v1::EVENT_KIND_APPROVAL_TRANSITION,
                                   events::v1::EVENT_KIND_APPROVAL_TRANSITION,
                                   events::v1::EVENT_KIND_REPORT_PUBLISHED}));
  ASSERT_EQ(log.size(), 5u);
  const events::v1::Event& assembled = log[0];
  EXPECT_EQ(assembled.actor(), "kjj-drafter");
  EXPECT_EQ(assembled.request_id(), "req-evented");
  EXPECT_EQ(assembled.report_assembled().report(), r.name());
  EXPECT_EQ(assembled.report_assembled().revision(), 1);
  EXPECT_EQ(std::vector<std::string>(assembled.report_assembled().missing_figures().begin(),
                                     assembled.report_assembled().missing_figures().end()),
            std::vector<std::string>{kGap});
  EXPECT_EQ(log[1].approval_transition().action(), "started");
  EXPECT_EQ(log[1].approval_transition().subject(), absl::StrCat(r.name(), "/revisions/1"));
  EXPECT_EQ(log[3].approval_transition().state(), apb::APPROVAL_STATE_APPROVED);

  v1::Revision rev = Revision(r.name(), 1);
  const events::v1::Event& published = log[4];
  const events::v1::ReportPublished& p = published.report_published();
  EXPECT_EQ(published.actor(), "kjj-secretary");
  EXPECT_EQ(published.request_id(), "");
  EXPECT_EQ(p.report(), r.name());
  EXPECT_EQ(p.revision(), 1);
  EXPECT_EQ(p.digest(), rev.digest());
  EXPECT_EQ(p.digest(), pub.digest());
  EXPECT_EQ(p.signer(), "kjj-secretary");
  EXPECT_EQ(p.issue_date(), rev.issue_date());
  ASSERT_EQ(p.documents_size(), rev.documents_size());
  ASSERT_EQ(p.documents_size(), 6);  // TXT, MD, HTML, DOCX, PDF, OFD
  for (int i = 0; i < p.documents_size(); ++i) {
    EXPECT_EQ(p.documents(i).SerializeAsString(), rev.documents(i).SerializeAsString()) << i;
    EXPECT_EQ(p.documents(i).sha256().size(), 64u);
  }

  // The approved event delivered again publishes nothing more.
  ASSERT_NO_FATAL_FAILURE(ExpectRedeliveredApprovalChangesNothing(r, pub));
  EXPECT_EQ(
      OfKind(OrgEvents(stack_->redis(), "kjj"), events::v1::EVENT_KIND_REPORT_PUBLISHED).size(),
      1u);

  // A correction stores revision 2: one more REPORT_ASSEMBLED.
  v1::Report out;
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "补充"}}, &out, /*correction=*/true).ok());
  WaitRevision(r.name(), 2);
  auto assembled_all =
      OfKind(OrgEvents(stack_->redis(), "kjj"), events::v1::EVENT_KIND_REPORT_ASSEMBLED);
  ASSERT_EQ(assembled_all.size(), 2u);
  EXPECT_EQ(assembled_all[1].report_assembled().revision(), 2);
  EXPECT_EQ(assembled_all[1].request_id(), "");

  // jyj's log holds jyj's own: its base year's records and its report.
  std::vector<events::v1::Event> jyj_log = OrgEvents(stack_->redis(), "jyj");
  for (const events::v1::Event& e : jyj_log) EXPECT_EQ(e.org(), "orgs/jyj");
  std::vector<events::v1::Event> other = OfKind(jyj_log, events::v1::EVENT_KIND_REPORT_ASSEMBLED);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].report_assembled().report(), "orgs/jyj/reports/theirs");
}

// ------------------------------------------------ without running workers

class AssemblerManualTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.workers = 0;
    return o;
  }

  streams::ConsumerOptions ConsumerOptions(const std::string& name) {
    streams::ConsumerOptions o;
    o.stream = Kjj(kAssembleQueue);
    o.group = std::string(kConsumerGroup);
    o.consumer = name;
    o.block = absl::Milliseconds(20);
    o.claim_idle = absl::Milliseconds(100);
    return o;
  }

  // Handles everything the queue holds.
  void Drain(streams::Consumer& c) {
    for (int i = 0; i < 10; ++i) {
      auto n =
          c.Poll([this](const streams::Entry& e) { return stack_->workers().HandleAssemble(e); },
                 [this](const streams::Entry& e, const absl::Status& s) {
                   stack_->workers().OnAssembleDead(e, s);
                 });
      ASSERT_TRUE(n.ok()) << n.status();
    }
  }

  int64_t Exists(const std::string& key) {
    auto r = stack_->redis().Command({"EXISTS", key});
    return r.ok() ? r->Int() : -1;
  }
};

TEST_F(AssemblerManualTest, RedeliveredJobNeverMakesASecondRevision) {
  v1::Report r;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "once", &r).ok());
  auto jobs = ReadStream(stack_->redis(), Kjj(kAssembleQueue));
  ASSERT_EQ(jobs.size(), 1u);
  streams::Fields fields;
  for (const auto& [k, v] : jobs[0]) {
    if (k != "_id") fields.emplace_back(k, v);
  }
  // The same job twice more, as a producer retry or a replay would.
  ASSERT_TRUE(streams::Add(stack_->redis(), Kjj(kAssembleQueue), fields).ok());
  ASSERT_TRUE(streams::Add(stack_->redis(), Kjj(kAssembleQueue), fields).ok());

  // A worker that dies after storing the revision, before its XACK.
  streams::Consumer crashed(&stack_->redis(), ConsumerOptions("crashed"));
  ASSERT_TRUE(crashed.EnsureGroup().ok());
  auto got = crashed.ReadNew();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ(stack_->workers().HandleAssemble((*got)[0]).outcome, streams::Outcome::kDone);
  EXPECT_EQ(stack_->workers().HandleAssemble((*got)[0]).outcome, streams::Outcome::kDone);

  // Another worker takes over the abandoned entries.
  absl::SleepFor(absl::Milliseconds(150));
  streams::Consumer rescuer(&stack_->redis(), ConsumerOptions("rescuer"));
  Drain(rescuer);

  v1::Report now = WaitRevision(r.name(), 1);
  EXPECT_EQ(now.current_revision(), 1);
  EXPECT_EQ(now.applied_job(), 1);
  EXPECT_EQ(Exists(Store::RevisionKey(RevisionRef{"kjj", "once", 1})), 1);
  EXPECT_EQ(Exists(Store::RevisionKey(RevisionRef{"kjj", "once", 2})), 0);
  auto pending = stack_->redis().Command({"XPENDING", Kjj(kAssembleQueue), "assembler"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ((*pending)[0].Int(), 0);
  auto job_rev = stack_->redis().Command({"GET", JobIdempotencyKey({"kjj", "once", 1, ""})});
  ASSERT_TRUE(job_rev.ok());
  EXPECT_EQ(job_rev->Str(), "1");
  // One stored revision, one event: the redeliveries appended none.
  std::vector<events::v1::Event> log =
      OfKind(OrgEvents(stack_->redis(), "kjj"), events::v1::EVENT_KIND_REPORT_ASSEMBLED);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].report_assembled().revision(), 1);
  EXPECT_EQ(log[0].actor(), "kjj-drafter");
}

TEST_F(AssemblerManualTest, OnlyTheNewestOfQueuedJobsAssembles) {
  v1::Report r, out;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "burst", &r).ok());
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "一"}}, &out).ok());
  ASSERT_TRUE(UpdateNarrative(r.name(), {{"problems", "二"}}, &out).ok());
  EXPECT_EQ(out.pending_job(), 3);
  streams::Consumer c(&stack_->redis(), ConsumerOptions("solo"));
  ASSERT_TRUE(c.EnsureGroup().ok());
  Drain(c);
  v1::Report now = WaitRevision(r.name(), 1);
  EXPECT_EQ(now.current_revision(), 1);
  EXPECT_EQ(now.applied_job(), 3);
  EXPECT_EQ(Revision(r.name(), 1).narrative().at("problems"), "二");
}

// ------------------------------------- approval events driven by hand

class AssemblerEventsByHandTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.event_workers = 0;  // Assembly runs; approval events wait for the test.
    return o;
  }

  // The approved event of the report's approval, as the worker reads it.
  streams::Entry ApprovedEvent(const std::string& approval) {
    streams::Entry entry;
    entry.id = "by-hand";
    for (const auto& e : ReadStream(stack_->redis(), Kjj(kApprovalEvents))) {
      if (e.at("type") != "approved" || e.at("approval") != approval) continue;
      for (const auto& [k, v] : e) {
        if (k != "_id") entry.fields.emplace_back(k, v);
      }
    }
    return entry;
  }

  v1::Report Stored(const std::string& id) {
    auto r = stack_->store().ReadReport(ReportRef{"kjj", id});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Report();
  }

  v1::DocumentNumber Number(int64_t id) {
    auto n = stack_->store().ReadDocumentNumber("kjj", id);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : v1::DocumentNumber();
  }
};

// The worker's whole path: the 发文字号 allocated at sign-off and printed on
// the published revision with its 签发人 (a redelivery gives it again); a
// publication that failed for good voids its number and says so; a replay
// of the event then publishes with a new number, never the voided one.
TEST_F(AssemblerEventsByHandTest, AFailedPublicationVoidsItsNumberAndAReplayGetsANewOne) {
  v1::UpdateDocumentSettingsRequest set;
  set.mutable_document_settings()->set_name("orgs/kjj/documentSettings");
  set.mutable_document_settings()->set_issuing_mark("中共某市科学技术局党组");
  set.mutable_document_settings()->set_code("某科党");
  set.mutable_document_settings()->set_upward(true);
  v1::DocumentSettings settings;
  grpc::Status st =
      stack_->reports().UpdateDocumentSettings(Stack::Ctx(kjj_.admin).get(), set, &settings);
  ASSERT_TRUE(st.ok()) << st.error_message();

  v1::Report r = Ready("stuck");
  v1::Report submitted;
  ASSERT_TRUE(Submit(r, {kGap}, &submitted).ok());
  ASSERT_TRUE(Decide(kjj_.director, submitted.approval(), true).ok());
  ASSERT_TRUE(Decide(kjj_.secretary, submitted.approval(), true).ok());
  streams::Entry approved = ApprovedEvent(submitted.approval());
  ASSERT_FALSE(approved.fields.empty());
  EXPECT_EQ(approved.Get("signer_names"), R"(["张秘书"])");

  // What the worker records before rendering; then it gives up for good.
  const RevisionRef rev{"kjj", "stuck", 1};
  SignOff sign_off{submitted.approval(), "kjj-secretary", 0, {"张秘书"}};
  ASSERT_TRUE(absl::SimpleAtoi(approved.Get("sign_off_unix"), &sign_off.sign_off_unix));
  auto numbering = NumberSignOff(stack_->store(), rev, sign_off, sign_off.sign_off_unix);
  ASSERT_TRUE(numbering.ok()) << numbering.status();
  const int year = static_cast<int>(IssueDateOf(sign_off.sign_off_unix).year());
  EXPECT_EQ(numbering->display, absl::StrCat("某科党〔", year, "〕1号"));
  auto again = NumberSignOff(stack_->store(), rev, sign_off, sign_off.sign_off_unix);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name, numbering->name);  // A redelivery: the same number.
  auto stored = stack_->store().ReadReport(rev.report());
  ASSERT_TRUE(stored.ok());
  v1::Report approved_report = *stored;
  MarkApproved(approved_report, sign_off, *numbering, sign_off.sign_off_unix);
  auto committed =
      stack_->store().Commit(CommitBuilder(rev.report(), stored->version(), approved_report));
  ASSERT_TRUE(committed.ok() && committed->outcome == Outcome::kOk);

  stack_->workers().OnApprovalEventDead(approved, absl::UnavailableError("templates away"));
  v1::DocumentNumber first = Number(1);
  EXPECT_EQ(first.state(), v1::DOCUMENT_NUMBER_STATE_VOIDED);
  EXPECT_EQ(first.voided_by(), "system");
  EXPECT_TRUE(absl::StrContains(first.void_reason(), "publication failed")) << first.void_reason();
  v1::Report dead = Stored("stuck");
  EXPECT_EQ(dead.state(), v1::REPORT_STATE_APPROVED);
  EXPECT_TRUE(absl::StrContains(dead.error(), "is voided")) << dead.error();

  // The operator replays the event: published, numbered anew.
  EXPECT_EQ(stack_->workers().HandleApprovalEvent(approved).outcome, streams::Outcome::kDone);
  v1::Report pub = Stored("stuck");
  ASSERT_EQ(pub.state(), v1::REPORT_STATE_PUBLISHED) << pub.error();
  v1::Revision frozen = Revision(r.name(), 1);
  EXPECT_EQ(frozen.document_number(), absl::StrCat("某科党〔", year, "〕2号"));
  EXPECT_EQ(frozen.document_number_name(), "orgs/kjj/documentNumbers/2");
  EXPECT_EQ(std::vector<std::string>(frozen.signer_names().begin(), frozen.signer_names().end()),
            std::vector<std::string>{"张秘书"});
  EXPECT_EQ(frozen.document_settings().code(), "某科党");
  v1::DocumentNumber second = Number(2);
  EXPECT_EQ(second.state(), v1::DOCUMENT_NUMBER_STATE_ISSUED);
  EXPECT_TRUE(second.published());
  EXPECT_EQ(second.revision(), frozen.name());
  auto published = ReadStream(stack_->redis(), Kjj(kPublishedEvents));
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0]["document_number"], frozen.document_number());
  EXPECT_EQ(published[0]["signer_names"], R"(["张秘书"])");
  // Nothing pending: the code may change now.
  auto pending = stack_->redis().Command({"SCARD", Store::PendingNumbersKey("kjj")});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->Int(), 0);
}

// --------------------------------------------- permanent assembly failure

class AssemblerFailureTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.worker_token = "not-a-token";  // The records service refuses it for good.
    return o;
  }
};

TEST_F(AssemblerFailureTest, DeadLetteredJobShowsTheErrorAndReassembleRecovers) {
  v1::Report r;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "doomed", &r).ok());
  v1::Report failed = WaitState(r.name(), v1::REPORT_STATE_FAILED);
  EXPECT_FALSE(failed.assembling());
  EXPECT_TRUE(absl::StrContains(failed.error(), "records")) << failed.error();
  EXPECT_TRUE(absl::StrContains(failed.error(), "doomed#1")) << failed.error();
  auto dead = ReadStream(stack_->redis(), streams::DeadLetterStream(Kjj(kAssembleQueue)));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["report"], r.name());
  v1::Report out;
  v1::SubmitReportRequest sr;
  sr.set_name(r.name());
  EXPECT_EQ(stack_->reports().SubmitReport(Stack::Ctx(kjj_.drafter).get(), sr, &out).error_code(),
            StatusCode::FAILED_PRECONDITION);

  // With the workers fixed, Reassemble brings it back.
  stack_->StopWorkers();
  v1::ReassembleRequest rr;
  rr.set_name(r.name());
  ASSERT_TRUE(stack_->reports().Reassemble(Stack::Ctx(kjj_.drafter).get(), rr, &out).ok());
  EXPECT_EQ(out.state(), v1::REPORT_STATE_DRAFT);
  EXPECT_TRUE(out.error().empty());
  Workers fixed(&stack_->store(), &stack_->upstream(), CallAs::Token(stack_->service_token()));
  streams::ConsumerOptions o;
  o.stream = Kjj(kAssembleQueue);
  o.group = std::string(kConsumerGroup);
  o.consumer = "fixed";
  o.block = absl::Milliseconds(20);
  streams::Consumer c(&stack_->redis(), o);
  for (int i = 0; i < 5; ++i) {
    auto n =
        c.Poll([&](const streams::Entry& e) { return fixed.HandleAssemble(e); },
               [&](const streams::Entry& e, const absl::Status& s) { fixed.OnAssembleDead(e, s); });
    ASSERT_TRUE(n.ok()) << n.status();
  }
  v1::Report back = WaitRevision(r.name(), 1);
  EXPECT_EQ(back.state(), v1::REPORT_STATE_DRAFT);
  EXPECT_EQ(back.current_revision(), 1);
  EXPECT_EQ(back.applied_job(), 2);
}

// ------------------------------------------------------------- queue

// Replicas whose CreateReport never assembles: every first revision is a
// worker's job (as when all inline slots are taken).
class AssemblerQueueTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.inline_assemblies = 0;
    return o;
  }
};

TEST_F(AssemblerQueueTest, WithoutAFreeSlotCreateQueuesTheFirstJob) {
  v1::Report created;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "queued", &created).ok());
  EXPECT_TRUE(created.assembling());
  EXPECT_EQ(created.current_revision(), 0);
  auto jobs = ReadStream(stack_->redis(), Kjj(kAssembleQueue));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["report"], created.name());
  v1::Report ready = WaitRevision(created.name(), 1);
  EXPECT_EQ(ready.applied_job(), 1);
  EXPECT_TRUE(absl::StrContains(Revision(created.name(), 1).text(), "谈心谈话12人次"));
}

// ----------------------------------------------------------- upgrade

// A job the code before queued on the global gr:q:assemble (before per-org
// queues) is still assembled, once, by workers that walk the org index.
TEST_F(AssemblerQueueTest, AJobOnTheGlobalQueueOfTheLayoutBeforeIsAssembled) {
  stack_->StopWorkers();
  v1::Report r;
  ASSERT_TRUE(CreateReport(kjj_.drafter, "legacy", &r).ok());
  auto jobs = ReadStream(stack_->redis(), Kjj(kAssembleQueue));
  ASSERT_EQ(jobs.size(), 1u);
  streams::Fields fields;
  for (const auto& [k, v] : jobs[0]) {
    if (k != "_id") fields.emplace_back(k, v);
  }
  // Where the code before put it.
  ASSERT_TRUE(stack_->redis().Command({"DEL", Kjj(kAssembleQueue)}).ok());
  ASSERT_TRUE(streams::Add(stack_->redis(), std::string(kAssembleQueue), fields).ok());

  Workers upgraded(&stack_->store(), &stack_->upstream(), CallAs::Token(stack_->service_token()));
  streams::ConsumerOptions o;
  o.stream = std::string(kAssembleQueue);
  o.group = std::string(kConsumerGroup);
  o.consumer = "upgraded";
  o.block = absl::Milliseconds(20);
  streams::IndexedConsumer c(&stack_->redis(), o);
  for (int i = 0; i < 5; ++i) {
    auto n = c.Poll([&](const streams::Entry& e) { return upgraded.HandleAssemble(e); });
    ASSERT_TRUE(n.ok()) << n.status();
  }
  auto stored = stack_->store().ReadReport(ReportRef{"kjj", "legacy"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->current_revision(), 1);
  EXPECT_EQ(stored->applied_job(), 1);
  auto pending = stack_->redis().Command(
      {"XPENDING", std::string(kAssembleQueue), std::string(kConsumerGroup)});
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ((*pending)[0].Int(), 0);
}

// ------------------------------------------------------ several replicas

class AssemblerReplicasTest : public AssemblerTest {
 protected:
  StackOptions Options() override {
    StackOptions o;
    o.replicas = 2;
    o.inline_assemblies = 0;  // Every report goes through the shared queue.
    return o;
  }
};

TEST_F(AssemblerReplicasTest, ReplicasShareTheQueueAndEachJobAssemblesOnce) {
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) {
    v1::Report r;
    v1::CreateReportRequest req;
    req.set_parent("orgs/kjj");
    req.set_report_id(absl::StrCat("r", i));
    req.set_period("2023");
    req.set_template_(kTemplate);
    req.set_workflow(kWorkflow);
    ASSERT_TRUE(stack_->reports(i % 2).CreateReport(Stack::Ctx(kjj_.drafter).get(), req, &r).ok());
    names.push_back(r.name());
  }
  for (const auto& name : names) {
    v1::Report r = WaitRevision(name, 1);
    EXPECT_EQ(r.current_revision(), 1);
    EXPECT_EQ(r.applied_job(), 1);
  }
  // Every worker thread joins the org's group (2 replicas × 2 threads),
  // each once it has first seen the org's queue in the index.
  size_t joined = 0;
  for (absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    auto consumers = stack_->redis().Command(
        {"XINFO", "CONSUMERS", Kjj(kAssembleQueue), std::string(kConsumerGroup)});
    ASSERT_TRUE(consumers.ok());
    joined = consumers->Size();
    if (joined == 4) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(joined, 4u);
}

}  // namespace
}  // namespace govreport::assembler
