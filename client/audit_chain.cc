#include "client/audit_chain.h"

#include "proto/audit_chain.h"

namespace carerelay::client {

AuditCheck CheckAuditChain(const std::vector<v1::AuditEntry>& entries,
                           const std::optional<AuditHead>& seen) {
  AuditChainCheck chain;
  if (seen.has_value()) chain.Require(seen->sequence, seen->hash);
  for (const v1::AuditEntry& entry : entries) {
    if (!chain.Add(entry.sequence(), &entry)) break;
  }
  chain.Finish();
  AuditCheck check;
  check.intact = chain.intact();
  check.entries = chain.entries();
  check.broken_at = chain.broken_at();
  check.problem = chain.problem();
  return check;
}

}  // namespace carerelay::client
