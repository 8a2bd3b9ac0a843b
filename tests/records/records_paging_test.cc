// ListActivities against a real redis-server while others write: every
// record present at the start exactly once, incremental sync by change
// sequence, the orders and the tokens bound to their query.

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/enums.h"
#include "gtest/gtest.h"
#include "previous_listing_layout.h"
#include "records/core.h"
#include "shipped_profile.h"
#include "test_redis.h"

namespace govreport::records {
namespace {

using govreport::testing::ShippedProfile;

v1::ActivityRecord Talk(const std::string& date, int64_t participants) {
  v1::ActivityRecord r;
  r.set_type("heart_to_heart_talk");
  r.set_occurred_on(date);
  r.set_title("谈心谈话");
  (*r.mutable_quantities())["participants"] = participants;
  return r;
}

std::string Day(int n) { return absl::StrFormat("2023-%02d-%02d", 1 + (n / 28) % 12, 1 + n % 28); }

class RecordsPagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    client_ = std::make_unique<redis::Client>(server_.options());
    RecordsOptions o;
    o.quota_records_per_day = 0;
    o.quota_bytes_per_day = 0;
    records_ = std::make_unique<RecordsCore>(client_.get(), o);
    for (const char* org : {"kjj", "jyj"}) {
      v1::Org rec;
      rec.set_display_name("中共某市科学技术局党组");
      ASSERT_TRUE(records_->CreateOrg(org, rec, "").ok());
      ASSERT_TRUE(records_->LoadProfile(org, ShippedProfile(), "").ok());
    }
  }

  // `n` records in batches of 1000, dated over the year; their names.
  std::vector<std::string> CreateMany(RecordsCore& core, int n, int first_day = 0) {
    std::vector<std::string> names;
    for (int done = 0; done < n;) {
      v1::BatchCreateActivitiesRequest batch;
      for (int i = 0; i < 1000 && done < n; ++i, ++done) {
        *batch.add_requests()->mutable_activity() = Talk(Day(first_day + done * 7), 1 + done % 9);
      }
      auto out = core.BatchCreateActivities("kjj", "li", batch);
      EXPECT_TRUE(out.ok()) << out.status();
      if (!out.ok()) return names;
      names.reserve(names.size() + out->results_size());
      for (const auto& r : out->results()) {
        EXPECT_EQ(r.code(), 0) << r.message();
        names.push_back(r.activity().name());
      }
    }
    return names;
  }

  // Every page of `req`, with `between` run after each one.
  std::vector<v1::ActivityRecord> ListAll(
      v1::ListActivitiesRequest req, const std::function<void()>& between = [] {}) {
    std::vector<v1::ActivityRecord> out;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = records_->ListActivities("kjj", req);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      out.insert(out.end(), page->activities().begin(), page->activities().end());
      if (page->next_page_token().empty()) break;
      req.set_page_token(page->next_page_token());
      between();
    }
    return out;
  }

  testing::TestRedis server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<RecordsCore> records_;
};

