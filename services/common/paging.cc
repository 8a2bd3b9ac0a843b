#include "common/paging.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace govreport::paging {
namespace {

// WITHSCORES pairs; with `after`, only the ties that come after it.
absl::Status Append(const redis::Reply& r, const ZEntry* after, bool descending,
                    std::vector<ZEntry>& out) {
  GR_RETURN_IF_ERROR(r.ErrorStatus());
  for (size_t i = 0; i + 1 < r.Size(); i += 2) {
    ZEntry e;
    e.member = r[i].AsString();
    GR_ASSIGN_OR_RETURN(e.score, r[i + 1].AsInt());
    if (after != nullptr && (descending ? e.member >= after->member : e.member <= after->member)) {
      continue;
    }
    out.push_back(std::move(e));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeZCursor(const ZEntry& last) { return absl::StrCat(last.score, ":", last.member); }

absl::StatusOr<ZEntry> ParseZCursor(absl::string_view cursor) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(cursor, absl::MaxSplits(':', 1));
  ZEntry e;
  if (!absl::SimpleAtoi(parts.first, &e.score) || parts.second.empty()) {
    return absl::InvalidArgumentError("page_token: not a token of this order");
  }
  e.member = std::string(parts.second);
  return e;
}

absl::StatusOr<std::vector<ZEntry>> ZPageAfter(redis::Client& redis, const std::string& key,
                                               const std::optional<ZEntry>& after, int count,
                                               bool descending) {
  const std::string n = absl::StrCat(count);
  const std::string end = descending ? "-inf" : "+inf";
  auto range = [&](const std::string& first, const std::string& last, bool limit) {
    redis::Args cmd = descending ? redis::Args{"ZREVRANGEBYSCORE", key, first, last, "WITHSCORES"}
                                 : redis::Args{"ZRANGEBYSCORE", key, first, last, "WITHSCORES"};
    if (limit) cmd.insert(cmd.end(), {"LIMIT", "0", n});
    return cmd;
  };
  std::vector<ZEntry> out;
  if (!after) {
    GR_ASSIGN_OR_RETURN(redis::Reply r,
                        redis.Command(range(descending ? "+inf" : "-inf", end, true)));
    GR_RETURN_IF_ERROR(Append(r, nullptr, descending, out));
    return out;
  }
  const std::string s = absl::StrCat(after->score);
  GR_ASSIGN_OR_RETURN(auto replies,
                      redis.Pipeline({range(s, s, false), range(absl::StrCat("(", s), end, true)}));
  GR_RETURN_IF_ERROR(Append(replies[0], &*after, descending, out));
  GR_RETURN_IF_ERROR(Append(replies[1], nullptr, descending, out));
  if (static_cast<int>(out.size()) > count) out.resize(count);
  return out;
}

}  // namespace govreport::paging
