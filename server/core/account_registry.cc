#include "server/core/account_registry.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "proto/link_device.h"
#include "server/core/alerts.h"
#include "server/core/key_material.h"
#include "server/core/server_envelopes.h"

namespace carerelay::core {
namespace {

// Crockford's base32 alphabet: no I, L, O, U, so codes read aloud or
// copied from paper are unambiguous.
constexpr char kCodeAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kCodeChars = 20;  // 100 bits
constexpr size_t kSecretBytes = 32;
constexpr absl::Duration kMaxCodeTtl = absl::Hours(24 * 90);
constexpr absl::Duration kMaxLinkTtl = absl::Hours(1);

std::string Sha256(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) abort();
  return out;
}

std::string NewCode() {
  std::string raw = RandomBytes(kCodeChars);
  std::string code;
  for (int i = 0; i < kCodeChars; ++i) {
    if (i > 0 && i % 5 == 0) code.push_back('-');
    code.push_back(kCodeAlphabet[static_cast<uint8_t>(raw[i]) % 32]);
  }
  return code;
}

absl::Status CheckName(absl::string_view name, absl::string_view what, size_t max) {
  if (name.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", name.size(), " bytes; the limit is ", max));
  }
  return absl::OkStatus();
}

absl::Status CheckRegistrationKeys(const v1::RegisterRequest& r, const Limits& limits) {
  absl::Status s = CheckPublicKey(r.identity_key(), "identity key");
  if (!s.ok()) return s;
  if (r.registration_id() == 0 || r.registration_id() > 16380) {
    return absl::InvalidArgumentError("registration id must be between 1 and 16380");
  }
  if (!r.has_signed_prekey()) return absl::InvalidArgumentError("a signed prekey is required");
  s = VerifyPrekeySignature(r.identity_key(), r.signed_prekey().public_key(),
                            r.signed_prekey().signature());
  if (!s.ok()) return s;
  if (r.one_time_prekeys_size() > static_cast<int>(limits.max_prekeys_per_upload)) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", limits.max_prekeys_per_upload,
                                                   " one-time prekeys per upload, got ",
                                                   r.one_time_prekeys_size()));
  }
  for (const auto& k : r.one_time_prekeys()) {
    s = CheckPublicKey(k.public_key(), "one-time prekey");
    if (!s.ok()) return s;
  }
  return CheckName(r.device_name(), "device name", limits.max_name_bytes);
}

// Normalizes a code as a person typed it (case, spaces, dashes) and hashes it.
std::string HashCode(absl::string_view code) {
  std::string normalized;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    normalized.push_back(static_cast<char>(absl::ascii_toupper(static_cast<unsigned char>(c))));
  }
  return Sha256(normalized);
}

}  // namespace

AccountRegistry::AccountRegistry(store::Database* db, DeliveryHub* hub, store::QueueTable* queues,
                                 const Clock* clock, const Limits& limits)
    : db_(db),
      hub_(hub),
      queues_(queues),
      clock_(clock),
      limits_(limits),
      accounts_(db),
      prekeys_(db),
      receipts_(db),
      send_keys_(db),
      registrations_(clock, "registrations from this address",
                     limits.registrations_per_minute / 60.0, limits.registration_burst),
      calls_(clock, "calls from this device", limits.calls_per_second, limits.call_burst),
      refusal_hold_(RefusalHold::Options{limits.refusal_hold, limits.max_held_calls_per_device,
                                         limits.max_held_calls}) {}

absl::Status AccountRegistry::ChargeCall(const store::DeviceRef& device, double cost) const {
  const std::string key = device.ToString();
  refusal_hold_.Wait(key);
  absl::Status charged = calls_.Take(key, cost);
  refusal_hold_.NoteAnswer(key, charged);
  return charged;
}

absl::StatusOr<IssuedCode> AccountRegistry::IssueCode(store::Transaction& txn,
                                                      store::EnrollmentCodeRecord record,
                                                      absl::Duration ttl) {
  IssuedCode issued{NewCode(), clock_->Now() + ttl};
  record.set_expires_at_ms(absl::ToUnixMillis(issued.expires_at));
  absl::Status s = accounts_.PutCode(txn, HashCode(issued.code), record);
  if (s.ok()) s = txn.Commit();
  if (!s.ok()) return s;
  return issued;
}

