// Power-loss test of the delivery contract (DESIGN.md, Delivery contract;
// issue 14, "Durability must be proven, not assumed").
//
// The relay runs in-process on a PowerLossEnv (power_loss_env.h) over a real
// RocksDB in a temporary directory. The recipient is one person with two
// devices: a phone that keeps its receive stream open and acknowledges
// cumulatively as it goes, and a desktop that stays offline until the end
// (so every envelope for it must stay queued: nothing ever deletes it). In
// each round, sender threads (one device each, the client library over TLS)
// send PLAINTEXT envelopes with unique payloads to both devices, most with an
// idempotency key, some asking for delivery watermarks. At a random moment
// the plug is pulled: from then on nothing the server writes becomes durable,
// although the server goes on (and is then shut down, even flushing its
// memtables: none of it reaches the simulated disk). The files are put back
// to what was durable, and the next round starts a new server on the same
// directory.
//
// Only what clients observed before the plug counts: a machine without power
// answers nothing. (Each observer reads PowerLossEnv::plugged() after seeing
// an answer or a delivery: false means the machine still had power.) After
// every power loss, the store (read directly) must show:
//  (a) every envelope of a send answered OK before the plug: still queued,
//      unless the phone acknowledged it (an acknowledgement is written
//      unsynced, so its delete may or may not have survived); all of the
//      desktop's;
//  (b) every envelope the phone's stream delivered before the plug: still
//      queued, unless acknowledged likewise (a stream delivers only what is
//      durable, even if its sender never got an answer);
//  and nothing queued that no sender sent, no id holding another payload.
// In the next round: (d) sequence numbers never go back (every id handed out
// is above every id observed before); a retry with the idempotency key of a
// send answered before the plug replays it, and a retry of a keyed send whose
// outcome was unknown either replays it (then it is queued) or queues it for
// the first time, never twice; the delivery watermarks one sender watches on
// its stream are, on its new stream, at least what was pushed before the plug
// (they are pushed after the sync too). At the end, with the power on and the load
// stopped, both devices drain their queues: (c) every envelope of a send
// answered OK was delivered at least once, and no payload was ever delivered
// to a device under two ids.
//
// The test also checks that the power losses bite: sends answered after the
// plug must be lost, or the test could not catch an answer given too early.
//
// Knobs (environment): CARERELAY_POWER_LOSS_ROUNDS (default 8),
// CARERELAY_POWER_LOSS_SEED (default: random, printed; replays a run's
// timing choices, not its thread interleavings).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/key_upload.h"
#include "client/relay_client.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "server/server.h"
#include "server/store/database.h"
#include "tests/power_loss_env.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

constexpr int kDefaultRounds = 8;
constexpr int kSenderThreads = 3;
// The recipient's devices, in the order of each send's envelopes.
constexpr int kPhone = 0;    // streams and acknowledges during the rounds
constexpr int kDesktop = 1;  // offline until the final drain
constexpr int kDevices = 2;
constexpr size_t kFillerBytes = 120;  // envelopes of a realistic size
// The plug is pulled this long after the load starts (uniformly), and the
// server runs on without power for the second range before it is torn down.
constexpr int kMinCrashMs = 150, kMaxCrashMs = 1200;
constexpr int kMinAfterPlugMs = 20, kMaxAfterPlugMs = 150;
// Keyed sends answered before the plug that are retried after each power
// loss (their answer must be replayed).
constexpr size_t kReplayChecks = 25;
// Violations printed per kind (all are counted).
constexpr int kMaxReports = 15;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// The sequence number an envelope id stands for (16 lowercase hex digits);
// 0 if malformed.
uint64_t SequenceOf(const std::string& id) {
  if (id.size() != 16) return 0;
  char* end = nullptr;
  uint64_t seq = std::strtoull(id.c_str(), &end, 16);
  return end == id.c_str() + id.size() ? seq : 0;
}

// The recipient device a delivery watermark is about, "account.device".
std::string RecipientOf(const v1::DeliveryWatermark& w) {
  return absl::StrCat(w.recipient().account_id(), ".", w.recipient().device_id());
}

// carerelayd in-process over TLS on loopback, its store on `env`.
class PowerLossServer {
 public:
  PowerLossServer(PowerLossEnv* env, std::string data_dir)
      : env_(env), data_dir_(std::move(data_dir)) {}
  ~PowerLossServer() { Stop(); }

  absl::Status Start() {
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir_;
    config.tls_cert = TlsDir() + "/server.crt";
    config.tls_key = TlsDir() + "/server.key";
    config.sync = true;
    config.limits = TestLimits();
    // The desktop's queue only grows until the end; a full queue would be a
    // refusal, not what this test is about.
    config.limits.max_queue_depth = 1'000'000;
    config.limits.max_queue_share = 1'000'000;
    config.timer_interval = absl::Hours(24);
    // The load messages between two professionals without a team.
    config.contact_policy = "directory";
    config.log_level = "error";
    config.store_env = env_;
    auto server = Server::Start(config, &clock_);
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    return absl::OkStatus();
  }
  // Shuts the server down (streams ended, calls finished, store closed).
  // After PullPlug() this is the crash: nothing it writes is kept.
  void Stop() {
    if (server_) server_->Shutdown(absl::Seconds(5));
    server_.reset();
  }
  Server& server() { return *server_; }
  std::string target() const { return "localhost:" + std::to_string(server_->port()); }
  core::FakeClock& clock() { return clock_; }

