// TemplatesCore, the templates service's rules and orchestration: versioned
// templates (through Store), validation against an org's profile, rendering
// to every format under a budget, and previews against live figures (through
// FiguresSource). No Redis calls and no gRPC here.
#ifndef GOVREPORT_TEMPLATES_SERVICE_CORE_H_
#define GOVREPORT_TEMPLATES_SERVICE_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "govreport/records/v1/records.pb.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/docx/docx_writer.h"
#include "templates/engine/mustache.h"
#include "templates/engine/validate.h"
#include "templates/engine/value.h"
#include "templates/service/domain.h"
#include "templates/service/store.h"

namespace govreport::templates {

// What the service asks of the records service, on behalf of a caller
// (records_figures.h over gRPC).
class FiguresSource {
 public:
  virtual ~FiguresSource() = default;
  virtual absl::StatusOr<records::v1::Profile> GetProfile(const std::string& org,
                                                          const std::string& token) = 0;
  virtual absl::StatusOr<records::v1::Org> GetOrg(const std::string& org,
                                                  const std::string& token) = 0;
  virtual absl::StatusOr<records::v1::GetIndicatorValuesResponse> GetFigures(
      const std::string& org, const std::string& period, const std::string& token) = 0;
};

// What one render may cost and how many run at once; the templates binary
// sets them from its --render-* flags (docs/templates.md).
struct RenderLimits {
  uint64_t max_steps = 20'000'000;
  size_t max_output_bytes = size_t{16} << 20;
  uint64_t max_partial_expansions = 100'000;
  size_t max_partial_names = 1'000;
  // Renders in progress at once; more wait up to queue_wait (never past
  // their deadline) and are then refused with RESOURCE_EXHAUSTED.
  int max_concurrent = 8;
  // Of those, at most this many for one org's own callers, so that one
  // tenant cannot take every slot; the platform's own calls (org "*", the
  // assembler's workers) are not held to it.
  int max_concurrent_per_org = 2;
  absl::Duration queue_wait = absl::Milliseconds(250);
  // Bytes of a request's context (RenderRequest.context, the narrative of
  // a PreviewRequest); more is INVALID_ARGUMENT before it is converted.
  size_t max_context_bytes = size_t{2} << 20;
};

// The caller's deadline and cancellation, from the gRPC edge.
struct CallControl {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;  // may be empty
  // The caller is the platform (org "*"): not held to the per-org limit.
  bool platform = false;
};

// Counters of the renders this replica ran (for tests and operators).
struct RenderStats {
  int64_t in_progress = 0;
  int64_t finished = 0;
  int64_t refused_busy = 0;       // over max_concurrent
  int64_t stopped_deadline = 0;   // DEADLINE_EXCEEDED
  int64_t stopped_cancelled = 0;  // CANCELLED
  int64_t exhausted = 0;          // RESOURCE_EXHAUSTED: a budget
  int64_t steps = 0;              // engine steps, all renders
};

class TemplatesCore {
 public:
  TemplatesCore(Store* store, FiguresSource* figures, RenderLimits limits = {});
  ~TemplatesCore();
  TemplatesCore(const TemplatesCore&) = delete;
  TemplatesCore& operator=(const TemplatesCore&) = delete;

  absl::StatusOr<v1::Template> Create(const std::string& org, const std::string& id,
                                      const std::string& text, const std::string& description,
                                      const std::string& created_by, const std::string& token,
                                      const std::string& request_id);
  absl::StatusOr<v1::Template> Update(const TemplateRef& ref, const std::string& text,
                                      const std::string& description, int64_t expected_revision,
                                      const std::string& created_by, const std::string& token,
                                      const std::string& request_id,
                                      bool allow_orphaned_blocks = false);
  absl::StatusOr<v1::Template> Get(const TemplateRef& ref);
  absl::StatusOr<v1::ListTemplatesResponse> List(const std::string& org, int page_size,
                                                 const std::string& page_token);
  absl::StatusOr<std::vector<v1::Template>> Revisions(const TemplateRef& ref);
  // One page of them, oldest first; the cursor is the last revision number.
  absl::StatusOr<v1::ListTemplateRevisionsResponse> ListRevisions(const TemplateRef& ref,
                                                                  int page_size,
                                                                  const std::string& page_token);

  // Problems of `text` for `org` (its profile and its partials); empty when
  // the template is fine.
  absl::StatusOr<std::vector<Problem>> Validate(const std::string& org, const std::string& text,
                                                const std::string& token);

