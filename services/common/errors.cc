#include "common/errors.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace govreport::errors {
namespace {

// Payload type URLs: private to this file and status.cc's translation, so
// their encoding may change without anyone noticing outside.
constexpr absl::string_view kReasonUrl = "type.govreport.gov.cn/errors.Reason";
constexpr absl::string_view kZhUrl = "type.govreport.gov.cn/errors.Chinese";
constexpr absl::string_view kFieldsUrl = "type.govreport.gov.cn/errors.Fields";
constexpr absl::string_view kRetryUrl = "type.govreport.gov.cn/errors.RetryMillis";
constexpr absl::string_view kInternalUrl = "type.govreport.gov.cn/errors.Internal";

// Field violations as length-prefixed pairs "<n>:<field><n>:<description>",
// since a description may hold any byte.
void AppendPart(std::string* out, absl::string_view part) {
  absl::StrAppend(out, part.size(), ":", part);
}

bool ReadPart(absl::string_view* in, std::string* part) {
  size_t colon = in->find(':');
  size_t n = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(in->substr(0, colon), &n) ||
      in->size() - colon - 1 < n) {
    return false;
  }
  *part = std::string(in->substr(colon + 1, n));
  in->remove_prefix(colon + 1 + n);
  return true;
}

std::vector<FieldViolation> DecodeFields(const absl::Cord& cord) {
  std::string flat(cord);
  absl::string_view in = flat;
  std::vector<FieldViolation> out;
  while (!in.empty()) {
    FieldViolation v;
    if (!ReadPart(&in, &v.field) || !ReadPart(&in, &v.description)) break;
    out.push_back(std::move(v));
  }
  return out;
}

void SetFields(absl::Status* status, const std::vector<FieldViolation>& fields) {
  std::string encoded;
  for (const FieldViolation& v : fields) {
    AppendPart(&encoded, v.field);
    AppendPart(&encoded, v.description);
  }
  status->SetPayload(kFieldsUrl, absl::Cord(encoded));
}

std::vector<FieldViolation> FieldsOf(const absl::Status& status) {
  auto cord = status.GetPayload(kFieldsUrl);
  return cord ? DecodeFields(*cord) : std::vector<FieldViolation>{};
}

// "activity.date: not a date" describes activity.date as "not a date".
absl::string_view WithoutField(absl::string_view message, absl::string_view field) {
  if (message.size() > field.size() + 1 && message.substr(0, field.size()) == field &&
      message[field.size()] == ':') {
    return absl::StripLeadingAsciiWhitespace(message.substr(field.size() + 1));
  }
  return message;
}

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason, absl::string_view zh) {
  if (status.ok()) return status;
  status.SetPayload(kReasonUrl, absl::Cord(reason));
  if (!zh.empty()) status.SetPayload(kZhUrl, absl::Cord(zh));
  return status;
}

absl::Status InvalidField(absl::string_view field, absl::string_view reason,
                          absl::string_view english, absl::string_view zh) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(field, ": ", english));
  SetFields(&status, {FieldViolation{std::string(field), std::string(english)}});
  return WithReason(std::move(status), reason, absl::StrCat(field, "：", zh));
}

absl::Status WithField(absl::Status status, absl::string_view field,
                       absl::string_view description) {
  if (status.ok()) return status;
  std::vector<FieldViolation> fields = FieldsOf(status);
  fields.push_back({std::string(field), description.empty()
                                            ? std::string(WithoutField(status.message(), field))
                                            : std::string(description)});
  SetFields(&status, fields);
  return status;
}

absl::Status Nested(const absl::Status& status, absl::string_view message_prefix,
                    absl::string_view field_prefix) {
  absl::Status out = Prefixed(status, message_prefix);
  if (auto zh = status.GetPayload(kZhUrl)) {
    out.SetPayload(kZhUrl, absl::Cord(absl::StrCat(message_prefix, std::string(*zh))));
  }
  std::vector<FieldViolation> fields = FieldsOf(status);
  if (fields.empty()) return out;
  for (FieldViolation& v : fields) v.field = absl::StrCat(field_prefix, v.field);
  SetFields(&out, fields);
  return out;
}

