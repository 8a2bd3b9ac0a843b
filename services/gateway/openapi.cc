#include "gateway/openapi.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace govreport::gateway {
namespace {

namespace pb = google::protobuf;
using pb::FieldDescriptor;

pb::Value Str(absl::string_view s) {
  pb::Value v;
  v.set_string_value(std::string(s));
  return v;
}

pb::Struct& Obj(pb::Struct& parent, const std::string& key) {
  return *(*parent.mutable_fields())[key].mutable_struct_value();
}

void Set(pb::Struct& s, const std::string& key, pb::Value v) {
  (*s.mutable_fields())[key] = std::move(v);
}

std::string Ref(const pb::Descriptor* type) {
  return absl::StrCat("#/components/schemas/", type->full_name());
}

// The schema of one message type and every type it reaches.
class Schemas {
 public:
  explicit Schemas(pb::Struct* out) : out_(out) {}
  void Add(const pb::Descriptor* type);
  // A field's schema (its JSON form in proto3 JSON).
  void Field(const FieldDescriptor* f, pb::Struct& schema);

 private:
  void Scalar(const FieldDescriptor* f, pb::Struct& schema);
  void Message(const pb::Descriptor* type, pb::Struct& schema);
  pb::Struct* out_;
  std::set<std::string> done_;
};

void Schemas::Message(const pb::Descriptor* type, pb::Struct& schema) {
  const std::string& n = type->full_name();
  if (n == "google.protobuf.Timestamp") {
    Set(schema, "type", Str("string"));
    Set(schema, "format", Str("date-time"));
  } else if (n == "google.protobuf.Duration") {
    Set(schema, "type", Str("string"));
    Set(schema, "description", Str("seconds with an s suffix, \"1.5s\""));
  } else if (absl::StartsWith(n, "google.protobuf.")) {
    Set(schema, "type", Str("object"));
  } else {
    Add(type);
    Set(schema, "$ref", Str(Ref(type)));
  }
}

void Schemas::Scalar(const FieldDescriptor* f, pb::Struct& schema) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      return Message(f->message_type(), schema);
    case FieldDescriptor::TYPE_ENUM: {
      Set(schema, "type", Str("string"));
      pb::ListValue* values = (*schema.mutable_fields())["enum"].mutable_list_value();
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        *values->add_values() = Str(f->enum_type()->value(i)->name());
      }
      return;
    }
    case FieldDescriptor::TYPE_BOOL:
      Set(schema, "type", Str("boolean"));
      return;
    case FieldDescriptor::TYPE_STRING:
      Set(schema, "type", Str("string"));
      return;
    case FieldDescriptor::TYPE_BYTES:
      Set(schema, "type", Str("string"));
      Set(schema, "format", Str("byte"));
      return;
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FLOAT:
      Set(schema, "type", Str("number"));
      return;
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      Set(schema, "type", Str("integer"));
      Set(schema, "format", Str("int32"));
      return;
    default:
      // 64-bit integers are strings in proto3 JSON.
      Set(schema, "type", Str("string"));
      Set(schema, "format", Str("int64"));
      return;
  }
}

void Schemas::Field(const FieldDescriptor* f, pb::Struct& schema) {
  if (f->is_map()) {
    Set(schema, "type", Str("object"));
    Scalar(f->message_type()->map_value(), Obj(schema, "additionalProperties"));
  } else if (f->is_repeated()) {
    Set(schema, "type", Str("array"));
    Scalar(f, Obj(schema, "items"));
  } else {
    Scalar(f, schema);
  }
}

void Schemas::Add(const pb::Descriptor* type) {
  if (!done_.insert(type->full_name()).second) return;
  pb::Struct& schema = Obj(*out_, type->full_name());
  Set(schema, "type", Str("object"));
  pb::Struct& props = Obj(schema, "properties");
  for (int i = 0; i < type->field_count(); ++i) {
    Field(type->field(i), Obj(props, type->field(i)->json_name()));
  }
}

// A path parameter: one wildcard segment of a variable.
struct PathParam {
  std::string name;
  std::string description;
};

// "/v1/{name=orgs/*/approvals/*}:approve" → "/v1/orgs/{orgsId}/approvals/{approvalsId}:approve":
// what a request path looks like, one parameter per wildcard, named after
// the collection before it (a variable that is one whole segment keeps its
// field's name), so that no two routes share an OpenAPI path.
std::string OpenApiPath(const PathTemplate& t, std::vector<PathParam>* params) {
  std::string out;
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const PathTemplate::Segment& seg = t.segments[i];
    out += '/';
    if (!seg.wildcard && !seg.rest) {
      out += seg.literal;
      continue;
    }
    const PathTemplate::Variable* var = nullptr;
    for (const auto& v : t.variables) {
      if (i >= v.begin && i < v.end) var = &v;
    }
    std::string name;
    if (var != nullptr && var->end - var->begin == 1) {
      name = var->field_path;
    } else if (i > 0 && !t.segments[i - 1].literal.empty()) {
      name = absl::StrCat(t.segments[i - 1].literal, "Id");
    } else {
      name = absl::StrCat("segment", i);
    }
    absl::StrAppend(&out, "{", name, "}");
    params->push_back({name, var == nullptr ? ""
                                            : absl::StrCat("a segment of ", var->field_path, " (",
                                                           var->pattern, ")")});
  }
  if (!t.verb.empty()) absl::StrAppend(&out, ":", t.verb);
  return out;
}

