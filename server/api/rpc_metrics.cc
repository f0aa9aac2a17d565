#include "server/api/rpc_metrics.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"

namespace carerelay::api {
namespace {

class RpcMetrics : public grpc::experimental::Interceptor {
 public:
  RpcMetrics(core::Metrics* metrics, const char* method)
      : metrics_(metrics), method_(method ? method : "unknown"), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordCall(method_, methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  core::Metrics* metrics_;
  std::string method_;
  absl::Time start_;
};

}  // namespace

grpc::experimental::Interceptor* RpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // gRPC takes ownership and deletes it at the end of the call.
  return std::make_unique<RpcMetrics>(metrics_, info->method()).release();
}

}  // namespace carerelay::api
