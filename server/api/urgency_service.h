// carerelay.v1.Urgency over core::UrgentMessages. Translation only.
// Thread-safe (gRPC calls it from many threads).
#ifndef CARERELAY_SERVER_API_URGENCY_SERVICE_H_
#define CARERELAY_SERVER_API_URGENCY_SERVICE_H_

#include "carerelay/v1/urgency.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/urgent_messages.h"

namespace carerelay::api {

class UrgencyService final : public v1::Urgency::Service {
 public:
  UrgencyService(const core::AccountRegistry* accounts, core::UrgentMessages* urgent)
      : accounts_(accounts), urgent_(urgent) {}

  grpc::Status AcknowledgeUrgent(grpc::ServerContext* context,
                                 const v1::AcknowledgeUrgentRequest* request,
                                 v1::AcknowledgeUrgentResponse* response) override;
  grpc::Status ListAcknowledgements(grpc::ServerContext* context,
                                    const v1::ListAcknowledgementsRequest* request,
                                    v1::UrgentMessageStatus* response) override;

 private:
  const core::AccountRegistry* accounts_;
  core::UrgentMessages* urgent_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_URGENCY_SERVICE_H_
