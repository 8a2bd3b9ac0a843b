// The mixed load of scripts/bench.sh: records ingested, reports assembled
// and approvals acted on at the same time, each for a fixed number of
// operations, against the real binaries and a redis-server with
// appendfsync always. Reports throughput and p50/p99 latency per kind
// (load.mixed.<kind>.*) and the resident memory of every process at the
// end (rss.<service>_mb, and the peak as rss.<service>_peak_mb).
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/fault/checks.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

constexpr double kRssLimitMb = 100;

struct Kind {
  explicit Kind(std::string n) : name(std::move(n)) {}
  std::string name;
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> errors{0};
  absl::Time first = absl::InfiniteFuture();
  absl::Time last = absl::InfinitePast();

  void Record(absl::Time start, absl::Time end, bool ok) {
    std::lock_guard<std::mutex> lock(mu);
    if (!ok) {
      ++errors;
      return;
    }
    latencies_ms.push_back(absl::ToDoubleMilliseconds(end - start));
    first = std::min(first, start);
    last = std::max(last, end);
  }

  void Report(Results& results) {
    std::lock_guard<std::mutex> lock(mu);
    const std::string p = absl::StrCat("load.mixed.", name, ".");
    auto ops = static_cast<int64_t>(latencies_ms.size());
    double seconds = ops > 0 ? absl::ToDoubleSeconds(last - first) : 0;
    results.Set(p + "ops", ops);
    results.Set(p + "errors", errors.load());
    results.Set(p + "ops_per_s", seconds > 0 ? static_cast<double>(ops) / seconds : 0.0);
    results.Set(p + "p50_ms", Percentile(latencies_ms, 0.50));
    results.Set(p + "p99_ms", Percentile(latencies_ms, 0.99));
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// redis-server's own pid, from INFO.
pid_t RedisPid(redis::Client& redis) {
  auto reply = redis.Command({"INFO", "server"});
  if (!reply.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(reply->Str(), "\r\n")) {
    int pid = 0;
    if (absl::ConsumePrefix(&line, "process_id:") && absl::SimpleAtoi(line, &pid)) return pid;
  }
  return -1;
}

double ProcMb(pid_t pid, const char* field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, field)) continue;
    for (absl::string_view part : absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
      int64_t kb = 0;
      if (absl::SimpleAtoi(part, &kb)) return kb / 1024.0;
    }
  }
  return 0;
}

// One run of the mixed load: the approvals to act on set up before the
// clock starts, the three kinds side by side, then the figures. Its
// fields are what the phases share.
class MixedLoad {
 public:
  MixedLoad(const Env& env, Cluster& c, const OrgFixture& org, const rpb::Profile& profile)
      : env_(env), c_(c), org_(org), profile_(profile), parent_(absl::StrCat("orgs/", org.org)) {}

  // `count` approvals started; the error is logged.
  absl::Status StartApprovals(int64_t count);
  // Every kind's operations, at the same time.
  void Run(int64_t ingest_ops, int64_t assemble_ops);
  // The figures and the memory of every process; 0 when every operation
  // succeeded and nothing crashed.
  int Report(Results& results);

 private:
  void Ingest(int t, int64_t ops);
  void Assemble(int64_t ops);
  void Approve();
  // Records the memory of `name` (`pid`) in `results`.
  void Rss(Results& results, const std::string& name, pid_t pid);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& org_;
  const rpb::Profile& profile_;
  const std::string parent_;
  std::vector<apb::Approval> approvals_;
  Kind ingest_{"ingest"}, assemble_{"assemble"}, approve_{"approve"};
  std::atomic<int64_t> next_record_{0}, next_report_{0}, next_approval_{0};
  double seconds_ = 0;
  double worst_ = 0;
  std::string worst_name_;
};

