#include "templates/service/core.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/enums.h"
#include "common/errors.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"
#include "report_context/report_context.h"
#include "templates/docx/docx_writer.h"
#include "templates/docx/text_util.h"
#include "templates/service/formats.h"

namespace govreport::templates {
namespace {

// Every render slot is taken: the same call may well succeed in a moment.
absl::Status RendersBusy(absl::Status status) {
  return errors::WithRetry(
      errors::WithReason(std::move(status), "RENDERS_BUSY", "同时进行的文稿生成过多，请稍后重试"),
      absl::Seconds(1));
}

constexpr size_t kCacheSize = 512;
// Compiled revisions kept, in bytes (source and nodes): stored templates
// are up to 1 MiB each.
constexpr size_t kCacheBytes = size_t{64} << 20;
// Memory handled by renders after which it is given back to the system
// once no render runs (glibc keeps freed memory in its arenas otherwise).
constexpr size_t kTrimAfterBytes = size_t{4} << 20;

size_t CompiledBytes(const CompiledTemplate& t) {
  return t.source().size() + t.nodes().size() * sizeof(internal::Node) +
         t.segments().size() * sizeof(internal::Segment) + 256;
}

// Partials and parents for one call, by template id: the pinned revision
// when the call pins the name, else the org's own first, then the shared
// one. Prefetch loads every name the template reaches without a dynamic
// name before rendering, level by level, each level in at most two
// pipelined round trips; names only known while rendering ({{>*x}}) are
// looked up when asked, and the engine asks once per name. Hits and misses
// live as long as the call.
class CallResolver final : public PartialResolver {
 public:
  CallResolver(TemplatesCore* templates, std::string org, const PartialPins* pins = nullptr)
      : templates_(templates), org_(std::move(org)), pins_(pins) {}

  // What the org would get if the latest revision of `where` had this text
  // instead: names that resolve to `where` without a revision or a pin get
  // `text`. For checking an update before it is saved.
  void Substitute(TemplateRef where, std::shared_ptr<const CompiledTemplate> text) {
    substitute_where_ = std::move(where);
    substitute_text_ = std::move(text);
  }

  void Prefetch(const CompiledTemplate& root, size_t max_names, int max_depth) {
    std::vector<const CompiledTemplate*> level{&root};
    for (int depth = 0; depth < max_depth && !level.empty(); ++depth) {
      std::vector<std::string> names;
      absl::flat_hash_set<std::string> asked;
      for (const CompiledTemplate* t : level) {
        for (const internal::Node& node : t->nodes()) {
          if ((node.type != internal::NodeType::kPartial &&
               node.type != internal::NodeType::kParent) ||
              node.dynamic) {
            continue;
          }
          std::string name(t->NameOf(node));
          if (found_.contains(name) || !asked.insert(name).second) continue;
          if (found_.size() + names.size() >= max_names) break;
          names.push_back(std::move(name));
        }
      }
      if (names.empty()) return;
      auto got = templates_->ResolvePartials(org_, names, pins_);
      if (!got.ok()) return;  // Find asks again, and reports the error
      level.clear();
      for (size_t i = 0; i < names.size(); ++i) {
        Keep(names[i], (*got)[i]);
        if (found_[names[i]].compiled != nullptr) level.push_back(found_[names[i]].compiled.get());
      }
    }
  }

  std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = found_.find(absl::string_view(name.data(), name.size())); it != found_.end())
      return it->second.compiled;
    auto got = templates_->ResolvePartials(org_, {std::string(name)}, pins_);
    if (!got.ok()) {
      // Not a missing partial: the render must fail, not print a gap.
      if (error_.ok()) error_ = got.status();
      return nullptr;
    }
    return Keep(std::string(name), (*got)[0]);
  }

  // The first error of a lookup (Redis away, a pinned revision gone), which
  // made a partial look missing.
  absl::Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  // Every name found, with the exact revision it resolved to: the pins that
  // render the same text again.
  std::map<std::string, std::string> Used() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [name, got] : found_) {
      if (got.compiled != nullptr) out.emplace(name, got.ref.Name());
    }
    return out;
  }

 private:
  std::shared_ptr<const CompiledTemplate> Keep(const std::string& name,
                                               TemplatesCore::ResolvedPartial got) const {
    if (substitute_text_ != nullptr && got.compiled != nullptr &&
        got.ref.org == substitute_where_.org && got.ref.id == substitute_where_.id &&
        name.find('@') == std::string::npos && (pins_ == nullptr || !pins_->contains(name))) {
      got.compiled = substitute_text_;
    }
    auto [it, inserted] = found_.emplace(name, std::move(got));
    return it->second.compiled;
  }

  TemplatesCore* templates_;
  std::string org_;
  const PartialPins* pins_;
  TemplateRef substitute_where_;
  std::shared_ptr<const CompiledTemplate> substitute_text_;
  mutable std::mutex mu_;
  mutable absl::flat_hash_map<std::string, TemplatesCore::ResolvedPartial> found_;
  mutable absl::Status error_;
};

