// Shared setup of the approval integration tests: a real redis-server (or,
// built with GOVREPORT_TEST_ON_CLUSTER, the six-node cluster), the
// store and logic over it with a clock the test moves, the principals of
// one org and the chain 拟稿 -> 办公室主任审核 -> 分管领导审核 (会签) -> 签发.
#ifndef GOVREPORT_TESTS_APPROVAL_APPROVAL_TEST_ENV_H_
#define GOVREPORT_TESTS_APPROVAL_APPROVAL_TEST_ENV_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approval/approvals.h"
#include "approval/store.h"
#include "common/auth.h"
#include "common/events.h"
#include "common/redis.h"
#include "common/streams.h"
#include "gtest/gtest.h"
#include "test_redis.h"

namespace govreport::approval::testenv {

inline constexpr int64_t kT0 = 1700000000;
inline constexpr char kOrg[] = "acme";
inline constexpr char kParent[] = "orgs/acme";
inline constexpr char kWorkflow[] = "orgs/acme/workflows/annual";
// Keys the history chain in tests; servers derive theirs from the secret.
inline constexpr char kAuditKey[] = "test-audit-key-0123456789abcdef0123456789";

inline auth::Principal User(std::string subject, std::vector<std::string> roles,
                            std::string org = kOrg) {
  auth::Principal p;
  p.subject = std::move(subject);
  p.org = std::move(org);
  p.roles = std::move(roles);
  return p;
}
inline auth::Principal Admin() { return User("boss", {"admin"}); }
inline auth::Principal Drafter() { return User("drafter", {"drafter"}); }
inline auth::Principal Approver(std::string s) { return User(std::move(s), {"approver"}); }
inline auth::Principal Auditor() { return User("audit", {"auditor"}); }

inline StepDef MakeStep(std::string name, StepKind kind, StepMode mode,
                        std::vector<std::string> users, std::vector<std::string> roles,
                        int64_t due = 0, int64_t escalate = 0) {
  StepDef st;
  st.name = std::move(name);
  st.display_name = st.name;
  st.kind = kind;
  st.mode = mode;
  st.users = std::move(users);
  st.roles = std::move(roles);
  st.due_seconds = due;
  st.escalate_seconds = escalate;
  return st;
}

inline WorkflowDef ChainDef() {
  WorkflowDef wf;
  wf.display_name = "年度报告审批";
  wf.steps = {
      MakeStep("office", StepKind::kReview, StepMode::kAny, {"director"}, {}, 3600, 7200),
      MakeStep("leaders", StepKind::kReview, StepMode::kAll, {}, {"leaders"}, 86400),
      MakeStep("sign", StepKind::kSignOff, StepMode::kAny, {"secretary"}, {}),
  };
  return wf;
}

using Event = std::map<std::string, std::string>;

// One Redis and one ApprovalCore (more replicas can be made with Replica()).
class Env {
 public:
  static std::unique_ptr<Env> Create() {
    auto server = std::make_unique<testing::TestRedis>();
    EXPECT_TRUE(server->ok());
    if (!server->ok()) return nullptr;
    std::unique_ptr<Env> env(new Env());
    env->server_ = std::move(server);
    env->redis_ = std::make_unique<redis::Client>(env->server_->options());
    env->store_ = std::make_unique<Store>(env->redis_.get());
    env->core_ = std::make_unique<ApprovalCore>(env->store_.get(), env->Options());
    return env;
  }

  CoreOptions Options() {
    CoreOptions o;
    o.clock = [this] { return absl::FromUnixSeconds(now_.load()); };
    o.audit_key = kAuditKey;
    o.delegates = {"platform"};
    return o;
  }

  // Another replica: its own connections, store and core, same Redis.
  struct Replica {
    std::unique_ptr<redis::Client> redis;
    std::unique_ptr<Store> store;
    std::unique_ptr<ApprovalCore> core;
  };
  Replica NewReplica() {
    Replica r;
    r.redis = std::make_unique<redis::Client>(server_->options());
    r.store = std::make_unique<Store>(r.redis.get());
    r.core = std::make_unique<ApprovalCore>(r.store.get(), Options());
    return r;
  }

