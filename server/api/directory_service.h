// carerelay.v1.Directory over core::ProfessionalDirectory and
// core::ResourceMap. Translation only.
// Thread-safe (gRPC calls it from many threads).
#ifndef CARERELAY_SERVER_API_DIRECTORY_SERVICE_H_
#define CARERELAY_SERVER_API_DIRECTORY_SERVICE_H_

#include "carerelay/v1/directory.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/professional_directory.h"
#include "server/core/resource_map.h"

namespace carerelay::api {

class DirectoryService final : public v1::Directory::Service {
 public:
  DirectoryService(const core::AccountRegistry* accounts, core::ProfessionalDirectory* directory,
                   core::ResourceMap* resources)
      : accounts_(accounts), directory_(directory), resources_(resources) {}

  grpc::Status PublishEntry(grpc::ServerContext* context, const v1::PublishEntryRequest* request,
                            v1::DirectoryEntry* response) override;
  grpc::Status RemoveEntry(grpc::ServerContext* context, const v1::RemoveEntryRequest* request,
                           v1::RemoveEntryResponse* response) override;
  grpc::Status GetEntry(grpc::ServerContext* context, const v1::GetEntryRequest* request,
                        v1::DirectoryEntry* response) override;
  grpc::Status SearchDirectory(grpc::ServerContext* context,
                               const v1::SearchDirectoryRequest* request,
                               v1::SearchDirectoryResponse* response) override;
  grpc::Status SetAbsence(grpc::ServerContext* context, const v1::SetAbsenceRequest* request,
                          v1::DirectoryEntry* response) override;
  grpc::Status PutResource(grpc::ServerContext* context, const v1::PutResourceRequest* request,
                           v1::Resource* response) override;
  grpc::Status ImportResources(grpc::ServerContext* context,
                               const v1::ImportResourcesRequest* request,
                               v1::ImportResourcesResponse* response) override;
  grpc::Status RemoveResource(grpc::ServerContext* context,
                              const v1::RemoveResourceRequest* request,
                              v1::RemoveResourceResponse* response) override;
  grpc::Status GetResource(grpc::ServerContext* context, const v1::GetResourceRequest* request,
                           v1::Resource* response) override;
  grpc::Status SearchResources(grpc::ServerContext* context,
                               const v1::SearchResourcesRequest* request,
                               v1::SearchResourcesResponse* response) override;

 private:
  const core::AccountRegistry* accounts_;
  core::ProfessionalDirectory* directory_;
  core::ResourceMap* resources_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_DIRECTORY_SERVICE_H_
