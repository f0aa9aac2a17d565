// The server side of Messages.Receive for one device (delivery contract v2,
// messages.proto): the queue in sequence order, then live envelopes as they
// become durable, within a window of unacknowledged stream messages.
//
// A callback reactor, not a thread per stream, so idle streams cost only
// memory. gRPC allows one write in flight; beyond that the stream keeps up
// to `window` messages with envelopes unacknowledged. While the window is
// full, new envelopes stay in the store and the next read, when an
// acknowledgement opens the window, takes them all into one message (up to
// the per-message cap): the store is the coalescing buffer, so memory stays
// bounded whatever the backlog. The queue is read only when the hub said
// something new is there (or the last read was cut by the cap).
//
// The stream remembers what it delivered and has not seen acknowledged
// (sequence, sender, whether a receipt was asked): an acknowledgement takes
// exactly that (QueueListener::TakeAcknowledged), clamped to what was
// delivered. Delivery watermarks of the device's own sends ride on the next
// message, or on a message of their own (which needs no acknowledgement).
//
// Lifetime: created by MessagesService::Receive, deletes itself in OnDone.
#ifndef CARERELAY_SERVER_API_RECEIVE_STREAM_H_
#define CARERELAY_SERVER_API_RECEIVE_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <deque>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/relay.h"

namespace carerelay::api {

// The window a client asked for, checked.
struct ReceiveWindow {
  static constexpr uint32_t kDefaultMessages = 16;
  static constexpr uint32_t kDefaultEnvelopes = 256;
  static constexpr uint32_t kMaxEnvelopes = 1024;
  // A message stays under this (it holds at least one envelope).
  static constexpr size_t kMaxBytes = 1 << 20;

  uint32_t messages = kDefaultMessages;
  uint32_t envelopes_per_message = kDefaultEnvelopes;

  // INVALID_ARGUMENT naming the limit for a window above `max_messages`
  // (Limits::max_receive_window) or a cap above kMaxEnvelopes.
  static absl::StatusOr<ReceiveWindow> From(const v1::ReceiveRequest& request,
                                            uint32_t max_messages);
};

class ReceiveStream : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  ReceiveStream(core::Relay* relay, const store::DeviceRef& device, const ReceiveWindow& window,
                uint64_t watermarks_after_version);
  // Subscribes to the hub and starts sending.
  void Start();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  class Listener;
  // Sends what there is to send, unless a write is in flight.
  void Pump();
  // Ends the stream with `status` once no write is in flight.
  void Close(const grpc::Status& status);
  void FinishIfClosingLocked(bool* finish_now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  core::Acknowledged TakeAcknowledged(uint64_t through);
  void AddWatermark(const store::Watermark& watermark);
  void AddWatermarkLocked(const store::Watermark& watermark) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WindowOpenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return unacked_messages_.size() < window_.messages;
  }

  core::Relay* const relay_;
  const store::DeviceRef device_;
  const ReceiveWindow window_;
  const uint64_t watermarks_after_version_;
  std::shared_ptr<Listener> listener_;
  // The backlog is what was begun before the stream opened: queue_drained
  // waits until the hub's watermark reaches it.
  uint64_t backlog_end_ = 0;

  absl::Mutex mu_;
  // Set by Start once the stored watermarks are in: until then nothing is
  // sent, so queue_drained never goes out ahead of one of them (the client
  // resumes after the highest version it saw, and would never see it).
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;        // reading or writing
  bool queue_dirty_ ABSL_GUARDED_BY(mu_) = true;  // the queue may hold unread envelopes
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_sent_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
  // Highest sequence sent on this stream.
  uint64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  // Delivered, not yet acknowledged, in sequence order.
  std::deque<core::DeliveredEnvelope> unacked_ ABSL_GUARDED_BY(mu_);
  // The last sequence of each unacknowledged message carrying envelopes:
  // the window.
  std::deque<uint64_t> unacked_messages_ ABSL_GUARDED_BY(mu_);
  // Watermarks to push, latest per recipient device.
  absl::flat_hash_map<store::DeviceRef, store::Watermark> watermarks_ ABSL_GUARDED_BY(mu_);
  // The version last sent per recipient device: a watermark both found by
  // the opening scan and pushed live is sent once.
  absl::flat_hash_map<store::DeviceRef, uint64_t> sent_versions_ ABSL_GUARDED_BY(mu_);
  // The message being written; owned by the busy pump until OnWriteDone.
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
