// The 发文字号 register and the document settings against a real
// redis-server: many sign-offs at once (several orgs, many reports of one
// org, settings edits racing them) give every report its own number with
// no number twice and no gap; a redelivered approval gets its number back;
// a voided number is a gap that is never filled; the code cannot change
// under a number not yet printed. Numbers are counted, never timed.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "assembler/reports.h"
#include "assembler/store.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport::assembler {
namespace {

// 2024-03-01 12:00 UTC+8.
constexpr int64_t kSignOff = 1709265600;

auth::Principal AdminOf(const std::string& org) {
  auth::Principal p;
  p.subject = "boss";
  p.org = org;
  p.roles = {"admin"};
  return p;
}

std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& f : errors::DetailsOf(s).fields) out.push_back(f.field);
  return out;
}

class DocumentNumbersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    redis::Options o = server_.options();
    o.pool_size = 32;
    redis_ = std::make_unique<redis::Client>(o);
    store_ = std::make_unique<Store>(redis_.get());
    // The register and the settings need neither records nor templates.
    core_ = std::make_unique<ReportCore>(store_.get(), nullptr);
  }

  absl::StatusOr<pb::DocumentSettings> Set(const std::string& org, const std::string& code,
                                           const std::vector<std::string>& mask = {},
                                           const std::string& request_id = "") {
    pb::UpdateDocumentSettingsRequest req;
    req.mutable_document_settings()->set_name(DocumentSettingsName(org));
    req.mutable_document_settings()->set_issuing_mark("中共某市科学技术局党组");
    req.mutable_document_settings()->set_code(code);
    req.mutable_document_settings()->set_main_recipients("市委");
    req.mutable_document_settings()->set_upward(true);
    for (const auto& m : mask) req.add_update_mask(m);
    req.set_request_id(request_id);
    return core_->UpdateDocumentSettings(AdminOf(org), org, req);
  }

  // One sign-off of report `id` revision 1, as the publish worker makes it.
  absl::StatusOr<Numbering> SignOffOf(const std::string& org, const std::string& id,
                                      int64_t when = kSignOff) {
    SignOff s{absl::StrCat("orgs/", org, "/approvals/", id), "sec", when, {"张三"}};
    return NumberSignOff(*store_, RevisionRef{org, id, 1}, s, when);
  }

  // What the publication commit does to the register entry.
  void Publish(const std::string& org, const std::string& number_name) {
    auto n = ParseDocumentNumberName(number_name);
    ASSERT_TRUE(n.ok()) << n.status();
    ReportRef ref{org, absl::StrCat("published-", n->id)};
    pb::Report r;
    r.set_version(1);
    CommitBuilder c(ref, 0, r);
    c.HSet(Store::DocumentNumberKey(org, n->id), "published", "1");
    c.SRem(Store::PendingNumbersKey(org), absl::StrCat(n->id));
    auto done = store_->Commit(c);
    ASSERT_TRUE(done.ok()) << done.status();
    ASSERT_EQ(done->outcome, Outcome::kOk);
  }

  std::vector<pb::DocumentNumber> All(const std::string& org, const std::string& code = "",
                                      int year = 0, int page_size = 7) {
    std::vector<pb::DocumentNumber> out;
    pb::ListDocumentNumbersRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    req.set_code(code);
    req.set_year(year);
    req.set_page_size(page_size);
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = core_->ListDocumentNumbers(org, req);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& n : page->document_numbers()) out.push_back(n);
      if (page->next_page_token().empty()) break;
      req.set_page_token(page->next_page_token());
    }
    return out;
  }

  testing::RedisServer server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ReportCore> core_;
};

