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

Relay::Relay(store::Database* db, store::QueueTable* queues, store::ReceiptTable* receipts,
             store::SendKeyTable* send_keys, DeliveryHub* hub, DeliveryWriter* writer,
             const AccountRegistry* accounts, CareTeams* teams, const ContactPolicy* contacts,
             const Clock* clock, const Limits& limits)
    : db_(db),
      queues_(queues),
      receipts_(receipts),
      send_keys_(send_keys),
      hub_(hub),
      writer_(writer),
      accounts_(accounts),
      teams_(teams),
      contacts_(contacts),
      clock_(clock),
      limits_(limits),
      send_rate_(clock, "sends from this device", limits.sends_per_second, limits.send_burst) {}

absl::StatusOr<std::shared_ptr<const std::vector<ChannelReader>>> Relay::MustReceive(
    const store::DeviceRef& sender, const v1::SendRequest& request, const Checked& checked) {
  if (checked.team) {
    return teams_->ReadersForSend(sender, *checked.team, request.channel(),
                                  checked.team_gate->second);
  }
  if (request.destination_case() != v1::SendRequest::kAccountId) {
    return absl::InvalidArgumentError("a send needs a destination: an account or a team");
  }
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
  return std::make_shared<const std::vector<ChannelReader>>(
      std::vector<ChannelReader>{{*recipient, *std::move(devices)}});
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

absl::Status Relay::ReserveQueues(const store::DeviceRef& sender, Checked& checked) {
  std::vector<store::DeviceRef> reserved;
  std::vector<int> indices;
  std::vector<v1::NotQueued> not_queued;
  absl::Status error = absl::OkStatus();
  for (size_t i = 0; i < checked.devices.size(); ++i) {
    const store::DeviceRef& device = checked.devices[i];
    absl::StatusOr<store::QueueTable::Room> room = queues_->ReserveDepth(
        device, sender.account, 1, limits_.max_queue_depth, limits_.max_queue_share);
    if (!room.ok()) {
      error = room.status();
      break;
    }
    if (*room == store::QueueTable::Room::kReserved) {
      reserved.push_back(device);
      indices.push_back(checked.indices[i]);
      continue;
    }
    v1::NotQueued& skipped = not_queued.emplace_back();
    skipped.mutable_device()->set_account_id(device.account.Hex());
    skipped.mutable_device()->set_device_id(device.device_id);
    skipped.set_index(static_cast<uint32_t>(checked.indices[i]));
    skipped.set_reason(*room == store::QueueTable::Room::kQueueFull
                           ? v1::NOT_QUEUED_REASON_QUEUE_FULL
                           : v1::NOT_QUEUED_REASON_SENDER_SHARE_FULL);
  }
  if (error.ok() && reserved.empty()) {
    // Nobody would get it: the sender must know, not get a success.
    const v1::NotQueued& first = not_queued.front();
    error =
        first.reason() == v1::NOT_QUEUED_REASON_QUEUE_FULL
            ? absl::ResourceExhaustedError(
                  absl::StrCat("the queue of device ", first.device().account_id(), ".",
                               first.device().device_id(), " is full (", limits_.max_queue_depth,
                               " envelopes waiting); it must receive before more can be sent"))
            : absl::ResourceExhaustedError(absl::StrCat(
                  "you already have ", limits_.max_queue_share, " envelopes waiting for device ",
                  first.device().account_id(), ".", first.device().device_id(),
                  " (your share of its queue); it must receive before you can send more"));
  }
  if (!error.ok()) {
    ReleaseQueues(sender, reserved);
    return error;
  }
  checked.devices = std::move(reserved);
  checked.indices = std::move(indices);
  checked.not_queued = std::move(not_queued);
  return absl::OkStatus();
}

void Relay::ReleaseQueues(const store::DeviceRef& sender,
                          const std::vector<store::DeviceRef>& devices) {
  for (const auto& d : devices) queues_->ReleaseDepth(d, sender.account, 1);
}

v1::SendResponse Relay::Unnumbered(const v1::SendRequest& request, const Checked& checked) {
  v1::SendResponse response;
  for (int i = 0; i < request.envelopes_size(); ++i) response.add_envelope_ids();
  for (const v1::NotQueued& n : checked.not_queued) *response.add_not_queued() = n;
  return response;
}

absl::Status Relay::CheckRequest(const v1::SendRequest& request) const {
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
  if (request.idempotency_key().size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an idempotency key has at most ",
                                                   kMaxIdempotencyKeyBytes, " bytes, not ",
                                                   request.idempotency_key().size()));
  }
  if (request.ack_required()) {
    if (request.priority() != v1::PRIORITY_URGENT) {
      return absl::InvalidArgumentError(
          "an acknowledgement can only be required of an URGENT send");
    }
    if (urgency_ == nullptr) {
      return absl::FailedPreconditionError("this server does not track urgent acknowledgements");
    }
  }
  absl::flat_hash_set<std::pair<absl::string_view, uint32_t>> seen;
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
  return absl::OkStatus();
}

