// Issue 9: forged page tokens fed to every paged RPC of every service (the
// records, templates, approval and assembler servers in-process over a real
// redis-server). Each answer must be OK with a sane page or
// INVALID_ARGUMENT "page_token: ...": never a crash, INTERNAL or anything
// else, and the servers keep serving.
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/resource.h"
#include "govreport/auth/v1/auth.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {
namespace {

namespace apb = ::govreport::approval::v1;
namespace rpb = ::govreport::records::v1;
namespace tpb = ::govreport::templates::v1;
namespace aupb = ::govreport::auth::v1;
using testing::Stack;

constexpr char kGap[] = "warning_film_screenings";
constexpr char kFigure[] = "party_group_governance_meetings";
constexpr char kTestKey[] = "the page-token key of this test, not a deployment's";

struct Page {
  grpc::Status status;
  int items = 0;
  std::string next;
};

// One paged RPC: how to call it for an org (page size 1, as a reader of
// that org), and the list id its service MACs tokens under, so that the
// test can mint tokens with extreme values under the servers' key.
struct Lister {
  std::string rpc;
  bool cursor = false;
  std::function<Page(const std::string& org, const std::string& token)> call;
  std::function<std::string(const std::string& org)> list_id;
};

template <typename Resp>
Page Result(const grpc::Status& st, int items, const Resp& resp) {
  return Page{st, items, resp.next_page_token()};
}

class PageTokenAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetPageTokenKey(kTestKey);
    auto s = Stack::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    records_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->records_port()),
                                   grpc::InsecureChannelCredentials());
    templates_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", stack_->templates_port()),
                                     grpc::InsecureChannelCredentials());
    for (const std::string org : {"kjj", "jyj"}) {
      auto t = stack_->SetUpOrg(org);
      ASSERT_TRUE(t.ok()) << t.status();
      tokens_[org] = *t;
      ASSERT_TRUE(stack_->AddBaseYear(org).ok());
      SetUpLists(org);
    }
    DefineListers();
  }

  // A second template, workflow and role, and two reports in review (two
  // approvals, two tasks of the director, a commented history), so that
  // every list has a second page at page size 1.
  void SetUpLists(const std::string& org) {
    const testing::OrgTokens& t = tokens_[org];
    const std::string parent = absl::StrCat("orgs/", org);
    tpb::CreateTemplateRequest tr;
    tr.set_parent(parent);
    tr.set_template_id("second");
    tr.set_text(testing::kTemplateText);
    tpb::Template tmpl;
    grpc::Status st = tpb::TemplateService::NewStub(templates_)
                          ->CreateTemplate(Stack::Ctx(testing::kOperator).get(), tr, &tmpl);
    ASSERT_TRUE(st.ok()) << st.error_message();

    apb::CreateWorkflowRequest cw;
    cw.set_parent(parent);
    cw.set_workflow_id("second");
    cw.mutable_workflow()->set_display_name("一步审批");
    apb::Step* step = cw.mutable_workflow()->add_steps();
    step->set_name("sign");
    step->set_kind(apb::STEP_KIND_SIGN_OFF);
    step->add_users(absl::StrCat(org, "-secretary"));
    apb::Workflow wf;
    st = stack_->approvals().CreateWorkflow(Stack::Ctx(t.admin).get(), cw, &wf);
    ASSERT_TRUE(st.ok()) << st.error_message();
    for (const char* role : {"office", "sign"}) {
      apb::SetRoleMembersRequest sr;
      sr.set_name(absl::StrCat(parent, "/roles/", role));
      sr.add_members(absl::StrCat(org, "-director"));
      apb::Role out;
      st = stack_->approvals().SetRoleMembers(Stack::Ctx(t.admin).get(), sr, &out);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }

    for (const char* id : {"first", "second"}) {
      v1::CreateReportRequest req;
      req.set_parent(parent);
      req.set_report_id(id);
      req.set_period("2023");
      req.set_template_(absl::StrCat(parent, "/templates/annual"));
      req.set_workflow(absl::StrCat(parent, "/workflows/annual"));
      v1::Report r;
      st = stack_->reports().CreateReport(Stack::Ctx(t.drafter).get(), req, &r);
      ASSERT_TRUE(st.ok()) << st.error_message();
      auto ready = stack_->WaitFor(t.drafter, r.name(), [](const v1::Report& report) {
        return report.current_revision() >= 1 && !report.assembling();
      });
      ASSERT_TRUE(ready.ok()) << ready.status();
      v1::SubmitReportRequest sub;
      sub.set_name(r.name());
      sub.set_revision(ready->current_revision());
      sub.add_accepted_gaps(kGap);
      st = stack_->reports().SubmitReport(Stack::Ctx(t.drafter).get(), sub, &r);
      ASSERT_TRUE(st.ok()) << st.error_message();
      approval_[org] = r.approval();
      revision_[org] = absl::StrCat(r.name(), "/revisions/", ready->current_revision());
    }
    apb::CommentRequest cr;
    cr.set_name(approval_[org]);
    cr.set_comment("请补充材料");
    apb::Approval a;
    st = stack_->approvals().Comment(Stack::Ctx(t.director).get(), cr, &a);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  void DefineListers() {
    DefineRecordsListers();
    DefineTemplateAndWorkflowListers();
    DefineApprovalListers();
    DefineReportListers();
  }

  void DefineRecordsListers() {
    auto records_ctx = [](const std::string& token) { return Stack::Ctx(token); };
    listers_.push_back({"ListOrgs (operator)", true,
                        [this, records_ctx](const std::string&, const std::string& token) {
                          rpb::ListOrgsRequest req;
                          req.set_page_size(1);
                          req.set_page_token(token);
                          rpb::ListOrgsResponse resp;
                          auto st = rpb::OrgService::NewStub(records_)->ListOrgs(
                              records_ctx(testing::kOperator).get(), req, &resp);
                          return Result(st, resp.orgs_size(), resp);
                        },
                        [](const std::string&) {
                          return PageList({"orgs", ""});
                        }});
    listers_.push_back({"ListIndicators", true,
                        [this](const std::string& org, const std::string& token) {
                          rpb::ListIndicatorsRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          rpb::ListIndicatorsResponse resp;
                          auto st = rpb::IndicatorService::NewStub(records_)->ListIndicators(
                              Stack::Ctx(tokens_[org].recorder).get(), req, &resp);
                          return Result(st, resp.indicators_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"indicators", org});
                        }});
    listers_.push_back({"GetIndicatorProvenance", true,
                        [this](const std::string& org, const std::string& token) {
                          rpb::GetIndicatorProvenanceRequest req;
                          req.set_name(absl::StrCat("orgs/", org, "/indicators/", kFigure));
                          req.set_period("2023");
                          req.set_page_size(1);
                          req.set_page_token(token);
                          rpb::GetIndicatorProvenanceResponse resp;
                          auto st =
                              rpb::IndicatorService::NewStub(records_)->GetIndicatorProvenance(
                                  Stack::Ctx(tokens_[org].auditor).get(), req, &resp);
                          return Result(st, resp.records_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"provenance", org, kFigure, "2023"});
                        }});
    listers_.push_back(
        {"ListActivities", true,
         [this](const std::string& org, const std::string& token) {
           rpb::ListActivitiesRequest req;
           req.set_parent(absl::StrCat("orgs/", org));
           req.set_page_size(1);
           req.set_page_token(token);
           rpb::ListActivitiesResponse resp;
           auto st = stack_->activities().ListActivities(Stack::Ctx(tokens_[org].recorder).get(),
                                                         req, &resp);
           return Result(st, resp.activities_size(), resp);
         },
         [](const std::string& org) {
           return PageList({"activities", org, "", "", "", "", "", "", "create_sequence", "0"});
         }});
    listers_.push_back({"ListTokens", true,
                        [this](const std::string& org, const std::string& token) {
                          aupb::ListTokensRequest req;
                          req.set_org(org);
                          req.set_page_size(1);
                          req.set_page_token(token);
                          aupb::ListTokensResponse resp;
                          auto st = aupb::AuthService::NewStub(records_)->ListTokens(
                              Stack::Ctx(tokens_[org].admin).get(), req, &resp);
                          return Result(st, resp.tokens_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"tokens", org});
                        }});
  }

  void DefineTemplateAndWorkflowListers() {
    listers_.push_back({"ListTemplates", true,
                        [this](const std::string& org, const std::string& token) {
                          tpb::ListTemplatesRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          tpb::ListTemplatesResponse resp;
                          auto st = tpb::TemplateService::NewStub(templates_)
                                        ->ListTemplates(Stack::Ctx(tokens_[org].drafter).get(), req,
                                                        &resp);
                          return Result(st, resp.templates_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"templates", org});
                        }});
    listers_.push_back({"ListWorkflows", true,
                        [this](const std::string& org, const std::string& token) {
                          apb::ListWorkflowsRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          apb::ListWorkflowsResponse resp;
                          auto st = stack_->approvals().ListWorkflows(
                              Stack::Ctx(tokens_[org].drafter).get(), req, &resp);
                          return Result(st, resp.workflows_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"workflows", org});
                        }});
    listers_.push_back({"ListRoles", true,
                        [this](const std::string& org, const std::string& token) {
                          apb::ListRolesRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          apb::ListRolesResponse resp;
                          auto st = stack_->approvals().ListRoles(
                              Stack::Ctx(tokens_[org].admin).get(), req, &resp);
                          return Result(st, resp.roles_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"roles", org});
                        }});
  }

  void DefineApprovalListers() {
    listers_.push_back({"ListApprovals", true,
                        [this](const std::string& org, const std::string& token) {
                          apb::ListApprovalsRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          apb::ListApprovalsResponse resp;
                          auto st = stack_->approvals().ListApprovals(
                              Stack::Ctx(tokens_[org].auditor).get(), req, &resp);
                          return Result(st, resp.approvals_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"approvals", org, "", "", "", ""});
                        }});
    listers_.push_back({"ListMyTasks", true,
                        [this](const std::string& org, const std::string& token) {
                          apb::ListMyTasksRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          apb::ListMyTasksResponse resp;
                          auto st = stack_->approvals().ListMyTasks(
                              Stack::Ctx(tokens_[org].director).get(), req, &resp);
                          return Result(st, resp.tasks_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"tasks", org, absl::StrCat(org, "-director")});
                        }});
    listers_.push_back({"GetHistory", false,
                        [this](const std::string& org, const std::string& token) {
                          apb::GetHistoryRequest req;
                          req.set_name(approval_[org]);
                          req.set_page_size(1);
                          req.set_page_token(token);
                          apb::GetHistoryResponse resp;
                          auto st = stack_->approvals().GetHistory(
                              Stack::Ctx(tokens_[org].auditor).get(), req, &resp);
                          return Result(st, resp.entries_size(), resp);
                        },
                        [this](const std::string& org) {
                          std::string id = approval_[org].substr(approval_[org].rfind('/') + 1);
                          return PageList({"history", org, id});
                        }});
  }

  void DefineReportListers() {
    listers_.push_back({"ListReports", true,
                        [this](const std::string& org, const std::string& token) {
                          v1::ListReportsRequest req;
                          req.set_parent(absl::StrCat("orgs/", org));
                          req.set_page_size(1);
                          req.set_page_token(token);
                          v1::ListReportsResponse resp;
                          auto st = stack_->reports().ListReports(
                              Stack::Ctx(tokens_[org].drafter).get(), req, &resp);
                          return Result(st, resp.reports_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"reports", org, "0", "0", "0"});
                        }});
    // The assembler relays records' provenance tokens.
    listers_.push_back({"GetFigureProvenance", true,
                        [this](const std::string& org, const std::string& token) {
                          v1::GetFigureProvenanceRequest req;
                          req.set_name(revision_[org]);
                          req.set_key(kFigure);
                          req.set_page_size(1);
                          req.set_page_token(token);
                          v1::GetFigureProvenanceResponse resp;
                          auto st = stack_->reports().GetFigureProvenance(
                              Stack::Ctx(tokens_[org].drafter).get(), req, &resp);
                          return Result(st, resp.records_size(), resp);
                        },
                        [](const std::string& org) {
                          return PageList({"provenance", org, kFigure, "2023"});
                        }});
  }

  // OK with at most one item (page size 1) whose next page, if any, is
  // served too; or INVALID_ARGUMENT about the page token.
  void ExpectSane(const Lister& l, const std::string& org, const std::string& token,
                  const std::string& what) {
    Page p = l.call(org, token);
    ++calls_;
    if (p.status.ok()) {
      EXPECT_LE(p.items, 1) << l.rpc << " " << what;
      if (!p.next.empty()) {
        Page next = l.call(org, p.next);
        EXPECT_TRUE(next.status.ok())
            << l.rpc << " " << what
            << ": the next page of a sane page: " << next.status.error_message();
      }
      return;
    }
    EXPECT_EQ(p.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << l.rpc << " " << what << ": " << p.status.error_code() << " " << p.status.error_message();
    EXPECT_TRUE(absl::StrContains(p.status.error_message(), "page_token: "))
        << l.rpc << " " << what << ": " << p.status.error_message();
  }

  void ExpectRefused(const Lister& l, const std::string& org, const std::string& token,
                     const std::string& what) {
    Page p = l.call(org, token);
    ++calls_;
    EXPECT_EQ(p.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << l.rpc << " " << what << ": " << p.status.error_message();
  }

  // Each list's own token, of both orgs, into `valid`: the lists page, and
  // the test's list ids are the services' (a token minted here is
  // accepted).
  void CollectValidTokens(std::map<std::string, std::map<std::string, std::string>>& valid) {
    for (const Lister& l : listers_) {
      for (const std::string org : {"kjj", "jyj"}) {
        Page first = l.call(org, "");
        ASSERT_TRUE(first.status.ok()) << l.rpc << ": " << first.status.error_message();
        ASSERT_EQ(first.items, 1) << l.rpc;
        ASSERT_FALSE(first.next.empty()) << l.rpc << " has no second page";
        valid[l.rpc][org] = first.next;
        Page second = l.call(org, first.next);
        ASSERT_TRUE(second.status.ok()) << l.rpc << ": " << second.status.error_message();
        EXPECT_EQ(second.items, 1) << l.rpc;
        std::string minted;
        if (l.cursor) {
          auto cursor = DecodeCursorToken(l.list_id(org), first.next);
          ASSERT_TRUE(cursor.ok()) << l.rpc << ": " << cursor.status();
          minted = EncodeCursorToken(l.list_id(org), *cursor);
        } else {
          auto offset = DecodePageToken(l.list_id(org), first.next);
          ASSERT_TRUE(offset.ok()) << l.rpc << ": " << offset.status();
          minted = EncodePageToken(l.list_id(org), *offset);
        }
        EXPECT_EQ(minted, first.next) << l.rpc;
      }
    }
  }

  // Random text, random base64url, old formats and raw ids.
  static std::vector<std::string> ForgedTokens() {
    std::mt19937 rng(9);
    auto random_bytes = [&](size_t n) {
      std::string s(n, '\0');
      for (char& c : s) c = static_cast<char>(rng() & 0xff);
      return s;
    };
    // What can travel in a protobuf string: UTF-8 (arbitrary bytes are for
    // the decoder's own tests and its fuzzer).
    auto random_text = [&](size_t n) {
      std::string s;
      while (s.size() < n) {
        if (rng() % 8 == 0) {
          s += "页";
        } else {
          s += static_cast<char>(1 + rng() % 127);
        }
      }
      return s;
    };
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::vector<std::string> forged;
    for (size_t n : {1, 2, 3, 4, 8, 16, 40, 41, 43, 44, 60, 100, 511, 512, 513, 4096}) {
      forged.push_back(random_text(n));
      std::string text(n, 'A');
      for (char& c : text) c = alphabet[rng() % alphabet.size()];
      forged.push_back(text);
      forged.push_back(absl::WebSafeBase64Escape(random_bytes(n)));
    }
    // Old formats: base64url("list|offset"), the approval service's raw ids
    // and raw history offsets.
    for (const char* list :
         {"indicators", "orgs", "templates", "tokens:kjj", "reports:0", "prov:x:2023", "kjj"}) {
      for (const char* offset : {"0", "1", "-1", "4294967295", "2147483648", "9223372036854775807",
                                 "99999999999999999999"}) {
        forged.push_back(absl::WebSafeBase64Escape(absl::StrCat(list, "|", offset)));
      }
    }
    for (const char* raw : {"0", "1", "-1", "4294967295", "9223372036854775807", "kjj-director",
                            "annual", "zzzzzzzz", "first", "(", "[", "+", "-", "a b", "a|b"}) {
      forged.emplace_back(raw);
    }
    return forged;
  }

  // `forged`, then truncated, bit-flipped, other lists' and orgs' and
  // minted tokens to list `l` of kjj.
  void Attack(const Lister& l, const std::vector<std::string>& forged,
              const std::map<std::string, std::map<std::string, std::string>>& valid) {
    const std::string& mine = valid.at(l.rpc).at("kjj");
    for (size_t i = 0; i < forged.size(); ++i) {
      ExpectSane(l, "kjj", forged[i], absl::StrCat("forged #", i));
    }
    // Truncated, and each byte with one bit flipped: always refused.
    for (size_t n = 1; n < mine.size(); ++n) {
      ExpectRefused(l, "kjj", mine.substr(0, n), absl::StrCat("truncated to ", n));
    }
    std::string raw;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(mine, &raw));
    for (size_t i = 0; i < raw.size(); ++i) {
      std::string flipped = raw;
      flipped[i] ^= static_cast<char>(1 << (i % 8));
      ExpectRefused(l, "kjj", absl::WebSafeBase64Escape(flipped),
                    absl::StrCat("bit flipped in ", i));
    }
    // Another list's token, and this list's token of the other org.
    for (const auto& [rpc, by_org] : valid) {
      if (rpc == l.rpc) continue;
      // The assembler relays records' provenance tokens, so those two
      // lists are one.
      bool same = absl::StrContains(rpc, "Provenance") && absl::StrContains(l.rpc, "Provenance");
      if (!same) ExpectRefused(l, "kjj", by_org.at("kjj"), absl::StrCat("a token of ", rpc));
      ExpectRefused(l, "kjj", by_org.at("jyj"), absl::StrCat("a jyj token of ", rpc));
    }
    // ListOrgs as the operator is the same list for both orgs.
    if (l.rpc != "ListOrgs (operator)") {
      ExpectRefused(l, "kjj", valid.at(l.rpc).at("jyj"), "this list's token of another org");
    }
    // Minted under the servers' key with extreme values.
    const std::string list = l.list_id("kjj");
    for (int64_t offset :
         {int64_t{-1}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
          int64_t{2147483647}, int64_t{2147483648}, int64_t{4294967295}, int64_t{1000000000000},
          kMaxPageOffset, kMaxPageOffset + 1}) {
      ExpectSane(l, "kjj", EncodePageToken(list, offset), absl::StrCat("minted offset ", offset));
    }
    for (const std::string& cursor :
         {std::string(), std::string(kMaxPageCursorBytes, 'z'),
          std::string(kMaxPageCursorBytes + 1, 'z'), std::string(10000, 'z'), std::string("\0", 1),
          std::string("a b"), std::string("a,b"), std::string("a|b"), std::string("("),
          std::string("["), std::string("-"), std::string("+"), std::string("\xff\xfe"),
          std::string("zzzzzzzz"), std::string("0")}) {
      ExpectSane(l, "kjj", EncodeCursorToken(list, cursor),
                 absl::StrCat("minted cursor of ", cursor.size(), " bytes"));
    }
  }

  std::unique_ptr<Stack> stack_;
  std::shared_ptr<grpc::Channel> records_, templates_;
  std::map<std::string, testing::OrgTokens> tokens_;
  std::map<std::string, std::string> approval_, revision_;
  std::vector<Lister> listers_;
  int calls_ = 0;
};

