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
//     and recover from a lost session by resetting it and telling the sender;
//   - delivery receipts: what a person writes (texts, documents, urgent
//     messages, intake notes) is sent asking for them; this device keeps
//     which envelope went to which device, and turns the delivery watermarks
//     on its stream into "delivered to" notices (kDelivered);
//   - care teams (teams.proto): a team channel is a group whose readers the
//     server lists (GetTeam); team events from the server drive sender-key
//     rotation and the sharing of the team profile (the patient's identity,
//     which only members' devices hold, encrypted in the profile at rest).
// The server sees only ciphertext: every Content is padded and encrypted
// before it leaves this class.
//
// Forward secrecy on a team channel. Before each team send, this device
// compares who holds its current sender key for the channel with who may
// read it now; if a holder no longer may (removed, left, role or access
// narrowed, device revoked), the key is rotated before encrypting. So a
// person cut off cannot decrypt anything sent afterwards, even with the
// ciphertext, whether or not this device saw the event. The team events
// rotate eagerly as well.
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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/alerts.pb.h"
#include "carerelay/v1/content.pb.h"
#include "carerelay/v1/intakes.pb.h"
#include "carerelay/v1/teams.pb.h"
#include "client/device_state.h"
#include "client/history.h"
#include "client/relay_client.h"
#include "crypto/group_manager.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "crypto/safety_number.h"
#include "crypto/session_manager.h"

namespace carerelay::client {

class HistoryHandover;

// One of this device's messages reached devices of its recipients: each
// stored it (acknowledged it to the server). From the delivery watermarks on
// this device's stream (messages.proto, DeliveryWatermark).
struct Delivery {
  std::string message_id;         // the Content.message_id sent
  std::string urgent_message_id;  // an urgent send's id at the server, else ""
  absl::Time sent_at = absl::UnixEpoch();
  struct To {
    crypto::Address device;
    std::string envelope_id;  // of the envelope that device stored
    std::string name;         // its person's display name ("" if unknown)
  };
  std::vector<To> to;  // by device; this account's own devices never
};

// One thing that arrived, as the user should see it.
struct ReceivedMessage {
  enum class Kind {
    kContent,    // a decrypted message (text, receipt, session reset,
                 // a newer team profile, ...)
    kDelivered,  // one of ours was delivered (`delivery`; `team_id` and
                 // `channel` say where it was sent, `envelope` is empty)
    kTeamEvent,  // a membership change on a team (`event`)
    kProblem,    // could not be read; `problem` says why (it was acknowledged)
    kAlert,      // the server's notice about urgency or an intake, or a new
                 // device of this account or of a correspondent (`alert`)
  };
  Kind kind = Kind::kContent;
  v1::Envelope envelope;  // routing metadata; content cleared
  crypto::Address sender;
  v1::Content content;
  absl::Status problem;

  // Team messages (a team channel's group), team profiles and team events:
  // the team, and the channel of a team message.
  std::string team_id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // The sender (for an event: the actor) as the team listed them when this
  // was processed: display name and role; empty / unspecified if unknown.
  std::string sender_name;
  v1::Role sender_role = v1::ROLE_UNSPECIFIED;
  // kTeamEvent: the event, and the display name of the person it is about.
  v1::TeamEvent event;
  std::string subject_name;
  // kAlert: a reminder of an urgent message, an escalation, an intake
  // routed to this person, ... (alerts.proto).
  v1::Alert alert;
  // kDelivered: which message, to which devices.
  Delivery delivery;
  // kContent carrying a history_share: how many entries of the team's
  // history before this account joined were kept from it.
  int history_entries = 0;
};

struct DeviceSafetyNumber {
  crypto::Address remote;
  crypto::SafetyNumber number;
  bool changed = false;  // a new key is waiting to be trusted
};

// The group id that marks a message as the notes of intake `intake_id`.
std::string IntakeNotesGroup(const std::string& intake_id);

// A fresh Content.message_id: 32 random hex digits.
std::string NewMessageId();

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
  // account's other devices. A text or a document asks for delivery
  // receipts (kDelivered entries of Receive). Returns the message id (set
  // if empty).
  absl::StatusOr<std::string> SendContent(const std::string& account_id, v1::Content content);
  absl::StatusOr<std::string> SendText(const std::string& account_id, const std::string& text);
  // Sends `text` to `account_id` as an URGENT message that must be
  // acknowledged (urgency.proto; the copy to this account's other devices
  // is an ordinary one). Returns the urgent message id the server tracks it
  // by (for ListAcknowledgements); errors as SendContent.
  absl::StatusOr<std::string> SendUrgentText(const std::string& account_id,
                                             const std::string& text);
  // The same on a team channel (the team's coordinator then also sees the
  // acknowledgements and gets the escalation). Errors as SendTeamContent.
  absl::StatusOr<std::string> SendUrgentTeamText(const std::string& team_id, v1::Channel channel,
                                                 const std::string& text);

