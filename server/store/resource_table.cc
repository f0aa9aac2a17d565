#include "server/store/resource_table.h"

namespace carerelay::store {
namespace {

absl::StatusOr<v1::Resource> Parse(absl::StatusOr<std::string> v) {
  if (!v.ok()) return v.status();
  v1::Resource resource;
  if (!resource.ParseFromString(*v)) return absl::DataLossError("damaged resource entry");
  return resource;
}

}  // namespace

absl::Status ResourceTable::Put(Transaction& txn, const ResourceId& id,
                                const v1::Resource& resource) {
  return txn.Put(Table::kResources, id.Bytes(), resource.SerializeAsString());
}

absl::Status ResourceTable::Delete(Transaction& txn, const ResourceId& id) {
  return txn.Delete(Table::kResources, id.Bytes());
}

absl::StatusOr<v1::Resource> ResourceTable::GetForUpdate(Transaction& txn, const ResourceId& id) {
  return Parse(txn.GetForUpdate(Table::kResources, id.Bytes()));
}

absl::StatusOr<v1::Resource> ResourceTable::Get(const ResourceId& id) const {
  return Parse(db_->Get(Table::kResources, id.Bytes()));
}

absl::Status ResourceTable::ForEach(const std::function<bool(const v1::Resource&)>& fn) const {
  absl::Status damaged = absl::OkStatus();
  absl::Status s =
      db_->Scan(Table::kResources, "", "", [&](absl::string_view, absl::string_view v) {
        v1::Resource resource;
        if (!resource.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          damaged = absl::DataLossError("damaged resource entry");
          return false;
        }
        return fn(resource);
      });
  if (!s.ok()) return s;
  return damaged;
}

}  // namespace carerelay::store
