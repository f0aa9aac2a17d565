// The server side of Messages.Receive for one device: sends the queue in
// sequence order, then live envelopes as the DeliveryHub reports them.
//
// A callback reactor, not a thread per stream, so idle streams cost only
// memory. At most one write is in flight; the queue is read again after each
// write completes, so a slow client slows only its own stream and memory
// stays bounded. Envelopes stay queued until acknowledged (Messages.Ack).
//
// Lifetime: created by MessagesService::Receive, deletes itself in OnDone.
#ifndef CARERELAY_SERVER_API_RECEIVE_STREAM_H_
#define CARERELAY_SERVER_API_RECEIVE_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <memory>

#include "absl/synchronization/mutex.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/relay.h"

namespace carerelay::api {

class ReceiveStream : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  ReceiveStream(core::Relay* relay, const store::DeviceRef& device);
  // Subscribes to the hub and starts sending.
  void Start();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  class Listener;
  // Sends what is queued, unless a write is in flight.
  void Pump();
  // Ends the stream with `status` once no write is in flight.
  void Close(const grpc::Status& status);
  void FinishIfClosingLocked(bool* finish_now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  core::Relay* const relay_;
  const store::DeviceRef device_;
  std::shared_ptr<Listener> listener_;

  absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;   // reading or writing
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // new envelopes reported while busy
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_sent_ ABSL_GUARDED_BY(mu_) = false;
  // The backlog is what was begun before the stream opened: queue_drained
  // waits until the watermark reaches it.
  uint64_t backlog_end_ = 0;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
  // Owned by the busy pump; read and written only while busy_.
  uint64_t cursor_ = 0;
  v1::ReceiveResponse response_;
};

// A reactor that ends at once with `status` (e.g. UNAUTHENTICATED).
class FailedStream : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  explicit FailedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_RECEIVE_STREAM_H_