  // Sends `content` to a group of accounts with this device's sender key for
  // `group_id` (and to this account's other devices). Member devices that do
  // not hold the key yet get it first, over the pairwise sessions.
  absl::StatusOr<std::string> SendGroupContent(const std::string& group_id,
                                               const std::vector<std::string>& member_accounts,
                                               v1::Content content);
  // Replaces this device's sender key for `group_id`; the next group send
  // distributes the new key to the members named then (e.g. after one left).
  absl::Status RotateGroupKey(const std::string& group_id);

  // Sends the notes of an intake (what the caller said) end-to-end
  // encrypted, as a Text whose group_id is IntakeNotesGroup(intake id), to
  // everyone the intake involves (its helpdesk staff, the assignee or the
  // pool it is offered to), except this account, which gets the usual copy
  // on its other devices. The server stores only ciphertext. Returns the
  // message id (for OpenIntakeRequest.notes_message_id). Errors of
  // SendContent; the message names who did not get them.
  absl::StatusOr<std::string> SendIntakeNotes(const v1::Intake& intake, const std::string& notes);

  // --- Care teams ------------------------------------------------------------

  // Sends `content` on `channel` of `team_id`: to every device of every
  // active member who may read the channel (this account's other devices
  // included when it may read), encrypted once with this device's sender key
  // for the channel (group TeamGroupId, see team_view.h). Rotates the key
  // first if a device holding it may no longer read (see "Forward secrecy");
  // sends it pairwise to reader devices that lack it. After a device
  // mismatch, or ABORTED (the team changed while the server wrote), fetches
  // the team again and retries (3 attempts in all). A text or a document
  // asks for delivery receipts (kDelivered). Returns the message id.
  //   PERMISSION_DENIED   this account may not post on the channel
  //   NOT_FOUND           no such team, or this account is not on it
  //   FAILED_PRECONDITION the team is closed; nobody else may read the
  //                       channel yet; a member's identity key changed
  //                       ("untrusted identity", see Trust); or the team's
  //                       devices kept changing over 3 attempts
  absl::StatusOr<std::string> SendTeamContent(const std::string& team_id, v1::Channel channel,
                                              v1::Content content);
  absl::StatusOr<std::string> SendTeamText(const std::string& team_id, v1::Channel channel,
                                           const std::string& text);

