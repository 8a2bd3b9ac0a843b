// reportctl commands of an org's document settings (版头, 版记) and its
// 发文字号 register, both kept by the assembler.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/reports_helpers.h"

namespace govreport::cli {
namespace {

namespace rpt = ::govreport::assembler::v1;

rpt::ReportService::Stub Reports(Context& c) {
  return rpt::ReportService::Stub(c.Channel("assembler"));
}

std::string SettingsName(const std::string& org) {
  return absl::StrCat(OrgName(org), "/documentSettings");
}

// "orgs/kjj/documentNumbers/3" as given, or the short "kjj/3".
std::string NumberName(const std::string& arg) {
  if (absl::StartsWith(arg, "orgs/")) return arg;
  std::vector<std::string> parts = absl::StrSplit(arg, '/');
  if (parts.size() == 2) return absl::StrCat("orgs/", parts[0], "/documentNumbers/", parts[1]);
  return arg;
}

void PrintSettings(Context& c, const rpt::DocumentSettings& s) {
  if (c.json()) {
    PrintJson(s);
    return;
  }
  Table t({"field", "value"});
  t.Add({"name", s.name()});
  t.Add({"issuing_mark", s.issuing_mark()});
  t.Add({"code", s.code()});
  t.Add({"main_recipients", s.main_recipients()});
  t.Add({"copy_to", s.copy_to()});
  t.Add({"printing_org", s.printing_org()});
  t.Add({"upward", s.upward() ? "true" : "false"});
  t.Add({"note", s.note()});
  t.Add({"secrecy", s.secrecy()});
  t.Add({"urgency", s.urgency()});
  t.Add({"sealed", s.sealed() ? "true" : "false"});
  t.Add({"seal_image", s.seal_image().empty()
                           ? std::string("none")
                           : absl::StrCat("PNG, ", s.seal_image().size(), " bytes, sha256 ",
                                          Sha256Hex(s.seal_image()).substr(0, 16))});
  t.Add({"revision", absl::StrCat(s.revision())});
  t.Add({"updated", absl::StrCat(Time(s.update_time()), " ", s.updated_by())});
  t.Print();
}

int SettingsGet(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  rpt::GetDocumentSettingsRequest req;
  req.set_name(SettingsName(c.args[0]));
  rpt::DocumentSettings resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).GetDocumentSettings(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintSettings(c, resp);
  return kOk;
}

// The text flags of `settings set` and the field each one sets.
struct TextFlag {
  const char* flag;
  const char* path;
  void (rpt::DocumentSettings::*set)(const std::string&);
};

int SettingsSet(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  Flags& f = c.flags();
  rpt::UpdateDocumentSettingsRequest req;
  rpt::DocumentSettings* s = req.mutable_document_settings();
  s->set_name(SettingsName(c.args[0]));
  const TextFlag texts[] = {
      {"issuing-mark", "issuing_mark", &rpt::DocumentSettings::set_issuing_mark},
      {"code", "code", &rpt::DocumentSettings::set_code},
      {"main-recipients", "main_recipients", &rpt::DocumentSettings::set_main_recipients},
      {"copy-to", "copy_to", &rpt::DocumentSettings::set_copy_to},
      {"printing-org", "printing_org", &rpt::DocumentSettings::set_printing_org},
      {"note", "note", &rpt::DocumentSettings::set_note},
      {"secrecy", "secrecy", &rpt::DocumentSettings::set_secrecy},
      {"urgency", "urgency", &rpt::DocumentSettings::set_urgency},
  };
  for (const TextFlag& t : texts) {
    if (!f.IsSet(t.flag)) continue;
    (s->*t.set)(f.Get(t.flag));
    req.add_update_mask(t.path);
  }
  for (const char* flag : {"upward", "sealed"}) {
    if (!f.IsSet(flag)) continue;
    bool value = false;
    if (!absl::SimpleAtob(f.Get(flag), &value)) {
      return UsageError(cmd,
                        absl::StrCat("--", flag, " wants true or false, got '", f.Get(flag), "'"));
    }
    if (std::string(flag) == "upward") {
      s->set_upward(value);
    } else {
      s->set_sealed(value);
    }
    req.add_update_mask(flag);
  }
  if (f.IsSet("seal-image")) {
    // An empty path removes the image.
    std::string png;
    if (!f.Get("seal-image").empty() && !ReadInput(f.Get("seal-image"), &png)) {
      return UsageError(cmd, absl::StrCat("cannot read --seal-image ", f.Get("seal-image")));
    }
    s->set_seal_image(std::move(png));
    req.add_update_mask("seal_image");
  }
  if (req.update_mask().empty()) return UsageError(cmd, "nothing to change");
  req.set_expected_revision(f.GetInt("expected-revision").value_or(0));
  req.set_request_id(RequestId(c));
  rpt::DocumentSettings resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).UpdateDocumentSettings(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  PrintSettings(c, resp);
  return kOk;
}

const char* StateName(rpt::DocumentNumberState s) {
  return s == rpt::DOCUMENT_NUMBER_STATE_VOIDED ? "VOIDED" : "ISSUED";
}

int DocNumberList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  Flags& f = c.flags();
  rpt::ListDocumentNumbersRequest req;
  req.set_parent(OrgName(c.args[0]));
  if (f.IsSet("code")) req.set_code(f.Get("code"));
  if (f.IsSet("year")) {
    auto year = f.GetInt("year");
    if (!year.ok() || *year < 1 || *year > 9999) return UsageError(cmd, "--year wants a year");
    req.set_year(static_cast<int32_t>(*year));
  }
  rpt::ListDocumentNumbersResponse all;
  do {
    rpt::ListDocumentNumbersResponse page;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Reports(c).ListDocumentNumbers(&ctx, req, &page);
    if (!st.ok()) return Fail(st);
    for (auto& n : *page.mutable_document_numbers()) *all.add_document_numbers() = std::move(n);
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"name", "number", "state", "revision", "published", "issued", "void"});
  for (const auto& n : all.document_numbers()) {
    std::string void_info;
    if (n.state() == rpt::DOCUMENT_NUMBER_STATE_VOIDED) {
      void_info = absl::StrCat(Clip(n.void_reason(), 60), " (", n.voided_by(), ", ",
                               Time(n.void_time()), ")");
    }
    t.Add({n.name(), n.display(), StateName(n.state()), n.revision(), n.published() ? "yes" : "no",
           Time(n.issue_time()), void_info});
  }
  t.Print();
  return kOk;
}

