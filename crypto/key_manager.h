// KeyManager: the lifecycle of this device's prekeys, i.e. what other devices
// need to start a session with it while it is offline (X3DH).
//
//   * one signed prekey at a time, signed by the identity key, rotated on a
//     schedule (RotateSignedPreKey). The previous one is kept so that a
//     PreKeySignalMessage built on it just before the rotation still
//     decrypts; older ones are deleted, which is what gives the signed prekey
//     forward secrecy.
//   * one-time prekeys, generated in batches of at most kMaxBatch (the
//     server's per-call limit), each used by libsignal for one incoming
//     session and then deleted by it. ReplenishOneTimePreKeys tops the
//     server's stock up when it runs low.
//
// Everything returned is PUBLIC material, ready for RegisterRequest,
// SetSignedPrekeyRequest and AddOneTimePrekeysRequest (keys.proto,
// accounts.proto). Private parts stay in the ProfileStore.
//
// Crash safety: a batch of keys and the counter that allocates their ids are
// written atomically, so ids are never handed out twice.
//
// Thread-safety: thread-safe (serializes on the profile's mutex).
// Ownership: borrows the ProfileStore, which must outlive it.

#ifndef CARERELAY_CRYPTO_KEY_MANAGER_H_
#define CARERELAY_CRYPTO_KEY_MANAGER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/profile_store.h"

namespace carerelay::crypto {

struct PublicPreKey {
  uint32_t key_id = 0;
  std::string public_key;  // serialized, 33 bytes
};

struct PublicSignedPreKey {
  uint32_t key_id = 0;
  std::string public_key;  // serialized, 33 bytes
  std::string signature;   // XEdDSA by the identity key over public_key, 64 bytes
  absl::Time created;      // millisecond precision (libsignal's timestamp)
};

// Everything a RegisterRequest carries about keys.
struct RegistrationKeys {
  uint32_t registration_id = 0;
  std::string identity_key;  // serialized, 33 bytes
  PublicSignedPreKey signed_prekey;
  std::vector<PublicPreKey> one_time_prekeys;
};

class KeyManager {
 public:
  // The server accepts at most this many one-time prekeys per call.
  static constexpr int kMaxBatch = 100;
  // Prekey ids run 1..kMaxPreKeyId and then wrap; libsignal reserves
  // 0xFFFFFF (PRE_KEY_MEDIUM_MAX_VALUE) to mean "no one-time prekey".
  static constexpr uint32_t kMaxPreKeyId = 0xFFFFFE;

  explicit KeyManager(ProfileStore* store);

  // The keys to register this device: its identity, the current signed
  // prekey (created if there is none yet) and `one_time_count` (0..kMaxBatch)
  // new one-time prekeys. Safe to call again if registration must be retried.
  absl::StatusOr<RegistrationKeys> PrepareRegistration(absl::Time now,
                                                       int one_time_count = kMaxBatch);

  // The signed prekey to advertise. NotFound before the first rotation.
  absl::StatusOr<PublicSignedPreKey> CurrentSignedPreKey();

  // Makes a new signed prekey current, keeps the one it replaces as the
  // previous one, and deletes any older one. Returns the new key, to upload.
  absl::StatusOr<PublicSignedPreKey> RotateSignedPreKey(absl::Time now);

  // Whether the current signed prekey is missing or at least `max_age` old.
  absl::StatusOr<bool> SignedPreKeyDue(absl::Time now, absl::Duration max_age);

  // Generates and stores `count` (1..kMaxBatch) one-time prekeys with fresh
  // ids; returns their public parts, to upload. InvalidArgument otherwise.
  absl::StatusOr<std::vector<PublicPreKey>> GenerateOneTimePreKeys(int count);

  // When the server reports `server_count` one-time prekeys left: nothing if
  // it is at least `threshold`, else enough new keys to bring it back to
  // `target` (at most kMaxBatch). InvalidArgument unless
  // 0 < threshold <= target <= kMaxBatch.
  absl::StatusOr<std::vector<PublicPreKey>> ReplenishOneTimePreKeys(uint32_t server_count,
                                                                    uint32_t threshold = 20,
                                                                    uint32_t target = kMaxBatch);

  // One-time prekeys held locally (uploaded and not yet used by a session).
  absl::StatusOr<size_t> OneTimePreKeyCount();

 private:
  absl::StatusOr<PublicSignedPreKey> LoadSignedPreKey(uint32_t id);

  ProfileStore* store_;  // not owned
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_KEY_MANAGER_H_
