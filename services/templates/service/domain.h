// Pure rules of the templates service: template names, which templates an
// org may render, the engine's values for API values, and the schema a
// profile allows. No Redis, no network.
#ifndef GOVREPORT_TEMPLATES_SERVICE_DOMAIN_H_
#define GOVREPORT_TEMPLATES_SERVICE_DOMAIN_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "govreport/records/v1/records.pb.h"
#include "govreport/templates/v1/templates.pb.h"
#include "templates/engine/validate.h"
#include "templates/engine/value.h"

namespace govreport::templates {

namespace typepb = ::govreport::type::v1;

// Bytes of a template's text (stored, inline or validated).
inline constexpr size_t kMaxTemplateBytes = 1 << 20;

// Where a template lives: an org ("kjj") or the shared scope ("").
struct TemplateRef {
  std::string org;
  std::string id;
  int64_t revision = 0;  // 0: the latest.
  std::string Name() const;
};

// orgs/{org}/templates/{id}[@rev] or templates/{id}[@rev].
absl::StatusOr<TemplateRef> ParseTemplateName(const std::string& name);

// The template `name` when `org` may render it: its own or a shared one,
// never another org's (PERMISSION_DENIED).
absl::StatusOr<TemplateRef> TemplateRenderableBy(const std::string& name, const std::string& org);

// RenderRequest.partial_revisions, checked: by the name a template writes,
// the exact revision of `org`'s own or of the shared template of that id.
using PartialPins = absl::flat_hash_map<std::string, TemplateRef>;
absl::StatusOr<PartialPins> ParsePartialPins(
    const google::protobuf::Map<std::string, std::string>& pins, const std::string& org);

// INVALID_ARGUMENT over kMaxTemplateBytes.
absl::Status CheckTemplateSize(const std::string& text);

// The engine's value for a context value from the API.
absl::StatusOr<Value> ToEngineValue(const v1::Value& value, int depth = 0);
absl::StatusOr<Value> ToEngineContext(const v1::ValueMap& map);

// The names a report template of this profile may use.
Schema SchemaForProfile(const records::v1::Profile& profile);

// The names a shared template may use: it serves many profiles, so only the
// fixed names and the wildcards ind.*, facts.*, narrative.* are known.
Schema SharedTemplateSchema();

}  // namespace govreport::templates

#endif  // GOVREPORT_TEMPLATES_SERVICE_DOMAIN_H_
