#include "server/core/contact_policy.h"

#include "absl/strings/str_cat.h"
#include "server/core/account_functions.h"

namespace carerelay::core {

absl::StatusOr<ContactPolicy::Mode> ContactPolicy::ParseMode(absl::string_view name) {
  if (name == "care-relationship") return Mode::kCareRelationship;
  if (name == "directory") return Mode::kDirectory;
  return absl::InvalidArgumentError(absl::StrCat(
      "--contact-policy is care-relationship (direct messages between professionals who share "
      "an open team) or directory (between any professionals), not \"",
      name.substr(0, 40), "\""));
}

std::string ContactPolicy::ModeName(Mode mode) {
  return mode == Mode::kDirectory ? "directory" : "care-relationship";
}

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
  // The line and the assessors behind it (case management's intermediate
  // level) are reached by anyone and reach anyone: they pass the caller's
  // notes on to the case manager they name.
  for (v1::Function f : {v1::FUNCTION_HELPDESK, v1::FUNCTION_ASSESSOR}) {
    if (HasFunction(*from, f) || HasFunction(*to, f)) return absl::OkStatus();
  }
  const bool colleagues = IsProfessionalKind(from->kind()) && IsProfessionalKind(to->kind());
  if (colleagues && mode_ == Mode::kDirectory) return absl::OkStatus();
  auto shared = teams_->ShareOpenTeam(sender, recipient);
  if (!shared.ok()) return shared.status();
  if (*shared) return absl::OkStatus();
  if (colleagues) {
    return absl::PermissionDeniedError(absl::StrCat(
        "you and ", recipient.Hex(),
        " share no open care team: on this service, professionals message each other about the "
        "people they both care for, on that person's team (or through the helpdesk)"));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "you and ", recipient.Hex(),
      " are not on an open care team together: patients and caregivers are reached through "
      "their care team (or the helpdesk)"));
}

}  // namespace carerelay::core
