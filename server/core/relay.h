// The relay: the delivery contract of DESIGN.md and messages.proto (v2).
//
// - Send checks that the sender may send there (a team channel: the access
//   matrix via CareTeams; a direct message: the ContactPolicy), that the
//   named recipient devices are exactly those that must receive, and the
//   limits, on the caller's thread; then hands the envelopes to the
//   DeliveryWriter, which answers once they are durable. No thread waits on
//   the disk. An URGENT send that requires acknowledgement is the exception:
//   its tracking record and timers are written with it in one synced
//   transaction (rare, and it must never be delivered untracked).
// - Streams read a device's queue in sequence order (ReadQueue), up to the
//   hub's watermark, and are told of new envelopes by the DeliveryHub.
// - Ack is cumulative: it takes from the device's current stream what that
//   stream delivered through the acknowledged sequence (clamped), and the
//   writer deletes exactly those keys and moves the senders' delivery
//   watermarks, without reading anything back.
// - Envelopes expire after the queue time-to-live; idempotency records after
//   kIdempotencyWindow.
//
// Envelope ids: envelope_id.h.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_RELAY_H_
#define CARERELAY_SERVER_CORE_RELAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/contact_policy.h"
#include "server/core/delivery_hub.h"
#include "server/core/delivery_writer.h"
#include "server/core/limits.h"
#include "server/core/metrics.h"
#include "server/core/rate_limiter.h"
#include "server/core/urgent_messages.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"
#include "server/store/receipt_table.h"
#include "server/store/send_key_table.h"

namespace carerelay::core {

class Relay {
 public:
  // How long an idempotency key protects against a double send.
  static constexpr absl::Duration kIdempotencyWindow = absl::Hours(24);
  static constexpr size_t kMaxIdempotencyKeyBytes = 64;
  // Sends an URGENT ack_required send takes from the sender's rate limit.
  static constexpr double kTrackedSendCost = 10;

  using SendDone = std::function<void(absl::StatusOr<v1::SendResponse>)>;
  using AckDone = std::function<void(absl::StatusOr<v1::AckResponse>)>;

  // All pointers must outlive the relay.
  Relay(store::Database* db, store::QueueTable* queues, store::ReceiptTable* receipts,
        store::SendKeyTable* send_keys, DeliveryHub* hub, DeliveryWriter* writer,
        const AccountRegistry* accounts, CareTeams* teams, const ContactPolicy* contacts,
        const Clock* clock, const Limits& limits);

  // Queues the request's envelopes from `sender` and calls `done` once they
  // are durable (or refused), possibly before returning. Errors:
  //   INVALID_ARGUMENT     ack_required without priority URGENT; no destination, a device named
  //                        twice, no device to send to (an empty send to an account that has
  //                        devices gets FAILED_PRECONDITION listing them as missing), a
  //                        malformed id, type, channel or idempotency key
  //   NOT_FOUND            unknown recipient account; unknown team, or one the
  //                        sender is not on
  //   PERMISSION_DENIED    the sender may not post on that channel, or may not
  //                        message that account directly (contact_policy.h)
  //   FAILED_PRECONDITION  wrong recipient devices (ErrorDetail.device_mismatch
  //                        lists the missing, extra and stale ones); the team
  //                        is closed
  //   RESOURCE_EXHAUSTED   too many envelopes, no named device with room in its
  //                        queue (a device without room while others have it
  //                        is listed in SendResponse.not_queued instead), or
  //                        the sender's rate limit (with retry_after_seconds)
  //   ABORTED              the team changed between the check and the write
  //   UNAVAILABLE          the store cannot write, or the server is stopping
  // A send with an idempotency key already answered gets that answer again
  // (`replayed`), whatever the request says now.
  void Send(const store::DeviceRef& sender, const v1::SendRequest& request, SendDone done);

  // Up to `max_envelopes` (and about `max_bytes`, at least one) envelopes of
  // `device` with sequence in (after, up_to], in order. `*more` tells
  // whether a cap cut the read short (more are readable now).
  absl::Status ReadQueue(const store::DeviceRef& device, uint64_t after, uint64_t up_to,
                         size_t max_envelopes, size_t max_bytes, std::vector<v1::Envelope>* out,
                         bool* more) const;

