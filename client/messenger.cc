#include "client/messenger.h"

#include <openssl/rand.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/attachment_pointer.h"
#include "client/history_handover.h"
#include "client/key_upload.h"
#include "client/notebook.h"
#include "client/team_view.h"
#include "crypto/content_codec.h"
#include "proto/error_detail.h"

namespace carerelay::client {
namespace {

constexpr uint32_t kPrekeyThreshold = 20;
constexpr int kTeamSendAttempts = 3;
// Processed envelope ids and sent envelopes awaiting a watermark are kept
// a day longer than the server keeps a queued envelope (30 days): nothing
// older can be delivered, or delivered again.
constexpr absl::Duration kKeepDeliveryState = absl::Hours(24 * 31);
constexpr absl::Duration kPruneEvery = absl::Hours(24);
// Application records in the key store (encrypted at rest with the keys).
constexpr char kTeamProfileRecord[] = "team_profile";  // team id -> TeamProfile
constexpr char kDisplayNameRecord[] = "display_name";  // account id -> name
constexpr char kAttachmentRecord[] = "attachment";     // attachment id -> AttachmentPointer
// Envelope id -> what it held, decrypted (EncodeStaged), from the write that
// decrypted it until it is shown (see Receive). The id is 16 hex digits of
// the sequence, so key order is arrival order.
constexpr char kInboxRecord[] = "inbox";

// "account.device" (crypto::Address::ToString) back to an address.
bool ParseDeviceName(const std::string& name, crypto::Address* address) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  address->account_id = name.substr(0, dot);
  return absl::SimpleAtoi(name.substr(dot + 1), &address->device_id);
}

std::string ShortId(const std::string& account_id) { return account_id.substr(0, 8); }

crypto::Address AddressOf(const v1::DeviceAddress& a) { return {a.account_id(), a.device_id()}; }

// Delivery receipts are asked for what a person wrote (a text, a document),
// not for the protocol's own messages (sender keys, session resets, team
// profiles) nor for the copies to this account's other devices.
bool WantsReceipt(const v1::Content& content) {
  return (content.has_text() || content.has_attachment()) && content.sync_for_account_id().empty();
}

// An envelope id is the 16 lowercase hex digits of its sequence
// (messages.proto, Envelope.id).
std::string EnvelopeIdOf(uint64_t sequence) {
  return absl::StrCat(absl::Hex(sequence, absl::kZeroPad16));
}

// An inbox record: format byte 1, a flags byte (1: from a new device of a
// known account), the group id's length (4 bytes, big endian) and the group
// id ("" for a pairwise message), then the envelope serialized with its
// content decrypted.
constexpr char kInboxFormat = '\x01';
constexpr char kFromNewDevice = '\x01';

}  // namespace

std::string Messenger::EncodeStaged(const Staged& staged) {
  std::string out(1, kInboxFormat);
  out.push_back(staged.from_new_device ? kFromNewDevice : '\0');
  const uint32_t n = static_cast<uint32_t>(staged.group_id.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += staged.group_id;
  out += staged.envelope.SerializeAsString();
  return out;
}

absl::StatusOr<Messenger::Staged> Messenger::DecodeStaged(const std::string& record) {
  constexpr size_t kHeader = 6;
  if (record.size() < kHeader || record[0] != kInboxFormat) {
    return absl::DataLossError("a kept message has an unknown format");
  }
  uint32_t n = 0;
  for (size_t i = 2; i < kHeader; ++i) n = (n << 8) | static_cast<unsigned char>(record[i]);
  if (record.size() - kHeader < n) return absl::DataLossError("a kept message is truncated");
  Staged staged;
  staged.from_new_device = (record[1] & kFromNewDevice) != 0;
  staged.group_id = record.substr(kHeader, n);
  if (!staged.envelope.ParseFromString(record.substr(kHeader + n))) {
    return absl::DataLossError("a kept message is corrupt");
  }
  return staged;
}

Messenger::Messenger(RelayClient* relay, crypto::ProfileStore* profile, DeviceState* state)
    : relay_(relay),
      profile_(profile),
      state_(state),
      keys_(profile),
      sessions_(profile),
      history_(profile) {
  // LinkDevice proves the identity key, which this profile holds (so the
  // profile must outlive the relay client's use too).
  crypto::ProfileStore* keys = profile_;
  relay_->SetIdentitySigner(
      [keys](absl::string_view message) { return keys->SignWithIdentity(message); });
  const DeviceCredentials& c = relay_->credentials();
  if (!c.account_id.empty()) {
    self_ = {c.account_id, c.device_id};
    groups_ = std::make_unique<crypto::GroupManager>(profile_, self_);
  }
}

absl::StatusOr<v1::RegisterResponse> Messenger::Register(const std::string& code,
                                                         const std::string& device_name) {
  auto keys = keys_.PrepareRegistration(absl::Now(), crypto::KeyManager::kMaxBatch);
  if (!keys.ok()) return keys.status();
  auto registered = relay_->Register(MakeRegisterRequest(*keys, code, device_name));
  if (!registered.ok()) return registered.status();
  self_ = {registered->account_id(), registered->device_id()};
  groups_ = std::make_unique<crypto::GroupManager>(profile_, self_);
  return registered;
}

absl::Status Messenger::MaintainKeys(absl::Time now, absl::Duration signed_prekey_max_age) {
  auto count = relay_->CountOneTimePrekeys();
  if (!count.ok()) return count.status();
  auto fresh = keys_.ReplenishOneTimePreKeys(*count, kPrekeyThreshold);
  if (!fresh.ok()) return fresh.status();
  if (!fresh->empty()) {
    auto added = relay_->AddOneTimePrekeys(ToProto(*fresh));
    if (!added.ok()) return added.status();
  }
  auto due = keys_.SignedPreKeyDue(now, signed_prekey_max_age);
  if (!due.ok()) return due.status();
  if (*due) {
    auto rotated = keys_.RotateSignedPreKey(now);
    if (!rotated.ok()) return rotated.status();
    return relay_->SetSignedPrekey(ToProto(*rotated));
  }
  return absl::OkStatus();
}

absl::Status Messenger::EnsureSession(const crypto::Address& device, bool account_known) {
  auto has = sessions_.HasSession(device);
  if (!has.ok()) return has.status();
  if (*has) return absl::OkStatus();
  auto bundles = relay_->GetPrekeyBundles(device.account_id, device.device_id);
  if (!bundles.ok()) return bundles.status();
  if (bundles->bundles_size() != 1) {
    return absl::NotFoundError("no prekey bundle for " + device.ToString());
  }
  const bool new_device = account_known && IsNewDeviceOfKnownAccount(device);
  const v1::PrekeyBundle& b = bundles->bundles(0);
  crypto::PreKeyBundle bundle;
  bundle.registration_id = b.registration_id();
  bundle.device_id = b.device_id();
  bundle.identity_key = b.identity_key();
  bundle.signed_prekey_id = b.signed_prekey().key_id();
  bundle.signed_prekey = b.signed_prekey().public_key();
  bundle.signed_prekey_signature = b.signed_prekey().signature();
  if (b.has_one_time_prekey()) {
    bundle.one_time_prekey =
        crypto::PublicPreKey{b.one_time_prekey().key_id(), b.one_time_prekey().public_key()};
  }
  absl::Status built = sessions_.ProcessPreKeyBundle(device, bundle);
  if (built.ok() && new_device) new_devices_.push_back(device);
  return built;
}

bool Messenger::KnowsAccount(const std::string& account_id) {
  auto devices = sessions_.DevicesWithSessions(account_id);
  return devices.ok() && !devices->empty();
}

bool Messenger::IsNewDeviceOfKnownAccount(const crypto::Address& device) {
  // This account's own new devices are announced by the server.
  if (device.account_id == self_.account_id) return false;
  auto pin = profile_->PinnedIdentity(device);
  if (!absl::IsNotFound(pin.status())) return false;  // seen before (or unknown: say nothing)
  auto known = sessions_.DevicesWithSessions(device.account_id);
  return known.ok() && !known->empty();
}

std::vector<crypto::Address> Messenger::TakeNewDevices() { return std::exchange(new_devices_, {}); }

std::vector<Messenger::NotQueued> Messenger::TakeNotQueued() {
  return std::exchange(not_queued_, {});
}

void Messenger::NoteNotQueued(const v1::SendResponse& response) {
  for (const v1::NotQueued& n : response.not_queued()) {
    not_queued_.push_back({AddressOf(n.device()), n.reason()});
  }
}

ReceivedMessage Messenger::NewDeviceNotice(const v1::Envelope& envelope,
                                           const crypto::Address& device) {
  ReceivedMessage m;
  m.kind = ReceivedMessage::Kind::kAlert;
  m.envelope = envelope;
  m.envelope.clear_content();
  m.sender = device;
  m.sender_name = DisplayName(device.account_id);
  m.alert.set_kind(v1::Alert::KIND_DEVICE_ADDED);
  m.alert.set_at_ms(envelope.server_timestamp_ms());
  m.alert.set_subject_account_id(device.account_id);
  m.alert.mutable_new_device()->set_account_id(device.account_id);
  m.alert.mutable_new_device()->set_device_id(device.device_id);
  return m;
}

absl::StatusOr<v1::OutgoingEnvelope> Messenger::EncryptFor(const crypto::Address& device,
                                                           const std::string& plaintext,
                                                           bool account_known) {
  absl::Status s = EnsureSession(device, account_known);
  if (!s.ok()) return s;
  auto encrypted = sessions_.Encrypt(device, plaintext);
  if (!encrypted.ok()) return encrypted.status();
  v1::OutgoingEnvelope e;
  e.set_type(encrypted->type == crypto::MessageType::kPreKey ? v1::ENVELOPE_TYPE_PREKEY_MESSAGE
                                                             : v1::ENVELOPE_TYPE_CIPHERTEXT);
  e.set_content(encrypted->ciphertext);
  auto registration = sessions_.RemoteRegistrationId(device);
  if (registration.ok()) e.set_registration_id(*registration);
  return e;
}

absl::StatusOr<std::vector<uint32_t>> Messenger::OwnOtherDevices() {
  auto devices = relay_->ListDevices();
  if (!devices.ok()) return devices.status();
  std::vector<uint32_t> others;
  for (const auto& d : *devices) {
    if (d.device_id() != self_.device_id) others.push_back(d.device_id());
  }
  return others;
}

absl::Status Messenger::SendPairwise(const std::string& account_id, const v1::Content& content) {
  auto plaintext = crypto::EncodeContent(content);
  if (!plaintext.ok()) return plaintext.status();
  SendOptions options;
  options.want_receipts = WantsReceipt(content) && account_id != self_.account_id;
  std::vector<v1::DeviceAddress> recipients;
  const bool known = KnowsAccount(account_id);
  auto sent = relay_->SendToAccount(
      account_id,
      [&](const v1::DeviceAddress& device) {
        return EncryptFor(AddressOf(device), *plaintext, known);
      },
      options, &recipients);
  if (sent.ok()) NoteNotQueued(*sent);
  if (sent.ok() && options.want_receipts) RememberSent(recipients, *sent, content.message_id());
  if (!sent.ok()) {
    // A stale device was revoked or re-installed: its session is useless.
    if (auto detail = GetDetail(sent.status()); detail && detail->has_device_mismatch()) {
      for (const auto& a : detail->device_mismatch().stale()) {
        sessions_.DeleteSession(AddressOf(a)).IgnoreError();
      }
    }
    return sent.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Messenger::SendContent(const std::string& account_id,
                                                   v1::Content content) {
  if (content.message_id().empty()) content.set_message_id(NewMessageId());
  if (content.sent_at_ms() == 0) content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  absl::Status s = SendPairwise(account_id, content);
  if (!s.ok()) return s;
  if (account_id != self_.account_id && content.group_id().empty()) {
    s = KeepSent(content, "", v1::CHANNEL_UNSPECIFIED, account_id, /*urgent=*/false);
    if (!s.ok()) return s;
  }
  if (account_id != self_.account_id) {
    auto others = OwnOtherDevices();
    if (!others.ok()) return others.status();
    if (!others->empty()) {
      v1::Content copy = content;
      copy.set_sync_for_account_id(account_id);
      s = SendPairwise(self_.account_id, copy);
      if (!s.ok()) return s;
    }
  }
  return content.message_id();
}

absl::StatusOr<std::string> Messenger::SendText(const std::string& account_id,
                                                const std::string& text) {
  v1::Content content;
  content.mutable_text()->set_body(text);
  return SendContent(account_id, std::move(content));
}

absl::StatusOr<std::string> Messenger::SendUrgentText(const std::string& account_id,
                                                      const std::string& text) {
  if (account_id == self_.account_id) {
    return absl::InvalidArgumentError("an urgent message goes to someone else");
  }
  v1::Content content;
  content.mutable_text()->set_body(text);
  content.set_message_id(NewMessageId());
  content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  auto plaintext = crypto::EncodeContent(content);
  if (!plaintext.ok()) return plaintext.status();
  SendOptions options;
  options.priority = v1::PRIORITY_URGENT;
  options.ack_required = true;
  options.want_receipts = true;
  std::vector<v1::DeviceAddress> recipients;
  const bool known = KnowsAccount(account_id);
  auto sent = relay_->SendToAccount(
      account_id,
      [&](const v1::DeviceAddress& device) {
        return EncryptFor(AddressOf(device), *plaintext, known);
      },
      options, &recipients);
  if (!sent.ok()) return sent.status();
  NoteNotQueued(*sent);
  RememberSent(recipients, *sent, content.message_id());
  absl::Status kept = KeepSent(content, "", v1::CHANNEL_UNSPECIFIED, account_id, /*urgent=*/true);
  if (!kept.ok()) return kept;
  auto others = OwnOtherDevices();
  if (!others.ok()) return others.status();
  if (!others->empty()) {
    v1::Content copy = content;
    copy.set_sync_for_account_id(account_id);
    absl::Status s = SendPairwise(self_.account_id, copy);
    if (!s.ok()) return s;
  }
  return sent->urgent_message_id();
}

std::string IntakeNotesGroup(const std::string& intake_id) { return "intake:" + intake_id; }

std::string NewMessageId() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof(raw)) != 1) abort();
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(raw), sizeof(raw)));
}