TEST_F(DocumentNumbersTest, ConcurrentSignOffsGiveEachReportItsOwnNumberWithoutGaps) {
  const std::vector<std::string> orgs = {"kjj", "sfj", "jyj"};
  for (const auto& org : orgs) ASSERT_TRUE(Set(org, org == "kjj" ? "某科党" : "某司").ok());
  constexpr int kThreads = 12;
  constexpr int kReportsPerThread = 15;
  // Each report signed off by two threads at once (a redelivery racing the
  // first delivery), and the settings edited meanwhile (not the code).
  std::map<std::string, std::string> first, second;  // report → display
  std::mutex mu;
  std::vector<std::thread> threads;
  threads.reserve(kThreads + 1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kReportsPerThread; ++i) {
        // Threads t and t^1 share their reports.
        const std::string& org = orgs[(t / 2) % orgs.size()];
        std::string id = absl::StrCat("r", t / 2, "-", i);
        auto n = SignOffOf(org, id);
        ASSERT_TRUE(n.ok()) << n.status();
        std::lock_guard<std::mutex> lock(mu);
        (t % 2 == 0 ? first : second)[absl::StrCat(org, "/", id)] = n->display;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Set("kjj", "某科党", {"main_recipients"}).ok());
  });
  for (auto& th : threads) th.join();

  ASSERT_EQ(first.size(), static_cast<size_t>(kThreads / 2 * kReportsPerThread));
  EXPECT_EQ(first, second);  // The redelivery got the same number.
  for (const auto& org : orgs) {
    std::vector<pb::DocumentNumber> all = All(org);
    std::set<int64_t> numbers;
    std::set<std::string> revisions;
    for (const auto& n : all) {
      EXPECT_EQ(n.state(), pb::DOCUMENT_NUMBER_STATE_ISSUED);
      EXPECT_EQ(n.year(), 2024);
      numbers.insert(n.number());
      revisions.insert(n.revision());
      auto rev = ParseRevisionName(n.revision());
      ASSERT_TRUE(rev.ok()) << rev.status();
      EXPECT_EQ(first[absl::StrCat(rev->org, "/", rev->id)], n.display());
    }
    // 1..N, each once: no duplicate, no gap, one entry per report.
    EXPECT_EQ(numbers.size(), all.size());
    EXPECT_EQ(revisions.size(), all.size());
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(*numbers.begin(), 1);
    EXPECT_EQ(*numbers.rbegin(), static_cast<int64_t>(all.size()));
  }
  EXPECT_EQ(All("kjj").size() + All("sfj").size() + All("jyj").size(), first.size());
}

TEST_F(DocumentNumbersTest, AnAllocationIsRefusedOnlyWhenTheCodeChangedSinceTheRead) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  // Another setting edited between the read and the allocation: no retry.
  ASSERT_TRUE(Set("kjj", "某科党", {"main_recipients"}).ok());
  auto a = store_->AllocateDocumentNumber("kjj", "orgs/kjj/approvals/a", "某科党", 2024,
                                          "orgs/kjj/reports/a/revisions/1", kSignOff);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->number, 1);
  // The code changed: the caller read settings that no longer hold.
  Publish("kjj", DocumentNumberRef{"kjj", (*a)->id}.Name());
  ASSERT_TRUE(Set("kjj", "某科").ok());
  auto b = store_->AllocateDocumentNumber("kjj", "orgs/kjj/approvals/b", "某科党", 2024,
                                          "orgs/kjj/reports/b/revisions/1", kSignOff);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->has_value());
  auto c = SignOffOf("kjj", "b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->display, "某科〔2024〕1号");
}

