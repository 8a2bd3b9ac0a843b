// Scenario 2: assembler replicas are SIGKILLed in the middle of their
// jobs while reports are being assembled, approved and published by the
// replicas that remain (and by fresh ones started in their place). The
// entries a dead consumer held are taken over with XAUTOCLAIM once idle
// past --claim-idle-ms. Afterwards every report is PUBLISHED, none is left
// ASSEMBLING, each has exactly the one revision its one job made, each
// was announced on gr:ev:published exactly once, nothing sits in a
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
#include "tests/fault/scenarios.h"

namespace govreport::fault {
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

// Entries of a stream as field maps.
std::vector<std::map<std::string, std::string>> ReadStream(redis::Client& redis,
                                                           const std::string& stream) {
  std::vector<std::map<std::string, std::string>> out;
  auto reply = redis.Command({"XRANGE", stream, "-", "+"});
  if (!reply.ok()) return out;
  for (size_t i = 0; i < reply->Size(); ++i) {
    std::map<std::string, std::string> fields;
    auto kv = (*reply)[i][1];
    for (size_t j = 0; j + 1 < kv.Size(); j += 2) fields[kv[j].AsString()] = kv[j + 1].AsString();
    out.push_back(std::move(fields));
  }
  return out;
}

int64_t StreamLength(redis::Client& redis, const std::string& stream) {
  auto reply = redis.Command({"XLEN", stream});
  return reply.ok() ? reply->Int() : -1;
}

// Entries of `stream` pending on consumers of the process `pid`.
int64_t PendingOf(redis::Client& redis, const std::string& stream, pid_t pid) {
  auto reply = redis.Command({"XPENDING", stream, kGroup});
  if (!reply.ok() || reply->Size() < 4) return 0;
  int64_t n = 0;
  auto consumers = (*reply)[3];
  std::string tag = absl::StrCat("-", pid, "-");
  for (size_t i = 0; i < consumers.Size(); ++i) {
    if (absl::StrContains(consumers[i][0].Str(), tag)) {
      n += consumers[i][1].AsInt().value_or(0);
    }
  }
  return n;
}

int64_t PendingTotal(redis::Client& redis, const std::string& stream) {
  auto reply = redis.Command({"XPENDING", stream, kGroup});
  if (!reply.ok() || reply->Size() < 1) return -1;
  return (*reply)[0].AsInt().value_or(-1);
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
// replica died under it.
void Drive(Cluster& c, const OrgFixture& org, int index, Flow& flow,
           const std::atomic<bool>& stop) {
  const std::string parent = absl::StrCat("orgs/", org.org);
  asmpb::Report r;
  asmpb::CreateReportRequest create;
  create.set_parent(parent);
  create.set_report_id(absl::StrCat("w", index));
  create.set_period("2023");
  create.set_template_(absl::StrCat(parent, "/templates/", org.template_id));
  create.set_workflow(absl::StrCat(parent, "/workflows/", org.workflow_id));
  create.set_request_id(absl::StrCat("s2-create-", index));
  grpc::Status st = CallReports(
      c, org.drafter, [&](auto& stub, auto* ctx) { return stub.CreateReport(ctx, create, &r); });
  if (!st.ok()) {
    flow.error = absl::StrCat("CreateReport: ", Describe(st));
    return;
  }
  flow.name = r.name();
  flow.stage = "assembling";
  auto wait = [&](const std::function<bool(const asmpb::Report&)>& done,
                  absl::Duration timeout) -> bool {
    absl::Time until = absl::Now() + timeout;
    while (!stop.load() && absl::Now() < until) {
      asmpb::GetReportRequest get;
      get.set_name(flow.name);
      get.set_skip_staleness(true);
      grpc::Status g = CallReports(
          c, org.drafter, [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r); });
      if (g.ok() && done(r)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  };
  if (!wait([](const asmpb::Report& x) { return x.current_revision() >= 1 && !x.assembling(); },
            absl::Seconds(120))) {
    flow.error = absl::StrCat("never assembled: ", r.ShortDebugString().substr(0, 300));
    return;
  }
  flow.stage = "submitting";
  asmpb::SubmitReportRequest submit;
  submit.set_name(flow.name);
  submit.set_revision(r.current_revision());
  for (const auto& gap : r.missing_figures()) submit.add_accepted_gaps(gap);
  submit.set_comment("请审核");
  submit.set_request_id(absl::StrCat("s2-submit-", index));
  st = CallReports(c, org.drafter,
                   [&](auto& stub, auto* ctx) { return stub.SubmitReport(ctx, submit, &r); });
  if (!st.ok()) {
    flow.error = absl::StrCat("SubmitReport: ", Describe(st));
    return;
  }
  // The answer "got lost": the same request again must be answered as the
  // first (AIP-155), not refused as a second submission.
  {
    asmpb::Report again;
    grpc::Status repeat = CallReports(c, org.drafter, [&](auto& stub, auto* ctx) {
      return stub.SubmitReport(ctx, submit, &again);
    });
    if (!repeat.ok()) {
      flow.error =
          absl::StrCat("SubmitReport repeated with the same request_id: ", Describe(repeat));
      flow.repeat_refused = true;
    }
  }
  flow.stage = "approving";
  auto approvals = c.Approvals();
  for (const std::string& who :
       {absl::StrCat(org.org, "-director"), absl::StrCat(org.org, "-secretary")}) {
    const std::string& token = org.users.at(who);
    apb::Approval a;
    apb::GetApprovalRequest get;
    get.set_name(r.approval());
    st = Retry(token,
               [&](grpc::ClientContext* ctx) { return approvals->GetApproval(ctx, get, &a); });
    if (!st.ok()) {
      flow.error = absl::StrCat("GetApproval: ", Describe(st));
      return;
    }
    apb::ApproveRequest approve;
    approve.set_name(r.approval());
    approve.set_expected_version(a.version());
    approve.set_comment("同意");
    approve.set_request_id(absl::StrCat("s2-approve-", index, "-", who));
    st = Retry(token,
               [&](grpc::ClientContext* ctx) { return approvals->Approve(ctx, approve, &a); });
    if (!st.ok()) {
      flow.error = absl::StrCat("Approve as ", who, ": ", Describe(st));
      return;
    }
  }
  flow.stage = "publishing";
  if (!wait([](const asmpb::Report& x) { return x.state() == asmpb::PUBLISHED; },
            absl::Seconds(120))) {
    flow.error = absl::StrCat("never published: ", r.ShortDebugString().substr(0, 300));
    return;
  }
  flow.stage = "published";
  flow.published = true;
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
  co.assembler_args = {"--claim-idle-ms", "1500", "--workers", "2", "--event-workers", "1"};
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
  Problems problems;
  std::vector<Flow> flows(reports);
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  absl::Time start = absl::Now();
  // About 0.9 s between kills; the reports arrive over all of them.
  const absl::Duration pace = absl::Milliseconds(900) * kill_target / reports;
  std::vector<std::thread> threads;
  for (int t = 0; t < drivers; ++t) {
    threads.emplace_back([&] {
      for (int i = next.fetch_add(1); i < reports; i = next.fetch_add(1)) {
        // Spread over the killer's rounds, so kills meet jobs in flight.
        absl::Time due = start + pace * i;
        while (absl::Now() < due) absl::SleepFor(absl::Milliseconds(5));
        Drive(c, *org, i, flows[i], stop);
        finished.fetch_add(1);
      }
    });
  }
  // The killer runs here, on the main thread: new replicas are forked
  // from the spawner thread anyway.
  int kills = 0, kills_mid_job = 0, restarts_failed = 0;
  Rng rng(env.seed * 11);
  while (finished.load() < reports && absl::Now() - start < bound) {
    absl::SleepFor(absl::Milliseconds(rng.Uniform(300, 900)));
    if (kills >= kill_target) continue;
    // Pick a replica that holds an entry right now (a job in its hands);
    // give up looking after a second and take any.
    Process* victim = nullptr;
    int64_t held = 0;
    absl::Time look_until = absl::Now() + absl::Seconds(1);
    while (victim == nullptr) {
      std::vector<Process*> live;
      for (Process* p : c.assemblers()) {
        if (p->Alive()) live.push_back(p);
      }
      if (live.empty()) break;
      for (Process* p : live) {
        int64_t n = PendingOf(c.redis(), kAssembleQueue, p->pid()) +
                    PendingOf(c.redis(), kApprovalEvents, p->pid());
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
    if (victim == nullptr) continue;
    pid_t pid = victim->pid();
    victim->Kill();
    ++kills;
    if (held > 0) ++kills_mid_job;
    Log(absl::StrFormat("s2: SIGKILL %s (pid %d) holding %d entries", victim->name(), pid, held));
    // A fresh replica joins (the dead one's consumers are never seen
    // again): the group is back to three.
    auto added = c.AddAssembler();
    if (!added.ok()) {
      ++restarts_failed;
      problems.Add(absl::StrCat("new replica: ", added.status().message()));
    }
  }
  stop.store(absl::Now() - start >= bound);
  for (auto& t : threads) t.join();
  stop.store(true);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // Let the last reclaims finish, then read everything back.
  absl::Time settle = absl::Now() + absl::Seconds(10);
  while (absl::Now() < settle && (PendingTotal(c.redis(), kAssembleQueue) > 0 ||
                                  PendingTotal(c.redis(), kApprovalEvents) > 0)) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  int64_t lost = 0, duplicated = 0, stuck = 0, digest_bad = 0, published = 0, flow_errors = 0;
  std::map<std::string, int> announced;
  std::map<std::string, std::string> announced_digest;
  for (const auto& e : ReadStream(c.redis(), kPublished)) {
    auto it = e.find("report");
    if (it == e.end()) continue;
    ++announced[it->second];
    announced_digest[it->second] = e.count("digest") ? e.at("digest") : "";
  }
  for (const Flow& f : flows) {
    if (f.name.empty()) {
      ++lost;
      problems.Add(f.error);
      continue;
    }
    asmpb::Report r;
    asmpb::GetReportRequest get;
    get.set_name(f.name);
    get.set_skip_staleness(true);
    grpc::Status st = CallReports(
        c, org->drafter, [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, get, &r); });
    if (!st.ok()) {
      ++lost;
      problems.Add(absl::StrCat(f.name, ": ", Describe(st)));
      continue;
    }
    if (r.assembling()) {
      ++stuck;
      problems.Add(absl::StrCat(f.name, " still ASSEMBLING"));
    }
    if (r.state() != asmpb::PUBLISHED) {
      // A step the client saw refused (not retryable) stopped the flow:
      // a wrong answer, not a lost job; otherwise the job never finished.
      if (!f.error.empty()) {
        ++flow_errors;
      } else {
        ++lost;
      }
      problems.Add(absl::StrCat(f.name, " is ", asmpb::ReportState_Name(r.state()), " at stage ",
                                f.stage, ": ", f.error, " ", r.error()));
      continue;
    }
    ++published;
    if (f.repeat_refused) {
      ++flow_errors;
      problems.Add(absl::StrCat(f.name, ": ", f.error));
    }
    // One assemble job → one revision; one approval → one publication.
    if (r.current_revision() != 1 || r.published_revision() != 1 || r.applied_job() != 1) {
      ++duplicated;
      problems.Add(absl::StrCat(f.name, ": revision ", r.current_revision(), ", published ",
                                r.published_revision(), ", applied job ", r.applied_job()));
    }
    if (announced[f.name] != 1) {
      duplicated += announced[f.name] > 1 ? announced[f.name] - 1 : 0;
      if (announced[f.name] == 0) ++lost;
      problems.Add(absl::StrCat(f.name, " announced ", announced[f.name], " times"));
    }
    asmpb::Revision rev;
    asmpb::GetRevisionRequest gr;
    gr.set_name(absl::StrCat(f.name, "/revisions/1"));
    st = CallReports(c, org->auditor,
                     [&](auto& stub, auto* ctx) { return stub.GetRevision(ctx, gr, &rev); });
    if (!st.ok()) {
      ++digest_bad;
      problems.Add(absl::StrCat(gr.name(), ": ", Describe(st)));
      continue;
    }
    // The digest, recomputed from the bytes served.
    std::map<int, std::string> sha_by_format;
    bool docs_ok = rev.frozen() && rev.documents_size() == 4;
    for (const auto& d : rev.documents()) {
      asmpb::GetDocumentRequest dr;
      dr.set_name(rev.name());
      dr.set_format(d.format());
      asmpb::Document doc;
      st = CallReports(c, org->auditor,
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
      absl::StrAppend(&manifest,
                      asmpb::DocumentFormat_Name(static_cast<asmpb::DocumentFormat>(format)), " ",
                      sha, "\n");
    }
    std::string digest = Sha256Hex(manifest);
    if (!docs_ok || digest != rev.digest() || digest != r.digest() ||
        announced_digest[f.name] != digest) {
      ++digest_bad;
      problems.Add(absl::StrCat(f.name, ": published digest does not match its documents"));
    }
  }
  int64_t dead = StreamLength(c.redis(), std::string(kAssembleQueue) + ":dead") +
                 StreamLength(c.redis(), std::string(kApprovalEvents) + ":dead");
  if (dead > 0) problems.Add(absl::StrCat(dead, " entries in dead-letter streams"));
  int64_t pending =
      PendingTotal(c.redis(), kAssembleQueue) + PendingTotal(c.redis(), kApprovalEvents);
  int crashes = c.Crashes();
  const int64_t jobs = 2 * static_cast<int64_t>(reports);  // assemble + publish

  results.Add("faults.jobs_submitted", jobs);
  results.Add("faults.jobs_lost", lost + std::max<int64_t>(dead, 0));
  results.Add("faults.jobs_duplicated", duplicated);
  results.Add("faults.crashes", crashes);
  results.Set("faults.s2.reports", static_cast<int64_t>(reports));
  results.Set("faults.s2.published", published);
  results.Set("faults.s2.assembler_kills", static_cast<int64_t>(kills));
  results.Set("faults.s2.kills_mid_job", static_cast<int64_t>(kills_mid_job));
  results.Set("faults.s2.stuck_assembling", stuck);
  results.Set("faults.s2.wrong_answers", flow_errors);
  results.Set("faults.s2.digest_mismatches", digest_bad);
  results.Set("faults.s2.dead_lettered", dead);
  results.Set("faults.s2.pending_after", pending);
  results.Set("faults.s2.seconds", seconds);
  out.summary = absl::StrFormat(
      "did %d reports (%d jobs) with %d assembler SIGKILLs (%d holding jobs), %d replicas "
      "started in their place, in %.1fs; published %d, jobs lost %d, duplicated %d, stuck "
      "assembling %d, digest mismatches %d, dead-lettered %d, left pending %d, wrong answers to "
      "retried calls %d, crashes %d",
      reports, jobs, kills, kills_mid_job, kills - restarts_failed, seconds, published, lost,
      duplicated, stuck, digest_bad, dead, pending, flow_errors, crashes);
  out.problems = problems.First();
  bool ok = lost == 0 && duplicated == 0 && stuck == 0 && digest_bad == 0 && dead == 0 &&
            pending == 0 && crashes == 0 && kills_mid_job > 0 && flow_errors == 0;
  if (kills_mid_job == 0) out.problems.push_back("no kill landed while a replica held a job");
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
  return out;
}

}  // namespace govreport::fault