absl::Status MixedLoad::StartApprovals(int64_t count) {
  auto stub = c_.Approvals();
  for (int64_t i = 0; i < count; ++i) {
    apb::StartApprovalRequest sr;
    sr.set_parent(parent_);
    sr.set_workflow(absl::StrCat(parent_, "/workflows/", org_.workflow_id));
    sr.set_subject(absl::StrCat(parent_, "/reports/a", i, "/revisions/1"));
    sr.set_request_id(absl::StrCat("load-start-", i));
    apb::Approval a;
    grpc::Status st = Retry(
        org_.drafter, [&](grpc::ClientContext* ctx) { return stub->StartApproval(ctx, sr, &a); });
    if (!st.ok()) return absl::InternalError(absl::StrCat("StartApproval: ", Describe(st)));
    approvals_.push_back(a);
  }
  return absl::OkStatus();
}

void MixedLoad::Run(int64_t ingest_ops, int64_t assemble_ops) {
  std::vector<std::thread> threads;
  threads.reserve(8);
  absl::Time start = absl::Now();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t, ingest_ops] { Ingest(t, ingest_ops); });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([this, assemble_ops] { Assemble(assemble_ops); });
  }
  for (int t = 0; t < 2; ++t) threads.emplace_back([this] { Approve(); });
  for (auto& t : threads) t.join();
  seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
}

void MixedLoad::Ingest(int t, int64_t ops) {
  auto stub = c_.Activities();
  Rng rng(env_.seed * 71 + t);
  for (int64_t i = next_record_.fetch_add(1); i < ops; i = next_record_.fetch_add(1)) {
    rpb::CreateActivityRequest req;
    req.set_parent(parent_);
    *req.mutable_activity() = RandomRecord(profile_, rng);
    req.mutable_activity()->set_source_system("load");
    req.mutable_activity()->set_external_id(absl::StrCat("r", i));
    req.set_request_id(absl::StrCat("load-", i));
    rpb::ActivityRecord out;
    absl::Time t0 = absl::Now();
    auto ctx = Ctx(org_.recorder, absl::Seconds(10));
    grpc::Status st = stub->CreateActivity(ctx.get(), req, &out);
    ingest_.Record(t0, absl::Now(), st.ok());
  }
}

void MixedLoad::Assemble(int64_t ops) {
  auto stub = c_.Reports();
  for (int64_t i = next_report_.fetch_add(1); i < ops; i = next_report_.fetch_add(1)) {
    asmpb::CreateReportRequest req;
    req.set_parent(parent_);
    req.set_report_id(absl::StrCat("m", i));
    req.set_period("2023");
    req.set_template_(absl::StrCat(parent_, "/templates/", org_.template_id));
    req.set_workflow(absl::StrCat(parent_, "/workflows/", org_.workflow_id));
    req.set_request_id(absl::StrCat("load-report-", i));
    asmpb::Report r;
    absl::Time t0 = absl::Now();
    auto ctx = Ctx(org_.drafter, absl::Seconds(10));
    grpc::Status st = stub->CreateReport(ctx.get(), req, &r);
    // Assembled = the first revision is stored.
    absl::Time until = t0 + absl::Seconds(60);
    while (st.ok() && (r.current_revision() < 1 || r.assembling())) {
      if (absl::Now() > until) {
        st = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "not assembled in 60 s");
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
      asmpb::GetReportRequest get;
      get.set_name(r.name());
      get.set_skip_staleness(true);
      auto gctx = Ctx(org_.drafter, absl::Seconds(10));
      st = stub->GetReport(gctx.get(), get, &r);
    }
    assemble_.Record(t0, absl::Now(), st.ok());
  }
}