// Another client inserts, re-dates (also records not yet listed, to dates
// before and after the cursor) and voids, concurrently with the listing:
// creation order never moves, so each record of the start is listed once.
// The writer runs on its own thread and connection; the lister waits for
// at least one more round of writes after every page (a count, not a time),
// so writes land between every two pages.
TEST_F(RecordsPagingTest, TenThousandRecordsListedExactlyOnceWhileOthersWrite) {
  const std::vector<std::string> initial = CreateMany(*records_, 10000);
  ASSERT_EQ(initial.size(), 10000u);
  std::mutex mu;
  std::condition_variable cv;
  int rounds = 0;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    redis::Client client(server_.options());
    RecordsOptions o;
    o.quota_records_per_day = 0;
    o.quota_bytes_per_day = 0;
    RecordsCore core(&client, o);
    std::mt19937 rng(7);
    for (int round = 0; !done.load(); ++round) {
      CreateMany(core, 50, round);
      for (int k = 0; k < 10; ++k) {
        const std::string& name = initial[rng() % initial.size()];
        auto cur = core.GetActivity("kjj", name.substr(name.rfind('/') + 1));
        if (!cur.ok()) {
          ADD_FAILURE() << cur.status();
          continue;
        }
        v1::AmendActivityRequest amend;
        *amend.mutable_activity() = *cur;
        amend.mutable_activity()->set_occurred_on(Day(static_cast<int>(rng() % 336)));
        amend.set_reason("日期有误");
        auto st = core.AmendActivity("kjj", "li", amend).status();
        // A voided record no longer changes; another amend may come first.
        EXPECT_TRUE(st.ok() || st.code() == absl::StatusCode::kFailedPrecondition) << st;
      }
      for (int k = 0; k < 3; ++k) {
        v1::VoidActivityRequest v;
        v.set_name(initial[rng() % initial.size()]);
        v.set_reason("重复登记");
        auto st = core.VoidActivity("kjj", "li", v).status();
        EXPECT_TRUE(st.ok() || st.code() == absl::StatusCode::kFailedPrecondition) << st;
      }
      std::lock_guard<std::mutex> lock(mu);
      ++rounds;
      cv.notify_all();
    }
  });
  // The writer stops only when told to, so a wait for its next round ends.
  for (const std::string order : {"", "occurred_on"}) {
    SCOPED_TRACE(order);
    v1::ListActivitiesRequest req;
    req.set_include_voided(true);
    req.set_page_size(400);
    req.set_order_by(order);
    auto wait_for_writes = [&] {
      std::unique_lock<std::mutex> lock(mu);
      int seen = rounds;
      cv.wait(lock, [&] { return rounds > seen; });
    };
    std::map<std::string, int> times;
    for (const auto& a : ListAll(req, wait_for_writes)) ++times[a.name()];
    if (order.empty()) {
      for (const std::string& name : initial) EXPECT_EQ(times[name], 1) << name;
      for (const auto& [name, n] : times) EXPECT_EQ(n, 1) << name;
    } else {
      // By date a re-dated record moves with its date: only the order holds.
      EXPECT_GT(times.size(), initial.size() - 100);
    }
  }
  done = true;
  writer.join();
  EXPECT_GT(rounds, 20);
}

// Sync, change some (amend, void, create), sync from the greatest
// change_sequence seen: exactly the changed records, once each.
TEST_F(RecordsPagingTest, IncrementalSyncSeesExactlyTheChangedRecords) {
  const std::vector<std::string> names = CreateMany(*records_, 300);
  v1::ListActivitiesRequest full;
  full.set_order_by("change_sequence");
  full.set_include_voided(true);
  full.set_page_size(64);
  int64_t last = 0;
  std::set<std::string> synced;
  for (const auto& a : ListAll(full)) {
    EXPECT_GT(a.change_sequence(), last);
    last = a.change_sequence();
    EXPECT_TRUE(synced.insert(a.name()).second);
  }
  ASSERT_EQ(synced.size(), names.size());

  std::set<std::string> changed;
  for (int i : {5, 77, 150}) {
    auto cur = records_->GetActivity("kjj", names[i].substr(names[i].rfind('/') + 1));
    ASSERT_TRUE(cur.ok());
    v1::AmendActivityRequest amend;
    *amend.mutable_activity() = *cur;
    amend.mutable_activity()->set_title("谈心谈话（更正）");
    auto rec = records_->AmendActivity("kjj", "li", amend);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->create_sequence(), cur->create_sequence());
    EXPECT_GT(rec->change_sequence(), last);
    changed.insert(names[i]);
  }
  for (int i : {6, 299}) {
    v1::VoidActivityRequest v;
    v.set_name(names[i]);
    v.set_reason("重复登记");
    ASSERT_TRUE(records_->VoidActivity("kjj", "li", v).ok());
    changed.insert(names[i]);
  }
  for (const std::string& n : CreateMany(*records_, 4)) changed.insert(n);
  // The other org's changes are not ours.
  v1::ActivityRecord other = Talk("2023-04-01", 2);
  ASSERT_TRUE(records_->CreateActivity("jyj", "wang", other, "").ok());

  v1::ListActivitiesRequest since;
  since.set_changed_after(last);
  since.set_include_voided(true);
  since.set_page_size(2);
  std::multiset<std::string> got;
  for (const auto& a : ListAll(since)) got.insert(a.name());
  EXPECT_EQ(got, std::multiset<std::string>(changed.begin(), changed.end()));
  // Nothing changed since the last of those: an empty sync.
  since.set_changed_after(last + 1000000);
  EXPECT_TRUE(ListAll(since).empty());
}

