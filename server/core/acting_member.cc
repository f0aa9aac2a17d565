#include "server/core/acting_member.h"

#include <algorithm>

namespace carerelay::core {

absl::StatusOr<std::vector<store::AccountId>> OrganisationsOnDutyFor(
    const AccountRegistry& accounts, const store::AccountId& account) {
  std::vector<store::AccountId> out;
  auto person = accounts.GetAccount(account);
  if (absl::IsNotFound(person.status())) return out;
  if (!person.ok()) return person.status();
  for (const std::string& raw : person->staff_of()) {
    auto organisation = store::AccountId::FromBytes(raw);
    if (!organisation.ok()) return organisation.status();
    auto on_duty = accounts.StaffOnDuty(*organisation);
    if (!on_duty.ok()) return on_duty.status();
    if (std::find(on_duty->begin(), on_duty->end(), account) != on_duty->end()) {
      out.push_back(*organisation);
    }
  }
  return out;
}

absl::StatusOr<const store::TeamMemberRecord*> ActingMember(const store::TeamRecord& team,
                                                            const AccountRegistry& accounts,
                                                            const store::AccountId& account) {
  auto entry_of = [&](const store::AccountId& id) -> const store::TeamMemberRecord* {
    for (const auto& m : team.members()) {
      if (m.account_id() == id.Bytes()) return &m;
    }
    return nullptr;
  };
  if (const store::TeamMemberRecord* own = entry_of(account)) return own;
  auto organisations = OrganisationsOnDutyFor(accounts, account);
  if (!organisations.ok()) return organisations.status();
  for (const store::AccountId& organisation : *organisations) {
    const store::TeamMemberRecord* entry = entry_of(organisation);
    if (entry && entry->status() == v1::MEMBER_STATUS_ACTIVE) return entry;
  }
  return nullptr;
}

}  // namespace carerelay::core
