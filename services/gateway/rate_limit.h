// A token bucket per client IP for the gateway's --rate-limit-rps. Keyed on
// the connection's address, not on a header: anything a client sends
// (an Authorization value, X-Forwarded-For) it can vary to get a fresh
// bucket, and the limit is checked before the token is.
#ifndef GOVREPORT_GATEWAY_RATE_LIMIT_H_
#define GOVREPORT_GATEWAY_RATE_LIMIT_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace govreport::gateway {

class RateLimiter {
 public:
  // Buckets kept at most, so that many addresses cannot grow the map
  // without bound.
  static constexpr size_t kMaxBuckets = 100000;

  // `rps` > 0 requests per second, bursts of max(1, rps).
  explicit RateLimiter(double rps, size_t max_buckets = kMaxBuckets);
  // Takes one request from `key`'s bucket; when it is empty, false and
  // the whole seconds until it holds one again in `retry_after_s` (>= 1).
  // A new key while `max_buckets` are kept (and none was full at the last
  // sweep) shares one overflow bucket with every other such key.
  bool Allow(absl::string_view key, absl::Time now, int* retry_after_s);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  bool Take(Bucket& b, absl::Time now, int* retry_after_s) const;
  // Drops the full buckets (a full bucket is the same as none), at most
  // once a second so that a full map is not rescanned on every request.
  void Sweep(absl::Time now);

  const double rps_;
  const double burst_;
  const size_t max_buckets_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // Guarded by mu_.
  Bucket overflow_;                                  // Guarded by mu_.
  absl::Time last_sweep_ = absl::InfinitePast();     // Guarded by mu_.
};

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_RATE_LIMIT_H_