// One place a partial name may resolve to: `org`'s own template or the
// shared one, at a revision (0: the latest, unknown yet).
struct PartialCandidate {
  size_t name = 0;  // index into the names asked
  TemplateRef ref;
  std::shared_ptr<const CompiledTemplate> compiled;
  bool pinned = false;
};

// Every place each name may resolve to, the org's own first; a pinned name
// has its pin only; names that are no template id ("x@0", "Bad") have none.
std::vector<PartialCandidate> PartialCandidates(const std::string& org,
                                                const std::vector<std::string>& names,
                                                const PartialPins* pins) {
  std::vector<PartialCandidate> candidates;
  for (size_t i = 0; i < names.size(); ++i) {
    if (pins != nullptr) {
      if (auto pin = pins->find(names[i]); pin != pins->end()) {
        candidates.push_back({i, pin->second, nullptr, true});
        continue;
      }
    }
    std::string id = names[i];
    int64_t rev = 0;
    if (auto at = id.find('@'); at != std::string::npos) {
      if (!absl::SimpleAtoi(id.substr(at + 1), &rev) || rev < 1) continue;
      id = id.substr(0, at);
    }
    if (!IsValidId(id)) continue;
    if (!org.empty()) candidates.push_back({i, {org, id, rev}, nullptr, false});
    candidates.push_back({i, {"", id, rev}, nullptr, false});
  }
  return candidates;
}

// Parents `t` extends by a fixed name without a revision: the templates
// whose update can change what it renders.
std::vector<std::string> ExtendedParentIds(const CompiledTemplate& t) {
  std::set<std::string> ids;
  for (const internal::Node& node : t.nodes()) {
    if (node.type != internal::NodeType::kParent || node.dynamic) continue;
    std::string name(t.NameOf(node));
    if (IsValidId(name)) ids.insert(std::move(name));
  }
  return {ids.begin(), ids.end()};
}

// Where a block overrides nothing: (partial, block, parent).
using Orphan = std::tuple<std::string, std::string, std::string>;
std::set<Orphan> OrphansOf(const std::vector<Problem>& problems) {
  std::set<Orphan> out;
  for (const Problem& p : problems) {
    if (!p.orphaned_block.empty()) out.emplace(p.partial, p.orphaned_block, p.orphaned_parent);
  }
  return out;
}

// The line after the title, when it is the 主送机关 the frame prints too
// (a template written before the org had document settings): dropped in
// place, so the document names its recipients once.
void DropFramedRecipients(const docx::DocumentFrame& frame, std::string* text) {
  if (frame.main_recipients.empty()) return;
  size_t pos = 0;
  int non_blank = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    const std::string_view line =
        docx::internal::TrimLine(std::string_view(*text).substr(pos, end - pos));
    if (!line.empty() && ++non_blank == 2) {
      if (line == absl::StrCat(frame.main_recipients, "：") ||
          line == absl::StrCat(frame.main_recipients, ":")) {
        text->erase(pos, std::min(end + 1, text->size()) - pos);
      }
      return;
    }
    pos = end + 1;
  }
}

// The rendered text laid out in the asked format (formats.h, docx/).
absl::StatusOr<std::string> LayOut(const TemplatesCore::RenderInput& in, const std::string& text) {
  switch (in.format) {
    case typepb::DOCUMENT_FORMAT_MD:
      return ToMarkdown(text, in.frame);
    case typepb::DOCUMENT_FORMAT_HTML:
      return ToHtml(text, in.title, in.frame);
    case typepb::DOCUMENT_FORMAT_DOCX: {
      docx::DocxOptions d;
      d.title = in.title;
      d.author = in.author;
      if (in.timestamp_unix > 0)
        d.timestamp = std::chrono::sys_seconds{std::chrono::seconds{in.timestamp_unix}};
      // Condensed unless asked: it keeps 28 characters a line in Word, WPS
      // and LibreOffice alike (docs/documents.md).
      d.character_grid = in.docx_layout == v1::DOCX_LAYOUT_DOCUMENT_GRID
                             ? docx::CharacterGrid::kDocumentGrid
                             : docx::CharacterGrid::kCondensedSpacing;
      d.frame = in.frame;
      auto bytes = docx::WriteOfficialDocx(text, d);
      if (!bytes.ok())
        return absl::Status(bytes.status().code(), std::string(bytes.status().message()));
      return std::move(*bytes);
    }
    case typepb::DOCUMENT_FORMAT_PDF:
      return ToPdf(text, in.title, in.author, in.timestamp_unix, in.frame);
    case typepb::DOCUMENT_FORMAT_OFD:
      return ToOfd(text, in.title, in.author, in.timestamp_unix, in.frame);
    default:
      return ToText(text, in.frame);
  }
}

