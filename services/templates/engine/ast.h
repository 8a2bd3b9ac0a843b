// Internal: the compiled form of a template. Not an API; mustache.h exposes
// it only so the renderer and the validator can walk it without copies.
#ifndef GOVREPORT_TEMPLATES_ENGINE_AST_H_
#define GOVREPORT_TEMPLATES_ENGINE_AST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace govreport::templates::internal {

enum class NodeType : uint8_t {
  kText,      // literal text
  kVariable,  // {{x}} {{{x}}} {{&x}}
  kSection,   // {{#x}} … {{/x}}
  kInverted,  // {{^x}} … {{/x}}
  kPartial,   // {{>x}} {{>*x}}
  kParent,    // {{<x}} … {{/x}}: children are its argument blocks
  kBlock,     // {{$x}} … {{/x}}
};

// Nodes are stored flat in pre-order: a container's subtree is the range
// (index, end). Offsets point into the template's source, so a template owns
// one copy of its text and nothing else.
struct Node {
  NodeType type = NodeType::kText;
  bool escape = false;   // kVariable: {{x}} (HTML-escaped when asked)
  bool dynamic = false;  // kPartial/kParent: {{>*x}}, the name is looked up
  bool arg = false;      // kBlock directly inside a kParent: an argument
  uint32_t begin = 0;    // kText: the text; others: the name (no '*')
  uint32_t size = 0;
  uint32_t end = 0;        // one past the subtree; index + 1 for leaves
  uint32_t tag = 0;        // offset of the tag, for line:column
  uint32_t seg_begin = 0;  // dotted-name segments in the segment table;
  uint32_t seg_count = 0;  // 0 for "." (the implicit iterator)
  // kPartial/kParent/kBlock: whitespace added before every line rendered
  // in their place (standalone partial indentation, block reindentation).
  uint32_t indent_begin = 0;
  uint32_t indent_size = 0;
};

struct Segment {
  uint32_t begin = 0;
  uint32_t size = 0;
  uint32_t hash = 0;  // Value::HashKey of the name, computed once at compile
};

struct ParseIssue {
  uint32_t offset = 0;
  std::string message;
  std::string suggestion;
};

// Parses `source` into nodes and segments. Without collect_all it stops at
// the first issue; with it, it recovers (skips a bad tag, closes sections at
// a mismatch or at the end) and reports issues until it has max_issues.
void Parse(std::string_view source, int max_nesting, bool collect_all, size_t max_issues,
           std::vector<Node>* nodes, std::vector<Segment>* segments,
           std::vector<ParseIssue>* issues);

}  // namespace govreport::templates::internal

#endif  // GOVREPORT_TEMPLATES_ENGINE_AST_H_
