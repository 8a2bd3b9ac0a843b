// Org signing keys and the signature of publications (docs/signing.md):
// each org may have SM2 keys; the active one signs the manifest of every
// publication; retired ones stay to verify what they signed. Private keys
// exist in the clear only inside these functions, sealed under the
// operator's master key everywhere else.
#ifndef GOVREPORT_ASSEMBLER_SIGNING_KEYS_H_
#define GOVREPORT_ASSEMBLER_SIGNING_KEYS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assembler/store.h"
#include "common/request_id.h"
#include "common/signing.h"
#include "govreport/assembler/v1/reports.pb.h"

namespace govreport::assembler {

inline constexpr char kSigningAlgorithm[] = "SM2-with-SM3";

// orgs/{org}/signingKeys/{n}
std::string SigningKeyName(absl::string_view org, int64_t n);

// "orgs/{org}/signingKeys/{n}", n >= 1.
struct SigningKeyRef {
  std::string org;
  int64_t n = 0;
};
absl::StatusOr<SigningKeyRef> ParseSigningKeyName(absl::string_view name,
                                                  absl::string_view field = "name");

// A CA's certificate signing request of key `ref` for `subject`. NOT_FOUND,
// FAILED_PRECONDITION for a retired key or without the master key.
absl::StatusOr<pb::CertificateSigningRequest> CertificateSigningRequestOf(
    Store& store, const SigningKeyRef& ref, const signing::CertificateSubject& subject);

// Key `ref` takes `certificate_pem` (of its own public key, valid at `now`)
// as its certificate, the one it had kept in previous_certificates_pem.
absl::StatusOr<pb::SigningKey> ImportCertificate(Store& store, const SigningKeyRef& ref,
                                                 absl::string_view certificate_pem, absl::Time now);

// A new active key for `org` (the old one retired), with a self-signed
// certificate for `subject`, valid `validity_days` (0: 730) from `now`.
absl::StatusOr<pb::SigningKey> CreateSigningKey(Store& store, const std::string& org,
                                                const signing::CertificateSubject& subject,
                                                int validity_days, const std::string& created_by,
                                                absl::Time now, const request_id::Call& call);

// The org's active key with its private key opened, to sign at `now`;
// nullopt when the org has no key. Errors as SignManifest's.
struct OpenedSigningKey {
  pb::SigningKey key;
  std::string private_pem;
};
absl::StatusOr<std::optional<OpenedSigningKey>> OpenActiveSigningKey(Store& store,
                                                                     const std::string& org,
                                                                     absl::Time now);

// The signature of `manifest` by `key`, made at `now`.
absl::StatusOr<pb::DocumentSignature> SignManifestWith(const OpenedSigningKey& key,
                                                       const std::string& manifest, absl::Time now);

// `ofd` with `key`'s signature inside it (templates/layout/ofd_sign.h), made
// at `now`; `with_seal` (the org's settings have a seal image and seal the
// document): an electronic seal made by the key, where the OFD prints the
// seal image. INVALID_ARGUMENT for bytes that are no OFD.
absl::StatusOr<std::string> SignOfdWith(const OpenedSigningKey& key, const std::string& ofd,
                                        absl::Time now, bool with_seal);

// The org's active key's signature of `manifest` at `now`; nullopt when the
// org has no key. An org with a key that cannot sign (no master key here,
// a sealed key that does not open, an expired certificate) is an error,
// never an unsigned publication.
absl::StatusOr<std::optional<pb::DocumentSignature>> SignManifest(Store& store,
                                                                  const std::string& org,
                                                                  const std::string& manifest,
                                                                  absl::Time now);

// What VerifyDocument answers for `content` claimed to be `format` of the
// published `revision`, given the org's keys.
pb::VerifyDocumentResponse VerifyPublished(const pb::Revision& revision,
                                           govreport::type::v1::DocumentFormat format,
                                           absl::string_view content,
                                           const std::vector<pb::SigningKey>& keys);

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_SIGNING_KEYS_H_
