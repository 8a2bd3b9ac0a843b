#include "tests/fault/harness.h"

#include <fcntl.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX kill
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/crypto.h"
#include "common/enums.h"

namespace govreport::fault {
namespace {

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string FirstExecutable(std::initializer_list<std::string> candidates) {
  for (const auto& c : candidates) {
    if (Executable(c)) return c;
  }
  return "";
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

std::string ReadFrom(const std::string& path, off_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(offset);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& path, size_t bytes) {
  off_t size = FileSize(path);
  return ReadFrom(path, size > static_cast<off_t>(bytes) ? size - bytes : 0);
}

// "VmRSS:	   12345 kB" → MB.
double ProcStatusMb(pid_t pid, absl::string_view field) {
  if (pid <= 0) return 0;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, field)) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kb = 0;
    for (const auto& p : parts) {
      if (absl::SimpleAtoi(p, &kb)) return kb / 1024.0;
    }
  }
  return 0;
}

constexpr char kTemplateText[] =
    "{{org.short_name}}{{period.year}}年度工作报告\n"
    "\n"
    "一、工作开展情况\n"
    "全年开展主题党日{{ind.theme_party_days}}次，谈心谈话{{ind.heart_to_heart_talks}}人次，"
    "党组专题会议{{ind.party_group_governance_meetings}}次。\n"
    "二、存在的问题\n"
    "{{narrative.problems}}\n"
    "三、下一步打算\n"
    "{{narrative.next_steps}}\n"
    "\n"
    "{{org.name}}\n"
    "{{issue.date}}\n";

}  // namespace

Env MakeEnv(const std::string& build_dir, const std::string& source_dir,
            const std::string& run_dir) {
  Env env;
  env.source_dir = source_dir;
  env.run_dir = run_dir;
  const std::string s = build_dir + "/services/";
  env.records_bin = FirstExecutable({s + "records/records"});
  env.templates_bin =
      FirstExecutable({s + "templates/templates", s + "templates/service/templates"});
  env.approval_bin = FirstExecutable({s + "approval/approval"});
  env.assembler_bin = FirstExecutable({s + "assembler/assembler"});
  return env;
}

// ---------------------------------------------------------------- Results

void Results::Set(const std::string& key, int64_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[key] = value;
}

void Results::Set(const std::string& key, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[key] = value;
}

void Results::Set(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[key] = value;
}

void Results::Add(const std::string& key, int64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(key);
  int64_t base = 0;
  if (it != values_.end() && std::holds_alternative<int64_t>(it->second)) {
    base = std::get<int64_t>(it->second);
  }
  values_[key] = base + delta;
}

int64_t Results::Int(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(key);
  if (it == values_.end() || !std::holds_alternative<int64_t>(it->second)) return 0;
  return std::get<int64_t>(it->second);
}

std::string Results::Json() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : values_) {
    absl::StrAppend(&out, first ? "\n" : ",\n", "  \"", JsonEscape(k), "\": ");
    first = false;
    if (std::holds_alternative<int64_t>(v)) {
      absl::StrAppend(&out, std::get<int64_t>(v));
    } else if (std::holds_alternative<double>(v)) {
      std::string d = absl::StrFormat("%.2f", std::get<double>(v));
      absl::StrAppend(&out, d);
    } else {
      absl::StrAppend(&out, "\"", JsonEscape(std::get<std::string>(v)), "\"");
    }
  }
  return out + "\n}\n";
}

void Problems::Add(const std::string& what) {
  count_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (first_.size() < 8) first_.push_back(what);
}

std::vector<std::string> Problems::First() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_;
}

