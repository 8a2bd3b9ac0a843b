// reportctl commands of an org's signing keys, and verifying a downloaded
// document against its published revision (docs/signing.md).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/signing.h"
#include "govreport/assembler/v1/reports.grpc.pb.h"
#include "reportctl/cli.h"
#include "reportctl/reports_helpers.h"
#include "templates/layout/ofd_sign.h"

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
  if (!k.certificate_issuer().empty()) t.Add({"issuer", k.certificate_issuer()});
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
  Table t({"name", "state", "valid until", "issuer", "certificate sha256", "created", "retired"});
  for (const auto& k : all.signing_keys()) {
    // "(checked)": the chain to a CA of --signing-ca-file was verified.
    std::string issuer =
        absl::StrCat(k.certificate_issuer(), k.certificate_chain_verified() ? " (checked)" : "");
    t.Add({k.name(), std::string(ShortEnumName(k.state())), Time(k.not_after()), issuer,
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

// "kjj/1" → orgs/kjj/signingKeys/1; a full name stays.
std::string SigningKeyName(const std::string& arg) {
  std::vector<std::string> parts = absl::StrSplit(arg, '/');
  if (parts.size() == 2) return absl::StrCat("orgs/", parts[0], "/signingKeys/", parts[1]);
  return arg;
}

int KeyCsr(Context& c, const Command& cmd) {
  if (c.args.size() != 1) return UsageError(cmd, "give the key (ORG/N)");
  rpt::CreateCertificateSigningRequestRequest req;
  req.set_name(SigningKeyName(c.args[0]));
  rpt::CertificateSigningRequest resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).CreateCertificateSigningRequest(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  if (c.flags().IsSet("out")) {
    if (!WriteFile(c.flags().Get("out"), resp.csr_pem())) {
      return UsageError(cmd, "cannot write " + c.flags().Get("out"));
    }
    std::cerr << "wrote the request of " << resp.signing_key() << " (" << resp.subject() << ") to "
              << c.flags().Get("out") << "\n";
    return kOk;
  }
  std::cout << resp.csr_pem();
  return kOk;
}

int KeyImportCertificate(Context& c, const Command& cmd) {
  if (c.args.size() != 2) return UsageError(cmd, "give the key (ORG/N) and the certificate file");
  rpt::ImportCertificateRequest req;
  req.set_name(SigningKeyName(c.args[0]));
  if (!ReadInput(c.args[1], req.mutable_certificate_pem())) {
    return UsageError(cmd, "cannot read " + c.args[1]);
  }
  rpt::SigningKey resp;
  grpc::ClientContext ctx;
  c.Prepare(ctx);
  auto st = Reports(c).ImportCertificate(&ctx, req, &resp);
  if (!st.ok()) return Fail(st);
  if (c.json()) {
    PrintJson(resp);
    return kOk;
  }
  PrintKey(resp);
  return kOk;
}

// RFC 3339 in UTC: read back by --offline wherever the bundle travels.
std::string SigningTimeText(const google::protobuf::Timestamp& t) {
  return absl::StrCat(
      absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone()),
      "\n");
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
      !WriteFile(d / "certificate.pem", r.signing_key().certificate_pem()) ||
      !WriteFile(d / "signing-time.txt", SigningTimeText(r.signature().signing_time()))) {
    return UsageError(cmd, "cannot write into " + dir);
  }
  std::cout << "wrote " << dir
            << "/{manifest.txt,signature.der,public-key.pem,certificate.pem,signing-time.txt}\n"
            << "check without the server: reportctl report verify --offline " << dir
            << " FILE... --certificate-sha256 " << r.signing_key().certificate_sha256() << "\n"
            << "check with openssl alone:\n"
            << "  openssl dgst -sm3 -verify " << dir << "/public-key.pem -sigopt "
            << "distid:1234567812345678 -signature " << dir << "/signature.der " << dir
            << "/manifest.txt\n"
            << "  sha256sum FILE   # must equal the FILE's format line of manifest.txt\n";
  return kOk;
}

// The format lines of a manifest ("DOCX 3f…"): format name → SHA-256.
std::map<std::string, std::string> ManifestLines(absl::string_view manifest) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(manifest, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() == 2) out[parts[0]] = parts[1];
  }
  return out;
}

// What --offline trusts: an exported bundle's signature, checked against its
// own certificate (pinned by --certificate-sha256), and the signing time.
struct OfflineBundle {
  std::string manifest, signature, certificate_pem;
  signing::CertificateInfo certificate;
  std::vector<std::string> problems;  // of the bundle, true for every file
};