  // The team profile this device holds for `team_id` (nullopt if none): the
  // newest received or set. Stored encrypted in the key store (ProfileStore
  // application records).
  absl::StatusOr<std::optional<v1::TeamProfile>> GetTeamProfile(const std::string& team_id);
  // Sets the team profile: stamps it (updated_at_ms now, or just after the
  // held one; updated_by this account), keeps it, and sends it pairwise to
  // every active member and to this account's other devices. Returns the
  // number of accounts it was sent to.
  //   PERMISSION_DENIED  this account may not set it (MayEditTeamProfile)
  //   the errors of the pairwise sends: the profile is kept here all the
  //   same, the message says who did not get it; ShareTeamProfile once the
  //   cause is fixed.
  absl::StatusOr<int> SetTeamProfile(v1::TeamProfile profile);
  // Sends the held team profile, unchanged, to `account_id` (a member), or
  // to every active member and this account's other devices when empty.
  // NOT_FOUND if this device holds none.
  absl::StatusOr<int> ShareTeamProfile(const std::string& team_id,
                                       const std::string& account_id = "");

  // The team as the server lists it now; refreshes the cache.
  absl::StatusOr<v1::Team> FetchTeam(const std::string& team_id);
  // The cached team (fetched if not cached). The cache is dropped on every
  // event of the team, so it is at most as old as the last event.
  absl::StatusOr<v1::Team> CachedTeam(const std::string& team_id);
  // The display name last seen for `account_id` in any team ("" if never),
  // also for people no longer on the team.
  std::string DisplayName(const std::string& account_id);

  // --- Attachments (see attachment_transfer.h for sending and fetching) ---
  // The pointer to a document this device received (or sent) on a team
  // channel; nullopt if it holds none by that id. Pointers are kept, with
  // the team's other secrets, encrypted in the key store.
  absl::StatusOr<std::optional<v1::AttachmentPointer>> GetAttachment(
      const std::string& attachment_id);
  // Keeps `pointer` (the sender keeps its own, so it can fetch it again).
  // INVALID_ARGUMENT if it is malformed (see ValidAttachmentPointer);
  // ALREADY_EXISTS if a different pointer with its id is kept (the first
  // stays; the same pointer again is OK).
  absl::Status KeepAttachment(const v1::AttachmentPointer& pointer);
  // Every pointer held for `team_id` (all teams when empty), oldest first
  // is not guaranteed: in id order.
  absl::StatusOr<std::vector<v1::AttachmentPointer>> ListAttachments(const std::string& team_id);

  // Rotates this device's sender keys of the team's four channel groups
  // (those someone else holds).
  absl::Status RotateTeamKeys(const std::string& team_id);
  // Forgets what this device holds of a team it is no longer on: the team
  // profile, the attachment pointers (so its documents' keys), its own and
  // others' sender keys of the team's channels, the audit head, the cached
  // team.
  absl::Status ForgetTeam(const std::string& team_id);

  // Decrypts one envelope into `out` (nothing for a duplicate, a sender key
  // distribution, or a team profile no newer than the one held). Never
  // fails on bad ciphertext: that becomes a kProblem entry. Fails only when
  // local storage fails.
  //
  // Team events (ENVELOPE_TYPE_SERVER_EVENT, from the server only) become
  // kTeamEvent entries and are acted on: REMOVED, LEFT, DECLINED rotate this
  // device's keys of the team and drop the person's; ROLE_CHANGED and
  // ACCESS_NARROWED rotate; the removal of this account, or ERASED, forgets
  // the team (ForgetTeam); JOINED of someone else makes the devices of the
  // coordinator and the case manager send them the team profile, as does
  // ROSTER_CHANGED putting an organisation's staff member on duty; one
  // taking them off duty or off the roster rotates this device's keys and
  // drops theirs (on their own devices, off the roster, it forgets the
  // team unless they are on it another way). What fails there is reported
  // as a kProblem entry after the event.
  //
  // A team profile is taken only over a pairwise session, from this
  // account's other devices or from someone who may set it
  // (MayEditTeamProfile); anything else is a kProblem entry.
  absl::Status ProcessEnvelope(const v1::Envelope& envelope, std::vector<ReceivedMessage>* out);

