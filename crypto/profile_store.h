// ProfileStore: one client identity's persistent key material and protocol
// state, in its own RocksDB database under a profile directory, so that a
// client process that restarts resumes its sessions where it left them.
//
// It implements libsignal's five stores (identity, one-time prekey, signed
// prekey, session, sender key) over column families of that database, and
// owns the SignalContext and the libsignal store context wired to them.
// SessionManager, GroupManager and KeyManager work through it.
//
// Encryption at rest. A profile is created either encrypted or, explicitly,
// unencrypted:
//   * encrypted (non-empty passphrase): a 256-bit key is derived with scrypt
//     from the passphrase and a random salt kept in the profile; every record
//     value (identity private key, prekeys, signed prekeys, sessions, sender
//     keys, pinned identities, counters, application records) is sealed with
//     AES-256-GCM (at_rest_cipher.h). A verifier record lets Open tell a wrong
//     passphrase from a corrupt profile. What stays in clear: the KDF
//     parameters, and the record keys (contact account ids and device ids,
//     group ids, prekey ids, application record kinds and keys), which
//     RocksDB needs to look records up.
//   * unencrypted (empty passphrase AND allow_unencrypted): for tests and
//     development only; private keys are then on disk in clear.
// The mode is fixed at creation; Open refuses a mismatch rather than guess.
//
// Identity pinning (trust on first use). Remote identity keys are pinned per
// device address. libsignal asks is_trusted_identity before it builds a
// session from a bundle or from an incoming PreKeySignalMessage: an unknown
// address is trusted (and pinned when libsignal saves it), the pinned key is
// trusted, and any other key is refused (libsignal then fails with
// SG_ERR_UNTRUSTED_IDENTITY) and recorded as the address's changed_key so the
// user can be told. TrustIdentity is the user's explicit acceptance.
//
// Durability: with sync_writes (the default) every write is synced to the
// RocksDB WAL before it returns. Losing a session update in a crash would make
// the next encryption reuse a message key, so only benchmarks turn this off.
//
// Thread-safety: all methods are thread-safe. Every public method, and every
// crypto/ operation on the profile, holds mutex() (the SignalContext's
// recursive mutex) for its duration, so operations on one profile serialize.
// Only one ProfileStore may have a directory open at a time (RocksDB's lock;
// a second Open gets FailedPrecondition).
//
// Ownership: the caller owns the ProfileStore; the managers that use it hold a
// plain pointer and must be destroyed first.

#ifndef CARERELAY_CRYPTO_PROFILE_STORE_H_
#define CARERELAY_CRYPTO_PROFILE_STORE_H_

#include <signal/signal_protocol.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/address.h"
#include "crypto/at_rest_cipher.h"
#include "crypto/signal_context.h"
#include "crypto/signal_ptr.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace carerelay::crypto {

// The profile's column families; defined in profile_store.cc.
enum class ProfileColumn : int;

struct ProfileOptions {
  // Non-empty: the profile is (or is created) encrypted under this passphrase.
  std::string passphrase;
  // Must be true for an empty passphrase: unencrypted profiles are for tests
  // and development, and must never happen by accident.
  bool allow_unencrypted = false;
  // Create the directory and the profile (with a new identity) if absent.
  bool create_if_missing = true;
  // Sync every write to the WAL. See "Durability" above.
  bool sync_writes = true;
  // scrypt cost, used only when the profile is created (then stored in it).
  ScryptParams kdf;
};

// This device's own identity, generated once when the profile is created.
struct LocalIdentity {
  uint32_t registration_id = 0;  // 1..16380, libsignal's range
  std::string identity_key;      // serialized public key, 33 bytes (0x05 || X25519)
};

// What is pinned for one remote device.
struct IdentityPin {
  std::string trusted_key;  // the pinned (trusted) identity key, 33 bytes
  // A different key seen and refused since (the latest one); empty if none.
  // Non-empty means: tell the user, and block sending (SessionManager) until
  // TrustIdentity.
  std::string changed_key;
};

// Bookkeeping for KeyManager: ids are never reused while a key may still be
// referenced by a message in flight.
struct PreKeyCounters {
  uint32_t next_one_time_prekey_id = 1;
  uint32_t next_signed_prekey_id = 1;
  uint32_t current_signed_prekey_id = 0;   // 0: none yet
  uint32_t previous_signed_prekey_id = 0;  // 0: none
};

