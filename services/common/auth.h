// The one place where callers are authenticated and authorized. A bearer
// token in the `authorization` metadata names a principal (subject, org,
// roles). Tokens are stored in Redis only as SHA-256 hashes. The org a call
// may touch comes from the principal, never from the request alone.
#ifndef GOVREPORT_COMMON_AUTH_H_
#define GOVREPORT_COMMON_AUTH_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "common/status.h"

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

// Who may call what, named once for every service. A principal passes
// when it acts on the org and holds one of the set's roles; admins and the
// operator hold every role of their scope, and an empty set lets any member
// of the org pass.
using RoleSet = absl::Span<const absl::string_view>;
namespace roles {
inline constexpr absl::string_view kAnyMember[] = {""};
inline constexpr absl::string_view kAdmins[] = {kAdmin};
inline constexpr absl::string_view kAdminsAndAuditors[] = {kAdmin, kAuditor};
// Records: who writes activity records, and who reads them and the figures.
inline constexpr absl::string_view kRecordWriters[] = {kRecorder, kService};
inline constexpr absl::string_view kRecordReaders[] = {kRecorder, kDrafter, kApprover, kAuditor,
                                                       kService};
// Templates are read by everyone who takes part in a report.
inline constexpr absl::string_view kTemplateReaders[] = {kDrafter, kApprover, kAuditor, kService,
                                                         kRecorder};
// Reports: drafters write them (the platform's services for them); the
// approvers who decide on them, auditors and services read them.
inline constexpr absl::string_view kReportWriters[] = {kDrafter, kService};
inline constexpr absl::string_view kReportReaders[] = {kDrafter, kApprover, kAuditor, kService};
// Which workflows a template's reports may take.
inline constexpr absl::string_view kWorkflowBindingReaders[] = {kDrafter, kApprover, kAuditor,
                                                                kAdmin, kService};
// Approval: who starts, decides, urges and comments, and who reads the
// whole history of every approval.
inline constexpr absl::string_view kInitiators[] = {kDrafter, kService};
inline constexpr absl::string_view kDeciders[] = {kApprover};
inline constexpr absl::string_view kDrafters[] = {kDrafter};
inline constexpr absl::string_view kCommenters[] = {kDrafter, kApprover, kAuditor};
inline constexpr absl::string_view kOverseers[] = {kAuditor, kService};
inline constexpr absl::string_view kSupervisors[] = {kAuditor, kAdmin};
}  // namespace roles

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

// A request id of IssueToken / RevokeToken: the call, and the org whose
// request ids it is one of (the caller's; "*" for the operator).
struct TokenCall {
  request_id::Call call;
  std::string org;
};

class TokenStore {
 public:
  explicit TokenStore(redis::Client* redis);
  // `issued_by`: "org/subject" of the issuer, kept with the token. With a
  // request id, the secret is derived from the call under the replay key
  // instead of drawn at random, so a repeat can answer the same secret
  // although only its hash is stored.
  absl::StatusOr<IssuedToken> Issue(const Principal& principal, absl::Duration ttl,
                                    absl::string_view issued_by = "", const TokenCall& call = {});
  // A repeat of a revocation (same request id) answers OK again.
  absl::Status Revoke(absl::string_view token_id, absl::string_view org_scope,
                      const TokenCall& call = {});
  // DeriveKey(secret, "token-request"), the same on every replica, so that a
  // repeat served by another replica or after a restart answers the same
  // secret. Without it, a random key of this process.
  void SetReplayKey(std::string key) { replay_key_ = std::move(key); }
  // The org's tokens by issue time, then token id (its unique, stable
  // order), after the cursor `after` (paging.h; "" from the start), at most
  // `limit`. `next` is the cursor after the last one read ("" when no more
  // are left); expired tokens are passed over.
  struct TokenPage {
    std::vector<TokenInfo> tokens;
    std::string next;
  };
  absl::StatusOr<TokenPage> List(absl::string_view org, const std::string& after, int limit);
  // NOT_FOUND when no live token has this secret.
  absl::StatusOr<Principal> Lookup(absl::string_view secret);

