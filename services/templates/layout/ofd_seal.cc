#include "templates/layout/ofd_seal.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace govreport::layout::ses {
namespace {

constexpr absl::string_view kSm2WithSm3 = "1.2.156.10197.1.501";

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// ---- Writing -------------------------------------------------------------

std::string Tlv(int tag, absl::string_view content) {
  const bool constructed = tag == V_ASN1_SEQUENCE;
  const int length = static_cast<int>(content.size());
  std::string out(static_cast<size_t>(ASN1_object_size(constructed ? 1 : 0, length, tag)), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  ASN1_put_object(&p, constructed ? 1 : 0, length, tag, V_ASN1_UNIVERSAL);
  std::memcpy(p, content.data(), content.size());
  return out;
}

std::string Sequence(std::initializer_list<absl::string_view> members) {
  std::string content;
  for (absl::string_view m : members) content.append(m.data(), m.size());
  return Tlv(V_ASN1_SEQUENCE, content);
}

// What an i2d_ function writes, in a string (empty when OpenSSL fails,
// which the read-back of the whole catches).
template <typename T>
std::string I2d(const T* value, int (*i2d)(const T*, unsigned char**)) {
  unsigned char* der = nullptr;
  const int size = value == nullptr ? -1 : i2d(value, &der);
  std::string out = size > 0 ? std::string(reinterpret_cast<char*>(der), size) : std::string();
  OPENSSL_free(der);
  return out;
}

std::string Integer(int64_t v) {
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> i(ASN1_INTEGER_new(),
                                                                &ASN1_INTEGER_free);
  if (i == nullptr || ASN1_INTEGER_set_int64(i.get(), v) != 1) return "";
  return I2d<ASN1_INTEGER>(i.get(), &i2d_ASN1_INTEGER);
}

std::string Oid(absl::string_view dotted) {
  std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> o(
      OBJ_txt2obj(std::string(dotted).c_str(), 1), &ASN1_OBJECT_free);
  return I2d<ASN1_OBJECT>(o.get(), &i2d_ASN1_OBJECT);
}

std::string Time(absl::Time t) {
  return Tlv(V_ASN1_GENERALIZEDTIME, absl::FormatTime("%Y%m%d%H%M%SZ", t, absl::UTCTimeZone()));
}

std::string Bits(absl::string_view bytes) {
  return Tlv(V_ASN1_BIT_STRING, absl::StrCat(absl::string_view("\0", 1), bytes));
}

bool IsAscii(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// ---- Reading -------------------------------------------------------------

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", what));
}

absl::string_view TagName(int tag) {
  switch (tag) {
    case V_ASN1_SEQUENCE:
      return "SEQUENCE";
    case V_ASN1_INTEGER:
      return "INTEGER";
    case V_ASN1_IA5STRING:
      return "IA5String";
    case V_ASN1_UTF8STRING:
      return "UTF8String";
    case V_ASN1_OCTET_STRING:
      return "OCTET STRING";
    case V_ASN1_BIT_STRING:
      return "BIT STRING";
    case V_ASN1_OBJECT:
      return "OBJECT IDENTIFIER";
    case V_ASN1_GENERALIZEDTIME:
      return "GeneralizedTime";
    default:
      return "?";
  }
}

struct Element {
  absl::string_view content;
  absl::string_view whole;  // tag, length and content
};

// The members of one SEQUENCE (or the top level), in order.
class Reader {
 public:
  explicit Reader(absl::string_view der) : rest_(der) {}

  bool AtEnd() const { return rest_.empty(); }

  absl::StatusOr<Element> Next(int tag, absl::string_view field) {
    if (rest_.empty()) return Bad(field, "is missing");
    const auto* start = reinterpret_cast<const unsigned char*>(rest_.data());
    const unsigned char* p = start;
    long length = 0;
    int got = 0, xclass = 0;
    const int ret = ASN1_get_object(&p, &length, &got, &xclass, static_cast<long>(rest_.size()));
    ERR_clear_error();
    // 0x80: a bad header or a length past the end; constructed with 1: an
    // indefinite length, which DER has not.
    if ((ret & 0x80) != 0 || ret == (V_ASN1_CONSTRUCTED | 1)) return Bad(field, "is no DER");
    const bool constructed = (ret & V_ASN1_CONSTRUCTED) != 0;
    if (xclass != V_ASN1_UNIVERSAL || got != tag || constructed != (tag == V_ASN1_SEQUENCE)) {
      return Bad(field, absl::StrCat("is not a ", TagName(tag)));
    }
    const auto header = static_cast<size_t>(p - start);
    const size_t size = header + static_cast<size_t>(length);
    Element e{rest_.substr(header, static_cast<size_t>(length)), rest_.substr(0, size)};
    rest_.remove_prefix(size);
    return e;
  }

  absl::StatusOr<Reader> Sequence(absl::string_view field) {
    absl::StatusOr<Element> e = Next(V_ASN1_SEQUENCE, field);
    if (!e.ok()) return e.status();
    return Reader(e->content);
  }

  absl::StatusOr<std::string> Bytes(int tag, absl::string_view field) {
    absl::StatusOr<Element> e = Next(tag, field);
    if (!e.ok()) return e.status();
    if (tag == V_ASN1_IA5STRING && !IsAscii(e->content)) return Bad(field, "is not ASCII");
    return std::string(e->content);
  }

  absl::StatusOr<std::string> BitString(absl::string_view field) {
    absl::StatusOr<Element> e = Next(V_ASN1_BIT_STRING, field);
    if (!e.ok()) return e.status();
    // Whole bytes only: a signature or digest has no unused bits.
    if (e->content.empty() || e->content[0] != 0) return Bad(field, "has unused bits");
    return std::string(e->content.substr(1));
  }

  absl::StatusOr<int64_t> Integer(absl::string_view field) {
    absl::StatusOr<Element> e = Next(V_ASN1_INTEGER, field);
    if (!e.ok()) return e.status();
    const auto* p = reinterpret_cast<const unsigned char*>(e->whole.data());
    std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> i(
        d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(e->whole.size())), &ASN1_INTEGER_free);
    int64_t v = 0;
    if (i == nullptr || ASN1_INTEGER_get_int64(&v, i.get()) != 1) {
      ERR_clear_error();
      return Bad(field, "is no INTEGER of 64 bits");
    }
    return v;
  }

  absl::StatusOr<std::string> Oid(absl::string_view field) {
    absl::StatusOr<Element> e = Next(V_ASN1_OBJECT, field);
    if (!e.ok()) return e.status();
    const auto* p = reinterpret_cast<const unsigned char*>(e->whole.data());
    std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> o(
        d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(e->whole.size())), &ASN1_OBJECT_free);
    char text[128];
    if (o == nullptr || OBJ_obj2txt(text, sizeof(text), o.get(), 1) <= 0) {
      ERR_clear_error();
      return Bad(field, "is no OBJECT IDENTIFIER");
    }
    return std::string(text);
  }

