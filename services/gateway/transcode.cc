#include "gateway/transcode.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace govreport::gateway {
namespace {

namespace pb = google::protobuf;
using pb::FieldDescriptor;

const FieldDescriptor* FindField(const pb::Descriptor* type, absl::string_view name) {
  const FieldDescriptor* f = type->FindFieldByName(std::string(name));
  for (int i = 0; f == nullptr && i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) f = type->field(i);
  }
  return f;
}

bool IsWellKnown(const pb::Descriptor* type) {
  return absl::StartsWith(type->full_name(), "google.protobuf.");
}

// The path of the first key of `value` that names no field of `type`
// (protobuf's parser refuses it without saying where).
std::optional<std::string> UnknownFieldPath(const pb::Descriptor* type, const pb::Value& value,
                                            const std::string& prefix);

std::optional<std::string> UnknownInField(const FieldDescriptor* f, const pb::Value& v,
                                          const std::string& path) {
  if (f->is_map()) {
    const FieldDescriptor* mv = f->message_type()->map_value();
    if (mv->type() != FieldDescriptor::TYPE_MESSAGE || !v.has_struct_value()) return std::nullopt;
    for (const auto& [k, item] : v.struct_value().fields()) {
      auto r = UnknownFieldPath(mv->message_type(), item, absl::StrCat(path, "[\"", k, "\"]"));
      if (r) return r;
    }
    return std::nullopt;
  }
  if (f->type() != FieldDescriptor::TYPE_MESSAGE || IsWellKnown(f->message_type())) {
    return std::nullopt;
  }
  if (f->is_repeated() && v.has_list_value()) {
    for (int i = 0; i < v.list_value().values_size(); ++i) {
      auto r = UnknownFieldPath(f->message_type(), v.list_value().values(i),
                                absl::StrCat(path, "[", i, "]"));
      if (r) return r;
    }
    return std::nullopt;
  }
  return UnknownFieldPath(f->message_type(), v, path);
}

std::optional<std::string> UnknownFieldPath(const pb::Descriptor* type, const pb::Value& value,
                                            const std::string& prefix) {
  if (!value.has_struct_value()) return std::nullopt;
  for (const auto& [key, v] : value.struct_value().fields()) {
    std::string path = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
    const FieldDescriptor* f = FindField(type, key);
    if (f == nullptr) return path;
    if (auto r = UnknownInField(f, v, path)) return r;
  }
  return std::nullopt;
}

// Parses `json` into `msg`, refusing unknown fields; on failure fills
// `error` with what and where.
bool ParseJsonInto(absl::string_view json, pb::Message* msg, const std::string& prefix,
                   RequestError* error) {
  pb::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const pb::StringPiece text(json.data(), json.size());
  pb::util::Status st = pb::util::JsonStringToMessage(text, msg, opts);
  if (st.ok()) return true;
  pb::Value any_json;
  if (!pb::util::JsonStringToMessage(text, &any_json).ok()) {
    error->message = absl::StrCat("the body is not valid JSON: ", std::string(st.message()));
    return false;
  }
  if (!any_json.has_struct_value()) {
    error->message = "the body must be a JSON object";
    return false;
  }
  if (auto path = UnknownFieldPath(msg->GetDescriptor(), any_json, prefix)) {
    error->field = *path;
    error->message = absl::StrCat("unknown field \"", *path, "\"");
    return false;
  }
  error->message = absl::StrCat("the body does not fit ", msg->GetDescriptor()->full_name(), ": ",
                                std::string(st.message()));
  return false;
}

absl::Status SetScalar(pb::Message& msg, const FieldDescriptor* f, absl::string_view text) {
  const pb::Reflection* r = msg.GetReflection();
  bool rep = f->is_repeated();
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(f->name(), ": \"", text, "\" is not a valid ", f->type_name()));
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v(text);
      if (f->type() == FieldDescriptor::TYPE_BYTES && !absl::WebSafeBase64Unescape(text, &v) &&
          !absl::Base64Unescape(text, &v)) {
        return bad();
      }
      rep ? r->AddString(&msg, f, v) : r->SetString(&msg, f, v);
      return absl::OkStatus();
    }
#define GR_SET_NUMBER(CPPTYPE, T, Name)                        \
  case FieldDescriptor::CPPTYPE: {                             \
    T v{};                                                     \
    if (!absl::SimpleAtoi(text, &v)) return bad();             \
    rep ? r->Add##Name(&msg, f, v) : r->Set##Name(&msg, f, v); \
    return absl::OkStatus();                                   \
  }
      GR_SET_NUMBER(CPPTYPE_INT32, int32_t, Int32)
      GR_SET_NUMBER(CPPTYPE_INT64, int64_t, Int64)
      GR_SET_NUMBER(CPPTYPE_UINT32, uint32_t, UInt32)
      GR_SET_NUMBER(CPPTYPE_UINT64, uint64_t, UInt64)
#undef GR_SET_NUMBER
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return bad();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(&msg, f, static_cast<float>(v))
            : r->SetFloat(&msg, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(&msg, f, v) : r->SetDouble(&msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!absl::SimpleAtob(text, &v)) return bad();
      rep ? r->AddBool(&msg, f, v) : r->SetBool(&msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* e = f->enum_type()->FindValueByName(std::string(text));
      int n = 0;
      if (e == nullptr && absl::SimpleAtoi(text, &n)) e = f->enum_type()->FindValueByNumber(n);
      if (e == nullptr) return bad();
      rep ? r->AddEnum(&msg, f, e) : r->SetEnum(&msg, f, e);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(f->name(),
                       ": a message field cannot be set from the URL; send it in the "
                       "body"));
  }
}

}  // namespace

