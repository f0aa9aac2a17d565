// Urgent messages that must be acknowledged (core/urgent_messages.h).
//
// Key encoding:
//   urgent_messages: "m" | message sequence (8, BE) -> UrgentMessageRecord
//                    "e" | envelope sequence (8, BE) -> message sequence (8, BE)
// The message id is the sequence of the send's first envelope. The "e" keys
// let a recipient acknowledge with the id of the envelope it received.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_URGENT_TABLE_H_
#define CARERELAY_SERVER_STORE_URGENT_TABLE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class UrgentTable {
 public:
  explicit UrgentTable(Database* db) : db_(db) {}

  absl::Status Put(Transaction& txn, const UrgentMessageRecord& record);
  // Indexes an envelope of the message.
  absl::Status PutEnvelope(Transaction& txn, uint64_t envelope_sequence, uint64_t message_sequence);
  // The message `sequence` names (its own id or one of its envelopes).
  // NOT_FOUND if neither.
  absl::StatusOr<uint64_t> Resolve(Transaction& txn, uint64_t sequence);
  // NOT_FOUND if absent. Locks the record until the transaction ends.
  absl::StatusOr<UrgentMessageRecord> GetForUpdate(Transaction& txn, uint64_t message_sequence);
  absl::StatusOr<UrgentMessageRecord> Get(uint64_t message_sequence) const;
  // Deletes the record and its envelope index (record.envelope_count keys).
  absl::Status Delete(Transaction& txn, const UrgentMessageRecord& record);
  // The sequence of every message sent before `cutoff_ms`, oldest id first.
  absl::StatusOr<std::vector<uint64_t>> SentBefore(int64_t cutoff_ms) const;

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_URGENT_TABLE_H_
