// Throughput loops shared by the benchmarks: calls per second on a few
// threads, and two peers measured side by side in turns so that the
// machine's noise (and a store that grows as they write) falls on both
// alike.
#ifndef GOVREPORT_TESTS_BENCH_THROUGHPUT_H_
#define GOVREPORT_TESTS_BENCH_THROUGHPUT_H_

#include <functional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace govreport::bench {

// Runs `per_thread` calls of f(thread, i) on `threads` threads; returns
// calls per second.
inline double Throughput(int threads, int per_thread, const std::function<void(int, int)>& f) {
  absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) f(t, i);
    });
  }
  for (auto& th : pool) th.join();
  return threads * per_thread / absl::ToDoubleSeconds(absl::Now() - start);
}

struct SideBySide {
  double a_rps = 0;
  double b_rps = 0;
};

// `a` and `b` take turns, `rounds` slices of `per_thread` calls each, b
// first in odd rounds; each side's rate over the sum of its slices. The
// index given to f runs over the whole 0..per_thread range.
inline SideBySide Alternate(int threads, int per_thread, int rounds,
                            const std::function<void(int, int)>& a,
                            const std::function<void(int, int)>& b) {
  const int slice = per_thread / rounds;
  double a_s = 0;
  double b_s = 0;
  auto run = [&](const std::function<void(int, int)>& f, int base) {
    return threads * slice / Throughput(threads, slice, [&](int t, int i) { f(t, base + i); });
  };
  for (int r = 0; r < rounds; ++r) {
    const int base = r * slice;
    if (r % 2 == 0) {
      a_s += run(a, base);
      b_s += run(b, base);
    } else {
      b_s += run(b, base);
      a_s += run(a, base);
    }
  }
  const double calls = static_cast<double>(threads) * slice * rounds;
  return {calls / a_s, calls / b_s};
}

}  // namespace govreport::bench

#endif  // GOVREPORT_TESTS_BENCH_THROUGHPUT_H_
