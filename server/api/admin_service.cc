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
  std::vector<v1::Function> functions;
  for (int f : request->functions()) functions.push_back(static_cast<v1::Function>(f));
  absl::StatusOr<core::IssuedCode> code =
      accounts_->IssueEnrollmentCode(request->display_name(), request->kind(), ttl, functions);
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

grpc::Status AdminService::ListErasedTeams(grpc::ServerContext*, const v1::ListErasedTeamsRequest*,
                                           v1::ListErasedTeamsResponse* response) {
  absl::StatusOr<std::vector<v1::ErasedTeam>> teams = erased_->List();
  if (!teams.ok()) return ToGrpc(teams.status());
  for (auto& t : *teams) *response->add_teams() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status AdminService::ReadErasedTeamAudit(grpc::ServerContext*,
                                               const v1::ReadErasedTeamAuditRequest* request,
                                               v1::ReadErasedTeamAuditResponse* response) {
  absl::StatusOr<v1::ReadErasedTeamAuditResponse> read = erased_->ReadAudit(request->team_id());
  if (!read.ok()) return ToGrpc(read.status());
  // Who read what, for the server's own log: a legal request leaves a trace.
  spdlog::info("event=erased_team_audit_read team={} entries={} intact={}", request->team_id(),
               read->entries_size(), read->verified().intact());
  *response = *std::move(read);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetAccountFunctions(grpc::ServerContext*,
                                               const v1::SetAccountFunctionsRequest* request,
                                               v1::AccountFunctions* response) {
  absl::StatusOr<store::AccountId> account = store::AccountId::FromHex(request->account_id());
  if (!account.ok()) return ToGrpc(account.status());
  core::FunctionChange change;
  for (int f : request->grant()) change.grant.push_back(static_cast<v1::Function>(f));
  for (int f : request->withdraw()) change.withdraw.push_back(static_cast<v1::Function>(f));
  change.kind = request->kind();
  absl::StatusOr<store::AccountRecord> changed = accounts_->ChangeFunctions(*account, change);
  if (!changed.ok()) return ToGrpc(changed.status());
  *response = core::FunctionsOf(*changed);
  spdlog::info("event=account_functions_changed account={} functions={} kind={}", account->Hex(),
               response->functions_size(), static_cast<int>(response->kind()));
  return grpc::Status::OK;
}

grpc::Status AdminService::ListAccountFunctions(grpc::ServerContext*,
                                                const v1::ListAccountFunctionsRequest* request,
                                                v1::ListAccountFunctionsResponse* response) {
  if (!request->account_id().empty()) {
    absl::StatusOr<store::AccountId> account = store::AccountId::FromHex(request->account_id());
    if (!account.ok()) return ToGrpc(account.status());
    absl::StatusOr<store::AccountRecord> record = accounts_->GetAccount(*account);
    if (absl::IsNotFound(record.status())) {
      return ToGrpc(absl::NotFoundError(absl::StrCat("no account ", account->Hex())));
    }
    if (!record.ok()) return ToGrpc(record.status());
    *response->add_accounts() = core::FunctionsOf(*record);
    return grpc::Status::OK;
  }
  absl::StatusOr<std::vector<store::AccountRecord>> all = accounts_->AccountsWithFunctions();
  if (!all.ok()) return ToGrpc(all.status());
  for (const auto& a : *all) *response->add_accounts() = core::FunctionsOf(a);
  return grpc::Status::OK;
}

}  // namespace carerelay::api
