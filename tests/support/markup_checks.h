// What a test needs to tell whether text a user set stayed text in the
// rendered documents: the HTML parsed as a browser would (libxml2's HTML
// parser), the DOCX unzipped and each XML part parsed strictly, and the
// Markdown checked for characters that would act as markup.
#ifndef GOVREPORT_TESTS_SUPPORT_MARKUP_CHECKS_H_
#define GOVREPORT_TESTS_SUPPORT_MARKUP_CHECKS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace govreport::testing {

// The HTML's elements, as parsed.
struct ParsedHtml {
  std::set<std::string> elements;  // every element name, lower case
  std::string title;               // the text of <title>
  std::string body_text;           // all text under <body>, paragraphs joined by '\n'
};
absl::StatusOr<ParsedHtml> ParseHtml(const std::string& html);

// Every entry of a zip by name.
absl::StatusOr<std::map<std::string, std::string>> Unzip(const std::string& bytes);

// The text of every element with this local name (all text when empty), in
// document order; an error if `xml` is not well-formed XML.
absl::StatusOr<std::string> XmlText(const std::string& xml, const std::string& local_name = "");

// Characters in Markdown that a CommonMark/GFM renderer would take as markup
// (raw HTML, links, emphasis, code, entities, list or heading starts), beyond
// the layout's own "# ", "## " and the "**…**" of a heading sentence. Each
// problem names the line.
std::vector<std::string> MarkdownMarkup(const std::string& md);

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_MARKUP_CHECKS_H_
