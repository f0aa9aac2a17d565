// The store's consistency checker (`carerelayd admin check`): reads a whole
// store and reports every place where what one table says disagrees with
// another, or where a record breaks a rule the server keeps.
//
// What it checks:
// - queues: every entry parses, its key matches its envelope (sequence,
//   destination device), and its device exists and is not revoked (a
//   revocation deletes the queue in the same commit);
// - teams: every record parses; at most one active coordinator and one
//   active case manager, never the same person; roles and statuses are
//   known values; every person on a team has its membership index entry and
//   every index entry names a team that lists the person; the audit chain
//   of every team verifies (proto/audit_chain.h) up to the head the team
//   record holds;
// - attachments: every record names a team that exists; a complete one has
//   exactly the blocks its size needs, an unfinished one whole blocks up to
//   what it received; it has an expiry;
// - rosters: an organisation's roster and its staff's accounts list each
//   other, and only organisations have one;
// - timers: every timer refers to an intake or urgent message that waits
//   for it at that time;
// - urgent messages: one waiting for a reminder has that timer;
// - intakes: one linked to a team names a team that exists.
//
// Run it on a store no server is writing to: a closed data directory, or a
// checkpoint of a running one (Database::Checkpoint; the admin socket's
// Check does both). On a live store, concurrent writes would show as
// violations.
//
// Thread-safety: a Check reads only; it may run beside other readers.
#ifndef CARERELAY_SERVER_CORE_CONSISTENCY_CHECK_H_
#define CARERELAY_SERVER_CORE_CONSISTENCY_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"

namespace carerelay::core {

struct CheckReport {
  // One line per violation: "<table>: <what>", naming the record by its
  // hex id. Empty when the store is consistent.
  std::vector<std::string> violations;
  // What was read, for the summary line.
  uint64_t envelopes = 0, teams = 0, audit_entries = 0, attachments = 0, timers = 0,
           urgent_messages = 0, intakes = 0;
};

// Checks `db`. An error is returned only when the store cannot be read at
// all; damaged records are violations.
absl::StatusOr<CheckReport> CheckConsistency(store::Database& db);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_CONSISTENCY_CHECK_H_
