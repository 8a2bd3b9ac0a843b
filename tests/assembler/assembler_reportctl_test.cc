// reportctl's report, workflow, role, approval and inbox commands against
// the suite in-process: output, --json and exit codes.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "assembler/domain.h"
#include "common/crypto.h"
#include "common/timestamp.h"
#include "gtest/gtest.h"
#include "reportctl/cli.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {

namespace typepb = ::govreport::type::v1;
namespace {

using testing::Stack;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class ReportctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Stack::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    auto t = stack_->SetUpOrg("kjj");
    ASSERT_TRUE(t.ok()) << t.status();
    kjj_ = *t;
    ASSERT_TRUE(stack_->AddBaseYear("kjj").ok());
  }

  // reportctl's main, with the addresses of the stack.
  Result Run(const std::string& token, std::vector<std::string> words,
             const std::string& assembler = "") {
    std::vector<std::string> argv = {
        "reportctl",
        "--assembler",
        assembler.empty() ? absl::StrCat("127.0.0.1:", stack_->assembler_port()) : assembler,
        "--approval",
        absl::StrCat("127.0.0.1:", stack_->approval_port()),
        "--token",
        token,
        "--timeout-ms",
        "5000"};
    argv.insert(argv.end(), words.begin(), words.end());
    std::vector<char*> raw;
    raw.reserve(argv.size());
    for (auto& a : argv) raw.push_back(a.data());
    Result r;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    r.code = cli::Main(static_cast<int>(raw.size()), raw.data());
    r.out = ::testing::internal::GetCapturedStdout();
    r.err = ::testing::internal::GetCapturedStderr();
    return r;
  }

  std::unique_ptr<Stack> stack_;
  testing::OrgTokens kjj_;
};

TEST_F(ReportctlTest, DraftSubmitApprovePublishDownload) {
  Result r = Run(kjj_.drafter,
                 {"report", "create", "kjj", "2023", "--template", "annual", "--workflow", "annual",
                  "--id", "cli", "--narrative", "problems=学习不够深入{{x}}", "--wait"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "DRAFT (ready)")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "warning_film_screenings")) << r.out;

  r = Run(kjj_.drafter, {"report", "show", "kjj/cli", "--json"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  v1::Report shown;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &shown).ok()) << r.out;
  EXPECT_EQ(shown.current_revision(), 1);
  EXPECT_TRUE(shown.staleness().checked());

  r = Run(kjj_.drafter, {"report", "show", "kjj/cli", "--revision", "1"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "heart_to_heart_talks")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "学习不够深入{{x}}")) << r.out;

  // Refused with a gap: exit 1 and the reason on stderr.
  r = Run(kjj_.drafter, {"report", "submit", "kjj/cli"});
  EXPECT_EQ(r.code, cli::kRpcError);
  EXPECT_TRUE(absl::StrContains(r.err, "FAILED_PRECONDITION")) << r.err;
  r = Run(kjj_.drafter, {"report", "submit", "kjj/cli", "--accept-gap", "warning_film_screenings",
                         "--comment", "请审核"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "IN_REVIEW")) << r.out;

  r = Run(kjj_.director, {"inbox", "kjj"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/reports/cli/revisions/1")) << r.out;
  r = Run(kjj_.director, {"report", "approve", "kjj/cli"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.secretary, {"report", "approve", "kjj/cli", "--comment", "同意"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;

  r = Run(kjj_.drafter, {"report", "watch", "kjj/cli"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "PUBLISHED")) << r.out;

  std::string path = ::testing::TempDir() + "/cli.docx";
  r = Run(kjj_.auditor, {"report", "download", "kjj/cli", "--format", "docx", "--out", path});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "final")) << r.err;
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  r = Run(kjj_.auditor, {"report", "show", "kjj/cli", "--revision", "1", "--json"});
  v1::Revision rev;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &rev).ok()) << r.out;
  bool found = false;
  for (const auto& d : rev.documents()) {
    if (d.format() == typepb::DOCUMENT_FORMAT_DOCX) {
      EXPECT_EQ(d.sha256(), Sha256Hex(bytes.str()));
      found = true;
    }
  }
  EXPECT_TRUE(found);
  r = Run(kjj_.drafter, {"report", "download", "kjj/cli", "--format", "txt"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, rev.issue_date())) << r.out;

  r = Run(kjj_.auditor, {"approval", "verify", "kjj/cli"});
  EXPECT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "intact")) << r.out;
  r = Run(kjj_.auditor, {"approval", "history", "kjj/cli"});
  EXPECT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "kjj-secretary")) << r.out;
  r = Run(kjj_.drafter, {"report", "list", "kjj", "--state", "published"});
  EXPECT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/reports/cli")) << r.out;
}

