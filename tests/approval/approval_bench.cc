// Load client for the approval service: starts its own redis-server and the
// real service in-process, then N clients (one gRPC channel each, one
// approval each) run approve / reject cycles for a fixed time:
//   review step: Approve by the reviewer  -> sign step
//   sign step:   Reject back to "review"  -> review step
// Every action is one gRPC call that runs one Lua transition in Redis.
// Prints "approval.actions_per_s <n>".
//
//   approval_bench [--clients=8] [--seconds=5] [--aof]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "approval/approvals.h"
#include "approval/grpc_service.h"
#include "approval/store.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/server.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "redis_server.h"

namespace {

namespace v1 = ::govreport::approval::v1;
using govreport::auth::Principal;

int Fail(absl::string_view what, const grpc::Status& st) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), st.error_message().c_str());
  return 1;
}

int Fail(absl::string_view what, const absl::Status& st) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), st.ToString().c_str());
  return 1;
}

// The clients and what they share: a token per user, one stub, one
// workflow and one approval per client, the measured actions.
class Bench {
 public:
  Bench(govreport::auth::Authenticator& authenticator, std::string target, int clients)
      : authenticator_(authenticator),
        target_(std::move(target)),
        clients_(clients),
        approvals_(clients),
        latencies_(clients) {}

