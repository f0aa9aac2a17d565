#include "client/audit_chain.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include "absl/strings/str_cat.h"

namespace carerelay::client {
namespace {

constexpr size_t kHashSize = 32;

std::string Sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    return std::string();  // never equal to a stored hash: reported as a mismatch
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// The same bytes for the same entry, whoever serializes it.
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

std::string AuditEntryHash(const v1::AuditEntry& entry) {
  v1::AuditEntry unhashed = entry;
  unhashed.clear_hash();
  return Sha256(entry.previous_hash() + Canonical(unhashed));
}

AuditCheck CheckAuditChain(const std::vector<v1::AuditEntry>& entries,
                           const std::optional<AuditHead>& seen) {
  AuditCheck check;
  auto broken = [&](uint64_t at, std::string why) {
    check.intact = false;
    check.broken_at = at;
    check.problem = std::move(why);
    return check;
  };
  std::string previous(kHashSize, '\0');
  uint64_t expected = 1;
  for (const v1::AuditEntry& entry : entries) {
    if (entry.sequence() != expected) {
      return broken(expected,
                    entry.sequence() > expected
                        ? absl::StrCat("entry ", expected, " is missing (the next one is ",
                                       entry.sequence(), ")")
                        : absl::StrCat("entry ", entry.sequence(), " appears again after entry ",
                                       expected - 1));
    }
    if (entry.previous_hash() != previous) {
      return broken(expected, expected == 1
                                  ? "the first entry does not start the chain"
                                  : absl::StrCat("the entry does not link to entry ", expected - 1,
                                                 ": one of them was altered"));
    }
    if (AuditEntryHash(entry) != entry.hash()) {
      return broken(expected, "the entry's content does not match its hash: it was altered");
    }
    if (seen.has_value() && seen->sequence == expected && seen->hash != entry.hash()) {
      return broken(expected,
                    "the entry differs from the one this device was sent when it happened: the "
                    "log was rewritten from here on");
    }
    previous = entry.hash();
    check.entries = expected;
    ++expected;
  }
  if (seen.has_value() && seen->sequence > check.entries) {
    return broken(check.entries + 1,
                  absl::StrCat("this device saw ", seen->sequence, " entries but the log has ",
                               check.entries, ": entries were removed"));
  }
  return check;
}

}  // namespace carerelay::client
