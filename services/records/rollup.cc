#include "records/rollup.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/stored_proto.h"
#include "records/core.h"

namespace govreport::records {
namespace {

// Threads that read one roll-up's children at once.
constexpr size_t kRollupReaders = 4;

// The parent's indicator with no figure yet: key, words and scale.
pb::IndicatorValue EmptyValue(const pb::Indicator& ind) {
  pb::IndicatorValue v;
  v.set_key(ind.key());
  v.set_label(ind.label());
  v.set_unit(ind.unit());
  v.set_kind(KindOf(ind));
  v.set_precision(ind.precision());
  v.set_breakdown(ind.breakdown());
  return v;
}

void Display(pb::IndicatorValue& v) {
  if (!v.missing()) v.set_display(FormatValue(v.kind(), v.unit(), v.value(), v.precision()));
  for (auto& row : *v.mutable_rows()) {
    row.set_display(row.missing() ? ""
                                  : FormatValue(v.kind(), v.unit(), row.value(), v.precision()));
  }
}

// The child's figure under the parent's words and scale.
pb::IndicatorValue ShareValue(const pb::Indicator& parent, const pb::IndicatorValue& child) {
  pb::IndicatorValue v = child;
  v.set_label(parent.label());
  v.set_unit(parent.unit());
  if (v.kind() == pb::VALUE_KIND_PERCENT) {
    v.set_value(Rescale(v.value(), child.precision(), parent.precision()));
    for (auto& row : *v.mutable_rows()) {
      row.set_value(Rescale(row.value(), child.precision(), parent.precision()));
    }
  }
  v.set_precision(parent.precision());
  v.set_display("");
  Display(v);
  return v;
}

// Adds the children's figures of one COUNT, SUM, LATEST or DISTINCT
// indicator up; rows by dimension value.
class Sum {
 public:
  explicit Sum(const pb::Indicator& ind) : ind_(ind) {}

  void Add(const pb::IndicatorValue& share, const std::set<std::string>* persons) {
    record_count_ += share.record_count();
    if (!share.missing()) {
      present_ = true;
      value_ += share.value();
    }
    if (persons != nullptr) persons_.insert(persons->begin(), persons->end());
    for (const auto& row : share.rows()) {
      Row& r = rows_[row.dimension_value()];
      r.seen = true;
      if (!row.missing()) {
        r.present = true;
        r.value += row.value();
      }
      r.record_count += row.record_count();
    }
  }

  pb::IndicatorValue Total(const CompiledProfile& parent) {
    pb::IndicatorValue v = EmptyValue(ind_);
    v.set_record_count(record_count_);
    bool distinct = ind_.measure().kind() == pb::MEASURE_KIND_DISTINCT;
    v.set_value(distinct ? static_cast<int64_t>(persons_.size()) : value_);
    v.set_missing(!present_ && !ind_.empty_is_zero());
    if (!ind_.breakdown().empty()) {
      // The parent's declared values first, even without figures (0), then
      // the others the children carry, in byte order.
      for (const auto& value : parent.BreakdownValues(ind_, {})) AddRow(v, value);
      for (const auto& [value, row] : rows_) {
        if (!row.listed) AddRow(v, value);
      }
    }
    Display(v);
    return v;
  }

 private:
  struct Row {
    int64_t value = 0;
    int64_t record_count = 0;
    bool seen = false;
    bool present = false;
    bool listed = false;
  };
  void AddRow(pb::IndicatorValue& v, const std::string& value) {
    Row& r = rows_[value];
    r.listed = true;
    pb::BreakdownRow* row = v.add_rows();
    row->set_dimension_value(value);
    row->set_value(r.value);
    row->set_record_count(r.record_count);
    // Missing only when every child's row of it was.
    row->set_missing(r.seen && !r.present);
  }

