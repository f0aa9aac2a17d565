#include "server/core/contact_policy.h"

#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

bool IsProfessional(int kind) {
  return kind == v1::ACCOUNT_KIND_PROFESSIONAL || kind == v1::ACCOUNT_KIND_SOCIAL ||
         kind == v1::ACCOUNT_KIND_CASE_MANAGER || kind == v1::ACCOUNT_KIND_HELPDESK;
}

}  // namespace

absl::Status ContactPolicy::MayMessage(const store::AccountId& sender,
                                       const store::AccountId& recipient) const {
  if (sender == recipient) return absl::OkStatus();
  auto from = accounts_->GetAccount(sender);
  if (!from.ok()) return from.status();
  auto to = accounts_->GetAccount(recipient);
  if (absl::IsNotFound(to.status())) {
    return absl::NotFoundError(absl::StrCat("no account ", recipient.Hex()));
  }
  if (!to.ok()) return to.status();
  if (IsProfessional(from->kind()) && IsProfessional(to->kind())) return absl::OkStatus();
  if (from->kind() == v1::ACCOUNT_KIND_HELPDESK || to->kind() == v1::ACCOUNT_KIND_HELPDESK) {
    return absl::OkStatus();
  }
  auto shared = teams_->ShareOpenTeam(sender, recipient);
  if (!shared.ok()) return shared.status();
  if (*shared) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "you and ", recipient.Hex(),
      " are not on an open care team together: patients and caregivers are reached through "
      "their care team (or the helpdesk)"));
}

}  // namespace carerelay::core
