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

grpc::Status DirectoryService::PutResource(grpc::ServerContext* context,
                                           const v1::PutResourceRequest* request,
                                           v1::Resource* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return resources_->Put(c, request->resource()); });
}

grpc::Status DirectoryService::ImportResources(grpc::ServerContext* context,
                                               const v1::ImportResourcesRequest* request,
                                               v1::ImportResourcesResponse* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return resources_->Import(c, *request); });
}

grpc::Status DirectoryService::RemoveResource(grpc::ServerContext* context,
                                              const v1::RemoveResourceRequest* request,
                                              v1::RemoveResourceResponse*) {
  return WithDevice(*context, *accounts_, CallCost::kChange, [&](const store::DeviceRef& c) {
    return resources_->Remove(c, request->resource_id());
  });
}

grpc::Status DirectoryService::GetResource(grpc::ServerContext* context,
                                           const v1::GetResourceRequest* request,
                                           v1::Resource* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef&) {
    return resources_->Get(request->resource_id());
  });
}

grpc::Status DirectoryService::SearchResources(grpc::ServerContext* context,
                                               const v1::SearchResourcesRequest* request,
                                               v1::SearchResourcesResponse* response) {
  // A scan of the whole map: costed as a change.
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef&) { return resources_->Search(*request); });
}

}  // namespace carerelay::api
