// Scenario 8: abuse. An attacker holding the ordinary tokens of one org
// (recorder, drafter) throws the denial-of-service inputs of the security
// review at a live stack — a template whose partials multiply, records
// naming thousands of persons, a comment flood, a crowd of WatchReport
// streams, forged page tokens — while another org's figures are read
// every 20 ms. Each attack must be refused or bounded (never answered by
// a crash or an internal error), no service may die, and the victim's
// latency is reported beside its latency before the attack
// (faults.abuse.victim_p99_ms vs faults.abuse.victim_baseline_p99_ms).
// The latencies are figures, not the verdict: machines here are noisy.
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {

namespace typepb = ::govreport::type::v1;
namespace {

// Reads the victim's figures until `stop`; one latency sample per call.
class VictimReader {
 public:
  VictimReader(Cluster& c, std::string token, std::string org)
      : stub_(c.Indicators()), token_(std::move(token)), org_(std::move(org)) {}

  void Run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      rpb::GetIndicatorValuesRequest req;
      req.set_parent(absl::StrCat("orgs/", org_));
      req.set_period("2023");
      rpb::GetIndicatorValuesResponse out;
      auto ctx = Ctx(token_, absl::Seconds(10));
      absl::Time t0 = absl::Now();
      grpc::Status st = stub_->GetIndicatorValues(ctx.get(), req, &out);
      double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
      {
        absl::MutexLock lock(&mu_);
        samples_.push_back(ms);
        if (!st.ok()) ++errors_;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  // The p99 so far, and starts over.
  double TakeP99(int64_t* calls, int64_t* errors) {
    absl::MutexLock lock(&mu_);
    *calls = static_cast<int64_t>(samples_.size());
    *errors = errors_;
    double p = samples_.empty() ? 0 : Percentile(samples_, 0.99);
    samples_.clear();
    errors_ = 0;
    return p;
  }

 private:
  std::unique_ptr<rpb::IndicatorService::Stub> stub_;
  std::string token_, org_;
  absl::Mutex mu_;
  std::vector<double> samples_;
  int64_t errors_ = 0;
};

// Tallies the answers of one attack. An attack is held when every answer
// is a refusal or a bounded success; INTERNAL, UNKNOWN, UNAVAILABLE (a
// service gone) or DATA_LOSS are failures.
struct Attack {
  explicit Attack(std::string attack_name) : name(std::move(attack_name)) {}

  std::string name;
  std::atomic<int64_t> sent{0}, ok{0}, refused{0}, exhausted{0}, bad{0};
  std::string first_bad;
  absl::Mutex mu;

  void Count(const grpc::Status& st) {
    ++sent;
    switch (st.error_code()) {
      case grpc::StatusCode::OK:
        ++ok;
        return;
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        ++exhausted;
        ++refused;
        return;
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::FAILED_PRECONDITION:
        ++refused;
        return;
      default: {
        ++bad;
        absl::MutexLock lock(&mu);
        if (first_bad.empty()) first_bad = Describe(st);
      }
    }
  }
  std::string Summary() const {
    return absl::StrCat(name, " ", sent.load(), " sent/", refused.load(), " refused/", ok.load(),
                        " ok");
  }
};

tpb::Value ListOf(int n) {
  tpb::Value v;
  for (int i = 0; i < n; ++i) v.mutable_list()->add_items()->mutable_map();
  return v;
}

// {{#l}}{{#l}}{{> nope}}{{/l}}{{/l}} over a list of 1000: a million lookups
// of a partial that does not exist, unless the renderer bounds it.
void PartialBomb(Cluster& c, const OrgFixture& f, Attack& a) {
  auto stub = c.Templates();
  for (int i = 0; i < 4; ++i) {
    tpb::RenderRequest req;
    req.set_parent(absl::StrCat("orgs/", f.org));
    req.set_text("{{#l}}{{#l}}{{> nope}}{{/l}}{{/l}}");
    (*req.mutable_context()->mutable_fields())["l"] = ListOf(1000);
    req.set_format(typepb::DOCUMENT_FORMAT_TXT);
    tpb::RenderResponse out;
    auto ctx = Ctx(f.recorder, absl::Seconds(2));
    a.Count(stub->Render(ctx.get(), req, &out));
  }
}

// Records that name thousands of persons, to grow the distinct counts.
void PersonsFlood(Cluster& c, const OrgFixture& f, Attack& a, int batches) {
  auto stub = c.Activities();
  for (int b = 0; b < batches; ++b) {
    rpb::BatchCreateActivitiesRequest req;
    req.set_parent(absl::StrCat("orgs/", f.org));
    // The first batch asks for 10 000 persons a record, the rest for as
    // many as a record may name.
    int persons = b == 0 ? 10000 : 500;
    for (int r = 0; r < 10; ++r) {
      rpb::CreateActivityRequest* one = req.add_requests();
      one->set_request_id(absl::StrCat("s8-persons-", b, "-", r));
      rpb::ActivityRecord* rec = one->mutable_activity();
      rec->set_type("needy_member_visit");
      rec->set_occurred_on("2023-06-01");
      rec->set_title("走访");
      for (int p = 0; p < persons; ++p) rec->add_persons(absl::StrCat("p", b, "-", r, "-", p));
    }
    rpb::BatchCreateActivitiesResponse out;
    auto ctx = Ctx(f.recorder, absl::Seconds(20));
    grpc::Status st = stub->BatchCreateActivities(ctx.get(), req, &out);
    if (!st.ok()) {
      a.Count(st);
      continue;
    }
    for (const auto& r : out.results()) {
      a.Count(grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message()));
    }
  }
}

void CommentFlood(Cluster& c, const OrgFixture& f, Attack& a) {
  auto stub = c.Approvals();
  for (int i = 0; i < 200; ++i) {
    apb::CommentRequest req;
    req.set_name(absl::StrCat("orgs/", f.org, "/approvals/", f.approval_id));
    req.set_comment(std::string(3990, 'x'));
    apb::Approval out;
    auto ctx = Ctx(f.drafter, absl::Seconds(5));
    a.Count(stub->Comment(ctx.get(), req, &out));
  }
}

// Twenty streams at once by one caller: each used to cost a thread.
void WatchCrowd(Cluster& c, const OrgFixture& f, Attack& a) {
  std::vector<std::thread> threads;
  threads.reserve(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto stub = c.Reports();
      asmpb::WatchReportRequest req;
      req.set_name(absl::StrCat("orgs/", f.org, "/reports/", f.report_id));
      auto ctx = Ctx(f.drafter, absl::Seconds(3));
      auto reader = stub->WatchReport(ctx.get(), req);
      asmpb::Report r;
      while (reader->Read(&r)) {
      }
      a.Count(reader->Finish());
    });
  }
  for (auto& t : threads) t.join();
}

