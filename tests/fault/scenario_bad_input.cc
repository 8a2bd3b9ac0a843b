// Scenario 6: bad input at volume, to every RPC of every service. For each
// method a well-formed base request (tests/fault/requests.cc) is broken in
// every way reflection allows — huge, empty-of-meaning, invalid UTF-8 and
// control-character strings, out-of-range numbers and enums, 2000-element
// batches, giant maps, missing sub-messages, bytes that are not protobuf,
// a message that is too large — and sent without a token, with a forged
// one, with a malformed header and as another org. Every answer must be a
// clean error (a canonical code that names the problem, never UNKNOWN or
// an INTERNAL from a handler), a refused call must write nothing to Redis
// (checked to the write with Redis's change counter), and every service
// must still be alive and SERVING afterwards. The template engine itself
// is fuzzed by libFuzzer (scripts/fuzz.sh, run by scripts/fault-test.sh).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "tests/fault/requests.h"
#include "tests/fault/scenarios.h"

namespace govreport::fault {
namespace {

namespace gp = ::google::protobuf;
using FD = gp::FieldDescriptor;

// Same length as kInvalidUtf8, so that swapping one for the other in the
// serialized bytes keeps every length prefix right.
constexpr char kUtf8Marker[] = "@@U8MARKER@@";
constexpr char kInvalidUtf8[] = "\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\x80\xc0\xaf";
static_assert(sizeof(kUtf8Marker) == sizeof(kInvalidUtf8));

struct Variant {
  std::string label;
  std::string bytes;
  // Wire-level garbage: gRPC itself refuses it before any handler runs.
  bool wire = false;
};

// A field reached from the request: top-level, or inside a singular
// sub-message.
struct FieldPath {
  const FD* outer = nullptr;  // Singular message field, or null.
  const FD* field = nullptr;
  std::string Name() const {
    return outer ? absl::StrCat(outer->name(), ".", field->name()) : field->name();
  }
};

std::vector<FieldPath> Fields(const gp::Descriptor* d) {
  std::vector<FieldPath> out;
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    out.push_back({nullptr, f});
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !f->is_repeated()) {
      const gp::Descriptor* inner = f->message_type();
      for (int j = 0; j < inner->field_count(); ++j) out.push_back({f, inner->field(j)});
    }
  }
  return out;
}

// The message holding the field (created when absent).
gp::Message* Holder(gp::Message* root, const FieldPath& path) {
  if (!path.outer) return root;
  return root->GetReflection()->MutableMessage(root, path.outer);
}

// Gives every "rid-..." and "new-..." string (the request ids and fresh
// resource ids of the base request) a new value, except in `keep`.
void Refresh(gp::Message* m, const FD* keep, int depth = 0) {
  const gp::Reflection* r = m->GetReflection();
  std::vector<const FD*> fields;
  r->ListFields(*m, &fields);
  for (const FD* f : fields) {
    if (f == keep) continue;
    if (f->cpp_type() == FD::CPPTYPE_STRING && !f->is_repeated()) {
      std::string v = r->GetString(*m, f);
      if (absl::StartsWith(v, "rid-")) r->SetString(m, f, absl::StrCat("rid-", NewId()));
      if (absl::StartsWith(v, "new-")) {
        r->SetString(m, f, absl::StrCat("new-", NewId().substr(0, 12)));
      }
    } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE && depth < 3) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*m, f); ++i) {
          Refresh(r->MutableRepeatedMessage(m, f, i), keep, depth + 1);
        }
      } else {
        Refresh(r->MutableMessage(m, f), keep, depth + 1);
      }
    }
  }
}