  // Opens a receive stream and hands every message to `on_message`. First,
  // the messages a previous run acknowledged but did not finish handing
  // over (it crashed or was killed) are handed over, from the profile.
  // Each stream message is processed (as ProcessEnvelope: what it changes
  // here is stored, and what it holds is kept, decrypted and sealed like
  // the keys, in the profile, in the same write as the session update),
  // then acknowledged cumulatively through its last envelope while the
  // stream is open (the server deletes only then; what it did not take
  // comes again on the next stream and is dropped as a duplicate), then
  // handed over; it is dropped from the profile once `on_message` returned.
  // So a crash at any point loses no acknowledged message; at worst one is
  // handed over twice (a crash while it was being shown). A message that
  // could not be decrypted (kProblem) is not kept.
  // The delivery watermarks a stream message carries become kDelivered
  // entries for this device's sent messages; the highest watermark version
  // is kept, so the next stream starts after it and no delivery is shown
  // twice. Returns when the queue is drained (unless `follow`), when
  // `on_message` returns false, or when the stream ends (its status, e.g.
  // ABORTED when another stream of this device took over, UNAUTHENTICATED
  // when the device was revoked); OK when StopReceiving ended it. Fails
  // also when local storage fails (what was kept is acknowledged first).
  absl::Status Receive(bool follow, const std::function<bool(const ReceivedMessage&)>& on_message);
  // Ends a running Receive from another thread.
  void StopReceiving();

  // Safety numbers with each device of `account_id` this device has a
  // session with. NOT_FOUND if there is none yet.
  absl::StatusOr<std::vector<DeviceSafetyNumber>> SafetyNumbers(const std::string& account_id);
  // Accepts the changed identity keys of `account_id`'s devices; returns
  // how many were accepted.
  absl::StatusOr<int> Trust(const std::string& account_id);

  // Devices of people this device already had sessions with that it has
  // met for the first time since the last call (building a session to send
  // to them): a new device of a known account, to be shown as "NAME added a
  // new device" the way a changed safety number is. Trust on first use
  // still applies to the new device; the notice is what lets the person
  // check it. A new device met by receiving its first message is reported
  // in Receive instead (a kAlert entry of KIND_DEVICE_ADDED whose sender
  // is that device). This account's own new devices are announced by the
  // server (an alert of the same kind).
  std::vector<crypto::Address> TakeNewDevices();

  // A recipient device that a send from this device skipped: its queue, or
  // this account's share of it, was full (SendResponse.not_queued; README,
  // "Abuse limits"). The others got the message.
  struct NotQueued {
    crypto::Address device;
    v1::NotQueuedReason reason;
  };
  // The devices skipped since the last call, to tell the person.
  std::vector<NotQueued> TakeNotQueued();

  const crypto::Address& self() const { return self_; }

  // What this device received and sent (history.h): every team channel's
  // texts, documents and notebook entries and the direct conversations are
  // kept there as they are processed (received ones before the envelope
  // leaves the inbox, sent ones once the server took them). Forgotten with
  // the team (ForgetTeam).
  const History& history() const { return history_; }

  // Lets this messenger hand history to people who join its teams later and
  // take what others hand it (history_handover.h). Without one, a JOINED
  // event hands nothing over and a history share that arrives is reported
  // as a problem. Borrowed: it must outlive this messenger's use.
  void SetHistoryHandover(HistoryHandover* handover) { handover_ = handover; }

