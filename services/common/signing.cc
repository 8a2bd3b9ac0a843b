#include "common/signing.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/status.h"

namespace govreport::signing {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct ReqFree {
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using Cert = std::unique_ptr<X509, X509Free>;

constexpr absl::string_view kSealMagic = "GRS1";
constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
// Larger inputs are no key, certificate or signature of ours.
constexpr size_t kMaxPemBytes = 64 << 10;

// The first error OpenSSL queued, for logs; the queue is emptied so the
// next call starts clean.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

Bio MemoryOf(absl::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

absl::Status NotSm2(absl::string_view what) {
  return errors::WithReason(
      absl::InvalidArgumentError(absl::StrCat(what, " is not an SM2 key in PEM")), "NOT_SM2_KEY",
      "不是 PEM 格式的 SM2 密钥");
}

absl::StatusOr<Pkey> ReadPrivate(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) return NotSm2("the private key");
  Bio in = MemoryOf(pem);
  Pkey key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  if (key == nullptr || !EVP_PKEY_is_a(key.get(), "SM2")) {
    ERR_clear_error();
    return NotSm2("the private key");
  }
  return key;
}

absl::StatusOr<Cert> ReadX509(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) return absl::InvalidArgumentError("not a PEM certificate");
  Bio in = MemoryOf(pem);
  Cert cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return errors::WithReason(absl::InvalidArgumentError("not a PEM certificate"),
                              "NOT_A_CERTIFICATE", "不是 PEM 格式的证书");
  }
  return cert;
}

// A public key, or the key of a certificate.
absl::StatusOr<Pkey> ReadPublic(absl::string_view pem) {
  if (pem.find("BEGIN CERTIFICATE") != absl::string_view::npos) {
    GR_ASSIGN_OR_RETURN(Cert cert, ReadX509(pem));
    Pkey key(X509_get_pubkey(cert.get()));
    if (key == nullptr || !EVP_PKEY_is_a(key.get(), "SM2")) return NotSm2("the certificate's key");
    return key;
  }
  if (pem.size() > kMaxPemBytes) return NotSm2("the public key");
  Bio in = MemoryOf(pem);
  Pkey key(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (key == nullptr || !EVP_PKEY_is_a(key.get(), "SM2")) {
    ERR_clear_error();
    return NotSm2("the public key");
  }
  return key;
}

absl::StatusOr<std::string> PublicPem(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(out.get(), key) != 1) {
    return absl::InternalError(absl::StrCat("writing a public key: ", OpenSslError()));
  }
  return Drain(out.get());
}

// A digest context for SM2 with SM3 and kSm2Id, the EVP_PKEY-SM2(7) way:
// the ID is set on a key context that the digest context then uses. The
// digest context does not own that key context, so both travel together.
struct Sm2Context {
  PkeyCtx key;
  MdCtx md;
};

absl::StatusOr<Sm2Context> Sm2DigestContext(EVP_PKEY* key, bool sign) {
  Sm2Context c{PkeyCtx(EVP_PKEY_CTX_new(key, nullptr)), MdCtx(EVP_MD_CTX_new())};
  if (c.md == nullptr || c.key == nullptr ||
      EVP_PKEY_CTX_set1_id(c.key.get(), kSm2Id.data(), static_cast<int>(kSm2Id.size())) != 1) {
    return absl::InternalError(absl::StrCat("SM2 context: ", OpenSslError()));
  }
  EVP_MD_CTX_set_pkey_ctx(c.md.get(), c.key.get());
  const int ok = sign ? EVP_DigestSignInit(c.md.get(), nullptr, EVP_sm3(), nullptr, key)
                      : EVP_DigestVerifyInit(c.md.get(), nullptr, EVP_sm3(), nullptr, key);
  if (ok != 1) return absl::InternalError(absl::StrCat("SM2 with SM3: ", OpenSslError()));
  return c;
}

absl::Time TimeOf(const ASN1_TIME* t) {
  struct tm parts = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&parts));
}

absl::Status DataLoss() {
  return errors::WithReason(
      absl::DataLossError("sealed data does not open: another master key or name, or changed"),
      "SEALED_DATA_DAMAGED", "密文无法解开：主密钥或名称不符，或已被改动");
}

