// The relay: the delivery contract of DESIGN.md.
//
// - Send checks that the sender may send there (a team channel: the access
//   matrix via CareTeams; a direct message: the ContactPolicy), that the
//   named recipient devices are exactly those that must receive, checks the
//   limits, and queues one envelope per device in one
//   store transaction, synced before it returns (concurrent sends share a
//   sync: RocksDB's group commit).
// - Streams read a device's queue in sequence order (ReadQueue) and are told
//   of new envelopes by the DeliveryHub.
// - Ack deletes envelopes and queues a delivery receipt for each sender
//   device, in one transaction, written to the WAL without waiting for a
//   sync (a lost acknowledgement only means a second delivery). Until
//   acknowledged, an envelope is delivered again on every new stream
//   (at-least-once).
// - Envelopes expire after the queue time-to-live.
//
// Envelope ids: envelope_id.h.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_RELAY_H_
#define CARERELAY_SERVER_CORE_RELAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/contact_policy.h"
#include "server/core/delivery_hub.h"
#include "server/core/limits.h"
#include "server/core/rate_limiter.h"
#include "server/core/urgent_messages.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"

namespace carerelay::core {

class Relay {
 public:
  // All pointers must outlive the relay.
  Relay(store::Database* db, store::QueueTable* queues, DeliveryHub* hub,
        const AccountRegistry* accounts, CareTeams* teams, const ContactPolicy* contacts,
        const Clock* clock, const Limits& limits);

  // Queues the request's envelopes from `sender`. Errors:
  //   INVALID_ARGUMENT     ack_required without priority URGENT; no destination, a device named
  //   twice, no device to
  //                        send to (an empty send to an account that has devices
  //                        gets FAILED_PRECONDITION listing them as missing),
  //                        a malformed id, type or channel, an envelope over
  //                        the size limit
  //   NOT_FOUND            unknown recipient account; unknown team, or one the
  //                        sender is not on
  //   PERMISSION_DENIED    the sender may not post on that channel, or may not
  //                        message that account directly (contact_policy.h)
  //   FAILED_PRECONDITION  wrong recipient devices (ErrorDetail.device_mismatch
  //                        lists the missing, extra and stale ones); the team
  //                        is closed
  //   RESOURCE_EXHAUSTED   too many envelopes, a full recipient queue, or the
  //                        sender's rate limit (with retry_after_seconds)
  absl::StatusOr<v1::SendResponse> Send(const store::DeviceRef& sender,
                                        const v1::SendRequest& request);

  // Up to `max_envelopes` (and about `max_bytes`, at least one) envelopes of
  // `device` with sequence in (after, up_to], in order.
  absl::Status ReadQueue(const store::DeviceRef& device, uint64_t after, uint64_t up_to,
                         size_t max_envelopes, size_t max_bytes,
                         std::vector<v1::Envelope>* out) const;

  // Deletes the given envelopes of `device` and queues delivery receipts to
  // their senders. Returns how many were deleted; unknown ids are skipped.
  // INVALID_ARGUMENT for a malformed id or too many ids.
  absl::StatusOr<uint32_t> Ack(const store::DeviceRef& device,
                               const std::vector<std::string>& envelope_ids);

  // Deletes expired envelopes; returns how many.
  absl::StatusOr<uint64_t> ExpireEnvelopes();

  DeliveryHub* hub() const { return hub_; }

  // Where URGENT sends with ack_required are tracked (urgent_messages.h);
  // set once, before serving. Without it such sends are refused
  // (FAILED_PRECONDITION), never silently untracked.
  void set_urgency(UrgentMessages* urgency) { urgency_ = urgency; }

 private:
  // Who must receive a send: accounts with all their devices.
  absl::StatusOr<std::vector<ChannelReader>> MustReceive(store::Transaction& txn,
                                                         const store::DeviceRef& sender,
                                                         const v1::SendRequest& request);
  absl::Status CheckRecipients(const store::DeviceRef& sender,
                               const std::vector<ChannelReader>& must_receive,
                               const v1::SendRequest& request) const;
  absl::Status ReserveQueues(const std::vector<store::DeviceRef>& devices);
  void ReleaseQueues(const std::vector<store::DeviceRef>& devices);

  store::Database* db_;
  store::QueueTable* queues_;
  DeliveryHub* hub_;
  const AccountRegistry* accounts_;
  CareTeams* teams_;
  const ContactPolicy* contacts_;
  const Clock* clock_;
  const Limits limits_;
  RateLimiter send_rate_;
  UrgentMessages* urgency_ = nullptr;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_RELAY_H_
