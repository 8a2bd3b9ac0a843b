#include "templates/service/templates.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "report_context/report_context.h"
#include "templates/docx/docx_writer.h"
#include "templates/service/formats.h"

namespace govreport::templates {
namespace {

constexpr size_t kMaxTemplateBytes = 1 << 20;
constexpr int64_t kRequestTtl = 7 * 24 * 3600;
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

std::string Scope(const std::string& org) {
  // '_' is not allowed in org ids, so the shared scope cannot collide.
  return org.empty() ? "gr:{_shared}:" : OrgPrefix(org);
}

const redis::Script& StoreScript() {
  static const redis::Script script(R"lua(
-- KEYS: template hash, index, request key. ARGV: mode, expected, blob, id, ttl.
local mode, expected, blob, id, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prev = redis.call('GET', KEYS[3])
if prev then return {'DUP_REQ', prev} end
local cur = redis.call('HGET', KEYS[1], 'latest')
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' then
  if not cur then return {'NOTFOUND'} end
  if cur ~= expected then return {'STALE', cur} end
end
local rev = (cur and tonumber(cur) or 0) + 1
redis.call('HSET', KEYS[1], 'latest', rev, 'r' .. rev, blob)
redis.call('ZADD', KEYS[2], 0, id)
redis.call('SET', KEYS[3], rev, 'EX', ttl)
return {'OK', rev}
)lua");
  return script;
}

// Partials and parents for one call, by template id: the org's own first,
// then the shared one. Prefetch loads every name the template reaches
// without a dynamic name before rendering, level by level, each level in
// at most two pipelined round trips; names only known while rendering
// ({{>*x}}) are looked up when asked, and the engine asks once per name.
// Hits and misses live as long as the call.
class CallResolver final : public PartialResolver {
 public:
  CallResolver(Templates* templates, std::string org)
      : templates_(templates), org_(std::move(org)) {}

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
      auto got = templates_->ResolvePartials(org_, names);
      if (!got.ok()) return;  // Find asks again, and reports the error
      level.clear();
      for (size_t i = 0; i < names.size(); ++i) {
        if ((*got)[i] != nullptr) level.push_back((*got)[i].get());
        found_.emplace(std::move(names[i]), std::move((*got)[i]));
      }
    }
  }

  std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = found_.find(absl::string_view(name.data(), name.size())); it != found_.end())
      return it->second;
    auto got = templates_->ResolvePartials(org_, {std::string(name)});
    if (!got.ok()) {
      // Not a missing partial: the render must fail, not print a gap.
      if (error_.ok()) error_ = got.status();
      return nullptr;
    }
    found_.emplace(name, (*got)[0]);
    return (*got)[0];
  }

  // The first error of a lookup (Redis away), which made a partial look
  // missing.
  absl::Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  Templates* templates_;
  std::string org_;
  mutable std::mutex mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const CompiledTemplate>> found_;
  mutable absl::Status error_;
};

}  // namespace

std::string TemplateRef::Name() const {
  std::string base =
      org.empty() ? absl::StrCat("templates/", id) : absl::StrCat("orgs/", org, "/templates/", id);
  return revision ? absl::StrCat(base, "@", revision) : base;
}

absl::StatusOr<TemplateRef> ParseTemplateName(const std::string& name) {
  TemplateRef ref;
  std::string base = name;
  if (auto at = name.rfind('@'); at != std::string::npos) {
    if (!absl::SimpleAtoi(name.substr(at + 1), &ref.revision) || ref.revision < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("template '", name, "': the revision after '@' must be a number >= 1"));
    }
    base = name.substr(0, at);
  }
  if (absl::StartsWith(base, "templates/")) {
    GR_ASSIGN_OR_RETURN(auto parts, ParseName(base, "templates/*", "template"));
    ref.id = parts[0];
    return ref;
  }
  GR_ASSIGN_OR_RETURN(auto parts, ParseName(base, "orgs/*/templates/*", "template"));
  ref.org = parts[0];
  ref.id = parts[1];
  return ref;
}

