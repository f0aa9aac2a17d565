// Messenger: end-to-end encrypted messaging for one device, over the relay.
//
// It joins the client library (relay_client.h: the wire) and crypto/ (the
// libsignal sessions, sender keys and key store of this device's profile):
//   - registration and the key lifecycle: one-time prekeys replenished when
//     the server's stock runs low, the signed prekey rotated on a schedule;
//   - pairwise messages: a session per recipient device (built from its
//     prekey bundle when there is none), one ciphertext per device, and a
//     copy to this account's other devices so they show the same
//     conversation;
//   - group messages: this device's sender key per group, distributed over
//     the pairwise sessions, the content encrypted once and fanned out;
//   - receiving: decrypt, de-duplicate by envelope id, acknowledge everything
//     processed (unreadable envelopes too, reported, so a queue never jams),
//     and recover from a lost session by resetting it and telling the sender.
// The server sees only ciphertext: every Content is padded and encrypted
// before it leaves this class.
//
// Errors: those of RelayClient (server statuses) and of crypto/ (see
// session_manager.h), notably FAILED_PRECONDITION when a contact's identity
// key changed and has not been accepted (Trust).
//
// Thread-safety: not thread-safe; use one Messenger from one thread (the
// crypto/ objects it uses are thread-safe, the send/receive flow is not).
// Ownership: borrows everything; all must outlive it.
#ifndef CARERELAY_CLIENT_MESSENGER_H_
#define CARERELAY_CLIENT_MESSENGER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/content.pb.h"
#include "client/device_state.h"
#include "client/relay_client.h"
#include "crypto/group_manager.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "crypto/safety_number.h"
#include "crypto/session_manager.h"

namespace carerelay::client {

// One thing that arrived, as the user should see it.
struct ReceivedMessage {
  enum class Kind {
    kContent,          // a decrypted message (text, receipt, session reset, ...)
    kDeliveryReceipt,  // the server says a device received one of ours
    kProblem,          // could not be read; `problem` says why (it was acknowledged)
  };
  Kind kind = Kind::kContent;
  v1::Envelope envelope;  // routing metadata; content cleared
  crypto::Address sender;
  v1::Content content;
  absl::Status problem;
};

struct DeviceSafetyNumber {
  crypto::Address remote;
  crypto::SafetyNumber number;
  bool changed = false;  // a new key is waiting to be trusted
};

class Messenger {
 public:
  Messenger(RelayClient* relay, crypto::ProfileStore* profile, DeviceState* state);

  // Registers this device with an enrollment or link code, uploading its
  // identity, signed prekey and 100 one-time prekeys.
  absl::StatusOr<v1::RegisterResponse> Register(const std::string& code,
                                                const std::string& device_name);

  // Tops one-time prekeys up when the server holds fewer than 20, and
  // rotates the signed prekey when it is older than `signed_prekey_max_age`
  // (the previous one is kept for late messages). Cheap when nothing is due.
  absl::Status MaintainKeys(absl::Time now,
                            absl::Duration signed_prekey_max_age = absl::Hours(24 * 7));

  // Sends `content` to every device of `account_id` and a copy to this
  // account's other devices. Returns the message id (set if empty).
  absl::StatusOr<std::string> SendContent(const std::string& account_id, v1::Content content);
  absl::StatusOr<std::string> SendText(const std::string& account_id, const std::string& text);

  // Sends `content` to a group of accounts with this device's sender key for
  // `group_id` (and to this account's other devices). Member devices that do
  // not hold the key yet get it first, over the pairwise sessions.
  absl::StatusOr<std::string> SendGroupContent(const std::string& group_id,
                                               const std::vector<std::string>& member_accounts,
                                               v1::Content content);
  // Replaces this device's sender key for `group_id`; the next group send
  // distributes the new key to the members named then (e.g. after one left).
  absl::Status RotateGroupKey(const std::string& group_id);

  // Decrypts one envelope into `out` (nothing for a duplicate or a sender
  // key distribution). Never fails on bad ciphertext: that becomes a
  // kProblem entry. Fails only when local storage fails.
  absl::Status ProcessEnvelope(const v1::Envelope& envelope, std::vector<ReceivedMessage>* out);

  // Opens a receive stream and hands every message to `on_message`,
  // acknowledging each batch once processed. Returns when the queue is
  // drained (unless `follow`), when `on_message` returns false, or when the
  // stream ends (its status).
  absl::Status Receive(bool follow, const std::function<bool(const ReceivedMessage&)>& on_message);
  // Ends a running Receive from another thread.
  void StopReceiving();

  // Safety numbers with each device of `account_id` this device has a
  // session with. NOT_FOUND if there is none yet.
  absl::StatusOr<std::vector<DeviceSafetyNumber>> SafetyNumbers(const std::string& account_id);
  // Accepts the changed identity keys of `account_id`'s devices; returns
  // how many were accepted.
  absl::StatusOr<int> Trust(const std::string& account_id);

  const crypto::Address& self() const { return self_; }

 private:
  absl::StatusOr<v1::OutgoingEnvelope> EncryptFor(const crypto::Address& device,
                                                  const std::string& plaintext);
  absl::Status EnsureSession(const crypto::Address& device);
  absl::StatusOr<std::vector<uint32_t>> OwnOtherDevices();
  absl::Status SendPairwise(const std::string& account_id, const v1::Content& content);
  absl::Status DistributeSenderKey(const std::string& group_id, const std::string& account_id);
  ReceivedMessage Problem(const v1::Envelope& envelope, absl::Status why);
  void HandleLostSession(const crypto::Address& sender);

  RelayClient* relay_;
  crypto::ProfileStore* profile_;
  DeviceState* state_;
  crypto::KeyManager keys_;
  crypto::SessionManager sessions_;
  crypto::Address self_;
  std::unique_ptr<crypto::GroupManager> groups_;
  std::mutex stream_mu_;
  ReceiveStream* active_stream_ = nullptr;  // guarded by stream_mu_
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_MESSENGER_H_
