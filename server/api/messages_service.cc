#include "server/api/messages_service.h"

#include "server/api/call_auth.h"
#include "server/api/receive_stream.h"

namespace carerelay::api {
namespace {

// Finishes `reactor` with `result`, moved into `*response` when OK, and
// tells `hold` how the device was answered. The response and the reactor
// live until Finish.
template <typename Response>
auto FinishWith(grpc::ServerUnaryReactor* reactor, Response* response, core::RefusalHold* hold,
                std::string device) {
  return [reactor, response, hold, device = std::move(device)](absl::StatusOr<Response> result) {
    hold->NoteAnswer(device, result.status());
    if (result.ok()) *response = *std::move(result);
    reactor->Finish(ToGrpc(result.status()));
  };
}

}  // namespace

grpc::ServerUnaryReactor* MessagesService::Send(grpc::CallbackServerContext* context,
                                                const v1::SendRequest* request,
                                                v1::SendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(*context, *accounts_, CallCost::kFree);
  if (!device.ok()) {
    reactor->Finish(ToGrpc(device.status()));
    return reactor;
  }
  // A device that ignored its retry-after is sent on only once it has passed.
  core::RefusalHold* hold = &accounts_->refusal_hold();
  const std::string key = device->ToString();
  hold->Defer(key, [this, context, reactor, request, response, hold, key, device = *device] {
    // Held past the client's deadline: it has its answer, send nothing.
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    relay_->Send(device, *request, FinishWith(reactor, response, hold, key));
  });
  return reactor;
}

grpc::ServerUnaryReactor* MessagesService::Ack(grpc::CallbackServerContext* context,
                                               const v1::AckRequest* request,
                                               v1::AckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(*context, *accounts_, CallCost::kFree);
  if (!device.ok()) {
    reactor->Finish(ToGrpc(device.status()));
    return reactor;
  }
  relay_->Ack(*device, request->through_sequence(),
              FinishWith(reactor, response, &accounts_->refusal_hold(), device->ToString()));
  return reactor;
}

grpc::ServerWriteReactor<v1::ReceiveResponse>* MessagesService::Receive(
    grpc::CallbackServerContext* context, const v1::ReceiveRequest* request) {
  absl::StatusOr<store::DeviceRef> device = AuthenticateCall(*context, *accounts_, CallCost::kFree);
  if (!device.ok()) return new FailedStream(ToGrpc(device.status()));
  absl::StatusOr<ReceiveWindow> window =
      ReceiveWindow::From(*request, relay_->limits().max_receive_window);
  if (!window.ok()) return new FailedStream(ToGrpc(window.status()));
  // Deletes itself in OnDone.
  auto* stream = new ReceiveStream(relay_, *device, *window, request->watermarks_after_version());
  stream->Start();
  return stream;
}

}  // namespace carerelay::api