void Parameter(pb::ListValue& params, const std::string& name, const std::string& in,
               const pb::Struct& schema, const std::string& description) {
  pb::Struct& p = *params.add_values()->mutable_struct_value();
  Set(p, "name", Str(name));
  Set(p, "in", Str(in));
  if (in == "path") (*p.mutable_fields())["required"].set_bool_value(true);
  if (!description.empty()) Set(p, "description", Str(description));
  *Obj(p, "schema").mutable_fields() = schema.fields();
}

// The top-level fields of the request not bound by the path or the body.
void QueryParameters(const Route& r, Schemas& schemas, pb::ListValue& params) {
  if (r.body == "*") return;
  std::set<std::string> bound;
  for (const auto& v : r.path.variables) {
    bound.insert(v.field_path.substr(0, v.field_path.find('.')));
  }
  const pb::Descriptor* in = r.method->input_type();
  for (int i = 0; i < in->field_count(); ++i) {
    const FieldDescriptor* f = in->field(i);
    // Messages and maps cannot travel in a query string.
    if (bound.count(f->name()) > 0 || f->name() == r.body || f->is_map() ||
        f->type() == FieldDescriptor::TYPE_MESSAGE) {
      continue;
    }
    pb::Struct schema;
    schemas.Field(f, schema);
    Parameter(params, f->json_name(), "query", schema, "");
  }
}

void Operation(const Route& r, const std::vector<PathParam>& path_params, Schemas& schemas,
               pb::Struct& op) {
  Set(op, "operationId", Str(absl::StrCat(r.method->service()->name(), "_", r.method->name())));
  pb::ListValue* tags = (*op.mutable_fields())["tags"].mutable_list_value();
  *tags->add_values() = Str(r.method->service()->full_name());
  Set(op, "summary", Str(r.method->full_name()));
  pb::ListValue& params = *(*op.mutable_fields())["parameters"].mutable_list_value();
  for (const PathParam& p : path_params) {
    pb::Struct schema;
    Set(schema, "type", Str("string"));
    Parameter(params, p.name, "path", schema, p.description);
  }
  QueryParameters(r, schemas, params);
  const pb::Descriptor* in = r.method->input_type();
  if (!r.body.empty()) {
    pb::Struct& schema =
        Obj(Obj(Obj(Obj(op, "requestBody"), "content"), "application/json"), "schema");
    if (r.body == "*") {
      schemas.Add(in);
      Set(schema, "$ref", Str(Ref(in)));
    } else {
      schemas.Field(in->FindFieldByName(r.body), schema);
    }
  }
  schemas.Add(r.method->output_type());
  pb::Struct& ok = Obj(Obj(op, "responses"), "200");
  Set(ok, "description",
      Str(r.server_streaming ? "server-sent events, each data line one message as JSON" : "OK"));
  pb::Struct& content =
      Obj(Obj(ok, "content"), r.server_streaming ? "text/event-stream" : "application/json");
  Set(Obj(content, "schema"), "$ref", Str(Ref(r.method->output_type())));
  pb::Struct& err = Obj(Obj(op, "responses"), "default");
  Set(err, "description", Str("an error"));
  Set(Obj(Obj(Obj(err, "content"), "application/json"), "schema"), "$ref",
      Str("#/components/schemas/Error"));
}

void ErrorSchema(pb::Struct& schemas) {
  const char* kError = R"({"type":"object","properties":{"error":{"type":"object","properties":{
    "code":{"type":"integer","description":"the HTTP status"},
    "status":{"type":"string","description":"the gRPC code name, INVALID_ARGUMENT ..."},
    "message":{"type":"string"},
    "details":{"type":"array","items":{"type":"object","description":
      "google.rpc error details (ErrorInfo, BadRequest, RetryInfo, LocalizedMessage) with @type"}}}}}})";
  (void)pb::util::JsonStringToMessage(kError, &Obj(schemas, "Error"));
}

}  // namespace

std::string OpenApiJson(const std::vector<Route>& routes) {
  pb::Struct doc;
  Set(doc, "openapi", Str("3.0.3"));
  pb::Struct& info = Obj(doc, "info");
  Set(info, "title", Str("govreport HTTP/JSON gateway"));
  Set(info, "version", Str("v1"));
  Set(info, "description",
      Str("Every RPC of the govreport services as REST per its google.api.http rule "
          "(docs/gateway.md). Generated from the protos."));
  pb::Struct& components = Obj(doc, "components");
  pb::Struct& bearer = Obj(Obj(components, "securitySchemes"), "bearer");
  Set(bearer, "type", Str("http"));
  Set(bearer, "scheme", Str("bearer"));
  pb::ListValue* security = (*doc.mutable_fields())["security"].mutable_list_value();
  (*security->add_values()->mutable_struct_value()->mutable_fields())["bearer"]
      .mutable_list_value();
  pb::Struct& schema_obj = Obj(components, "schemas");
  ErrorSchema(schema_obj);
  Schemas schemas(&schema_obj);
  pb::Struct& paths = Obj(doc, "paths");
  std::map<std::string, int> ids;
  for (const Route& r : routes) {
    std::vector<PathParam> path_params;
    std::string path = OpenApiPath(r.path, &path_params);
    pb::Struct& op = Obj(Obj(paths, path), absl::AsciiStrToLower(r.http_method));
    Operation(r, path_params, schemas, op);
    // Additional bindings of one RPC need their own operation ids.
    int n = ids[r.rpc_path]++;
    if (n > 0) {
      Set(op, "operationId",
          Str(absl::StrCat(r.method->service()->name(), "_", r.method->name(), "_", n + 1)));
    }
  }
  std::string out;
  pb::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(doc, &out, opts);
  return out;
}

}  // namespace govreport::gateway
