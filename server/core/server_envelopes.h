// Envelopes the server writes itself (delivery receipts, team events): queued
// inside the caller's store transaction, delivered once it has committed.
//
// Usage:
//   ServerEnvelopes out(hub, queues, now_ms, expires_at_ms);
//   out.Add(device, envelope);            // type, content, team, ... set
//   RETURN_IF_ERROR(out.Write(*txn));     // ids and sequences assigned
//   RETURN_IF_ERROR(txn->Commit());
//   out.Publish();                        // counted and streamed
// If Publish is never called (the transaction failed), the destructor gives
// the sequence numbers back to the hub so that delivery is not held up.
//
// Server envelopes count toward queue depth but are never refused for it: a
// full queue must not block someone else's acknowledgement or a team change.
//
// Thread-safety: not thread-safe; one per transaction.
#ifndef CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_
#define CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/delivery_hub.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"

namespace carerelay::core {

class ServerEnvelopes {
 public:
  ServerEnvelopes(DeliveryHub* hub, store::QueueTable* queues, int64_t now_ms,
                  int64_t expires_at_ms);
  ~ServerEnvelopes();
  ServerEnvelopes(const ServerEnvelopes&) = delete;
  ServerEnvelopes& operator=(const ServerEnvelopes&) = delete;

  // Queues `envelope` for `device`; id, sequence, destination device and
  // times are filled in by Write.
  void Add(const store::DeviceRef& device, v1::Envelope envelope);
  bool empty() const { return devices_.empty(); }

  // Assigns sequence numbers and appends every envelope in `txn`. Once only.
  absl::Status Write(store::Transaction& txn);
  // After the commit: counts the envelopes in the queue depths and wakes
  // the recipients' streams.
  void Publish();

 private:
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  int64_t now_ms_;
  int64_t expires_at_ms_;
  std::vector<store::DeviceRef> devices_;
  std::vector<v1::Envelope> envelopes_;
  uint64_t first_ = 0;  // nonzero once sequences are taken
  bool published_ = false;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_SERVER_ENVELOPES_H_
