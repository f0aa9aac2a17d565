// Who may message whom outside a team channel (a direct message, and the
// pairwise messages that carry sender keys and team profiles).
//
// Allowed when:
//   - it is the same account (a person's own devices);
//   - both accounts are professional ones (professional, social, case
//     manager, helpdesk): colleagues under professional secrecy, enrolled by
//     the administrator, may reach each other as they do by phone;
//   - one of them is a helpdesk account: anyone may call the helpdesk, and
//     it calls back;
//   - they are both active on one open team (a patient or caregiver and
//     their care team, the team's case manager included).
// Otherwise PERMISSION_DENIED: a patient or caregiver cannot be messaged by,
// or message, someone outside their care team. That keeps unsolicited
// contact away from patients and keeps their conversations inside the team,
// where the audit log and the patient's control apply.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_CONTACT_POLICY_H_
#define CARERELAY_SERVER_CORE_CONTACT_POLICY_H_

#include "absl/status/status.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"

namespace carerelay::core {

class ContactPolicy {
 public:
  ContactPolicy(const AccountRegistry* accounts, const CareTeams* teams)
      : accounts_(accounts), teams_(teams) {}

  // OK, PERMISSION_DENIED as above, NOT_FOUND for an unknown account.
  absl::Status MayMessage(const store::AccountId& sender, const store::AccountId& recipient) const;

 private:
  const AccountRegistry* accounts_;
  const CareTeams* teams_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_CONTACT_POLICY_H_
