#include "server/api/keys_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {

grpc::Status KeysService::SetSignedPrekey(grpc::ServerContext* context,
                                          const v1::SetSignedPrekeyRequest* request,
                                          v1::SetSignedPrekeyResponse*) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) {
    return prekeys_->SetSignedPrekey(device, request->signed_prekey());
  });
}

grpc::Status KeysService::AddOneTimePrekeys(grpc::ServerContext* context,
                                            const v1::AddOneTimePrekeysRequest* request,
                                            v1::AddOneTimePrekeysResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    absl::StatusOr<uint32_t> count = prekeys_->AddOneTimePrekeys(device, request->prekeys());
    if (!count.ok()) return count.status();
    response->set_count(*count);
    return absl::OkStatus();
  });
}

grpc::Status KeysService::CountOneTimePrekeys(grpc::ServerContext* context,
                                              const v1::CountOneTimePrekeysRequest*,
                                              v1::CountOneTimePrekeysResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    absl::StatusOr<uint32_t> count = prekeys_->CountOneTimePrekeys(device);
    if (!count.ok()) return count.status();
    response->set_count(*count);
    return absl::OkStatus();
  });
}

grpc::Status KeysService::GetPrekeyBundles(grpc::ServerContext* context,
                                           const v1::GetPrekeyBundlesRequest* request,
                                           v1::GetPrekeyBundlesResponse* response) {
  return WithDevice(
      *context, *accounts_, CallCost::kChange, [&](const store::DeviceRef& caller) -> absl::Status {
        absl::StatusOr<store::AccountId> account = store::AccountId::FromHex(request->account_id());
        if (!account.ok()) return account.status();
        absl::StatusOr<v1::GetPrekeyBundlesResponse> bundles =
            prekeys_->GetBundles(caller, *account, request->device_id());
        if (!bundles.ok()) return bundles.status();
        *response = *std::move(bundles);
        return absl::OkStatus();
      });
}

}  // namespace carerelay::api
