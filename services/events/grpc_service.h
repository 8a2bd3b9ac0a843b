// gRPC edge of the event feed: authenticates, authorizes the caller for the
// org the request names (any member of it), and writes what EventsCore
// reads. No logic lives here.
#ifndef GOVREPORT_EVENTS_GRPC_SERVICE_H_
#define GOVREPORT_EVENTS_GRPC_SERVICE_H_

#include "common/auth.h"
#include "events/core.h"
#include "govreport/events/v1/events.grpc.pb.h"

namespace govreport::events {

class EventsGrpc final : public v1::EventService::Service {
 public:
  EventsGrpc(EventsCore* core, auth::Authenticator* auth) : core_(core), auth_(auth) {}

  grpc::Status StreamEvents(grpc::ServerContext* ctx, const v1::StreamEventsRequest* req,
                            grpc::ServerWriter<v1::StreamEventsResponse>* writer) override;

 private:
  EventsCore* core_;
  auth::Authenticator* auth_;
};

}  // namespace govreport::events

#endif  // GOVREPORT_EVENTS_GRPC_SERVICE_H_
