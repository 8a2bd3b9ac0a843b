// The electronic seal (GB/T 38540-2020 v4) inside an OFD, checked by tools
// that share no code with the signer: openssl asn1parse reads SignedValue.dat
// (SES_Signature) and Seal.esl (SESeal) and shows their structure; the
// TBS_Sign and SES_SealInfo bytes cut out with asn1parse, as docs/ofd.md
// tells a user, verify with openssl dgst under the org's key; xmllint finds
// the StampAnnot where the seal image is printed. VerifyOfdSignedBy refuses a
// changed byte of the seal, its picture or TBS_Sign, and a seal that is
// rebuilt wrong (another maker, no PNG, expired, another signer).
#include "templates/layout/ofd_seal.h"

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/signing.h"
#include "document_checks.h"
#include "example_frame.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "templates/docx/zip_writer.h"
#include "templates/layout/ofd_sign.h"
#include "templates/layout/ofd_writer.h"
#include "test_png.h"

namespace govreport::layout {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::OnPath;
using testing::ReadFile;
using testing::RunCommand;

constexpr std::chrono::sys_seconds kSignedAt{
    std::chrono::sys_days{std::chrono::year{2024} / 1 / 15} + std::chrono::hours{2}};

ses::SignFunction SignWith(const std::string& private_pem) {
  return [private_pem](std::string_view data) {
    return signing::Sign(private_pem, absl::string_view(data.data(), data.size()));
  };
}

struct Org {
  signing::KeyPair key;
  std::string certificate_pem;
  signing::CertificateInfo certificate;
};

Org NewOrg(const std::string& name) {
  Org org;
  org.key = *signing::GenerateSm2KeyPair();
  org.certificate_pem = *signing::SelfSignedCertificate(
      org.key.private_pem, {name, "kjj"}, absl::FromChrono(kSignedAt) - absl::Hours(24 * 30),
      absl::FromChrono(kSignedAt) + absl::Hours(24 * 365), 7);
  org.certificate = *signing::ReadCertificate(org.certificate_pem);
  return org;
}

OfdSigner SealingSigner(const Org& org) {
  OfdSigner s;
  s.sign = SignWith(org.key.private_pem);
  s.time = kSignedAt;
  OfdSeal seal;
  seal.certificate_der = org.certificate.der;
  seal.esid = "orgs/kjj/signingKeys/1";
  seal.name = org.certificate.common_name;
  seal.created = org.certificate.not_before;
  seal.valid_start = org.certificate.not_before;
  seal.valid_end = org.certificate.not_after;
  s.seal = seal;
  return s;
}

std::map<std::string, std::string> PartsOf(const std::string& ofd) {
  std::map<std::string, std::string> out;
  absl::StatusOr<std::vector<OfdPart>> parts = ReadOfdParts(ofd);
  if (!parts.ok()) return out;
  for (OfdPart& p : *parts) out[p.name] = std::move(p.bytes);
  return out;
}

// The package rebuilt from `parts` (as a tamperer would).
std::string Rezip(const std::map<std::string, std::string>& parts) {
  std::vector<docx::internal::DeflatedEntry> entries;
  entries.reserve(parts.size());
  for (const auto& [name, bytes] : parts) {
    entries.push_back(*docx::internal::Deflate(name, bytes, 6));
  }
  std::vector<const docx::internal::DeflatedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  return *docx::internal::ZipDeflated(order, docx::internal::DosTimeOf(kSignedAt));
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// One line of `openssl asn1parse`: "  off:d=D  hl=H l=  L prim: TYPE  :value".
struct Asn1Line {
  long offset = 0, depth = 0, header = 0, length = 0;
  std::string type, value;
};

std::vector<Asn1Line> Asn1Parse(const std::string& file) {
  const std::string out =
      RunCommand(absl::StrCat("openssl asn1parse -inform DER -in '", file, "'")).output;
  static const std::regex kLine(
      R"(^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s+(\S+(?: \S+)?)\s*(?:\[HEX DUMP\])?(?::(.*))?$)");
  std::vector<Asn1Line> lines;
  for (absl::string_view l : absl::StrSplit(out, '\n')) {
    std::smatch m;
    const std::string line(l);
    if (!std::regex_match(line, m, kLine)) continue;
    lines.push_back({std::stol(m[1]), std::stol(m[2]), std::stol(m[3]), std::stol(m[4]),
                     std::string(absl::StripTrailingAsciiWhitespace(m[5].str())), m[6].str()});
  }
  return lines;
}

class OfdSealTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    org_ = new Org(NewOrg("某市科学技术局"));
    OfdOptions options;
    options.frame = testing::FullDocumentFrame();
    // Wider than high, so the seal's height in mm is the aspect's.
    options.frame.seal_image = testing::RingPng(200, 150);
    *png_ = options.frame.seal_image;
    absl::StatusOr<std::string> ofd =
        WriteOfficialOfd(ReadFile(fs::path(GR_DOCX_TESTDATA) / "full_document.txt"), options);
    ASSERT_TRUE(ofd.ok()) << ofd.status();
    *unsigned_ = *ofd;
    absl::StatusOr<std::string> sealed = SignOfd(*unsigned_, SealingSigner(*org_));
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    *sealed_ = *sealed;
  }

