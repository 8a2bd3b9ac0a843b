#include "common/resource.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace govreport {

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > 63 || id[0] == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> ParseName(absl::string_view name,
                                                   absl::string_view pattern,
                                                   absl::string_view field) {
  std::vector<absl::string_view> got = absl::StrSplit(name, '/');
  std::vector<absl::string_view> want = absl::StrSplit(pattern, '/');
  std::vector<std::string> ids;
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); ++i) {
    if (want[i] == "*") {
      ok = IsValidId(got[i]);
      ids.emplace_back(got[i]);
    } else {
      ok = got[i] == want[i];
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": '", name, "' is not a name of the form ", pattern,
        " (ids are lower-case letters, digits and '-')"));
  }
  return ids;
}

absl::StatusOr<std::string> ParseOrgName(absl::string_view name,
                                         absl::string_view field) {
  auto parts = ParseName(name, "orgs/*", field);
  if (!parts.ok()) return parts.status();
  return (*parts)[0];
}

std::string OrgPrefix(absl::string_view org) {
  return absl::StrCat("gr:{", org, "}:");
}

std::string EncodePageToken(absl::string_view list, int64_t offset) {
  return absl::WebSafeBase64Escape(absl::StrCat(list, "|", offset));
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view list,
                                        absl::string_view token) {
  if (token.empty()) return 0;
  std::string raw;
  int64_t offset = 0;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    std::vector<absl::string_view> parts = absl::StrSplit(raw, '|');
    if (parts.size() == 2 && parts[0] == list &&
        absl::SimpleAtoi(parts[1], &offset) && offset >= 0) {
      return offset;
    }
  }
  return absl::InvalidArgumentError(
      "page_token: not a token returned by this list with these filters");
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size) {
  if (requested < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (requested == 0) return default_size;
  return requested > max_size ? max_size : requested;
}

}  // namespace govreport
