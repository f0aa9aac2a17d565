#include "server/core/audit_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

const std::string& ZeroHash() {
  static const std::string zero(SHA256_DIGEST_LENGTH, '\0');
  return zero;
}

// Deterministic: the same entry always serializes to the same bytes, so a
// hash recomputed later (by this or a newer server) matches.
std::string Canonical(const v1::AuditEntry& entry) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  entry.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

std::string AuditLog::EntryHash(const v1::AuditEntry& entry) {
  v1::AuditEntry unhashed = entry;
  unhashed.clear_hash();
  std::string data = entry.previous_hash() + Canonical(unhashed);
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

absl::StatusOr<v1::AuditEntry> AuditLog::Append(store::Transaction& txn, store::TeamRecord* team,
                                                const v1::TeamEvent& event) {
  auto team_id = store::TeamId::FromBytes(team->team_id());
  if (!team_id.ok()) return team_id.status();
  v1::AuditEntry entry;
  entry.set_sequence(team->audit_sequence() + 1);
  *entry.mutable_event() = event;
  entry.mutable_event()->clear_audit_sequence();
  entry.mutable_event()->clear_audit_hash();
  entry.set_previous_hash(team->audit_sequence() == 0 ? ZeroHash() : team->audit_hash());
  entry.set_hash(EntryHash(entry));
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
  v1::VerifyAuditResponse r;
  r.set_intact(true);
  uint64_t expected = 1;
  std::string previous = ZeroHash();
  auto broken = [&](uint64_t at, std::string why) {
    r.set_intact(false);
    r.set_broken_at_sequence(at);
    r.set_problem(std::move(why));
    return false;
  };
  absl::Status s = table_->Scan(*team_id, 0, [&](uint64_t sequence, const v1::AuditEntry* entry) {
    if (sequence != expected) {
      return broken(expected, absl::StrCat("entry ", expected, " is missing (the next one is ",
                                           sequence, ")"));
    }
    if (entry == nullptr) {
      return broken(sequence, "the entry cannot be read: its stored bytes were changed");
    }
    if (entry->sequence() != sequence) {
      return broken(sequence, absl::StrCat("the entry claims to be number ", entry->sequence(),
                                           ": it was moved or altered"));
    }
    if (entry->previous_hash() != previous) {
      return broken(sequence, sequence == 1
                                  ? "the first entry does not start the chain"
                                  : absl::StrCat("the entry does not link to entry ", sequence - 1,
                                                 ": one of them was altered"));
    }
    if (EntryHash(*entry) != entry->hash()) {
      return broken(sequence, "the entry's content does not match its hash: it was altered");
    }
    previous = entry->hash();
    r.set_entries(sequence);
    ++expected;
    return true;
  });
  if (!s.ok()) return s;
  if (r.intact()) {
    if (r.entries() < team.audit_sequence()) {
      broken(r.entries() + 1, absl::StrCat("entries ", r.entries() + 1, " to ",
                                           team.audit_sequence(), " are missing"));
    } else if (r.entries() > team.audit_sequence() ||
               (r.entries() > 0 && previous != team.audit_hash())) {
      broken(r.entries(), "the log does not end where the team record says it does");
    }
  }
  r.set_head_hash(previous);
  return r;
}

}  // namespace carerelay::core
