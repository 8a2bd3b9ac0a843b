#include "templates/service/templates.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/markup.h"
#include "common/resource.h"
#include "common/status.h"
#include "templates/context/report_context.h"
#include "templates/docx/docx_writer.h"
#include "templates/service/formats.h"

namespace govreport::templates {
namespace {

constexpr size_t kMaxTemplateBytes = 1 << 20;
constexpr int64_t kRequestTtl = 7 * 24 * 3600;
constexpr size_t kCacheSize = 512;

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

// Partials and parents by template id: the org's own first, then shared.
class ScopedResolver final : public PartialResolver {
 public:
  ScopedResolver(Templates* templates, std::string org)
      : templates_(templates), org_(std::move(org)) {}
  std::shared_ptr<const CompiledTemplate> Find(std::string_view name) const override {
    std::string n(name);
    int64_t rev = 0;
    if (auto at = n.find('@'); at != std::string::npos) {
      if (!absl::SimpleAtoi(n.substr(at + 1), &rev)) return nullptr;
      n = n.substr(0, at);
    }
    if (!IsValidId(n)) return nullptr;
    int64_t got = 0;
    if (!org_.empty()) {
      auto c = templates_->Compiled({org_, n, rev}, &got);
      if (c.ok()) return *c;
    }
    auto c = templates_->Compiled({"", n, rev}, &got);
    return c.ok() ? *c : nullptr;
  }

 private:
  Templates* templates_;
  std::string org_;
};

}  // namespace

std::string TemplateRef::Name() const {
  std::string base = org.empty() ? absl::StrCat("templates/", id)
                                 : absl::StrCat("orgs/", org, "/templates/", id);
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
    case v1::Value::kText: return Value::Text(v.text());
    case v1::Value::kBoolean: return Value::Bool(v.boolean());
    case v1::Value::kQuantity: {
      if (v.quantity().precision() < 0 || v.quantity().precision() > 9) {
        return absl::InvalidArgumentError("context: quantity precision must be within 0..9");
      }
      return Value::Quantity(v.quantity().value(), v.quantity().precision(), v.quantity().unit());
    }
    case v1::Value::kMoney: return Value::MoneyFen(v.money().fen());
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
  v1::Value root;
  *root.mutable_map() = map;
  return ToEngineValue(root);
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

Templates::Templates(redis::Client* redis, FiguresSource* figures)
    : redis_(redis), figures_(figures) {}

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
    return absl::NotFoundError(absl::StrCat(TemplateRef{ref.org, ref.id, rev}.Name(), " not found"));
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  GR_ASSIGN_OR_RETURN(v1::Template t, Get({ref.org, ref.id, rev}));
  CompileOptions options;
  options.name = ref.id;
  GR_ASSIGN_OR_RETURN(CompiledTemplate compiled, CompiledTemplate::Compile(t.text(), options));
  auto shared = std::make_shared<const CompiledTemplate>(std::move(compiled));
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.emplace(key, shared).second) {
    cache_order_.push_back(key);
    if (cache_order_.size() > kCacheSize) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
  }
  return shared;
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
  ScopedResolver resolver(this, org);
  return templates::Validate(text, schema, &resolver);
}

absl::Status Templates::CheckSyntaxAndNames(const std::string& org, const std::string& text,
                                            const std::string& token) {
  GR_RETURN_IF_ERROR(CheckDocumentText("text", text));
  GR_ASSIGN_OR_RETURN(std::vector<Problem> problems, Validate(org, text, token));
  if (problems.empty()) return absl::OkStatus();
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.ToString());
  return absl::InvalidArgumentError(absl::StrCat("text: ", problems.size(), " problem(s):\n",
                                                 absl::StrJoin(lines, "\n")));
}

absl::StatusOr<v1::Template> Templates::Store(const std::string& mode, const TemplateRef& ref,
                                              v1::Template t, int64_t expected,
                                              const std::string& request_id) {
  std::string scope = Scope(ref.org);
  std::string rid = request_id.empty() ? RandomHex(8) : request_id;
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(StoreScript(),
                   {absl::StrCat(scope, "tpl:", ref.id), absl::StrCat(scope, "tpls"),
                    absl::StrCat(scope, "treq:", rid)},
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
  return absl::AbortedError(absl::StrCat(ref.Name(), " is at revision ", r[1].Str(), ", not ",
                                         expected, "; reread it"));
}

absl::StatusOr<v1::Template> Templates::Create(const std::string& org, const std::string& id,
                                               const std::string& text,
                                               const std::string& description,
                                               const std::string& created_by,
                                               const std::string& token,
                                               const std::string& request_id) {
  if (!IsValidId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "template_id: '", id, "' must be 1-63 lower-case letters, digits or '-'"));
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
  ScopedResolver resolver(this, in.org);
  RenderOptions options;
  options.partials = &resolver;
  options.escape = in.format == v1::HTML ? Escape::kHtml : Escape::kNone;
  GR_ASSIGN_OR_RETURN(RenderResult r, compiled->Render(in.context, options));
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
      if (in.timestamp_unix > 0) d.timestamp = std::chrono::sys_seconds{std::chrono::seconds{in.timestamp_unix}};
      // Condensed unless asked: it keeps 28 characters a line in Word, WPS
      // and LibreOffice alike (docs/documents.md).
      d.character_grid = in.docx_layout == v1::DOCUMENT_GRID
                             ? docx::CharacterGrid::kDocumentGrid
                             : docx::CharacterGrid::kCondensedSpacing;
      auto bytes = docx::WriteOfficialDocx(r.text, d);
      if (!bytes.ok()) return absl::Status(bytes.status().code(), std::string(bytes.status().message()));
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
                                                      const std::string& token) {
  GR_ASSIGN_OR_RETURN(TemplateRef ref, ParseTemplateName(req.template_()));
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
  return Render(in);
}

}  // namespace govreport::templates
