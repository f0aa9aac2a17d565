// carerelay.v1.Intakes over core::IntakeDesk. Translation only.
// Thread-safe (gRPC calls it from many threads).
#ifndef CARERELAY_SERVER_API_INTAKES_SERVICE_H_
#define CARERELAY_SERVER_API_INTAKES_SERVICE_H_

#include "carerelay/v1/intakes.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/intake_desk.h"

namespace carerelay::api {

class IntakesService final : public v1::Intakes::Service {
 public:
  IntakesService(const core::AccountRegistry* accounts, core::IntakeDesk* desk)
      : accounts_(accounts), desk_(desk) {}

  grpc::Status OpenIntake(grpc::ServerContext* context, const v1::OpenIntakeRequest* request,
                          v1::Intake* response) override;
  grpc::Status RouteIntake(grpc::ServerContext* context, const v1::RouteIntakeRequest* request,
                           v1::Intake* response) override;
  grpc::Status AcceptIntake(grpc::ServerContext* context, const v1::AcceptIntakeRequest* request,
                            v1::Intake* response) override;
  grpc::Status ResolveIntake(grpc::ServerContext* context, const v1::ResolveIntakeRequest* request,
                             v1::Intake* response) override;
  grpc::Status CancelIntake(grpc::ServerContext* context, const v1::CancelIntakeRequest* request,
                            v1::Intake* response) override;
  grpc::Status AssessIntake(grpc::ServerContext* context, const v1::AssessIntakeRequest* request,
                            v1::Intake* response) override;
  grpc::Status EvaluateCaseManagement(grpc::ServerContext* context,
                                      const v1::EvaluateCaseManagementRequest* request,
                                      v1::Intake* response) override;
  grpc::Status AnswerIntake(grpc::ServerContext* context, const v1::AnswerIntakeRequest* request,
                            v1::Intake* response) override;
  grpc::Status PromiseCallback(grpc::ServerContext* context,
                               const v1::PromiseCallbackRequest* request,
                               v1::Intake* response) override;
  grpc::Status ReportIntakes(grpc::ServerContext* context, const v1::ReportIntakesRequest* request,
                             v1::IntakeReport* response) override;
  grpc::Status GetIntake(grpc::ServerContext* context, const v1::GetIntakeRequest* request,
                         v1::Intake* response) override;
  grpc::Status ListIntakes(grpc::ServerContext* context, const v1::ListIntakesRequest* request,
                           v1::ListIntakesResponse* response) override;

 private:
  const core::AccountRegistry* accounts_;
  core::IntakeDesk* desk_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_INTAKES_SERVICE_H_
