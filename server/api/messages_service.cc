#include "server/api/messages_service.h"

#include "server/api/call_auth.h"
#include "server/api/receive_stream.h"

namespace carerelay::api {

grpc::Status MessagesService::Send(grpc::ServerContext* context, const v1::SendRequest* request,
                                   v1::SendResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    absl::StatusOr<v1::SendResponse> sent = relay_->Send(device, *request);
    if (!sent.ok()) return sent.status();
    *response = *std::move(sent);
    return absl::OkStatus();
  });
}

grpc::Status MessagesService::Ack(grpc::ServerContext* context, const v1::AckRequest* request,
                                  v1::AckResponse* response) {
  return WithDevice(*context, *accounts_, [&](const store::DeviceRef& device) -> absl::Status {
    std::vector<std::string> ids(request->envelope_ids().begin(), request->envelope_ids().end());
    absl::StatusOr<uint32_t> deleted = relay_->Ack(device, ids);
    if (!deleted.ok()) return deleted.status();
    response->set_deleted(*deleted);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::ReceiveResponse>* MessagesService::Receive(
    grpc::CallbackServerContext* context, const v1::ReceiveRequest*) {
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(*context, *accounts_);
  if (!device.ok()) return new FailedStream(ToGrpc(device.status()));
  auto* stream = new ReceiveStream(relay_, *device);  // deletes itself in OnDone
  stream->Start();
  return stream;
}

}  // namespace carerelay::api
