// carerelay.v1.Accounts over core::AccountRegistry, and the rosters of
// organisations over core::OrganisationRosters. Translation only.
// Thread-safe (gRPC calls it from many threads).
#ifndef CARERELAY_SERVER_API_ACCOUNTS_SERVICE_H_
#define CARERELAY_SERVER_API_ACCOUNTS_SERVICE_H_

#include "carerelay/v1/accounts.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/organisation_rosters.h"

namespace carerelay::api {

class AccountsService final : public v1::Accounts::Service {
 public:
  // Both must outlive the service.
  AccountsService(core::AccountRegistry* accounts, core::OrganisationRosters* rosters)
      : accounts_(accounts), rosters_(rosters) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status LinkDevice(grpc::ServerContext* context, const v1::LinkDeviceRequest* request,
                          v1::LinkDeviceResponse* response) override;
  grpc::Status ListDevices(grpc::ServerContext* context, const v1::ListDevicesRequest* request,
                           v1::ListDevicesResponse* response) override;
  grpc::Status RevokeDevice(grpc::ServerContext* context, const v1::RevokeDeviceRequest* request,
                            v1::RevokeDeviceResponse* response) override;
  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest* request,
                          v1::AccountInfo* response) override;
  grpc::Status ChangeRoster(grpc::ServerContext* context, const v1::ChangeRosterRequest* request,
                            v1::Roster* response) override;
  grpc::Status GetRoster(grpc::ServerContext* context, const v1::GetRosterRequest* request,
                         v1::Roster* response) override;

 private:
  core::AccountRegistry* accounts_;
  core::OrganisationRosters* rosters_;
};

// Fills `out` from a stored device record (public fields only).
void ToDeviceInfo(const store::DeviceRecord& record, v1::DeviceInfo* out);

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_ACCOUNTS_SERVICE_H_