// The page token that crashed records, and other forgeries.
void ForgedPageTokens(Cluster& c, const OrgFixture& f, Attack& a) {
  auto stub = c.Indicators();
  for (const std::string& raw :
       {std::string("indicators|4294967295"), std::string("indicators|-1"),
        std::string("indicators|2147483648"), std::string("indicators|9223372036854775807")}) {
    rpb::ListIndicatorsRequest req;
    req.set_parent(absl::StrCat("orgs/", f.org));
    req.set_page_token(absl::WebSafeBase64Escape(raw));
    rpb::ListIndicatorsResponse out;
    auto ctx = Ctx(f.recorder, absl::Seconds(5));
    a.Count(stub->ListIndicators(ctx.get(), req, &out));
  }
}

// The five attacks, thrown at once.
struct Attacks {
  Attack bomb{"partial bomb"};
  Attack persons{"persons"};
  Attack comments{"comments"};
  Attack watch{"watchers"};
  Attack tokens{"page tokens"};
};

// Adds to `problems` the attacks' bad answers and what must have been
// refused, not merely survived (the watch crowd only when it ran). Returns
// the number of bad answers.
int64_t JudgeAttacks(const Attacks& all, bool watched, std::vector<std::string>* problems) {
  int64_t bad = 0;
  for (const Attack* a : {&all.bomb, &all.persons, &all.comments, &all.watch, &all.tokens}) {
    bad += a->bad.load();
    if (a->bad.load() > 0) {
      problems->push_back(
          absl::StrCat(a->name, ": ", a->bad.load(), " answered badly, e.g. ", a->first_bad));
    }
  }
  if (all.comments.exhausted.load() == 0) {
    problems->emplace_back("no comment of the flood was refused as RESOURCE_EXHAUSTED");
  }
  if (all.tokens.ok.load() > 0) problems->emplace_back("a forged page token was accepted");
  if (all.persons.refused.load() == 0) {
    problems->emplace_back("no record of 10 000 persons refused");
  }
  if (watched && all.watch.exhausted.load() == 0) {
    problems->emplace_back("no WatchReport stream of the crowd was refused");
  }
  return bad;
}

}  // namespace