std::string Serialize(const gp::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// The variants of one field of `base`: each a copy with fresh request and
// resource ids (so that no mutation is answered as a replay of an earlier
// one), changed by one function.
class Mutator {
 public:
  Mutator(const gp::Message& base, const FieldPath& path) : base_(base), path_(path) {}

  void operator()(const std::string& what, const std::function<void(gp::Message*)>& fn,
                  bool utf8 = false) {
    std::unique_ptr<gp::Message> m(base_.New());
    m->CopyFrom(base_);
    Refresh(m.get(), path_.field);
    fn(Holder(m.get(), path_));
    std::string bytes = Serialize(*m);
    if (utf8) bytes = absl::StrReplaceAll(bytes, {{kUtf8Marker, kInvalidUtf8}});
    out_.push_back({absl::StrCat(path_.Name(), "=", what), std::move(bytes), utf8});
  }
  std::vector<Variant> Take() { return std::move(out_); }

 private:
  const gp::Message& base_;
  const FieldPath& path_;
  std::vector<Variant> out_;
};

void MapMutations(const FD* f, Mutator& mutate) {
  mutate("5000 entries", [f](gp::Message* h) {
    const gp::Reflection* r = h->GetReflection();
    for (int i = 0; i < 5000; ++i) {
      gp::Message* e = r->AddMessage(h, f);
      const gp::Reflection* er = e->GetReflection();
      const FD* k = f->message_type()->map_key();
      const FD* v = f->message_type()->map_value();
      if (k->cpp_type() == FD::CPPTYPE_STRING) er->SetString(e, k, absl::StrCat("k", i));
      if (v->cpp_type() == FD::CPPTYPE_STRING) er->SetString(e, v, std::string(100, 'v'));
      if (v->cpp_type() == FD::CPPTYPE_INT64) er->SetInt64(e, v, -i);
    }
  });
  mutate(
      "key with invalid UTF-8",
      [f](gp::Message* h) {
        gp::Message* e = h->GetReflection()->AddMessage(h, f);
        const FD* k = f->message_type()->map_key();
        if (k->cpp_type() == FD::CPPTYPE_STRING) e->GetReflection()->SetString(e, k, kUtf8Marker);
      },
      true);
}

void RepeatedMutations(const FD* f, Mutator& mutate) {
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
    mutate("2000 elements", [f](gp::Message* h) {
      const gp::Reflection* r = h->GetReflection();
      std::unique_ptr<gp::Message> first;
      if (r->FieldSize(*h, f) > 0) {
        first.reset(r->GetRepeatedMessage(*h, f, 0).New());
        first->CopyFrom(r->GetRepeatedMessage(*h, f, 0));
      }
      while (r->FieldSize(*h, f) < 2000) {
        gp::Message* e = r->AddMessage(h, f);
        if (first) e->CopyFrom(*first);
      }
    });
  } else if (f->cpp_type() == FD::CPPTYPE_STRING) {
    mutate("10000 elements", [f](gp::Message* h) {
      for (int i = 0; i < 10000; ++i) h->GetReflection()->AddString(h, f, absl::StrCat("x", i));
    });
    mutate(
        "element with invalid UTF-8",
        [f](gp::Message* h) { h->GetReflection()->AddString(h, f, kUtf8Marker); }, true);
  } else if (f->cpp_type() == FD::CPPTYPE_ENUM) {
    mutate("unknown enum", [f](gp::Message* h) { h->GetReflection()->AddEnumValue(h, f, 999); });
  }
}

void StringMutations(const gp::Message& base, const FieldPath& path, bool big,
                     const std::string& org, const std::string& other_org, Mutator& mutate) {
  const FD* f = path.field;
  auto set = [f](const std::string& v) {
    return [f, v](gp::Message* h) { h->GetReflection()->SetString(h, f, v); };
  };
  mutate("invalid UTF-8", set(kUtf8Marker), true);
  mutate("control characters", set(std::string("a\0b\x01\x1b[2J\x7f\0", 10)));
  mutate("path traversal", set("../../orgs/x/../../etc/passwd"));
  mutate("wildcard", set("orgs/*/activities/*"));
  mutate("10 KB", set(std::string(10 << 10, 'a')));
  if (big) mutate("2 MB", set(std::string(2 << 20, 'x')));
  const gp::Message& holder =
      path.outer ? base.GetReflection()->GetMessage(base, path.outer) : base;
  const std::string cur = holder.GetReflection()->GetString(holder, f);
  if (absl::StrContains(cur, absl::StrCat("orgs/", org))) {
    mutate("other org", set(absl::StrReplaceAll(cur, {{absl::StrCat("orgs/", org),
                                                       absl::StrCat("orgs/", other_org)}})));
    mutate("name with a trailing segment", set(absl::StrCat(cur, "/extra")));
  }
}

// Numbers, enums and a sub-message.
void ScalarMutations(const FieldPath& path, Mutator& mutate) {
  const FD* f = path.field;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      mutate("-1", [f](gp::Message* h) { h->GetReflection()->SetInt32(h, f, -1); });
      mutate("INT32_MIN", [f](gp::Message* h) {
        h->GetReflection()->SetInt32(h, f, std::numeric_limits<int32_t>::min());
      });
      mutate("INT32_MAX", [f](gp::Message* h) {
        h->GetReflection()->SetInt32(h, f, std::numeric_limits<int32_t>::max());
      });
      break;
    case FD::CPPTYPE_INT64:
      mutate("-1", [f](gp::Message* h) { h->GetReflection()->SetInt64(h, f, -1); });
      mutate("INT64_MIN", [f](gp::Message* h) {
        h->GetReflection()->SetInt64(h, f, std::numeric_limits<int64_t>::min());
      });
      mutate("INT64_MAX", [f](gp::Message* h) {
        h->GetReflection()->SetInt64(h, f, std::numeric_limits<int64_t>::max());
      });
      break;
    case FD::CPPTYPE_ENUM:
      mutate("unknown enum 999",
             [f](gp::Message* h) { h->GetReflection()->SetEnumValue(h, f, 999); });
      mutate("negative enum", [f](gp::Message* h) { h->GetReflection()->SetEnumValue(h, f, -7); });
      break;
    case FD::CPPTYPE_MESSAGE:
      if (!path.outer) {
        mutate("absent", [f](gp::Message* h) { h->GetReflection()->ClearField(h, f); });
      }
      break;
    default:
      break;
  }
}

