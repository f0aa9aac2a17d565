// The relay's write path: one writer thread, one syncer thread, no caller
// ever waiting on the disk.
//
// Sends and acknowledgements are handed over (Send, Ack) and complete by
// callback. The writer takes everything pending, assigns sequence numbers in
// commit order (through the DeliveryHub), checks team sends against the
// TeamWriteGate, and writes it all as one RocksDB write without a sync. The
// syncer then syncs the WAL once for every batch written meanwhile (group
// commit) and hands the synced batches to the completer, which, for each
// batch in order, publishes its envelopes to the hub (streams deliver only
// below the hub's watermark, so nothing is delivered before it is durable),
// answers its sends, and pushes the delivery watermarks it moved. The
// completer is a thread of its own so that waking streams and answering
// sends never delays the next sync: syncs follow each other back to back.
// An acknowledgement is answered once written: losing it in a crash only
// means a second delivery.
//
// Idempotency: a send with a key is looked up first; a retry that arrives
// while the first is in flight waits for it and gets its answer.
//
// Control-plane changes (teams, accounts, timers, tracked urgent sends) stay
// synced transactions; the hub orders both paths.
//
// Thread-safety: thread-safe. Callbacks run on the writer or syncer thread
// (or the caller's, for a replay found at once); they must not block.
#ifndef CARERELAY_SERVER_CORE_DELIVERY_WRITER_H_
#define CARERELAY_SERVER_CORE_DELIVERY_WRITER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "carerelay/v1/messages.pb.h"
#include "server/core/delivery_hub.h"
#include "server/core/metrics.h"
#include "server/core/team_write_gate.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"
#include "server/store/receipt_table.h"
#include "server/store/send_key_table.h"

namespace carerelay::core {

// One send, checked by the relay, ready to write.
struct SendWrite {
  store::DeviceRef sender;
  // One envelope per device: `bodies[i]` is a serialized Envelope for
  // `devices[i]` without id and sequence (the writer stamps them).
  std::vector<store::DeviceRef> devices;
  std::vector<std::string> bodies;
  // The answer before the writer numbers the envelopes: what it says of
  // devices not written (SendResponse.not_queued, with an empty id each).
  // `positions[i]` is the index of devices[i]'s id in its envelope_ids;
  // empty: ids are appended in `devices` order.
  v1::SendResponse response;
  std::vector<int> positions;
  // A team send: the gate stripe and the version read before the check.
  std::optional<std::pair<size_t, uint64_t>> team_gate;
  // SendKeyTable::Key of the idempotency key; empty if none.
  std::string idempotency_row;
  int64_t now_ms = 0;
  // Called once: the response (envelope ids in `devices` order), or
  // ABORTED (the team changed), UNAVAILABLE (the store failed).
  std::function<void(absl::StatusOr<v1::SendResponse>)> done;
};

// One acknowledgement: envelopes a stream delivered and the client stored.
struct AckWrite {
  store::DeviceRef device;
  std::vector<uint64_t> sequences;
  // Delivery watermarks to move: (sender device, highest sequence of its
  // envelopes in `sequences` that asked for a receipt).
  std::vector<std::pair<store::DeviceRef, uint64_t>> receipts;
  // Called once the deletes are written (not synced); UNAVAILABLE if the
  // server is stopping or the store failed.
  std::function<void(absl::Status)> done;
};

class DeliveryWriter {
 public:
  struct Stats {
    uint64_t batches = 0;    // writes to the store
    uint64_t syncs = 0;      // WAL syncs
    uint64_t sends = 0;      // sends answered after a sync
    uint64_t envelopes = 0;  // envelopes made durable
    uint64_t acks = 0;       // acknowledgements written
  };

  // Pointers must outlive the writer. Starts both threads.
  // `metrics` (may be null) times each sync.
  DeliveryWriter(store::Database* db, store::QueueTable* queues, store::ReceiptTable* receipts,
                 store::SendKeyTable* send_keys, DeliveryHub* hub, TeamWriteGate* gate,
                 Metrics* metrics = nullptr);
  ~DeliveryWriter();
  DeliveryWriter(const DeliveryWriter&) = delete;
  DeliveryWriter& operator=(const DeliveryWriter&) = delete;

