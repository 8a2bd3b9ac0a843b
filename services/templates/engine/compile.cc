// Parsing: template text → flat node vector.
//
// Whitespace rules (the part of Mustache that takes care):
//   - A tag is "standalone" when the rest of its line is blank: the line's
//     leading blanks and its line end then vanish with it. Interpolation
//     tags are never standalone.
//   - Inheritance adds sides that do not count (the spec's "Standalone
//     parent/block" cases), because a parent's body outside blocks is
//     ignored: an argument block's {{$x}} needs nothing blank on its left
//     and its {{/x}} nothing on either side; {{<parent}} needs nothing blank
//     on its right and {{/parent}} nothing on its left, unless the pair sits
//     on one line, which must then be blank around the pair as a whole.
//   - The leading blanks of a standalone partial, parent or block become its
//     indentation; so do those of a block written as a pair on one line
//     ("  {{$b}}{{/b}}"), which stay in the text too.
//   - A block whose opening tag ends its line has "intrinsic indentation":
//     the leading blanks of its first content line. They are removed from
//     every line of the content before parsing it, and used as the block's
//     indentation, so content moves to wherever it is expanded.
// Lines are buffered as tokens and decided at their end, so the parser
// looks at every byte once and never recurses.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "templates/engine/ast.h"
#include "templates/engine/mustache.h"

namespace govreport::templates {
namespace internal {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

enum class OpenKind : uint8_t { kRoot, kSection, kInverted, kParent, kParam, kArg };

struct Token {
  bool is_tag = false;
  char sigil = 0;        // tags: 0 for {{x}}, else # ^ / ! > < $ = & {
  bool blank = false;    // text: only spaces/tabs, maybe a line end
  bool removed = false;  // blanks eaten by a standalone tag
  bool standalone = false;
  bool pair = false;                   // a block's {{$x}} closed on the same line
  bool ends_line = false;              // standalone and its line end went with it
  bool dynamic = false;                // {{>*x}} / {{<*x}}
  bool bad = false;                    // a malformed tag, already reported
  OpenKind context = OpenKind::kRoot;  // tags: what they sit in
  OpenKind closes = OpenKind::kRoot;   // '/': what it closes
  int partner = -1;                    // the matching open/close on the same line
  uint32_t begin = 0;                  // the whole text or tag
  uint32_t end = 0;
  uint32_t name_begin = 0;  // trimmed tag content (name)
  uint32_t name_end = 0;
};

struct Open {
  OpenKind kind;
  uint32_t node;
  uint32_t name_begin;
  uint32_t name_size;
  uint32_t tag;
  uint32_t tag_size;
  size_t strips;  // strip stack size when opened
};

struct Strip {
  uint32_t begin;
  uint32_t size;
};

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "'";
  if (s.size() > kMax) {
    size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
      --cut;  // do not split a UTF-8 sequence
    }
    out.append(s.substr(0, cut)).append("…");
  } else {
    out.append(s);
  }
  out.push_back('\'');
  return out;
}

class Parser {
 public:
  Parser(std::string_view src, int max_nesting, bool collect_all, size_t max_issues,
         std::vector<Node>* nodes, std::vector<Segment>* segments, std::vector<ParseIssue>* issues)
      : src_(src),
        max_nesting_(max_nesting),
        collect_all_(collect_all),
        max_issues_(std::max<size_t>(max_issues, 1)),
        nodes_(*nodes),
        segments_(*segments),
        issues_(*issues) {}