  void SetUp() override {
    dir_ = (fs::temp_directory_path() / "ofd_seal_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_.data()), nullptr);
  }
  void TearDown() override {
    if (std::getenv("GR_OFD_KEEP_OUTPUT") == nullptr) fs::remove_all(dir_);
  }

  // `bytes` written to `name` in the test's directory; its path.
  std::string Put(const std::string& name, const std::string& bytes) const {
    const fs::path p = fs::path(dir_) / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

  static Org* org_;
  static std::string* png_;
  static std::string* unsigned_;
  static std::string* sealed_;
  std::string dir_;
};

Org* OfdSealTest::org_ = nullptr;
std::string* OfdSealTest::png_ = new std::string;
std::string* OfdSealTest::unsigned_ = new std::string;
std::string* OfdSealTest::sealed_ = new std::string;

TEST_F(OfdSealTest, SignedValueIsAnSesSignatureAsOpensslReadsIt) {
  if (!OnPath("openssl")) GTEST_SKIP() << "openssl is not installed";
  const auto parts = PartsOf(*sealed_);
  const std::vector<Asn1Line> lines =
      Asn1Parse(Put("SignedValue.dat", parts.at(std::string(kOfdSignedValue))));
  ASSERT_GT(lines.size(), 20u);
  auto values = [&](const std::string& type) {
    std::vector<std::string> out;
    for (const Asn1Line& l : lines) {
      if (l.type == type) out.push_back(l.value);
    }
    return out;
  };
  EXPECT_EQ(lines[0].type, "SEQUENCE");  // SES_Signature
  EXPECT_EQ(lines[1].type, "SEQUENCE");  // TBS_Sign
  EXPECT_EQ(lines[2].type, "INTEGER");   // its version
  EXPECT_EQ(lines[2].value, "04");
  EXPECT_EQ(lines[3].type, "SEQUENCE");  // SESeal
  EXPECT_THAT(values("IA5STRING"),
              ::testing::ElementsAre("ES", "govreport", "orgs/kjj/signingKeys/1", "PNG",
                                     "/Doc_0/Signs/Sign_0/Signature.xml"));
  EXPECT_THAT(values("UTF8STRING"), ::testing::ElementsAre("某市科学技术局"));
  // openssl names the SM2-with-SM3 OID: the seal's and the signature's.
  EXPECT_THAT(values("OBJECT"), ::testing::ElementsAre("SM2-with-SM3", "SM2-with-SM3"));
  EXPECT_THAT(values("GENERALIZEDTIME"), ::testing::Contains("20240115020000Z"));
  // The last two: the picture's width and height in mm, 42 wide and 31.5
  // (42 × 150 / 200, to the layout's micrometre) rounded high.
  const std::vector<std::string> integers = values("INTEGER");
  ASSERT_GE(integers.size(), 2u);
  EXPECT_EQ(integers[integers.size() - 2], "2A");
  EXPECT_THAT(integers.back(), ::testing::AnyOf("1F", "20"));
  // The seal is Seal.esl byte for byte, and Seal.esl parses alone.
  const Asn1Line& seal = lines[3];
  EXPECT_EQ(parts.at(std::string(kOfdSignedValue)).substr(seal.offset, seal.header + seal.length),
            parts.at(std::string(kOfdSealFile)));
  const std::vector<Asn1Line> esl = Asn1Parse(Put("Seal.esl", parts.at(std::string(kOfdSealFile))));
  ASSERT_FALSE(esl.empty());
  EXPECT_EQ(esl[0].length + esl[0].header,
            static_cast<long>(parts.at(std::string(kOfdSealFile)).size()));
  EXPECT_EQ(esl[3].type, "IA5STRING");  // SES_SealInfo → SES_Header → ID
  EXPECT_EQ(esl[3].value, "ES");
  EXPECT_EQ(esl[4].value, "04");
}

// What docs/ofd.md tells a user to run: cut TBS_Sign and the signature out
// of SignedValue.dat with asn1parse and verify with the org's public key;
// the same for the seal's SES_SealInfo and its maker's certificate; the
// dataHash is openssl's SM3 of Signature.xml; the picture is the PNG printed.
TEST_F(OfdSealTest, OpensslVerifiesTbsSignAndTheSealAsTheDocsSay) {
  for (const char* tool : {"openssl", "unzip", "cmp"}) {
    if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  Put("sealed.ofd", *sealed_);
  Put("public.pem", org_->key.public_pem);
  ASSERT_EQ(RunCommand(absl::StrCat("cd '", dir_, "' && unzip -q sealed.ofd -d x")).exit_code, 0);
  const std::string sign_dir = dir_ + "/x/Doc_0/Signs/Sign_0";
  const std::vector<Asn1Line> top = Asn1Parse(sign_dir + "/SignedValue.dat");
  // TBS_Sign: the first member of SES_Signature; the signature its last.
  const Asn1Line* tbs = nullptr;
  const Asn1Line* signature = nullptr;
  const Asn1Line* data_hash = nullptr;
  for (const Asn1Line& l : top) {
    if (l.depth == 1 && tbs == nullptr) tbs = &l;
    if (l.depth == 1 && l.type == "BIT STRING") signature = &l;
    if (l.depth == 2 && l.type == "BIT STRING") data_hash = &l;
  }
  ASSERT_TRUE(tbs != nullptr && signature != nullptr && data_hash != nullptr);
  auto run = [&](const std::string& command) {
    const testing::CommandResult r = RunCommand(absl::StrCat("cd '", sign_dir, "' && ", command));
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    return r.output;
  };
  run(absl::StrCat("openssl asn1parse -inform DER -in SignedValue.dat -offset ", tbs->offset,
                   " -length ", tbs->header + tbs->length, " -noout -out tbs.der"));
  run(absl::StrCat("openssl asn1parse -inform DER -in SignedValue.dat -strparse ",
                   signature->offset, " -noout -out signature.der"));
  EXPECT_THAT(run(absl::StrCat("openssl dgst -sm3 -verify '", dir_,
                               "/public.pem' -sigopt distid:1234567812345678 -signature "
                               "signature.der tbs.der")),
              HasSubstr("Verified OK"));
  run(absl::StrCat("openssl asn1parse -inform DER -in SignedValue.dat -strparse ",
                   data_hash->offset, " -noout -out datahash.bin"));
  run("openssl dgst -sm3 -binary Signature.xml > sm3.bin && cmp datahash.bin sm3.bin");

  // The seal alone: SES_SealInfo signed by the maker, whose certificate it carries.
  const std::vector<Asn1Line> seal = Asn1Parse(sign_dir + "/Seal.esl");
  const Asn1Line* info = nullptr;
  const Asn1Line* maker = nullptr;
  const Asn1Line* signed_value = nullptr;
  const Asn1Line* picture = nullptr;
  for (const Asn1Line& l : seal) {
    if (l.depth == 1 && info == nullptr) info = &l;
    if (l.depth == 1 && l.type == "OCTET STRING") maker = &l;
    if (l.depth == 1 && l.type == "BIT STRING") signed_value = &l;
    // SES_ESPictrueInfo.data: the only OCTET STRING at depth 3 (the
    // certList's are at 4), before the maker's certificate.
    if (l.depth == 3 && l.type == "OCTET STRING" && maker == nullptr) picture = &l;
  }
  ASSERT_TRUE(info != nullptr && maker != nullptr && signed_value != nullptr);
  run(absl::StrCat("openssl asn1parse -inform DER -in Seal.esl -offset ", info->offset, " -length ",
                   info->header + info->length, " -noout -out sealinfo.der"));
  run(absl::StrCat("openssl asn1parse -inform DER -in Seal.esl -strparse ", maker->offset,
                   " -noout -out maker.der"));
  run("openssl x509 -inform DER -in maker.der -noout -pubkey > maker.pem");
  run(absl::StrCat("openssl asn1parse -inform DER -in Seal.esl -strparse ", signed_value->offset,
                   " -noout -out sealsig.der"));
  EXPECT_THAT(run("openssl dgst -sm3 -verify maker.pem -sigopt distid:1234567812345678 "
                  "-signature sealsig.der sealinfo.der"),
              HasSubstr("Verified OK"));
  EXPECT_THAT(run("openssl x509 -inform DER -in maker.der -noout -subject -nameopt "
                  "RFC2253,-esc_msb"),
              HasSubstr("O=kjj,CN=某市科学技术局"));
  ASSERT_NE(picture, nullptr);
  // -offset/-length past the OCTET STRING's header: its content, the PNG.
  run(absl::StrCat("openssl asn1parse -inform DER -in Seal.esl -offset ",
                   picture->offset + picture->header, " -length ", picture->length,
                   " -noout -out seal.png"));
  EXPECT_EQ(ReadFile(sign_dir + "/seal.png"), *png_);
}

TEST_F(OfdSealTest, SignatureXmlStampsTheSealWhereTheImageIsPrinted) {
  for (const char* tool : {"unzip", "xmllint"}) {
    if (!OnPath(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  Put("sealed.ofd", *sealed_);
  ASSERT_EQ(RunCommand(absl::StrCat("cd '", dir_, "' && unzip -q sealed.ofd -d x")).exit_code, 0);
  const fs::path x = fs::path(dir_) / "x";
  auto xpath = [&](const std::string& expr, const fs::path& file) {
    return std::string(absl::StripTrailingAsciiWhitespace(
        RunCommand(absl::StrCat("xmllint --xpath \"", expr, "\" '", file.string(), "'")).output));
  };
  const fs::path signature = x / "Doc_0/Signs/Sign_0/Signature.xml";
  EXPECT_EQ(xpath("string(//*[local-name()='Signature']/@Type)", x / "Doc_0/Signs/Signatures.xml"),
            "Seal");
  EXPECT_EQ(xpath("string(//*[local-name()='Seal']/*[local-name()='BaseLoc'])", signature),
            "/Doc_0/Signs/Sign_0/Seal.esl");
  // One StampAnnot, after the References, on the page of the ImageObject, in its box.
  EXPECT_EQ(xpath("count(//*[local-name()='StampAnnot'])", signature), "1");
  EXPECT_EQ(xpath("count(//*[local-name()='StampAnnot']/preceding-sibling::*[local-name()="
                  "'References'])",
                  signature),
            "1");
  const std::string page_ref = xpath("string(//*[local-name()='StampAnnot']/@PageRef)", signature);
  const std::string base_loc =
      xpath(absl::StrCat("string(//*[local-name()='Page'][@ID='", page_ref, "']/@BaseLoc)"),
            x / "Doc_0/Document.xml");
  ASSERT_FALSE(base_loc.empty()) << "PageRef " << page_ref << " names no page";
  EXPECT_EQ(xpath("string(//*[local-name()='StampAnnot']/@Boundary)", signature),
            xpath("string(//*[local-name()='ImageObject']/@Boundary)", x / "Doc_0" / base_loc));
  const std::vector<std::string> box =
      absl::StrSplit(xpath("string(//*[local-name()='StampAnnot']/@Boundary)", signature), ' ');
  ASSERT_EQ(box.size(), 4u);
  double w = 0, h = 0;
  ASSERT_TRUE(absl::SimpleAtod(box[2], &w) && absl::SimpleAtod(box[3], &h));
  EXPECT_NEAR(w, 42, 0.01);
  EXPECT_NEAR(h, 31.5, 0.01);  // 42 × 150 / 200
  EXPECT_EQ(RunCommand(absl::StrCat("xmllint --noout '", signature.string(), "'")).exit_code, 0);
}

TEST_F(OfdSealTest, VerifiesUnderTheKeyAndTheCertificate) {
  EXPECT_TRUE(VerifyOfdSignedBy(*sealed_, org_->key.public_pem).ok())
      << VerifyOfdSignedBy(*sealed_, org_->key.public_pem);
  EXPECT_TRUE(VerifyOfdSignedBy(*sealed_, org_->certificate_pem).ok());
  const Org other = NewOrg("另一个单位");
  EXPECT_THAT(Message(VerifyOfdSignedBy(*sealed_, other.key.public_pem)),
              HasSubstr("the seal's signature over TBS_Sign"));
  // The pages read as the unsigned package's.
  EXPECT_EQ(ReadOfd(*sealed_)->page_text, ReadOfd(*unsigned_)->page_text);
}

// Every byte of Seal.esl, and of TBS_Sign in SignedValue.dat, changed in
// turn (a sample across each): refused, each with its reason.
TEST_F(OfdSealTest, RefusesAChangedByteOfTheSealThePictureOrTbsSign) {
  const auto parts = PartsOf(*sealed_);
  const std::string& seal = parts.at(std::string(kOfdSealFile));
  const std::string& value = parts.at(std::string(kOfdSignedValue));
  const size_t png_at = seal.find("\x89PNG");
  ASSERT_NE(png_at, std::string::npos);
  auto refused_with = [&](const std::string& part, size_t at) {
    auto changed = parts;
    changed[part][at] = static_cast<char>(changed[part][at] ^ 0x01);
    const absl::Status s = VerifyOfdSignedBy(Rezip(changed), org_->key.public_pem);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << part << " byte " << at;
    return Message(s);
  };
  for (size_t at = 0; at < seal.size(); at += seal.size() / 37 + 1) {
    EXPECT_THAT(refused_with(std::string(kOfdSealFile), at), HasSubstr("Seal.esl is not the seal"))
        << at;
  }
  EXPECT_THAT(refused_with(std::string(kOfdSealFile), png_at + 100),
              HasSubstr("Seal.esl is not the seal"));
  const size_t tbs_end = value.size() - 80;  // the signature and its header after it
  for (size_t at = 0; at < tbs_end; at += tbs_end / 41 + 1) {
    EXPECT_THAT(refused_with(std::string(kOfdSignedValue), at),
                HasSubstr("the OFD's signature does not verify"))
        << at;
  }
  // The picture inside TBS_Sign: the signature over it no longer holds.
  const size_t picture_in_tbs = value.find("\x89PNG") + 200;
  EXPECT_THAT(refused_with(std::string(kOfdSignedValue), picture_in_tbs),
              HasSubstr("the seal's signature over TBS_Sign"));
  // Both copies of the picture changed alike: still refused.
  auto both = parts;
  both[std::string(kOfdSealFile)][png_at + 200] ^= 0x01;
  both[std::string(kOfdSignedValue)][value.find("\x89PNG") + 200] ^= 0x01;
  EXPECT_THAT(Message(VerifyOfdSignedBy(Rezip(both), org_->key.public_pem)),
              HasSubstr("the seal's signature over TBS_Sign"));
}

TEST_F(OfdSealTest, RefusesAChangedSignatureXmlTypeOrMissingSeal) {
  const auto parts = PartsOf(*sealed_);
  auto changed = parts;
  std::string& xml = changed[std::string(kOfdSignature)];
  xml.replace(xml.find("Boundary=\""), 10, "Boundary=\" ");
  EXPECT_THAT(Message(VerifyOfdSignedBy(Rezip(changed), org_->key.public_pem)),
              HasSubstr("dataHash is not the SM3 digest of Signature.xml"));
  auto flipped = parts;
  std::string& list = flipped[std::string(kOfdSignatures)];
  list.replace(list.find("Type=\"Seal\""), 11, "Type=\"Sign\"");
  EXPECT_THAT(Message(VerifyOfdSignedBy(Rezip(flipped), org_->key.public_pem)),
              HasSubstr("Type 'Sign' of an electronic seal"));
  auto missing = parts;
  missing.erase(std::string(kOfdSealFile));
  EXPECT_THAT(Message(VerifyOfdSignedBy(Rezip(missing), org_->key.public_pem)),
              HasSubstr("Doc_0/Signs/Sign_0/Seal.esl (the seal) is missing"));
  auto page = parts;
  std::string& content = page["Doc_0/Pages/Page_0/Content.xml"];
  content.replace(content.find("某"), 3, "县");
  EXPECT_THAT(Message(VerifyOfdSignedBy(Rezip(page), org_->key.public_pem)),
              HasSubstr("Doc_0/Pages/Page_0/Content.xml was changed"));
}

// A seal rebuilt wrong and signed properly over the package's own
// Signature.xml: each refused for what is wrong with it.
class RebuiltSealTest : public OfdSealTest {
 protected:
  // The package with SignedValue.dat and Seal.esl made from `info`, the seal
  // signed by `maker_sign`, the signature by the org's key carrying `cert`.
  static std::string Resealed(const ses::SealInfo& info, const ses::SignFunction& maker_sign,
                              const std::string& cert) {
    auto parts = PartsOf(*sealed_);
    const std::string seal = *ses::MakeSeal(info, org_->certificate.der, maker_sign);
    const ses::ParsedSignature was = *ses::ParseSignature(parts.at(std::string(kOfdSignedValue)));
    ses::SignatureInfo signing = was.info;
    signing.certificate_der = cert;
    parts[std::string(kOfdSignedValue)] =
        *ses::MakeSignature(seal, signing, SignWith(org_->key.private_pem));
    parts[std::string(kOfdSealFile)] = seal;
    return Rezip(parts);
  }

  static ses::SealInfo Info() {
    return ses::ParseSignature(PartsOf(*sealed_).at(std::string(kOfdSignedValue)))->seal.info;
  }
};

TEST_F(RebuiltSealTest, TheSameSealRebuiltVerifies) {
  EXPECT_TRUE(
      VerifyOfdSignedBy(Resealed(Info(), SignWith(org_->key.private_pem), org_->certificate.der),
                        org_->key.public_pem)
          .ok());
}

TEST_F(RebuiltSealTest, RefusesWhatIsWrongWithTheSeal) {
  const Org other = NewOrg("另一个单位");
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(Info(), SignWith(other.key.private_pem), org_->certificate.der),
                  org_->key.public_pem)),
              HasSubstr("the seal's signedValue does not verify under its maker's certificate"));
  ses::SealInfo gif = Info();
  gif.picture = "GIF89a not a PNG";
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(gif, SignWith(org_->key.private_pem), org_->certificate.der),
                  org_->key.public_pem)),
              HasSubstr("the seal's picture"));
  ses::SealInfo jpeg = Info();
  jpeg.picture_type = "JPG";
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(jpeg, SignWith(org_->key.private_pem), org_->certificate.der),
                  org_->key.public_pem)),
              HasSubstr("picture type is 'JPG', not PNG"));
  ses::SealInfo expired = Info();
  expired.valid_end = absl::FromChrono(kSignedAt) - absl::Hours(1);
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(expired, SignWith(org_->key.private_pem), org_->certificate.der),
                  org_->key.public_pem)),
              HasSubstr("not valid at the signing time"));
  ses::SealInfo not_listed = Info();
  not_listed.certificates_der = {other.certificate.der};
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(not_listed, SignWith(org_->key.private_pem), org_->certificate.der),
                  org_->key.public_pem)),
              HasSubstr("the signer's certificate is not among the seal's"));
  // The signature carries another's certificate: not the signing key's.
  EXPECT_THAT(Message(VerifyOfdSignedBy(
                  Resealed(Info(), SignWith(org_->key.private_pem), other.certificate.der),
                  org_->key.public_pem)),
              HasSubstr("the certificate in SignedValue.dat is not the signing key's"));
}

