// What an account may do: its kind (the person's profession, for those who
// work) and its functions (case manager, helpdesk, helpdesk supervisor,
// assessor), which the administrator grants and withdraws (common.proto,
// Function). Every rule that used to ask "is this a case-manager account?"
// asks HasFunction instead, so a nurse may be case manager on one team and
// home nurse on another.
//
// Before functions, CASE_MANAGER and HELPDESK were account kinds.
// FromLegacyKind says what they stand for now (STAFF with that function:
// exactly what such an account could do before, and no more); enrollment
// takes them so, and AccountRegistry::MigrateLegacyKinds rewrites stored
// accounts so at start.
//
// Thread-safety: stateless functions.
#ifndef CARERELAY_SERVER_CORE_ACCOUNT_FUNCTIONS_H_
#define CARERELAY_SERVER_CORE_ACCOUNT_FUNCTIONS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/admin.pb.h"
#include "carerelay/v1/common.pb.h"
#include "server/store/records.pb.h"

namespace carerelay::core {

bool HasFunction(const store::AccountRecord& account, v1::Function function);

// Accounts of people who work (PROFESSIONAL, SOCIAL, STAFF): in the
// professional directory, colleagues for the contact policy. Not patients
// or caregivers.
bool IsProfessionalKind(int kind);

// A kind as given at enrollment or found in a store written before
// functions: the kind to keep and the function it carried, if any.
struct KindWithFunction {
  v1::AccountKind kind = v1::ACCOUNT_KIND_UNSPECIFIED;
  v1::Function function = v1::FUNCTION_UNSPECIFIED;
};
KindWithFunction FromLegacyKind(v1::AccountKind kind);

// One change of an account's functions or kind, checked as a whole.
struct FunctionChange {
  std::vector<v1::Function> grant;
  std::vector<v1::Function> withdraw;
  v1::AccountKind kind = v1::ACCOUNT_KIND_UNSPECIFIED;  // unchanged
};

// What an account enrolled as `kind` with `functions` is (a legacy kind:
// STAFF, its function added to the grant): for enrollment, registration and
// the migration alike.
struct AsEnrolled {
  v1::AccountKind kind = v1::ACCOUNT_KIND_UNSPECIFIED;
  FunctionChange grant;
};
AsEnrolled AccountAsEnrolled(v1::AccountKind kind, std::vector<v1::Function> functions);

// Applies `change` to `account` and appends what it changed to its log,
// marked `by` at `now_ms`; returns whether anything changed (granting a
// function held, withdrawing one not held, or the same kind, changes
// nothing). INVALID_ARGUMENT, leaving `account` untouched: an unknown
// function, one both granted and withdrawn, any function for a patient or
// caregiver account, a legacy kind, or a kind change to or from PATIENT or
// CAREGIVER.
absl::StatusOr<bool> ApplyFunctionChange(const FunctionChange& change, absl::string_view by,
                                         int64_t now_ms, store::AccountRecord* account);

// Lower-case names without the prefix, as the CLI and errors use them
// ("case_manager", "helpdesk_supervisor"); ParseFunction takes them back.
std::string FunctionName(v1::Function function);
absl::StatusOr<v1::Function> ParseFunction(absl::string_view name);

// The administrator's view of an account (Admin.ListAccountFunctions).
v1::AccountFunctions FunctionsOf(const store::AccountRecord& account);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ACCOUNT_FUNCTIONS_H_