  void Run() {
    const size_t n = src_.size();
    bool line_start = true;
    while (!stop_) {
      if (line_start) {
        pos_ = SkipStrips(pos_);
        line_start = false;
      }
      if (pos_ >= n) break;
      const size_t open = NextOpen();
      const size_t limit = open == std::string_view::npos ? n : open;
      const void* newline = std::memchr(src_.data() + pos_, '\n', limit - pos_);
      if (newline != nullptr) {
        const size_t line_end = static_cast<const char*>(newline) - src_.data() + 1;
        AddTextToken(pos_, line_end);
        pos_ = line_end;
        FlushLine(/*has_line_end=*/true);
        line_start = true;
        continue;
      }
      if (open == std::string_view::npos) {
        AddTextToken(pos_, n);
        pos_ = n;
        continue;
      }
      if (open > pos_) AddTextToken(pos_, open);
      Token tag;
      if (!ReadTag(open, &tag)) break;  // unclosed tag: nothing more to read
      line_.push_back(tag);
      pos_ = tag.end;
    }
    if (!stop_) FlushLine(/*has_line_end=*/false);
    Finish();
  }

 private:
  // ---- issues --------------------------------------------------------------

  void Issue(size_t offset, std::string message, std::string suggestion = "") {
    issues_.push_back(
        ParseIssue{static_cast<uint32_t>(offset), std::move(message), std::move(suggestion)});
    // Also bounds the work hostile input can cause: each issue may have
    // cost one scan to the end of the text.
    if (!collect_all_ || issues_.size() >= max_issues_) stop_ = true;
  }

  void Fatal(size_t offset, std::string message) {
    Issue(offset, std::move(message));
    stop_ = true;
  }

  // ---- tokenizing ----------------------------------------------------------

  size_t NextOpen() {
    if (!next_open_valid_ || (next_open_ != std::string_view::npos && next_open_ < pos_)) {
      next_open_ = src_.find(otag_, pos_);
      next_open_valid_ = true;
    }
    return next_open_;
  }

  size_t MatchPrefix(size_t at, const Strip& strip) const {
    for (uint32_t k = 0; k < strip.size && at < src_.size(); ++k, ++at) {
      if (src_[at] != src_[strip.begin + k]) break;
    }
    return at;
  }

  size_t SkipStrips(size_t at) const {
    for (const Strip& strip : strips_) at = MatchPrefix(at, strip);
    return at;
  }

  void AddTextToken(size_t begin, size_t end) {
    Token t;
    t.begin = static_cast<uint32_t>(begin);
    t.end = static_cast<uint32_t>(end);
    size_t body_end = end;
    if (body_end > begin && src_[body_end - 1] == '\n') {
      --body_end;
      if (body_end > begin && src_[body_end - 1] == '\r') --body_end;
    }
    t.blank = std::all_of(src_.begin() + begin, src_.begin() + body_end, IsBlank);
    line_.push_back(t);
  }

  // Reads the tag whose opening delimiter is at `at`. False when it has no
  // closing delimiter (fatal: the rest of the text cannot be read).
  bool ReadTag(size_t at, Token* tag) {
    tag->is_tag = true;
    tag->begin = static_cast<uint32_t>(at);
    size_t p = at + otag_.size();
    const char c = p < src_.size() ? src_[p] : '\0';
    if (c != '\0' && std::strchr("#^/!><$=&{", c) != nullptr) {
      tag->sigil = c;
      ++p;
    }
    size_t content_end = 0;
    switch (FindTagEnd(at, p, tag, &content_end)) {
      case TagEnd::kUnclosed:
        return Unclosed(at);
      case TagEnd::kBad:
        return true;
      case TagEnd::kFound:
        break;
    }
    const size_t tag_end = tag->end;
    size_t b = p;
    size_t e = content_end;
    while (b < e && IsSpace(src_[b])) ++b;
    while (e > b && IsSpace(src_[e - 1])) --e;
    if ((tag->sigil == '>' || tag->sigil == '<') && b < e && src_[b] == '*') {
      tag->dynamic = true;
      ++b;
      while (b < e && IsSpace(src_[b])) ++b;
    }
    tag->name_begin = static_cast<uint32_t>(b);
    tag->name_end = static_cast<uint32_t>(e);
    const std::string_view name = src_.substr(b, e - b);
    const std::string_view whole = src_.substr(at, tag_end - at);
    switch (tag->sigil) {
      case '!':
        // Legal, but a comment that holds a tag ends at that tag's closing
        // delimiter and prints the rest: worth telling a template's author.
        if (collect_all_ && name.find(otag_) != std::string_view::npos) {
          Issue(at, "comment " + Quote(whole) + " contains '" + otag_ +
                        "': it ends at the first '" + ctag_ +
                        "', so the text after that is printed; take the tag out of the "
                        "comment");
        }
        return true;
      case '=':
        SetDelimiters(at, name, tag);
        return true;
      default:
        CheckName(at, name, whole, tag);
        return true;
    }
  }

