#include "server/store/urgent_table.h"

#include "server/store/encoding.h"

namespace carerelay::store {
namespace {

std::string Key(char prefix, uint64_t sequence) {
  std::string key(1, prefix);
  AppendBigEndian64(&key, sequence);
  return key;
}

absl::StatusOr<UrgentMessageRecord> Parse(absl::StatusOr<std::string> v) {
  if (!v.ok()) return v.status();
  UrgentMessageRecord r;
  if (!r.ParseFromString(*v)) return absl::DataLossError("damaged urgent message record");
  return r;
}

}  // namespace

absl::Status UrgentTable::Put(Transaction& txn, const UrgentMessageRecord& record) {
  return txn.Put(Table::kUrgentMessages, Key('m', record.message_sequence()),
                 record.SerializeAsString());
}

absl::Status UrgentTable::PutEnvelope(Transaction& txn, uint64_t envelope_sequence,
                                      uint64_t message_sequence) {
  std::string value;
  AppendBigEndian64(&value, message_sequence);
  return txn.Put(Table::kUrgentMessages, Key('e', envelope_sequence), value);
}

absl::StatusOr<uint64_t> UrgentTable::Resolve(Transaction& txn, uint64_t sequence) {
  absl::StatusOr<std::string> own = txn.Get(Table::kUrgentMessages, Key('m', sequence));
  if (own.ok()) return sequence;
  if (!absl::IsNotFound(own.status())) return own.status();
  absl::StatusOr<std::string> via = txn.Get(Table::kUrgentMessages, Key('e', sequence));
  if (!via.ok()) return via.status();
  if (via->size() != 8) return absl::DataLossError("damaged urgent envelope index");
  return ReadBigEndian64(*via, 0);
}

absl::StatusOr<UrgentMessageRecord> UrgentTable::GetForUpdate(Transaction& txn,
                                                              uint64_t message_sequence) {
  return Parse(txn.GetForUpdate(Table::kUrgentMessages, Key('m', message_sequence)));
}

absl::StatusOr<UrgentMessageRecord> UrgentTable::Get(uint64_t message_sequence) const {
  return Parse(db_->Get(Table::kUrgentMessages, Key('m', message_sequence)));
}

absl::Status UrgentTable::Delete(Transaction& txn, const UrgentMessageRecord& record) {
  for (uint64_t i = 0; i < record.envelope_count(); ++i) {
    absl::Status s = txn.Delete(Table::kUrgentMessages, Key('e', record.message_sequence() + i));
    if (!s.ok()) return s;
  }
  return txn.Delete(Table::kUrgentMessages, Key('m', record.message_sequence()));
}

absl::StatusOr<std::vector<uint64_t>> UrgentTable::SentBefore(int64_t cutoff_ms) const {
  std::vector<uint64_t> out;
  absl::Status s =
      db_->Scan(Table::kUrgentMessages, "m", "", [&](absl::string_view key, absl::string_view v) {
        UrgentMessageRecord r;
        if (key.size() == 9 && r.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
            r.sent_at_ms() < cutoff_ms) {
          out.push_back(ReadBigEndian64(key, 1));
        }
        return true;
      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace carerelay::store