// Without a seal image, or without OfdSigner.seal: the plain signature.
TEST_F(OfdSealTest, WithoutASealImageOrASealItStaysTypeSign) {
  absl::StatusOr<std::string> seed =
      WriteOfficialOfd(ReadFile(fs::path(GR_DOCX_TESTDATA) / "seed_report.txt"), OfdOptions{});
  ASSERT_TRUE(seed.ok());
  OfdSigner plain = SealingSigner(*org_);
  plain.seal.reset();
  const std::vector<std::pair<std::string, OfdSigner>> cases = {
      {*seed, SealingSigner(*org_)},  // a seal, but no seal image printed
      {*unsigned_, plain},            // a seal image, but no seal asked for
  };
  for (const auto& [ofd, signer] : cases) {
    const absl::StatusOr<std::string> signed_ofd = SignOfd(ofd, signer);
    ASSERT_TRUE(signed_ofd.ok()) << signed_ofd.status();
    const auto parts = PartsOf(*signed_ofd);
    EXPECT_THAT(parts.at(std::string(kOfdSignatures)), HasSubstr("Type=\"Sign\""));
    EXPECT_FALSE(parts.contains(std::string(kOfdSealFile)));
    EXPECT_THAT(parts.at(std::string(kOfdSignature)), ::testing::Not(HasSubstr("StampAnnot")));
    // SignedValue.dat is the bare signature of Signature.xml.
    EXPECT_TRUE(signing::Verify(org_->key.public_pem, parts.at(std::string(kOfdSignature)),
                                parts.at(std::string(kOfdSignedValue)))
                    .ok());
    EXPECT_TRUE(VerifyOfdSignedBy(*signed_ofd, org_->key.public_pem).ok());
  }
}

