#include "markup_checks.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace govreport::testing {
namespace {

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

std::string Name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

void Text(const xmlNode* n, std::string* out) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content != nullptr) *out += reinterpret_cast<const char*>(c->content);
    } else if (c->type == XML_ELEMENT_NODE) {
      Text(c, out);
      if (Name(c) == "p" || Name(c) == "h1" || Name(c) == "h2") *out += '\n';
    }
  }
}

void Walk(const xmlNode* n, ParsedHtml* out) {
  for (; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    const std::string name = absl::AsciiStrToLower(Name(n));
    out->elements.insert(name);
    if (name == "title") Text(n, &out->title);
    if (name == "body") Text(n, &out->body_text);
    Walk(n->children, out);
  }
}

void Collect(const xmlNode* n, const std::string& local_name, std::string* out) {
  for (; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && (local_name.empty() || Name(n) == local_name)) {
      Text(n, out);
    } else if (n->type == XML_ELEMENT_NODE) {
      Collect(n->children, local_name, out);
    }
  }
}

void Quiet(void*, const char*, ...) {}

}  // namespace

absl::StatusOr<ParsedHtml> ParseHtml(const std::string& html) {
  xmlSetGenericErrorFunc(nullptr, Quiet);
  std::unique_ptr<xmlDoc, DocFree> doc(
      htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "utf-8",
                     HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING));
  if (doc == nullptr) return absl::InvalidArgumentError("HTML does not parse");
  ParsedHtml out;
  Walk(xmlDocGetRootElement(doc.get()), &out);
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> Unzip(const std::string& bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source == nullptr) return absl::InvalidArgumentError("zip: no source");
  std::unique_ptr<zip_t, ZipDiscard> archive(
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  zip_error_fini(&error);
  if (archive == nullptr) {
    zip_source_free(source);
    return absl::InvalidArgumentError("not a zip");
  }
  std::map<std::string, std::string> out;
  const zip_int64_t n = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive.get(), i, 0, &stat) < 0) return absl::DataLossError("zip stat");
    std::string data(stat.size, '\0');
    std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen_index(archive.get(), i, 0));
    if (file == nullptr ||
        zip_fread(file.get(), data.data(), data.size()) != static_cast<zip_int64_t>(stat.size)) {
      return absl::DataLossError(absl::StrCat("zip: cannot read ", stat.name));
    }
    out[stat.name] = std::move(data);
  }
  return out;
}

absl::StatusOr<std::string> XmlText(const std::string& xml, const std::string& local_name) {
  xmlSetGenericErrorFunc(nullptr, Quiet);
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) return absl::InvalidArgumentError("not well-formed XML");
  std::string out;
  Collect(xmlDocGetRootElement(doc.get()), local_name, &out);
  return out;
}

std::vector<std::string> MarkdownMarkup(const std::string& md) {
  std::vector<std::string> problems;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(md, '\n')) {
    ++number;
    std::string_view rest(line.data(), line.size());
    if (rest.starts_with("# "))
      rest.remove_prefix(2);
    else if (rest.starts_with("## "))
      rest.remove_prefix(3);
    // A heading sentence in bold: the layout's one pair of "**".
    size_t bold_end = std::string_view::npos;
    if (rest.starts_with("**")) {
      rest.remove_prefix(2);
      for (size_t i = 0; i + 1 < rest.size(); ++i) {
        if (rest[i] == '\\') {
          ++i;
          continue;
        }
        if (rest[i] == '*' && rest[i + 1] == '*') {
          bold_end = i;
          break;
        }
      }
    }
    auto report = [&](absl::string_view what) {
      problems.push_back(absl::StrCat("line ", number, ": ", what, ": ", line));
    };
    bool start = true;
    for (size_t i = 0; i < rest.size(); ++i) {
      const char c = rest[i];
      if (i == bold_end) {
        i += 1;
        start = false;
        continue;
      }
      if (c == '\\') {
        ++i;
        start = false;
        continue;
      }
      switch (c) {
        case '<':
          report("raw HTML or autolink (<)");
          break;
        case '[':
        case ']':
          report("link or image ([ ])");
          break;
        case '*':
        case '_':
          report("emphasis (* _)");
          break;
        case '`':
          report("code (`)");
          break;
        case '&':
          report("entity (&)");
          break;
        case '~':
          report("strikethrough (~)");
          break;
        case '|':
          report("table (|)");
          break;
        case '-':
        case '+':
        case '=':
        case '>':
        case '#':
          if (start) report("a block at the line start");
          break;
        default:
          break;
      }
      if (c != ' ') start = false;
    }
  }
  return problems;
}

}  // namespace govreport::testing