absl::StatusOr<IssuedCode> AccountRegistry::IssueEnrollmentCode(
    const std::string& display_name, v1::AccountKind kind, absl::Duration ttl,
    const std::vector<v1::Function>& functions) {
  if (display_name.empty()) return absl::InvalidArgumentError("a display name is required");
  absl::Status s = CheckName(display_name, "display name", limits_.max_name_bytes);
  if (!s.ok()) return s;
  if (kind == v1::ACCOUNT_KIND_UNSPECIFIED || !v1::AccountKind_IsValid(kind)) {
    return absl::InvalidArgumentError("an account kind is required");
  }
  if (ttl <= absl::ZeroDuration() || ttl > kMaxCodeTtl) {
    return absl::InvalidArgumentError("an enrollment code must expire within 90 days");
  }
  const AsEnrolled enrolled = AccountAsEnrolled(kind, functions);
  // Checked now, on the account it will be, so that a code never fails at
  // registration.
  store::AccountRecord future;
  future.set_kind(enrolled.kind);
  absl::StatusOr<bool> checked = ApplyFunctionChange(enrolled.grant, "enrollment", 0, &future);
  if (!checked.ok()) return checked.status();
  store::EnrollmentCodeRecord record;
  record.set_display_name(display_name);
  record.set_kind(enrolled.kind);
  for (int f : future.functions()) record.add_functions(f);
  auto txn = db_->Begin();
  return IssueCode(*txn, std::move(record), ttl);
}

absl::StatusOr<IssuedCode> AccountRegistry::IssueLinkCode(const store::DeviceRef& by,
                                                          absl::Duration ttl,
                                                          const v1::LinkDeviceRequest& request) {
  if (ttl <= absl::ZeroDuration() || ttl > kMaxLinkTtl) {
    return absl::InvalidArgumentError("a link code must expire within one hour");
  }
  // The secret sits in a file; the identity key is what the passphrase
  // protects. Asking for its signature keeps a stolen secret from adding a
  // device that would then read everything sent to the account.
  if (request.identity_signature().empty()) {
    return absl::UnauthenticatedError(
        "linking a device needs a signature by this device's identity key; the device secret "
        "alone is not enough (unlock the profile with its passphrase, or update the client)");
  }
  const int64_t now_s = clock_->NowMs() / 1000;
  const int64_t skew = request.issued_at_unix() - now_s;
  if (skew > kLinkRequestMaxSkewSeconds || skew < -kLinkRequestMaxSkewSeconds) {
    return absl::UnauthenticatedError(
        absl::StrCat("the link request is dated ", request.issued_at_unix(),
                     " but the server's clock says ", now_s, " (Unix seconds); it must be within ",
                     kLinkRequestMaxSkewSeconds, " s: check this computer's clock"));
  }
  absl::StatusOr<store::DeviceRecord> caller = accounts_.GetDevice(by);
  if (!caller.ok()) return caller.status();
  absl::Status proof =
      VerifyIdentitySignature(caller->identity_key(),
                              LinkDeviceStatement(by.account.Hex(), by.device_id,
                                                  request.issued_at_unix(), request.ttl_seconds()),
                              request.identity_signature());
  if (!proof.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("linking a device: ", proof.message(),
                     "; only a device holding its identity key can link another"));
  }
  // The account's lock makes two requests at once count each other.
  auto txn = db_->Begin();
  absl::StatusOr<store::AccountRecord> account = accounts_.GetAccountForUpdate(*txn, by.account);
  if (!account.ok()) return account.status();
  absl::StatusOr<int> open = accounts_.CountOpenLinkCodes(by.account, clock_->NowMs());
  if (!open.ok()) return open.status();
  if (static_cast<size_t>(*open) >= limits_.max_open_link_codes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this account already has ", *open, " unused link codes that have not expired (at most ",
        limits_.max_open_link_codes, "); use one, or wait until they expire (an hour at most)"));
  }
  store::EnrollmentCodeRecord record;
  record.set_display_name(account->display_name());
  record.set_kind(account->kind());
  record.set_link_account_id(std::string(by.account.Bytes()));
  return IssueCode(*txn, std::move(record), ttl);
}