// An independent reader of the seal: ofd.js 0.2.6 (npm, Apache-2.0, its own
// ASN.1 and SM2 code) in headless chromium parses SignedValue.dat as a v4
// SES_Signature, verifies its signature over TBS_Sign with the certificate it
// carries (its VerifyRet) and draws the seal's picture at the StampAnnot, 42
// mm of the page's 210; with a byte of the picture inside TBS_Sign changed,
// VerifyRet is false. Skips without chromium or ofd.js (setup-deps.sh --docs).
// What stands in `text` between the first `open` and the next `close`.
std::string After(const std::string& text, const std::string& open, const std::string& close) {
  const size_t from = text.find(open);
  if (from == std::string::npos) return "";
  const size_t start = from + open.size();
  const size_t to = text.find(close, start);
  return to == std::string::npos ? "" : text.substr(start, to - start);
}

constexpr char kSealHarness[] = R"(<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body><div id="out"></div><script src="ofd.umd.min.js"></script><script>
function mark(k, v) { document.body.setAttribute(k, v); }
window.onerror = function(m) { mark('data-error', m); };
ofd.parseOfdDocument({ofd: location.hash.slice(1), success: function(res) {
  var pages = ofd.renderOfd(794, res[0]);
  pages.forEach(function(p) { document.getElementById('out').appendChild(p); });
  var seals = [], stamps = res[0].stampAnnot || {};
  Object.keys(stamps).forEach(function(page) {
    stamps[page].forEach(function(s) {
      var seal = s.stamp.sealObj;
      seals.push([page, seal.type, seal.verifyRet, seal.SES_Signature.realVersion].join(':'));
    });
  });
  mark('data-seals', seals.join(' '));
  mark('data-pages', pages.length);
}, fail: function(e) { mark('data-error', String(e)); }});
</script></body></html>
)";

