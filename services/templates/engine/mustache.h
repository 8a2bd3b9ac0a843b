// Mustache templates for govreport reports.
//
// Conforms to the Mustache spec (interpolation, sections, inverted sections,
// comments, partials, set delimiters) and its optional inheritance
// ({{<parent}}{{$block}}) and dynamic-name ({{>*name}}) modules; lambdas are
// not supported. A template is compiled once into an immutable
// CompiledTemplate that any number of threads may render at the same time;
// rendering never re-parses and appends into one string.
//
//   absl::StatusOr<CompiledTemplate> t = CompiledTemplate::Compile(text);
//   RenderOptions options;
//   options.escape = Escape::kNone;       // plain text / Markdown / DOCX
//   options.partials = &resolver;
//   absl::StatusOr<RenderResult> r = t->Render(context, options);
//   // r->text, and r->missing: the slots that had no value.
//
// Beyond the spec (decisions recorded in docs/templates.md):
//   - Values are typed (value.h); numbers, quantities, money and dates are
//     formatted by the engine and offer derived names (x.cn, x.wan, ...).
//   - Every number is truthy, 0 included: templates test x.zero.
//   - Directly inside {{<parent}} … {{/parent}} only blocks, comments and
//     set-delimiter tags may appear; text and interpolation tags there are
//     ignored as the spec says, other tags are an error.
//   - Errors are absl::Status, never exceptions: INVALID_ARGUMENT with
//     "name:line:column: message" (line and column 1-based, the column in
//     Unicode code points) for bad templates, RESOURCE_EXHAUSTED when a
//     render passes a limit of RenderOptions, DEADLINE_EXCEEDED and
//     CANCELLED when its deadline passes or its caller cancels.
//   - Each partial name is asked of the PartialResolver at most once per
//     render; misses are remembered too.
#ifndef GOVREPORT_TEMPLATES_ENGINE_MUSTACHE_H_
#define GOVREPORT_TEMPLATES_ENGINE_MUSTACHE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "templates/engine/ast.h"
#include "templates/engine/value.h"

namespace govreport::templates {

// How {{x}} writes a value. {{{x}}} and {{&x}} never escape.
enum class Escape {
  kHtml,  // & < > " become entities, as the Mustache spec requires
  kNone,  // text, Markdown, DOCX: written as is, so nothing is escaped twice
};

struct CompileOptions {
  // Shown in error messages ("report.mustache:3:14: ...").
  std::string name;
  size_t max_template_bytes = size_t{8} << 20;
  // Sections, blocks and parents open at once. Parsing and rendering are
  // iterative, so deep nesting costs memory, not stack; the limit only
  // rejects absurd input early.
  int max_nesting = 1000;
};

class CompiledTemplate;

// Where partials and parents ({{>name}}, {{<name}}) come from, already
// compiled. Called while rendering (dynamic names are only known then; each
// name once per render) and by Validate (each name once); must be safe to call from several threads
// at once when templates are rendered concurrently.
class PartialResolver {
 public:
  virtual ~PartialResolver() = default;
  // nullptr when there is no such partial (it then renders as nothing, as
  // the spec says; RenderResult::missing_partials lists it).
  virtual std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const = 0;
  // Known names, for "did you mean" suggestions. Optional.
  virtual std::vector<std::string> Names() const { return {}; }
};

// Partials held in memory, compiled when added.
class MapPartialResolver final : public PartialResolver {
 public:
  // Compiles `text` under `name`; the error (with line:column) names it.
  absl::Status Add(std::string_view name, std::string_view text,
                   const CompileOptions& options = {});
  void Add(std::string_view name, std::shared_ptr<const CompiledTemplate> compiled);

  std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const override;
  std::vector<std::string> Names() const override;

 private:
  std::map<std::string, std::shared_ptr<const CompiledTemplate>, std::less<>> partials_;
};

struct RenderOptions {
  Escape escape = Escape::kHtml;
  const PartialResolver* partials = nullptr;  // none: partials render empty

