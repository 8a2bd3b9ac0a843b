#include "common/auth.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"

namespace govreport::auth {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

std::string TokenKey(absl::string_view hash) { return absl::StrCat("gr:auth:tok:", hash); }
std::string IdKey(absl::string_view id) { return absl::StrCat("gr:auth:id:", id); }
std::string OrgKey(absl::string_view org) { return absl::StrCat("gr:auth:org:", org); }

Principal FromHash(const redis::Reply& reply) {
  Principal p;
  for (size_t i = 0; i + 1 < reply.Size(); i += 2) {
    absl::string_view k = reply[i].Str();
    std::string v = reply[i + 1].AsString();
    if (k == "subject")
      p.subject = v;
    else if (k == "org")
      p.org = v;
    else if (k == "kind")
      p.kind = v;
    else if (k == "display")
      p.display_name = v;
    else if (k == "roles" && !v.empty())
      p.roles = absl::StrSplit(v, ',');
    else if (k == "expires")
      (void)absl::SimpleAtoi(v, &p.expire_unix);
    else if (k == "id")
      p.token_id = v;
    else if (k == "by")
      p.issued_by = v;
  }
  if (!p.IsOperator()) {
    // The platform's role means nothing on an org's token.
    p.roles.erase(std::remove(p.roles.begin(), p.roles.end(), kService), p.roles.end());
  }
  return p;
}

}  // namespace

