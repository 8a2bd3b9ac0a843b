// The fault runner's harness: the real service binaries as child processes
// on loopback ports, one real redis-server (AOF, appendfsync always), org
// fixtures set up through the public APIs, and the bookkeeping every
// scenario shares (results, retries, health checks).
#ifndef GOVREPORT_TESTS_FAULT_HARNESS_H_
#define GOVREPORT_TESTS_FAULT_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "common/status.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "govreport/templates/v1/templates.grpc.pb.h"
#include "internal/grpc/health/v1/health.grpc.pb.h"
#include "redis_server.h"

namespace govreport::fault {

namespace rpb = ::govreport::records::v1;
namespace apb = ::govreport::approval::v1;
namespace tpb = ::govreport::templates::v1;
namespace asmpb = ::govreport::assembler::v1;
namespace authpb = ::govreport::auth::v1;

// What every scenario is given.
struct Env {
  std::string source_dir;
  std::string run_dir;  // Logs of the child processes.
  std::string records_bin, templates_bin, approval_bin, assembler_bin;
  bool short_mode = false;
  uint64_t seed = 1;
  // False only to prove the checks: without AOF a Redis crash loses
  // acknowledged writes, and scenario 1 must say so.
  bool redis_aof = true;
};

// Finds the binaries under `build_dir`; empty paths for missing ones.
Env MakeEnv(const std::string& build_dir, const std::string& source_dir,
            const std::string& run_dir);

// A flat JSON object: numbers and strings, keys sorted.
class Results {
 public:
  void Set(const std::string& key, int64_t value);
  void Set(const std::string& key, double value);
  void Set(const std::string& key, const std::string& value);
  void Add(const std::string& key, int64_t delta);
  int64_t Int(const std::string& key) const;
  std::string Json() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::variant<int64_t, double, std::string>> values_;
};

enum class Verdict { kPassed, kFailed, kSkipped };

struct ScenarioResult {
  int number = 0;
  std::string name;
  Verdict verdict = Verdict::kPassed;
  // "did X, lost 0 ..." or why it was skipped.
  std::string summary;
  std::vector<std::string> problems;  // The first few, for the log.
};

// Collects problems from many threads and keeps the first few for the log.
class Problems {
 public:
  void Add(const std::string& what);
  int64_t count() const { return count_.load(); }
  std::vector<std::string> First() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> first_;
  std::atomic<int64_t> count_{0};
};

// Timestamped progress line on stderr.
void Log(absl::string_view line);

// Runs `fn` on the one long-lived thread that forks children, and waits.
// PR_SET_PDEATHSIG fires when the *thread* that forked a child exits, so
// a child forked from a short-lived worker thread would die with it.
void OnSpawnerThread(const std::function<void()>& fn);

// ------------------------------------------------------------ processes

struct ProcessSpec {
  std::string name;  // For logs: "records", "assembler-1".
  std::string binary;
  std::vector<std::string> args;  // Besides --listen.
  std::vector<std::pair<std::string, std::string>> env;
};

// One service binary as a child process. It dies with the runner
// (PR_SET_PDEATHSIG). Thread-safe.
class Process {
 public:
  Process(ProcessSpec spec, const std::string& log_dir);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // First start on a free port (--listen 127.0.0.1:0, the port read from
  // "<name> listening on port N"); later starts reuse that port so
  // clients' channels reconnect by themselves.
  absl::Status Start(absl::Duration timeout = absl::Seconds(20));
  // SIGTERM, then waits up to `wait` (SIGKILL after that). Returns the
  // exit code, or -signal when it died by a signal.
  int Terminate(absl::Duration wait);
  // SIGKILL, reaped.
  void Kill();
  // Sends SIGTERM without waiting (Terminate then reaps it).
  void SignalTerm();
  // False once it exited; an exit nobody asked for counts as a crash.
  bool Alive();

  const std::string& name() const { return spec_.name; }
  int port() const { return port_; }
  pid_t pid() const { return pid_.load(); }
  std::string address() const;
  int crashes() const { return crashes_.load(); }
  std::string last_exit() const;
  // VmRSS / VmHWM of the running process in MB (0 when not running).
  double RssMb() const;
  double PeakRssMb() const;
  std::string log_path() const { return err_path_; }

 private:
  void Reap(int wstatus);
  pid_t ForkExec(std::vector<char*>& argv);
  ProcessSpec spec_;
  std::string out_path_, err_path_;
  int port_ = 0;
  std::atomic<pid_t> pid_{-1};
  std::atomic<bool> stopping_{false};
  std::atomic<int> crashes_{0};
  mutable std::mutex mu_;
  std::string last_exit_;
};

// ------------------------------------------------------------- fixtures

// One org set up the way an operator and its admin would: profile,
// tokens, template, workflow, role, a record, an approval and (with the
// assembler) a report with its first revision. Ids of existing resources
// are kept for the isolation and bad-input scenarios.
struct OrgFixture {
  std::string org;
  std::string admin, recorder, drafter, auditor;
  std::string admin_token_id;
  // A token nobody uses, for RevokeToken to aim at.
  std::string spare_token_id;
  // Approver user → token. "{org}-director", "{org}-secretary" and the
  // role members "{org}-r1".. "{org}-rN".
  std::map<std::string, std::string> users;
  std::string activity_id;
  std::string template_id = "annual";
  std::string workflow_id = "annual";
  std::string role = "reviewers";
  std::string approval_id;
  std::string report_id;
  int64_t revision = 0;
};

struct FixtureOptions {
  int role_members = 3;
  bool template_and_workflow = true;
  bool approval = true;
  bool report = true;  // Needs the assembler.
  // Template text; empty: a short one using three figures and both
  // narrative slots.
  std::string template_text;
};

struct ClusterOptions {
  bool templates = true;
  bool approval = true;
  int assemblers = 0;
  std::vector<std::string> assembler_args;
  // --shutdown-grace-ms of every service.
  int grace_ms = 3000;
  std::string tag;  // Log file prefix.
};

// redis-server plus the services, started in dependency order.
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(const Env& env, ClusterOptions options);
  ~Cluster();