absl::StatusOr<Relay::Checked> Relay::Check(const store::DeviceRef& sender,
                                            const v1::SendRequest& request) {
  Checked checked;
  if (request.destination_case() == v1::SendRequest::kTeamId) {
    absl::StatusOr<store::TeamId> team = store::TeamId::FromHex(request.team_id());
    if (!team.ok()) return team.status();
    checked.team = *team;
    // The version before the read: a change committed after it is caught
    // by the writer (team_write_gate.h).
    const size_t stripe = TeamWriteGate::StripeOf(*team);
    checked.team_gate.emplace(stripe, teams_->write_gate()->Version(stripe));
  }
  absl::StatusOr<std::shared_ptr<const std::vector<ChannelReader>>> must_receive =
      MustReceive(sender, request, checked);
  if (!must_receive.ok()) return must_receive.status();
  // An empty send gets the device mismatch listing every device that must
  // receive: that is how a client with no device list learns it.
  absl::Status s = CheckRecipients(sender, **must_receive, request);
  if (!s.ok()) return s;
  if (request.envelopes().empty()) {
    return absl::InvalidArgumentError("no device must receive this send: nobody to send to");
  }
  checked.devices.reserve(request.envelopes_size());
  for (int i = 0; i < request.envelopes_size(); ++i) {
    const v1::OutgoingEnvelope& e = request.envelopes(i);
    // Matched against the known devices above, so the id parses.
    checked.devices.push_back({*store::AccountId::FromHex(e.account_id()), e.device_id()});
    checked.indices.push_back(i);
  }
  return checked;
}

v1::Envelope Relay::Template(const store::DeviceRef& sender, const v1::SendRequest& request,
                             int64_t now) const {
  v1::Envelope envelope;
  envelope.mutable_sender()->set_account_id(sender.account.Hex());
  envelope.mutable_sender()->set_device_id(sender.device_id);
  envelope.set_server_timestamp_ms(now);
  envelope.set_expires_at_ms(now + absl::ToInt64Milliseconds(limits_.queue_ttl));
  envelope.set_priority(request.priority());
  envelope.set_ack_required(request.ack_required());
  envelope.set_receipt_requested(request.want_receipts());
  if (request.destination_case() == v1::SendRequest::kTeamId) {
    envelope.set_team_id(absl::AsciiStrToLower(request.team_id()));
    envelope.set_channel(request.channel());
  }
  return envelope;
}