v1::Template NewRevision(const TemplateRef& ref, int64_t revision, const std::string& text,
                         const std::string& description, const std::string& created_by) {
  v1::Template t;
  t.set_name(ref.Name());
  t.set_revision(revision);
  t.set_text(text);
  t.set_description(description);
  t.set_digest(Sha256Hex(text));
  t.set_created_by(created_by);
  *t.mutable_create_time() = ToTimestamp(absl::ToUnixSeconds(absl::Now()));
  return t;
}

}  // namespace

TemplatesCore::TemplatesCore(Store* store, FiguresSource* figures, RenderLimits limits)
    : store_(store), figures_(figures), limits_(limits) {
  trimmer_ = std::thread([this] { TrimLoop(); });
}

TemplatesCore::~TemplatesCore() {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    stopping_ = true;
  }
  slots_cv_.notify_all();
  trimmer_.join();
}

RenderStats TemplatesCore::stats() const {
  RenderStats s;
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    s.in_progress = in_progress_;
  }
  s.finished = finished_.load();
  s.refused_busy = refused_busy_.load();
  s.stopped_deadline = stopped_deadline_.load();
  s.stopped_cancelled = stopped_cancelled_.load();
  s.exhausted = exhausted_.load();
  s.steps = steps_.load();
  return s;
}

absl::Status TemplatesCore::AcquireSlot(absl::Time deadline, const std::string& org,
                                        bool platform) {
  std::unique_lock<std::mutex> lock(slots_mu_);
  auto org_full = [&] {
    return !platform && limits_.max_concurrent_per_org > 0 &&
           in_progress_per_org_[org] >= limits_.max_concurrent_per_org;
  };
  auto all_full = [&] {
    return limits_.max_concurrent > 0 && in_progress_ >= limits_.max_concurrent;
  };
  if (all_full() || org_full()) {
    const absl::Time until = std::min(deadline, absl::Now() + limits_.queue_wait);
    const auto chrono_until =
        std::chrono::system_clock::now() + absl::ToChronoNanoseconds(until - absl::Now());
    if (!slots_cv_.wait_until(lock, chrono_until,
                              [&] { return stopping_ || (!all_full() && !org_full()); }) ||
        stopping_) {
      ++refused_busy_;
      if (!all_full()) {
        return RendersBusy(absl::ResourceExhaustedError(absl::StrCat(
            "too many renders of org '", org, "' in progress (", limits_.max_concurrent_per_org,
            ", --render-max-concurrent-per-org); retry")));
      }
      return RendersBusy(absl::ResourceExhaustedError(
          absl::StrCat("too many renders in progress (", limits_.max_concurrent,
                       ", --render-max-concurrent); retry")));
    }
  }
  ++in_progress_;
  if (!platform) ++in_progress_per_org_[org];
  return absl::OkStatus();
}

void TemplatesCore::ReleaseSlot(size_t bytes, const std::string& org, bool platform) {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    --in_progress_;
    if (!platform && --in_progress_per_org_[org] <= 0) in_progress_per_org_.erase(org);
    untrimmed_bytes_ += bytes;
  }
  slots_cv_.notify_all();
}

void TemplatesCore::TrimLoop() {
  std::unique_lock<std::mutex> lock(slots_mu_);
  while (true) {
    slots_cv_.wait(lock, [this] {
      return stopping_ || (untrimmed_bytes_ >= kTrimAfterBytes && in_progress_ == 0);
    });
    if (stopping_) return;
    // The finished call's request and response are freed by gRPC after
    // the handler returns: give them a moment.
    if (slots_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) {
      return;
    }
    if (in_progress_ > 0) continue;
    untrimmed_bytes_ = 0;
    lock.unlock();
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    lock.lock();
  }
}