  struct RenderInput {
    std::string org;
    std::optional<TemplateRef> ref;  // or:
    std::string text;
    Value context;
    // Or the request's own context, converted only once the render has its
    // slot, so that queued requests hold no converted copies.
    const v1::ValueMap* request_context = nullptr;
    typepb::DocumentFormat format = typepb::DOCUMENT_FORMAT_TXT;
    v1::DocxLayout docx_layout = v1::DOCX_LAYOUT_DOCUMENT_GRID;
    std::string title;
    std::string author;
    int64_t timestamp_unix = 0;
    // RenderRequest.frame, checked (FrameFromProto); Preview leaves it empty.
    docx::DocumentFrame frame;
    // RenderRequest.partial_revisions, checked (ParsePartialPins).
    PartialPins pins;
    CallControl call;
    size_t context_bytes = 0;  // what the context weighed on the wire
  };
  absl::StatusOr<v1::RenderResponse> Render(const RenderInput& input);
  absl::StatusOr<v1::RenderResponse> Preview(const v1::PreviewRequest& request,
                                             const std::string& org, const std::string& token,
                                             const CallControl& call = {});

  // A request's context for the engine; INVALID_ARGUMENT over
  // max_context_bytes, checked before anything is converted.
  absl::StatusOr<Value> ContextFromRequest(const v1::ValueMap& context) const;

  const RenderLimits& limits() const { return limits_; }
  RenderStats stats() const;

  // Compiled templates by name@revision (revisions never change, so the
  // cache needs no invalidation, only a bound).
  absl::StatusOr<std::shared_ptr<const CompiledTemplate>> Compiled(const TemplateRef& ref,
                                                                   int64_t* revision);

  // A partial or parent found: its text and the exact revision it is.
  struct ResolvedPartial {
    std::shared_ptr<const CompiledTemplate> compiled;  // nullptr: none
    TemplateRef ref;
  };
  // Partials by name ("id" or "id@rev") for `org`: the pinned revision when
  // `pins` names it, else the org's own template first, then the shared
  // one; compiled is nullptr where neither exists. All names in at most two
  // pipelined round trips to Redis. A pinned revision that does not exist
  // is FAILED_PRECONDITION.
  absl::StatusOr<std::vector<ResolvedPartial>> ResolvePartials(
      const std::string& org, const std::vector<std::string>& names,
      const PartialPins* pins = nullptr);

 private:
  // Notes `ref` as a child of each parent its text extends (Store::NoteChild).
  absl::Status NoteParents(const TemplateRef& ref, const std::string& text);
  // FAILED_PRECONDITION when templates extending `ref` override a block
  // that `text`, as its next revision, no longer has (and had before).
  absl::Status CheckOverridesKept(const TemplateRef& ref, const std::string& text);
  absl::Status CheckSyntaxAndNames(const std::string& org, const std::string& text,
                                   const std::string& token);
  absl::StatusOr<v1::Template> Save(WriteMode mode, const TemplateRef& ref, v1::Template t,
                                    int64_t expected, const request_id::Call& call);

  // The template a render runs: the stored one (naming it in `out`) or the
  // inline text.
  absl::StatusOr<std::shared_ptr<const CompiledTemplate>> CompileForRender(const RenderInput& in,
                                                                           v1::RenderResponse* out);
  RenderOptions RenderOptionsFor(const CallControl& call) const;
  // Counts a finished render in the stats by how it ended.
  void CountRender(const absl::Status& rendered);

  std::shared_ptr<const CompiledTemplate> CacheLookup(const std::string& key);
  std::shared_ptr<const CompiledTemplate> CacheInsert(const std::string& key,
                                                      std::shared_ptr<const CompiledTemplate> c);
  // A render slot (max_concurrent); RESOURCE_EXHAUSTED when none frees up
  // in time.
  absl::Status AcquireSlot(absl::Time deadline, const std::string& org, bool platform);
  void ReleaseSlot(size_t bytes, const std::string& org, bool platform);
  void TrimLoop();

  Store* store_;
  FiguresSource* figures_;
  const RenderLimits limits_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const CompiledTemplate>> cache_;
  std::list<std::string> cache_order_;
  size_t cache_bytes_ = 0;

  mutable std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int in_progress_ = 0;
  std::map<std::string, int> in_progress_per_org_;
  // Bytes handled by renders since memory was last given back to the
  // system; the trimmer returns it once the replica is idle.
  size_t untrimmed_bytes_ = 0;
  bool stopping_ = false;
  std::thread trimmer_;
  std::atomic<int64_t> finished_{0}, refused_busy_{0}, stopped_deadline_{0}, stopped_cancelled_{0},
      exhausted_{0}, steps_{0};
};

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_CORE_H_
