#include "server/store/receipt_table.h"

#include "server/store/account_table.h"
#include "server/store/encoding.h"

namespace carerelay::store {
namespace {

constexpr size_t kDeviceKeySize = AccountId::kSize + 4;

std::string PairKey(const DeviceRef& sender, const DeviceRef& recipient) {
  return DeviceKey(sender) + DeviceKey(recipient);
}

}  // namespace

absl::StatusOr<uint64_t> ReceiptTable::DeliveredThrough(const DeviceRef& sender,
                                                        const DeviceRef& recipient) const {
  absl::StatusOr<std::string> value = db_->Get(Table::kReceipts, PairKey(sender, recipient));
  if (absl::IsNotFound(value.status())) return 0;
  if (!value.ok()) return value.status();
  if (value->size() != 16) return absl::DataLossError("store: malformed delivery watermark");
  return ReadBigEndian64(*value, 0);
}

void ReceiptTable::Put(Batch& batch, const DeviceRef& sender, const Watermark& watermark) {
  std::string value;
  AppendBigEndian64(&value, watermark.delivered_through);
  AppendBigEndian64(&value, watermark.version);
  batch.Put(Table::kReceipts, PairKey(sender, watermark.recipient), value);
}

absl::Status ReceiptTable::ForSender(const DeviceRef& sender, uint64_t after_version,
                                     absl::FunctionRef<void(const Watermark&)> fn) const {
  absl::Status parse = absl::OkStatus();
  absl::Status s = db_->Scan(
      Table::kReceipts, DeviceKey(sender), "", [&](absl::string_view k, absl::string_view v) {
        absl::StatusOr<AccountId> account =
            k.size() == 2 * kDeviceKeySize
                ? AccountId::FromBytes(k.substr(kDeviceKeySize, AccountId::kSize))
                : absl::DataLossError("");
        if (!account.ok() || v.size() != 16) {
          parse = absl::DataLossError("store: malformed delivery watermark");
          return false;
        }
        Watermark w;
        w.recipient = {*account, ReadBigEndian32(k, kDeviceKeySize + AccountId::kSize)};
        w.delivered_through = ReadBigEndian64(v, 0);
        w.version = ReadBigEndian64(v, 8);
        if (w.version > after_version) fn(w);
        return true;
      });
  if (!s.ok()) return s;
  return parse;
}

absl::Status ReceiptTable::DeleteSender(Transaction& txn, const DeviceRef& device) {
  return txn.DeletePrefix(Table::kReceipts, DeviceKey(device));
}

}  // namespace carerelay::store