std::shared_ptr<const CompiledTemplate> TemplatesCore::CacheLookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::shared_ptr<const CompiledTemplate> TemplatesCore::CacheInsert(
    const std::string& key, std::shared_ptr<const CompiledTemplate> compiled) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = cache_.emplace(key, compiled);
  if (!inserted) return it->second;
  cache_order_.push_back(key);
  cache_bytes_ += CompiledBytes(*compiled);
  while (cache_order_.size() > 1 &&
         (cache_order_.size() > kCacheSize || cache_bytes_ > kCacheBytes)) {
    auto old = cache_.find(cache_order_.front());
    cache_bytes_ -= CompiledBytes(*old->second);
    cache_.erase(old);
    cache_order_.pop_front();
  }
  return compiled;
}

absl::StatusOr<std::vector<TemplatesCore::ResolvedPartial>> TemplatesCore::ResolvePartials(
    const std::string& org, const std::vector<std::string>& names, const PartialPins* pins) {
  std::vector<PartialCandidate> candidates = PartialCandidates(org, names, pins);
  // One round trip for the latest revisions, one for the texts that are
  // not compiled yet.
  std::vector<TemplateRef> refs;
  std::vector<PartialCandidate*> asked;
  for (PartialCandidate& c : candidates) {
    if (c.ref.revision != 0) continue;
    refs.push_back(c.ref);
    asked.push_back(&c);
  }
  GR_ASSIGN_OR_RETURN(std::vector<int64_t> latest, store_->LatestRevisions(refs));
  // 0: no such template in this scope.
  for (size_t k = 0; k < asked.size(); ++k) asked[k]->ref.revision = latest[k];
  refs.clear();
  asked.clear();
  for (PartialCandidate& c : candidates) {
    if (c.ref.revision < 1) continue;
    c.compiled = CacheLookup(c.ref.Name());
    if (c.compiled != nullptr) continue;
    refs.push_back(c.ref);
    asked.push_back(&c);
  }
  GR_ASSIGN_OR_RETURN(std::vector<std::optional<v1::Template>> stored, store_->ReadRevisions(refs));
  for (size_t k = 0; k < asked.size(); ++k) {
    if (!stored[k].has_value()) continue;
    CompileOptions options;
    options.name = asked[k]->ref.id;
    absl::StatusOr<CompiledTemplate> compiled =
        CompiledTemplate::Compile(stored[k]->text(), options);
    if (!compiled.ok()) continue;  // a stored revision that no longer compiles: missing
    asked[k]->compiled = CacheInsert(
        asked[k]->ref.Name(), std::make_shared<const CompiledTemplate>(std::move(*compiled)));
  }
  std::vector<ResolvedPartial> out(names.size());
  for (PartialCandidate& c : candidates) {  // the org's own comes first
    if (c.pinned && c.compiled == nullptr) {
      return errors::WithReason(absl::FailedPreconditionError(absl::StrCat(
                                    "partial_revisions[\"", names[c.name], "\"]: ", c.ref.Name(),
                                    " does not exist (or no longer compiles)")),
                                "PINNED_REVISION_MISSING",
                                absl::StrCat("固定的模板修订版 ", c.ref.Name(), " 不存在"));
    }
    if (out[c.name].compiled == nullptr && c.compiled != nullptr) {
      out[c.name] = ResolvedPartial{std::move(c.compiled), c.ref};
    }
  }
  return out;
}

absl::StatusOr<Value> TemplatesCore::ContextFromRequest(const v1::ValueMap& context) const {
  const size_t bytes = context.ByteSizeLong();
  if (bytes > limits_.max_context_bytes) {
    return errors::InvalidField("context", "CONTEXT_TOO_LARGE",
                                absl::StrCat(bytes, " bytes, at most ", limits_.max_context_bytes,
                                             " (--render-max-context-bytes)"),
                                absl::StrCat("最多 ", limits_.max_context_bytes, " 字节"));
  }
  return ToEngineContext(context);
}

absl::StatusOr<v1::Template> TemplatesCore::Get(const TemplateRef& ref) {
  int64_t rev = ref.revision;
  if (rev == 0) {
    GR_ASSIGN_OR_RETURN(rev, store_->LatestRevision(ref.org, ref.id));
  }
  return store_->ReadRevision({ref.org, ref.id, rev});
}

absl::StatusOr<std::shared_ptr<const CompiledTemplate>> TemplatesCore::Compiled(
    const TemplateRef& ref, int64_t* revision) {
  int64_t rev = ref.revision;
  if (rev == 0) {
    GR_ASSIGN_OR_RETURN(rev, store_->LatestRevision(ref.org, ref.id));
  }
  *revision = rev;
  std::string key = TemplateRef{ref.org, ref.id, rev}.Name();
  if (auto cached = CacheLookup(key)) return cached;
  GR_ASSIGN_OR_RETURN(v1::Template t, Get({ref.org, ref.id, rev}));
  CompileOptions options;
  options.name = ref.id;
  GR_ASSIGN_OR_RETURN(CompiledTemplate compiled, CompiledTemplate::Compile(t.text(), options));
  return CacheInsert(key, std::make_shared<const CompiledTemplate>(std::move(compiled)));
}

