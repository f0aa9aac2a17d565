// GroupManager: group messages with sender keys. Each device has, per group
// (a team channel or a conversation), its own sender key: a hash ratchet
// chain plus a signing key. It sends the key once to every other member
// device as a distribution message over the pairwise sessions
// (Content.sender_key_distribution), then encrypts each group message once;
// the server fans the same ciphertext out.
//
// Sessions are per (group_id, sender device) and one-way: this device's own
// key (named by `self`) only encrypts; others' keys only decrypt.
//
// Rotation. When a member leaves, the remaining devices rotate
// (RotateSenderKey): the old key is deleted, a new one is created and its
// distribution message must be sent to the remaining members only. The
// leaver, who holds only the old key, cannot decrypt anything sent after.
// Receivers keep a few past keys of each sender, so messages sent before the
// rotation still decrypt.
//
// Trust. A distribution message must only be processed when it arrived over
// the pairwise session with `sender` (whose identity is pinned): whoever can
// inject one can impersonate the sender in the group. GroupManager cannot
// check that; the caller must.
//
// Errors:
//   InvalidArgument     bad group id or address; malformed, tampered or
//                       wrongly signed message
//   NotFound            no sender key: for Encrypt, none of ours yet (call
//                       DistributionMessage); for Decrypt, the sender's
//                       distribution message has not been processed, or the
//                       sender has rotated to a key we were not sent
//   AlreadyExists       duplicate message
//   DataLoss / Internal as in SessionManager
//
// Thread-safety: thread-safe; every call holds the profile's mutex.
// Ownership: borrows the ProfileStore, which must outlive it.

#ifndef CARERELAY_CRYPTO_GROUP_MANAGER_H_
#define CARERELAY_CRYPTO_GROUP_MANAGER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/address.h"
#include "crypto/profile_store.h"

namespace carerelay::crypto {

class GroupManager {
 public:
  // `self` is this device's own address (account id and device id assigned
  // at registration): it names this device's sender keys.
  GroupManager(ProfileStore* store, Address self);

  const Address& self() const { return self_; }

  // The distribution message for this device's sender key in `group_id`,
  // creating the key if there is none. Send it (pairwise) to every member
  // device. Later calls return the key at its current position in the chain,
  // so a device that receives it cannot read earlier messages.
  absl::StatusOr<std::string> DistributionMessage(absl::string_view group_id);

  // Deletes this device's sender key in `group_id` and creates a new one;
  // returns its distribution message.
  absl::StatusOr<std::string> RotateSenderKey(absl::string_view group_id);

  // Accepts `sender`'s distribution message for `group_id` (see "Trust").
  // A message for a key already held is ignored (OK): a redelivered
  // distribution message must not rewind the chain and re-open old messages.
  absl::Status ProcessDistributionMessage(absl::string_view group_id, const Address& sender,
                                          absl::string_view distribution_message);

  // Encrypts once for every member holding this device's current key.
  absl::StatusOr<std::string> Encrypt(absl::string_view group_id, absl::string_view plaintext);

  // Decrypts a group message that `sender` encrypted for `group_id`.
  absl::StatusOr<std::string> Decrypt(absl::string_view group_id, const Address& sender,
                                      absl::string_view ciphertext);

  // Forgets `sender`'s key in `group_id` (e.g. the sender left): its further
  // messages fail with NotFound. OK if there was none.
  absl::Status ForgetSender(absl::string_view group_id, const Address& sender);

 private:
  absl::Status Failure(int code, absl::string_view what);
  // After a decryption failure, a precise NotFound if the message's key id is
  // not one we hold; otherwise `failure` unchanged.
  absl::Status ExplainDecryptFailure(const signal_protocol_sender_key_name& name, uint32_t key_id,
                                     const Address& sender, absl::string_view group_id,
                                     absl::Status failure);

  ProfileStore* store_;  // not owned
  Address self_;
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_GROUP_MANAGER_H_