TEST_F(RecordsPagingTest, OrdersAndFilters) {
  // Created out of date order: 03-10, 01-05, 03-10, 02-20.
  std::vector<std::string> names;
  names.reserve(4);
  for (const char* d : {"2023-03-10", "2023-01-05", "2023-03-10", "2023-02-20"}) {
    auto r = records_->CreateActivity("kjj", "li", Talk(d, 1), "");
    ASSERT_TRUE(r.ok());
    names.push_back(r->name());
  }
  auto list = [&](const std::string& order, const std::string& from, const std::string& to) {
    v1::ListActivitiesRequest req;
    req.set_order_by(order);
    req.set_from_date(from);
    req.set_to_date(to);
    req.set_page_size(1);
    std::vector<v1::ActivityRecord> all = ListAll(req);
    std::vector<std::string> out;
    out.reserve(all.size());
    for (const auto& a : all) out.push_back(a.name());
    return out;
  };
  EXPECT_EQ(list("", "", ""), names);
  EXPECT_EQ(list("create_sequence", "", ""), names);
  EXPECT_EQ(list("occurred_on", "", ""),
            (std::vector<std::string>{names[1], names[3], names[0], names[2]}));
  EXPECT_EQ(list("occurred_on", "2023-02-01", "2023-03-10"),
            (std::vector<std::string>{names[3], names[0], names[2]}));
  EXPECT_EQ(list("", "2023-02-01", "2023-02-28"), (std::vector<std::string>{names[3]}));
  EXPECT_EQ(list("change_sequence", "2023-03-01", ""),
            (std::vector<std::string>{names[0], names[2]}));

  for (const char* bad : {"date", "occurred_on desc", "create_sequence,occurred_on"}) {
    v1::ListActivitiesRequest req;
    req.set_order_by(bad);
    EXPECT_EQ(records_->ListActivities("kjj", req).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  v1::ListActivitiesRequest req;
  req.set_changed_after(1);
  req.set_order_by("occurred_on");
  EXPECT_EQ(records_->ListActivities("kjj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  req.Clear();
  req.set_changed_after(-1);
  EXPECT_EQ(records_->ListActivities("kjj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  req.Clear();
  req.set_page_size(-1);
  EXPECT_EQ(records_->ListActivities("kjj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Over the maximum is the maximum (AIP-158), not an error.
  req.set_page_size(1 << 30);
  EXPECT_TRUE(records_->ListActivities("kjj", req).ok());
}

// A token is bound to its org, order and every filter: any other query
// refuses it, and a changed token is no token.
TEST_F(RecordsPagingTest, ATokenOfAnotherQueryOrOrgIsRefused) {
  CreateMany(*records_, 10);
  v1::ListActivitiesRequest req;
  req.set_page_size(3);
  req.set_type("heart_to_heart_talk");
  auto page = records_->ListActivities("kjj", req);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_page_token().empty());
  req.set_page_token(page->next_page_token());
  ASSERT_TRUE(records_->ListActivities("kjj", req).ok());
  EXPECT_EQ(records_->ListActivities("jyj", req).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto refused = [&](const std::function<void(v1::ListActivitiesRequest&)>& change) {
    v1::ListActivitiesRequest other = req;
    change(other);
    return records_->ListActivities("kjj", other).status().code() ==
           absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](auto& r) { r.clear_type(); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_order_by("occurred_on"); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_order_by("change_sequence"); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_changed_after(1); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_from_date("2023-01-01"); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_include_voided(true); }));
  EXPECT_TRUE(refused([](auto& r) { r.set_department("办公室"); }));
  EXPECT_TRUE(refused([](auto& r) { r.mutable_page_token()->back() ^= 1; }));
  // The page size is not part of the query.
  EXPECT_FALSE(refused([](auto& r) { r.set_page_size(5); }));
}

// Records an earlier version stored (in gr:{org}:acts by date only, without
// sequences) are indexed by the first listing after the upgrade, and one
// Checks that every order lists each of `want` once, in its order.
void ExpectListedInOrder(const std::vector<v1::ActivityRecord>& all,
                         const std::set<std::string>& want, const std::string& order) {
  std::set<std::string> seen;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_TRUE(seen.insert(all[i].name()).second) << order << " " << all[i].name();
    if (i == 0) continue;
    const v1::ActivityRecord& a = all[i - 1];
    const v1::ActivityRecord& b = all[i];
    if (order == "occurred_on") {
      EXPECT_TRUE(a.occurred_on() < b.occurred_on() ||
                  (a.occurred_on() == b.occurred_on() && a.create_sequence() < b.create_sequence()))
          << a.name() << " " << b.name();
    } else if (order == "change_sequence") {
      EXPECT_LT(a.change_sequence(), b.change_sequence());
    } else {
      EXPECT_LT(a.create_sequence(), b.create_sequence());
    }
  }
  EXPECT_EQ(seen, want) << order;
}

// Issue 15: a listing index is kept as buckets of at most 128 entries
// (Redis keeps them as listpacks), also when records come in newest date
// first and move; the previous version's one-set indexes move into them on
// the first listing, with writes made before that counted once.
TEST_F(RecordsPagingTest, ListingIndexesAreBucketsOfAtMost128AndTheOneSetIndexesMoveIntoThem) {
  std::vector<std::string> names = CreateMany(*records_, 900);
  // Back-dated, newest first: each one below every date of the index.
  v1::BatchCreateActivitiesRequest back;
  for (int i = 0; i < 500; ++i) {
    *back.add_requests()->mutable_activity() =
        Talk(absl::StrFormat("2022-%02d-%02d", 12 - i / 28 % 12, 28 - i % 28), 2);
  }
  auto created = records_->BatchCreateActivities("kjj", "li", back);
  ASSERT_TRUE(created.ok()) << created.status();
  for (const auto& r : created->results()) names.push_back(r.activity().name());
  auto amend = [&](size_t i, const std::string& date) {
    auto rec = records_->GetActivity("kjj", names[i].substr(names[i].rfind('/') + 1));
    ASSERT_TRUE(rec.ok()) << rec.status();
    v1::AmendActivityRequest req;
    *req.mutable_activity() = *rec;
    if (date.empty()) {
      req.mutable_activity()->set_title("更正");
    } else {
      req.mutable_activity()->set_occurred_on(date);
    }
    ASSERT_TRUE(records_->AmendActivity("kjj", "li", req).ok());
  };
  // Moved in the change index; re-dated ones also in the date index.
  for (size_t i = 0; i < names.size(); i += 7) amend(i, i % 2 == 0 ? Day(static_cast<int>(i)) : "");
  const std::set<std::string> want(names.begin(), names.end());
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    for (const char* order : {"create_sequence", "occurred_on", "change_sequence"}) {
      v1::ListActivitiesRequest req;
      req.set_order_by(order);
      req.set_page_size(97);
      ExpectListedInOrder(ListAll(req), want, order);
    }
    std::vector<IndexBucket> buckets = ListingBuckets(*client_, "kjj");
    int64_t entries = 0;
    for (const IndexBucket& b : buckets) {
      EXPECT_GT(b.size, 0) << b.key;
      EXPECT_LE(b.size, 128) << b.key;
      entries += b.size;
    }
    EXPECT_EQ(entries, 3 * static_cast<int64_t>(want.size()));
    // Half full at least, but for the buckets the moves emptied partly.
    EXPECT_LE(static_cast<int64_t>(buckets.size()) * 32, entries) << buckets.size();
  };
  check("bucketed from the start");

  ToPreviousListingLayout(*client_, "kjj");
  // Written before the first listing after the upgrade: one re-dated, one
  // changed in place, one new.
  amend(3, "2021-06-01");
  amend(4, "");
  std::vector<std::string> more = CreateMany(*records_, 1);
  names.insert(names.end(), more.begin(), more.end());
  const std::set<std::string> now(names.begin(), names.end());
  RecordsOptions o;
  records_ = std::make_unique<RecordsCore>(client_.get(), o);
  for (const char* order : {"create_sequence", "occurred_on", "change_sequence"}) {
    v1::ListActivitiesRequest req;
    req.set_order_by(order);
    req.set_page_size(97);
    ExpectListedInOrder(ListAll(req), now, order);
  }
  auto left = client_->Command({"EXISTS", "gr:{kjj}:acts:c:t:heart_to_heart_talk",
                                "gr:{kjj}:acts:d:t:heart_to_heart_talk", "gr:{kjj}:acts:u"});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(), 0);
  int64_t entries = 0;
  for (const IndexBucket& b : ListingBuckets(*client_, "kjj")) {
    EXPECT_LE(b.size, 128) << b.key;
    entries += b.size;
  }
  EXPECT_EQ(entries, 3 * static_cast<int64_t>(now.size()));
}

// amended before that is indexed by its amendment.
TEST_F(RecordsPagingTest, RecordsOfAnEarlierVersionAreIndexedAndListed) {
  const std::vector<std::string> names = CreateMany(*records_, 1500);
  // Back to the earlier layout.
  const std::string p = "gr:{kjj}:";
  ToPreviousListingLayout(*client_, "kjj");
  for (const char* key : {"acts:c", "acts:c:t:heart_to_heart_talk", "acts:d",
                          "acts:d:t:heart_to_heart_talk", "acts:u", "seq"}) {
    ASSERT_TRUE(client_->Command({"DEL", p + key}).ok());
  }
  for (const std::string& name : names) {
    std::string id = name.substr(name.rfind('/') + 1);
    auto rec = records_->GetActivity("kjj", id);
    ASSERT_TRUE(rec.ok());
    v1::ActivityRecord old = *rec;
    old.clear_create_sequence();
    old.clear_change_sequence();
    std::string date = absl::StrCat(old.occurred_on().substr(0, 4), old.occurred_on().substr(5, 2),
                                    old.occurred_on().substr(8, 2));
    const std::string key = absl::StrCat(p, "a:", id);
    // A hash {d, r, c} (without s: not indexed).
    ASSERT_TRUE(client_->Command({"DEL", key}).ok());
    ASSERT_TRUE(client_
                    ->Command({"HSET", key, "d", old.SerializeAsString(), "r",
                               absl::StrCat(old.revision()), "c", Contribution(old)})
                    .ok());
    ASSERT_TRUE(client_->Command({"ZADD", p + "acts", date, id}).ok());
    ASSERT_TRUE(client_->Command({"ZADD", p + "acts:t:heart_to_heart_talk", date, id}).ok());
  }
  // Amended before any listing: indexed by the write.
  auto first = records_->GetActivity("kjj", names[0].substr(names[0].rfind('/') + 1));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->create_sequence(), 0);
  v1::AmendActivityRequest amend;
  *amend.mutable_activity() = *first;
  amend.mutable_activity()->set_title("更正");
  auto amended = records_->AmendActivity("kjj", "li", amend);
  ASSERT_TRUE(amended.ok()) << amended.status();
  EXPECT_GT(amended->create_sequence(), 0);

  v1::ListActivitiesRequest req;
  req.set_page_size(700);
  std::set<std::string> seen;
  std::set<int64_t> sequences;
  for (const auto& a : ListAll(req)) {
    EXPECT_TRUE(seen.insert(a.name()).second) << a.name();
    EXPECT_GT(a.create_sequence(), 0);
    EXPECT_GT(a.change_sequence(), 0);
    sequences.insert(a.create_sequence());
  }
  EXPECT_EQ(seen, std::set<std::string>(names.begin(), names.end()));
  EXPECT_EQ(sequences.size(), names.size());
  auto left = client_->Command({"EXISTS", p + "acts", p + "acts:t:heart_to_heart_talk"});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(), 0);
  req.set_order_by("change_sequence");
  EXPECT_EQ(ListAll(req).size(), names.size());
}

TEST_F(RecordsPagingTest, RevisionsPageByNumber) {
  auto rec = records_->CreateActivity("kjj", "li", Talk("2023-03-01", 1), "");
  ASSERT_TRUE(rec.ok());
  const std::string id = rec->name().substr(rec->name().rfind('/') + 1);
  for (int i = 2; i <= 5; ++i) {
    v1::AmendActivityRequest amend;
    *amend.mutable_activity() = *rec;
    (*amend.mutable_activity()->mutable_quantities())["participants"] = i;
    auto next = records_->AmendActivity("kjj", "li", amend);
    ASSERT_TRUE(next.ok()) << next.status();
    rec = next;
  }
  auto page = records_->ListRevisions("kjj", id, 2, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].revision(), 3);
  EXPECT_EQ((*page)[1].revision(), 4);
  // Each revision carries the change sequence of its own write.
  EXPECT_LT((*page)[0].change_sequence(), (*page)[1].change_sequence());
  EXPECT_EQ((*page)[0].create_sequence(), rec->create_sequence());
  EXPECT_EQ(records_->ListRevisions("kjj", id, 5, 2)->size(), 0u);
  EXPECT_EQ(records_->ListRevisions("kjj", id)->size(), 5u);
  EXPECT_EQ(records_->ListRevisions("kjj", "nope", 5, 2).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace govreport::records
