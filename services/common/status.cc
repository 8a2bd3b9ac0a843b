#include "common/status.h"

#include <string>

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

std::string Bounded(absl::string_view message) {
  if (message.size() <= kMaxMessageBytes) return std::string(message);
  size_t cut = kMaxMessageBytes;
  // Back up to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return std::string(message.substr(0, cut)) + "… (" + std::to_string(message.size()) +
         " bytes, cut)";
}

}  // namespace

// absl and gRPC share the canonical code numbering, so the cast is exact.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), Bounded(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace govreport
