#include "server/core/relay.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proto/error_detail.h"
#include "server/core/envelope_id.h"
#include "server/core/server_envelopes.h"

namespace carerelay::core {
namespace {

bool IsClientType(v1::EnvelopeType type) {
  switch (type) {
    case v1::ENVELOPE_TYPE_CIPHERTEXT:
    case v1::ENVELOPE_TYPE_PREKEY_MESSAGE:
    case v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE:
    case v1::ENVELOPE_TYPE_PLAINTEXT:
      return true;
    default:
      return false;
  }
}

void AddAddress(google::protobuf::RepeatedPtrField<v1::DeviceAddress>* list,
                const std::string& account, uint32_t device) {
  v1::DeviceAddress* a = list->Add();
  a->set_account_id(account);
  a->set_device_id(device);
}

}  // namespace

Relay::Relay(store::Database* db, store::QueueTable* queues, DeliveryHub* hub,
             const AccountRegistry* accounts, CareTeams* teams, const ContactPolicy* contacts,
             const Clock* clock, const Limits& limits)
    : db_(db),
      queues_(queues),
      hub_(hub),
      accounts_(accounts),
      teams_(teams),
      contacts_(contacts),
      clock_(clock),
      limits_(limits),
      send_rate_(clock, "sends from this device", limits.sends_per_second, limits.send_burst) {}

absl::StatusOr<std::vector<ChannelReader>> Relay::MustReceive(store::Transaction& txn,
                                                              const store::DeviceRef& sender,
                                                              const v1::SendRequest& request) {
  switch (request.destination_case()) {
    case v1::SendRequest::kAccountId: {
      if (request.channel() != v1::CHANNEL_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            "a channel is only given with a team; a direct message has none");
      }
      absl::StatusOr<store::AccountId> recipient = store::AccountId::FromHex(request.account_id());
      if (!recipient.ok()) return recipient.status();
      absl::Status s = contacts_->MayMessage(sender.account, *recipient);
      if (!s.ok()) return s;
      absl::StatusOr<std::vector<store::DeviceRecord>> devices = accounts_->AllDevices(*recipient);
      if (absl::IsNotFound(devices.status())) {
        return absl::NotFoundError(absl::StrCat("no account ", recipient->Hex()));
      }
      if (!devices.ok()) return devices.status();
      return std::vector<ChannelReader>{{*recipient, *std::move(devices)}};
    }
    case v1::SendRequest::kTeamId: {
      absl::StatusOr<store::TeamId> team = store::TeamId::FromHex(request.team_id());
      if (!team.ok()) return team.status();
      return teams_->ReadersForSend(txn, sender, *team, request.channel());
    }
    default:
      return absl::InvalidArgumentError("a send needs a destination: an account or a team");
  }
}

absl::Status Relay::CheckRecipients(const store::DeviceRef& sender,
                                    const std::vector<ChannelReader>& must_receive,
                                    const v1::SendRequest& request) const {
  // Who must receive: every active device of every account in `must_receive`,
  // except the sending device itself.
  absl::flat_hash_map<std::pair<std::string, uint32_t>, const store::DeviceRecord*> known;
  for (const auto& reader : must_receive) {
    const std::string hex = reader.account.Hex();
    for (const auto& d : reader.devices) {
      if (reader.account == sender.account && d.device_id() == sender.device_id) continue;
      known[{hex, d.device_id()}] = &d;
    }
  }
  v1::DeviceMismatch mismatch;
  absl::flat_hash_set<std::pair<std::string, uint32_t>> named;
  for (const auto& e : request.envelopes()) {
    auto it = known.find(std::make_pair(e.account_id(), e.device_id()));
    if (it == known.end()) {
      AddAddress(mismatch.mutable_extra(), e.account_id(), e.device_id());
      continue;
    }
    named.insert(it->first);
    const store::DeviceRecord& d = *it->second;
    if (d.revoked() || (e.registration_id() != 0 && e.registration_id() != d.registration_id())) {
      AddAddress(mismatch.mutable_stale(), e.account_id(), e.device_id());
    }
  }
  for (const auto& [address, device] : known) {
    if (!device->revoked() && !named.contains(address)) {
      AddAddress(mismatch.mutable_missing(), address.first, address.second);
    }
  }
  if (mismatch.missing_size() + mismatch.extra_size() + mismatch.stale_size() == 0) {
    return absl::OkStatus();
  }
  // Deterministic order, so a client (and a test) sees the same list twice.
  auto by_address = [](const v1::DeviceAddress& a, const v1::DeviceAddress& b) {
    return std::make_tuple(a.account_id(), a.device_id()) <
           std::make_tuple(b.account_id(), b.device_id());
  };
  std::sort(mismatch.mutable_missing()->begin(), mismatch.mutable_missing()->end(), by_address);
  v1::ErrorDetail detail;
  *detail.mutable_device_mismatch() = mismatch;
  return WithDetail(absl::FailedPreconditionError(absl::StrCat(
                        "the recipient devices do not match: ", mismatch.missing_size(),
                        " missing, ", mismatch.extra_size(), " extra, ", mismatch.stale_size(),
                        " stale; refresh the device list and send again")),
                    detail);
}