  // The render's budget, against hostile templates and contexts (an
  // inline template comes from any reader of an org). Passing a limit ends
  // the render with RESOURCE_EXHAUSTED naming the limit; the defaults are
  // far above what a report needs (docs/templates.md).
  size_t max_output_bytes = size_t{16} << 20;
  // Nodes visited and section iterations, against sections nested over
  // long lists.
  uint64_t max_steps = 20'000'000;
  // Partials and parents expanded, counted over the whole render: a chain
  // of partials that each include the next twice doubles at every link and
  // stays within any depth limit.
  uint64_t max_partial_expansions = 100'000;
  // Different partial and parent names looked up. Each name is resolved
  // once per render, misses included, so this bounds what one render asks
  // of the resolver (dynamic names {{>*x}} come from the context).
  size_t max_partial_names = 1'000;
  // Partials, parents and overridden blocks expanded inside each other; a
  // partial that includes itself stops here (INVALID_ARGUMENT).
  int max_include_depth = 64;

  // Checked every `check_every` steps: past the deadline the render ends
  // with DEADLINE_EXCEEDED, and with CANCELLED once `cancelled` returns true
  // (the caller went away). `cancelled` may be empty.
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;
  uint32_t check_every = 4096;
};

struct RenderResult {
  std::string text;
  // Names used in interpolation tags ({{x}}, {{{x}}}, {{&x}}) that resolved
  // to nothing or to null, each once, in order of first appearance, as full
  // dotted names: {{district}} inside {{#org}} is "org.district", a field of
  // a list's items is "items.title" (the Schema's convention). The text
  // renders them as empty, per the spec; the caller decides whether a
  // report may go out with gaps. At most 1000 names are kept.
  std::vector<std::string> missing;
  // Partial and parent names that no resolver knew, each once.
  std::vector<std::string> missing_partials;
  // The work done, also when the render failed (RenderTo): steps, partial
  // and parent expansions, and names asked of the resolver.
  uint64_t steps = 0;
  uint64_t partial_expansions = 0;
  uint64_t partial_lookups = 0;
};

class CompiledTemplate {
 public:
  // INVALID_ARGUMENT "name:line:column: message" for the first syntax error.
  static absl::StatusOr<CompiledTemplate> Compile(std::string_view text,
                                                  const CompileOptions& options = {});

  absl::StatusOr<RenderResult> Render(const Value& context,
                                      const RenderOptions& options = {}) const;
  // Appends to result->text and result->missing (deduplicated against what
  // is already there), for callers that render several parts into one
  // buffer. On error the text may hold a partial rendering.
  absl::Status RenderTo(const Value& context, const RenderOptions& options,
                        RenderResult* result) const;

  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }

  // 1-based line and column (in Unicode code points) of a source offset.
  std::pair<int, int> LineColumn(size_t offset) const;
  // "name:line:column", or "line:column" for an unnamed template.
  std::string Location(size_t offset) const;

  // Internal, for the renderer and the validator.
  const std::vector<internal::Node>& nodes() const { return nodes_; }
  const std::vector<internal::Segment>& segments() const { return segments_; }
  std::string_view Slice(uint32_t begin, uint32_t size) const {
    return std::string_view(source_).substr(begin, size);
  }
  std::string_view NameOf(const internal::Node& node) const { return Slice(node.begin, node.size); }
  // Parses leniently, reporting up to max_issues issues; for Validate.
  static CompiledTemplate CompileForValidation(std::string_view text, const CompileOptions& options,
                                               size_t max_issues,
                                               std::vector<internal::ParseIssue>* issues);

 private:
  CompiledTemplate() = default;
  void IndexLines();

  std::string name_;
  std::string source_;
  std::vector<internal::Node> nodes_;
  std::vector<internal::Segment> segments_;
  std::vector<uint32_t> line_starts_;
};

// HTML-escapes & < > " (the spec's set) onto *out.
void AppendHtmlEscaped(std::string_view text, std::string* out);

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_ENGINE_MUSTACHE_H_