ScenarioResult RunAbuse(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 8;
  out.name = "abuse by an ordinary tenant";
  ClusterOptions co;
  co.tag = "s8";
  co.assemblers = env.assembler_bin.empty() ? 0 : 1;
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  auto attacker = c.SetUpOrg("abuser");
  auto victim = c.SetUpOrg("victim");
  if (!attacker.ok() || !victim.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat(
        "set-up failed: ", attacker.ok() ? victim.status().message() : attacker.status().message());
    return out;
  }

  VictimReader reader(c, victim->drafter, victim->org);
  std::atomic<bool> stop{false};
  std::thread victim_thread([&] { reader.Run(stop); });
  absl::SleepFor(absl::Seconds(env.short_mode ? 2 : 5));
  int64_t base_calls = 0, base_errors = 0;
  double baseline = reader.TakeP99(&base_calls, &base_errors);

  Attacks all;
  Attack &bomb = all.bomb, &persons = all.persons, &comments = all.comments, &watch = all.watch,
         &tokens = all.tokens;
  std::vector<std::thread> attacks;
  attacks.emplace_back([&] { PartialBomb(c, *attacker, bomb); });
  attacks.emplace_back([&] { PersonsFlood(c, *attacker, persons, env.short_mode ? 4 : 12); });
  attacks.emplace_back([&] { CommentFlood(c, *attacker, comments); });
  if (!attacker->report_id.empty()) attacks.emplace_back([&] { WatchCrowd(c, *attacker, watch); });
  attacks.emplace_back([&] { ForgedPageTokens(c, *attacker, tokens); });
  for (auto& t : attacks) t.join();
  int64_t calls = 0, victim_errors = 0;
  double during = reader.TakeP99(&calls, &victim_errors);
  stop.store(true);
  victim_thread.join();

  int crashes = c.Crashes();
  results.Set("faults.abuse.victim_baseline_p99_ms", baseline);
  results.Set("faults.abuse.victim_p99_ms", during);
  results.Set("faults.abuse.victim_calls", calls);
  results.Set("faults.abuse.victim_errors", victim_errors);
  results.Set("faults.abuse.crashes", static_cast<int64_t>(crashes));
  results.Add("faults.crashes", crashes);

  int64_t bad = JudgeAttacks(all, !attacker->report_id.empty(), &out.problems);
  if (victim_errors > 0) {
    out.problems.push_back(absl::StrCat(victim_errors, " of the victim's reads failed"));
  }
  if (crashes > 0) out.problems.push_back(absl::StrCat(crashes, " service(s) crashed"));
  out.verdict = out.problems.empty() ? Verdict::kPassed : Verdict::kFailed;
  out.summary = absl::StrCat(bomb.Summary(), "; ", persons.Summary(), "; ", comments.Summary(),
                             "; ", watch.Summary(), "; ", tokens.Summary(), "; victim p99 ",
                             absl::StrFormat("%.1f", during), " ms during (",
                             absl::StrFormat("%.1f", baseline), " ms before, ", calls, " reads), ",
                             crashes, " crashes, ", bad, " bad answers");
  return out;
}

}  // namespace govreport::fault
