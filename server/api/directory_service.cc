#include "server/api/directory_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {
grpc::Status DirectoryService::PublishEntry(grpc::ServerContext* context,
                                            const v1::PublishEntryRequest* request,
                                            v1::DirectoryEntry* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return directory_->Publish(c, request->entry()); });
}

grpc::Status DirectoryService::RemoveEntry(grpc::ServerContext* context,
                                           const v1::RemoveEntryRequest*,
                                           v1::RemoveEntryResponse*) {
  return WithDevice(*context, *accounts_, CallCost::kChange,
                    [&](const store::DeviceRef& c) { return directory_->Remove(c); });
}

grpc::Status DirectoryService::GetEntry(grpc::ServerContext* context,
                                        const v1::GetEntryRequest* request,
                                        v1::DirectoryEntry* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef&) {
    return directory_->Get(request->account_id());
  });
}

grpc::Status DirectoryService::SearchDirectory(grpc::ServerContext* context,
                                               const v1::SearchDirectoryRequest* request,
                                               v1::SearchDirectoryResponse* response) {
  return WithDevice(*context, *accounts_, CallCost::kChange,
                    [&](const store::DeviceRef&) -> absl::Status {
                      auto found = directory_->Search(*request);
                      if (!found.ok()) return found.status();
                      for (auto& e : *found) *response->add_entries() = std::move(e);
                      return absl::OkStatus();
                    });
}

grpc::Status DirectoryService::SetAbsence(grpc::ServerContext* context,
                                          const v1::SetAbsenceRequest* request,
                                          v1::DirectoryEntry* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return directory_->SetAbsence(c, request->absence()); });
}

}  // namespace carerelay::api
