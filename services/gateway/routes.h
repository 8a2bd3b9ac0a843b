// The gateway's routes: every RPC's google.api.http rules (and their
// additional_bindings), read from the generated descriptors at start-up,
// and the matching of an HTTP method and path against them (AIP-127
// path templates: literals, `*`, `**`, {field.path=pattern} and a trailing
// `:verb`). No table per RPC: a new annotated RPC is a new route.
#ifndef GOVREPORT_GATEWAY_ROUTES_H_
#define GOVREPORT_GATEWAY_ROUTES_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace govreport::gateway {

// A parsed path template such as "/v1/{name=orgs/*/reports/*}:watch".
struct PathTemplate {
  struct Segment {
    // A literal segment; empty for `*` (one segment) and `**` (the rest).
    std::string literal;
    bool wildcard = false;
    bool rest = false;
  };
  // A variable: the request field it sets and the segments it spans.
  struct Variable {
    std::string field_path;  // "name", "org.name"
    size_t begin = 0;
    size_t end = 0;       // One past its last segment.
    std::string pattern;  // "orgs/*" as written.
  };
  std::vector<Segment> segments;
  std::vector<Variable> variables;
  std::string verb;  // After the last ':', empty if none.
  std::string text;  // As written in the rule.
};

absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text);

// One HTTP binding of one RPC.
struct Route {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string http_method;  // GET, POST, PUT, PATCH, DELETE
  PathTemplate path;
  // "" (no body), "*" (the whole request) or a top-level field name.
  std::string body;
  // "/govreport.records.v1.ActivityService/CreateActivity"
  std::string rpc_path;
  bool server_streaming = false;
  // Looked up once here rather than per request: the generated
  // prototypes of the request and response types, the response's type URL.
  const google::protobuf::Message* input_prototype = nullptr;
  const google::protobuf::Message* output_prototype = nullptr;
  std::string output_type_url;
};

// Every route of every service in the generated pool whose package starts
// with `package_prefix` ("govreport."), in file and declaration order.
// An RPC without a rule gets none; a malformed rule is an error.
absl::StatusOr<std::vector<Route>> BuildRoutes(absl::string_view package_prefix = "govreport.");

// What a request path binds: field path → value (segments joined by '/').
using Bindings = std::vector<std::pair<std::string, std::string>>;

// Splits a decoded request path into segments and its verb, as the
// templates are split ("/v1/orgs/a/approvals/b:approve").
struct SplitPath {
  std::vector<std::string> segments;
  std::string verb;
};
SplitPath SplitRequestPath(absl::string_view path);

// Whether `path` matches `tmpl`; fills `bindings` when it does.
bool MatchTemplate(const PathTemplate& tmpl, const SplitPath& path, Bindings* bindings);

struct MatchResult {
  const Route* route = nullptr;  // Null: no route for this method.
  Bindings bindings;
  // The methods whose routes match the path (for 405's Allow), when
  // route is null.
  std::vector<std::string> allowed;
};
MatchResult MatchRoute(const std::vector<Route>& routes, absl::string_view http_method,
                       absl::string_view path);

}  // namespace govreport::gateway

#endif  // GOVREPORT_GATEWAY_ROUTES_H_