  absl::StatusOr<absl::Time> Time(absl::string_view field) {
    absl::StatusOr<Element> e = Next(V_ASN1_GENERALIZEDTIME, field);
    if (!e.ok()) return e.status();
    const auto* p = reinterpret_cast<const unsigned char*>(e->whole.data());
    std::unique_ptr<ASN1_GENERALIZEDTIME, decltype(&ASN1_GENERALIZEDTIME_free)> t(
        d2i_ASN1_GENERALIZEDTIME(nullptr, &p, static_cast<long>(e->whole.size())),
        &ASN1_GENERALIZEDTIME_free);
    struct tm parts = {};
    if (t == nullptr || ASN1_TIME_to_tm(t.get(), &parts) != 1) {
      ERR_clear_error();
      return Bad(field, "is no GeneralizedTime");
    }
    return absl::FromTimeT(timegm(&parts));
  }

  absl::Status End(absl::string_view field) {
    return rest_.empty() ? absl::OkStatus() : Bad(field, "has bytes after its last member");
  }

 private:
  absl::string_view rest_;
};

absl::Status ReadProperty(Reader& r, SealInfo* info) {
  GR_ASSIGN_OR_RETURN(Reader p, r.Sequence("SES_ESPropertyInfo"));
  GR_ASSIGN_OR_RETURN(info->type, p.Integer("SES_ESPropertyInfo.type"));
  GR_ASSIGN_OR_RETURN(info->name, p.Bytes(V_ASN1_UTF8STRING, "SES_ESPropertyInfo.name"));
  GR_ASSIGN_OR_RETURN(const int64_t list_type, p.Integer("SES_ESPropertyInfo.certListType"));
  if (list_type != kCertificateList) {
    return Bad("SES_ESPropertyInfo.certListType", "is not 1 (certificates)");
  }
  GR_ASSIGN_OR_RETURN(Reader certs, p.Sequence("SES_ESPropertyInfo.certList"));
  while (!certs.AtEnd()) {
    GR_ASSIGN_OR_RETURN(std::string cert,
                        certs.Bytes(V_ASN1_OCTET_STRING, "SES_ESPropertyInfo.certList"));
    info->certificates_der.push_back(std::move(cert));
  }
  GR_ASSIGN_OR_RETURN(info->create_date, p.Time("SES_ESPropertyInfo.createDate"));
  GR_ASSIGN_OR_RETURN(info->valid_start, p.Time("SES_ESPropertyInfo.validStart"));
  GR_ASSIGN_OR_RETURN(info->valid_end, p.Time("SES_ESPropertyInfo.validEnd"));
  return p.End("SES_ESPropertyInfo");
}

