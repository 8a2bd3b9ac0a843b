#include "assembler/signing_keys.h"

#include <chrono>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "assembler/domain.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "templates/layout/ofd_sign.h"

namespace govreport::assembler {
namespace {

constexpr int kDefaultValidityDays = 730;
constexpr int kMaxValidityDays = 3650;

absl::Status NoMasterKey() {
  return errors::WithReason(
      absl::FailedPreconditionError(
          "this assembler has no signing master key (--signing-master-key-file): signing keys "
          "can be neither made nor used"),
      "NO_MASTER_KEY", "未配置签名主密钥，无法生成或使用签名密钥");
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// To the microsecond: a rotation and a signature in the same second must
// still be ordered.
google::protobuf::Timestamp TimestampOf(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  google::protobuf::Timestamp out;
  out.set_seconds(micros / 1000000);
  out.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return out;
}

// The key a request remembered ("n").
absl::StatusOr<pb::SigningKey> KeyOfRequest(Store& store, const std::string& org,
                                            const std::string& remembered) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(remembered, &n)) return absl::DataLossError("corrupt request result");
  GR_ASSIGN_OR_RETURN(std::vector<pb::SigningKey> keys, store.ReadSigningKeys(org));
  for (auto& k : keys) {
    if (k.name() == SigningKeyName(org, n)) return k;
  }
  return absl::DataLossError("the key a repeated request made is gone");
}

}  // namespace

std::string SigningKeyName(absl::string_view org, int64_t n) {
  return absl::StrCat("orgs/", org, "/signingKeys/", n);
}

absl::StatusOr<pb::SigningKey> CreateSigningKey(Store& store, const std::string& org,
                                                const signing::CertificateSubject& subject,
                                                int validity_days, const std::string& created_by,
                                                absl::Time now, const request_id::Call& call) {
  if (validity_days < 0 || validity_days > kMaxValidityDays) {
    return errors::InvalidField(
        "validity_days", "INVALID_ARGUMENT",
        absl::StrCat(validity_days, " days: 0 (", kDefaultValidityDays, ") to ", kMaxValidityDays),
        absl::StrCat("须为 0 至 ", kMaxValidityDays, " 天"));
  }
  GR_RETURN_IF_ERROR(request_id::Validate(call.id));
  if (!call.id.empty()) {
    // A repeat of a call that went through gets the key it made.
    GR_ASSIGN_OR_RETURN(auto prior, store.ReadRequest(org, call.id));
    if (prior) {
      GR_ASSIGN_OR_RETURN(std::string first, request_id::FirstResult(*prior, call));
      return KeyOfRequest(store, org, first);
    }
  }
  if (store.signing_master_key().empty()) return NoMasterKey();
  const int days = validity_days == 0 ? kDefaultValidityDays : validity_days;
  GR_ASSIGN_OR_RETURN(int64_t n, store.NextSigningKeyNumber(org));
  GR_ASSIGN_OR_RETURN(signing::KeyPair pair, signing::GenerateSm2KeyPair());
  // The certificate counts in seconds; the key's own times are exact.
  const absl::Time from = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  GR_ASSIGN_OR_RETURN(
      std::string cert,
      signing::SelfSignedCertificate(pair.private_pem, subject, from, from + absl::Hours(24 * days),
                                     static_cast<uint64_t>(n)));
  GR_ASSIGN_OR_RETURN(signing::CertificateInfo info, signing::ReadCertificate(cert));
  pb::SigningKey key;
  key.set_name(SigningKeyName(org, n));
  key.set_algorithm(kSigningAlgorithm);
  key.set_public_key_pem(pair.public_pem);
  key.set_certificate_pem(cert);
  key.set_certificate_sha256(info.sha256_hex);
  key.set_certificate_issuer(info.issuer);
  *key.mutable_not_before() = TimestampOf(info.not_before);
  *key.mutable_not_after() = TimestampOf(info.not_after);
  *key.mutable_create_time() = TimestampOf(now);
  key.set_created_by(created_by);
  GR_ASSIGN_OR_RETURN(std::string sealed,
                      signing::Seal(store.signing_master_key(), key.name(), pair.private_pem));
  GR_ASSIGN_OR_RETURN(RegisterResult r,
                      store.AddSigningKey(org, n, key, sealed, absl::ToUnixMicros(now), call));
  switch (r.outcome) {
    case Outcome::kOk:
      key.set_state(pb::SIGNING_KEY_STATE_ACTIVE);
      return key;
    case Outcome::kRequestReused:
      return request_id::Reused(call.id);
    case Outcome::kReplayed:
      // A concurrent repeat won: its key stands, this one was never stored.
      return KeyOfRequest(store, org, r.detail);
    default:
      return absl::InternalError("unexpected answer of the signing key script");
  }
}

