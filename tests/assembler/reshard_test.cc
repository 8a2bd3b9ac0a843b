// An org's slot moves to another master of a real six-node cluster, key by
// key as `redis-cli --cluster reshard` moves them, while its reports go the
// whole way (created and assembled, submitted, approved by two, signed,
// numbered and published by the workers), a reader lists and reads them
// and a recorder adds the org's records: no call fails, every report is
// published once with its own 发文字号 and no gap, nothing is dead-lettered
// and nothing of the org stays behind.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "assembler/reports.h"
#include "assembler/store.h"
#include "gtest/gtest.h"
#include "redis_cluster.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {
namespace {

namespace apb = ::govreport::approval::v1;
using testing::Stack;

constexpr char kOrg[] = "kjj";

class AssemblerReshardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::StackOptions options;
    options.workers = 2;
    auto s = Stack::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    auto t = stack_->SetUpOrg(kOrg);
    ASSERT_TRUE(t.ok()) << t.status();
    tokens_ = *t;
    ASSERT_TRUE(stack_->AddBaseYear(kOrg).ok());
    v1::UpdateDocumentSettingsRequest set;
    set.mutable_document_settings()->set_name(absl::StrCat("orgs/", kOrg, "/documentSettings"));
    set.mutable_document_settings()->set_issuing_mark("中共某市科学技术局党组");
    set.mutable_document_settings()->set_code("某科党");
    v1::DocumentSettings settings;
    grpc::Status st =
        stack_->reports().UpdateDocumentSettings(Stack::Ctx(tokens_.admin).get(), set, &settings);
    ASSERT_TRUE(st.ok()) << st.error_message();
    v1::CreateSigningKeyRequest create;
    create.set_parent(absl::StrCat("orgs/", kOrg));
    v1::SigningKey key;
    st = stack_->reports().CreateSigningKey(Stack::Ctx(tokens_.admin).get(), create, &key);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // Creates report `id` and waits for its first revision; an empty name on
  // failure, which it reports.
  std::string Ready(const std::string& id) {
    v1::CreateReportRequest req;
    req.set_parent(absl::StrCat("orgs/", kOrg));
    req.set_report_id(id);
    req.set_period("2023");
    req.set_template_(absl::StrCat("orgs/", kOrg, "/templates/annual"));
    req.set_workflow(absl::StrCat("orgs/", kOrg, "/workflows/annual"));
    req.set_request_id(absl::StrCat("create-", id));
    v1::Report r;
    grpc::Status st = stack_->reports().CreateReport(Stack::Ctx(tokens_.drafter).get(), req, &r);
    if (!st.ok()) {
      ADD_FAILURE() << "create " << id << ": " << st.error_message();
      return "";
    }
    auto ready = stack_->WaitFor(tokens_.drafter, r.name(), [](const v1::Report& report) {
      return report.current_revision() >= 1 && !report.assembling();
    });
    if (!ready.ok()) {
      ADD_FAILURE() << "assemble " << id << ": " << ready.status();
      return "";
    }
    return r.name();
  }

  grpc::Status Approve(const std::string& token, const std::string& approval) {
    apb::GetApprovalRequest get;
    get.set_name(approval);
    apb::Approval a;
    grpc::Status st = stack_->approvals().GetApproval(Stack::Ctx(token).get(), get, &a);
    if (!st.ok()) return st;
    apb::ApproveRequest req;
    req.set_name(approval);
    req.set_expected_version(a.version());
    req.set_comment("同意");
    return stack_->approvals().Approve(Stack::Ctx(token).get(), req, &a);
  }

  // Report `id` the whole way; its 发文字号 once published, empty on a
  // failure, which it reports.
  std::string Publish(const std::string& id) {
    std::string name = Ready(id);
    if (name.empty()) return "";
    v1::SubmitReportRequest submit;
    submit.set_name(name);
    submit.set_revision(1);
    v1::Report submitted;
    grpc::Status st =
        stack_->reports().SubmitReport(Stack::Ctx(tokens_.drafter).get(), submit, &submitted);
    if (st.ok()) st = Approve(tokens_.director, submitted.approval());
    if (st.ok()) st = Approve(tokens_.secretary, submitted.approval());
    if (!st.ok()) {
      ADD_FAILURE() << "approve " << id << ": " << st.error_message();
      return "";
    }
    auto published = stack_->WaitFor(
        tokens_.drafter, name,
        [](const v1::Report& r) { return r.state() == v1::REPORT_STATE_PUBLISHED; },
        absl::Seconds(30));
    if (!published.ok()) {
      ADD_FAILURE() << "publish " << id << ": " << published.status();
      return "";
    }
    return published->document_number();
  }

