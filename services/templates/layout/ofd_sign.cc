#include "templates/layout/ofd_sign.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/signing.h"
#include "templates/docx/text_util.h"
#include "templates/docx/zip_writer.h"
#include "templates/layout/ofd_reader.h"

namespace govreport::layout {
namespace {

constexpr absl::string_view kSignaturesRef =
    "<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>";

std::string Sm3Base64(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sm3(), nullptr);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(out), len));
}

bool InSigns(absl::string_view name) { return absl::StartsWith(name, "Doc_0/Signs/"); }

std::string SignaturesXml() {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:MaxSignId>s1</ofd:MaxSignId><ofd:Signature ID="s1" Type="Sign" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>
)";
}

// SignedInfo: who signed with what, when, and every part's SM3 digest.
std::string SignatureXml(const std::vector<OfdPart>& parts, const OfdSigner& signer) {
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
  absl::StrAppend(&xml, "</ofd:References></ofd:SignedInfo><ofd:SignedValue>/", kOfdSignedValue,
                  "</ofd:SignedValue></ofd:Signature>\n");
  return xml;
}

absl::Status Refused(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("the OFD's signature does not verify: ", what));
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

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

void Walk(const xmlNode* n, std::map<std::string, std::string>* refs, std::string* method,
          std::string* value) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (Name(c) == "References") *method = Attr(c, "CheckMethod");
    if (Name(c) == "SignedValue") *value = Text(c);
    if (Name(c) == "Reference") {
      std::string ref = Attr(c, "FileRef");
      if (absl::StartsWith(ref, "/")) ref.erase(0, 1);
      std::string check;
      for (const xmlNode* v = c->children; v != nullptr; v = v->next) {
        if (v->type == XML_ELEMENT_NODE && Name(v) == "CheckValue") check = Text(v);
      }
      (*refs)[ref] = check;
    }
    Walk(c, refs, method, value);
  }
}

}  // namespace

absl::StatusOr<std::string> SignOfd(std::string_view ofd, const OfdSigner& signer) {
  absl::StatusOr<OfdSummary> readable = ReadOfd(ofd);
  if (!readable.ok()) return readable.status();
  absl::StatusOr<std::vector<OfdPart>> parts = ReadOfdParts(ofd);
  if (!parts.ok()) return parts.status();
  for (OfdPart& part : *parts) {
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
  const std::string signature_xml = SignatureXml(*parts, signer);
  absl::StatusOr<std::string> value = signer.sign(signature_xml);
  if (!value.ok()) return value.status();
  parts->push_back({std::string(kOfdSignatures), SignaturesXml()});
  parts->push_back({std::string(kOfdSignature), signature_xml});
  parts->push_back({std::string(kOfdSignedValue), *std::move(value)});

  std::vector<docx::internal::DeflatedEntry> entries;
  entries.reserve(parts->size());
  for (const OfdPart& part : *parts) {
    absl::StatusOr<docx::internal::DeflatedEntry> e =
        docx::internal::Deflate(part.name, part.bytes, absl::EndsWith(part.name, ".png") ? 0 : 6);
    if (!e.ok()) return e.status();
    entries.push_back(*std::move(e));
  }
  std::vector<const docx::internal::DeflatedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  return docx::internal::ZipDeflated(order, docx::internal::DosTimeOf(signer.time));
}

absl::Status VerifyOfdSignature(
    std::string_view ofd,
    const std::function<absl::Status(std::string_view data, std::string_view signature)>& verify) {
  absl::StatusOr<std::vector<OfdPart>> parts = ReadOfdParts(ofd);
  if (!parts.ok()) return parts.status();
  std::map<std::string, const std::string*> by_name;
  for (const OfdPart& part : *parts) by_name[part.name] = &part.bytes;
  const auto entry = by_name.find(std::string(kOfdEntry));
  if (entry == by_name.end() || !absl::StrContains(*entry->second, kSignaturesRef) ||
      !by_name.contains(std::string(kOfdSignature))) {
    return Refused("it is unsigned (no Signs/Signatures.xml named in OFD.xml)");
  }
  const std::string& signature_xml = *by_name[std::string(kOfdSignature)];
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(signature_xml.data(), static_cast<int>(signature_xml.size()), "Signature.xml",
                    "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) return Refused("Signature.xml is not well-formed");
  std::map<std::string, std::string> refs;
  std::string method, value_loc;
  Walk(reinterpret_cast<const xmlNode*>(doc.get()), &refs, &method, &value_loc);
  if (method != kSm3Oid) return Refused(absl::StrCat("CheckMethod '", method, "' is not SM3"));
  for (const auto& [name, bytes] : by_name) {
    if (InSigns(name)) continue;
    auto ref = refs.find(name);
    if (ref == refs.end()) return Refused(absl::StrCat(name, " is not among the References"));
    if (ref->second != Sm3Base64(*bytes)) return Refused(absl::StrCat(name, " was changed"));
  }
  for (const auto& [name, check] : refs) {
    if (!by_name.contains(name)) return Refused(absl::StrCat(name, " is missing"));
  }
  if (absl::StartsWith(value_loc, "/")) value_loc.erase(0, 1);
  const auto value = by_name.find(value_loc);
  if (value == by_name.end()) return Refused("no SignedValue");
  if (absl::Status ok = verify(signature_xml, *value->second); !ok.ok()) {
    return Refused(absl::StrCat("SignedValue: ", ok.message()));
  }
  return absl::OkStatus();
}

absl::Status VerifyOfdSignedBy(std::string_view ofd, const std::string& public_pem) {
  return VerifyOfdSignature(ofd, [&public_pem](std::string_view data, std::string_view signature) {
    return signing::Verify(public_pem, absl::string_view(data.data(), data.size()),
                           absl::string_view(signature.data(), signature.size()));
  });
}

}  // namespace govreport::layout
