// The records service's rules and orchestration: orgs, the indicator
// catalogue, activity records and their aggregates. Every Redis call is in
// Store; the rules on values are in domain.h. No gRPC here: callers have
// already been authorized for the org they name.
#ifndef GOVREPORT_RECORDS_CORE_H_
#define GOVREPORT_RECORDS_CORE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/events.h"
#include "common/redis.h"
#include "common/request_id.h"
#include "govreport/records/v1/records.pb.h"
#include "records/domain.h"
#include "records/period.h"
#include "records/profile.h"
#include "records/rollup.h"
#include "records/store.h"

namespace govreport::records {

// Limits that keep one org's data, and so the work its reads and writes do
// inside Redis, bounded (docs/records.md, "Limits and quotas"). 0 = none.
struct RecordsOptions {
  // How long a request_id is remembered (tests shorten it).
  absl::Duration request_retention = request_id::kRetention;
  // Other replicas see a newly loaded profile within this time.
  absl::Duration profile_cache_ttl = absl::Seconds(1);
  int max_persons_per_record = kDefaultMaxPersonsPerRecord;
  int max_persons_per_batch = kDefaultMaxPersonsPerBatch;
  // Distinct person ids per org, activity type and calendar year.
  int64_t max_persons_per_year = 20000;
  // Per org and UTC day, counted by every create, amend and void.
  int64_t quota_records_per_day = 100000;
  int64_t quota_bytes_per_day = int64_t{64} << 20;
  // Person entries one read script may union inline; bigger unions are
  // done outside Lua in HSCAN steps of distinct_scan_count.
  int distinct_inline_budget = 4096;
  int distinct_scan_count = 1000;
  // How long the org's events are kept (common/events.h): every write
  // trims what is older.
  absl::Duration event_retention = events::kDefaultRetention;
  // The time quotas are counted by; absl::Now when empty (tests inject).
  std::function<absl::Time()> clock;
};

// ABORTED (reason CONCURRENT_WRITES): the org's records changed during each
// of `attempts` reads of its figures.
absl::Status ChangedDuringReads(const std::string& org_id, int attempts);

class RecordsCore {
 public:
  explicit RecordsCore(redis::Client* redis, RecordsOptions options = {});

  // ---- orgs
  absl::StatusOr<pb::Org> CreateOrg(const std::string& org_id, pb::Org org,
                                    const std::string& request_id);
  absl::StatusOr<pb::Org> GetOrg(const std::string& org_id);
  // Every org when `only` is empty, else just that one.
  absl::StatusOr<pb::ListOrgsResponse> ListOrgs(const std::string& only, int page_size,
                                                const std::string& page_token);
  // Changing `parent` takes `may_change_parent` (the platform operator).
  absl::StatusOr<pb::Org> UpdateOrg(const pb::UpdateOrgRequest& request,
                                    bool may_change_parent = true);

  // ---- catalogue
  absl::StatusOr<pb::LoadProfileResponse> LoadProfile(const std::string& org_id,
                                                      const pb::Profile& profile,
                                                      const std::string& request_id);
  absl::StatusOr<std::shared_ptr<const CompiledProfile>> GetProfile(const std::string& org_id);
  absl::StatusOr<pb::GetIndicatorValuesResponse> GetIndicatorValues(const std::string& org_id,
                                                                    const std::string& period);
  absl::StatusOr<pb::GetIndicatorProvenanceResponse> GetIndicatorProvenance(
      const std::string& org_id, const std::string& key, const std::string& period, int page_size,
      const std::string& page_token, const std::string& breakdown_value = "");

  // ---- roll-up (rollup.cc): the parent's view of the children that
  // share their figures with it. Callers are authorized for the parent.
  absl::StatusOr<pb::GetRollupValuesResponse> GetRollupValues(const std::string& parent_id,
                                                              const std::string& period);
  absl::StatusOr<pb::GetIndicatorProvenanceResponse> GetRollupProvenance(
      const std::string& parent_id, const pb::GetRollupProvenanceRequest& request);

  // ---- activities. `recorded_by` is the caller's subject; the operator's
  // writes are `quota_exempt`.
  absl::StatusOr<pb::ActivityRecord> CreateActivity(const std::string& org_id,
                                                    const std::string& recorded_by,
                                                    const pb::ActivityRecord& record,
                                                    const std::string& request_id,
                                                    bool quota_exempt = false);
  absl::StatusOr<pb::BatchCreateActivitiesResponse> BatchCreateActivities(
      const std::string& org_id, const std::string& recorded_by,
      const pb::BatchCreateActivitiesRequest& request, bool quota_exempt = false);
  absl::StatusOr<pb::ActivityRecord> GetActivity(const std::string& org_id, const std::string& id);
  absl::StatusOr<pb::ListActivitiesResponse> ListActivities(
      const std::string& org_id, const pb::ListActivitiesRequest& request);
  absl::StatusOr<pb::ActivityRecord> AmendActivity(const std::string& org_id,
                                                   const std::string& recorded_by,
                                                   const pb::AmendActivityRequest& request,
                                                   bool quota_exempt = false);
  absl::StatusOr<pb::ActivityRecord> VoidActivity(const std::string& org_id,
                                                  const std::string& recorded_by,
                                                  const pb::VoidActivityRequest& request,
                                                  bool quota_exempt = false);
  // Revisions after `after`, at most `limit` (0: all); NOT_FOUND when the
  // record does not exist.
  absl::StatusOr<std::vector<pb::ActivityRecord>> ListRevisions(const std::string& org_id,
                                                                const std::string& id,
                                                                int64_t after = 0, int limit = 0);

