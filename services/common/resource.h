// Resource names (AIP-122), ids, page tokens and key prefixes shared by every
// service.
#ifndef GOVREPORT_COMMON_RESOURCE_H_
#define GOVREPORT_COMMON_RESOURCE_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport {

// The sorted set of every org id: records writes it, the assembler's
// metrics read it (SCAN is refused to every service).
inline constexpr absl::string_view kOrgIndexKey = "gr:orgs";

// Lower-case letters, digits and '-', 1..63 characters, starting with a
// letter or digit: safe inside a Redis hash tag and a URL.
bool IsValidId(absl::string_view id);

// Matches `name` against a pattern such as "orgs/*/activities/*" and
// returns the parts that stand for the stars. INVALID_ARGUMENT naming
// `field` otherwise.
absl::StatusOr<std::vector<std::string>> ParseName(absl::string_view name,
                                                   absl::string_view pattern,
                                                   absl::string_view field);

// "orgs/{org}" → org id.
absl::StatusOr<std::string> ParseOrgName(absl::string_view name,
                                         absl::string_view field = "parent");

// "gr:{org}:" — every key of one org carries the org as its hash tag.
std::string OrgPrefix(absl::string_view org);

// Page tokens. Clients treat them as opaque; each is MAC'd with
// HMAC-SHA-256 under the process's page-token key (SetPageTokenKey,
// ConfigurePageTokens in common/secret.h) over a format version, the list it
// belongs to and its cursor (an offset or a string). `list` names everything
// that defines the list: build it with PageList from the kind of list, the
// org, the parent and every filter. A token of another list, org, filter or
// key, a forged, truncated or altered one, or one over kMaxPageTokenBytes is
// INVALID_ARGUMENT "page_token: ..." before its cursor is looked at. An empty
// token is the first page (offset 0, cursor "").
inline constexpr size_t kMaxPageTokenBytes = 512;
inline constexpr size_t kMaxPageCursorBytes = 256;
// Decoded offsets are within [0, kMaxPageOffset], so offset + page size
// never overflows an int64; an offset past a list's end is an empty page.
inline constexpr int64_t kMaxPageOffset = int64_t{1} << 48;

// An unambiguous list id from its parts (each length-prefixed, so that no
// two different part lists give the same id).
std::string PageList(std::initializer_list<absl::string_view> parts);

std::string EncodePageToken(absl::string_view list, int64_t offset);
absl::StatusOr<int64_t> DecodePageToken(absl::string_view list, absl::string_view token);
// A string cursor (the last id of the page, say). The decoded cursor is at
// most kMaxPageCursorBytes; the caller still checks its form.
std::string EncodeCursorToken(absl::string_view list, absl::string_view cursor);
absl::StatusOr<std::string> DecodeCursorToken(absl::string_view list, absl::string_view token);

// The key page tokens are MAC'd with. Until set, a random key of this
// process (tokens then do not survive a restart or work across replicas).
// Set once at start, before serving; safe to call while serving.
void SetPageTokenKey(absl::string_view key);
// 0 → default; above max → max; negative → INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size);

// The rule of every List that takes `changed_after` (an incremental sync):
// not negative, and only with order_by "" or "change_sequence", since the
// change order is the one a sync from a sequence can resume. True when the
// list reads in change order.
absl::StatusOr<bool> InChangeOrder(absl::string_view order_by, int64_t changed_after);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_RESOURCE_H_