int DocNumberVoid(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the register entry (ORG/N)");
  if (c.flags().Get("reason").empty()) return UsageError(cmd, "--reason is required");
  rpt::VoidDocumentNumberRequest req;
  req.set_name(NumberName(c.args[0]));
  req.set_reason(c.flags().Get("reason"));
  req.set_request_id(RequestId(c));
  rpt::DocumentNumber resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).VoidDocumentNumber(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  std::cout << resp.display() << " (" << resp.name() << ") is voided: " << resp.void_reason()
            << "\n";
  return kOk;
}

}  // namespace

void RegisterDocumentCommands(std::vector<Command>& commands) {
  AddCommand(commands, "settings get", "ORG",
             "Show the org's document settings: the 发文机关标志, 机关代字 and the other parts "
             "of the 版头 and 版记 the signed documents carry.",
             {}, SettingsGet);
  AddCommand(
      commands, "settings set",
      "ORG [--issuing-mark T] [--code C] [--main-recipients T] [--copy-to T] [--printing-org T] "
      "[--upward true|false] [--note T] [--secrecy T] [--urgency T] [--sealed true|false] "
      "[--seal-image FILE.png] [--expected-revision N]",
      "Org admins: change the fields given (the others stay). The code (机关代字, e.g. 某科党) "
      "numbers signed reports 代字〔year〕N号; it cannot change while a signed report still waits "
      "to be published. An empty --code stops numbering (no 版头).",
      {{"issuing-mark", "", "发文机关标志 (中共某市科学技术局党组)"},
       {"code", "", "机关代字: CJK ideographs, ASCII letters and digits"},
       {"main-recipients", "", "主送机关"},
       {"copy-to", "", "抄送机关"},
       {"printing-org", "", "印发机关"},
       {"upward", "", "true: 上行文 (签发人 printed beside the 发文字号)"},
       {"note", "", "附注"},
       {"secrecy", "", "Default 密级 (秘密★1年)"},
       {"urgency", "", "Default 紧急程度 (特急, 加急)"},
       {"sealed", "", "true: the documents carry the seal"},
       {"seal-image", "",
        "The seal as a PNG (at most 512 KiB, transparent background), printed 42 mm wide over "
        "the 署名 and 成文日期 of the PDF and DOCX when --sealed is true; \"\" removes it"},
       {"expected-revision", "0", "Refuse unless the settings are at this revision (0: no check)"}},
      SettingsSet);
  AddCommand(commands, "docnumber list", "ORG [--code C] [--year Y]",
             "The org's 发文字号 register in the order allocated: each number, the report "
             "revision it went to, ISSUED or VOIDED and why.",
             {{"code", "", "Only this 机关代字"}, {"year", "", "Only this year"}}, DocNumberList);
  AddCommand(commands, "docnumber void", "ORG/N --reason R",
             "Org admins: void a number of the register (orgs/ORG/documentNumbers/N or ORG/N). "
             "It stays a gap and is never given again. A number whose report is still being "
             "published cannot be voided (a failed publication voids its own).",
             {{"reason", "", "Why it is voided (required)"}}, DocNumberVoid);
}

}  // namespace govreport::cli