 private:
  void NoteNotQueued(const v1::SendResponse& response);
  // `account_known`: this device had a session with the account before the
  // send began; a session built then with a device never seen is a new
  // device to announce (TakeNewDevices). Not for the first contact, whose
  // devices are all news alike.
  absl::StatusOr<v1::OutgoingEnvelope> EncryptFor(const crypto::Address& device,
                                                  const std::string& plaintext, bool account_known);
  absl::Status EnsureSession(const crypto::Address& device, bool account_known);
  // Whether this device has a session with a device of `account_id`.
  bool KnowsAccount(const std::string& account_id);
  absl::StatusOr<std::vector<uint32_t>> OwnOtherDevices();
  // Sends `content` to every device of `account_id`, asking for delivery
  // receipts when a person wrote it (WantsReceipt).
  absl::Status SendPairwise(const std::string& account_id, const v1::Content& content);
  // Keeps which envelope of `response` went to which device (`recipients`,
  // in the order of its envelope_ids; this account's own devices left out)
  // until a delivery watermark covers it.
  void RememberSent(const std::vector<v1::DeviceAddress>& recipients,
                    const v1::SendResponse& response, const std::string& message_id,
                    const std::string& team_id = "", v1::Channel channel = v1::CHANNEL_UNSPECIFIED);
  // Turns the delivery watermarks of one stream message into kDelivered
  // entries (one per message of ours) and keeps the highest version.
  absl::Status ProcessWatermarks(
      const google::protobuf::RepeatedPtrField<v1::DeliveryWatermark>& watermarks,
      std::vector<ReceivedMessage>* out);
  // Sends this device's sender key for `group_id` to every device of
  // `account_id` unless each of `devices` (default: those last sent to)
  // already holds it.
  absl::Status DistributeSenderKey(const std::string& group_id, const std::string& account_id,
                                   const std::vector<uint32_t>& devices = {});
  ReceivedMessage Problem(const v1::Envelope& envelope, absl::Status why);
  // True if `device` belongs to another account this device has sessions
  // with and was never seen (no pinned identity).
  bool IsNewDeviceOfKnownAccount(const crypto::Address& device);
  // The kAlert entry telling that `device` is new (see TakeNewDevices).
  ReceivedMessage NewDeviceNotice(const v1::Envelope& envelope, const crypto::Address& device);

  // An envelope whose content is decrypted (the plaintext Content; a team
  // event or an alert as it came) and the group id of a group message.
  struct Staged {
    v1::Envelope envelope;
    std::string group_id;
    // Its sender is a device never seen of an account this device had
    // sessions with: a KIND_DEVICE_ADDED notice comes before it.
    bool from_new_device = false;
  };
  static std::string EncodeStaged(const Staged& staged);
  static absl::StatusOr<Staged> DecodeStaged(const std::string& record);
  // Processes `envelope` unless it was before; what it holds that is to be
  // shown stays kept in the profile's inbox, and `*kept` is then set to its
  // id (the caller drops the record once it has shown `out`). Fails only
  // when local storage fails.
  absl::Status ProcessAndKeep(const v1::Envelope& envelope, std::vector<ReceivedMessage>* out,
                              std::optional<std::string>* kept);
  // Decrypts `envelope` and keeps the result in the inbox, in the same
  // profile write as the session or sender-key update. nullopt for a
  // duplicate or what cannot be read (then a kProblem entry in `out`).
  absl::StatusOr<std::optional<Staged>> Stage(const v1::Envelope& envelope,
                                              std::vector<ReceivedMessage>* out);
  // Turns a staged envelope into entries of `out` and acts on it (sender
  // keys, team profiles, attachment pointers, team events).
  absl::Status Handle(const Staged& staged, std::vector<ReceivedMessage>* out);
  // Hands over the kept messages of an earlier run, oldest first, dropping
  // each once handed; false if `on_message` asked to stop.
  absl::StatusOr<bool> ShowKept(const std::function<bool(const ReceivedMessage&)>& on_message);
  void HandleLostSession(const crypto::Address& sender);