void OnSpawnerThread(const std::function<void()>& fn) {
  struct Spawner {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
  };
  // Never destroyed: the thread lives as long as the process.
  static Spawner* spawner = [] {
    auto* s = new Spawner();
    std::thread([s] {
      while (true) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(s->mu);
          s->cv.wait(lock, [s] { return !s->jobs.empty(); });
          job = std::move(s->jobs.front());
          s->jobs.pop_front();
        }
        job();
      }
    }).detach();
    return s;
  }();
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  {
    std::lock_guard<std::mutex> lock(spawner->mu);
    spawner->jobs.emplace_back([&] {
      fn();
      std::lock_guard<std::mutex> done_lock(done_mu);
      done = true;
      done_cv.notify_all();
    });
  }
  spawner->cv.notify_one();
  std::unique_lock<std::mutex> lock(done_mu);
  done_cv.wait(lock, [&] { return done; });
}

void Log(absl::string_view line) {
  std::string s = absl::StrCat(absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()),
                               " ", line, "\n");
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// ---------------------------------------------------------------- Process

Process::Process(ProcessSpec spec, const std::string& log_dir) : spec_(std::move(spec)) {
  out_path_ = absl::StrCat(log_dir, "/", spec_.name, ".out");
  err_path_ = absl::StrCat(log_dir, "/", spec_.name, ".log");
}

Process::~Process() {
  if (pid_.load() > 0) Kill();
}

std::string Process::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string Process::last_exit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_exit_;
}

void Process::Reap(int wstatus) {
  pid_.store(-1);
  std::string what = WIFEXITED(wstatus)     ? absl::StrCat("exit ", WEXITSTATUS(wstatus))
                     : WIFSIGNALED(wstatus) ? absl::StrCat("signal ", WTERMSIG(wstatus))
                                            : "gone";
  last_exit_ = what;
  if (!stopping_.load()) {
    crashes_.fetch_add(1);
    Log(absl::StrCat(spec_.name, " died unexpectedly (", what, "); log: ", err_path_));
  }
}

bool Process::Alive() {
  std::lock_guard<std::mutex> lock(mu_);
  pid_t pid = pid_.load();
  if (pid <= 0) return false;
  int wstatus = 0;
  pid_t r = waitpid(pid, &wstatus, WNOHANG);
  if (r == pid) {
    Reap(wstatus);
    return false;
  }
  return true;
}

