// The map of resources (directory.proto): the services, structures and
// collective activities the helpdesk orients callers to, with what a caller
// needs to reach them (phone, hours, languages, who may be referred, how).
// It sits in the directory beside the professionals; a region's existing
// social map is loaded into it (ImportResources, as CSV from the CLI).
//
// Rules decided here:
// - Public information only, never about a patient: the fields are those of
//   a service's public listing, each bounded (directory.proto, Resource).
// - Anyone authenticated searches and reads it; only accounts with the
//   HELPDESK function create, change, import or remove entries.
// - An import is one transaction (all rows or none), each row matched to an
//   existing entry by id, then source_ref, then name and address (accents
//   and case aside), so the same map imported twice is updated, not
//   doubled, and a failed import can simply be run again.
// - Searches fold accents and case (text/latin_folding.h): "aide a
//   domicile" finds "Aide à domicile".
//
// Errors: INVALID_ARGUMENT (a missing name or kind, a field too long, a
// malformed id or language, more rows than an import takes; an import's
// message names the row, counted from 1); PERMISSION_DENIED (no helpdesk
// function); NOT_FOUND (no such resource).
//
// Thread-safety: thread-safe; each change is one transaction.
#ifndef CARERELAY_SERVER_CORE_RESOURCE_MAP_H_
#define CARERELAY_SERVER_CORE_RESOURCE_MAP_H_

#include "absl/status/statusor.h"
#include "carerelay/v1/directory.pb.h"
#include "server/core/account_registry.h"
#include "server/core/clock.h"
#include "server/store/database.h"
#include "server/store/resource_table.h"

namespace carerelay::core {

class ResourceMap {
 public:
  // The most rows one ImportResources call takes.
  static constexpr int kMaxImportRows = 500;

  // All pointers must outlive this object.
  ResourceMap(store::Database* db, store::ResourceTable* table, const AccountRegistry* accounts,
              const Clock* clock);

  // Creates (no resource_id) or replaces (NOT_FOUND if it does not exist)
  // one entry.
  absl::StatusOr<v1::Resource> Put(const store::DeviceRef& caller, const v1::Resource& resource);
  absl::StatusOr<v1::ImportResourcesResponse> Import(const store::DeviceRef& caller,
                                                     const v1::ImportResourcesRequest& request);
  absl::Status Remove(const store::DeviceRef& caller, absl::string_view resource_id);
  absl::StatusOr<v1::Resource> Get(absl::string_view resource_id) const;
  absl::StatusOr<v1::SearchResourcesResponse> Search(
      const v1::SearchResourcesRequest& request) const;

  // OK if `resource` may be stored (the bounds of directory.proto);
  // INVALID_ARGUMENT naming the field otherwise.
  static absl::Status Check(const v1::Resource& resource);

 private:
  // PERMISSION_DENIED unless `caller` has the helpdesk function.
  absl::Status RequireHelpdesk(const store::DeviceRef& caller) const;
  // The entry as stored: unknown fields dropped, id and update stamped.
  v1::Resource Stamped(v1::Resource resource, const store::ResourceId& id,
                       const store::DeviceRef& caller) const;

  store::Database* db_;
  store::ResourceTable* table_;
  const AccountRegistry* accounts_;
  const Clock* clock_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_RESOURCE_MAP_H_
