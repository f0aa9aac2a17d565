#include "server/core/organisation_rosters.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

// The organisation a request names: its id, or the caller's own account.
absl::StatusOr<store::AccountId> OrganisationOf(const store::DeviceRef& caller,
                                                const std::string& requested) {
  if (requested.empty()) return caller.account;
  return store::AccountId::FromHex(requested);
}

bool Lists(const store::AccountRecord& organisation, const store::AccountId& account) {
  return std::any_of(
      organisation.roster().begin(), organisation.roster().end(),
      [&](const store::RosterEntryRecord& e) { return e.account_id() == account.Bytes(); });
}

}  // namespace

absl::StatusOr<v1::Roster> OrganisationRosters::Change(const store::DeviceRef& caller,
                                                       const v1::ChangeRosterRequest& request) {
  absl::StatusOr<store::AccountId> organisation =
      OrganisationOf(caller, request.organisation_account_id());
  if (!organisation.ok()) return organisation.status();
  absl::StatusOr<store::AccountId> staff = store::AccountId::FromHex(request.staff_account_id());
  if (!staff.ok()) return staff.status();
  const auto action = request.action();
  // The organisation's devices change everything; a staff member on the
  // roster only their own duty.
  if (caller.account != *organisation) {
    const bool own_duty =
        caller.account == *staff && (action == v1::ChangeRosterRequest::ACTION_ON_DUTY ||
                                     action == v1::ChangeRosterRequest::ACTION_OFF_DUTY);
    absl::StatusOr<store::AccountRecord> org = accounts_->GetAccount(*organisation);
    if (!org.ok() && !absl::IsNotFound(org.status())) return org.status();
    if (!own_duty || !org.ok() || !Lists(*org, caller.account)) {
      return absl::PermissionDeniedError(
          "only the organisation's own devices change its roster; a staff member on it puts "
          "themselves on or off duty");
    }
  }
  absl::StatusOr<AccountRegistry::RosterChange> changed =
      accounts_->ChangeRoster(*organisation, *staff, action);
  if (!changed.ok()) return changed.status();
  if (changed->changed) {
    absl::StatusOr<int> told = teams_->RecordRosterChange(caller, *organisation, *staff, action);
    if (!told.ok()) return told.status();
  }
  return View(changed->organisation);
}

absl::StatusOr<v1::Roster> OrganisationRosters::Get(const store::DeviceRef& caller,
                                                    const v1::GetRosterRequest& request) const {
  absl::StatusOr<store::AccountId> organisation =
      OrganisationOf(caller, request.organisation_account_id());
  if (!organisation.ok()) return organisation.status();
  absl::StatusOr<store::AccountRecord> org = accounts_->GetAccount(*organisation);
  const auto not_found =
      absl::NotFoundError(absl::StrCat("no roster of ", organisation->Hex(), " for you"));
  if (absl::IsNotFound(org.status())) return not_found;
  if (!org.ok()) return org.status();
  if (caller.account != *organisation && !Lists(*org, caller.account)) return not_found;
  if (org->kind() != v1::ACCOUNT_KIND_ORGANISATION) {
    return absl::FailedPreconditionError(
        absl::StrCat("account ", organisation->Hex(),
                     " is not an organisation: only an organisation has a "
                     "roster"));
  }
  return View(*org);
}

absl::StatusOr<v1::Roster> OrganisationRosters::View(
    const store::AccountRecord& organisation) const {
  v1::Roster out;
  auto id = store::AccountId::FromBytes(organisation.account_id());
  if (!id.ok()) return id.status();
  out.set_organisation_account_id(id->Hex());
  out.set_display_name(organisation.display_name());
  for (const store::RosterEntryRecord& e : organisation.roster()) {
    auto staff = store::AccountId::FromBytes(e.account_id());
    if (!staff.ok()) return staff.status();
    v1::RosterEntry* entry = out.add_staff();
    entry->set_account_id(staff->Hex());
    entry->set_on_duty(e.on_duty());
    entry->set_since_ms(e.since_ms());
    auto person = accounts_->GetAccount(*staff);
    if (person.ok()) entry->set_display_name(person->display_name());
  }
  return out;
}

}  // namespace carerelay::core
