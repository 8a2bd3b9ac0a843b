// Resource names (AIP-122), ids, page tokens and key prefixes shared by every
// service.
#ifndef GOVREPORT_COMMON_RESOURCE_H_
#define GOVREPORT_COMMON_RESOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport {

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

// Opaque page tokens over an offset; a token from another list or a forged
// one is INVALID_ARGUMENT.
std::string EncodePageToken(absl::string_view list, int64_t offset);
absl::StatusOr<int64_t> DecodePageToken(absl::string_view list,
                                        absl::string_view token);
// 0 → default; above max → max; negative → INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size);

}  // namespace govreport

#endif  // GOVREPORT_COMMON_RESOURCE_H_
