// Digests and randomness from OpenSSL, used for Lua script SHAs, stored token
// hashes, history chains and document digests.
#ifndef GOVREPORT_COMMON_CRYPTO_H_
#define GOVREPORT_COMMON_CRYPTO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace govreport {

std::string Sha1Hex(absl::string_view data);
std::string Sha256Hex(absl::string_view data);
// HMAC-SHA-256 of `data` under `key`: 32 raw bytes, or 64 hex characters.
std::string HmacSha256(absl::string_view key, absl::string_view data);
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);
// Cryptographically random bytes, hex encoded (2 * bytes characters).
std::string RandomHex(size_t bytes);
// Time-ordered, collision-resistant id: 11 chars of milliseconds then 8 of
// randomness, lower-case base32 (sorts by creation time).
std::string NewId();
// Compares without leaking where the first difference is.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_CRYPTO_H_