absl::StatusOr<OfflineBundle> ReadBundle(const std::string& dir, const std::string& pin) {
  namespace fs = std::filesystem;
  OfflineBundle b;
  std::string when;
  for (auto [name, into] :
       {std::pair{"manifest.txt", &b.manifest}, std::pair{"signature.der", &b.signature},
        std::pair{"certificate.pem", &b.certificate_pem}, std::pair{"signing-time.txt", &when}}) {
    if (!ReadInput((fs::path(dir) / name).string(), into)) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, "/", name,
                       " cannot be read: --offline takes the folder `report verify --export` "
                       "wrote"));
    }
  }
  auto cert = signing::ReadCertificate(b.certificate_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/certificate.pem: ", cert.status().message()));
  }
  b.certificate = *std::move(cert);
  if (!pin.empty() && absl::AsciiStrToLower(pin) != b.certificate.sha256_hex) {
    b.problems.push_back(absl::StrCat("the certificate (sha256 ", b.certificate.sha256_hex,
                                      ") is not the pinned one (", pin, ")"));
  }
  const absl::Status verified = signing::Verify(b.certificate_pem, b.manifest, b.signature);
  if (!verified.ok()) b.problems.push_back(absl::StrCat("signature: ", verified.message()));
  absl::Time at;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, absl::StripAsciiWhitespace(when), &at, &error)) {
    b.problems.push_back(absl::StrCat("signing-time.txt: ", error));
  } else if (at < b.certificate.not_before || at > b.certificate.not_after) {
    b.problems.emplace_back("the certificate was not valid at the signing time");
  }
  return b;
}

// report verify --offline DIR FILE...: no server, the exported bundle only.
int ReportVerifyOffline(Context& c, const Command& cmd) {
  if (c.args.empty()) return UsageError(cmd, "give at least one file");
  const std::string pin = c.flags().Get("certificate-sha256");
  auto bundle = ReadBundle(c.flags().Get("offline"), pin);
  if (!bundle.ok()) return UsageError(cmd, std::string(bundle.status().message()));
  const std::map<std::string, std::string> listed = ManifestLines(bundle->manifest);
  std::cout << "signed by " << bundle->certificate.subject << " (certificate sha256 "
            << bundle->certificate.sha256_hex << (pin.empty() ? ", not pinned" : "") << ")\n";
  bool all_valid = true;
  for (const std::string& file : c.args) {
    const std::string ext =
        absl::AsciiStrToLower(std::filesystem::path(file).extension().string().substr(1));
    auto format = ParseFormat(c.flags().IsSet("format") ? c.flags().Get("format") : ext);
    if (!format.ok()) {
      return UsageError(cmd, absl::StrCat(file, ": no format from its name; give --format"));
    }
    std::string content;
    if (!ReadInput(file, &content)) return UsageError(cmd, "cannot read " + file);
    const std::string name = absl::AsciiStrToUpper(ShortEnumName(*format));
    const std::string digest = Sha256Hex(content);
    std::vector<std::string> problems = bundle->problems;
    auto it = listed.find(name);
    if (it == listed.end()) {
      problems.push_back(absl::StrCat("the manifest lists no ", name));
    } else if (it->second != digest) {
      problems.push_back(absl::StrCat("the bytes are not the signed ", name, ": SHA-256 ", digest,
                                      ", signed ", it->second));
    }
    if (*format == typepb::DOCUMENT_FORMAT_OFD) {
      // The package's own signature (GB/T 38540 structure), by the same key.
      const absl::Status inner = layout::VerifyOfdSignedBy(content, bundle->certificate_pem);
      if (!inner.ok())
        problems.push_back(absl::StrCat("the OFD's own signature: ", inner.message()));
    }
    all_valid = all_valid && problems.empty();
    std::cout << file << ": " << (problems.empty() ? "VALID" : "NOT VALID") << " (" << name
              << ", sha256 " << digest << ")\n";
    for (const auto& p : problems) std::cout << "  " << p << "\n";
  }
  if (pin.empty()) {
    std::cout << "the certificate is the bundle's own: compare its sha256 with the org's "
                 "(reportctl key list, or as the org publishes it) or give --certificate-sha256\n";
  }
  return all_valid ? kOk : kUsage;
}

int ReportVerify(Context& c, const Command& cmd) {
  if (c.flags().IsSet("offline")) return ReportVerifyOffline(c, cmd);
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
  AddCommand(commands, "key csr", "ORG/N [--out FILE]",
             "Org admins: a PKCS#10 certificate signing request of the key (SM2-with-SM3), for "
             "a CA to issue its certificate; the private key never leaves the assembler.",
             {{"out", "", "Write the request (PEM) here instead of standard output"}}, KeyCsr);
  AddCommand(commands, "key import-certificate", "ORG/N FILE",
             "Org admins: the certificate a CA issued for the key (PEM; the CA's intermediates "
             "may follow it in FILE) becomes the key's; its earlier certificates are kept, so "
             "what it signed still verifies. With the assembler's --signing-ca-file it must "
             "chain to one of those CAs.",
             {}, KeyImportCertificate);
  AddCommand(commands, "report verify",
             "REPORT FILE... [--revision N] [--export DIR] | --offline DIR FILE...",
             "Check downloaded documents against the published revision: the bytes against its "
             "manifest, the SM2 signature over the manifest, and the key's validity at signing. "
             "The format comes from each file's extension (txt, md, html, docx, pdf) or "
             "--format. Exit 2 when a file does not verify. --export writes the manifest, "
             "signature, key and signing time for checking without the server (--offline) or "
             "with openssl alone.",
             {{"revision", "", "The revision (default: the published one)"},
              {"format", "", "The format of every file, instead of their extensions"},
              {"export", "", "Write manifest.txt, signature.der, public-key.pem here"},
              {"offline", "",
               "Check the files against the bundle --export wrote in this folder, without the "
               "server"},
              {"certificate-sha256", "",
               "With --offline: the org's certificate fingerprint the bundle's must equal"}},
             ReportVerify);
}

}  // namespace govreport::cli