absl::StatusOr<Registration> AccountRegistry::Register(const v1::RegisterRequest& request,
                                                       const std::string& client_address) {
  absl::Status s = registrations_.Take(client_address);
  if (!s.ok()) return s;
  s = CheckRegistrationKeys(request, limits_);
  if (!s.ok()) return s;
  const int64_t now = clock_->NowMs();

  auto txn = db_->Begin();
  absl::StatusOr<store::EnrollmentCodeRecord> code =
      accounts_.GetCodeForUpdate(*txn, HashCode(request.code()));
  if (absl::IsNotFound(code.status())) {
    return absl::NotFoundError("unknown enrollment code; check it or ask for a new one");
  }
  if (!code.ok()) return code.status();
  if (code->used_at_ms() != 0) {
    return absl::FailedPreconditionError("this code has already been used; ask for a new one");
  }
  if (code->expires_at_ms() < now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this code expired at ", absl::FormatTime(absl::FromUnixMillis(code->expires_at_ms())),
        "; ask for a new one"));
  }

  store::AccountRecord account;
  if (code->link_account_id().empty()) {
    account.set_account_id(std::string(store::AccountId::Random().Bytes()));
    account.set_display_name(code->display_name());
    account.set_next_device_id(1);
    account.set_created_at_ms(now);
    // A code issued before functions may still carry a legacy kind.
    std::vector<v1::Function> functions;
    for (int f : code->functions()) functions.push_back(static_cast<v1::Function>(f));
    const AsEnrolled enrolled =
        AccountAsEnrolled(static_cast<v1::AccountKind>(code->kind()), std::move(functions));
    account.set_kind(enrolled.kind);
    absl::StatusOr<bool> granted = ApplyFunctionChange(enrolled.grant, "enrollment", now, &account);
    if (!granted.ok()) return granted.status();
  } else {
    absl::StatusOr<store::AccountId> id = store::AccountId::FromBytes(code->link_account_id());
    if (!id.ok()) return absl::DataLossError("store: malformed link code");
    absl::StatusOr<store::AccountRecord> existing = accounts_.GetAccountForUpdate(*txn, *id);
    if (!existing.ok()) return existing.status();
    account = *std::move(existing);
    absl::StatusOr<std::vector<store::DeviceRecord>> active = ActiveDevices(*id);
    if (!active.ok()) return active.status();
    if (active->size() >= limits_.max_devices_per_account) {
      return absl::FailedPreconditionError(absl::StrCat("the account already has ", active->size(),
                                                        " devices, the maximum; revoke one first"));
    }
  }
  absl::StatusOr<store::AccountId> account_id = store::AccountId::FromBytes(account.account_id());
  if (!account_id.ok()) return account_id.status();

  Registration result;
  result.device = {*account_id, account.next_device_id()};
  result.secret = RandomBytes(kSecretBytes);
  result.display_name = account.display_name();
  result.kind = static_cast<v1::AccountKind>(account.kind());
  for (int f : account.functions()) result.functions.push_back(static_cast<v1::Function>(f));
  account.set_next_device_id(account.next_device_id() + 1);

  store::DeviceRecord device;
  device.set_device_id(result.device.device_id);
  device.set_name(request.device_name());
  device.set_registration_id(request.registration_id());
  device.set_identity_key(request.identity_key());
  device.set_secret_hash(Sha256(result.secret));
  device.set_created_at_ms(now);

  store::SignedPrekeyRecord signed_prekey;
  signed_prekey.set_key_id(request.signed_prekey().key_id());
  signed_prekey.set_public_key(request.signed_prekey().public_key());
  signed_prekey.set_signature(request.signed_prekey().signature());

  // A linked device is announced to the account's other devices, in the
  // same transaction: if it was not the person, they see it and revoke it.
  ServerEnvelopes announce(hub_, queues_, now, limits_, ServerShare::kUncapped);
  if (!code->link_account_id().empty()) {
    v1::Alert alert;
    alert.set_kind(v1::Alert::KIND_DEVICE_ADDED);
    alert.set_subject_account_id(account_id->Hex());
    alert.mutable_new_device()->set_account_id(account_id->Hex());
    alert.mutable_new_device()->set_device_id(result.device.device_id);
    alert.set_device_name(request.device_name());
    // The new device is not committed yet, so it is not among the
    // recipients.
    s = QueueAlert(*this, announce, *account_id, alert, now);
    if (!s.ok()) return s;
  }

  code->set_used_at_ms(now);
  s = accounts_.PutCode(*txn, HashCode(request.code()), *code);
  if (s.ok()) s = accounts_.PutAccount(*txn, account);
  if (s.ok()) s = accounts_.PutDevice(*txn, *account_id, device);
  if (s.ok()) s = prekeys_.PutSignedPrekey(*txn, result.device, signed_prekey);
  for (const auto& k : request.one_time_prekeys()) {
    if (s.ok()) s = prekeys_.PutOneTimePrekey(*txn, result.device, k.key_id(), k.public_key());
  }
  if (s.ok()) s = announce.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  announce.Publish();
  device_generation_.fetch_add(1, std::memory_order_release);
  return result;
}

