// TLS for every gRPC server and client, from gRPC's own credentials
// (OpenSSL). Servers: --tls-cert/--tls-key (TLS on when both are set),
// --tls-client-ca (mTLS: client certificates required and verified),
// --insecure (plaintext allowed on an address that is not loopback).
// Clients: --tls-ca (TLS on when set), the same --tls-cert/--tls-key as the
// client certificate, --tls-server-name. The files are checked at start-up
// (a clear error names the flag) and re-read every kTlsReloadInterval, so
// renewed certificates take effect without a restart. docs/tls.md.
#ifndef GOVREPORT_COMMON_TLS_H_
#define GOVREPORT_COMMON_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace govreport {

inline constexpr absl::Duration kTlsReloadInterval = absl::Seconds(60);

// What a server listens with. Empty cert and key: plaintext.
struct ServerTls {
  std::string cert_file;       // PEM certificate chain.
  std::string key_file;        // PEM private key of its first certificate.
  std::string client_ca_file;  // Set: clients must present a certificate it signed.
  // Plaintext on an address that is not loopback is refused unless set.
  bool allow_insecure = false;
  absl::Duration reload_interval = kTlsReloadInterval;
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// What a client dials with. Empty ca_file: plaintext.
struct ClientTls {
  std::string ca_file;      // PEM CA bundle the servers' certificates must chain to.
  std::string cert_file;    // Optional client certificate (mTLS) ...
  std::string key_file;     // ... and its key.
  std::string server_name;  // Name checked in the server's certificate; "": the target's host.
  absl::Duration reload_interval = kTlsReloadInterval;
  bool enabled() const { return !ca_file.empty(); }
};

// --tls-cert, --tls-key, --tls-client-ca, --insecure (DefineServerFlags
// calls it).
void DefineServerTlsFlags(Flags& flags);
ServerTls ServerTlsFromFlags(const Flags& flags);

// A flag as the command-line tools list it.
struct FlagDefinition {
  std::string name;
  std::string default_value;
  std::string help;
};
// --tls-ca, --tls-server-name, --tls-cert, --tls-key. A server defines them
// besides DefineServerFlags (the same --tls-cert/--tls-key, redefined with
// the same text).
std::vector<FlagDefinition> ClientTlsFlagDefinitions();
void DefineClientTlsFlags(Flags& flags);
ClientTls ClientTlsFromFlags(const Flags& flags);

// Checks the files (readable, PEM, key matching the certificate) and makes
// the credentials; plaintext when TLS is off.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls);
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFlags(
    const Flags& flags);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentialsFromFlags(
    const Flags& flags);

// A channel to `address` with the client TLS flags: credentials, and the
// server name override among `args`. Every outbound channel is made here.
absl::StatusOr<std::shared_ptr<grpc::Channel>> DialFromFlags(
    const Flags& flags, const std::string& address, const grpc::ChannelArguments& args = {});
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const ClientTls& tls,
                                                    const std::string& address,
                                                    grpc::ChannelArguments args = {});

// A certificate and the key that goes with it: both set or neither,
// readable, PEM, matching; the error names the flags. For a server that
// loads the files with another library (the gateway's HTTPS).
absl::Status CheckIdentity(absl::string_view cert_flag, const std::string& cert_file,
                           absl::string_view key_flag, const std::string& key_file);

// 127.0.0.0/8, ::1, localhost, unix sockets: addresses only this machine
// reaches. An empty host (":7101", "0.0.0.0", "[::]") is every interface.
bool IsLoopbackAddress(absl::string_view host_port);

// The refusal of plaintext on an address others reach, unless
// tls.allow_insecure; OK otherwise.
absl::Status CheckListenSecurity(absl::string_view address, const ServerTls& tls);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_TLS_H_
