#include "assembler/assembly.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "report_context/report_context.h"

namespace govreport::assembler {

absl::StatusOr<tpb::RenderResponse> RenderDraft(Upstream& upstream, const CallAs& as,
                                                const ReportRef& ref, const pb::Report& report,
                                                const rpb::Org& org,
                                                const rpb::GetIndicatorValuesResponse& figures) {
  templates::ReportContextInput in;
  in.org = org;
  in.figures = figures;
  // Narrative goes in as data: the renderer prints it, never parses it.
  in.narrative =
      std::map<std::string, std::string>(report.narrative().begin(), report.narrative().end());
  tpb::RenderRequest rr;
  rr.set_parent(absl::StrCat("orgs/", ref.org));
  rr.set_template_(report.template_());
  *rr.mutable_context() = templates::BuildReportContext(in);
  rr.set_format(typepb::DOCUMENT_FORMAT_TXT);
  rr.set_title(report.title());
  rr.set_author(org.display_name());
  return upstream.Render(as, rr);
}

pb::Revision ApplyNewRevision(pb::Report& next, const AssembleJob& job, int64_t number,
                              const rpb::Org& org, const rpb::GetIndicatorValuesResponse& figures,
                              const tpb::RenderResponse& rendered, int64_t now_unix) {
  pb::Revision rev = MakeRevision(next, job, number, org, figures, rendered, now_unix);
  ApplyRevision(next, rev, job.seq, now_unix);
  return rev;
}

void WriteRevision(CommitBuilder& commit, const ReportRef& ref, const AssembleJob& job,
                   const pb::Revision& revision, int64_t now_unix, absl::Duration event_retention) {
  commit.Set(Store::RevisionKey(RevisionRef{ref.org, ref.id, revision.number()}),
             revision.SerializeAsString());
  commit.Set(JobIdempotencyKey(job), absl::StrCat(revision.number()));
  commit.AppendEvent(ref.org, AssembledEvent(job, revision, now_unix), event_retention);
}

std::optional<AssemblySlots::Slot> AssemblySlots::TryAcquire() {
  if (taken_.fetch_add(1) >= limit_) {
    taken_.fetch_sub(1);
    return std::nullopt;
  }
  return Slot(&taken_);
}

}  // namespace govreport::assembler