// Document settings, the 发文字号 allocated at sign-off and the register:
// set by the admin, printed on the published revision with its 签发人,
// listed, voided; a settings change afterwards leaves the signed revision
// as it was.
// A recipient without access to the suite checks a downloaded document
// against the bundle `report verify --export` wrote: the bytes against the
// signed manifest, the SM2 signature against the bundle's certificate, that
// certificate against the fingerprint the org gives out.
TEST_F(ReportctlTest, VerifyOfflineWithTheExportedBundle) {
  ASSERT_EQ(Run(kjj_.admin, {"key", "create", "kjj"}).code, cli::kOk);
  ASSERT_EQ(Run(kjj_.drafter, {"report", "create", "kjj", "2023", "--template", "annual",
                               "--workflow", "annual", "--id", "signed", "--wait"})
                .code,
            cli::kOk);
  ASSERT_EQ(Run(kjj_.drafter,
                {"report", "submit", "kjj/signed", "--accept-gap", "warning_film_screenings"})
                .code,
            cli::kOk);
  ASSERT_EQ(Run(kjj_.director, {"report", "approve", "kjj/signed"}).code, cli::kOk);
  ASSERT_EQ(Run(kjj_.secretary, {"report", "approve", "kjj/signed"}).code, cli::kOk);
  ASSERT_EQ(Run(kjj_.drafter, {"report", "watch", "kjj/signed"}).code, cli::kOk);
  const std::string dir = ::testing::TempDir() + "/offline";
  const std::string txt = dir + "-signed.txt";
  ASSERT_EQ(
      Run(kjj_.auditor, {"report", "download", "kjj/signed", "--format", "txt", "--out", txt}).code,
      cli::kOk);
  Result r = Run(kjj_.auditor, {"report", "verify", "kjj/signed", txt, "--export", dir});
  ASSERT_EQ(r.code, cli::kOk) << r.out << r.err;
  const size_t at = r.out.find("--certificate-sha256 ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string pin = r.out.substr(at + 21, 64);

  // No server needed: an address nothing listens on.
  auto offline = [&](std::vector<std::string> words) {
    words.insert(words.begin(), {"report", "verify", "--offline", dir});
    return Run(kjj_.auditor, std::move(words), "127.0.0.1:1");
  };
  r = offline({txt});
  EXPECT_EQ(r.code, cli::kOk) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, ": VALID (TXT")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "not pinned")) << r.out;
  r = offline({txt, "--certificate-sha256", pin});
  EXPECT_EQ(r.code, cli::kOk) << r.out << r.err;
  EXPECT_FALSE(absl::StrContains(r.out, "not pinned")) << r.out;
  r = offline({txt, "--certificate-sha256", std::string(64, '0')});
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.out, "is not the pinned one")) << r.out;

  // One byte changed in the document, or in the signature.
  std::string bytes;
  {
    std::ifstream in(txt, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  ASSERT_FALSE(bytes.empty());
  const std::string changed = dir + "-changed.txt";
  std::string tampered = bytes;
  tampered[tampered.size() / 2] ^= 1;
  std::ofstream(changed, std::ios::binary) << tampered;
  r = offline({changed});
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.out, "NOT VALID")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "the bytes are not the signed TXT")) << r.out;
  r = offline({txt, "--format", "pdf"});
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.out, "the bytes are not the signed PDF")) << r.out;
  // The OFD: its own signature inside (GB/T 38540 structure) is checked
  // too, and a changed part breaks both.
  const std::string ofd = dir + "-signed.ofd";
  ASSERT_EQ(
      Run(kjj_.auditor, {"report", "download", "kjj/signed", "--format", "ofd", "--out", ofd}).code,
      cli::kOk);
  r = offline({ofd});
  EXPECT_EQ(r.code, cli::kOk) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, ": VALID (OFD")) << r.out;
  std::string ofd_bytes;
  {
    std::ifstream in(ofd, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    ofd_bytes = ss.str();
  }
  const std::string changed_ofd = dir + "-changed.ofd";
  ofd_bytes[ofd_bytes.size() / 2] ^= 1;
  std::ofstream(changed_ofd, std::ios::binary) << ofd_bytes;
  r = offline({changed_ofd});
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.out, "the bytes are not the signed OFD")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "the OFD's own signature")) << r.out;
  std::string signature;
  {
    std::ifstream in(dir + "/signature.der", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    signature = ss.str();
  }
  ASSERT_GT(signature.size(), 20u);
  signature[signature.size() - 5] ^= 1;
  std::ofstream(dir + "/signature.der", std::ios::binary) << signature;
  r = offline({txt});
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.out, "signature:")) << r.out;

  // A folder that holds no bundle.
  r = Run(kjj_.auditor, {"report", "verify", "--offline", dir + "-none", txt}, "127.0.0.1:1");
  EXPECT_EQ(r.code, cli::kUsage);
  EXPECT_TRUE(absl::StrContains(r.err, "manifest.txt cannot be read")) << r.err;
}