  // The delivery watermarks of `sender`'s sends changed after `after_version`.
  absl::Status ReadWatermarks(const store::DeviceRef& sender, uint64_t after_version,
                              std::vector<store::Watermark>* out) const;

  // Cumulative acknowledgement through `through` on `device`'s current
  // stream; `done` gets how many envelopes were deleted and the sequence
  // applied (0 without a stream), once the deletes are written.
  void Ack(const store::DeviceRef& device, uint64_t through, AckDone done);

  // Deletes expired envelopes and idempotency records; returns how many
  // envelopes.
  absl::StatusOr<uint64_t> ExpireEnvelopes();

  DeliveryHub* hub() const { return hub_; }
  const AccountRegistry* accounts() const { return accounts_; }
  const Limits& limits() const { return limits_; }

  // Where URGENT sends with ack_required are tracked (urgent_messages.h);
  // set once, before serving. Without it such sends are refused
  // (FAILED_PRECONDITION), never silently untracked.
  void set_urgency(UrgentMessages* urgency) { urgency_ = urgency; }
  // Where delivered and acknowledged envelopes are counted; must outlive
  // the relay. Set before serving.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }
  Metrics* metrics() const { return metrics_; }

 private:
  // A checked send, ready to write.
  struct Checked {
    // The devices to write, and the index of each one's envelope in the
    // request; devices without room in their queue are taken out
    // (ReserveQueues) and listed in `not_queued`.
    std::vector<store::DeviceRef> devices;
    std::vector<int> indices;
    std::vector<v1::NotQueued> not_queued;
    std::optional<store::TeamId> team;
    std::optional<std::pair<size_t, uint64_t>> team_gate;
  };
  absl::Status CheckRequest(const v1::SendRequest& request) const;
  // Who must receive a send: accounts with all their devices.
  absl::StatusOr<std::shared_ptr<const std::vector<ChannelReader>>> MustReceive(
      const store::DeviceRef& sender, const v1::SendRequest& request, const Checked& checked);
  absl::Status CheckRecipients(const store::DeviceRef& sender,
                               const std::vector<ChannelReader>& must_receive,
                               const v1::SendRequest& request) const;
  absl::StatusOr<Checked> Check(const store::DeviceRef& sender, const v1::SendRequest& request);
  // The envelope every recipient gets, before type, destination and content.
  v1::Envelope Template(const store::DeviceRef& sender, const v1::SendRequest& request,
                        int64_t now) const;
  // An URGENT send with ack_required: one synced transaction with its
  // tracking and, when the request has one, its idempotency record (so a
  // retry is answered, replayed, with the same ids and urgent message id,
  // and queues nothing twice).
  absl::StatusOr<v1::SendResponse> SendTracked(const store::DeviceRef& sender,
                                               const v1::SendRequest& request,
                                               const Checked& checked,
                                               const std::string& idempotency_row);
  // Reserves room for one envelope from `sender` in each device's queue
  // (depth and the sender's share). A device without room is moved from
  // `checked.devices` to `checked.not_queued`; RESOURCE_EXHAUSTED (and
  // nothing reserved) when no device has room.
  absl::Status ReserveQueues(const store::DeviceRef& sender, Checked& checked);
  void ReleaseQueues(const store::DeviceRef& sender, const std::vector<store::DeviceRef>& devices);
  // The answer before the envelopes are numbered: an empty id per request
  // envelope, and the devices not queued.
  static v1::SendResponse Unnumbered(const v1::SendRequest& request, const Checked& checked);

  store::Database* db_;
  store::QueueTable* queues_;
  store::ReceiptTable* receipts_;
  store::SendKeyTable* send_keys_;
  DeliveryHub* hub_;
  DeliveryWriter* writer_;
  const AccountRegistry* accounts_;
  CareTeams* teams_;
  const ContactPolicy* contacts_;
  const Clock* clock_;
  const Limits limits_;
  RateLimiter send_rate_;
  UrgentMessages* urgency_ = nullptr;
  Metrics* metrics_ = nullptr;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_RELAY_H_
