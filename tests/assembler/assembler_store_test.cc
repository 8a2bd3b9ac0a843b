// ReadModifyCommit, the one read → decide → commit loop of every report
// writer, against a real redis-server: a lost race is decided again on a
// fresh read, a caller's first read is not repeated, and the passes are
// bounded. Passes and versions are counted, never timed.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "assembler/store.h"
#include "assembler/workers.h"
#include "common/events.h"
#include "common/streams.h"
#include "gtest/gtest.h"
#include "redis_server.h"

namespace govreport::assembler {
namespace {

class ReadModifyCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    redis_ = std::make_unique<redis::Client>(server_.options());
    store_ = std::make_unique<Store>(redis_.get());
    pb::Report r;
    r.set_name(ref_.Name());
    r.set_title("v1");
    r.set_version(1);
    auto created = store_->Commit(CommitBuilder(ref_, 0, r));
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_EQ(created->outcome, Outcome::kOk);
  }

  // Another writer's change: the title, one version on.
  void WriteBehindOurBack(const std::string& title) {
    auto r = store_->ReadReport(ref_);
    ASSERT_TRUE(r.ok()) << r.status();
    pb::Report next = *r;
    next.set_title(title);
    next.set_version(r->version() + 1);
    auto c = store_->Commit(CommitBuilder(ref_, r->version(), next));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(c->outcome, Outcome::kOk);
  }

  // Retitles the report ("<title>+"); `race` passes lose to another writer
  // first. Returns how many passes decided, or -1 when they ran out.
  int Retitle(int passes, int race, std::optional<pb::Report> first = std::nullopt) {
    int decided = 0;
    return ReadModifyCommit<int>(
        *store_, ref_, passes, std::move(first),
        [&](absl::StatusOr<pb::Report>& report) -> Decision<int> {
          ++decided;
          if (!report.ok()) return -2;
          pb::Report next = *report;
          next.set_title(report->title() + "+");
          next.set_version(report->version() + 1);
          if (decided <= race) WriteBehindOurBack(absl::StrCat("other", decided));
          return CommitBuilder(ref_, report->version(), next);
        },
        [&](const absl::StatusOr<CommitResult>& result) -> std::optional<int> {
          if (!result.ok()) return -3;
          if (result->outcome == Outcome::kStale) return std::nullopt;
          return decided;
        },
        [] { return -1; });
  }

  testing::RedisServer server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<Store> store_;
  ReportRef ref_{"kjj", "annual"};
};

TEST_F(ReadModifyCommitTest, CommitsOnTheFirstPassWhenNobodyRaces) {
  EXPECT_EQ(Retitle(8, 0), 1);
  auto r = store_->ReadReport(ref_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->title(), "v1+");
  EXPECT_EQ(r->version(), 2);
}

TEST_F(ReadModifyCommitTest, ALostRaceIsDecidedAgainOnWhatTheOtherWriterStored) {
  EXPECT_EQ(Retitle(8, 2), 3);
  auto r = store_->ReadReport(ref_);
  ASSERT_TRUE(r.ok());
  // Built on the other writer's second change, not on the first read.
  EXPECT_EQ(r->title(), "other2+");
  EXPECT_EQ(r->version(), 4);
}

TEST_F(ReadModifyCommitTest, GivesUpAfterThePassesAndWritesNothingOfItsOwn) {
  EXPECT_EQ(Retitle(3, 3), -1);
  auto r = store_->ReadReport(ref_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->title(), "other3");
  EXPECT_EQ(r->version(), 4);
}

TEST_F(ReadModifyCommitTest, TheCallersFirstReadIsUsedOnceThenTheStoreIsRead) {
  // A stale copy of the report as the first read: its commit loses, and the
  // second pass reads what is stored.
  auto before = store_->ReadReport(ref_);
  ASSERT_TRUE(before.ok());
  WriteBehindOurBack("other");
  EXPECT_EQ(Retitle(8, 0, *before), 2);
  auto r = store_->ReadReport(ref_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->title(), "other+");
  EXPECT_EQ(r->version(), 3);
}

