#include "common/tls.h"

#include <arpa/inet.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace govreport {
namespace {

namespace gx = grpc::experimental;

// The help of --tls-cert and --tls-key: the same whether a server or a
// client defines them (a server binary defines both sides).
constexpr char kCertHelp[] =
    "PEM certificate (chain) of this process: served to clients when it serves TLS, presented "
    "as its client certificate when it calls with TLS (--tls-ca)";
constexpr char kKeyHelp[] = "PEM private key of --tls-cert (keep it mode 0600)";

absl::StatusOr<std::string> ReadPemFile(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, ": cannot read it: ", std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

BioPtr MemoryBio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// The first certificate of a PEM file (the leaf of a chain, or a CA); an
// error naming the flag if there is none or it has expired.
absl::StatusOr<X509Ptr> FirstCertificate(absl::string_view flag, const std::string& path) {
  GR_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(flag, path));
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, ": no PEM certificate in it"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, ": the certificate has expired"));
  }
  return cert;
}

unsigned int ReloadSeconds(absl::Duration d) {
  return static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(d)));
}

}  // namespace

absl::Status CheckIdentity(absl::string_view cert_flag, const std::string& cert_file,
                           absl::string_view key_flag, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", cert_flag, " and --", key_flag, " go together: set both or neither"));
  }
  GR_ASSIGN_OR_RETURN(X509Ptr cert, FirstCertificate(cert_flag, cert_file));
  GR_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(key_flag, key_file));
  BioPtr bio = MemoryBio(key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", key_flag, " ", key_file, ": no PEM private key in it (or encrypted)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("--", key_flag, " ", key_file,
                                                   " is not the key of the certificate in --",
                                                   cert_flag, " ", cert_file));
  }
  return absl::OkStatus();
}

void DefineServerTlsFlags(Flags& flags) {
  flags.Define("tls-cert", "", kCertHelp);
  flags.Define("tls-key", "", kKeyHelp);
  flags.Define("tls-client-ca", "",
               "PEM CA bundle: clients must present a certificate it signed (mTLS); needs "
               "--tls-cert");
  flags.Define("insecure", "false",
               "Serve plaintext on an address that is not loopback (without it such a server "
               "refuses to start)");
}

ServerTls ServerTlsFromFlags(const Flags& flags) {
  ServerTls tls;
  tls.cert_file = flags.Get("tls-cert");
  tls.key_file = flags.Get("tls-key");
  tls.client_ca_file = flags.Get("tls-client-ca");
  tls.allow_insecure = flags.GetBool("insecure");
  return tls;
}

std::vector<FlagDefinition> ClientTlsFlagDefinitions() {
  return {
      {"tls-ca", "", "PEM CA bundle to verify the servers with; TLS on when set"},
      {"tls-cert", "", kCertHelp},
      {"tls-key", "", kKeyHelp},
      {"tls-server-name", "",
       "Name the servers' certificates must carry (default: the host of each address)"},
  };
}

void DefineClientTlsFlags(Flags& flags) {
  for (const FlagDefinition& f : ClientTlsFlagDefinitions()) {
    flags.Define(f.name, f.default_value, f.help);
  }
}

ClientTls ClientTlsFromFlags(const Flags& flags) {
  ClientTls tls;
  tls.ca_file = flags.Get("tls-ca");
  tls.cert_file = flags.Get("tls-cert");
  tls.key_file = flags.Get("tls-key");
  tls.server_name = flags.Get("tls-server-name");
  return tls;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls) {
  if (!tls.enabled()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  GR_RETURN_IF_ERROR(CheckIdentity("tls-cert", tls.cert_file, "tls-key", tls.key_file));
  if (!tls.client_ca_file.empty()) {
    GR_RETURN_IF_ERROR(FirstCertificate("tls-client-ca", tls.client_ca_file).status());
  }
  // The provider reads the files now and again every interval: a renewed
  // certificate is served from the next handshake on.
  auto provider = std::make_shared<gx::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, ReloadSeconds(tls.reload_interval));
  gx::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return gx::TlsServerCredentials(options);
}

namespace {

// Checks the files and makes new credentials with their own provider.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> NewClientCredentials(
    const ClientTls& tls) {
  GR_RETURN_IF_ERROR(FirstCertificate("tls-ca", tls.ca_file).status());
  bool identity = !tls.cert_file.empty() || !tls.key_file.empty();
  if (identity) {
    GR_RETURN_IF_ERROR(CheckIdentity("tls-cert", tls.cert_file, "tls-key", tls.key_file));
  }
  auto provider = std::make_shared<gx::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.ca_file, ReloadSeconds(tls.reload_interval));
  gx::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (identity) options.watch_identity_key_cert_pairs();
  return gx::TlsCredentials(options);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  // One set of credentials per configuration and process: each holds a
  // provider with its own thread rereading the files, and every channel of
  // a process (the assembler has three) can share one.
  static auto* mu = new absl::Mutex();
  static auto* made =
      new absl::flat_hash_map<std::string, std::shared_ptr<grpc::ChannelCredentials>>();
  std::string key = absl::StrCat(tls.ca_file, "\n", tls.cert_file, "\n", tls.key_file, "\n",
                                 absl::ToInt64Seconds(tls.reload_interval));
  absl::MutexLock lock(mu);
  auto it = made->find(key);
  if (it != made->end()) return it->second;
  GR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                      NewClientCredentials(tls));
  (*made)[key] = credentials;
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFlags(
    const Flags& flags) {
  return ServerCredentials(ServerTlsFromFlags(flags));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentialsFromFlags(
    const Flags& flags) {
  return ClientCredentials(ClientTlsFromFlags(flags));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const ClientTls& tls,
                                                    const std::string& address,
                                                    grpc::ChannelArguments args) {
  GR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                      ClientCredentials(tls));
  if (tls.enabled() && !tls.server_name.empty()) {
    args.SetSslTargetNameOverride(tls.server_name);
  }
  return grpc::CreateCustomChannel(address, credentials, args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> DialFromFlags(const Flags& flags,
                                                             const std::string& address,
                                                             const grpc::ChannelArguments& args) {
  return Dial(ClientTlsFromFlags(flags), address, args);
}

bool IsLoopbackAddress(absl::string_view host_port) {
  if (absl::StartsWith(host_port, "unix:") || absl::StartsWith(host_port, "unix-abstract:")) {
    return true;
  }
  absl::string_view host = host_port;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else if (size_t colon = host.rfind(':');
             colon != absl::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

absl::Status CheckListenSecurity(absl::string_view address, const ServerTls& tls) {
  if (tls.enabled() || tls.allow_insecure || IsLoopbackAddress(address)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve plaintext on ", address,
      ": it is not a loopback address, and bearer tokens would cross the network in clear. Give "
      "--tls-cert and --tls-key (docs/tls.md), or --insecure if something else encrypts the link"));
}

}  // namespace govreport
