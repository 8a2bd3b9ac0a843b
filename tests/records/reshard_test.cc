// An org's slot moves to another master of a real six-node cluster, by
// `redis-cli --cluster reshard` itself and key by key the way it moves them
// (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE ... KEYS, SETSLOT NODE)
// but slower, so that calls meet every stage of it, while writers
// create and amend the org's records and readers read its figures and list
// its records: no call fails, no acknowledged record is lost, and no figure
// read meanwhile is below one read before it (a key still on the other
// node read as 0).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/redis_cluster.h"
#include "records/core.h"
#include "redis_cluster.h"
#include "shipped_profile.h"

namespace govreport::records {
namespace {

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

// How a test moves `slot` from the master on `from` to the one on `to`.
using SlotMover = std::function<absl::Status(testing::RedisCluster&, int64_t, int, int)>;

// Three writers create and amend an org's records, a reader reads its
// figures (each at least what was acknowledged before, and never less than
// the read before) and a lister lists them, until Stop.
class OrgLoad {
 public:
  OrgLoad(RecordsCore& records, std::string org_id, int64_t created)
      : records_(records), org_id_(std::move(org_id)), created_(created) {
    threads_.reserve(5);
    for (int t = 0; t < 3; ++t) threads_.emplace_back([this, t] { Write(t); });
    threads_.emplace_back([this] { ReadFigures(); });
    threads_.emplace_back([this] { List(); });
  }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ~OrgLoad() {
    if (!threads_.empty()) Stop();
  }

  int64_t created() const { return created_.load(); }
  int64_t errors() const { return errors_.load(); }
  int64_t reads() const { return reads_.load(); }
  int64_t short_reads() const { return short_reads_.load(); }
  int64_t full_pages() const { return full_pages_.load(); }

 private:
  void Failed(absl::string_view what, const absl::Status& status) {
    ++errors_;
    ADD_FAILURE() << what << ": " << status;
  }

  void Write(int t) {
    for (int i = 0; !stop_.load(); ++i) {
      auto r = records_.CreateActivity(org_id_, "writer", Talk(i), absl::StrFormat("w%d-%d", t, i));
      if (!r.ok()) {
        Failed("create", r.status());
        continue;
      }
      ++created_;
      if (i % 4 != 0) continue;
      v1::AmendActivityRequest amend;
      *amend.mutable_activity() = *r;
      amend.mutable_activity()->set_title(absl::StrCat(r->title(), "（更正）"));
      amend.set_reason("标题更正");
      amend.set_request_id(absl::StrFormat("a%d-%d", t, i));
      auto a = records_.AmendActivity(org_id_, "writer", amend);
      if (!a.ok()) Failed("amend", a.status());
    }
  }

  void ReadFigures() {
    int64_t last = 0;
    while (!stop_.load()) {
      const int64_t floor = created_.load();
      auto v = records_.GetIndicatorValues(org_id_, "2023");
      if (!v.ok()) {
        Failed("read", v.status());
        continue;
      }
      ++reads_;
      const int64_t now = FigureOf(*v);
      if (now < last || now < floor) ++short_reads_;
      last = now;
    }
  }

  void List() {
    while (!stop_.load()) {
      v1::ListActivitiesRequest list;
      list.set_parent(absl::StrCat("orgs/", org_id_));
      list.set_page_size(100);
      list.set_type("heart_to_heart_talk");
      auto page = records_.ListActivities(org_id_, list);
      if (!page.ok()) {
        Failed("list", page.status());
        continue;
      }
      if (page->activities_size() == 100) ++full_pages_;
    }
  }