// AES-256-GCM: ciphertext then tag.
absl::StatusOr<std::string> GcmSeal(absl::string_view key, absl::string_view nonce,
                                    absl::string_view aad, absl::string_view plaintext) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + kTagBytes, '\0');
  int n = 0;
  int tail = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), o + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          o + plaintext.size()) != 1) {
    return absl::InternalError(absl::StrCat("AES-GCM: ", OpenSslError()));
  }
  return out;
}

absl::StatusOr<std::string> GcmOpen(absl::string_view key, absl::string_view nonce,
                                    absl::string_view aad, absl::string_view sealed) {
  if (sealed.size() < kTagBytes) return DataLoss();
  const size_t size = sealed.size() - kTagBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(size, '\0');
  std::string tag(sealed.substr(size));
  int n = 0;
  int tail = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(sealed.data()),
                        static_cast<int>(size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), o + n, &tail) != 1) {
    ERR_clear_error();
    return DataLoss();
  }
  return out;
}

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError(absl::StrCat("randomness: ", OpenSslError()));
  }
  return out;
}

absl::Status CheckMasterKey(absl::string_view master_key) {
  if (master_key.size() != kKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("the master key has ", master_key.size(), " bytes, not ", kKeyBytes));
  }
  return absl::OkStatus();
}

std::string DataKeyLabel(absl::string_view label) {
  return absl::StrCat("govreport data key", absl::string_view("\0", 1), label);
}

}  // namespace

absl::StatusOr<KeyPair> GenerateSm2KeyPair() {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return absl::InternalError(absl::StrCat("SM2 key generation: ", OpenSslError()));
  }
  Pkey key(raw);
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("writing a private key: ", OpenSslError()));
  }
  KeyPair pair;
  pair.private_pem = Drain(out.get());
  GR_ASSIGN_OR_RETURN(pair.public_pem, PublicPem(key.get()));
  return pair;
}

absl::StatusOr<std::string> PublicKeyOf(absl::string_view private_or_certificate_pem) {
  if (private_or_certificate_pem.find("PRIVATE KEY") != absl::string_view::npos) {
    GR_ASSIGN_OR_RETURN(Pkey key, ReadPrivate(private_or_certificate_pem));
    return PublicPem(key.get());
  }
  GR_ASSIGN_OR_RETURN(Pkey key, ReadPublic(private_or_certificate_pem));
  return PublicPem(key.get());
}

absl::StatusOr<std::string> Sign(absl::string_view private_pem, absl::string_view data) {
  GR_ASSIGN_OR_RETURN(Pkey key, ReadPrivate(private_pem));
  GR_ASSIGN_OR_RETURN(Sm2Context c, Sm2DigestContext(key.get(), /*sign=*/true));
  size_t size = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(c.md.get(), nullptr, &size, in, data.size()) != 1) {
    return absl::InternalError(absl::StrCat("SM2 signature size: ", OpenSslError()));
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(c.md.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, in,
                     data.size()) != 1) {
    return absl::InternalError(absl::StrCat("SM2 signature: ", OpenSslError()));
  }
  signature.resize(size);
  return signature;
}

absl::Status Verify(absl::string_view public_pem, absl::string_view data,
                    absl::string_view signature) {
  GR_ASSIGN_OR_RETURN(Pkey key, ReadPublic(public_pem));
  GR_ASSIGN_OR_RETURN(Sm2Context c, Sm2DigestContext(key.get(), /*sign=*/false));
  const int ok = EVP_DigestVerify(
      c.md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  if (ok != 1) {
    return errors::WithReason(
        absl::InvalidArgumentError("the signature is not this key's signature of these bytes"),
        "SIGNATURE_MISMATCH", "签名与该密钥或内容不符");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SelfSignedCertificate(absl::string_view private_pem,
                                                  const CertificateSubject& subject,
                                                  absl::Time not_before, absl::Time not_after,
                                                  uint64_t serial) {
  if (serial == 0 || not_after <= not_before) {
    return absl::InvalidArgumentError("a certificate needs a serial > 0 and a validity period");
  }
  GR_ASSIGN_OR_RETURN(Pkey key, ReadPrivate(private_pem));
  Cert cert(X509_new());
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after)) == nullptr ||
      !add("CN", subject.common_name) || !add("O", subject.organization) ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return absl::InternalError(absl::StrCat("certificate: ", OpenSslError()));
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  // A document-signing key: signatures that stand for the org, nothing else.
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
           {NID_subject_key_identifier, "hash"}}) {
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(
        X509V3_EXT_conf_nid(nullptr, &v3, nid, const_cast<char*>(value)));
    if (ext == nullptr || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return absl::InternalError(absl::StrCat("certificate extension: ", OpenSslError()));
    }
  }
  GR_ASSIGN_OR_RETURN(Sm2Context c, Sm2DigestContext(key.get(), /*sign=*/true));
  if (X509_sign_ctx(cert.get(), c.md.get()) <= 0) {
    return absl::InternalError(absl::StrCat("signing the certificate: ", OpenSslError()));
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    return absl::InternalError(absl::StrCat("writing the certificate: ", OpenSslError()));
  }
  return Drain(out.get());
}

