// ReadOfd (ofd_reader.h): opens an OFD package with libzip, checking the
// archive's consistency, and follows OFD.xml → DocRoot → Pages → each page
// with libxml2, so that a cut or changed file is refused with the part that
// is wrong rather than read past its end.
#include "templates/layout/ofd_reader.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace govreport::layout {
namespace {

constexpr absl::string_view kOfdNamespace = "http://www.ofdspec.org/2016";
// No part of a document the suite writes comes near this; a zip bomb does.
constexpr zip_uint64_t kMaxPartBytes = 64u << 20;

absl::Status Refused(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("not a readable OFD: ", what));
}

struct ZipClose {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using XmlDoc = std::unique_ptr<xmlDoc, DocFree>;

absl::StatusOr<std::string> ReadPart(zip_t* archive, const std::string& name) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive, name.c_str(), 0, &stat) != 0)
    return Refused(absl::StrCat(name, " is missing"));
  if ((stat.valid & ZIP_STAT_SIZE) == 0 || stat.size > kMaxPartBytes) {
    return Refused(absl::StrCat(name, " is larger than ", kMaxPartBytes, " bytes"));
  }
  zip_file_t* file = zip_fopen(archive, name.c_str(), 0);
  if (file == nullptr) return Refused(absl::StrCat(name, ": ", zip_strerror(archive)));
  std::string out(stat.size, '\0');
  const zip_int64_t n = zip_fread(file, out.data(), out.size());
  // libzip checks the entry's CRC when a read meets its end: a changed part
  // fails here.
  char past_end = 0;
  const bool whole =
      n == static_cast<zip_int64_t>(out.size()) && zip_fread(file, &past_end, 1) == 0;
  const std::string error = zip_file_strerror(file);
  zip_fclose(file);
  if (!whole) return Refused(absl::StrCat(name, " cannot be read: ", error));
  return out;
}

absl::StatusOr<XmlDoc> ParsePart(zip_t* archive, const std::string& name) {
  absl::StatusOr<std::string> bytes = ReadPart(archive, name);
  if (!bytes.ok()) return bytes.status();
  XmlDoc doc(xmlReadMemory(bytes->data(), static_cast<int>(bytes->size()), name.c_str(), "UTF-8",
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) {
    const xmlError* error = xmlGetLastError();
    return Refused(absl::StrCat(
        name, " is not well-formed XML",
        error != nullptr && error->message != nullptr ? absl::StrCat(": ", error->message) : ""));
  }
  return doc;
}

bool Is(const xmlNode* node, absl::string_view name) {
  return node != nullptr && node->type == XML_ELEMENT_NODE && node->ns != nullptr &&
         absl::string_view(reinterpret_cast<const char*>(node->ns->href)) == kOfdNamespace &&
         absl::string_view(reinterpret_cast<const char*>(node->name)) == name;
}

const xmlNode* Child(const xmlNode* node, absl::string_view name) {
  for (const xmlNode* c = node == nullptr ? nullptr : node->children; c != nullptr; c = c->next) {
    if (Is(c, name)) return c;
  }
  return nullptr;
}

std::string TextOf(const xmlNode* node) {
  if (node == nullptr) return "";
  xmlChar* content = xmlNodeGetContent(node);
  std::string out = content == nullptr ? "" : reinterpret_cast<const char*>(content);
  xmlFree(content);
  return out;
}

std::string Attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string out = value == nullptr ? "" : reinterpret_cast<const char*>(value);
  xmlFree(value);
  return out;
}

// A location (ST_Loc) relative to the directory of the part that names it,
// or absolute from the package's root.
std::string Resolve(absl::string_view base_part, absl::string_view loc) {
  if (absl::StartsWith(loc, "/")) return std::string(loc.substr(1));
  const size_t slash = base_part.rfind('/');
  return slash == absl::string_view::npos ? std::string(loc)
                                          : absl::StrCat(base_part.substr(0, slash + 1), loc);
}

void CollectTextCodes(const xmlNode* node, std::string* out) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (Is(c, "TextCode")) {
      *out += TextOf(c);
    } else if (c->type == XML_ELEMENT_NODE) {
      CollectTextCodes(c, out);
    }
  }
}