bool Principal::HasRole(absl::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool IsKnownRole(absl::string_view role) {
  // kService is known, but IssueToken grants it only for org "*".
  return role == kRecorder || role == kDrafter || role == kApprover || role == kAdmin ||
         role == kAuditor || role == kService;
}

absl::StatusOr<IssuedToken> TokenStore::Issue(const Principal& p, absl::Duration ttl,
                                              absl::string_view issued_by) {
  IssuedToken t;
  t.token_id = NewId();
  t.secret = absl::StrCat("grt_", RandomHex(24));
  t.issue_unix = absl::ToUnixSeconds(absl::Now());
  t.expire_unix = ttl > absl::ZeroDuration() ? t.issue_unix + absl::ToInt64Seconds(ttl) : 0;
  std::string hash = Sha256Hex(t.secret);
  std::vector<redis::Args> cmds = {{"MULTI"},
                                   {"HSET",    TokenKey(hash),
                                    "id",      t.token_id,
                                    "subject", p.subject,
                                    "org",     p.org,
                                    "roles",   absl::StrJoin(p.roles, ","),
                                    "kind",    p.kind,
                                    "display", p.display_name,
                                    "by",      std::string(issued_by),
                                    "issued",  absl::StrCat(t.issue_unix),
                                    "expires", absl::StrCat(t.expire_unix)},
                                   {"SET", IdKey(t.token_id), hash},
                                   {"ZADD", OrgKey(p.org), absl::StrCat(t.issue_unix), t.token_id}};
  if (t.expire_unix) {
    cmds.push_back({"EXPIREAT", TokenKey(hash), absl::StrCat(t.expire_unix)});
    cmds.push_back({"EXPIREAT", IdKey(t.token_id), absl::StrCat(t.expire_unix)});
  }
  cmds.push_back({"EXEC"});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  return t;
}

absl::Status TokenStore::Revoke(absl::string_view token_id, absl::string_view org_scope) {
  GR_ASSIGN_OR_RETURN(redis::Reply hash, redis_->Command({"GET", IdKey(token_id)}));
  if (hash.IsNil()) {
    return errors::WithReason(absl::NotFoundError(absl::StrCat("token ", token_id, " not found")),
                              "TOKEN_NOT_FOUND", "令牌不存在");
  }
  GR_ASSIGN_OR_RETURN(redis::Reply org, redis_->Command({"HGET", TokenKey(hash.Str()), "org"}));
  if (org_scope != kAnyOrg && org.Str() != org_scope) {
    // Same answer as an unknown id: nothing leaks across orgs.
    return errors::WithReason(absl::NotFoundError(absl::StrCat("token ", token_id, " not found")),
                              "TOKEN_NOT_FOUND", "令牌不存在");
  }
  GR_ASSIGN_OR_RETURN(auto replies,
                      redis_->Pipeline({{"DEL", TokenKey(hash.Str()), IdKey(token_id)},
                                        {"ZREM", OrgKey(org.Str()), std::string(token_id)}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TokenInfo>> TokenStore::List(absl::string_view org, int64_t offset,
                                                        int64_t limit) {
  GR_ASSIGN_OR_RETURN(redis::Reply ids,
                      redis_->Command({"ZRANGE", OrgKey(org), absl::StrCat(offset),
                                       absl::StrCat(offset + limit - 1)}));
  std::vector<TokenInfo> out;
  for (size_t i = 0; i < ids.Size(); ++i) {
    std::string id = ids[i].AsString();
    GR_ASSIGN_OR_RETURN(redis::Reply hash, redis_->Command({"GET", IdKey(id)}));
    if (hash.IsNil()) continue;  // Expired.
    GR_ASSIGN_OR_RETURN(redis::Reply fields, redis_->Command({"HGETALL", TokenKey(hash.Str())}));
    TokenInfo info;
    info.token_id = id;
    info.principal = FromHash(fields);
    for (size_t j = 0; j + 1 < fields.Size(); j += 2) {
      if (fields[j].Str() == "issued") info.issue_unix = *fields[j + 1].AsInt();
      if (fields[j].Str() == "expires") info.expire_unix = *fields[j + 1].AsInt();
    }
    out.push_back(std::move(info));
  }
  return out;
}

namespace {
absl::Status InvalidToken() {
  return errors::WithReason(absl::UnauthenticatedError("invalid, expired or revoked token"),
                            "TOKEN_INVALID", "令牌无效、已过期或已被吊销");
}
}  // namespace

absl::StatusOr<Principal> TokenStore::Lookup(absl::string_view secret) {
  GR_ASSIGN_OR_RETURN(redis::Reply fields,
                      redis_->Command({"HGETALL", TokenKey(Sha256Hex(secret))}));
  if (fields.Size() == 0) return absl::NotFoundError("unknown token");
  return FromHash(fields);
}

Authenticator::Authenticator(redis::Client* redis, absl::string_view operator_token,
                             absl::Duration cache_ttl, std::function<absl::Time()> clock)
    : store_(redis),
      operator_hash_(operator_token.empty() ? "" : Sha256Hex(operator_token)),
      cache_ttl_(cache_ttl),
      clock_(std::move(clock)) {}

absl::StatusOr<Principal> Authenticator::AuthenticateToken(absl::string_view secret) {
  if (secret.empty()) {
    return errors::WithReason(
        absl::UnauthenticatedError(
            "missing bearer token: send metadata 'authorization: Bearer <token>'"),
        "TOKEN_MISSING", "缺少令牌：请在元数据中发送 'authorization: Bearer <令牌>'");
  }
  std::string hash = Sha256Hex(secret);
  if (!operator_hash_.empty() && ConstantTimeEquals(hash, operator_hash_)) {
    return Principal{
        "operator", std::string(kAnyOrg), {std::string(kAdmin)}, "user", "platform operator"};
  }
  absl::Time now = clock_();
  // Checked on every use, cached or not: Redis expires the key only to the
  // second, and a cached entry may outlive the token.
  auto expired = [now](const Principal& p) {
    return p.expire_unix != 0 && absl::ToUnixSeconds(now) >= p.expire_unix;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && it->second.until > now) {
      if (expired(it->second.principal)) {
        cache_.erase(it);
        return InvalidToken();
      }
      return it->second.principal;
    }
  }
  auto principal = store_.Lookup(secret);
  if (absl::IsNotFound(principal.status()) || (principal.ok() && expired(*principal))) {
    return InvalidToken();
  }
  if (!principal.ok()) {
    // The detail is Redis's: for the log only.
    return errors::MarkInternal(absl::UnavailableError(
        absl::StrCat("cannot check the token now: ", principal.status().message())));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() > 10000) cache_.clear();  // Bound memory under abuse.
  cache_[hash] = Cached{*principal, now + cache_ttl_};
  return *principal;
}

absl::StatusOr<Principal> Authenticator::Authenticate(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return AuthenticateToken("");
  if (md.count("authorization") > 1) {
    // Which one would a proxy or another service read? Refuse to guess.
    return errors::WithReason(absl::UnauthenticatedError("send exactly one authorization header"),
                              "AUTHORIZATION_MALFORMED", "只能发送一个 authorization 元数据");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kBearer.size()) != kBearer) {
    return errors::WithReason(
        absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'"),
        "AUTHORIZATION_MALFORMED", "authorization 元数据的格式必须是 'Bearer <令牌>'");
  }
  return AuthenticateToken(value.substr(kBearer.size()));
}

absl::Status CheckOrgRoles(const Principal& p, absl::string_view org, RoleSet roles) {
  if (!p.CanActOn(org)) {
    return errors::WithReason(
        absl::PermissionDeniedError(absl::StrCat("principal '", p.subject, "' of org '", p.org,
                                                 "' may not act on org '", org, "'")),
        "OTHER_ORG", absl::StrCat("调用者不属于单位 '", org, "'，无权操作"));
  }
  if (p.IsOperator() || p.HasRole(kAdmin)) return absl::OkStatus();
  for (absl::string_view r : roles) {
    if (r.empty() || p.HasRole(r)) return absl::OkStatus();
  }
  return errors::WithReason(
      absl::PermissionDeniedError(absl::StrCat(
          "principal '", p.subject, "' needs one of the roles: ", absl::StrJoin(roles, ", "))),
      "ROLE_REQUIRED", absl::StrCat("需要以下角色之一：", absl::StrJoin(roles, ", ")));
}

absl::StatusOr<Principal> Authenticator::AuthorizeOrg(const grpc::ServerContext& ctx,
                                                      absl::string_view org, RoleSet roles) {
  GR_ASSIGN_OR_RETURN(Principal p, Authenticate(ctx));
  GR_RETURN_IF_ERROR(CheckOrgRoles(p, org, roles));
  return p;
}

absl::Status CheckIssuable(const Principal& issuer, const Principal& wanted, int64_t ttl_seconds) {
  GR_RETURN_IF_ERROR(CheckOrgRoles(issuer, wanted.org, roles::kAdmins));
  if (wanted.subject.empty()) {
    return errors::InvalidField("principal.subject", "FIELD_REQUIRED", "must be set", "必须填写");
  }
  if (wanted.org != kAnyOrg && !IsValidId(wanted.org)) {
    return errors::InvalidField("principal.org", "INVALID_ORG_ID", "not an org id",
                                "不是有效的单位标识");
  }
  if (wanted.org == kAnyOrg && !issuer.IsOperator()) {
    return errors::WithReason(absl::PermissionDeniedError("only the operator issues '*' tokens"),
                              "OPERATOR_ONLY", "只有平台运营方可以签发 '*' 令牌");
  }
  for (const auto& r : wanted.roles) {
    if (!IsKnownRole(r)) {
      return errors::InvalidField(
          "principal.roles", "UNKNOWN_ROLE",
          absl::StrCat("unknown role '", r,
                       "' (recorder, drafter, approver, admin, auditor, service)"),
          absl::StrCat("未知角色 '", r, "'"));
    }
    if (r == kService && wanted.org != kAnyOrg) {
      return errors::WithReason(
          absl::PermissionDeniedError(
              "principal.roles: 'service' is the platform's own role; only the operator issues "
              "it, for org '*' (an org's systems use recorder)"),
          "OPERATOR_ONLY", "'service' 角色只能由平台运营方为 '*' 签发");
    }
  }
  // Bounded so that issue time + ttl cannot overflow; 0 still means the
  // token does not expire.
  constexpr int64_t kMaxTtlSeconds = int64_t{10} * 366 * 24 * 3600;
  if (ttl_seconds < 0 || ttl_seconds > kMaxTtlSeconds) {
    return errors::InvalidField(
        "ttl_seconds", "TTL_OUT_OF_RANGE",
        absl::StrCat("between 0 (no expiry) and ", kMaxTtlSeconds, " (ten years)"),
        "必须在 0（不过期）到十年之间");
  }
  return absl::OkStatus();
}

void AttachToken(grpc::ClientContext& ctx, absl::string_view token) {
  if (!token.empty()) {
    ctx.AddMetadata("authorization", absl::StrCat(kBearer, token));
  }
}

}  // namespace govreport::auth