absl::StatusOr<std::string> Messenger::SendIntakeNotes(const v1::Intake& intake,
                                                       const std::string& notes) {
  std::vector<std::string> to;
  auto add = [&](const std::string& a) {
    if (!a.empty() && a != self_.account_id && std::find(to.begin(), to.end(), a) == to.end()) {
      to.push_back(a);
    }
  };
  add(intake.opened_by_account_id());
  for (const auto& h : intake.helpdesk_account_ids()) add(h);
  add(intake.assignee_account_id());
  for (const auto& p : intake.pool_account_ids()) add(p);
  v1::Content content;
  content.mutable_text()->set_body(notes);
  content.set_message_id(NewMessageId());
  content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  content.set_group_id(IntakeNotesGroup(intake.intake_id()));
  std::vector<std::string> failed;
  absl::Status first = absl::OkStatus();
  for (const auto& account : to) {
    absl::Status s = SendPairwise(account, content);
    if (!s.ok()) {
      failed.push_back(account);
      if (first.ok()) first = s;
    }
  }
  auto others = OwnOtherDevices();
  if (others.ok() && !others->empty()) {
    v1::Content copy = content;
    copy.set_sync_for_account_id(to.empty() ? self_.account_id : to.front());
    SendPairwise(self_.account_id, copy).IgnoreError();
  }
  if (!first.ok()) {
    return absl::Status(first.code(),
                        absl::StrCat("the notes did not reach ", absl::StrJoin(failed, ", "), ": ",
                                     first.message()));
  }
  return content.message_id();
}

absl::StatusOr<std::string> Messenger::SendUrgentTeamText(const std::string& team_id,
                                                          v1::Channel channel,
                                                          const std::string& text) {
  urgent_team_send_ = true;
  last_urgent_id_.clear();
  auto sent = SendTeamText(team_id, channel, text);
  urgent_team_send_ = false;
  if (!sent.ok()) return sent.status();
  return last_urgent_id_;
}

