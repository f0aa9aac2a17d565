#include "server/core/prekey_directory.h"

#include "absl/strings/str_cat.h"
#include "server/core/key_material.h"

namespace carerelay::core {
namespace {

absl::StatusOr<store::DeviceRecord> FindActive(const AccountRegistry& accounts,
                                               const store::DeviceRef& device) {
  absl::StatusOr<std::vector<store::DeviceRecord>> active = accounts.ActiveDevices(device.account);
  if (!active.ok()) return active.status();
  for (auto& d : *active) {
    if (d.device_id() == device.device_id) return std::move(d);
  }
  return absl::NotFoundError(absl::StrCat("no active device ", device.device_id));
}

}  // namespace

PrekeyDirectory::PrekeyDirectory(store::Database* db, const AccountRegistry* accounts,
                                 const ContactPolicy* contacts, const Clock* clock,
                                 const Limits& limits)
    : db_(db),
      accounts_(accounts),
      contacts_(contacts),
      limits_(limits),
      fetches_(clock, "prekey bundle fetches for this account",
               limits.prekey_fetches_per_hour / 3600.0, limits.prekey_fetches_per_hour),
      prekeys_(db) {}

absl::Status PrekeyDirectory::SetSignedPrekey(const store::DeviceRef& device,
                                              const v1::SignedPrekey& prekey) {
  absl::StatusOr<store::DeviceRecord> record = FindActive(*accounts_, device);
  if (!record.ok()) return record.status();
  absl::Status s =
      VerifyPrekeySignature(record->identity_key(), prekey.public_key(), prekey.signature());
  if (!s.ok()) return s;
  store::SignedPrekeyRecord stored;
  stored.set_key_id(prekey.key_id());
  stored.set_public_key(prekey.public_key());
  stored.set_signature(prekey.signature());
  auto txn = db_->Begin();
  s = prekeys_.PutSignedPrekey(*txn, device, stored);
  if (!s.ok()) return s;
  return txn->Commit();
}

absl::StatusOr<uint32_t> PrekeyDirectory::AddOneTimePrekeys(
    const store::DeviceRef& device,
    const google::protobuf::RepeatedPtrField<v1::OneTimePrekey>& prekeys) {
  if (prekeys.empty()) return absl::InvalidArgumentError("no prekeys given");
  if (prekeys.size() > static_cast<int>(limits_.max_prekeys_per_upload)) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", limits_.max_prekeys_per_upload,
                                                   " one-time prekeys per upload, got ",
                                                   prekeys.size()));
  }
  for (const auto& k : prekeys) {
    absl::Status s = CheckPublicKey(k.public_key(), "one-time prekey");
    if (!s.ok()) return s;
  }
  // Counted and written under the device's stripe: two uploads at once
  // must not both fit under the limit that only one fits under.
  absl::MutexLock lock(&upload_stripes_[absl::HashOf(device) % kUploadStripes]);
  absl::StatusOr<uint32_t> stock = prekeys_.CountOneTimePrekeys(device);
  if (!stock.ok()) return stock.status();
  if (*stock + prekeys.size() > limits_.max_prekey_stock) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the device holds ", *stock, " one-time prekeys; adding ", prekeys.size(),
                     " would pass the limit of ", limits_.max_prekey_stock));
  }
  auto txn = db_->Begin();
  for (const auto& k : prekeys) {
    absl::Status s = prekeys_.PutOneTimePrekey(*txn, device, k.key_id(), k.public_key());
    if (!s.ok()) return s;
  }
  absl::Status s = txn->Commit();
  if (!s.ok()) return s;
  return prekeys_.CountOneTimePrekeys(device);
}

absl::StatusOr<uint32_t> PrekeyDirectory::CountOneTimePrekeys(
    const store::DeviceRef& device) const {
  return prekeys_.CountOneTimePrekeys(device);
}

absl::StatusOr<v1::GetPrekeyBundlesResponse> PrekeyDirectory::GetBundles(
    const store::DeviceRef& requester, const store::AccountId& account, uint32_t device_id) {
  absl::StatusOr<std::vector<store::DeviceRecord>> devices = accounts_->ActiveDevices(account);
  if (!devices.ok()) return devices.status();
  if (requester.account != account) {
    absl::Status s = contacts_->MayMessage(requester.account, account);
    if (!s.ok()) return s;
    s = fetches_.Take(absl::StrCat(requester.account.Hex(), ">", account.Hex()));
    if (!s.ok()) return s;
  }
  v1::GetPrekeyBundlesResponse response;
  response.set_account_id(account.Hex());
  auto txn = db_->Begin();
  for (const auto& d : *devices) {
    if (device_id != 0 && d.device_id() != device_id) continue;
    store::DeviceRef ref{account, d.device_id()};
    absl::StatusOr<store::SignedPrekeyRecord> signed_prekey = prekeys_.GetSignedPrekey(ref);
    if (!signed_prekey.ok()) return signed_prekey.status();
    v1::PrekeyBundle* bundle = response.add_bundles();
    bundle->set_device_id(d.device_id());
    bundle->set_registration_id(d.registration_id());
    bundle->set_identity_key(d.identity_key());
    bundle->mutable_signed_prekey()->set_key_id(signed_prekey->key_id());
    bundle->mutable_signed_prekey()->set_public_key(signed_prekey->public_key());
    bundle->mutable_signed_prekey()->set_signature(signed_prekey->signature());
    auto one_time = prekeys_.TakeOneTimePrekey(*txn, ref);
    if (one_time.ok()) {
      bundle->mutable_one_time_prekey()->set_key_id(one_time->first);
      bundle->mutable_one_time_prekey()->set_public_key(one_time->second);
    } else if (!absl::IsNotFound(one_time.status())) {
      return one_time.status();
    }
  }
  if (device_id != 0 && response.bundles_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no active device ", device_id, " on this account"));
  }
  // Taken prekeys are deleted only if the bundles are handed out.
  absl::Status s = txn->Commit();
  if (!s.ok()) return s;
  return response;
}

}  // namespace carerelay::core
