// Scenario 1: records streamed in while redis-server (appendfsync always)
// is SIGKILLed and restarted. Clients retry UNAVAILABLE and
// DEADLINE_EXCEEDED with the same request_id, as docs/operations.md tells
// them to; afterwards every acknowledged record must be there exactly
// once, with the content sent, and every figure must equal a recomputation
// from the raw records.
#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/fault/checks.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

constexpr char kSource[] = "fault-s1";

struct Sent {
  rpb::ActivityRecord content;  // As last acknowledged (amendments too).
  std::string request_id;
  std::string acked_name;  // Empty until the service said OK.
  int64_t acked_revision = 0;
  bool acked_void = false;
  bool change_unsure = false;  // An amend/void whose answer never came.
};

struct Counters {
  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> unary_calls{0};
  std::atomic<int64_t> batch_calls{0};
  // Non-transient errors on records we believe valid: each is a finding.
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> gave_up{0};
  std::atomic<int64_t> amended{0};
  std::atomic<int64_t> voided{0};
};

class Writer {
 public:
  Writer(Cluster& cluster, const OrgFixture& org, const rpb::Profile& profile, int index,
         uint64_t seed, Counters& counters, Problems& problems)
      : stub_(cluster.Activities()),
        org_(org),
        profile_(profile),
        index_(index),
        rng_(seed),
        counters_(counters),
        problems_(problems) {}

  // Writes until `stop` or `max_records` were issued in total, at most
  // `per_second` records a second over all writers, so that the writes
  // span every Redis crash instead of finishing before the first.
  void Run(const std::atomic<bool>& stop, int64_t max_records, double per_second,
           absl::Time start) {
    while (!stop.load()) {
      bool batch = rng_.Chance(0.6);
      int n = batch ? static_cast<int>(rng_.Uniform(5, 80)) : 1;
      int64_t first = counters_.issued.fetch_add(n);
      if (first >= max_records) return;
      absl::Time due = start + absl::Seconds(static_cast<double>(first) / per_second);
      while (!stop.load() && absl::Now() < due) absl::SleepFor(absl::Milliseconds(5));
      std::vector<size_t> slots;
      for (int i = 0; i < n; ++i) {
        Sent s;
        s.content = RandomRecord(profile_, rng_);
        s.content.set_source_system(kSource);
        s.content.set_external_id(absl::StrCat("w", index_, "-", sent_.size()));
        s.request_id = absl::StrCat("s1-", s.content.external_id());
        slots.push_back(sent_.size());
        sent_.push_back(std::move(s));
      }
      if (batch) {
        SendBatch(slots);
      } else {
        SendOne(slots[0]);
      }
      // Now and then change an acknowledged record: an amendment moves its
      // contribution between aggregates, a void removes it.
      if (!sent_.empty() && rng_.Chance(0.3)) {
        Sent& s =
            sent_[static_cast<size_t>(rng_.Uniform(0, static_cast<int64_t>(sent_.size()) - 1))];
        if (!s.acked_name.empty() && !s.acked_void && !s.change_unsure) Change(s);
      }
    }
  }

  std::vector<Sent>& sent() { return sent_; }

 private:
  void Refused(const Sent& s, const std::string& why) {
    counters_.refused.fetch_add(1);
    problems_.Add(absl::StrCat(s.content.external_id(), " refused: ", why));
  }

  void Change(Sent& s) {
    bool void_it = rng_.Chance(0.3);
    int64_t n = ++changes_;
    grpc::Status st;
    int attempts = 0;
    if (void_it) {
      rpb::VoidActivityRequest req;
      req.set_name(s.acked_name);
      req.set_reason("重复录入");
      req.set_expected_revision(s.acked_revision);
      req.set_request_id(absl::StrCat("s1-void-w", index_, "-", n));
      rpb::ActivityRecord out;
      st = Retry(
          org_.recorder,
          [&](grpc::ClientContext* ctx) { return stub_->VoidActivity(ctx, req, &out); },
          absl::Seconds(60), absl::Seconds(3), &attempts);
      if (st.ok()) {
        s.acked_void = true;
        s.acked_revision = out.revision();
        counters_.voided.fetch_add(1);
      }
    } else {
      rpb::ActivityRecord next = RandomRecord(profile_, rng_);
      next.set_name(s.acked_name);
      next.set_source_system(s.content.source_system());
      next.set_external_id(s.content.external_id());
      rpb::AmendActivityRequest req;
      *req.mutable_activity() = next;
      req.set_expected_revision(s.acked_revision);
      req.set_request_id(absl::StrCat("s1-amend-w", index_, "-", n));
      req.set_reason("更正");
      rpb::ActivityRecord out;
      st = Retry(
          org_.recorder,
          [&](grpc::ClientContext* ctx) { return stub_->AmendActivity(ctx, req, &out); },
          absl::Seconds(60), absl::Seconds(3), &attempts);
      if (st.ok()) {
        s.content = next;
        s.content.clear_name();
        s.acked_revision = out.revision();
        counters_.amended.fetch_add(1);
      }
    }
    counters_.retries.fetch_add(attempts - 1);
    if (!st.ok()) {
      // Its outcome is unknown to the client: not checked, not touched again.
      s.change_unsure = true;
      if (!Transient(st.error_code())) Refused(s, absl::StrCat("change: ", Describe(st)));
    }
  }

