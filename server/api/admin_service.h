// carerelay.v1.Admin: the administrator's operations. The server exposes it
// only on a Unix socket in the data directory, mode 0600, so only the
// account running carerelayd (or root) can reach it; there is no other
// authentication. Thread-safe.
#ifndef CARERELAY_SERVER_API_ADMIN_SERVICE_H_
#define CARERELAY_SERVER_API_ADMIN_SERVICE_H_

#include "carerelay/v1/admin.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/erased_teams.h"
#include "server/store/database.h"

namespace carerelay::api {

class AdminService final : public v1::Admin::Service {
 public:
  // All must outlive the service.
  AdminService(core::AccountRegistry* accounts, core::ErasedTeams* erased, store::Database* db)
      : accounts_(accounts), erased_(erased), db_(db) {}

  grpc::Status IssueEnrollmentCode(grpc::ServerContext* context,
                                   const v1::IssueEnrollmentCodeRequest* request,
                                   v1::IssueEnrollmentCodeResponse* response) override;
  grpc::Status Checkpoint(grpc::ServerContext* context, const v1::CheckpointRequest* request,
                          v1::CheckpointResponse* response) override;
  grpc::Status ListErasedTeams(grpc::ServerContext* context,
                               const v1::ListErasedTeamsRequest* request,
                               v1::ListErasedTeamsResponse* response) override;
  grpc::Status ReadErasedTeamAudit(grpc::ServerContext* context,
                                   const v1::ReadErasedTeamAuditRequest* request,
                                   v1::ReadErasedTeamAuditResponse* response) override;
  grpc::Status SetAccountFunctions(grpc::ServerContext* context,
                                   const v1::SetAccountFunctionsRequest* request,
                                   v1::AccountFunctions* response) override;
  grpc::Status ListAccountFunctions(grpc::ServerContext* context,
                                    const v1::ListAccountFunctionsRequest* request,
                                    v1::ListAccountFunctionsResponse* response) override;

 private:
  core::AccountRegistry* accounts_;
  core::ErasedTeams* erased_;
  store::Database* db_;
};

// The default lifetime of an enrollment code.
inline constexpr absl::Duration kDefaultEnrollmentTtl = absl::Hours(24 * 7);

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_ADMIN_SERVICE_H_