absl::StatusOr<store::DeviceRef> AccountRegistry::Authenticate(absl::string_view account_hex,
                                                               absl::string_view device_id,
                                                               absl::string_view secret) const {
  const auto denied = [] {
    return absl::UnauthenticatedError(
        "unknown device or wrong secret; register this device again or check the profile");
  };
  absl::StatusOr<store::AccountId> account = store::AccountId::FromHex(account_hex);
  uint32_t id = 0;
  if (!account.ok() || !absl::SimpleAtoi(device_id, &id) || id == 0) return denied();
  const store::DeviceRef ref{*account, id};
  const std::string hash = Sha256(secret);
  const auto matches = [&hash](const std::string& stored) {
    return stored.size() == hash.size() &&
           CRYPTO_memcmp(hash.data(), stored.data(), hash.size()) == 0;
  };
  uint64_t revocations;
  {
    absl::MutexLock lock(&auth_mu_);
    auto it = auth_cache_.find(ref);
    if (it != auth_cache_.end()) {
      if (matches(it->second)) return ref;
      return denied();
    }
    revocations = revocations_;
  }
  absl::StatusOr<store::DeviceRecord> device = accounts_.GetDevice(ref);
  if (!device.ok()) {
    if (absl::IsNotFound(device.status())) return denied();
    return device.status();
  }
  if (!matches(device->secret_hash())) return denied();
  if (device->revoked()) {
    return absl::UnauthenticatedError("this device has been revoked; register it again");
  }
  absl::MutexLock lock(&auth_mu_);
  // A revocation since the read may concern this device: do not cache.
  if (revocations == revocations_) {
    if (auth_cache_.size() >= kMaxCachedDevices) auth_cache_.clear();
    auth_cache_.emplace(ref, device->secret_hash());
  }
  return ref;
}

absl::StatusOr<store::AccountRecord> AccountRegistry::ChangeFunctions(
    const store::AccountId& account, const FunctionChange& change) {
  auto txn = db_->Begin();
  absl::StatusOr<store::AccountRecord> record = accounts_.GetAccountForUpdate(*txn, account);
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(absl::StrCat("no account ", account.Hex()));
  }
  if (!record.ok()) return record.status();
  absl::StatusOr<bool> changed =
      ApplyFunctionChange(change, "administrator", clock_->NowMs(), &*record);
  if (!changed.ok()) return changed.status();
  if (!*changed) return record;
  absl::Status s = accounts_.PutAccount(*txn, *record);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return record;
}

