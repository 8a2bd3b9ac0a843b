#include "templates/engine/validate.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "templates/engine/ast.h"
#include "templates/engine/mustache.h"

namespace govreport::templates {
namespace {

using internal::Node;
using internal::NodeType;

bool IsNumeric(SlotKind kind) {
  return kind == SlotKind::kNumber || kind == SlotKind::kQuantity || kind == SlotKind::kMoney;
}

// Derived names per kind, and what they hold (see value.h).
struct DerivedName {
  const char* name;
  SlotKind kind;
};
constexpr DerivedName kNumericDerived[] = {
    {"value", SlotKind::kNumber}, {"wan", SlotKind::kQuantity}, {"approx", SlotKind::kNumber},
    {"cn", SlotKind::kText},      {"zero", SlotKind::kBool},    {"nonzero", SlotKind::kBool},
};
constexpr DerivedName kDateDerived[] = {
    {"cn", SlotKind::kText},    {"year", SlotKind::kNumber}, {"month", SlotKind::kNumber},
    {"day", SlotKind::kNumber}, {"iso", SlotKind::kText},
};

std::optional<SlotKind> DerivedKind(SlotKind base, std::string_view name) {
  if (IsNumeric(base)) {
    for (const DerivedName& d : kNumericDerived) {
      if (name == d.name) return d.kind;
    }
    if (base == SlotKind::kQuantity && name == "unit") return SlotKind::kText;
    if (base == SlotKind::kMoney && name == "daxie") return SlotKind::kText;
    if (base == SlotKind::kMoney && name == "fen") return SlotKind::kNumber;
  } else if (base == SlotKind::kDate) {
    for (const DerivedName& d : kDateDerived) {
      if (name == d.name) return d.kind;
    }
  }
  return std::nullopt;
}

std::vector<std::string> DerivedNames(SlotKind base) {
  std::vector<std::string> out;
  if (IsNumeric(base)) {
    for (const DerivedName& d : kNumericDerived) out.emplace_back(d.name);
    if (base == SlotKind::kQuantity) out.emplace_back("unit");
    if (base == SlotKind::kMoney) {
      out.emplace_back("daxie");
      out.emplace_back("fen");
    }
  } else if (base == SlotKind::kDate) {
    for (const DerivedName& d : kDateDerived) out.emplace_back(d.name);
  }
  return out;
}

// A name with a "*" part before its last part: "ind.*.rows".
bool IsInnerPattern(std::string_view name) {
  const size_t star = name.find("*.");
  return star != std::string_view::npos && (star == 0 || name[star - 1] == '.');
}

// Whether `name` has the parts of `pattern`, a "*" part matching any one.
bool MatchesPattern(std::string_view pattern, std::string_view name) {
  while (true) {
    const size_t p_dot = pattern.find('.');
    const size_t n_dot = name.find('.');
    const std::string_view p_part = pattern.substr(0, p_dot);
    const std::string_view n_part = name.substr(0, n_dot);
    if (p_part != "*" ? p_part != n_part : n_part.empty()) return false;
    if (p_dot == std::string_view::npos || n_dot == std::string_view::npos) {
      return p_dot == std::string_view::npos && n_dot == std::string_view::npos;
    }
    pattern.remove_prefix(p_dot + 1);
    name.remove_prefix(n_dot + 1);
  }
}

std::string Join(std::string_view scope, std::string_view name) {
  if (scope.empty()) return std::string(name);
  std::string out(scope);
  out.push_back('.');
  out.append(name);
  return out;
}

std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + static_cast<size_t>(len) > s.size()) len = 1;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Schema

Schema& Schema::Add(std::string_view name, SlotKind kind) {
  if (IsInnerPattern(name)) {
    patterns_.emplace_back(std::string(name), kind);
    return *this;
  }
  auto it = names_.find(name);
  if (it != names_.end()) {
    it->second = kind;
  } else {
    names_.emplace(std::string(name), kind);
  }
  return *this;
}

std::optional<SlotKind> Schema::KindOf(std::string_view name) const {
  if (name.empty()) return std::nullopt;
  if (auto it = names_.find(name); it != names_.end()) return it->second;
  // A map implied by longer names: "org" when "org.name" is declared.
  const std::string prefix = std::string(name) + ".";
  if (auto it = names_.lower_bound(prefix);
      it != names_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    return SlotKind::kMap;
  }
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view parent = name.substr(0, dot);
  const std::string_view last = name.substr(dot + 1);
  if (auto it = names_.find(std::string(parent) + ".*"); it != names_.end()) {
    return it->second;
  }
  for (const auto& [pattern, kind] : patterns_) {
    if (MatchesPattern(pattern, name)) return kind;
  }
  const std::optional<SlotKind> base = KindOf(parent);
  if (!base.has_value()) return std::nullopt;
  return DerivedKind(*base, last);
}

std::vector<std::string> Schema::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : names_) {
    if (name.size() >= 2 && name.compare(name.size() - 2, 2, ".*") == 0) {
      continue;
    }
    out.push_back(name);
    for (const std::string& derived : DerivedNames(kind)) {
      out.push_back(absl::StrCat(name, ".", derived));
    }
  }
  return out;
}

