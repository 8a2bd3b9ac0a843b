// A draft's revision: what is rendered from the report, the org and its
// figures, and the writes that add the revision. One code for the two
// places a draft is assembled: a worker taking a queued job, and
// CreateReport assembling the first revision itself while a slot is free.
#ifndef GOVREPORT_ASSEMBLER_ASSEMBLY_H_
#define GOVREPORT_ASSEMBLER_ASSEMBLY_H_

#include <atomic>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "assembler/domain.h"
#include "assembler/store.h"
#include "assembler/upstream.h"

namespace govreport::assembler {

// The draft's TXT from the figures and org fields read now.
absl::StatusOr<tpb::RenderResponse> RenderDraft(Upstream& upstream, const CallAs& as,
                                                const ReportRef& ref, const pb::Report& report,
                                                const rpb::Org& org,
                                                const rpb::GetIndicatorValuesResponse& figures);

// Revision `number` made for `job`, applied to `next` (which the commit
// writes: build the CommitBuilder after this).
pb::Revision ApplyNewRevision(pb::Report& next, const AssembleJob& job, int64_t number,
                              const rpb::Org& org, const rpb::GetIndicatorValuesResponse& figures,
                              const tpb::RenderResponse& rendered, int64_t now_unix);

// The writes that go with it: the revision, the job's idempotency key and
// the org's "assembled" event.
void WriteRevision(CommitBuilder& commit, const ReportRef& ref, const AssembleJob& job,
                   const pb::Revision& revision, int64_t now_unix, absl::Duration event_retention);

// At most `limit` assemblies at once outside the worker pool; a slot is
// given back when its holder goes.
class AssemblySlots {
 public:
  class Slot {
   public:
    explicit Slot(std::atomic<int>* taken) : taken_(taken) {}
    Slot(Slot&& other) noexcept : taken_(other.taken_) { other.taken_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (taken_ != nullptr) taken_->fetch_sub(1);
    }

   private:
    std::atomic<int>* taken_;
  };

  explicit AssemblySlots(int limit) : limit_(limit) {}
  // A slot, or none when `limit` are taken.
  std::optional<Slot> TryAcquire();

 private:
  const int limit_;
  std::atomic<int> taken_{0};
};

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_ASSEMBLY_H_