void MixedLoad::Approve() {
  auto stub = c_.Approvals();
  const std::string director = absl::StrCat(org_.org, "-director");
  const std::string secretary = absl::StrCat(org_.org, "-secretary");
  for (int64_t i = next_approval_.fetch_add(1); i < static_cast<int64_t>(approvals_.size());
       i = next_approval_.fetch_add(1)) {
    apb::Approval a = approvals_[static_cast<size_t>(i)];
    for (const std::string& who : {director, secretary}) {
      apb::ApproveRequest req;
      req.set_name(a.name());
      req.set_expected_version(a.version());
      req.set_request_id(absl::StrCat("load-approve-", i, "-", who));
      apb::Approval next;
      absl::Time t0 = absl::Now();
      auto ctx = Ctx(org_.users.at(who), absl::Seconds(10));
      grpc::Status st = stub->Approve(ctx.get(), req, &next);
      approve_.Record(t0, absl::Now(), st.ok());
      if (!st.ok()) break;
      a = next;
    }
  }
}

void MixedLoad::Rss(Results& results, const std::string& name, pid_t pid) {
  double now = ProcMb(pid, "VmRSS:");
  double peak = ProcMb(pid, "VmHWM:");
  results.Set(absl::StrCat("rss.", name, "_mb"), now);
  results.Set(absl::StrCat("rss.", name, "_peak_mb"), peak);
  if (name != "redis" && peak > worst_) {
    worst_ = peak;
    worst_name_ = name;
  }
}

int MixedLoad::Report(Results& results) {
  ingest_.Report(results);
  assemble_.Report(results);
  approve_.Report(results);
  results.Set("load.mixed.seconds", seconds_);
  Rss(results, "records", c_.records().pid());
  Rss(results, "templates", c_.templates()->pid());
  Rss(results, "approval", c_.approval()->pid());
  Rss(results, "assembler", c_.assemblers()[0]->pid());
  Rss(results, "redis", RedisPid(c_.redis()));
  results.Set("rss.limit_mb", kRssLimitMb);
  results.Set("rss.services_within_limit", std::string(worst_ < kRssLimitMb ? "yes" : "no"));
  if (worst_ >= kRssLimitMb) {
    Log(absl::StrFormat("mixed load: %s peaked at %.1f MB, over the %.0f MB limit", worst_name_,
                        worst_, kRssLimitMb));
  }
  int64_t errors = ingest_.errors.load() + assemble_.errors.load() + approve_.errors.load();
  if (errors > 0) Log(absl::StrCat("mixed load: ", errors, " operations failed"));
  return errors == 0 && c_.Crashes() == 0 ? 0 : 1;
}

}  // namespace

int RunMixedLoad(const Env& env, bool quick, Results& results) {
  if (env.assembler_bin.empty() || env.templates_bin.empty() || env.approval_bin.empty()) {
    Log("mixed load: needs every service binary built");
    return 1;
  }
  // Sized so that the three kinds run side by side for about as long.
  const int64_t ingest_ops = quick ? 3000 : 30000;
  const int64_t assemble_ops = quick ? 100 : 1000;
  const int64_t approve_ops = quick ? 600 : 6000;  // Two actions per approval.
  ClusterOptions co;
  co.tag = "load";
  co.assemblers = 1;
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    Log(absl::StrCat("mixed load: ", cluster.status().message()));
    return 1;
  }
  Cluster& c = **cluster;
  // The shipped template, as a department would use it.
  FixtureOptions fo;
  fo.template_text = ReadFile(env.source_dir + "/deploy/profiles/strict-governance/base.mustache");
  auto org = c.SetUpOrg("load", fo);
  auto profile = LoadProfileFile(env.source_dir);
  if (!org.ok() || !profile.ok()) {
    Log(absl::StrCat("mixed load: set-up: ",
                     org.ok() ? profile.status().message() : org.status().message()));
    return 1;
  }
  MixedLoad run(env, c, *org, *profile);
  // The approvals to act on exist before the clock starts.
  if (absl::Status st = run.StartApprovals(approve_ops / 2); !st.ok()) {
    Log(absl::StrCat("mixed load: ", st.message()));
    return 1;
  }
  run.Run(ingest_ops, assemble_ops);
  return run.Report(results);
}

}  // namespace govreport::fault