absl::StatusOr<AccountRegistry::RosterChange> AccountRegistry::ChangeRoster(
    const store::AccountId& organisation, const store::AccountId& staff,
    v1::ChangeRosterRequest::Action action) {
  if (action == v1::ChangeRosterRequest::ACTION_UNSPECIFIED ||
      !v1::ChangeRosterRequest::Action_IsValid(action)) {
    return absl::InvalidArgumentError(
        "a roster change needs an action: add, remove, on or off duty");
  }
  if (organisation == staff) {
    return absl::FailedPreconditionError("an organisation is not on its own roster");
  }
  auto txn = db_->Begin();
  // In id order, so that two changes of the same two accounts cannot wait
  // on each other.
  const bool org_first = organisation.Bytes() < staff.Bytes();
  absl::StatusOr<store::AccountRecord> first =
      accounts_.GetAccountForUpdate(*txn, org_first ? organisation : staff);
  absl::StatusOr<store::AccountRecord> second =
      first.ok() ? accounts_.GetAccountForUpdate(*txn, org_first ? staff : organisation) : first;
  for (const auto* read : {&first, &second}) {
    if (absl::IsNotFound(read->status())) {
      return absl::NotFoundError(absl::StrCat(
          "no account ", (read == &first) == org_first ? organisation.Hex() : staff.Hex()));
    }
    if (!read->ok()) return read->status();
  }
  store::AccountRecord& org = org_first ? *first : *second;
  store::AccountRecord& person = org_first ? *second : *first;
  if (org.kind() != v1::ACCOUNT_KIND_ORGANISATION) {
    return absl::FailedPreconditionError(
        absl::StrCat("account ", organisation.Hex(),
                     " is not an organisation: only an organisation has a roster"));
  }
  const int kind = person.kind();
  if (kind == v1::ACCOUNT_KIND_PATIENT || kind == v1::ACCOUNT_KIND_CAREGIVER ||
      kind == v1::ACCOUNT_KIND_ORGANISATION) {
    return absl::FailedPreconditionError(
        absl::StrCat("account ", staff.Hex(),
                     " is a patient, caregiver or organisation account: only staff "
                     "accounts go on a roster"));
  }
  auto entry = std::find_if(
      org.mutable_roster()->begin(), org.mutable_roster()->end(),
      [&](const store::RosterEntryRecord& e) { return e.account_id() == staff.Bytes(); });
  const bool listed = entry != org.mutable_roster()->end();
  RosterChange out;
  switch (action) {
    case v1::ChangeRosterRequest::ACTION_ADD: {
      if (listed) {
        return absl::FailedPreconditionError(
            absl::StrCat("account ", staff.Hex(), " is on the roster already"));
      }
      if (static_cast<size_t>(org.roster_size()) >= limits_.max_roster_size) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the roster has its maximum of ", limits_.max_roster_size, " people"));
      }
      store::RosterEntryRecord* added = org.add_roster();
      added->set_account_id(std::string(staff.Bytes()));
      added->set_since_ms(clock_->NowMs());
      person.add_staff_of(std::string(organisation.Bytes()));
      out.changed = true;
      break;
    }
    case v1::ChangeRosterRequest::ACTION_REMOVE: {
      if (!listed) {
        return absl::FailedPreconditionError(
            absl::StrCat("account ", staff.Hex(), " is not on the roster"));
      }
      org.mutable_roster()->erase(entry);
      auto* of = person.mutable_staff_of();
      of->erase(std::remove(of->begin(), of->end(), organisation.Bytes()), of->end());
      out.changed = true;
      break;
    }
    default: {
      if (!listed) {
        return absl::FailedPreconditionError(
            absl::StrCat("account ", staff.Hex(), " is not on the roster: add them first"));
      }
      const bool on = action == v1::ChangeRosterRequest::ACTION_ON_DUTY;
      out.changed = entry->on_duty() != on;
      entry->set_on_duty(on);
      break;
    }
  }
  if (out.changed) {
    absl::Status s = accounts_.PutAccount(*txn, org);
    if (s.ok()) s = accounts_.PutAccount(*txn, person);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) return s;
    device_generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  out.organisation = std::move(org);
  return out;
}

absl::StatusOr<std::vector<store::AccountId>> AccountRegistry::StaffOnDuty(
    const store::AccountId& organisation) const {
  absl::StatusOr<store::AccountRecord> org = accounts_.GetAccount(organisation);
  if (!org.ok()) return org.status();
  std::vector<store::AccountId> out;
  for (const store::RosterEntryRecord& e : org->roster()) {
    if (!e.on_duty()) continue;
    auto id = store::AccountId::FromBytes(e.account_id());
    if (!id.ok()) return id.status();
    out.push_back(*id);
  }
  return out;
}

