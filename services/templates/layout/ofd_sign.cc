#include "templates/layout/ofd_sign.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/png.h"
#include "common/signing.h"
#include "common/status.h"
#include "templates/docx/text_util.h"
#include "templates/docx/zip_writer.h"
#include "templates/layout/ofd_reader.h"
#include "templates/layout/ofd_seal.h"

namespace govreport::layout {
namespace {

constexpr absl::string_view kSignaturesRef =
    "<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>";
constexpr absl::string_view kSealVendor = "govreport";

std::string Sm3(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sm3(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Sm3Base64(std::string_view data) { return absl::Base64Escape(Sm3(data)); }

bool InSigns(absl::string_view name) { return absl::StartsWith(name, "Doc_0/Signs/"); }

std::string SignaturesXml(absl::string_view type) {
  return absl::StrCat(R"(<?xml version="1.0" encoding="UTF-8"?>
<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:MaxSignId>s1</ofd:MaxSignId><ofd:Signature ID="s1" Type=")",
                      type, R"(" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>
)");
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDoc = std::unique_ptr<xmlDoc, DocFree>;

XmlDoc ParseXml(std::string_view bytes, const char* name) {
  return XmlDoc(xmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), name, "UTF-8",
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

std::string_view Name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

std::string Text(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string out = v == nullptr ? "" : reinterpret_cast<const char*>(v);
  xmlFree(v);
  return out;
}

std::string Attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string out = v == nullptr ? "" : reinterpret_cast<const char*>(v);
  xmlFree(v);
  return out;
}

// Every element named `name` under `n`, in document order.
void Find(const xmlNode* n, std::string_view name, std::vector<const xmlNode*>* out) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (Name(c) == name) out->push_back(c);
    Find(c, name, out);
  }
}

std::vector<const xmlNode*> All(const XmlDoc& doc, std::string_view name) {
  std::vector<const xmlNode*> out;
  if (doc != nullptr) Find(reinterpret_cast<const xmlNode*>(doc.get()), name, &out);
  return out;
}

std::string WithoutSlash(std::string loc) {
  if (absl::StartsWith(loc, "/")) loc.erase(0, 1);
  return loc;
}

// ---- Where the seal image is printed --------------------------------------

struct SealPlacement {
  std::string page_id;
  std::string boundary;  // "x y w h" in mm, as the ImageObject has it
  double width_mm = 0, height_mm = 0;
  const std::string* png = nullptr;
};

using PartsByName = std::map<std::string, const std::string*>;

// Document.xml's pages: ID and the part of each.
std::vector<std::pair<std::string, std::string>> PagesOf(const PartsByName& parts) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto document = parts.find(std::string(kOfdDocument));
  if (document == parts.end()) return out;
  const XmlDoc doc = ParseXml(*document->second, "Document.xml");
  for (const xmlNode* page : All(doc, "Page")) {
    out.emplace_back(Attr(page, "ID"), absl::StrCat("Doc_0/", WithoutSlash(Attr(page, "BaseLoc"))));
  }
  return out;
}

// DocumentRes.xml's MultiMedia: its ID to its file in the package.
std::map<std::string, std::string> MediaOf(const PartsByName& parts) {
  std::map<std::string, std::string> out;
  const auto res = parts.find("Doc_0/DocumentRes.xml");
  if (res == parts.end()) return out;
  const XmlDoc doc = ParseXml(*res->second, "DocumentRes.xml");
  for (const xmlNode* r : All(doc, "Res")) {
    const std::string base = WithoutSlash(Attr(r, "BaseLoc"));
    std::vector<const xmlNode*> media;
    Find(r, "MultiMedia", &media);
    for (const xmlNode* m : media) {
      std::vector<const xmlNode*> file;
      Find(m, "MediaFile", &file);
      if (file.empty()) continue;
      out[Attr(m, "ID")] = absl::StrCat("Doc_0/", base.empty() ? "" : base + "/", Text(file[0]));
    }
  }
  return out;
}

// Every ImageObject that prints the first PNG the pages print: the seal
// image (the layout's only image), in page order. Empty when there is none.
std::vector<SealPlacement> FindSealImages(const PartsByName& parts) {
  const std::map<std::string, std::string> media = MediaOf(parts);
  std::vector<SealPlacement> out;
  for (const auto& [page_id, page_part] : PagesOf(parts)) {
    const auto page = parts.find(page_part);
    if (page == parts.end()) continue;
    const XmlDoc doc = ParseXml(*page->second, "Content.xml");
    for (const xmlNode* image : All(doc, "ImageObject")) {
      const auto file = media.find(Attr(image, "ResourceID"));
      if (file == media.end() || !parts.contains(file->second)) continue;
      const std::string* png = parts.at(file->second);
      if (!out.empty() && *png != *out.front().png) continue;
      SealPlacement p{page_id, Attr(image, "Boundary"), 0, 0, png};
      const std::vector<std::string> box = absl::StrSplit(p.boundary, ' ', absl::SkipEmpty());
      if (box.size() != 4 || !absl::SimpleAtod(box[2], &p.width_mm) ||
          !absl::SimpleAtod(box[3], &p.height_mm) || p.width_mm <= 0 || p.height_mm <= 0) {
        continue;
      }
      out.push_back(std::move(p));
    }
  }
  return out;
}

// ---- Writing ---------------------------------------------------------------

// SignedInfo: who signed with what, when, and every part's SM3 digest; for a
// seal also where it is stamped and the seal file.
std::string SignatureXml(const std::vector<OfdPart>& parts, const OfdSigner& signer,
                         const std::vector<SealPlacement>& stamps) {
  std::string xml = absl::StrCat(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016"><ofd:SignedInfo><ofd:Provider ProviderName=")");
  docx::internal::AppendXmlEscaped(&xml, signer.provider);
  absl::StrAppend(
      &xml, R"(" Version="1.0"/><ofd:SignatureMethod>)", kSm2WithSm3Oid,
      "</ofd:SignatureMethod><ofd:SignatureDateTime>",
      absl::FormatTime("%Y%m%d%H%M%SZ", absl::FromChrono(signer.time), absl::UTCTimeZone()),
      R"(</ofd:SignatureDateTime><ofd:References CheckMethod=")", kSm3Oid, R"(">)");
  for (const OfdPart& part : parts) {
    if (InSigns(part.name)) continue;
    absl::StrAppend(&xml, R"(<ofd:Reference FileRef="/)", part.name, R"("><ofd:CheckValue>)",
                    Sm3Base64(part.bytes), "</ofd:CheckValue></ofd:Reference>");
  }
  xml += "</ofd:References>";
  // xs:ID, so a name, not a number.
  for (size_t i = 0; i < stamps.size(); ++i) {
    absl::StrAppend(&xml, R"(<ofd:StampAnnot ID="stamp)", i + 1, R"(" PageRef=")",
                    stamps[i].page_id, R"(" Boundary=")", stamps[i].boundary, R"("/>)");
  }
  if (!stamps.empty()) {
    absl::StrAppend(&xml, "<ofd:Seal><ofd:BaseLoc>/", kOfdSealFile, "</ofd:BaseLoc></ofd:Seal>");
  }
  absl::StrAppend(&xml, "</ofd:SignedInfo><ofd:SignedValue>/", kOfdSignedValue,
                  "</ofd:SignedValue></ofd:Signature>\n");
  return xml;
}