  enum class TagEnd { kFound, kBad, kUnclosed };

  // Where the tag opened at `at` ends (tag->end), `p` being just past its
  // sigil, and where its content ends. kBad: a triple mustache or
  // set-delimiter tag without its own closer, reported and ended at the
  // plain closing delimiter.
  TagEnd FindTagEnd(size_t at, size_t p, Token* tag, size_t* content_end) {
    if (tag->sigil == '{' || tag->sigil == '=') {
      const int which = tag->sigil == '{' ? 0 : 1;
      const std::string closer = std::string(1, "}="[which]) + ctag_;
      // Once a closer is known to be absent from some point on, later tags
      // need not scan the rest of the text again (until delimiters change).
      *content_end = p >= no_closer_from_[which] ? std::string_view::npos : src_.find(closer, p);
      if (*content_end == std::string_view::npos) {
        no_closer_from_[which] = std::min(no_closer_from_[which], p);
      }
      if (*content_end == std::string_view::npos) {
        const size_t plain = src_.find(ctag_, p);
        if (plain == std::string_view::npos) return TagEnd::kUnclosed;
        Issue(at, tag->sigil == '{'
                      ? "triple mustache " + Quote(src_.substr(at, plain + ctag_.size() - at)) +
                            " must end with '}" + ctag_ + "'"
                      : "set-delimiter tag " + Quote(src_.substr(at, plain + ctag_.size() - at)) +
                            " must end with '=" + ctag_ + "', like {{=<% %>=}}");
        tag->bad = true;
        tag->end = static_cast<uint32_t>(plain + ctag_.size());
        return TagEnd::kBad;
      }
      tag->end = static_cast<uint32_t>(*content_end + closer.size());
      return TagEnd::kFound;
    }
    *content_end = src_.find(ctag_, p);
    if (*content_end == std::string_view::npos) return TagEnd::kUnclosed;
    tag->end = static_cast<uint32_t>(*content_end + ctag_.size());
    return TagEnd::kFound;
  }

  // A tag's name must be one word without empty parts between dots.
  void CheckName(size_t at, std::string_view name, std::string_view whole, Token* tag) {
    if (name.empty()) {
      Issue(at, "tag " + Quote(whole) + " has no name");
      tag->bad = true;
    } else if (std::any_of(name.begin(), name.end(), IsSpace)) {
      Issue(at, "name " + Quote(name) + " in " + Quote(whole) +
                    " contains a space; names are one word like org.name");
      tag->bad = true;
    } else if (tag->sigil != '/' && tag->sigil != '$' &&
               (tag->dynamic || (tag->sigil != '>' && tag->sigil != '<')) && name != "." &&
               (name.front() == '.' || name.back() == '.' ||
                name.find("..") != std::string_view::npos)) {
      Issue(at, "name " + Quote(name) +
                    " has an empty part between dots; write it like "
                    "ind.talks.cn");
      tag->bad = true;
    }
  }

  bool Unclosed(size_t at) {
    Fatal(at, "tag opened with '" + otag_ + "' is never closed with '" + ctag_ + "'");
    return false;
  }

