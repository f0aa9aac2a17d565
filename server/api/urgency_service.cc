#include "server/api/urgency_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {

grpc::Status UrgencyService::AcknowledgeUrgent(grpc::ServerContext* context,
                                               const v1::AcknowledgeUrgentRequest* request,
                                               v1::AcknowledgeUrgentResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& c) -> absl::Status {
    auto r = urgent_->Acknowledge(c, request->message_id());
    if (!r.ok()) return r.status();
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::Status UrgencyService::ListAcknowledgements(grpc::ServerContext* context,
                                                  const v1::ListAcknowledgementsRequest* request,
                                                  v1::UrgentMessageStatus* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& c) -> absl::Status {
    auto r = urgent_->Status(c, request->message_id());
    if (!r.ok()) return r.status();
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

}  // namespace carerelay::api
