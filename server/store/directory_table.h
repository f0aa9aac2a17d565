// The directory of professionals (core/professional_directory.h).
//
// Key encoding:
//   directory: account_id (16) -> carerelay.v1.DirectoryEntry
// Public professional information only; searches are scans (one region's
// professionals).
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_DIRECTORY_TABLE_H_
#define CARERELAY_SERVER_STORE_DIRECTORY_TABLE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "carerelay/v1/directory.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

class DirectoryTable {
 public:
  explicit DirectoryTable(Database* db) : db_(db) {}

  absl::Status Put(Transaction& txn, const AccountId& account, const v1::DirectoryEntry& entry);
  absl::Status Delete(Transaction& txn, const AccountId& account);
  // NOT_FOUND if the account has no entry.
  absl::StatusOr<v1::DirectoryEntry> GetForUpdate(Transaction& txn, const AccountId& account);
  absl::StatusOr<v1::DirectoryEntry> Get(const AccountId& account) const;
  absl::Status ForEach(const std::function<bool(const v1::DirectoryEntry&)>& fn) const;

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_DIRECTORY_TABLE_H_
