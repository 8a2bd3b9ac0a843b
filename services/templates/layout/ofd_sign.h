// An electronic signature inside an OFD in the structure of GB/T 38540-2020
// (信息安全技术 安全电子签章密码技术规范) as far as it goes without a
// certified device: OFD.xml's DocBody points at Doc_0/Signs/Signatures.xml,
// which lists one Signature (Type "Sign"); its Signature.xml names every
// other part of the package with its SM3 digest (References, CheckMethod
// the SM3 OID) and the SignedValue file holds the SM2-with-SM3 signature
// (DER, the default distinguishing ID) of Signature.xml's bytes. What such a
// signature proves and what legal effect needs: docs/ofd.md.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_
#define GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::layout {

inline constexpr absl::string_view kSm3Oid = "1.2.156.10197.1.401";
inline constexpr absl::string_view kSm2WithSm3Oid = "1.2.156.10197.1.501";
inline constexpr absl::string_view kOfdSignatures = "Doc_0/Signs/Signatures.xml";
inline constexpr absl::string_view kOfdSignature = "Doc_0/Signs/Sign_0/Signature.xml";
inline constexpr absl::string_view kOfdSignedValue = "Doc_0/Signs/Sign_0/SignedValue.dat";

struct OfdSigner {
  // The SM2-with-SM3 signature (DER) of `data`: where a signing device would
  // plug in (the assembler signs with the org's key, common/signing.h).
  std::function<absl::StatusOr<std::string>(std::string_view data)> sign;
  // SignedInfo's SignatureDateTime and the new zip entries' time.
  std::chrono::sys_seconds time{};
  std::string provider = "govreport";
};

// The package with the signature added. INVALID_ARGUMENT for bytes that are
// no readable OFD (ReadOfd) or one signed already; the signer's error as it
// gives it.
absl::StatusOr<std::string> SignOfd(std::string_view ofd, const OfdSigner& signer);

// OK when the package carries a signature whose References name every part
// outside Doc_0/Signs with its SM3 digest and `verify(Signature.xml,
// SignedValue)` accepts; INVALID_ARGUMENT saying what is wrong otherwise
// (unsigned, a part changed, added or missing, the signature not the key's).
absl::Status VerifyOfdSignature(
    std::string_view ofd,
    const std::function<absl::Status(std::string_view data, std::string_view signature)>& verify);

// VerifyOfdSignature with SM2-with-SM3 under `public_pem` (a public key or
// a certificate, as common/signing.h's Verify takes it): the check
// `reportctl report verify` and ReportService.VerifyDocument make.
absl::Status VerifyOfdSignedBy(std::string_view ofd, const std::string& public_pem);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_