// The self-made seal: the signer's key is its maker, the printed seal
// image its picture, its size the printed one to the millimetre.
absl::StatusOr<std::string> MakeOfdSeal(const OfdSigner& signer, const SealPlacement& stamp) {
  const OfdSeal& seal = *signer.seal;
  if (seal.certificate_der.empty()) {
    return absl::InvalidArgumentError("the seal has no certificate (OfdSigner.seal)");
  }
  ses::SealInfo info;
  info.vid = std::string(kSealVendor);
  info.esid = seal.esid;
  info.name = seal.name;
  info.certificates_der = {seal.certificate_der};
  info.create_date = seal.created;
  info.valid_start = seal.valid_start;
  info.valid_end = seal.valid_end;
  info.picture = *stamp.png;
  info.width_mm = std::llround(stamp.width_mm);
  info.height_mm = std::llround(stamp.height_mm);
  return ses::MakeSeal(info, seal.certificate_der, signer.sign);
}

// OFD.xml with DocBody pointing at Signatures.xml.
absl::Status AddSignaturesRef(std::vector<OfdPart>& parts) {
  for (OfdPart& part : parts) {
    if (InSigns(part.name)) return absl::InvalidArgumentError("the OFD is signed already");
    if (part.name != kOfdEntry) continue;
    if (absl::StrContains(part.bytes, "<ofd:Signatures>")) {
      return absl::InvalidArgumentError("the OFD is signed already");
    }
    const size_t body_end = part.bytes.rfind("</ofd:DocBody>");
    if (body_end == std::string::npos) {
      return absl::InvalidArgumentError("OFD.xml has no </ofd:DocBody> to add Signatures to");
    }
    part.bytes.insert(body_end, std::string(kSignaturesRef));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Zip(const std::vector<OfdPart>& parts, std::chrono::sys_seconds time) {
  std::vector<docx::internal::DeflatedEntry> entries;
  entries.reserve(parts.size());
  for (const OfdPart& part : parts) {
    // PNGs and the seal (which holds one) are compressed already.
    const bool stored = absl::EndsWith(part.name, ".png") || part.name == kOfdSealFile;
    GR_ASSIGN_OR_RETURN(docx::internal::DeflatedEntry e,
                        docx::internal::Deflate(part.name, part.bytes, stored ? 0 : 6));
    entries.push_back(std::move(e));
  }
  std::vector<const docx::internal::DeflatedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  return docx::internal::ZipDeflated(order, docx::internal::DosTimeOf(time));
}

// ---- Checking --------------------------------------------------------------

absl::Status Refused(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("the OFD's signature does not verify: ", what));
}

struct SignedInfoFacts {
  std::map<std::string, std::string> refs;  // part → base64 SM3
  std::string method, value_loc, seal_loc;
  std::vector<std::string> stamp_pages;  // each StampAnnot's PageRef
};

SignedInfoFacts FactsOf(const XmlDoc& doc) {
  SignedInfoFacts f;
  for (const xmlNode* n : All(doc, "References")) f.method = Attr(n, "CheckMethod");
  for (const xmlNode* n : All(doc, "SignedValue")) f.value_loc = WithoutSlash(Text(n));
  for (const xmlNode* n : All(doc, "Seal")) {
    std::vector<const xmlNode*> loc;
    Find(n, "BaseLoc", &loc);
    if (!loc.empty()) f.seal_loc = WithoutSlash(Text(loc[0]));
  }
  for (const xmlNode* n : All(doc, "StampAnnot")) f.stamp_pages.push_back(Attr(n, "PageRef"));
  for (const xmlNode* n : All(doc, "Reference")) {
    std::vector<const xmlNode*> check;
    Find(n, "CheckValue", &check);
    f.refs[WithoutSlash(Attr(n, "FileRef"))] = check.empty() ? "" : Text(check[0]);
  }
  return f;
}

absl::Status CheckReferences(const PartsByName& by_name, const SignedInfoFacts& facts) {
  if (facts.method != kSm3Oid) {
    return Refused(absl::StrCat("CheckMethod '", facts.method, "' is not SM3"));
  }
  for (const auto& [name, bytes] : by_name) {
    if (InSigns(name)) continue;
    auto ref = facts.refs.find(name);
    if (ref == facts.refs.end()) return Refused(absl::StrCat(name, " is not among the References"));
    if (ref->second != Sm3Base64(*bytes)) return Refused(absl::StrCat(name, " was changed"));
  }
  for (const auto& [name, check] : facts.refs) {
    if (!by_name.contains(name)) return Refused(absl::StrCat(name, " is missing"));
  }
  return absl::OkStatus();
}

// Signatures.xml's Type of its Signature ("Seal" when absent, as the schema
// defaults it).
std::string TypeListed(const PartsByName& by_name) {
  const auto it = by_name.find(std::string(kOfdSignatures));
  if (it == by_name.end()) return "";
  const XmlDoc doc = ParseXml(*it->second, "Signatures.xml");
  if (doc == nullptr) return "";
  for (const xmlNode* n : All(doc, "Signature")) {
    const std::string type = Attr(n, "Type");
    return type.empty() ? "Seal" : type;
  }
  return "";
}

absl::Status VerifyWithCertificate(std::string_view certificate_der, std::string_view data,
                                   std::string_view signature) {
  GR_ASSIGN_OR_RETURN(const std::string pem, signing::CertificatePemOfDer(absl::string_view(
                                                 certificate_der.data(), certificate_der.size())));
  return signing::Verify(pem, absl::string_view(data.data(), data.size()),
                         absl::string_view(signature.data(), signature.size()));
}

// The SESeal as its maker made it: header, signature, picture, validity.
absl::Status CheckSeal(const ses::ParsedSeal& seal, absl::Time signed_at) {
  if (seal.header_id != ses::kHeaderId || seal.header_version != ses::kVersion) {
    return Refused(absl::StrCat("the seal's header is '", seal.header_id, "' version ",
                                seal.header_version, ", not 'ES' version 4"));
  }
  if (seal.algorithm_oid != kSm2WithSm3Oid) {
    return Refused(
        absl::StrCat("the seal's signAlgID ", seal.algorithm_oid, " is not SM2-with-SM3"));
  }
  if (absl::Status made =
          VerifyWithCertificate(seal.maker_certificate_der, seal.seal_info_der, seal.signed_value);
      !made.ok()) {
    return Refused(absl::StrCat(
        "the seal's signedValue does not verify under its maker's certificate: ", made.message()));
  }
  if (seal.info.picture_type != "PNG") {
    return Refused(
        absl::StrCat("the seal's picture type is '", seal.info.picture_type, "', not PNG"));
  }
  if (absl::Status png = png::Inspect(seal.info.picture, "the seal's picture").status();
      !png.ok()) {
    return Refused(png.message());
  }
  if (signed_at < seal.info.valid_start || signed_at > seal.info.valid_end) {
    return Refused("the seal was not valid at the signing time");
  }
  return absl::OkStatus();
}

// Type "Seal": SignedValue.dat is an SES_Signature over Signature.xml.
absl::Status VerifySeal(
    std::string_view signature_xml, std::string_view value, std::string_view seal_file,
    const std::function<absl::Status(std::string_view data, std::string_view signature)>& verify) {
  absl::StatusOr<ses::ParsedSignature> parsed = ses::ParseSignature(value);
  if (!parsed.ok()) return Refused(absl::StrCat("SignedValue.dat is ", parsed.status().message()));
  const ses::ParsedSignature& s = *parsed;
  if (s.version != ses::kVersion) {
    return Refused(absl::StrCat("TBS_Sign's version is ", s.version, ", not 4"));
  }
  if (s.info.data_hash != Sm3(signature_xml)) {
    return Refused("the seal's dataHash is not the SM3 digest of Signature.xml");
  }
  if (s.info.property_info != absl::StrCat("/", kOfdSignature)) {
    return Refused(absl::StrCat("the seal's propertyInfo '", s.info.property_info,
                                "' does not name Signature.xml"));
  }
  if (s.algorithm_oid != kSm2WithSm3Oid) {
    return Refused(absl::StrCat("the signatureAlgID ", s.algorithm_oid, " is not SM2-with-SM3"));
  }
  if (absl::Status ok = verify(s.tbs_der, s.signature); !ok.ok()) {
    return Refused(absl::StrCat("the seal's signature over TBS_Sign: ", ok.message()));
  }
  if (!VerifyWithCertificate(s.info.certificate_der, s.tbs_der, s.signature).ok()) {
    return Refused("the certificate in SignedValue.dat is not the signing key's");
  }
  const std::vector<std::string>& certs = s.seal.info.certificates_der;
  if (std::find(certs.begin(), certs.end(), s.info.certificate_der) == certs.end()) {
    return Refused("the signer's certificate is not among the seal's");
  }
  if (seal_file != s.seal_der) return Refused("Seal.esl is not the seal that was signed");
  return CheckSeal(s.seal, s.info.time);
}

}  // namespace