  const pb::Indicator& ind_;
  int64_t value_ = 0;
  int64_t record_count_ = 0;
  bool present_ = false;
  std::set<std::string> persons_;
  std::map<std::string, Row> rows_;
};

}  // namespace

std::string RollupMismatch(const pb::Indicator& parent, const pb::Indicator* child) {
  if (child == nullptr) return absl::StrCat("no indicator '", parent.key(), "' in its catalogue");
  if (child->measure().kind() != parent.measure().kind()) {
    return absl::StrCat("its '", parent.key(), "' is ",
                        pb::MeasureKind_Name(child->measure().kind()), ", not ",
                        pb::MeasureKind_Name(parent.measure().kind()));
  }
  if (KindOf(*child) != KindOf(parent)) {
    return absl::StrCat("its '", parent.key(), "' is in ", child->unit(), ", not ", parent.unit());
  }
  if (child->breakdown() != parent.breakdown()) {
    return absl::StrCat("its '", parent.key(), "' is broken down by '", child->breakdown(),
                        "', not '", parent.breakdown(), "'");
  }
  return "";
}

pb::GetRollupValuesResponse CombineRollup(const CompiledProfile& parent,
                                          const std::vector<ChildFigures>& children) {
  pb::GetRollupValuesResponse out;
  std::map<std::string, const pb::IndicatorValue*> totals;
  for (const pb::Indicator& ind : parent.proto().indicators()) {
    pb::RollupValue& rolled = *out.add_values();
    Sum sum(ind);
    for (const ChildFigures& child : children) {
      pb::RollupShare& share = *rolled.add_shares();
      share.set_org(child.org.name());
      const int at = child.profile->IndicatorIndex(ind.key());
      const pb::Indicator* theirs = at < 0 ? nullptr : &child.profile->proto().indicators(at);
      std::string mismatch = RollupMismatch(ind, theirs);
      if (!mismatch.empty() || static_cast<size_t>(at) >= child.values.size()) {
        *share.mutable_value() = EmptyValue(ind);
        share.mutable_value()->set_missing(true);
        share.set_excluded(mismatch.empty() ? "its figures are incomplete" : mismatch);
        continue;
      }
      *share.mutable_value() = ShareValue(ind, child.values[at]);
      auto persons = child.persons.find(ind.key());
      sum.Add(share.value(), persons == child.persons.end() ? nullptr : &persons->second);
    }
    if (ind.measure().kind() != pb::MEASURE_KIND_RATIO) *rolled.mutable_total() = sum.Total(parent);
  }
  for (const auto& rolled : out.values()) totals[rolled.total().key()] = &rolled.total();
  // A ratio of the totals (its terms are never ratios themselves), not of
  // the children's ratios.
  for (int i = 0; i < parent.proto().indicators_size(); ++i) {
    const pb::Indicator& ind = parent.proto().indicators(i);
    if (ind.measure().kind() != pb::MEASURE_KIND_RATIO) continue;
    pb::RollupValue& rolled = *out.mutable_values(i);
    pb::IndicatorValue v = EmptyValue(ind);
    for (const auto& share : rolled.shares()) {
      if (share.excluded().empty())
        v.set_record_count(v.record_count() + share.value().record_count());
    }
    const pb::IndicatorValue* num = totals[ind.measure().numerator()];
    const pb::IndicatorValue* den = totals[ind.measure().denominator()];
    if (num == nullptr || den == nullptr || num->missing() || den->missing() || den->value() == 0) {
      v.set_missing(true);
    } else {
      v.set_value(RatioValue(num->value(), den->value(), ind.precision()));
    }
    Display(v);
    *rolled.mutable_total() = std::move(v);
  }
  return out;
}

// ------------------------------------------------------ RecordsCore's part

absl::StatusOr<std::vector<pb::Org>> RecordsCore::ChildrenOf(const std::string& parent_id) {
  // A walk of the org index: a city has hundreds of orgs, and each org's
  // parent field stays the one truth (no second index to keep in step
  // across slots).
  std::string parent = absl::StrCat("orgs/", parent_id);
  std::vector<pb::Org> out;
  std::string after;
  constexpr int kPage = 1000;
  while (true) {
    GR_ASSIGN_OR_RETURN(auto ids, store_.ListOrgIds(after, kPage));
    if (ids.empty()) break;
    GR_ASSIGN_OR_RETURN(auto blobs, store_.ReadOrgs(ids));
    for (const auto& blob : blobs) {
      GR_ASSIGN_OR_RETURN(pb::Org org, ParseStored<pb::Org>(blob, "org"));
      if (org.parent() == parent) out.push_back(std::move(org));
    }
    if (ids.size() < static_cast<size_t>(kPage)) break;
    after = ids.back();
  }
  return out;
}

absl::StatusOr<pb::GetRollupValuesResponse> RecordsCore::ReadRollup(const std::string& parent_id,
                                                                    const CompiledProfile& parent,
                                                                    const Period& period) {
  GR_ASSIGN_OR_RETURN(std::vector<pb::Org> orgs, ChildrenOf(parent_id));
  // The shared children's figures, read by a few threads at once: each
  // read is independent and waits mostly on Redis. nullopt: no profile.
  using Read = absl::StatusOr<std::optional<ChildFigures>>;
  std::vector<Read> reads(orgs.size(), Read(std::nullopt));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < orgs.size(); i = next++) {
      if (orgs[i].figures_shared_with_parent()) reads[i] = ReadSharedChild(orgs[i], parent, period);
    }
  };
  {
    std::vector<std::jthread> readers;
    for (size_t t = 1; t < std::min(orgs.size(), kRollupReaders); ++t) readers.emplace_back(work);
    work();
  }
  std::vector<ChildFigures> read;
  std::vector<pb::RollupChild> listed;
  for (size_t i = 0; i < orgs.size(); ++i) {
    const pb::Org& org = orgs[i];
    pb::RollupChild& c = listed.emplace_back();
    c.set_org(org.name());
    c.set_display_name(org.display_name());
    c.set_short_name(org.short_name());
    c.set_state(pb::ROLLUP_CHILD_STATE_NOT_SHARED);
    if (!org.figures_shared_with_parent()) continue;
    if (!reads[i].ok()) return reads[i].status();
    if (!reads[i]->has_value()) {
      c.set_state(pb::ROLLUP_CHILD_STATE_NO_PROFILE);
      continue;
    }
    c.set_state(pb::ROLLUP_CHILD_STATE_INCLUDED);
    c.set_data_version((*reads[i])->data_version);
    read.push_back(*std::move(*reads[i]));
  }
  pb::GetRollupValuesResponse out = CombineRollup(parent, read);
  for (auto& c : listed) *out.add_children() = std::move(c);
  out.set_period(period.label);
  out.set_first_day(period.FirstDay());
  out.set_last_day(period.LastDay());
  return out;
}

