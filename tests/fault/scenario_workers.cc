// Scenario 2: assembler replicas are SIGKILLed in the middle of their
// jobs while reports are being assembled, approved and published by the
// replicas that remain (and by fresh ones started in their place). The
// entries a dead consumer held are taken over with XAUTOCLAIM once idle
// past --claim-idle-ms. Afterwards every report is PUBLISHED, none is left
// ASSEMBLING, each has exactly the one revision its one job made, each
// was announced on its org's gr:{org}:ev:published exactly once, nothing sits in a
// dead-letter stream, and every published digest matches its documents.
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/streams.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {

namespace typepb = ::govreport::type::v1;
namespace {

constexpr char kAssembleQueue[] = "gr:q:assemble";
constexpr char kApprovalEvents[] = "gr:ev:approval";
constexpr char kPublished[] = "gr:ev:published";
constexpr char kGroup[] = "assembler";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every stream of a global name: each org's (common/streams.h) and the
// global one of the layout before, if any.
std::vector<std::string> StreamsOf(redis::Client& redis, const std::string& global) {
  auto names = streams::IndexedStreams(redis, global);
  return names.ok() ? *names : std::vector<std::string>{};
}

// Entries of every stream of `global` as field maps.
std::vector<std::map<std::string, std::string>> ReadStream(redis::Client& redis,
                                                           const std::string& global) {
  std::vector<std::map<std::string, std::string>> out;
  for (const std::string& stream : StreamsOf(redis, global)) {
    auto reply = redis.Command({"XRANGE", stream, "-", "+"});
    if (!reply.ok()) continue;
    for (size_t i = 0; i < reply->Size(); ++i) {
      std::map<std::string, std::string> fields;
      auto kv = (*reply)[i][1];
      for (size_t j = 0; j + 1 < kv.Size(); j += 2) fields[kv[j].AsString()] = kv[j + 1].AsString();
      out.push_back(std::move(fields));
    }
  }
  return out;
}

// Entries in the dead-letter streams of `global`'s streams.
int64_t DeadLength(redis::Client& redis, const std::string& global) {
  int64_t n = 0;
  for (const std::string& stream : StreamsOf(redis, global)) {
    auto reply = redis.Command({"XLEN", streams::DeadLetterStream(stream)});
    if (!reply.ok()) return -1;
    n += reply->Int();
  }
  return n;
}

// Entries of `global`'s streams pending on consumers of the process `pid`.
int64_t PendingOf(redis::Client& redis, const std::string& global, pid_t pid) {
  int64_t n = 0;
  std::string tag = absl::StrCat("-", pid, "-");
  for (const std::string& stream : StreamsOf(redis, global)) {
    auto reply = redis.Command({"XPENDING", stream, kGroup});
    if (!reply.ok() || reply->Size() < 4) continue;
    auto consumers = (*reply)[3];
    for (size_t i = 0; i < consumers.Size(); ++i) {
      if (absl::StrContains(consumers[i][0].Str(), tag)) {
        n += consumers[i][1].AsInt().value_or(0);
      }
    }
  }
  return n;
}

int64_t PendingTotal(redis::Client& redis, const std::string& global) {
  int64_t n = 0;
  for (const std::string& stream : StreamsOf(redis, global)) {
    auto reply = redis.Command({"XPENDING", stream, kGroup});
    if (!reply.ok() || reply->Size() < 1) return -1;
    n += (*reply)[0].AsInt().value_or(0);
  }
  return n;
}

struct Flow {
  std::string name;
  std::string stage = "new";
  bool published = false;
  bool repeat_refused = false;  // A repeated request_id was not replayed.
  std::string error;
};

// One report from CreateReport to PUBLISHED, as a drafter and two
// approvers would drive it, each call retried on another replica when its
// replica died under it. Each step returns false when the flow stops there
// (`flow.error` says why).
class Driver {
 public:
  Driver(Cluster& c, const OrgFixture& org, int index, Flow& flow, const std::atomic<bool>& stop)
      : c_(c),
        org_(org),
        index_(index),
        flow_(flow),
        stop_(stop),
        parent_(absl::StrCat("orgs/", org.org)) {}

  void Drive() {
    if (!Create()) return;
    flow_.stage = "submitting";
    if (!Submit()) return;
    flow_.stage = "approving";
    if (!ApproveAsBoth()) return;
    flow_.stage = "publishing";
    if (!Wait([](const asmpb::Report& x) { return x.state() == asmpb::REPORT_STATE_PUBLISHED; },
              absl::Seconds(120))) {
      flow_.error = absl::StrCat("never published: ", r_.ShortDebugString().substr(0, 300));
      return;
    }
    flow_.stage = "published";
    flow_.published = true;
  }

 private:
  // Reads the report into r_ until `done` holds or `timeout`.
  bool Wait(const std::function<bool(const asmpb::Report&)>& done, absl::Duration timeout) {
    absl::Time until = absl::Now() + timeout;
    while (!stop_.load() && absl::Now() < until) {
      asmpb::GetReportRequest get;
      get.set_name(flow_.name);
      get.set_skip_staleness(true);
      grpc::Status g = CallReports(
          c_, org_.drafter, [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r_); });
      if (g.ok() && done(r_)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // CreateReport, then its first revision assembled.
  bool Create() {
    asmpb::CreateReportRequest create;
    create.set_parent(parent_);
    create.set_report_id(absl::StrCat("w", index_));
    create.set_period("2023");
    create.set_template_(absl::StrCat(parent_, "/templates/", org_.template_id));
    create.set_workflow(absl::StrCat(parent_, "/workflows/", org_.workflow_id));
    create.set_request_id(absl::StrCat("s2-create-", index_));
    grpc::Status st = CallReports(c_, org_.drafter, [&](auto& stub, auto* ctx) {
      return stub.CreateReport(ctx, create, &r_);
    });
    if (!st.ok()) {
      flow_.error = absl::StrCat("CreateReport: ", Describe(st));
      return false;
    }
    flow_.name = r_.name();
    flow_.stage = "assembling";
    if (!Wait([](const asmpb::Report& x) { return x.current_revision() >= 1 && !x.assembling(); },
              absl::Seconds(120))) {
      flow_.error = absl::StrCat("never assembled: ", r_.ShortDebugString().substr(0, 300));
      return false;
    }
    return true;
  }

  bool Submit() {
    asmpb::SubmitReportRequest submit;
    submit.set_name(flow_.name);
    submit.set_revision(r_.current_revision());
    for (const auto& gap : r_.missing_figures()) submit.add_accepted_gaps(gap);
    submit.set_comment("请审核");
    submit.set_request_id(absl::StrCat("s2-submit-", index_));
    grpc::Status st = CallReports(c_, org_.drafter, [&](auto& stub, auto* ctx) {
      return stub.SubmitReport(ctx, submit, &r_);
    });
    if (!st.ok()) {
      flow_.error = absl::StrCat("SubmitReport: ", Describe(st));
      return false;
    }
    // The answer "got lost": the same request again must be answered as the
    // first (AIP-155), not refused as a second submission.
    asmpb::Report again;
    grpc::Status repeat = CallReports(c_, org_.drafter, [&](auto& stub, auto* ctx) {
      return stub.SubmitReport(ctx, submit, &again);
    });
    if (!repeat.ok()) {
      flow_.error =
          absl::StrCat("SubmitReport repeated with the same request_id: ", Describe(repeat));
      flow_.repeat_refused = true;
    }
    return true;
  }

  bool ApproveAsBoth() {
    auto approvals = c_.Approvals();
    for (const std::string& who :
         {absl::StrCat(org_.org, "-director"), absl::StrCat(org_.org, "-secretary")}) {
      const std::string& token = org_.users.at(who);
      apb::Approval a;
      apb::GetApprovalRequest get;
      get.set_name(r_.approval());
      grpc::Status st = Retry(
          token, [&](grpc::ClientContext* ctx) { return approvals->GetApproval(ctx, get, &a); });
      if (!st.ok()) {
        flow_.error = absl::StrCat("GetApproval: ", Describe(st));
        return false;
      }
      apb::ApproveRequest approve;
      approve.set_name(r_.approval());
      approve.set_expected_version(a.version());
      approve.set_comment("同意");
      approve.set_request_id(absl::StrCat("s2-approve-", index_, "-", who));
      st = Retry(token,
                 [&](grpc::ClientContext* ctx) { return approvals->Approve(ctx, approve, &a); });
      if (!st.ok()) {
        flow_.error = absl::StrCat("Approve as ", who, ": ", Describe(st));
        return false;
      }
    }
    return true;
  }

  Cluster& c_;
  const OrgFixture& org_;
  const int index_;
  Flow& flow_;
  const std::atomic<bool>& stop_;
  const std::string parent_;
  asmpb::Report r_;
};

// One run of the scenario: drivers pushing reports through while this
// thread kills replicas, then every flow read back. Its fields are what
// the phases share.
class WorkerCrashes {
 public:
  WorkerCrashes(const Env& env, Cluster& c, const OrgFixture& org, int reports, int kill_target)
      : env_(env),
        c_(c),
        org_(org),
        reports_(reports),
        kill_target_(kill_target),
        flows_(reports) {}

  // `drivers` threads drive the reports while this thread kills replicas,
  // until every flow finished or `bound`.
  void DriveAndKill(int drivers, absl::Duration bound);
  // Lets the last reclaims finish, then reads everything back.
  void Check();
  void Report(Results& results, ScenarioResult& out) const;

 private:
  // A live replica that holds an entry right now (a job in its hands),
  // or after a second of looking any live one; `held` is what it holds.
  Process* PickVictim(Rng& rng, int64_t& held);
  void KillOne(Rng& rng);
  void CheckFlow(const Flow& f);
  // The digest, recomputed from the bytes served, against the revision's,
  // the report's and the announced one.
  void CheckDigest(const Flow& f, const asmpb::Report& r);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& org_;
  const int reports_;
  const int kill_target_;
  Problems problems_;
  std::vector<Flow> flows_;
  int kills_ = 0, kills_mid_job_ = 0, restarts_failed_ = 0;
  double seconds_ = 0;
  std::map<std::string, int> announced_;
  std::map<std::string, std::string> announced_digest_;
  int64_t lost_ = 0, duplicated_ = 0, stuck_ = 0, digest_bad_ = 0, published_ = 0;
  int64_t flow_errors_ = 0, dead_ = 0, pending_ = 0;
  int crashes_ = 0;
};

void WorkerCrashes::DriveAndKill(int drivers, absl::Duration bound) {
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  absl::Time start = absl::Now();
  // About 0.9 s between kills; the reports arrive over all of them.
  const absl::Duration pace = absl::Milliseconds(900) * kill_target_ / reports_;
  std::vector<std::thread> threads;
  threads.reserve(drivers);
  for (int t = 0; t < drivers; ++t) {
    threads.emplace_back([&] {
      for (int i = next.fetch_add(1); i < reports_; i = next.fetch_add(1)) {
        // Spread over the killer's rounds, so kills meet jobs in flight.
        absl::Time due = start + pace * i;
        while (absl::Now() < due) absl::SleepFor(absl::Milliseconds(5));
        Driver(c_, org_, i, flows_[i], stop).Drive();
        finished.fetch_add(1);
      }
    });
  }
  // The killer runs here, on the main thread: new replicas are forked
  // from the spawner thread anyway.
  Rng rng(env_.seed * 11);
  while (finished.load() < reports_ && absl::Now() - start < bound) {
    absl::SleepFor(absl::Milliseconds(rng.Uniform(300, 900)));
    if (kills_ >= kill_target_) continue;
    KillOne(rng);
  }
  stop.store(absl::Now() - start >= bound);
  for (auto& t : threads) t.join();
  stop.store(true);
  seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
}

Process* WorkerCrashes::PickVictim(Rng& rng, int64_t& held) {
  Process* victim = nullptr;
  absl::Time look_until = absl::Now() + absl::Seconds(1);
  while (victim == nullptr) {
    std::vector<Process*> live;
    for (Process* p : c_.assemblers()) {
      if (p->Alive()) live.push_back(p);
    }
    if (live.empty()) break;
    for (Process* p : live) {
      int64_t n = PendingOf(c_.redis(), kAssembleQueue, p->pid()) +
                  PendingOf(c_.redis(), kApprovalEvents, p->pid());
      if (n > 0) {
        victim = p;
        held = n;
        break;
      }
    }
    if (victim == nullptr && absl::Now() > look_until) {
      victim = live[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(live.size()) - 1))];
    }
    if (victim == nullptr) absl::SleepFor(absl::Milliseconds(5));
  }
  return victim;
}

void WorkerCrashes::KillOne(Rng& rng) {
  int64_t held = 0;
  Process* victim = PickVictim(rng, held);
  if (victim == nullptr) return;
  pid_t pid = victim->pid();
  victim->Kill();
  ++kills_;
  if (held > 0) ++kills_mid_job_;
  Log(absl::StrFormat("s2: SIGKILL %s (pid %d) holding %d entries", victim->name(), pid, held));
  // A fresh replica joins (the dead one's consumers are never seen
  // again): the group is back to three.
  auto added = c_.AddAssembler();
  if (!added.ok()) {
    ++restarts_failed_;
    problems_.Add(absl::StrCat("new replica: ", added.status().message()));
  }
}

void WorkerCrashes::Check() {
  absl::Time settle = absl::Now() + absl::Seconds(10);
  while (absl::Now() < settle && (PendingTotal(c_.redis(), kAssembleQueue) > 0 ||
                                  PendingTotal(c_.redis(), kApprovalEvents) > 0)) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  for (const auto& e : ReadStream(c_.redis(), kPublished)) {
    auto it = e.find("report");
    if (it == e.end()) continue;
    ++announced_[it->second];
    announced_digest_[it->second] = e.count("digest") ? e.at("digest") : "";
  }
  for (const Flow& f : flows_) CheckFlow(f);
  dead_ = DeadLength(c_.redis(), kAssembleQueue) + DeadLength(c_.redis(), kApprovalEvents);
  if (dead_ > 0) problems_.Add(absl::StrCat(dead_, " entries in dead-letter streams"));
  pending_ = PendingTotal(c_.redis(), kAssembleQueue) + PendingTotal(c_.redis(), kApprovalEvents);
  crashes_ = c_.Crashes();
}

void WorkerCrashes::CheckFlow(const Flow& f) {
  if (f.name.empty()) {
    ++lost_;
    problems_.Add(f.error);
    return;
  }
  asmpb::Report r;
  asmpb::GetReportRequest get;
  get.set_name(f.name);
  get.set_skip_staleness(true);
  grpc::Status st = CallReports(
      c_, org_.drafter, [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r); });
  if (!st.ok()) {
    ++lost_;
    problems_.Add(absl::StrCat(f.name, ": ", Describe(st)));
    return;
  }
  if (r.assembling()) {
    ++stuck_;
    problems_.Add(absl::StrCat(f.name, " still ASSEMBLING"));
  }
  if (r.state() != asmpb::REPORT_STATE_PUBLISHED) {
    // A step the client saw refused (not retryable) stopped the flow:
    // a wrong answer, not a lost job; otherwise the job never finished.
    if (!f.error.empty()) {
      ++flow_errors_;
    } else {
      ++lost_;
    }
    problems_.Add(absl::StrCat(f.name, " is ", asmpb::ReportState_Name(r.state()), " at stage ",
                               f.stage, ": ", f.error, " ", r.error()));
    return;
  }
  ++published_;
  if (f.repeat_refused) {
    ++flow_errors_;
    problems_.Add(absl::StrCat(f.name, ": ", f.error));
  }
  // One assemble job → one revision; one approval → one publication.
  if (r.current_revision() != 1 || r.published_revision() != 1 || r.applied_job() != 1) {
    ++duplicated_;
    problems_.Add(absl::StrCat(f.name, ": revision ", r.current_revision(), ", published ",
                               r.published_revision(), ", applied job ", r.applied_job()));
  }
  int announced = announced_[f.name];
  if (announced != 1) {
    duplicated_ += announced > 1 ? announced - 1 : 0;
    if (announced == 0) ++lost_;
    problems_.Add(absl::StrCat(f.name, " announced ", announced, " times"));
  }
  CheckDigest(f, r);
}

void WorkerCrashes::CheckDigest(const Flow& f, const asmpb::Report& r) {
  asmpb::Revision rev;
  asmpb::GetRevisionRequest gr;
  gr.set_name(absl::StrCat(f.name, "/revisions/1"));
  grpc::Status st = CallReports(
      c_, org_.auditor, [&](auto& stub, auto* ctx) { return stub.GetRevision(ctx, gr, &rev); });
  if (!st.ok()) {
    ++digest_bad_;
    problems_.Add(absl::StrCat(gr.name(), ": ", Describe(st)));
    return;
  }
  std::map<int, std::string> sha_by_format;
  // Every format is published: TXT, MD, HTML, DOCX, PDF and OFD.
  bool docs_ok = rev.frozen() && rev.documents_size() == 6;
  for (const auto& d : rev.documents()) {
    asmpb::GetDocumentRequest dr;
    dr.set_name(rev.name());
    dr.set_format(d.format());
    asmpb::Document doc;
    st = CallReports(c_, org_.auditor,
                     [&](auto& stub, auto* ctx) { return stub.GetDocument(ctx, dr, &doc); });
    std::string sha = st.ok() ? Sha256Hex(doc.content()) : "";
    if (!st.ok() || sha != d.sha256() || doc.sha256() != sha || !doc.final() ||
        static_cast<int64_t>(doc.content().size()) != d.size()) {
      docs_ok = false;
    }
    sha_by_format[d.format()] = sha;
  }
  std::string manifest;
  for (const auto& [format, sha] : sha_by_format) {
    // The manifest names formats short (TXT), as the assembler writes it.
    absl::StrAppend(&manifest, ShortEnumName(static_cast<typepb::DocumentFormat>(format)), " ", sha,
                    "\n");
  }
  std::string digest = Sha256Hex(manifest);
  if (!docs_ok || digest != rev.digest() || digest != r.digest() ||
      announced_digest_[f.name] != digest) {
    ++digest_bad_;
    problems_.Add(absl::StrCat(f.name, ": published digest does not match its documents"));
  }
}

void WorkerCrashes::Report(Results& results, ScenarioResult& out) const {
  const int64_t jobs = 2 * static_cast<int64_t>(reports_);  // assemble + publish
  results.Add("faults.jobs_submitted", jobs);
  results.Add("faults.jobs_lost", lost_ + std::max<int64_t>(dead_, 0));
  results.Add("faults.jobs_duplicated", duplicated_);
  results.Add("faults.crashes", crashes_);
  results.Set("faults.s2.reports", static_cast<int64_t>(reports_));
  results.Set("faults.s2.published", published_);
  results.Set("faults.s2.assembler_kills", static_cast<int64_t>(kills_));
  results.Set("faults.s2.kills_mid_job", static_cast<int64_t>(kills_mid_job_));
  results.Set("faults.s2.stuck_assembling", stuck_);
  results.Set("faults.s2.wrong_answers", flow_errors_);
  results.Set("faults.s2.digest_mismatches", digest_bad_);
  results.Set("faults.s2.dead_lettered", dead_);
  results.Set("faults.s2.pending_after", pending_);
  results.Set("faults.s2.seconds", seconds_);
  out.summary = absl::StrFormat(
      "did %d reports (%d jobs) with %d assembler SIGKILLs (%d holding jobs), %d replicas "
      "started in their place, in %.1fs; published %d, jobs lost %d, duplicated %d, stuck "
      "assembling %d, digest mismatches %d, dead-lettered %d, left pending %d, wrong answers to "
      "retried calls %d, crashes %d",
      reports_, jobs, kills_, kills_mid_job_, kills_ - restarts_failed_, seconds_, published_,
      lost_, duplicated_, stuck_, digest_bad_, dead_, pending_, flow_errors_, crashes_);
  out.problems = problems_.First();
  bool ok = lost_ == 0 && duplicated_ == 0 && stuck_ == 0 && digest_bad_ == 0 && dead_ == 0 &&
            pending_ == 0 && crashes_ == 0 && kills_mid_job_ > 0 && flow_errors_ == 0;
  if (kills_mid_job_ == 0) out.problems.emplace_back("no kill landed while a replica held a job");
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
}

}  // namespace