 private:
  struct PreparedWrite {
    pb::ActivityRecord record;
    ActivityWrite write;
  };
  absl::StatusOr<PreparedWrite> PrepareCreate(const std::string& org_id,
                                              const CompiledProfile& profile,
                                              const std::string& recorded_by,
                                              const pb::ActivityRecord& record,
                                              const std::string& request_id, bool quota_exempt);
  // The write's quota and cap arguments.
  void SetLimits(bool quota_exempt, ActivityWrite& write) const;
  // The write's event: `event` without its payload for a create or an
  // amendment (the script adds the stored record and `rest`, the rest of
  // its ActivityChanged), whole for a void.
  void SetEvent(events::v1::Event event, const std::string& rest, ActivityWrite& write) const;
  absl::Status LimitError(const std::string& org_id, const WriteAnswer& answer) const;
  absl::StatusOr<pb::ActivityRecord> FinishWrite(const std::string& org_id,
                                                 const PreparedWrite& write,
                                                 const WriteAnswer& answer);
  // An amendment (with `amended`) or a void of one record.
  struct Change {
    std::string id;
    int64_t expected_revision = 0;
    std::string request_id;
    std::string fingerprint;
    const pb::ActivityRecord* amended = nullptr;
    std::string void_reason;  // Voids when set.
    std::string reason;
  };
  // The write of `change` to the record stored as `read_blob`.
  absl::StatusOr<PreparedWrite> PrepareChange(const std::string& org_id,
                                              const std::string& recorded_by, const Change& change,
                                              bool quota_exempt, const std::string& read_blob);
  absl::StatusOr<pb::ActivityRecord> ChangeActivity(const std::string& org_id,
                                                    const std::string& recorded_by,
                                                    const Change& change, bool quota_exempt);
  // Records an earlier version stored are listed once indexed: the first
  // listing of an org after an upgrade does it, 1000 per script call.
  absl::Status IndexLegacyRecords(const std::string& org_id);
  // The next `count` entries after `cursor` of the index that serves
  // `order` and the request's type.
  absl::StatusOr<std::vector<Store::IndexEntry>> ScanActivityIndex(
      const std::string& org_id, const pb::ListActivitiesRequest& request, ActivityOrder order,
      const std::string& cursor, int count);
  absl::StatusOr<std::vector<pb::ActivityRecord>> FetchActivities(
      const std::string& org_id, const std::vector<std::string>& ids);
  absl::Status RequireOrg(const std::string& org_id);
  // Ids of the records of measure `m` in `period` that pass its filter and,
  // when `breakdown` is set, carry `value` for it.
  absl::StatusOr<std::vector<std::string>> ProvenanceOf(const std::string& org_id,
                                                        const pb::Measure& m, const Period& period,
                                                        const std::string& breakdown,
                                                        const std::string& value);
  absl::StatusOr<CompiledProfile::Figures> ReadFigures(const std::string& org_id,
                                                       const CompiledProfile& profile,
                                                       const Period& period);
  // Every org that names `parent_id` as its parent, by id.
  absl::StatusOr<std::vector<pb::Org>> ChildrenOf(const std::string& parent_id);
  // The roll-up of `profile` (the parent's) for `period`.
  absl::StatusOr<pb::GetRollupValuesResponse> ReadRollup(const std::string& parent_id,
                                                         const CompiledProfile& profile,
                                                         const Period& period);
  // A child that shares: its figures as ReadChild reads them, or nullopt
  // when it has no profile yet.
  absl::StatusOr<std::optional<ChildFigures>> ReadSharedChild(const pb::Org& org,
                                                              const CompiledProfile& parent,
                                                              const Period& period);
  // One child's figures by its `profile`, and the persons of the DISTINCT
  // indicators `parent` rolls up, of one data version.
  absl::StatusOr<ChildFigures> ReadChild(const std::string& child_id,
                                         const std::shared_ptr<const CompiledProfile>& profile,
                                         const CompiledProfile& parent, const Period& period);
  absl::Time Now() const;

  Store store_;
  RecordsOptions options_;
  std::mutex mu_;
  struct CachedProfile {
    std::shared_ptr<const CompiledProfile> profile;
    absl::Time until;
  };
  std::map<std::string, CachedProfile> profiles_;
  // Orgs without records of an earlier version left to index (none is
  // written there any more, so an org once done stays done).
  std::set<std::string> indexed_orgs_;
};

}  // namespace govreport::records

#endif  // GOVREPORT_RECORDS_CORE_H_
