#include "crypto/session_manager.h"

#include <signal/curve.h>
#include <signal/protocol.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>
#include <signal/session_record.h>
#include <signal/session_state.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "crypto/signal_ptr.h"
#include "crypto/signal_status.h"

namespace carerelay::crypto {
namespace {

absl::StatusOr<SignalRef<ec_public_key>> DecodePublicKey(absl::string_view bytes,
                                                         absl::string_view what,
                                                         signal_context* context) {
  SignalRef<ec_public_key> key;
  if (bytes.empty() || curve_decode_point(Out(key), Bytes(bytes), bytes.size(), context) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a serialized public key (33 bytes, type 0x05)"));
  }
  return key;
}

}  // namespace

SessionManager::SessionManager(ProfileStore* store) : store_(store) {}

absl::Status SessionManager::Failure(int code, absl::string_view what) {
  const std::string detail = store_->signal().TakeLastLog();
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) {
    return absl::Status(stored.code(), absl::StrCat(what, ": ", stored.message()));
  }
  return SignalError(code, what, detail);
}

absl::Status SessionManager::ProcessPreKeyBundle(const Address& address,
                                                 const PreKeyBundle& bundle) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  if (bundle.device_id != address.device_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle is for device ", bundle.device_id, ", not for ", address.ToString()));
  }
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  signal_context* context = store_->signal_context_ptr();
  const std::string who = absl::StrCat("prekey bundle of ", address.ToString());
  int rc = 0;
  absl::StatusOr<SignalRef<ec_public_key>> identity =
      DecodePublicKey(bundle.identity_key, absl::StrCat(who, ": identity key"), context);
  if (!identity.ok()) return identity.status();
  absl::StatusOr<SignalRef<ec_public_key>> signed_prekey =
      DecodePublicKey(bundle.signed_prekey, absl::StrCat(who, ": signed prekey"), context);
  if (!signed_prekey.ok()) return signed_prekey.status();
  SignalRef<ec_public_key> one_time_prekey;
  uint32_t one_time_prekey_id = 0;
  if (bundle.one_time_prekey.has_value()) {
    absl::StatusOr<SignalRef<ec_public_key>> decoded = DecodePublicKey(
        bundle.one_time_prekey->public_key, absl::StrCat(who, ": one-time prekey"), context);
    if (!decoded.ok()) return decoded.status();
    one_time_prekey = *std::move(decoded);
    one_time_prekey_id = bundle.one_time_prekey->key_id;
  }
  // libsignal checks the identity against the pin before the signature, so
  // a bundle that does not even verify under its own identity key would be
  // recorded as an identity change. Reject it first.
  SignalBuffer signed_bytes;  // what was signed: the serialized public key
  rc = ec_public_key_serialize(Out(signed_bytes), signed_prekey->get());
  if (rc < 0) return SignalError(rc, who);
  if (curve_verify_signature(identity->get(), signal_buffer_const_data(signed_bytes.get()),
                             signal_buffer_len(signed_bytes.get()),
                             Bytes(bundle.signed_prekey_signature),
                             bundle.signed_prekey_signature.size()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": the signed prekey's signature does not verify under the identity key"));
  }

  SignalRef<session_pre_key_bundle> signal_bundle;
  rc = session_pre_key_bundle_create(Out(signal_bundle), bundle.registration_id,
                                     static_cast<int>(bundle.device_id), one_time_prekey_id,
                                     one_time_prekey.get(), bundle.signed_prekey_id,
                                     signed_prekey->get(), Bytes(bundle.signed_prekey_signature),
                                     bundle.signed_prekey_signature.size(), identity->get());
  if (rc < 0) return SignalError(rc, who);

  store_->ClearErrors();
  const signal_protocol_address signal_address = ToSignalAddress(address);
  SessionBuilderPtr builder;
  rc = session_builder_create(Out(builder), store_->store_context(), &signal_address, context);
  if (rc < 0) return Failure(rc, who);
  rc = session_builder_process_pre_key_bundle(builder.get(), signal_bundle.get());
  if (rc < 0) return Failure(rc, absl::StrCat("session with ", address.ToString(), " from ", who));
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  return absl::OkStatus();
}

