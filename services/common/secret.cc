#include "common/secret.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/resource.h"
#include "common/server.h"

namespace govreport {

void DefineSecretFlags(Flags& flags) {
  flags.Define("secret-key-file", "",
               "File holding the deployment's secret key (at least 32 bytes; "
               "the same on every server and replica, never in Redis)");
  flags.Define("secret-key", "",
               "The deployment's secret key itself; prefer --secret-key-file "
               "or the environment variable");
}

absl::StatusOr<std::string> SecretFromFlags(const Flags& flags) {
  std::string key;
  std::string file = flags.Get("secret-key-file");
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("--secret-key-file: cannot read ", file));
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    key = std::string(absl::StripAsciiWhitespace(buf.str()));
  } else {
    key = flags.Get("secret-key");
  }
  if (key.empty()) {
    return absl::NotFoundError(
        "no secret key: set --secret-key-file (or GOVREPORT_SECRET_KEY_FILE); "
        "make one with: head -c 32 /dev/urandom | base64 > secret.key");
  }
  if (key.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the secret key has ", key.size(), " bytes; at least ", kMinSecretBytes, " are needed"));
  }
  return key;
}

std::string DeriveKey(absl::string_view secret, absl::string_view purpose) {
  return HmacSha256(secret, absl::StrCat("govreport/", purpose));
}

absl::Status ConfigurePageTokens(const Flags& flags, absl::string_view service) {
  absl::StatusOr<std::string> secret = SecretFromFlags(flags);
  if (secret.ok()) {
    SetPageTokenKey(DeriveKey(*secret, "page-token"));
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(secret.status())) return secret.status();
  LogWarning(service,
             "no --secret-key-file (GOVREPORT_SECRET_KEY_FILE): page tokens are signed "
             "with a random key of this process, so they do not survive a restart and do not work "
             "across replicas");
  return absl::OkStatus();
}

}  // namespace govreport