 private:
  std::string SecretFor(const TokenCall& call) const;
  absl::StatusOr<IssuedToken> ReplayIssue(const TokenCall& call, absl::string_view result) const;
  std::string TokenKey(absl::string_view hash) const;
  std::string IdKey(absl::string_view id) const;
  std::string OrgKey(absl::string_view org) const;
  // Where a token call's request id is remembered.
  std::string RequestKey(const TokenCall& call) const;

  redis::Client* redis_;
  std::string replay_key_;
  std::string prefix_;  // gr:auth: or, on a cluster, gr:{auth}:
};

class Authenticator {
 public:
  // operator_token: the platform operator's secret (GOVREPORT_ADMIN_TOKEN);
  // empty disables it.
  Authenticator(
      redis::Client* redis, absl::string_view operator_token,
      absl::Duration cache_ttl = absl::Seconds(5),
      std::function<absl::Time()> clock = [] { return absl::Now(); });

  // UNAUTHENTICATED without a valid bearer token.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& ctx);
  absl::StatusOr<Principal> AuthenticateToken(absl::string_view secret);
  // Authenticates, then requires the principal to act on `org` and hold one
  // of `roles`. PERMISSION_DENIED otherwise, checked before anything of
  // `org` is read, so a refusal reveals nothing about the other org's data.
  absl::StatusOr<Principal> AuthorizeOrg(const grpc::ServerContext& ctx, absl::string_view org,
                                         RoleSet roles);

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

// The rule AuthorizeOrg applies, for a principal already authenticated.
absl::Status CheckOrgRoles(const Principal& principal, absl::string_view org, RoleSet roles);

// The rules of issuing a token: only an admin of `wanted.org` (or the
// operator) issues it, "*" tokens and the service role only by the
// operator, known roles, a ttl within ten years (0: no expiry).
absl::Status CheckIssuable(const Principal& issuer, const Principal& wanted, int64_t ttl_seconds);

// Client side: attach a bearer token to an outgoing call.
void AttachToken(grpc::ClientContext& ctx, absl::string_view token);

}  // namespace govreport::auth

// The authorization edge of a gRPC method: resolves the org of the request
// (an absl::StatusOr<std::string>), then authenticates and authorizes the
// caller for it, or returns the error from the enclosing method. Declares
// `org` and `principal` (an absl::StatusOr<Principal> known to be ok).
#define GR_AUTHORIZE_ORG(principal, org_expr, role_set)                  \
  auto gr_org_ = (org_expr);                                             \
  if (!gr_org_.ok()) return ::govreport::ToGrpcStatus(gr_org_.status()); \
  const std::string& org = *gr_org_;                                     \
  auto principal = auth_->AuthorizeOrg(*ctx, org, role_set);             \
  if (!principal.ok()) return ::govreport::ToGrpcStatus(principal.status())

// Authenticates only, for a core that authorizes by what the call names
// (approval): declares `principal` (const Principal&) or returns the error.
#define GR_AUTHENTICATE(principal)                                                   \
  auto gr_principal_ = auth_->Authenticate(*ctx);                                    \
  if (!gr_principal_.ok()) return ::govreport::ToGrpcStatus(gr_principal_.status()); \
  const ::govreport::auth::Principal& principal = *gr_principal_

// The same for a request naming a resource: `parsed_expr` is an
// absl::StatusOr of a parsed name with an `org` member, kept as `ref`.
#define GR_AUTHORIZE_REF(principal, ref, parsed_expr, role_set)          \
  auto gr_ref_ = (parsed_expr);                                          \
  if (!gr_ref_.ok()) return ::govreport::ToGrpcStatus(gr_ref_.status()); \
  const auto& ref = *gr_ref_;                                            \
  auto principal = auth_->AuthorizeOrg(*ctx, ref.org, role_set);         \
  if (!principal.ok()) return ::govreport::ToGrpcStatus(principal.status())

#endif  // GOVREPORT_COMMON_AUTH_H_