absl::Status WithRetry(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  status.SetPayload(kRetryUrl, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
  return status;
}

absl::Status Internal(absl::StatusCode code, absl::string_view detail) {
  return MarkInternal(absl::Status(code, detail));
}

absl::Status MarkInternal(absl::Status status) {
  if (status.ok()) return status;
  status.SetPayload(kInternalUrl, absl::Cord("1"));
  return status;
}

absl::Status Prefixed(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

Details DetailsOf(const absl::Status& status) {
  Details d;
  absl::StatusCode code = status.code();
  auto reason = status.GetPayload(kReasonUrl);
  d.reason = reason ? std::string(*reason) : DefaultReason(code);
  auto zh = status.GetPayload(kZhUrl);
  d.zh = zh ? std::string(*zh) : std::string(DefaultChinese(code));
  d.fields = FieldsOf(status);
  d.retry = DefaultRetry(code);
  int64_t millis = 0;
  if (auto retry = status.GetPayload(kRetryUrl);
      retry && absl::SimpleAtoi(std::string(*retry), &millis)) {
    d.retry = absl::Milliseconds(millis);
  }
  d.internal = status.GetPayload(kInternalUrl).has_value() || code == absl::StatusCode::kInternal ||
               code == absl::StatusCode::kUnknown || code == absl::StatusCode::kDataLoss;
  return d;
}

std::string DefaultReason(absl::StatusCode code) {
  // absl names the codes as gRPC does ("NOT_FOUND"), so the reason is the
  // name a client already knows.
  return absl::StatusCodeToString(code);
}

absl::string_view DefaultChinese(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "成功";
    case absl::StatusCode::kCancelled:
      return "请求已取消";
    case absl::StatusCode::kUnknown:
      return "未知错误";
    case absl::StatusCode::kInvalidArgument:
      return "请求参数不正确";
    case absl::StatusCode::kDeadlineExceeded:
      return "请求超时";
    case absl::StatusCode::kNotFound:
      return "所请求的资源不存在";
    case absl::StatusCode::kAlreadyExists:
      return "资源已存在";
    case absl::StatusCode::kPermissionDenied:
      return "无权执行此操作";
    case absl::StatusCode::kResourceExhausted:
      return "超出配额或限制";
    case absl::StatusCode::kFailedPrecondition:
      return "当前状态不允许此操作";
    case absl::StatusCode::kAborted:
      return "操作因并发冲突而中止，请重试";
    case absl::StatusCode::kOutOfRange:
      return "参数超出有效范围";
    case absl::StatusCode::kUnimplemented:
      return "不支持此操作";
    case absl::StatusCode::kInternal:
      return "服务内部错误";
    case absl::StatusCode::kUnavailable:
      return "服务暂时不可用，请稍后重试";
    case absl::StatusCode::kDataLoss:
      return "数据损坏";
    case absl::StatusCode::kUnauthenticated:
      return "身份认证失败，请提供有效的令牌";
    default:
      return "未知错误";
  }
}

std::optional<absl::Duration> DefaultRetry(absl::StatusCode code) {
  if (code == absl::StatusCode::kUnavailable) return absl::Seconds(1);
  if (code == absl::StatusCode::kAborted) return absl::Milliseconds(100);
  return std::nullopt;
}

absl::Status WithDetails(absl::Status status, const Details& details) {
  if (status.ok()) return status;
  status = WithReason(std::move(status), details.reason, details.zh);
  if (!details.fields.empty()) SetFields(&status, details.fields);
  if (details.retry) status = WithRetry(std::move(status), *details.retry);
  if (details.internal) status = MarkInternal(std::move(status));
  return status;
}

}  // namespace govreport::errors