absl::StatusOr<std::vector<store::AccountRecord>> AccountRegistry::AccountsWithFunctions() const {
  std::vector<store::AccountRecord> out;
  absl::Status s = accounts_.ForEachAccount([&](const store::AccountRecord& a) {
    if (a.functions_size() > 0 || a.function_changes_size() > 0) out.push_back(a);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<store::AccountId>> AccountRegistry::AccountsWith(
    v1::Function function) const {
  std::vector<store::AccountId> out;
  absl::Status s = accounts_.ForEachAccount([&](const store::AccountRecord& a) {
    auto id = store::AccountId::FromBytes(a.account_id());
    if (id.ok() && HasFunction(a, function)) out.push_back(*id);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int> AccountRegistry::MigrateLegacyKinds() {
  std::vector<store::AccountId> legacy;
  absl::Status s = accounts_.ForEachAccount([&](const store::AccountRecord& a) {
    auto id = store::AccountId::FromBytes(a.account_id());
    if (id.ok() && FromLegacyKind(static_cast<v1::AccountKind>(a.kind())).function !=
                       v1::FUNCTION_UNSPECIFIED) {
      legacy.push_back(*id);
    }
    return true;
  });
  if (!s.ok()) return s;
  int migrated = 0;
  for (const store::AccountId& id : legacy) {
    auto txn = db_->Begin();
    absl::StatusOr<store::AccountRecord> record = accounts_.GetAccountForUpdate(*txn, id);
    if (!record.ok()) return record.status();
    const AsEnrolled now = AccountAsEnrolled(static_cast<v1::AccountKind>(record->kind()), {});
    if (now.grant.grant.empty()) continue;  // migrated meanwhile
    // The kind first, as if it had always been: ApplyFunctionChange refuses
    // a legacy kind, and STAFF is no change of profession to log.
    record->set_kind(now.kind);
    absl::StatusOr<bool> changed =
        ApplyFunctionChange(now.grant, "migration", clock_->NowMs(), &*record);
    if (!changed.ok()) return changed.status();
    s = accounts_.PutAccount(*txn, *record);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) return s;
    ++migrated;
  }
  return migrated;
}

absl::StatusOr<store::AccountRecord> AccountRegistry::GetAccount(
    const store::AccountId& account) const {
  return accounts_.GetAccount(account);
}

absl::StatusOr<std::vector<store::DeviceRecord>> AccountRegistry::AllDevices(
    const store::AccountId& account) const {
  absl::StatusOr<store::AccountRecord> record = accounts_.GetAccount(account);
  if (!record.ok()) return record.status();
  return accounts_.ListDevices(account);
}

bool AccountRegistry::IsActive(const store::DeviceRef& device) const {
  absl::StatusOr<store::DeviceRecord> record = accounts_.GetDevice(device);
  return record.ok() && !record->revoked();
}

absl::StatusOr<std::vector<store::DeviceRecord>> AccountRegistry::ActiveDevices(
    const store::AccountId& account) const {
  absl::StatusOr<std::vector<store::DeviceRecord>> all = AllDevices(account);
  if (!all.ok()) return all.status();
  std::vector<store::DeviceRecord> active;
  for (auto& d : *all) {
    if (!d.revoked()) active.push_back(std::move(d));
  }
  return active;
}

absl::Status AccountRegistry::RevokeDevice(const store::DeviceRef& by, uint32_t device_id) {
  store::DeviceRef target{by.account, device_id};
  auto txn = db_->Begin();
  // Locking the account serializes revocation with linking.
  absl::StatusOr<store::AccountRecord> account = accounts_.GetAccountForUpdate(*txn, by.account);
  if (!account.ok()) return account.status();
  absl::StatusOr<store::DeviceRecord> device = accounts_.GetDevice(target);
  if (absl::IsNotFound(device.status()) || (device.ok() && device->revoked())) {
    return absl::NotFoundError(absl::StrCat("no active device ", device_id, " on this account"));
  }
  if (!device.ok()) return device.status();
  device->set_revoked(true);
  device->set_revoked_at_ms(clock_->NowMs());
  absl::Status s = accounts_.PutDevice(*txn, by.account, *device);
  if (s.ok()) s = prekeys_.DeleteDevice(*txn, target);
  if (s.ok()) s = queues_->DeleteDevice(*txn, target);
  if (s.ok()) s = receipts_.DeleteSender(*txn, target);
  if (s.ok()) s = send_keys_.DeleteDevice(*txn, target);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&auth_mu_);
    ++revocations_;
    auth_cache_.erase(target);
  }
  device_generation_.fetch_add(1, std::memory_order_release);
  queues_->ForgetDepth(target);
  hub_->Disconnect(target, absl::UnauthenticatedError("this device has been revoked"));
  return absl::OkStatus();
}

absl::StatusOr<int> AccountRegistry::DeleteExpiredCodes() {
  return accounts_.DeleteExpiredCodes(clock_->NowMs());
}

}  // namespace carerelay::core
