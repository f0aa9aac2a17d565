#include "server/api/accounts_service.h"

#include "server/api/call_auth.h"
#include "server/api/grpc_status.h"

namespace carerelay::api {
namespace {

constexpr absl::Duration kDefaultLinkTtl = absl::Minutes(10);

// "ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1": registrations are limited per
// client address, not per connection.
std::string PeerAddress(const grpc::ServerContext& context) {
  std::string peer = context.peer();
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos && colon > 5) peer.resize(colon);
  return peer;
}

}  // namespace

void ToDeviceInfo(const store::DeviceRecord& record, v1::DeviceInfo* out) {
  out->set_device_id(record.device_id());
  out->set_name(record.name());
  out->set_registration_id(record.registration_id());
  out->set_created_at_unix(record.created_at_ms() / 1000);
  out->set_identity_key(record.identity_key());
}

grpc::Status AccountsService::Register(grpc::ServerContext* context,
                                       const v1::RegisterRequest* request,
                                       v1::RegisterResponse* response) {
  absl::StatusOr<core::Registration> r = accounts_->Register(*request, PeerAddress(*context));
  if (!r.ok()) return ToGrpc(r.status());
  response->set_account_id(r->device.account.Hex());
  response->set_device_id(r->device.device_id);
  response->set_device_secret(r->secret);
  response->set_display_name(r->display_name);
  response->set_kind(r->kind);
  for (v1::Function f : r->functions) response->add_functions(f);
  return grpc::Status::OK;
}

grpc::Status AccountsService::LinkDevice(grpc::ServerContext* context,
                                         const v1::LinkDeviceRequest* request,
                                         v1::LinkDeviceResponse* response) {
  // A code is a record that stays until it expires (an hour at most).
  return WithDevice(
      *context, *accounts_, CallCost::kCreate, [&](const store::DeviceRef& device) -> absl::Status {
        absl::Duration ttl =
            request->ttl_seconds() == 0 ? kDefaultLinkTtl : absl::Seconds(request->ttl_seconds());
        absl::StatusOr<core::IssuedCode> code = accounts_->IssueLinkCode(device, ttl, *request);
        if (!code.ok()) return code.status();
        response->set_code(code->code);
        response->set_expires_at_unix(absl::ToUnixSeconds(code->expires_at));
        return absl::OkStatus();
      });
}

grpc::Status AccountsService::ListDevices(grpc::ServerContext* context,
                                          const v1::ListDevicesRequest*,
                                          v1::ListDevicesResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    auto devices = accounts_->ActiveDevices(device.account);
    if (!devices.ok()) return devices.status();
    for (const auto& d : *devices) ToDeviceInfo(d, response->add_devices());
    return absl::OkStatus();
  });
}

grpc::Status AccountsService::RevokeDevice(grpc::ServerContext* context,
                                           const v1::RevokeDeviceRequest* request,
                                           v1::RevokeDeviceResponse*) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) {
    return accounts_->RevokeDevice(device, request->device_id());
  });
}

grpc::Status AccountsService::GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest*,
                                         v1::AccountInfo* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    auto account = accounts_->GetAccount(device.account);
    if (!account.ok()) return account.status();
    auto devices = accounts_->ActiveDevices(device.account);
    if (!devices.ok()) return devices.status();
    response->set_account_id(device.account.Hex());
    response->set_display_name(account->display_name());
    response->set_kind(static_cast<v1::AccountKind>(account->kind()));
    for (int f : account->functions()) response->add_functions(static_cast<v1::Function>(f));
    for (const auto& d : *devices) ToDeviceInfo(d, response->add_devices());
    for (const std::string& raw : account->staff_of()) {
      auto organisation = store::AccountId::FromBytes(raw);
      if (organisation.ok()) response->add_staff_of(organisation->Hex());
    }
    return absl::OkStatus();
  });
}

grpc::Status AccountsService::ChangeRoster(grpc::ServerContext* context,
                                           const v1::ChangeRosterRequest* request,
                                           v1::Roster* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    auto roster = rosters_->Change(device, *request);
    if (!roster.ok()) return roster.status();
    *response = *std::move(roster);
    return absl::OkStatus();
  });
}

grpc::Status AccountsService::GetRoster(grpc::ServerContext* context,
                                        const v1::GetRosterRequest* request, v1::Roster* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    auto roster = rosters_->Get(device, *request);
    if (!roster.ok()) return roster.status();
    *response = *std::move(roster);
    return absl::OkStatus();
  });
}

}  // namespace carerelay::api
