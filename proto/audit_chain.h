// The audit chain rule of teams.proto (AuditEntry), in one place for the
// server that builds and verifies a team's log and the clients that check it
// on their own:
//
//   entry.hash = SHA-256(entry.previous_hash || the entry serialized
//                        deterministically with `hash` empty)
//   the first entry (sequence 1) links to 32 zero bytes.
//
// Thread-safety: AuditEntryHash is thread-safe; an AuditChainCheck belongs to
// one thread.
#ifndef CARERELAY_PROTO_AUDIT_CHAIN_H_
#define CARERELAY_PROTO_AUDIT_CHAIN_H_

#include <cstdint>
#include <map>
#include <string>

#include "carerelay/v1/teams.pb.h"

namespace carerelay {

inline constexpr size_t kAuditHashSize = 32;

// The hash `entry` must have. Deterministic serialization, so a hash
// recomputed later, by another program, matches.
std::string AuditEntryHash(const v1::AuditEntry& entry);

// Walks a log oldest first and stops at the first entry that does not check:
// a gap in the sequence, an unreadable entry, a broken link, a content that
// does not match its hash, or a known head (Require) that differs. Then
// Finish says whether the log reaches where it must.
class AuditChainCheck {
 public:
  // The log must hold entry `sequence` with `hash`: a chain head recorded
  // when it was written (the team record's, or one a device was sent on a
  // team event). Call before Add.
  void Require(uint64_t sequence, std::string hash);
  // The next stored entry: `sequence` as stored, `entry` nullptr if its bytes
  // cannot be parsed. Returns false once the chain is broken.
  bool Add(uint64_t sequence, const v1::AuditEntry* entry);
  // After the last entry: the log must reach every required entry and, if
  // `end` is not 0, end exactly there.
  void Finish(uint64_t end = 0);

  bool intact() const { return broken_at_ == 0; }
  uint64_t entries() const { return entries_; }      // entries that check, from the first
  uint64_t broken_at() const { return broken_at_; }  // 0 while intact
  const std::string& problem() const { return problem_; }
  const std::string& last_hash() const { return previous_; }

 private:
  bool Break(uint64_t at, std::string why);

  std::map<uint64_t, std::string> required_;
  std::string previous_ = std::string(kAuditHashSize, '\0');
  uint64_t entries_ = 0;
  uint64_t broken_at_ = 0;
  std::string problem_;
};

}  // namespace carerelay

#endif  // CARERELAY_PROTO_AUDIT_CHAIN_H_
