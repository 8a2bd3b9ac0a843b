// The whole suite in one process for the assembler's integration tests and
// its benchmark: a real redis-server, the real records (with the event feed), templates and
// approval services on their own ports, and any number of assembler
// replicas (each with its own Redis connections, gRPC server and worker
// pool). Orgs are set up the way an operator would: profile, template,
// workflow and tokens.
#ifndef GOVREPORT_TESTS_ASSEMBLER_ASSEMBLER_STACK_H_
#define GOVREPORT_TESTS_ASSEMBLER_ASSEMBLER_STACK_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "approval/approvals.h"
#include "approval/grpc_service.h"
#include "approval/store.h"
#include "assembler/grpc_service.h"
#include "assembler/reports.h"
#include "assembler/store.h"
#include "assembler/upstream.h"
#include "assembler/workers.h"
#include "common/auth.h"
#include "common/server.h"
#include "events/core.h"
#include "events/grpc_service.h"
#include "govreport/approval/v1/approval.grpc.pb.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "govreport/records/v1/records.grpc.pb.h"
#include "govreport/templates/v1/templates.grpc.pb.h"
#include "records/core.h"
#include "records/grpc_service.h"
#include "templates/service/core.h"
#include "templates/service/grpc_service.h"
#include "templates/service/records_figures.h"
#include "templates/service/store.h"
#include "test_redis.h"

namespace govreport::assembler::testing {

inline constexpr char kOperator[] = "op-secret";

// A report template small enough to read in a test: three figures with
// data, one (warning_film_screenings) that tests leave empty, both
// narrative slots and the issue date.
extern const char kTemplateText[];

struct StackOptions {
  int replicas = 1;
  // Worker threads per replica; 0 starts no pool (tests drive handlers).
  int workers = 2;
  int event_workers = 1;
  // CreateReport's own assemblies per replica (CoreOptions); -1: as many
  // as `workers`, so a stack without workers queues every job.
  int inline_assemblies = -1;
  absl::Duration claim_idle = absl::Milliseconds(400);
  int max_deliveries = 3;
  absl::Duration block = absl::Milliseconds(100);
  // redis-server with appendonly (fsync always), as deployed.
  bool aof = false;
  // Token the workers use; empty: a valid service token.
  std::string worker_token;
  // The signing master key (32 bytes) of every replica; empty: none.
  std::string signing_master_key = std::string(32, '\x5a');
  // --signing-ca-file's certificates; empty: any issuer.
  std::string signing_ca_pem;
  // WatchReport limits of each replica.
  int max_watches_per_principal = 4;
  int max_watches = 256;
  int max_watches_per_org = 32;
};

struct OrgTokens {
  std::string admin;
  std::string drafter;
  std::string recorder;
  std::string director;
  std::string secretary;
  std::string auditor;
};

class Stack {
 public:
  static absl::StatusOr<std::unique_ptr<Stack>> Start(const StackOptions& options = {});
  ~Stack();

  // Creates the org with the strict-governance profile, the template
  // orgs/{org}/templates/annual, the workflow orgs/{org}/workflows/annual
  // (office: {org}-director, sign: {org}-secretary), binds the template to
  // that workflow (as the org admin) and issues tokens.
  absl::StatusOr<OrgTokens> SetUpOrg(const std::string& org);
  // As the org admin: reports of `tmpl` may use `workflows`.
  absl::Status BindWorkflows(const std::string& org, const std::string& admin_token,
                             const std::string& tmpl, const std::vector<std::string>& workflows);
  absl::Status AddActivity(const std::string& org, const std::string& type, const std::string& date,
                           const std::map<std::string, int64_t>& quantities = {});
  // Two governance meetings, one talk with 12 participants and one theme
  // party day, all in 2023.
  absl::Status AddBaseYear(const std::string& org);
  // The deterministic sample year of the profile (records/sample.h), a few
  // hundred records, in batches.
  absl::Status AddSampleYear(const std::string& org);
  // A shared (city-wide) template, created by the operator.
  absl::Status CreateSharedTemplate(const std::string& id, const std::string& text);
  // An org's template, created by the operator.
  absl::Status CreateOrgTemplate(const std::string& org, const std::string& id,
                                 const std::string& text);
  // The next revision of `name` (orgs/{org}/templates/{id} or
  // templates/{id}), by the operator.
  absl::Status UpdateTemplate(const std::string& name, const std::string& text);

  // The secretary of SetUpOrg signs off as 张秘书 (the token's display name).
  std::string Issue(const std::string& subject, const std::string& org,
                    std::vector<std::string> roles, const std::string& kind = "user",
                    const std::string& display_name = "");
  const std::string& service_token() const { return service_token_; }
  // Every StartApprovalRequest the assembler replicas sent, in order.
  std::vector<approval::v1::StartApprovalRequest> started_approvals();