absl::StatusOr<std::string> SignOfd(std::string_view ofd, const OfdSigner& signer) {
  absl::StatusOr<OfdSummary> readable = ReadOfd(ofd);
  if (!readable.ok()) return readable.status();
  GR_ASSIGN_OR_RETURN(std::vector<OfdPart> parts, ReadOfdParts(ofd));
  if (absl::Status added = AddSignaturesRef(parts); !added.ok()) return added;
  std::vector<SealPlacement> stamps;
  if (signer.seal.has_value()) {
    PartsByName by_name;
    for (const OfdPart& part : parts) by_name[part.name] = &part.bytes;
    stamps = FindSealImages(by_name);
  }
  const std::string signature_xml = SignatureXml(parts, signer, stamps);
  std::string value, seal;
  if (stamps.empty()) {
    GR_ASSIGN_OR_RETURN(value, signer.sign(signature_xml));
  } else {
    GR_ASSIGN_OR_RETURN(seal, MakeOfdSeal(signer, stamps.front()));
    GR_ASSIGN_OR_RETURN(
        value, ses::MakeSignature(seal,
                                  {absl::FromChrono(signer.time), Sm3(signature_xml),
                                   absl::StrCat("/", kOfdSignature), signer.seal->certificate_der},
                                  signer.sign));
  }
  parts.push_back({std::string(kOfdSignatures), SignaturesXml(stamps.empty() ? "Sign" : "Seal")});
  parts.push_back({std::string(kOfdSignature), signature_xml});
  parts.push_back({std::string(kOfdSignedValue), std::move(value)});
  if (!seal.empty()) parts.push_back({std::string(kOfdSealFile), std::move(seal)});
  return Zip(parts, signer.time);
}