  ApprovalCore& core() { return *core_; }
  Store& store() { return *store_; }
  redis::Client& redis() { return *redis_; }
  void Advance(int64_t seconds) { now_.fetch_add(seconds); }
  int64_t now() const { return now_.load(); }

  // The roles and the workflow every test starts from.
  void SetUpChain() {
    auto role = core_->SetRoleMembers(Admin(), "orgs/acme/roles/leaders", {"lead2", "lead1"}, "");
    ASSERT_TRUE(role.ok()) << role.status();
    // Colleagues a task may be transferred to or a signer added from.
    role = core_->SetRoleMembers(Admin(), "orgs/acme/roles/staff", {"deputy", "legal"}, "");
    ASSERT_TRUE(role.ok()) << role.status();
    auto wf = core_->CreateWorkflow(Admin(), kParent, "annual", ChainDef(), "");
    ASSERT_TRUE(wf.ok()) << wf.status();
  }

  absl::StatusOr<ApprovalState> StartOn(std::string subject, std::string request_id = "") {
    StartRequest req;
    req.parent = kParent;
    req.workflow = kWorkflow;
    req.subject = std::move(subject);
    req.title = "2023年度落实全面从严治党责任工作报告";
    req.request_id = std::move(request_id);
    return core_->StartApproval(Drafter(), req);
  }

  absl::StatusOr<ApprovalState> Do(const auth::Principal& who, ActionType type,
                                   const ApprovalState& s, std::string comment = "",
                                   std::string target = "", std::string return_to = "",
                                   std::string request_id = "") {
    ActionRequest req;
    req.name = ApprovalResourceName(s.org, s.id);
    req.expected_version = s.version;
    req.comment = std::move(comment);
    req.target_user = std::move(target);
    req.return_to_step = std::move(return_to);
    req.request_id = std::move(request_id);
    return core_->Act(who, type, req);
  }

  // The transition events of every org (gr:{org}:ev:approval), org by
  // org, each org's oldest first.
  std::vector<Event> Events() {
    std::vector<Event> out;
    auto names = streams::IndexedStreams(*redis_, kEventStream);
    EXPECT_TRUE(names.ok()) << names.status();
    if (!names.ok()) return out;
    for (const std::string& stream : *names) {
      auto r = redis_->Command({"XRANGE", stream, "-", "+"});
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return out;
      for (size_t i = 0; i < r->Size(); ++i) {
        Event e;
        redis::ReplyView kv = (*r)[i][1];
        for (size_t j = 0; j + 1 < kv.Size(); j += 2) {
          e[kv[j].AsString()] = kv[j + 1].AsString();
        }
        out.push_back(std::move(e));
      }
    }
    return out;
  }

  // The org's event log (gr:{org}:events), each entry's `e` parsed, its
  // cursor the entry id and its kind checked against the `k` field.
  std::vector<events::v1::Event> OrgEvents(const std::string& org = kOrg) {
    std::vector<events::v1::Event> out;
    auto r = redis_->Command({"XRANGE", events::StreamKey(org), "-", "+"});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    for (size_t i = 0; i < r->Size(); ++i) {
      std::map<std::string, std::string> f;
      redis::ReplyView kv = (*r)[i][1];
      for (size_t j = 0; j + 1 < kv.Size(); j += 2) f[kv[j].AsString()] = kv[j + 1].AsString();
      events::v1::Event e;
      EXPECT_TRUE(e.ParseFromString(f[std::string(events::kEventField)]));
      EXPECT_EQ(f[std::string(events::kKindField)], absl::StrCat(static_cast<int>(e.kind())));
      e.set_cursor((*r)[i][0].AsString());
      out.push_back(std::move(e));
    }
    return out;
  }

  int64_t Count(const redis::Args& cmd) {
    auto r = redis_->Command(cmd);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->Int() : -1;
  }

 private:
  Env() = default;
  std::unique_ptr<testing::TestRedis> server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<Store> store_;
  std::atomic<int64_t> now_{kT0};
  std::unique_ptr<ApprovalCore> core_;
};

}  // namespace govreport::approval::testenv

#endif  // GOVREPORT_TESTS_APPROVAL_APPROVAL_TEST_ENV_H_