TEST_F(DocumentNumbersTest, NumbersRunPerCodeAndYearAndPrintWithHexagonalBrackets) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  auto a = SignOffOf("kjj", "a");
  auto b = SignOffOf("kjj", "b");
  // 2024-12-31 23:30 UTC is 2025-01-01 in UTC+8: the next year's first.
  auto c = SignOffOf("kjj", "c", 1735687800);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->display, "某科党〔2024〕1号");
  EXPECT_EQ(b->display, "某科党〔2024〕2号");
  EXPECT_EQ(c->display, "某科党〔2025〕1号");
  EXPECT_EQ(a->settings.code(), "某科党");
  EXPECT_EQ(a->settings.issuing_mark(), "中共某市科学技术局党组");
  // Once published, the code may change; the new code counts from 1.
  for (const auto* n : {&*a, &*b, &*c}) Publish("kjj", n->name);
  ASSERT_TRUE(Set("kjj", "某科", {"code"}).ok());
  auto d = SignOffOf("kjj", "d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->display, "某科〔2024〕1号");
  EXPECT_EQ(All("kjj", "某科党").size(), 3u);
  EXPECT_EQ(All("kjj", "某科党", 2024).size(), 2u);
  EXPECT_EQ(All("kjj", "", 2025).size(), 1u);
  EXPECT_EQ(All("kjj", "某科").size(), 1u);
  // Tokens are bound to the list: a forged one, or one of another filter,
  // is INVALID_ARGUMENT about the token.
  pb::ListDocumentNumbersRequest req;
  req.set_parent("orgs/kjj");
  req.set_page_size(1);
  auto first = core_->ListDocumentNumbers("kjj", req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  for (const std::string& token :
       std::vector<std::string>{"bm9wZQ", first->next_page_token() + "x"}) {
    req.set_page_token(token);
    auto forged = core_->ListDocumentNumbers("kjj", req);
    EXPECT_EQ(forged.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_NE(forged.status().message().find("page_token"), std::string::npos) << forged.status();
  }
  req.set_page_token(first->next_page_token());
  req.set_code("某科");
  EXPECT_EQ(core_->ListDocumentNumbers("kjj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  req.set_code("");
  EXPECT_EQ(core_->ListDocumentNumbers("jyj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<pb::DocumentNumber> all = All("kjj", "", 0, 1);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(all[0].published());
  EXPECT_FALSE(all[3].published());
  EXPECT_EQ(all[3].name(), "orgs/kjj/documentNumbers/4");
}

TEST_F(DocumentNumbersTest, NoCodeGivesNoNumber) {
  auto none = SignOffOf("kjj", "a");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->display.empty());
  EXPECT_TRUE(none->name.empty());
  EXPECT_TRUE(All("kjj").empty());
}

TEST_F(DocumentNumbersTest, AVoidedNumberIsAGapNeverGivenAgain) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  auto a = SignOffOf("kjj", "a");
  auto b = SignOffOf("kjj", "b");
  ASSERT_TRUE(a.ok() && b.ok());
  Publish("kjj", a->name);
  auto ref = ParseDocumentNumberName(a->name);
  ASSERT_TRUE(ref.ok());

  pb::VoidDocumentNumberRequest req;
  req.set_name(a->name);
  auto no_reason = core_->VoidDocumentNumber(AdminOf("kjj"), *ref, req);
  EXPECT_EQ(no_reason.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(no_reason.status()), std::vector<std::string>{"reason"});

  req.set_reason("文件撤销");
  req.set_request_id("void-1");
  auto voided = core_->VoidDocumentNumber(AdminOf("kjj"), *ref, req);
  ASSERT_TRUE(voided.ok()) << voided.status();
  EXPECT_EQ(voided->state(), pb::DOCUMENT_NUMBER_STATE_VOIDED);
  EXPECT_EQ(voided->void_reason(), "文件撤销");
  EXPECT_EQ(voided->voided_by(), "boss");
  // The same call again answers the same; another void is refused.
  auto again = core_->VoidDocumentNumber(AdminOf("kjj"), *ref, req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), voided->SerializeAsString());
  req.set_request_id("");
  EXPECT_EQ(core_->VoidDocumentNumber(AdminOf("kjj"), *ref, req).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // b is not published yet: an admin cannot void it, the dead-letter path
  // can; a replay of its approval then gets a new number.
  auto bref = ParseDocumentNumberName(b->name);
  ASSERT_TRUE(bref.ok());
  EXPECT_EQ(core_->VoidDocumentNumber(AdminOf("kjj"), *bref, req).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto dead = store_->VoidDocumentNumber("kjj", bref->id, "publication failed", "system", kSignOff,
                                         Store::VoidMode::kUnpublished, {});
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->outcome, Outcome::kOk);
  auto b2 = SignOffOf("kjj", "b");
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->display, "某科党〔2024〕3号");
  EXPECT_NE(b2->name, b->name);
  auto c = SignOffOf("kjj", "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->display, "某科党〔2024〕4号");

  std::vector<pb::DocumentNumber> all = All("kjj");
  ASSERT_EQ(all.size(), 4u);
  std::vector<std::string> states;
  states.reserve(all.size());
  for (const auto& n : all) {
    states.push_back(
        absl::StrCat(n.number(), n.state() == pb::DOCUMENT_NUMBER_STATE_VOIDED ? "V" : "I"));
  }
  EXPECT_EQ(states, (std::vector<std::string>{"1V", "2V", "3I", "4I"}));
  EXPECT_EQ(all[1].voided_by(), "system");
}

TEST_F(DocumentNumbersTest, TheCodeCannotChangeUnderANumberNotYetPrinted) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  auto a = SignOffOf("kjj", "a");
  ASSERT_TRUE(a.ok());
  auto refused = Set("kjj", "某科", {"code"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FieldsOf(refused.status()), std::vector<std::string>{"document_settings.code"});
  EXPECT_NE(refused.status().message().find("orgs/kjj/reports/a/revisions/1"), std::string::npos)
      << refused.status();
  // Nothing was written; other fields may change meanwhile.
  auto now = core_->GetDocumentSettings("kjj");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->code(), "某科党");
  EXPECT_EQ(now->revision(), 1);
  ASSERT_TRUE(Set("kjj", "某科党", {"note", "upward"}).ok());
  Publish("kjj", a->name);
  EXPECT_TRUE(Set("kjj", "某科", {"code"}).ok());
}

TEST_F(DocumentNumbersTest, SettingsUpdatesAreCheckedRevisedAndReplayed) {
  auto fresh = core_->GetDocumentSettings("kjj");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->name(), "orgs/kjj/documentSettings");
  EXPECT_EQ(fresh->revision(), 0);

  auto first = Set("kjj", "某科党", {}, "set-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->revision(), 1);
  EXPECT_EQ(first->updated_by(), "boss");
  auto replay = Set("kjj", "某科党", {}, "set-1");
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Set("kjj", "某科", {}, "set-1").status().code(), absl::StatusCode::kInvalidArgument);

  pb::UpdateDocumentSettingsRequest req;
  req.mutable_document_settings()->set_note("此件公开发布");
  req.add_update_mask("note");
  req.set_expected_revision(7);
  EXPECT_EQ(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status().code(),
            absl::StatusCode::kAborted);
  req.set_expected_revision(1);
  auto noted = core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req);
  ASSERT_TRUE(noted.ok()) << noted.status();
  EXPECT_EQ(noted->note(), "此件公开发布");
  EXPECT_EQ(noted->code(), "某科党");  // Outside the mask: kept.
  EXPECT_EQ(noted->revision(), 2);

  req.clear_update_mask();
  req.add_update_mask("colour");
  req.set_expected_revision(0);
  EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
            std::vector<std::string>{"update_mask"});
}

