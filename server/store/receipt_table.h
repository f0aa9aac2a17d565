// Delivery watermarks: for each (sender device, recipient device) pair, the
// highest sequence of the sender's envelopes (sent with want_receipts) that
// the recipient device acknowledged, and the version of that change.
// Latest value only: a pair is one record however many envelopes it covers.
//
// Key encoding:
//   receipts: sender account (16) | sender device (4, BE)
//             | recipient account (16) | recipient device (4, BE)
//          -> delivered_through (8, BE) | version (8, BE)
// The sender's prefix scan lists every watermark of its sends.
//
// Writers: only the delivery writer thread (delivery_writer.h) writes a
// record, so its read-modify-write (keep the maximum) needs no lock.
// Revoking a device drops its records on both sides.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_STORE_RECEIPT_TABLE_H_
#define CARERELAY_SERVER_STORE_RECEIPT_TABLE_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

struct Watermark {
  DeviceRef recipient;
  uint64_t delivered_through = 0;
  uint64_t version = 0;
};

class ReceiptTable {
 public:
  explicit ReceiptTable(Database* db) : db_(db) {}

  // The pair's current delivered_through; 0 if none.
  absl::StatusOr<uint64_t> DeliveredThrough(const DeviceRef& sender,
                                            const DeviceRef& recipient) const;
  void Put(Batch& batch, const DeviceRef& sender, const Watermark& watermark);
  // Calls fn for each watermark of `sender` whose version is above
  // `after_version`, in recipient order. DATA_LOSS on a malformed record.
  absl::Status ForSender(const DeviceRef& sender, uint64_t after_version,
                         absl::FunctionRef<void(const Watermark&)> fn) const;
  // Deletes the watermarks of `device`'s own sends (revocation).
  absl::Status DeleteSender(Transaction& txn, const DeviceRef& device);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_RECEIPT_TABLE_H_
