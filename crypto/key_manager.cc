#include "crypto/key_manager.h"

#include <openssl/crypto.h>
#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/ratchet.h>
#include <signal/session_pre_key.h>

#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/signal_ptr.h"
#include "crypto/signal_status.h"

namespace carerelay::crypto {
namespace {

uint32_t NextId(uint32_t id) { return id >= KeyManager::kMaxPreKeyId || id == 0 ? 1 : id + 1; }

absl::StatusOr<std::string> SerializePublic(const ec_public_key* key) {
  SignalBuffer buffer;
  if (int rc = ec_public_key_serialize(Out(buffer), key); rc < 0) {
    return SignalError(rc, "serialize public key");
  }
  return BufferToString(buffer.get());
}

// What is uploaded of a signed prekey: id, public key, signature, creation time.
absl::StatusOr<PublicSignedPreKey> PublicPart(const session_signed_pre_key* signed_prekey) {
  PublicSignedPreKey result;
  result.key_id = session_signed_pre_key_get_id(signed_prekey);
  absl::StatusOr<std::string> public_key =
      SerializePublic(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed_prekey)));
  if (!public_key.ok()) return public_key.status();
  result.public_key = *std::move(public_key);
  result.signature.assign(
      reinterpret_cast<const char*>(session_signed_pre_key_get_signature(signed_prekey)),
      session_signed_pre_key_get_signature_len(signed_prekey));
  result.created = absl::FromUnixMillis(
      static_cast<int64_t>(session_signed_pre_key_get_timestamp(signed_prekey)));
  return result;
}

}  // namespace

KeyManager::KeyManager(ProfileStore* store) : store_(store) {}

absl::StatusOr<RegistrationKeys> KeyManager::PrepareRegistration(absl::Time now,
                                                                 int one_time_count) {
  if (one_time_count < 0 || one_time_count > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("one-time prekey count must be in 0..", kMaxBatch));
  }
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  RegistrationKeys keys;
  keys.registration_id = store_->local_identity().registration_id;
  keys.identity_key = store_->local_identity().identity_key;
  absl::StatusOr<PublicSignedPreKey> signed_prekey = CurrentSignedPreKey();
  if (absl::IsNotFound(signed_prekey.status())) signed_prekey = RotateSignedPreKey(now);
  if (!signed_prekey.ok()) return signed_prekey.status();
  keys.signed_prekey = *std::move(signed_prekey);
  if (one_time_count > 0) {
    absl::StatusOr<std::vector<PublicPreKey>> prekeys = GenerateOneTimePreKeys(one_time_count);
    if (!prekeys.ok()) return prekeys.status();
    keys.one_time_prekeys = *std::move(prekeys);
  }
  return keys;
}

absl::StatusOr<PublicSignedPreKey> KeyManager::CurrentSignedPreKey() {
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  absl::StatusOr<PreKeyCounters> counters = store_->LoadPreKeyCounters();
  if (!counters.ok()) return counters.status();
  if (counters->current_signed_prekey_id == 0) {
    return absl::NotFoundError("no signed prekey yet (RotateSignedPreKey creates one)");
  }
  return LoadSignedPreKey(counters->current_signed_prekey_id);
}

absl::StatusOr<PublicSignedPreKey> KeyManager::LoadSignedPreKey(uint32_t id) {
  SignalRef<session_signed_pre_key> signed_prekey;
  int rc = signal_protocol_signed_pre_key_load_key(store_->store_context(), Out(signed_prekey), id);
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  if (rc < 0) return SignalError(rc, absl::StrCat("load signed prekey ", id));
  return PublicPart(signed_prekey.get());
}