absl::StatusOr<std::vector<Problem>> TemplatesCore::Validate(const std::string& org,
                                                             const std::string& text,
                                                             const std::string& token) {
  GR_RETURN_IF_ERROR(CheckTemplateSize(text));
  Schema schema;
  if (org.empty()) {
    schema = SharedTemplateSchema();
  } else {
    GR_ASSIGN_OR_RETURN(records::v1::Profile profile, figures_->GetProfile(org, token));
    schema = SchemaForProfile(profile);
  }
  CallResolver resolver(this, org);
  if (auto compiled = CompiledTemplate::Compile(text); compiled.ok()) {
    resolver.Prefetch(*compiled, limits_.max_partial_names, ValidateOptions().max_partial_depth);
  }
  std::vector<Problem> problems = templates::Validate(text, schema, &resolver);
  GR_RETURN_IF_ERROR(resolver.error());
  return problems;
}

absl::Status TemplatesCore::CheckSyntaxAndNames(const std::string& org, const std::string& text,
                                                const std::string& token) {
  GR_RETURN_IF_ERROR(CheckDocumentText("text", text));
  GR_ASSIGN_OR_RETURN(std::vector<Problem> problems, Validate(org, text, token));
  if (problems.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  lines.reserve(problems.size());
  for (const auto& p : problems) lines.push_back(p.ToString());
  absl::Status invalid = errors::WithReason(
      absl::InvalidArgumentError(
          absl::StrCat("text: ", problems.size(), " problem(s):\n", absl::StrJoin(lines, "\n"))),
      "TEMPLATE_INVALID", absl::StrCat("模板有 ", problems.size(), " 处错误（行:列 见英文说明）"));
  // One violation per problem, each with its line and column.
  for (const std::string& line : lines) {
    invalid = errors::WithField(std::move(invalid), "text", line);
  }
  return invalid;
}

absl::StatusOr<v1::Template> TemplatesCore::Save(WriteMode mode, const TemplateRef& ref,
                                                 v1::Template t, int64_t expected,
                                                 const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(WriteResult w, store_->Write(mode, ref, t, expected, call));
  switch (w.outcome) {
    case Outcome::kOk:
      return t;
    case Outcome::kReplayed:
      // The revision that call wrote: its first result.
      return Get({ref.org, ref.id, w.revision});
    case Outcome::kRequestReused:
      return request_id::Reused(call.id);
    case Outcome::kExists:
      return errors::WithReason(
          absl::AlreadyExistsError(absl::StrCat(ref.Name(), " already exists; update it")),
          "TEMPLATE_ALREADY_EXISTS", "模板已存在，请更新它");
    case Outcome::kNotFound:
      return errors::WithReason(absl::NotFoundError(absl::StrCat(ref.Name(), " not found")),
                                "TEMPLATE_NOT_FOUND", absl::StrCat(ref.Name(), " 不存在"));
    default:
      break;
  }
  return errors::WithReason(
      absl::AbortedError(absl::StrCat(ref.Name(), " is at revision ", w.revision, ", not ",
                                      expected, "; reread it")),
      "REVISION_MISMATCH", "模板已被他人修改，请重新读取后重试");
}

absl::StatusOr<v1::Template> TemplatesCore::Create(const std::string& org, const std::string& id,
                                                   const std::string& text,
                                                   const std::string& description,
                                                   const std::string& created_by,
                                                   const std::string& token,
                                                   const std::string& request_id) {
  if (!IsValidId(id)) {
    return errors::InvalidField(
        "template_id", "INVALID_ID",
        absl::StrCat("'", id, "' must be 1-63 lower-case letters, digits or '-'"),
        "必须为 1 至 63 个小写字母、数字或 '-'");
  }
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  GR_RETURN_IF_ERROR(CheckSyntaxAndNames(org, text, token));
  TemplateRef ref{org, id, 0};
  GR_RETURN_IF_ERROR(NoteParents(ref, text));
  v1::CreateTemplateRequest call;
  if (!org.empty()) call.set_parent(absl::StrCat("orgs/", org));
  call.set_template_id(id);
  call.set_text(text);
  call.set_description(description);
  call.set_request_id(request_id);
  return Save(WriteMode::kCreate, ref, NewRevision(ref, 1, text, description, created_by), 0,
              request_id::CallOf("CreateTemplate", ref.Name(), created_by, call));
}

absl::StatusOr<v1::Template> TemplatesCore::Update(
    const TemplateRef& in, const std::string& text, const std::string& description,
    int64_t expected_revision, const std::string& created_by, const std::string& token,
    const std::string& request_id, bool allow_orphaned_blocks) {
  TemplateRef ref{in.org, in.id, 0};
  GR_RETURN_IF_ERROR(request_id::Validate(request_id));
  GR_ASSIGN_OR_RETURN(int64_t latest, store_->LatestRevision(ref.org, ref.id));
  int64_t expected = expected_revision ? expected_revision : latest;
  GR_RETURN_IF_ERROR(CheckSyntaxAndNames(ref.org, text, token));
  if (!allow_orphaned_blocks) GR_RETURN_IF_ERROR(CheckOverridesKept(ref, text));
  GR_RETURN_IF_ERROR(NoteParents(ref, text));
  v1::UpdateTemplateRequest call;
  call.set_name(ref.Name());
  call.set_text(text);
  call.set_description(description);
  call.set_expected_revision(expected_revision);
  call.set_request_id(request_id);
  call.set_allow_orphaned_blocks(allow_orphaned_blocks);
  return Save(WriteMode::kUpdate, ref,
              NewRevision(ref, expected + 1, text, description, created_by), expected,
              request_id::CallOf("UpdateTemplate", ref.Name(), created_by, call));
}

absl::Status TemplatesCore::NoteParents(const TemplateRef& ref, const std::string& text) {
  CompileOptions options;
  options.name = ref.id;
  GR_ASSIGN_OR_RETURN(CompiledTemplate compiled, CompiledTemplate::Compile(text, options));
  return store_->NoteChild(ref, ExtendedParentIds(compiled));
}

absl::Status TemplatesCore::CheckOverridesKept(const TemplateRef& ref, const std::string& text) {
  GR_ASSIGN_OR_RETURN(std::vector<TemplateRef> children, store_->Children(ref.org, ref.id));
  if (children.empty()) return absl::OkStatus();
  CompileOptions options;
  options.name = ref.id;
  GR_ASSIGN_OR_RETURN(CompiledTemplate compiled, CompiledTemplate::Compile(text, options));
  auto next = std::make_shared<const CompiledTemplate>(std::move(compiled));
  GR_ASSIGN_OR_RETURN(std::vector<int64_t> latest, store_->LatestRevisions(children));
  for (size_t i = 0; i < children.size(); ++i) children[i].revision = latest[i];
  std::erase_if(children, [&](const TemplateRef& c) {
    return c.revision < 1 || (c.org == ref.org && c.id == ref.id);
  });
  GR_ASSIGN_OR_RETURN(std::vector<std::optional<v1::Template>> stored,
                      store_->ReadRevisions(children));
  ValidateOptions check;
  check.check_names = false;  // only what the parent's blocks decide
  check.max_problems = 100000;
  std::vector<std::string> broken;
  std::set<std::string> orgs;
  for (size_t i = 0; i < children.size(); ++i) {
    if (!stored[i].has_value()) continue;
    const TemplateRef& child = children[i];
    absl::StatusOr<CompiledTemplate> child_compiled = CompiledTemplate::Compile(stored[i]->text());
    if (!child_compiled.ok()) continue;
    const std::vector<std::string> parents = ExtendedParentIds(*child_compiled);
    if (std::find(parents.begin(), parents.end(), ref.id) == parents.end()) {
      GR_RETURN_IF_ERROR(store_->ForgetChild(ref.org, ref.id, child));
      continue;
    }
    CallResolver now(this, child.org);
    CallResolver after(this, child.org);
    after.Substitute(TemplateRef{ref.org, ref.id, 0}, next);
    const std::set<Orphan> before =
        OrphansOf(templates::Validate(stored[i]->text(), Schema(), &now, check));
    GR_RETURN_IF_ERROR(now.error());
    const std::set<Orphan> then =
        OrphansOf(templates::Validate(stored[i]->text(), Schema(), &after, check));
    GR_RETURN_IF_ERROR(after.error());
    std::vector<std::string> blocks;
    for (const auto& [partial, block, parent] : then) {
      if (before.count({partial, block, parent}) != 0) continue;
      blocks.push_back(absl::StrCat("'", block, "'", partial.empty() ? "" : " (in ", partial,
                                    partial.empty() ? "" : ")"));
    }
    if (blocks.empty()) continue;
    const std::string what = absl::StrCat(TemplateRef{child.org, child.id, 0}.Name(), " overrides ",
                                          absl::StrJoin(blocks, ", "));
    broken.push_back(what);
    orgs.insert(child.org.empty() ? "(shared)" : child.org);
  }
  if (broken.empty()) return absl::OkStatus();
  const std::string org_list = absl::StrJoin(orgs, ", ");
  absl::Status refused = errors::WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "text: the new text of ", ref.Name(), " drops blocks that ", broken.size(),
          " template(s) extending it override, in orgs ", org_list, ": ",
          absl::StrJoin(broken, "; "),
          ". Keep those blocks, change those templates first, or set allow_orphaned_blocks")),
      "BLOCKS_STILL_OVERRIDDEN",
      absl::StrCat("新文本删除了仍被覆盖的块（涉及单位：", org_list,
                   "）；请保留这些块、先修改这些模板，或设置 allow_orphaned_blocks"));
  for (const std::string& what : broken)
    refused = errors::WithField(std::move(refused), "text", what);
  return refused;
}

