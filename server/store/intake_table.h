// Helpdesk intakes (core/intake_desk.h).
//
// Key encoding:
//   intakes: intake_id (16) -> carerelay.v1.Intake (as the server keeps it,
//            history included)
// A region serves a few thousand intakes a year, and a closed intake goes
// after Limits::closed_intake_retention: lists are scans.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_INTAKE_TABLE_H_
#define CARERELAY_SERVER_STORE_INTAKE_TABLE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "carerelay/v1/intakes.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

struct IntakeIdTag {
  static constexpr const char* kWhat = "intake";
};
using IntakeId = OpaqueId<IntakeIdTag>;

class IntakeTable {
 public:
  explicit IntakeTable(Database* db) : db_(db) {}

  absl::Status Put(Transaction& txn, const IntakeId& id, const v1::Intake& intake);
  // NOT_FOUND if absent; locks the intake until the transaction ends.
  absl::StatusOr<v1::Intake> GetForUpdate(Transaction& txn, const IntakeId& id);
  absl::StatusOr<v1::Intake> Get(const IntakeId& id) const;
  // Every intake, in id order, until fn returns false.
  absl::Status ForEach(const std::function<bool(const v1::Intake&)>& fn) const;
  absl::Status Delete(Transaction& txn, const IntakeId& id);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_INTAKE_TABLE_H_