// A 2 × 2 red PNG with alpha.
std::string TinyPng() {
  static const char kBytes[] =
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52"
      "\x00\x00\x00\x02\x00\x00\x00\x02\x08\x06\x00\x00\x00\x72\xb6\x0d"
      "\x24\x00\x00\x00\x11\x49\x44\x41\x54\x78\x9c\x63\xb8\x2b\x28\xf8"
      "\x1f\x84\x19\x60\x0c\x00\x46\xfe\x07\xf9\x27\x44\xb2\xe3\x00\x00"
      "\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";
  return {kBytes, sizeof kBytes - 1};
}

// The seal image is checked as a PNG, kept outside the mask, and removed
// by an empty one.
TEST_F(DocumentNumbersTest, TheSealImageIsAPngOrRefusedByItsField) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  pb::UpdateDocumentSettingsRequest req;
  req.add_update_mask("seal_image");
  for (const std::string& bad :
       {std::string("GIF89a"), TinyPng().substr(0, 40), std::string(size_t{600} * 1024, 'x')}) {
    req.mutable_document_settings()->set_seal_image(bad);
    EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
              std::vector<std::string>{"document_settings.seal_image"});
  }
  req.mutable_document_settings()->set_seal_image(TinyPng());
  auto sealed = core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->seal_image(), TinyPng());
  EXPECT_EQ(sealed->code(), "某科党");
  auto read = core_->GetDocumentSettings("kjj");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->seal_image(), TinyPng());
  EXPECT_EQ(Set("kjj", "某科", {"code"})->seal_image(), TinyPng());  // outside the mask
  req.mutable_document_settings()->clear_seal_image();
  auto removed = core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->seal_image().empty());
}

TEST_F(DocumentNumbersTest, BadCodesAndTextsNameTheirField) {
  ASSERT_TRUE(Set("kjj", "某科党").ok());
  for (const std::string bad : {"某科党〔", "某 科", "某科党2024", "某-科", "某科。", "某\t科",
                                "ＡＢ", "一二三四五六七八九十一二三四五六七"}) {
    auto r = Set("kjj", bad, {"code"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FieldsOf(r.status()), std::vector<std::string>{"document_settings.code"}) << bad;
  }
  for (const std::string good : {"某科党", "京政办发", "A1", "国发123", "㐀科"}) {
    EXPECT_TRUE(Set("kjj", good, {"code"}).ok()) << good;
  }
  pb::UpdateDocumentSettingsRequest req;
  req.mutable_document_settings()->set_copy_to(std::string(201, 'x'));
  req.add_update_mask("copy_to");
  EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
            std::vector<std::string>{"document_settings.copy_to"});
  req.mutable_document_settings()->set_copy_to("市纪委\x01");
  EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
            std::vector<std::string>{"document_settings.copy_to"});
  req.clear_update_mask();
  req.add_update_mask("urgency");
  req.mutable_document_settings()->set_urgency("很急");
  EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
            std::vector<std::string>{"document_settings.urgency"});
  // A code without an issuing mark.
  req = {};
  req.mutable_document_settings()->set_code("某科党");
  EXPECT_EQ(FieldsOf(core_->UpdateDocumentSettings(AdminOf("kjj"), "kjj", req).status()),
            std::vector<std::string>{"document_settings.issuing_mark"});
}

}  // namespace
}  // namespace govreport::assembler
