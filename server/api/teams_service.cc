#include "server/api/teams_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {

grpc::Status TeamsService::CreateTeam(grpc::ServerContext* context,
                                      const v1::CreateTeamRequest* request, v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kCreate, response,
      [&](const store::DeviceRef& c) { return teams_->Create(c, request->creator_role()); });
}

grpc::Status TeamsService::GetTeam(grpc::ServerContext* context, const v1::GetTeamRequest* request,
                                   v1::Team* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef& c) {
    return teams_->Get(c, request->team_id());
  });
}

grpc::Status TeamsService::ListTeams(grpc::ServerContext* context, const v1::ListTeamsRequest*,
                                     v1::ListTeamsResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& c) -> absl::Status {
    auto teams = teams_->List(c);
    if (!teams.ok()) return teams.status();
    for (auto& t : *teams) *response->add_teams() = std::move(t);
    return absl::OkStatus();
  });
}

grpc::Status TeamsService::Invite(grpc::ServerContext* context, const v1::InviteRequest* request,
                                  v1::Team* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) { return teams_->Invite(c, *request); });
}

grpc::Status TeamsService::RespondToInvitation(grpc::ServerContext* context,
                                               const v1::RespondToInvitationRequest* request,
                                               v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response, [&](const store::DeviceRef& c) {
        return teams_->RespondToInvitation(c, request->team_id(), request->accept());
      });
}

grpc::Status TeamsService::RemoveMember(grpc::ServerContext* context,
                                        const v1::RemoveMemberRequest* request,
                                        v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response, [&](const store::DeviceRef& c) {
        return teams_->RemoveMember(c, request->team_id(), request->account_id());
      });
}

grpc::Status TeamsService::ChangeRole(grpc::ServerContext* context,
                                      const v1::ChangeRoleRequest* request, v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response, [&](const store::DeviceRef& c) {
        return teams_->ChangeRole(c, request->team_id(), request->account_id(), request->role());
      });
}

grpc::Status TeamsService::DesignateCoordinator(grpc::ServerContext* context,
                                                const v1::DesignateCoordinatorRequest* request,
                                                v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return teams_->DesignateCoordinator(c, *request); });
}

grpc::Status TeamsService::AnswerConsent(grpc::ServerContext* context,
                                         const v1::AnswerConsentRequest* request,
                                         v1::Team* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) {
                            return teams_->AnswerConsent(c, request->team_id(),
                                                         request->account_id(), request->agree());
                          });
}

grpc::Status TeamsService::RecordConsent(grpc::ServerContext* context,
                                         const v1::RecordConsentRequest* request,
                                         v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return teams_->RecordConsent(c, *request); });
}

grpc::Status TeamsService::SetTeamAccess(grpc::ServerContext* context,
                                         const v1::SetTeamAccessRequest* request,
                                         v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return teams_->SetTeamAccess(c, *request); });
}

grpc::Status TeamsService::CloseTeam(grpc::ServerContext* context,
                                     const v1::CloseTeamRequest* request, v1::Team* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) {
                            return teams_->Close(c, request->team_id(), request->reason());
                          });
}

grpc::Status TeamsService::EraseTeam(grpc::ServerContext* context,
                                     const v1::EraseTeamRequest* request,
                                     v1::EraseTeamResponse* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kErase, response,
      [&](const store::DeviceRef& c) { return teams_->Erase(c, request->team_id()); });
}

grpc::Status TeamsService::SetBlindIndex(grpc::ServerContext* context,
                                         const v1::SetBlindIndexRequest* request,
                                         v1::SetBlindIndexResponse*) {
  return WithDevice(*context, *accounts_, CallCost::kChange,
                    [&](const store::DeviceRef& c) { return teams_->SetBlindIndex(c, *request); });
}

grpc::Status TeamsService::FindTeams(grpc::ServerContext* context,
                                     const v1::FindTeamsRequest* request,
                                     v1::FindTeamsResponse* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kCreate, response,
      [&](const store::DeviceRef& c) { return lookups_->Find(c, request->index()); });
}

grpc::Status TeamsService::ReadAudit(grpc::ServerContext* context,
                                     const v1::ReadAuditRequest* request,
                                     v1::ReadAuditResponse* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef& c) {
    return teams_->ReadAudit(c, *request);
  });
}

grpc::Status TeamsService::VerifyAudit(grpc::ServerContext* context,
                                       const v1::VerifyAuditRequest* request,
                                       v1::VerifyAuditResponse* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef& c) {
    return teams_->VerifyAudit(c, request->team_id());
  });
}

grpc::Status TeamsService::SetHistoryVisibility(grpc::ServerContext* context,
                                                const v1::SetHistoryVisibilityRequest* request,
                                                v1::Team* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return teams_->SetHistoryVisibility(c, *request); });
}

grpc::Status TeamsService::RecordHistoryShared(grpc::ServerContext* context,
                                               const v1::RecordHistorySharedRequest* request,
                                               v1::RecordHistorySharedResponse*) {
  return WithDevice(*context, *accounts_, CallCost::kChange, [&](const store::DeviceRef& c) {
    return teams_->RecordHistoryShared(c, *request);
  });
}

}  // namespace carerelay::api