absl::Status SetFieldByPath(pb::Message& msg, absl::string_view path, absl::string_view value) {
  pb::Message* at = &msg;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = FindField(at->GetDescriptor(), parts[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown field \"", path, "\""));
    }
    if (i + 1 == parts.size()) return SetScalar(*at, f, value);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path, "\": ", f->name(), " is not a singular message"));
    }
    at = at->GetReflection()->MutableMessage(at, f);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<pb::Message>> BuildRequest(const Route& route,
                                                          const Bindings& bindings,
                                                          const QueryParams& query,
                                                          absl::string_view body,
                                                          RequestError* error) {
  const pb::Message* proto =
      route.input_prototype != nullptr
          ? route.input_prototype
          : pb::MessageFactory::generated_factory()->GetPrototype(route.method->input_type());
  std::unique_ptr<pb::Message> msg(proto->New());
  auto fail = [&](std::string message, std::string field) {
    error->message = std::move(message);
    error->field = std::move(field);
    return absl::InvalidArgumentError(error->message);
  };
  bool blank = body.find_first_not_of(" \t\r\n") == absl::string_view::npos;
  if (route.body.empty()) {
    if (!blank)
      return fail(absl::StrCat(route.http_method, " ", route.path.text, " takes no body"), "");
  } else if (!blank) {
    pb::Message* target = msg.get();
    std::string prefix;
    if (route.body != "*") {
      const FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(route.body);
      target = msg->GetReflection()->MutableMessage(msg.get(), f);
      prefix = f->json_name();
    }
    if (!ParseJsonInto(body, target, prefix, error))
      return absl::InvalidArgumentError(error->message);
  }
  for (const auto& [key, value] : query) {
    if (absl::Status st = SetFieldByPath(*msg, key, value); !st.ok()) {
      return fail(absl::StrCat("query parameter ", st.message()), key);
    }
  }
  for (const auto& [field, value] : bindings) {
    if (absl::Status st = SetFieldByPath(*msg, field, value); !st.ok()) {
      return fail(std::string(st.message()), field);
    }
  }
  return msg;
}

std::string ToJson(const pb::Message& msg) {
  std::string out;
  pb::util::JsonPrintOptions opts;
  if (!pb::util::MessageToJsonString(msg, &out, opts).ok()) return "{}";
  return out;
}

bool BytesToJson(const std::string& type_url, const std::string& bytes, std::string* json) {
  // What MessageToJsonString does after serializing the message; thread-safe.
  static pb::util::TypeResolver* const resolver = pb::util::NewTypeResolverForDescriptorPool(
      "type.googleapis.com", pb::DescriptorPool::generated_pool());
  json->clear();
  return pb::util::BinaryToJsonString(resolver, type_url, bytes, json, pb::util::JsonPrintOptions())
      .ok();
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;  // UNKNOWN, INTERNAL, DATA_LOSS
  }
}

std::string ErrorJson(const grpc::Status& status, int http) {
  if (http == 0) http = HttpStatusFor(status.error_code());
  std::string out = absl::StrCat(R"({"error":{"code":)", http, R"(,"status":")",
                                 GrpcCodeName(status.error_code()), R"(","message":)");
  JsonQuoteTo(status.error_message(), &out);
  out += ",\"details\":[";
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    bool first = true;
    for (const pb::Any& any : details.details()) {
      std::string json;
      // Types the gateway does not know are left out rather than sent
      // as bytes nobody can read.
      if (!pb::util::MessageToJsonString(any, &json).ok()) continue;
      if (!first) out += ',';
      first = false;
      out += json;
    }
  }
  out += "]}}";
  return out;
}

namespace {

// The zh-CN message of each of the gateway's own reasons (docs/errors.md).
absl::string_view GatewayChinese(absl::string_view reason) {
  static constexpr std::pair<absl::string_view, absl::string_view> kChinese[] = {
      {"BAD_REQUEST", "请求无法解析或不符合接口定义"},
      {"NO_ROUTE", "没有与该路径对应的接口"},
      {"METHOD_NOT_ALLOWED", "该路径不支持此请求方法"},
      {"BODY_TOO_LARGE", "请求体超过网关上限"},
      {"URI_TOO_LONG", "请求地址过长"},
      {"HEADERS_TOO_LARGE", "请求头过大"},
      {"RANGE_NOT_SATISFIABLE", "请求的范围无法满足"},
      {"RATE_LIMITED", "请求过于频繁，请稍后重试"},
      {"PLAINTEXT_TOKEN", "不允许经明文 HTTP 发送令牌，请改用 HTTPS（并视该令牌为已泄露）"},
      {"BAD_RESPONSE", "后端服务的应答无法解析"},
  };
  for (const auto& [r, zh] : kChinese) {
    if (r == reason) return zh;
  }
  return "";
}

}  // namespace

absl::Status GatewayStatus(grpc::StatusCode code, absl::string_view reason,
                           absl::string_view message, absl::string_view field) {
  absl::Status status = errors::WithReason(
      absl::Status(static_cast<absl::StatusCode>(code), message), reason, GatewayChinese(reason));
  if (!field.empty()) status = errors::WithField(std::move(status), field, message);
  return status;
}

grpc::Status GatewayError(grpc::StatusCode code, absl::string_view reason,
                          absl::string_view message, absl::string_view field) {
  return ToGrpcStatus(GatewayStatus(code, reason, message, field));
}

}  // namespace govreport::gateway
