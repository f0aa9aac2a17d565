#include "server/core/audit_log.h"

#include "absl/strings/str_cat.h"
#include "proto/audit_chain.h"

namespace carerelay::core {
absl::StatusOr<v1::AuditEntry> AuditLog::Append(store::Transaction& txn, store::TeamRecord* team,
                                                const v1::TeamEvent& event) {
  auto team_id = store::TeamId::FromBytes(team->team_id());
  if (!team_id.ok()) return team_id.status();
  v1::AuditEntry entry;
  entry.set_sequence(team->audit_sequence() + 1);
  *entry.mutable_event() = event;
  entry.mutable_event()->clear_audit_sequence();
  entry.mutable_event()->clear_audit_hash();
  entry.set_previous_hash(team->audit_sequence() == 0 ? std::string(kAuditHashSize, '\0')
                                                      : team->audit_hash());
  entry.set_hash(AuditEntryHash(entry));
  absl::Status s = table_->Append(txn, *team_id, entry);
  if (!s.ok()) return s;
  team->set_audit_sequence(entry.sequence());
  team->set_audit_hash(entry.hash());
  return entry;
}

absl::Status AuditLog::Read(const store::TeamId& team, uint64_t after, uint32_t limit,
                            v1::ReadAuditResponse* out) const {
  absl::Status damaged = absl::OkStatus();
  absl::Status s = table_->Scan(team, after, [&](uint64_t sequence, const v1::AuditEntry* entry) {
    if (static_cast<uint32_t>(out->entries_size()) == limit) {
      out->set_more(true);
      return false;
    }
    if (entry == nullptr) {
      damaged = absl::DataLossError(absl::StrCat(
          "audit entry ", sequence,
          " cannot be read: the stored bytes are damaged (run the audit verification)"));
      return false;
    }
    *out->add_entries() = *entry;
    return true;
  });
  if (!s.ok()) return s;
  return damaged;
}

absl::StatusOr<v1::VerifyAuditResponse> AuditLog::Verify(const store::TeamRecord& team) const {
  auto team_id = store::TeamId::FromBytes(team.team_id());
  if (!team_id.ok()) return team_id.status();
  return Verify(*team_id, team.audit_sequence(), team.audit_hash());
}

absl::StatusOr<v1::VerifyAuditResponse> AuditLog::Verify(const store::TeamId& team,
                                                         uint64_t head_sequence,
                                                         const std::string& head_hash) const {
  AuditChainCheck check;
  check.Require(head_sequence, head_hash);
  absl::Status s = table_->Scan(team, 0, [&](uint64_t sequence, const v1::AuditEntry* entry) {
    return check.Add(sequence, entry);
  });
  if (!s.ok()) return s;
  check.Finish(head_sequence);
  v1::VerifyAuditResponse r;
  r.set_intact(check.intact());
  r.set_entries(check.entries());
  r.set_broken_at_sequence(check.broken_at());
  r.set_problem(check.problem());
  r.set_head_hash(check.last_hash());
  return r;
}

}  // namespace carerelay::core
