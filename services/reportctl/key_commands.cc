// reportctl commands of an org's signing keys, and verifying a downloaded
// document against its published revision (docs/signing.md).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/enums.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/reports_helpers.h"

namespace govreport::cli {
namespace {

namespace rpt = ::govreport::assembler::v1;
namespace typepb = ::govreport::type::v1;

rpt::ReportService::Stub Reports(Context& c) {
  return rpt::ReportService::Stub(c.Channel("assembler"));
}

void PrintKey(const rpt::SigningKey& k) {
  Table t({"field", "value"});
  t.Add({"name", k.name()});
  t.Add({"state", std::string(ShortEnumName(k.state()))});
  t.Add({"algorithm", k.algorithm()});
  t.Add({"valid", absl::StrCat(Time(k.not_before()), " .. ", Time(k.not_after()))});
  t.Add({"certificate sha256", k.certificate_sha256()});
  t.Add({"created", absl::StrCat(Time(k.create_time()), " by ", k.created_by())});
  if (k.has_retire_time()) t.Add({"retired", Time(k.retire_time())});
  t.Print();
}

int KeyCreate(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  rpt::CreateSigningKeyRequest req;
  req.set_parent(OrgName(c.args[0]));
  if (c.flags().IsSet("validity-days")) {
    auto days = c.flags().GetInt("validity-days");
    if (!days.ok()) return UsageError(cmd, std::string(days.status().message()));
    req.set_validity_days(static_cast<int32_t>(*days));
  }
  req.set_request_id(RequestId(c));
  rpt::SigningKey resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).CreateSigningKey(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  PrintKey(resp);
  return kOk;
}

int KeyList(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the org");
  rpt::ListSigningKeysRequest req;
  req.set_parent(OrgName(c.args[0]));
  rpt::ListSigningKeysResponse all;
  do {
    rpt::ListSigningKeysResponse page;
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Reports(c).ListSigningKeys(&ctx, req, &page);
    if (!st.ok()) return Fail(st);
    for (auto& k : *page.mutable_signing_keys()) *all.add_signing_keys() = std::move(k);
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  if (c.json()) {
    PrintJson(all);
    return kOk;
  }
  Table t({"name", "state", "valid until", "certificate sha256", "created", "retired"});
  for (const auto& k : all.signing_keys()) {
    t.Add({k.name(), std::string(ShortEnumName(k.state())), Time(k.not_after()),
           k.certificate_sha256(), Time(k.create_time()), Time(k.retire_time())});
  }
  t.Print();
  return kOk;
}

bool WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

// What a recipient needs to check the signature with openssl alone.
int Export(const Command& cmd, const std::string& dir, const rpt::VerifyDocumentResponse& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path d(dir);
  if (!WriteFile(d / "manifest.txt", r.signature().manifest()) ||
      !WriteFile(d / "signature.der", r.signature().signature()) ||
      !WriteFile(d / "public-key.pem", r.signing_key().public_key_pem()) ||
      !WriteFile(d / "certificate.pem", r.signing_key().certificate_pem())) {
    return UsageError(cmd, "cannot write into " + dir);
  }
  std::cout << "wrote " << dir << "/{manifest.txt,signature.der,public-key.pem,certificate.pem}\n"
            << "check with openssl alone:\n"
            << "  openssl dgst -sm3 -verify " << dir << "/public-key.pem -sigopt "
            << "distid:1234567812345678 -signature " << dir << "/signature.der " << dir
            << "/manifest.txt\n"
            << "  sha256sum FILE   # must equal the FILE's format line of manifest.txt\n";
  return kOk;
}

int ReportVerify(Context& c, const Command& cmd) {
  if (c.args.size() < 2) return UsageError(cmd, "give the report and at least one file");
  const std::string name = ReportName(c.args[0]);
  int64_t n = 0;
  if (c.flags().IsSet("revision")) {
    auto v = c.flags().GetInt("revision");
    if (!v.ok()) return UsageError(cmd, std::string(v.status().message()));
    n = *v;
  } else {
    auto r = FetchReport(c, name, false);
    if (!r.ok()) return Fail(r.status());
    n = r->published_revision();
    if (n == 0) return Fail(absl::FailedPreconditionError(name + " is not published"));
  }
  bool all_valid = true;
  rpt::VerifyDocumentResponse last;
  for (size_t i = 1; i < c.args.size(); ++i) {
    const std::string& file = c.args[i];
    const std::string ext =
        absl::AsciiStrToLower(std::filesystem::path(file).extension().string().substr(1));
    auto format = ParseFormat(c.flags().IsSet("format") ? c.flags().Get("format") : ext);
    if (!format.ok()) {
      return UsageError(cmd, absl::StrCat(file, ": no format from its name; give --format"));
    }
    rpt::VerifyDocumentRequest req;
    req.set_name(absl::StrCat(name, "/revisions/", n));
    req.set_format(*format);
    if (!ReadInput(file, req.mutable_content())) return UsageError(cmd, "cannot read " + file);
    grpc::ClientContext ctx;
    c.Prepare(ctx);
    auto st = Reports(c).VerifyDocument(&ctx, req, &last);
    if (!st.ok()) return Fail(st);
    all_valid = all_valid && last.valid();
    if (c.json()) {
      PrintJson(last);
      continue;
    }
    std::cout << file << ": " << (last.valid() ? "VALID" : "NOT VALID") << " ("
              << ShortEnumName(*format) << " of " << req.name() << ", sha256 "
              << last.content_sha256() << ")\n";
    if (last.has_signature()) {
      std::cout << "  signed by " << last.signature().signing_key() << " ("
                << std::string(ShortEnumName(last.signing_key().state())) << ") at "
                << Time(last.signature().signing_time()) << "\n";
    }
    for (const auto& p : last.problems()) std::cout << "  " << p << "\n";
  }
  if (c.flags().IsSet("export") && last.has_signature()) {
    if (int code = Export(cmd, c.flags().Get("export"), last); code != kOk) return code;
  }
  // Like a failed check of a file: the exit code says it.
  return all_valid ? kOk : kUsage;
}

}  // namespace

void RegisterSigningCommands(std::vector<Command>& commands) {
  AddCommand(commands, "key create", "ORG [--validity-days N]",
             "Org admins: a new SM2 signing key with a self-signed SM2-with-SM3 certificate. It "
             "signs every publication from now on; the key it replaces is retired and still "
             "verifies what it signed.",
             {{"validity-days", "0", "Certificate validity (0: 730 days; at most 3650)"}},
             KeyCreate);
  AddCommand(commands, "key list", "ORG", "The org's signing keys, oldest first.", {}, KeyList);
  AddCommand(commands, "report verify", "REPORT FILE... [--revision N] [--export DIR]",
             "Check downloaded documents against the published revision: the bytes against its "
             "manifest, the SM2 signature over the manifest, and the key's validity at signing. "
             "The format comes from each file's extension (txt, md, html, docx) or --format. "
             "Exit 2 when a file does not verify. --export writes the manifest, signature and "
             "key for checking with openssl alone.",
             {{"revision", "", "The revision (default: the published one)"},
              {"format", "", "The format of every file, instead of their extensions"},
              {"export", "", "Write manifest.txt, signature.der, public-key.pem here"}},
             ReportVerify);
}

}  // namespace govreport::cli
