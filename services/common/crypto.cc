#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>

#include "absl/strings/escaping.h"

namespace govreport {
namespace {

std::string DigestHex(const EVP_MD* md, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(out), len));
}

}  // namespace

std::string Sha1Hex(absl::string_view data) { return DigestHex(EVP_sha1(), data); }

std::string Sha256Hex(absl::string_view data) { return DigestHex(EVP_sha256(), data); }

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  return absl::BytesToHexString(HmacSha256(key, data));
}

std::string RandomHex(size_t bytes) {
  std::string buf(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(bytes));
  return absl::BytesToHexString(buf);
}

std::string NewId() {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  uint64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  uint64_t rnd = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&rnd), sizeof(rnd));
  std::string id(19, '0');
  for (int i = 10; i >= 0; --i) {
    id[i] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  for (int i = 18; i >= 11; --i) {
    id[i] = kAlphabet[rnd & 31];
    rnd >>= 5;
  }
  return id;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace govreport
