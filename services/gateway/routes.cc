#include "gateway/routes.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/api/annotations.pb.h"
#include "govreport/auth/v1/auth.pb.h"
#include "govreport/events/v1/events.pb.h"
#include "govreport/templates/v1/templates.pb.h"

namespace govreport::gateway {
namespace {

namespace pb = google::protobuf;

// Static libraries drop object files nothing refers to, and with them the
// registration of their descriptors: these references keep every API file
// in the generated pool (events.proto imports records, approval and
// assembler). The routes themselves come from walking the pool.
void KeepApiFilesLinked() {
  (void)events::v1::StreamEventsRequest::descriptor();
  (void)templates::v1::RenderRequest::descriptor();
  (void)auth::v1::WhoAmIRequest::descriptor();
}

// Parses "orgs/*/reports/*" (or "**") into segments.
absl::Status AppendSegments(absl::string_view text, PathTemplate& out) {
  for (absl::string_view part : absl::StrSplit(text, '/')) {
    PathTemplate::Segment seg;
    if (part == "*") {
      seg.wildcard = true;
    } else if (part == "**") {
      seg.rest = true;
    } else if (part.empty() || absl::StrContains(part, '*') || absl::StrContains(part, '{')) {
      return absl::InvalidArgumentError(absl::StrCat("bad path segment \"", part, "\""));
    } else {
      seg.literal = std::string(part);
    }
    out.segments.push_back(std::move(seg));
  }
  return absl::OkStatus();
}

void AddRoute(const pb::MethodDescriptor* method, const google::api::HttpRule& rule,
              std::vector<Route>& routes, absl::Status& status) {
  Route r;
  r.method = method;
  std::string path;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      r.http_method = "GET", path = rule.get();
      break;
    case google::api::HttpRule::kPost:
      r.http_method = "POST", path = rule.post();
      break;
    case google::api::HttpRule::kPut:
      r.http_method = "PUT", path = rule.put();
      break;
    case google::api::HttpRule::kPatch:
      r.http_method = "PATCH", path = rule.patch();
      break;
    case google::api::HttpRule::kDelete:
      r.http_method = "DELETE", path = rule.delete_();
      break;
    case google::api::HttpRule::kCustom:
      r.http_method = rule.custom().kind(), path = rule.custom().path();
      break;
    default:
      break;
  }
  absl::StatusOr<PathTemplate> tmpl = ParsePathTemplate(path);
  if (!tmpl.ok()) {
    status.Update(absl::InvalidArgumentError(
        absl::StrCat(method->full_name(), ": ", tmpl.status().message())));
    return;
  }
  r.path = *std::move(tmpl);
  r.body = rule.body();
  if (!r.body.empty() && r.body != "*") {
    const pb::FieldDescriptor* f = method->input_type()->FindFieldByName(r.body);
    if (f == nullptr || f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      status.Update(absl::InvalidArgumentError(absl::StrCat(
          method->full_name(), ": body \"", r.body, "\" is no singular message field")));
      return;
    }
  }
  r.rpc_path = absl::StrCat("/", method->service()->full_name(), "/", method->name());
  r.server_streaming = method->server_streaming();
  pb::MessageFactory* factory = pb::MessageFactory::generated_factory();
  r.input_prototype = factory->GetPrototype(method->input_type());
  r.output_prototype = factory->GetPrototype(method->output_type());
  r.output_type_url = absl::StrCat("type.googleapis.com/", method->output_type()->full_name());
  routes.push_back(std::move(r));
  for (const google::api::HttpRule& extra : rule.additional_bindings()) {
    AddRoute(method, extra, routes, status);
  }
}

}  // namespace

absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text) {
  PathTemplate out;
  out.text = std::string(text);
  if (!absl::StartsWith(text, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", text, "\" does not start with /"));
  }
  absl::string_view rest = text.substr(1);
  // The verb follows the last ':' outside braces.
  size_t close = rest.rfind('}');
  size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && (close == absl::string_view::npos || colon > close)) {
    out.verb = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  while (!rest.empty()) {
    if (rest[0] == '{') {
      size_t end = rest.find('}');
      if (end == absl::string_view::npos) return absl::InvalidArgumentError("unclosed {");
      absl::string_view var = rest.substr(1, end - 1);
      PathTemplate::Variable v;
      size_t eq = var.find('=');
      v.field_path = std::string(var.substr(0, eq));
      v.pattern = eq == absl::string_view::npos ? "*" : std::string(var.substr(eq + 1));
      v.begin = out.segments.size();
      if (absl::Status st = AppendSegments(v.pattern, out); !st.ok()) return st;
      v.end = out.segments.size();
      out.variables.push_back(std::move(v));
      rest = rest.substr(end + 1);
    } else {
      size_t end = rest.find('/');
      absl::string_view lit = rest.substr(0, end);
      if (absl::Status st = AppendSegments(lit, out); !st.ok()) return st;
      rest = end == absl::string_view::npos ? "" : rest.substr(end);
    }
    if (!rest.empty()) {
      if (rest[0] != '/') return absl::InvalidArgumentError("expected / after a variable");
      rest = rest.substr(1);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Route>> BuildRoutes(absl::string_view package_prefix) {
  KeepApiFilesLinked();
  std::vector<std::string> files;
  pb::DescriptorPool::internal_generated_database()->FindAllFileNames(&files);
  std::sort(files.begin(), files.end());
  std::vector<Route> routes;
  absl::Status status;
  for (const std::string& name : files) {
    const pb::FileDescriptor* file = pb::DescriptorPool::generated_pool()->FindFileByName(name);
    if (file == nullptr || !absl::StartsWith(file->package(), package_prefix)) continue;
    for (int s = 0; s < file->service_count(); ++s) {
      const pb::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const pb::MethodDescriptor* method = service->method(m);
        if (!method->options().HasExtension(google::api::http)) continue;
        AddRoute(method, method->options().GetExtension(google::api::http), routes, status);
      }
    }
  }
  if (!status.ok()) return status;
  return routes;
}

SplitPath SplitRequestPath(absl::string_view path) {
  SplitPath out;
  if (absl::StartsWith(path, "/")) path.remove_prefix(1);
  size_t slash = path.rfind('/');
  size_t colon = path.rfind(':');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    out.verb = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
  }
  out.segments = absl::StrSplit(path, '/');
  return out;
}

bool MatchTemplate(const PathTemplate& tmpl, const SplitPath& path, Bindings* bindings) {
  if (tmpl.verb != path.verb) return false;
  const auto& segs = tmpl.segments;
  bool has_rest = !segs.empty() && segs.back().rest;
  if (has_rest ? path.segments.size() < segs.size() : path.segments.size() != segs.size()) {
    return false;
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].rest) break;
    const std::string& got = path.segments[i];
    if (got.empty()) return false;
    if (!segs[i].wildcard && got != segs[i].literal) return false;
  }
  bindings->clear();
  for (const PathTemplate::Variable& v : tmpl.variables) {
    size_t end = (v.end == segs.size() && has_rest) ? path.segments.size() : v.end;
    std::vector<absl::string_view> parts(path.segments.begin() + v.begin,
                                         path.segments.begin() + end);
    bindings->emplace_back(v.field_path, absl::StrJoin(parts, "/"));
  }
  return true;
}

MatchResult MatchRoute(const std::vector<Route>& routes, absl::string_view http_method,
                       absl::string_view path) {
  MatchResult result;
  SplitPath split = SplitRequestPath(path);
  Bindings bindings;
  for (const Route& r : routes) {
    if (!MatchTemplate(r.path, split, &bindings)) continue;
    if (r.http_method == http_method) {
      result.route = &r;
      result.bindings = std::move(bindings);
      result.allowed.clear();
      return result;
    }
    if (std::find(result.allowed.begin(), result.allowed.end(), r.http_method) ==
        result.allowed.end()) {
      result.allowed.push_back(r.http_method);
    }
  }
  return result;
}

}  // namespace govreport::gateway
