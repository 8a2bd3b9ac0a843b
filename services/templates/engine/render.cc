// Rendering: an explicit stack of frames walks the flat node vectors of the
// template and of the partials it pulls in, so neither deep nesting nor deep
// partial recursion touches the C++ stack.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/markup.h"
#include "templates/engine/ast.h"
#include "templates/engine/mustache.h"
#include "templates/engine/value.h"

namespace govreport::templates {

using internal::Node;
using internal::NodeType;

void AppendHtmlEscaped(std::string_view text, std::string* out) {
  AppendMarkupEscaped(text, MarkupEscape::kHtml, out);
}

namespace {

// RenderResult::missing keeps at most this many names.
constexpr size_t kMaxMissing = 1000;

class Renderer {
 public:
  Renderer(const RenderOptions& options, RenderResult* result)
      : options_(options),
        out_(result->text),
        missing_(result->missing),
        missing_partials_(result->missing_partials),
        start_size_(result->text.size()),
        result_(*result) {
    missing_seen_.insert(missing_.begin(), missing_.end());
    next_check_ = options_.check_every;
    // Deeper than most templates nest, so that they grow once at most.
    frames_.reserve(16);
    context_.reserve(16);
  }

  ~Renderer() {
    result_.steps += steps_;
    result_.partial_expansions += expansions_;
    result_.partial_lookups += resolved_.size();
  }

