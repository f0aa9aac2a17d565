#include "server/core/professional_directory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack), absl::AsciiStrToLower(needle));
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return needle.empty() || ContainsIgnoreCase(haystack, needle);
}

bool InForce(const v1::Absence& a, int64_t now_ms) {
  return !a.substitute_account_id().empty() && a.from_ms() <= now_ms && now_ms < a.to_ms();
}

}  // namespace

ProfessionalDirectory::ProfessionalDirectory(store::Database* db, store::DirectoryTable* table,
                                             const AccountRegistry* accounts, const Clock* clock,
                                             const Limits& limits)
    : db_(db), table_(table), accounts_(accounts), clock_(clock), limits_(limits) {}

v1::DirectoryEntry ProfessionalDirectory::Shown(v1::DirectoryEntry entry) const {
  entry.set_absent_now(InForce(entry.absence(), clock_->NowMs()));
  if (!entry.absence().substitute_account_id().empty()) {
    auto id = store::AccountId::FromHex(entry.absence().substitute_account_id());
    auto record =
        id.ok() ? accounts_->GetAccount(*id) : absl::StatusOr<store::AccountRecord>(id.status());
    if (record.ok()) entry.mutable_absence()->set_substitute_name(record->display_name());
  }
  return entry;
}

namespace {
// BCP 47 tags in practice ("fr", "nl-BE", "de-BE"); 35 is the longest
// registered form.
constexpr int kMaxLanguages = 16;
constexpr size_t kMaxLanguageBytes = 35;
}  // namespace

absl::StatusOr<v1::DirectoryEntry> ProfessionalDirectory::Publish(const store::DeviceRef& caller,
                                                                  const v1::DirectoryEntry& in) {
  auto account = accounts_->GetAccount(caller.account);
  if (!account.ok()) return account.status();
  if (!IsProfessionalKind(account->kind())) {
    return absl::PermissionDeniedError(
        "only professional accounts are in the directory; patients and caregivers never are");
  }
  if (in.case_manager_pool() && !HasFunction(*account, v1::FUNCTION_CASE_MANAGER)) {
    return absl::PermissionDeniedError(
        "only accounts with the case-manager function join a case-manager pool (the "
        "administrator grants it: carerelayd admin functions)");
  }
  if (in.case_manager_pool() && in.region().empty()) {
    return absl::InvalidArgumentError("a case-manager pool is per region: give the region");
  }
  const size_t limit = 4 * limits_.max_name_bytes;  // organisation names run long
  for (const std::string* field : {&in.name(), &in.profession(), &in.organisation(),
                                   &in.practice_id(), &in.region(), &in.postcode()}) {
    if (field->size() > limit) {
      return absl::InvalidArgumentError(
          absl::StrCat("a directory field is at most ", limit, " bytes"));
    }
  }
  if (in.languages_size() > kMaxLanguages) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxLanguages, " languages"));
  }
  for (const std::string& language : in.languages()) {
    if (language.empty() || language.size() > kMaxLanguageBytes) {
      return absl::InvalidArgumentError(absl::StrCat("a language is a tag of 1 to ",
                                                     kMaxLanguageBytes, " bytes (fr, nl-BE, de)"));
    }
  }
  auto txn = db_->Begin();
  v1::DirectoryEntry entry = in;
  // Everyone's searches read every entry: nothing the server does not know
  // (fields of a newer client, or padding) is stored.
  entry.DiscardUnknownFields();
  auto before = table_->GetForUpdate(*txn, caller.account);
  if (before.ok()) {
    *entry.mutable_absence() = before->absence();
  } else if (absl::IsNotFound(before.status())) {
    entry.clear_absence();
  } else {
    return before.status();
  }
  entry.set_account_id(caller.account.Hex());
  if (entry.name().empty()) entry.set_name(account->display_name());
  entry.set_kind(static_cast<v1::AccountKind>(account->kind()));
  entry.clear_absent_now();
  entry.set_updated_at_ms(clock_->NowMs());
  absl::Status s = table_->Put(*txn, caller.account, entry);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return Shown(std::move(entry));
}

absl::Status ProfessionalDirectory::Remove(const store::DeviceRef& caller) {
  auto txn = db_->Begin();
  auto before = table_->GetForUpdate(*txn, caller.account);
  if (absl::IsNotFound(before.status())) {
    return absl::NotFoundError("you have no directory entry");
  }
  if (!before.ok()) return before.status();
  absl::Status s = table_->Delete(*txn, caller.account);
  if (!s.ok()) return s;
  return txn->Commit();
}

absl::StatusOr<v1::DirectoryEntry> ProfessionalDirectory::Get(absl::string_view account_id) const {
  auto id = store::AccountId::FromHex(account_id);
  if (!id.ok()) return id.status();
  auto entry = table_->Get(*id);
  if (absl::IsNotFound(entry.status())) {
    return absl::NotFoundError(absl::StrCat("account ", id->Hex(), " is not in the directory"));
  }
  if (!entry.ok()) return entry.status();
  return Shown(*std::move(entry));
}

