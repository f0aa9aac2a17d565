// The directory of professionals (directory.proto): public professional
// information that each professional publishes about themself, the
// case-manager pool of each region, and absences with a substitute.
//
// Rules decided here:
// - Only professional accounts (professional, social, case manager,
//   helpdesk) have an entry; patients and caregivers are refused
//   (PERMISSION_DENIED), so they can never appear in a search.
// - Only case-manager accounts can be in a region's case-manager pool.
// - An absence names a substitute who is another professional account; it
//   is in force from `from_ms` (inclusive) to `to_ms` (exclusive). While in
//   force, SubstituteFor names the substitute: intake routing and urgent
//   reminders use it (intake_desk.h, urgent_messages.h).
//
// Errors: INVALID_ARGUMENT (a field over the name limit, a malformed id, an
// absence that ends before it starts, a search with no criterion);
// PERMISSION_DENIED (patient or caregiver; pool for a non-case-manager);
// NOT_FOUND (no entry; unknown substitute); FAILED_PRECONDITION (the
// substitute is the caller or not a professional account).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_PROFESSIONAL_DIRECTORY_H_
#define CARERELAY_SERVER_CORE_PROFESSIONAL_DIRECTORY_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/directory.pb.h"
#include "server/core/account_functions.h"
#include "server/core/account_registry.h"
#include "server/core/clock.h"
#include "server/core/limits.h"
#include "server/store/database.h"
#include "server/store/directory_table.h"

namespace carerelay::core {

class ProfessionalDirectory {
 public:
  // All pointers must outlive this object.
  ProfessionalDirectory(store::Database* db, store::DirectoryTable* table,
                        const AccountRegistry* accounts, const Clock* clock, const Limits& limits);

  absl::StatusOr<v1::DirectoryEntry> Publish(const store::DeviceRef& caller,
                                             const v1::DirectoryEntry& entry);
  absl::Status Remove(const store::DeviceRef& caller);
  absl::StatusOr<v1::DirectoryEntry> Get(absl::string_view account_id) const;
  absl::StatusOr<std::vector<v1::DirectoryEntry>> Search(
      const v1::SearchDirectoryRequest& request) const;
  // Clears the absence when `absence` has no substitute and no times.
  absl::StatusOr<v1::DirectoryEntry> SetAbsence(const store::DeviceRef& caller,
                                                const v1::Absence& absence);

  // Who stands in for `account` at `now_ms`: nullopt when not absent (or
  // not in the directory).
  absl::StatusOr<std::optional<store::AccountId>> SubstituteFor(const store::AccountId& account,
                                                                int64_t now_ms) const;
  // The case managers in the pool of `region` (case-insensitive), in
  // account order.
  absl::StatusOr<std::vector<store::AccountId>> Pool(absl::string_view region) const;

 private:
  // The entry as shown: absent_now computed, the substitute's name filled.
  v1::DirectoryEntry Shown(v1::DirectoryEntry entry) const;

  store::Database* db_;
  store::DirectoryTable* table_;
  const AccountRegistry* accounts_;
  const Clock* clock_;
  const Limits limits_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_PROFESSIONAL_DIRECTORY_H_
