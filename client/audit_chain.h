// AuditChain: checks a team's audit log on this device, independently of
// the server's own verification (Teams.VerifyAudit).
//
// The chain rule is proto/audit_chain.h, shared with the server. Recomputing
// it here catches an entry
// changed without its hash being recomputed; comparing with the chain head
// this device saw on team events (DeviceState) also catches a log rewritten
// from some entry on with consistent hashes, which a verification by the
// server alone cannot.
//
// Thread-safety: free functions without shared state; thread-safe.
#ifndef CARERELAY_CLIENT_AUDIT_CHAIN_H_
#define CARERELAY_CLIENT_AUDIT_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "carerelay/v1/teams.pb.h"

namespace carerelay::client {

// A point of the chain: an entry's sequence and hash.
struct AuditHead {
  uint64_t sequence = 0;
  std::string hash;  // 32 bytes
};

struct AuditCheck {
  bool intact = true;
  uint64_t entries = 0;    // entries that check, from the first
  uint64_t broken_at = 0;  // the first entry that does not (when !intact)
  std::string problem;     // why, for a person
};

// Checks `entries` (the whole log, oldest first, as ReadAudit returns it)
// link by link and, when `seen` is given, that the log still has the entry
// this device saw as the head, with the same hash.
AuditCheck CheckAuditChain(const std::vector<v1::AuditEntry>& entries,
                           const std::optional<AuditHead>& seen);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_AUDIT_CHAIN_H_