void Relay::Send(const store::DeviceRef& sender, const v1::SendRequest& request, SendDone done) {
  absl::Status s = CheckRequest(request);
  if (!s.ok()) return done(s);
  std::string idempotency_row;
  if (!request.idempotency_key().empty()) {
    idempotency_row = store::SendKeyTable::Key(sender, request.idempotency_key());
    // A retry of a send already durable is answered before any other work
    // (and without taking from the rate limit).
    absl::StatusOr<v1::SendResponse> replay = writer_->Replay(idempotency_row);
    if (replay.ok() || !absl::IsNotFound(replay.status())) return done(replay);
  }
  // An urgent send that must be acknowledged costs what it sets off: about
  // ten reminders and escalations per recipient device if nobody answers.
  s = send_rate_.Take(sender.ToString(), request.ack_required() ? kTrackedSendCost : 1);
  if (!s.ok()) return done(s);
  absl::StatusOr<Checked> checked = Check(sender, request);
  if (!checked.ok()) return done(checked.status());
  s = ReserveQueues(sender, *checked);
  if (!s.ok()) return done(s);

  if (request.ack_required()) {
    absl::StatusOr<v1::SendResponse> sent = SendTracked(sender, request, *checked, idempotency_row);
    if (!sent.ok() || sent->replayed()) ReleaseQueues(sender, checked->devices);
    return done(sent);
  }

  const int64_t now = clock_->NowMs();
  SendWrite write;
  write.sender = sender;
  write.now_ms = now;
  write.team_gate = checked->team_gate;
  write.idempotency_row = std::move(idempotency_row);
  v1::Envelope envelope = Template(sender, request, now);
  write.bodies.reserve(checked->indices.size());
  for (int index : checked->indices) {
    const v1::OutgoingEnvelope& out = request.envelopes(index);
    envelope.set_type(out.type());
    envelope.set_destination_device_id(out.device_id());
    envelope.set_content(out.content());
    write.bodies.push_back(envelope.SerializeAsString());
  }
  write.response = Unnumbered(request, *checked);
  write.positions = checked->indices;
  write.devices = checked->devices;
  write.done = [this, sender, devices = std::move(checked->devices),
                done = std::move(done)](absl::StatusOr<v1::SendResponse> result) {
    if (!result.ok() || result->replayed()) ReleaseQueues(sender, devices);
    done(std::move(result));
  };
  writer_->Send(std::move(write));
}

absl::StatusOr<v1::SendResponse> Relay::SendTracked(const store::DeviceRef& sender,
                                                    const v1::SendRequest& request,
                                                    const Checked& checked,
                                                    const std::string& idempotency_row) {
  const std::vector<store::DeviceRef>& devices = checked.devices;
  auto txn = db_->Begin();
  if (!idempotency_row.empty()) {
    // The early Replay in Send missed it, but a retry of this send may have
    // been committed since, or be committing now: locked until this commit,
    // so the second of two racing retries waits, then finds the first's
    // answer.
    absl::StatusOr<v1::SendResponse> recorded = send_keys_->GetForUpdate(*txn, idempotency_row);
    if (recorded.ok()) {
      recorded->set_replayed(true);
      return recorded;
    }
    if (!absl::IsNotFound(recorded.status())) return recorded.status();
  }
  absl::StatusOr<uint64_t> first = hub_->Begin(devices.size());
  if (!first.ok()) return first.status();
  const int64_t now = clock_->NowMs();
  v1::SendResponse response = Unnumbered(request, checked);
  response.set_server_timestamp_ms(now);
  v1::Envelope envelope = Template(sender, request, now);
  absl::Status s = absl::OkStatus();
  for (size_t i = 0; i < devices.size() && s.ok(); ++i) {
    const v1::OutgoingEnvelope& out = request.envelopes(checked.indices[i]);
    uint64_t seq = *first + i;
    envelope.set_id(EnvelopeId(seq));
    envelope.set_sequence(seq);
    envelope.set_type(out.type());
    envelope.set_destination_device_id(out.device_id());
    envelope.set_content(out.content());
    s = queues_->Append(*txn, devices[i], envelope);
    response.set_envelope_ids(checked.indices[i], envelope.id());
  }
  // Tracked in the same commit as the envelopes: an urgent message is never
  // delivered without its reminders set.
  std::vector<store::AccountId> people;
  std::vector<uint64_t> sequences;
  for (size_t i = 0; i < devices.size(); ++i) {
    sequences.push_back(*first + i);
    const store::AccountId& a = devices[i].account;
    if (a != sender.account && std::find(people.begin(), people.end(), a) == people.end()) {
      people.push_back(a);
    }
  }
  if (s.ok()) {
    absl::StatusOr<std::string> id =
        urgency_->Track(*txn, sender, checked.team ? &*checked.team : nullptr, request.channel(),
                        people, sequences, now);
    if (id.ok()) {
      response.set_urgent_message_id(*id);
    } else {
      s = id.status();
    }
  }
  if (s.ok() && !idempotency_row.empty()) s = send_keys_->Put(*txn, idempotency_row, response);
  if (s.ok() && checked.team_gate) {
    // Committed under the gate, as the writer writes (team_write_gate.h).
    TeamWriteGate* gate = teams_->write_gate();
    const size_t stripe = checked.team_gate->first;
    gate->ReadLock(stripe);
    if (gate->Version(stripe) != checked.team_gate->second) {
      s = absl::AbortedError(
          "the team's membership or access changed while this message was being sent; nothing "
          "was queued: send it again");
    } else {
      s = txn->Commit();
    }
    gate->ReadUnlock(stripe);
  } else if (s.ok()) {
    s = txn->Commit();
  }
  if (!s.ok()) {
    hub_->Abandon(*first);
    return s;
  }
  hub_->Publish(*first, devices);
  return response;
}

