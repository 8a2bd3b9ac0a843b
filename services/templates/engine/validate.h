// Checking a template against the names its context will have, before it is
// saved, so that a drafting office learns about a misspelt slot from the
// editor and not from a report with a hole in it.
//
//   Schema schema = MakeReportSchema({.indicators = {{"talks", kQuantity}}});
//   for (const Problem& p : Validate(text, schema, &partials)) {
//     // "3:14: unknown name 'ind.tlaks'; did you mean 'ind.talks'?"
//   }
#ifndef GOVREPORT_TEMPLATES_ENGINE_VALIDATE_H_
#define GOVREPORT_TEMPLATES_ENGINE_VALIDATE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "templates/engine/mustache.h"

namespace govreport::templates {

// What a name holds, which decides what a template may do with it.
enum class SlotKind {
  kText,      // interpolate; {{^x}} tests for empty; {{#x}} is a mistake
  kNumber,    // interpolate, derived names (value, cn, zero, ...)
  kQuantity,  // like kNumber, plus unit
  kMoney,     // like kNumber, plus daxie, fen
  kDate,      // interpolate, derived names (cn, year, month, day, iso)
  kBool,      // sections only
  kList,      // sections iterate; the items' fields are declared as
              // "list.field"
  kMap,       // sections enter it; fields are declared as "map.field"
};

class Schema {
 public:
  // Declares a dotted name. A last part "*" declares every key under the
  // prefix ("facts.*"); a "*" part before the last matches any one part
  // ("ind.*.rows": the rows of every indicator). Maps on the way ("org" for "org.name") need not be
  // declared. Returns *this for chaining.
  Schema& Add(std::string_view name, SlotKind kind);

  // The kind of a name: declared, matched by a wildcard, a map implied by
  // longer names, or a derived name (ind.x.cn is kText when ind.x is a
  // quantity). nullopt for an unknown name.
  std::optional<SlotKind> KindOf(std::string_view name) const;

  // Every concrete name, derived ones included; for suggestions.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, SlotKind, std::less<>> names_;
  // Names with an inner "*" part, tried in order after names_.
  std::vector<std::pair<std::string, SlotKind>> patterns_;
};

// The names DESIGN.md ("Template context") gives every report template:
// org.name org.short_name org.city org.district (text), period.year
// (number), period.label and period.label_cn (text), period.next_year
// (number), issue.date (date), issue.date_cn (text),
// facts.<key> and narrative.<slot> (text), ind.<key> (quantity or money).
struct ReportSchemaSpec {
  std::vector<std::pair<std::string, SlotKind>> indicators;
  std::vector<std::string> facts;
  std::vector<std::string> narrative;
};
Schema MakeReportSchema(const ReportSchemaSpec& spec);

struct Problem {
  int line = 0;            // 1-based
  int column = 0;          // 1-based, in Unicode code points
  std::string partial;     // where it is: "" for the template itself
  std::string message;     // what is wrong and what to do about it
  std::string suggestion;  // the closest known name, if one is close
  // Set when an argument block ({{< parent}}{{$block}}...) names no block of
  // its parent: the block's name and the parent's as written, for callers
  // that check what a change of the parent would break.
  std::string orphaned_block;
  std::string orphaned_parent;

  // "line:column: message", prefixed with "partial:" for a partial.
  std::string ToString() const;
};

struct ValidateOptions {
  CompileOptions compile;  // limits, and the name used in messages
  size_t max_problems = 200;
  int max_partial_depth = 16;  // partials checked inside partials
  // False: names are not checked against the schema (only the structure:
  // syntax, partials, parents and their blocks).
  bool check_names = true;
};

// Every problem found, in order of position (the template's first, then
// each partial's as it is first used), empty when the template is fine:
// syntax errors (unclosed or mismatched sections, bad set-delimiter tags,
// unclosed tags), names the schema does not know (with the closest known
// name), a section opened over a text or a number, a group of values
// interpolated as if it were one, partials and parents the resolver does not
// know, and blocks a parent does not have. Names inside partials are
// checked in the scope where the partial is used. `partials` may be null.
std::vector<Problem> Validate(std::string_view template_text, const Schema& schema,
                              const PartialResolver* partials, const ValidateOptions& options = {});

// Edit distance (insertions, deletions, substitutions and swaps of adjacent
// characters, counted in code points) used for suggestions.
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `name`, if close enough to be a likely misspelling
// (distance at most max(2, length / 3)); "" otherwise.
std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_ENGINE_VALIDATE_H_
