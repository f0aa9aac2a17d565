// Envelopes the server writes itself (team events, alerts): queued inside
// the caller's store transaction, delivered once it has committed.
//
// Usage:
//   ServerEnvelopes out(hub, queues, now_ms, limits);
//   out.Add(device, envelope);            // type, content, team, ... set
//   RETURN_IF_ERROR(out.Write(*txn));     // ids and sequences assigned
//   RETURN_IF_ERROR(txn->Commit());
//   out.Publish();                        // streamed
// If Publish is never called (the transaction failed), the destructor gives
// the sequence numbers back to the hub so that delivery is not held up, and
// the queue depth it counted back to the queues.
//
// Server envelopes are never refused for a full queue: a full queue must
// not block someone else's acknowledgement or a team change. But the
// server's own share of one device's queue (the zero sender,
// QueueTable::SenderOf) is capped at Limits::max_queue_share, like any
// sender's: past it, an envelope for that device is skipped, not written
// (and logged). A device holding that many unread notices is not being
// read; when it comes back, the team views and intake lists it asks for
// are current, and the queued notices tell it to ask. Without the cap,
// anyone who can cause notices (team changes, invitations, urgent
// reminders) could grow an offline device's queue without bound.
// ServerShare::kUncapped is for the account's security announcements
// (a device added), which are always written.
//
// Thread-safety: not thread-safe; one per transaction.
#ifndef CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_
#define CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/delivery_hub.h"
#include "server/core/limits.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"

namespace carerelay::core {

enum class ServerShare { kCapped, kUncapped };

class ServerEnvelopes {
 public:
  // Envelopes expire after `limits.queue_ttl`; the server's share of a
  // device's queue is `limits.max_queue_share` unless `share` is kUncapped.
  ServerEnvelopes(DeliveryHub* hub, store::QueueTable* queues, int64_t now_ms, const Limits& limits,
                  ServerShare share = ServerShare::kCapped);
  ~ServerEnvelopes();
  ServerEnvelopes(const ServerEnvelopes&) = delete;
  ServerEnvelopes& operator=(const ServerEnvelopes&) = delete;

  // Queues `envelope` for `device`; id, sequence, destination device and
  // times are filled in by Write.
  void Add(const store::DeviceRef& device, v1::Envelope envelope);
  bool empty() const { return devices_.empty(); }

  // Assigns sequence numbers, counts each envelope in its device's depth
  // and appends it in `txn`, skipping those past the server's share (see
  // above). Once only. Errors: the store's.
  absl::Status Write(store::Transaction& txn);
  // After the commit: wakes the recipients' streams.
  void Publish();
  // Envelopes Write skipped because their device's server share was full.
  size_t skipped() const { return skipped_; }

 private:
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  int64_t now_ms_;
  int64_t expires_at_ms_;
  uint64_t share_limit_;
  std::vector<store::DeviceRef> devices_;
  std::vector<v1::Envelope> envelopes_;
  std::vector<store::DeviceRef> written_;  // counted in their depth by Write
  size_t skipped_ = 0;
  uint64_t first_ = 0;  // nonzero once sequences are taken
  bool published_ = false;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_