absl::Status Messenger::DistributeSenderKey(const std::string& group_id,
                                            const std::string& account_id,
                                            const std::vector<uint32_t>& devices) {
  std::vector<uint32_t> known = devices.empty() ? relay_->KnownDevices(account_id) : devices;
  bool needed = known.empty();
  for (uint32_t d : known) {
    auto has = state_->HasSenderKey(group_id, crypto::Address{account_id, d}.ToString());
    if (!has.ok()) return has.status();
    if (!*has) needed = true;
  }
  if (!needed) return absl::OkStatus();
  auto distribution = groups_->DistributionMessage(group_id);
  if (!distribution.ok()) return distribution.status();
  v1::Content content;
  content.set_message_id(NewMessageId());
  content.set_group_id(group_id);
  content.mutable_sender_key_distribution()->set_group_id(group_id);
  content.mutable_sender_key_distribution()->set_distribution_message(*distribution);
  absl::Status s = SendPairwise(account_id, content);
  if (!s.ok()) return s;
  for (uint32_t d : relay_->KnownDevices(account_id)) {
    s = state_->MarkSenderKeySent(group_id, crypto::Address{account_id, d}.ToString());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Messenger::SendGroupContent(
    const std::string& group_id, const std::vector<std::string>& member_accounts,
    v1::Content content) {
  if (!groups_) return absl::FailedPreconditionError("this device is not registered");
  if (content.message_id().empty()) content.set_message_id(NewMessageId());
  if (content.sent_at_ms() == 0) content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  content.set_group_id(group_id);

  std::vector<std::string> accounts;
  for (const auto& a : member_accounts) {
    if (a != self_.account_id) accounts.push_back(a);
  }
  auto others = OwnOtherDevices();
  if (!others.ok()) return others.status();
  if (!others->empty()) accounts.push_back(self_.account_id);

  for (const auto& a : accounts) {
    absl::Status s = DistributeSenderKey(group_id, a);
    if (!s.ok()) return s;
  }
  auto plaintext = crypto::EncodeContent(content);
  if (!plaintext.ok()) return plaintext.status();
  auto ciphertext = groups_->Encrypt(group_id, *plaintext);
  if (!ciphertext.ok()) return ciphertext.status();
  v1::GroupCiphertext wrapped;
  wrapped.set_group_id(group_id);
  wrapped.set_ciphertext(*ciphertext);
  const std::string body = wrapped.SerializeAsString();
  for (const auto& a : accounts) {
    SendOptions options;
    options.want_receipts = WantsReceipt(content) && a != self_.account_id;
    std::vector<v1::DeviceAddress> recipients;
    auto sent = relay_->SendToAccount(
        a,
        [&](const v1::DeviceAddress&) {
          v1::OutgoingEnvelope e;
          e.set_type(v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE);
          e.set_content(body);
          return absl::StatusOr<v1::OutgoingEnvelope>(std::move(e));
        },
        options, &recipients);
    if (!sent.ok()) return sent.status();
    NoteNotQueued(*sent);
    if (options.want_receipts) RememberSent(recipients, *sent, content.message_id());
  }
  return content.message_id();
}

absl::Status Messenger::RotateGroupKey(const std::string& group_id) {
  if (!groups_) return absl::FailedPreconditionError("this device is not registered");
  auto rotated = groups_->RotateSenderKey(group_id);
  if (!rotated.ok()) return rotated.status();
  return state_->ForgetSenderKeyRecipients(group_id);
}

ReceivedMessage Messenger::Problem(const v1::Envelope& envelope, absl::Status why) {
  ReceivedMessage m;
  m.kind = ReceivedMessage::Kind::kProblem;
  m.envelope = envelope;
  m.envelope.clear_content();
  m.sender = AddressOf(envelope.sender());
  m.problem = std::move(why);
  return m;
}

void Messenger::HandleLostSession(const crypto::Address& sender) {
  // The next message to them starts a fresh session from a new bundle; the
  // reset notice tells them (and the person) that messages were lost.
  sessions_.DeleteSession(sender).IgnoreError();
  v1::Content reset;
  reset.mutable_session_reset();
  SendContent(sender.account_id, reset).IgnoreError();
}

absl::Status Messenger::ProcessEnvelope(const v1::Envelope& envelope,
                                        std::vector<ReceivedMessage>* out) {
  std::optional<std::string> kept;
  absl::Status s = ProcessAndKeep(envelope, out, &kept);
  // The caller has what it shows: nothing is left to show later.
  if (kept.has_value()) {
    absl::Status forgot = profile_->DeleteRecord(kInboxRecord, *kept);
    if (s.ok()) s = forgot;
  }
  return s;
}

absl::Status Messenger::ProcessAndKeep(const v1::Envelope& envelope,
                                       std::vector<ReceivedMessage>* out,
                                       std::optional<std::string>* kept) {
  auto seen = state_->IsProcessed(envelope.id());
  if (!seen.ok()) return seen.status();
  if (*seen) return absl::OkStatus();  // delivered twice: already kept or shown
  auto staged = Stage(envelope, out);
  if (!staged.ok()) return staged.status();
  // Marked only now that what it holds is kept: marked first, a crash in
  // between would drop the envelope when it comes again.
  auto fresh = state_->MarkProcessed(envelope.id(), absl::Now());
  if (!fresh.ok()) return fresh.status();
  if (!staged->has_value()) return absl::OkStatus();  // nothing to keep (problem or duplicate)
  const size_t before = out->size();
  absl::Status handled = Handle(**staged, out);
  if (!handled.ok()) return handled;
  if (out->size() == before) {
    // Nothing to show (a sender key, an older team profile): handled, so
    // not to be handled again after a restart.
    return profile_->DeleteRecord(kInboxRecord, envelope.id());
  }
  *kept = envelope.id();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Messenger::Staged>> Messenger::Stage(
    const v1::Envelope& envelope, std::vector<ReceivedMessage>* out) {
  Staged staged;
  staged.envelope = envelope;
  const crypto::Address sender = AddressOf(envelope.sender());
  switch (envelope.type()) {
    case v1::ENVELOPE_TYPE_SERVER_EVENT:
    case v1::ENVELOPE_TYPE_ALERT: {
      // Nothing to decrypt: kept as it came.
      absl::Status s = profile_->PutRecord(kInboxRecord, envelope.id(), EncodeStaged(staged));
      if (!s.ok()) return s;
      return std::optional<Staged>(std::move(staged));
    }
    case v1::ENVELOPE_TYPE_PREKEY_MESSAGE:
    case v1::ENVELOPE_TYPE_CIPHERTEXT: {
      auto type = envelope.type() == v1::ENVELOPE_TYPE_PREKEY_MESSAGE
                      ? crypto::MessageType::kPreKey
                      : crypto::MessageType::kWhisper;
      // Checked before the decryption pins its key.
      const bool new_device =
          type == crypto::MessageType::kPreKey && IsNewDeviceOfKnownAccount(sender);
      absl::StatusOr<std::string> decrypted = absl::UnknownError("not decrypted");
      // The session update and the plaintext are written together: the
      // plaintext is never lost once the session has moved past it.
      absl::Status stored = profile_->WriteAtomically([&]() -> absl::Status {
        decrypted = sessions_.Decrypt(sender, type, envelope.content());
        if (!decrypted.ok()) return absl::OkStatus();  // what it wrote (a pin) is kept
        staged.envelope.set_content(*decrypted);
        staged.from_new_device = new_device;
        return profile_->PutRecord(kInboxRecord, envelope.id(), EncodeStaged(staged));
      });
      if (!stored.ok()) return stored;
      if (absl::IsAlreadyExists(decrypted.status())) return std::optional<Staged>();
      if (!decrypted.ok()) {
        if (absl::IsNotFound(decrypted.status()) && type == crypto::MessageType::kWhisper) {
          HandleLostSession(sender);
          out->push_back(Problem(envelope, absl::DataLossError(absl::StrCat(
                                               "a message from ", sender.ToString(),
                                               " could not be decrypted (session lost); the "
                                               "session was reset and the sender told"))));
        } else {
          out->push_back(Problem(envelope, decrypted.status()));
        }
        return std::optional<Staged>();
      }
      return std::optional<Staged>(std::move(staged));
    }
    case v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE: {
      v1::GroupCiphertext wrapped;
      if (!wrapped.ParseFromString(envelope.content())) {
        out->push_back(Problem(envelope, absl::InvalidArgumentError("malformed group message")));
        return std::optional<Staged>();
      }
      if (!groups_) return absl::FailedPreconditionError("this device is not registered");
      absl::StatusOr<std::string> decrypted = absl::UnknownError("not decrypted");
      absl::Status stored = profile_->WriteAtomically([&]() -> absl::Status {
        decrypted = groups_->Decrypt(wrapped.group_id(), sender, wrapped.ciphertext());
        if (!decrypted.ok()) return absl::OkStatus();
        staged.envelope.set_content(*decrypted);
        staged.group_id = wrapped.group_id();
        return profile_->PutRecord(kInboxRecord, envelope.id(), EncodeStaged(staged));
      });
      if (!stored.ok()) return stored;
      if (absl::IsAlreadyExists(decrypted.status())) return std::optional<Staged>();
      if (!decrypted.ok()) {
        out->push_back(Problem(envelope, decrypted.status()));
        return std::optional<Staged>();
      }
      return std::optional<Staged>(std::move(staged));
    }
    default:
      out->push_back(Problem(
          envelope, absl::InvalidArgumentError("an unencrypted or unknown envelope was ignored")));
      return std::optional<Staged>();
  }
}

absl::Status Messenger::Handle(const Staged& staged, std::vector<ReceivedMessage>* out) {
  const v1::Envelope& envelope = staged.envelope;
  ReceivedMessage m;
  m.envelope = envelope;
  m.envelope.clear_content();
  m.sender = AddressOf(envelope.sender());
  // As a changed safety number is: the person sees that someone they write
  // with has one more device reading their messages (kept with the message,
  // so shown with it after a crash too).
  if (staged.from_new_device) out->push_back(NewDeviceNotice(envelope, m.sender));

  switch (envelope.type()) {
    case v1::ENVELOPE_TYPE_SERVER_EVENT:
      return ProcessTeamEvent(envelope, out);
    case v1::ENVELOPE_TYPE_ALERT:
      if (!m.alert.ParseFromString(envelope.content())) {
        out->push_back(Problem(envelope, absl::DataLossError("a malformed alert was ignored")));
        return absl::OkStatus();
      }
      m.kind = ReceivedMessage::Kind::kAlert;
      m.team_id = m.alert.team_id();
      if (m.alert.kind() == v1::Alert::KIND_DEVICE_ADDED &&
          m.alert.new_device().account_id() == self_.account_id && handover_ != nullptr) {
        // A device of this account was linked: it starts with this one's
        // history (what fails is said after the notice).
        auto handed = handover_->OfferToNewDevice(m.alert.new_device().device_id());
        out->push_back(std::move(m));
        if (!handed.ok()) {
          out->push_back(Problem(envelope, absl::Status(handed.status().code(),
                                                        absl::StrCat("the new device did not get "
                                                                     "this device's history: ",
                                                                     handed.status().message()))));
        }
        return absl::OkStatus();
      }
      out->push_back(std::move(m));
      return absl::OkStatus();
    default:
      break;
  }
  const std::string& plaintext = envelope.content();
  const std::string& group_id = staged.group_id;  // of a group message

  auto content = crypto::DecodeContent(plaintext);
  if (!content.ok()) {
    out->push_back(Problem(envelope, content.status()));
    return absl::OkStatus();
  }
  if (content->has_sender_key_distribution()) {
    // Arrived over the pairwise session with the sender, so it is theirs.
    if (envelope.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE || !groups_) {
      out->push_back(Problem(
          envelope, absl::InvalidArgumentError("a sender key must come over a pairwise session")));
      return absl::OkStatus();
    }
    const std::string& key_group = content->sender_key_distribution().group_id();
    absl::Status s = groups_->ProcessDistributionMessage(
        key_group, m.sender, content->sender_key_distribution().distribution_message());
    if (!s.ok()) {
      out->push_back(Problem(envelope, s));
      return absl::OkStatus();
    }
    // Remembered so the key can be dropped when the sender leaves the team.
    return state_->MarkSenderKeyReceived(key_group, m.sender.ToString());
  }
  if (envelope.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE) {
    // The key that decrypted it names the group; the content must agree.
    if (!content->group_id().empty() && content->group_id() != group_id) {
      out->push_back(Problem(envelope, absl::InvalidArgumentError(absl::StrCat(
                                           "a group message for ", content->group_id(),
                                           " came encrypted for ", group_id, "; ignored"))));
      return absl::OkStatus();
    }
    content->set_group_id(group_id);
    if (!envelope.team_id().empty()) {
      std::string team_id;
      v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
      if (!ParseTeamGroupId(group_id, &team_id, &channel) || team_id != envelope.team_id() ||
          channel != envelope.channel()) {
        out->push_back(
            Problem(envelope,
                    absl::InvalidArgumentError(absl::StrCat(
                        "a message relayed on #", ChannelName(envelope.channel()), " of team ",
                        envelope.team_id(), " was encrypted for group ", group_id, "; ignored"))));
        return absl::OkStatus();
      }
      m.team_id = team_id;
      m.channel = channel;
      Describe(team_id, m.sender.account_id, &m.sender_name, &m.sender_role);
    }
  }
  m.content = *std::move(content);
  if (m.content.has_team_profile()) {
    ProcessTeamProfile(envelope, std::move(m), out);
    return absl::OkStatus();
  }
  if (m.content.has_attachment()) return ProcessAttachment(envelope, std::move(m), out);
  if (m.content.has_history_share()) {
    ProcessHistoryShare(envelope, std::move(m), out);
    return absl::OkStatus();
  }
  auto kept = KeepReceived(m, out);
  if (!kept.ok()) return kept.status();
  if (*kept) out->push_back(std::move(m));
  return absl::OkStatus();
}

absl::StatusOr<bool> Messenger::KeepReceived(const ReceivedMessage& m,
                                             std::vector<ReceivedMessage>* out) {
  const v1::Content& content = m.content;
  v1::HistoryEntry entry;
  if (!m.team_id.empty()) {
    entry.set_team_id(m.team_id);
    entry.set_channel(m.channel);
  } else if (content.group_id().empty()) {
    // A direct conversation; a copy of what this account sent from another
    // device belongs to the conversation with its recipient.
    entry.set_peer_account_id(m.sender.account_id == self_.account_id
                                  ? content.sync_for_account_id()
                                  : m.sender.account_id);
  }
  const bool kept_here = History::Keeps(content) && !content.message_id().empty() &&
                         (!entry.team_id().empty() || !entry.peer_account_id().empty());
  if (content.has_notebook_entry() && entry.team_id().empty()) {
    out->push_back(Problem(m.envelope, absl::InvalidArgumentError(
                                           "a notebook entry outside a team channel was ignored")));
    return false;
  }
  if (!kept_here) return true;  // shown, not kept (a receipt, an intake's notes...)
  entry.set_sender_account_id(m.sender.account_id);
  entry.set_sender_device_id(m.sender.device_id);
  entry.set_sender_name(m.sender_name);
  entry.set_sender_role(m.sender_role);
  entry.set_received_at_ms(m.envelope.server_timestamp_ms());
  entry.set_urgent(m.envelope.ack_required());
  *entry.mutable_content() = content;
  // Ordered by the send time; a sender that gave none is placed by the
  // server's.
  if (content.sent_at_ms() == 0) entry.mutable_content()->set_sent_at_ms(entry.received_at_ms());
  absl::Status refused;
  if (content.has_notebook_entry()) refused = CheckNotebookEntry(history_, entry);
  if (refused.ok()) refused = history_.Keep(entry);
  if (refused.ok()) return true;
  if (absl::IsInvalidArgument(refused) || absl::IsPermissionDenied(refused) ||
      absl::IsAlreadyExists(refused)) {
    out->push_back(Problem(m.envelope, refused));
    return false;
  }
  return refused;  // the profile could not be written: the envelope stays in the inbox
}

absl::Status Messenger::KeepSent(const v1::Content& content, const std::string& team_id,
                                 v1::Channel channel, const std::string& peer_account_id,
                                 bool urgent) {
  if (!History::Keeps(content)) return absl::OkStatus();
  v1::HistoryEntry entry;
  entry.set_team_id(team_id);
  entry.set_channel(team_id.empty() ? v1::CHANNEL_UNSPECIFIED : channel);
  entry.set_peer_account_id(peer_account_id);
  entry.set_sender_account_id(self_.account_id);
  entry.set_sender_device_id(self_.device_id);
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string name;
  if (!team_id.empty()) Describe(team_id, self_.account_id, &name, &role);
  entry.set_sender_name(name);
  entry.set_sender_role(role);
  entry.set_received_at_ms(absl::ToUnixMillis(absl::Now()));
  entry.set_urgent(urgent);
  *entry.mutable_content() = content;
  absl::Status s = history_.Keep(entry);
  if (s.ok()) return s;
  // The message went: saying the send failed would make the person send it
  // again. Only this device's record of it is missing.
  return absl::Status(s.code(),
                      absl::StrCat("sent, but not kept in this device's history: ", s.message()));
}

void Messenger::RememberSent(const std::vector<v1::DeviceAddress>& recipients,
                             const v1::SendResponse& response, const std::string& message_id,
                             const std::string& team_id, v1::Channel channel) {
  const absl::Time now = absl::Now();
  std::vector<SentEnvelope> sent;
  for (int i = 0; i < response.envelope_ids_size() && i < static_cast<int>(recipients.size());
       ++i) {
    if (recipients[i].account_id() == self_.account_id) continue;
    SentEnvelope e;
    // An id that is not a sequence (a server of another contract) cannot be
    // matched with a watermark: no receipt for it, rather than a wrong one.
    if (response.envelope_ids(i).size() != 16 ||
        !absl::SimpleHexAtoi(response.envelope_ids(i), &e.sequence)) {
      continue;
    }
    e.device = AddressOf(recipients[i]).ToString();
    e.message_id = message_id;
    e.urgent_message_id = response.urgent_message_id();
    e.team_id = team_id;
    e.channel = channel;
    e.sent_at = now;
    sent.push_back(std::move(e));
  }
  if (sent.empty()) return;
  // The message is sent whatever happens here: failing the send would make
  // the person send it twice. Only its "delivered" notices would be missing,
  // and a device state that cannot be written fails the next receive loudly.
  state_->RememberSent(sent).IgnoreError();
}

absl::Status Messenger::ProcessWatermarks(
    const google::protobuf::RepeatedPtrField<v1::DeliveryWatermark>& watermarks,
    std::vector<ReceivedMessage>* out) {
  std::vector<DeliveredThrough> marks;
  uint64_t version = 0;
  for (const v1::DeliveryWatermark& w : watermarks) {
    marks.push_back({AddressOf(w.recipient()).ToString(), w.delivered_through()});
    version = std::max(version, w.version());
  }
  auto delivered = state_->TakeDelivered(marks, version);
  if (!delivered.ok()) return delivered.status();
  // One entry per message of ours, listing every device it reached, in the
  // order the messages were sent.
  std::vector<ReceivedMessage> notices;
  std::map<std::string, size_t> by_message;
  for (const SentEnvelope& e : *delivered) {
    crypto::Address device;
    if (!ParseDeviceName(e.device, &device)) continue;
    auto [it, fresh] = by_message.emplace(e.message_id, notices.size());
    if (fresh) {
      ReceivedMessage& m = notices.emplace_back();
      m.kind = ReceivedMessage::Kind::kDelivered;
      m.team_id = e.team_id;
      m.channel = static_cast<v1::Channel>(e.channel);
      m.delivery.message_id = e.message_id;
      m.delivery.urgent_message_id = e.urgent_message_id;
      m.delivery.sent_at = e.sent_at;
    }
    Delivery& d = notices[it->second].delivery;
    d.sent_at = std::min(d.sent_at, e.sent_at);
    d.to.push_back({device, EnvelopeIdOf(e.sequence), DisplayName(device.account_id)});
  }
  std::stable_sort(notices.begin(), notices.end(),
                   [](const ReceivedMessage& a, const ReceivedMessage& b) {
                     return a.delivery.sent_at < b.delivery.sent_at;
                   });
  for (ReceivedMessage& m : notices) out->push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status Messenger::Receive(bool follow,
                                const std::function<bool(const ReceivedMessage&)>& on_message) {
  absl::Status pruned = state_->PruneIfDue(absl::Now(), kKeepDeliveryState, kPruneEvery);
  if (!pruned.ok()) return pruned;
  // What a previous run acknowledged and kept but did not get to show.
  auto more = ShowKept(on_message);
  if (!more.ok()) return more.status();
  if (!*more) return absl::OkStatus();
  auto version = state_->WatermarkVersion();
  if (!version.ok()) return version.status();
  v1::ReceiveRequest request;
  // Only the watermarks that changed since the last ones kept: a delivery
  // already shown is not shown again.
  request.set_watermarks_after_version(*version);
  auto stream = relay_->Receive(request);
  if (!stream.ok()) return stream.status();
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    active_stream_ = stream->get();
  }
  v1::ReceiveResponse response;
  bool stop = false;
  bool ended = false;
  absl::Status failure;
  while (!stop) {
    if (!(*stream)->Next(&response)) {
      ended = true;
      break;
    }
    std::vector<ReceivedMessage> messages;
    std::vector<std::string> kept_ids;  // inbox records to drop once shown
    // Envelopes come in sequence order, so everything processed is the
    // prefix through this one.
    uint64_t stored_through = 0;
    for (const auto& e : response.envelopes()) {
      std::optional<std::string> kept;
      failure = ProcessAndKeep(e, &messages, &kept);
      if (!failure.ok()) break;
      if (kept.has_value()) kept_ids.push_back(*std::move(kept));
      stored_through = e.sequence();
    }
    // While the stream is still open (the server applies an acknowledgement
    // to the open stream only), and before anything is handed over: what is
    // processed is kept in the profile (the inbox), and a stop requested
    // from the callback must not leave it queued. A message with
    // watermarks only needs none.
    if (stored_through > 0) {
      auto acked = relay_->Ack(stored_through);
      if (!acked.ok() && failure.ok()) failure = acked.status();
    }
    if (failure.ok() && response.watermarks_size() > 0) {
      failure = ProcessWatermarks(response.watermarks(), &messages);
    }
    for (const auto& m : messages) {
      if (!on_message(m)) stop = true;
    }
    // Shown: a crash before this point shows them again on the next run
    // (ShowKept), never loses them.
    for (const std::string& id : kept_ids) {
      absl::Status forgot = profile_->DeleteRecord(kInboxRecord, id);
      if (!forgot.ok() && failure.ok()) failure = forgot;
    }
    if (!failure.ok()) break;
    if (response.queue_drained() && !follow) stop = true;
  }
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    active_stream_ = nullptr;
  }
  // Cancel only a stream the server has not ended: cancelling an ended one
  // would hide its status (e.g. UNAUTHENTICATED for a revoked device).
  if (!ended) {
    (*stream)->Cancel();
    while ((*stream)->Next(&response)) {
    }
  }
  absl::Status end = (*stream)->Finish();
  if (!failure.ok()) return failure;
  if (!ended) return absl::OkStatus();                  // we stopped it
  if (absl::IsCancelled(end)) return absl::OkStatus();  // StopReceiving
  return end;
}

absl::StatusOr<bool> Messenger::ShowKept(
    const std::function<bool(const ReceivedMessage&)>& on_message) {
  auto records = profile_->ListRecords(kInboxRecord);
  if (!records.ok()) return records.status();
  bool more = true;
  for (const auto& [id, record] : *records) {
    std::vector<ReceivedMessage> messages;
    auto staged = DecodeStaged(record);
    if (!staged.ok()) {
      v1::Envelope unknown;
      unknown.set_id(id);
      messages.push_back(Problem(unknown, staged.status()));
    } else {
      // Handled again: what it changes here (a team profile, a pointer, a
      // reaction to a team event) is made so that doing it twice is harmless.
      absl::Status s = Handle(*staged, &messages);
      if (!s.ok()) return s;
    }
    for (const auto& m : messages) {
      if (!on_message(m)) more = false;
    }
    absl::Status forgot = profile_->DeleteRecord(kInboxRecord, id);
    if (!forgot.ok()) return forgot;
    if (!more) break;
  }
  return more;
}

void Messenger::StopReceiving() {
  std::lock_guard<std::mutex> lock(stream_mu_);
  if (active_stream_) active_stream_->Cancel();
}

absl::StatusOr<std::vector<DeviceSafetyNumber>> Messenger::SafetyNumbers(
    const std::string& account_id) {
  auto devices = sessions_.DevicesWithSessions(account_id);
  if (!devices.ok()) return devices.status();
  // Devices whose key changed may have no session any more; show them too.
  auto changed = profile_->AddressesWithChangedIdentity();
  if (!changed.ok()) return changed.status();
  for (const auto& a : *changed) {
    if (a.account_id == account_id &&
        std::find(devices->begin(), devices->end(), a.device_id) == devices->end()) {
      devices->push_back(a.device_id);
    }
  }
  std::sort(devices->begin(), devices->end());
  if (devices->empty()) {
    return absl::NotFoundError("no session with " + account_id + " yet: exchange a message first");
  }
  std::vector<DeviceSafetyNumber> out;
  const crypto::LocalIdentity& local = profile_->local_identity();
  for (uint32_t d : *devices) {
    crypto::Address remote{account_id, d};
    auto pin = profile_->PinnedIdentity(remote);
    if (!pin.ok()) return pin.status();
    auto number = crypto::ComputeSafetyNumber(profile_->signal(), self_.account_id,
                                              local.identity_key, account_id, pin->trusted_key);
    if (!number.ok()) return number.status();
    out.push_back({remote, *std::move(number), !pin->changed_key.empty()});
  }
  return out;
}

absl::StatusOr<int> Messenger::Trust(const std::string& account_id) {
  auto changed = profile_->AddressesWithChangedIdentity();
  if (!changed.ok()) return changed.status();
  int trusted = 0;
  for (const auto& a : *changed) {
    if (a.account_id != account_id) continue;
    auto pin = profile_->PinnedIdentity(a);
    if (!pin.ok()) return pin.status();
    // Also drops the session built on the old key (ProfileStore does it in
    // the same write), so the next message starts over with the new one.
    absl::Status s = profile_->TrustIdentity(a, pin->changed_key);
    if (!s.ok()) return s;
    ++trusted;
  }
  return trusted;
}

// --- Care teams --------------------------------------------------------------------

absl::StatusOr<std::string> Messenger::SendTeamContent(const std::string& team_id,
                                                       v1::Channel channel, v1::Content content) {
  if (!groups_) return absl::FailedPreconditionError("this device is not registered");
  if (team_id.empty()) return absl::InvalidArgumentError("no team given");
  if (channel == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(channel)) {
    return absl::InvalidArgumentError("choose a team channel: team, care, clinical or intake");
  }
  const std::string group_id = TeamGroupId(team_id, channel);
  if (content.message_id().empty()) content.set_message_id(NewMessageId());
  if (content.sent_at_ms() == 0) content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  content.set_group_id(group_id);
  auto plaintext = crypto::EncodeContent(content);
  if (!plaintext.ok()) return plaintext.status();

  absl::Status last;
  for (int attempt = 0; attempt < kTeamSendAttempts; ++attempt) {
    auto team = FetchTeam(team_id);
    if (!team.ok()) return team.status();
    // Before anything is sent pairwise (sender keys), whose refusal would
    // hide the real reason.
    if (team->status() == v1::TEAM_STATUS_CLOSED) {
      return absl::FailedPreconditionError(
          "this team is closed: its history can be read, but nothing more can be sent");
    }
    if (const v1::Member* me = ActingMember(*team, self_.account_id);
        me != nullptr && !CanPost(*me, channel)) {
      std::vector<std::string> allowed;
      for (v1::Channel c : kTeamChannels) {
        if (CanPost(*me, c)) allowed.push_back("#" + ChannelName(c));
      }
      return absl::PermissionDeniedError(
          absl::StrCat("as ", RoleName(me->role()), " you may not post on #", ChannelName(channel),
                       " of this team; ",
                       allowed.empty() ? "you may post on none of its channels"
                                       : "you may post on " + absl::StrJoin(allowed, ", ")));
    }
    if (ReaderDevices(*team, channel, self_.account_id, self_.device_id).empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "nobody else may read #", ChannelName(channel),
          " of this team yet (no active member who may read it has a device): invite them "
          "first, or choose another channel"));
    }
    auto sent = SendTeamOnce(*team, channel, group_id, *plaintext, content.message_id(),
                             WantsReceipt(content));
    if (sent.ok()) {
      last_urgent_id_ = sent->urgent_message_id();
      absl::Status kept = KeepSent(content, team_id, channel, "", urgent_team_send_);
      if (!kept.ok()) return kept;
      return content.message_id();
    }
    last = sent.status();
    // The team changed between the server's check and its write: nothing
    // was queued; fetch it again (forward secrecy applies to the new list).
    if (absl::IsAborted(last)) continue;
    std::optional<v1::ErrorDetail> detail = GetDetail(last);
    if (!absl::IsFailedPrecondition(last) || !detail || !detail->has_device_mismatch()) {
      return last;
    }
    // Missing and extra devices are fixed by fetching the team again; a
    // stale one was re-installed, so its session and key mark are useless.
    for (const auto& a : detail->device_mismatch().stale()) {
      sessions_.DeleteSession(AddressOf(a)).IgnoreError();
      state_->ForgetSenderKeyRecipient(group_id, AddressOf(a).ToString()).IgnoreError();
      relay_->ForgetDevices(a.account_id());
    }
  }
  return absl::Status(last.code(),
                      absl::StrCat(last.message(), " (the team's devices changed during ",
                                   kTeamSendAttempts, " attempts; send again)"));
}

