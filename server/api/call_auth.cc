#include "server/api/call_auth.h"

#include "absl/strings/escaping.h"

namespace carerelay::api {
namespace {

std::optional<absl::string_view> Header(const grpc::ServerContextBase& context, const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<store::DeviceRef> AuthenticateCall(const grpc::ServerContextBase& context,
                                                  const core::AccountRegistry& accounts,
                                                  CallCost cost) {
  auto account = Header(context, kAccountHeader);
  auto device = Header(context, kDeviceHeader);
  auto secret = Header(context, kSecretHeader);
  if (!account || !device || !secret) {
    return absl::UnauthenticatedError(
        "missing credentials: send carerelay-account, carerelay-device and carerelay-secret");
  }
  std::string raw_secret;
  if (!absl::Base64Unescape(*secret, &raw_secret)) {
    return absl::UnauthenticatedError("carerelay-secret must be base64");
  }
  absl::StatusOr<store::DeviceRef> caller = accounts.Authenticate(*account, *device, raw_secret);
  if (!caller.ok() || cost == CallCost::kFree) return caller;
  // After authentication: a stranger cannot spend someone else's budget.
  absl::Status s = accounts.ChargeCall(*caller, static_cast<double>(cost));
  if (!s.ok()) return s;
  return caller;
}

}  // namespace carerelay::api
