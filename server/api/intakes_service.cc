#include "server/api/intakes_service.h"

#include "server/api/call_auth.h"

namespace carerelay::api {
grpc::Status IntakesService::OpenIntake(grpc::ServerContext* context,
                                        const v1::OpenIntakeRequest* request,
                                        v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kCreate, response,
                          [&](const store::DeviceRef& c) { return desk_->Open(c, *request); });
}

grpc::Status IntakesService::RouteIntake(grpc::ServerContext* context,
                                         const v1::RouteIntakeRequest* request,
                                         v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) { return desk_->Route(c, *request); });
}

grpc::Status IntakesService::AcceptIntake(grpc::ServerContext* context,
                                          const v1::AcceptIntakeRequest* request,
                                          v1::Intake* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return desk_->Accept(c, request->intake_id()); });
}

grpc::Status IntakesService::ResolveIntake(grpc::ServerContext* context,
                                           const v1::ResolveIntakeRequest* request,
                                           v1::Intake* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return desk_->Resolve(c, request->intake_id()); });
}

grpc::Status IntakesService::AssessIntake(grpc::ServerContext* context,
                                          const v1::AssessIntakeRequest* request,
                                          v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) { return desk_->Assess(c, *request); });
}

grpc::Status IntakesService::EvaluateCaseManagement(
    grpc::ServerContext* context, const v1::EvaluateCaseManagementRequest* request,
    v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) { return desk_->Evaluate(c, *request); });
}

grpc::Status IntakesService::AnswerIntake(grpc::ServerContext* context,
                                          const v1::AnswerIntakeRequest* request,
                                          v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kChange, response,
                          [&](const store::DeviceRef& c) { return desk_->Answer(c, *request); });
}

grpc::Status IntakesService::PromiseCallback(grpc::ServerContext* context,
                                             const v1::PromiseCallbackRequest* request,
                                             v1::Intake* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return desk_->PromiseCallback(c, *request); });
}

grpc::Status IntakesService::ReportIntakes(grpc::ServerContext* context,
                                           const v1::ReportIntakesRequest* request,
                                           v1::IntakeReport* response) {
  return WithDeviceResult(*context, *accounts_, CallCost::kRead, response,
                          [&](const store::DeviceRef& c) { return desk_->Report(c, *request); });
}

grpc::Status IntakesService::CancelIntake(grpc::ServerContext* context,
                                          const v1::CancelIntakeRequest* request,
                                          v1::Intake* response) {
  return WithDeviceResult(
      *context, *accounts_, CallCost::kChange, response,
      [&](const store::DeviceRef& c) { return desk_->Cancel(c, request->intake_id()); });
}

grpc::Status IntakesService::GetIntake(grpc::ServerContext* context,
                                       const v1::GetIntakeRequest* request, v1::Intake* response) {
  return WithDeviceResult(*context, *accounts_, response, [&](const store::DeviceRef& c) {
    return desk_->Get(c, request->intake_id());
  });
}

grpc::Status IntakesService::ListIntakes(grpc::ServerContext* context,
                                         const v1::ListIntakesRequest* request,
                                         v1::ListIntakesResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& c) -> absl::Status {
    auto list = desk_->List(c, *request);
    if (!list.ok()) return list.status();
    for (auto& i : *list) *response->add_intakes() = std::move(i);
    return absl::OkStatus();
  });
}

}  // namespace carerelay::api
