#include "server/store/intake_table.h"

namespace carerelay::store {
namespace {

absl::StatusOr<v1::Intake> Parse(absl::StatusOr<std::string> v) {
  if (!v.ok()) return v.status();
  v1::Intake intake;
  if (!intake.ParseFromString(*v)) return absl::DataLossError("damaged intake record");
  return intake;
}

}  // namespace

absl::Status IntakeTable::Put(Transaction& txn, const IntakeId& id, const v1::Intake& intake) {
  return txn.Put(Table::kIntakes, id.Bytes(), intake.SerializeAsString());
}

absl::StatusOr<v1::Intake> IntakeTable::GetForUpdate(Transaction& txn, const IntakeId& id) {
  return Parse(txn.GetForUpdate(Table::kIntakes, id.Bytes()));
}

absl::Status IntakeTable::Delete(Transaction& txn, const IntakeId& id) {
  return txn.Delete(Table::kIntakes, id.Bytes());
}

absl::StatusOr<v1::Intake> IntakeTable::Get(const IntakeId& id) const {
  return Parse(db_->Get(Table::kIntakes, id.Bytes()));
}

absl::Status IntakeTable::ForEach(const std::function<bool(const v1::Intake&)>& fn) const {
  absl::Status damaged = absl::OkStatus();
  absl::Status s = db_->Scan(Table::kIntakes, "", "", [&](absl::string_view, absl::string_view v) {
    v1::Intake intake;
    if (!intake.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      damaged = absl::DataLossError("damaged intake record");
      return false;
    }
    return fn(intake);
  });
  if (!s.ok()) return s;
  return damaged;
}

}  // namespace carerelay::store
