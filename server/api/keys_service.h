// carerelay.v1.Keys over core::PrekeyDirectory. Translation only.
// Thread-safe.
#ifndef CARERELAY_SERVER_API_KEYS_SERVICE_H_
#define CARERELAY_SERVER_API_KEYS_SERVICE_H_

#include "carerelay/v1/keys.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/prekey_directory.h"

namespace carerelay::api {

class KeysService final : public v1::Keys::Service {
 public:
  KeysService(const core::AccountRegistry* accounts, core::PrekeyDirectory* prekeys)
      : accounts_(accounts), prekeys_(prekeys) {}

  grpc::Status SetSignedPrekey(grpc::ServerContext* context,
                               const v1::SetSignedPrekeyRequest* request,
                               v1::SetSignedPrekeyResponse* response) override;
  grpc::Status AddOneTimePrekeys(grpc::ServerContext* context,
                                 const v1::AddOneTimePrekeysRequest* request,
                                 v1::AddOneTimePrekeysResponse* response) override;
  grpc::Status CountOneTimePrekeys(grpc::ServerContext* context,
                                   const v1::CountOneTimePrekeysRequest* request,
                                   v1::CountOneTimePrekeysResponse* response) override;
  grpc::Status GetPrekeyBundles(grpc::ServerContext* context,
                                const v1::GetPrekeyBundlesRequest* request,
                                v1::GetPrekeyBundlesResponse* response) override;

 private:
  const core::AccountRegistry* accounts_;
  core::PrekeyDirectory* prekeys_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_KEYS_SERVICE_H_