TEST_F(ReadModifyCommitTest, AnAnswerFromDecideEndsWithoutACommit) {
  int committed = 0;
  int answer = ReadModifyCommit<int>(
      *store_, ref_, 8, std::nullopt,
      [](absl::StatusOr<pb::Report>& report) -> Decision<int> { return report.ok() ? 7 : -2; },
      [&](const absl::StatusOr<CommitResult>&) -> std::optional<int> {
        ++committed;
        return 0;
      },
      [] { return -1; });
  EXPECT_EQ(answer, 7);
  EXPECT_EQ(committed, 0);
  auto r = store_->ReadReport(ref_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version(), 1);
}

TEST_F(ReadModifyCommitTest, AMissingReportReachesDecideAsNotFound) {
  absl::StatusCode seen = absl::StatusCode::kOk;
  ReadModifyCommit<int>(
      *store_, ReportRef{"kjj", "nothing"}, 8, std::nullopt,
      [&](absl::StatusOr<pb::Report>& report) -> Decision<int> {
        seen = report.status().code();
        return 0;
      },
      [](const absl::StatusOr<CommitResult>&) -> std::optional<int> { return 0; },
      [] { return -1; });
  EXPECT_EQ(seen, absl::StatusCode::kNotFound);
}

// The pool's periodic trim step over the streams the assembler owns: the
// queue keeps its pending job and loses the acknowledged ones; the
// published events (no group) and the dead letters keep their retention.
// The event goes with the commit: a commit refused by its guard (a job's
// revision already stored) or by the version (another writer came first)
// appends no event, an accepted one appends exactly one.
TEST_F(ReadModifyCommitTest, AnEventIsAppendedExactlyWithItsCommit) {
  auto events_len = [&] {
    auto r = redis_->Command({"XLEN", events::StreamKey("kjj")});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->Int() : -1;
  };
  events::v1::Event e;
  e.set_kind(events::v1::EVENT_KIND_REPORT_ASSEMBLED);
  e.set_org("orgs/kjj");
  e.mutable_report_assembled()->set_report(ref_.Name());
  e.mutable_report_assembled()->set_revision(1);
  const std::string guard = "gr:{kjj}:rpt:annual:job:1";
  auto commit = [&](int64_t read_version) {
    pb::Report next;
    next.set_name(ref_.Name());
    next.set_version(read_version + 1);
    CommitBuilder c(ref_, read_version, next);
    c.Guard(guard);
    c.Set(guard, "1");
    c.AppendEvent("kjj", e, absl::Hours(1));
    auto r = store_->Commit(c);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->outcome : Outcome::kUnknown;
  };
  EXPECT_EQ(commit(7), Outcome::kStale);
  EXPECT_EQ(events_len(), 0);
  EXPECT_EQ(commit(1), Outcome::kOk);
  EXPECT_EQ(events_len(), 1);
  EXPECT_EQ(commit(2), Outcome::kReplayed);  // The same job again.
  EXPECT_EQ(events_len(), 1);

  auto r = redis_->Command({"XRANGE", events::StreamKey("kjj"), "-", "+"});
  ASSERT_TRUE(r.ok());
  redis::ReplyView kv = (*r)[0][1];
  ASSERT_EQ(kv.Size(), 4u);
  EXPECT_EQ(kv[0].Str(), events::kKindField);
  EXPECT_EQ(kv[1].Str(), absl::StrCat(static_cast<int>(events::v1::EVENT_KIND_REPORT_ASSEMBLED)));
  EXPECT_EQ(kv[2].Str(), events::kEventField);
  events::v1::Event stored;
  ASSERT_TRUE(stored.ParseFromString(kv[3].AsString()));
  EXPECT_EQ(stored.report_assembled().report(), ref_.Name());
  EXPECT_TRUE(stored.has_time());  // Stamped when the caller left it empty.
}

