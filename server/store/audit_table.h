// Per-team audit logs, append-only.
//
// Key encoding:
//   audit: team_id (16) | sequence (8, BE) -> carerelay.v1.AuditEntry
// The chain (each entry's hash covering the previous one) is built and
// checked by core/audit_log.h; this table only stores entries in order.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_AUDIT_TABLE_H_
#define CARERELAY_SERVER_STORE_AUDIT_TABLE_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/teams.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

class AuditTable {
 public:
  explicit AuditTable(Database* db) : db_(db) {}

  absl::Status Append(Transaction& txn, const TeamId& team, const v1::AuditEntry& entry);
  // Calls fn(sequence in the key, entry) for the entries with sequence >
  // `after`, in order, until fn returns false; `entry` is nullptr when the
  // stored bytes cannot be parsed (damage is the caller's to report).
  absl::Status Scan(const TeamId& team, uint64_t after,
                    const std::function<bool(uint64_t, const v1::AuditEntry*)>& fn) const;
  // Deletes the whole log of `team`; returns how many entries.
  absl::StatusOr<uint64_t> DeleteTeam(Transaction& txn, const TeamId& team);

 private:
  Database* db_;
};

std::string AuditKey(const TeamId& team, uint64_t sequence);

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_AUDIT_TABLE_H_
