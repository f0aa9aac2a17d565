// The map of resources (core/resource_map.h): services, structures and
// collective activities the helpdesk orients callers to.
//
// Key encoding:
//   resources: resource_id (16) -> carerelay.v1.Resource
// Public information only; searches are scans (one region's map: a few
// thousand entries).
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_RESOURCE_TABLE_H_
#define CARERELAY_SERVER_STORE_RESOURCE_TABLE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "carerelay/v1/directory.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

struct ResourceIdTag {
  static constexpr const char* kWhat = "resource";
};
// One entry of the map of resources.
using ResourceId = OpaqueId<ResourceIdTag>;

class ResourceTable {
 public:
  explicit ResourceTable(Database* db) : db_(db) {}

  absl::Status Put(Transaction& txn, const ResourceId& id, const v1::Resource& resource);
  absl::Status Delete(Transaction& txn, const ResourceId& id);
  // NOT_FOUND if there is no such resource.
  absl::StatusOr<v1::Resource> GetForUpdate(Transaction& txn, const ResourceId& id);
  absl::StatusOr<v1::Resource> Get(const ResourceId& id) const;
  // Calls fn for every resource, in id order, until it returns false.
  // DATA_LOSS if one does not parse.
  absl::Status ForEach(const std::function<bool(const v1::Resource&)>& fn) const;

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_RESOURCE_TABLE_H_
