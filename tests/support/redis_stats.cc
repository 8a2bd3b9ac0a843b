#include "redis_stats.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace govreport::testing {

std::map<std::string, int64_t, std::less<>> CommandCalls(absl::string_view commandstats) {
  std::map<std::string, int64_t, std::less<>> out;
  for (absl::string_view line : absl::StrSplit(commandstats, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (!absl::ConsumePrefix(&line, "cmdstat_")) continue;
    const size_t colon = line.find(":calls=");
    if (colon == absl::string_view::npos) continue;
    absl::string_view calls = line.substr(colon + 7);
    int64_t n = 0;
    if (absl::SimpleAtoi(calls.substr(0, calls.find(',')), &n)) {
      out[std::string(line.substr(0, colon))] = n;
    }
  }
  return out;
}

int64_t TotalCalls(absl::string_view commandstats,
                   const std::function<bool(absl::string_view)>& counted) {
  int64_t total = 0;
  for (const auto& [command, calls] : CommandCalls(commandstats)) {
    if (!counted || counted(command)) total += calls;
  }
  return total;
}

absl::StatusOr<int64_t> CommandsRun(redis::Client& client,
                                    const std::function<bool(absl::string_view)>& counted) {
  absl::StatusOr<redis::Reply> info = client.Command({"INFO", "commandstats"});
  if (!info.ok()) return info.status();
  return TotalCalls(info->Str(), counted);
}

}  // namespace govreport::testing
