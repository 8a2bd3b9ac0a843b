#include "tests/fault/checks.h"

#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace govreport::fault {
namespace {

std::string IdOf(const std::string& name) { return name.substr(name.rfind('/') + 1); }

int64_t Pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

}  // namespace

absl::StatusOr<std::vector<rpb::ActivityRecord>> ListAllActivities(Cluster& cluster,
                                                                   const std::string& token,
                                                                   const std::string& org) {
  auto stub = cluster.Activities();
  std::vector<rpb::ActivityRecord> out;
  rpb::ListActivitiesRequest req;
  req.set_parent(absl::StrCat("orgs/", org));
  req.set_page_size(1000);
  req.set_include_voided(true);
  for (int page = 0; page < 100000; ++page) {
    rpb::ListActivitiesResponse resp;
    grpc::Status st = Retry(
        token, [&](grpc::ClientContext* ctx) { return stub->ListActivities(ctx, req, &resp); },
        absl::Seconds(60));
    // The org itself gone (a Redis that lost its data) is an empty list:
    // every acknowledged record then counts as lost.
    if (st.error_code() == grpc::StatusCode::NOT_FOUND && out.empty()) return out;
    if (!st.ok()) return absl::UnavailableError(absl::StrCat("ListActivities: ", Describe(st)));
    for (auto& a : *resp.mutable_activities()) out.push_back(std::move(a));
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
  return absl::OutOfRangeError("ListActivities never ended");
}

namespace {

// Ratios from their terms' values; a ratio's records are the distinct
// records behind its two terms (`behind`: record names per indicator).
void RecomputeRatios(const rpb::Profile& profile,
                     const std::map<std::string, std::set<std::string>>& behind,
                     std::map<std::string, rpb::IndicatorValue>& out) {
  for (const auto& ind : profile.indicators()) {
    const auto& m = ind.measure();
    if (m.kind() != rpb::MEASURE_KIND_RATIO) continue;
    rpb::IndicatorValue v;
    v.set_key(ind.key());
    const auto& num = out[m.numerator()];
    const auto& den = out[m.denominator()];
    std::set<std::string> records;
    for (const std::string& term : {m.numerator(), m.denominator()}) {
      auto it = behind.find(term);
      if (it != behind.end()) records.insert(it->second.begin(), it->second.end());
    }
    v.set_record_count(static_cast<int64_t>(records.size()));
    if (num.missing() || den.missing() || den.value() == 0) {
      v.set_missing(true);
    } else {
      __int128 scaled = static_cast<__int128>(num.value()) * 100 * Pow10(ind.precision());
      const __int128 den2 = static_cast<__int128>(den.value()) * 2;  // no int64 overflow
      v.set_value(static_cast<int64_t>((scaled * 2 + den.value()) / den2));
    }
    out[ind.key()] = v;
  }
}

}  // namespace

std::map<std::string, rpb::IndicatorValue> Recompute(
    const rpb::Profile& profile, const std::vector<rpb::ActivityRecord>& records,
    const std::string& first_day, const std::string& last_day) {
  std::map<std::string, std::vector<const rpb::ActivityRecord*>> by_type;
  for (const auto& r : records) {
    if (r.voided() || r.occurred_on() < first_day || r.occurred_on() > last_day) continue;
    by_type[r.type()].push_back(&r);
  }
  std::map<std::string, rpb::IndicatorValue> out;
  std::map<std::string, std::set<std::string>> behind;
  for (const auto& ind : profile.indicators()) {
    const auto& m = ind.measure();
    if (m.kind() == rpb::MEASURE_KIND_RATIO) continue;
    rpb::IndicatorValue v;
    v.set_key(ind.key());
    std::vector<const rpb::ActivityRecord*> feed;
    for (const auto& t : m.activity_types()) {
      auto it = by_type.find(t);
      if (it != by_type.end()) feed.insert(feed.end(), it->second.begin(), it->second.end());
    }
    auto n = static_cast<int64_t>(feed.size());
    bool stated = m.kind() != rpb::MEASURE_KIND_SUM;  // A SUM no record states is missing.
    switch (m.kind()) {
      case rpb::MEASURE_KIND_COUNT:
        v.set_value(n);
        v.set_record_count(n);
        break;
      case rpb::MEASURE_KIND_SUM: {
        int64_t sum = 0;
        for (const auto* r : feed) {
          auto q = r->quantities().find(m.quantity());
          if (q != r->quantities().end()) {
            sum += q->second;
            stated = true;
          }
        }
        v.set_value(sum);
        v.set_record_count(n);
        break;
      }
      case rpb::MEASURE_KIND_DISTINCT: {
        std::set<std::string> persons;
        for (const auto* r : feed) persons.insert(r->persons().begin(), r->persons().end());
        v.set_value(static_cast<int64_t>(persons.size()));
        v.set_record_count(n);
        break;
      }
      case rpb::MEASURE_KIND_LATEST: {
        const rpb::ActivityRecord* best = nullptr;
        for (const auto* r : feed) {
          if (best == nullptr || std::make_tuple(r->occurred_on(), IdOf(r->name())) >
                                     std::make_tuple(best->occurred_on(), IdOf(best->name()))) {
            best = r;
          }
        }
        feed.clear();
        if (best != nullptr) {
          auto q = best->quantities().find(m.quantity());
          if (q != best->quantities().end()) {
            v.set_value(q->second);
            v.set_record_count(1);
            feed.push_back(best);
          }
        }
        break;
      }
      default:
        break;
    }
    for (const auto* r : feed) behind[ind.key()].insert(r->name());
    v.set_missing(v.record_count() == 0 || !stated);
    out[ind.key()] = v;
  }
  RecomputeRatios(profile, behind, out);
  return out;
}

absl::StatusOr<int64_t> CompareAggregates(Cluster& cluster, const std::string& token,
                                          const std::string& org, const rpb::Profile& profile,
                                          const std::vector<rpb::ActivityRecord>& records,
                                          const std::vector<std::string>& periods,
                                          Problems& problems) {
  auto stub = cluster.Indicators();
  int64_t mismatches = 0;
  for (const auto& period : periods) {
    rpb::GetIndicatorValuesRequest req;
    req.set_parent(absl::StrCat("orgs/", org));
    req.set_period(period);
    rpb::GetIndicatorValuesResponse got;
    grpc::Status st = Retry(
        token, [&](grpc::ClientContext* ctx) { return stub->GetIndicatorValues(ctx, req, &got); },
        absl::Seconds(60));
    if (!st.ok()) {
      return absl::UnavailableError(
          absl::StrCat("GetIndicatorValues ", period, ": ", Describe(st)));
    }
    auto want = Recompute(profile, records, got.first_day(), got.last_day());
    std::set<std::string> seen;
    for (const auto& v : got.values()) {
      seen.insert(v.key());
      auto it = want.find(v.key());
      if (it == want.end()) {
        ++mismatches;
        problems.Add(absl::StrCat(period, " ", v.key(), ": not in the profile"));
        continue;
      }
      const auto& w = it->second;
      bool same = v.missing() == w.missing() && v.record_count() == w.record_count() &&
                  (v.missing() || v.value() == w.value());
      if (!same) {
        ++mismatches;
        problems.Add(absl::StrFormat(
            "%s %s: service %d (records %d%s), recomputed %d (records %d%s)", period, v.key(),
            v.value(), v.record_count(), v.missing() ? ", missing" : "", w.value(),
            w.record_count(), w.missing() ? ", missing" : ""));
      }
    }
    for (const auto& [k, w] : want) {
      if (!seen.count(k)) {
        ++mismatches;
        problems.Add(absl::StrCat(period, " ", k, ": the service did not answer it"));
      }
    }
  }
  return mismatches;
}

bool SameContent(const rpb::ActivityRecord& sent, const rpb::ActivityRecord& stored) {
  if (sent.type() != stored.type() || sent.occurred_on() != stored.occurred_on() ||
      sent.title() != stored.title() || sent.department() != stored.department() ||
      sent.source_system() != stored.source_system() ||
      sent.external_id() != stored.external_id() || sent.note() != stored.note()) {
    return false;
  }
  std::map<std::string, int64_t> a(sent.quantities().begin(), sent.quantities().end());
  std::map<std::string, int64_t> b(stored.quantities().begin(), stored.quantities().end());
  if (a != b) return false;
  std::vector<std::string> pa(sent.persons().begin(), sent.persons().end());
  std::vector<std::string> pb(stored.persons().begin(), stored.persons().end());
  return pa == pb;
}

rpb::ActivityRecord RandomRecord(const rpb::Profile& profile, Rng& rng) {
  const auto& type =
      profile.activity_types(static_cast<int>(rng.Uniform(0, profile.activity_types_size() - 1)));
  rpb::ActivityRecord r;
  r.set_type(type.key());
  // 2022-09 .. 2024-03: every period the scenario asks about has data
  // near its edges.
  int month_index = static_cast<int>(rng.Uniform(0, 18));
  int year = 2022 + (8 + month_index) / 12;
  int month = (8 + month_index) % 12 + 1;
  int day = static_cast<int>(rng.Uniform(1, 28));
  r.set_occurred_on(absl::StrFormat("%04d-%02d-%02d", year, month, day));
  r.set_title(absl::StrCat(type.label(), " ", r.occurred_on()));
  r.set_department(absl::StrCat("第", rng.Uniform(1, 5), "党支部"));
  for (const auto& q : type.required_quantities()) {
    (*r.mutable_quantities())[q] = q == "amount_fen" ? rng.Uniform(0, 5000000) : rng.Uniform(0, 60);
  }
  for (const auto& q : type.optional_quantities()) {
    if (rng.Chance(0.5)) (*r.mutable_quantities())[q] = rng.Uniform(0, 60);
  }
  if (type.persons_required()) {
    std::set<std::string> persons;
    int n = static_cast<int>(rng.Uniform(1, 3));
    while (static_cast<int>(persons.size()) < n) {
      persons.insert(absl::StrCat("p", rng.Uniform(1, 40)));
    }
    for (const auto& p : persons) r.add_persons(p);
  }
  return r;
}

}  // namespace govreport::fault