TEST(WorkerPoolTrimTest, TrimsAcknowledgedEntriesAndKeepsPendingOnes) {
  govreport::testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  redis::Client client(server.options());
  streams::ConsumerOptions o;
  o.stream = std::string(kAssembleQueue);
  o.group = std::string(kConsumerGroup);
  o.consumer = "c";
  o.block = absl::Milliseconds(10);
  streams::Consumer queue(&client, o);
  ASSERT_TRUE(queue.EnsureGroup().ok());
  std::vector<std::string> jobs;
  jobs.reserve(3);
  for (int i = 0; i < 3; ++i) jobs.push_back(*streams::Add(client, o.stream, {{"job", "x"}}));
  ASSERT_EQ(queue.ReadNew()->size(), 3u);
  ASSERT_TRUE(queue.Ack(jobs[0]).ok());
  ASSERT_TRUE(queue.Ack(jobs[2]).ok());  // jobs[1] is still being worked on.
  ASSERT_TRUE(streams::Add(client, std::string(kPublishedEvents), {{"report", "r"}}).ok());
  ASSERT_TRUE(streams::Add(client, absl::StrCat(kAssembleQueue, ":dead"), {{"job", "y"}}).ok());

  WorkerOptions options;
  options.stream_retention = absl::ZeroDuration();
  options.dead_letter_retention = absl::Hours(1);
  WorkerPool pool(&client, nullptr, options);
  // One second on, so that the published event is past its (zero) retention.
  auto removed = pool.TrimStreams(absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  auto left = client.Command({"XRANGE", o.stream, "-", "+"});
  ASSERT_EQ(left->Size(), 2u);
  EXPECT_EQ((*left)[0][0].AsString(), jobs[1]);
  EXPECT_EQ(client.Command({"XLEN", std::string(kPublishedEvents)})->Int(), 0);
  EXPECT_EQ(client.Command({"XLEN", absl::StrCat(kAssembleQueue, ":dead")})->Int(), 1);
}

// ListReports pages by cursor: a report created, or changed, while the
// list is read never makes another come twice or vanish; by change
// sequence a sync from the last one seen gets exactly what changed.
class ReportListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    redis_ = std::make_unique<redis::Client>(server_.options());
    store_ = std::make_unique<Store>(redis_.get());
  }

  // A report created at `ms` (several share one millisecond).
  void Create(const std::string& id, int64_t ms, const std::string& org = "kjj") {
    ReportRef ref{org, id};
    pb::Report r;
    r.set_name(ref.Name());
    r.set_version(1);
    r.set_state(pb::REPORT_STATE_DRAFT);
    CommitBuilder c(ref, 0, r);
    c.ZAdd(Store::IndexKey(org), ms, id);
    auto out = store_->Commit(c);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->outcome, Outcome::kOk);
    EXPECT_GT(out->change_sequence, 0);
  }

  void Change(const std::string& id) {
    ReportRef ref{"kjj", id};
    auto r = store_->ReadReport(ref);
    ASSERT_TRUE(r.ok()) << r.status();
    pb::Report next = *r;
    next.set_title(next.title() + "+");
    next.set_version(r->version() + 1);
    auto out = store_->Commit(CommitBuilder(ref, r->version(), next));
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->outcome, Outcome::kOk);
  }

  // Every page of size `size`, with `between` after each.
  std::vector<pb::Report> ListAll(ReportQuery q, const std::function<void(int)>& between) {
    std::vector<pb::Report> out;
    for (int page = 0; page < 1000; ++page) {
      auto p = store_->ListReports("kjj", q);
      EXPECT_TRUE(p.ok()) << p.status();
      if (!p.ok()) break;
      for (auto& r : p->reports) out.push_back(r);
      if (p->next_cursor.empty()) break;
      q.cursor = p->next_cursor;
      between(page);
    }
    return out;
  }

  static std::vector<std::string> Ids(const std::vector<pb::Report>& reports) {
    std::vector<std::string> ids;
    ids.reserve(reports.size());
    for (const auto& r : reports) ids.push_back(r.name().substr(r.name().rfind('/') + 1));
    return ids;
  }

  testing::RedisServer server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<Store> store_;
};

