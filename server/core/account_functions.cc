#include "server/core/account_functions.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/store/ids.h"

namespace carerelay::core {
namespace {

// Kinds an account never changes to or from: the patient side, and an
// organisation (whose roster and staff would be left dangling).
bool IsPersonKind(int kind) {
  return kind == v1::ACCOUNT_KIND_PATIENT || kind == v1::ACCOUNT_KIND_CAREGIVER ||
         kind == v1::ACCOUNT_KIND_ORGANISATION;
}

bool IsLegacyKind(int kind) {
  return kind == v1::ACCOUNT_KIND_CASE_MANAGER || kind == v1::ACCOUNT_KIND_HELPDESK;
}

std::string KindName(int kind) {
  std::string name = v1::AccountKind_Name(static_cast<v1::AccountKind>(kind));
  return absl::AsciiStrToLower(name.substr(std::string("ACCOUNT_KIND_").size()));
}

bool Contains(const std::vector<v1::Function>& list, v1::Function f) {
  return std::find(list.begin(), list.end(), f) != list.end();
}

}  // namespace

bool HasFunction(const store::AccountRecord& account, v1::Function function) {
  for (int f : account.functions()) {
    if (f == function) return true;
  }
  // An account not migrated yet (MigrateLegacyKinds runs before serving).
  return FromLegacyKind(static_cast<v1::AccountKind>(account.kind())).function == function &&
         function != v1::FUNCTION_UNSPECIFIED;
}

bool IsProfessionalKind(int kind) {
  return kind == v1::ACCOUNT_KIND_PROFESSIONAL || kind == v1::ACCOUNT_KIND_SOCIAL ||
         kind == v1::ACCOUNT_KIND_STAFF || IsLegacyKind(kind);
}

KindWithFunction FromLegacyKind(v1::AccountKind kind) {
  switch (kind) {
    case v1::ACCOUNT_KIND_CASE_MANAGER:
      return {v1::ACCOUNT_KIND_STAFF, v1::FUNCTION_CASE_MANAGER};
    case v1::ACCOUNT_KIND_HELPDESK:
      return {v1::ACCOUNT_KIND_STAFF, v1::FUNCTION_HELPDESK};
    default:
      return {kind, v1::FUNCTION_UNSPECIFIED};
  }
}

AsEnrolled AccountAsEnrolled(v1::AccountKind kind, std::vector<v1::Function> functions) {
  const KindWithFunction now = FromLegacyKind(kind);
  AsEnrolled out;
  out.kind = now.kind;
  out.grant.grant = std::move(functions);
  // Granted once even if also named (ApplyFunctionChange skips what is held).
  if (now.function != v1::FUNCTION_UNSPECIFIED) out.grant.grant.push_back(now.function);
  return out;
}

absl::StatusOr<bool> ApplyFunctionChange(const FunctionChange& change, absl::string_view by,
                                         int64_t now_ms, store::AccountRecord* account) {
  for (const auto* list : {&change.grant, &change.withdraw}) {
    for (v1::Function f : *list) {
      if (f == v1::FUNCTION_UNSPECIFIED || !v1::Function_IsValid(f)) {
        return absl::InvalidArgumentError(absl::StrCat("unknown function ", static_cast<int>(f)));
      }
    }
  }
  for (v1::Function f : change.grant) {
    if (Contains(change.withdraw, f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the function ", FunctionName(f), " is both granted and withdrawn"));
    }
  }
  const int kind = change.kind == v1::ACCOUNT_KIND_UNSPECIFIED ? account->kind() : change.kind;
  if (!v1::AccountKind_IsValid(kind) || IsLegacyKind(kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an account's kind is patient, caregiver, professional, social or staff; case_manager "
        "and helpdesk are functions now"));
  }
  if (kind != account->kind() && (IsPersonKind(kind) || IsPersonKind(account->kind()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", KindName(account->kind()), " account cannot become a ", KindName(kind),
                     " account: a patient's or caregiver's, a professional's and an organisation's "
                     "accounts are never the same; "
                     "enroll a new one"));
  }
  if (IsPersonKind(kind) && !change.grant.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", KindName(kind),
                     " account holds no function (functions are for "
                     "those who work: case manager, helpdesk, supervisor, assessor)"));
  }

  bool changed = false;
  auto log = [&](v1::Function f, bool granted) {
    store::FunctionChangeRecord* c = account->add_function_changes();
    c->set_function(f);
    c->set_granted(granted);
    c->set_at_ms(now_ms);
    c->set_by(std::string(by));
    changed = true;
  };
  if (kind != account->kind()) {
    account->set_kind(kind);
    store::FunctionChangeRecord* c = account->add_function_changes();
    c->set_kind(kind);
    c->set_granted(true);
    c->set_at_ms(now_ms);
    c->set_by(std::string(by));
    changed = true;
  }
  for (v1::Function f : change.grant) {
    const auto& held = account->functions();
    if (std::find(held.begin(), held.end(), f) != held.end()) continue;
    account->add_functions(f);
    log(f, true);
  }
  for (v1::Function f : change.withdraw) {
    auto* held = account->mutable_functions();
    auto it = std::find(held->begin(), held->end(), f);
    if (it == held->end()) continue;
    held->erase(it);
    log(f, false);
  }
  return changed;
}

std::string FunctionName(v1::Function function) {
  std::string name = v1::Function_Name(function);
  if (name.empty()) return absl::StrCat("function ", static_cast<int>(function));
  return absl::AsciiStrToLower(name.substr(std::string("FUNCTION_").size()));
}

absl::StatusOr<v1::Function> ParseFunction(absl::string_view name) {
  v1::Function f;
  if (!name.empty() &&
      v1::Function_Parse(absl::StrCat("FUNCTION_", absl::AsciiStrToUpper(name)), &f) &&
      f != v1::FUNCTION_UNSPECIFIED) {
    return f;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("a function is case_manager, helpdesk, helpdesk_supervisor or assessor, not \"",
                   name.substr(0, 40), "\""));
}

v1::AccountFunctions FunctionsOf(const store::AccountRecord& account) {
  v1::AccountFunctions out;
  auto id = store::AccountId::FromBytes(account.account_id());
  if (id.ok()) out.set_account_id(id->Hex());
  out.set_display_name(account.display_name());
  out.set_kind(static_cast<v1::AccountKind>(account.kind()));
  for (int f : account.functions()) out.add_functions(static_cast<v1::Function>(f));
  for (const auto& c : account.function_changes()) {
    v1::FunctionChange* o = out.add_changes();
    o->set_function(static_cast<v1::Function>(c.function()));
    o->set_granted(c.granted());
    o->set_kind(static_cast<v1::AccountKind>(c.kind()));
    o->set_at_ms(c.at_ms());
    o->set_by(c.by());
  }
  return out;
}

}  // namespace carerelay::core