// Every mutation of one field; `big` adds the 2 MB strings.
std::vector<Variant> Mutations(const gp::Message& base, const FieldPath& path, bool big,
                               const std::string& org, const std::string& other_org) {
  Mutator mutate(base, path);
  const FD* f = path.field;
  if (f->is_map()) {
    MapMutations(f, mutate);
  } else if (f->is_repeated()) {
    RepeatedMutations(f, mutate);
  } else if (f->cpp_type() == FD::CPPTYPE_STRING) {
    StringMutations(base, path, big, org, other_org, mutate);
  } else {
    ScalarMutations(path, mutate);
  }
  return mutate.Take();
}

bool CleanCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNIMPLEMENTED:
      return true;
    default:
      return false;
  }
}

class Sender {
 public:
  Sender(Cluster& c, Problems& problems) : c_(c), problems_(problems) {}

  // Sends one bad request and judges the answer.
  void Send(const Method& m, const std::string& label, const std::string& bytes,
            const std::string& authorization, bool wire, bool must_refuse) {
    auto channel = ChannelFor(c_, m);
    if (!channel) return;
    if (dirty_after_accept_) Quiesce();
    auto before = c_.RedisDirty();
    RawAnswer ans = CallRaw(channel, m, bytes, authorization, absl::Seconds(15));
    auto after = c_.RedisDirty();
    ++sent_;
    auto code = ans.status.error_code();
    ++codes_[GrpcCodeName(code)];
    std::string what = absl::StrCat(m.path.substr(m.path.rfind('.') + 1), " [", label, "]");
    answers_.push_back(absl::StrCat(what, " → ", Describe(ans.status), " (wrote ",
                                    (before.ok() && after.ok()) ? *after - *before : -1, ")"));
    int64_t wrote = (before.ok() && after.ok()) ? *after - *before : 0;
    if (ans.status.ok()) {
      if (must_refuse) {
        ++bypasses_;
        problems_.Add(absl::StrCat(what, ": accepted without a valid token of the org"));
      } else if (m.mutating) {
        ++accepted_;
        accepted_examples_.push_back(what);
        // Only the assembler's workers act later on what was accepted (an
        // approval event, an assemble job); wait for them before the next
        // write count.
        dirty_after_accept_ = m.service == "approval" || m.service == "assembler";
      } else if (wrote > 0) {
        ++effects_;
        problems_.Add(absl::StrCat(what, ": a read wrote ", wrote, " changes"));
      }
      return;
    }
    bool clean =
        CleanCode(code) ||
        // gRPC's own answer to bytes that are not the request type.
        (wire && code == grpc::StatusCode::INTERNAL) ||
        (m.server_streaming && code == grpc::StatusCode::DEADLINE_EXCEEDED && !must_refuse);
    if (!clean) {
      ++unclean_;
      problems_.Add(absl::StrCat(what, ": ", Describe(ans.status)));
    }
    if (wrote > 0) {
      // Background work (an accepted report assembling) can write; look
      // again once quiet before blaming the refused call.
      ++effects_;
      problems_.Add(absl::StrCat(what, ": refused (", Describe(ans.status), ") but wrote ", wrote,
                                 " changes"));
    }
  }

  // Waits until Redis's change counter stops moving (background jobs of
  // an accepted request are done).
  void Quiesce() {
    c_.WaitForQuietRedis();
    dirty_after_accept_ = false;
  }

  int64_t sent() const { return sent_; }
  int64_t unclean() const { return unclean_; }
  int64_t effects() const { return effects_; }
  int64_t bypasses() const { return bypasses_; }
  int64_t accepted() const { return accepted_; }
  const std::vector<std::string>& accepted_examples() const { return accepted_examples_; }
  const std::map<std::string, int64_t>& codes() const { return codes_; }
  // Every request and its answer, one line each.
  const std::vector<std::string>& answers() const { return answers_; }

 private:
  Cluster& c_;
  Problems& problems_;
  int64_t sent_ = 0, unclean_ = 0, effects_ = 0, bypasses_ = 0, accepted_ = 0;
  bool dirty_after_accept_ = false;
  std::vector<std::string> accepted_examples_;
  std::map<std::string, int64_t> codes_;
  std::vector<std::string> answers_;
};