  void SendOne(size_t slot) {
    Sent& s = sent_[slot];
    rpb::CreateActivityRequest req;
    req.set_parent(absl::StrCat("orgs/", org_.org));
    *req.mutable_activity() = s.content;
    req.set_request_id(s.request_id);
    rpb::ActivityRecord out;
    int attempts = 0;
    grpc::Status st = Retry(
        org_.recorder,
        [&](grpc::ClientContext* ctx) {
          counters_.unary_calls.fetch_add(1);
          return stub_->CreateActivity(ctx, req, &out);
        },
        absl::Seconds(60), absl::Seconds(3), &attempts);
    counters_.retries.fetch_add(attempts - 1);
    if (st.ok()) {
      s.acked_name = out.name();
      s.acked_revision = out.revision();
      counters_.acked.fetch_add(1);
    } else if (Transient(st.error_code())) {
      counters_.gave_up.fetch_add(1);
    } else {
      Refused(s, Describe(st));
    }
  }

  void SendBatch(std::vector<size_t> pending) {
    absl::Time until = absl::Now() + absl::Seconds(60);
    absl::Duration backoff = absl::Milliseconds(50);
    bool first_try = true;
    while (!pending.empty()) {
      if (!first_try) {
        counters_.retries.fetch_add(1);
        if (absl::Now() + backoff > until) {
          counters_.gave_up.fetch_add(static_cast<int64_t>(pending.size()));
          return;
        }
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Milliseconds(500));
      }
      first_try = false;
      rpb::BatchCreateActivitiesRequest req;
      req.set_parent(absl::StrCat("orgs/", org_.org));
      for (size_t slot : pending) {
        rpb::CreateActivityRequest* one = req.add_requests();
        *one->mutable_activity() = sent_[slot].content;
        one->set_request_id(sent_[slot].request_id);
      }
      rpb::BatchCreateActivitiesResponse resp;
      auto ctx = Ctx(org_.recorder, absl::Seconds(5));
      counters_.batch_calls.fetch_add(1);
      grpc::Status st = stub_->BatchCreateActivities(ctx.get(), req, &resp);
      if (!st.ok()) {
        if (Transient(st.error_code())) continue;
        for (size_t slot : pending) Refused(sent_[slot], absl::StrCat("batch: ", Describe(st)));
        return;
      }
      if (resp.results_size() != static_cast<int>(pending.size())) {
        problems_.Add(absl::StrCat("batch answered ", resp.results_size(), " results for ",
                                   pending.size(), " records"));
        continue;
      }
      std::vector<size_t> again;
      for (size_t k = 0; k < pending.size(); ++k) {
        const rpb::BatchResult& r = resp.results(static_cast<int>(k));
        Sent& s = sent_[pending[k]];
        auto code = static_cast<grpc::StatusCode>(r.code());
        if (code == grpc::StatusCode::OK) {
          s.acked_name = r.activity().name();
          s.acked_revision = r.activity().revision();
          counters_.acked.fetch_add(1);
        } else if (Transient(code)) {
          again.push_back(pending[k]);
        } else {
          Refused(s, absl::StrCat(GrpcCodeName(code), " ", r.message()));
        }
      }
      pending = std::move(again);
    }
  }

  std::unique_ptr<rpb::ActivityService::Stub> stub_;
  const OrgFixture& org_;
  const rpb::Profile& profile_;
  int index_;
  Rng rng_;
  Counters& counters_;
  Problems& problems_;
  std::vector<Sent> sent_;
  int64_t changes_ = 0;
};

// One run of the scenario: writers while a killer thread SIGKILLs and
// restarts redis-server, then everything read back through the API. Its
// fields are what the phases share.
class IngestUnderRedisCrashes {
 public:
  IngestUnderRedisCrashes(const Env& env, Cluster& c, const OrgFixture& org,
                          const rpb::Profile& profile)
      : env_(env), c_(c), org_(org), profile_(profile) {}

  // `writers` writers and the killer until `target` records and
  // `kill_target` kills, twice the target, or `bound`.
  void WriteThroughCrashes(int writers, int64_t target, int kill_target, absl::Duration bound);
  // Reads everything back through the API.
  void Check();
  void Report(Results& results, ScenarioResult& out) const;

