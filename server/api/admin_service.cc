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
  absl::Status s = db_->Checkpoint(dir.string());
  if (!s.ok()) {
    spdlog::warn("event=checkpoint_failed dir=\"{}\" status=\"{}\"", dir.string(), s.ToString());
    return ToGrpc(s);
  }
  uint64_t bytes = 0;
  uint32_t files = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!f.is_regular_file(ec)) continue;
    ++files;
    bytes += f.file_size(ec);
  }
  response->set_taken_at_unix_ms(absl::ToUnixMillis(start));
  response->set_bytes(bytes);
  response->set_files(files);
  spdlog::info("event=checkpoint dir=\"{}\" files={} bytes={} ms={}", dir.string(), files, bytes,
               absl::ToInt64Milliseconds(absl::Now() - start));
  return grpc::Status::OK;
}

}  // namespace carerelay::api
