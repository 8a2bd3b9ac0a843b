#include "gateway/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace govreport::gateway {

RateLimiter::RateLimiter(double rps, size_t max_buckets)
    : rps_(rps), burst_(std::max(1.0, rps)), max_buckets_(max_buckets) {
  overflow_ = Bucket{burst_, absl::InfinitePast()};
}

bool RateLimiter::Take(Bucket& b, absl::Time now, int* retry_after_s) const {
  if (b.last == absl::InfinitePast()) {
    b.tokens = burst_;
  } else {
    b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.last) * rps_);
  }
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  *retry_after_s = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rps_)));
  return false;
}

void RateLimiter::Sweep(absl::Time now) {
  if (now - last_sweep_ < absl::Seconds(1)) return;
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double t = it->second.tokens + absl::ToDoubleSeconds(now - it->second.last) * rps_;
    it = t >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

bool RateLimiter::Allow(absl::string_view key, absl::Time now, int* retry_after_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_buckets_) Sweep(now);
    if (buckets_.size() >= max_buckets_) return Take(overflow_, now, retry_after_s);
    it = buckets_.emplace(std::string(key), Bucket{burst_, absl::InfinitePast()}).first;
  }
  return Take(it->second, now, retry_after_s);
}

}  // namespace govreport::gateway