absl::Status VerifyOfdSignature(
    std::string_view ofd,
    const std::function<absl::Status(std::string_view data, std::string_view signature)>& verify) {
  absl::StatusOr<std::vector<OfdPart>> parts = ReadOfdParts(ofd);
  if (!parts.ok()) return parts.status();
  PartsByName by_name;
  for (const OfdPart& part : *parts) by_name[part.name] = &part.bytes;
  const auto entry = by_name.find(std::string(kOfdEntry));
  if (entry == by_name.end() || !absl::StrContains(*entry->second, kSignaturesRef) ||
      !by_name.contains(std::string(kOfdSignature))) {
    return Refused("it is unsigned (no Signs/Signatures.xml named in OFD.xml)");
  }
  const std::string& signature_xml = *by_name[std::string(kOfdSignature)];
  const XmlDoc doc = ParseXml(signature_xml, "Signature.xml");
  if (doc == nullptr) return Refused("Signature.xml is not well-formed");
  const SignedInfoFacts facts = FactsOf(doc);
  if (absl::Status refs = CheckReferences(by_name, facts); !refs.ok()) return refs;
  const auto value = by_name.find(facts.value_loc);
  if (value == by_name.end()) return Refused("no SignedValue");
  const std::string type = TypeListed(by_name);
  if (facts.seal_loc.empty()) {
    if (type != "Sign")
      return Refused(
          absl::StrCat("Signatures.xml says Type '", type, "' of a signature without a seal"));
    if (absl::Status ok = verify(signature_xml, *value->second); !ok.ok()) {
      return Refused(absl::StrCat("SignedValue: ", ok.message()));
    }
    return absl::OkStatus();
  }
  if (type != "Seal") {
    return Refused(absl::StrCat("Signatures.xml says Type '", type, "' of an electronic seal"));
  }
  const auto seal = by_name.find(facts.seal_loc);
  if (seal == by_name.end()) return Refused(absl::StrCat(facts.seal_loc, " (the seal) is missing"));
  std::set<std::string> page_ids;
  for (const auto& [id, part] : PagesOf(by_name)) page_ids.insert(id);
  if (facts.stamp_pages.empty()) return Refused("no StampAnnot places the seal on a page");
  for (const std::string& page : facts.stamp_pages) {
    if (!page_ids.contains(page))
      return Refused(absl::StrCat("StampAnnot's page ", page, " is no page"));
  }
  return VerifySeal(signature_xml, *value->second, *seal->second, verify);
}

absl::Status VerifyOfdSignedBy(std::string_view ofd, const std::string& public_pem) {
  return VerifyOfdSignature(ofd, [&public_pem](std::string_view data, std::string_view signature) {
    return signing::Verify(public_pem, absl::string_view(data.data(), data.size()),
                           absl::string_view(signature.data(), signature.size()));
  });
}

}  // namespace govreport::layout
