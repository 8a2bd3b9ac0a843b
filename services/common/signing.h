// SM2 signatures over SM3 (GB/T 32918, GB/T 32905) for published documents,
// self-signed SM2 certificates, and the envelope that keeps private keys
// encrypted under the operator's master key. OpenSSL 3 does the
// cryptography; this file fixes the choices so every caller makes the same
// ones:
//
//   - signatures are DER (SEQUENCE of r, s), the SM3 digest taken with the
//     distinguishing ID "1234567812345678" (GB/T 35276's default), so that
//     `openssl dgst -sm3 -verify pub.pem -sigopt distid:1234567812345678
//     -signature SIG FILE` checks them;
//   - keys travel as PEM (PKCS#8 private, SubjectPublicKeyInfo public);
//   - sealed data is AES-256-GCM under a fresh data key, the data key itself
//     AES-256-GCM under the master key, both bound to a label (the key's
//     resource name) so a sealed key copied to another name does not open.
#ifndef GOVREPORT_COMMON_SIGNING_H_
#define GOVREPORT_COMMON_SIGNING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::signing {

// The distinguishing ID every signature here is made with.
inline constexpr absl::string_view kSm2Id = "1234567812345678";

struct KeyPair {
  std::string private_pem;  // PKCS#8, unencrypted: seal it before storing
  std::string public_pem;   // SubjectPublicKeyInfo
};

absl::StatusOr<KeyPair> GenerateSm2KeyPair();

// The public key (PEM) of a private key, or of a certificate (PEM).
absl::StatusOr<std::string> PublicKeyOf(absl::string_view private_or_certificate_pem);

// The DER signature of `data`. INVALID_ARGUMENT when the key is not an SM2
// private key in PEM.
absl::StatusOr<std::string> Sign(absl::string_view private_pem, absl::string_view data);

// OK when `signature` is `data`'s, made by the key of `public_pem` (a public
// key or a certificate); INVALID_ARGUMENT (reason SIGNATURE_MISMATCH) when
// it is not, or is no signature at all.
absl::Status Verify(absl::string_view public_pem, absl::string_view data,
                    absl::string_view signature);

struct CertificateSubject {
  std::string common_name;   // e.g. the org's display name
  std::string organization;  // e.g. the org id
};

// A self-signed X.509 v3 certificate (PEM) of the key, signed SM2-with-SM3,
// valid from `not_before` to `not_after`, with `serial` (> 0).
absl::StatusOr<std::string> SelfSignedCertificate(absl::string_view private_pem,
                                                  const CertificateSubject& subject,
                                                  absl::Time not_before, absl::Time not_after,
                                                  uint64_t serial);

// A PKCS#10 certificate signing request (PEM) of the key for `subject`,
// signed SM2-with-SM3 with the distinguishing ID above: what a CA is sent
// to issue the key's certificate.
absl::StatusOr<std::string> CertificateSigningRequest(absl::string_view private_pem,
                                                      const CertificateSubject& subject);

struct CertificateInfo {
  std::string subject;  // one line, RFC 2253
  std::string issuer;
  absl::Time not_before;
  absl::Time not_after;
  std::string public_pem;
  std::string sha256_hex;   // of the DER, for display and pinning
  std::string common_name;  // the subject's CN (UTF-8), empty without one
  std::string der;          // the certificate itself, DER
};
absl::StatusOr<CertificateInfo> ReadCertificate(absl::string_view certificate_pem);

// The PEM of a certificate given as DER (as an electronic seal carries it):
// what Verify and ReadCertificate take. INVALID_ARGUMENT (reason
// NOT_A_CERTIFICATE) for bytes that are no whole X.509 certificate.
absl::StatusOr<std::string> CertificatePemOfDer(absl::string_view der);

// OK when the first certificate of `chain_pem` chains, through the others
// in it (intermediates, in any order), to a certificate of `trusted_pem`
// (one or more CA certificates, PEM), every link valid at `at`.
// INVALID_ARGUMENT (reason CERTIFICATE_NOT_TRUSTED) saying why not, as
// OpenSSL's verification names it; `trusted_pem` without a certificate is
// INVALID_ARGUMENT too.
absl::Status VerifyCertificateChain(absl::string_view chain_pem, absl::string_view trusted_pem,
                                    absl::Time at);

// The master key: exactly 32 bytes, given as 64 hex characters (what
// `openssl rand -hex 32` prints), surrounding whitespace ignored.
absl::StatusOr<std::string> ParseMasterKey(absl::string_view hex);

// Seals `plaintext` under `master_key` (32 bytes), bound to `label`.
absl::StatusOr<std::string> Seal(absl::string_view master_key, absl::string_view label,
                                 absl::string_view plaintext);
// The plaintext of Seal; DATA_LOSS when the master key or label differ or
// the sealed bytes were changed or cut.
absl::StatusOr<std::string> Open(absl::string_view master_key, absl::string_view label,
                                 absl::string_view sealed);

}  // namespace govreport::signing

#endif  // GOVREPORT_COMMON_SIGNING_H_
