#include "tests/assembler/assembler_stack.h"

#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "common/status.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"

namespace govreport::assembler::testing {

const char kTemplateText[] =
    "{{org.short_name}}党组{{period.year}}年度落实全面从严治党责任工作报告\n"
    "\n"
    "一、主要工作成效\n"
    "党组专题研究部署党建和党风廉政建设工作{{ind.party_group_governance_meetings}}次，"
    "开展谈心谈话{{ind.heart_to_heart_talks}}人次，开展主题党日活动{{ind.theme_party_days}}次，"
    "组织观看警示教育片{{ind.warning_film_screenings}}次。\n"
    "二、存在的问题\n"
    "{{narrative.problems}}\n"
    "三、下一步工作打算\n"
    "{{narrative.next_steps}}\n"
    "\n"
    "{{org.name}}\n"
    "{{issue.date}}\n";

namespace {

std::unique_ptr<grpc::ClientContext> MakeCtx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  auth::AttachToken(*ctx, token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

absl::Status Check(const grpc::Status& st, absl::string_view what) {
  if (st.ok()) return absl::OkStatus();
  absl::Status s = FromGrpcStatus(st);
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

absl::StatusOr<std::unique_ptr<RunningServer>> Serve(std::vector<grpc::Service*> services) {
  ServerOptions o;
  o.services = std::move(services);
  return RunningServer::Start(std::move(o));
}

std::shared_ptr<grpc::Channel> Dial(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

// Keeps a copy of every StartApprovalRequest the assembler sends, so tests
// can check what it asks of the approval service.
class StartApprovalTap : public grpc::experimental::Interceptor {
 public:
  StartApprovalTap(grpc::experimental::ClientRpcInfo* info,
                   std::function<void(const approval::v1::StartApprovalRequest&)> sink)
      : start_(absl::string_view(info->method()) ==
               "/govreport.approval.v1.ApprovalService/StartApproval"),
        sink_(std::move(sink)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (start_ && methods->QueryInterceptionHookPoint(
                      grpc::experimental::InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const void* m = methods->GetSendMessage();
      if (m != nullptr) sink_(*static_cast<const approval::v1::StartApprovalRequest*>(m));
    }
    methods->Proceed();
  }

 private:
  bool start_;
  std::function<void(const approval::v1::StartApprovalRequest&)> sink_;
};

class StartApprovalTapFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit StartApprovalTapFactory(
      std::function<void(const approval::v1::StartApprovalRequest&)> sink)
      : sink_(std::move(sink)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new StartApprovalTap(info, sink_);
  }

 private:
  std::function<void(const approval::v1::StartApprovalRequest&)> sink_;
};

}  // namespace

std::vector<approval::v1::StartApprovalRequest> Stack::started_approvals() {
  std::lock_guard<std::mutex> lock(mu_);
  return started_approvals_;
}

std::unique_ptr<grpc::ClientContext> Stack::Ctx(const std::string& token) { return MakeCtx(token); }

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(const StackOptions& options) {
  std::unique_ptr<Stack> s(new Stack());
  GR_RETURN_IF_ERROR(s->StartServices(options));
  return s;
}

Stack::~Stack() {
  StopWorkers();
  for (auto& r : replicas_) {
    if (r->grpc) r->grpc->StopWatches();
    if (r->server) r->server->Shutdown(absl::ZeroDuration());
  }
  if (event_feed_) event_feed_->Stop();
  for (auto* server : {approval_server_.get(), templates_server_.get(), records_server_.get()}) {
    if (server) server->Shutdown(absl::ZeroDuration());
  }
}

void Stack::StopWorkers() {
  for (auto& r : replicas_) {
    if (r->pool) r->pool->Stop();
  }
}

absl::Status Stack::StartServices(const StackOptions& options) {
#ifdef GOVREPORT_TEST_ON_CLUSTER
  (void)options.aof;  // The cluster's nodes keep their own settings.
  redis_server_ = std::make_unique<govreport::testing::TestRedis>();
#else
  redis_server_ = std::make_unique<govreport::testing::TestRedis>(options.aof);
#endif
  if (!redis_server_->ok()) return absl::UnavailableError("no test Redis");
  redis::Options ro = redis_server_->options();
  ro.pool_size = 64;
  redis_ = std::make_unique<redis::Client>(ro);
  auth_ = std::make_unique<auth::Authenticator>(redis_.get(), kOperator);

  GR_ASSIGN_OR_RETURN(profile_, govreport::testing::ReadShippedProfile());

  GR_RETURN_IF_ERROR(StartRecords());
  GR_RETURN_IF_ERROR(StartTemplates());
  GR_RETURN_IF_ERROR(StartApproval());

  org_stub_ = records::v1::OrgService::NewStub(records_channel_);
  indicator_stub_ = records::v1::IndicatorService::NewStub(records_channel_);
  activity_stub_ = records::v1::ActivityService::NewStub(records_channel_);
  template_stub_ = templates::v1::TemplateService::NewStub(templates_channel_);
  approval_stub_ = approval::v1::ApprovalService::NewStub(approval_channel_);

  service_token_ = Issue("assembler", std::string(auth::kAnyOrg), {"service"}, "service");
  std::string worker_token = options.worker_token.empty() ? service_token_ : options.worker_token;

  for (int i = 0; i < options.replicas; ++i) {
    GR_RETURN_IF_ERROR(StartReplica(options, ro, i, worker_token));
  }
  return absl::OkStatus();
}

absl::Status Stack::StartRecords() {
  records_ = std::make_unique<records::RecordsCore>(redis_.get());
  orgs_ = std::make_unique<records::OrgGrpc>(records_.get(), auth_.get());
  indicators_ = std::make_unique<records::IndicatorGrpc>(records_.get(), auth_.get());
  activities_ = std::make_unique<records::ActivityGrpc>(records_.get(), auth_.get());
  auth_grpc_ = std::make_unique<records::AuthGrpc>(auth_.get());
  // The event feed, served by the records binary too.
  event_feed_ = std::make_unique<events::EventsCore>(redis_.get());
  events_grpc_ = std::make_unique<events::EventsGrpc>(event_feed_.get(), auth_.get());
  GR_ASSIGN_OR_RETURN(records_server_, Serve({orgs_.get(), indicators_.get(), activities_.get(),
                                              auth_grpc_.get(), events_grpc_.get()}));
  records_channel_ = Dial(records_server_->port());
  return absl::OkStatus();
}

absl::Status Stack::StartTemplates() {
  figures_ = std::make_unique<templates::RecordsFigures>(records_channel_, absl::Seconds(10));
  templates_store_ = std::make_unique<templates::Store>(redis_.get());
  templates_ = std::make_unique<templates::TemplatesCore>(templates_store_.get(), figures_.get());
  templates_grpc_ = std::make_unique<templates::TemplatesGrpc>(templates_.get(), auth_.get());
  GR_ASSIGN_OR_RETURN(templates_server_, Serve({templates_grpc_.get()}));
  templates_channel_ = Dial(templates_server_->port());
  return absl::OkStatus();
}

absl::Status Stack::StartApproval() {
  approval_store_ = std::make_unique<approval::Store>(redis_.get());
  approval_core_ = std::make_unique<approval::ApprovalCore>(approval_store_.get());
  approval_grpc_ =
      std::make_unique<approval::ApprovalGrpcService>(approval_core_.get(), auth_.get());
  GR_ASSIGN_OR_RETURN(approval_server_, Serve({approval_grpc_.get()}));
  approval_channel_ = Dial(approval_server_->port());
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> taps;
  taps.push_back(std::make_unique<StartApprovalTapFactory>(
      [this](const approval::v1::StartApprovalRequest& r) {
        std::lock_guard<std::mutex> lock(mu_);
        started_approvals_.push_back(r);
      }));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  assembler_approval_channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(
      absl::StrCat("127.0.0.1:", approval_server_->port()), grpc::InsecureChannelCredentials(),
      args, std::move(taps));
  return absl::OkStatus();
}

absl::Status Stack::StartReplica(const StackOptions& options, const redis::Options& ro, int i,
                                 const std::string& worker_token) {
  auto r = std::make_unique<Replica>();
  r->redis = std::make_unique<redis::Client>(ro);
  r->auth = std::make_unique<auth::Authenticator>(r->redis.get(), kOperator);
  StoreOptions so;
  so.signing_master_key = options.signing_master_key;
  so.signing_ca_pem = options.signing_ca_pem;
  r->store = std::make_unique<Store>(r->redis.get(), so);
  Peers peers;
  peers.records = records_channel_;
  peers.templates = templates_channel_;
  peers.approval = assembler_approval_channel_;
  r->upstream = std::make_unique<Upstream>(peers);
  CoreOptions co;
  co.inline_assemblies = InlineAssemblies(options.inline_assemblies, options.workers);
  co.service = CallAs::Token(worker_token);
  r->core = std::make_unique<ReportCore>(r->store.get(), r->upstream.get(), co);
  GrpcOptions go;
  go.watch_poll = absl::Milliseconds(20);
  go.max_watches_per_principal = options.max_watches_per_principal;
  go.max_watches = options.max_watches;
  go.max_watches_per_org = options.max_watches_per_org;
  r->grpc = std::make_unique<ReportGrpc>(r->core.get(), r->auth.get(), go);
  GR_ASSIGN_OR_RETURN(r->server, Serve({r->grpc.get()}));
  r->stub = v1::ReportService::NewStub(Dial(r->server->port()));
  r->workers =
      std::make_unique<Workers>(r->store.get(), r->upstream.get(), CallAs::Token(worker_token));
  WorkerOptions wo;
  wo.assemble_workers = options.workers;
  wo.event_workers = options.workers > 0 ? options.event_workers : 0;
  wo.consumer_prefix = absl::StrCat("test-replica", i);
  wo.outdated_check_interval = absl::ZeroDuration();  // Tests check by hand.
  wo.claim_idle = options.claim_idle;
  wo.max_deliveries = options.max_deliveries;
  wo.block = options.block;
  wo.first_backoff = absl::Milliseconds(20);
  r->pool = std::make_unique<WorkerPool>(r->redis.get(), r->workers.get(), wo);
  if (options.workers > 0) GR_RETURN_IF_ERROR(r->pool->Start());
  replicas_.push_back(std::move(r));
  return absl::OkStatus();
}

std::string Stack::Issue(const std::string& subject, const std::string& org,
                         std::vector<std::string> roles, const std::string& kind,
                         const std::string& display_name) {
  auth::Principal p;
  p.subject = subject;
  p.display_name = display_name;
  p.org = org;
  p.roles = std::move(roles);
  p.kind = kind;
  auto t = auth_->tokens().Issue(p, absl::ZeroDuration());
  return t.ok() ? t->secret : "";
}

absl::StatusOr<OrgTokens> Stack::SetUpOrg(const std::string& org) {
  records::v1::CreateOrgRequest create;
  create.set_org_id(org);
  records::v1::Org* o = create.mutable_org();
  o->set_display_name(absl::StrCat("中共某市", org, "局党组"));
  o->set_short_name(absl::StrCat("市", org, "局"));
  o->set_city("某市");
  (*o->mutable_facts())["purged_influence"] = "某某";
  (*o->mutable_facts())["case_lessons"] = "某案";
  (*o->mutable_facts())["municipal_inspection_target"] = "市委巡察";
  records::v1::Org created;
  GR_RETURN_IF_ERROR(
      Check(org_stub_->CreateOrg(MakeCtx(kOperator).get(), create, &created), "CreateOrg"));

  records::v1::LoadProfileRequest load;
  load.set_parent(absl::StrCat("orgs/", org));
  *load.mutable_profile() = profile_;
  records::v1::LoadProfileResponse loaded;
  GR_RETURN_IF_ERROR(
      Check(indicator_stub_->LoadProfile(MakeCtx(kOperator).get(), load, &loaded), "LoadProfile"));

  templates::v1::CreateTemplateRequest tr;
  tr.set_parent(absl::StrCat("orgs/", org));
  tr.set_template_id("annual");
  tr.set_text(kTemplateText);
  templates::v1::Template tmpl;
  GR_RETURN_IF_ERROR(
      Check(template_stub_->CreateTemplate(MakeCtx(kOperator).get(), tr, &tmpl), "CreateTemplate"));

  OrgTokens t;
  t.admin = Issue(absl::StrCat(org, "-admin"), org, {"admin"});
  t.drafter = Issue(absl::StrCat(org, "-drafter"), org, {"drafter"});
  t.recorder = Issue(absl::StrCat(org, "-recorder"), org, {"recorder"});
  t.director = Issue(absl::StrCat(org, "-director"), org, {"approver"});
  t.secretary = Issue(absl::StrCat(org, "-secretary"), org, {"approver"}, "user", "张秘书");
  t.auditor = Issue(absl::StrCat(org, "-auditor"), org, {"auditor"});
  {
    std::lock_guard<std::mutex> lock(mu_);
    recorder_tokens_[org] = t.recorder;
  }

  approval::v1::CreateWorkflowRequest wr;
  wr.set_parent(absl::StrCat("orgs/", org));
  wr.set_workflow_id("annual");
  approval::v1::Workflow* wf = wr.mutable_workflow();
  wf->set_display_name("年度报告审批");
  approval::v1::Step* office = wf->add_steps();
  office->set_name("office");
  office->set_kind(approval::v1::STEP_KIND_REVIEW);
  office->add_users(absl::StrCat(org, "-director"));
  approval::v1::Step* sign = wf->add_steps();
  sign->set_name("sign");
  sign->set_kind(approval::v1::STEP_KIND_SIGN_OFF);
  sign->add_users(absl::StrCat(org, "-secretary"));
  approval::v1::Workflow out;
  GR_RETURN_IF_ERROR(
      Check(approval_stub_->CreateWorkflow(MakeCtx(t.admin).get(), wr, &out), "CreateWorkflow"));

  // The org admin lets reports of the annual template use the annual
  // workflow (and only it).
  GR_RETURN_IF_ERROR(
      BindWorkflows(org, t.admin, absl::StrCat("orgs/", org, "/templates/annual"), {out.name()}));
  return t;
}

absl::Status Stack::BindWorkflows(const std::string& org, const std::string& admin_token,
                                  const std::string& tmpl,
                                  const std::vector<std::string>& workflows) {
  v1::SetTemplateWorkflowsRequest bind;
  bind.set_parent(absl::StrCat("orgs/", org));
  bind.set_template_(tmpl);
  for (const auto& w : workflows) bind.add_workflows(w);
  v1::TemplateWorkflows bound;
  return Check(replicas_[0]->stub->SetTemplateWorkflows(MakeCtx(admin_token).get(), bind, &bound),
               "SetTemplateWorkflows");
}

absl::Status Stack::AddActivity(const std::string& org, const std::string& type,
                                const std::string& date,
                                const std::map<std::string, int64_t>& quantities) {
  records::v1::CreateActivityRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  req.mutable_activity()->set_type(type);
  req.mutable_activity()->set_occurred_on(date);
  req.mutable_activity()->set_title(absl::StrCat(type, " ", date));
  for (const auto& [k, v] : quantities) (*req.mutable_activity()->mutable_quantities())[k] = v;
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    token = recorder_tokens_[org];
  }
  records::v1::ActivityRecord out;
  return Check(activity_stub_->CreateActivity(MakeCtx(token).get(), req, &out), "CreateActivity");
}

absl::Status Stack::AddBaseYear(const std::string& org) {
  GR_RETURN_IF_ERROR(AddActivity(org, "party_group_governance_meeting", "2023-03-02"));
  GR_RETURN_IF_ERROR(AddActivity(org, "party_group_governance_meeting", "2023-09-14"));
  GR_RETURN_IF_ERROR(AddActivity(org, "heart_to_heart_talk", "2023-04-20", {{"participants", 12}}));
  return AddActivity(org, "theme_party_day", "2023-07-01");
}

absl::Status Stack::AddSampleYear(const std::string& org) {
  records::SampleYear sample = records::GenerateSampleYear(profile_, 2023);
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    token = recorder_tokens_[org];
  }
  for (size_t at = 0; at < sample.records.size(); at += records::kMaxBatch) {
    records::v1::BatchCreateActivitiesRequest batch;
    batch.set_parent(absl::StrCat("orgs/", org));
    for (size_t i = at; i < sample.records.size() && i < at + records::kMaxBatch; ++i) {
      *batch.add_requests()->mutable_activity() = sample.records[i];
    }
    records::v1::BatchCreateActivitiesResponse out;
    GR_RETURN_IF_ERROR(Check(
        activity_stub_->BatchCreateActivities(MakeCtx(token).get(), batch, &out), "BatchCreate"));
    if (out.failed() > 0) {
      return absl::InternalError(absl::StrCat("sample year: ", out.failed(), " records refused"));
    }
  }
  return absl::OkStatus();
}

absl::Status Stack::CreateSharedTemplate(const std::string& id, const std::string& text) {
  templates::v1::CreateTemplateRequest tr;
  tr.set_template_id(id);
  tr.set_text(text);
  tr.set_request_id(absl::StrCat("shared-", id));
  templates::v1::Template tmpl;
  return Check(template_stub_->CreateTemplate(MakeCtx(kOperator).get(), tr, &tmpl),
               "CreateTemplate (shared)");
}

absl::Status Stack::CreateOrgTemplate(const std::string& org, const std::string& id,
                                      const std::string& text) {
  templates::v1::CreateTemplateRequest tr;
  tr.set_parent(absl::StrCat("orgs/", org));
  tr.set_template_id(id);
  tr.set_text(text);
  templates::v1::Template tmpl;
  return Check(template_stub_->CreateTemplate(MakeCtx(kOperator).get(), tr, &tmpl),
               "CreateTemplate (org)");
}

absl::Status Stack::UpdateTemplate(const std::string& name, const std::string& text) {
  templates::v1::UpdateTemplateRequest ur;
  ur.set_name(name);
  ur.set_text(text);
  templates::v1::Template tmpl;
  return Check(template_stub_->UpdateTemplate(MakeCtx(kOperator).get(), ur, &tmpl),
               "UpdateTemplate");
}

absl::StatusOr<v1::Report> Stack::WaitFor(const std::string& token, const std::string& name,
                                          const std::function<bool(const v1::Report&)>& done,
                                          absl::Duration timeout, int replica) {
  absl::Time until = absl::Now() + timeout;
  v1::Report last;
  while (true) {
    v1::GetReportRequest req;
    req.set_name(name);
    req.set_skip_staleness(true);
    grpc::Status st = reports(replica).GetReport(MakeCtx(token).get(), req, &last);
    if (!st.ok()) return Check(st, "GetReport");
    if (done(last)) return last;
    if (absl::Now() > until) {
      return absl::DeadlineExceededError(
          absl::StrCat("waited in vain; last seen: ", last.ShortDebugString()));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace govreport::assembler::testing