 private:
  PowerLossEnv* const env_;
  const std::string data_dir_;
  core::FakeClock clock_;
  std::unique_ptr<Server> server_;
};

// A registered device: its keys (a real libsignal profile) and credentials.
class Device {
 public:
  // A new account.
  static std::unique_ptr<Device> Enroll(PowerLossServer& server, const std::string& name) {
    auto code = server.server().accounts().IssueEnrollmentCode(name, v1::ACCOUNT_KIND_PROFESSIONAL,
                                                               absl::Hours(1));
    if (!code.ok()) {
      ADD_FAILURE() << code.status();
      return nullptr;
    }
    return Register(server, code->code);
  }
  // Another device of `existing`'s account.
  static std::unique_ptr<Device> Link(PowerLossServer& server, const Device& existing) {
    auto client = existing.Connect(server.target());
    if (client == nullptr) return nullptr;
    // LinkDevice is signed with the identity key (issue 15).
    crypto::ProfileStore* keys = existing.profile_.get();
    client->SetIdentitySigner(
        [keys](absl::string_view message) { return keys->SignWithIdentity(message); });
    core::FakeClock& clock = server.clock();
    client->SetClock([&clock] { return clock.Now(); });
    auto link = client->LinkDevice();
    if (!link.ok()) {
      ADD_FAILURE() << link.status();
      return nullptr;
    }
    return Register(server, link->code());
  }

  // A new client (a new TLS connection) for this device.
  std::unique_ptr<client::RelayClient> Connect(const std::string& target) const {
    client::ConnectionOptions connection;
    connection.target = target;
    connection.ca_file = TlsDir() + "/ca.crt";
    auto client = client::RelayClient::Create(connection);
    if (!client.ok()) {
      ADD_FAILURE() << client.status();
      return nullptr;
    }
    if (!credentials_.account_id.empty()) (*client)->SetCredentials(credentials_);
    return *std::move(client);
  }

  const client::DeviceCredentials& credentials() const { return credentials_; }

 private:
  Device() = default;

  static std::unique_ptr<Device> Register(PowerLossServer& server, const std::string& code) {
    std::unique_ptr<Device> d(new Device());
    crypto::ProfileOptions options;
    options.allow_unencrypted = true;
    options.sync_writes = false;
    auto profile = crypto::ProfileStore::Open(d->dir_.Sub("profile"), options);
    if (!profile.ok()) {
      ADD_FAILURE() << profile.status();
      return nullptr;
    }
    d->profile_ = *std::move(profile);
    d->keys_ = std::make_unique<crypto::KeyManager>(d->profile_.get());
    auto keys = d->keys_->PrepareRegistration(absl::Now(), 10);
    if (!keys.ok()) {
      ADD_FAILURE() << keys.status();
      return nullptr;
    }
    auto client = d->Connect(server.target());
    if (client == nullptr) return nullptr;
    auto registered = client->Register(client::MakeRegisterRequest(*keys, code, "power-loss test"));
    if (!registered.ok()) {
      ADD_FAILURE() << "registration failed: " << registered.status();
      return nullptr;
    }
    d->credentials_ = client->credentials();
    return d;
  }

  TempDir dir_;
  std::unique_ptr<crypto::ProfileStore> profile_;
  std::unique_ptr<crypto::KeyManager> keys_;
  client::DeviceCredentials credentials_;
};

// One queued envelope as the store holds it.
struct Queued {
  int device = -1;  // kPhone, kDesktop, or -1 for a device not in this test
  std::string payload;
};
using Queue = std::map<uint64_t, Queued>;  // by sequence