absl::StatusOr<Value> ToEngineValue(const v1::Value& v, int depth) {
  if (depth > 32) return absl::InvalidArgumentError("context: nested deeper than 32 levels");
  switch (v.kind_case()) {
    case v1::Value::kText:
      return Value::Text(v.text());
    case v1::Value::kBoolean:
      return Value::Bool(v.boolean());
    case v1::Value::kQuantity: {
      if (v.quantity().precision() < 0 || v.quantity().precision() > 9) {
        return absl::InvalidArgumentError("context: quantity precision must be within 0..9");
      }
      return Value::Quantity(v.quantity().value(), v.quantity().precision(), v.quantity().unit());
    }
    case v1::Value::kMoney:
      return Value::MoneyFen(v.money().fen());
    case v1::Value::kDate: {
      const auto& d = v.date();
      if (d.year() < 1 || d.year() > 9999 || d.month() < 1 || d.month() > 12 || d.day() < 1 ||
          d.day() > 31) {
        return absl::InvalidArgumentError("context: a date out of the calendar");
      }
      return Value::Date(d.year(), d.month(), d.day());
    }
    case v1::Value::kList: {
      std::vector<Value> items;
      items.reserve(v.list().items_size());
      for (const auto& item : v.list().items()) {
        GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, depth + 1));
        items.push_back(std::move(x));
      }
      return Value::List(std::move(items));
    }
    case v1::Value::kMap: {
      Value m = Value::Map();
      for (const auto& [k, item] : v.map().fields()) {
        GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, depth + 1));
        m.Set(k, std::move(x));
      }
      return m;
    }
    default:
      return Value::Null();
  }
}

absl::StatusOr<Value> ToEngineContext(const v1::ValueMap& map) {
  // Field by field: copying the map into a root Value first doubled the
  // memory a big context costs.
  Value m = Value::Map();
  for (const auto& [k, item] : map.fields()) {
    GR_ASSIGN_OR_RETURN(Value x, ToEngineValue(item, 1));
    m.Set(k, std::move(x));
  }
  return m;
}

Schema SchemaForProfile(const records::v1::Profile& profile) {
  ReportSchemaSpec spec;
  for (const auto& ind : profile.indicators()) {
    bool money = ind.unit() == "万元" || ind.unit() == "元";
    spec.indicators.push_back({ind.key(), money ? SlotKind::kMoney : SlotKind::kQuantity});
  }
  spec.facts.assign(profile.facts().begin(), profile.facts().end());
  spec.narrative.assign(profile.narrative_slots().begin(), profile.narrative_slots().end());
  return MakeReportSchema(spec);
}

Templates::Templates(redis::Client* redis, FiguresSource* figures, RenderLimits limits)
    : redis_(redis), figures_(figures), limits_(limits) {
  trimmer_ = std::thread([this] { TrimLoop(); });
}

Templates::~Templates() {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    stopping_ = true;
  }
  slots_cv_.notify_all();
  trimmer_.join();
}

RenderStats Templates::stats() const {
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

absl::Status Templates::AcquireSlot(absl::Time deadline, const std::string& org, bool platform) {
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
        return absl::ResourceExhaustedError(absl::StrCat(
            "too many renders of org '", org, "' in progress (", limits_.max_concurrent_per_org,
            ", --render-max-concurrent-per-org); retry"));
      }
      return absl::ResourceExhaustedError(absl::StrCat("too many renders in progress (",
                                                       limits_.max_concurrent,
                                                       ", --render-max-concurrent); retry"));
    }
  }
  ++in_progress_;
  if (!platform) ++in_progress_per_org_[org];
  return absl::OkStatus();
}

void Templates::ReleaseSlot(size_t bytes, const std::string& org, bool platform) {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    --in_progress_;
    if (!platform && --in_progress_per_org_[org] <= 0) in_progress_per_org_.erase(org);
    untrimmed_bytes_ += bytes;
  }
  slots_cv_.notify_all();
}

