// NoopRelayService: carerelay.v1.Messages (delivery contract v2,
// messages.proto) with no storage behind it: the protocol ceiling that
// carerelay-bench measures carerelayd against in the same run.
//
// It speaks the whole protocol the generator drives, as carerelayd does:
// Send queues one envelope per named recipient device and answers with
// their ids; Receive is a callback server stream with a window of
// `window_messages` unacknowledged messages, coalescing up to
// `max_envelopes_per_message` envelopes (and about 1 MiB) into the next
// message while the window is full, the queue_drained marker, and takeover
// of the unacknowledged envelopes by a device's next stream (ABORTED for the
// old one); Ack is cumulative, clamped to what the device's current stream
// delivered; a send with want_receipts moves the sender's delivery
// watermark for each recipient device when that device acknowledges, pushed
// on the sender's stream (latest value per recipient, on the next message
// or one of its own that needs no acknowledgement), and a new stream
// starts with the watermarks changed after `watermarks_after_version`.
//
// What it leaves out is everything the relay adds around the protocol: no
// disk, no sync, no authentication beyond reading the device from the call
// metadata, no team or recipient check, no limits but the window's, no
// idempotency (a key is accepted and never replayed). Envelopes live in
// memory until acknowledged.
//
// Thread-safety: thread-safe; gRPC calls it from its callback threads.
#ifndef CARERELAY_BENCH_NOOP_RELAY_SERVICE_H_
#define CARERELAY_BENCH_NOOP_RELAY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/messages.grpc.pb.h"

namespace carerelay::bench {

class NoopRelayService final : public v1::Messages::CallbackService {
 public:
  // The same window limits as carerelayd (server/api/receive_stream.h).
  static constexpr uint32_t kDefaultWindowMessages = 16;
  static constexpr uint32_t kMaxWindowMessages = 256;
  static constexpr uint32_t kDefaultEnvelopesPerMessage = 256;
  static constexpr uint32_t kMaxEnvelopesPerMessage = 1024;
  static constexpr size_t kMaxMessageBytes = 1 << 20;

  NoopRelayService();
  ~NoopRelayService() override;
  NoopRelayService(const NoopRelayService&) = delete;
  NoopRelayService& operator=(const NoopRelayService&) = delete;

  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* context,
                                 const v1::SendRequest* request,
                                 v1::SendResponse* response) override;
  grpc::ServerWriteReactor<v1::ReceiveResponse>* Receive(
      grpc::CallbackServerContext* context, const v1::ReceiveRequest* request) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context, const v1::AckRequest* request,
                                v1::AckResponse* response) override;

 private:
  class Stream;
  struct Device;

  // The device a call is made as ("account.device" from its metadata), or
  // null when the metadata does not name one.
  Device* CallerDevice(const grpc::CallbackServerContext& context);
  // The device, created on first use. Never removed: pointers stay valid.
  Device* FindOrAddDevice(const std::string& key, const std::string& account_id,
                          uint32_t device_id);
  // Writes the next message of `device`'s current stream if it has one, no
  // write is in flight and there is something to send.
  static void Pump(Device* device);

  std::atomic<uint64_t> next_sequence_{1};
  absl::Mutex devices_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Device>> devices_ ABSL_GUARDED_BY(devices_mu_);
};

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_NOOP_RELAY_SERVICE_H_