  void SetDelimiters(size_t at, std::string_view content, Token* tag) {
    size_t i = 0;
    auto word = [&](std::string_view* out) {
      while (i < content.size() && IsSpace(content[i])) ++i;
      const size_t begin = i;
      while (i < content.size() && !IsSpace(content[i])) ++i;
      *out = content.substr(begin, i - begin);
    };
    std::string_view open;
    std::string_view close;
    std::string_view extra;
    word(&open);
    word(&close);
    word(&extra);
    if (open.empty() || close.empty() || !extra.empty()) {
      Issue(at, "set-delimiter tag " + Quote(src_.substr(at, tag->end - at)) +
                    " needs exactly two delimiters separated by a space, "
                    "like {{=<% %>=}}");
      tag->bad = true;
      return;
    }
    otag_ = std::string(open);
    ctag_ = std::string(close);
    next_open_valid_ = false;
    no_closer_from_[0] = no_closer_from_[1] = std::string_view::npos;
  }

  // ---- lines ---------------------------------------------------------------

  OpenKind StackKind(size_t from_top) const {
    if (from_top >= stack_.size()) return OpenKind::kRoot;
    return stack_[stack_.size() - 1 - from_top].kind;
  }

  void FlushLine(bool has_line_end) {
    if (line_.empty()) return;
    const int count = static_cast<int>(line_.size());
    int first = -1;
    int last = -1;
    for (int i = 0; i < count; ++i) {
      if (line_[i].is_tag || !line_[i].blank) {
        if (first < 0) first = i;
        last = i;
      }
    }
    MatchLineTags();
    MarkStandalone(first, last, has_line_end);
    BuildLineNodes(first);
    line_.clear();
    if (pending_block_ >= 0 && !stop_) IntrinsicIndentation();
    pending_block_ = -1;
  }

  // Pass 1 over a line: match its opens and closes, replayed on top of the
  // real stack without touching it, to know what each tag sits in.
  void MatchLineTags() {
    const int count = static_cast<int>(line_.size());
    sim_.clear();
    size_t popped = 0;
    for (int i = 0; i < count; ++i) {
      Token& t = line_[i];
      if (!t.is_tag) continue;
      t.context = sim_.empty() ? StackKind(popped) : sim_.back().kind;
      switch (t.sigil) {
        case '<':
          sim_.push_back({OpenKind::kParent, i});
          break;
        case '$':
          sim_.push_back({t.context == OpenKind::kParent ? OpenKind::kArg : OpenKind::kParam, i});
          break;
        case '#':
        case '^':
          sim_.push_back({OpenKind::kSection, i});
          break;
        case '/':
          if (!sim_.empty()) {
            t.closes = sim_.back().kind;
            t.partner = sim_.back().token;
            line_[t.partner].partner = i;
            sim_.pop_back();
          } else {
            t.closes = StackKind(popped++);
          }
          break;
        default:
          break;
      }
    }
  }

  // Pass 2: which tags are standalone (see the top of this file); `first`
  // and `last` are the line's first and last tokens that are not blank.
  void MarkStandalone(int first, int last, bool has_line_end) {
    const int count = static_cast<int>(line_.size());
    for (int i = 0; i < count; ++i) {
      Token& t = line_[i];
      if (!t.is_tag || t.sigil == 0 || t.sigil == '&' || t.sigil == '{') {
        continue;
      }
      // A side "counts" when it must be blank up to the line's edge; a
      // parent's body does not count, but a parent pair on one line must
      // clear the line as a whole.
      bool left_ok = i == first;
      bool right_ok = i == last;
      if (t.sigil == '<') {
        right_ok = t.partner < 0 || t.partner == last;
      } else if (t.sigil == '$' && t.context == OpenKind::kParent) {
        left_ok = true;
      } else if (t.sigil == '/' && t.closes == OpenKind::kParent) {
        left_ok = t.partner < 0 || t.partner == first;
      } else if (t.sigil == '/' && t.closes == OpenKind::kArg) {
        left_ok = right_ok = true;
      } else if (t.sigil == '/' && t.closes == OpenKind::kParam && t.partner >= 0 &&
                 t.partner == first && i == last) {
        line_[t.partner].pair = true;  // "  {{$b}}…{{/b}}" on one line
      }
      if (!left_ok || !right_ok) continue;
      t.standalone = true;
      if (i == first) {
        for (int j = 0; j < i; ++j) line_[j].removed = true;
      }
      if (i == last) {
        for (int j = i + 1; j < count; ++j) line_[j].removed = true;
        t.ends_line = has_line_end;
      }
    }
  }