TEST_F(OfdSealTest, OfdJsVerifiesTheSealAndDrawsItWhereTheImageIs) {
  const char* env = std::getenv("GR_OFDJS");
  const std::string bundle = env != nullptr && *env != '\0' ? env : GR_OFDJS_BUNDLE;
  if (!OnPath("chromium")) GTEST_SKIP() << "chromium is not installed (setup-deps.sh --docs)";
  if (!fs::exists(bundle)) GTEST_SKIP() << bundle << " is missing (setup-deps.sh --docs)";
  Put("page.html", kSealHarness);
  fs::copy_file(bundle, fs::path(dir_) / "ofd.umd.min.js");
  auto parts = PartsOf(*sealed_);
  std::string& value = parts[std::string(kOfdSignedValue)];
  value[value.find("\x89PNG") + 200] ^= 0x01;
  const std::string page_id = [&] {
    std::smatch m;
    const std::string& xml = parts.at(std::string(kOfdSignature));
    return std::regex_search(xml, m, std::regex(R"re(PageRef="(\d+)")re")) ? m[1].str() : "";
  }();
  for (const auto& [ofd, verified] : {std::pair{*sealed_, true}, std::pair{Rezip(parts), false}}) {
    Put("doc.ofd", ofd);
    const std::string dom =
        RunCommand(absl::StrCat("timeout 120 chromium --headless --no-sandbox --disable-gpu "
                                "--allow-file-access-from-files "
                                "--virtual-time-budget=30000 --dump-dom 'file://",
                                dir_, "/page.html#doc.ofd' 2>/dev/null"))
            .output;
    // std::regex recurses per character: too deep for the DOM of a page.
    const std::string seals = After(dom, "data-seals=\"", "\"");
    ASSERT_FALSE(seals.empty()) << dom.substr(0, 2000);
    EXPECT_EQ(seals, absl::StrCat(page_id, ":png:", verified ? "true" : "false", ":4"));
    if (!verified) continue;
    const size_t stamp = dom.find("name=\"seal_img_div\"");
    ASSERT_NE(stamp, std::string::npos);
    double page_px = 0, seal_px = 0;
    ASSERT_TRUE(absl::SimpleAtod(After(dom, "position: relative;width:", "px"), &page_px));
    ASSERT_TRUE(absl::SimpleAtod(After(dom.substr(dom.find("style=\"", stamp)), "width: ", "px"),
                                 &seal_px));
    EXPECT_NEAR(seal_px / page_px * 210, 42, 0.5);
  }
}