TEST_F(ReportctlTest, SettingsNumberTheSignedReportAndTheRegisterListsIt) {
  Result r = Run(kjj_.drafter, {"settings", "set", "kjj", "--code", "某科党"});
  EXPECT_EQ(r.code, cli::kRpcError);  // Admins only.
  EXPECT_TRUE(absl::StrContains(r.err, "PERMISSION_DENIED")) << r.err;
  r = Run(kjj_.admin, {"settings", "set", "kjj", "--code", "某科党〔"});
  EXPECT_EQ(r.code, cli::kUsage);  // INVALID_ARGUMENT: bad input.
  EXPECT_TRUE(absl::StrContains(r.err, "document_settings.code")) << r.err;
  r = Run(kjj_.admin,
          {"settings", "set", "kjj", "--issuing-mark", "中共某市科学技术局党组", "--code", "某科党",
           "--main-recipients", "市委", "--upward", "true", "--copy-to", "市纪委监委",
           "--printing-org", "中共某市科学技术局党组办公室"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "某科党")) << r.out;
  EXPECT_EQ(Run(kjj_.admin, {"settings", "set", "kjj", "--upward", "maybe"}).code, cli::kUsage);
  r = Run(kjj_.drafter, {"settings", "get", "kjj", "--json"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  v1::DocumentSettings settings;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &settings).ok()) << r.out;
  EXPECT_EQ(settings.revision(), 1);
  EXPECT_TRUE(settings.upward());

  r = Run(kjj_.drafter, {"report", "create", "kjj", "2023", "--template", "annual", "--workflow",
                         "annual", "--id", "num", "--wait"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.drafter, {"report", "submit", "kjj/num", "--accept-gap", "warning_film_screenings"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  ASSERT_EQ(Run(kjj_.director, {"report", "approve", "kjj/num"}).code, cli::kOk);
  ASSERT_EQ(Run(kjj_.secretary, {"report", "approve", "kjj/num"}).code, cli::kOk);
  r = Run(kjj_.drafter, {"report", "watch", "kjj/num"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  ASSERT_TRUE(absl::StrContains(r.out, "PUBLISHED")) << r.out;

  r = Run(kjj_.auditor, {"report", "show", "kjj/num", "--revision", "1", "--json"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  v1::Revision rev;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &rev).ok()) << r.out;
  const int year = static_cast<int>(IssueDateOf(FromTimestamp(rev.sign_off_time())).year());
  const std::string number = absl::StrCat("某科党〔", year, "〕1号");
  EXPECT_EQ(rev.document_number(), number);
  EXPECT_EQ(rev.document_number_name(), "orgs/kjj/documentNumbers/1");
  EXPECT_EQ(std::vector<std::string>(rev.signer_names().begin(), rev.signer_names().end()),
            std::vector<std::string>{"张秘书"});
  EXPECT_EQ(rev.document_settings().main_recipients(), "市委");
  EXPECT_EQ(rev.document_settings().revision(), 1);

  r = Run(kjj_.auditor, {"docnumber", "list", "kjj"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, number)) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/reports/num/revisions/1")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "ISSUED")) << r.out;
  r = Run(kjj_.auditor, {"docnumber", "list", "kjj", "--year", absl::StrCat(year + 1), "--json"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  v1::ListDocumentNumbersResponse none;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &none).ok()) << r.out;
  EXPECT_EQ(none.document_numbers_size(), 0);

  // Published: the code may change now; the signed revision keeps its own.
  r = Run(kjj_.admin, {"settings", "set", "kjj", "--code", "某科", "--main-recipients", "市政府"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.auditor, {"report", "show", "kjj/num", "--revision", "1", "--json"});
  v1::Revision after;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &after).ok()) << r.out;
  EXPECT_EQ(after.document_number(), number);
  EXPECT_EQ(after.document_settings().main_recipients(), "市委");
  EXPECT_EQ(after.digest(), rev.digest());

  EXPECT_EQ(Run(kjj_.admin, {"docnumber", "void", "kjj/1"}).code, cli::kUsage);
  EXPECT_EQ(Run(kjj_.drafter, {"docnumber", "void", "kjj/1", "--reason", "撤销"}).code,
            cli::kRpcError);
  r = Run(kjj_.admin, {"docnumber", "void", "kjj/1", "--reason", "文件撤销"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.admin, {"docnumber", "void", "kjj/1", "--reason", "文件撤销"});
  EXPECT_EQ(r.code, cli::kRpcError);
  EXPECT_TRUE(absl::StrContains(r.err, "FAILED_PRECONDITION")) << r.err;
  r = Run(kjj_.auditor, {"docnumber", "list", "kjj", "--code", "某科党"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "VOIDED")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "文件撤销")) << r.out;
}

// --wait on narrative and reassemble returns once the revision that call
// queued is stored, not with the report as the call left it.
TEST_F(ReportctlTest, WaitReturnsOnceTheRevisionOfTheCallIsStored) {
  Result r = Run(kjj_.drafter, {"report", "create", "kjj", "2023", "--template", "annual",
                                "--workflow", "annual", "--id", "w", "--wait"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  for (int expected = 2; expected <= 3; ++expected) {
    std::vector<std::string> words = {
        "report", "narrative", "kjj/w", "--narrative", absl::StrCat("problems=第", expected, "稿"),
        "--wait", "--json"};
    if (expected == 3) words = {"report", "reassemble", "kjj/w", "--wait", "--json"};
    r = Run(kjj_.drafter, words);
    ASSERT_EQ(r.code, cli::kOk) << r.err;
    v1::Report report;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &report).ok()) << r.out;
    EXPECT_EQ(report.current_revision(), expected) << r.out;
    EXPECT_GE(report.applied_job(), report.pending_job()) << r.out;
    EXPECT_FALSE(report.assembling()) << r.out;
  }
  r = Run(kjj_.drafter, {"report", "show", "kjj/w", "--revision", "2"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "第2稿")) << r.out;
}

TEST_F(ReportctlTest, WorkflowsRolesAndExitCodes) {
  std::string file = ::testing::TempDir() + "/wf.json";
  {
    std::ofstream out(file);
    out << R"({"display_name": "季度报告", "steps": [
      {"name": "office", "roles": ["office"]},
      {"name": "sign", "kind": "SIGN_OFF", "users": ["kjj-secretary"]}]})";
  }
  Result r = Run(kjj_.admin, {"role", "set", "kjj", "office", "--members", "kjj-director"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.admin, {"workflow", "create", "kjj", "quarterly", file});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/workflows/quarterly")) << r.out;
  r = Run(kjj_.drafter, {"workflow", "show", "orgs/kjj/workflows/quarterly"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "签发")) << r.out;

  // 2: bad usage or input; 1: refused; 4: unreachable.
  EXPECT_EQ(Run(kjj_.drafter, {"report", "create", "kjj"}).code, cli::kUsage);
  EXPECT_EQ(Run(kjj_.drafter,
                {"report", "create", "kjj", "2023", "--template", "nope", "--workflow", "annual"})
                .code,
            cli::kUsage);  // INVALID_ARGUMENT
  EXPECT_EQ(Run(kjj_.drafter, {"report", "show", "kjj/absent"}).code, cli::kRpcError);
  EXPECT_EQ(Run(kjj_.drafter, {"report", "download", "kjj/x", "--format", "odt"}).code,
            cli::kUsage);
  EXPECT_EQ(Run(kjj_.drafter, {"report", "show", "kjj/absent"}, "127.0.0.1:1").code,
            cli::kUnavailable);
}

TEST_F(ReportctlTest, AdminBindsTheWorkflowsOfATemplate) {
  std::string file = ::testing::TempDir() + "/quick.json";
  {
    std::ofstream out(file);
    out << R"({"display_name": "简易", "steps": [
      {"name": "sign", "kind": "SIGN_OFF", "users": ["kjj-secretary"]}]})";
  }
  ASSERT_EQ(Run(kjj_.admin, {"workflow", "create", "kjj", "quick", file}).code, cli::kOk);
  // Not bound: refused, naming the allowed workflow.
  Result r = Run(kjj_.drafter, {"report", "create", "kjj", "2023", "--template", "annual",
                                "--workflow", "quick", "--id", "q"});
  EXPECT_EQ(r.code, cli::kRpcError);
  EXPECT_TRUE(absl::StrContains(r.err, "orgs/kjj/workflows/annual")) << r.err;
  // Only the admin binds.
  EXPECT_EQ(Run(kjj_.drafter, {"report", "bind-workflows", "kjj", "annual", "quick"}).code,
            cli::kRpcError);
  r = Run(kjj_.admin, {"report", "bind-workflows", "kjj", "annual", "annual", "quick"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/workflows/quick")) << r.out;
  r = Run(kjj_.drafter, {"report", "workflows", "kjj", "annual"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "orgs/kjj/workflows/annual, orgs/kjj/workflows/quick"))
      << r.out;
  r = Run(kjj_.drafter, {"report", "create", "kjj", "2023", "--template", "annual", "--workflow",
                         "quick", "--id", "q"});
  EXPECT_EQ(r.code, cli::kOk) << r.err;
}

// Issue 11, as a user meets it: a GBK export fails --dry-run with its lines
// and the iconv line that fixes it; a re-run import says nothing new was
// stored; `activity history` shows why each amendment was made.
TEST_F(ReportctlTest, ActivityImportAndHistorySayWhatHappened) {
  const std::string records = absl::StrCat("127.0.0.1:", stack_->records_port());
  std::string gbk = ::testing::TempDir() + "/gbk.csv";
  {
    std::ofstream out(gbk, std::ios::binary);
    out << "type,occurred_on,title,source_system,external_id\r\n"
           "theme_party_day,2023-05-04,\xB5\xB3\xBD\xA8\xBB\xEE\xB6\xAF,oa,1\r\n";
  }
  for (bool dry_run : {true, false}) {
    std::vector<std::string> words = {"--records", records, "activity", "import", "kjj", gbk};
    if (dry_run) words.emplace_back("--dry-run");
    Result r = Run(kjj_.recorder, words);
    EXPECT_EQ(r.code, cli::kUsage) << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "line 2, column 28: byte 0xB5 is not UTF-8")) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "iconv -f GBK -t UTF-8 " + gbk)) << r.err;
    EXPECT_FALSE(absl::StrContains(r.err, "INTERNAL")) << r.err;
  }

  std::string utf8 = ::testing::TempDir() + "/utf8.csv";
  {
    std::ofstream out(utf8, std::ios::binary);
    out << "type,occurred_on,title,source_system,external_id\n"
           "theme_party_day,2023-05-04,党建活动,oa,1\n"
           "theme_party_day,2023-05-11,主题党日,oa,2\n";
  }
  Result r = Run(kjj_.recorder, {"--records", records, "activity", "import", "kjj", utf8});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "2 record(s): 2 created, 0 already present, 0 refused"))
      << r.out;
  r = Run(kjj_.recorder, {"--records", records, "activity", "import", "kjj", utf8});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "2 record(s): 0 created, 2 already present, 0 refused"))
      << r.out;

  r = Run(kjj_.recorder, {"--records", records, "activity", "list", "kjj", "--json"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  records::v1::ListActivitiesResponse listed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &listed).ok()) << r.out;
  std::string name;
  for (const auto& a : listed.activities()) {
    if (a.source_system() == "oa" && a.external_id() == "1") name = a.name();
  }
  ASSERT_FALSE(name.empty()) << r.out;
  r = Run(kjj_.recorder, {"--records", records, "activity", "amend", name, "--date", "2023-05-12",
                          "--reason", "日期录错，按会议记录更正"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.recorder, {"--records", records, "activity", "void", name, "--reason", "与OA重复"});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  r = Run(kjj_.recorder, {"--records", records, "activity", "history", name});
  ASSERT_EQ(r.code, cli::kOk) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "日期录错，按会议记录更正")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "与OA重复")) << r.out;
}

}  // namespace
}  // namespace govreport::assembler
