// A deployment that trusts one CA for signing certificates
// (--signing-ca-file): openssl plays a root CA and an intermediate (SM2 with
// SM3 and the distinguishing ID); a certificate the intermediate issued for
// the org's key is imported with the intermediate behind it and marked
// chain-verified; the same certificate without its intermediate, and one of
// a CA nobody trusts, are refused with CERTIFICATE_NOT_TRUSTED.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/assembler/assembler_stack.h"

namespace govreport::assembler {
namespace {

using testing::Stack;
using testing::StackOptions;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string& Dir() {
  static const std::string dir = ::testing::TempDir() + "/trusted-ca-" + std::to_string(::getpid());
  return dir;
}

int Shell(const std::string& command) {
  return std::system(absl::StrCat("cd '", Dir(), "' && ", command, " >>log 2>&1").c_str());
}

constexpr char kId[] = "distid:1234567812345678";

// An SM2 CA in `name`.key and `name`.pem, its common name `cn`:
// self-signed when `issuer` is empty, else issued by `issuer` as an
// intermediate.
bool MakeCa(const std::string& name, const std::string& cn, const std::string& issuer) {
  const std::string sm2 = absl::StrCat("-sm3 -sigopt ", kId);
  if (Shell(absl::StrCat("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out ", name,
                         ".key")) != 0) {
    return false;
  }
  if (issuer.empty()) {
    return Shell(absl::StrCat("openssl req -new -x509 -key ", name, ".key ", sm2,
                              " -subj '/CN=", name, "' -days 30 -out ", name, ".pem")) == 0;
  }
  std::ofstream(Dir() + "/ca.ext") << "basicConstraints=critical,CA:TRUE\n"
                                      "keyUsage=critical,keyCertSign,cRLSign\n";
  return Shell(absl::StrCat("openssl req -new -key ", name, ".key ", sm2, " -subj '/CN=", cn,
                            "' -out ", name, ".csr")) == 0 &&
         Shell(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", issuer, ".pem -CAkey ",
                            issuer, ".key -CAcreateserial ", sm2, " -vfyopt ", kId,
                            " -extfile ca.ext -days 30 -out ", name, ".pem")) == 0;
}

class TrustedCaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::filesystem::create_directories(Dir());
    ok_ = std::system("openssl version >/dev/null 2>&1") == 0 && MakeCa("root", "Root CA", "") &&
          MakeCa("issuing", "Issuing CA", "root") && MakeCa("stranger", "Stranger CA", "");
  }

  void SetUp() override {
    if (!ok_) GTEST_SKIP() << "openssl could not make the CAs: " << Slurp(Dir() + "/log");
    StackOptions o;
    o.signing_ca_pem = Slurp(Dir() + "/root.pem");
    auto s = Stack::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    stack_ = std::move(*s);
    auto t = stack_->SetUpOrg("kjj");
    ASSERT_TRUE(t.ok()) << t.status();
    admin_ = t->admin;
    v1::CreateSigningKeyRequest create;
    create.set_parent("orgs/kjj");
    grpc::Status st = stack_->reports().CreateSigningKey(Stack::Ctx(admin_).get(), create, &key_);
    ASSERT_TRUE(st.ok()) << st.error_message();
    v1::CreateCertificateSigningRequestRequest cq;
    cq.set_name(key_.name());
    v1::CertificateSigningRequest csr;
    st = stack_->reports().CreateCertificateSigningRequest(Stack::Ctx(admin_).get(), cq, &csr);
    ASSERT_TRUE(st.ok()) << st.error_message();
    std::ofstream(Dir() + "/key.csr") << csr.csr_pem();
  }

  // The org key's certificate issued by `ca`, valid `days` from now.
  std::string Issue(const std::string& ca, int days, const std::string& out) {
    EXPECT_EQ(Shell(absl::StrCat("openssl x509 -req -in key.csr -CA ", ca, ".pem -CAkey ", ca,
                                 ".key -CAcreateserial -sm3 -sigopt ", kId, " -vfyopt ", kId,
                                 " -days ", days, " -out ", out)),
              0)
        << Slurp(Dir() + "/log");
    return Slurp(Dir() + "/" + out);
  }

  grpc::Status Import(const std::string& pem, v1::SigningKey* out) {
    v1::ImportCertificateRequest iq;
    iq.set_name(key_.name());
    iq.set_certificate_pem(pem);
    return stack_->reports().ImportCertificate(Stack::Ctx(admin_).get(), iq, out);
  }

  static bool ok_;
  std::unique_ptr<Stack> stack_;
  std::string admin_;
  v1::SigningKey key_;
};

bool TrustedCaTest::ok_ = false;

TEST_F(TrustedCaTest, OnlyACertificateThatChainsToTheTrustedCaIsImported) {
  EXPECT_FALSE(key_.certificate_chain_verified());  // self-signed
  const std::string leaf = Issue("issuing", 10, "leaf.pem");
  v1::SigningKey out;
  // Without its intermediate the chain stops short of the root.
  grpc::Status st = Import(leaf, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "does not chain to a trusted CA"))
      << st.error_message();
  // A CA the deployment does not trust.
  st = Import(Issue("stranger", 10, "stranger-leaf.pem"), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "does not chain to a trusted CA"))
      << st.error_message();
  // The leaf with its intermediate: taken, and marked as checked.
  st = Import(leaf + Slurp(Dir() + "/issuing.pem"), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(out.certificate_chain_verified());
  EXPECT_EQ(out.certificate_issuer(), "CN=Issuing CA");
  EXPECT_EQ(out.previous_certificates_pem_size(), 1);
}

}  // namespace
}  // namespace govreport::assembler