// Drives one report of `org` from creation to publication. 1 when it
// cannot be published (or assembled) because of what was accepted before.
int64_t ThroughToPublication(Cluster& c, const OrgFixture& org, const std::string& id,
                             const std::string& template_id, const std::string& title,
                             const std::string& what, Problems& problems) {
  const std::string parent = absl::StrCat("orgs/", org.org);
  asmpb::Report r;
  asmpb::CreateReportRequest create;
  create.set_parent(parent);
  create.set_report_id(id);
  create.set_period("2023");
  create.set_title(title);
  create.set_template_(absl::StrCat(parent, "/templates/", template_id));
  create.set_workflow(absl::StrCat(parent, "/workflows/", org.workflow_id));
  create.set_request_id(absl::StrCat("s6-poison-create-", id));
  grpc::Status st = CallReports(
      c, org.drafter, [&](auto& stub, auto* ctx) { return stub.CreateReport(ctx, create, &r); });
  if (!st.ok()) return 0;  // Refused at the edge: nothing can be poisoned.
  auto get = [&]() {
    asmpb::GetReportRequest g;
    g.set_name(absl::StrCat(parent, "/reports/", id));
    g.set_skip_staleness(true);
    return CallReports(c, org.drafter,
                       [&](auto& stub, auto* ctx) { return stub.GetReport(ctx, g, &r); });
  };
  absl::Time until = absl::Now() + absl::Seconds(30);
  while (st.ok() && (r.current_revision() < 1 || r.assembling()) && r.error().empty() &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
    st = get();
  }
  if (!st.ok() || r.current_revision() < 1) {
    problems.Add(absl::StrCat("poison (", what,
                              "): accepted, then the report did not assemble: ", Describe(st), " ",
                              asmpb::ReportState_Name(r.state()), " ", r.error()));
    return 1;
  }
  asmpb::SubmitReportRequest submit;
  submit.set_name(r.name());
  submit.set_revision(r.current_revision());
  for (const auto& g : r.missing_figures()) submit.add_accepted_gaps(g);
  submit.set_request_id(absl::StrCat("s6-poison-submit-", id));
  st = CallReports(c, org.drafter,
                   [&](auto& stub, auto* ctx) { return stub.SubmitReport(ctx, submit, &r); });
  if (!st.ok()) {
    problems.Add(absl::StrCat("poison (", what, "): SubmitReport: ", Describe(st)));
    return 1;
  }
  auto approvals = c.Approvals();
  for (const std::string& who :
       {absl::StrCat(org.org, "-director"), absl::StrCat(org.org, "-secretary")}) {
    apb::GetApprovalRequest ga;
    ga.set_name(r.approval());
    apb::Approval a;
    st = Retry(org.users.at(who),
               [&](grpc::ClientContext* ctx) { return approvals->GetApproval(ctx, ga, &a); });
    apb::ApproveRequest ar;
    ar.set_name(r.approval());
    ar.set_expected_version(a.version());
    ar.set_request_id(absl::StrCat("s6-poison-", id, "-", who));
    if (st.ok()) {
      st = Retry(org.users.at(who),
                 [&](grpc::ClientContext* ctx) { return approvals->Approve(ctx, ar, &a); });
    }
    if (!st.ok()) {
      problems.Add(absl::StrCat("poison (", what, "): Approve: ", Describe(st)));
      return 1;
    }
  }
  until = absl::Now() + absl::Seconds(30);
  while ((st = get()).ok() && r.state() != asmpb::REPORT_STATE_PUBLISHED && r.error().empty() &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (r.state() == asmpb::REPORT_STATE_PUBLISHED) return 0;
  problems.Add(absl::StrCat("poison (", what, "): accepted, and the signed report then stays ",
                            asmpb::ReportState_Name(r.state()), ": ", r.error()));
  return 1;
}

// What was accepted must not poison later work: a control character in an
// org's name, a template's text or a report's title, each carried through
// a whole report to its published documents. Returns the reports that
// could not be published.
int64_t PoisonCheck(Cluster& c, Problems& problems) {
  auto org = c.SetUpOrg("poison");
  if (!org.ok()) {
    problems.Add(absl::StrCat("poison check set-up: ", org.status().message()));
    return 0;
  }
  const std::string control("\x01", 1);
  int64_t poisoned = 0;
  {
    rpb::UpdateOrgRequest update;
    update.mutable_org()->set_name("orgs/poison");
    update.mutable_org()->set_short_name(absl::StrCat("市", control, "局"));
    update.add_update_mask("short_name");
    update.set_request_id("s6-poison-org");
    rpb::Org updated;
    auto orgs = c.Orgs();
    grpc::Status st = Retry(org->admin, [&](grpc::ClientContext* ctx) {
      return orgs->UpdateOrg(ctx, update, &updated);
    });
    if (st.ok()) {
      poisoned += ThroughToPublication(c, *org, "org-name", org->template_id, "", "org short_name",
                                       problems);
      // Back to a clean name for the other two.
      update.mutable_org()->set_short_name("市局");
      update.set_request_id("s6-poison-org-undo");
      (void)Retry(org->admin,
                  [&](grpc::ClientContext* ctx) { return orgs->UpdateOrg(ctx, update, &updated); });
    }
  }
  {
    tpb::CreateTemplateRequest req;
    req.set_parent("orgs/poison");
    req.set_template_id("poisoned");
    req.set_text(absl::StrCat("{{org.short_name}}报告", control, "\n\n一、情况\n正文。\n"));
    req.set_request_id("s6-poison-template");
    tpb::Template t;
    auto templates = c.Templates();
    grpc::Status st = Retry(org->admin, [&](grpc::ClientContext* ctx) {
      return templates->CreateTemplate(ctx, req, &t);
    });
    if (st.ok()) {
      // Bound by the admin, so that the report gets as far as it can.
      asmpb::SetTemplateWorkflowsRequest bind;
      bind.set_parent("orgs/poison");
      bind.set_template_("orgs/poison/templates/poisoned");
      bind.add_workflows(absl::StrCat("orgs/poison/workflows/", org->workflow_id));
      asmpb::TemplateWorkflows bound;
      (void)CallReports(c, org->admin, [&](auto& stub, auto* ctx) {
        return stub.SetTemplateWorkflows(ctx, bind, &bound);
      });
      poisoned +=
          ThroughToPublication(c, *org, "template-text", "poisoned", "", "template text", problems);
    }
  }
  poisoned += ThroughToPublication(c, *org, "report-title", org->template_id,
                                   absl::StrCat("年度报告", control), "report title", problems);
  return poisoned;
}

// One run of the scenario, in its parts. Its fields are what the parts
// share.
class BadInput {
 public:
  BadInput(const Env& env, Cluster& c, const OrgFixture& a, const OrgFixture& b)
      : env_(env),
        c_(c),
        a_(a),
        b_(b),
        sender_(c, problems_),
        methods_(AllMethods()),
        ids_(Ids::Of(a)),
        rng_(env.seed * 53),
        admin_(Bearer(a.admin)),
        forged_(absl::StrCat("grt_", RandomHex(24))),
        near_operator_(c.operator_token()) {
    near_operator_.back() = near_operator_.back() == 'a' ? 'b' : 'a';
  }

  // 0. The base requests are sound: reads by A's admin succeed. (A broken
  // base would make every mutation of it meaningless.)
  void CheckBases();
  // 1 to 3 for every method, while records is alive.
  void BreakEveryMethod();
  // 3b. (Full run) random combinations: one to three fields of a random
  // RPC broken at once, by a random caller.
  void RandomCombinations(int combos);
  // 4. Bigger than any server accepts (16 MB).
  void TooLarge();
  // 5b. Every mutating call sent twice with the same request_id (a client
  // whose answer was lost) gets the same answer twice (AIP-155).
  void Repeats();
  // 5. What was accepted must not poison later work: an org name with a
  // control character (accepted above) goes through a whole report, from
  // assembly to the published documents. Then everybody is still there
  // and healthy.
  void PoisonAndHealth();
  void Report(Results& results, ScenarioResult& out) const;

 private:
  // 1. Who is asking.
  void WhoIsAsking(const Method& m, const std::string& bytes);
  // 2. Bytes that are not this request.
  void NotThisRequest(const Method& m, const std::string& bytes);
  // 3. Every field, broken in every way that fits its type. The 2 MB
  // strings go to every string field in the full run and to the first
  // two per method in the short one.
  void EveryField(const Method& m, const gp::Message& base);
  void RandomCombination(const std::vector<const Method*>& runnable);
  void Repeat(const Method& m);

  const Env& env_;
  Cluster& c_;
  const OrgFixture& a_;
  const OrgFixture& b_;
  Problems problems_;
  Sender sender_;
  const std::vector<Method> methods_;
  const Ids ids_;
  Rng rng_;
  const std::string admin_;
  const std::string forged_;
  std::string near_operator_;
  int64_t uncovered_ = 0, bases_ok_ = 0, bases_ = 0;
  int fields_mutated_ = 0;
  int64_t repeats_ = 0, repeat_mismatches_ = 0, poisoned_ = 0;
  int unhealthy_ = 0, crashes_ = 0;
};

void BadInput::CheckBases() {
  std::vector<std::string> bad_bases;
  for (const Method& m : methods_) {
    if (!m.covered) {
      ++uncovered_;
      problems_.Add(absl::StrCat(m.path, ": no base request"));
      continue;
    }
    if (m.mutating || !ChannelFor(c_, m)) continue;
    auto req = BuildRequest(m, ids_, env_);
    if (!req.ok()) continue;
    RawAnswer ans = CallRaw(ChannelFor(c_, m), m, (*req)->SerializeAsString(), Bearer(a_.admin),
                            absl::Seconds(10));
    ++bases_;
    if (ans.status.ok()) {
      ++bases_ok_;
    } else {
      bad_bases.push_back(absl::StrCat(m.path, ": ", Describe(ans.status)));
    }
  }
  for (const auto& bad : bad_bases) problems_.Add(absl::StrCat("base request refused: ", bad));
}

void BadInput::BreakEveryMethod() {
  for (const Method& m : methods_) {
    if (!m.covered || !ChannelFor(c_, m)) continue;
    auto req = BuildRequest(m, ids_, env_);
    if (!req.ok()) {
      problems_.Add(std::string(req.status().message()));
      continue;
    }
    const gp::Message& base = **req;
    const std::string bytes = Serialize(base);
    WhoIsAsking(m, bytes);
    NotThisRequest(m, bytes);
    EveryField(m, base);
    if (!c_.records().Alive()) break;
  }
}

void BadInput::WhoIsAsking(const Method& m, const std::string& bytes) {
  bool names_org = m.descriptor->name() != "WhoAmI" && m.descriptor->name() != "ListOrgs";
  sender_.Send(m, "no token", bytes, "", false, true);
  sender_.Send(m, "forged token", bytes, Bearer(forged_), false, true);
  sender_.Send(m, "operator secret off by one", bytes, Bearer(near_operator_), false, true);
  sender_.Send(m, "empty bearer", bytes, "Bearer ", false, true);
  sender_.Send(m, "basic auth", bytes, "Basic Zm9vOmJhcg==", false, true);
  // (Header values outside printable ASCII never leave a gRPC client.)
  sender_.Send(m, "4 KB token", bytes, Bearer(std::string(4 << 10, 'a')), false, true);
  if (names_org) sender_.Send(m, "other org's admin", bytes, Bearer(b_.admin), false, true);
}

void BadInput::NotThisRequest(const Method& m, const std::string& bytes) {
  std::string random_bytes;
  for (int i = 0, n = static_cast<int>(rng_.Uniform(1, 300)); i < n; ++i) {
    random_bytes.push_back(static_cast<char>(rng_.Uniform(0, 255)));
  }
  sender_.Send(m, "random bytes", random_bytes, admin_, true, false);
  sender_.Send(m, "0xff bytes", std::string(16, '\xff'), admin_, true, false);
  if (bytes.size() > 2) {
    sender_.Send(m, "truncated", bytes.substr(0, bytes.size() - 1), admin_, true, false);
  }
  // Field numbers of this request with the wrong wire types.
  std::string wrong_types;
  for (int i = 0; i < m.descriptor->input_type()->field_count(); ++i) {
    int number = m.descriptor->input_type()->field(i)->number();
    bool length = m.descriptor->input_type()->field(i)->type() == FD::TYPE_STRING ||
                  m.descriptor->input_type()->field(i)->type() == FD::TYPE_MESSAGE;
    // A varint where a length-delimited field is, and the reverse.
    wrong_types.push_back(static_cast<char>((number << 3) | (length ? 0 : 2)));
    if (length) {
      wrong_types.push_back('\x7f');
    } else {
      wrong_types +=
          "\x03"
          "abc";
    }
  }
  sender_.Send(m, "wrong wire types", wrong_types, admin_, true, false);
}

void BadInput::EveryField(const Method& m, const gp::Message& base) {
  int strings = 0;
  for (const FieldPath& path : Fields(m.descriptor->input_type())) {
    bool is_string = !path.field->is_repeated() && path.field->cpp_type() == FD::CPPTYPE_STRING;
    bool big = is_string && (!env_.short_mode || strings < 2);
    if (is_string) ++strings;
    for (const Variant& v : Mutations(base, path, big, a_.org, b_.org)) {
      sender_.Send(m, v.label, v.bytes, admin_, v.wire, false);
    }
    ++fields_mutated_;
  }
}

void BadInput::RandomCombinations(int combos) {
  std::vector<const Method*> runnable;
  for (const Method& m : methods_) {
    if (m.covered && ChannelFor(c_, m)) runnable.push_back(&m);
  }
  for (int i = 0; i < combos && !runnable.empty() && c_.records().Alive(); ++i) {
    RandomCombination(runnable);
  }
}

void BadInput::RandomCombination(const std::vector<const Method*>& runnable) {
  const Method& m =
      *runnable[static_cast<size_t>(rng_.Uniform(0, static_cast<int64_t>(runnable.size()) - 1))];
  auto req = BuildRequest(m, ids_, env_);
  if (!req.ok()) return;
  std::unique_ptr<gp::Message> msg = std::move(*req);
  std::vector<FieldPath> fields = Fields(m.descriptor->input_type());
  if (fields.empty()) return;
  std::string label;
  for (int k = 0, n = static_cast<int>(rng_.Uniform(1, 3)); k < n; ++k) {
    const FieldPath& path =
        fields[static_cast<size_t>(rng_.Uniform(0, static_cast<int64_t>(fields.size()) - 1))];
    std::vector<Variant> vs = Mutations(*msg, path, false, a_.org, b_.org);
    if (vs.empty()) continue;
    const Variant& v =
        vs[static_cast<size_t>(rng_.Uniform(0, static_cast<int64_t>(vs.size()) - 1))];
    std::unique_ptr<gp::Message> next(msg->New());
    // Invalid UTF-8 does not parse back: keep it as the last change.
    if (!next->ParseFromString(v.bytes)) {
      label = absl::StrCat(label, label.empty() ? "" : " + ", v.label);
      sender_.Send(m, absl::StrCat("combo ", label), v.bytes, Bearer(a_.admin), v.wire, false);
      msg.reset();
      break;
    }
    msg = std::move(next);
    label = absl::StrCat(label, label.empty() ? "" : " + ", v.label);
  }
  if (!msg) return;
  std::string who = Bearer(a_.admin);
  bool must_refuse = false;
  if (rng_.Chance(0.15)) {
    if (rng_.Chance(0.5)) {
      who = Bearer(forged_);
      must_refuse = true;
    } else {
      // B may of course act on requests that a mutation pointed at B.
      who = Bearer(b_.admin);
      must_refuse = m.descriptor->name() != "WhoAmI" && m.descriptor->name() != "ListOrgs" &&
                    !absl::StrContains(Serialize(*msg), b_.org);
    }
  }
  sender_.Send(m, absl::StrCat("combo ", label), Serialize(*msg), who, false, must_refuse);
}

void BadInput::TooLarge() {
  for (const char* label : {"OrgService/GetOrg", "TemplateService/ValidateTemplate",
                            "ApprovalService/GetApproval", "ReportService/GetReport"}) {
    const Method* m = FindMethod(methods_, label);
    if (m == nullptr || !ChannelFor(c_, *m)) continue;
    auto req = BuildRequest(*m, ids_, env_);
    if (!req.ok()) continue;
    const FD* f = (*req)->GetDescriptor()->FindFieldByName(
        std::string(label) == "TemplateService/ValidateTemplate" ? "text" : "name");
    (*req)->GetReflection()->SetString(req->get(), f, std::string(20 << 20, 'z'));
    sender_.Send(*m, "20 MB message", Serialize(**req), Bearer(a_.admin), false, false);
  }
  if (sender_.accepted() > 0) sender_.Quiesce();
}

void BadInput::Repeats() {
  for (const Method& m : methods_) {
    if (!m.covered || !m.mutating || !ChannelFor(c_, m)) continue;
    if (m.descriptor->input_type()->FindFieldByName("request_id") == nullptr) continue;
    Repeat(m);
  }
  sender_.Quiesce();
}

void BadInput::Repeat(const Method& m) {
  auto req = BuildRequest(m, ids_, env_);
  if (!req.ok()) return;
  const std::string bytes = Serialize(**req);
  RawAnswer first = CallRaw(ChannelFor(c_, m), m, bytes, Bearer(a_.admin), absl::Seconds(15));
  RawAnswer second = CallRaw(ChannelFor(c_, m), m, bytes, Bearer(a_.admin), absl::Seconds(15));
  repeats_ += 2;
  std::string name_first, name_second;
  if (first.status.ok() && second.status.ok()) {
    const gp::Message* proto =
        gp::MessageFactory::generated_factory()->GetPrototype(m.descriptor->output_type());
    std::unique_ptr<gp::Message> r1(proto->New()), r2(proto->New());
    r1->ParseFromString(first.response);
    r2->ParseFromString(second.response);
    const FD* name = m.descriptor->output_type()->FindFieldByName("name");
    if (name != nullptr && name->cpp_type() == FD::CPPTYPE_STRING && !name->is_repeated()) {
      name_first = r1->GetReflection()->GetString(*r1, name);
      name_second = r2->GetReflection()->GetString(*r2, name);
    }
  }
  if (first.status.error_code() != second.status.error_code() || name_first != name_second) {
    ++repeat_mismatches_;
    problems_.Add(absl::StrCat(m.path.substr(m.path.rfind('.') + 1),
                               " repeated with the same request_id: first ", Describe(first.status),
                               " ", name_first, "; then ", Describe(second.status), " ",
                               name_second));
  }
}

void BadInput::PoisonAndHealth() {
  if (!c_.assemblers().empty()) poisoned_ = PoisonCheck(c_, problems_);
  for (Process* p : c_.services()) {
    if (!p->Alive() || !c_.WaitHealth(*p, true, absl::Seconds(10))) {
      ++unhealthy_;
      problems_.Add(absl::StrCat(p->name(), " is not alive and SERVING after the bad input"));
    }
  }
  crashes_ = c_.Crashes();
}

void BadInput::Report(Results& results, ScenarioResult& out) const {
  results.Add("faults.bad_requests_sent", sender_.sent());
  results.Add("faults.crashes", crashes_);
  results.Set("faults.s6.rpcs", static_cast<int64_t>(methods_.size()));
  results.Set("faults.s6.rpcs_uncovered", uncovered_);
  results.Set("faults.s6.fields_mutated", static_cast<int64_t>(fields_mutated_));
  results.Set("faults.s6.unclean_errors", sender_.unclean());
  results.Set("faults.s6.refused_but_wrote", sender_.effects());
  results.Set("faults.s6.auth_bypasses", sender_.bypasses());
  results.Set("faults.s6.accepted_mutations", sender_.accepted());
  results.Set("faults.s6.unhealthy_after", static_cast<int64_t>(unhealthy_));
  results.Set("faults.s6.poisoned_reports", poisoned_);
  results.Set("faults.s6.repeated_requests", repeats_);
  results.Set("faults.s6.repeat_mismatches", repeat_mismatches_);
  results.Set("faults.s6.base_reads_ok", bases_ok_);
  results.Set("faults.s6.base_reads", bases_);
  for (const auto& [code, n] : sender_.codes()) {
    results.Set(absl::StrCat("faults.s6.code.", code), n);
  }
  out.summary = absl::StrFormat(
      "did %d bad requests to %d RPCs (%d fields mutated; sound base reads %d/%d); unclean "
      "errors %d, refused-but-wrote %d, auth bypasses %d, crashes %d, unhealthy %d; %d "
      "malformed writes were accepted (listed below), %d signed reports poisoned by them; "
      "%d mutating calls repeated with their request_id, %d answered differently",
      sender_.sent(), static_cast<int>(methods_.size()) - static_cast<int>(uncovered_),
      fields_mutated_, bases_ok_, bases_, sender_.unclean(), sender_.effects(), sender_.bypasses(),
      crashes_, unhealthy_, sender_.accepted(), poisoned_, repeats_ / 2, repeat_mismatches_);
  out.problems = problems_.First();
  {
    // The full list, for a person to judge which limits are missing.
    std::ofstream list(absl::StrCat(env_.run_dir, "/s6-accepted.txt"));
    for (const auto& e : sender_.accepted_examples()) list << e << "\n";
    std::ofstream all(absl::StrCat(env_.run_dir, "/s6-answers.txt"));
    for (const auto& e : sender_.answers()) all << e << "\n";
  }
  for (size_t i = 0; i < sender_.accepted_examples().size() && i < 12; ++i) {
    out.problems.push_back("accepted: " + sender_.accepted_examples()[i]);
  }
  bool ok = sender_.unclean() == 0 && sender_.effects() == 0 && sender_.bypasses() == 0 &&
            crashes_ == 0 && unhealthy_ == 0 && uncovered_ == 0 && repeat_mismatches_ == 0 &&
            poisoned_ == 0;
  out.verdict = ok ? Verdict::kPassed : Verdict::kFailed;
}

}  // namespace

ScenarioResult RunBadInput(const Env& env, Results& results) {
  ScenarioResult out;
  out.number = 6;
  out.name = "bad input at volume";
  ClusterOptions co;
  co.tag = "s6";
  co.assemblers = env.assembler_bin.empty() ? 0 : 1;
  auto cluster = Cluster::Start(env, co);
  if (!cluster.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary = absl::StrCat("could not start: ", cluster.status().message());
    return out;
  }
  Cluster& c = **cluster;
  auto a = c.SetUpOrg("bad-a");
  FixtureOptions minimal;
  minimal.template_and_workflow = false;
  minimal.approval = false;
  minimal.report = false;
  auto b = c.SetUpOrg("bad-b", minimal);
  if (!a.ok() || !b.ok()) {
    out.verdict = Verdict::kFailed;
    out.summary =
        absl::StrCat("set-up failed: ", a.ok() ? b.status().message() : a.status().message());
    return out;
  }
  BadInput run(env, c, *a, *b);
  run.CheckBases();
  run.BreakEveryMethod();
  run.RandomCombinations(env.short_mode ? 0 : 3000);
  run.TooLarge();
  run.Repeats();
  run.PoisonAndHealth();
  run.Report(results, out);
  return out;
}

}  // namespace govreport::fault