  int64_t Length(const std::string& stream) {
    auto n = stack_->redis().Command({"XLEN", stream});
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? n->Int() : -1;
  }

  std::unique_ptr<Stack> stack_;
  testing::OrgTokens tokens_;
};

TEST_F(AssemblerReshardTest, AnOrgsSlotMovesWhileItsReportsArePublishedWithNoErrorAndNoGap) {
  // Reports and records enough for the move to take a while.
  for (int i = 0; i < 8; ++i) ASSERT_FALSE(Ready(absl::StrCat("pre-", i)).empty());
  ASSERT_TRUE(stack_->AddSampleYear(kOrg).ok());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0}, reads{0}, added{0};
  std::mutex numbers_mu;
  std::vector<std::string> numbers;
  std::vector<std::thread> threads;
  threads.reserve(4);  // Two publishers, a reader, a recorder.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        std::string number = Publish(absl::StrFormat("p%d-%d", t, i));
        if (number.empty()) {
          ++errors;
          continue;
        }
        std::lock_guard<std::mutex> lock(numbers_mu);
        numbers.push_back(number);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      v1::ListReportsRequest list;
      list.set_parent(absl::StrCat("orgs/", kOrg));
      list.set_page_size(50);
      v1::ListReportsResponse page;
      grpc::Status st =
          stack_->reports().ListReports(Stack::Ctx(tokens_.drafter).get(), list, &page);
      v1::GetReportRequest get;
      get.set_name(absl::StrCat("orgs/", kOrg, "/reports/pre-0"));
      v1::Report report;
      if (st.ok())
        st = stack_->reports().GetReport(Stack::Ctx(tokens_.drafter).get(), get, &report);
      if (!st.ok()) {
        ++errors;
        ADD_FAILURE() << "read: " << st.error_message();
        continue;
      }
      ++reads;
    }
  });
  threads.emplace_back([&] {
    for (int i = 0; !stop.load(); ++i) {
      absl::Status st = stack_->AddActivity(
          kOrg, "theme_party_day", absl::StrFormat("2024-%02d-%02d", 1 + i % 12, 1 + i % 28));
      if (!st.ok()) {
        ++errors;
        ADD_FAILURE() << "record: " << st;
        continue;
      }
      ++added;
      absl::SleepFor(absl::Milliseconds(10));
    }
  });

  govreport::testing::RedisCluster& cluster = govreport::testing::SharedCluster();
  absl::SleepFor(absl::Milliseconds(300));
  const std::string key = absl::StrCat("gr:{", kOrg, "}:dv");
  auto slot = stack_->redis().Command({"CLUSTER", "KEYSLOT", key});
  ASSERT_TRUE(slot.ok());
  auto from = cluster.MasterOf(key);
  ASSERT_TRUE(from.ok());
  auto to = cluster.OtherMaster(*from);
  ASSERT_TRUE(to.ok());
  auto before = cluster.On(*from, {"CLUSTER", "COUNTKEYSINSLOT", absl::StrCat(slot->Int())});
  ASSERT_TRUE(before.ok());
  const absl::Time move_start = absl::Now();
  absl::Status moved = cluster.MoveSlot(slot->Int(), *from, *to);
  const absl::Duration move_took = absl::Now() - move_start;
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(moved.ok()) << moved;
  auto owner = cluster.MasterOf(key);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, *to);

  std::printf(
      "moved %lld keys in %s; while the load ran: published %zu, read %lld, recorded %lld\n",
      static_cast<long long>(before->Int()), absl::FormatDuration(move_took).c_str(),
      numbers.size(), static_cast<long long>(reads.load()), static_cast<long long>(added.load()));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(added.load(), 0);
  // Every report published once, numbered 1, 2, 3 ... in the year of its
  // sign-off.
  ASSERT_FALSE(numbers.empty());
  std::set<std::string> distinct(numbers.begin(), numbers.end());
  EXPECT_EQ(distinct.size(), numbers.size());
  v1::ListDocumentNumbersRequest list;
  list.set_parent(absl::StrCat("orgs/", kOrg));
  list.set_page_size(100);
  v1::ListDocumentNumbersResponse registered;
  grpc::Status st =
      stack_->reports().ListDocumentNumbers(Stack::Ctx(tokens_.admin).get(), list, &registered);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(registered.next_page_token().empty()) << "more than 100 numbers";
  ASSERT_EQ(registered.document_numbers_size(), static_cast<int>(numbers.size()));
  std::set<int64_t> taken;
  for (const auto& n : registered.document_numbers()) {
    taken.insert(n.number());
    EXPECT_TRUE(n.published()) << n.ShortDebugString();
    EXPECT_TRUE(distinct.count(n.display())) << n.display();
  }
  EXPECT_EQ(taken.size(), numbers.size());
  EXPECT_EQ(*taken.begin(), 1);
  EXPECT_EQ(*taken.rbegin(), static_cast<int64_t>(numbers.size()));
  EXPECT_EQ(Length(absl::StrCat("gr:{", kOrg, "}:ev:published")),
            static_cast<int64_t>(numbers.size()));
  EXPECT_EQ(Length(absl::StrCat("gr:{", kOrg, "}:q:assemble:dead")), 0);
  EXPECT_EQ(Length(absl::StrCat("gr:{", kOrg, "}:ev:approval:dead")), 0);
  auto left = cluster.On(*from, {"CLUSTER", "COUNTKEYSINSLOT", absl::StrCat(slot->Int())});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(), 0) << "of " << before->Int() << " keys before the move";
}

