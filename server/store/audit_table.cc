#include "server/store/audit_table.h"

#include "absl/strings/str_cat.h"
#include "server/store/encoding.h"

namespace carerelay::store {

std::string AuditKey(const TeamId& team, uint64_t sequence) {
  std::string key(team.Bytes());
  AppendBigEndian64(&key, sequence);
  return key;
}

absl::Status AuditTable::Append(Transaction& txn, const TeamId& team, const v1::AuditEntry& entry) {
  return txn.Put(Table::kAudit, AuditKey(team, entry.sequence()), entry.SerializeAsString());
}

absl::Status AuditTable::Scan(
    const TeamId& team, uint64_t after,
    const std::function<bool(uint64_t, const v1::AuditEntry*)>& fn) const {
  return db_->Scan(Table::kAudit, team.Bytes(), AuditKey(team, after + 1),
                   [&](absl::string_view key, absl::string_view v) {
                     const uint64_t sequence =
                         key.size() == TeamId::kSize + 8 ? ReadBigEndian64(key, TeamId::kSize) : 0;
                     v1::AuditEntry entry;
                     bool parsed = entry.ParseFromArray(v.data(), static_cast<int>(v.size()));
                     return fn(sequence, parsed ? &entry : nullptr);
                   });
}

absl::StatusOr<uint64_t> AuditTable::DeleteTeam(Transaction& txn, const TeamId& team) {
  absl::StatusOr<uint64_t> n = db_->CountPrefix(Table::kAudit, team.Bytes());
  if (!n.ok()) return n.status();
  absl::Status s = txn.DeletePrefix(Table::kAudit, team.Bytes());
  if (!s.ok()) return s;
  return *n;
}

}  // namespace carerelay::store
