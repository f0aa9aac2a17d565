#include "server/api/admin_service.h"

#include "server/api/grpc_status.h"

namespace carerelay::api {

grpc::Status AdminService::IssueEnrollmentCode(grpc::ServerContext*,
                                               const v1::IssueEnrollmentCodeRequest* request,
                                               v1::IssueEnrollmentCodeResponse* response) {
  absl::Duration ttl =
      request->ttl_seconds() == 0 ? kDefaultEnrollmentTtl : absl::Seconds(request->ttl_seconds());
  absl::StatusOr<core::IssuedCode> code =
      accounts_->IssueEnrollmentCode(request->display_name(), request->kind(), ttl);
  if (!code.ok()) return ToGrpc(code.status());
  response->set_code(code->code);
  response->set_expires_at_unix(absl::ToUnixSeconds(code->expires_at));
  return grpc::Status::OK;
}

}  // namespace carerelay::api
