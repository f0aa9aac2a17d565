#include "server/store/send_key_table.h"

#include <vector>

#include "server/store/account_table.h"

namespace carerelay::store {

std::string SendKeyTable::Key(const DeviceRef& sender, absl::string_view idempotency_key) {
  std::string key = DeviceKey(sender);
  key.append(idempotency_key.data(), idempotency_key.size());
  return key;
}

namespace {

absl::StatusOr<v1::SendResponse> ParseRecord(absl::StatusOr<std::string> value) {
  if (!value.ok()) return value.status();
  v1::SendResponse response;
  if (!response.ParseFromString(*value)) {
    return absl::DataLossError("store: unreadable idempotency record");
  }
  return response;
}

}  // namespace

absl::StatusOr<v1::SendResponse> SendKeyTable::Get(absl::string_view key) const {
  return ParseRecord(db_->Get(Table::kSendKeys, key));
}

absl::StatusOr<v1::SendResponse> SendKeyTable::GetForUpdate(Transaction& txn,
                                                            absl::string_view key) const {
  return ParseRecord(txn.GetForUpdate(Table::kSendKeys, key));
}

void SendKeyTable::Put(Batch& batch, absl::string_view key, const v1::SendResponse& response) {
  batch.Put(Table::kSendKeys, key, response.SerializeAsString());
}

absl::Status SendKeyTable::Put(Transaction& txn, absl::string_view key,
                               const v1::SendResponse& response) {
  return txn.Put(Table::kSendKeys, key, response.SerializeAsString());
}

absl::StatusOr<uint64_t> SendKeyTable::DeleteOlderThan(int64_t before_ms) {
  std::vector<std::string> keys;
  absl::Status s =
      db_->Scan(Table::kSendKeys, "", "", [&](absl::string_view k, absl::string_view v) {
        v1::SendResponse response;
        // An unreadable record protects nothing: it goes too.
        if (!response.ParseFromArray(v.data(), static_cast<int>(v.size())) ||
            response.server_timestamp_ms() < before_ms) {
          keys.emplace_back(k);
        }
        return true;
      });
  if (!s.ok()) return s;
  if (keys.empty()) return 0;
  auto txn = db_->Begin();
  for (const auto& k : keys) {
    s = txn->Delete(Table::kSendKeys, k);
    if (!s.ok()) return s;
  }
  s = txn->Commit();
  if (!s.ok()) return s;
  return keys.size();
}

absl::Status SendKeyTable::DeleteDevice(Transaction& txn, const DeviceRef& device) {
  return txn.DeletePrefix(Table::kSendKeys, DeviceKey(device));
}

}  // namespace carerelay::store
