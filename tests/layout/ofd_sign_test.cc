// The GB/T 38540 signature structure inside an OFD, checked by tools that
// share no code with the signer: openssl takes the SM3 digest of each part
// against its Reference's CheckValue and verifies the SM2 SignedValue over
// Signature.xml with the public key; xmllint finds the new parts
// well-formed; VerifyOfdSignature catches a changed, added or missing part
// and another key's signature.
#include "templates/layout/ofd_sign.h"

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/signing.h"
#include "document_checks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/docx/zip_writer.h"
#include "templates/layout/ofd_writer.h"

namespace govreport::layout {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::OnPath;
using testing::ReadFile;
using testing::RunCommand;

constexpr std::chrono::sys_seconds kSignedAt{
    std::chrono::sys_days{std::chrono::year{2024} / 1 / 15} + std::chrono::hours{2}};

OfdSigner SignerOf(const std::string& private_pem) {
  OfdSigner s;
  s.sign = [private_pem](std::string_view data) {
    return signing::Sign(private_pem, absl::string_view(data.data(), data.size()));
  };
  s.time = kSignedAt;
  return s;
}

auto VerifierOf(const std::string& public_pem) {
  return [public_pem](std::string_view data, std::string_view sig) {
    return signing::Verify(public_pem, absl::string_view(data.data(), data.size()),
                           absl::string_view(sig.data(), sig.size()));
  };
}

// The package rebuilt from `parts` (as a tamperer would), zipped as the writer zips.
std::string Rezip(const std::vector<OfdPart>& parts) {
  std::vector<docx::internal::DeflatedEntry> entries;
  entries.reserve(parts.size());
  for (const OfdPart& p : parts) entries.push_back(*docx::internal::Deflate(p.name, p.bytes, 6));
  std::vector<const docx::internal::DeflatedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  return *docx::internal::ZipDeflated(order, docx::internal::DosTimeOf(kSignedAt));
}

class OfdSignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<signing::KeyPair> key = signing::GenerateSm2KeyPair();
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    absl::StatusOr<std::string> ofd =
        WriteOfficialOfd(ReadFile(fs::path(GR_DOCX_TESTDATA) / "seed_report.txt"), OfdOptions{});
    ASSERT_TRUE(ofd.ok()) << ofd.status();
    unsigned_ = *std::move(ofd);
    absl::StatusOr<std::string> signed_ofd = SignOfd(unsigned_, SignerOf(key_.private_pem));
    ASSERT_TRUE(signed_ofd.ok()) << signed_ofd.status();
    signed_ = *std::move(signed_ofd);
  }

  signing::KeyPair key_;
  std::string unsigned_, signed_;
};