absl::StatusOr<bool> SessionManager::HasSession(const Address& address) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const signal_protocol_address signal_address = ToSignalAddress(address);
  const int rc = signal_protocol_session_contains_session(store_->store_context(), &signal_address);
  if (rc < 0) return Failure(rc, absl::StrCat("look up session with ", address.ToString()));
  return rc == 1;
}

absl::Status SessionManager::CheckSendingTrust(const Address& address) {
  absl::StatusOr<IdentityPin> pin = store_->PinnedIdentity(address);
  if (!pin.ok()) {
    // A session always comes with a pin; without one there is nothing to
    // compare, and libsignal checked the key when the session was built.
    if (absl::IsNotFound(pin.status())) return absl::OkStatus();
    return pin.status();
  }
  if (!pin->changed_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("untrusted identity: the identity key of ", address.ToString(),
                     " has changed; refusing to send until the user verifies the safety number and "
                     "accepts the new key (TrustIdentity)"));
  }
  // The session must be with the key the user trusts (the Java client checks
  // the same on every send).
  SignalRef<session_record> record;
  const signal_protocol_address signal_address = ToSignalAddress(address);
  int rc =
      signal_protocol_session_load_session(store_->store_context(), Out(record), &signal_address);
  if (rc < 0) return Failure(rc, absl::StrCat("load session with ", address.ToString()));
  session_state* state = session_record_get_state(record.get());
  ec_public_key* remote = state != nullptr ? session_state_get_remote_identity_key(state) : nullptr;
  if (remote == nullptr) {
    return absl::NotFoundError(absl::StrCat("no session with ", address.ToString()));
  }
  SignalBuffer serialized;
  rc = ec_public_key_serialize(Out(serialized), remote);
  if (rc < 0) return Failure(rc, "serialize remote identity key");
  if (BufferToString(serialized.get()) != pin->trusted_key) {
    return absl::FailedPreconditionError(absl::StrCat(
        "untrusted identity: the session with ", address.ToString(),
        " was built on an identity key that is no longer the trusted one; process a new "
        "prekey bundle"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EncryptedMessage> SessionManager::Encrypt(const Address& address,
                                                         absl::string_view plaintext) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  absl::StatusOr<bool> has_session = HasSession(address);
  if (!has_session.ok()) return has_session.status();
  if (!*has_session) {
    return absl::NotFoundError(absl::StrCat("no session with ", address.ToString(),
                                            ": fetch its prekey bundle (ProcessPreKeyBundle)"));
  }
  if (absl::Status s = CheckSendingTrust(address); !s.ok()) return s;

  store_->ClearErrors();
  const std::string what = absl::StrCat("encrypt for ", address.ToString());
  const signal_protocol_address signal_address = ToSignalAddress(address);
  SessionCipherPtr cipher;
  int rc = session_cipher_create(Out(cipher), store_->store_context(), &signal_address,
                                 store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  SignalRef<ciphertext_message> message;
  rc = session_cipher_encrypt(cipher.get(), Bytes(plaintext), plaintext.size(), Out(message));
  if (rc < 0) return Failure(rc, what);
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;

  EncryptedMessage result;
  switch (ciphertext_message_get_type(message.get())) {
    case CIPHERTEXT_PREKEY_TYPE:
      result.type = MessageType::kPreKey;
      break;
    case CIPHERTEXT_SIGNAL_TYPE:
      result.type = MessageType::kWhisper;
      break;
    default:
      return absl::InternalError(absl::StrCat(what, ": unexpected ciphertext type ",
                                              ciphertext_message_get_type(message.get())));
  }
  result.ciphertext = BufferToString(ciphertext_message_get_serialized(message.get()));
  return result;
}

absl::StatusOr<std::string> SessionManager::Decrypt(const Address& address, MessageType type,
                                                    absl::string_view ciphertext) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  if (ciphertext.empty()) return absl::InvalidArgumentError("empty ciphertext");
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  signal_context* context = store_->signal_context_ptr();
  const std::string what = absl::StrCat(
      "decrypt ", type == MessageType::kPreKey ? "PreKeySignalMessage" : "SignalMessage", " from ",
      address.ToString());
  const signal_protocol_address signal_address = ToSignalAddress(address);
  SessionCipherPtr cipher;
  int rc = session_cipher_create(Out(cipher), store_->store_context(), &signal_address, context);
  if (rc < 0) return Failure(rc, what);

  SignalBuffer plaintext;
  if (type == MessageType::kPreKey) {
    SignalRef<pre_key_signal_message> message;
    rc = pre_key_signal_message_deserialize(Out(message), Bytes(ciphertext), ciphertext.size(),
                                            context);
    if (rc < 0) return Failure(rc, what);
    // libsignal 2.3.3 pins the sender's identity key before it decrypts and
    // keeps the pin if decryption then fails; undo a first-use pin made by a
    // message that turns out to be corrupt or forged.
    absl::StatusOr<IdentityPin> pin_before = store_->PinnedIdentity(address);
    if (!pin_before.ok() && !absl::IsNotFound(pin_before.status())) return pin_before.status();
    rc = session_cipher_decrypt_pre_key_signal_message(cipher.get(), message.get(), nullptr,
                                                       Out(plaintext));
    if (rc < 0 && !pin_before.ok()) {
      absl::Status failure = Failure(rc, what);
      if (absl::Status undo = store_->ForgetIdentity(address); !undo.ok()) return undo;
      return failure;
    }
  } else {
    SignalRef<signal_message> message;
    rc = signal_message_deserialize(Out(message), Bytes(ciphertext), ciphertext.size(), context);
    if (rc < 0) return Failure(rc, what);
    rc =
        session_cipher_decrypt_signal_message(cipher.get(), message.get(), nullptr, Out(plaintext));
  }
  if (rc < 0) return Failure(rc, what);
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  return BufferToString(plaintext.get());
}

absl::Status SessionManager::DeleteSession(const Address& address) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const signal_protocol_address signal_address = ToSignalAddress(address);
  const int rc = signal_protocol_session_delete_session(store_->store_context(), &signal_address);
  if (rc < 0) return Failure(rc, absl::StrCat("delete session with ", address.ToString()));
  return absl::OkStatus();
}

absl::StatusOr<int> SessionManager::DeleteAllSessions(absl::string_view account_id) {
  const std::string name(account_id);
  if (absl::Status s = ValidateAddress(Address{name, 1}); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const int rc = signal_protocol_session_delete_all_sessions(store_->store_context(), name.c_str(),
                                                             name.size());
  if (rc < 0) return Failure(rc, absl::StrCat("delete sessions with ", name));
  return rc;
}

absl::StatusOr<std::vector<uint32_t>> SessionManager::DevicesWithSessions(
    absl::string_view account_id) {
  const std::string name(account_id);
  if (absl::Status s = ValidateAddress(Address{name, 1}); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  SignalIntList list;
  const int rc = signal_protocol_session_get_sub_device_sessions(store_->store_context(), Out(list),
                                                                 name.c_str(), name.size());
  if (rc < 0) return Failure(rc, absl::StrCat("list sessions with ", name));
  std::vector<uint32_t> devices;
  const unsigned int size = list ? signal_int_list_size(list.get()) : 0;
  for (unsigned int i = 0; i < size; ++i) {
    devices.push_back(static_cast<uint32_t>(signal_int_list_at(list.get(), i)));
  }
  std::sort(devices.begin(), devices.end());
  return devices;
}

absl::StatusOr<uint32_t> SessionManager::RemoteRegistrationId(const Address& address) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  absl::StatusOr<bool> has_session = HasSession(address);
  if (!has_session.ok()) return has_session.status();
  if (!*has_session)
    return absl::NotFoundError(absl::StrCat("no session with ", address.ToString()));
  const signal_protocol_address signal_address = ToSignalAddress(address);
  SessionCipherPtr cipher;
  int rc = session_cipher_create(Out(cipher), store_->store_context(), &signal_address,
                                 store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, "session cipher");
  uint32_t registration_id = 0;
  rc = session_cipher_get_remote_registration_id(cipher.get(), &registration_id);
  if (rc < 0) return Failure(rc, absl::StrCat("registration id of ", address.ToString()));
  return registration_id;
}

}  // namespace carerelay::crypto