void Templates::TrimLoop() {
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

std::shared_ptr<const CompiledTemplate> Templates::CacheLookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::shared_ptr<const CompiledTemplate> Templates::CacheInsert(
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

absl::StatusOr<std::vector<std::shared_ptr<const CompiledTemplate>>> Templates::ResolvePartials(
    const std::string& org, const std::vector<std::string>& names) {
  struct Candidate {
    size_t name;
    std::string org;
    std::string id;
    int64_t rev;
    std::shared_ptr<const CompiledTemplate> compiled;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string id = names[i];
    int64_t rev = 0;
    if (auto at = id.find('@'); at != std::string::npos) {
      if (!absl::SimpleAtoi(id.substr(at + 1), &rev) || rev < 1) continue;
      id = id.substr(0, at);
    }
    if (!IsValidId(id)) continue;
    if (!org.empty()) candidates.push_back({i, org, id, rev, nullptr});
    candidates.push_back({i, "", id, rev, nullptr});
  }
  // One round trip for the latest revisions, one for the texts that are
  // not compiled yet.
  std::vector<redis::Args> cmds;
  std::vector<Candidate*> asked;
  for (Candidate& c : candidates) {
    if (c.rev != 0) continue;
    cmds.push_back({"HGET", absl::StrCat(Scope(c.org), "tpl:", c.id), "latest"});
    asked.push_back(&c);
  }
  if (!cmds.empty()) {
    GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
    for (size_t k = 0; k < asked.size(); ++k) {
      GR_RETURN_IF_ERROR(replies[k].ErrorStatus());
      if (replies[k].IsNil()) {
        asked[k]->rev = -1;  // no such template in this scope
        continue;
      }
      GR_ASSIGN_OR_RETURN(asked[k]->rev, replies[k].AsInt());
    }
  }
  cmds.clear();
  asked.clear();
  for (Candidate& c : candidates) {
    if (c.rev < 1) continue;
    c.compiled = CacheLookup(TemplateRef{c.org, c.id, c.rev}.Name());
    if (c.compiled != nullptr) continue;
    cmds.push_back({"HGET", absl::StrCat(Scope(c.org), "tpl:", c.id), absl::StrCat("r", c.rev)});
    asked.push_back(&c);
  }
  if (!cmds.empty()) {
    GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
    for (size_t k = 0; k < asked.size(); ++k) {
      GR_RETURN_IF_ERROR(replies[k].ErrorStatus());
      if (replies[k].IsNil()) continue;
      v1::Template t;
      if (!t.ParseFromArray(replies[k].Str().data(), static_cast<int>(replies[k].Str().size()))) {
        return absl::DataLossError("stored template is corrupt");
      }
      CompileOptions options;
      options.name = asked[k]->id;
      absl::StatusOr<CompiledTemplate> compiled = CompiledTemplate::Compile(t.text(), options);
      if (!compiled.ok()) continue;  // a stored revision that no longer compiles: missing
      asked[k]->compiled =
          CacheInsert(TemplateRef{asked[k]->org, asked[k]->id, asked[k]->rev}.Name(),
                      std::make_shared<const CompiledTemplate>(std::move(*compiled)));
    }
  }
  std::vector<std::shared_ptr<const CompiledTemplate>> out(names.size());
  for (Candidate& c : candidates) {  // the org's own comes first
    if (out[c.name] == nullptr) out[c.name] = std::move(c.compiled);
  }
  return out;
}

absl::StatusOr<Value> Templates::ContextFromRequest(const v1::ValueMap& context) const {
  const size_t bytes = context.ByteSizeLong();
  if (bytes > limits_.max_context_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("context: ", bytes, " bytes, at most ",
                                                   limits_.max_context_bytes,
                                                   " (--render-max-context-bytes)"));
  }
  return ToEngineContext(context);
}

absl::StatusOr<int64_t> Templates::LatestRevision(const std::string& org, const std::string& id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"HGET", absl::StrCat(Scope(org), "tpl:", id), "latest"}));
  if (r.IsNil()) {
    return absl::NotFoundError(absl::StrCat(TemplateRef{org, id, 0}.Name(), " not found"));
  }
  return r.AsInt();
}

