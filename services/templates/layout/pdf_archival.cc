#include "templates/layout/pdf_archival.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"
#include "templates/docx/text_util.h"

namespace govreport::layout {
namespace {

// An ICC profile header (ICC.1): the size at 0, the device class at 12, the
// colour space at 16 and "acsp" at 36.
absl::Status CheckRgbProfile(const std::string& path, absl::string_view icc) {
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(icc[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(icc[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(icc[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(icc[at + 3]));
  };
  if (icc.size() < 128 || be32(0) != icc.size() || icc.substr(36, 4) != "acsp" ||
      icc.substr(16, 4) != "RGB ") {
    return absl::FailedPreconditionError(
        absl::StrCat("PDF/A-2b: ", path, " is not an RGB ICC profile"));
  }
  return absl::OkStatus();
}

std::string Deflated(absl::string_view bytes) {
  uLongf size = compressBound(bytes.size());
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                reinterpret_cast<const Bytef*>(bytes.data()), bytes.size(),
                Z_BEST_COMPRESSION) != Z_OK) {
    return "";
  }
  out.resize(size);
  return out;
}

absl::StatusOr<IccProfile> ReadProfile() {
  const char* set = std::getenv("GOVREPORT_SRGB_ICC");  // NOLINT(concurrency-mt-unsafe): read only
  const std::string path = set != nullptr && *set != '\0' ? set : kDefaultSrgbProfile;
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "PDF/A-2b: no sRGB ICC profile at ", path,
        " (install icc-profiles-free, or name a profile in GOVREPORT_SRGB_ICC); PDFs are written "
        "without the output intent and without claiming PDF/A-2b"));
  }
  IccProfile icc{path, bytes.str(), ""};
  if (absl::Status ok = CheckRgbProfile(path, icc.bytes); !ok.ok()) return ok;
  icc.deflated = Deflated(icc.bytes);
  if (icc.deflated.empty()) return absl::InternalError("zlib: cannot deflate the ICC profile");
  return icc;
}

// cairo's trailer: the object numbers of the catalog and the information,
// the next free number and where the cross-reference table starts.
struct Trailer {
  size_t at = 0;  // of "trailer"
  int size = 0, root = 0, info = 0;
  size_t startxref = 0;
};

// The number after `key` in `dict` ("/Root 62 0 R" gives 62); 0 if none.
int NumberAfter(absl::string_view dict, absl::string_view key) {
  const size_t pos = dict.find(key);
  if (pos == absl::string_view::npos) return 0;
  const absl::string_view rest = dict.substr(pos + key.size());
  int n = 0;
  return absl::SimpleAtoi(rest.substr(0, rest.find_first_not_of("0123456789")), &n) ? n : 0;
}

absl::StatusOr<Trailer> ReadTrailer(const std::string& pdf) {
  Trailer t;
  t.at = pdf.rfind("\ntrailer\n");
  const size_t startxref = pdf.rfind("\nstartxref\n");
  if (t.at == std::string::npos || startxref == std::string::npos || startxref < t.at) {
    return absl::InternalError("cairo: no trailer at the end of the PDF");
  }
  const absl::string_view dict = absl::string_view(pdf).substr(t.at, startxref - t.at);
  t.size = NumberAfter(dict, "/Size ");
  t.root = NumberAfter(dict, "/Root ");
  t.info = NumberAfter(dict, "/Info ");
  const size_t number = startxref + absl::string_view("\nstartxref\n").size();
  if (t.size <= 0 || t.root <= 0 || t.info <= 0 ||
      !absl::SimpleAtoi(pdf.substr(number, pdf.find('\n', number) - number), &t.startxref)) {
    return absl::InternalError("cairo: a trailer without /Size, /Root, /Info or startxref");
  }
  return t;
}

// The body of object `number` ("<< … >>" without "endobj").
absl::StatusOr<absl::string_view> ObjectBody(const std::string& pdf, int number) {
  const std::string head = absl::StrCat("\n", number, " 0 obj\n");
  const size_t start = pdf.find(head);
  const size_t end = start == std::string::npos ? start : pdf.find("endobj", start);
  if (end == std::string::npos) {
    return absl::InternalError(absl::StrCat("cairo: no object ", number, " in the PDF"));
  }
  const size_t body = start + head.size();
  return absl::string_view(pdf).substr(body, end - body);
}

// A literal string's text after `key` in `dict`, parentheses balanced (as
// cairo writes the producer, "cairo 1.16.0 (https://cairographics.org)").
std::string LiteralAfter(absl::string_view dict, absl::string_view key) {
  const size_t pos = dict.find(key);
  if (pos == absl::string_view::npos) return "";
  std::string out;
  int depth = 0;
  for (size_t i = pos + key.size(); i < dict.size(); ++i) {
    const char c = dict[i];
    if (c == '(' && depth++ == 0) continue;
    if (c == ')' && --depth == 0) break;
    if (depth > 0) out += c;
  }
  return out;
}

void AppendXmpText(std::string* out, absl::string_view element, absl::string_view text) {
  absl::StrAppend(out, "   <", element, ">");
  docx::internal::AppendXmlEscaped(out, std::string_view(text.data(), text.size()));
  absl::StrAppend(out, "</", element, ">\n");
}

// The XMP packet (ISO 16684-1) with what ISO 19005-2 6.6 asks to match
// the document information: dc:title ↔ Title, dc:creator ↔ Author,
// xmp:CreatorTool ↔ Creator, pdf:Producer ↔ Producer, xmp:CreateDate ↔
// CreationDate, xmp:ModifyDate ↔ ModDate.
std::string Xmp(const ArchivalInfo& info, absl::string_view producer, bool claim) {
  std::string x =
      "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
      " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
      "  <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\""
      " xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\""
      " xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\">\n";
  AppendXmpText(&x, "dc:format", "application/pdf");
  absl::StrAppend(&x, "   <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">");
  docx::internal::AppendXmlEscaped(&x, info.title);
  absl::StrAppend(&x, "</rdf:li></rdf:Alt></dc:title>\n");
  if (!info.author.empty()) {
    absl::StrAppend(&x, "   <dc:creator><rdf:Seq><rdf:li>");
    docx::internal::AppendXmlEscaped(&x, info.author);
    absl::StrAppend(&x, "</rdf:li></rdf:Seq></dc:creator>\n");
  }
  AppendXmpText(&x, "xmp:CreatorTool", info.creator);
  AppendXmpText(&x, "xmp:CreateDate", info.date);
  AppendXmpText(&x, "xmp:ModifyDate", info.date);
  AppendXmpText(&x, "xmp:MetadataDate", info.date);
  if (!producer.empty()) AppendXmpText(&x, "pdf:Producer", producer);
  if (claim) {
    AppendXmpText(&x, "pdfaid:part", "2");
    AppendXmpText(&x, "pdfaid:conformance", "B");
  }
  absl::StrAppend(&x, "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"r\"?>");
  return x;
}

// The catalog's dictionary with `extra` entries before its closing ">>".
absl::StatusOr<std::string> Extended(absl::string_view catalog, absl::string_view extra) {
  const size_t close = catalog.rfind(">>");
  if (close == absl::string_view::npos ||
      catalog.find("/Type /Catalog") == absl::string_view::npos) {
    return absl::InternalError("cairo: the trailer's /Root is not a catalog");
  }
  return absl::StrCat(catalog.substr(0, close), extra, catalog.substr(close));
}

}  // namespace

absl::StatusOr<const IccProfile*> SrgbProfile() {
  static std::once_flag once;
  static absl::StatusOr<IccProfile>* profile = nullptr;
  std::call_once(once, [] {
    profile = new absl::StatusOr<IccProfile>(ReadProfile());  // lives as long as the process
    if (!profile->ok()) std::cerr << profile->status().message() << "\n";
  });
  if (!profile->ok()) return profile->status();
  return &**profile;
}

absl::Status AppendArchivalUpdate(std::string* pdf, const ArchivalInfo& info,
                                  const IccProfile* profile) {
  absl::StatusOr<Trailer> t = ReadTrailer(*pdf);
  if (!t.ok()) return t.status();
  const std::string id = Sha256Hex(*pdf).substr(0, 32);  // of cairo's bytes
  const std::string ids = absl::StrCat("   /ID [<", id, "> <", id, ">]\n");
  // cairo's trailer gets the same /ID: nothing refers to where it ends.
  pdf->insert(pdf->rfind(">>", pdf->find("\nstartxref\n", t->at)), ids);
  absl::StatusOr<absl::string_view> catalog = ObjectBody(*pdf, t->root);
  absl::StatusOr<absl::string_view> information = ObjectBody(*pdf, t->info);
  if (!catalog.ok()) return catalog.status();
  if (!information.ok()) return information.status();
  const std::string producer = LiteralAfter(*information, "/Producer ");
  const int metadata = t->size;
  const int icc = t->size + 1;
  const int intent = t->size + 2;
  std::string extra = absl::StrCat("   /Metadata ", metadata, " 0 R\n");
  if (profile != nullptr) absl::StrAppend(&extra, "   /OutputIntents [", intent, " 0 R]\n");
  absl::StatusOr<std::string> root = Extended(*catalog, extra);
  if (!root.ok()) return root.status();

  std::vector<std::pair<int, size_t>> offsets;  // of the objects this update writes
  auto object = [&](int number, absl::string_view body) {
    offsets.emplace_back(number, pdf->size());
    absl::StrAppend(pdf, number, " 0 obj\n", body, "endobj\n");
  };
  object(t->root, *root);
  const std::string xmp = Xmp(info, producer, profile != nullptr);
  object(metadata, absl::StrCat("<< /Type /Metadata /Subtype /XML /Length ", xmp.size(),
                                " >>\nstream\n", xmp, "\nendstream\n"));
  if (profile != nullptr) {
    object(icc, absl::StrCat("<< /N 3 /Filter /FlateDecode /Length ", profile->deflated.size(),
                             " >>\nstream\n", profile->deflated, "\nendstream\n"));
    object(intent, absl::StrCat("<< /Type /OutputIntent /S /GTS_PDFA1\n"
                                "   /OutputConditionIdentifier (sRGB IEC61966-2.1)\n"
                                "   /Info (sRGB IEC61966-2.1)\n   /DestOutputProfile ",
                                icc, " 0 R\n>>\n"));
  }
  const size_t xref = pdf->size();
  absl::StrAppend(pdf, "xref\n", t->root, " 1\n",
                  absl::StrFormat("%010d 00000 n \n", offsets[0].second), metadata, " ",
                  offsets.size() - 1, "\n");
  for (size_t i = 1; i < offsets.size(); ++i) {
    absl::StrAppend(pdf, absl::StrFormat("%010d 00000 n \n", offsets[i].second));
  }
  absl::StrAppend(pdf, "trailer\n<< /Size ", metadata + static_cast<int>(offsets.size()) - 1,
                  "\n   /Root ", t->root, " 0 R\n   /Info ", t->info, " 0 R\n", ids, "   /Prev ",
                  t->startxref, "\n>>\nstartxref\n", xref, "\n%%EOF\n");
  return absl::OkStatus();
}

}  // namespace govreport::layout