  RecordsCore& records_;
  const std::string org_id_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> created_, errors_{0}, reads_{0}, short_reads_{0}, full_pages_{0};
  std::vector<std::thread> threads_;
};

// The org's records under OrgLoad while `move` moves its slot: no call
// fails, no figure is read short, every acknowledged record is counted and
// nothing of the org stays on the old master.
void ExpectNothingLostWhileTheSlotMoves(testing::RedisCluster& cluster, const std::string& org_id,
                                        const SlotMover& move) {
  redis::Client client(cluster.options());
  RecordsOptions options;
  options.quota_records_per_day = 0;
  options.quota_bytes_per_day = 0;
  RecordsCore records(&client, options);
  v1::Org org;
  org.set_display_name("中共某市某局党组");
  ASSERT_TRUE(records.CreateOrg(org_id, org, "").ok());
  ASSERT_TRUE(records.LoadProfile(org_id, testing::ShippedProfile(), "").ok());
  constexpr int kPreloaded = 200;  // Keys enough for the move to take a while.
  for (int i = 0; i < kPreloaded; ++i) {
    ASSERT_TRUE(records.CreateActivity(org_id, "loader", Talk(i), absl::StrCat("pre-", i)).ok());
  }

  OrgLoad load(records, org_id, kPreloaded);
  absl::SleepFor(absl::Milliseconds(200));
  const std::string key = absl::StrCat("gr:{", org_id, "}:dv");
  const int64_t slot = redis::KeySlot(key);
  auto from = cluster.MasterOf(key);
  ASSERT_TRUE(from.ok());
  auto to = cluster.OtherMaster(*from);
  ASSERT_TRUE(to.ok());
  absl::Status moved = move(cluster, slot, *from, *to);
  absl::SleepFor(absl::Milliseconds(300));
  load.Stop();
  ASSERT_TRUE(moved.ok()) << moved;
  auto owner = cluster.MasterOf(key);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(*owner, *to);

  EXPECT_EQ(load.errors(), 0);
  EXPECT_EQ(load.short_reads(), 0) << "of " << load.reads() << " reads";
  EXPECT_GT(load.reads(), 0);
  EXPECT_GT(load.full_pages(), 0);
  auto final_values = records.GetIndicatorValues(org_id, "2023");
  ASSERT_TRUE(final_values.ok()) << final_values.status();
  EXPECT_EQ(FigureOf(*final_values), load.created());
  auto left = cluster.On(*from, {"CLUSTER", "COUNTKEYSINSLOT", absl::StrCat(slot)});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(), 0);
}

TEST(ReshardTest, AnOrgsSlotMovesUnderWritesAndReadsWithNoErrorAndNothingLost) {
  testing::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  ExpectNothingLostWhileTheSlotMoves(cluster, "mover",
                                     [](testing::RedisCluster& c, int64_t slot, int from, int to) {
                                       return c.MoveSlot(slot, from, to);
                                     });
}

// The slot range (first, last) of the master that holds `slot`.
absl::StatusOr<std::pair<int64_t, int64_t>> RangeOf(testing::RedisCluster& cluster, int64_t slot) {
  auto slots = cluster.On(cluster.node(0).port(), {"CLUSTER", "SLOTS"});
  if (!slots.ok()) return slots.status();
  for (size_t i = 0; i < slots->Size(); ++i) {
    redis::ReplyView range = (*slots)[i];
    if (range[0].Int() <= slot && slot <= range[1].Int()) {
      return std::pair{range[0].Int(), range[1].Int()};
    }
  }
  return absl::NotFoundError(absl::StrCat("no node serves slot ", slot));
}

// redis-cli moves a master's slots lowest first: an org whose slot is among
// the first few of its master's range moves with a short reshard.
TEST(ReshardTest, RedisCliClusterReshardMovesAnOrgUnderWritesAndReadsWithNoError) {
  testing::RedisCluster cluster;
  ASSERT_TRUE(cluster.ok());
  std::string org_id;
  int64_t slots_to_move = 0;
  for (int i = 0; org_id.empty() && i < 100000; ++i) {
    std::string candidate = absl::StrCat("cli-mover-", i);
    const int64_t slot = redis::KeySlot(absl::StrCat("gr:{", candidate, "}:dv"));
    auto range = RangeOf(cluster, slot);
    ASSERT_TRUE(range.ok()) << range.status();
    if (slot - range->first < 16) {
      org_id = candidate;
      slots_to_move = slot - range->first + 1;
    }
  }
  ASSERT_FALSE(org_id.empty());
  const std::string log = ::testing::TempDir() + "reshard.log";
  ExpectNothingLostWhileTheSlotMoves(
      cluster, org_id, [&](testing::RedisCluster& c, int64_t, int from, int to) -> absl::Status {
        auto from_id = c.NodeId(from);
        auto to_id = c.NodeId(to);
        if (!from_id.ok()) return from_id.status();
        if (!to_id.ok()) return to_id.status();
        const std::string command =
            absl::StrCat("redis-cli --cluster reshard 127.0.0.1:", from, " --cluster-from ",
                         *from_id, " --cluster-to ", *to_id, " --cluster-slots ", slots_to_move,
                         " --cluster-yes --cluster-pipeline 8 >", log, " 2>&1");
        if (std::system(command.c_str()) != 0) {
          std::ifstream in(log);
          std::stringstream out;
          out << in.rdbuf();
          return absl::InternalError(absl::StrCat(command, " failed:\n", out.str()));
        }
        return absl::OkStatus();
      });
}

}  // namespace
}  // namespace govreport::records