  // One attempt of SendTeamContent with `team` as fetched; with
  // `want_receipts`, the envelopes are remembered for delivery receipts under
  // `message_id`.
  absl::StatusOr<v1::SendResponse> SendTeamOnce(const v1::Team& team, v1::Channel channel,
                                                const std::string& group_id,
                                                const std::string& plaintext,
                                                const std::string& message_id, bool want_receipts);
  absl::Status ProcessTeamEvent(const v1::Envelope& envelope, std::vector<ReceivedMessage>* out);
  // Reacts to `event` (rotation, forgetting, sharing the profile); what
  // fails is reported in `out`.
  void ReactToTeamEvent(const v1::TeamEvent& event, const v1::Envelope& envelope,
                        std::vector<ReceivedMessage>* out);
  // Keeps an attachment pointer that arrived on a team channel, and its
  // history entry (into `m`, or a problem if it is malformed or claims
  // another team or channel). Fails only when the profile cannot be written.
  absl::Status ProcessAttachment(const v1::Envelope& envelope, ReceivedMessage m,
                                 std::vector<ReceivedMessage>* out);
  // Takes the history bundle a history share points to (into `m`, with
  // how many entries were kept, or a problem).
  void ProcessHistoryShare(const v1::Envelope& envelope, ReceivedMessage m,
                           std::vector<ReceivedMessage>* out);
  // Takes a team profile that arrived in `content` (into `m`, or a problem).
  void ProcessTeamProfile(const v1::Envelope& envelope, ReceivedMessage m,
                          std::vector<ReceivedMessage>* out);
  // Keeps `profile` if newer than the held one; true if kept.
  absl::StatusOr<bool> StoreTeamProfileIfNewer(const v1::TeamProfile& profile);
  // The display name and role of `account_id` in `team_id`, from the cached
  // team (fetched once more for someone it does not list), else the name
  // last seen; failures leave them empty (they only label a message).
  void Describe(const std::string& team_id, const std::string& account_id, std::string* name,
                v1::Role* role);
  // Sends the held profile to `account_id` if this account convenes the
  // team (coordinator or case manager): how a new member receives it.
  absl::Status OfferTeamProfile(const std::string& team_id, const std::string& account_id);
  // Hands `account_id` the team's history through the handover, if any
  // (HistoryHandover::OfferTo decides whether this device should).
  absl::Status OfferHistory(const std::string& team_id, const std::string& account_id);
  // Forgets the sender keys of `account_id`'s devices in the team's groups.
  absl::Status ForgetSenderKeysOf(const std::string& team_id, const std::string& account_id);
  void RememberNames(const v1::Team& team);
  // Keeps what `m` holds in the history, if a history keeps it. A notebook
  // edit by someone else, or a message forging another's id, is refused:
  // false, with a kProblem entry in `out` instead. Fails when the profile
  // cannot be written.
  absl::StatusOr<bool> KeepReceived(const ReceivedMessage& m, std::vector<ReceivedMessage>* out);
  // Keeps what this device sent: on a team channel (`team_id`), or to
  // `peer_account_id`. Nothing for content a history does not keep.
  absl::Status KeepSent(const v1::Content& content, const std::string& team_id, v1::Channel channel,
                        const std::string& peer_account_id, bool urgent);
  absl::Status LoadNames();

  RelayClient* relay_;
  crypto::ProfileStore* profile_;
  DeviceState* state_;
  crypto::KeyManager keys_;
  crypto::SessionManager sessions_;
  crypto::Address self_;
  History history_;
  HistoryHandover* handover_ = nullptr;
  std::unique_ptr<crypto::GroupManager> groups_;
  struct CachedTeamEntry {
    v1::Team team;  // empty team_id: the last fetch failed (not on it)
    bool refetched_for_unknown_sender = false;
  };
  std::map<std::string, CachedTeamEntry> teams_;
  std::map<std::string, std::string> names_;  // account id -> display name
  bool names_loaded_ = false;
  // Set while SendUrgentTeamText runs: the team send is URGENT with
  // acknowledgement required, and its urgent message id is kept here.
  bool urgent_team_send_ = false;
  std::string last_urgent_id_;
  std::vector<crypto::Address> new_devices_;  // see TakeNewDevices
  std::vector<NotQueued> not_queued_;         // see TakeNotQueued
  std::mutex stream_mu_;
  ReceiveStream* active_stream_ = nullptr;  // guarded by stream_mu_
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_MESSENGER_H_
