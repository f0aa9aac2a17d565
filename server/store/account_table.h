// Accounts, their devices and the enrollment codes that create them.
//
// Key encodings:
//   accounts:          account_id (16 bytes)                  -> AccountRecord
//   devices:           account_id (16) | device_id (4, BE)     -> DeviceRecord
//   enrollment_codes:  SHA-256(code) (32)                      -> EnrollmentCodeRecord
// Codes are stored only as hashes: reading the store does not reveal a
// usable code.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_ACCOUNT_TABLE_H_
#define CARERELAY_SERVER_STORE_ACCOUNT_TABLE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class AccountTable {
 public:
  explicit AccountTable(Database* db) : db_(db) {}

  // NOT_FOUND if the account does not exist.
  absl::StatusOr<AccountRecord> GetAccount(const AccountId& id) const;
  absl::StatusOr<AccountRecord> GetAccountForUpdate(Transaction& txn, const AccountId& id);
  absl::Status PutAccount(Transaction& txn, const AccountRecord& account);
  // Calls fn for every account, in id order, until it returns false;
  // DATA_LOSS (after the others) if a record does not parse.
  absl::Status ForEachAccount(const std::function<bool(const AccountRecord&)>& fn) const;

  // NOT_FOUND if the device never existed; revoked devices are returned with
  // `revoked` set.
  absl::StatusOr<DeviceRecord> GetDevice(const DeviceRef& device) const;
  absl::Status PutDevice(Transaction& txn, const AccountId& account, const DeviceRecord& device);
  // Every device of the account ever registered, revoked ones included, in
  // device id order.
  absl::StatusOr<std::vector<DeviceRecord>> ListDevices(const AccountId& account) const;

  absl::StatusOr<EnrollmentCodeRecord> GetCodeForUpdate(Transaction& txn,
                                                        absl::string_view code_hash);
  absl::Status PutCode(Transaction& txn, absl::string_view code_hash,
                       const EnrollmentCodeRecord& code);
  // Link codes of `account` neither used nor expired at `now_ms`. A scan of every code: the table
  // holds only unexpired codes (DeleteExpiredCodes), a few per account at most.
  absl::StatusOr<int> CountOpenLinkCodes(const AccountId& account, int64_t now_ms) const;
  // Deletes codes that expired before `now_ms`; returns how many.
  absl::StatusOr<int> DeleteExpiredCodes(int64_t now_ms);

 private:
  Database* db_;
};

std::string DeviceKey(const DeviceRef& device);

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_ACCOUNT_TABLE_H_
