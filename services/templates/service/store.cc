#include "templates/service/store.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "templates/service/lua_scripts.h"

namespace govreport::templates {
namespace {

absl::Status TemplateNotFound(absl::string_view name) {
  return errors::WithReason(absl::NotFoundError(absl::StrCat(name, " not found")),
                            "TEMPLATE_NOT_FOUND", absl::StrCat(name, " 不存在"));
}

std::string RevisionField(int64_t revision) { return absl::StrCat("r", revision); }

absl::StatusOr<v1::Template> ParseTemplate(absl::string_view blob) {
  v1::Template t;
  if (!t.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError("stored template is corrupt");
  }
  return t;
}

}  // namespace

Store::Store(redis::Client* redis) : redis_(redis) {}

std::string Store::Scope(const std::string& org) {
  return org.empty() ? "gr:{_shared}:" : OrgPrefix(org);
}

std::string Store::TemplateKey(const std::string& org, const std::string& id) {
  return absl::StrCat(Scope(org), "tpl:", id);
}

std::string Store::IndexKey(const std::string& org) { return absl::StrCat(Scope(org), "tpls"); }

std::string Store::RequestKey(const std::string& org, const std::string& request_id) {
  // In the scope's slot, like the template the script writes.
  return request_id::Key(org.empty() ? "_shared" : org, request_id);
}

absl::StatusOr<int64_t> Store::LatestRevision(const std::string& org, const std::string& id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", TemplateKey(org, id), "latest"}));
  if (r.IsNil()) {
    return TemplateNotFound(TemplateRef{org, id, 0}.Name());
  }
  return r.AsInt();
}

absl::StatusOr<v1::Template> Store::ReadRevision(const TemplateRef& ref) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGET", TemplateKey(ref.org, ref.id),
                                                       RevisionField(ref.revision)}));
  if (r.IsNil()) return TemplateNotFound(ref.Name());
  return ParseTemplate(r.Str());
}

absl::StatusOr<std::vector<int64_t>> Store::LatestRevisions(const std::vector<TemplateRef>& refs) {
  std::vector<int64_t> out(refs.size(), 0);
  if (refs.empty()) return out;
  std::vector<redis::Args> cmds;
  cmds.reserve(refs.size());
  for (const TemplateRef& ref : refs)
    cmds.push_back({"HGET", TemplateKey(ref.org, ref.id), "latest"});
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (size_t k = 0; k < refs.size(); ++k) {
    GR_RETURN_IF_ERROR(replies[k].ErrorStatus());
    if (replies[k].IsNil()) continue;
    GR_ASSIGN_OR_RETURN(out[k], replies[k].AsInt());
  }
  return out;
}

absl::StatusOr<std::vector<std::optional<v1::Template>>> Store::ReadRevisions(
    const std::vector<TemplateRef>& refs) {
  std::vector<std::optional<v1::Template>> out(refs.size());
  if (refs.empty()) return out;
  std::vector<redis::Args> cmds;
  cmds.reserve(refs.size());
  for (const TemplateRef& ref : refs) {
    cmds.push_back({"HGET", TemplateKey(ref.org, ref.id), RevisionField(ref.revision)});
  }
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (size_t k = 0; k < refs.size(); ++k) {
    GR_RETURN_IF_ERROR(replies[k].ErrorStatus());
    if (replies[k].IsNil()) continue;
    GR_ASSIGN_OR_RETURN(out[k], ParseTemplate(replies[k].Str()));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Store::ListIds(const std::string& org,
                                                        const std::string& after, int64_t limit) {
  // Every score is 0: the set is ordered by id.
  GR_ASSIGN_OR_RETURN(
      redis::Reply ids,
      redis_->Command({"ZRANGEBYLEX", IndexKey(org), after.empty() ? "-" : absl::StrCat("(", after),
                       "+", "LIMIT", "0", absl::StrCat(limit)}));
  GR_RETURN_IF_ERROR(ids.ErrorStatus());
  std::vector<std::string> out;
  out.reserve(ids.Size());
  for (size_t i = 0; i < ids.Size(); ++i) out.push_back(ids[i].AsString());
  return out;
}

absl::StatusOr<WriteResult> Store::Write(WriteMode mode, const TemplateRef& ref,
                                         const v1::Template& t, int64_t expected,
                                         const request_id::Call& call) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(StoreTemplateScript(),
                   {TemplateKey(ref.org, ref.id), IndexKey(ref.org), RequestKey(ref.org, call.id)},
                   {mode == WriteMode::kCreate ? "create" : "update", absl::StrCat(expected),
                    t.SerializeAsString(), ref.id, request_id::RetentionSeconds(),
                    call.id.empty() ? "" : call.fingerprint}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  WriteResult out;
  out.outcome = ParseOutcome(r[0].Str());
  if (out.outcome == Outcome::kNotFound || out.outcome == Outcome::kRequestReused) return out;
  if (out.outcome != Outcome::kOk && out.outcome != Outcome::kReplayed &&
      out.outcome != Outcome::kExists && out.outcome != Outcome::kStale) {
    return absl::InternalError(absl::StrCat("template write: unknown outcome '", r[0].Str(), "'"));
  }
  GR_ASSIGN_OR_RETURN(out.revision, r[1].AsInt());
  return out;
}

std::string Store::ExtendsKey(const std::string& org, const std::string& id) {
  return absl::StrCat(Scope(org), "extends:", id);
}

absl::Status Store::NoteChild(const TemplateRef& child,
                              const std::vector<std::string>& parent_ids) {
  std::vector<redis::Args> cmds;
  const std::string name = TemplateRef{child.org, child.id, 0}.Name();
  for (const std::string& id : parent_ids) {
    if (!child.org.empty()) cmds.push_back({"SADD", ExtendsKey(child.org, id), name});
    cmds.push_back({"SADD", ExtendsKey("", id), name});
  }
  if (cmds.empty()) return absl::OkStatus();
  GR_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(cmds));
  for (const redis::Reply& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TemplateRef>> Store::Children(const std::string& org,
                                                         const std::string& id) {
  GR_ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"SMEMBERS", ExtendsKey(org, id)}));
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  std::vector<TemplateRef> out;
  out.reserve(r.Size());
  for (size_t i = 0; i < r.Size(); ++i) {
    GR_ASSIGN_OR_RETURN(TemplateRef child, ParseTemplateName(r[i].AsString()));
    out.push_back(std::move(child));
  }
  std::sort(out.begin(), out.end(), [](const TemplateRef& a, const TemplateRef& b) {
    return std::tie(a.org, a.id) < std::tie(b.org, b.id);
  });
  return out;
}

absl::Status Store::ForgetChild(const std::string& org, const std::string& id,
                                const TemplateRef& child) {
  GR_ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Command({"SREM", ExtendsKey(org, id), TemplateRef{child.org, child.id, 0}.Name()}));
  return r.ErrorStatus();
}

}  // namespace govreport::templates