class ProfileStore {
 public:
  // Opens (or creates, see ProfileOptions) the profile in `directory`.
  //   InvalidArgument: empty passphrase without allow_unencrypted, or bad kdf.
  //   NotFound: no profile there and create_if_missing is false.
  //   FailedPrecondition: the profile is encrypted but no passphrase was given,
  //     or it is unencrypted but a passphrase was given; or the directory is
  //     already open (in this or another process).
  //   Unauthenticated: wrong passphrase. Nothing is written in that case.
  //   DataLoss: the profile's own records are corrupt.
  //   Internal: RocksDB, OpenSSL or libsignal failed.
  static absl::StatusOr<std::unique_ptr<ProfileStore>> Open(const std::string& directory,
                                                            const ProfileOptions& options);

  struct PrivateTag {};
  explicit ProfileStore(PrivateTag);  // use Open()
  ProfileStore(const ProfileStore&) = delete;
  ProfileStore& operator=(const ProfileStore&) = delete;
  ~ProfileStore();

  const std::string& directory() const { return directory_; }
  bool encrypted() const { return cipher_.has_value(); }
  const LocalIdentity& local_identity() const { return local_identity_; }

  // XEdDSA signature (64 bytes) of `message` by this device's identity
  // private key, e.g. the proof LinkDevice asks for. Internal if libsignal
  // fails.
  absl::StatusOr<std::string> SignWithIdentity(absl::string_view message);

  // --- Identity pinning -----------------------------------------------------

  // NotFound if nothing is pinned for `address` (never seen).
  absl::StatusOr<IdentityPin> PinnedIdentity(const Address& address);

  // The user accepts `identity_key` (33 bytes) for `address`, e.g. after
  // comparing safety numbers: it becomes the pinned key and changed_key is
  // cleared. If it replaces a different pinned key, the session with the
  // address is deleted in the same write, since it was built on the old key;
  // the next message goes through a new prekey bundle or PreKeySignalMessage.
  // InvalidArgument for a malformed key or address.
  absl::Status TrustIdentity(const Address& address, absl::string_view identity_key);

  // Removes whatever is pinned for `address`; OK if nothing was. For a device
  // that no longer exists, and for SessionManager to undo a first-use pin
  // made by a PreKeySignalMessage that then failed to decrypt (libsignal
  // 2.3.3 pins before it decrypts), so that a corrupt first message cannot
  // pin a wrong key.
  absl::Status ForgetIdentity(const Address& address);

  // Addresses whose pin has a pending changed_key, for the user interface.
  absl::StatusOr<std::vector<Address>> AddressesWithChangedIdentity();

  // --- Key bookkeeping (used by KeyManager) ---------------------------------

  absl::StatusOr<PreKeyCounters> LoadPreKeyCounters();
  // Stores serialized one-time prekey records (id, session_pre_key) and the
  // next id in one atomic write.
  absl::Status CommitOneTimePreKeys(const std::vector<std::pair<uint32_t, std::string>>& records,
                                    uint32_t next_one_time_prekey_id);
  // Stores a serialized signed prekey record and `counters` in one atomic
  // write, and deletes every signed prekey other than counters'
  // current and previous ones.
  absl::Status CommitSignedPreKey(uint32_t id, absl::string_view record,
                                  const PreKeyCounters& counters);
  absl::StatusOr<std::vector<uint32_t>> SignedPreKeyIds();
  absl::StatusOr<size_t> OneTimePreKeyCount();

  // --- Sender keys (libsignal has no delete) --------------------------------

  // Deletes the sender key record of (group_id, sender); OK if absent.
  absl::Status DeleteSenderKey(absl::string_view group_id, const Address& sender);

  // --- Application records ---------------------------------------------------
  //
  // Small records of the client application (e.g. a care team's profile,
  // which only clients may hold), kept in the profile and, when it is
  // encrypted, sealed like the key material: the value is encrypted and
  // bound to its (kind, key) slot. The kind and the key stay in clear, since
  // RocksDB looks records up by them: use ids there, never personal data.
  // `kind` names a family of records ("team_profile"): 1 to 64 bytes, no NUL.
  // `key` is any bytes. InvalidArgument for a bad kind; DataLoss for a value
  // that fails to decrypt; Internal when RocksDB fails.