absl::StatusOr<SigningKeyRef> ParseSigningKeyName(absl::string_view name, absl::string_view field) {
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(name, "orgs/*/signingKeys/*", field));
  SigningKeyRef ref{parts[0], 0};
  if (!absl::SimpleAtoi(parts[1], &ref.n) || ref.n < 1 || parts[1][0] == '0') {
    return errors::InvalidField(
        field, "INVALID_NAME",
        absl::StrCat("'", name, "' is not orgs/{org}/signingKeys/{n} with n = 1, 2, ..."),
        "不是有效的签名密钥名称");
  }
  return ref;
}

namespace {

// Key n of the org as stored, refused when it is missing or retired.
absl::StatusOr<StoredSigningKey> UsableKey(Store& store, const SigningKeyRef& ref) {
  GR_ASSIGN_OR_RETURN(std::optional<StoredSigningKey> stored, store.ReadSigningKey(ref.org, ref.n));
  if (!stored) {
    return absl::NotFoundError(absl::StrCat(SigningKeyName(ref.org, ref.n), " does not exist"));
  }
  if (stored->key.state() == pb::SIGNING_KEY_STATE_RETIRED) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            stored->key.name(), " is retired: it signs nothing more, so it needs no certificate")),
        "SIGNING_KEY_RETIRED", "该签名密钥已停用");
  }
  return *std::move(stored);
}

}  // namespace

absl::StatusOr<pb::CertificateSigningRequest> CertificateSigningRequestOf(
    Store& store, const SigningKeyRef& ref, const signing::CertificateSubject& subject) {
  GR_ASSIGN_OR_RETURN(StoredSigningKey stored, UsableKey(store, ref));
  if (store.signing_master_key().empty()) return NoMasterKey();
  absl::StatusOr<std::string> private_pem =
      signing::Open(store.signing_master_key(), stored.key.name(), stored.sealed_private_key);
  if (!private_pem.ok()) {
    return errors::Prefixed(private_pem.status(),
                            absl::StrCat(stored.key.name(), " (another master key?): "));
  }
  GR_ASSIGN_OR_RETURN(std::string csr, signing::CertificateSigningRequest(*private_pem, subject));
  pb::CertificateSigningRequest out;
  out.set_signing_key(stored.key.name());
  out.set_csr_pem(std::move(csr));
  out.set_subject(absl::StrCat("O=", subject.organization, ",CN=", subject.common_name));
  return out;
}

absl::StatusOr<pb::SigningKey> ImportCertificate(Store& store, const SigningKeyRef& ref,
                                                 absl::string_view certificate_pem,
                                                 absl::Time now) {
  absl::StatusOr<signing::CertificateInfo> info = signing::ReadCertificate(certificate_pem);
  if (!info.ok()) {
    return errors::InvalidField("certificate_pem", "NOT_A_CERTIFICATE",
                                std::string(info.status().message()), "不是有效的 SM2 证书");
  }
  if (now < info->not_before || now > info->not_after) {
    return errors::InvalidField(
        "certificate_pem", "CERTIFICATE_NOT_VALID_NOW",
        absl::StrCat("valid from ", absl::FormatTime(info->not_before), " to ",
                     absl::FormatTime(info->not_after), ", not now"),
        "证书不在有效期内");
  }
  const bool chain_checked = !store.signing_ca_pem().empty();
  if (chain_checked) {
    const absl::Status trusted =
        signing::VerifyCertificateChain(certificate_pem, store.signing_ca_pem(), now);
    if (!trusted.ok()) return errors::Prefixed(trusted, "certificate_pem: ");
  }
  // Two tries: an import or a rotation between the read and the write.
  for (int attempt = 0; attempt < 2; ++attempt) {
    GR_ASSIGN_OR_RETURN(StoredSigningKey stored, UsableKey(store, ref));
    GR_ASSIGN_OR_RETURN(std::string own, signing::PublicKeyOf(stored.key.public_key_pem()));
    if (info->public_pem != own) {
      return errors::InvalidField(
          "certificate_pem", "CERTIFICATE_OF_ANOTHER_KEY",
          absl::StrCat("the certificate (", info->subject, ") certifies another public key than ",
                       stored.key.name(), "'s"),
          "证书的公钥与该签名密钥不符");
    }
    if (info->sha256_hex == stored.key.certificate_sha256() &&
        stored.key.certificate_chain_verified() == chain_checked) {
      return stored.key;
    }
    pb::SigningKey key = stored.key;
    if (info->sha256_hex != stored.key.certificate_sha256()) {
      key.add_previous_certificates_pem(key.certificate_pem());
    }
    key.set_certificate_chain_verified(chain_checked);
    key.set_certificate_pem(std::string(certificate_pem));
    key.set_certificate_sha256(info->sha256_hex);
    key.set_certificate_issuer(info->issuer);
    *key.mutable_not_before() = TimestampOf(info->not_before);
    *key.mutable_not_after() = TimestampOf(info->not_after);
    GR_ASSIGN_OR_RETURN(bool replaced, store.ReplaceSigningKey(ref.org, ref.n, stored.stored, key));
    if (replaced) return key;
  }
  return absl::AbortedError(
      absl::StrCat(SigningKeyName(ref.org, ref.n), " kept changing; try again"));
}

