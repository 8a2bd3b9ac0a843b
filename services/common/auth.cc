#include "common/auth.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/metrics.h"
#include "common/outcome.h"
#include "common/paging.h"
#include "common/resource.h"
#include "common/status.h"

namespace govreport::auth {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

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

namespace {

// Writes the token and, with a request id, remembers the call in the same
// step, so two repeats racing each other issue one token.
// KEYS: request, token (by secret hash), id, org index.
// ARGV: fp, result, retention, id, subject, org, roles, kind, display, by,
//       issued, expires, hash.
const redis::Script& IssueScript() {
  static const redis::Script script(std::string(request_id::kLuaPrelude) + R"lua(
local prior = request_prior(KEYS[1], ARGV[1])
if prior then return prior end
redis.call('HSET', KEYS[2], 'id', ARGV[4], 'subject', ARGV[5], 'org', ARGV[6],
           'roles', ARGV[7], 'kind', ARGV[8], 'display', ARGV[9], 'by', ARGV[10],
           'issued', ARGV[11], 'expires', ARGV[12])
redis.call('SET', KEYS[3], ARGV[13])
redis.call('ZADD', KEYS[4], ARGV[11], ARGV[4])
if ARGV[12] ~= '0' then
  redis.call('EXPIREAT', KEYS[2], ARGV[12])
  redis.call('EXPIREAT', KEYS[3], ARGV[12])
end
request_remember(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return {'OK'}
)lua");
  return script;
}

// What a repeat of IssueToken needs: the token's id, times and secret hash
// (to tell when the replay key changed). Never the secret.
std::string IssueResult(const IssuedToken& t, absl::string_view hash) {
  return absl::StrCat(t.token_id, " ", t.issue_unix, " ", t.expire_unix, " ", hash);
}

}  // namespace

// On a cluster every token key carries the {auth} hash tag, and so do the
// replay keys of token calls, so that the IssueToken script and the revoke
// MULTI touch one slot. A single Redis keeps the names it always had.
TokenStore::TokenStore(redis::Client* redis)
    : redis_(redis),
      replay_key_(RandomHex(32)),
      prefix_(redis != nullptr && redis->cluster() ? "gr:{auth}:" : "gr:auth:") {}

std::string TokenStore::TokenKey(absl::string_view hash) const {
  return absl::StrCat(prefix_, "tok:", hash);
}
std::string TokenStore::IdKey(absl::string_view id) const {
  return absl::StrCat(prefix_, "id:", id);
}
std::string TokenStore::OrgKey(absl::string_view org) const {
  return absl::StrCat(prefix_, "org:", org);
}
std::string TokenStore::RequestKey(const TokenCall& call) const {
  if (!redis_->cluster()) return request_id::Key(call.org, call.call.id);
  // The org ("*" for the operator) cannot hold a ':'.
  return absl::StrCat(prefix_, "rq:", call.org, ":", call.call.id.empty() ? "-" : call.call.id);
}

std::string TokenStore::SecretFor(const TokenCall& call) const {
  if (call.call.id.empty()) return absl::StrCat("grt_", RandomHex(24));
  std::string mac = HmacSha256Hex(replay_key_, absl::StrCat(request_id::Key(call.org, call.call.id),
                                                            "\n", call.call.fingerprint));
  return absl::StrCat("grt_", mac.substr(0, 48));
}

absl::StatusOr<IssuedToken> TokenStore::ReplayIssue(const TokenCall& call,
                                                    absl::string_view result) const {
  std::vector<std::string> parts = absl::StrSplit(result, ' ');
  IssuedToken t;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[1], &t.issue_unix) ||
      !absl::SimpleAtoi(parts[2], &t.expire_unix)) {
    return absl::InternalError("a remembered IssueToken result is malformed");
  }
  t.token_id = parts[0];
  t.secret = SecretFor(call);
  if (Sha256Hex(t.secret) != parts[3]) {
    // Another deployment secret (or none) than the first call's.
    return absl::FailedPreconditionError(absl::StrCat(
        "request_id: '", call.call.id, "' issued token ", t.token_id,
        ", whose secret cannot be shown again (the deployment secret changed); revoke it and "
        "issue a new one with another request_id"));
  }
  return t;
}