TEST_F(OfdSignTest, OpensslVerifiesTheDigestsAndTheSignedValue) {
  for (const char* tool : {"unzip", "openssl", "xmllint", "base64"}) {
    if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  std::string dir = (fs::temp_directory_path() / "ofd_sign_XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::ofstream(fs::path(dir) / "signed.ofd", std::ios::binary) << signed_;
  std::ofstream(fs::path(dir) / "public.pem") << key_.public_pem;
  ASSERT_EQ(RunCommand(absl::StrCat("cd '", dir, "' && unzip -q signed.ofd -d x")).exit_code, 0);
  const fs::path x = fs::path(dir) / "x";
  for (const char* part : {"Doc_0/Signs/Signatures.xml", "Doc_0/Signs/Sign_0/Signature.xml"}) {
    EXPECT_EQ(RunCommand(absl::StrCat("xmllint --noout '", (x / part).string(), "'")).exit_code, 0)
        << part;
  }
  EXPECT_EQ(
      absl::StripTrailingAsciiWhitespace(
          RunCommand(absl::StrCat("xmllint --xpath \"string(//*[local-name()='Signatures' and "
                                  "parent::*[local-name()='DocBody']])\" '",
                                  (x / "OFD.xml").string(), "'"))
              .output),
      "Doc_0/Signs/Signatures.xml");
  // Signatures.xml and OFD.xml against the schema where one is at hand
  // (Signature.xml cannot be: the XSD's CheckMethod lists MD5 and SHA1
  // only, GB/T 38540 takes SM3; docs/ofd.md).
  if (const char* xsd = std::getenv("GOVREPORT_OFD_XSD_DIR"); xsd != nullptr && *xsd != '\0') {
    for (const auto& [schema, part] : {std::pair{"Signatures.xsd", "Doc_0/Signs/Signatures.xml"},
                                       std::pair{"OFD.xsd", "OFD.xml"}}) {
      const testing::CommandResult r =
          RunCommand(absl::StrCat("xmllint --noout --schema '", (fs::path(xsd) / schema).string(),
                                  "' '", (x / part).string(), "'"));
      EXPECT_EQ(r.exit_code, 0) << r.output;
    }
  }
  const testing::CommandResult verified = RunCommand(absl::StrCat(
      "cd '", x.string(), "/Doc_0/Signs/Sign_0' && openssl dgst -sm3 -verify '", dir,
      "/public.pem' -sigopt distid:1234567812345678 -signature SignedValue.dat Signature.xml"));
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("Verified OK"));
  // Each part's CheckValue is the base64 of its SM3 digest as openssl takes it.
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(x)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = fs::relative(entry.path(), x).string();
    if (name.starts_with("Doc_0/Signs/")) continue;
    const std::string digest =
        RunCommand(absl::StrCat("openssl dgst -sm3 -binary '", entry.path().string(), "' | base64"))
            .output;
    const std::string listed =
        RunCommand(
            absl::StrCat("xmllint --xpath \"string(//*[local-name()='Reference'][@FileRef='/", name,
                         "']/*[local-name()='CheckValue'])\" '",
                         (x / "Doc_0/Signs/Sign_0/Signature.xml").string(), "'"))
            .output;
    EXPECT_EQ(absl::StripTrailingAsciiWhitespace(digest),
              absl::StripTrailingAsciiWhitespace(listed))
        << name;
    ++checked;
  }
  EXPECT_GE(checked, 6);  // OFD.xml, Document.xml, PublicRes.xml, fonts, pages
  fs::remove_all(dir);
}

TEST_F(OfdSignTest, VerifiesAndStillReadsAsTheSameDocument) {
  EXPECT_TRUE(VerifyOfdSignature(signed_, VerifierOf(key_.public_pem)).ok());
  const absl::StatusOr<OfdSummary> before = ReadOfd(unsigned_);
  const absl::StatusOr<OfdSummary> after = ReadOfd(signed_);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(after->page_text, before->page_text);
  EXPECT_EQ(after->entries.size(), before->entries.size() + 3);
}

TEST_F(OfdSignTest, RefusesWhatDoesNotVerify) {
  auto message = [](const absl::Status& s) { return std::string(s.message()); };
  const absl::Status unsigned_status = VerifyOfdSignature(unsigned_, VerifierOf(key_.public_pem));
  EXPECT_EQ(unsigned_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(message(unsigned_status), HasSubstr("unsigned"));

  const signing::KeyPair other = *signing::GenerateSm2KeyPair();
  EXPECT_THAT(message(VerifyOfdSignature(signed_, VerifierOf(other.public_pem))),
              HasSubstr("SignedValue"));

  std::vector<OfdPart> parts = *ReadOfdParts(signed_);
  std::vector<OfdPart> changed = parts;
  for (OfdPart& p : changed) {
    if (p.name == "Doc_0/Pages/Page_0/Content.xml") p.bytes.replace(p.bytes.find("市"), 3, "县");
  }
  EXPECT_THAT(message(VerifyOfdSignature(Rezip(changed), VerifierOf(key_.public_pem))),
              HasSubstr("Doc_0/Pages/Page_0/Content.xml was changed"));
  std::vector<OfdPart> added = parts;
  added.push_back({"Doc_0/Res/extra.png", "not listed"});
  EXPECT_THAT(message(VerifyOfdSignature(Rezip(added), VerifierOf(key_.public_pem))),
              HasSubstr("Doc_0/Res/extra.png is not among the References"));
  std::vector<OfdPart> missing;
  for (const OfdPart& p : parts) {
    if (p.name != "Doc_0/PublicRes.xml") missing.push_back(p);
  }
  EXPECT_THAT(message(VerifyOfdSignature(Rezip(missing), VerifierOf(key_.public_pem))),
              HasSubstr("Doc_0/PublicRes.xml is missing"));

  const absl::StatusOr<std::string> twice = SignOfd(signed_, SignerOf(key_.private_pem));
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignOfd("not an OFD", SignerOf(key_.private_pem)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace govreport::layout
