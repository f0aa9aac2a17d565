// carerelay.v1.Messages over core::Relay, entirely on gRPC's callback API:
// Send and Ack hand their work to the relay and finish from its completion
// callback (after the WAL sync for a send, after the write for an ack), so
// no gRPC thread waits on the disk; Receive is a callback stream
// (receive_stream.h), so that thousands of idle streams need no threads.
// A Send from a device that ignored its retry-after is deferred until it has
// passed, holding no thread (core/refusal_hold.h). Thread-safe.
#ifndef CARERELAY_SERVER_API_MESSAGES_SERVICE_H_
#define CARERELAY_SERVER_API_MESSAGES_SERVICE_H_

#include "carerelay/v1/messages.grpc.pb.h"
#include "server/core/account_registry.h"
#include "server/core/relay.h"

namespace carerelay::api {

class MessagesService final : public v1::Messages::CallbackService {
 public:
  MessagesService(const core::AccountRegistry* accounts, core::Relay* relay)
      : accounts_(accounts), relay_(relay) {}

  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* context,
                                 const v1::SendRequest* request,
                                 v1::SendResponse* response) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context, const v1::AckRequest* request,
                                v1::AckResponse* response) override;
  grpc::ServerWriteReactor<v1::ReceiveResponse>* Receive(
      grpc::CallbackServerContext* context, const v1::ReceiveRequest* request) override;

 private:
  const core::AccountRegistry* accounts_;
  core::Relay* relay_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_MESSAGES_SERVICE_H_
