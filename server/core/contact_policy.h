// Who may message whom outside a team channel (a direct message, and the
// pairwise messages that carry sender keys and team profiles), and so whose
// prekeys one may fetch to start a session.
//
// Always allowed:
//   - the same account (a person's own devices);
//   - with an account holding the helpdesk or the assessor function:
//     anyone may call the helpdesk, and it calls back; the assessors behind
//     it pass a call's notes on to the case manager they name
//     (intake_desk.h);
//   - two accounts active on one open team (a patient or caregiver and their
//     care team, the team's case manager included).
// Between two professional accounts (professional, social, case manager)
// outside a shared team, the deployment chooses (--contact-policy):
//   - kCareRelationship (the default): refused. A direct message about a
//     patient between two professionals who share no team carries patient
//     information around the team's consent, access matrix and audit log;
//     people who care for the same person share their team.
//   - kDirectory: allowed, as colleagues under professional secrecy,
//     enrolled by the administrator, reach each other by phone (for a
//     deployment that wants an open professional directory).
// Otherwise PERMISSION_DENIED, which says why: nobody reaches a patient or a
// caregiver outside their care team.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_CONTACT_POLICY_H_
#define CARERELAY_SERVER_CORE_CONTACT_POLICY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/account_registry.h"
#include "server/core/care_teams.h"

namespace carerelay::core {

class ContactPolicy {
 public:
  enum class Mode { kCareRelationship, kDirectory };

  // "care-relationship" or "directory"; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<Mode> ParseMode(absl::string_view name);
  static std::string ModeName(Mode mode);

  ContactPolicy(const AccountRegistry* accounts, const CareTeams* teams, Mode mode)
      : accounts_(accounts), teams_(teams), mode_(mode) {}

  // OK, PERMISSION_DENIED as above, NOT_FOUND for an unknown account.
  absl::Status MayMessage(const store::AccountId& sender, const store::AccountId& recipient) const;

 private:
  const AccountRegistry* accounts_;
  const CareTeams* teams_;
  const Mode mode_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_CONTACT_POLICY_H_