Schema MakeReportSchema(const ReportSchemaSpec& spec) {
  Schema schema;
  for (const char* name : {"org.name", "org.short_name", "org.city", "org.district", "period.label",
                           "issue.date_cn"}) {
    schema.Add(name, SlotKind::kText);
  }
  schema.Add("period.label_cn", SlotKind::kText);
  schema.Add("period.year", SlotKind::kNumber);
  schema.Add("period.next_year", SlotKind::kNumber);
  schema.Add("issue.date", SlotKind::kDate);
  for (const auto& [key, kind] : spec.indicators) {
    schema.Add("ind." + key, kind);
  }
  for (const std::string& key : spec.facts) {
    schema.Add("facts." + key, SlotKind::kText);
  }
  for (const std::string& slot : spec.narrative) {
    schema.Add("narrative." + slot, SlotKind::kText);
  }
  return schema;
}

std::string Problem::ToString() const {
  std::string out;
  if (!partial.empty()) out.append(partial).append(":");
  out.append(std::to_string(line)).append(":").append(std::to_string(column));
  out.append(": ").append(message);
  return out;
}

// ---------------------------------------------------------------------------
// Suggestions

int EditDistance(std::string_view a, std::string_view b) {
  const std::vector<uint32_t> x = CodePoints(a);
  const std::vector<uint32_t> y = CodePoints(b);
  const size_t n = x.size();
  const size_t m = y.size();
  // Optimal string alignment: Levenshtein plus adjacent swaps, three rows.
  std::vector<int> before(m + 1), previous(m + 1), current(m + 1);
  for (size_t j = 0; j <= m; ++j) previous[j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    current[0] = static_cast<int>(i);
    for (size_t j = 1; j <= m; ++j) {
      const int cost = x[i - 1] == y[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[m];
}

std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates) {
  constexpr size_t kMaxLength = 200;  // long garbage gets no suggestion
  if (name.empty() || name.size() > kMaxLength) return "";
  const int limit = std::max<int>(2, static_cast<int>(CodePoints(name).size()) / 3);
  int best = limit + 1;
  std::string found;
  for (const std::string& candidate : candidates) {
    if (candidate == name || candidate.size() > kMaxLength * 4) continue;
    const int length_gap =
        std::abs(static_cast<int>(candidate.size()) - static_cast<int>(name.size()));
    if (length_gap > 4 * best) continue;  // bytes; up to 4 per code point
    const int d = EditDistance(name, candidate);
    if (d < best) {
      best = d;
      found = candidate;
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// Validation

namespace {

class Validator {
 public:
  Validator(const Schema& schema, const PartialResolver* partials, const ValidateOptions& options,
            std::vector<Problem>* problems)
      : schema_(schema), partials_(partials), options_(options), problems_(*problems) {}

  void Walk(const CompiledTemplate& t, const std::string& partial, std::vector<std::string> scopes,
            int depth) {
    // (end of the section, whether it entered a scope)
    std::vector<std::pair<uint32_t, bool>> open;
    const auto& nodes = t.nodes();
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      while (!open.empty() && open.back().first <= i) {
        if (open.back().second) scopes.pop_back();
        open.pop_back();
      }
      if (Full()) return;
      if (--budget_ < 0) {
        OutOfBudget(t, partial, nodes[i].tag);
        return;
      }
      const Node& node = nodes[i];
      switch (node.type) {
        case NodeType::kText:
        case NodeType::kBlock:
          break;
        case NodeType::kVariable:
          if (!options_.check_names) break;
          CheckVariable(t, partial, node, i + 1 < nodes.size() ? &nodes[i + 1] : nullptr, scopes);
          break;
        case NodeType::kSection:
        case NodeType::kInverted: {
          std::optional<std::string> scope;
          if (options_.check_names) scope = CheckSection(t, partial, node, scopes);
          const bool opens_scope = scope.has_value();
          if (opens_scope) scopes.push_back(*std::move(scope));
          open.emplace_back(node.end, opens_scope);
          break;
        }
        case NodeType::kPartial:
        case NodeType::kParent:
          Include(t, partial, i, node, scopes, depth);
          break;
      }
    }
  }

  // False when the list is full and the problem was dropped.
  bool Add(const CompiledTemplate& t, const std::string& partial, size_t offset,
           std::string message, std::string suggestion = "") {
    if (problems_.size() >= options_.max_problems) {
      full_ = true;
      return false;
    }
    const auto [line, column] = t.LineColumn(offset);
    Problem p;
    p.line = line;
    p.column = column;
    p.partial = partial;
    p.message = std::move(message);
    p.suggestion = std::move(suggestion);
    problems_.push_back(std::move(p));
    return true;
  }

  bool Full() const { return full_; }

  // Hostile templates (huge, or nested thousands deep over big partials)
  // could make validation slow; it stops after a fixed amount of work.
  void OutOfBudget(const CompiledTemplate& t, const std::string& partial, size_t offset) {
    if (full_) return;
    Add(t, partial, offset,
        "validation stopped here: the template is too large or too deeply "
        "nested to check completely");
    full_ = true;
  }

 private:
  struct Resolved {
    std::string full;  // the name as the context will see it
    SlotKind kind;
  };

  // Resolves a name as the renderer would: its first part through the
  // scopes from the innermost, the rest inside what that found. Reports an
  // unknown name and returns nullopt.
  std::optional<Resolved> Resolve(const CompiledTemplate& t, const std::string& partial,
                                  const Node& node, const std::vector<std::string>& scopes,
                                  std::string_view name) {
    if (name == ".") {
      if (scopes.empty()) return Resolved{"", SlotKind::kMap};
      const std::optional<SlotKind> kind = schema_.KindOf(scopes.back());
      return Resolved{scopes.back(), kind.value_or(SlotKind::kMap)};
    }
    const std::string_view first = name.substr(0, name.find('.'));
    for (size_t j = scopes.size() + 1; j-- > 0;) {
      if (--budget_ < 0) {
        OutOfBudget(t, partial, node.tag);
        return std::nullopt;
      }
      const std::string_view scope = j == 0 ? std::string_view() : std::string_view(scopes[j - 1]);
      if (!schema_.KindOf(Join(scope, first)).has_value()) continue;
      std::string full = Join(scope, name);
      const std::optional<SlotKind> kind = schema_.KindOf(full);
      if (kind.has_value()) return Resolved{std::move(full), *kind};
      Unknown(t, partial, node, full, {full});
      return std::nullopt;
    }
    std::vector<std::string> tries;
    tries.reserve(scopes.size() + 1);
    for (const std::string& scope : scopes) tries.push_back(Join(scope, name));
    tries.emplace_back(name);
    Unknown(t, partial, node, std::string(name), tries);
    return std::nullopt;
  }

  void Unknown(const CompiledTemplate& t, const std::string& partial, const Node& node,
               const std::string& name, const std::vector<std::string>& tries) {
    if (names_.empty()) names_ = schema_.Names();
    std::string suggestion;
    int best = 1 << 30;
    for (const std::string& attempt : tries) {
      std::string s = ClosestName(attempt, names_);
      if (s.empty()) continue;
      const int d = EditDistance(attempt, s);
      if (d < best) {
        best = d;
        suggestion = std::move(s);
      }
    }
    std::string message = "unknown name '" + name + "'";
    if (!suggestion.empty()) {
      message += "; did you mean '" + suggestion + "'?";
    } else {
      message += ": the report context has no such value (" + TopLevel() + ")";
    }
    Add(t, partial, node.tag, std::move(message), std::move(suggestion));
  }

  // "its names start with org., period., ..." from the schema.
  std::string TopLevel() {
    if (names_.empty()) names_ = schema_.Names();
    std::set<std::string> tops;
    for (const std::string& n : names_) tops.insert(n.substr(0, n.find('.')));
    if (tops.empty()) return "the schema declares no names";
    std::string out = "its names start with ";
    bool first = true;
    for (const std::string& top : tops) {
      if (!first) out += ", ";
      first = false;
      out += top + (schema_.KindOf(top) == SlotKind::kMap ? "." : "");
    }
    return out;
  }

  void CheckVariable(const CompiledTemplate& t, const std::string& partial, const Node& node,
                     const Node* next, const std::vector<std::string>& scopes) {
    const std::string_view name = t.NameOf(node);
    std::optional<Resolved> r = Resolve(t, partial, node, scopes, name);
    if (!r.has_value() || name == ".") return;
    // {{x}} of money prints 元; "{{x}}万元" is 10 000 times too much.
    if (r->kind == SlotKind::kMoney && next != nullptr && next->type == NodeType::kText &&
        t.NameOf(*next).substr(0, 3) == "万") {
      Add(t, partial, node.tag,
          "'" + r->full + "' is money: {{" + std::string(name) + "}} writes 元 (1234.56), but 万 " +
              "follows; write {{" + std::string(name) + ".wan}} for 万元",
          r->full + ".wan");
    }
    if (r->kind == SlotKind::kMap || r->kind == SlotKind::kList) {
      std::string example;
      for (const std::string& n : Names()) {
        if (n.size() > r->full.size() + 1 && n.compare(0, r->full.size() + 1, r->full + ".") == 0) {
          example = n;
          break;
        }
      }
      Add(t, partial, node.tag,
          "'" + std::string(name) + "' is a group of values" +
              (r->kind == SlotKind::kList ? " (a list)" : "") +
              " and prints nothing useful; name one value" +
              (example.empty() ? std::string() : ", like '" + example + "'"),
          example);
    }
  }

  // Returns the scope a section enters, if it enters one.
  std::optional<std::string> CheckSection(const CompiledTemplate& t, const std::string& partial,
                                          const Node& node,
                                          const std::vector<std::string>& scopes) {
    const std::string_view name = t.NameOf(node);
    std::optional<Resolved> r = Resolve(t, partial, node, scopes, name);
    if (!r.has_value()) return std::nullopt;
    const bool inverted = node.type == NodeType::kInverted;
    const std::string shown = std::string(name);
    if (!inverted && r->kind == SlotKind::kText) {
      Add(t, partial, node.tag,
          "section {{#" + shown + "}} is opened over the text '" + r->full +
              "': a text is not a condition. Test a boolean (such as "
              "ind.<key>.nonzero), or write {{^" +
              shown + "}}…{{/" + shown + "}} to show something when the text is empty");
      return std::nullopt;
    }
    if (!inverted && (IsNumeric(r->kind) || r->kind == SlotKind::kDate)) {
      const bool numeric = IsNumeric(r->kind);
      Add(t, partial, node.tag,
          "section {{#" + shown + "}} always renders: a " +
              (numeric ? "number is true even when it is 0" : "date is always true") +
              (numeric ? "; test {{#" + shown + ".nonzero}} or {{#" + shown + ".zero}} instead"
                       : std::string()),
          numeric ? r->full + ".nonzero" : "");
    }
    // Only maps and lists give names inside the section (render looks up
    // first parts in maps only).
    if (inverted || (r->kind != SlotKind::kMap && r->kind != SlotKind::kList)) {
      return std::nullopt;
    }
    return r->full;
  }

  const std::vector<std::string>& Names() {
    if (names_.empty()) names_ = schema_.Names();
    return names_;
  }

  void Include(const CompiledTemplate& t, const std::string& partial, uint32_t index,
               const Node& node, const std::vector<std::string>& scopes, int depth) {
    const bool parent = node.type == NodeType::kParent;
    const std::string_view name = t.NameOf(node);
    if (node.dynamic) {
      Resolve(t, partial, node, scopes, name);
      return;
    }
    std::shared_ptr<const CompiledTemplate> found = FindPartial(name);
    if (found == nullptr) {
      const std::string suggestion = ClosestName(name, KnownPartials());
      Add(t, partial, node.tag,
          std::string(parent ? "parent" : "partial") + " '" + std::string(name) +
              "' does not exist" +
              (suggestion.empty() ? std::string() : "; did you mean '" + suggestion + "'?"),
          suggestion);
      return;
    }
    if (parent) {
      held_.push_back(found);  // BlocksOf caches by address
      CheckArguments(t, partial, index, node, *found, name);
    }
    if (depth >= options_.max_partial_depth) return;
    std::string key(name);
    for (const std::string& scope : scopes) key.append("\n").append(scope);
    if (!visited_.insert(key).second) return;  // checked in this scope
    Walk(*found, std::string(name), scopes, depth + 1);
  }

  // Each argument block must name a block the parent (or what it pulls in)
  // has; otherwise the override silently does nothing.
  void CheckArguments(const CompiledTemplate& t, const std::string& partial, uint32_t index,
                      const Node& node, const CompiledTemplate& parent, std::string_view name) {
    const std::set<std::string>& blocks = BlocksOf(parent, 0);
    const auto& nodes = t.nodes();
    for (uint32_t c = index + 1; c < node.end; c = nodes[c].end) {
      const Node& arg = nodes[c];
      if (arg.type != NodeType::kBlock) continue;
      const std::string arg_name(t.NameOf(arg));
      if (blocks.count(arg_name) != 0) continue;
      const std::vector<std::string> known(blocks.begin(), blocks.end());
      const std::string suggestion = ClosestName(arg_name, known);
      std::string message = "block '" + arg_name + "' is not a block of parent '" +
                            std::string(name) + "', so it overrides nothing";
      if (!suggestion.empty()) {
        message += "; did you mean '" + suggestion + "'?";
      } else if (!known.empty()) {
        message += " (its blocks: ";
        for (size_t k = 0; k < known.size() && k < 10; ++k) {
          message += (k ? ", " : "") + known[k];
        }
        message += ")";
      }
      if (Add(t, partial, arg.tag, std::move(message), suggestion)) {
        problems_.back().orphaned_block = arg_name;
        problems_.back().orphaned_parent = std::string(name);
      }
    }
  }

  // Block names anywhere in what `t` expands, once per template (a cycle
  // of partials sees an unfinished set instead of looping).
  const std::set<std::string>& BlocksOf(const CompiledTemplate& t, int depth) {
    static const std::set<std::string> kNone;
    if (auto it = blocks_.find(&t); it != blocks_.end()) return it->second;
    if (!collecting_.insert(&t).second) return kNone;
    std::set<std::string> blocks;
    for (const Node& node : t.nodes()) {
      if (node.type == NodeType::kBlock) {
        blocks.emplace(t.NameOf(node));
      } else if ((node.type == NodeType::kPartial || node.type == NodeType::kParent) &&
                 !node.dynamic && partials_ != nullptr && depth < options_.max_partial_depth) {
        std::shared_ptr<const CompiledTemplate> inner = FindPartial(t.NameOf(node));
        if (inner != nullptr) {
          const std::set<std::string>& more = BlocksOf(*inner, depth + 1);
          blocks.insert(more.begin(), more.end());
          held_.push_back(std::move(inner));  // keeps the cache key alive
        }
      }
    }
    collecting_.erase(&t);
    return blocks_[&t] = std::move(blocks);
  }

  // Each name is asked of the resolver once (misses too): a template may
  // name one partial in thousands of tags.
  std::shared_ptr<const CompiledTemplate> FindPartial(std::string_view name) {
    if (partials_ == nullptr) return nullptr;
    const absl::string_view key(name.data(), name.size());
    if (auto it = resolved_.find(key); it != resolved_.end()) return it->second;
    std::shared_ptr<const CompiledTemplate> found = partials_->Find(name);
    resolved_.emplace(name, found);
    return found;
  }

  const std::vector<std::string>& KnownPartials() {
    if (!known_partials_ && partials_ != nullptr) known_partials_ = partials_->Names();
    if (!known_partials_) known_partials_.emplace();
    return *known_partials_;
  }

  const Schema& schema_;
  const PartialResolver* partials_;
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledTemplate>> resolved_;
  std::optional<std::vector<std::string>> known_partials_;
  const ValidateOptions& options_;
  std::vector<Problem>& problems_;
  std::vector<std::string> names_;  // schema names, computed on first need
  std::set<std::string> visited_;
  std::map<const CompiledTemplate*, std::set<std::string>> blocks_;
  std::vector<std::shared_ptr<const CompiledTemplate>> held_;
  std::set<const CompiledTemplate*> collecting_;
  int64_t budget_ = 5'000'000;  // nodes visited plus scopes tried
  bool full_ = false;
};

}  // namespace

std::vector<Problem> Validate(std::string_view template_text, const Schema& schema,
                              const PartialResolver* partials, const ValidateOptions& options) {
  std::vector<Problem> problems;
  std::vector<internal::ParseIssue> issues;
  const CompiledTemplate compiled = CompiledTemplate::CompileForValidation(
      template_text, options.compile, options.max_problems + 1, &issues);
  Validator validator(schema, partials, options, &problems);
  for (const internal::ParseIssue& issue : issues) {
    validator.Add(compiled, "", issue.offset, issue.message, issue.suggestion);
  }
  validator.Walk(compiled, "", {}, 0);
  // The parser's issues come first; put the template's problems in position
  // order. Partials' problems follow, in the order they were met.
  std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    auto key = [](const Problem& p) {
      return p.partial.empty() ? std::make_tuple(0, p.line, p.column) : std::make_tuple(1, 0, 0);
    };
    return key(a) < key(b);
  });
  if (validator.Full()) {
    Problem too_many;
    too_many.message =
        "too many problems; only the first " + std::to_string(options.max_problems) + " are listed";
    problems.push_back(std::move(too_many));
  }
  return problems;
}

}  // namespace govreport::templates
