// Whose entry an account acts under on a team: its own, or, for staff on
// duty (accounts.proto, ChangeRoster), that of an organisation that is an
// active member. Care teams (care_teams.h, "Organisations") and urgent
// messages (urgent_messages.h) both ask it; the rule lives here once.
//
// Thread-safety: thread-safe (reads only).
#ifndef CARERELAY_SERVER_CORE_ACTING_MEMBER_H_
#define CARERELAY_SERVER_CORE_ACTING_MEMBER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "server/core/account_registry.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::core {

// The organisations whose roster lists `account` on duty now, in the order
// its account record lists them; empty for an unknown account.
absl::StatusOr<std::vector<store::AccountId>> OrganisationsOnDutyFor(
    const AccountRegistry& accounts, const store::AccountId& account);

// `account`'s own entry on `team` (any status), else the entry of an active
// organisation member it is on duty for, else nullptr. Points into `team`.
absl::StatusOr<const store::TeamMemberRecord*> ActingMember(const store::TeamRecord& team,
                                                            const AccountRegistry& accounts,
                                                            const store::AccountId& account);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ACTING_MEMBER_H_
