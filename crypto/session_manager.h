// SessionManager: pairwise end-to-end sessions (X3DH + Double Ratchet) between
// this device and other devices, one session per remote Address.
//
// Typical flow, per recipient device:
//   if (!HasSession(a)) ProcessPreKeyBundle(a, bundle fetched from the server);
//   Encrypt(a, padded plaintext) -> kPreKey until the peer has answered, then
//   kWhisper; the receiving side calls Decrypt with the envelope's type.
// Plaintexts should be padded first (content_codec.h / padding.h): the
// ciphertext length reveals the plaintext length otherwise.
//
// Identity keys are pinned on first use (see ProfileStore). Sending to a
// device whose identity key changed is refused, not just receiving:
// Encrypt fails with FailedPrecondition while the device's pin has a pending
// changed key, until the user accepts it (ProfileStore::TrustIdentity).
//
// Errors (every method; see signal_status.h for the full table):
//   InvalidArgument     malformed address, bundle, key or ciphertext; a
//                       tampered or corrupt message
//   NotFound            no session with the address (fetch its bundle); or a
//                       PreKey message for a one-time prekey already used
//   FailedPrecondition  untrusted (changed) identity key
//   AlreadyExists       duplicate message (already decrypted): drop it
//   DataLoss            a stored record failed to decrypt or parse
//   Internal            RocksDB, OpenSSL or libsignal failed
// A failed Decrypt leaves the stored session unchanged.
//
// Thread-safety: thread-safe; every call holds the profile's mutex.
// Ownership: borrows the ProfileStore, which must outlive it.

#ifndef CARERELAY_CRYPTO_SESSION_MANAGER_H_
#define CARERELAY_CRYPTO_SESSION_MANAGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/address.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"

namespace carerelay::crypto {

// The two pairwise ciphertext kinds. Map them to the envelope type
// (ENVELOPE_TYPE_PREKEY_MESSAGE / ENVELOPE_TYPE_CIPHERTEXT, messages.proto).
enum class MessageType {
  kPreKey,   // PreKeySignalMessage: also carries what the peer needs to build
             // the session; sent until the peer's first reply arrives
  kWhisper,  // SignalMessage: within an established session
};

struct EncryptedMessage {
  MessageType type = MessageType::kWhisper;
  std::string ciphertext;  // libsignal serialized, opaque to the server
};

// A remote device's prekey bundle as the server returns it (keys.proto,
// PrekeyBundle), with the keys as serialized public keys (33 bytes).
struct PreKeyBundle {
  uint32_t registration_id = 0;
  uint32_t device_id = 0;
  std::string identity_key;
  uint32_t signed_prekey_id = 0;
  std::string signed_prekey;
  std::string signed_prekey_signature;
  std::optional<PublicPreKey> one_time_prekey;  // absent when the stock is empty
};

class SessionManager {
 public:
  explicit SessionManager(ProfileStore* store);

  // Builds a new session with `address` from its bundle (replacing any
  // existing one, which is archived so late messages on it still decrypt).
  // Verifies the signed prekey's signature (InvalidArgument if bad) and the
  // identity key against the pin (FailedPrecondition if it changed; the new
  // key is then recorded as the pin's changed_key). Pins the key on first use.
  // bundle.device_id must equal address.device_id.
  absl::Status ProcessPreKeyBundle(const Address& address, const PreKeyBundle& bundle);

  absl::StatusOr<bool> HasSession(const Address& address);

  // Encrypts `plaintext` for `address`. NotFound without a session;
  // FailedPrecondition if the address's identity changed and is not accepted.
  absl::StatusOr<EncryptedMessage> Encrypt(const Address& address, absl::string_view plaintext);

  // Decrypts a message from `address`. A kPreKey message builds the session
  // if needed (consuming the one-time prekey it names); a kWhisper message
  // needs an existing session. Messages may arrive out of order within the
  // ratchet; each decrypts once (AlreadyExists the second time).
  absl::StatusOr<std::string> Decrypt(const Address& address, MessageType type,
                                      absl::string_view ciphertext);

  // Deletes the session with `address` (to reset it: the next Encrypt needs
  // a new bundle). OK if there was none.
  absl::Status DeleteSession(const Address& address);
  // Deletes the sessions with every device of `account_id`; returns how many.
  absl::StatusOr<int> DeleteAllSessions(absl::string_view account_id);
  // Device ids of `account_id` with which a session exists, ascending.
  absl::StatusOr<std::vector<uint32_t>> DevicesWithSessions(absl::string_view account_id);
  // The registration id the peer announced when the session was built (the
  // server uses it to detect a re-installed device). NotFound without session.
  absl::StatusOr<uint32_t> RemoteRegistrationId(const Address& address);

 private:
  // Refuses to send to an address whose identity changed (see class comment).
  absl::Status CheckSendingTrust(const Address& address);
  // Maps a libsignal failure, preferring a storage error if one occurred.
  absl::Status Failure(int code, absl::string_view what);

  ProfileStore* store_;  // not owned
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_SESSION_MANAGER_H_
