// The deployment's secret: one key the operator gives every server (never
// stored in Redis), from which each use derives its own key. It MACs page
// tokens and keys the approval audit chain, so that whoever can write Redis
// still cannot forge either.
#ifndef GOVREPORT_COMMON_SECRET_H_
#define GOVREPORT_COMMON_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"

namespace govreport {

// At least this many bytes of key material.
inline constexpr size_t kMinSecretBytes = 32;

// --secret-key-file (GOVREPORT_SECRET_KEY_FILE) and --secret-key
// (GOVREPORT_SECRET_KEY; the file is preferred: flags show in `ps`).
void DefineSecretFlags(Flags& flags);

// The key from the flags; NOT_FOUND when neither is set, INVALID_ARGUMENT
// when it is unreadable or shorter than kMinSecretBytes.
absl::StatusOr<std::string> SecretFromFlags(const Flags& flags);

// A key for one purpose ("page-token", "audit-chain"), so that a key that
// leaks from one use opens no other.
std::string DeriveKey(absl::string_view secret, absl::string_view purpose);

// Called once by every server at start: page tokens are MAC'd under
// DeriveKey(secret, "page-token"), the same on every replica and across
// restarts. Without a secret, under a random key of this process, with one
// warning line (`service` names the logger). INVALID_ARGUMENT when the
// secret is set but unusable.
absl::Status ConfigurePageTokens(const Flags& flags, absl::string_view service);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_SECRET_H_