absl::StatusOr<v1::ListTemplatesResponse> TemplatesCore::List(const std::string& org, int page_size,
                                                              const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 50, 200));
  const std::string list = PageList({"templates", org});
  GR_ASSIGN_OR_RETURN(std::string after, DecodeCursorToken(list, page_token));
  // One more than a page: whether there is a next one.
  GR_ASSIGN_OR_RETURN(std::vector<std::string> ids, store_->ListIds(org, after, size + 1));
  v1::ListTemplatesResponse out;
  for (size_t i = 0; i < ids.size() && static_cast<int>(i) < size; ++i) {
    GR_ASSIGN_OR_RETURN(*out.add_templates(), Get({org, ids[i], 0}));
    out.mutable_templates()->rbegin()->clear_text();
  }
  if (static_cast<int>(ids.size()) > size) {
    out.set_next_page_token(EncodeCursorToken(list, ids[size - 1]));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Template>> TemplatesCore::Revisions(const TemplateRef& ref) {
  GR_ASSIGN_OR_RETURN(int64_t latest, store_->LatestRevision(ref.org, ref.id));
  std::vector<v1::Template> out;
  for (int64_t rev = 1; rev <= latest; ++rev) {
    GR_ASSIGN_OR_RETURN(v1::Template t, Get({ref.org, ref.id, rev}));
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<v1::ListTemplateRevisionsResponse> TemplatesCore::ListRevisions(
    const TemplateRef& ref, int page_size, const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 50, 200));
  const std::string list = PageList({"template-revisions", ref.org, ref.id});
  GR_ASSIGN_OR_RETURN(std::string cursor, DecodeCursorToken(list, page_token));
  int64_t after = 0;
  if (!cursor.empty() && (!absl::SimpleAtoi(cursor, &after) || after < 0)) {
    return absl::InvalidArgumentError("page_token: not a token of this list");
  }
  GR_ASSIGN_OR_RETURN(int64_t latest, store_->LatestRevision(ref.org, ref.id));
  v1::ListTemplateRevisionsResponse out;
  // Revisions only grow, so a number is a stable cursor.
  for (int64_t rev = after + 1; rev <= latest && out.revisions_size() < size; ++rev) {
    GR_ASSIGN_OR_RETURN(*out.add_revisions(), Get({ref.org, ref.id, rev}));
  }
  if (after + size < latest)
    out.set_next_page_token(EncodeCursorToken(list, absl::StrCat(after + size)));
  return out;
}

absl::StatusOr<std::shared_ptr<const CompiledTemplate>> TemplatesCore::CompileForRender(
    const RenderInput& in, v1::RenderResponse* out) {
  if (in.ref) {
    int64_t rev = 0;
    GR_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledTemplate> compiled, Compiled(*in.ref, &rev));
    out->set_template_name(TemplateRef{in.ref->org, in.ref->id, 0}.Name());
    out->set_template_revision(rev);
    return compiled;
  }
  GR_RETURN_IF_ERROR(CheckTemplateSize(in.text));
  GR_ASSIGN_OR_RETURN(CompiledTemplate c, CompiledTemplate::Compile(in.text));
  return std::make_shared<const CompiledTemplate>(std::move(c));
}