  // Pass 3: the nodes of the line's tokens that stay.
  void BuildLineNodes(int first) {
    const int count = static_cast<int>(line_.size());
    for (int i = 0; i < count && !stop_; ++i) {
      const Token& t = line_[i];
      if (t.removed) continue;
      if (!t.is_tag) {
        AddText(t.begin, t.end);
        continue;
      }
      // Leading blanks of the line, when this tag has nothing else before it.
      Strip indent{0, 0};
      if (i == first && i == 1 && !line_[0].is_tag) {
        indent = {line_[0].begin, line_[0].end - line_[0].begin};
      }
      HandleTag(t, indent);
    }
  }

  // The block just opened ended its line: the blanks leading its first
  // content line are its intrinsic indentation (see the top of this file).
  void IntrinsicIndentation() {
    const size_t n = src_.size();
    const size_t start = SkipStrips(pos_);
    size_t p = start;
    while (p < n && IsBlank(src_[p])) ++p;
    if (p >= n) return;
    const Open& open = stack_.back();
    // An empty block ({{$b}}\n  {{/b}}) has no content line.
    if (src_.compare(p, otag_.size(), otag_) == 0) {
      size_t q = p + otag_.size();
      while (q < n && IsSpace(src_[q])) ++q;
      if (q < n && src_[q] == '/') {
        ++q;
        while (q < n && IsSpace(src_[q])) ++q;
        const std::string_view name = src_.substr(open.name_begin, open.name_size);
        if (src_.compare(q, name.size(), name) == 0) {
          q += name.size();
          while (q < n && IsSpace(src_[q])) ++q;
          if (src_.compare(q, ctag_.size(), ctag_) == 0) return;
        }
      }
    }
    Node& node = nodes_[static_cast<size_t>(pending_block_)];
    node.indent_begin = static_cast<uint32_t>(start);
    node.indent_size = static_cast<uint32_t>(p - start);
    strips_.push_back({node.indent_begin, node.indent_size});
  }

  // ---- nodes ---------------------------------------------------------------

  bool InParent() const { return !stack_.empty() && stack_.back().kind == OpenKind::kParent; }

  void AddText(uint32_t begin, uint32_t end) {
    if (InParent() || begin == end) return;  // a parent's body is ignored
    if (text_mergeable_ && !nodes_.empty()) {
      Node& last = nodes_.back();
      if (last.begin + last.size == begin) {
        last.size = end - last.begin;
        return;
      }
    }
    Node node;
    node.type = NodeType::kText;
    node.begin = begin;
    node.size = end - begin;
    node.end = static_cast<uint32_t>(nodes_.size() + 1);
    nodes_.push_back(node);
    text_mergeable_ = true;
  }