ScenarioResult RunWorkerCrashes(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 2;
  out.name = "worker crashes";
  if (env.assembler_bin.empty() || env.templates_bin.empty() || env.approval_bin.empty()) {
    out.verdict = Verdict::kSkipped;
    out.summary = "assembler, templates or approval binary not built";
    return out;
  }
  const int reports = env.short_mode ? 60 : 300;
  const int kill_target = env.short_mode ? 6 : 25;
  const int drivers = 8;
  const absl::Duration bound = env.short_mode ? absl::Seconds(120) : absl::Seconds(400);
  ClusterOptions co;
  co.tag = "s2";
  co.assemblers = 3;
  // Reclaim fast: a dead consumer's entries are taken over after 1.5 s.
  // Every first revision through the queue, so kills find replicas holding
  // assemble jobs (CreateReport would otherwise assemble most itself).
  co.assembler_args = {"--claim-idle-ms", "1500", "--workers",           "2",
                       "--event-workers", "1",    "--inline-assemblies", "0"};
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  // The shipped template: rendering it (and its DOCX) takes long enough
  // for kills to land in the middle of jobs.
  FixtureOptions fo;
  fo.template_text = ReadFile(env.source_dir + "/deploy/profiles/strict-governance/base.mustache");
  auto org = c.SetUpOrg("workers", fo);
  if (!org.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("set-up failed: ", org.status().message());
    return out;
  }
  WorkerCrashes run(env, c, *org, reports, kill_target);
  run.DriveAndKill(drivers, bound);
  run.Check();
  run.Report(results, out);
  return out;
}

}  // namespace govreport::fault