absl::StatusOr<v1::Template> Templates::Get(const TemplateRef& ref) {
  int64_t rev = ref.revision;
  if (rev == 0) {
    GR_ASSIGN_OR_RETURN(rev, LatestRevision(ref.org, ref.id));
  }
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Command({"HGET", absl::StrCat(Scope(ref.org), "tpl:", ref.id),
                                       absl::StrCat("r", rev)}));
  if (r.IsNil()) {
    return absl::NotFoundError(
        absl::StrCat(TemplateRef{ref.org, ref.id, rev}.Name(), " not found"));
  }
  v1::Template t;
  if (!t.ParseFromArray(r.Str().data(), static_cast<int>(r.Str().size()))) {
    return absl::DataLossError("stored template is corrupt");
  }
  return t;
}

absl::StatusOr<std::shared_ptr<const CompiledTemplate>> Templates::Compiled(const TemplateRef& ref,
                                                                            int64_t* revision) {
  int64_t rev = ref.revision;
  if (rev == 0) {
    GR_ASSIGN_OR_RETURN(rev, LatestRevision(ref.org, ref.id));
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

absl::StatusOr<std::vector<Problem>> Templates::Validate(const std::string& org,
                                                         const std::string& text,
                                                         const std::string& token) {
  if (text.size() > kMaxTemplateBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("text: ", text.size(), " bytes, at most ", kMaxTemplateBytes));
  }
  Schema schema;
  if (org.empty()) {
    // A shared template serves many profiles: only the fixed names and
    // wildcards are known.
    schema = MakeReportSchema({});
    schema.Add("ind.*", SlotKind::kQuantity);
    schema.Add("facts.*", SlotKind::kText);
    schema.Add("narrative.*", SlotKind::kText);
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

absl::Status Templates::CheckSyntaxAndNames(const std::string& org, const std::string& text,
                                            const std::string& token) {
  GR_RETURN_IF_ERROR(CheckDocumentText("text", text));
  GR_ASSIGN_OR_RETURN(std::vector<Problem> problems, Validate(org, text, token));
  if (problems.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.ToString());
  return absl::InvalidArgumentError(
      absl::StrCat("text: ", problems.size(), " problem(s):\n", absl::StrJoin(lines, "\n")));
}

absl::StatusOr<v1::Template> Templates::Store(const std::string& mode, const TemplateRef& ref,
                                              v1::Template t, int64_t expected,
                                              const std::string& request_id) {
  std::string scope = Scope(ref.org);
  std::string rid = request_id.empty() ? RandomHex(8) : request_id;
  GR_ASSIGN_OR_RETURN(redis::Reply r,
                      redis_->Eval(StoreScript(),
                                   {absl::StrCat(scope, "tpl:", ref.id),
                                    absl::StrCat(scope, "tpls"), absl::StrCat(scope, "treq:", rid)},
                                   {mode, absl::StrCat(expected), t.SerializeAsString(), ref.id,
                                    absl::StrCat(kRequestTtl)}));
  std::string code(r[0].Str());
  if (code == "OK") return t;
  if (code == "DUP_REQ") {
    GR_ASSIGN_OR_RETURN(int64_t rev, r[1].AsInt());
    return Get({ref.org, ref.id, rev});
  }
  if (code == "EXISTS") {
    return absl::AlreadyExistsError(absl::StrCat(ref.Name(), " already exists; update it"));
  }
  if (code == "NOTFOUND") return absl::NotFoundError(absl::StrCat(ref.Name(), " not found"));
  return absl::AbortedError(
      absl::StrCat(ref.Name(), " is at revision ", r[1].Str(), ", not ", expected, "; reread it"));
}

absl::StatusOr<v1::Template> Templates::Create(const std::string& org, const std::string& id,
                                               const std::string& text,
                                               const std::string& description,
                                               const std::string& created_by,
                                               const std::string& token,
                                               const std::string& request_id) {
  if (!IsValidId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("template_id: '", id, "' must be 1-63 lower-case letters, digits or '-'"));
  }
  GR_RETURN_IF_ERROR(CheckSyntaxAndNames(org, text, token));
  TemplateRef ref{org, id, 0};
  v1::Template t;
  t.set_name(ref.Name());
  t.set_revision(1);
  t.set_text(text);
  t.set_description(description);
  t.set_digest(Sha256Hex(text));
  t.set_created_by(created_by);
  t.set_create_unix(absl::ToUnixSeconds(absl::Now()));
  return Store("create", ref, std::move(t), 0, request_id);
}

absl::StatusOr<v1::Template> Templates::Update(const TemplateRef& in, const std::string& text,
                                               const std::string& description,
                                               int64_t expected_revision,
                                               const std::string& created_by,
                                               const std::string& token,
                                               const std::string& request_id) {
  TemplateRef ref{in.org, in.id, 0};
  GR_ASSIGN_OR_RETURN(int64_t latest, LatestRevision(ref.org, ref.id));
  int64_t expected = expected_revision ? expected_revision : latest;
  GR_RETURN_IF_ERROR(CheckSyntaxAndNames(ref.org, text, token));
  v1::Template t;
  t.set_name(ref.Name());
  t.set_revision(expected + 1);
  t.set_text(text);
  t.set_description(description);
  t.set_digest(Sha256Hex(text));
  t.set_created_by(created_by);
  t.set_create_unix(absl::ToUnixSeconds(absl::Now()));
  return Store("update", ref, std::move(t), expected, request_id);
}

absl::StatusOr<v1::ListTemplatesResponse> Templates::List(const std::string& org, int page_size,
                                                          const std::string& page_token) {
  GR_ASSIGN_OR_RETURN(int size, PageSize(page_size, 50, 200));
  const std::string list = PageList({"templates", org});
  GR_ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(list, page_token));
  GR_ASSIGN_OR_RETURN(redis::Reply ids,
                      redis_->Command({"ZRANGE", absl::StrCat(Scope(org), "tpls"),
                                       absl::StrCat(offset), absl::StrCat(offset + size)}));
  v1::ListTemplatesResponse out;
  for (size_t i = 0; i < ids.Size() && static_cast<int>(i) < size; ++i) {
    GR_ASSIGN_OR_RETURN(*out.add_templates(), Get({org, ids[i].AsString(), 0}));
    out.mutable_templates()->rbegin()->clear_text();
  }
  if (static_cast<int>(ids.Size()) > size) {
    out.set_next_page_token(EncodePageToken(list, offset + size));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Template>> Templates::Revisions(const TemplateRef& ref) {
  GR_ASSIGN_OR_RETURN(int64_t latest, LatestRevision(ref.org, ref.id));
  std::vector<v1::Template> out;
  for (int64_t rev = 1; rev <= latest; ++rev) {
    GR_ASSIGN_OR_RETURN(v1::Template t, Get({ref.org, ref.id, rev}));
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<v1::RenderResponse> Templates::Render(const RenderInput& in) {
  GR_RETURN_IF_ERROR(AcquireSlot(in.call.deadline, in.org, in.call.platform));
  size_t handled = in.context_bytes + in.text.size();
  Value converted;
  if (in.request_context != nullptr) {
    GR_ASSIGN_OR_RETURN(converted, ContextFromRequest(*in.request_context));
  }
  const Value& context = in.request_context != nullptr ? converted : in.context;
  absl::Cleanup release = [this, &handled, &in] { ReleaseSlot(handled, in.org, in.call.platform); };
  v1::RenderResponse out;
  std::shared_ptr<const CompiledTemplate> compiled;
  if (in.ref) {
    int64_t rev = 0;
    GR_ASSIGN_OR_RETURN(compiled, Compiled(*in.ref, &rev));
    out.set_template_name(TemplateRef{in.ref->org, in.ref->id, 0}.Name());
    out.set_template_revision(rev);
  } else {
    if (in.text.size() > kMaxTemplateBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("text: ", in.text.size(), " bytes, at most ", kMaxTemplateBytes));
    }
    GR_ASSIGN_OR_RETURN(CompiledTemplate c, CompiledTemplate::Compile(in.text));
    compiled = std::make_shared<const CompiledTemplate>(std::move(c));
  }
  CallResolver resolver(this, in.org);
  RenderOptions options;
  resolver.Prefetch(*compiled, limits_.max_partial_names, options.max_include_depth);
  options.partials = &resolver;
  // Plain text for every format: each format escapes the whole text when it
  // lays it out (formats.h), so a {{{x}}} in a template cannot write markup.
  options.escape = Escape::kNone;
  options.max_steps = limits_.max_steps;
  options.max_output_bytes = limits_.max_output_bytes;
  options.max_partial_expansions = limits_.max_partial_expansions;
  options.max_partial_names = limits_.max_partial_names;
  options.deadline = in.call.deadline;
  options.cancelled = in.call.cancelled;
  RenderResult r;
  absl::Status rendered = compiled->RenderTo(context, options, &r);
  steps_ += static_cast<int64_t>(r.steps);
  handled += r.text.capacity();
  if (rendered.ok()) rendered = resolver.error();
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
  GR_RETURN_IF_ERROR(rendered);
  for (auto& m : r.missing) out.add_missing(std::move(m));
  for (auto& m : r.missing_partials) out.add_missing(absl::StrCat("partial:", m));
  switch (in.format) {
    case v1::MARKDOWN: {
      GR_ASSIGN_OR_RETURN(*out.mutable_content(), ToMarkdown(r.text));
      break;
    }
    case v1::HTML: {
      GR_ASSIGN_OR_RETURN(*out.mutable_content(), ToHtml(r.text, in.title));
      break;
    }
    case v1::DOCX: {
      docx::DocxOptions d;
      d.title = in.title;
      d.author = in.author;
      if (in.timestamp_unix > 0)
        d.timestamp = std::chrono::sys_seconds{std::chrono::seconds{in.timestamp_unix}};
      // Condensed unless asked: it keeps 28 characters a line in Word, WPS
      // and LibreOffice alike (docs/documents.md).
      d.character_grid = in.docx_layout == v1::DOCUMENT_GRID
                             ? docx::CharacterGrid::kDocumentGrid
                             : docx::CharacterGrid::kCondensedSpacing;
      auto bytes = docx::WriteOfficialDocx(r.text, d);
      if (!bytes.ok())
        return absl::Status(bytes.status().code(), std::string(bytes.status().message()));
      *out.mutable_content() = std::move(*bytes);
      break;
    }
    default:
      *out.mutable_content() = std::move(r.text);
  }
  out.set_content_type(ContentType(in.format == v1::FORMAT_UNSPECIFIED ? v1::TEXT : in.format));
  return out;
}

absl::StatusOr<v1::RenderResponse> Templates::Preview(const v1::PreviewRequest& req,
                                                      const std::string& org,
                                                      const std::string& token,
                                                      const CallControl& call) {
  GR_ASSIGN_OR_RETURN(TemplateRef ref, ParseTemplateName(req.template_()));
  size_t narrative_bytes = 0;
  for (const auto& [k, v] : req.narrative()) narrative_bytes += k.size() + v.size();
  if (narrative_bytes > limits_.max_context_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("narrative: ", narrative_bytes,
                                                   " bytes, at most ", limits_.max_context_bytes,
                                                   " (--render-max-context-bytes)"));
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
  in.format = req.format() == v1::FORMAT_UNSPECIFIED ? v1::TEXT : req.format();
  in.docx_layout = v1::CONDENSED;
  in.call = call;
  in.context_bytes = narrative_bytes;
  return Render(in);
}

}  // namespace govreport::templates
