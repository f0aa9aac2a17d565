#include "server/api/grpc_status.h"

#include "proto/error_detail.h"

namespace carerelay::api {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::optional<v1::ErrorDetail> detail = GetDetail(status);
  if (detail) return grpc::Status(code, std::string(status.message()), detail->SerializeAsString());
  return grpc::Status(code, std::string(status.message()));
}

}  // namespace carerelay::api
