#include "server/store/account_table.h"

#include "server/store/encoding.h"

namespace carerelay::store {
namespace {

template <typename Record>
absl::StatusOr<Record> Parse(absl::StatusOr<std::string> bytes, const char* what) {
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status()))
      return absl::NotFoundError(std::string(what) + " not found");
    return bytes.status();
  }
  Record record;
  if (!record.ParseFromString(*bytes)) {
    return absl::DataLossError(std::string("store: unreadable ") + what + " record");
  }
  return record;
}

}  // namespace

std::string DeviceKey(const DeviceRef& device) {
  std::string key(device.account.Bytes());
  AppendBigEndian32(&key, device.device_id);
  return key;
}

absl::StatusOr<AccountRecord> AccountTable::GetAccount(const AccountId& id) const {
  return Parse<AccountRecord>(db_->Get(Table::kAccounts, id.Bytes()), "account");
}

absl::StatusOr<AccountRecord> AccountTable::GetAccountForUpdate(Transaction& txn,
                                                                const AccountId& id) {
  return Parse<AccountRecord>(txn.GetForUpdate(Table::kAccounts, id.Bytes()), "account");
}

absl::Status AccountTable::PutAccount(Transaction& txn, const AccountRecord& account) {
  return txn.Put(Table::kAccounts, account.account_id(), account.SerializeAsString());
}

absl::Status AccountTable::ForEachAccount(
    const std::function<bool(const AccountRecord&)>& fn) const {
  absl::Status parse = absl::OkStatus();
  absl::Status s = db_->Scan(Table::kAccounts, "", "", [&](absl::string_view, absl::string_view v) {
    AccountRecord record;
    if (!record.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse = absl::DataLossError("store: malformed account record");
      return true;
    }
    return fn(record);
  });
  if (!s.ok()) return s;
  return parse;
}

absl::StatusOr<DeviceRecord> AccountTable::GetDevice(const DeviceRef& device) const {
  return Parse<DeviceRecord>(db_->Get(Table::kDevices, DeviceKey(device)), "device");
}

absl::Status AccountTable::PutDevice(Transaction& txn, const AccountId& account,
                                     const DeviceRecord& device) {
  return txn.Put(Table::kDevices, DeviceKey({account, device.device_id()}),
                 device.SerializeAsString());
}

absl::StatusOr<std::vector<DeviceRecord>> AccountTable::ListDevices(
    const AccountId& account) const {
  std::vector<DeviceRecord> devices;
  bool corrupt = false;
  absl::Status s =
      db_->Scan(Table::kDevices, account.Bytes(), "", [&](absl::string_view, absl::string_view v) {
        DeviceRecord d;
        if (!d.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          corrupt = true;
          return false;
        }
        devices.push_back(std::move(d));
        return true;
      });
  if (!s.ok()) return s;
  if (corrupt) return absl::DataLossError("store: unreadable device record");
  return devices;
}

absl::StatusOr<EnrollmentCodeRecord> AccountTable::GetCodeForUpdate(Transaction& txn,
                                                                    absl::string_view code_hash) {
  return Parse<EnrollmentCodeRecord>(txn.GetForUpdate(Table::kEnrollmentCodes, code_hash),
                                     "enrollment code");
}

absl::Status AccountTable::PutCode(Transaction& txn, absl::string_view code_hash,
                                   const EnrollmentCodeRecord& code) {
  return txn.Put(Table::kEnrollmentCodes, code_hash, code.SerializeAsString());
}

absl::StatusOr<int> AccountTable::CountOpenLinkCodes(const AccountId& account,
                                                     int64_t now_ms) const {
  int n = 0;
  absl::Status s =
      db_->Scan(Table::kEnrollmentCodes, "", "", [&](absl::string_view, absl::string_view v) {
        EnrollmentCodeRecord c;
        if (c.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
            c.link_account_id() == account.Bytes() && c.used_at_ms() == 0 &&
            c.expires_at_ms() >= now_ms) {
          ++n;
        }
        return true;
      });
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<int> AccountTable::DeleteExpiredCodes(int64_t now_ms) {
  auto txn = db_->Begin();
  int n = 0;
  absl::Status del = absl::OkStatus();
  absl::Status s =
      db_->Scan(Table::kEnrollmentCodes, "", "", [&](absl::string_view k, absl::string_view v) {
        EnrollmentCodeRecord c;
        if (c.ParseFromArray(v.data(), static_cast<int>(v.size())) && c.expires_at_ms() < now_ms) {
          del = txn->Delete(Table::kEnrollmentCodes, k);
          ++n;
        }
        return del.ok();
      });
  if (!s.ok()) return s;
  if (!del.ok()) return del;
  absl::Status c = txn->Commit();
  if (!c.ok()) return c;
  return n;
}

}  // namespace carerelay::store
