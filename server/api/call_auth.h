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

// What a call costs from its device's call budget (Limits::calls_per_second
// and call_burst; README, "Abuse limits"). A read costs 1; a change that is
// audited or announced to other people costs more, so that a loop of them
// runs dry long before it floods anyone's queue or a team's audit log.
enum class CallCost : int {
  kFree = 0,     // Send, Receive, Ack: limited by the relay (relay.h)
  kRead = 1,     // reads, one's own keys and devices, acknowledgements
  kChange = 5,   // audited or announced: team changes, routing, downloads
  kCreate = 10,  // records that stay: a team, an intake, a lookup by number
  kErase = 30,   // erasing a team
};

// UNAUTHENTICATED if a header is missing or the credentials are wrong;
// RESOURCE_EXHAUSTED (with retry_after_seconds) if the device's call budget
// cannot pay `cost`. Unless `cost` is kFree, may block while the device is
// held for ignoring a retry-after (AccountRegistry::ChargeCall): callback
// handlers pass kFree.
absl::StatusOr<store::DeviceRef> AuthenticateCall(const grpc::ServerContextBase& context,
                                                  const core::AccountRegistry& accounts,
                                                  CallCost cost = CallCost::kRead);

// Runs `fn(device)` for an authenticated call and translates its status:
// the shape of every authenticated synchronous handler. A refusal with a
// retry-after from `fn` (a byte budget, a daily allowance) holds the
// device's next calls as a spent call budget does (core/refusal_hold.h).
template <typename Fn>
grpc::Status WithDevice(const grpc::ServerContextBase& context,
                        const core::AccountRegistry& accounts, CallCost cost, Fn fn) {
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(context, accounts, cost);
  if (!device.ok()) return ToGrpc(device.status());
  absl::Status status = fn(*device);
  accounts.refusal_hold().NoteAnswer(device->ToString(), status);
  return ToGrpc(status);
}
template <typename Fn>
grpc::Status WithDevice(const grpc::ServerContextBase& context,
                        const core::AccountRegistry& accounts, Fn fn) {
  return WithDevice(context, accounts, CallCost::kRead, std::move(fn));
}

// As WithDevice, for handlers whose core call returns the response:
// `fn(device)` returns StatusOr<Response>, moved into `*response`.
template <typename Response, typename Fn>
grpc::Status WithDeviceResult(const grpc::ServerContextBase& context,
                              const core::AccountRegistry& accounts, CallCost cost,
                              Response* response, Fn fn) {
  return WithDevice(context, accounts, cost, [&](const store::DeviceRef& caller) -> absl::Status {
    auto result = fn(caller);
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  });
}
template <typename Response, typename Fn>
grpc::Status WithDeviceResult(const grpc::ServerContextBase& context,
                              const core::AccountRegistry& accounts, Response* response, Fn fn) {
  return WithDeviceResult(context, accounts, CallCost::kRead, response, std::move(fn));
}

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_CALL_AUTH_H_