absl::StatusOr<std::vector<v1::DirectoryEntry>> ProfessionalDirectory::Search(
    const v1::SearchDirectoryRequest& r) const {
  if (r.name().empty() && r.profession().empty() && r.organisation().empty() &&
      r.region().empty() && !r.case_manager_pool_only()) {
    return absl::InvalidArgumentError(
        "give at least one of name, profession, organisation, region or the pool");
  }
  const size_t limit = r.limit() == 0 ? 50 : std::min<size_t>(r.limit(), 500);
  std::vector<v1::DirectoryEntry> found;
  absl::Status s = table_->ForEach([&](const v1::DirectoryEntry& e) {
    // Defence in depth: an entry of a non-professional kind is never shown.
    if (!IsProfessionalKind(e.kind())) return true;
    if (r.case_manager_pool_only() && !e.case_manager_pool()) return true;
    bool region = r.region().empty() || ContainsIgnoreCase(e.region(), r.region()) ||
                  absl::StartsWith(e.postcode(), r.region());
    if (Contains(e.name(), r.name()) && Contains(e.profession(), r.profession()) &&
        Contains(e.organisation(), r.organisation()) && region) {
      found.push_back(Shown(e));
    }
    return found.size() < limit;
  });
  if (!s.ok()) return s;
  return found;
}

absl::StatusOr<v1::DirectoryEntry> ProfessionalDirectory::SetAbsence(const store::DeviceRef& caller,
                                                                     const v1::Absence& absence) {
  const bool clear =
      absence.substitute_account_id().empty() && absence.from_ms() == 0 && absence.to_ms() == 0;
  if (!clear) {
    if (absence.to_ms() <= absence.from_ms()) {
      return absl::InvalidArgumentError("an absence must end after it starts");
    }
    auto substitute = store::AccountId::FromHex(absence.substitute_account_id());
    if (!substitute.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("an absence names its substitute: ", substitute.status().message()));
    }
    if (*substitute == caller.account) {
      return absl::FailedPreconditionError("you cannot be your own substitute");
    }
    auto record = accounts_->GetAccount(*substitute);
    if (absl::IsNotFound(record.status())) {
      return absl::NotFoundError(absl::StrCat("no account ", substitute->Hex()));
    }
    if (!record.ok()) return record.status();
    if (!IsProfessionalKind(record->kind())) {
      return absl::FailedPreconditionError(
          "a substitute must be a professional account (not a patient or caregiver)");
    }
  }
  auto txn = db_->Begin();
  auto entry = table_->GetForUpdate(*txn, caller.account);
  if (absl::IsNotFound(entry.status())) {
    return absl::NotFoundError(
        "publish your directory entry first (carerelay directory publish), then set an absence");
  }
  if (!entry.ok()) return entry.status();
  if (clear) {
    entry->clear_absence();
  } else {
    *entry->mutable_absence() = absence;
    entry->mutable_absence()->DiscardUnknownFields();
    entry->mutable_absence()->set_substitute_account_id(
        absl::AsciiStrToLower(absence.substitute_account_id()));
    entry->mutable_absence()->clear_substitute_name();
  }
  entry->set_updated_at_ms(clock_->NowMs());
  absl::Status s = table_->Put(*txn, caller.account, *entry);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return Shown(*std::move(entry));
}

absl::StatusOr<std::optional<store::AccountId>> ProfessionalDirectory::SubstituteFor(
    const store::AccountId& account, int64_t now_ms) const {
  auto entry = table_->Get(account);
  if (absl::IsNotFound(entry.status())) return std::nullopt;
  if (!entry.ok()) return entry.status();
  if (!InForce(entry->absence(), now_ms)) return std::nullopt;
  auto substitute = store::AccountId::FromHex(entry->absence().substitute_account_id());
  if (!substitute.ok()) return substitute.status();
  return *substitute;
}

absl::StatusOr<std::vector<store::AccountId>> ProfessionalDirectory::Pool(
    absl::string_view region) const {
  std::vector<store::AccountId> pool;
  absl::Status s = table_->ForEach([&](const v1::DirectoryEntry& e) {
    if (e.case_manager_pool() && absl::EqualsIgnoreCase(e.region(), region)) {
      auto id = store::AccountId::FromHex(e.account_id());
      if (id.ok()) pool.push_back(*id);
    }
    return true;
  });
  if (!s.ok()) return s;
  // Only those who hold the function now: the administrator may have
  // withdrawn it since they joined.
  std::vector<store::AccountId> holding;
  for (const auto& id : pool) {
    auto account = accounts_->GetAccount(id);
    if (account.ok() && HasFunction(*account, v1::FUNCTION_CASE_MANAGER)) holding.push_back(id);
  }
  return holding;
}

}  // namespace carerelay::core