// Every envelope in the store, read directly (the server is down).
// `device_ids[i]` is the device id of device i of the recipient.
Queue ReadQueue(const std::string& data_dir, PowerLossEnv* env,
                const std::vector<uint32_t>& device_ids) {
  Queue queue;
  store::DatabaseOptions options;
  options.env = env;
  auto db = store::Database::Open(data_dir, options);
  if (!db.ok()) {
    ADD_FAILURE() << "the store does not open after the power loss: " << db.status();
    return queue;
  }
  absl::Status s =
      (*db)->Scan(store::Table::kQueue, "", "", [&](absl::string_view, absl::string_view value) {
        v1::Envelope e;
        if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          ADD_FAILURE() << "unreadable queue entry";
          return true;
        }
        Queued& q = queue[e.sequence()];
        q.payload = e.content();
        for (int i = 0; i < static_cast<int>(device_ids.size()); ++i) {
          if (device_ids[i] == e.destination_device_id()) q.device = i;
        }
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE((*db)->Close().ok());
  return queue;
}

// One keyed send, kept to be retried with the same key.
struct KeyedSend {
  int sender = 0;  // index of the sending device: keys are per device
  v1::SendRequest request;
  std::string payload;
  std::vector<std::string> answered_ids;  // of an answer, if any (maybe after the plug)
};

// What one envelope id went through, as seen by the clients while the
// machine had power.
struct IdRecord {
  int device = 0;
  std::string payload;
  int answered_round = -1;   // its send was answered OK before the plug
  int delivered_round = -1;  // first delivered before a plug
  // Delivered before a plug in a round whose acknowledgements, issued before
  // the plug, covered it: its delete may have become durable. Cleared when a
  // power loss shows it did not.
  bool may_be_deleted = false;
  bool delivered = false;      // before a plug in some round, or in the final drain
  bool reported_lost = false;  // a violation was reported for it (once is enough)
};

struct RoundStats {
  int sends_before = 0, sends_after = 0, send_errors = 0;
  std::string first_error;
  int delivered_before = 0, delivered_after = 0;
  int acks_before = 0, acks_after = 0;
};

// Everything the clients observed, across rounds, and the checks. Thread-safe.
class Ledger {
 public:
  void Attempted(const std::string& payload) {
    absl::MutexLock lock(&mu_);
    attempted_.insert(payload);
  }

  // A send of `payload` returned `result`; `before_plug` as read after it
  // returned. `keyed` sends are retried after the power loss.
  void SendReturned(int round, const KeyedSend* keyed, const std::string& payload,
                    const absl::StatusOr<v1::SendResponse>& result, bool before_plug,
                    RoundStats* stats) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    if (result.ok()) {
      ids.assign(result->envelope_ids().begin(), result->envelope_ids().end());
      if (ids.size() != kDevices) {
        Violation("malformed", absl::StrCat("a send was answered with ", ids.size(), " ids"));
        return;
      }
      for (const auto& id : ids) CheckFresh(round, id, result->replayed());
      if (before_plug) {
        ++stats->sends_before;
        for (int i = 0; i < kDevices; ++i) {
          const uint64_t seq = SequenceOf(ids[i]);
          if (seq == 0) {
            Violation("malformed", absl::StrCat("a send was answered with the id '", ids[i], "'"));
            continue;
          }
          Record(seq, i, payload).answered_round = round;
          max_seen_ = std::max(max_seen_, seq);
        }
        if (keyed != nullptr) answered_keyed_.push_back(WithIds(*keyed, ids));
        return;
      }
      ++stats->sends_after;
      answered_after_plug_.push_back(payload);
    } else {
      if (stats->send_errors++ == 0) stats->first_error = result.status().ToString();
      if (before_plug) {
        Violation("send-error", absl::StrCat("a send failed while the machine had power: ",
                                             result.status().ToString()));
      }
    }
    // Outcome unknown to a client that had power: retried with its key.
    if (keyed != nullptr) in_doubt_.push_back(WithIds(*keyed, ids));
  }

  // The phone's stream delivered `e`.
  void Delivered(int round, const v1::Envelope& e, bool before_plug, RoundStats* stats) {
    absl::MutexLock lock(&mu_);
    if (e.sequence() <= last_on_stream_) {
      Violation("order",
                absl::StrCat("stream delivered ", e.sequence(), " after ", last_on_stream_));
    }
    last_on_stream_ = e.sequence();
    if (SequenceOf(e.id()) != e.sequence()) {
      Violation("malformed", absl::StrCat("envelope id ", e.id(), " for sequence ", e.sequence()));
    }
    if (!before_plug) {
      ++stats->delivered_after;
      return;
    }
    ++stats->delivered_before;
    IdRecord& r = Record(e.sequence(), kPhone, e.content());
    if (r.delivered_round < 0) r.delivered_round = round;
    r.delivered = true;
    delivered_this_round_.push_back(e.sequence());
    max_seen_ = std::max(max_seen_, e.sequence());
    NoteDeliveredPayload(e.sequence(), kPhone, e.content());
  }

  // The phone is about to acknowledge through `through`.
  void Acknowledging(uint64_t through, bool before_plug, RoundStats* stats) {
    absl::MutexLock lock(&mu_);
    if (before_plug) {
      ++stats->acks_before;
      ack_before_plug_ = std::max(ack_before_plug_, through);
    } else {
      ++stats->acks_after;
    }
  }

  // A new server and a new stream.
  void NewRound() {
    absl::MutexLock lock(&mu_);
    last_on_stream_ = 0;
    delivered_this_round_.clear();
    ack_before_plug_ = 0;
    answered_after_plug_.clear();
    max_before_round_ = max_seen_;
  }

  // The power was lost and the store now holds `queue`: checks (a), (b) and
  // the queue's consistency. Returns how many sends answered after the plug
  // were lost (the desktop's copy: nothing deletes it), evidence that the
  // power loss bites.
  int CheckAfterPowerLoss(int round, const Queue& queue) {
    absl::MutexLock lock(&mu_);
    // Acknowledgements issued before the plug may have deleted what they
    // covered of this round's deliveries.
    for (uint64_t seq : delivered_this_round_) {
      if (seq <= ack_before_plug_) ids_[seq].may_be_deleted = true;
    }
    for (auto& [seq, r] : ids_) {
      if (queue.count(seq) > 0 || r.may_be_deleted || r.reported_lost) continue;
      r.reported_lost = r.answered_round >= 0 || r.delivered_round >= 0;
      if (r.answered_round >= 0) {
        Violation("lost-answered",
                  absl::StrCat("power loss ", round, " lost envelope ", seq, " for the ",
                               DeviceName(r.device), " (", Head(r.payload),
                               "): its send was answered OK before the plug in round ",
                               r.answered_round, ", and it was never acknowledged"));
      } else if (r.delivered_round >= 0) {
        Violation("lost-delivered",
                  absl::StrCat("power loss ", round, " lost envelope ", seq, " (", Head(r.payload),
                               "): the phone received it before the plug in round ",
                               r.delivered_round, " and never acknowledged it"));
      }
    }
    queued_.clear();
    for (const auto& [seq, q] : queue) {
      if (q.device < 0 || !attempted_.contains(q.payload)) {
        Violation("unknown", absl::StrCat("after power loss ", round, " the queue holds ", seq,
                                          " for a device or with a payload of no send"));
        continue;
      }
      queued_.insert(Key(q.device, q.payload));
      auto it = ids_.find(seq);
      if (it == ids_.end()) continue;
      if (it->second.payload != q.payload || it->second.device != q.device) {
        Violation("reused", absl::StrCat("after power loss ", round, " id ", seq, " holds '",
                                         Head(q.payload), "' for the ", DeviceName(q.device),
                                         " but was observed with '", Head(it->second.payload),
                                         "' for the ", DeviceName(it->second.device)));
      }
      // Still queued after the power loss: the acknowledgement that covered
      // it was lost for good; from now on it stays until acknowledged again.
      it->second.may_be_deleted = false;
    }
    queue_ = queue;
    int lost_after_plug = 0;
    for (const auto& p : answered_after_plug_) {
      if (!queued_.contains(Key(kDesktop, p))) ++lost_after_plug;
    }
    return lost_after_plug;
  }

  // Keyed sends to retry after the power loss: those in doubt, and a sample
  // of those answered before the plug. Clears both lists.
  void TakeRetries(std::mt19937_64& rng, std::vector<KeyedSend>* in_doubt,
                   std::vector<KeyedSend>* answered) {
    absl::MutexLock lock(&mu_);
    *in_doubt = std::move(in_doubt_);
    in_doubt_.clear();
    std::shuffle(answered_keyed_.begin(), answered_keyed_.end(), rng);
    if (answered_keyed_.size() > kReplayChecks) answered_keyed_.resize(kReplayChecks);
    *answered = std::move(answered_keyed_);
    answered_keyed_.clear();
  }

  // A retry of a keyed send answered OK before the plug returned `result`.
  void AnsweredRetryReturned(int round, const KeyedSend& send,
                             const absl::StatusOr<v1::SendResponse>& result) {
    absl::MutexLock lock(&mu_);
    if (!result.ok()) {
      Violation("retry-error", absl::StrCat("retry failed: ", result.status().ToString()));
      return;
    }
    const std::vector<std::string> ids(result->envelope_ids().begin(),
                                       result->envelope_ids().end());
    if (!result->replayed() || ids != send.answered_ids) {
      Violation("idempotency",
                absl::StrCat("after power loss ", round - 1, " a retry of the send answered OK as ",
                             absl::StrJoin(send.answered_ids, ","), " (", Head(send.payload),
                             ") got ", absl::StrJoin(ids, ","),
                             result->replayed() ? " (replayed)" : " (queued again)"));
    }
  }

  // A retry of a keyed send whose outcome was unknown returned `result`.
  void InDoubtRetryReturned(int round, const KeyedSend& send,
                            const absl::StatusOr<v1::SendResponse>& result, RoundStats* stats) {
    {
      absl::MutexLock lock(&mu_);
      if (!result.ok()) {
        Violation("retry-error", absl::StrCat("retry failed: ", result.status().ToString()));
        return;
      }
      const std::vector<std::string> ids(result->envelope_ids().begin(),
                                         result->envelope_ids().end());
      if (result->replayed()) {
        // The first attempt was durable: each envelope is queued under its
        // id, or was delivered and acknowledged.
        for (int i = 0; i < static_cast<int>(ids.size()) && i < kDevices; ++i) {
          const uint64_t seq = SequenceOf(ids[i]);
          auto q = queue_.find(seq);
          auto r = ids_.find(seq);
          const bool queued =
              q != queue_.end() && q->second.payload == send.payload && q->second.device == i;
          const bool acknowledged =
              r != ids_.end() && r->second.may_be_deleted && r->second.payload == send.payload;
          if (!queued && !acknowledged) {
            Violation("idempotency",
                      absl::StrCat("a retry of an unanswered send (", Head(send.payload),
                                   ") was replayed with id ", ids[i], ", which the store lacks"));
          }
        }
        if (!send.answered_ids.empty() && send.answered_ids != ids) {
          Violation("idempotency",
                    absl::StrCat("replayed as ", absl::StrJoin(ids, ","), " but first answered as ",
                                 absl::StrJoin(send.answered_ids, ",")));
        }
      } else {
        for (int i = 0; i < kDevices; ++i) {
          const bool queued = queued_.contains(Key(i, send.payload));
          const bool delivered = delivered_payloads_.contains(Key(i, send.payload));
          if (queued || delivered) {
            Violation(
                "double-queue",
                absl::StrCat("after power loss ", round - 1, " a retry with the same key queued '",
                             Head(send.payload), "' again for the ", DeviceName(i),
                             " although the first is ", queued ? "still queued" : "delivered"));
          }
        }
      }
    }
    // From here on, an ordinary send answered with power on.
    SendReturned(round, nullptr, send.payload, result, /*before_plug=*/true, stats);
  }

  // Sender 0's stream pushed a delivery watermark.
  void WatermarkPushed(const v1::DeliveryWatermark& w, bool before_plug) {
    absl::MutexLock lock(&mu_);
    const std::string recipient = RecipientOf(w);
    uint64_t& last = stream_watermarks_[recipient];
    if (w.delivered_through() < last) {
      Violation("receipt-order", absl::StrCat("the watermark of ", recipient, " went from ", last,
                                              " back to ", w.delivered_through(), " on a stream"));
    }
    last = std::max(last, w.delivered_through());
    if (before_plug) {
      uint64_t& seen = seen_watermarks_[recipient];
      seen = std::max(seen, w.delivered_through());
      ++watermarks_seen_;
    }
  }

  // After a power loss, sender 0's new stream started with `kept` (every
  // watermark the store holds): none below what a push showed before the
  // plug (pushes follow the sync too).
  void CheckWatermarks(int round, const std::map<std::string, uint64_t>& kept) {
    absl::MutexLock lock(&mu_);
    for (const auto& [recipient, seen] : seen_watermarks_) {
      auto it = kept.find(recipient);
      const uint64_t now = it == kept.end() ? 0 : it->second;
      if (now < seen) {
        Violation("receipt-lost",
                  absl::StrCat("after power loss ", round - 1, " the watermark of ", recipient,
                               " is ", now, ", below ", seen, " pushed before the plug"));
      }
    }
    stream_watermarks_ = kept;
  }

  // The final drain (power on, no load) delivered `e` to `device`.
  void Drained(int device, const v1::Envelope& e) {
    absl::MutexLock lock(&mu_);
    IdRecord& r = Record(e.sequence(), device, e.content());
    r.delivered = true;
    NoteDeliveredPayload(e.sequence(), device, e.content());
  }

  // (c): every envelope of a send answered OK was delivered at least once,
  // and what the last power loss left queued was delivered by the drain.
  void CheckAtLeastOnce(const std::set<uint64_t>& drained) {
    absl::MutexLock lock(&mu_);
    for (const auto& [seq, r] : ids_) {
      if (r.answered_round >= 0 && !r.delivered) {
        Violation(
            "never-delivered",
            absl::StrCat("envelope ", seq, " for the ", DeviceName(r.device), " (", Head(r.payload),
                         ") was answered OK in round ", r.answered_round, " and never delivered"));
      }
    }
    for (const auto& [seq, q] : queue_) {
      if (drained.count(seq) == 0) {
        Violation("not-drained",
                  absl::StrCat("envelope ", seq, " was queued but the final drain missed it"));
      }
    }
  }

  int watermarks_seen() const {
    absl::MutexLock lock(&mu_);
    return watermarks_seen_;
  }
  size_t answered_envelopes() const {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (const auto& [seq, r] : ids_) n += r.answered_round >= 0 ? 1 : 0;
    return n;
  }
  std::map<std::string, int> violations() const {
    absl::MutexLock lock(&mu_);
    return violation_counts_;
  }

 private:
  static std::string Head(const std::string& payload) { return payload.substr(0, 24); }
  static const char* DeviceName(int device) {
    return device == kPhone ? "phone" : device == kDesktop ? "desktop" : "unknown device";
  }
  static std::string Key(int device, const std::string& payload) {
    return absl::StrCat(device, "|", payload);
  }
  static KeyedSend WithIds(const KeyedSend& k, const std::vector<std::string>& ids) {
    KeyedSend copy = k;
    copy.answered_ids = ids;
    return copy;
  }

  IdRecord& Record(uint64_t seq, int device, const std::string& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = ids_.try_emplace(seq);
    if (inserted) {
      it->second.device = device;
      it->second.payload = payload;
    } else if (it->second.payload != payload || it->second.device != device) {
      Violation("reused", absl::StrCat("id ", seq, " observed with '", Head(payload), "' for the ",
                                       DeviceName(device), " and with '", Head(it->second.payload),
                                       "' for the ", DeviceName(it->second.device)));
    }
    return it->second;
  }

  // No payload is delivered to a device under two ids: a delivery means
  // durable, and a durable send's key record makes any retry a replay.
  void NoteDeliveredPayload(uint64_t seq, int device, const std::string& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = delivered_payloads_.try_emplace(Key(device, payload), seq);
    if (!inserted && it->second != seq) {
      Violation("double-queue",
                absl::StrCat("'", Head(payload), "' delivered to the ", DeviceName(device), " as ",
                             it->second, " and as ", seq));
    }
  }

  // (d): every id handed out after a power loss is above every id observed
  // before it.
  void CheckFresh(int round, const std::string& id, bool replayed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (replayed) return;
    const uint64_t seq = SequenceOf(id);
    if (seq != 0 && seq <= max_before_round_) {
      Violation("went-back", absl::StrCat("round ", round, " handed out id ", seq, ", not above ",
                                          max_before_round_, " observed before the power loss"));
    }
  }

  void Violation(const std::string& kind, const std::string& what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (violation_counts_[kind]++ < kMaxReports) ADD_FAILURE() << kind << ": " << what;
  }

  mutable absl::Mutex mu_;
  std::map<uint64_t, IdRecord> ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> attempted_ ABSL_GUARDED_BY(mu_);
  // Key(device, payload) -> the id it was delivered under.
  absl::flat_hash_map<std::string, uint64_t> delivered_payloads_ ABSL_GUARDED_BY(mu_);
  uint64_t max_seen_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t max_before_round_ ABSL_GUARDED_BY(mu_) = 0;
  // This round.
  uint64_t last_on_stream_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> delivered_this_round_ ABSL_GUARDED_BY(mu_);
  uint64_t ack_before_plug_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> answered_after_plug_ ABSL_GUARDED_BY(mu_);
  std::vector<KeyedSend> answered_keyed_ ABSL_GUARDED_BY(mu_);
  std::vector<KeyedSend> in_doubt_ ABSL_GUARDED_BY(mu_);
  // The store after the last power loss.
  Queue queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> queued_ ABSL_GUARDED_BY(mu_);  // Key(device, payload)
  // Sender 0's delivery watermarks by recipient: the highest pushed before a
  // plug, and the last on the current stream.
  std::map<std::string, uint64_t> seen_watermarks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> stream_watermarks_ ABSL_GUARDED_BY(mu_);
  int watermarks_seen_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> violation_counts_ ABSL_GUARDED_BY(mu_);
};

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = static_cast<uint64_t>(EnvInt("CARERELAY_POWER_LOSS_SEED", 0));
    if (seed_ == 0) seed_ = std::random_device()();
    rounds_ = std::max(1, EnvInt("CARERELAY_POWER_LOSS_ROUNDS", kDefaultRounds));
    std::cout << "power-loss test: seed " << seed_ << " (CARERELAY_POWER_LOSS_SEED), " << rounds_
              << " rounds\n";
    rng_.seed(seed_);
    server_ = std::make_unique<PowerLossServer>(&env_, dir_.Sub("data"));
  }

  v1::SendRequest MakeSend(const std::string& payload, const std::string& key, bool receipts) {
    v1::SendRequest request;
    request.set_account_id(recipient_[kPhone]->credentials().account_id);
    for (const auto& device : recipient_) {
      v1::OutgoingEnvelope* e = request.add_envelopes();
      e->set_account_id(device->credentials().account_id);
      e->set_device_id(device->credentials().device_id);
      e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
      e->set_content(payload);
    }
    if (!key.empty()) request.set_idempotency_key(key);
    request.set_want_receipts(receipts);
    return request;
  }

  std::vector<uint32_t> RecipientDeviceIds() const {
    std::vector<uint32_t> ids;
    for (const auto& d : recipient_) ids.push_back(d->credentials().device_id);
    return ids;
  }

  // Retries what the last power loss left to check (see Ledger), each from
  // the device that sent it first.
  void Retry(int round, const std::vector<std::unique_ptr<client::RelayClient>>& clients,
             RoundStats* stats) {
    std::vector<KeyedSend> in_doubt, answered;
    ledger_.TakeRetries(rng_, &in_doubt, &answered);
    for (const KeyedSend& k : answered) {
      ledger_.AnsweredRetryReturned(round, k, clients[k.sender]->Send(k.request));
    }
    for (const KeyedSend& k : in_doubt) {
      ledger_.InDoubtRetryReturned(round, k, clients[k.sender]->Send(k.request), stats);
    }
    retried_ += in_doubt.size() + answered.size();
  }

  std::vector<std::unique_ptr<client::RelayClient>> ConnectSenders() {
    std::vector<std::unique_ptr<client::RelayClient>> clients;
    for (const auto& s : senders_) {
      clients.push_back(s->Connect(server_->target()));
      EXPECT_NE(clients.back(), nullptr);
    }
    return clients;
  }

  // One round: start, load, pull the plug at a random moment, tear down,
  // lose power, check the store.
  void RunRound(int round) {
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ledger_.NewRound();
    RoundStats stats;  // updated under the ledger's lock
    std::vector<std::unique_ptr<client::RelayClient>> clients = ConnectSenders();
    auto phone = recipient_[kPhone]->Connect(server_->target());
    ASSERT_NE(phone, nullptr);
    for (const auto& c : clients) ASSERT_NE(c, nullptr);
    Retry(round, clients, &stats);

    // Sender 0 watches the delivery watermarks of its sends: first every one
    // the store kept (checked against what it saw before the power loss),
    // then those pushed live.
    auto watch = clients[0]->Receive();
    ASSERT_TRUE(watch.ok()) << watch.status();
    {
      std::map<std::string, uint64_t> kept;
      v1::ReceiveResponse response;
      bool drained = false;
      while (!drained && (*watch)->Next(&response)) {
        for (const auto& w : response.watermarks()) {
          uint64_t& k = kept[RecipientOf(w)];
          k = std::max(k, w.delivered_through());
        }
        drained = response.queue_drained();
      }
      ASSERT_TRUE(drained) << "sender 0's stream ended before its backlog";
      ledger_.CheckWatermarks(round, kept);
    }
    auto stream = phone->Receive();
    ASSERT_TRUE(stream.ok()) << stream.status();

    std::thread watcher([&] {
      v1::ReceiveResponse response;
      while ((*watch)->Next(&response)) {
        const bool before_plug = !env_.plugged();
        for (const auto& w : response.watermarks()) ledger_.WatermarkPushed(w, before_plug);
      }
      (*watch)->Finish().IgnoreError();
    });

    std::atomic<bool> stop{false};
    std::thread receiver([&, round, seed = rng_()] {
      std::mt19937_64 rng(seed);
      v1::ReceiveResponse response;
      while ((*stream)->Next(&response)) {
        const bool before_plug = !env_.plugged();
        for (const auto& e : response.envelopes()) ledger_.Delivered(round, e, before_plug, &stats);
        if (response.envelopes_size() == 0) continue;
        // Acknowledge most messages, cumulatively; the others stay in the
        // window until the next acknowledgement covers them.
        if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) continue;
        const uint64_t through = response.envelopes().rbegin()->sequence();
        ledger_.Acknowledging(through, !env_.plugged(), &stats);
        auto acked = phone->Ack(through);
        if (acked.ok() && !env_.plugged()) {
          EXPECT_EQ(acked->acknowledged_through(), through);
        }
      }
      (*stream)->Finish().IgnoreError();
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kSenderThreads; ++t) {
      threads.emplace_back([&, t, round, seed = rng_()] {
        std::mt19937_64 rng(seed);
        const std::string filler(kFillerBytes, static_cast<char>('a' + t));
        for (int n = 0; !stop.load(); ++n) {
          const std::string payload = absl::StrCat("r", round, " s", t, " n", n, " ", filler);
          // Two in three with a key of our own (retried after the power
          // loss); the rest get the client's random key.
          const bool keyed = std::uniform_int_distribution<int>(0, 2)(rng) != 0;
          const bool receipts = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
          KeyedSend send;
          send.sender = t;
          send.payload = payload;
          send.request =
              MakeSend(payload, keyed ? absl::StrCat("k", round, ".", t, ".", n) : "", receipts);
          ledger_.Attempted(payload);
          absl::StatusOr<v1::SendResponse> result = clients[t]->Send(send.request);
          const bool before_plug = !env_.plugged();
          ledger_.SendReturned(round, keyed ? &send : nullptr, payload, result, before_plug,
                               &stats);
        }
      });
    }

    absl::SleepFor(
        absl::Milliseconds(std::uniform_int_distribution<int>(kMinCrashMs, kMaxCrashMs)(rng_)));
    env_.PullPlug();
    // The machine is dead; the process does not know it and goes on.
    absl::SleepFor(absl::Milliseconds(
        std::uniform_int_distribution<int>(kMinAfterPlugMs, kMaxAfterPlugMs)(rng_)));
    stop = true;
    for (auto& t : threads) t.join();
    (*stream)->Cancel();
    receiver.join();
    (*watch)->Cancel();
    watcher.join();
    server_->Stop();
    auto report = env_.SimulatePowerLoss();
    ASSERT_TRUE(report.ok()) << report.status();

    const Queue queue = ReadQueue(dir_.Sub("data"), &env_, RecipientDeviceIds());
    const int lost_after_plug = ledger_.CheckAfterPowerLoss(round, queue);
    lost_after_plug_ += lost_after_plug;
    answered_after_plug_ += stats.sends_after;
    std::cout << "round " << round << ": sends answered " << stats.sends_before
              << " before the plug, " << stats.sends_after << " after (" << lost_after_plug
              << " of these lost); phone received " << stats.delivered_before << " + "
              << stats.delivered_after << ", acknowledged " << stats.acks_before << " + "
              << stats.acks_after << " times; the power loss cut " << report->bytes_dropped
              << " bytes from " << report->files_cut << " files, removed " << report->files_removed
              << " files, undid " << report->renames_undone << " renames; " << queue.size()
              << " envelopes queued after recovery";
    if (stats.send_errors > 0) {
      std::cout << "; " << stats.send_errors << " sends failed (" << stats.first_error << ")";
    }
    std::cout << "\n";
  }

  TempDir dir_;
  PowerLossEnv env_;
  std::unique_ptr<PowerLossServer> server_;
  std::vector<std::unique_ptr<Device>> recipient_;  // kPhone, kDesktop
  std::vector<std::unique_ptr<Device>> senders_;
  Ledger ledger_;
  uint64_t seed_ = 0;
  int rounds_ = kDefaultRounds;
  std::mt19937_64 rng_;
  size_t retried_ = 0;
  int lost_after_plug_ = 0;
  int answered_after_plug_ = 0;
};

