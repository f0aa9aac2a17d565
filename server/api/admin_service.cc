#include "server/api/admin_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

grpc::Status AdminService::Checkpoint(grpc::ServerContext*, const v1::CheckpointRequest* request,
                                      v1::CheckpointResponse* response) {
  const std::filesystem::path dir(request->directory());
  if (!dir.is_absolute()) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "the checkpoint directory must be an absolute path, not \"", request->directory(), "\"")));
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<store::Database::CheckpointSize> size = db_->Checkpoint(dir.string());
  if (!size.ok()) {
    spdlog::warn("event=checkpoint_failed dir=\"{}\" status=\"{}\"", dir.string(),
                 size.status().ToString());
    return ToGrpc(size.status());
  }
  response->set_taken_at_unix_ms(absl::ToUnixMillis(start));
  response->set_bytes(size->bytes);
  response->set_files(size->files);
  spdlog::info("event=checkpoint dir=\"{}\" files={} bytes={} ms={}", dir.string(), size->files,
               size->bytes, absl::ToInt64Milliseconds(absl::Now() - start));
  return grpc::Status::OK;
}

}  // namespace carerelay::api
