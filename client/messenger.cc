#include "client/messenger.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "client/key_upload.h"
#include "crypto/content_codec.h"
#include "proto/error_detail.h"

namespace carerelay::client {
namespace {

constexpr uint32_t kPrekeyThreshold = 20;

std::string NewMessageId() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof(raw)) != 1) abort();
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(raw), sizeof(raw)));
}

crypto::Address AddressOf(const v1::DeviceAddress& a) { return {a.account_id(), a.device_id()}; }

}  // namespace

Messenger::Messenger(RelayClient* relay, crypto::ProfileStore* profile, DeviceState* state)
    : relay_(relay), profile_(profile), state_(state), keys_(profile), sessions_(profile) {
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

absl::Status Messenger::EnsureSession(const crypto::Address& device) {
  auto has = sessions_.HasSession(device);
  if (!has.ok()) return has.status();
  if (*has) return absl::OkStatus();
  auto bundles = relay_->GetPrekeyBundles(device.account_id, device.device_id);
  if (!bundles.ok()) return bundles.status();
  if (bundles->bundles_size() != 1) {
    return absl::NotFoundError("no prekey bundle for " + device.ToString());
  }
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
  return sessions_.ProcessPreKeyBundle(device, bundle);
}

absl::StatusOr<v1::OutgoingEnvelope> Messenger::EncryptFor(const crypto::Address& device,
                                                           const std::string& plaintext) {
  absl::Status s = EnsureSession(device);
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
  auto sent = relay_->SendToAccount(account_id, [&](const v1::DeviceAddress& device) {
    return EncryptFor(AddressOf(device), *plaintext);
  });
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

absl::Status Messenger::DistributeSenderKey(const std::string& group_id,
                                            const std::string& account_id) {
  std::vector<uint32_t> known = relay_->KnownDevices(account_id);
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
    auto sent = relay_->SendToAccount(a, [&](const v1::DeviceAddress&) {
      v1::OutgoingEnvelope e;
      e.set_type(v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE);
      e.set_content(body);
      return absl::StatusOr<v1::OutgoingEnvelope>(std::move(e));
    });
    if (!sent.ok()) return sent.status();
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
  auto fresh = state_->MarkProcessed(envelope.id(), absl::Now());
  if (!fresh.ok()) return fresh.status();
  if (!*fresh) return absl::OkStatus();  // delivered twice: already shown

  ReceivedMessage m;
  m.envelope = envelope;
  m.envelope.clear_content();
  m.sender = AddressOf(envelope.sender());

  std::string plaintext;
  switch (envelope.type()) {
    case v1::ENVELOPE_TYPE_DELIVERY_RECEIPT:
      m.kind = ReceivedMessage::Kind::kDeliveryReceipt;
      out->push_back(std::move(m));
      return absl::OkStatus();
    case v1::ENVELOPE_TYPE_PREKEY_MESSAGE:
    case v1::ENVELOPE_TYPE_CIPHERTEXT: {
      auto type = envelope.type() == v1::ENVELOPE_TYPE_PREKEY_MESSAGE
                      ? crypto::MessageType::kPreKey
                      : crypto::MessageType::kWhisper;
      auto decrypted = sessions_.Decrypt(m.sender, type, envelope.content());
      if (absl::IsAlreadyExists(decrypted.status())) return absl::OkStatus();
      if (!decrypted.ok()) {
        if (absl::IsNotFound(decrypted.status()) && type == crypto::MessageType::kWhisper) {
          HandleLostSession(m.sender);
          out->push_back(Problem(envelope, absl::DataLossError(absl::StrCat(
                                               "a message from ", m.sender.ToString(),
                                               " could not be decrypted (session lost); the "
                                               "session was reset and the sender told"))));
        } else {
          out->push_back(Problem(envelope, decrypted.status()));
        }
        return absl::OkStatus();
      }
      plaintext = *std::move(decrypted);
      break;
    }
    case v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE: {
      v1::GroupCiphertext wrapped;
      if (!wrapped.ParseFromString(envelope.content())) {
        out->push_back(Problem(envelope, absl::InvalidArgumentError("malformed group message")));
        return absl::OkStatus();
      }
      if (!groups_) return absl::FailedPreconditionError("this device is not registered");
      auto decrypted = groups_->Decrypt(wrapped.group_id(), m.sender, wrapped.ciphertext());
      if (absl::IsAlreadyExists(decrypted.status())) return absl::OkStatus();
      if (!decrypted.ok()) {
        out->push_back(Problem(envelope, decrypted.status()));
        return absl::OkStatus();
      }
      plaintext = *std::move(decrypted);
      break;
    }
    default:
      out->push_back(Problem(
          envelope, absl::InvalidArgumentError("an unencrypted or unknown envelope was ignored")));
      return absl::OkStatus();
  }

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
    absl::Status s = groups_->ProcessDistributionMessage(
        content->sender_key_distribution().group_id(), m.sender,
        content->sender_key_distribution().distribution_message());
    if (!s.ok()) out->push_back(Problem(envelope, s));
    return absl::OkStatus();
  }
  m.content = *std::move(content);
  out->push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status Messenger::Receive(bool follow,
                                const std::function<bool(const ReceivedMessage&)>& on_message) {
  auto stream = relay_->Receive();
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
    std::vector<std::string> ids;
    for (const auto& e : response.envelopes()) {
      failure = ProcessEnvelope(e, &messages);
      if (!failure.ok()) break;
      ids.push_back(e.id());
    }
    if (!ids.empty()) {
      auto acked = relay_->Ack(ids);
      if (!acked.ok() && failure.ok()) failure = acked.status();
    }
    for (const auto& m : messages) {
      if (!on_message(m)) stop = true;
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

}  // namespace carerelay::client
