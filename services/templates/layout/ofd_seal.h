// The electronic seal's two ASN.1 structures of GB/T 38540-2020 (信息安全技术
// 安全电子签章密码技术规范), version 4, as DER:
//
//   SESeal ::= SEQUENCE {                     -- the seal, made by a seal maker
//     eSealInfo SES_SealInfo,                 -- header "ES"/4/vid, esID,
//                                             -- property, picture, no extDatas
//     cert OCTET STRING,                      -- the maker's certificate
//     signAlgID OBJECT IDENTIFIER,            -- SM2 with SM3
//     signedValue BIT STRING }                -- over the DER of eSealInfo
//   SES_Signature ::= SEQUENCE {              -- one use of it on a document
//     toSign TBS_Sign,                        -- version 4, eseal, timeInfo,
//                                             -- dataHash, propertyInfo
//     cert OCTET STRING,                      -- the signer's certificate
//     signatureAlgID OBJECT IDENTIFIER,
//     signature BIT STRING }                  -- over the DER of toSign; no timeStamp
//
// Signatures are the DER SM2-with-SM3 ones common/signing.h makes. Written
// and read with OpenSSL's DER primitives (ASN1_put_object, ASN1_get_object,
// i2d/d2i of INTEGER, OBJECT IDENTIFIER, GeneralizedTime); a reader keeps
// the exact bytes that were signed, so it checks them as given, never a
// re-encoding. docs/ofd.md shows the structure as openssl asn1parse prints it.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_OFD_SEAL_H_
#define GOVREPORT_TEMPLATES_LAYOUT_OFD_SEAL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace govreport::layout::ses {

inline constexpr int64_t kVersion = 4;
inline constexpr std::string_view kHeaderId = "ES";
// SES_ESPropertyInfo.type: 1 is an organisation's seal (单位印章).
inline constexpr int64_t kOrgSeal = 1;
// certListType 1: certList holds the certificates themselves (2 would be digests).
inline constexpr int64_t kCertificateList = 1;

// The SM2-with-SM3 signature (DER) of `data` by the maker's or signer's key.
using SignFunction = std::function<absl::StatusOr<std::string>(std::string_view data)>;

struct SealInfo {
  std::string vid;   // IA5String: the seal maker's vendor id
  std::string esid;  // IA5String: the seal's identifier
  int64_t type = kOrgSeal;
  std::string name;                           // UTF8String: the seal's name
  std::vector<std::string> certificates_der;  // who may sign with the seal
  absl::Time create_date, valid_start, valid_end;
  std::string picture_type = "PNG";  // IA5String
  std::string picture;               // the image's bytes
  int64_t width_mm = 0, height_mm = 0;
};

// The SESeal of `info`, made by the maker whose certificate is
// `maker_certificate_der` and whose key `sign` uses. INVALID_ARGUMENT for an
// esID, vid or picture type that is not ASCII; the signer's error as given.
absl::StatusOr<std::string> MakeSeal(const SealInfo& info, std::string_view maker_certificate_der,
                                     const SignFunction& sign);

struct SignatureInfo {
  absl::Time time;              // timeInfo, to the second
  std::string data_hash;        // the signed data's SM3 digest
  std::string property_info;    // IA5String: the signed file's path
  std::string certificate_der;  // the signer's
};

// The SES_Signature over `seal_der` (an SESeal, embedded as it is) and `info`.
absl::StatusOr<std::string> MakeSignature(std::string_view seal_der, const SignatureInfo& info,
                                          const SignFunction& sign);

struct ParsedSeal {
  std::string header_id;
  int64_t header_version = 0;
  SealInfo info;              // certificates, dates and picture included
  std::string seal_info_der;  // the bytes the maker signed
  std::string maker_certificate_der;
  std::string algorithm_oid;  // dotted
  std::string signed_value;   // the maker's SM2 signature (DER)
};

struct ParsedSignature {
  int64_t version = 0;
  std::string seal_der;  // eseal as it stands in toSign
  ParsedSeal seal;
  SignatureInfo info;
  std::string tbs_der;  // the bytes the signer signed
  std::string algorithm_oid;
  std::string signature;
};

// The parts of an SESeal / SES_Signature, each as v4 lays it out.
// INVALID_ARGUMENT saying which field is missing or not of its type, for
// trailing bytes, or an indefinite length (no DER).
absl::StatusOr<ParsedSeal> ParseSeal(std::string_view der);
absl::StatusOr<ParsedSignature> ParseSignature(std::string_view der);

}  // namespace govreport::layout::ses

#endif  // GOVREPORT_TEMPLATES_LAYOUT_OFD_SEAL_H_