absl::Status ReadPicture(Reader& r, SealInfo* info) {
  GR_ASSIGN_OR_RETURN(Reader p, r.Sequence("SES_ESPictrueInfo"));
  GR_ASSIGN_OR_RETURN(info->picture_type, p.Bytes(V_ASN1_IA5STRING, "SES_ESPictrueInfo.type"));
  GR_ASSIGN_OR_RETURN(info->picture, p.Bytes(V_ASN1_OCTET_STRING, "SES_ESPictrueInfo.data"));
  GR_ASSIGN_OR_RETURN(info->width_mm, p.Integer("SES_ESPictrueInfo.width"));
  GR_ASSIGN_OR_RETURN(info->height_mm, p.Integer("SES_ESPictrueInfo.height"));
  return p.End("SES_ESPictrueInfo");
}

absl::Status ReadSealInfo(absl::string_view der, ParsedSeal* out) {
  Reader r(der);
  GR_ASSIGN_OR_RETURN(Reader header, r.Sequence("SES_Header"));
  GR_ASSIGN_OR_RETURN(out->header_id, header.Bytes(V_ASN1_IA5STRING, "SES_Header.ID"));
  GR_ASSIGN_OR_RETURN(out->header_version, header.Integer("SES_Header.version"));
  GR_ASSIGN_OR_RETURN(out->info.vid, header.Bytes(V_ASN1_IA5STRING, "SES_Header.Vid"));
  if (absl::Status s = header.End("SES_Header"); !s.ok()) return s;
  GR_ASSIGN_OR_RETURN(out->info.esid, r.Bytes(V_ASN1_IA5STRING, "SES_SealInfo.esID"));
  if (absl::Status s = ReadProperty(r, &out->info); !s.ok()) return s;
  if (absl::Status s = ReadPicture(r, &out->info); !s.ok()) return s;
  if (!r.AtEnd()) {
    if (absl::Status s = r.Sequence("SES_SealInfo.extDatas").status(); !s.ok()) return s;
  }
  return r.End("SES_SealInfo");
}

absl::StatusOr<ParsedSeal> ParseSealOrError(absl::string_view der) {
  ParsedSeal out;
  Reader top(der);
  GR_ASSIGN_OR_RETURN(Reader seal, top.Sequence("SESeal"));
  if (absl::Status s = top.End("SESeal"); !s.ok()) return s;
  GR_ASSIGN_OR_RETURN(Element info, seal.Next(V_ASN1_SEQUENCE, "SES_SealInfo"));
  out.seal_info_der = std::string(info.whole);
  if (absl::Status s = ReadSealInfo(info.content, &out); !s.ok()) return s;
  GR_ASSIGN_OR_RETURN(out.maker_certificate_der, seal.Bytes(V_ASN1_OCTET_STRING, "SESeal.cert"));
  GR_ASSIGN_OR_RETURN(out.algorithm_oid, seal.Oid("SESeal.signAlgID"));
  GR_ASSIGN_OR_RETURN(out.signed_value, seal.BitString("SESeal.signedValue"));
  if (absl::Status s = seal.End("SESeal"); !s.ok()) return s;
  return out;
}

