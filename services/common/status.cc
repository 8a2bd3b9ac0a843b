#include "common/status.h"

#include <google/protobuf/duration.pb.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/server.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace govreport {

namespace {

// Messages often quote the input they refuse. gRPC sends the message as a
// percent-encoded header, and a client drops headers past its metadata
// limit (8 KiB by default) with RESOURCE_EXHAUSTED instead of the real
// answer; worse, the dropped header block can leave the connection's
// HPACK state out of step, so a later, successful call on the same
// connection fails too. 2 KiB stays under the limit even when every byte
// is encoded as %XX.
constexpr size_t kMaxMessageBytes = 2048;
// The details trailer (base64) rides in the same header block as the
// message, so both together stay under the limit: the message is cut
// shorter, and the last field violations dropped, until they fit.
constexpr size_t kMaxTrailerBytes = size_t{7} * 1024;
// A zh message or a violation's description, each.
constexpr size_t kMaxDetailTextBytes = 512;

std::string Bounded(absl::string_view message, size_t limit = kMaxMessageBytes) {
  if (message.size() <= limit) return std::string(message);
  size_t cut = limit;
  // Back up to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return std::string(message.substr(0, cut)) + "… (" + std::to_string(message.size()) +
         " bytes, cut)";
}

// Bytes on the wire: gRPC percent-encodes the message outside printable
// ASCII, and base64-encodes the -bin trailer.
size_t TrailerBytes(absl::string_view message, const std::string& details) {
  size_t n = (details.size() + 2) / 3 * 4;
  for (unsigned char c : message) n += (c < 0x20 || c > 0x7e || c == '%') ? 3 : 1;
  return n;
}

// What the caller reads instead of an internal detail, which goes to the
// log under the error id the caller is given.
std::string PublicMessage(absl::StatusCode code, absl::string_view error_id) {
  if (code == absl::StatusCode::kUnavailable) {
    return absl::StrCat("the service is unavailable now; retry later (error id ", error_id, ")");
  }
  if (code == absl::StatusCode::kDeadlineExceeded) {
    return absl::StrCat("a service this call needs did not answer in time; retry later (error id ",
                        error_id, ")");
  }
  return absl::StrCat("internal error (error id ", error_id,
                      "); the service's log has the details under this id");
}

template <typename Message>
void Pack(const Message& message, google::rpc::Status* out) {
  out->add_details()->PackFrom(message);
}

// The google.rpc.Status of grpc-status-details-bin: every error carries an
// ErrorInfo and a zh-CN LocalizedMessage; BadRequest and RetryInfo when
// they apply.
std::string DetailsBin(const absl::Status& status, const errors::Details& d,
                       absl::string_view message, absl::string_view error_id) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(message));
  google::rpc::ErrorInfo info;
  info.set_reason(d.reason);
  info.set_domain(std::string(errors::kDomain));
  if (!error_id.empty()) (*info.mutable_metadata())["error_id"] = std::string(error_id);
  Pack(info, &rpc);
  if (!d.fields.empty()) {
    google::rpc::BadRequest bad;
    for (const errors::FieldViolation& v : d.fields) {
      google::rpc::BadRequest::FieldViolation* fv = bad.add_field_violations();
      fv->set_field(v.field);
      fv->set_description(Bounded(v.description, kMaxDetailTextBytes));
    }
    Pack(bad, &rpc);
  }
  if (d.retry) {
    google::rpc::RetryInfo retry;
    int64_t nanos = absl::ToInt64Nanoseconds(*d.retry);
    retry.mutable_retry_delay()->set_seconds(nanos / 1000000000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
    Pack(retry, &rpc);
  }
  google::rpc::LocalizedMessage zh;
  zh.set_locale("zh-CN");
  zh.set_message(error_id.empty() ? Bounded(d.zh, kMaxDetailTextBytes)
                                  : absl::StrCat(d.zh, "（错误编号 ", error_id, "）"));
  Pack(zh, &rpc);
  return rpc.SerializeAsString();
}

// Logs an internal error's detail under a new error id, and returns the id.
std::string LogInternal(const absl::Status& status) {
  std::string error_id = RandomHex(8);
  LogError(ProcessName(),
           absl::StrCat("error_id=", error_id, " code=", absl::StatusCodeToString(status.code()),
                        " ", status.message()));
  return error_id;
}

}  // namespace

std::string CallerMessage(const absl::Status& status) {
  if (status.ok()) return "";
  if (!errors::DetailsOf(status).internal) return Bounded(status.message());
  return PublicMessage(status.code(), LogInternal(status));
}

// absl and gRPC share the canonical code numbering, so the cast is exact.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  errors::Details d = errors::DetailsOf(status);
  std::string error_id;
  std::string message;
  if (d.internal) {
    error_id = LogInternal(status);
    message = PublicMessage(status.code(), error_id);
    // A field named by an internal error says nothing the caller needs.
    d.fields.clear();
  } else {
    message = Bounded(status.message());
  }
  std::string details = DetailsBin(status, d, message, error_id);
  size_t limit = kMaxMessageBytes;
  while (TrailerBytes(message, details) > kMaxTrailerBytes && limit > 64) {
    if (d.fields.size() > 1) {
      d.fields.pop_back();
    } else {
      limit /= 2;
      message = Bounded(status.message(), limit);
    }
    details = DetailsBin(status, d, message, error_id);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message, details);
}

// Keeps what an upstream service said about its error (reason, fields,
// zh, retry), so a service that passes the error on passes them on too.
absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status rpc;
  if (status.error_details().empty() || !rpc.ParseFromString(status.error_details())) {
    // Not from a govreport server: gRPC's own UNAVAILABLE or DEADLINE text
    // names addresses and transport errors, for the log only.
    if (out.code() == absl::StatusCode::kUnavailable ||
        out.code() == absl::StatusCode::kDeadlineExceeded) {
      return errors::MarkInternal(std::move(out));
    }
    return out;
  }
  errors::Details d;
  for (const google::protobuf::Any& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    google::rpc::RetryInfo retry;
    google::rpc::LocalizedMessage zh;
    if (any.UnpackTo(&info)) {
      d.reason = info.reason();
    } else if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) d.fields.push_back({v.field(), v.description()});
    } else if (any.UnpackTo(&retry)) {
      d.retry = absl::Seconds(retry.retry_delay().seconds()) +
                absl::Nanoseconds(retry.retry_delay().nanos());
    } else if (any.UnpackTo(&zh)) {
      d.zh = zh.message();
    }
  }
  if (d.reason.empty()) d.reason = errors::DefaultReason(out.code());
  if (d.zh.empty()) d.zh = std::string(errors::DefaultChinese(out.code()));
  return errors::WithDetails(std::move(out), d);
}

std::string GrpcCodeName(grpc::StatusCode code) {
  // absl's codes are gRPC's, number for number.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat("CODE_", static_cast<int>(code)) : name;
}

}  // namespace govreport