TEST_F(PowerLossTest, AcknowledgedAndDeliveredEnvelopesSurvivePowerLoss) {
  // Accounts are control-plane, synced transactions: registered with power on.
  absl::Status started = server_->Start();
  ASSERT_TRUE(started.ok()) << started;
  recipient_.push_back(Device::Enroll(*server_, "recipient"));
  ASSERT_NE(recipient_.back(), nullptr);
  recipient_.push_back(Device::Link(*server_, *recipient_[kPhone]));
  ASSERT_NE(recipient_.back(), nullptr);
  for (int t = 0; t < kSenderThreads; ++t) {
    senders_.push_back(Device::Enroll(*server_, "sender " + std::to_string(t)));
    ASSERT_NE(senders_.back(), nullptr);
  }
  server_->Stop();

  for (int round = 1; round <= rounds_; ++round) {
    ASSERT_NO_FATAL_FAILURE(RunRound(round));
  }

  // Power on for good: settle the retries, then drain both devices.
  started = server_->Start();
  ASSERT_TRUE(started.ok()) << started;
  ledger_.NewRound();
  RoundStats stats;
  std::vector<std::unique_ptr<client::RelayClient>> clients = ConnectSenders();
  for (const auto& c : clients) ASSERT_NE(c, nullptr);
  Retry(rounds_ + 1, clients, &stats);
  // Ids go on above everything seen before (the ledger checks).
  const std::string probe = "final probe";
  ledger_.Attempted(probe);
  ledger_.SendReturned(rounds_ + 1, nullptr, probe, clients[0]->Send(MakeSend(probe, "", false)),
                       /*before_plug=*/true, &stats);

  std::set<uint64_t> drained;
  for (int device = 0; device < kDevices; ++device) {
    auto client = recipient_[device]->Connect(server_->target());
    ASSERT_NE(client, nullptr);
    auto stream = client->Receive();
    ASSERT_TRUE(stream.ok()) << stream.status();
    v1::ReceiveResponse response;
    while ((*stream)->Next(&response)) {
      for (const auto& e : response.envelopes()) {
        ledger_.Drained(device, e);
        drained.insert(e.sequence());
      }
      if (response.envelopes_size() > 0) {
        auto acked = client->Ack(response.envelopes().rbegin()->sequence());
        EXPECT_TRUE(acked.ok()) << acked.status();
      }
      if (response.queue_drained()) break;
    }
    (*stream)->Cancel();
    while ((*stream)->Next(&response)) {
    }
    (*stream)->Finish().IgnoreError();
  }
  ledger_.CheckAtLeastOnce(drained);
  server_->Stop();
  // A clean stop keeps the acknowledgements: nothing is left to deliver.
  EXPECT_TRUE(ReadQueue(dir_.Sub("data"), &env_, RecipientDeviceIds()).empty());

  std::cout << "power-loss test: " << rounds_ << " power losses; " << ledger_.answered_envelopes()
            << " envelopes answered OK with power on; " << answered_after_plug_
            << " sends answered without power, " << lost_after_plug_ << " of them lost; "
            << retried_ << " keyed sends retried after a power loss; " << drained.size()
            << " envelopes in the final drain; " << ledger_.watermarks_seen()
            << " delivery watermarks pushed with power on\n";
  for (const auto& [kind, n] : ledger_.violations()) {
    std::cout << "violations of kind " << kind << ": " << n << "\n";
  }
  // The simulation must bite: what the server answered without power, it
  // cannot have kept. Otherwise this test could not catch an early answer.
  EXPECT_GT(lost_after_plug_, 0) << "no send answered after the plug was lost: the power loss "
                                    "simulation dropped nothing";
}

}  // namespace
}  // namespace carerelay::testing