absl::StatusOr<std::string> Messenger::SendTeamText(const std::string& team_id, v1::Channel channel,
                                                    const std::string& text) {
  v1::Content content;
  content.mutable_text()->set_body(text);
  return SendTeamContent(team_id, channel, std::move(content));
}

absl::StatusOr<v1::SendResponse> Messenger::SendTeamOnce(const v1::Team& team, v1::Channel channel,
                                                         const std::string& group_id,
                                                         const std::string& plaintext,
                                                         const std::string& message_id,
                                                         bool want_receipts) {
  const std::vector<ReaderDevice> readers =
      ReaderDevices(team, channel, self_.account_id, self_.device_id);
  std::set<std::string> reader_names;
  std::map<std::string, std::vector<uint32_t>> by_account;
  for (const ReaderDevice& r : readers) {
    reader_names.insert(r.ToString());
    by_account[r.account_id].push_back(r.device_id);
    // A session with an earlier installation of the device is useless to it.
    crypto::Address address{r.account_id, r.device_id};
    auto registration = sessions_.RemoteRegistrationId(address);
    if (registration.ok() && r.registration_id != 0 && *registration != r.registration_id) {
      sessions_.DeleteSession(address).IgnoreError();
      absl::Status s = state_->ForgetSenderKeyRecipient(group_id, r.ToString());
      if (!s.ok()) return s;
    }
  }

  // Forward secrecy: nobody who may no longer read keeps a usable key.
  auto holders = state_->SenderKeyRecipients(group_id);
  if (!holders.ok()) return holders.status();
  for (const std::string& holder : *holders) {
    if (reader_names.count(holder) == 0) {
      absl::Status s = RotateGroupKey(group_id);
      if (!s.ok()) return s;
      break;
    }
  }
  for (const auto& [account, devices] : by_account) {
    relay_->RememberDevices(account, devices);
    absl::Status s = DistributeSenderKey(group_id, account, devices);
    if (!s.ok()) return s;
  }

  auto ciphertext = groups_->Encrypt(group_id, plaintext);
  if (!ciphertext.ok()) return ciphertext.status();
  v1::GroupCiphertext wrapped;
  wrapped.set_group_id(group_id);
  wrapped.set_ciphertext(*ciphertext);
  const std::string body = wrapped.SerializeAsString();
  std::vector<v1::OutgoingEnvelope> envelopes;
  std::vector<v1::DeviceAddress> recipients;
  envelopes.reserve(readers.size());
  recipients.reserve(readers.size());
  for (const ReaderDevice& r : readers) {
    v1::OutgoingEnvelope e;
    e.set_account_id(r.account_id);
    e.set_device_id(r.device_id);
    e.set_registration_id(r.registration_id);
    e.set_type(v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE);
    e.set_content(body);
    envelopes.push_back(std::move(e));
    v1::DeviceAddress& a = recipients.emplace_back();
    a.set_account_id(r.account_id);
    a.set_device_id(r.device_id);
  }
  SendOptions options;
  options.priority = urgent_team_send_ ? v1::PRIORITY_URGENT : v1::PRIORITY_NORMAL;
  options.ack_required = urgent_team_send_;
  options.want_receipts = want_receipts;
  auto sent = relay_->SendToTeam(team.team_id(), channel, std::move(envelopes), options);
  if (sent.ok()) NoteNotQueued(*sent);
  if (sent.ok() && want_receipts) {
    RememberSent(recipients, *sent, message_id, team.team_id(), channel);
  }
  return sent;
}

