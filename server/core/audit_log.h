// A team's audit log: append-only, each entry chained to the previous one
// by the rule of proto/audit_chain.h. The team record keeps the head
// (sequence and hash), and every team event delivered to clients carries it,
// so a log rewritten from some entry on no longer matches what the members'
// devices saw, and a changed or removed entry breaks the chain at that entry.
//
// What is logged: membership, consent, roles, channel narrowing, blind-index
// registration and lookups, close and erase (and, later, attachment downloads
// and intake routing). Entries hold account ids and roles, never content or
// anything about the patient.
//
// Thread-safety: thread-safe; Append must run inside a transaction holding
// the team's exclusive lock (care_teams.h does), so entries are never forked.
#ifndef CARERELAY_SERVER_CORE_AUDIT_LOG_H_
#define CARERELAY_SERVER_CORE_AUDIT_LOG_H_

#include <string>

#include "absl/status/statusor.h"
#include "carerelay/v1/teams.pb.h"
#include "server/store/audit_table.h"
#include "server/store/records.pb.h"

namespace carerelay::core {

class AuditLog {
 public:
  explicit AuditLog(store::AuditTable* table) : table_(table) {}

  // Appends `event` as `team`'s next entry and moves the team record's head
  // (the caller writes the record in the same transaction). Returns the entry.
  absl::StatusOr<v1::AuditEntry> Append(store::Transaction& txn, store::TeamRecord* team,
                                        const v1::TeamEvent& event);

  // Deletes the whole log (when an erased team's retention ends); returns
  // how many entries.
  absl::StatusOr<uint64_t> DeleteTeam(store::Transaction& txn, const store::TeamId& team) {
    return table_->DeleteTeam(txn, team);
  }

  // Entries after `after`, oldest first, at most `limit`.
  absl::Status Read(const store::TeamId& team, uint64_t after, uint32_t limit,
                    v1::ReadAuditResponse* out) const;

  // Walks the whole chain and compares its end with the team record's head.
  // `intact` false names the first entry that does not check and why;
  // errors only when the store cannot be read.
  absl::StatusOr<v1::VerifyAuditResponse> Verify(const store::TeamRecord& team) const;
  // The same against a head kept elsewhere (an erased team's, erased_teams.h).
  absl::StatusOr<v1::VerifyAuditResponse> Verify(const store::TeamId& team, uint64_t head_sequence,
                                                 const std::string& head_hash) const;

 private:
  store::AuditTable* table_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_AUDIT_LOG_H_
