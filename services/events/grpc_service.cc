#include "events/grpc_service.h"

#include "absl/time/clock.h"
#include "common/resource.h"
#include "common/status.h"
#include "common/timestamp.h"

namespace govreport::events {
namespace {

namespace roles = ::govreport::auth::roles;

v1::StreamEventsResponse HeartbeatAt(const Cursor& cursor) {
  v1::StreamEventsResponse beat;
  beat.mutable_heartbeat()->set_cursor(cursor.ToString());
  *beat.mutable_heartbeat()->mutable_time() = ToTimestamp(absl::Now());
  return beat;
}

}  // namespace

grpc::Status EventsGrpc::StreamEvents(grpc::ServerContext* ctx, const v1::StreamEventsRequest* req,
                                      grpc::ServerWriter<v1::StreamEventsResponse>* writer) {
  GR_AUTHORIZE_ORG(p, ParseOrgName(req->parent(), "parent"), roles::kAnyMember);
  auto sub = core_->Open(org, *req);
  if (!sub.ok()) return ToGrpcStatus(sub.status());
  v1::StreamEventsResponse out;
  while (!ctx->IsCancelled()) {
    auto batch = (*sub)->Next();
    if (!batch.ok()) return ToGrpcStatus(batch.status());
    if (batch->heartbeat && !writer->Write(HeartbeatAt((*sub)->cursor()))) break;
    for (size_t i = 0; i < batch->events.size(); ++i) {
      *out.mutable_event() = std::move(batch->events[i]);
      // All but the last of a batch may wait in gRPC's buffer: one flush
      // per read, not one per event.
      grpc::WriteOptions options;
      if (i + 1 < batch->events.size()) options.set_buffer_hint();
      if (!writer->Write(out, options)) return grpc::Status::CANCELLED;  // The client left.
    }
  }
  return grpc::Status::CANCELLED;
}

}  // namespace govreport::events