absl::StatusOr<std::optional<v1::TeamProfile>> Messenger::GetTeamProfile(
    const std::string& team_id) {
  auto record = profile_->GetRecord(kTeamProfileRecord, team_id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::optional<v1::TeamProfile>();
  v1::TeamProfile profile;
  if (!profile.ParseFromString(**record)) {
    return absl::DataLossError("the stored team profile of team " + team_id + " is damaged");
  }
  return std::optional<v1::TeamProfile>(std::move(profile));
}

absl::StatusOr<bool> Messenger::StoreTeamProfileIfNewer(const v1::TeamProfile& profile) {
  auto held = GetTeamProfile(profile.team_id());
  if (!held.ok()) return held.status();
  if (held->has_value() && (*held)->updated_at_ms() >= profile.updated_at_ms()) return false;
  absl::Status s =
      profile_->PutRecord(kTeamProfileRecord, profile.team_id(), profile.SerializeAsString());
  if (!s.ok()) return s;
  return true;
}

absl::StatusOr<int> Messenger::SetTeamProfile(v1::TeamProfile profile) {
  if (profile.team_id().empty()) return absl::InvalidArgumentError("the profile names no team");
  auto team = FetchTeam(profile.team_id());
  if (!team.ok()) return team.status();
  if (!MayEditTeamProfile(*team, self_.account_id)) {
    std::string coordinator = DisplayName(team->coordinator_account_id());
    return absl::PermissionDeniedError(absl::StrCat(
        "only the coordinator, the case manager, the patient or a caregiver acting for them may "
        "change the team profile",
        coordinator.empty() ? "" : "; ask " + coordinator));
  }
  auto held = GetTeamProfile(profile.team_id());
  if (!held.ok()) return held.status();
  int64_t now = absl::ToUnixMillis(absl::Now());
  // Newest wins on every device: never stamp older than what is held.
  if (held->has_value() && (*held)->updated_at_ms() >= now) now = (*held)->updated_at_ms() + 1;
  profile.set_updated_at_ms(now);
  profile.set_updated_by_account_id(self_.account_id);
  absl::Status s =
      profile_->PutRecord(kTeamProfileRecord, profile.team_id(), profile.SerializeAsString());
  if (!s.ok()) return s;
  return ShareTeamProfile(profile.team_id());
}

absl::StatusOr<int> Messenger::ShareTeamProfile(const std::string& team_id,
                                                const std::string& account_id) {
  auto profile = GetTeamProfile(team_id);
  if (!profile.ok()) return profile.status();
  if (!profile->has_value()) {
    return absl::NotFoundError(absl::StrCat("this device holds no team profile for team ", team_id,
                                            ": set it with `carerelay team profile ", team_id,
                                            " --set ...`, or wait for a member to send it"));
  }
  auto team = FetchTeam(team_id);
  if (!team.ok()) return team.status();
  std::vector<std::string> to;
  if (!account_id.empty()) {
    const v1::Member* m = ActingMember(*team, account_id);
    if (m == nullptr || m->status() != v1::MEMBER_STATUS_ACTIVE) {
      return absl::FailedPreconditionError(
          absl::StrCat(account_id, " is not an active member of team ", team_id,
                       ": only active members receive the team profile"));
    }
    to.push_back(account_id);
  } else {
    auto add = [&](const std::string& account) {
      if (account != self_.account_id && std::find(to.begin(), to.end(), account) == to.end()) {
        to.push_back(account);
      }
    };
    for (const v1::Member& m : team->members()) {
      if (m.status() != v1::MEMBER_STATUS_ACTIVE) continue;
      add(m.account_id());
      // An organisation's staff on duty read the team as it does.
      for (const v1::StaffOnDuty& staff : m.on_duty()) add(staff.account_id());
    }
    auto others = OwnOtherDevices();
    if (!others.ok()) return others.status();
    if (!others->empty()) to.push_back(self_.account_id);
  }
  v1::Content content;
  content.set_message_id(NewMessageId());
  content.set_sent_at_ms(absl::ToUnixMillis(absl::Now()));
  *content.mutable_team_profile() = **profile;
  int sent = 0;
  absl::Status first;
  std::vector<std::string> failed;
  for (const std::string& a : to) {
    absl::Status s = SendPairwise(a, content);
    if (s.ok()) {
      if (a != self_.account_id) ++sent;
      continue;
    }
    if (first.ok()) first = s;
    std::string name = a == self_.account_id ? "your other devices" : DisplayName(a);
    failed.push_back(name.empty() ? ShortId(a) : name);
  }
  if (!first.ok()) {
    return absl::Status(
        first.code(), absl::StrCat("the team profile was sent to ", sent, " member(s) but not to ",
                                   absl::StrJoin(failed, ", "), ": ", first.message()));
  }
  return sent;
}

absl::StatusOr<v1::Team> Messenger::FetchTeam(const std::string& team_id) {
  auto team = relay_->GetTeam(team_id);
  if (!team.ok()) {
    teams_.erase(team_id);
    return team.status();
  }
  teams_[team_id] = CachedTeamEntry{*team, false};
  RememberNames(*team);
  return team;
}

absl::StatusOr<v1::Team> Messenger::CachedTeam(const std::string& team_id) {
  auto it = teams_.find(team_id);
  if (it != teams_.end() && !it->second.team.team_id().empty()) return it->second.team;
  return FetchTeam(team_id);
}

void Messenger::Describe(const std::string& team_id, const std::string& account_id,
                         std::string* name, v1::Role* role) {
  if (account_id.empty()) return;
  auto it = teams_.find(team_id);
  const bool unknown =
      it == teams_.end() || (ActingMember(it->second.team, account_id) == nullptr &&
                             !it->second.refetched_for_unknown_sender);
  if (unknown) {
    // Once per team between events: someone the fresh copy does not list
    // either (a former member) must not cost a call per message.
    if (!FetchTeam(team_id).ok()) teams_[team_id] = CachedTeamEntry{};
    it = teams_.find(team_id);
    it->second.refetched_for_unknown_sender = true;
  }
  if (const v1::Member* m = ActingMember(it->second.team, account_id)) {
    *name = m->display_name();
    // Staff on duty write for their organisation: "Anne Peeters (Soins Ixelles)".
    if (const v1::StaffOnDuty* staff = OnDuty(*m, account_id)) {
      *name = absl::StrCat(staff->display_name(), " (", m->display_name(), ")");
    }
    if (role != nullptr) *role = m->role();
    return;
  }
  *name = DisplayName(account_id);
}

absl::Status Messenger::LoadNames() {
  if (names_loaded_) return absl::OkStatus();
  auto records = profile_->ListRecords(kDisplayNameRecord);
  if (!records.ok()) return records.status();
  for (auto& [account, name] : *records) names_[account] = std::move(name);
  names_loaded_ = true;
  return absl::OkStatus();
}

void Messenger::RememberNames(const v1::Team& team) {
  if (!LoadNames().ok()) return;  // names only label messages
  for (const v1::Member& m : team.members()) {
    if (m.display_name().empty()) continue;
    std::string& known = names_[m.account_id()];
    if (known == m.display_name()) continue;
    known = m.display_name();
    profile_->PutRecord(kDisplayNameRecord, m.account_id(), known).IgnoreError();
  }
}

std::string Messenger::DisplayName(const std::string& account_id) {
  LoadNames().IgnoreError();
  auto it = names_.find(account_id);
  return it == names_.end() ? std::string() : it->second;
}

absl::Status Messenger::RotateTeamKeys(const std::string& team_id) {
  for (v1::Channel c : kTeamChannels) {
    const std::string group_id = TeamGroupId(team_id, c);
    auto holders = state_->SenderKeyRecipients(group_id);
    if (!holders.ok()) return holders.status();
    // Nobody else holds the current key: nothing to take back.
    if (holders->empty()) continue;
    absl::Status s = RotateGroupKey(group_id);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Messenger::ForgetSenderKeysOf(const std::string& team_id,
                                           const std::string& account_id) {
  if (!groups_) return absl::FailedPreconditionError("this device is not registered");
  for (v1::Channel c : kTeamChannels) {
    const std::string group_id = TeamGroupId(team_id, c);
    auto senders = state_->SenderKeysReceived(group_id);
    if (!senders.ok()) return senders.status();
    for (const std::string& name : *senders) {
      crypto::Address sender;
      if (!ParseDeviceName(name, &sender)) continue;
      if (!account_id.empty() && sender.account_id != account_id) continue;
      absl::Status s = groups_->ForgetSender(group_id, sender);
      if (s.ok()) s = state_->ForgetSenderKeyReceived(group_id, name);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Messenger::ForgetTeam(const std::string& team_id) {
  teams_.erase(team_id);
  absl::Status s = profile_->DeleteRecord(kTeamProfileRecord, team_id);
  if (s.ok()) s = history_.ForgetTeam(team_id);
  if (!s.ok()) return s;
  auto attachments = ListAttachments(team_id);
  if (!attachments.ok()) return attachments.status();
  for (const auto& a : *attachments) {
    s = profile_->DeleteRecord(kAttachmentRecord, a.attachment_id());
    if (!s.ok()) return s;
  }
  // Everyone's keys of the team's channels, this device's own included.
  s = ForgetSenderKeysOf(team_id, "");
  if (!s.ok()) return s;
  for (v1::Channel c : kTeamChannels) {
    const std::string group_id = TeamGroupId(team_id, c);
    s = profile_->DeleteSenderKey(group_id, self_);
    if (s.ok()) s = state_->ForgetSenderKeyRecipients(group_id);
    if (!s.ok()) return s;
  }
  return state_->ForgetTeam(team_id);
}

absl::Status Messenger::ProcessTeamEvent(const v1::Envelope& envelope,
                                         std::vector<ReceivedMessage>* out) {
  // Only the server makes events; a device cannot (the relay refuses the
  // type from clients), so one with a sender is not to be believed.
  if (!envelope.sender().account_id().empty()) {
    out->push_back(Problem(envelope, absl::InvalidArgumentError(absl::StrCat(
                                         "a team event sent by ", envelope.sender().account_id(),
                                         " (not by the server) was ignored"))));
    return absl::OkStatus();
  }
  v1::TeamEvent event;
  if (!event.ParseFromString(envelope.content()) || event.team_id().empty()) {
    out->push_back(Problem(envelope, absl::InvalidArgumentError("a malformed team event")));
    return absl::OkStatus();
  }
  if (!envelope.team_id().empty() && envelope.team_id() != event.team_id()) {
    out->push_back(Problem(envelope, absl::InvalidArgumentError(absl::StrCat(
                                         "an event of team ", event.team_id(),
                                         " came as one of team ", envelope.team_id()))));
    return absl::OkStatus();
  }
  ReceivedMessage m;
  m.kind = ReceivedMessage::Kind::kTeamEvent;
  m.envelope = envelope;
  m.envelope.clear_content();
  m.sender = AddressOf(envelope.sender());
  m.team_id = event.team_id();
  // Names first: the change may take the person off the team.
  Describe(m.team_id, event.actor_account_id(), &m.sender_name, &m.sender_role);
  v1::Role ignored = v1::ROLE_UNSPECIFIED;
  Describe(m.team_id, event.subject_account_id(), &m.subject_name, &ignored);
  m.event = event;
  if (event.audit_sequence() > 0) {
    absl::Status s =
        state_->RememberAuditHead(event.team_id(), {event.audit_sequence(), event.audit_hash()});
    if (!s.ok()) return s;
  }
  out->push_back(std::move(m));
  // The team changed: what is cached of it is stale.
  teams_.erase(event.team_id());
  ReactToTeamEvent(event, envelope, out);
  return absl::OkStatus();
}

void Messenger::ReactToTeamEvent(const v1::TeamEvent& event, const v1::Envelope& envelope,
                                 std::vector<ReceivedMessage>* out) {
  const std::string& team_id = event.team_id();
  const bool about_me = event.subject_account_id() == self_.account_id;
  absl::Status s;
  switch (event.kind()) {
    case v1::TeamEvent::KIND_REMOVED:
    case v1::TeamEvent::KIND_LEFT:
    case v1::TeamEvent::KIND_DECLINED:
      if (about_me) {
        s = ForgetTeam(team_id);
        break;
      }
      s = RotateTeamKeys(team_id);
      if (s.ok()) s = ForgetSenderKeysOf(team_id, event.subject_account_id());
      break;
    case v1::TeamEvent::KIND_ROLE_CHANGED:
    case v1::TeamEvent::KIND_ACCESS_NARROWED:
      s = RotateTeamKeys(team_id);
      break;
    case v1::TeamEvent::KIND_ROSTER_CHANGED: {
      // "<staff account> removed|off duty": they stop reading the team.
      const std::string staff = event.detail().substr(0, event.detail().find(' '));
      const bool stops =
          absl::EndsWith(event.detail(), " removed") || absl::EndsWith(event.detail(), " off duty");
      if (absl::EndsWith(event.detail(), " on duty") && staff != self_.account_id) {
        // A new shift: the coordinator's devices hand them the profile,
        // and the history (once).
        s = OfferTeamProfile(team_id, staff);
        if (s.ok()) s = OfferHistory(team_id, staff);
        break;
      }
      if (!stops) break;
      if (staff == self_.account_id) {
        // Off the roster, and on the team no other way: as a removal. Off
        // duty, the keys stay for the next shift (senders rotate theirs).
        if (absl::EndsWith(event.detail(), " removed") &&
            absl::IsNotFound(FetchTeam(team_id).status())) {
          s = ForgetTeam(team_id);
        }
        break;
      }
      s = RotateTeamKeys(team_id);
      if (s.ok()) s = ForgetSenderKeysOf(team_id, staff);
      break;
    }
    case v1::TeamEvent::KIND_ERASED:
      s = ForgetTeam(team_id);
      break;
    case v1::TeamEvent::KIND_JOINED:
      if (!about_me && !event.subject_account_id().empty()) {
        s = OfferTeamProfile(team_id, event.subject_account_id());
        if (s.ok()) s = OfferHistory(team_id, event.subject_account_id());
      }
      break;
    default:
      break;
  }
  if (!s.ok()) {
    out->push_back(
        Problem(envelope, absl::Status(s.code(), absl::StrCat("after a change on team ", team_id,
                                                              ": ", s.message()))));
  }
}

absl::Status Messenger::OfferHistory(const std::string& team_id, const std::string& account_id) {
  if (handover_ == nullptr) return absl::OkStatus();
  auto handed = handover_->OfferTo(team_id, account_id);
  if (handed.ok()) return absl::OkStatus();
  return absl::Status(handed.status().code(),
                      absl::StrCat("the team's history could not be handed to ", account_id, ": ",
                                   handed.status().message()));
}

absl::Status Messenger::OfferTeamProfile(const std::string& team_id,
                                         const std::string& account_id) {
  auto profile = GetTeamProfile(team_id);
  if (!profile.ok()) return profile.status();
  if (!profile->has_value()) return absl::OkStatus();
  auto team = FetchTeam(team_id);
  if (!team.ok()) return team.status();
  if (team->coordinator_account_id() != self_.account_id &&
      team->case_manager_account_id() != self_.account_id) {
    return absl::OkStatus();
  }
  const v1::Member* m = ActingMember(*team, account_id);
  if (m == nullptr || m->status() != v1::MEMBER_STATUS_ACTIVE) return absl::OkStatus();
  absl::StatusOr<int> sent = ShareTeamProfile(team_id, account_id);
  if (!sent.ok()) {
    return absl::Status(sent.status().code(),
                        absl::StrCat(sent.status().message(), "; send it again with `carerelay ",
                                     "team profile ", team_id, " --share`"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::AttachmentPointer>> Messenger::GetAttachment(
    const std::string& attachment_id) {
  auto record = profile_->GetRecord(kAttachmentRecord, attachment_id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::nullopt;
  v1::AttachmentPointer pointer;
  if (!pointer.ParseFromString(**record)) {
    return absl::DataLossError("a stored attachment pointer is unreadable");
  }
  return pointer;
}

absl::Status Messenger::KeepAttachment(const v1::AttachmentPointer& pointer) {
  absl::Status s = ValidAttachmentPointer(pointer);
  if (!s.ok()) return s;
  // The first pointer for a document stays: anyone who may post on the
  // channel could otherwise re-send its id with another name, type or key
  // and turn a document people know into something else.
  auto existing = GetAttachment(pointer.attachment_id());
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    if ((*existing)->SerializeAsString() == pointer.SerializeAsString()) return absl::OkStatus();
    return absl::AlreadyExistsError(absl::StrCat("a second, different pointer to document ",
                                                 pointer.attachment_id().substr(0, 8),
                                                 " was ignored: the first one it came with stays"));
  }
  return profile_->PutRecord(kAttachmentRecord, pointer.attachment_id(),
                             pointer.SerializeAsString());
}

absl::StatusOr<std::vector<v1::AttachmentPointer>> Messenger::ListAttachments(
    const std::string& team_id) {
  auto records = profile_->ListRecords(kAttachmentRecord);
  if (!records.ok()) return records.status();
  std::vector<v1::AttachmentPointer> out;
  for (const auto& [id, value] : *records) {
    v1::AttachmentPointer pointer;
    if (!pointer.ParseFromString(value)) continue;
    if (team_id.empty() || pointer.team_id() == team_id) out.push_back(std::move(pointer));
  }
  return out;
}

absl::Status Messenger::ProcessAttachment(const v1::Envelope& envelope, ReceivedMessage m,
                                          std::vector<ReceivedMessage>* out) {
  const v1::AttachmentPointer& pointer = m.content.attachment();
  // A document belongs to the channel it was relayed on: a pointer claiming
  // another would let a sender make it look as if posted elsewhere.
  if (m.team_id.empty() || pointer.team_id() != m.team_id ||
      pointer.channel() != static_cast<uint32_t>(m.channel)) {
    out->push_back(Problem(
        envelope, absl::InvalidArgumentError("a document pointer that does not match the team "
                                             "channel it came on was ignored")));
    return absl::OkStatus();
  }
  // A new version belongs where its document is: never a way to slip a
  // file under another channel's document.
  if (!pointer.document_id().empty()) {
    auto first = GetAttachment(pointer.document_id());
    if (!first.ok()) return first.status();
    if (first->has_value() &&
        ((*first)->team_id() != pointer.team_id() || (*first)->channel() != pointer.channel())) {
      out->push_back(Problem(
          envelope, absl::InvalidArgumentError("a new version of a document of another team or "
                                               "channel was ignored")));
      return absl::OkStatus();
    }
  }
  absl::Status s = KeepAttachment(pointer);
  if (!s.ok()) {
    out->push_back(Problem(envelope, s));
    return absl::OkStatus();
  }
  auto kept = KeepReceived(m, out);
  if (!kept.ok()) return kept.status();
  if (*kept) out->push_back(std::move(m));
  return absl::OkStatus();
}

void Messenger::ProcessHistoryShare(const v1::Envelope& envelope, ReceivedMessage m,
                                    std::vector<ReceivedMessage>* out) {
  m.team_id = m.content.history_share().team_id();
  if (handover_ == nullptr) {
    out->push_back(Problem(
        envelope, absl::UnimplementedError("history of a team arrived, but this client does not "
                                           "take history hand-overs; it was ignored")));
    return;
  }
  auto kept = handover_->Take(m);
  if (!kept.ok()) {
    out->push_back(Problem(
        envelope, absl::Status(kept.status().code(),
                               absl::StrCat("history of team ", m.team_id, " handed over by ",
                                            m.sender.account_id,
                                            " could not be taken: ", kept.status().message()))));
    return;
  }
  // This account's own copy of what it handed over, or a hand-over to
  // another of its devices: nothing to show.
  if (m.sender.account_id == self_.account_id && *kept == 0) return;
  m.history_entries = *kept;
  Describe(m.team_id, m.sender.account_id, &m.sender_name, &m.sender_role);
  out->push_back(std::move(m));
}

void Messenger::ProcessTeamProfile(const v1::Envelope& envelope, ReceivedMessage m,
                                   std::vector<ReceivedMessage>* out) {
  const v1::TeamProfile& profile = m.content.team_profile();
  // Pairwise only: a group message proves less about who sent it to whom,
  // and the profile must reach members only.
  if (envelope.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE || !m.content.group_id().empty()) {
    out->push_back(Problem(
        envelope, absl::InvalidArgumentError("a team profile came in a group message and was "
                                             "ignored: it must come over a pairwise session")));
    return;
  }
  if (profile.team_id().empty()) {
    out->push_back(
        Problem(envelope, absl::InvalidArgumentError("a team profile without a team was ignored")));
    return;
  }
  m.team_id = profile.team_id();
  if (m.sender.account_id != self_.account_id) {
    // Judged at the time the server took it: the sender may have handed
    // coordination over since (Team.former_profile_editors).
    const int64_t sent_at = envelope.server_timestamp_ms();
    auto team = CachedTeam(profile.team_id());
    bool allowed = team.ok() && MayEditTeamProfile(*team, m.sender.account_id, sent_at);
    if (!allowed && team.ok()) {
      team = FetchTeam(profile.team_id());
      allowed = team.ok() && MayEditTeamProfile(*team, m.sender.account_id, sent_at);
    }
    if (!allowed) {
      out->push_back(Problem(
          envelope,
          absl::PermissionDeniedError(absl::StrCat(
              "a team profile for team ", profile.team_id(), " from ", m.sender.account_id,
              " was ignored: ",
              team.ok()
                  ? "only the coordinator, the case manager, the patient or a caregiver "
                    "acting for them may set it"
                  : absl::StrCat("the team cannot be checked (", team.status().message(), ")")))));
      return;
    }
  }
  auto kept = StoreTeamProfileIfNewer(profile);
  if (!kept.ok()) {
    out->push_back(Problem(envelope, kept.status()));
    return;
  }
  if (!*kept) return;  // a copy, or older than the one held: nothing new to show
  Describe(m.team_id, m.sender.account_id, &m.sender_name, &m.sender_role);
  out->push_back(std::move(m));
}

}  // namespace carerelay::client