// The DER reader refuses what is no v4 structure, with the field it stopped at.
TEST(SesDerTest, RefusesWhatIsNoSesSignature) {
  const Org org = NewOrg("某市科学技术局");
  ses::SealInfo info;
  info.vid = "govreport";
  info.esid = "1";
  info.name = "印章";
  info.certificates_der = {org.certificate.der};
  info.picture = "png";
  const std::string seal = *ses::MakeSeal(info, org.certificate.der, SignWith(org.key.private_pem));
  const std::string signature = *ses::MakeSignature(
      seal, {absl::FromUnixSeconds(1700000000), std::string(32, 'h'), "/x", org.certificate.der},
      SignWith(org.key.private_pem));
  const absl::StatusOr<ses::ParsedSignature> parsed = ses::ParseSignature(signature);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->info.time, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(parsed->seal.info.name, "印章");
  EXPECT_EQ(parsed->seal_der, seal);
  EXPECT_THAT(Message(ses::ParseSignature(signature + "x").status()),
              HasSubstr("SES_Signature has bytes after its last member"));
  EXPECT_THAT(Message(ses::ParseSignature(signature.substr(0, signature.size() - 1)).status()),
              HasSubstr("is no DER"));
  EXPECT_THAT(Message(ses::ParseSignature(seal).status()), HasSubstr("TBS_Sign.version"));
  EXPECT_THAT(Message(ses::ParseSeal(std::string("\x30\x80\x00\x00", 4)).status()),
              HasSubstr("SESeal is no DER"));
  info.esid = "印章";
  EXPECT_EQ(ses::MakeSeal(info, org.certificate.der, SignWith(org.key.private_pem)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace govreport::layout
