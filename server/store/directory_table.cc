#include "server/store/directory_table.h"

namespace carerelay::store {
namespace {

absl::StatusOr<v1::DirectoryEntry> Parse(absl::StatusOr<std::string> v) {
  if (!v.ok()) return v.status();
  v1::DirectoryEntry entry;
  if (!entry.ParseFromString(*v)) return absl::DataLossError("damaged directory entry");
  return entry;
}

}  // namespace

absl::Status DirectoryTable::Put(Transaction& txn, const AccountId& account,
                                 const v1::DirectoryEntry& entry) {
  return txn.Put(Table::kDirectory, account.Bytes(), entry.SerializeAsString());
}

absl::Status DirectoryTable::Delete(Transaction& txn, const AccountId& account) {
  return txn.Delete(Table::kDirectory, account.Bytes());
}

absl::StatusOr<v1::DirectoryEntry> DirectoryTable::GetForUpdate(Transaction& txn,
                                                                const AccountId& account) {
  return Parse(txn.GetForUpdate(Table::kDirectory, account.Bytes()));
}

absl::StatusOr<v1::DirectoryEntry> DirectoryTable::Get(const AccountId& account) const {
  return Parse(db_->Get(Table::kDirectory, account.Bytes()));
}

absl::Status DirectoryTable::ForEach(
    const std::function<bool(const v1::DirectoryEntry&)>& fn) const {
  absl::Status damaged = absl::OkStatus();
  absl::Status s =
      db_->Scan(Table::kDirectory, "", "", [&](absl::string_view, absl::string_view v) {
        v1::DirectoryEntry entry;
        if (!entry.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          damaged = absl::DataLossError("damaged directory entry");
          return false;
        }
        return fn(entry);
      });
  if (!s.ok()) return s;
  return damaged;
}

}  // namespace carerelay::store