absl::Status Relay::ReadQueue(const store::DeviceRef& device, uint64_t after, uint64_t up_to,
                              size_t max_envelopes, size_t max_bytes,
                              std::vector<v1::Envelope>* out, bool* more) const {
  *more = false;
  std::vector<v1::Envelope> read;
  absl::Status s = queues_->Read(device, after, max_envelopes, clock_->NowMs(), &read);
  if (!s.ok()) return s;
  size_t bytes = 0, taken = 0;
  for (auto& e : read) {
    // Beyond the hub's watermark: not durable yet; the hub says when it is.
    if (e.sequence() > up_to) return absl::OkStatus();
    if (taken > 0 && bytes + e.content().size() > max_bytes) {
      *more = true;
      return absl::OkStatus();
    }
    bytes += e.content().size();
    out->push_back(std::move(e));
    ++taken;
  }
  *more = read.size() == max_envelopes;
  return absl::OkStatus();
}

absl::Status Relay::ReadWatermarks(const store::DeviceRef& sender, uint64_t after_version,
                                   std::vector<store::Watermark>* out) const {
  return receipts_->ForSender(sender, after_version,
                              [&](const store::Watermark& w) { out->push_back(w); });
}

void Relay::Ack(const store::DeviceRef& device, uint64_t through, AckDone done) {
  Acknowledged taken = hub_->Acknowledge(device, through);
  v1::AckResponse response;
  response.set_acknowledged_through(taken.through);
  response.set_deleted(static_cast<uint32_t>(taken.envelopes.size()));
  if (taken.envelopes.empty()) return done(response);

  AckWrite write;
  write.device = device;
  write.sequences.reserve(taken.envelopes.size());
  absl::flat_hash_map<store::DeviceRef, uint64_t> receipts;
  for (const DeliveredEnvelope& e : taken.envelopes) {
    write.sequences.push_back(e.sequence);
    if (e.receipt) {
      uint64_t& through_for_sender = receipts[e.sender];
      through_for_sender = std::max(through_for_sender, e.sequence);
    }
  }
  write.receipts.assign(receipts.begin(), receipts.end());
  absl::flat_hash_map<store::AccountId, uint64_t> from;
  for (const DeliveredEnvelope& e : taken.envelopes) ++from[e.from];
  write.done = [this, device, from = std::move(from), response,
                done = std::move(done)](absl::Status s) {
    // Not written: the envelopes stay queued and are delivered again on the
    // next stream (at-least-once); the client sees the error.
    if (!s.ok()) return done(s);
    for (const auto& [sender, n] : from) queues_->ReleaseDepth(device, sender, n);
    if (metrics_) metrics_->Add(Metrics::Counter::kEnvelopesAcknowledged, response.deleted());
    done(response);
  };
  writer_->Ack(std::move(write));
}

absl::StatusOr<uint64_t> Relay::ExpireEnvelopes() {
  const int64_t now = clock_->NowMs();
  absl::StatusOr<uint64_t> keys =
      writer_->ForgetKeysBefore(now - absl::ToInt64Milliseconds(kIdempotencyWindow));
  if (!keys.ok()) return keys.status();
  return queues_->DeleteExpired(now);
}

}  // namespace carerelay::core
