// absl::Status (core's vocabulary) to grpc::Status (the wire's), keeping the
// structured ErrorDetail in the gRPC status details.
#ifndef CARERELAY_SERVER_API_GRPC_STATUS_H_
#define CARERELAY_SERVER_API_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace carerelay::api {

grpc::Status ToGrpc(const absl::Status& status);

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_GRPC_STATUS_H_
