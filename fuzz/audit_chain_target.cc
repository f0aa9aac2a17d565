// Fuzz target "audit_chain": the audit-chain verifier that every device
// runs on a team's log (client/audit_chain.h, over proto/audit_chain.h,
// which the server's VerifyAudit and `carerelayd admin check` share).
//
// Input: [seen][a serialized ReadAuditResponse]. With seen & 1, the
// device is taken to have seen entry (seen >> 1) % n as the chain head,
// with the hash the log has there.
//
// Properties: when the verifier says the log is intact, it is: entries
// 1..n in order, each linking to the previous hash and hashing to its own
// (checked here independently of the verifier's loop); and changing any
// intact entry's event breaks the chain at that entry or before.
#include "client/audit_chain.h"
#include "fuzz/fuzz_target.h"
#include "proto/audit_chain.h"

namespace carerelay::fuzz {
namespace {

void RunAuditChain(absl::string_view input) {
  if (input.empty()) return;
  const uint8_t seen_byte = static_cast<uint8_t>(input[0]);
  v1::ReadAuditResponse log;
  if (!log.ParseFromArray(input.data() + 1, static_cast<int>(input.size() - 1))) return;
  const std::vector<v1::AuditEntry> entries(log.entries().begin(), log.entries().end());

  std::optional<client::AuditHead> seen;
  if ((seen_byte & 1) && !entries.empty()) {
    const v1::AuditEntry& head = entries[(seen_byte >> 1) % entries.size()];
    seen = client::AuditHead{head.sequence(), head.hash()};
  }
  const client::AuditCheck check = client::CheckAuditChain(entries, seen);
  FuzzCheck(check.intact == check.problem.empty(), "a verdict without its reason, or the reverse");
  if (!check.intact) return;

  FuzzCheck(check.entries == entries.size(), "an intact log whose entries were not all checked");
  std::string previous(kAuditHashSize, '\0');
  for (size_t i = 0; i < entries.size(); ++i) {
    FuzzCheck(entries[i].sequence() == i + 1, "an intact log out of order");
    FuzzCheck(entries[i].previous_hash() == previous, "an intact log with a broken link");
    FuzzCheck(AuditEntryHash(entries[i]) == entries[i].hash(), "an intact log with a wrong hash");
    previous = entries[i].hash();
  }
  if (entries.empty()) return;
  // Tamper with one entry's event, keeping its hash: the verifier must see it.
  std::vector<v1::AuditEntry> tampered = entries;
  const size_t victim = seen_byte % tampered.size();
  tampered[victim].mutable_event()->set_audit_sequence(tampered[victim].event().audit_sequence() +
                                                       1);
  const client::AuditCheck after = client::CheckAuditChain(tampered, std::nullopt);
  FuzzCheck(!after.intact && after.broken_at <= victim + 1, "a changed entry went unnoticed");
}

std::vector<std::string> AuditChainSeeds() {
  // A valid chain of three team events, then the same log damaged in the
  // ways the verifier names: an entry missing, one altered.
  v1::ReadAuditResponse log;
  std::string previous(kAuditHashSize, '\0');
  const v1::TeamEvent::Kind kinds[] = {v1::TeamEvent::KIND_CREATED, v1::TeamEvent::KIND_INVITED,
                                       v1::TeamEvent::KIND_JOINED};
  for (int i = 0; i < 3; ++i) {
    v1::AuditEntry* entry = log.add_entries();
    entry->set_sequence(i + 1);
    entry->mutable_event()->set_kind(kinds[i]);
    entry->mutable_event()->set_team_id("00112233445566778899aabbccddeeff");
    entry->set_previous_hash(previous);
    entry->set_hash(AuditEntryHash(*entry));
    previous = entry->hash();
  }
  std::vector<std::string> seeds;
  seeds.push_back(std::string(1, '\0') + log.SerializeAsString());
  seeds.push_back(std::string(1, '\3') + log.SerializeAsString());
  v1::ReadAuditResponse gap = log;
  gap.mutable_entries()->DeleteSubrange(1, 1);
  seeds.push_back(std::string(1, '\0') + gap.SerializeAsString());
  v1::ReadAuditResponse altered = log;
  altered.mutable_entries(2)->mutable_event()->set_kind(v1::TeamEvent::KIND_REMOVED);
  seeds.push_back(std::string(1, '\5') + altered.SerializeAsString());
  return seeds;
}

CARERELAY_FUZZ_TARGET(kAuditChain, "audit_chain", RunAuditChain, AuditChainSeeds);

}  // namespace
}  // namespace carerelay::fuzz