 private:
  // SIGKILLs redis-server now and then (sometimes in an AOF rewrite) and
  // restarts it, until stop_.
  void Killer();
  // Every record and external id listed once; every acknowledged record
  // there as last acknowledged.
  void CheckListed(const std::vector<rpb::ActivityRecord>& all);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& org_;
  const rpb::Profile& profile_;
  Counters counters_;
  Problems problems_;
  std::atomic<bool> stop_{false};
  std::atomic<int> kills_{0};
  std::atomic<int> rewrites_{0};
  std::atomic<int64_t> restart_failures_{0};
  std::vector<std::unique_ptr<Writer>> ws_;
  absl::Duration took_;
  int64_t sent_total_ = 0;
  int64_t lost_ = 0, duplicated_ = 0, corrupted_ = 0, unacked_written_ = 0, mismatches_ = 0;
  int64_t listed_ = 0;
  bool verified_ = false;
  int crashes_ = 0;
};

void IngestUnderRedisCrashes::WriteThroughCrashes(int writers, int64_t target, int kill_target,
                                                  absl::Duration bound) {
  for (int i = 0; i < writers; ++i) {
    ws_.push_back(
        std::make_unique<Writer>(c_, org_, profile_, i, env_.seed * 100 + i, counters_, problems_));
  }
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  // Twice the target at most, so a slow machine still ends with a bounded
  // count while the killer finishes its rounds.
  // Paced to end with the killer's last round (1.5 s apart on average).
  const double per_second = static_cast<double>(target) / (kill_target * 1.6 + 1);
  threads.reserve(ws_.size());
  for (auto& w : ws_) {
    threads.emplace_back([&, w = w.get()] { w->Run(stop_, target * 2, per_second, start); });
  }
  std::thread killer([this] { Killer(); });
  while (absl::Now() - start < bound) {
    if (counters_.issued.load() >= target && kills_.load() >= kill_target) break;
    if (counters_.issued.load() >= target * 2) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop_.store(true);
  for (auto& t : threads) t.join();
  killer.join();
  took_ = absl::Now() - start;
  for (auto& w : ws_) sent_total_ += static_cast<int64_t>(w->sent().size());
  Log(absl::StrFormat("s1: %d records sent, %d acked, %d redis kills in %.1fs", sent_total_,
                      counters_.acked.load(), kills_.load(), absl::ToDoubleSeconds(took_)));
}

void IngestUnderRedisCrashes::Killer() {
  Rng rng(env_.seed * 7 + 1);
  while (!stop_.load()) {
    absl::SleepFor(absl::Milliseconds(rng.Uniform(1000, 2000)));
    if (stop_.load()) break;
    // Sometimes in the middle of an AOF rewrite, the riskiest moment for
    // the files on disk.
    if (rng.Chance(0.3)) {
      (void)c_.redis().Command({"BGREWRITEAOF"});
      absl::SleepFor(absl::Milliseconds(rng.Uniform(0, 30)));
      rewrites_.fetch_add(1);
    }
    c_.redis_server().Kill();
    kills_.fetch_add(1);
    absl::SleepFor(absl::Milliseconds(rng.Uniform(50, 400)));
    // Same port, same directory, AOF always: the data must come back.
    bool up = false;
    while (!up) {
      OnSpawnerThread([&] { up = c_.redis_server().Restart(); });
      if (!up) restart_failures_.fetch_add(1);
    }
  }
}

void IngestUnderRedisCrashes::Check() {
  if (c_.WaitHealth(c_.records(), true, absl::Seconds(20))) {
    auto all = ListAllActivities(c_, c_.operator_token(), org_.org);
    if (!all.ok()) {
      problems_.Add(absl::StrCat("cannot list: ", all.status().message()));
    } else {
      listed_ = static_cast<int64_t>(all->size());
      CheckListed(*all);
      std::vector<std::string> periods = {"2023",    "2023-H1", "2023-Q3",         "2023-05",
                                          "2024-Q1", "2022",    "2022-11..2023-10"};
      auto m =
          CompareAggregates(c_, c_.operator_token(), org_.org, profile_, *all, periods, problems_);
      if (m.ok()) {
        mismatches_ = *m;
        verified_ = true;
      } else {
        problems_.Add(std::string(m.status().message()));
      }
    }
  } else {
    problems_.Add("records never came back to SERVING");
  }
  crashes_ = c_.Crashes();
}

void IngestUnderRedisCrashes::CheckListed(const std::vector<rpb::ActivityRecord>& all) {
  std::map<std::string, std::vector<const rpb::ActivityRecord*>> by_ext;
  std::map<std::string, int> by_name;
  for (const auto& r : all) {
    by_ext[r.external_id()].push_back(&r);
    if (++by_name[r.name()] == 2) {
      ++duplicated_;
      problems_.Add(absl::StrCat(r.name(), " listed twice"));
    }
  }
  for (const auto& [ext, recs] : by_ext) {
    if (recs.size() > 1) {
      duplicated_ += static_cast<int64_t>(recs.size()) - 1;
      problems_.Add(absl::StrCat("external id ", ext, " stored ", recs.size(), " times"));
    }
  }
  for (auto& w : ws_) {
    for (const Sent& s : w->sent()) {
      auto it = by_ext.find(s.content.external_id());
      if (s.acked_name.empty()) {
        if (it != by_ext.end()) ++unacked_written_;  // Answer lost, write kept: fine.
        continue;
      }
      const rpb::ActivityRecord* found = nullptr;
      if (it != by_ext.end()) {
        for (const auto* r : it->second) {
          if (r->name() == s.acked_name) found = r;
        }
      }
      if (found == nullptr) {
        ++lost_;
        problems_.Add(absl::StrCat("acknowledged ", s.acked_name, " (", s.content.external_id(),
                                   ") is gone"));
      } else if (!s.change_unsure &&
                 (!SameContent(s.content, *found) || found->voided() != s.acked_void ||
                  found->revision() != s.acked_revision)) {
        // The last acknowledged state, whole: content, revision, void.
        ++corrupted_;
        problems_.Add(absl::StrCat(s.acked_name, " is not as last acknowledged (revision ",
                                   found->revision(), " vs ", s.acked_revision, ")"));
      }
    }
  }
}

void IngestUnderRedisCrashes::Report(Results& results, ScenarioResult& out) const {
  const Counters& counters = counters_;
  results.Add("faults.records_acked", counters.acked.load());
  results.Add("faults.records_lost", lost_);
  results.Add("faults.records_duplicated", duplicated_);
  results.Add("faults.aggregate_mismatches", mismatches_);
  results.Add("faults.crashes", crashes_);
  results.Set("faults.s1.records_sent", sent_total_);
  results.Set("faults.s1.records_listed", listed_);
  results.Set("faults.s1.records_corrupted", corrupted_);
  results.Set("faults.s1.unacked_but_written", unacked_written_);
  results.Set("faults.s1.refused", counters.refused.load());
  results.Set("faults.s1.gave_up", counters.gave_up.load());
  results.Set("faults.s1.redis_kills", static_cast<int64_t>(kills_.load()));
  results.Set("faults.s1.kills_during_aof_rewrite", static_cast<int64_t>(rewrites_.load()));
  results.Set("faults.s1.amended", counters.amended.load());
  results.Set("faults.s1.voided", counters.voided.load());
  results.Set("faults.s1.retries", counters.retries.load());
  results.Set("faults.s1.calls", counters.unary_calls.load() + counters.batch_calls.load());
  results.Set("faults.s1.seconds", absl::ToDoubleSeconds(took_));

  out.summary = absl::StrFormat(
      "did %d records (%d acked, then %d amended and %d voided; %d unary + %d batch calls, %d "
      "retries) through %d redis SIGKILLs (%d during an AOF rewrite); lost %d, duplicated %d, "
      "not as acknowledged %d, aggregate mismatches %d, refused %d, crashes %d",
      sent_total_, counters.acked.load(), counters.amended.load(), counters.voided.load(),
      counters.unary_calls.load(), counters.batch_calls.load(), counters.retries.load(),
      kills_.load(), rewrites_.load(), lost_, duplicated_, corrupted_, mismatches_,
      counters.refused.load(), crashes_);
  out.problems = problems_.First();
  bool ok = verified_ && lost_ == 0 && duplicated_ == 0 && corrupted_ == 0 && mismatches_ == 0 &&
            counters.refused.load() == 0 && crashes_ == 0 && kills_.load() >= 1;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
}

}  // namespace

ScenarioResult RunIngestUnderRedisCrashes(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 1;
  out.name = "ingest under redis crashes";
  const int64_t target = env.short_mode ? 3000 : 30000;
  const int kill_target = env.short_mode ? 4 : 20;
  const absl::Duration bound = env.short_mode ? absl::Seconds(50) : absl::Seconds(240);
  const int writers = 4;

  ClusterOptions co;
  co.templates = false;
  co.approval = false;
  co.tag = "s1";
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  FixtureOptions fo;
  fo.template_and_workflow = false;
  fo.approval = false;
  fo.report = false;
  auto org = c.SetUpOrg("ingest", fo);
  auto profile = LoadProfileFile(env.source_dir);
  if (!org.ok() || !profile.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("set-up failed: ",
                               org.ok() ? profile.status().message() : org.status().message());
    return out;
  }
  IngestUnderRedisCrashes run(env, c, *org, *profile);
  run.WriteThroughCrashes(writers, target, kill_target, bound);
  run.Check();
  run.Report(results, out);
  return out;
}

}  // namespace govreport::fault
