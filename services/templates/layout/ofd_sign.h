// An electronic signature or seal inside an OFD in the structure of GB/T
// 38540-2020 (信息安全技术 安全电子签章密码技术规范) as far as it goes without a
// certified device or a licensed seal maker: OFD.xml's DocBody points at
// Doc_0/Signs/Signatures.xml, which lists one Signature; its Signature.xml
// names every other part of the package with its SM3 digest (References,
// CheckMethod the SM3 OID). Then either
//   - Type "Sign": the SignedValue file holds the SM2-with-SM3 signature
//     (DER, the default distinguishing ID) of Signature.xml's bytes; or
//   - Type "Seal" (an electronic seal, 电子签章): Signature.xml also places
//     the seal on the page (StampAnnot, where the seal image is printed) and
//     names the seal file (Seal/BaseLoc, an SESeal in DER), and the
//     SignedValue file is an SES_Signature over Signature.xml's SM3 digest
//     and that seal (ofd_seal.h).
// What either proves and what legal effect needs: docs/ofd.md.
#ifndef GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_
#define GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::layout {

inline constexpr absl::string_view kSm3Oid = "1.2.156.10197.1.401";
inline constexpr absl::string_view kSm2WithSm3Oid = "1.2.156.10197.1.501";
inline constexpr absl::string_view kOfdSignatures = "Doc_0/Signs/Signatures.xml";
inline constexpr absl::string_view kOfdSignature = "Doc_0/Signs/Sign_0/Signature.xml";
inline constexpr absl::string_view kOfdSignedValue = "Doc_0/Signs/Sign_0/SignedValue.dat";
inline constexpr absl::string_view kOfdSealFile = "Doc_0/Signs/Sign_0/Seal.esl";

// What an electronic seal needs beyond the signing key. The seal is made by
// the signer's own key (a self-made seal: no licensed seal maker), its
// picture the seal image the OFD prints, 42 mm wide where the layout puts it.
struct OfdSeal {
  std::string certificate_der;  // the signer's certificate, also the seal maker's
  std::string esid;             // ASCII: the seal's identifier
  std::string name;             // the seal's name (the org's)
  absl::Time created, valid_start, valid_end;
};

struct OfdSigner {
  // The SM2-with-SM3 signature (DER) of `data`: where a signing device would
  // plug in (the assembler signs with the org's key, common/signing.h).
  std::function<absl::StatusOr<std::string>(std::string_view data)> sign;
  // SignedInfo's SignatureDateTime and the new zip entries' time.
  std::chrono::sys_seconds time{};
  std::string provider = "govreport";
  // With a seal and an OFD that prints a seal image (an ImageObject of a
  // DocumentRes PNG): an electronic seal, Type "Seal". Otherwise Type "Sign".
  std::optional<OfdSeal> seal;
};

// The package with the signature added. INVALID_ARGUMENT for bytes that are
// no readable OFD (ReadOfd) or one signed already; the signer's error as it
// gives it.
absl::StatusOr<std::string> SignOfd(std::string_view ofd, const OfdSigner& signer);

// OK when the package carries a signature whose References name every part
// outside Doc_0/Signs with its SM3 digest and, for Type "Sign",
// `verify(Signature.xml, SignedValue)` accepts; for Type "Seal", the
// SES_Signature's dataHash is Signature.xml's SM3, `verify(TBS_Sign's DER,
// signature)` accepts and so does the certificate it carries, that
// certificate is among the seal's, the seal's own signedValue verifies under
// its maker's certificate, the seal file is the signed seal, its picture a
// PNG, the signing time within the seal's validity and a StampAnnot places it
// on a page. INVALID_ARGUMENT saying what is wrong otherwise (unsigned, a
// part changed, added or missing, the signature not the key's, a changed
// seal, picture or TBS_Sign).
absl::Status VerifyOfdSignature(
    std::string_view ofd,
    const std::function<absl::Status(std::string_view data, std::string_view signature)>& verify);

// VerifyOfdSignature with SM2-with-SM3 under `public_pem` (a public key or
// a certificate, as common/signing.h's Verify takes it): the check
// `reportctl report verify` and ReportService.VerifyDocument make.
absl::Status VerifyOfdSignedBy(std::string_view ofd, const std::string& public_pem);

}  // namespace govreport::layout

#endif  // GOVREPORT_TEMPLATES_LAYOUT_OFD_SIGN_H_
