// Kill soak (issue 16, item 4): carerelayd as its own process under a mixed
// load, killed with SIGKILL at random points and restarted on the same data
// directory, cycle after cycle, with the delivery contract and the urgent
// timers checked after each cycle and `carerelayd admin check` run on the
// store.
//
// The load, from five accounts with one device each: a coordinator (C), two
// professionals (P1, P2), a "floater" (F) and a helpdesk account (H, the
// server's --helpdesk-account) on one care team:
// - P1 and P2 post on #team and #clinical, one send in ten URGENT with an
//   acknowledgement required. Each logical send carries its own idempotency
//   key and is made again with that key until it is answered: when the
//   server dies under a send, the send may be durable without its answer
//   having reached the client, and only the retry's answer (replayed or not)
//   makes it acknowledged. A device mismatch (F joined, left or changed role)
//   or ABORTED (the team changed under the send) is corrected and sent again
//   under the same key, as the client library does.
// - Every device reads its stream and acknowledges (Ack) what it recorded;
//   C, P1, P2 and F acknowledge about half of the urgent messages they get
//   (AcknowledgeUrgent, retried until answered).
// - C changes F's membership: invite, accept, role changes between
//   professional and social (who may not read #clinical), removal.
// - P2 uploads documents to #clinical and resumes them after a kill.
// - Urgent reminders and escalations fall due (the timer loop runs every
//   second; reminders every minute, escalation after
//   CARERELAY_SOAK_URGENT_WINDOW_MINUTES, 1 by default: the shortest the
//   server accepts, --urgent-*-minutes being whole minutes).
//
// A cycle: the load runs, the server is killed (at a random moment, or half
// the time just after an urgent timer falls due, to hit the timer loop),
// restarted, and the load paused once every operation in flight has been
// answered (retried after the restart). Then:
// - every envelope acknowledged to its sender for C, P1 or P2 has been
//   delivered to that device (F may legitimately lose queued envelopes to a
//   removal or a role change, so only the next checks apply to it);
// - no device got an envelope from a client that was never acknowledged to
//   its sender, or under another id, content or device than acknowledged,
//   and no payload was queued under two ids;
// - no urgent alert (reminder N, escalation, "acknowledged by X") reached a
//   device twice under different envelope ids, and none names an urgent
//   message that was never acknowledged to its sender;
// - every completed upload is still complete with its size and digest, and
//   those completed since the last check download with that digest; an
//   unfinished upload never holds fewer bytes than the server said;
// - `carerelayd admin check` passes (online).
// After CARERELAY_SOAK_CYCLES cycles (5 by default), urgent sends stop and
// the cycles go on until every urgent timer has fallen due ("drain"
// cycles); then each urgent message is compared with what its recipients,
// its sender, the coordinator and the helpdesk received: exactly the
// reminders its record counts, exactly one escalation to each of sender,
// coordinator and helpdesk if it escalated (none otherwise), exactly one
// "acknowledged" alert per person who acknowledged. Then a graceful stop
// and `admin check` on the closed store.
//
// Environment: CARERELAY_SOAK_CYCLES (5), CARERELAY_SOAK_MAX_LOAD_MS (longest
// load before a kill, 2500), CARERELAY_SOAK_URGENT_WINDOW_MINUTES (1; with 3,
// reminders at 1 and 2 minutes, then the escalation), CARERELAY_SOAK_SEED
// (random; printed; the timing of the kills is not reproducible, the choices
// of the load are), CARERELAY_SOAK_KEEP_GOING (1: go on after a cycle's
// findings, to count everything a long soak finds; the test fails all the
// same). tests/kill_soak.sh runs it for N cycles.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "carerelay/v1/alerts.pb.h"
#include "client/relay_client.h"
#include "proto/error_detail.h"
#include "tests/file_bytes.h"
#include "tests/server_process.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

// An operation in flight is retried until it is answered, but not forever:
// past this, the server is taken to be stuck and the test fails.
const absl::Duration kOperationTimeout = absl::Seconds(120);
const absl::Duration kDeliveryTimeout = absl::Seconds(60);
const absl::Duration kRetryPause = absl::Milliseconds(20);
constexpr int kUrgentOneIn = 10;            // one send in ten is URGENT
constexpr int kUrgentAckPercent = 50;       // of urgent messages a recipient acknowledges
constexpr size_t kUploadPiece = 64 * 1024;  // bytes per Upload stream message

// A positive number from the environment, or `fallback`.
uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = getenv(name);
  uint64_t parsed = 0;
  if (value && *value && absl::SimpleAtoi(value, &parsed) && parsed > 0) return parsed;
  return fallback;
}

std::string Address(const std::string& account, uint32_t device) {
  return absl::StrCat(account, ".", device);
}
std::string Address(const v1::DeviceAddress& a) { return Address(a.account_id(), a.device_id()); }

// An outcome the client cannot read: the send (or change) may or may not
// have happened, so it is made again (with the same idempotency key).
bool OutcomeUnknown(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s);
}