RenderOptions TemplatesCore::RenderOptionsFor(const CallControl& call) const {
  RenderOptions options;
  // Plain text for every format: each format escapes the whole text when it
  // lays it out (formats.h), so a {{{x}}} in a template cannot write markup.
  options.escape = Escape::kNone;
  options.max_steps = limits_.max_steps;
  options.max_output_bytes = limits_.max_output_bytes;
  options.max_partial_expansions = limits_.max_partial_expansions;
  options.max_partial_names = limits_.max_partial_names;
  options.deadline = call.deadline;
  options.cancelled = call.cancelled;
  return options;
}

void TemplatesCore::CountRender(const absl::Status& rendered) {
  switch (rendered.code()) {
    case absl::StatusCode::kOk:
      ++finished_;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      ++stopped_deadline_;
      break;
    case absl::StatusCode::kCancelled:
      ++stopped_cancelled_;
      break;
    case absl::StatusCode::kResourceExhausted:
      ++exhausted_;
      break;
    default:
      break;
  }
}

absl::StatusOr<v1::RenderResponse> TemplatesCore::Render(const RenderInput& in) {
  GR_RETURN_IF_ERROR(AcquireSlot(in.call.deadline, in.org, in.call.platform));
  size_t handled = in.context_bytes + in.text.size();
  // Given back on every return from here, a context that fails to convert
  // included.
  absl::Cleanup release = [this, &handled, &in] { ReleaseSlot(handled, in.org, in.call.platform); };
  Value converted;
  if (in.request_context != nullptr) {
    GR_ASSIGN_OR_RETURN(converted, ContextFromRequest(*in.request_context));
  }
  const Value& context = in.request_context != nullptr ? converted : in.context;
  v1::RenderResponse out;
  GR_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledTemplate> compiled, CompileForRender(in, &out));
  CallResolver resolver(this, in.org, &in.pins);
  RenderOptions options = RenderOptionsFor(in.call);
  resolver.Prefetch(*compiled, limits_.max_partial_names, options.max_include_depth);
  options.partials = &resolver;
  RenderResult r;
  absl::Status rendered = compiled->RenderTo(context, options, &r);
  steps_ += static_cast<int64_t>(r.steps);
  handled += r.text.capacity();
  if (rendered.ok()) rendered = resolver.error();
  CountRender(rendered);
  GR_RETURN_IF_ERROR(rendered);
  for (auto& m : r.missing) out.add_missing(std::move(m));
  for (auto& m : r.missing_partials) out.add_missing(absl::StrCat("partial:", m));
  for (auto& [name, exact] : resolver.Used()) (*out.mutable_partial_revisions())[name] = exact;
  DropFramedRecipients(in.frame, &r.text);
  GR_ASSIGN_OR_RETURN(*out.mutable_content(), LayOut(in, r.text));
  out.set_content_type(ContentType(
      in.format == typepb::DOCUMENT_FORMAT_UNSPECIFIED ? typepb::DOCUMENT_FORMAT_TXT : in.format));
  return out;
}

