// A city body's roll-up over 100 departments (issue 15): each department
// holds the sample year of the shipped profile and shares its figures; the
// city's profile is the same catalogue with rollup set. Times
// GetRollupValues through RecordsCore against a real redis-server, beside
// 100 single GetIndicatorValues reads of the same departments in the same
// run. Prints one flat JSON object:
//   rollup.query_us_100_children     median microseconds of one roll-up
//   rollup.single_read_us            median of one department's figures
//   rollup.ratio_to_100_single_reads roll-up / (100 x single read)
//   rollup.children                  100
// Usage: rollup_bench [--quick] (fewer records per department, fewer runs).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "records/core.h"
#include "redis_server.h"
#include "reportctl/sample.h"
#include "shipped_profile.h"

namespace govreport::bench {
namespace {

namespace pb = ::govreport::records::v1;

constexpr int kChildren = 100;

[[noreturn]] void Fail(const std::string& what, const absl::Status& status) {
  std::cerr << what << ": " << status << "\n";
  std::exit(1);
}

void Check(const std::string& what, const absl::Status& status) {
  if (!status.ok()) Fail(what, status);
}

// The department `id` under the city, sharing, with `records` of the
// sample year (each department its own seed).
void AddChild(records::RecordsCore& recs, const pb::Profile& profile, int index, size_t records) {
  std::string id = absl::StrFormat("dept-%03d", index);
  pb::Org org;
  org.set_display_name(absl::StrCat("部门", index));
  org.set_short_name(absl::StrCat("部门", index));
  org.set_parent("orgs/city");
  org.set_figures_shared_with_parent(true);
  Check("create org", recs.CreateOrg(id, org, "").status());
  Check("load profile", recs.LoadProfile(id, profile, "").status());
  records::SampleYear year = records::GenerateSampleYear(profile, 2023, 2023 + index);
  size_t n = std::min(records, year.records.size());
  for (size_t at = 0; at < n;) {
    pb::BatchCreateActivitiesRequest req;
    for (; at < n && req.requests_size() < records::kMaxBatch; ++at) {
      *req.add_requests()->mutable_activity() = year.records[at];
    }
    auto resp = recs.BatchCreateActivities(id, "loader", req, true);
    if (!resp.ok()) Fail("batch create", resp.status());
  }
}

template <typename F>
double MedianMicros(int runs, F f) {
  std::vector<double> us;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

int Main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) quick |= std::string(argv[i]) == "--quick";
  auto server = testing::RedisServer::Start();
  if (!server.ok()) Fail("redis-server", server.status());
  redis::Client client((*server)->options());
  records::RecordsOptions options;
  options.max_persons_per_year = 0;
  records::RecordsCore recs(&client, options);
  pb::Profile profile = testing::ShippedProfile();
  pb::Profile city_profile = profile;
  city_profile.set_rollup(true);
  pb::Org city;
  city.set_display_name("市直机关工委");
  Check("create city", recs.CreateOrg("city", city, "").status());
  Check("city profile", recs.LoadProfile("city", city_profile, "").status());
  size_t per_child = quick ? 60 : 100000;
  for (int i = 0; i < kChildren; ++i) AddChild(recs, profile, i, per_child);
  std::cerr << "loaded " << kChildren << " departments\n";

  int runs = quick ? 9 : 41;
  auto first = recs.GetRollupValues("city", "2023");
  if (!first.ok()) Fail("rollup", first.status());
  if (first->children_size() != kChildren) {
    Fail("rollup", absl::InternalError(absl::StrCat(first->children_size(), " children")));
  }
  double rollup_us = MedianMicros(runs, [&] {
    if (!recs.GetRollupValues("city", "2023").ok()) std::exit(1);
  });
  int next = 0;
  double single_us = MedianMicros(runs * 10, [&] {
    std::string id = absl::StrFormat("dept-%03d", next++ % kChildren);
    if (!recs.GetIndicatorValues(id, "2023").ok()) std::exit(1);
  });
  std::cout << absl::StrFormat(
      "{\"rollup.query_us_100_children\": %.0f, \"rollup.single_read_us\": %.0f, "
      "\"rollup.ratio_to_100_single_reads\": %.3f, \"rollup.children\": %d}\n",
      rollup_us, single_us, rollup_us / (kChildren * single_us), kChildren);
  return 0;
}

}  // namespace
}  // namespace govreport::bench

int main(int argc, char** argv) { return govreport::bench::Main(argc, argv); }