  uint32_t AddNode(NodeType type, const Token& t, Strip indent) {
    Node node;
    node.type = type;
    node.begin = t.name_begin;
    node.size = t.name_end - t.name_begin;
    node.tag = t.begin;
    node.dynamic = t.dynamic;
    node.indent_begin = indent.begin;
    node.indent_size = indent.size;
    const bool dotted = type == NodeType::kVariable || type == NodeType::kSection ||
                        type == NodeType::kInverted || t.dynamic;
    node.seg_begin = static_cast<uint32_t>(segments_.size());
    if (dotted && src_.substr(node.begin, node.size) != ".") {
      uint32_t b = node.begin;
      const uint32_t e = node.begin + node.size;
      for (uint32_t i = b; i <= e; ++i) {
        if (i == e || src_[i] == '.') {
          segments_.push_back({b, i - b, Value::HashKey(src_.substr(b, i - b))});
          b = i + 1;
        }
      }
    }
    node.seg_count = static_cast<uint32_t>(segments_.size()) - node.seg_begin;
    const auto index = static_cast<uint32_t>(nodes_.size());
    node.end = index + 1;
    nodes_.push_back(node);
    text_mergeable_ = false;
    return index;
  }

  void Push(OpenKind kind, uint32_t node, const Token& t) {
    if (static_cast<int>(stack_.size()) >= max_nesting_) {
      Fatal(t.begin, "sections, blocks and parents are nested deeper than " +
                         std::to_string(max_nesting_) + " levels");
      return;
    }
    stack_.push_back(Open{kind, node, t.name_begin, t.name_end - t.name_begin, t.begin,
                          t.end - t.begin, strips_.size()});
  }

  static const char* KindName(OpenKind kind) {
    switch (kind) {
      case OpenKind::kSection:
        return "section";
      case OpenKind::kInverted:
        return "inverted section";
      case OpenKind::kParent:
        return "parent";
      case OpenKind::kParam:
      case OpenKind::kArg:
        return "block";
      case OpenKind::kRoot:
        break;
    }
    return "tag";
  }

  std::string OpenName(const Open& open) const {
    return std::string(src_.substr(open.name_begin, open.name_size));
  }

  void HandleTag(const Token& t, Strip indent) {
    if (t.bad) return;
    const std::string_view whole = src_.substr(t.begin, t.end - t.begin);
    const bool in_parent = InParent();
    if (in_parent && t.sigil != '$' && t.sigil != '/' && t.sigil != '!' && t.sigil != '=') {
      if (t.sigil == 0 || t.sigil == '&' || t.sigil == '{') return;
      Issue(t.begin, "tag " + Quote(whole) +
                         " cannot stand directly inside a parent "
                         "({{<name}} … {{/name}}); only {{$block}} tags can: "
                         "move it into a block");
      if (stop_) return;
    }
    switch (t.sigil) {
      case '!':
      case '=':
        return;
      case 0:
      case '&':
      case '{': {
        const uint32_t index = AddNode(NodeType::kVariable, t, {0, 0});
        nodes_[index].escape = t.sigil == 0;
        return;
      }
      case '#':
      case '^': {
        const uint32_t index =
            AddNode(t.sigil == '#' ? NodeType::kSection : NodeType::kInverted, t, {0, 0});
        Push(t.sigil == '#' ? OpenKind::kSection : OpenKind::kInverted, index, t);
        return;
      }
      case '>':
        AddNode(NodeType::kPartial, t, t.standalone ? indent : Strip{0, 0});
        return;
      case '<': {
        const uint32_t index = AddNode(NodeType::kParent, t, t.standalone ? indent : Strip{0, 0});
        Push(OpenKind::kParent, index, t);
        return;
      }
      case '$': {
        const bool arg = in_parent;
        const uint32_t index =
            AddNode(NodeType::kBlock, t, (t.standalone || t.pair) ? indent : Strip{0, 0});
        nodes_[index].arg = arg;
        Push(arg ? OpenKind::kArg : OpenKind::kParam, index, t);
        if (!stop_ && t.standalone && t.ends_line) {
          pending_block_ = static_cast<int>(index);
        }
        return;
      }
      case '/':
        Close(t);
        return;
      default:
        return;
    }
  }

  void CloseTop() {
    const Open open = stack_.back();
    stack_.pop_back();
    nodes_[open.node].end = static_cast<uint32_t>(nodes_.size());
    strips_.resize(std::min(strips_.size(), open.strips));
    text_mergeable_ = false;
  }