absl::StatusOr<v1::RenderResponse> TemplatesCore::Preview(const v1::PreviewRequest& req,
                                                          const std::string& org,
                                                          const std::string& token,
                                                          const CallControl& call) {
  GR_ASSIGN_OR_RETURN(TemplateRef ref, ParseTemplateName(req.template_()));
  GR_RETURN_IF_ERROR(CheckEnum("format", req.format(), Unspecified::kAllowed));  // Unset: TXT.
  size_t narrative_bytes = 0;
  for (const auto& [k, v] : req.narrative()) narrative_bytes += k.size() + v.size();
  if (narrative_bytes > limits_.max_context_bytes) {
    return errors::InvalidField(
        "narrative", "CONTEXT_TOO_LARGE",
        absl::StrCat(narrative_bytes, " bytes, at most ", limits_.max_context_bytes,
                     " (--render-max-context-bytes)"),
        absl::StrCat("最多 ", limits_.max_context_bytes, " 字节"));
  }
  ReportContextInput input;
  GR_ASSIGN_OR_RETURN(input.org, figures_->GetOrg(org, token));
  GR_ASSIGN_OR_RETURN(input.figures, figures_->GetFigures(org, req.period(), token));
  input.narrative.insert(req.narrative().begin(), req.narrative().end());
  GR_ASSIGN_OR_RETURN(Value context, ToEngineContext(BuildReportContext(input)));
  RenderInput in;
  in.org = org;
  in.ref = ref;
  in.context = std::move(context);
  in.format = req.format() == typepb::DOCUMENT_FORMAT_UNSPECIFIED ? typepb::DOCUMENT_FORMAT_TXT
                                                                  : req.format();
  in.docx_layout = v1::DOCX_LAYOUT_CONDENSED;
  in.call = call;
  in.context_bytes = narrative_bytes;
  return Render(in);
}

}  // namespace govreport::templates
