// Counts every finished call of the gRPC server in core::Metrics: its
// method, status code and latency (from its creation to its status, so a
// Receive stream's whole life). A gRPC server interceptor; installed by
// Server::Start with ServerBuilder::experimental().SetInterceptorCreators.
//
// Thread-safety: thread-safe (gRPC creates one interceptor per call).
#ifndef CARERELAY_SERVER_API_RPC_METRICS_H_
#define CARERELAY_SERVER_API_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include "server/core/metrics.h"

namespace carerelay::api {

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive the server.
  explicit RpcMetricsFactory(core::Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  core::Metrics* metrics_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_RPC_METRICS_H_