absl::StatusOr<std::optional<OpenedSigningKey>> OpenActiveSigningKey(Store& store,
                                                                     const std::string& org,
                                                                     absl::Time now) {
  GR_ASSIGN_OR_RETURN(std::optional<StoredSigningKey> active, store.ActiveSigningKey(org));
  if (!active) return std::optional<OpenedSigningKey>();
  if (store.signing_master_key().empty()) return NoMasterKey();
  const pb::SigningKey& key = active->key;
  if (now < TimeOf(key.not_before()) || now > TimeOf(key.not_after())) {
    return errors::WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            key.name(),
            "'s certificate is not valid now: create a new key (reportctl key create)")),
        "SIGNING_KEY_EXPIRED", "签名密钥证书已过期，请生成新密钥");
  }
  absl::StatusOr<std::string> private_pem =
      signing::Open(store.signing_master_key(), key.name(), active->sealed_private_key);
  if (!private_pem.ok()) {
    return errors::Prefixed(private_pem.status(),
                            absl::StrCat(key.name(), " (another master key?): "));
  }
  return std::optional<OpenedSigningKey>(OpenedSigningKey{key, *std::move(private_pem)});
}

absl::StatusOr<pb::DocumentSignature> SignManifestWith(const OpenedSigningKey& opened,
                                                       const std::string& manifest,
                                                       absl::Time now) {
  const pb::SigningKey& key = opened.key;
  GR_ASSIGN_OR_RETURN(std::string sig, signing::Sign(opened.private_pem, manifest));
  pb::DocumentSignature out;
  out.set_signing_key(key.name());
  out.set_algorithm(kSigningAlgorithm);
  out.set_signature(std::move(sig));
  out.set_manifest(manifest);
  out.set_certificate_pem(key.certificate_pem());
  *out.mutable_signing_time() = TimestampOf(now);
  return out;
}

absl::StatusOr<std::string> SignOfdWith(const OpenedSigningKey& key, const std::string& ofd,
                                        absl::Time now, bool with_seal) {
  layout::OfdSigner signer;
  signer.sign = [&key](std::string_view data) {
    return signing::Sign(key.private_pem, absl::string_view(data.data(), data.size()));
  };
  signer.time = std::chrono::floor<std::chrono::seconds>(absl::ToChronoTime(now));
  if (with_seal) {
    // A self-made seal: the org's key makes it, valid as long as its
    // certificate, named by the certificate's CN (the org's display name).
    GR_ASSIGN_OR_RETURN(signing::CertificateInfo cert,
                        signing::ReadCertificate(key.key.certificate_pem()));
    layout::OfdSeal seal;
    seal.certificate_der = std::move(cert.der);
    seal.esid = key.key.name();
    seal.name = cert.common_name;
    seal.created = TimeOf(key.key.create_time());
    seal.valid_start = cert.not_before;
    seal.valid_end = cert.not_after;
    signer.seal = std::move(seal);
  }
  return layout::SignOfd(ofd, signer);
}

