// TLS and mTLS on real in-process servers (common/server.h with
// common/tls.h) over 127.0.0.1, with certificates made at test time by
// scripts/gen-certs.sh: handshakes that succeed, clients that are refused,
// the refusal of plaintext on a non-loopback address, bad PEM files, and a
// renewed certificate served without a restart.
#include "common/tls.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "internal/grpc/health/v1/health.grpc.pb.h"

namespace govreport {
namespace {

namespace fs = std::filesystem;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// Two independent CAs: "main" signs records and reportctl, "other" signs a
// reportctl that main's servers must not trust.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() / absl::StrCat("gr-tls-test-", getpid()));
    fs::remove_all(*dir_);
    for (const char* ca : {"main", "other"}) {
      std::string cmd = absl::StrCat(GOVREPORT_SOURCE_DIR, "/scripts/gen-certs.sh ", *dir_, "/", ca,
                                     " records reportctl >/dev/null");
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string File(const std::string& ca, const std::string& name) {
    return absl::StrCat(*dir_, "/", ca, "/", name);
  }

  static ServerTls RecordsTls(bool mtls = false) {
    ServerTls tls;
    tls.cert_file = File("main", "records.pem");
    tls.key_file = File("main", "records.key");
    if (mtls) tls.client_ca_file = File("main", "ca.pem");
    return tls;
  }
  static ClientTls TrustingMain() {
    ClientTls tls;
    tls.ca_file = File("main", "ca.pem");
    return tls;
  }
  static ClientTls WithCert(ClientTls tls, const std::string& ca) {
    tls.cert_file = File(ca, "reportctl.pem");
    tls.key_file = File(ca, "reportctl.key");
    return tls;
  }

  void Serve(ServerTls tls) {
    ServerOptions options;
    options.tls = std::move(tls);
    auto s = RunningServer::Start(std::move(options));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }

  // A health check over a fresh channel: its code.
  grpc::StatusCode Check(const ClientTls& tls, const std::string& host = "127.0.0.1") {
    auto channel = Dial(tls, absl::StrCat(host, ":", server_->port()));
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return grpc::StatusCode::INTERNAL;
    auto stub = Health::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckResponse resp;
    grpc::Status st = stub->Check(&ctx, HealthCheckRequest(), &resp);
    return st.error_code();
  }

  static std::string* dir_;
  std::unique_ptr<RunningServer> server_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, CallOverTlsSucceeds) {
  Serve(RecordsTls());
  EXPECT_EQ(Check(TrustingMain()), grpc::StatusCode::OK);
  EXPECT_EQ(Check(TrustingMain(), "localhost"), grpc::StatusCode::OK);
}

TEST_F(TlsTest, ServerNameOverrideIsChecked) {
  Serve(RecordsTls());
  ClientTls tls = TrustingMain();
  tls.server_name = "records";  // A SAN of records.pem.
  EXPECT_EQ(Check(tls), grpc::StatusCode::OK);
  tls.server_name = "approval";  // Not one.
  EXPECT_EQ(Check(tls), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientThatDoesNotTrustTheCaFails) {
  Serve(RecordsTls());
  ClientTls other;
  other.ca_file = File("other", "ca.pem");
  EXPECT_EQ(Check(other), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, PlaintextClientAgainstTlsServerFails) {
  Serve(RecordsTls());
  EXPECT_EQ(Check(ClientTls{}), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MtlsRefusesClientWithoutCertificate) {
  Serve(RecordsTls(/*mtls=*/true));
  EXPECT_EQ(Check(TrustingMain()), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MtlsRefusesCertificateOfAnotherCa) {
  Serve(RecordsTls(/*mtls=*/true));
  EXPECT_EQ(Check(WithCert(TrustingMain(), "other")), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MtlsAcceptsCertificateSignedByTheCa) {
  Serve(RecordsTls(/*mtls=*/true));
  EXPECT_EQ(Check(WithCert(TrustingMain(), "main")), grpc::StatusCode::OK);
}

TEST_F(TlsTest, PlaintextOnNonLoopbackRefusedWithoutInsecure) {
  Flags flags("test", "");
  DefineServerFlags(flags, "0.0.0.0:0");
  char prog[] = "test";
  char* argv[] = {prog};
  ASSERT_TRUE(flags.Parse(1, argv).ok());
  ServerOptions options;
  options.address = flags.Get("listen");
  options.tls = ServerTlsFromFlags(flags);
  auto refused = RunningServer::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("--tls-cert"), std::string::npos);
  EXPECT_NE(refused.status().message().find("--insecure"), std::string::npos);

  char insecure[] = "--insecure";
  char* argv2[] = {prog, insecure};
  ASSERT_TRUE(flags.Parse(2, argv2).ok());
  options.tls = ServerTlsFromFlags(flags);
  auto allowed = RunningServer::Start(options);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

TEST_F(TlsTest, TlsOnNonLoopbackNeedsNoInsecure) {
  ServerOptions options;
  options.address = "0.0.0.0:0";
  options.tls = RecordsTls();
  auto s = RunningServer::Start(options);
  EXPECT_TRUE(s.ok()) << s.status();
}

TEST(LoopbackTest, Addresses) {
  for (const char* a :
       {"127.0.0.1:7101", "127.8.9.10:1", "localhost:7101", "LOCALHOST:1", "[::1]:7101", "::1",
        "[::ffff:127.0.0.1]:1", "unix:/run/gr.sock", "unix-abstract:govreport"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"0.0.0.0:7101", ":7101", "[::]:7101", "10.0.0.5:7101",
                        "records.example:7101", "128.0.0.1:1", "[::ffff:10.0.0.1]:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

// The error of a server or client configuration, "" when it is accepted.
std::string ServerError(const ServerTls& tls) {
  auto c = ServerCredentials(tls);
  return c.ok() ? "" : std::string(c.status().message());
}
std::string ClientError(const ClientTls& tls) {
  auto c = ClientCredentials(tls);
  return c.ok() ? "" : std::string(c.status().message());
}

TEST_F(TlsTest, BadFilesAreClearErrors) {
  std::string garbage = File("main", "garbage.pem");
  std::ofstream(garbage) << "not a certificate\n";
  auto has = [](const std::string& error, const std::string& part) {
    return error.find(part) != std::string::npos;
  };

  ServerTls tls = RecordsTls();
  EXPECT_EQ(ServerError(tls), "");
  tls.key_file.clear();
  EXPECT_TRUE(has(ServerError(tls), "--tls-cert and --tls-key go together")) << ServerError(tls);
  tls = RecordsTls();
  tls.cert_file = File("main", "missing.pem");
  EXPECT_TRUE(has(ServerError(tls), "--tls-cert " + tls.cert_file + ": cannot read it"))
      << ServerError(tls);
  tls = RecordsTls();
  tls.cert_file = garbage;
  EXPECT_TRUE(has(ServerError(tls), "no PEM certificate")) << ServerError(tls);
  tls = RecordsTls();
  tls.key_file = garbage;
  EXPECT_TRUE(has(ServerError(tls), "--tls-key " + garbage + ": no PEM private key"))
      << ServerError(tls);
  tls = RecordsTls();
  tls.key_file = File("main", "reportctl.key");
  EXPECT_TRUE(has(ServerError(tls), "is not the key of the certificate")) << ServerError(tls);
  tls = RecordsTls(/*mtls=*/true);
  tls.client_ca_file = garbage;
  EXPECT_TRUE(has(ServerError(tls), "--tls-client-ca " + garbage + ": no PEM certificate"))
      << ServerError(tls);
  ServerTls ca_only;
  ca_only.client_ca_file = File("main", "ca.pem");
  EXPECT_TRUE(has(ServerError(ca_only), "--tls-client-ca needs --tls-cert"));

  ClientTls client = TrustingMain();
  EXPECT_EQ(ClientError(client), "");
  client.ca_file = garbage;
  EXPECT_TRUE(has(ClientError(client), "--tls-ca " + garbage)) << ClientError(client);
  client = WithCert(TrustingMain(), "main");
  client.key_file.clear();
  EXPECT_TRUE(has(ClientError(client), "go together")) << ClientError(client);

  // RunningServer::Start says the same instead of listening without TLS.
  ServerOptions options;
  options.tls = RecordsTls();
  options.tls.key_file = garbage;
  auto s = RunningServer::Start(options);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(has(std::string(s.status().message()), "no PEM private key"));
}

// The server re-reads its files: a certificate of another CA put in place
// is served from a later handshake on, without a restart. Polled until it
// is (bounded), not timed.
TEST_F(TlsTest, RenewedCertificateIsServedWithoutRestart) {
  std::string live = File("main", "live");
  fs::create_directories(live);
  auto install = [&](const std::string& ca) {
    // Key first, then the certificate, each by rename: a reader sees whole files.
    for (const char* ext : {".key", ".pem"}) {
      fs::copy_file(File(ca, std::string("records") + ext), live + "/tmp" + ext,
                    fs::copy_options::overwrite_existing);
      fs::rename(live + "/tmp" + ext, live + "/records" + ext);
    }
  };
  install("main");
  ServerTls tls;
  tls.cert_file = live + "/records.pem";
  tls.key_file = live + "/records.key";
  tls.reload_interval = absl::Seconds(1);
  Serve(tls);
  ClientTls other;
  other.ca_file = File("other", "ca.pem");
  ASSERT_EQ(Check(TrustingMain()), grpc::StatusCode::OK);
  ASSERT_EQ(Check(other), grpc::StatusCode::UNAVAILABLE);

  install("other");
  grpc::StatusCode code = grpc::StatusCode::UNAVAILABLE;
  for (int i = 0; i < 300 && code != grpc::StatusCode::OK; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    code = Check(other);
  }
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(Check(TrustingMain()), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace govreport