  absl::Status IssueTokens() {
    if (auto s = Issue("admin", {"admin"}); !s.ok()) return s;
    if (auto s = Issue("drafter", {"drafter"}); !s.ok()) return s;
    for (int i = 0; i < clients_; ++i) {
      if (auto s = Issue(absl::StrCat("r", i), {"approver"}); !s.ok()) return s;
      if (auto s = Issue(absl::StrCat("s", i), {"approver"}); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // One workflow and one approval per client, so clients do not contend:
  // the figure is throughput, not the cost of lost races. 0, or what
  // Fail returned.
  int SetUpClients() {
    stubs_.reserve(clients_);
    for (int i = 0; i < clients_; ++i) {
      stubs_.push_back(v1::ApprovalService::NewStub(
          grpc::CreateChannel(target_, grpc::InsecureChannelCredentials())));
      v1::CreateWorkflowRequest wreq;
      wreq.set_parent("orgs/bench");
      wreq.set_workflow_id(absl::StrCat("wf-", i));
      v1::Step* review = wreq.mutable_workflow()->add_steps();
      review->set_name("review");
      review->set_kind(v1::STEP_KIND_REVIEW);
      review->add_users(absl::StrCat("r", i));
      review->set_due_seconds(86400);
      v1::Step* sign = wreq.mutable_workflow()->add_steps();
      sign->set_name("sign");
      sign->set_kind(v1::STEP_KIND_SIGN_OFF);
      sign->add_users(absl::StrCat("s", i));
      v1::Workflow wf;
      grpc::Status st = stubs_[i]->CreateWorkflow(CtxFor("admin").get(), wreq, &wf);
      if (!st.ok()) return Fail("CreateWorkflow", st);
      v1::StartApprovalRequest sreq;
      sreq.set_parent("orgs/bench");
      sreq.set_workflow(wf.name());
      sreq.set_subject(absl::StrCat("orgs/bench/reports/r", i, "/revisions/1"));
      st = stubs_[i]->StartApproval(CtxFor("drafter").get(), sreq, &approvals_[i]);
      if (!st.ok()) return Fail("StartApproval", st);
    }
    return 0;
  }

  // Every client cycles; `seconds` of them are measured after a warm-up.
  void Measure(int seconds) {
    std::vector<std::thread> threads;
    threads.reserve(clients_);
    for (int i = 0; i < clients_; ++i) threads.emplace_back([this, i] { Cycle(i); });
    absl::SleepFor(absl::Milliseconds(500));  // Warm up connections and caches.
    int64_t start_count = actions_.load();
    absl::Time start = absl::Now();
    measuring_.store(true);
    absl::SleepFor(absl::Seconds(seconds));
    measuring_.store(false);
    elapsed_ = absl::Now() - start;
    done_ = actions_.load() - start_count;
    stop_.store(true);
    for (auto& t : threads) t.join();
  }

  void Print(bool aof) {
    std::vector<double> all;
    for (auto& l : latencies_) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) {
      return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
    };
    double per_s = static_cast<double>(done_) / absl::ToDoubleSeconds(elapsed_);
    std::printf(
        "clients=%d seconds=%.2f actions=%lld errors=%lld p50_ms=%.3f p99_ms=%.3f "
        "aof=%s\n",
        clients_, absl::ToDoubleSeconds(elapsed_), static_cast<long long>(done_),
        static_cast<long long>(errors_.load()), pct(0.50), pct(0.99), aof ? "on" : "off");
    std::printf("approval.actions_per_s %.1f\n", per_s);
  }

  int64_t errors() const { return errors_.load(); }

 private:
  absl::Status Issue(const std::string& subject, std::vector<std::string> roles) {
    Principal p;
    p.subject = subject;
    p.org = "bench";
    p.roles = std::move(roles);
    auto t = authenticator_.tokens().Issue(p, absl::ZeroDuration());
    if (t.ok()) tokens_[subject] = t->secret;
    return t.status();
  }

  std::unique_ptr<grpc::ClientContext> CtxFor(const std::string& who) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    govreport::auth::AttachToken(*ctx, tokens_.at(who));
    return ctx;
  }

  // Client `i`: approve as the reviewer, reject back as the signer, until
  // stop_ or an error.
  void Cycle(int i) {
    v1::Approval a = approvals_[i];
    std::string reviewer = absl::StrCat("r", i);
    std::string signer = absl::StrCat("s", i);
    int64_t n = 0;
    while (!stop_.load()) {
      v1::Approval out;
      grpc::Status st;
      absl::Time t0 = absl::Now();
      if (a.current_step_name() == "review") {
        v1::ApproveRequest req;
        req.set_name(a.name());
        req.set_expected_version(a.version());
        req.set_request_id(absl::StrCat("c", i, "-", n));
        st = stubs_[i]->Approve(CtxFor(reviewer).get(), req, &out);
      } else {
        v1::RejectRequest req;
        req.set_name(a.name());
        req.set_expected_version(a.version());
        req.set_comment("请补充数据来源");
        req.set_return_to_step("review");
        req.set_request_id(absl::StrCat("c", i, "-", n));
        st = stubs_[i]->Reject(CtxFor(signer).get(), req, &out);
      }
      ++n;
      if (!st.ok()) {
        errors_.fetch_add(1);
        std::fprintf(stderr, "client %d: %s\n", i, st.error_message().c_str());
        return;
      }
      a = std::move(out);
      if (measuring_.load()) {
        actions_.fetch_add(1);
        latencies_[i].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      }
    }
  }

  govreport::auth::Authenticator& authenticator_;
  const std::string target_;
  const int clients_;
  std::map<std::string, std::string> tokens_;
  std::vector<std::unique_ptr<v1::ApprovalService::Stub>> stubs_;
  std::vector<v1::Approval> approvals_;
  std::atomic<bool> measuring_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> actions_{0};
  std::atomic<int64_t> errors_{0};
  std::vector<std::vector<double>> latencies_;
  absl::Duration elapsed_;
  int64_t done_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace govreport;  // NOLINT: a short main.
  Flags flags("approval_bench", "Approve/reject cycles through gRPC with Redis.");
  flags.Define("clients", "8", "Concurrent clients, each on its own approval");
  flags.Define("seconds", "5", "Measured duration");
  flags.Define("aof", "false", "Run redis-server with appendonly (everysec)");
  ParseFlagsOrExit(flags, argc, argv);
  int clients = static_cast<int>(flags.GetInt("clients").value_or(8));
  int seconds = static_cast<int>(flags.GetInt("seconds").value_or(5));
  if (clients < 1 || seconds < 1) {
    std::fprintf(stderr, "--clients and --seconds must be >= 1\n");
    return 2;
  }

  auto redis_server = testing::RedisServer::Start(flags.GetBool("aof"));
  if (!redis_server.ok()) return Fail("redis-server", redis_server.status());
  redis::Options ro = (*redis_server)->options();
  ro.pool_size = 64;
  redis::Client redis(ro);
  auth::Authenticator authenticator(&redis, "");
  approval::Store store(&redis);
  approval::ApprovalCore core(&store);
  approval::ApprovalGrpcService service(&core, &authenticator);
  ServerOptions so;
  so.services = {&service};
  auto server = RunningServer::Start(std::move(so));
  if (!server.ok()) return Fail("server", server.status());

  Bench bench(authenticator, absl::StrCat("127.0.0.1:", (*server)->port()), clients);
  if (auto s = bench.IssueTokens(); !s.ok()) return Fail("token", s);
  if (int rc = bench.SetUpClients(); rc != 0) return rc;
  bench.Measure(seconds);
  bench.Print(flags.GetBool("aof"));
  (*server)->Shutdown(absl::Seconds(1));
  return bench.errors() == 0 ? 0 : 1;
}