  // Stubs (replica 0 for reports).
  v1::ReportService::Stub& reports(int replica = 0) { return *replicas_[replica]->stub; }
  approval::v1::ApprovalService::Stub& approvals() { return *approval_stub_; }
  records::v1::ActivityService::Stub& activities() { return *activity_stub_; }

  // A context with the token and a 20 s deadline.
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token);

  // Polls GetReport (no staleness check) until `done` or the timeout.
  absl::StatusOr<v1::Report> WaitFor(const std::string& token, const std::string& name,
                                     const std::function<bool(const v1::Report&)>& done,
                                     absl::Duration timeout = absl::Seconds(20), int replica = 0);

  redis::Client& redis() { return *redis_; }
  Workers& workers(int replica = 0) { return *replicas_[replica]->workers; }
  ReportGrpc& report_grpc(int replica = 0) { return *replicas_[replica]->grpc; }
  Store& store(int replica = 0) { return *replicas_[replica]->store; }
  Upstream& upstream(int replica = 0) { return *replicas_[replica]->upstream; }
  void StopWorkers();
  int replica_count() const { return static_cast<int>(replicas_.size()); }
  int records_port() const { return records_server_->port(); }
  int templates_port() const { return templates_server_->port(); }
  int approval_port() const { return approval_server_->port(); }
  int assembler_port(int replica = 0) const { return replicas_[replica]->server->port(); }

 private:
  struct Replica {
    std::unique_ptr<redis::Client> redis;
    std::unique_ptr<auth::Authenticator> auth;
    std::unique_ptr<Store> store;
    std::unique_ptr<Upstream> upstream;
    std::unique_ptr<ReportCore> core;
    std::unique_ptr<ReportGrpc> grpc;
    std::unique_ptr<RunningServer> server;
    std::unique_ptr<Workers> workers;
    std::unique_ptr<WorkerPool> pool;
    std::unique_ptr<v1::ReportService::Stub> stub;
  };

  Stack() = default;
  absl::Status StartServices(const StackOptions& options);
  // The steps of StartServices, in its order.
  absl::Status StartRecords();
  absl::Status StartTemplates();
  absl::Status StartApproval();
  // Assembler replica `i`: its own Redis client, server and worker pool.
  absl::Status StartReplica(const StackOptions& options, const redis::Options& ro, int i,
                            const std::string& worker_token);

  // Its own redis-server, or the shared cluster (test_redis.h).
  std::unique_ptr<govreport::testing::TestRedis> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<auth::Authenticator> auth_;
  // records
  std::unique_ptr<records::RecordsCore> records_;
  std::unique_ptr<records::OrgGrpc> orgs_;
  std::unique_ptr<records::IndicatorGrpc> indicators_;
  std::unique_ptr<records::ActivityGrpc> activities_;
  std::unique_ptr<records::AuthGrpc> auth_grpc_;
  std::unique_ptr<events::EventsCore> event_feed_;
  std::unique_ptr<events::EventsGrpc> events_grpc_;
  std::unique_ptr<RunningServer> records_server_;
  // templates
  std::unique_ptr<templates::RecordsFigures> figures_;
  std::unique_ptr<templates::Store> templates_store_;
  std::unique_ptr<templates::TemplatesCore> templates_;
  std::unique_ptr<templates::TemplatesGrpc> templates_grpc_;
  std::unique_ptr<RunningServer> templates_server_;
  // approval
  std::unique_ptr<approval::Store> approval_store_;
  std::unique_ptr<approval::ApprovalCore> approval_core_;
  std::unique_ptr<approval::ApprovalGrpcService> approval_grpc_;
  std::unique_ptr<RunningServer> approval_server_;

  std::vector<std::unique_ptr<Replica>> replicas_;
  std::string service_token_;
  std::shared_ptr<grpc::Channel> records_channel_, templates_channel_, approval_channel_;
  // The assembler's own channel to approval, with the StartApproval tap.
  std::shared_ptr<grpc::Channel> assembler_approval_channel_;
  std::vector<approval::v1::StartApprovalRequest> started_approvals_;  // Guarded by mu_.
  std::unique_ptr<records::v1::OrgService::Stub> org_stub_;
  std::unique_ptr<records::v1::IndicatorService::Stub> indicator_stub_;
  std::unique_ptr<records::v1::ActivityService::Stub> activity_stub_;
  std::unique_ptr<templates::v1::TemplateService::Stub> template_stub_;
  std::unique_ptr<approval::v1::ApprovalService::Stub> approval_stub_;
  records::v1::Profile profile_;
  std::mutex mu_;
  std::map<std::string, std::string> recorder_tokens_;
};

}  // namespace govreport::assembler::testing

#endif  // GOVREPORT_TESTS_ASSEMBLER_ASSEMBLER_STACK_H_