  absl::Status Run(const CompiledTemplate& root, const Value& context) {
    context_.push_back(Context{&context, -1, nullptr, 0});
    PushFrame(&root, nullptr, 0, static_cast<uint32_t>(root.nodes().size()),
              /*include=*/false);
    while (!frames_.empty()) {
      if (++steps_ > options_.max_steps) {
        const Frame& f = frames_.back();
        return Exhausted(*f.tmpl, f.pc < f.end ? f.pc : 0,
                         "rendering takes more than " + std::to_string(options_.max_steps) +
                             " steps (RenderOptions.max_steps); is a section "
                             "nested over long lists?");
      }
      if (steps_ >= next_check_) {
        next_check_ = steps_ + std::max<uint32_t>(options_.check_every, 1);
        const Frame& f = frames_.back();
        absl::Status stop = CheckStop(*f.tmpl, f.pc < f.end ? f.pc : 0);
        if (!stop.ok()) return stop;
      }
      Frame& f = frames_.back();
      if (f.pc >= f.end) {
        if (f.list != nullptr && f.next < f.list->size()) {
          context_.back().value = &(*f.list)[f.next++];
          f.pc = f.body;
          continue;
        }
        PopFrame();
        continue;
      }
      const CompiledTemplate& t = *f.tmpl;
      const uint32_t index = f.pc;
      const Node& node = t.nodes()[index];
      f.pc = node.end;  // `f` may dangle once a frame is pushed below
      switch (node.type) {
        case NodeType::kText:
          EmitText(t.NameOf(node));
          break;
        case NodeType::kVariable:
          Interpolate(t, node);
          break;
        case NodeType::kSection:
        case NodeType::kInverted:
          Section(t, index, node);
          break;
        // Only these can fail: the common nodes above build no Status.
        case NodeType::kPartial:
        case NodeType::kParent:
        case NodeType::kBlock: {
          absl::Status status = node.type == NodeType::kPartial  ? Partial(t, node)
                                : node.type == NodeType::kParent ? Parent(t, index, node)
                                                                 : Block(t, index, node);
          if (!status.ok()) return status;
          break;
        }
      }
      if (out_.size() - start_size_ > options_.max_output_bytes) {
        return Exhausted(t, index,
                         "output is larger than " + std::to_string(options_.max_output_bytes) +
                             " bytes (RenderOptions.max_output_bytes)");
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Frame {
    const CompiledTemplate* tmpl;
    std::shared_ptr<const CompiledTemplate> hold;  // keeps a partial alive
    uint32_t pc;
    uint32_t end;
    uint32_t body;
    const std::vector<Value>* list;  // a section iterating over a list
    size_t next;
    size_t context_size;
    size_t indent_size;
    size_t scope_size;
    size_t arena_size;
    bool include;
  };

  // An active parent expansion: its argument blocks override blocks of the
  // same name anywhere below it; the outermost one wins.
  struct Scope {
    const CompiledTemplate* tmpl;
    uint32_t parent;
  };

  // Records the sizes to restore when the frame ends; callers then push
  // context, indentation or scope.
  void PushFrame(const CompiledTemplate* tmpl, std::shared_ptr<const CompiledTemplate> hold,
                 uint32_t begin, uint32_t end, bool include) {
    frames_.push_back(Frame{tmpl, std::move(hold), begin, end, begin, nullptr, 0, context_.size(),
                            indent_.size(), scopes_.size(), arena_.size(), include});
    if (include) ++include_depth_;
  }

  void PopFrame() {
    const Frame& f = frames_.back();
    context_.resize(f.context_size);
    indent_.resize(f.indent_size);
    scopes_.resize(f.scope_size);
    while (arena_.size() > f.arena_size) arena_.pop_back();
    if (f.include) --include_depth_;
    frames_.pop_back();
  }

  absl::Status Exhausted(const CompiledTemplate& t, uint32_t index, const std::string& what) const {
    const size_t offset = index < t.nodes().size() ? t.nodes()[index].tag : 0;
    return absl::ResourceExhaustedError(t.Location(offset) + ": " + what);
  }

  // The caller's deadline and cancellation, looked at every check_every
  // steps so that a render nobody waits for stops doing work.
  absl::Status CheckStop(const CompiledTemplate& t, uint32_t index) const {
    const size_t offset = index < t.nodes().size() ? t.nodes()[index].tag : 0;
    if (options_.deadline != absl::InfiniteFuture() && absl::Now() >= options_.deadline) {
      return absl::DeadlineExceededError(t.Location(offset) +
                                         ": rendering passed the deadline after " +
                                         std::to_string(steps_) + " steps");
    }
    if (options_.cancelled && options_.cancelled()) {
      return absl::CancelledError(t.Location(offset) + ": rendering cancelled after " +
                                  std::to_string(steps_) + " steps");
    }
    return absl::OkStatus();
  }

  // ---- output --------------------------------------------------------------

  void EmitIndentIfLineStart() {
    if (at_line_start_) {
      out_.append(indent_);
      at_line_start_ = false;
    }
  }

  // Template text: every line it starts gets the current indentation.
  void EmitText(std::string_view text) {
    if (text.empty()) return;
    if (indent_.empty()) {
      out_.append(text);
      at_line_start_ = text.back() == '\n';
      return;
    }
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.find('\n', begin);
      end = end == std::string_view::npos ? text.size() : end + 1;
      EmitIndentIfLineStart();
      out_.append(text.data() + begin, end - begin);
      at_line_start_ = text[end - 1] == '\n';
      begin = end;
    }
  }

  // A value: indented if it starts a line, but its own newlines are data
  // and get no indentation (spec: "Standalone Indentation").
  void EmitValue(std::string_view text, bool escape) {
    if (text.empty()) return;
    EmitIndentIfLineStart();
    if (escape) {
      AppendHtmlEscaped(text, &out_);
    } else {
      out_.append(text);
    }
  }

  // ---- name resolution -----------------------------------------------------

  // A child of `v` by key: a map entry, a list item by index, or a derived
  // name computed into *scratch.
  static const Value* Child(const Value& v, std::string_view key, uint32_t hash, Value* scratch) {
    if (v.is_map()) return v.Find(key, hash);
    if (v.is_list()) {
      size_t index = 0;
      if (key.empty() || key.size() > 9) return nullptr;
      for (char c : key) {
        if (c < '0' || c > '9') return nullptr;
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      return index < v.items().size() ? &v.items()[index] : nullptr;
    }
    return v.Derived(key, scratch) ? scratch : nullptr;
  }

  // Spec resolution: the first part of a dotted name is looked up through
  // the context stack from the top; the rest strictly inside what it found.
  // The result may point into scratch[0..1]. *found_at is the stack entry
  // where the first part was found (the top for "."), -1 if nowhere.
  const Value* Resolve(const CompiledTemplate& t, const Node& node, Value scratch[2],
                       int* found_at) const {
    *found_at = static_cast<int>(context_.size()) - 1;
    if (node.seg_count == 0) return context_.back().value;
    const auto& segments = t.segments();
    const internal::Segment& head = segments[node.seg_begin];
    const std::string_view first = t.Slice(head.begin, head.size);
    // Only maps have names at the first step: a number on the stack must
    // not answer {{value}} with its derived value.
    const Value* v = nullptr;
    for (size_t i = context_.size(); i-- > 0;) {
      v = context_[i].value->Find(first, head.hash);
      if (v != nullptr) {
        *found_at = static_cast<int>(i);
        break;
      }
    }
    if (v == nullptr) {
      *found_at = -1;
      return nullptr;
    }
    int k = 0;
    // The map that holds v and v's key in it, for grafted children.
    const Value* holder = context_[*found_at].value;
    std::string_view key_in_holder = first;
    for (uint32_t s = 1; s < node.seg_count; ++s) {
      const internal::Segment& seg = segments[node.seg_begin + s];
      const std::string_view key = t.Slice(seg.begin, seg.size);
      const Value* child = Child(*v, key, seg.hash, &scratch[k]);
      if (child == nullptr) child = Grafted(*v, holder, key_in_holder, key);
      if (child == nullptr) return nullptr;
      if (child == &scratch[k]) k ^= 1;
      if (v->is_map()) {
        holder = v;
        key_in_holder = key;
      } else {
        holder = nullptr;
      }
      v = child;
    }
    return v;
  }

  // A typed value cannot hold children (a Value is one kind), so a child of
  // a number, money or date is kept beside it in the same map under
  // "<key>.<child>" (ind.x.rows: the breakdown rows of the indicator ind.x,
  // see report_context.h). Only asked for after the usual lookup failed.
  static const Value* Grafted(const Value& v, const Value* holder, std::string_view key_in_holder,
                              std::string_view child_key) {
    if (holder == nullptr || v.is_map() || v.is_list()) return nullptr;
    std::string joined;
    joined.reserve(key_in_holder.size() + 1 + child_key.size());
    joined.append(key_in_holder).append(".").append(child_key);
    return holder->Find(joined);
  }

  // ---- nodes ---------------------------------------------------------------

  // The dotted path of a context entry: the names of the sections that
  // entered it, each from where its own first part was found. List items
  // share their list's path ("items.title", as a Schema declares them).
  std::string PathOf(int entry) const {
    std::vector<int> chain;
    for (int e = entry; e > 0; e = context_[static_cast<size_t>(e)].base) {
      chain.push_back(e);
    }
    steps_ += chain.size();  // deep nesting makes this walk count
    std::string path;
    for (size_t k = chain.size(); k-- > 0;) {
      const Context& c = context_[static_cast<size_t>(chain[k])];
      const std::string_view name = c.tmpl->NameOf(c.tmpl->nodes()[c.node]);
      if (name == ".") continue;
      if (!path.empty()) path.push_back('.');
      path.append(name);
    }
    return path;
  }

  void Interpolate(const CompiledTemplate& t, const Node& node) {
    int found_at = -1;
    const Value* v = Resolve(t, node, scratch_, &found_at);
    if (v == nullptr || v->is_null()) {
      // Reported under its full name: {{district}} inside {{#org}} is
      // org.district; a name found nowhere belongs to the innermost scope.
      const int scope = found_at >= 0 ? found_at : static_cast<int>(context_.size()) - 1;
      std::string name = PathOf(scope);
      if (t.NameOf(node) != ".") {
        if (!name.empty()) name.push_back('.');
        name.append(t.NameOf(node));
      } else if (name.empty()) {
        name = ".";
      }
      if (missing_.size() < kMaxMissing && missing_seen_.insert(name).second) {
        missing_.push_back(name);
      }
      return;
    }
    const bool escape = node.escape && options_.escape == Escape::kHtml;
    if (v->kind() == Value::Kind::kText) {
      EmitValue(v->text(), escape);
      return;
    }
    if (v->is_numeric() || v->kind() == Value::Kind::kDate) {
      // Never empty and never in need of escaping: written in place.
      EmitIndentIfLineStart();
      v->AppendText(&out_);
      return;
    }
    scratch_text_.clear();
    v->AppendText(&scratch_text_);
    EmitValue(scratch_text_, escape);
  }

  void Section(const CompiledTemplate& t, uint32_t index, const Node& node) {
    int found_at = -1;
    const Value* v = Resolve(t, node, scratch_, &found_at);
    const bool truthy = v != nullptr && v->Truthy();
    if (node.type == NodeType::kInverted) {
      if (!truthy) PushFrame(&t, nullptr, index + 1, node.end, false);
      return;
    }
    if (!truthy) return;
    if (v->is_list()) {
      PushFrame(&t, nullptr, index + 1, node.end, false);
      Frame& f = frames_.back();
      f.list = &v->items();
      f.next = 1;
      context_.push_back(Context{&v->items()[0], found_at, &t, index});
      return;
    }
    PushFrame(&t, nullptr, index + 1, node.end, false);
    if (v->kind() == Value::Kind::kBool) return;  // nothing to look into
    if (v == &scratch_[0] || v == &scratch_[1]) {
      arena_.push_back(std::move(*const_cast<Value*>(v)));
      v = &arena_.back();
    }
    context_.push_back(Context{v, found_at, &t, index});
  }

  // Each name is asked of the resolver once per render, misses included:
  // a partial inside sections over long lists is otherwise looked up (in
  // the service: in Redis) at every iteration.
  absl::Status FindPartial(const CompiledTemplate& t, const Node& node,
                           std::shared_ptr<const CompiledTemplate>* found) {
    *found = nullptr;
    std::string dynamic_name;
    std::string_view name;
    if (node.dynamic) {
      Value scratch[2];
      int found_at = -1;
      const Value* v = Resolve(t, node, scratch, &found_at);
      if (v == nullptr) return absl::OkStatus();  // spec: nothing, silently
      dynamic_name = v->ToText();
      if (dynamic_name.empty()) return absl::OkStatus();
      name = dynamic_name;
    } else {
      name = t.NameOf(node);
    }
    if (auto it = resolved_.find(absl::string_view(name.data(), name.size()));
        it != resolved_.end()) {
      *found = it->second;
      return absl::OkStatus();
    }
    if (resolved_.size() >= options_.max_partial_names) {
      return Exhausted(t, static_cast<uint32_t>(&node - t.nodes().data()),
                       "rendering looks up more than " +
                           std::to_string(options_.max_partial_names) +
                           " different partial names (RenderOptions.max_partial_names)");
    }
    *found = options_.partials != nullptr ? options_.partials->Find(name) : nullptr;
    resolved_.emplace(name, *found);
    if (*found == nullptr) {
      bool seen = false;
      for (const std::string& m : missing_partials_) seen = seen || m == name;
      if (!seen && missing_partials_.size() < 100) {
        missing_partials_.emplace_back(name);
      }
    }
    return absl::OkStatus();
  }

  // Every expansion counts, not only nesting: a chain of partials that
  // each include the next twice is 2^n expansions at depth n.
  absl::Status CountExpansion(const CompiledTemplate& t, const Node& node) {
    if (++expansions_ <= options_.max_partial_expansions) return absl::OkStatus();
    return Exhausted(t, static_cast<uint32_t>(&node - t.nodes().data()),
                     "rendering expands more than " +
                         std::to_string(options_.max_partial_expansions) +
                         " partials and parents (RenderOptions.max_partial_expansions); does "
                         "a chain of partials include each other several times?");
  }

  absl::Status CheckDepth(const CompiledTemplate& t, const Node& node) const {
    if (include_depth_ < options_.max_include_depth) return absl::OkStatus();
    return absl::InvalidArgumentError(
        t.Location(node.tag) + ": partials, parents and blocks are expanded " +
        "inside each other more than " + std::to_string(options_.max_include_depth) +
        " levels deep at " + std::string(t.NameOf(node)) + " (does a partial include itself?)");
  }

  void PushIndent(const CompiledTemplate& t, const Node& node) {
    indent_.append(t.Slice(node.indent_begin, node.indent_size));
  }

  absl::Status Partial(const CompiledTemplate& t, const Node& node) {
    std::shared_ptr<const CompiledTemplate> partial;
    absl::Status status = FindPartial(t, node, &partial);
    if (!status.ok() || partial == nullptr) return status;
    absl::Status depth = CheckDepth(t, node);
    if (!depth.ok()) return depth;
    status = CountExpansion(t, node);
    if (!status.ok()) return status;
    const CompiledTemplate* raw = partial.get();
    PushFrame(raw, std::move(partial), 0, static_cast<uint32_t>(raw->nodes().size()), true);
    PushIndent(t, node);
    return absl::OkStatus();
  }

  absl::Status Parent(const CompiledTemplate& t, uint32_t index, const Node& node) {
    std::shared_ptr<const CompiledTemplate> parent;
    absl::Status status = FindPartial(t, node, &parent);
    if (!status.ok() || parent == nullptr) return status;
    absl::Status depth = CheckDepth(t, node);
    if (!depth.ok()) return depth;
    status = CountExpansion(t, node);
    if (!status.ok()) return status;
    const CompiledTemplate* raw = parent.get();
    PushFrame(raw, std::move(parent), 0, static_cast<uint32_t>(raw->nodes().size()), true);
    PushIndent(t, node);
    scopes_.push_back(Scope{&t, index});
    return absl::OkStatus();
  }

  absl::Status Block(const CompiledTemplate& t, uint32_t index, const Node& node) {
    const std::string_view name = t.NameOf(node);
    for (const Scope& scope : scopes_) {  // outermost first: it wins
      const auto& nodes = scope.tmpl->nodes();
      const Node& parent = nodes[scope.parent];
      for (uint32_t c = scope.parent + 1; c < parent.end; c = nodes[c].end) {
        if (++steps_ > options_.max_steps) {
          return Exhausted(t, index,
                           "too many blocks to match "
                           "(RenderOptions.max_steps)");
        }
        const Node& arg = nodes[c];
        if (arg.type != NodeType::kBlock || scope.tmpl->NameOf(arg) != name) {
          continue;
        }
        absl::Status depth = CheckDepth(t, node);
        if (!depth.ok()) return depth;
        PushFrame(scope.tmpl, nullptr, c + 1, arg.end, true);
        PushIndent(t, node);
        return absl::OkStatus();
      }
    }
    PushFrame(&t, nullptr, index + 1, node.end, false);
    PushIndent(t, node);
    return absl::OkStatus();
  }

  const RenderOptions& options_;
  std::string& out_;
  std::vector<std::string>& missing_;
  std::vector<std::string>& missing_partials_;
  const size_t start_size_;
  RenderResult& result_;
  std::unordered_set<std::string> missing_seen_;
  // Partial names resolved in this render, misses as nullptr.
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledTemplate>> resolved_;
  uint64_t expansions_ = 0;
  uint64_t next_check_ = 0;

  std::vector<Frame> frames_;
  // A context stack entry, with what is needed to name it (PathOf).
  struct Context {
    const Value* value;
    int base;  // the entry its section's first name part was found in
    const CompiledTemplate* tmpl;
    uint32_t node;  // the section that entered it
  };
  std::vector<Context> context_;
  std::deque<Value> arena_;  // derived values pushed as section context
  std::vector<Scope> scopes_;
  std::string indent_;
  std::string scratch_text_;
  // Derived values of Interpolate and Section, reused: each is consumed (or
  // moved into arena_) before the next node.
  Value scratch_[2];
  bool at_line_start_ = true;
  int include_depth_ = 0;
  mutable uint64_t steps_ = 0;  // PathOf counts its walk
};

}  // namespace

absl::Status CompiledTemplate::RenderTo(const Value& context, const RenderOptions& options,
                                        RenderResult* result) const {
  return Renderer(options, result).Run(*this, context);
}

absl::StatusOr<RenderResult> CompiledTemplate::Render(const Value& context,
                                                      const RenderOptions& options) const {
  RenderResult result;
  // Most of a report is template text; values rarely double it.
  result.text.reserve(source_.size() + source_.size() / 2);
  absl::Status status = RenderTo(context, options, &result);
  if (!status.ok()) return status;
  return result;
}

}  // namespace govreport::templates
