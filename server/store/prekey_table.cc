#include "server/store/prekey_table.h"

#include "server/store/account_table.h"
#include "server/store/encoding.h"

namespace carerelay::store {

absl::StatusOr<SignedPrekeyRecord> PrekeyTable::GetSignedPrekey(const DeviceRef& device) const {
  absl::StatusOr<std::string> bytes = db_->Get(Table::kSignedPrekeys, DeviceKey(device));
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) return absl::NotFoundError("no signed prekey");
    return bytes.status();
  }
  SignedPrekeyRecord record;
  if (!record.ParseFromString(*bytes))
    return absl::DataLossError("store: unreadable signed prekey");
  return record;
}

absl::Status PrekeyTable::PutSignedPrekey(Transaction& txn, const DeviceRef& device,
                                          const SignedPrekeyRecord& prekey) {
  return txn.Put(Table::kSignedPrekeys, DeviceKey(device), prekey.SerializeAsString());
}

absl::Status PrekeyTable::PutOneTimePrekey(Transaction& txn, const DeviceRef& device,
                                           uint32_t key_id, absl::string_view public_key) {
  std::string key = DeviceKey(device);
  AppendBigEndian32(&key, key_id);
  return txn.Put(Table::kOneTimePrekeys, key, public_key);
}

absl::StatusOr<uint32_t> PrekeyTable::CountOneTimePrekeys(const DeviceRef& device) const {
  absl::StatusOr<uint64_t> n = db_->CountPrefix(Table::kOneTimePrekeys, DeviceKey(device));
  if (!n.ok()) return n.status();
  return static_cast<uint32_t>(*n);
}

absl::StatusOr<std::pair<uint32_t, std::string>> PrekeyTable::TakeOneTimePrekey(
    Transaction& txn, const DeviceRef& device) {
  std::string prefix = DeviceKey(device);
  auto taken = txn.PopFirstForUpdate(Table::kOneTimePrekeys, prefix);
  if (!taken.ok()) return taken.status();
  if (taken->first.size() != prefix.size() + 4) {
    return absl::DataLossError("store: malformed one-time prekey key");
  }
  return std::make_pair(ReadBigEndian32(taken->first, prefix.size()), std::move(taken->second));
}

absl::Status PrekeyTable::DeleteDevice(Transaction& txn, const DeviceRef& device) {
  std::string key = DeviceKey(device);
  absl::Status s = txn.Delete(Table::kSignedPrekeys, key);
  if (!s.ok()) return s;
  return txn.DeletePrefix(Table::kOneTimePrekeys, key);
}

}  // namespace carerelay::store
