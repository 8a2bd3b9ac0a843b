#include "common/auth.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/paging.h"
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
    return absl::NotFoundError(absl::StrCat("token ", token_id, " not found"));
  }
  GR_ASSIGN_OR_RETURN(redis::Reply org, redis_->Command({"HGET", TokenKey(hash.Str()), "org"}));
  if (org_scope != kAnyOrg && org.Str() != org_scope) {
    // Same answer as an unknown id: nothing leaks across orgs.
    return absl::NotFoundError(absl::StrCat("token ", token_id, " not found"));
  }
  GR_ASSIGN_OR_RETURN(auto replies,
                      redis_->Pipeline({{"DEL", TokenKey(hash.Str()), IdKey(token_id)},
                                        {"ZREM", OrgKey(org.Str()), std::string(token_id)}}));
  for (const auto& r : replies) GR_RETURN_IF_ERROR(r.ErrorStatus());
  return absl::OkStatus();
}

absl::StatusOr<TokenStore::TokenPage> TokenStore::List(absl::string_view org,
                                                       const std::string& after, int limit) {
  std::optional<paging::ZEntry> cursor;
  if (!after.empty()) {
    GR_ASSIGN_OR_RETURN(cursor, paging::ParseZCursor(after));
  }
  GR_ASSIGN_OR_RETURN(auto entries, paging::ZPageAfter(*redis_, OrgKey(org), cursor, limit, false));
  TokenPage out;
  for (const paging::ZEntry& e : entries) {
    const std::string& id = e.member;
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
    out.tokens.push_back(std::move(info));
  }
  if (static_cast<int>(entries.size()) == limit) out.next = paging::EncodeZCursor(entries.back());
  return out;
}

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
    return absl::UnauthenticatedError(
        "missing bearer token: send metadata 'authorization: Bearer <token>'");
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
        return absl::UnauthenticatedError("invalid, expired or revoked token");
      }
      return it->second.principal;
    }
  }
  auto principal = store_.Lookup(secret);
  if (absl::IsNotFound(principal.status()) || (principal.ok() && expired(*principal))) {
    return absl::UnauthenticatedError("invalid, expired or revoked token");
  }
  if (!principal.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot check the token now: ", principal.status().message()));
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
    return absl::UnauthenticatedError("send exactly one authorization header");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  return AuthenticateToken(value.substr(kBearer.size()));
}

absl::Status CheckOrgRoles(const Principal& p, absl::string_view org, RoleSet roles) {
  if (!p.CanActOn(org)) {
    return absl::PermissionDeniedError(absl::StrCat("principal '", p.subject, "' of org '", p.org,
                                                    "' may not act on org '", org, "'"));
  }
  if (p.IsOperator() || p.HasRole(kAdmin)) return absl::OkStatus();
  for (absl::string_view r : roles) {
    if (r.empty() || p.HasRole(r)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "principal '", p.subject, "' needs one of the roles: ", absl::StrJoin(roles, ", ")));
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
    return absl::InvalidArgumentError("principal.subject: must be set");
  }
  if (wanted.org != kAnyOrg && !IsValidId(wanted.org)) {
    return absl::InvalidArgumentError("principal.org: not an org id");
  }
  if (wanted.org == kAnyOrg && !issuer.IsOperator()) {
    return absl::PermissionDeniedError("only the operator issues '*' tokens");
  }
  for (const auto& r : wanted.roles) {
    if (!IsKnownRole(r)) {
      return absl::InvalidArgumentError(
          absl::StrCat("principal.roles: unknown role '", r,
                       "' (recorder, drafter, approver, admin, auditor, service)"));
    }
    if (r == kService && wanted.org != kAnyOrg) {
      return absl::PermissionDeniedError(
          "principal.roles: 'service' is the platform's own role; only the operator issues it, "
          "for org '*' (an org's systems use recorder)");
    }
  }
  // Bounded so that issue time + ttl cannot overflow; 0 still means the
  // token does not expire.
  constexpr int64_t kMaxTtlSeconds = int64_t{10} * 366 * 24 * 3600;
  if (ttl_seconds < 0 || ttl_seconds > kMaxTtlSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl_seconds: between 0 (no expiry) and ", kMaxTtlSeconds, " (ten years)"));
  }
  return absl::OkStatus();
}

void AttachToken(grpc::ClientContext& ctx, absl::string_view token) {
  if (!token.empty()) {
    ctx.AddMetadata("authorization", absl::StrCat(kBearer, token));
  }
}

}  // namespace govreport::auth