absl::Status Relay::ReserveQueues(const std::vector<store::DeviceRef>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    absl::StatusOr<bool> ok = queues_->ReserveDepth(devices[i], 1, limits_.max_queue_depth);
    if (!ok.ok() || !*ok) {
      ReleaseQueues(std::vector<store::DeviceRef>(devices.begin(), devices.begin() + i));
      if (!ok.ok()) return ok.status();
      return absl::ResourceExhaustedError(absl::StrCat(
          "the queue of device ", devices[i].ToString(), " is full (", limits_.max_queue_depth,
          " envelopes waiting); it must receive before more can be sent"));
    }
  }
  return absl::OkStatus();
}

void Relay::ReleaseQueues(const std::vector<store::DeviceRef>& devices) {
  for (const auto& d : devices) queues_->ReleaseDepth(d, 1);
}

absl::StatusOr<v1::SendResponse> Relay::Send(const store::DeviceRef& sender,
                                             const v1::SendRequest& request) {
  if (static_cast<size_t>(request.envelopes_size()) > limits_.max_envelopes_per_send) {
    return absl::ResourceExhaustedError(absl::StrCat(request.envelopes_size(),
                                                     " envelopes in one send; the limit is ",
                                                     limits_.max_envelopes_per_send));
  }
  if (!v1::Priority_IsValid(request.priority())) {
    return absl::InvalidArgumentError("unknown priority");
  }
  if (!v1::Channel_IsValid(request.channel())) {
    return absl::InvalidArgumentError("unknown channel");
  }
  const bool track = request.ack_required();
  if (track && request.priority() != v1::PRIORITY_URGENT) {
    return absl::InvalidArgumentError("an acknowledgement can only be required of an URGENT send");
  }
  if (track && urgency_ == nullptr) {
    return absl::FailedPreconditionError("this server does not track urgent acknowledgements");
  }
  absl::flat_hash_set<std::pair<std::string, uint32_t>> seen;
  for (const auto& e : request.envelopes()) {
    if (!IsClientType(e.type())) {
      return absl::InvalidArgumentError(absl::StrCat("envelope type ", static_cast<int>(e.type()),
                                                     " cannot be sent by a client"));
    }
    if (e.content().size() > limits_.max_envelope_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("an envelope of ", e.content().size(),
                                                       " bytes is over the limit of ",
                                                       limits_.max_envelope_bytes, " bytes"));
    }
    if (!seen.emplace(e.account_id(), e.device_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat("device ", e.account_id().substr(0, 40), ".",
                                                     e.device_id(), " is named twice"));
    }
  }
  absl::Status s = send_rate_.Take(sender.ToString());
  if (!s.ok()) return s;

  // A team send holds the team's lock (shared) from here to the commit, so
  // a removal cannot slip between the check and the write.
  auto txn = db_->Begin();
  absl::StatusOr<std::vector<ChannelReader>> must_receive = MustReceive(*txn, sender, request);
  if (!must_receive.ok()) return must_receive.status();
  // An empty send gets the device mismatch listing every device that must
  // receive: that is how a client with no device list learns it.
  s = CheckRecipients(sender, *must_receive, request);
  if (!s.ok()) return s;
  if (request.envelopes().empty()) {
    return absl::InvalidArgumentError("no device must receive this send: nobody to send to");
  }

  std::vector<store::DeviceRef> devices;
  devices.reserve(request.envelopes_size());
  for (const auto& e : request.envelopes()) {
    // Matched against the known devices above, so the id parses.
    devices.push_back({*store::AccountId::FromHex(e.account_id()), e.device_id()});
  }
  s = ReserveQueues(devices);
  if (!s.ok()) return s;

  absl::StatusOr<uint64_t> first = hub_->Begin(devices.size());
  if (!first.ok()) {
    ReleaseQueues(devices);
    return first.status();
  }
  const int64_t now = clock_->NowMs();
  const int64_t expires = now + absl::ToInt64Milliseconds(limits_.queue_ttl);
  v1::SendResponse response;
  response.set_server_timestamp_ms(now);

  v1::Envelope envelope;
  envelope.mutable_sender()->set_account_id(sender.account.Hex());
  envelope.mutable_sender()->set_device_id(sender.device_id);
  envelope.set_server_timestamp_ms(now);
  envelope.set_expires_at_ms(expires);
  envelope.set_priority(request.priority());
  envelope.set_ack_required(request.ack_required());
  if (request.destination_case() == v1::SendRequest::kTeamId) {
    envelope.set_team_id(absl::AsciiStrToLower(request.team_id()));
    envelope.set_channel(request.channel());
  }
  for (int i = 0; i < request.envelopes_size() && s.ok(); ++i) {
    const v1::OutgoingEnvelope& out = request.envelopes(i);
    uint64_t seq = *first + i;
    envelope.set_id(EnvelopeId(seq));
    envelope.set_sequence(seq);
    envelope.set_type(out.type());
    envelope.set_destination_device_id(out.device_id());
    envelope.set_content(out.content());
    s = queues_->Append(*txn, devices[i], envelope);
    response.add_envelope_ids(envelope.id());
  }
  if (s.ok() && track) {
    // Tracked in the same commit as the envelopes: an urgent message is
    // never delivered without its reminders set.
    std::vector<store::AccountId> people;
    std::vector<uint64_t> sequences;
    for (size_t i = 0; i < devices.size(); ++i) {
      sequences.push_back(*first + i);
      const store::AccountId& a = devices[i].account;
      if (a != sender.account && std::find(people.begin(), people.end(), a) == people.end()) {
        people.push_back(a);
      }
    }
    std::optional<store::TeamId> team;
    if (request.destination_case() == v1::SendRequest::kTeamId) {
      team = *store::TeamId::FromHex(request.team_id());  // parsed by MustReceive
    }
    absl::StatusOr<std::string> id = urgency_->Track(*txn, sender, team ? &*team : nullptr,
                                                     request.channel(), people, sequences, now);
    if (id.ok()) {
      response.set_urgent_message_id(*id);
    } else {
      s = id.status();
    }
  }
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) {
    hub_->Abandon(*first);
    ReleaseQueues(devices);
    return s;
  }
  hub_->Publish(*first, std::move(devices));
  return response;
}

