// What every service checks of a request before it reads it: enum values
// (common/enums.h), UTF-8 (common/utf8.h) and the answer to a request that
// did not parse (common/parse_errors.h).
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/parse_errors.h"
#include "common/utf8.h"
#include "govreport/approval/v1/approval.pb.h"
#include "govreport/assembler/v1/reports.pb.h"
#include "govreport/auth/v1/auth.pb.h"
#include "gtest/gtest.h"

namespace govreport {
namespace {

namespace apb = ::govreport::assembler::v1;
namespace typepb = ::govreport::type::v1;

TEST(CheckEnumTest, DefinedValuesPassAndOthersNameTheField) {
  EXPECT_TRUE(CheckEnum("state", apb::REPORT_STATE_DRAFT, Unspecified::kAllowed).ok());
  EXPECT_TRUE(CheckEnum("state", apb::REPORT_STATE_UNSPECIFIED, Unspecified::kAllowed).ok());
  absl::Status st = CheckEnum("state", static_cast<apb::ReportState>(99), Unspecified::kAllowed);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      st.message(),
      "state: ReportState has no value 99; one of REPORT_STATE_DRAFT, REPORT_STATE_IN_REVIEW, "
      "REPORT_STATE_APPROVED, REPORT_STATE_PUBLISHED, REPORT_STATE_FAILED "
      "(or unset)");
  st = CheckEnum("format", typepb::DOCUMENT_FORMAT_UNSPECIFIED, Unspecified::kRefused);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "format: must be set, one of DOCUMENT_FORMAT_TXT, DOCUMENT_FORMAT_MD, "
            "DOCUMENT_FORMAT_HTML, DOCUMENT_FORMAT_DOCX, DOCUMENT_FORMAT_PDF, "
            "DOCUMENT_FORMAT_OFD");
  EXPECT_EQ(
      CheckEnum("format", static_cast<typepb::DocumentFormat>(-1), Unspecified::kRefused).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(EnumNamesTest, ShortNamesDropTheEnumsPrefix) {
  EXPECT_EQ(EnumValuePrefix(apb::ReportState_descriptor()), "REPORT_STATE_");
  EXPECT_EQ(ShortEnumName(apb::REPORT_STATE_IN_REVIEW), "IN_REVIEW");
  EXPECT_EQ(ShortEnumName(::govreport::approval::v1::TASK_STATE_PENDING), "PENDING");
  EXPECT_EQ(ShortEnumName(static_cast<apb::ReportState>(42)), "42");
  const auto* d = apb::ReportState_descriptor();
  EXPECT_EQ(FindEnumValue(d, "PUBLISHED")->number(), apb::REPORT_STATE_PUBLISHED);
  EXPECT_EQ(FindEnumValue(d, "REPORT_STATE_PUBLISHED")->number(), apb::REPORT_STATE_PUBLISHED);
  EXPECT_EQ(FindEnumValue(d, "published"), nullptr);
  EXPECT_EQ(FindEnumValue(d, "SHIPPED"), nullptr);
}

// The demo workflow file writes "kind": "REVIEW", "mode": "ALL".
TEST(ParseHumanWrittenTest, ShippedWorkflowWithShortNamesLoads) {
  std::ifstream in(absl::StrCat(GOVREPORT_SOURCE_DIR, "/deploy/demo/workflow.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  ::govreport::approval::v1::Workflow w;
  absl::Status st = ParseHumanWritten(ss.str(), FileSyntax::kJson, &w);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(w.steps_size(), 3);
  EXPECT_EQ(w.steps(0).kind(), ::govreport::approval::v1::STEP_KIND_REVIEW);
  EXPECT_EQ(w.steps(1).mode(), ::govreport::approval::v1::STEP_MODE_ALL);
  EXPECT_EQ(w.steps(2).kind(), ::govreport::approval::v1::STEP_KIND_SIGN_OFF);
  EXPECT_EQ(w.steps(2).due_seconds(), 259200);
}

TEST(ParseHumanWrittenTest, UnknownAndAmbiguousNamesAreRefused) {
  ::govreport::auth::v1::Principal p;
  EXPECT_TRUE(ParseHumanWritten(R"({"kind": "SERVICE"})", FileSyntax::kJson, &p).ok());
  EXPECT_EQ(p.kind(), ::govreport::auth::v1::PRINCIPAL_KIND_SERVICE);
  absl::Status st = ParseHumanWritten(R"({"kind": "ROBOT"})", FileSyntax::kJson, &p);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "ROBOT")) << st;
  // APPROVED would be ApprovalState's and TaskState's: only the full name.
  ::govreport::approval::v1::Approval a;
  EXPECT_FALSE(ParseHumanWritten(R"({"state": "APPROVED"})", FileSyntax::kJson, &a).ok());
  EXPECT_TRUE(
      ParseHumanWritten(R"({"state": "APPROVAL_STATE_APPROVED"})", FileSyntax::kJson, &a).ok());
  EXPECT_EQ(a.state(), ::govreport::approval::v1::APPROVAL_STATE_APPROVED);
}

TEST(Utf8Test, FindsTheFirstByteThatIsNotUtf8) {
  EXPECT_EQ(FindInvalidUtf8("党建 abc"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8(""), std::string_view::npos);
  // 党建 in GBK.
  EXPECT_EQ(FindInvalidUtf8("ab\xB5\xB3\xBD\xA8"), 2u);
  EXPECT_EQ(FindInvalidUtf8("\xC0\x80"), 0u);          // overlong NUL
  EXPECT_EQ(FindInvalidUtf8("a\xED\xA0\x80"), 1u);     // a surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("x\xE5\x85"), 1u);         // cut short
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);
}

TEST(ParseErrorMessageTest, NamesThePathOfTheFieldInTheRequest) {
  std::string m = ParseErrorMessage("/govreport.records.v1.ActivityService/BatchCreateActivities",
                                    "govreport.records.v1.ActivityRecord.title");
  EXPECT_TRUE(absl::StartsWith(m, "requests[].activity.title: not valid UTF-8")) << m;
  EXPECT_TRUE(absl::StrContains(m, "iconv -f GBK -t UTF-8")) << m;
  m = ParseErrorMessage("/govreport.records.v1.OrgService/UpdateOrg",
                        "govreport.records.v1.Org.FactsEntry.value");
  EXPECT_TRUE(absl::StartsWith(m, "org.facts[].value: not valid UTF-8")) << m;
  // Nothing named: still the caller's request, never an internal error.
  m = ParseErrorMessage("/govreport.records.v1.ActivityService/CreateActivity", "");
  EXPECT_EQ(m,
            "the request is not a valid govreport.records.v1.CreateActivityRequest (is every text "
            "field UTF-8?)");
  m = ParseErrorMessage("/no.Such/Method", "no.Such.field");
  EXPECT_EQ(m, "the request is not a valid message (is every text field UTF-8?)");
}

}  // namespace
}  // namespace govreport