absl::StatusOr<std::optional<ChildFigures>> RecordsCore::ReadSharedChild(
    const pb::Org& org, const CompiledProfile& parent, const Period& period) {
  std::string child_id = org.name().substr(org.name().find('/') + 1);
  auto profile = GetProfile(child_id);
  if (absl::IsFailedPrecondition(profile.status())) return std::optional<ChildFigures>();
  if (!profile.ok()) return profile.status();
  GR_ASSIGN_OR_RETURN(ChildFigures figures, ReadChild(child_id, *profile, parent, period));
  figures.org = org;
  return std::optional<ChildFigures>(std::move(figures));
}

absl::StatusOr<ChildFigures> RecordsCore::ReadChild(
    const std::string& child_id, const std::shared_ptr<const CompiledProfile>& profile,
    const CompiledProfile& parent, const Period& period) {
  // A union needs the child's persons, read beside its figures: both are
  // of one data version when the version is the same after them.
  constexpr int kAttempts = 4;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    GR_ASSIGN_OR_RETURN(auto figures, ReadFigures(child_id, *profile, period));
    ChildFigures out;
    out.data_version = figures.data_version;
    out.profile = profile;
    out.values = std::move(figures.values);
    for (const auto& ind : parent.proto().indicators()) {
      if (ind.measure().kind() != pb::MEASURE_KIND_DISTINCT) continue;
      const pb::Indicator* theirs = profile->FindIndicator(ind.key());
      if (!RollupMismatch(ind, theirs).empty()) continue;
      std::vector<std::string> types(theirs->measure().activity_types().begin(),
                                     theirs->measure().activity_types().end());
      GR_ASSIGN_OR_RETURN(
          out.persons[ind.key()],
          store_.DistinctPersons(child_id, period.Buckets(), types, options_.distinct_scan_count));
    }
    if (out.persons.empty()) return out;
    GR_ASSIGN_OR_RETURN(int64_t after, store_.DataVersion(child_id));
    if (after == out.data_version) return out;
  }
  return ChangedDuringReads(child_id, kAttempts);
}

absl::StatusOr<pb::GetRollupValuesResponse> RecordsCore::GetRollupValues(
    const std::string& parent_id, const std::string& period_text) {
  GR_ASSIGN_OR_RETURN(Period period, ParsePeriod(period_text));
  GR_ASSIGN_OR_RETURN(auto profile, GetProfile(parent_id));
  return ReadRollup(parent_id, *profile, period);
}

absl::StatusOr<pb::GetIndicatorProvenanceResponse> RecordsCore::GetRollupProvenance(
    const std::string& parent_id, const pb::GetRollupProvenanceRequest& request) {
  GR_ASSIGN_OR_RETURN(std::string child_id, ParseOrgName(request.child(), "child"));
  std::string key = request.name().substr(request.name().rfind('/') + 1);
  auto child = GetOrg(child_id);
  if (!child.ok() && !absl::IsNotFound(child.status())) return child.status();
  // One answer for "no such org", "not a child" and "not shared": a parent
  // learns nothing of orgs outside its own.
  if (!child.ok() || child->parent() != absl::StrCat("orgs/", parent_id) ||
      !child->figures_shared_with_parent()) {
    return errors::WithReason(
        absl::PermissionDeniedError(
            absl::StrCat(request.child(), " does not share its figures with orgs/", parent_id)),
        "NOT_SHARED", "该单位未向本单位共享数据");
  }
  return GetIndicatorProvenance(child_id, key, request.period(), request.page_size(),
                                request.page_token(), request.breakdown_value());
}

}  // namespace govreport::records
