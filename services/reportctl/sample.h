// A deterministic, realistic year of activity records for the reference
// bureau, derived from its profile: used by the main job, the tests and the
// benchmarks, so they all see the same figures.
#ifndef GOVREPORT_REPORTCTL_SAMPLE_H_
#define GOVREPORT_REPORTCTL_SAMPLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "govreport/records/v1/records.pb.h"

namespace govreport::records {

struct SampleYear {
  // To be created in this order (each has source_system "sample" and a
  // stable external_id, so loading twice creates nothing new).
  std::vector<v1::ActivityRecord> records;
  // Then these corrections: records[index] replaced by `amended`.
  struct Amend {
    int index = 0;
    v1::ActivityRecord amended;
    std::string reason;
  };
  std::vector<Amend> amends;
  struct Void {
    int index = 0;
    std::string reason;
  };
  std::vector<Void> voids;
};

// Same profile, year and seed → the same records, on every machine.
SampleYear GenerateSampleYear(const v1::Profile& profile, int year, uint64_t seed = 2023);

// Small deterministic generator (the standard distributions differ between
// library versions, which would change the sample's figures).
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi);

 private:
  uint64_t state_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_REPORTCTL_SAMPLE_H_
