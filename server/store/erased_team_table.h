// What is kept of erased care teams: one record each (ErasedTeamRecord), so
// that their audit logs, which stay in the audit table after the erasure
// (core/care_teams.h, Erase), can be found, checked and deleted when their
// retention ends.
//
// Key encoding, in the meta table (the records are few: one per erasure
// within the retention period):
//   meta: "erased_team/" | team_id (16) -> ErasedTeamRecord
//
// Nothing here is about the team's people or content: the record holds the
// team id, dates, the reason and the audit chain's head.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_ERASED_TEAM_TABLE_H_
#define CARERELAY_SERVER_STORE_ERASED_TEAM_TABLE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class ErasedTeamTable {
 public:
  explicit ErasedTeamTable(Database* db) : db_(db) {}

  absl::Status Put(Transaction& txn, const ErasedTeamRecord& record);
  // NOT_FOUND if no erased team is kept under `team`; DATA_LOSS if its
  // record cannot be parsed.
  absl::StatusOr<ErasedTeamRecord> Get(const TeamId& team) const;
  absl::Status Delete(Transaction& txn, const TeamId& team);
  // Calls fn for every record, in team id order, until it returns false.
  // DATA_LOSS (after the others) if a record cannot be parsed.
  absl::Status ForEach(const std::function<bool(const ErasedTeamRecord&)>& fn) const;

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_ERASED_TEAM_TABLE_H_