  void Close(const Token& t) {
    std::string_view name = src_.substr(t.name_begin, t.name_end - t.name_begin);
    if (!name.empty() && name.front() == '*') {  // {{/*dynamic}}
      name.remove_prefix(1);
      while (!name.empty() && IsSpace(name.front())) name.remove_prefix(1);
    }
    const std::string_view whole = src_.substr(t.begin, t.end - t.begin);
    if (stack_.empty()) {
      Issue(t.begin, "closing tag " + Quote(whole) + " closes nothing: no section named " +
                         Quote(name) + " is open");
      return;
    }
    if (src_.substr(stack_.back().name_begin, stack_.back().name_size) == name) {
      CloseTop();
      return;
    }
    size_t match = stack_.size();
    for (size_t i = stack_.size(); i-- > 0;) {
      if (src_.substr(stack_[i].name_begin, stack_[i].name_size) == name) {
        match = i;
        break;
      }
    }
    const Open& top = stack_.back();
    if (match == stack_.size()) {
      Issue(t.begin,
            "closing tag " + Quote(whole) + " does not match the open " + KindName(top.kind) + " " +
                Quote(OpenName(top)) + " (" + "opened by " +
                Quote(src_.substr(top.tag, top.tag_size)) + "); close that one first",
            OpenName(top));
      return;
    }
    // Close what was left open in between, then the match.
    while (stack_.size() > match + 1 && !stop_) {
      const Open& open = stack_.back();
      Issue(open.tag, std::string(KindName(open.kind)) + " " + Quote(OpenName(open)) +
                          " is not closed before " + Quote(whole) + "; add {{/" + OpenName(open) +
                          "}}");
      CloseTop();
    }
    if (!stop_) CloseTop();
  }

  void Finish() {
    while (!stack_.empty()) {
      const Open& open = stack_.back();
      if (!stop_) {
        Issue(open.tag, std::string(KindName(open.kind)) + " " + Quote(OpenName(open)) +
                            " is never closed; add {{/" + OpenName(open) +
                            "}} (with the delimiters in use there)");
      }
      CloseTop();
    }
  }

  const std::string_view src_;
  const int max_nesting_;
  const bool collect_all_;
  const size_t max_issues_;
  std::vector<Node>& nodes_;
  std::vector<Segment>& segments_;
  std::vector<ParseIssue>& issues_;

  std::string otag_ = "{{";
  std::string ctag_ = "}}";
  size_t pos_ = 0;
  size_t next_open_ = 0;
  bool next_open_valid_ = false;
  size_t no_closer_from_[2] = {std::string_view::npos, std::string_view::npos};  // }ctag, =ctag
  bool stop_ = false;
  bool text_mergeable_ = false;
  int pending_block_ = -1;
  std::vector<Token> line_;
  struct SimEntry {
    OpenKind kind;
    int token;
  };
  std::vector<SimEntry> sim_;
  std::vector<Open> stack_;
  std::vector<Strip> strips_;
};

}  // namespace

void Parse(std::string_view source, int max_nesting, bool collect_all, size_t max_issues,
           std::vector<Node>* nodes, std::vector<Segment>* segments,
           std::vector<ParseIssue>* issues) {
  Parser(source, max_nesting, collect_all, max_issues, nodes, segments, issues).Run();
}

}  // namespace internal

// ---------------------------------------------------------------------------
// CompiledTemplate