TEST_F(ReportListingTest, CreationOrdersHoldWhileReportsAreCreatedAndChanged) {
  // 60 reports, three per millisecond.
  std::vector<std::string> initial;
  for (int i = 0; i < 60; ++i) {
    initial.push_back(absl::StrCat("r", 100 + i));
    Create(initial.back(), 1000 + i / 3);
  }
  for (ReportOrder order : {ReportOrder::kNewest, ReportOrder::kOldest}) {
    ReportQuery q;
    q.order = order;
    q.size = 7;
    int extra = 0;
    auto got = Ids(ListAll(q, [&](int page) {
      // New ones before, after and in the millisecond of the cursor, and
      // changes to ones seen and not yet seen.
      for (int64_t ms : {int64_t{500}, int64_t{5000}, int64_t{1000 + page}}) {
        Create(absl::StrCat("n", order == ReportOrder::kNewest ? "a" : "b", extra++), ms);
      }
      Change(initial[(static_cast<size_t>(page) * 13) % initial.size()]);
    }));
    std::map<std::string, int> times;
    for (const auto& id : got) ++times[id];
    for (const auto& id : initial) EXPECT_EQ(times[id], 1) << id;
    for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << id;
    // In order: by millisecond, then id.
    std::vector<std::string> mine;
    for (const auto& id : got) {
      if (id[0] == 'r') mine.push_back(id);
    }
    std::vector<std::string> want = initial;
    if (order == ReportOrder::kNewest) std::reverse(want.begin(), want.end());
    EXPECT_EQ(mine, want);
  }
}

TEST_F(ReportListingTest, ASyncByChangeSequenceSeesExactlyWhatChanged) {
  for (int i = 0; i < 20; ++i) Create(absl::StrCat("r", 100 + i), 1000 + i);
  Create("other", 1000, "jyj");
  ReportQuery q;
  q.order = ReportOrder::kChange;
  q.size = 3;
  auto first = ListAll(q, [](int) {});
  ASSERT_EQ(first.size(), 20u);
  int64_t last = 0;
  for (const auto& r : first) {
    EXPECT_GT(r.change_sequence(), last);
    last = r.change_sequence();
  }
  Change("r105");
  Change("r119");
  Change("r105");
  Create("r200", 2000);
  q.cursor = absl::StrCat(last);
  EXPECT_EQ(Ids(ListAll(q, [](int) {})), (std::vector<std::string>{"r119", "r105", "r200"}));
  // A report changed while the sync reads is seen again at the end, never
  // missed.
  q.cursor = "";
  q.size = 5;
  auto during = Ids(ListAll(q, [&](int page) {
    if (page == 0) Change("r100");
  }));
  EXPECT_EQ(std::count(during.begin(), during.end(), "r100"), 2);
  EXPECT_EQ(during.size(), 22u);

  pb::ListReportsRequest req;
  req.set_order_by("title");
  EXPECT_EQ(ParseReportOrder(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.set_order_by("create_time");
  req.set_changed_after(3);
  EXPECT_EQ(ParseReportOrder(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.clear_order_by();
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kChange);
  req.set_changed_after(-1);
  EXPECT_EQ(ParseReportOrder(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.Clear();
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kNewest);
  req.set_order_by("create_time desc");
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kNewest);
  req.set_order_by("create_time");
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kOldest);
  // The spellings of before create_time was a Timestamp still work.
  req.set_order_by("create_unix desc");
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kNewest);
  req.set_order_by("create_unix");
  EXPECT_EQ(*ParseReportOrder(req), ReportOrder::kOldest);
}

}  // namespace
}  // namespace govreport::assembler
