// reportctl commands of the templates service.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "govreport/templates/v1/templates.grpc.pb.h"
#include "reportctl/cli.h"

namespace govreport::cli {
namespace {

namespace tpb = ::govreport::templates::v1;
namespace typepb = ::govreport::type::v1;

tpb::TemplateService::Stub Templates(Context& c) {
  return tpb::TemplateService::Stub(c.Channel("templates"));
}

// "kjj" → orgs/kjj; "-" or "shared" → "" (a shared template).
std::string Parent(const std::string& org) {
  return org == "-" || org == "shared" ? "" : OrgName(org);
}

void PrintTemplate(Context& c, const tpb::Template& t, bool with_text) {
  if (c.json()) return PrintJson(t);
  std::cout << t.name() << "@" << t.revision() << "  sha256:" << t.digest().substr(0, 16) << "  by "
            << t.created_by() << "\n";
  if (!t.description().empty()) std::cout << t.description() << "\n";
  if (with_text) std::cout << "\n" << t.text() << "\n";
}

int PrintProblems(const std::string& file,
                  const google::protobuf::RepeatedPtrField<tpb::Problem>& problems) {
  for (const auto& p : problems) {
    std::cerr << file << ":" << p.line() << ":" << p.column() << ": " << p.message();
    if (!p.suggestion().empty()) std::cerr << " (did you mean '" << p.suggestion() << "'?)";
    std::cerr << "\n";
  }
  return problems.empty() ? kOk : kUsage;
}

int TemplateCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org (or 'shared'), the id and the file");
  tpb::CreateTemplateRequest req;
  req.set_parent(Parent(c.args[0]));
  req.set_template_id(c.args[1]);
  if (!ReadInput(c.args[2], req.mutable_text())) return UsageError(cmd, "cannot read " + c.args[2]);
  req.set_description(c.flags().Get("description"));
  req.set_request_id(RequestId(c));
  tpb::Template resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Templates(c).CreateTemplate(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintTemplate(c, resp, false);
  return kOk;
}

int TemplateUpdate(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the template name and the file");
  tpb::UpdateTemplateRequest req;
  req.set_name(c.args[0]);
  if (!ReadInput(c.args[1], req.mutable_text())) return UsageError(cmd, "cannot read " + c.args[1]);
  req.set_description(c.flags().Get("description"));
  req.set_expected_revision(c.flags().GetInt("expected-revision").value_or(0));
  req.set_allow_orphaned_blocks(c.flags().Get("allow-orphaned-blocks") == "true");
  req.set_request_id(RequestId(c));
  tpb::Template resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Templates(c).UpdateTemplate(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintTemplate(c, resp, false);
  return kOk;
}

int TemplateShow(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the template name (NAME or NAME@REVISION)");
  tpb::GetTemplateRequest req;
  req.set_name(c.args[0]);
  tpb::Template resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Templates(c).GetTemplate(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintTemplate(c, resp, true);
  return kOk;
}

int TemplateList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org (or 'shared')");
  tpb::ListTemplatesRequest req;
  req.set_parent(Parent(c.args[0]));
  tpb::ListTemplatesResponse all;
  do {
    tpb::ListTemplatesResponse resp;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Templates(c).ListTemplates(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (auto& t : *resp.mutable_templates()) *all.add_templates() = std::move(t);
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"name", "revision", "sha256", "description"});
  for (const auto& x : all.templates()) {
    t.Add({x.name(), absl::StrCat(x.revision()), x.digest().substr(0, 16), x.description()});
  }
  t.Print();
  return kOk;
}

int TemplateValidate(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the org and the template file");
  tpb::ValidateTemplateRequest req;
  req.set_parent(OrgName(c.args[0]));
  if (!ReadInput(c.args[1], req.mutable_text())) return UsageError(cmd, "cannot read " + c.args[1]);
  tpb::ValidateTemplateResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Templates(c).ValidateTemplate(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return resp.valid() ? kOk : kUsage;
  }
  int rc = PrintProblems(c.args[1], resp.problems());
  if (rc == kOk) std::cout << c.args[1] << ": valid\n";
  return rc;
}

int TemplatePreview(Context& c, const Command& cmd) {
  if (c.args.size() != 3) return UsageError(cmd, "give the org, the template name and the period");
  tpb::PreviewRequest req;
  req.set_parent(OrgName(c.args[0]));
  req.set_template_(c.args[1]);
  req.set_period(c.args[2]);
  std::string format = c.flags().Get("format");
  req.set_format(format == "md"     ? typepb::DOCUMENT_FORMAT_MD
                 : format == "html" ? typepb::DOCUMENT_FORMAT_HTML
                 : format == "docx" ? typepb::DOCUMENT_FORMAT_DOCX
                 : format == "pdf"  ? typepb::DOCUMENT_FORMAT_PDF
                 : format == "ofd"  ? typepb::DOCUMENT_FORMAT_OFD
                                    : typepb::DOCUMENT_FORMAT_TXT);
  tpb::RenderResponse resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Templates(c).Preview(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  std::string out = c.flags().Get("out");
  if (!out.empty()) {
    std::ofstream f(out, std::ios::binary);
    f << resp.content();
    if (!f) return UsageError(cmd, "cannot write " + out);
  } else if (req.format() == typepb::DOCUMENT_FORMAT_DOCX ||
             req.format() == typepb::DOCUMENT_FORMAT_PDF ||
             req.format() == typepb::DOCUMENT_FORMAT_OFD) {
    return UsageError(cmd, "a DOCX, PDF or OFD needs --out FILE");
  } else {
    std::cout << resp.content();
  }
  for (const auto& m : resp.missing()) std::cerr << "missing: " << m << "\n";
  return kOk;
}

}  // namespace

void RegisterTemplateCommands(std::vector<Command>& commands) {
  AddCommand(commands, "template create", "ORG|shared ID FILE [--description TEXT]",
             "Store a new template (checked against the org's profile first). 'shared' makes a "
             "city-wide template other orgs may inherit (operator only).",
             {{"description", "", "What the template is for, shown in template list"}},
             TemplateCreate);
  AddCommand(commands, "template update",
             "NAME FILE [--expected-revision N] [--allow-orphaned-blocks true]",
             "Store a new immutable revision of a template. A parent whose new text drops a "
             "block that templates extending it override is refused, naming them and their "
             "orgs, unless --allow-orphaned-blocks true.",
             {{"description", "", "What the template is for, shown in template list"},
              {"expected-revision", "0", "Refuse unless the latest revision is N (0: no check)"},
              {"allow-orphaned-blocks", "false",
               "true: save even if templates extending this one would override nothing"}},
             TemplateUpdate);
  AddCommand(commands, "template show", "NAME[@REVISION]", "Show a template and its text.", {},
             TemplateShow);
  AddCommand(commands, "template list", "ORG|shared", "List templates.", {}, TemplateList);
  AddCommand(commands, "template validate", "ORG FILE",
             "Check a template file against the org's profile: every unknown name, unclosed "
             "section and missing partial, with line:column and the closest valid name. Exit 2 "
             "when invalid.",
             {}, TemplateValidate);
  AddCommand(
      commands, "template preview",
      "ORG NAME PERIOD [--format text|md|html|docx|pdf|ofd] [--out FILE]",
      "Render a template against the org's live figures for a period.",
      {{"format", "text", "text, md, html, docx, pdf or ofd"},
       {"out", "", "Write to this file instead of standard output (a docx, pdf or ofd needs it)"}},
      TemplatePreview);
}

}  // namespace govreport::cli