absl::Status ReadPages(zip_t* archive, const std::string& root, const xmlNode* document,
                       OfdSummary* out) {
  const xmlNode* pages = Child(document, "Pages");
  if (Child(document, "CommonData") == nullptr || pages == nullptr) {
    return Refused(absl::StrCat(root, " has no CommonData or no Pages"));
  }
  for (const xmlNode* p = pages->children; p != nullptr; p = p->next) {
    if (!Is(p, "Page")) continue;
    const std::string loc = Attribute(p, "BaseLoc");
    if (loc.empty()) return Refused(absl::StrCat(root, ": a Page without BaseLoc"));
    const std::string name = Resolve(root, loc);
    absl::StatusOr<XmlDoc> page = ParsePart(archive, name);
    if (!page.ok()) return page.status();
    const xmlNode* top = xmlDocGetRootElement(page->get());
    if (!Is(top, "Page")) return Refused(absl::StrCat(name, " is no ofd:Page"));
    std::string text;
    CollectTextCodes(top, &text);
    out->page_text.push_back(std::move(text));
    ++out->pages;
  }
  if (out->pages == 0) return Refused(absl::StrCat(root, " lists no page"));
  return absl::OkStatus();
}

using ZipPtr = std::unique_ptr<zip_t, ZipClose>;

absl::StatusOr<ZipPtr> OpenZip(std::string_view bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) {
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Refused(message);
  }
  std::unique_ptr<zip_t, ZipClose> archive(
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (archive == nullptr) {
    zip_source_free(source);
    const std::string message = absl::StrCat("the zip archive: ", zip_error_strerror(&error));
    zip_error_fini(&error);
    return Refused(message);
  }
  zip_error_fini(&error);
  return archive;
}

// Every part is read through, so that its CRC is checked, fonts and images
// as much as the XML.
absl::Status ForEachPart(zip_t* archive,
                         const std::function<void(std::string name, std::string bytes)>& take) {
  for (zip_int64_t i = 0; i < zip_get_num_entries(archive, 0); ++i) {
    const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) return Refused(absl::StrCat("entry ", i, " has no name"));
    absl::StatusOr<std::string> part = ReadPart(archive, name);
    if (!part.ok()) return part.status();
    take(name, *std::move(part));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<OfdPart>> ReadOfdParts(std::string_view bytes) {
  absl::StatusOr<ZipPtr> archive = OpenZip(bytes);
  if (!archive.ok()) return archive.status();
  std::vector<OfdPart> out;
  absl::Status read = ForEachPart(archive->get(), [&](std::string name, std::string part) {
    out.push_back({std::move(name), std::move(part)});
  });
  if (!read.ok()) return read;
  return out;
}

absl::StatusOr<OfdSummary> ReadOfd(std::string_view bytes) {
  xmlInitParser();
  absl::StatusOr<ZipPtr> opened = OpenZip(bytes);
  if (!opened.ok()) return opened.status();
  const ZipPtr& archive = *opened;
  OfdSummary out;
  absl::Status read = ForEachPart(archive.get(), [&](std::string name, const std::string&) {
    out.entries.push_back(std::move(name));
  });
  if (!read.ok()) return read;
  absl::StatusOr<XmlDoc> ofd = ParsePart(archive.get(), std::string(kOfdEntry));
  if (!ofd.ok()) return ofd.status();
  const xmlNode* top = xmlDocGetRootElement(ofd->get());
  const xmlNode* body = Is(top, "OFD") ? Child(top, "DocBody") : nullptr;
  const xmlNode* info = Child(body, "DocInfo");
  const std::string root_loc = TextOf(Child(body, "DocRoot"));
  if (info == nullptr || root_loc.empty() || Child(info, "DocID") == nullptr) {
    return Refused("OFD.xml has no ofd:OFD/DocBody with DocInfo, DocID and DocRoot");
  }
  out.doc_id = TextOf(Child(info, "DocID"));
  out.title = TextOf(Child(info, "Title"));
  const std::string root = Resolve(kOfdEntry, root_loc);
  absl::StatusOr<XmlDoc> document = ParsePart(archive.get(), root);
  if (!document.ok()) return document.status();
  const xmlNode* doc_top = xmlDocGetRootElement(document->get());
  if (!Is(doc_top, "Document")) return Refused(absl::StrCat(root, " is no ofd:Document"));
  if (absl::Status pages = ReadPages(archive.get(), root, doc_top, &out); !pages.ok()) return pages;
  return out;
}

}  // namespace govreport::layout
