// The templates service's logic: versioned templates in Redis, validation
// against an org's profile, rendering to every format, and previews against
// live figures. No gRPC here except through the FiguresSource interface.
#ifndef GOVREPORT_TEMPLATES_SERVICE_TEMPLATES_H_
#define GOVREPORT_TEMPLATES_SERVICE_TEMPLATES_H_

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis.h"
#include "govreport/records/v1/records.pb.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/engine/mustache.h"
#include "templates/engine/validate.h"
#include "templates/engine/value.h"

namespace govreport::templates {

// What the service asks of the records service, on behalf of a caller.
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

// Where a template lives: an org ("kjj") or the shared scope ("").
struct TemplateRef {
  std::string org;
  std::string id;
  int64_t revision = 0;  // 0: the latest.
  std::string Name() const;
};

// orgs/{org}/templates/{id}[@rev] or templates/{id}[@rev].
absl::StatusOr<TemplateRef> ParseTemplateName(const std::string& name);

// The engine's value for a context value from the API.
absl::StatusOr<Value> ToEngineValue(const v1::Value& value, int depth = 0);
absl::StatusOr<Value> ToEngineContext(const v1::ValueMap& map);

// The names a report template of this profile may use.
Schema SchemaForProfile(const records::v1::Profile& profile);

class Templates {
 public:
  Templates(redis::Client* redis, FiguresSource* figures);

  absl::StatusOr<v1::Template> Create(const std::string& org, const std::string& id,
                                      const std::string& text, const std::string& description,
                                      const std::string& created_by, const std::string& token,
                                      const std::string& request_id);
  absl::StatusOr<v1::Template> Update(const TemplateRef& ref, const std::string& text,
                                      const std::string& description, int64_t expected_revision,
                                      const std::string& created_by, const std::string& token,
                                      const std::string& request_id);
  absl::StatusOr<v1::Template> Get(const TemplateRef& ref);
  absl::StatusOr<v1::ListTemplatesResponse> List(const std::string& org, int page_size,
                                                 const std::string& page_token);
  absl::StatusOr<std::vector<v1::Template>> Revisions(const TemplateRef& ref);

  // Problems of `text` for `org` (its profile and its partials); empty when
  // the template is fine.
  absl::StatusOr<std::vector<Problem>> Validate(const std::string& org, const std::string& text,
                                                const std::string& token);

  struct RenderInput {
    std::string org;
    std::optional<TemplateRef> ref;  // or:
    std::string text;
    Value context;
    v1::Format format = v1::TEXT;
    v1::DocxLayout docx_layout = v1::DOCUMENT_GRID;
    std::string title;
    std::string author;
    int64_t timestamp_unix = 0;
  };
  absl::StatusOr<v1::RenderResponse> Render(const RenderInput& input);
  absl::StatusOr<v1::RenderResponse> Preview(const v1::PreviewRequest& request,
                                             const std::string& org, const std::string& token);

  // Compiled templates by name@revision (revisions never change, so the
  // cache needs no invalidation, only a bound).
  absl::StatusOr<std::shared_ptr<const CompiledTemplate>> Compiled(const TemplateRef& ref,
                                                                    int64_t* revision);

 private:
  absl::StatusOr<int64_t> LatestRevision(const std::string& org, const std::string& id);
  absl::Status CheckSyntaxAndNames(const std::string& org, const std::string& text,
                                   const std::string& token);
  absl::StatusOr<v1::Template> Store(const std::string& mode, const TemplateRef& ref,
                                     v1::Template t, int64_t expected, const std::string& request_id);

  redis::Client* redis_;
  FiguresSource* figures_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const CompiledTemplate>> cache_;
  std::list<std::string> cache_order_;
};

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_TEMPLATES_H_
