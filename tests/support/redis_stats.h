// Redis's own count of the commands it ran (INFO commandstats, those
// inside scripts included): repeatable where time is not, for tests that
// bound a call's work and benchmarks that report it.
#ifndef GOVREPORT_TESTS_SUPPORT_REDIS_STATS_H_
#define GOVREPORT_TESTS_SUPPORT_REDIS_STATS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis.h"

namespace govreport::testing {

// calls= of each command ("get", "cluster|slots") in the text of INFO
// commandstats.
std::map<std::string, int64_t, std::less<>> CommandCalls(absl::string_view commandstats);

// The calls of every command in that text for which `counted` holds (all
// when it is empty).
int64_t TotalCalls(absl::string_view commandstats,
                   const std::function<bool(absl::string_view)>& counted = {});

// TotalCalls of `client`'s INFO commandstats (one Redis; on a cluster, ask
// each node with RedisCluster::On).
absl::StatusOr<int64_t> CommandsRun(redis::Client& client,
                                    const std::function<bool(absl::string_view)>& counted = {});

}  // namespace govreport::testing

#endif  // GOVREPORT_TESTS_SUPPORT_REDIS_STATS_H_
