// Care teams, the index of each account's teams, and the blind indexes the
// helpdesk finds teams by.
//
// Key encodings:
//   teams:          team_id (16)                     -> TeamRecord
//   memberships:    account_id (16) | team_id (16)   -> "" (every person on the
//                   team record, whatever their status: "which teams am I on")
//   blind_indexes:  index (32) | team_id (16)        -> key version
// The membership and blind-index keys are derived from the team record and
// rewritten with it (Put), so they cannot drift from it.
//
// Nothing here is personal: a blind index is a keyed hash whose key the
// server never holds.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_TEAM_TABLE_H_
#define CARERELAY_SERVER_STORE_TEAM_TABLE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class TeamTable {
 public:
  static constexpr size_t kBlindIndexSize = 32;

  explicit TeamTable(Database* db) : db_(db) {}

  // NOT_FOUND if there is no such team.
  absl::StatusOr<TeamRecord> Get(const TeamId& id) const;
  // Locks the team until the transaction ends (a change). Sends take no
  // lock: they are ordered against changes by core::TeamWriteGate.
  absl::StatusOr<TeamRecord> GetForUpdate(Transaction& txn, const TeamId& id);

  // Writes `after` and brings the membership and blind-index keys in line
  // with it; `before` is the record as read in this transaction (nullptr for
  // a new team).
  absl::Status Put(Transaction& txn, const TeamRecord* before, const TeamRecord& after);
  // Deletes the team record and every key derived from it.
  absl::Status Delete(Transaction& txn, const TeamRecord& team);

  // The teams `account` is on, in id order.
  absl::StatusOr<std::vector<TeamId>> TeamsOf(const AccountId& account) const;
  // Whether `account` is on `team` (any status).
  absl::StatusOr<bool> IsOn(const AccountId& account, const TeamId& team) const;
  // (team, key version) of every team registered under `index`.
  absl::StatusOr<std::vector<std::pair<TeamId, std::string>>> FindByBlindIndex(
      absl::string_view index) const;
  // Calls fn for every team, in id order, until it returns false.
  absl::Status ForEach(const std::function<bool(const TeamRecord&)>& fn) const;

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_TEAM_TABLE_H_
