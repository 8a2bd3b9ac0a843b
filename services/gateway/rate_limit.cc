#include "gateway/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "common/crypto.h"

namespace govreport::gateway {
namespace {
// Buckets kept before the full ones are dropped (a full bucket is the
// same as none), so that many callers cannot grow the map without bound.
constexpr size_t kMaxBuckets = 100000;
}  // namespace

RateLimiter::RateLimiter(double rps) : rps_(rps), burst_(std::max(1.0, rps)) {}

bool RateLimiter::Allow(absl::string_view key, absl::Time now, int* retry_after_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= kMaxBuckets) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double t = it->second.tokens + absl::ToDoubleSeconds(now - it->second.last) * rps_;
      it = t >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(std::string(key), Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.last) * rps_);
    b.last = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  *retry_after_s = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rps_)));
  return false;
}

}  // namespace govreport::gateway
