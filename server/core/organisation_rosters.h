// Organisations' rosters (accounts.proto, ChangeRoster and GetRoster): who
// decides a change, and its consequences on the organisation's teams.
//
// An organisation account (a home-nursing service, a pharmacy, a care home,
// a hospital's social service) is on teams under a role; its staff on duty
// act under its entry there (care_teams.h, "Organisations"). The
// organisation's own devices change its roster; a staff member on it puts
// themselves on or off duty (a shift starting or ending). Each change is
// committed on the two accounts (AccountRegistry::ChangeRoster), then told
// to every team of the organisation (CareTeams::RecordRosterChange): an
// audit entry naming the staff member, an event whose receivers rotate
// their sender keys when someone stops reading. The teams are told one by
// one after the roster committed; sends already follow the committed
// roster (the readers' cache is keyed by the device generation, which the
// change moves), so a team told late never lets a removed person read.
//
// Errors: those of accounts.proto, ChangeRoster and GetRoster.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_ORGANISATION_ROSTERS_H_
#define CARERELAY_SERVER_CORE_ORGANISATION_ROSTERS_H_

#include "absl/status/statusor.h"
#include "carerelay/v1/accounts.pb.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"

namespace carerelay::core {

class OrganisationRosters {
 public:
  // Both must outlive this object.
  OrganisationRosters(AccountRegistry* accounts, CareTeams* teams)
      : accounts_(accounts), teams_(teams) {}

  absl::StatusOr<v1::Roster> Change(const store::DeviceRef& caller,
                                    const v1::ChangeRosterRequest& request);
  absl::StatusOr<v1::Roster> Get(const store::DeviceRef& caller,
                                 const v1::GetRosterRequest& request) const;

 private:
  absl::StatusOr<v1::Roster> View(const store::AccountRecord& organisation) const;

  AccountRegistry* accounts_;
  CareTeams* teams_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ORGANISATION_ROSTERS_H_
