// What the server keeps of a care team after its erasure: the team's audit
// log, for the administrator, until the deployment's retention ends.
//
// Erasure (care_teams.h, Erase and EraseExpired) deletes the content at once:
// queued messages, documents, the team record with its members, blind
// indexes and access rules. The audit log is content-free (audit_log.h: who
// did what to the team, when, under which role and consent; never a message
// or a document; its only free text is the close reason, which the CLI asks
// to name no one), and it is the trail a care
// provider may have to produce for a legal request or a dispute after the
// team is gone. So the erasure appends its own entry to the chain and keeps
// the chain, with the head, under an ErasedTeamRecord; members can no longer
// read it. When Limits::erased_team_audit_retention has passed, DeleteExpired
// deletes the log and the record (README, "Close and erase", says what legal
// basis the default assumes).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_ERASED_TEAMS_H_
#define CARERELAY_SERVER_CORE_ERASED_TEAMS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "carerelay/v1/admin.pb.h"
#include "server/core/audit_log.h"
#include "server/core/clock.h"
#include "server/store/database.h"
#include "server/store/erased_team_table.h"

namespace carerelay::core {

class ErasedTeams {
 public:
  // Pointers must outlive this object; `retention` is how long an erased
  // team's audit log is kept.
  ErasedTeams(store::Database* db, store::ErasedTeamTable* table, AuditLog* audit,
              const Clock* clock, absl::Duration retention)
      : db_(db), table_(table), audit_(audit), clock_(clock), retention_(retention) {}

  // In the transaction that erases `team` (its record as it stands with the
  // erasure's own audit entry appended): keeps its audit log. Returns what
  // is kept.
  absl::StatusOr<store::ErasedTeamRecord> Keep(store::Transaction& txn,
                                               const store::TeamRecord& team,
                                               absl::string_view reason, int64_t now_ms);

  // Every erased team whose log is kept, oldest erasure first.
  absl::StatusOr<std::vector<v1::ErasedTeam>> List() const;
  // One erased team's whole log and the check of its chain against the kept
  // head. INVALID_ARGUMENT for a malformed id; NOT_FOUND if none is kept
  // under it; DATA_LOSS if an entry cannot be parsed (the check says where).
  absl::StatusOr<v1::ReadErasedTeamAuditResponse> ReadAudit(absl::string_view team_id) const;

  // Deletes the logs whose retention has ended, each with its record in one
  // transaction; returns how many.
  absl::StatusOr<uint64_t> DeleteExpired();

 private:
  store::Database* db_;
  store::ErasedTeamTable* table_;
  AuditLog* audit_;
  const Clock* clock_;
  const absl::Duration retention_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ERASED_TEAMS_H_