absl::StatusOr<CompiledTemplate> CompiledTemplate::Compile(std::string_view text,
                                                           const CompileOptions& options) {
  CompiledTemplate compiled;
  compiled.name_ = options.name;
  if (text.size() > options.max_template_bytes || text.size() > uint32_t{0xFFFFFFF0}) {
    return absl::InvalidArgumentError(
        (options.name.empty() ? std::string("template") : options.name) + ": template is " +
        std::to_string(text.size()) + " bytes, more than the limit of " +
        std::to_string(options.max_template_bytes));
  }
  compiled.source_ = std::string(text);
  compiled.IndexLines();
  std::vector<internal::ParseIssue> issues;
  internal::Parse(compiled.source_, options.max_nesting, /*collect_all=*/false,
                  /*max_issues=*/1, &compiled.nodes_, &compiled.segments_, &issues);
  if (!issues.empty()) {
    return absl::InvalidArgumentError(compiled.Location(issues[0].offset) + ": " +
                                      issues[0].message);
  }
  return compiled;
}

CompiledTemplate CompiledTemplate::CompileForValidation(std::string_view text,
                                                        const CompileOptions& options,
                                                        size_t max_issues,
                                                        std::vector<internal::ParseIssue>* issues) {
  CompiledTemplate compiled;
  compiled.name_ = options.name;
  if (text.size() > options.max_template_bytes || text.size() > uint32_t{0xFFFFFFF0}) {
    issues->push_back({0,
                       "template is " + std::to_string(text.size()) +
                           " bytes, more than the limit of " +
                           std::to_string(options.max_template_bytes),
                       ""});
    return compiled;
  }
  compiled.source_ = std::string(text);
  compiled.IndexLines();
  internal::Parse(compiled.source_, options.max_nesting, /*collect_all=*/true, max_issues,
                  &compiled.nodes_, &compiled.segments_, issues);
  return compiled;
}

void CompiledTemplate::IndexLines() {
  line_starts_.clear();
  line_starts_.push_back(0);
  for (size_t i = 0; i < source_.size(); ++i) {
    if (source_[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
  }
}

std::pair<int, int> CompiledTemplate::LineColumn(size_t offset) const {
  offset = std::min(offset, source_.size());
  if (line_starts_.empty()) return {1, 1};
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const size_t line = static_cast<size_t>(it - line_starts_.begin());
  const size_t start = line_starts_[line - 1];
  int column = 1;
  for (size_t i = start; i < offset; ++i) {
    // Count code points: every byte that is not a UTF-8 continuation byte.
    if ((static_cast<unsigned char>(source_[i]) & 0xC0) != 0x80) ++column;
  }
  return {static_cast<int>(line), column};
}

std::string CompiledTemplate::Location(size_t offset) const {
  const auto [line, column] = LineColumn(offset);
  std::string out = name_;
  if (!out.empty()) out.push_back(':');
  out.append(std::to_string(line)).append(":").append(std::to_string(column));
  return out;
}

// ---------------------------------------------------------------------------
// MapPartialResolver

absl::Status MapPartialResolver::Add(std::string_view name, std::string_view text,
                                     const CompileOptions& options) {
  CompileOptions named = options;
  if (named.name.empty()) named.name = std::string(name);
  absl::StatusOr<CompiledTemplate> compiled = CompiledTemplate::Compile(text, named);
  if (!compiled.ok()) return compiled.status();
  Add(name, std::make_shared<const CompiledTemplate>(*std::move(compiled)));
  return absl::OkStatus();
}

void MapPartialResolver::Add(std::string_view name,
                             std::shared_ptr<const CompiledTemplate> compiled) {
  auto it = partials_.find(name);
  if (it != partials_.end()) {
    it->second = std::move(compiled);
  } else {
    partials_.emplace(std::string(name), std::move(compiled));
  }
}

std::shared_ptr<const CompiledTemplate> MapPartialResolver::Find(std::string_view name) const {
  auto it = partials_.find(name);
  return it == partials_.end() ? nullptr : it->second;
}

std::vector<std::string> MapPartialResolver::Names() const {
  std::vector<std::string> names;
  names.reserve(partials_.size());
  for (const auto& entry : partials_) names.push_back(entry.first);
  return names;
}

}  // namespace govreport::templates
