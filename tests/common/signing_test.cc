// SM2 signatures, certificates and sealed keys, checked against the openssl
// command line: what the docs tell a recipient to run must accept what the
// suite signs, and refuse it once one byte changes.
#include "common/signing.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "document_checks.h"
#include "gtest/gtest.h"

namespace govreport::signing {
namespace {

namespace fs = std::filesystem;

class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("gr-signing-", getpid(), "-", RandomHex(4));
    fs::create_directories(dir_);
    auto pair = GenerateSm2KeyPair();
    ASSERT_TRUE(pair.ok()) << pair.status();
    pair_ = *pair;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // The command docs/signing.md gives a recipient.
  testing::CommandResult OpensslVerify(const std::string& public_pem, const std::string& data,
                                       const std::string& sig) {
    return testing::RunCommand(absl::StrCat("openssl dgst -sm3 -verify ",
                                            Write("pub.pem", public_pem),
                                            " -sigopt distid:1234567812345678 -signature ",
                                            Write("sig", sig), " ", Write("data", data)));
  }

  fs::path dir_;
  KeyPair pair_;
};

TEST_F(SigningTest, ASignatureVerifiesHereAndWithOpensslAndNotOnceAByteChanges) {
  const std::string manifest = "DOCX 1f2e\nHTML 3a4b\nMD 5c6d\nTXT 7e8f\n";
  auto sig = Sign(pair_.private_pem, manifest);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(Verify(pair_.public_pem, manifest, *sig).ok());
  auto [code, out] = OpensslVerify(pair_.public_pem, manifest, *sig);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "Verified OK")) << out;

  std::string changed = manifest;
  changed[3] ^= 1;
  auto mismatch = Verify(pair_.public_pem, changed, *sig);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument) << mismatch;
  EXPECT_NE(OpensslVerify(pair_.public_pem, changed, *sig).exit_code, 0);
  std::string bad_sig = *sig;
  bad_sig[bad_sig.size() / 2] ^= 1;
  EXPECT_FALSE(Verify(pair_.public_pem, manifest, bad_sig).ok());
  EXPECT_FALSE(Verify(pair_.public_pem, manifest, "").ok());
  EXPECT_FALSE(Verify(pair_.public_pem, manifest, sig->substr(0, 10)).ok());

  // Another org's key does not verify it.
  auto other = GenerateSm2KeyPair();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(Verify(other->public_pem, manifest, *sig).ok());

  // And openssl's own signature verifies here: the same ID, the same form.
  auto [signed_code, signed_out] = testing::RunCommand(
      absl::StrCat("openssl dgst -sm3 -sign ", Write("key.pem", pair_.private_pem),
                   " -sigopt distid:1234567812345678 -out ", (dir_ / "theirs").string(), " ",
                   Write("m", manifest)));
  ASSERT_EQ(signed_code, 0) << signed_out;
  std::ifstream in(dir_ / "theirs", std::ios::binary);
  const std::string theirs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Verify(pair_.public_pem, manifest, theirs).ok());
}

TEST_F(SigningTest, ASelfSignedCertificateIsSm2WithSm3AndCarriesTheKey) {
  const absl::Time from = absl::FromUnixSeconds(1700000000);
  auto cert = SelfSignedCertificate(pair_.private_pem, {"重庆市科学技术局", "kjj"}, from,
                                    from + absl::Hours(24 * 365), 7);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = ReadCertificate(*cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "O=kjj,CN=重庆市科学技术局");
  EXPECT_EQ(info->issuer, info->subject);
  EXPECT_EQ(info->not_before, from);
  EXPECT_EQ(info->not_after, from + absl::Hours(24 * 365));
  EXPECT_EQ(info->public_pem, pair_.public_pem);
  EXPECT_EQ(info->sha256_hex.size(), 64u);

  auto [code, text] =
      testing::RunCommand(absl::StrCat("openssl x509 -noout -text -in ", Write("cert.pem", *cert)));
  ASSERT_EQ(code, 0) << text;
  EXPECT_TRUE(absl::StrContains(text, "Signature Algorithm: SM2-with-SM3")) << text;
  EXPECT_TRUE(absl::StrContains(text, "Digital Signature, Non Repudiation")) << text;
  auto [vcode, vout] = testing::RunCommand(absl::StrCat(
      "openssl verify -CAfile ", (dir_ / "cert.pem").string(),
      " -vfyopt distid:1234567812345678 -attime 1700000100 ", (dir_ / "cert.pem").string()));
  EXPECT_EQ(vcode, 0) << vout;

  // A signature checks against the certificate as against the key.
  auto sig = Sign(pair_.private_pem, "x");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(Verify(*cert, "x", *sig).ok());
  auto pub = PublicKeyOf(*cert);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, pair_.public_pem);
}

TEST_F(SigningTest, WhatIsNoSm2KeyOrCertificateIsRefusedByName) {
  EXPECT_EQ(Sign("not a key", "x").status().code(), absl::StatusCode::kInvalidArgument);
  // An RSA key is a key, but not the kind GB/T 32918 signs with.
  auto [code, rsa] = testing::RunCommand(
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -outform PEM");
  ASSERT_EQ(code, 0) << rsa;
  auto refused = Sign(rsa, "x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "not an SM2 key")) << refused.status();
  EXPECT_FALSE(
      Verify("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "x", "y").ok());
  EXPECT_FALSE(ReadCertificate(pair_.public_pem).ok());
  EXPECT_FALSE(
      SelfSignedCertificate(pair_.private_pem, {"x", ""}, absl::Now(), absl::Now(), 1).ok());
}

TEST(SealTest, ASealedKeyOpensOnlyWithItsMasterKeyAndName) {
  auto master = ParseMasterKey(std::string(64, 'a') + "\n");
  ASSERT_TRUE(master.ok()) << master.status();
  ASSERT_EQ(master->size(), 32u);
  EXPECT_FALSE(ParseMasterKey("abcd").ok());
  EXPECT_FALSE(ParseMasterKey(std::string(64, 'g')).ok());

  const std::string secret = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
  auto sealed = Seal(*master, "orgs/kjj/signingKeys/1", secret);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_FALSE(absl::StrContains(*sealed, "secret"));
  auto opened = Open(*master, "orgs/kjj/signingKeys/1", *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, secret);
  // Sealing twice gives different bytes (fresh data key and nonces).
  EXPECT_NE(*Seal(*master, "orgs/kjj/signingKeys/1", secret), *sealed);

  std::string other_master = *master;
  other_master[0] ^= 1;
  EXPECT_EQ(Open(other_master, "orgs/kjj/signingKeys/1", *sealed).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(*master, "orgs/sfj/signingKeys/1", *sealed).status().code(),
            absl::StatusCode::kDataLoss);
  for (size_t i = 0; i < sealed->size(); i += 7) {
    std::string damaged = *sealed;
    damaged[i] ^= 0x20;
    EXPECT_EQ(Open(*master, "orgs/kjj/signingKeys/1", damaged).status().code(),
              absl::StatusCode::kDataLoss)
        << "byte " << i;
  }
  for (size_t n : {size_t{0}, size_t{4}, size_t{40}, sealed->size() - 1}) {
    EXPECT_EQ(Open(*master, "orgs/kjj/signingKeys/1", sealed->substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  EXPECT_EQ(Seal("short", "x", "y").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace govreport::signing
