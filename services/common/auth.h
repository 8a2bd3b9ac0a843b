// The one place where callers are authenticated and authorized. A bearer
// token in the `authorization` metadata names a principal (subject, org,
// roles). Tokens are stored in Redis only as SHA-256 hashes. The org a call
// may touch comes from the principal, never from the request alone.
#ifndef GOVREPORT_COMMON_AUTH_H_
#define GOVREPORT_COMMON_AUTH_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis.h"

namespace govreport::auth {

inline constexpr absl::string_view kRecorder = "recorder";
inline constexpr absl::string_view kDrafter = "drafter";
inline constexpr absl::string_view kApprover = "approver";
inline constexpr absl::string_view kAdmin = "admin";
inline constexpr absl::string_view kAuditor = "auditor";
// The platform's own services (the assembler's workers). Only the operator
// issues it, and only with org "*": an org admin can never grant it, and a
// token of an org that carries it (issued before this rule) gains nothing.
inline constexpr absl::string_view kService = "service";
// Org of the platform operator, who may act on every org.
inline constexpr absl::string_view kAnyOrg = "*";

struct Principal {
  std::string subject;
  std::string org;
  std::vector<std::string> roles;
  std::string kind = "user";  // user | service
  std::string display_name;
  // When the token stops working (unix seconds); 0: never.
  int64_t expire_unix = 0;
  // Which token this is and who issued it ("org/subject"), so that what an
  // admin does with a token minted in someone else's name is attributable.
  std::string token_id{};
  std::string issued_by{};

  bool HasRole(absl::string_view role) const;
  bool IsOperator() const { return org == kAnyOrg; }
  bool CanActOn(absl::string_view target_org) const { return IsOperator() || org == target_org; }
};

bool IsKnownRole(absl::string_view role);

struct IssuedToken {
  std::string token_id;
  std::string secret;
  int64_t issue_unix = 0;
  int64_t expire_unix = 0;  // 0: never
};

struct TokenInfo {
  std::string token_id;
  Principal principal;
  int64_t issue_unix = 0;
  int64_t expire_unix = 0;
};

class TokenStore {
 public:
  explicit TokenStore(redis::Client* redis) : redis_(redis) {}
  // `issued_by`: "org/subject" of the issuer, kept with the token.
  absl::StatusOr<IssuedToken> Issue(const Principal& principal, absl::Duration ttl,
                                    absl::string_view issued_by = "");
  absl::Status Revoke(absl::string_view token_id, absl::string_view org_scope);
  absl::StatusOr<std::vector<TokenInfo>> List(absl::string_view org, int64_t offset, int64_t limit);
  // NOT_FOUND when no live token has this secret.
  absl::StatusOr<Principal> Lookup(absl::string_view secret);

 private:
  redis::Client* redis_;
};

class Authenticator {
 public:
  // operator_token: the platform operator's secret (GOVREPORT_ADMIN_TOKEN);
  // empty disables it.
  Authenticator(
      redis::Client* redis, std::string operator_token, absl::Duration cache_ttl = absl::Seconds(5),
      std::function<absl::Time()> clock = [] { return absl::Now(); });

  // UNAUTHENTICATED without a valid bearer token.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& ctx);
  absl::StatusOr<Principal> AuthenticateToken(absl::string_view secret);
  // Authenticates, then requires the principal to act on `org` and hold one
  // of `roles` (admin and operator hold every role of their scope).
  // PERMISSION_DENIED otherwise, checked before anything of `org` is read,
  // so a refusal reveals nothing about the other org's data.
  absl::StatusOr<Principal> Authorize(const grpc::ServerContext& ctx, absl::string_view org,
                                      std::initializer_list<absl::string_view> roles);
  static absl::Status Check(const Principal& principal, absl::string_view org,
                            std::initializer_list<absl::string_view> roles);

  TokenStore& tokens() { return store_; }

 private:
  struct Cached {
    Principal principal;
    absl::Time until;  // Of the cache entry; the token's own expiry is in principal.
  };
  TokenStore store_;
  std::string operator_hash_;
  absl::Duration cache_ttl_;
  std::function<absl::Time()> clock_;
  std::mutex mu_;
  // A revoked token may be honoured for at most cache_ttl.
  absl::flat_hash_map<std::string, Cached> cache_;
};

// Client side: attach a bearer token to an outgoing call.
void AttachToken(grpc::ClientContext& ctx, absl::string_view token);

}  // namespace govreport::auth

#endif  // GOVREPORT_COMMON_AUTH_H_