absl::StatusOr<PublicSignedPreKey> KeyManager::RotateSignedPreKey(absl::Time now) {
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  absl::StatusOr<PreKeyCounters> counters = store_->LoadPreKeyCounters();
  if (!counters.ok()) return counters.status();
  const uint32_t id = counters->next_signed_prekey_id == 0 ? 1 : counters->next_signed_prekey_id;

  SignalRef<ratchet_identity_key_pair> identity;
  int rc = signal_protocol_identity_get_key_pair(store_->store_context(), Out(identity));
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  if (rc < 0) return SignalError(rc, "load identity key pair");

  const int64_t timestamp_ms = absl::ToUnixMillis(now);
  SignalRef<session_signed_pre_key> signed_prekey;
  rc = signal_protocol_key_helper_generate_signed_pre_key(Out(signed_prekey), identity.get(), id,
                                                          static_cast<uint64_t>(timestamp_ms),
                                                          store_->signal_context_ptr());
  if (rc < 0) return SignalError(rc, "generate signed prekey");
  SignalBuffer record;
  rc = session_signed_pre_key_serialize(Out(record), signed_prekey.get());
  if (rc < 0) return SignalError(rc, "serialize signed prekey");

  PreKeyCounters updated = *counters;
  updated.previous_signed_prekey_id = counters->current_signed_prekey_id;
  updated.current_signed_prekey_id = id;
  updated.next_signed_prekey_id = NextId(id);
  if (absl::Status s = store_->CommitSignedPreKey(
          id,
          absl::string_view(reinterpret_cast<const char*>(signal_buffer_const_data(record.get())),
                            signal_buffer_len(record.get())),
          updated);
      !s.ok()) {
    return s;
  }

  return PublicPart(signed_prekey.get());
}

absl::StatusOr<bool> KeyManager::SignedPreKeyDue(absl::Time now, absl::Duration max_age) {
  absl::StatusOr<PublicSignedPreKey> current = CurrentSignedPreKey();
  if (absl::IsNotFound(current.status())) return true;
  if (!current.ok()) return current.status();
  return now - current->created >= max_age;
}

absl::StatusOr<std::vector<PublicPreKey>> KeyManager::GenerateOneTimePreKeys(int count) {
  if (count < 1 || count > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("one-time prekey batch must be 1..", kMaxBatch, ", got ", count));
  }
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  absl::StatusOr<PreKeyCounters> counters = store_->LoadPreKeyCounters();
  if (!counters.ok()) return counters.status();

  std::vector<std::pair<uint32_t, std::string>> records;
  std::vector<PublicPreKey> result;
  records.reserve(static_cast<size_t>(count));
  result.reserve(static_cast<size_t>(count));
  uint32_t id = counters->next_one_time_prekey_id == 0 ? 1 : counters->next_one_time_prekey_id;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    // After a wrap-around, skip ids still held (uploaded, never used).
    for (int guard = 0; guard < kMaxBatch * 2; ++guard) {
      const int held = signal_protocol_pre_key_contains_key(store_->store_context(), id);
      if (held <= 0) break;
      id = NextId(id);
    }
    SignalRef<ec_key_pair> key_pair;
    int rc = curve_generate_key_pair(store_->signal_context_ptr(), Out(key_pair));
    if (rc < 0) {
      status = SignalError(rc, "generate one-time prekey");
      break;
    }
    SignalRef<session_pre_key> prekey;
    rc = session_pre_key_create(Out(prekey), id, key_pair.get());
    if (rc < 0) {
      status = SignalError(rc, "create one-time prekey");
      break;
    }
    SignalBuffer record;
    rc = session_pre_key_serialize(Out(record), prekey.get());
    if (rc < 0) {
      status = SignalError(rc, "serialize one-time prekey");
      break;
    }
    absl::StatusOr<std::string> public_key =
        SerializePublic(ec_key_pair_get_public(key_pair.get()));
    if (!public_key.ok()) {
      status = public_key.status();
      break;
    }
    records.emplace_back(id, BufferToString(record.get()));
    result.push_back(PublicPreKey{id, *std::move(public_key)});
    id = NextId(id);
  }
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) status = stored;
  if (status.ok()) status = store_->CommitOneTimePreKeys(records, id);
  // The serialized records hold private keys.
  for (auto& [unused, record] : records) OPENSSL_cleanse(record.data(), record.size());
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<PublicPreKey>> KeyManager::ReplenishOneTimePreKeys(uint32_t server_count,
                                                                              uint32_t threshold,
                                                                              uint32_t target) {
  if (threshold == 0 || threshold > target || target > static_cast<uint32_t>(kMaxBatch)) {
    return absl::InvalidArgumentError(absl::StrCat("need 0 < threshold <= target <= ", kMaxBatch));
  }
  if (server_count >= threshold) return std::vector<PublicPreKey>();
  return GenerateOneTimePreKeys(static_cast<int>(target - server_count));
}

absl::StatusOr<size_t> KeyManager::OneTimePreKeyCount() { return store_->OneTimePreKeyCount(); }

}  // namespace carerelay::crypto