absl::StatusOr<std::string> CertificateSigningRequest(absl::string_view private_pem,
                                                      const CertificateSubject& subject) {
  GR_ASSIGN_OR_RETURN(Pkey key, ReadPrivate(private_pem));
  std::unique_ptr<X509_REQ, ReqFree> req(X509_REQ_new());
  if (req == nullptr) return absl::InternalError(absl::StrCat("request: ", OpenSslError()));
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  auto add = [&](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (X509_REQ_set_version(req.get(), 0) != 1 || !add("CN", subject.common_name) ||
      !add("O", subject.organization) || X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return absl::InternalError(absl::StrCat("request: ", OpenSslError()));
  }
  GR_ASSIGN_OR_RETURN(Sm2Context c, Sm2DigestContext(key.get(), /*sign=*/true));
  if (X509_REQ_sign_ctx(req.get(), c.md.get()) <= 0) {
    return absl::InternalError(absl::StrCat("signing the request: ", OpenSslError()));
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return absl::InternalError(absl::StrCat("writing the request: ", OpenSslError()));
  }
  return Drain(out.get());
}

absl::StatusOr<CertificateInfo> ReadCertificate(absl::string_view certificate_pem) {
  GR_ASSIGN_OR_RETURN(Cert cert, ReadX509(certificate_pem));
  CertificateInfo info;
  auto print = [](const X509_NAME* name) {
    Bio out(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    return Drain(out.get());
  };
  info.subject = print(X509_get_subject_name(cert.get()));
  info.issuer = print(X509_get_issuer_name(cert.get()));
  info.not_before = TimeOf(X509_get0_notBefore(cert.get()));
  info.not_after = TimeOf(X509_get0_notAfter(cert.get()));
  Pkey key(X509_get_pubkey(cert.get()));
  if (key == nullptr || !EVP_PKEY_is_a(key.get(), "SM2")) return NotSm2("the certificate's key");
  GR_ASSIGN_OR_RETURN(info.public_pem, PublicPem(key.get()));
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert.get(), &der);
  if (size <= 0) return absl::InternalError(absl::StrCat("certificate DER: ", OpenSslError()));
  info.der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  info.sha256_hex = Sha256Hex(info.der);
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  unsigned char* utf8 = nullptr;
  const int utf8_size =
      cn < 0
          ? -1
          : ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
  if (utf8_size > 0) info.common_name.assign(reinterpret_cast<const char*>(utf8), utf8_size);
  OPENSSL_free(utf8);
  return info;
}

absl::StatusOr<std::string> CertificatePemOfDer(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Cert cert(der.size() > kMaxPemBytes ? nullptr
                                      : d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return errors::WithReason(absl::InvalidArgumentError("not a DER certificate"),
                              "NOT_A_CERTIFICATE", "不是 DER 格式的证书");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    return absl::InternalError(absl::StrCat("writing a certificate: ", OpenSslError()));
  }
  return Drain(out.get());
}

namespace {

// Every certificate of a PEM bundle, in order, each told the SM2
// distinguishing ID its signature was made with (OpenSSL checks an SM2
// signature on a certificate only with the ID the certificate carries).
std::vector<Cert> ReadAllX509(absl::string_view pem) {
  std::vector<Cert> out;
  if (pem.size() > 16 * kMaxPemBytes) return out;
  Bio in = MemoryOf(pem);
  while (X509* x = PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(x);
    ASN1_OCTET_STRING* id = ASN1_OCTET_STRING_new();
    if (id != nullptr &&
        ASN1_OCTET_STRING_set(id, reinterpret_cast<const unsigned char*>(kSm2Id.data()),
                              static_cast<int>(kSm2Id.size())) == 1) {
      X509_set0_distinguishing_id(x, id);  // takes it
    } else {
      ASN1_OCTET_STRING_free(id);
    }
  }
  ERR_clear_error();  // the end of the bundle reads as an error
  return out;
}

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};

absl::Status NotTrusted(const std::string& why) {
  return errors::WithReason(absl::InvalidArgumentError(why), "CERTIFICATE_NOT_TRUSTED",
                            "证书不是受信任的 CA 签发的");
}

}  // namespace