absl::Status Process::Start(absl::Duration timeout) {
  if (pid_.load() > 0) return absl::FailedPreconditionError(spec_.name + " is running");
  off_t offset = FileSize(out_path_);
  std::vector<std::string> argv = {spec_.binary, "--listen",
                                   port_ == 0 ? "127.0.0.1:0" : address()};
  argv.insert(argv.end(), spec_.args.begin(), spec_.args.end());
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  stopping_.store(false);
  pid_t pid = -1;
  OnSpawnerThread([&] { pid = ForkExec(cargv); });
  if (pid < 0) return absl::InternalError("fork failed");
  pid_.store(pid);
  absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    std::string out = ReadFrom(out_path_, offset);
    auto at = out.find("listening on port ");
    if (at != std::string::npos) {
      auto end = out.find('\n', at);
      if (end != std::string::npos) {
        int port = 0;
        absl::string_view digits(out.data() + at + 18, end - at - 18);
        if (absl::SimpleAtoi(digits, &port) && port > 0) {
          port_ = port;
          return absl::OkStatus();
        }
      }
    }
    if (!Alive()) {
      return absl::UnavailableError(
          absl::StrCat(spec_.name, " exited at start (", last_exit(), "): ", Tail(err_path_, 600)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError(
      absl::StrCat(spec_.name, " did not say it was listening: ", Tail(err_path_, 600)));
}

pid_t Process::ForkExec(std::vector<char*>& argv) {
  // The environment is prepared before fork: only async-signal-safe calls
  // may follow it in a multi-threaded process.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    bool replaced = false;
    for (const auto& [k, v] : spec_.env) {
      if (absl::StartsWith(*e, k + "=")) replaced = true;
    }
    if (!replaced) env_strings.emplace_back(*e);
  }
  for (const auto& [k, v] : spec_.env) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // Gone with the runner, even when the runner is killed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  return pid;
}

int Process::Terminate(absl::Duration wait) {
  pid_t pid = pid_.load();
  if (pid <= 0) return 0;
  stopping_.store(true);
  kill(pid, SIGTERM);
  absl::Time until = absl::Now() + wait;
  while (true) {
    int wstatus = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pid_.load() != pid) return 0;  // Reaped elsewhere.
      pid_t r = waitpid(pid, &wstatus, WNOHANG);
      if (r == pid) {
        Reap(wstatus);
        return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -WTERMSIG(wstatus);
      }
    }
    if (absl::Now() > until) {
      kill(pid, SIGKILL);
      std::lock_guard<std::mutex> lock(mu_);
      waitpid(pid, &wstatus, 0);
      Reap(wstatus);
      return -SIGKILL;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void Process::SignalTerm() {
  pid_t pid = pid_.load();
  if (pid <= 0) return;
  stopping_.store(true);
  kill(pid, SIGTERM);
}

void Process::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  pid_t pid = pid_.load();
  if (pid <= 0) return;
  stopping_.store(true);
  kill(pid, SIGKILL);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  Reap(wstatus);
}

double Process::RssMb() const { return ProcStatusMb(pid_.load(), "VmRSS:"); }
double Process::PeakRssMb() const { return ProcStatusMb(pid_.load(), "VmHWM:"); }

// ---------------------------------------------------------------- Cluster

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(const Env& env, ClusterOptions options) {
  std::unique_ptr<Cluster> c(new Cluster());
  c->env_ = env;
  absl::Status st = c->Launch(std::move(options));
  if (!st.ok()) return st;
  return c;
}

Cluster::~Cluster() {
  // All at once: each may wait out its grace period.
  std::vector<Process*> all = services();
  for (Process* p : all) p->SignalTerm();
  for (Process* p : all) p->Terminate(absl::Seconds(10));
}

std::unique_ptr<Process> Cluster::MakeService(const std::string& name, const std::string& binary,
                                              std::vector<std::string> extra) {
  ProcessSpec spec;
  spec.name = options_.tag.empty() ? name : absl::StrCat(options_.tag, "-", name);
  spec.binary = binary;
  spec.args = {"--redis-url", redis_server_->url(), "--shutdown-grace-ms",
               absl::StrCat(options_.grace_ms)};
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  // Secrets through the environment, as docs/operations.md asks.
  spec.env = {{"GOVREPORT_ADMIN_TOKEN", operator_token_}, {"GOVREPORT_SECRET_KEY", secret_key_}};
  if (!service_token_.empty()) spec.env.emplace_back("GOVREPORT_SERVICE_TOKEN", service_token_);
  return std::make_unique<Process>(std::move(spec), env_.run_dir);
}

absl::Status Cluster::Launch(ClusterOptions options) {
  options_ = std::move(options);
  if (env_.records_bin.empty()) return absl::NotFoundError("records binary not built");
  OnSpawnerThread([&] { redis_server_ = std::make_unique<testing::RedisServer>(env_.redis_aof); });
  if (!redis_server_->ok()) return absl::UnavailableError("redis-server did not start");
  redis::Options ro = redis_server_->options();
  ro.pool_size = 4;
  redis_ = std::make_unique<redis::Client>(ro);
  operator_token_ = absl::StrCat("op-", RandomHex(16));
  secret_key_ = RandomHex(32);

  records_ = MakeService("records", env_.records_bin, {});
  if (auto st = records_->Start(); !st.ok()) return st;
  if (!WaitHealth(*records_, true, absl::Seconds(10))) {
    return absl::UnavailableError("records never became SERVING");
  }
  auto svc = IssueToken(operator_token_, std::string(auth::kAnyOrg), "assembler", {"service"},
                        /*service_kind=*/true);
  if (!svc.ok()) return svc.status();
  service_token_ = svc->second;

  std::string records_addr = records_->address();
  if (options_.templates || options_.assemblers > 0) {
    if (env_.templates_bin.empty()) return absl::NotFoundError("templates binary not built");
    templates_ = MakeService("templates", env_.templates_bin, {"--records", records_addr});
    if (auto st = templates_->Start(); !st.ok()) return st;
  }
  if (options_.approval || options_.assemblers > 0) {
    if (env_.approval_bin.empty()) return absl::NotFoundError("approval binary not built");
    approval_ = MakeService("approval", env_.approval_bin, {});
    if (auto st = approval_->Start(); !st.ok()) return st;
  }
  for (int i = 0; i < options_.assemblers; ++i) {
    auto a = AddAssembler();
    if (!a.ok()) return a.status();
  }
  for (Process* p : services()) {
    if (!WaitHealth(*p, true, absl::Seconds(10))) {
      return absl::UnavailableError(absl::StrCat(p->name(), " never became SERVING"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Process*> Cluster::AddAssembler() {
  if (env_.assembler_bin.empty()) return absl::NotFoundError("assembler binary not built");
  std::vector<std::string> args = {"--records",   records_->address(),
                                   "--templates", templates_->address(),
                                   "--approval",  approval_->address()};
  args.insert(args.end(), options_.assembler_args.begin(), options_.assembler_args.end());
  int index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index = next_assembler_++;
  }
  auto p = MakeService(absl::StrCat("assembler-", index), env_.assembler_bin, args);
  if (auto st = p->Start(); !st.ok()) return st;
  Process* raw = p.get();
  std::lock_guard<std::mutex> lock(mu_);
  assemblers_.push_back(std::move(p));
  return raw;
}

std::vector<Process*> Cluster::assemblers() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Process*> out;
  for (auto& a : assemblers_) out.push_back(a.get());
  return out;
}

std::vector<Process*> Cluster::services() {
  std::vector<Process*> out = {records_.get()};
  if (templates_) out.push_back(templates_.get());
  if (approval_) out.push_back(approval_.get());
  for (Process* a : assemblers()) out.push_back(a);
  return out;
}

std::shared_ptr<grpc::Channel> Cluster::Channel(const Process& p) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& ch = channels_[p.address()];
  if (!ch) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    // Reconnect quickly after a restart instead of backing off for
    // seconds: the scenarios measure the service, not the backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    ch = grpc::CreateCustomChannel(p.address(), grpc::InsecureChannelCredentials(), args);
  }
  return ch;
}

std::unique_ptr<rpb::OrgService::Stub> Cluster::Orgs() {
  return rpb::OrgService::NewStub(Channel(*records_));
}
std::unique_ptr<rpb::IndicatorService::Stub> Cluster::Indicators() {
  return rpb::IndicatorService::NewStub(Channel(*records_));
}
std::unique_ptr<rpb::ActivityService::Stub> Cluster::Activities() {
  return rpb::ActivityService::NewStub(Channel(*records_));
}
std::unique_ptr<authpb::AuthService::Stub> Cluster::Auth() {
  return authpb::AuthService::NewStub(Channel(*records_));
}
std::unique_ptr<tpb::TemplateService::Stub> Cluster::Templates() {
  return tpb::TemplateService::NewStub(Channel(*templates_));
}
std::unique_ptr<apb::ApprovalService::Stub> Cluster::Approvals() {
  return apb::ApprovalService::NewStub(Channel(*approval_));
}
std::unique_ptr<asmpb::ReportService::Stub> Cluster::Reports(int replica) {
  auto all = assemblers();
  return asmpb::ReportService::NewStub(Channel(*all.at(replica)));
}

absl::StatusOr<std::pair<std::string, std::string>> Cluster::IssueToken(
    const std::string& issuer, const std::string& org, const std::string& subject,
    const std::vector<std::string>& roles, bool service_kind) {
  authpb::IssueTokenRequest req;
  req.mutable_principal()->set_subject(subject);
  req.mutable_principal()->set_org(org);
  req.mutable_principal()->set_kind(service_kind ? authpb::PRINCIPAL_KIND_SERVICE
                                                 : authpb::PRINCIPAL_KIND_USER);
  for (const std::string& r : roles) req.mutable_principal()->add_roles(r);
  req.set_request_id(absl::StrCat("tok-", RandomHex(8)));
  authpb::IssueTokenResponse resp;
  auto stub = Auth();
  grpc::Status st =
      Retry(issuer, [&](grpc::ClientContext* ctx) { return stub->IssueToken(ctx, req, &resp); });
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("IssueToken ", subject, ": ", Describe(st)));
  }
  return std::make_pair(resp.token_id(), resp.token());
}

namespace {

absl::Status SetUpFailed(const std::string& org, absl::string_view what, const grpc::Status& st) {
  return absl::InternalError(absl::StrCat("set up ", org, ": ", what, ": ", Describe(st)));
}

}  // namespace

absl::Status Cluster::SetUpOrgAndProfile(const OrgFixture& f) {
  const std::string& org = f.org;
  {
    rpb::CreateOrgRequest req;
    req.set_org_id(org);
    req.set_request_id(absl::StrCat("fixture-org-", org));
    rpb::Org* o = req.mutable_org();
    o->set_display_name(absl::StrCat("中共某市", org, "局党组"));
    o->set_short_name(absl::StrCat("市", org, "局"));
    o->set_city("某市");
    (*o->mutable_facts())["purged_influence"] = "某某";
    rpb::Org out;
    auto stub = Orgs();
    grpc::Status st = Retry(
        operator_token_, [&](grpc::ClientContext* ctx) { return stub->CreateOrg(ctx, req, &out); });
    if (!st.ok()) return SetUpFailed(org, "CreateOrg", st);
  }
  auto profile = LoadProfileFile(env_.source_dir);
  if (!profile.ok()) return profile.status();
  rpb::LoadProfileRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  *req.mutable_profile() = *profile;
  req.set_request_id(absl::StrCat("fixture-profile-", org));
  rpb::LoadProfileResponse out;
  auto stub = Indicators();
  grpc::Status st = Retry(
      operator_token_, [&](grpc::ClientContext* ctx) { return stub->LoadProfile(ctx, req, &out); });
  if (!st.ok()) return SetUpFailed(org, "LoadProfile", st);
  return absl::OkStatus();
}

absl::Status Cluster::IssueFixtureTokens(const FixtureOptions& options, OrgFixture* f,
                                         std::vector<std::string>* members) {
  const std::string& org = f->org;
  auto admin = IssueToken(operator_token_, org, absl::StrCat(org, "-admin"), {"admin"});
  if (!admin.ok()) return admin.status();
  f->admin_token_id = admin->first;
  f->admin = admin->second;
  auto issue = [&](const std::string& subject, const std::string& role,
                   std::string* out) -> absl::Status {
    auto t = IssueToken(f->admin, org, subject, {role});
    if (!t.ok()) return t.status();
    *out = t->second;
    return absl::OkStatus();
  };
  if (auto st = issue(absl::StrCat(org, "-recorder"), "recorder", &f->recorder); !st.ok()) {
    return st;
  }
  if (auto st = issue(absl::StrCat(org, "-drafter"), "drafter", &f->drafter); !st.ok()) return st;
  if (auto st = issue(absl::StrCat(org, "-auditor"), "auditor", &f->auditor); !st.ok()) return st;
  {
    auto spare = IssueToken(f->admin, org, absl::StrCat(org, "-spare"), {"auditor"});
    if (!spare.ok()) return spare.status();
    f->spare_token_id = spare->first;
  }
  std::vector<std::string> approvers = {absl::StrCat(org, "-director"),
                                        absl::StrCat(org, "-secretary")};
  for (int i = 1; i <= options.role_members; ++i) {
    members->push_back(absl::StrCat(org, "-r", i));
    approvers.push_back(members->back());
  }
  for (const auto& u : approvers) {
    if (auto st = issue(u, "approver", &f->users[u]); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status Cluster::AddFixtureActivity(OrgFixture* f) {
  rpb::CreateActivityRequest req;
  req.set_parent(absl::StrCat("orgs/", f->org));
  req.set_request_id(absl::StrCat("fixture-act-", f->org));
  rpb::ActivityRecord* a = req.mutable_activity();
  a->set_type("heart_to_heart_talk");
  a->set_occurred_on("2023-04-20");
  a->set_title("谈心谈话");
  (*a->mutable_quantities())["participants"] = 12;
  a->set_source_system("fixture");
  a->set_external_id("fixture-1");
  rpb::ActivityRecord out;
  auto stub = Activities();
  grpc::Status st = Retry(
      f->recorder, [&](grpc::ClientContext* ctx) { return stub->CreateActivity(ctx, req, &out); });
  if (!st.ok()) return SetUpFailed(f->org, "CreateActivity", st);
  f->activity_id = out.name().substr(out.name().rfind('/') + 1);
  return absl::OkStatus();
}

absl::Status Cluster::SetUpFixtureApproval(const FixtureOptions& options,
                                           const std::vector<std::string>& members, OrgFixture* f) {
  const std::string& org = f->org;
  const std::string parent = absl::StrCat("orgs/", org);
  auto stub = Approvals();
  apb::SetRoleMembersRequest role;
  role.set_name(absl::StrCat(parent, "/roles/", f->role));
  for (const auto& m : members) role.add_members(m);
  role.set_request_id(absl::StrCat("fixture-role-", org));
  apb::Role role_out;
  grpc::Status st = Retry(f->admin, [&](grpc::ClientContext* ctx) {
    return stub->SetRoleMembers(ctx, role, &role_out);
  });
  if (!st.ok()) return SetUpFailed(org, "SetRoleMembers", st);
  apb::CreateWorkflowRequest wr;
  wr.set_parent(parent);
  wr.set_workflow_id(f->workflow_id);
  wr.set_request_id(absl::StrCat("fixture-wf-", org));
  apb::Workflow* wf = wr.mutable_workflow();
  wf->set_display_name("年度报告审批");
  apb::Step* office = wf->add_steps();
  office->set_name("office");
  office->set_kind(apb::STEP_KIND_REVIEW);
  office->add_users(absl::StrCat(org, "-director"));
  apb::Step* sign = wf->add_steps();
  sign->set_name("sign");
  sign->set_kind(apb::STEP_KIND_SIGN_OFF);
  sign->add_users(absl::StrCat(org, "-secretary"));
  apb::Workflow wf_out;
  st = Retry(f->admin,
             [&](grpc::ClientContext* ctx) { return stub->CreateWorkflow(ctx, wr, &wf_out); });
  if (!st.ok()) return SetUpFailed(org, "CreateWorkflow", st);
  if (!options.approval) return absl::OkStatus();
  apb::StartApprovalRequest sr;
  sr.set_parent(parent);
  sr.set_workflow(wf_out.name());
  sr.set_subject(absl::StrCat(parent, "/reports/fixture/revisions/1"));
  sr.set_title("fixture");
  sr.set_request_id(absl::StrCat("fixture-apr-", org));
  apb::Approval a;
  st =
      Retry(f->drafter, [&](grpc::ClientContext* ctx) { return stub->StartApproval(ctx, sr, &a); });
  if (!st.ok()) return SetUpFailed(org, "StartApproval", st);
  f->approval_id = a.name().substr(a.name().rfind('/') + 1);
  return absl::OkStatus();
}

absl::Status Cluster::AddFixtureReport(OrgFixture* f) {
  const std::string& org = f->org;
  const std::string parent = absl::StrCat("orgs/", org);
  auto stub = Reports();
  asmpb::CreateReportRequest req;
  req.set_parent(parent);
  req.set_report_id("fixture");
  req.set_period("2023");
  req.set_template_(absl::StrCat(parent, "/templates/", f->template_id));
  req.set_workflow(absl::StrCat(parent, "/workflows/", f->workflow_id));
  req.set_request_id(absl::StrCat("fixture-rep-", org));
  asmpb::Report r;
  grpc::Status st =
      Retry(f->drafter, [&](grpc::ClientContext* ctx) { return stub->CreateReport(ctx, req, &r); });
  if (!st.ok()) return SetUpFailed(org, "CreateReport", st);
  f->report_id = "fixture";
  absl::Time until = absl::Now() + absl::Seconds(30);
  while (true) {
    asmpb::GetReportRequest get;
    get.set_name(r.name());
    get.set_skip_staleness(true);
    st = Retry(f->drafter, [&](grpc::ClientContext* ctx) { return stub->GetReport(ctx, get, &r); });
    if (st.ok() && r.current_revision() > 0 && !r.assembling()) break;
    if (absl::Now() > until) {
      return absl::DeadlineExceededError(
          absl::StrCat("set up ", org, ": fixture report never assembled: ", r.ShortDebugString()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  f->revision = r.current_revision();
  return absl::OkStatus();
}

absl::StatusOr<OrgFixture> Cluster::SetUpOrg(const std::string& org,
                                             const FixtureOptions& options) {
  OrgFixture f;
  f.org = org;
  const std::string parent = absl::StrCat("orgs/", org);
  if (auto st = SetUpOrgAndProfile(f); !st.ok()) return st;
  std::vector<std::string> members;
  if (auto st = IssueFixtureTokens(options, &f, &members); !st.ok()) return st;
  if (auto st = AddFixtureActivity(&f); !st.ok()) return st;
  if (templates_ && options.template_and_workflow) {
    tpb::CreateTemplateRequest req;
    req.set_parent(parent);
    req.set_template_id(f.template_id);
    req.set_text(options.template_text.empty() ? kTemplateText : options.template_text);
    req.set_request_id(absl::StrCat("fixture-tpl-", org));
    tpb::Template out;
    auto stub = Templates();
    grpc::Status st = Retry(
        f.admin, [&](grpc::ClientContext* ctx) { return stub->CreateTemplate(ctx, req, &out); });
    if (!st.ok()) return SetUpFailed(org, "CreateTemplate", st);
  }
  if (approval_ && options.template_and_workflow) {
    if (auto st = SetUpFixtureApproval(options, members, &f); !st.ok()) return st;
  }
  if (approval_ && !assemblers().empty() && options.template_and_workflow) {
    // The org admin binds the fixture template to its workflow; reports of
    // an unbound template are refused.
    auto stub = Reports();
    asmpb::SetTemplateWorkflowsRequest bind;
    bind.set_parent(parent);
    bind.set_template_(absl::StrCat(parent, "/templates/", f.template_id));
    bind.add_workflows(absl::StrCat(parent, "/workflows/", f.workflow_id));
    asmpb::TemplateWorkflows bound;
    grpc::Status st = Retry(f.admin, [&](grpc::ClientContext* ctx) {
      return stub->SetTemplateWorkflows(ctx, bind, &bound);
    });
    if (!st.ok()) return SetUpFailed(org, "SetTemplateWorkflows", st);
  }
  if (options.report && !assemblers().empty() && options.template_and_workflow) {
    if (auto st = AddFixtureReport(&f); !st.ok()) return st;
  }
  return f;
}

grpc::health::v1::HealthCheckResponse::ServingStatus Cluster::Health(const Process& p,
                                                                     absl::Duration deadline) {
  auto stub = grpc::health::v1::Health::NewStub(Channel(p));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = stub->Check(&ctx, req, &resp);
  if (!st.ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return resp.status();
}

bool Cluster::WaitHealth(const Process& p, bool serving, absl::Duration timeout) {
  using HS = grpc::health::v1::HealthCheckResponse;
  absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    HS::ServingStatus s = Health(p, absl::Milliseconds(500));
    if (serving ? s == HS::SERVING : s == HS::NOT_SERVING) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

absl::StatusOr<int64_t> Cluster::RedisDirty() {
  auto reply = redis_->Command({"INFO", "persistence"});
  if (!reply.ok()) return reply.status();
  for (absl::string_view line : absl::StrSplit(reply->Str(), "\r\n")) {
    if (absl::ConsumePrefix(&line, "rdb_changes_since_last_save:")) {
      int64_t v = 0;
      if (absl::SimpleAtoi(line, &v)) return v;
    }
  }
  return absl::InternalError("INFO persistence has no rdb_changes_since_last_save");
}

void Cluster::WaitForQuietRedis() {
  auto last = RedisDirty();
  absl::Time until = absl::Now() + absl::Seconds(20);
  int quiet = 0;
  while (absl::Now() < until && quiet < 3) {
    absl::SleepFor(absl::Milliseconds(100));
    auto now = RedisDirty();
    quiet = (now.ok() && last.ok() && *now == *last) ? quiet + 1 : 0;
    last = now;
  }
}

int Cluster::Crashes() {
  int n = 0;
  for (Process* p : services()) {
    p->Alive();
    n += p->crashes();
  }
  return n;
}

// ---------------------------------------------------------------- calls

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, absl::Duration deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  auth::AttachToken(*ctx, token);
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  return ctx;
}

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

grpc::Status Retry(const std::string& token,
                   const std::function<grpc::Status(grpc::ClientContext*)>& call,
                   absl::Duration budget, absl::Duration per_call, int* attempts) {
  absl::Time until = absl::Now() + budget;
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    auto ctx = Ctx(token, per_call);
    grpc::Status st = call(ctx.get());
    if (attempts) ++*attempts;
    if (st.ok() || !Transient(st.error_code())) return st;
    if (absl::Now() + backoff > until) return st;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(500));
  }
}

grpc::Status CallReports(
    Cluster& cluster, const std::string& token,
    const std::function<grpc::Status(asmpb::ReportService::Stub&, grpc::ClientContext*)>& call,
    absl::Duration budget, absl::Duration per_call) {
  absl::Time until = absl::Now() + budget;
  static std::atomic<uint64_t> next{0};
  absl::Duration backoff = absl::Milliseconds(50);
  grpc::Status st(grpc::StatusCode::UNAVAILABLE, "no live assembler replica");
  while (true) {
    std::vector<Process*> live;
    for (Process* p : cluster.assemblers()) {
      if (p->pid() > 0) live.push_back(p);
    }
    if (!live.empty()) {
      Process* p = live[next.fetch_add(1) % live.size()];
      auto stub = asmpb::ReportService::NewStub(cluster.Channel(*p));
      auto ctx = Ctx(token, per_call);
      st = call(*stub, ctx.get());
      if (st.ok() || !Transient(st.error_code())) return st;
    }
    if (absl::Now() + backoff > until) return st;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(400));
  }
}

std::string Describe(const grpc::Status& status) {
  std::string msg = status.error_message();
  if (msg.size() > 200) msg = absl::StrCat(msg.substr(0, 200), "…");
  return absl::StrCat(GrpcCodeName(status.error_code()), " ", msg);
}

double Percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  auto i = static_cast<size_t>(p * static_cast<double>(samples.size()));
  return samples[std::min(i, samples.size() - 1)];
}

absl::StatusOr<rpb::Profile> LoadProfileFile(const std::string& source_dir) {
  std::string path = source_dir + "/deploy/profiles/strict-governance/profile.json";
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  rpb::Profile profile;
  if (!govreport::ParseHumanWritten(ss.str(), govreport::FileSyntax::kJson, &profile).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " does not parse"));
  }
  return profile;
}

}  // namespace govreport::fault
