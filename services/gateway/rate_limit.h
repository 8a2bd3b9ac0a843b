// A token bucket per caller (a bearer token, or the client IP without
// one) for the gateway's --rate-limit-rps.
#ifndef GOVREPORT_GATEWAY_RATE_LIMIT_H_
#define GOVREPORT_GATEWAY_RATE_LIMIT_H_

#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::gateway {

class RateLimiter {
 public:
  // `rps` > 0 requests per second, bursts of max(1, rps).
  explicit RateLimiter(double rps);
  // Takes one request from `key`'s bucket; when it is empty, false and
  // the whole seconds until it holds one again in `retry_after_s` (>= 1).
  bool Allow(absl::string_view key, absl::Time now, int* retry_after_s);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  const double rps_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // Guarded by mu_.
};

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_RATE_LIMIT_H_
