// carerelay.v1.Teams over core::CareTeams. Translation only.
// Thread-safe (gRPC calls it from many threads).
#ifndef CARERELAY_SERVER_API_TEAMS_SERVICE_H_
#define CARERELAY_SERVER_API_TEAMS_SERVICE_H_

#include "carerelay/v1/teams.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"
#include "server/core/team_lookups.h"

namespace carerelay::api {

class TeamsService final : public v1::Teams::Service {
 public:
  TeamsService(const core::AccountRegistry* accounts, core::CareTeams* teams,
               core::TeamLookups* lookups)
      : accounts_(accounts), teams_(teams), lookups_(lookups) {}

  grpc::Status CreateTeam(grpc::ServerContext* context, const v1::CreateTeamRequest* request,
                          v1::Team* response) override;
  grpc::Status GetTeam(grpc::ServerContext* context, const v1::GetTeamRequest* request,
                       v1::Team* response) override;
  grpc::Status ListTeams(grpc::ServerContext* context, const v1::ListTeamsRequest* request,
                         v1::ListTeamsResponse* response) override;
  grpc::Status Invite(grpc::ServerContext* context, const v1::InviteRequest* request,
                      v1::Team* response) override;
  grpc::Status RespondToInvitation(grpc::ServerContext* context,
                                   const v1::RespondToInvitationRequest* request,
                                   v1::Team* response) override;
  grpc::Status RemoveMember(grpc::ServerContext* context, const v1::RemoveMemberRequest* request,
                            v1::Team* response) override;
  grpc::Status ChangeRole(grpc::ServerContext* context, const v1::ChangeRoleRequest* request,
                          v1::Team* response) override;
  grpc::Status DesignateCoordinator(grpc::ServerContext* context,
                                    const v1::DesignateCoordinatorRequest* request,
                                    v1::Team* response) override;
  grpc::Status AnswerConsent(grpc::ServerContext* context, const v1::AnswerConsentRequest* request,
                             v1::Team* response) override;
  grpc::Status RecordConsent(grpc::ServerContext* context, const v1::RecordConsentRequest* request,
                             v1::Team* response) override;
  grpc::Status SetTeamAccess(grpc::ServerContext* context, const v1::SetTeamAccessRequest* request,
                             v1::Team* response) override;
  grpc::Status CloseTeam(grpc::ServerContext* context, const v1::CloseTeamRequest* request,
                         v1::Team* response) override;
  grpc::Status EraseTeam(grpc::ServerContext* context, const v1::EraseTeamRequest* request,
                         v1::EraseTeamResponse* response) override;
  grpc::Status SetBlindIndex(grpc::ServerContext* context, const v1::SetBlindIndexRequest* request,
                             v1::SetBlindIndexResponse* response) override;
  grpc::Status FindTeams(grpc::ServerContext* context, const v1::FindTeamsRequest* request,
                         v1::FindTeamsResponse* response) override;
  grpc::Status ReadAudit(grpc::ServerContext* context, const v1::ReadAuditRequest* request,
                         v1::ReadAuditResponse* response) override;
  grpc::Status VerifyAudit(grpc::ServerContext* context, const v1::VerifyAuditRequest* request,
                           v1::VerifyAuditResponse* response) override;
  grpc::Status SetHistoryVisibility(grpc::ServerContext* context,
                                    const v1::SetHistoryVisibilityRequest* request,
                                    v1::Team* response) override;
  grpc::Status RecordHistoryShared(grpc::ServerContext* context,
                                   const v1::RecordHistorySharedRequest* request,
                                   v1::RecordHistorySharedResponse* response) override;

 private:
  const core::AccountRegistry* accounts_;
  core::CareTeams* teams_;
  core::TeamLookups* lookups_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_TEAMS_SERVICE_H_
