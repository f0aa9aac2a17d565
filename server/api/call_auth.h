// Authenticates the device behind a call from its metadata
// (carerelay-account, carerelay-device, carerelay-secret; see accounts.proto).
#ifndef CARERELAY_SERVER_API_CALL_AUTH_H_
#define CARERELAY_SERVER_API_CALL_AUTH_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "server/api/grpc_status.h"
#include "server/core/account_registry.h"

namespace carerelay::api {

inline constexpr char kAccountHeader[] = "carerelay-account";
inline constexpr char kDeviceHeader[] = "carerelay-device";
inline constexpr char kSecretHeader[] = "carerelay-secret";

// UNAUTHENTICATED if a header is missing or the credentials are wrong.
absl::StatusOr<store::DeviceRef> AuthenticateCall(const grpc::ServerContextBase& context,
                                                  const core::AccountRegistry& accounts);

// Runs `fn(device)` for an authenticated call and translates its status:
// the shape of every authenticated unary handler.
template <typename Fn>
grpc::Status WithDevice(const grpc::ServerContextBase& context,
                        const core::AccountRegistry& accounts, Fn fn) {
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(context, accounts);
  if (!device.ok()) return ToGrpc(device.status());
  return ToGrpc(fn(*device));
}

// As WithDevice, for handlers whose core call returns the response:
// `fn(device)` returns StatusOr<Response>, moved into `*response`.
template <typename Response, typename Fn>
grpc::Status WithDeviceResult(const grpc::ServerContextBase& context,
                              const core::AccountRegistry& accounts, Response* response, Fn fn) {
  return WithDevice(context, accounts, [&](const store::DeviceRef& caller) -> absl::Status {
    auto result = fn(caller);
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  });
}

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_CALL_AUTH_H_