  void Send(SendWrite write);
  void Ack(AckWrite write);

  // A send recorded under this idempotency row and durable, if any
  // (NOT_FOUND otherwise). For the relay's early check, before any work.
  // While the store is failed, that failure: a record written before a WAL
  // sync failed is readable but not durable, and must not be replayed.
  absl::StatusOr<v1::SendResponse> Replay(const std::string& idempotency_row);

  // Deletes the idempotency records of sends answered before `before_ms`.
  absl::StatusOr<uint64_t> ForgetKeysBefore(int64_t before_ms) {
    return send_keys_->DeleteOlderThan(before_ms);
  }

  Stats stats() const;

  // Writes, syncs and completes everything already handed over, then joins
  // the threads; later calls fail at once with UNAVAILABLE. Idempotent.
  void Stop();

 private:
  // A batch written and waiting for its sync.
  struct Written {
    uint64_t first = 0;  // 0: no sequence numbers taken
    std::vector<store::DeviceRef> devices;
    std::vector<std::pair<SendWrite, v1::SendResponse>> sends;
    std::vector<std::pair<store::DeviceRef, store::Watermark>> watermarks;
  };

  void WriterLoop();
  void SyncerLoop();
  void CompleterLoop();
  // Writes one batch; returns what waits for the sync.
  Written WriteBatch(std::vector<SendWrite> sends, std::vector<AckWrite> acks);
  // Answers a send and every retry that waited on its idempotency key.
  void Complete(SendWrite& write, const absl::StatusOr<v1::SendResponse>& result);
  // Records that the store failed (mu_ held): every later write fails with
  // `status` until the store resumes from this failure.
  void FailLocked(absl::Status status);
  // Why writes are refused while failed_ is set (mu_ held): the store's
  // current state (Database::write_state) when it is UNAVAILABLE, which may
  // say more than failed_ did (e.g. "restart carerelayd"), else failed_.
  absl::Status FailureLocked() const;
  // If the store resumed from the failure (mu_ held), clears it and returns
  // the batches whose sync failed: the resume flushed them, so they are
  // durable now; the caller publishes them (PublishRecovered) without mu_.
  std::vector<Written> RecoverLocked();
  void PublishRecovered(std::vector<Written> batches);

  store::Database* const db_;
  store::QueueTable* const queues_;
  store::ReceiptTable* const receipts_;
  store::SendKeyTable* const send_keys_;
  DeliveryHub* const hub_;
  TeamWriteGate* const gate_;
  Metrics* const metrics_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable sync_cv_;
  std::condition_variable complete_cv_;
  bool stopping_ = false;
  bool writer_done_ = false;  // the writer thread has ended (Stop)
  bool syncer_done_ = false;  // the syncer thread has ended (Stop)
  absl::Status failed_;       // set when the store failed: every later write fails
  // Database::write_failures() when failed_ was set (0: the store did not
  // report it, so only a restart clears failed_).
  uint64_t failed_at_ = 0;
  // Batches written but not synced when failed_ was set: their sequence
  // numbers stay pending in the hub (nothing delivers them) until the store
  // resumes, which makes them durable.
  std::vector<Written> stranded_;
  std::vector<SendWrite> pending_sends_;
  std::vector<AckWrite> pending_acks_;
  std::deque<Written> to_sync_;
  std::deque<Written> to_complete_;
  // Idempotency rows of sends in flight, with the retries waiting on them.
  absl::flat_hash_map<std::string,
                      std::vector<std::function<void(absl::StatusOr<v1::SendResponse>)>>>
      in_flight_keys_;
  Stats stats_;

  std::mutex stop_mu_;  // serializes Stop
  std::thread writer_;
  std::thread syncer_;
  std::thread completer_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_DELIVERY_WRITER_H_
