// An org's slot moves to another master of a real six-node cluster, key by
// key as `redis-cli --cluster reshard` moves them (CLUSTER SETSLOT
// IMPORTING / MIGRATING, MIGRATE ... KEYS, SETSLOT NODE), while writers
// create and amend the org's records and readers read its figures and list
// its records: no call fails, no acknowledged record is lost, and no figure
// read meanwhile is below one read before it (a key still on the other
// node read as 0).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "records/core.h"
#include "redis_cluster.h"
#include "shipped_profile.h"

namespace govreport::records {
namespace {

constexpr char kOrg[] = "mover";
constexpr char kIndicator[] = "heart_to_heart_talks";

v1::ActivityRecord Talk(int n) {
  v1::ActivityRecord r;
  r.set_type("heart_to_heart_talk");
  r.set_occurred_on(absl::StrFormat("2023-%02d-%02d", 1 + n % 12, 1 + n % 28));
  r.set_title(absl::StrCat("谈心谈话 ", n));
  (*r.mutable_quantities())["participants"] = 1;
  return r;
}

int64_t FigureOf(const v1::GetIndicatorValuesResponse& values) {
  for (const auto& v : values.values()) {
    if (v.key() == kIndicator) return v.value();
  }
  return -1;
}

TEST(ReshardTest, AnOrgsSlotMovesUnderWritesAndReadsWithNoErrorAndNothingLost) {
  testing::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  redis::Client client(cluster.options());
  RecordsOptions options;
  options.quota_records_per_day = 0;
  options.quota_bytes_per_day = 0;
  RecordsCore records(&client, options);
  v1::Org org;
  org.set_display_name("中共某市某局党组");
  ASSERT_TRUE(records.CreateOrg(kOrg, org, "").ok());
  ASSERT_TRUE(records.LoadProfile(kOrg, testing::ShippedProfile(), "").ok());
  for (int i = 0; i < 200; ++i) {  // Keys enough for the move to take a while.
    ASSERT_TRUE(records.CreateActivity(kOrg, "loader", Talk(i), absl::StrCat("pre-", i)).ok());
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> created{200}, errors{0}, short_reads{0}, reads{0};
  std::vector<std::thread> threads;
  threads.reserve(5);  // Three writers, a figure reader, a lister.
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        auto r = records.CreateActivity(kOrg, "writer", Talk(i), absl::StrFormat("w%d-%d", t, i));
        if (!r.ok()) {
          ++errors;
          ADD_FAILURE() << "create: " << r.status();
          continue;
        }
        ++created;
        if (i % 4 != 0) continue;
        v1::AmendActivityRequest amend;
        *amend.mutable_activity() = *r;
        amend.mutable_activity()->set_title(absl::StrCat(r->title(), "（更正）"));
        amend.set_reason("标题更正");
        amend.set_request_id(absl::StrFormat("a%d-%d", t, i));
        auto a = records.AmendActivity(kOrg, "writer", amend);
        if (!a.ok()) {
          ++errors;
          ADD_FAILURE() << "amend: " << a.status();
        }
      }
    });
  }
  threads.emplace_back([&] {
    int64_t last = 0;
    while (!stop.load()) {
      int64_t floor = created.load();
      auto v = records.GetIndicatorValues(kOrg, "2023");
      if (!v.ok()) {
        ++errors;
        ADD_FAILURE() << "read: " << v.status();
        continue;
      }
      ++reads;
      int64_t now = FigureOf(*v);
      if (now < last || now < floor) ++short_reads;
      last = now;
    }
  });

  std::atomic<int64_t> listed{0};
  threads.emplace_back([&] {
    while (!stop.load()) {
      v1::ListActivitiesRequest list;
      list.set_parent(absl::StrCat("orgs/", kOrg));
      list.set_page_size(100);
      list.set_type("heart_to_heart_talk");
      auto page = records.ListActivities(kOrg, list);
      if (!page.ok()) {
        ++errors;
        ADD_FAILURE() << "list: " << page.status();
        continue;
      }
      if (page->activities_size() == 100) ++listed;
    }
  });

  absl::SleepFor(absl::Milliseconds(200));
  const std::string key = absl::StrCat("gr:{", kOrg, "}:dv");
  auto slot = client.Command({"CLUSTER", "KEYSLOT", key});
  ASSERT_TRUE(slot.ok());
  auto from = cluster.MasterOf(key);
  ASSERT_TRUE(from.ok());
  auto to = cluster.OtherMaster(*from);
  ASSERT_TRUE(to.ok());
  absl::Status moved = cluster.MoveSlot(slot->Int(), *from, *to);
  absl::SleepFor(absl::Milliseconds(300));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(moved.ok()) << moved;
  auto owner = cluster.MasterOf(key);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, *to);

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(short_reads.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(listed.load(), 0);
  auto final_values = records.GetIndicatorValues(kOrg, "2023");
  ASSERT_TRUE(final_values.ok()) << final_values.status();
  EXPECT_EQ(FigureOf(*final_values), created.load());
  // Nothing of the org stayed behind.
  auto left = cluster.On(*from, {"CLUSTER", "COUNTKEYSINSLOT", absl::StrCat(slot->Int())});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(), 0);
}

}  // namespace
}  // namespace govreport::records