// Lets the checker stop the workers between two operations: Pause returns
// once no operation is in flight (each finished, retried across the restart
// if need be) and none starts until Resume.
class Gate {
 public:
  // Before an operation; false when stopping.
  bool Enter() {
    absl::MutexLock lock(&mu_);
    auto open = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !paused_ || stop_; };
    mu_.Await(absl::Condition(&open));
    if (stop_) return false;
    ++busy_;
    return true;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --busy_;
  }
  bool Pause(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    paused_ = true;
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return busy_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  }
  void Resume() {
    absl::MutexLock lock(&mu_);
    paused_ = false;
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  bool stopping() const {
    absl::MutexLock lock(&mu_);
    return stop_;
  }

 private:
  mutable absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

// One envelope the server acknowledged to its sender.
struct AckedEnvelope {
  std::string payload;
  std::string device;  // recipient ACCOUNT.DEVICE
  std::string sender;  // sender account
};

// An urgent message acknowledged to its sender.
struct UrgentSent {
  std::string sender;  // account
  int64_t sent_at_ms = 0;
};

// An upload the server declared complete.
struct CompletedUpload {
  uint64_t size = 0;
  std::string digest;
  bool verified = false;  // downloaded and hashed once
};

// What one device's stream delivered.
struct DeviceDeliveries {
  // Envelope id -> the envelope as first delivered (content included).
  absl::flat_hash_map<std::string, v1::Envelope> envelopes;
  size_t redelivered = 0;  // the same id again (at-least-once)
  // Urgent alerts: (kind, message id, reminder number, subject) -> the
  // envelope ids that carried it.
  std::map<std::tuple<int, std::string, uint32_t, std::string>, std::set<std::string>> alerts;
};

// Everything the soak's clients were told and received. Thread-safe.
class Ledger {
 public:
  void Acked(const std::string& id, AckedEnvelope e) {
    absl::MutexLock lock(&mu_);
    auto [it, added] = acked_.emplace(id, e);
    if (!added && (it->second.payload != e.payload || it->second.device != e.device)) {
      problems_.push_back(absl::StrCat("envelope id ", id, " acknowledged for two envelopes"));
    }
  }
  void UrgentAcked(const std::string& message_id, UrgentSent u) {
    absl::MutexLock lock(&mu_);
    urgent_.emplace(message_id, std::move(u));
  }
  void Delivered(const std::string& device, const v1::Envelope& e) {
    absl::MutexLock lock(&mu_);
    DeviceDeliveries& d = delivered_[device];
    auto [it, added] = d.envelopes.emplace(e.id(), e);
    if (!added) {
      // At-least-once: the same envelope again, never another under its id.
      ++d.redelivered;
      if (it->second.content() != e.content() || it->second.type() != e.type()) {
        problems_.push_back(absl::StrCat("envelope id ", e.id(), " delivered to ", device,
                                         " for two different envelopes"));
      }
      return;
    }
    if (e.type() != v1::ENVELOPE_TYPE_ALERT) return;
    v1::Alert alert;
    if (!alert.ParseFromString(e.content())) {
      problems_.push_back(absl::StrCat("unreadable alert ", e.id(), " to ", device));
      return;
    }
    if (alert.kind() == v1::Alert::KIND_URGENT_REMINDER ||
        alert.kind() == v1::Alert::KIND_URGENT_ESCALATED ||
        alert.kind() == v1::Alert::KIND_URGENT_ACKNOWLEDGED) {
      d.alerts[{alert.kind(), alert.message_id(), alert.reminder(), alert.subject_account_id()}]
          .insert(e.id());
    }
  }
  void Problem(std::string what) {
    absl::MutexLock lock(&mu_);
    problems_.push_back(std::move(what));
  }
  void UploadComplete(const std::string& id, uint64_t size, const std::string& digest) {
    absl::MutexLock lock(&mu_);
    uploads_.emplace(id, CompletedUpload{size, digest, false});
  }

  // Copies for the checker (the workers go on adding).
  absl::flat_hash_map<std::string, AckedEnvelope> acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  std::map<std::string, UrgentSent> urgent() const {
    absl::MutexLock lock(&mu_);
    return urgent_;
  }
  std::map<std::string, DeviceDeliveries> delivered() const {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }
  std::vector<std::string> problems() const {
    absl::MutexLock lock(&mu_);
    return problems_;
  }
  std::map<std::string, CompletedUpload> uploads() const {
    absl::MutexLock lock(&mu_);
    return uploads_;
  }
  void MarkVerified(const std::string& id) {
    absl::MutexLock lock(&mu_);
    uploads_[id].verified = true;
  }
  size_t acked_count() const {
    absl::MutexLock lock(&mu_);
    return acked_.size();
  }
  // Whether every envelope of `ids` has reached `device`.
  size_t MissingAt(const std::string& device, const std::vector<std::string>& ids) const {
    absl::MutexLock lock(&mu_);
    auto it = delivered_.find(device);
    size_t missing = 0;
    for (const auto& id : ids) {
      if (it == delivered_.end() || !it->second.envelopes.contains(id)) ++missing;
    }
    return missing;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, AckedEnvelope> acked_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, UrgentSent> urgent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DeviceDeliveries> delivered_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, CompletedUpload> uploads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

// Counters for the closing summary.
struct Stats {
  std::atomic<uint64_t> sends{0}, urgent_sends{0}, replayed{0}, unknown_outcomes{0}, mismatches{0},
      aborted{0}, team_changes{0}, team_change_errors{0}, urgent_acks{0}, uploads{0},
      upload_resumes{0}, create_retries{0};
};

struct Person {
  explicit Person(std::string name) : name(std::move(name)) {}
  std::string name;
  std::unique_ptr<Device> device;
  const std::string& account() const { return device->account_id(); }
  std::string address() const { return Address(device->account_id(), device->device_id()); }
  client::RelayClient& client() { return *device->client; }
};

// The workers of the load: a receiver per person, two senders, the team
// changer and the uploader. The destructor stops and joins them.
class Load {
 public:
  Load(std::vector<Person*> people, Person& coordinator, Person& p1, Person& p2, Person& floater,
       const std::string& team, Ledger& ledger, Stats& stats, uint64_t seed)
      : coordinator_(coordinator), floater_(floater), team_(team), ledger_(ledger), stats_(stats) {
    uint64_t n = 0;
    for (Person* p : people) {
      threads_.emplace_back([this, p, s = seed + ++n] { Receive(*p, s); });
    }
    threads_.emplace_back([this, &p1, s = seed + ++n] { Send(p1, s); });
    threads_.emplace_back([this, &p2, s = seed + ++n] { Send(p2, s); });
    threads_.emplace_back([this, s = seed + ++n] { ChangeTeam(s); });
    threads_.emplace_back([this, &p2, s = seed + ++n] { UploadDocuments(p2, s); });
  }
  ~Load() { Stop(); }

  Gate& gate() { return gate_; }
  void StopUrgentSends() { urgent_ = false; }

  void Stop() {
    gate_.Stop();
    {
      absl::MutexLock lock(&streams_mu_);
      for (auto& [person, stream] : streams_) {
        if (stream) stream->Cancel();
      }
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  // Reads `person`'s stream, records each envelope and acknowledges it;
  // acknowledges about half of the urgent messages.
  void Receive(Person& person, uint64_t seed) {
    std::vector<std::string> pending_urgent_acks;
    const std::string address = person.address();
    while (!gate_.stopping()) {
      auto opened = person.client().Receive(v1::ReceiveRequest());
      if (!opened.ok()) {
        absl::SleepFor(kRetryPause);
        continue;
      }
      client::ReceiveStream* stream = opened->get();
      {
        absl::MutexLock lock(&streams_mu_);
        if (gate_.stopping()) break;
        streams_[&person] = stream;
      }
      v1::ReceiveResponse response;
      while (stream->Next(&response)) {
        for (const auto& e : response.envelopes()) {
          ledger_.Delivered(address, e);
          if (e.ack_required() && !e.sender().account_id().empty() &&
              std::hash<std::string>()(e.id() + address + std::to_string(seed)) % 100 <
                  kUrgentAckPercent) {
            pending_urgent_acks.push_back(e.id());
          }
        }
        // Recorded above, so acknowledged; a failure (the server died) leaves
        // them queued and the next stream delivers them again.
        if (!response.envelopes().empty()) {
          (void)person.client().Ack(response.envelopes().rbegin()->sequence());
        }
        AcknowledgeUrgent(person, pending_urgent_acks);
      }
      {
        absl::MutexLock lock(&streams_mu_);
        streams_[&person] = nullptr;
      }
      (void)stream->Finish();
      absl::SleepFor(kRetryPause);
    }
  }

  // Tries each pending urgent acknowledgement once; keeps those whose
  // outcome is unknown for the next time (repeating one is harmless and
  // must not tell the sender twice).
  void AcknowledgeUrgent(Person& person, std::vector<std::string>& pending) {
    std::vector<std::string> kept;
    for (const auto& id : pending) {
      auto r = person.client().AcknowledgeUrgent(id);
      if (r.ok()) {
        if (!r->already_acknowledged()) ++stats_.urgent_acks;
      } else if (OutcomeUnknown(r.status()) || absl::IsResourceExhausted(r.status())) {
        kept.push_back(id);
      } else if (!(absl::IsNotFound(r.status()) && &person == &floater_)) {
        // NOT_FOUND is expected only for the floater, cut off by a removal.
        ledger_.Problem(
            absl::StrCat(person.name, " acknowledging urgent ", id, ": ", r.status().ToString()));
      }
    }
    pending = std::move(kept);
  }

  // Logical sends in a loop: each is answered before the next starts.
  void Send(Person& sender, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::map<v1::Channel, std::vector<v1::DeviceAddress>> devices;  // per channel, learnt
    for (uint64_t n = 0; gate_.Enter(); ++n) {
      const bool urgent = urgent_ && rng() % kUrgentOneIn == 0;
      const v1::Channel channel = rng() % 2 ? v1::CHANNEL_CLINICAL : v1::CHANNEL_TEAM;
      OneSend(sender, n, urgent, channel, devices[channel], rng);
      gate_.Leave();
      absl::SleepFor(absl::Milliseconds(rng() % 15));
    }
  }

  void OneSend(Person& sender, uint64_t n, bool urgent, v1::Channel channel,
               std::vector<v1::DeviceAddress>& devices, std::mt19937_64& rng) {
    std::string key(16, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    std::string filler(64, ' ');
    for (char& c : filler) c = static_cast<char>('a' + rng() % 26);
    const absl::Time deadline = absl::Now() + kOperationTimeout;
    for (;;) {
      v1::SendRequest request;
      request.set_team_id(team_);
      request.set_channel(channel);
      request.set_idempotency_key(key);
      if (urgent) {
        request.set_priority(v1::PRIORITY_URGENT);
        request.set_ack_required(true);
      }
      for (const auto& d : devices) {
        v1::OutgoingEnvelope* e = request.add_envelopes();
        e->set_account_id(d.account_id());
        e->set_device_id(d.device_id());
        e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
        e->set_content(absl::StrCat("soak|", sender.name, "|", n, urgent ? "|urgent|" : "|",
                                    Address(d), "|", filler));
      }
      absl::StatusOr<v1::SendResponse> sent = sender.client().Send(request);
      if (sent.ok()) {
        Record(sender, request, *sent);
        return;
      }
      const absl::Status& s = sent.status();
      std::optional<v1::ErrorDetail> detail = GetDetail(s);
      if (absl::IsFailedPrecondition(s) && detail && detail->has_device_mismatch()) {
        // Nothing was stored under the key (the server answers a retry of a
        // stored send before checking devices): correct the list, same key.
        ++stats_.mismatches;
        const v1::DeviceMismatch& m = detail->device_mismatch();
        auto drop = [&](const v1::DeviceAddress& gone) {
          devices.erase(std::remove_if(devices.begin(), devices.end(),
                                       [&](const v1::DeviceAddress& d) {
                                         return Address(d) == Address(gone);
                                       }),
                        devices.end());
        };
        for (const auto& d : m.extra()) drop(d);
        for (const auto& d : m.stale()) drop(d);
        for (const auto& d : m.missing()) devices.push_back(d);
      } else if (absl::IsAborted(s)) {
        ++stats_.aborted;
      } else if (OutcomeUnknown(s) || absl::IsResourceExhausted(s)) {
        ++stats_.unknown_outcomes;
        absl::SleepFor(kRetryPause);
      } else {
        ledger_.Problem(absl::StrCat(sender.name, " send ", n, ": ", s.ToString()));
        absl::SleepFor(kRetryPause);
      }
      if (absl::Now() > deadline || gate_.stopping()) {
        ledger_.Problem(
            absl::StrCat(sender.name, " send ", n, " never answered; last: ", s.ToString()));
        return;
      }
    }
  }

  void Record(Person& sender, const v1::SendRequest& request, const v1::SendResponse& response) {
    ++stats_.sends;
    if (response.replayed()) ++stats_.replayed;
    if (response.envelope_ids_size() != request.envelopes_size() ||
        response.not_queued_size() > 0) {
      ledger_.Problem(absl::StrCat(sender.name, ": ", response.envelope_ids_size(), " ids and ",
                                   response.not_queued_size(), " not queued for ",
                                   request.envelopes_size(), " envelopes"));
    }
    for (int i = 0; i < request.envelopes_size() && i < response.envelope_ids_size(); ++i) {
      const v1::OutgoingEnvelope& e = request.envelopes(i);
      ledger_.Acked(response.envelope_ids(i),
                    {e.content(), Address(e.account_id(), e.device_id()), sender.account()});
    }
    if (request.ack_required()) {
      ++stats_.urgent_sends;
      if (response.urgent_message_id().empty()) {
        ledger_.Problem(absl::StrCat(sender.name, ": urgent send without an urgent message id"));
      } else {
        ledger_.UrgentAcked(response.urgent_message_id(),
                            {sender.account(), response.server_timestamp_ms()});
      }
    }
  }

  // The coordinator moves the floater through the team: invited as a
  // professional, joined, switched between professional and social (who may
  // not read #clinical), removed. Each step reads the team first, so a
  // change whose answer was lost in a kill is simply seen done.
  void ChangeTeam(uint64_t seed) {
    std::mt19937_64 rng(seed);
    client::RelayClient& c = coordinator_.client();
    while (gate_.Enter()) {
      absl::Status s;
      auto team = c.GetTeam(team_);
      if (team.ok()) {
        const v1::Member* f = nullptr;
        for (const auto& m : team->members()) {
          if (m.account_id() == floater_.account()) f = &m;
        }
        const v1::Role other =
            f && f->role() == v1::ROLE_PROFESSIONAL ? v1::ROLE_SOCIAL : v1::ROLE_PROFESSIONAL;
        if (f == nullptr) {
          s = c.Invite(team_, floater_.account(), other).status();
        } else if (f->status() == v1::MEMBER_STATUS_INVITED) {
          s = floater_.client().RespondToInvitation(team_, true).status();
        } else if (rng() % 5 < 2) {
          s = c.RemoveMember(team_, floater_.account()).status();
        } else {
          s = c.ChangeRole(team_, floater_.account(), other).status();
        }
      } else {
        s = team.status();
      }
      if (s.ok()) {
        ++stats_.team_changes;
      } else {
        ++stats_.team_change_errors;
        if (!OutcomeUnknown(s) && !absl::IsResourceExhausted(s)) {
          ledger_.Problem(absl::StrCat("team change: ", s.ToString()));
        }
      }
      gate_.Leave();
      absl::SleepFor(absl::Milliseconds(50 + rng() % 200));
    }
  }

  // Documents of 16 to 256 KiB to #clinical, resumed from where the server
  // says it stands after a kill.
  void UploadDocuments(Person& uploader, uint64_t seed) {
    std::mt19937_64 rng(seed);
    client::RelayClient& c = uploader.client();
    while (gate_.Enter()) {
      std::string bytes(16 * 1024 + rng() % (240 * 1024), '\0');
      for (char& b : bytes) b = static_cast<char>(rng());
      const std::string digest = Sha256(bytes);
      const absl::Time deadline = absl::Now() + kOperationTimeout;
      std::string id;
      while (id.empty() && absl::Now() < deadline && !gate_.stopping()) {
        auto created = c.CreateUpload(team_, v1::CHANNEL_CLINICAL, bytes.size(), digest);
        if (created.ok()) {
          id = created->attachment_id();
        } else {
          // A creation whose answer was lost leaves an upload nobody
          // resumes; the server deletes it after its upload timeout.
          if (OutcomeUnknown(created.status())) {
            ++stats_.create_retries;
          } else {
            ledger_.Problem(absl::StrCat("create upload: ", created.status().ToString()));
          }
          absl::SleepFor(kRetryPause);
        }
      }
      uint64_t offset = 0, held = 0;  // `held`: the most the server said it holds
      bool complete = false;
      while (!id.empty() && !complete && absl::Now() < deadline && !gate_.stopping()) {
        uint64_t at = offset;
        auto info = c.Upload(id, offset, [&]() -> absl::StatusOr<std::string> {
          std::string piece = bytes.substr(at, kUploadPiece);
          at += piece.size();
          return piece;
        });
        if (info.ok() && info->state() == v1::UPLOAD_STATE_COMPLETE) {
          complete = true;
          break;
        }
        absl::SleepFor(kRetryPause);
        auto where = c.GetUpload(id);
        if (!where.ok()) continue;
        if (where->received_bytes() < held) {
          ledger_.Problem(absl::StrCat("upload ", id, " went back from ", held, " to ",
                                       where->received_bytes(), " bytes"));
        }
        held = std::max<uint64_t>(held, where->received_bytes());
        complete = where->state() == v1::UPLOAD_STATE_COMPLETE;
        offset = where->received_bytes();
        ++stats_.upload_resumes;
      }
      if (complete) {
        ++stats_.uploads;
        ledger_.UploadComplete(id, bytes.size(), digest);
      } else if (!id.empty() && !gate_.stopping()) {
        ledger_.Problem(absl::StrCat("upload ", id, " never completed"));
      }
      gate_.Leave();
      absl::SleepFor(absl::Milliseconds(100 + rng() % 400));
    }
  }

  Gate gate_;
  std::atomic<bool> urgent_{true};
  Person& coordinator_;
  Person& floater_;
  const std::string team_;
  Ledger& ledger_;
  Stats& stats_;
  absl::Mutex streams_mu_;
  std::map<Person*, client::ReceiveStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  std::vector<std::thread> threads_;
};

// What a check found wrong, with a few examples of each.
struct Findings {
  std::map<std::string, size_t> counts;
  std::map<std::string, std::vector<std::string>> examples;
  void Add(const std::string& what, std::string example) {
    ++counts[what];
    auto& e = examples[what];
    if (e.size() < 5) e.push_back(std::move(example));
  }
  bool empty() const { return counts.empty(); }
  size_t count(const std::string& what) const {
    auto it = counts.find(what);
    return it == counts.end() ? 0 : it->second;
  }
  void Merge(const Findings& other) {
    for (const auto& [what, n] : other.counts) {
      counts[what] += n;
      for (const auto& e : other.examples.at(what)) {
        if (examples[what].size() < 5) examples[what].push_back(e);
      }
    }
  }
  // The counts (cumulative: every check looks at everything since the
  // start), with the examples not in `reported` yet, which it then holds.
  std::string ToString(std::set<std::string>* reported = nullptr) const {
    std::ostringstream out;
    for (const auto& [what, n] : counts) {
      out << "  " << n << " " << what << ", e.g.:\n";
      for (const auto& e : examples.at(what)) {
        if (reported && !reported->insert(what + e).second) continue;
        out << "      " << e << "\n";
      }
    }
    return out.str();
  }
};

class KillSoak {
 public:
  KillSoak()
      : cycles_(static_cast<int>(EnvNumber("CARERELAY_SOAK_CYCLES", 5))),
        max_load_(absl::Milliseconds(EnvNumber("CARERELAY_SOAK_MAX_LOAD_MS", 2500))),
        window_minutes_(static_cast<int>(EnvNumber("CARERELAY_SOAK_URGENT_WINDOW_MINUTES", 1))),
        seed_(EnvNumber("CARERELAY_SOAK_SEED", std::random_device{}())),
        keep_going_(EnvNumber("CARERELAY_SOAK_KEEP_GOING", 0) != 0),
        rng_(seed_) {}

  void Run();

 private:
  // Sets up the accounts and the team; false after a test failure.
  bool SetUp();
  // One cycle: load, SIGKILL, restart, checks. False when the soak must end.
  bool Cycle(const std::string& label);
  // When to kill: a random moment, or just after an urgent timer falls due.
  absl::Duration NextKill();
  // The checks after a cycle, with the load paused.
  Findings CheckDelivery();
  Findings CheckUploads();
  // After every urgent timer fell due: each urgent message against what
  // was received.
  Findings CheckUrgentTimers();

  const int cycles_;
  const absl::Duration max_load_;
  const int window_minutes_;
  const uint64_t seed_;
  const bool keep_going_;
  std::mt19937_64 rng_;
  std::set<std::string> reported_;  // finding examples already printed

  TempDir dir_;
  std::vector<std::string> server_args_;
  std::unique_ptr<ServerProcess> server_;
  Person c_{"C"}, p1_{"P1"}, p2_{"P2"}, f_{"F"}, h_{"H"};
  std::string team_;
  Ledger ledger_;
  Stats stats_;
  std::unique_ptr<Load> load_;
  int kills_ = 0, aimed_kills_ = 0, admin_checks_ = 0;
  size_t checked_envelopes_ = 0;
  size_t reminders_ = 0, escalations_ = 0, acknowledged_alerts_ = 0;
  // Where a cycle's time goes, besides the load: restarting, answering what
  // was in flight, the checks, `admin check`.
  absl::Duration restart_time_, pause_time_, check_time_, admin_time_;
};

bool KillSoak::SetUp() {
  const int port = PickFreePort();
  EXPECT_NE(port, 0);
  if (port == 0) return false;
  server_args_ = {"--timer-interval-seconds", "1", "--urgent-reminder-minutes", "1",
                  "--urgent-window-minutes", absl::StrCat(window_minutes_),
                  // The checks read and download a lot; orphaned uploads (a creation
                  // answered into a kill) pile up over the cycles.
                  "--calls-per-second", "100000", "--call-burst", "100000",
                  "--max-open-uploads-per-device", "100000",
                  // Several tests may run at once: no fixed port.
                  "--metrics-listen", ""};
  server_ = std::make_unique<ServerProcess>(dir_, port, server_args_);
  std::map<Person*, std::string> codes;
  for (Person* p : {&c_, &p1_, &p2_, &f_}) codes[p] = server_->Enroll("Soak " + p->name);
  codes[&h_] = server_->Enroll("Soak helpdesk", "helpdesk");
  for (const auto& [p, code] : codes) {
    if (code.empty()) return false;
  }
  EXPECT_TRUE(server_->Start());
  for (auto& [p, code] : codes) {
    p->device = RegisterDevice(*server_, code);
    if (!p->device) return false;
  }
  auto team = c_.client().CreateTeam(v1::ROLE_COORDINATOR);
  EXPECT_TRUE(team.ok()) << team.status();
  if (!team.ok()) return false;
  team_ = team->team_id();
  v1::RecordConsentRequest consent;
  consent.set_team_id(team_);
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  EXPECT_TRUE(c_.client().RecordConsent(consent).ok());
  for (Person* p : {&p1_, &p2_}) {
    auto invited = c_.client().Invite(team_, p->account(), v1::ROLE_PROFESSIONAL);
    EXPECT_TRUE(invited.ok()) << invited.status();
    auto joined = p->client().RespondToInvitation(team_, true);
    EXPECT_TRUE(joined.ok()) << joined.status();
    if (!invited.ok() || !joined.ok()) return false;
  }
  // The helpdesk account is named on the command line, so known only now.
  EXPECT_TRUE(server_->Stop());
  std::vector<std::string> args = server_args_;
  args.insert(args.end(), {"--helpdesk-account", h_.account()});
  server_->set_extra_args(std::move(args));
  EXPECT_TRUE(server_->Start());
  EXPECT_TRUE(server_->StoreIsConsistent());
  return !::testing::Test::HasFailure();
}

// Calls `call` until its outcome is known (the server may still be
// restarting, or the client reconnecting), within kOperationTimeout.
const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
template <typename Call>
auto UntilAnswered(Call call) -> decltype(call()) {
  const absl::Time deadline = absl::Now() + kOperationTimeout;
  for (;;) {
    auto r = call();
    if (r.ok() || !OutcomeUnknown(StatusOf(r)) || absl::Now() > deadline) return r;
    absl::SleepFor(kRetryPause);
  }
}

absl::Duration KillSoak::NextKill() {
  const int64_t max_ms = absl::ToInt64Milliseconds(max_load_);
  const int64_t min_ms = std::min<int64_t>(200, max_ms);
  if (rng_() % 2 == 0) {
    // Just after the next urgent timer falls due (the timer loop looks every
    // second): the kill lands before, during or after its firing.
    const int64_t now = absl::ToUnixMillis(absl::Now());
    int64_t next = INT64_MAX;
    for (const auto& [id, u] : ledger_.urgent()) {
      for (int k = 1; k <= window_minutes_; ++k) {
        const int64_t due = u.sent_at_ms + k * int64_t{60000};
        if (due >= now + min_ms) next = std::min(next, due);
      }
    }
    if (next != INT64_MAX && next - now <= max_ms) {
      ++aimed_kills_;
      return absl::Milliseconds(next - now + static_cast<int64_t>(rng_() % 1300));
    }
  }
  return absl::Milliseconds(min_ms + static_cast<int64_t>(rng_() % (max_ms - min_ms + 1)));
}

Findings KillSoak::CheckDelivery() {
  Findings found;
  const auto acked = ledger_.acked();
  // Acknowledged to the sender => delivered (the receivers drain their queues
  // continuously: "still queued" becomes "delivered" within the timeout).
  std::map<std::string, std::vector<std::string>> expected;
  for (Person* p : {&c_, &p1_, &p2_}) expected[p->address()];
  size_t total = 0;
  for (const auto& [id, e] : acked) {
    auto it = expected.find(e.device);
    if (it == expected.end()) continue;
    it->second.push_back(id);
    ++total;
  }
  const absl::Time deadline = absl::Now() + kDeliveryTimeout;
  auto missing_anywhere = [&] {
    size_t n = 0;
    for (const auto& [device, ids] : expected) n += ledger_.MissingAt(device, ids);
    return n;
  };
  while (missing_anywhere() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  checked_envelopes_ = total;

  const auto delivered = ledger_.delivered();
  for (const auto& [device, ids] : expected) {
    auto d = delivered.find(device);
    for (const auto& id : ids) {
      if (d == delivered.end() || !d->second.envelopes.contains(id)) {
        found.Add("acknowledged envelopes never delivered (lost)",
                  absl::StrCat(id, " to ", device, ": ", acked.at(id).payload.substr(0, 60)));
      }
    }
  }
  // Delivered => acknowledged to its sender, as that envelope.
  const auto urgent = ledger_.urgent();
  absl::flat_hash_map<std::string, std::string> id_of_payload;
  for (const auto& [device, d] : delivered) {
    for (const auto& [id, e] : d.envelopes) {
      if (e.sender().account_id().empty()) continue;  // the server's own
      auto it = acked.find(id);
      if (it == acked.end()) {
        found.Add("envelopes delivered that were never acknowledged to their sender",
                  absl::StrCat(id, " to ", device, ": ", e.content().substr(0, 60)));
      } else if (it->second.device != device || it->second.payload != e.content() ||
                 it->second.sender != e.sender().account_id()) {
        found.Add("envelopes delivered other than acknowledged (device, content or sender)",
                  absl::StrCat(id, " to ", device, ": ", e.content().substr(0, 60)));
      }
      auto [first, added] = id_of_payload.emplace(e.content(), id);
      if (!added && first->second != id) {
        found.Add("sends queued twice (one payload under two envelope ids)",
                  absl::StrCat(first->second, " and ", id, ": ", e.content().substr(0, 60)));
      }
    }
    // Urgent timers and acknowledgements tell each device once.
    for (const auto& [key, ids] : d.alerts) {
      const auto& [kind, message, reminder, subject] = key;
      const std::string what =
          absl::StrCat(v1::Alert::Kind_Name(static_cast<v1::Alert::Kind>(kind)), " for ", message,
                       reminder ? absl::StrCat(" (reminder ", reminder, ")") : "",
                       subject.empty() ? "" : " by " + subject.substr(0, 8), " to ", device);
      if (ids.size() > 1) {
        found.Add("urgent alerts delivered more than once (a timer or acknowledgement fired twice)",
                  absl::StrCat(what, ": ", absl::StrJoin(ids, ", ")));
      }
      if (urgent.count(message) == 0) {
        found.Add("urgent alerts about a message never acknowledged to its sender", what);
      }
    }
  }
  for (const auto& problem : ledger_.problems()) found.Add("unexpected answers", problem);
  return found;
}

Findings KillSoak::CheckUploads() {
  Findings found;
  client::RelayClient& reader = c_.client();  // the coordinator reads #clinical
  for (const auto& [id, upload] : ledger_.uploads()) {
    auto info = UntilAnswered([&] { return reader.GetUpload(id); });
    if (!info.ok()) {
      found.Add("completed uploads no longer found",
                absl::StrCat(id, ": ", info.status().ToString()));
      continue;
    }
    if (info->state() != v1::UPLOAD_STATE_COMPLETE || info->ciphertext_size() != upload.size ||
        info->digest() != upload.digest || info->received_bytes() != upload.size) {
      found.Add("completed uploads changed", absl::StrCat(id, ": ", info->ShortDebugString()));
      continue;
    }
    if (upload.verified) continue;
    std::string bytes;
    absl::Status s = UntilAnswered([&] {
      bytes.clear();
      return reader.Download(id, 0, [&](uint64_t offset, absl::string_view data) {
        if (offset != bytes.size()) return absl::DataLossError("download out of order");
        bytes.append(data.data(), data.size());
        return absl::OkStatus();
      });
    });
    if (!s.ok() || bytes.size() != upload.size || Sha256(bytes) != upload.digest) {
      found.Add("completed uploads that download wrong",
                absl::StrCat(id, ": ", s.ToString(), ", ", bytes.size(), " bytes"));
      continue;
    }
    ledger_.MarkVerified(id);
  }
  return found;
}

Findings KillSoak::CheckUrgentTimers() {
  Findings found;
  std::map<std::string, Person*> by_account;
  for (Person* p : {&c_, &p1_, &p2_, &f_, &h_}) by_account[p->account()] = p;
  const auto urgent = ledger_.urgent();
  // Every timer has fired (or was cancelled: everyone acknowledged) once the
  // record waits for nothing more.
  std::map<std::string, v1::UrgentMessageStatus> statuses;
  const absl::Time deadline = absl::Now() + kDeliveryTimeout;
  for (;;) {
    found = Findings();
    statuses.clear();
    for (const auto& [id, u] : urgent) {
      auto status =
          UntilAnswered([&] { return by_account.at(u.sender)->client().ListAcknowledgements(id); });
      if (!status.ok()) {
        found.Add("urgent messages without a status",
                  absl::StrCat(id, ": ", status.status().ToString()));
        continue;
      }
      if (status->next_reminder_at_ms() != 0) {
        found.Add("urgent messages still waiting for a timer after their window",
                  absl::StrCat(id, ": next at ", status->next_reminder_at_ms()));
      }
      statuses[id] = *status;
    }
    const auto delivered = ledger_.delivered();
    auto alerts_at =
        [&](Person& p) -> const std::map<std::tuple<int, std::string, uint32_t, std::string>,
                                         std::set<std::string>>& {
      static const std::map<std::tuple<int, std::string, uint32_t, std::string>,
                            std::set<std::string>>
          none;
      auto it = delivered.find(p.address());
      return it == delivered.end() ? none : it->second.alerts;
    };
    reminders_ = escalations_ = acknowledged_alerts_ = 0;
    for (const auto& [id, status] : statuses) {
      Person& sender = *by_account.at(urgent.at(id).sender);
      std::set<std::string> acknowledged, told;
      for (const auto& r : status.recipients()) {
        if (r.acknowledged()) acknowledged.insert(r.account_id());
        Person& person = *by_account.at(r.account_id());
        std::set<uint32_t> numbers;
        for (const auto& [key, ids] : alerts_at(person)) {
          if (std::get<0>(key) == v1::Alert::KIND_URGENT_REMINDER && std::get<1>(key) == id) {
            numbers.insert(std::get<2>(key));
          }
        }
        reminders_ += numbers.size();
        std::set<uint32_t> counted;
        for (uint32_t n = 1; n <= r.reminders(); ++n) counted.insert(n);
        // The floater's queue may lose what a removal or role change drops.
        const bool exact = &person != &f_;
        if (exact
                ? numbers != counted
                : !std::includes(counted.begin(), counted.end(), numbers.begin(), numbers.end())) {
          found.Add("urgent reminders received other than the record counts",
                    absl::StrCat(id, " to ", person.name, ": received ",
                                 absl::StrJoin(numbers, ","), ", counted ", r.reminders()));
        }
      }
      for (Person* p : {&sender, &c_, &h_}) {
        const auto& alerts = alerts_at(*p);
        const size_t got = alerts.count({v1::Alert::KIND_URGENT_ESCALATED, id, 0, ""});
        escalations_ += got;
        if (got != (status.escalated() ? 1u : 0u)) {
          found.Add(
              "urgent escalations received other than once per escalated message",
              absl::StrCat(id, " to ", p->name, ": ", got, ", escalated ", status.escalated()));
        }
      }
      for (const auto& [key, ids] : alerts_at(sender)) {
        if (std::get<0>(key) == v1::Alert::KIND_URGENT_ACKNOWLEDGED && std::get<1>(key) == id) {
          told.insert(std::get<3>(key));
        }
      }
      acknowledged_alerts_ += told.size();
      if (told != acknowledged) {
        found.Add(
            "\"acknowledged\" alerts to the sender other than who acknowledged",
            absl::StrCat(id, ": told of ", told.size(), ", acknowledged by ", acknowledged.size()));
      }
    }
    // Alerts already queued may still be on their way to a stream, and an
    // urgent acknowledgement retried: look again until it settles.
    if (found.empty() || absl::Now() > deadline) return found;
    absl::SleepFor(absl::Milliseconds(500));
  }
}

bool KillSoak::Cycle(const std::string& label) {
  absl::SleepFor(NextKill());
  if (!server_->Crash()) {
    ADD_FAILURE() << label << ": the server was not running";
    return false;
  }
  ++kills_;
  absl::Time t = absl::Now();
  if (!server_->Start()) {
    ADD_FAILURE() << label << ": restart failed";
    return false;
  }
  restart_time_ += absl::Now() - t;
  // Every operation in flight at the kill is retried against the new
  // instance until answered; then nothing is in flight.
  t = absl::Now();
  if (!load_->gate().Pause(kOperationTimeout + absl::Seconds(10))) {
    ADD_FAILURE() << label << ": operations still unanswered after " << kOperationTimeout;
    return false;
  }
  pause_time_ += absl::Now() - t;
  t = absl::Now();
  Findings found = CheckDelivery();
  found.Merge(CheckUploads());
  check_time_ += absl::Now() - t;
  t = absl::Now();
  ::testing::AssertionResult consistent = server_->StoreIsConsistent();
  admin_time_ += absl::Now() - t;
  if (consistent) ++admin_checks_;
  load_->gate().Resume();
  EXPECT_TRUE(consistent) << label;
  EXPECT_TRUE(found.empty()) << label << " (" << ledger_.acked_count()
                             << " envelopes acknowledged so far):\n"
                             << found.ToString(&reported_);
  // Going on after a finding shows what else a long soak finds (and the
  // totals); the test has failed either way.
  return keep_going_ || (consistent && found.empty());
}

void KillSoak::Run() {
  // The clients' calls fail fast while the server is down, so gRPC notices
  // it is back only on its backup poller: by default about 20 s after each
  // restart here. Read when gRPC initializes, i.e. before the first channel.
  setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
  std::cout << "kill soak: " << cycles_ << " cycles, load up to " << max_load_
            << " before each kill, urgent window " << window_minutes_ << " min, seed " << seed_
            << " (CARERELAY_SOAK_SEED)\n";
  const absl::Time start = absl::Now();
  if (!SetUp()) return;
  load_ = std::make_unique<Load>(std::vector<Person*>{&c_, &p1_, &p2_, &f_, &h_}, c_, p1_, p2_, f_,
                                 team_, ledger_, stats_, seed_);
  bool ok = true;
  int cycle = 0;
  for (; ok && cycle < cycles_; ++cycle) ok = Cycle(absl::StrCat("cycle ", cycle + 1));
  // No more urgent sends; the cycles go on until every urgent timer has
  // fallen due, so that kills also land among their firings.
  load_->StopUrgentSends();
  int drain = 0;
  auto last_due = [&] {
    int64_t last = 0;
    for (const auto& [id, u] : ledger_.urgent()) last = std::max(last, u.sent_at_ms);
    return absl::FromUnixMillis(last) + absl::Minutes(window_minutes_) + absl::Seconds(2);
  };
  for (; ok && absl::Now() < last_due(); ++drain) {
    ok = Cycle(absl::StrCat("drain cycle ", drain + 1));
  }
  const absl::Time load_end = absl::Now();

  Findings last;
  // After a failed cycle the server may be down: the load is stopped
  // without waiting for what it has in flight, and the summary still says
  // how far the soak went.
  if (ok) ok = load_->gate().Pause(kOperationTimeout + absl::Seconds(10));
  EXPECT_TRUE(ok || ::testing::Test::HasFailure()) << "operations in flight never answered";
  if (ok) {
    while (absl::Now() < last_due()) absl::SleepFor(absl::Milliseconds(100));
    last = CheckDelivery();
    last.Merge(CheckUploads());
    EXPECT_TRUE(last.empty()) << "at the end:\n" << last.ToString(&reported_);
    Findings timers = CheckUrgentTimers();
    EXPECT_TRUE(timers.empty()) << "urgent timers at the end:\n" << timers.ToString(&reported_);
    last.Merge(timers);
  }
  EXPECT_TRUE(server_->StoreIsConsistent());
  load_->Stop();
  EXPECT_TRUE(server_->Stop());
  EXPECT_TRUE(server_->StoreIsConsistent());  // offline, on the store itself

  size_t redelivered = 0;
  for (const auto& [device, d] : ledger_.delivered()) redelivered += d.redelivered;
  std::cout << "kill soak: " << cycle << " cycles and " << drain << " drain cycles, " << kills_
            << " SIGKILLs (" << aimed_kills_ << " aimed at an urgent timer), "
            << absl::ToInt64Seconds(load_end - start) << " s; " << stats_.sends
            << " sends acknowledged (" << stats_.urgent_sends << " urgent, " << stats_.replayed
            << " answered as replays), " << ledger_.acked_count() << " envelopes acknowledged, "
            << checked_envelopes_
            << " of them to C, P1, P2 checked delivered; retries: " << stats_.unknown_outcomes
            << " unknown outcomes, " << stats_.mismatches << " device mismatches, "
            << stats_.aborted << " ABORTED; " << redelivered
            << " envelopes delivered again (at-least-once); " << stats_.team_changes
            << " team changes (" << stats_.team_change_errors << " failed calls); "
            << stats_.uploads << " uploads completed (" << stats_.upload_resumes << " resumes, "
            << stats_.create_retries << " creations retried); " << stats_.urgent_acks
            << " urgent acknowledgements; urgent alerts received: " << reminders_ << " reminders, "
            << escalations_ << " escalations, " << acknowledged_alerts_ << " acknowledged; "
            << admin_checks_ << " admin checks passed after a kill; per kill: restart "
            << restart_time_ / std::max(kills_, 1) << ", in-flight answered "
            << pause_time_ / std::max(kills_, 1) << ", checks " << check_time_ / std::max(kills_, 1)
            << ", admin check " << admin_time_ / std::max(kills_, 1) << "\n";
  if (ok) {
    std::cout << "kill soak findings at the end: "
              << last.count("acknowledged envelopes never delivered (lost)") << " lost, "
              << last.count("envelopes delivered that were never acknowledged to their sender")
              << " delivered but never acknowledged, "
              << last.count("sends queued twice (one payload under two envelope ids)")
              << " queued twice, "
              << last.count(
                     "urgent alerts delivered more than once (a timer or acknowledgement fired "
                     "twice)")
              << " urgent alerts delivered twice; " << last.counts.size() << " kinds of finding\n";
  }
  ::testing::Test::RecordProperty("cycles", cycle);
  ::testing::Test::RecordProperty("drain_cycles", drain);
  ::testing::Test::RecordProperty("envelopes_acknowledged",
                                  static_cast<int>(ledger_.acked_count()));
}

TEST(KillSoakTest, MixedLoadUnderRepeatedSigkill) {
  KillSoak soak;
  soak.Run();
}

}  // namespace
}  // namespace carerelay::testing