absl::Status VerifyCertificateChain(absl::string_view chain_pem, absl::string_view trusted_pem,
                                    absl::Time at) {
  std::vector<Cert> chain = ReadAllX509(chain_pem);
  std::vector<Cert> roots = ReadAllX509(trusted_pem);
  if (chain.empty()) return NotTrusted("no certificate to verify");
  if (roots.empty()) return absl::InvalidArgumentError("the trusted CA file holds no certificate");
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return absl::ResourceExhaustedError("out of memory");
  for (const Cert& root : roots) {
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) ERR_clear_error();  // a duplicate
  }
  // The stack borrows the certificates; `chain` keeps them alive.
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) {
    return absl::InternalError(absl::StrCat("certificate verification: ", OpenSslError()));
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), absl::ToTimeT(at));
  if (X509_verify_cert(ctx.get()) == 1) return absl::OkStatus();
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return NotTrusted(absl::StrCat("the certificate does not chain to a trusted CA: ",
                                 X509_verify_cert_error_string(error)));
}

absl::StatusOr<std::string> ParseMasterKey(absl::string_view hex) {
  hex = absl::StripAsciiWhitespace(hex);
  // This abseil's HexStringToBytes does not check its input: check first.
  const bool hex_only = std::all_of(hex.begin(), hex.end(), [](char c) {
    return absl::ascii_isxdigit(static_cast<unsigned char>(c));
  });
  if (hex.size() != 2 * kKeyBytes || !hex_only) {
    return absl::InvalidArgumentError(
        "the master key must be 64 hex characters (openssl rand -hex 32)");
  }
  return absl::HexStringToBytes(hex);
}

absl::StatusOr<std::string> Seal(absl::string_view master_key, absl::string_view label,
                                 absl::string_view plaintext) {
  GR_RETURN_IF_ERROR(CheckMasterKey(master_key));
  GR_ASSIGN_OR_RETURN(std::string data_key, RandomBytes(kKeyBytes));
  GR_ASSIGN_OR_RETURN(std::string key_nonce, RandomBytes(kNonceBytes));
  GR_ASSIGN_OR_RETURN(std::string data_nonce, RandomBytes(kNonceBytes));
  GR_ASSIGN_OR_RETURN(std::string wrapped,
                      GcmSeal(master_key, key_nonce, DataKeyLabel(label), data_key));
  GR_ASSIGN_OR_RETURN(std::string body, GcmSeal(data_key, data_nonce, label, plaintext));
  return absl::StrCat(kSealMagic, key_nonce, wrapped, data_nonce, body);
}

absl::StatusOr<std::string> Open(absl::string_view master_key, absl::string_view label,
                                 absl::string_view sealed) {
  GR_RETURN_IF_ERROR(CheckMasterKey(master_key));
  constexpr size_t kWrapped = kKeyBytes + kTagBytes;
  if (sealed.size() < kSealMagic.size() + kNonceBytes + kWrapped + kNonceBytes + kTagBytes ||
      sealed.substr(0, kSealMagic.size()) != kSealMagic) {
    return DataLoss();
  }
  sealed.remove_prefix(kSealMagic.size());
  const absl::string_view key_nonce = sealed.substr(0, kNonceBytes);
  const absl::string_view wrapped = sealed.substr(kNonceBytes, kWrapped);
  const absl::string_view data_nonce = sealed.substr(kNonceBytes + kWrapped, kNonceBytes);
  const absl::string_view body = sealed.substr(2 * kNonceBytes + kWrapped);
  GR_ASSIGN_OR_RETURN(std::string data_key,
                      GcmOpen(master_key, key_nonce, DataKeyLabel(label), wrapped));
  return GcmOpen(data_key, data_nonce, label, body);
}

}  // namespace govreport::signing