  absl::Status PutRecord(absl::string_view kind, absl::string_view key, absl::string_view value);
  // nullopt if there is no such record.
  absl::StatusOr<std::optional<std::string>> GetRecord(absl::string_view kind,
                                                       absl::string_view key);
  // OK if there was none.
  absl::Status DeleteRecord(absl::string_view kind, absl::string_view key);
  // Every (key, value) of `kind`, in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListRecords(
      absl::string_view kind);

  // --- Atomic writes ----------------------------------------------------------
  //
  // Runs `body` with every write made to this profile meanwhile (by the
  // methods above and by libsignal's store callbacks) held back, then, if
  // `body` returned OK, commits them all in one synced RocksDB write; if it
  // failed, or the write fails, none of them is kept. This is how a
  // decryption's session update and what the application keeps of the
  // plaintext (PutRecord) reach the disk together or not at all, so that a
  // crash can neither lose a decrypted message whose session moved on nor
  // keep one twice. Reads inside `body` see its writes, except ListRecords,
  // OneTimePreKeyCount, SignedPreKeyIds and libsignal's scans of all of a
  // contact's sessions, which see only what is committed. A nested call
  // joins the outermost one. `body` runs with mutex() held: other threads'
  // operations on this profile wait, and none of their writes mix in.
  // Do not send anything to the network from `body` that depends on its
  // writes being durable (e.g. an encryption), since they are not yet.
  absl::Status WriteAtomically(const std::function<absl::Status()>& body);

  // --- libsignal plumbing ---------------------------------------------------

  SignalContext& signal() { return *signal_; }
  signal_context* signal_context_ptr() { return signal_->get(); }
  signal_protocol_store_context* store_context() { return store_context_.get(); }
  std::recursive_mutex& mutex() { return signal_->mutex(); }

  // The first storage failure (RocksDB error, or DataLoss for a record that
  // fails to decrypt or parse) hit inside a libsignal store callback since the
  // last call, then cleared. libsignal only sees a generic error code, so
  // callers of libsignal check this to report the real cause. Call with
  // mutex() held.
  absl::Status TakeStoreError();
  // Forgets a stale store error and libsignal log line, so that what is seen
  // after the next libsignal call belongs to it.
  void ClearErrors();

 private:
  friend struct ProfileStoreCallbacks;
  using Cf = ProfileColumn;

  absl::Status OpenDatabase(bool create);
  absl::Status Initialize(const ProfileOptions& options);
  absl::Status Unlock(const ProfileOptions& options);
  absl::Status InstallStores();

  // Record access; values are sealed/opened when the profile is encrypted.
  absl::StatusOr<std::optional<std::string>> Get(Cf cf, absl::string_view key);
  absl::StatusOr<bool> Exists(Cf cf, absl::string_view key);
  absl::Status Put(Cf cf, absl::string_view key, absl::string_view value);
  absl::Status Delete(Cf cf, absl::string_view key);
  absl::Status PutInBatch(rocksdb::WriteBatch& batch, Cf cf, absl::string_view key,
                          absl::string_view value);
  absl::Status DeleteInBatch(rocksdb::WriteBatch& batch, Cf cf, absl::string_view key);
  absl::Status Write(rocksdb::WriteBatch& batch);
  absl::StatusOr<std::vector<std::string>> KeysWithPrefix(Cf cf, absl::string_view prefix);
  absl::StatusOr<std::string> Seal(Cf cf, absl::string_view key, absl::string_view value) const;
  absl::StatusOr<std::string> Unseal(Cf cf, absl::string_view key, absl::string_view value) const;
  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const;

  // Remembers the first error raised in a callback (see TakeStoreError).
  void RecordStoreError(absl::Status status);

  std::string directory_;
  bool sync_writes_ = true;
  std::optional<AtRestCipher> cipher_;
  LocalIdentity local_identity_;
  std::string identity_private_key_;  // 32 bytes; wiped in the destructor
  absl::Status store_error_;          // guarded by mutex()
  // While WriteAtomically runs: the writes held back (guarded by mutex()).
  std::unique_ptr<rocksdb::WriteBatchWithIndex> pending_;

  // Declaration order is destruction order reversed: the libsignal store
  // context goes before the database it calls into and the SignalContext it
  // was created with; column family handles go before the database.
  std::unique_ptr<SignalContext> signal_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles_;
  StoreContextPtr store_context_;
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_PROFILE_STORE_H_