// A redelivered sign-off while the org's slot is half moved: the number's
// own hash (named by the register, not declared) still on the old master,
// every other key of the org on the new one. The allocation waits
// (TRYAGAIN, retried by the client) and gives the approval its number
// back. Without the look-first step the new master reads the hash as
// missing and gives the approval a second number.
TEST(DocumentNumberReshardTest, ARedeliveredSignOffDuringAMoveGetsItsNumberBack) {
  govreport::testing::RedisCluster& cluster = govreport::testing::SharedCluster();
  ASSERT_TRUE(cluster.ok());
  redis::Client client(cluster.options());
  Store store(&client);
  ReportCore core(&store, nullptr);
  const std::string org = "dnmove";
  auth::Principal admin;
  admin.subject = "boss";
  admin.org = org;
  admin.roles = {"admin"};
  pb::UpdateDocumentSettingsRequest set;
  set.mutable_document_settings()->set_name(absl::StrCat("orgs/", org, "/documentSettings"));
  set.mutable_document_settings()->set_issuing_mark("中共某市科学技术局党组");
  set.mutable_document_settings()->set_code("某科党");
  ASSERT_TRUE(core.UpdateDocumentSettings(admin, org, set).ok());
  constexpr int64_t kSignOffUnix = 1709265600;  // 2024-03-01 12:00 UTC+8
  const SignOff sign_off{
      absl::StrCat("orgs/", org, "/approvals/a1"), "sec", kSignOffUnix, {"张三"}};
  const RevisionRef revision{org, "r1", 1};
  auto first = NumberSignOff(store, revision, sign_off, kSignOffUnix);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->display, "某科党〔2024〕1号");

  const std::string held = Store::DocumentNumberKey(org, 1);
  auto slot = client.Command({"CLUSTER", "KEYSLOT", held});
  ASSERT_TRUE(slot.ok());
  auto from = cluster.MasterOf(held);
  ASSERT_TRUE(from.ok());
  auto to = cluster.OtherMaster(*from);
  ASSERT_TRUE(to.ok());
  ASSERT_TRUE(cluster.BeginSlotMove(slot->Int(), *from, *to).ok());
  auto keys = cluster.KeysInSlot(*from, slot->Int());
  ASSERT_TRUE(keys.ok());
  std::vector<std::string> others;
  for (const auto& k : *keys) {
    if (k != held) others.push_back(k);
  }
  ASSERT_FALSE(others.empty());
  ASSERT_TRUE(cluster.MigrateKeys(*from, *to, others).ok());

  absl::StatusOr<Numbering> again = absl::UnknownError("not run");
  std::thread redelivered([&] { again = NumberSignOff(store, revision, sign_off, kSignOffUnix); });
  absl::SleepFor(absl::Milliseconds(300));  // Let it meet the half-moved slot.
  absl::Status rest = cluster.MigrateKeys(*from, *to, {held});
  absl::Status ended = cluster.EndSlotMove(slot->Int(), *from, *to);
  redelivered.join();
  ASSERT_TRUE(rest.ok()) << rest;
  ASSERT_TRUE(ended.ok()) << ended;
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->display, first->display);
  EXPECT_EQ(again->name, first->name);
  pb::ListDocumentNumbersRequest list;
  list.set_parent(absl::StrCat("orgs/", org));
  auto registered = core.ListDocumentNumbers(org, list);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->document_numbers_size(), 1) << registered->ShortDebugString();
}

}  // namespace
}  // namespace govreport::assembler