absl::StatusOr<std::optional<pb::DocumentSignature>> SignManifest(Store& store,
                                                                  const std::string& org,
                                                                  const std::string& manifest,
                                                                  absl::Time now) {
  GR_ASSIGN_OR_RETURN(std::optional<OpenedSigningKey> key, OpenActiveSigningKey(store, org, now));
  if (!key) return std::optional<pb::DocumentSignature>();
  GR_ASSIGN_OR_RETURN(pb::DocumentSignature out, SignManifestWith(*key, manifest, now));
  return std::optional<pb::DocumentSignature>(std::move(out));
}

pb::VerifyDocumentResponse VerifyPublished(const pb::Revision& revision,
                                           typepb::DocumentFormat format, absl::string_view content,
                                           const std::vector<pb::SigningKey>& keys) {
  pb::VerifyDocumentResponse out;
  out.set_content_sha256(Sha256Hex(content));
  const pb::RenderedDocument* listed = nullptr;
  for (const auto& d : revision.documents()) {
    if (d.format() == format) listed = &d;
  }
  if (listed == nullptr) {
    out.add_problems(absl::StrCat(revision.name(), " has no ", FormatName(format), " document"));
  } else if (listed->sha256() != out.content_sha256()) {
    out.add_problems(absl::StrCat("the bytes are not the published ", FormatName(format),
                                  ": SHA-256 ", out.content_sha256(), ", published ",
                                  listed->sha256()));
  } else {
    out.set_content_matches(true);
  }
  if (!revision.has_signature()) {
    out.add_problems(absl::StrCat(revision.name(),
                                  " was published unsigned (the org had no "
                                  "signing key then)"));
    return out;
  }
  const pb::DocumentSignature& sig = revision.signature();
  *out.mutable_signature() = sig;
  const pb::SigningKey* key = nullptr;
  for (const auto& k : keys) {
    if (k.name() == sig.signing_key()) key = &k;
  }
  if (key == nullptr) {
    out.add_problems(absl::StrCat(sig.signing_key(), " is no key of this org"));
    return out;
  }
  *out.mutable_signing_key() = *key;
  // The org's key as registered decides, not the certificate the signature
  // carries: a forged signature with its own certificate fails here.
  const bool manifest_ok = sig.manifest() == Manifest(revision.documents()) &&
                           Sha256Hex(sig.manifest()) == revision.digest();
  if (!manifest_ok) out.add_problems("the signed manifest is not the revision's");
  const absl::Status verified =
      signing::Verify(key->public_key_pem(), sig.manifest(), sig.signature());
  if (!verified.ok()) out.add_problems(absl::StrCat("signature: ", verified.message()));
  // The key's certificate then: its current one or one it had before
  // (the self-signed one a CA's replaced).
  bool carried_is_keys = sig.certificate_pem() == key->certificate_pem();
  for (const std::string& earlier : key->previous_certificates_pem()) {
    carried_is_keys = carried_is_keys || sig.certificate_pem() == earlier;
  }
  if (!carried_is_keys) {
    out.add_problems("the certificate the signature carries is not the key's");
  }
  out.set_signature_valid(manifest_ok && verified.ok() && carried_is_keys);
  const absl::Time at = TimeOf(sig.signing_time());
  const bool was_active = at >= TimeOf(key->create_time()) &&
                          (!key->has_retire_time() || at < TimeOf(key->retire_time()));
  absl::StatusOr<signing::CertificateInfo> carried =
      signing::ReadCertificate(sig.certificate_pem());
  const bool cert_valid =
      carried_is_keys && carried.ok() && at >= carried->not_before && at <= carried->not_after;
  if (!was_active) out.add_problems(absl::StrCat(key->name(), " was not the active key then"));
  if (!cert_valid) out.add_problems(absl::StrCat(key->name(), "'s certificate was not valid then"));
  out.set_key_valid_at_signing(was_active && cert_valid);
  bool embedded_ok = true;
  if (format == typepb::DOCUMENT_FORMAT_OFD) {
    const absl::Status inner = layout::VerifyOfdSignedBy(
        std::string_view(content.data(), content.size()), key->public_key_pem());
    out.set_embedded_signature_valid(inner.ok());
    if (!inner.ok()) out.add_problems(absl::StrCat("the OFD's own signature: ", inner.message()));
    embedded_ok = inner.ok();
  }
  out.set_valid(out.content_matches() && out.signature_valid() && out.key_valid_at_signing() &&
                embedded_ok);
  return out;
}

}  // namespace govreport::assembler
