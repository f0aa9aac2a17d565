#include "proto/audit_chain.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"

namespace carerelay {

std::string AuditEntryHash(const v1::AuditEntry& entry) {
  v1::AuditEntry unhashed = entry;
  unhashed.clear_hash();
  std::string data = entry.previous_hash();
  {
    google::protobuf::io::StringOutputStream stream(&data);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    unhashed.SerializeToCodedStream(&coded);
  }
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

void AuditChainCheck::Require(uint64_t sequence, std::string hash) {
  if (sequence > 0) required_[sequence] = std::move(hash);
}

bool AuditChainCheck::Break(uint64_t at, std::string why) {
  if (broken_at_ == 0) {
    broken_at_ = at;
    problem_ = std::move(why);
  }
  return false;
}

bool AuditChainCheck::Add(uint64_t sequence, const v1::AuditEntry* entry) {
  if (!intact()) return false;
  const uint64_t expected = entries_ + 1;
  if (sequence != expected) {
    return Break(
        expected,
        sequence > expected
            ? absl::StrCat("entry ", expected, " is missing (the next one is ", sequence, ")")
            : absl::StrCat("entry ", sequence, " appears again after entry ", entries_));
  }
  if (entry == nullptr) {
    return Break(sequence, "the entry cannot be read: its stored bytes were changed");
  }
  if (entry->sequence() != sequence) {
    return Break(sequence, absl::StrCat("the entry claims to be number ", entry->sequence(),
                                        ": it was moved or altered"));
  }
  if (entry->previous_hash() != previous_) {
    return Break(sequence, sequence == 1 ? "the first entry does not start the chain"
                                         : absl::StrCat("the entry does not link to entry ",
                                                        sequence - 1, ": one of them was altered"));
  }
  if (AuditEntryHash(*entry) != entry->hash()) {
    return Break(sequence, "the entry's content does not match its hash: it was altered");
  }
  auto required = required_.find(sequence);
  if (required != required_.end() && required->second != entry->hash()) {
    return Break(sequence,
                 "the entry differs from the one recorded when it was written: the log was "
                 "rewritten from here on");
  }
  previous_ = entry->hash();
  entries_ = sequence;
  return true;
}

void AuditChainCheck::Finish(uint64_t end) {
  if (!intact()) return;
  uint64_t must_reach = end;
  if (!required_.empty()) must_reach = std::max(must_reach, required_.rbegin()->first);
  if (entries_ < must_reach) {
    Break(entries_ + 1, absl::StrCat("entries ", entries_ + 1, " to ", must_reach,
                                     " are missing: the log was cut short"));
  } else if (end != 0 && entries_ > end) {
    Break(end + 1, absl::StrCat("the log goes on past its recorded end (entry ", end, ")"));
  }
}

}  // namespace carerelay