  testing::RedisServer& redis_server() { return *redis_server_; }
  // A direct Redis connection for checks (streams, dirty counter).
  redis::Client& redis() { return *redis_; }
  Process& records() { return *records_; }
  Process* templates() { return templates_.get(); }
  Process* approval() { return approval_.get(); }
  std::vector<Process*> assemblers();
  std::vector<Process*> services();
  // Another assembler replica (scenario 2 restarts killed ones this way).
  absl::StatusOr<Process*> AddAssembler();

  const std::string& operator_token() const { return operator_token_; }
  const std::string& service_token() const { return service_token_; }

  std::shared_ptr<grpc::Channel> Channel(const Process& p);
  std::unique_ptr<rpb::OrgService::Stub> Orgs();
  std::unique_ptr<rpb::IndicatorService::Stub> Indicators();
  std::unique_ptr<rpb::ActivityService::Stub> Activities();
  std::unique_ptr<authpb::AuthService::Stub> Auth();
  std::unique_ptr<tpb::TemplateService::Stub> Templates();
  std::unique_ptr<apb::ApprovalService::Stub> Approvals();
  std::unique_ptr<asmpb::ReportService::Stub> Reports(int replica = 0);

  absl::StatusOr<OrgFixture> SetUpOrg(const std::string& org, const FixtureOptions& options = {});
  // Issues a token through AuthService as `issuer`.
  absl::StatusOr<std::pair<std::string, std::string>> IssueToken(
      const std::string& issuer, const std::string& org, const std::string& subject,
      const std::vector<std::string>& roles, bool service_kind = false);

  // grpc.health.v1 Check on the whole server: SERVING, NOT_SERVING, or
  // the call's error as UNKNOWN.
  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const Process& p,
                                                              absl::Duration deadline);
  bool WaitHealth(const Process& p, bool serving, absl::Duration timeout);
  // Redis's count of writes since start (rdb_changes_since_last_save; the
  // runner never saves), so "no effect" can be checked to the write.
  absl::StatusOr<int64_t> RedisDirty();
  // Waits (at most 20 s) until RedisDirty stops moving for 300 ms: the
  // background work of what was accepted before (assembly, event
  // consumers joining a new org's stream) is done, so a change after this
  // is the next call's.
  void WaitForQuietRedis();
  // Processes that died without being asked.
  int Crashes();
  const Env& env() const { return env_; }

 private:
  Cluster() = default;
  absl::Status Launch(ClusterOptions options);
  // The steps of SetUpOrg, in its order.
  absl::Status SetUpOrgAndProfile(const OrgFixture& f);
  absl::Status IssueFixtureTokens(const FixtureOptions& options, OrgFixture* f,
                                  std::vector<std::string>* members);
  absl::Status AddFixtureActivity(OrgFixture* f);
  absl::Status SetUpFixtureApproval(const FixtureOptions& options,
                                    const std::vector<std::string>& members, OrgFixture* f);
  absl::Status AddFixtureReport(OrgFixture* f);
  std::unique_ptr<Process> MakeService(const std::string& name, const std::string& binary,
                                       std::vector<std::string> extra);

  Env env_;
  ClusterOptions options_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<Process> records_, templates_, approval_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Process>> assemblers_;
  std::string operator_token_, service_token_, secret_key_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  int next_assembler_ = 0;
};

// ------------------------------------------------------------- calls

// A context with a bearer token and a deadline.
std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token,
                                         absl::Duration deadline = absl::Seconds(10));

// ReportService on any live assembler replica: a call that finds its
// replica gone (UNAVAILABLE) or slow (DEADLINE_EXCEEDED) is sent again,
// with the same request, to the next one.
grpc::Status CallReports(
    Cluster& cluster, const std::string& token,
    const std::function<grpc::Status(asmpb::ReportService::Stub&, grpc::ClientContext*)>& call,
    absl::Duration budget = absl::Seconds(60), absl::Duration per_call = absl::Seconds(10));

// Codes a client retries with the same request_id.
bool Transient(grpc::StatusCode code);

// Calls `call` with a fresh context until it returns a non-transient
// status or `budget` is spent. `attempts` (if set) counts the calls made.
grpc::Status Retry(const std::string& token,
                   const std::function<grpc::Status(grpc::ClientContext*)>& call,
                   absl::Duration budget = absl::Seconds(30),
                   absl::Duration per_call = absl::Seconds(5), int* attempts = nullptr);

std::string Describe(const grpc::Status& status);

// Percentile of unsorted samples (sorts them).
double Percentile(std::vector<double>& samples, double p);

// The strict-governance profile from deploy/profiles.
absl::StatusOr<rpb::Profile> LoadProfileFile(const std::string& source_dir);

// A deterministic random source per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  int64_t Uniform(int64_t lo, int64_t hi) {  // Inclusive.
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  std::mt19937_64& gen() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

}  // namespace govreport::fault

#endif  // GOVREPORT_TESTS_FAULT_HARNESS_H_
