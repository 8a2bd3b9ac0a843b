// A city body's report on its departments, through the whole suite: the
// city's profile rolls up, two departments report to it and share their
// figures, and the city's template writes the total and a line per
// department. The revision keeps the roll-up it was assembled from (the
// preview renders the same text from it), and a department's new record
// makes the city's report stale, naming the rolled-up figure.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "gtest/gtest.h"
#include "shipped_profile.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {
namespace {

using testing::kOperator;
using testing::Stack;
namespace rpb = ::govreport::records::v1;
namespace typepb = ::govreport::type::v1;

constexpr char kCityTemplate[] =
    "{{org.short_name}}{{period.year}}年度所属单位工作情况\n"
    "所属单位共开展主题党日{{rollup.theme_party_days}}次。\n"
    "{{#rollup.children}}{{name}}{{ind.theme_party_days}}次；{{/rollup.children}}\n";

class AssemblerRollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Stack::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    auto city = stack_->SetUpOrg("city");
    ASSERT_TRUE(city.ok()) << city.status();
    city_ = *city;
    for (const char* dept : {"kjj", "jyj"}) ASSERT_TRUE(stack_->SetUpOrg(dept).ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->records_port()),
                                   grpc::InsecureChannelCredentials());
    for (const char* dept : {"kjj", "jyj"}) {
      rpb::UpdateOrgRequest req;
      req.mutable_org()->set_name(absl::StrCat("orgs/", dept));
      req.mutable_org()->set_parent("orgs/city");
      req.mutable_org()->set_figures_shared_with_parent(true);
      req.add_update_mask("parent");
      req.add_update_mask("figures_shared_with_parent");
      rpb::Org out;
      grpc::Status st =
          rpb::OrgService::Stub(channel_).UpdateOrg(Stack::Ctx(kOperator).get(), req, &out);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }
    rpb::LoadProfileRequest load;
    load.set_parent("orgs/city");
    *load.mutable_profile() = govreport::testing::ShippedProfile();
    load.mutable_profile()->set_rollup(true);
    rpb::LoadProfileResponse loaded;
    grpc::Status st = rpb::IndicatorService::Stub(channel_).LoadProfile(Stack::Ctx(kOperator).get(),
                                                                        load, &loaded);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_TRUE(stack_->UpdateTemplate("orgs/city/templates/annual", kCityTemplate).ok());
    ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2023-03-01").ok());
    ASSERT_TRUE(stack_->AddActivity("jyj", "theme_party_day", "2023-04-01").ok());
    ASSERT_TRUE(stack_->AddActivity("jyj", "theme_party_day", "2023-05-01").ok());
  }

  v1::Report Assembled() {
    v1::CreateReportRequest req;
    req.set_parent("orgs/city");
    req.set_report_id("rollup-2023");
    req.set_period("2023");
    req.set_template_("orgs/city/templates/annual");
    req.set_workflow("orgs/city/workflows/annual");
    v1::Report created;
    grpc::Status st =
        stack_->reports().CreateReport(Stack::Ctx(city_.drafter).get(), req, &created);
    EXPECT_TRUE(st.ok()) << st.error_message();
    auto ready = stack_->WaitFor(city_.drafter, created.name(), [](const v1::Report& r) {
      return r.current_revision() >= 1 && !r.assembling();
    });
    EXPECT_TRUE(ready.ok()) << ready.status();
    return ready.ok() ? *ready : v1::Report();
  }

  v1::Revision Revision(const std::string& report) {
    v1::GetRevisionRequest req;
    req.set_name(absl::StrCat(report, "/revisions/1"));
    v1::Revision out;
    grpc::Status st = stack_->reports().GetRevision(Stack::Ctx(city_.drafter).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  std::unique_ptr<Stack> stack_;
  testing::OrgTokens city_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(AssemblerRollupTest, TheCitysReportWritesTheTotalAndEachDepartment) {
  v1::Report report = Assembled();
  v1::Revision rev = Revision(report.name());
  EXPECT_TRUE(absl::StrContains(rev.text(), "所属单位共开展主题党日3次。")) << rev.text();
  EXPECT_TRUE(absl::StrContains(rev.text(), "市jyj局2次；市kjj局1次；")) << rev.text();
  ASSERT_TRUE(rev.has_rollup());
  EXPECT_EQ(rev.rollup().children_size(), 2);
  // The draft preview renders again from the revision's snapshot, roll-up
  // included.
  v1::GetDocumentRequest dr;
  dr.set_name(rev.name());
  dr.set_format(typepb::DOCUMENT_FORMAT_TXT);
  v1::Document doc;
  grpc::Status st = stack_->reports().GetDocument(Stack::Ctx(city_.auditor).get(), dr, &doc);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(doc.content(), rev.text());
}

TEST_F(AssemblerRollupTest, ADepartmentsNewRecordMakesTheCitysReportStale) {
  v1::Report report = Assembled();
  ASSERT_TRUE(stack_->AddActivity("kjj", "theme_party_day", "2023-09-01").ok());
  v1::GetReportRequest req;
  req.set_name(report.name());
  v1::Report now;
  grpc::Status st = stack_->reports().GetReport(Stack::Ctx(city_.drafter).get(), req, &now);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(now.staleness().stale());
  std::vector<std::string> keys;
  for (const auto& c : now.staleness().changed_figures()) keys.push_back(c.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"rollup.theme_party_days",
                                            "rollup.theme_party_days@orgs/kjj"}));
  EXPECT_EQ(now.staleness().changed_figures(0).to_value(), 4);
}

}  // namespace
}  // namespace govreport::assembler
