#include "reportctl/sample.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace govreport::records {
namespace {

namespace pb = ::govreport::records::v1;

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Records per year of a type; monthly registers have 12.
int RecordsPerYear(const std::string& type, SplitMix& rng) {
  static const std::map<std::string, int> kFixed = {
      {"online_academy_snapshot", 12},  {"party_dues_collection", 12},
      {"ideology_position_check", 12},  {"online_opinion_monitoring", 12},
      {"eight_point_report_check", 12}, {"village_residency", 4},
      {"heart_to_heart_talk", 24},      {"media_publication", 18},
      {"project_info_entry", 14},       {"epidemic_volunteer_service", 10},
      {"theme_party_day", 12},          {"branch_committee_meeting", 12},
      {"integrity_pledge_signing", 3},  {"party_member_assembly", 4},
  };
  auto it = kFixed.find(type);
  if (it != kFixed.end()) return it->second;
  return static_cast<int>(rng.Range(2, 9));
}

bool Monthly(const std::string& type) {
  return type == "online_academy_snapshot" || type == "party_dues_collection" ||
         type == "ideology_position_check" || type == "online_opinion_monitoring" ||
         type == "eight_point_report_check";
}

int64_t QuantityValue(const std::string& type, const std::string& q, int month, SplitMix& rng) {
  if (q == "incidents" || q == "reports") return 0;  // A quiet year.
  if (q == "enrolled") return 46;
  if (q == "completed") return month >= 11 ? 46 : 30 + month;
  if (q == "members") return month >= 7 ? 41 : 40;
  if (q == "participants")
    return type == "heart_to_heart_talk" ? rng.Range(3, 12) : rng.Range(12, 45);
  if (q == "copies") return rng.Range(8, 14);
  if (q == "items") return type == "project_info_entry" ? rng.Range(60, 140) : rng.Range(2, 12);
  if (q == "articles") return rng.Range(1, 5);
  if (q == "people") return type == "village_residency" ? 2 : rng.Range(1, 3);
  if (q == "amount_fen") return rng.Range(200, 1500) * 1000;  // 2,000–15,000 元.
  if (q == "children") return rng.Range(3, 9);
  if (q == "enterprises") return rng.Range(0, 2);
  if (q == "hours") return rng.Range(2, 8);
  return rng.Range(1, 10);
}

constexpr const char* kDepartments[] = {"机关党支部", "办公室", "人事处", "机关党委", "科技创新处"};
constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

}  // namespace

uint64_t SplitMix::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return Mix(state_);
}

int64_t SplitMix::Range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
}

SampleYear GenerateSampleYear(const pb::Profile& profile, int year, uint64_t seed) {
  SampleYear out;
  SplitMix rng(seed);
  for (const auto& type : profile.activity_types()) {
    int n = RecordsPerYear(type.key(), rng);
    for (int i = 0; i < n; ++i) {
      int month = Monthly(type.key()) || n == 12 ? i + 1
                  : n == 4                       ? i * 3 + 3
                                                 : static_cast<int>(rng.Range(1, 12));
      int day = Monthly(type.key()) ? 25 : static_cast<int>(rng.Range(1, kDaysInMonth[month - 1]));
      pb::ActivityRecord r;
      r.set_type(type.key());
      r.set_occurred_on(absl::StrFormat("%04d-%02d-%02d", year, month, day));
      r.set_title(absl::StrCat(type.label(), "（", month, "月）"));
      r.set_department(kDepartments[rng.Range(0, 4)]);
      r.set_source_system("sample");
      r.set_external_id(absl::StrFormat("%d-%s-%03d", year, type.key(), i + 1));
      for (const auto& q : type.required_quantities()) {
        (*r.mutable_quantities())[q] = QuantityValue(type.key(), q, month, rng);
      }
      for (const auto& q : type.optional_quantities()) {
        if (q == "amount_fen" || q == "hours") {
          (*r.mutable_quantities())[q] = QuantityValue(type.key(), q, month, rng);
        }
      }
      if (type.persons_required()) {
        std::set<std::string> persons;
        int k = static_cast<int>(rng.Range(2, 6));
        while (static_cast<int>(persons.size()) < k) {
          persons.insert(absl::StrFormat("staff-%03d", rng.Range(1, 48)));
        }
        for (const auto& p : persons) r.add_persons(p);
      }
      out.records.push_back(std::move(r));
    }
  }
  // A few corrections, as happen in any real register.
  for (int k = 0, i = 0; k < 3 && i < static_cast<int>(out.records.size()); ++i) {
    const auto& r = out.records[i];
    if (!r.quantities().contains("participants")) continue;
    SampleYear::Amend a;
    a.index = i;
    a.amended = r;
    (*a.amended.mutable_quantities())["participants"] += 2;
    a.reason = "补录遗漏的参加人数";
    out.amends.push_back(std::move(a));
    ++k;
  }
  for (int k = 0, i = static_cast<int>(out.records.size()) - 1; k < 2 && i >= 0; --i) {
    if (out.records[i].type() != "media_publication") continue;
    out.voids.push_back({i, "重复录入"});
    ++k;
  }
  return out;
}

}  // namespace govreport::records