absl::StatusOr<ParsedSignature> ParseSignatureOrError(absl::string_view der) {
  ParsedSignature out;
  Reader top(der);
  GR_ASSIGN_OR_RETURN(Reader signature, top.Sequence("SES_Signature"));
  if (absl::Status s = top.End("SES_Signature"); !s.ok()) return s;
  GR_ASSIGN_OR_RETURN(Element tbs, signature.Next(V_ASN1_SEQUENCE, "TBS_Sign"));
  out.tbs_der = std::string(tbs.whole);
  Reader t(tbs.content);
  GR_ASSIGN_OR_RETURN(out.version, t.Integer("TBS_Sign.version"));
  GR_ASSIGN_OR_RETURN(Element seal, t.Next(V_ASN1_SEQUENCE, "TBS_Sign.eseal"));
  out.seal_der = std::string(seal.whole);
  GR_ASSIGN_OR_RETURN(out.seal, ParseSealOrError(out.seal_der));
  GR_ASSIGN_OR_RETURN(out.info.time, t.Time("TBS_Sign.timeInfo"));
  GR_ASSIGN_OR_RETURN(out.info.data_hash, t.BitString("TBS_Sign.dataHash"));
  GR_ASSIGN_OR_RETURN(out.info.property_info, t.Bytes(V_ASN1_IA5STRING, "TBS_Sign.propertyInfo"));
  // extDatas ([0] EXPLICIT) may follow: signed with the rest, not read here.
  GR_ASSIGN_OR_RETURN(out.info.certificate_der,
                      signature.Bytes(V_ASN1_OCTET_STRING, "SES_Signature.cert"));
  GR_ASSIGN_OR_RETURN(out.algorithm_oid, signature.Oid("SES_Signature.signatureAlgID"));
  GR_ASSIGN_OR_RETURN(out.signature, signature.BitString("SES_Signature.signature"));
  // timeStamp [0] OPTIONAL is not made here and not read.
  return out;
}

}  // namespace

absl::StatusOr<std::string> MakeSeal(const SealInfo& info, std::string_view maker_certificate_der,
                                     const SignFunction& sign) {
  if (!IsAscii(info.vid) || !IsAscii(info.esid) || !IsAscii(info.picture_type)) {
    return absl::InvalidArgumentError("the seal's vid, esID and picture type must be ASCII");
  }
  std::string certs;
  for (const std::string& c : info.certificates_der) certs += Tlv(V_ASN1_OCTET_STRING, c);
  const std::string seal_info = Sequence(
      {Sequence({Tlv(V_ASN1_IA5STRING, Absl(kHeaderId)), Integer(kVersion),
                 Tlv(V_ASN1_IA5STRING, info.vid)}),
       Tlv(V_ASN1_IA5STRING, info.esid),
       Sequence({Integer(info.type), Tlv(V_ASN1_UTF8STRING, info.name), Integer(kCertificateList),
                 Tlv(V_ASN1_SEQUENCE, certs), Time(info.create_date), Time(info.valid_start),
                 Time(info.valid_end)}),
       Sequence({Tlv(V_ASN1_IA5STRING, info.picture_type), Tlv(V_ASN1_OCTET_STRING, info.picture),
                 Integer(info.width_mm), Integer(info.height_mm)})});
  absl::StatusOr<std::string> signed_value = sign(seal_info);
  if (!signed_value.ok()) return signed_value.status();
  std::string seal = Sequence({seal_info, Tlv(V_ASN1_OCTET_STRING, Absl(maker_certificate_der)),
                               Oid(kSm2WithSm3), Bits(*signed_value)});
  if (absl::Status read = ParseSealOrError(seal).status(); !read.ok()) {
    return absl::InternalError(absl::StrCat("the seal made does not read back: ", read.message()));
  }
  return seal;
}

absl::StatusOr<std::string> MakeSignature(std::string_view seal_der, const SignatureInfo& info,
                                          const SignFunction& sign) {
  if (absl::Status s = ParseSealOrError(Absl(seal_der)).status(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not an SESeal: ", s.message()));
  }
  if (!IsAscii(info.property_info)) {
    return absl::InvalidArgumentError("the signed file's path must be ASCII");
  }
  const std::string tbs =
      Sequence({Integer(kVersion), Absl(seal_der), Time(info.time), Bits(info.data_hash),
                Tlv(V_ASN1_IA5STRING, info.property_info)});
  absl::StatusOr<std::string> value = sign(tbs);
  if (!value.ok()) return value.status();
  std::string signature = Sequence(
      {tbs, Tlv(V_ASN1_OCTET_STRING, info.certificate_der), Oid(kSm2WithSm3), Bits(*value)});
  if (absl::Status read = ParseSignatureOrError(signature).status(); !read.ok()) {
    return absl::InternalError(
        absl::StrCat("the SES_Signature made does not read back: ", read.message()));
  }
  return signature;
}

absl::StatusOr<ParsedSeal> ParseSeal(std::string_view der) {
  absl::StatusOr<ParsedSeal> out = ParseSealOrError(Absl(der));
  if (!out.ok()) return Bad("not an SESeal:", out.status().message());
  return out;
}

absl::StatusOr<ParsedSignature> ParseSignature(std::string_view der) {
  absl::StatusOr<ParsedSignature> out = ParseSignatureOrError(Absl(der));
  if (!out.ok()) return Bad("not an SES_Signature:", out.status().message());
  return out;
}

}  // namespace govreport::layout::ses