absl::Status Relay::ReadQueue(const store::DeviceRef& device, uint64_t after, uint64_t up_to,
                              size_t max_envelopes, size_t max_bytes,
                              std::vector<v1::Envelope>* out) const {
  std::vector<v1::Envelope> read;
  absl::Status s = queues_->Read(device, after, max_envelopes, clock_->NowMs(), &read);
  if (!s.ok()) return s;
  size_t bytes = 0;
  for (auto& e : read) {
    if (e.sequence() > up_to) break;
    if (!out->empty() && bytes + e.content().size() > max_bytes) break;
    bytes += e.content().size();
    out->push_back(std::move(e));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> Relay::Ack(const store::DeviceRef& device,
                                    const std::vector<std::string>& envelope_ids) {
  if (envelope_ids.size() > limits_.max_ack_ids) {
    return absl::InvalidArgumentError(absl::StrCat(
        envelope_ids.size(), " ids in one acknowledgement; the limit is ", limits_.max_ack_ids));
  }
  std::vector<uint64_t> sequences;
  for (const auto& id : envelope_ids) {
    absl::StatusOr<uint64_t> seq = ParseEnvelopeId(id);
    if (!seq.ok()) return seq.status();
    sequences.push_back(*seq);
  }
  std::sort(sequences.begin(), sequences.end());
  sequences.erase(std::unique(sequences.begin(), sequences.end()), sequences.end());

  // Not synced: the deletes and the receipts go into the WAL together, so a
  // machine crash can only undo the whole acknowledgement, and then the
  // envelopes are delivered again, acknowledged again (clients de-duplicate)
  // and the receipts written then. A synced ack per stream message would cap
  // each device at the disk's sync rate (issue 8's measurements).
  auto txn = db_->Begin(store::Durability::kBuffered);
  std::vector<v1::Envelope> deleted;
  for (uint64_t seq : sequences) {
    absl::StatusOr<v1::Envelope> e = queues_->GetForUpdate(*txn, device, seq);
    if (absl::IsNotFound(e.status())) continue;
    if (!e.ok()) return e.status();
    absl::Status s = queues_->Delete(*txn, device, seq);
    if (!s.ok()) return s;
    deleted.push_back(*std::move(e));
  }
  if (deleted.empty()) return 0;

  // A receipt goes to the sending device of every client envelope, if that
  // device is still active.
  const int64_t now = clock_->NowMs();
  ServerEnvelopes receipts(hub_, queues_, now, now + absl::ToInt64Milliseconds(limits_.queue_ttl));
  for (const auto& e : deleted) {
    if (!IsClientType(e.type()) || !e.has_sender()) continue;
    absl::StatusOr<store::AccountId> account = store::AccountId::FromHex(e.sender().account_id());
    if (!account.ok() || !accounts_->IsActive({*account, e.sender().device_id()})) continue;
    v1::Envelope r;
    r.set_type(v1::ENVELOPE_TYPE_DELIVERY_RECEIPT);
    r.set_receipt_for_envelope_id(e.id());
    r.mutable_receipt_from()->set_account_id(device.account.Hex());
    r.mutable_receipt_from()->set_device_id(device.device_id);
    r.set_team_id(e.team_id());
    r.set_channel(e.channel());
    receipts.Add({*account, e.sender().device_id()}, std::move(r));
  }
  absl::Status s = receipts.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  queues_->ReleaseDepth(device, deleted.size());
  receipts.Publish();
  return static_cast<uint32_t>(deleted.size());
}

absl::StatusOr<uint64_t> Relay::ExpireEnvelopes() {
  return queues_->DeleteExpired(clock_->NowMs());
}

}  // namespace carerelay::core