TEST_F(PageTokenAttackTest, ForgedTokensToEveryListAreRefusedOrGiveASanePage) {
  std::map<std::string, std::map<std::string, std::string>> valid;
  ASSERT_NO_FATAL_FAILURE(CollectValidTokens(valid));
  const std::vector<std::string> forged = ForgedTokens();
  for (const Lister& l : listers_) ASSERT_NO_FATAL_FAILURE(Attack(l, forged, valid));
  // Past the end is an empty page, not a crash.
  for (const Lister& l : listers_) {
    if (l.cursor) continue;
    Page p = l.call("kjj", EncodePageToken(l.list_id("kjj"), int64_t{4294967295}));
    EXPECT_TRUE(p.status.ok()) << l.rpc << ": " << p.status.error_message();
    EXPECT_EQ(p.items, 0) << l.rpc;
    EXPECT_TRUE(p.next.empty()) << l.rpc;
  }
  // Every server still serves.
  for (const Lister& l : listers_) {
    for (const std::string org : {"kjj", "jyj"}) {
      Page p = l.call(org, valid[l.rpc][org]);
      EXPECT_TRUE(p.status.ok()) << l.rpc << ": " << p.status.error_message();
    }
  }
  EXPECT_GT(calls_, 1000);
}

}  // namespace
}  // namespace govreport::assembler