absl::StatusOr<IssuedToken> TokenStore::Issue(const Principal& p, absl::Duration ttl,
                                              absl::string_view issued_by, const TokenCall& call) {
  GR_RETURN_IF_ERROR(request_id::Validate(call.call.id));
  IssuedToken t;
  t.token_id = NewId();
  t.secret = SecretFor(call);
  t.issue_unix = absl::ToUnixSeconds(absl::Now());
  t.expire_unix = ttl > absl::ZeroDuration() ? t.issue_unix + absl::ToInt64Seconds(ttl) : 0;
  std::string hash = Sha256Hex(t.secret);
  const std::string& fp = call.call.id.empty() ? std::string() : call.call.fingerprint;
  GR_ASSIGN_OR_RETURN(
      redis::Reply reply,
      redis_->Eval(
          IssueScript(), {RequestKey(call), TokenKey(hash), IdKey(t.token_id), OrgKey(p.org)},
          {fp, IssueResult(t, hash), request_id::RetentionSeconds(), t.token_id, p.subject, p.org,
           absl::StrJoin(p.roles, ","), p.kind, p.display_name, std::string(issued_by),
           absl::StrCat(t.issue_unix), absl::StrCat(t.expire_unix), hash}));
  switch (ParseOutcome(reply.Size() > 0 ? reply[0].Str() : "")) {
    case Outcome::kOk:
      return t;
    case Outcome::kReplayed:
      return ReplayIssue(call, reply.Size() > 1 ? reply[1].Str() : "");
    case Outcome::kRequestReused:
      return request_id::Reused(call.call.id);
    default:
      return absl::InternalError("the IssueToken script answered something unexpected");
  }
}

absl::Status TokenStore::Revoke(absl::string_view token_id, absl::string_view org_scope,
                                const TokenCall& call) {
  GR_RETURN_IF_ERROR(request_id::Validate(call.call.id));
  // A repeat answers what the first call answered: OK (a refused first call
  // is not remembered, so it is simply tried again).
  auto replayed = [&]() -> absl::StatusOr<bool> {
    if (call.call.id.empty()) return false;
    GR_ASSIGN_OR_RETURN(redis::Reply reply,
                        redis_->Command({"HMGET", RequestKey(call), "fp", "result"}));
    std::optional<request_id::Prior> prior = request_id::PriorFromReply(reply);
    if (!prior) return false;
    GR_RETURN_IF_ERROR(request_id::FirstResult(*prior, call.call).status());
    return true;
  };
  GR_ASSIGN_OR_RETURN(bool done, replayed());
  if (done) return absl::OkStatus();
  auto not_found = [&] {
    return errors::WithReason(absl::NotFoundError(absl::StrCat("token ", token_id, " not found")),
                              "TOKEN_NOT_FOUND", "令牌不存在");
  };
  GR_ASSIGN_OR_RETURN(redis::Reply hash, redis_->Command({"GET", IdKey(token_id)}));
  if (hash.IsNil()) {
    // Perhaps a repeat that raced the first call past the check above: the
    // first call's MULTI removed the token and remembered the id together.
    GR_ASSIGN_OR_RETURN(done, replayed());
    return done ? absl::OkStatus() : not_found();
  }
  GR_ASSIGN_OR_RETURN(redis::Reply org, redis_->Command({"HGET", TokenKey(hash.Str()), "org"}));
  if (org_scope != kAnyOrg && org.Str() != org_scope) {
    // Same answer as an unknown id: nothing leaks across orgs.
    return not_found();
  }
  std::vector<redis::Args> cmds = {{"MULTI"},
                                   {"DEL", TokenKey(hash.Str()), IdKey(token_id)},
                                   {"ZREM", OrgKey(org.Str()), std::string(token_id)}};
  if (!call.call.id.empty()) {
    const std::string key = RequestKey(call);
    cmds.push_back({"HSET", key, "fp", call.call.fingerprint, "result", "revoked"});
    cmds.push_back({"EXPIRE", key, request_id::RetentionSeconds()});
  }
  cmds.push_back({"EXEC"});
  GR_ASSIGN_OR_RETURN(auto replies, redis_->Pipeline(cmds));
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
  absl::StatusOr<Principal> principal = AuthenticateToken(value.substr(kBearer.size()));
  // Who calls, for the call's access log line, as issued_by names people
  // ("org/subject"): never the token.
  if (principal.ok())
    metrics::NotePrincipal(&ctx, absl::StrCat(principal->org, "/", principal->subject));
  return principal;
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
