#include "bench/async_load.h"

#include <grpc/support/time.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_support.h"
#include "bench/proc_stats.h"

namespace carerelay::bench {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr auto kCallTimeout = std::chrono::seconds(30);
// Send times of envelopes waiting for a delivery watermark, per recipient.
constexpr size_t kMaxPendingReceipts = 100000;
// Catch-up sends an open-loop worker starts before it serves other
// completions again.
constexpr int kMaxSendsPerPace = 64;

int64_t NowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

void SleepUntilNs(int64_t ns) {
  timespec t{};
  t.tv_sec = ns / 1000000000;
  t.tv_nsec = ns % 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR) {
  }
}

// gRPC's monotonic clock has another origin than CLOCK_MONOTONIC: deadlines
// are made relative to now.
gpr_timespec GrpcDeadline(int64_t monotonic_ns) {
  const int64_t delay = std::max<int64_t>(0, monotonic_ns - NowNs());
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(delay, GPR_TIMESPAN));
}

// Payload header: magic | closed-loop slot (or kOpenLoopSlot) | send time
// (CLOCK_MONOTONIC ns; the due time in open loop). The rest is filler.
constexpr uint32_t kMagic = 0x48425243;  // "CRBH"
constexpr uint32_t kOpenLoopSlot = 0xFFFFFFFF;
constexpr size_t kHeaderBytes = 16;

void Stamp(std::string* content, uint32_t slot, int64_t send_ns) {
  if (content->size() < kHeaderBytes) content->resize(kHeaderBytes);
  std::memcpy(content->data(), &kMagic, 4);
  std::memcpy(content->data() + 4, &slot, 4);
  std::memcpy(content->data() + 8, &send_ns, 8);
}

bool ReadStamp(const std::string& content, uint32_t* slot, int64_t* send_ns) {
  uint32_t magic = 0;
  if (content.size() < kHeaderBytes) return false;
  std::memcpy(&magic, content.data(), 4);
  if (magic != kMagic) return false;
  std::memcpy(slot, content.data() + 4, 4);
  std::memcpy(send_ns, content.data() + 8, 8);
  return true;
}

Distribution Summarize(std::vector<double> v) {
  Distribution d;
  std::sort(v.begin(), v.end());
  d.count = v.size();
  d.p50 = Percentile(v, 50);
  d.p90 = Percentile(v, 90);
  d.p99 = Percentile(v, 99);
  d.p999 = Percentile(v, 99.9);
  d.max = v.empty() ? 0 : v.back();
  double sum = 0;
  for (double x : v) sum += x;
  d.mean = v.empty() ? 0 : sum / v.size();
  return d;
}

std::string DeviceKey(absl::string_view account_id, uint32_t device_id) {
  return absl::StrCat(account_id, ".", device_id);
}

// Everything a worker measures; only its own thread touches it.
struct WorkerStats {
  std::vector<double> latency_ms, send_rtt_ms, receipt_ms, ack_rtt_ms, lag_ms;
  uint64_t sends = 0, envelopes_sent = 0, delivered = 0, watermarks = 0;
  uint64_t watermark_only_messages = 0, receipts_untracked = 0, messages = 0;
  uint64_t message_envelopes = 0, acks = 0, acked_deleted = 0, duplicates = 0, stale = 0;
  uint64_t other = 0, issued = 0;
  std::map<std::string, uint64_t> errors;
  std::map<std::string, std::string> error_examples;

  void Error(const grpc::Status& s, absl::string_view rpc) {
    const std::string code =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()));
    errors[code]++;
    error_examples.emplace(code, absl::StrCat(rpc, ": ", s.error_message()));
  }
};

class Engine;

// A completion queue tag: what to do when the operation completes.
class Op {
 public:
  virtual ~Op() = default;
  virtual void Proceed(bool ok) = 0;
};

class Worker;

// One Send in flight. Pooled per worker: the pool owns it.
struct SendCall : Op {
  explicit SendCall(Engine* e) : engine(e) {}
  void Proceed(bool ok) override;
  Engine* const engine;
  int device = 0;
  uint32_t slot = kOpenLoopSlot;
  int64_t stamp_ns = 0;
  int64_t start_ns = 0;
  std::unique_ptr<grpc::ClientContext> context;
  v1::SendRequest request;
  v1::SendResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SendResponse>> rpc;
};

// A device's Receive stream: one operation in flight at a time (start,
// read, finish), so one tag with a state.
struct StreamOp : Op {
  enum class State { kStart, kRead, kWaitAck, kFinish, kDone };
  StreamOp(Engine* e, int d) : engine(e), device(d) {}
  void Proceed(bool ok) override;
  Engine* const engine;
  const int device;
  State state = State::kStart;
  grpc::ClientContext context;
  v1::ReceiveResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncReader<v1::ReceiveResponse>> reader;
};

// A device's Ack (one in flight at a time).
struct AckOp : Op {
  AckOp(Engine* e, int d) : engine(e), device(d) {}
  void Proceed(bool ok) override;
  Engine* const engine;
  const int device;
  int64_t start_ns = 0;
  std::unique_ptr<grpc::ClientContext> context;
  v1::AckRequest request;
  v1::AckResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AckResponse>> rpc;
};

// Closed loop: one send in flight end to end. `remaining` counts what it
// still waits for (the Send's answer and each envelope's arrival); the
// thread that brings it to zero starts the next send, on the device's
// worker (woken by `alarm` when that is another thread).
struct Slot : Op {
  Slot(Engine* e, uint32_t i, int d) : engine(e), index(i), device(d) {}
  void Proceed(bool ok) override;
  Engine* const engine;
  const uint32_t index;
  const int device;
  std::atomic<int> remaining{0};
  std::atomic<int64_t> stamp_ns{-1};
  grpc::Alarm alarm;
};

// Open loop: a worker's schedule. The pacer thread sleeps until the next
// due time and fires `alarm`; the worker then starts every send that is due.
struct PaceOp : Op {
  PaceOp(Engine* e, Worker* w) : engine(e), worker(w) {}
  void Proceed(bool ok) override;
  Engine* const engine;
  Worker* const worker;
  std::vector<int> senders;  // this worker's devices that send, in turn
  grpc::Alarm alarm;
  std::atomic<bool> armed{false};
  std::atomic<int64_t> next_due{kNever};
  uint64_t next_index = 0;  // worker thread only
};

class Worker {
 public:
  explicit Worker(int index) : index_(index) {}
  int index() const { return index_; }
  grpc::CompletionQueue* cq() { return &cq_; }
  WorkerStats& stats() { return stats_; }
  std::vector<int>& devices() { return devices_; }
  std::unique_ptr<PaceOp>& pace() { return pace_; }

  SendCall* TakeSendCall(Engine* e) {
    if (free_sends_.empty()) {
      sends_.push_back(std::make_unique<SendCall>(e));
      return sends_.back().get();
    }
    SendCall* c = free_sends_.back();
    free_sends_.pop_back();
    return c;
  }
  void ReturnSendCall(SendCall* c) {
    c->rpc.reset();
    c->context.reset();
    free_sends_.push_back(c);
  }

  void Start();
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  const int index_;
  grpc::CompletionQueue cq_;
  WorkerStats stats_;
  std::vector<int> devices_;
  std::vector<std::unique_ptr<SendCall>> sends_;
  std::vector<SendCall*> free_sends_;
  std::unique_ptr<PaceOp> pace_;
  std::thread thread_;
};

// The worker whose thread is running, for "is this device mine?".
thread_local Worker* tls_worker = nullptr;

void Worker::Start() {
  thread_ = std::thread([this] {
    tls_worker = this;
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) static_cast<Op*>(tag)->Proceed(ok);
  });
}

// What the workers know of a recipient's delivery watermark for one sender.
struct PendingReceipts {
  uint64_t through = 0;
  std::deque<std::pair<uint64_t, int64_t>> sent;  // (sequence, send time)
};

struct DeviceState {
  DeviceChannel* channel = nullptr;
  Worker* worker = nullptr;
  std::unique_ptr<StreamOp> stream;
  std::unique_ptr<AckOp> ack;
  bool ready = false;
  uint64_t highest_seen = 0;
  uint64_t ack_sent_through = 0;
  bool ack_in_flight = false;
  // For the drain: the main thread reads whether everything seen is acked.
  std::atomic<bool> settled{true};
  uint64_t next_key = 0;                               // idempotency keys
  absl::flat_hash_map<int, PendingReceipts> receipts;  // by recipient device
};

class Engine {
 public:
  Engine(std::vector<DeviceChannel>& channels, const LoadPlan& plan, const LoadSpec& spec)
      : channels_(channels), plan_(plan), spec_(spec), devices_(channels.size()) {}

  LoadResult Run(WindowObserver* observer);

  void OnSendDone(SendCall* c, bool ok);
  void OnStream(int device, bool ok);
  void OnAckDone(int device, bool ok);
  void OnSlotWake(Slot* slot, bool ok);
  void OnPace(Worker* worker, bool ok);

 private:
  bool InWindow(int64_t ns) const { return ns >= start_ns_ && ns < end_ns_; }
  // A backlog fill has queued what it was asked to.
  bool FillDone() const { return !spec_.receive && expected_ >= spec_.stop_after_envelopes; }
  void OpenStream(int device);
  void IssueSend(int device, uint32_t slot, int64_t stamp_ns);
  void IssueSlot(Slot* slot);
  void NextSend(Slot* slot);
  void ReleaseSlot(uint32_t slot, int64_t stamp_ns, int n);
  // Handles one stream message; true if it carried envelopes.
  bool HandleMessage(DeviceState& d, const v1::ReceiveResponse& r);
  void OnWatermark(DeviceState& d, const v1::DeliveryWatermark& w, int64_t now);
  void TrackReceipts(DeviceState& d, const SendCall& c, int64_t now);
  void MaybeAck(int device);
  void StartAck(int device, uint64_t through);
  void PacerLoop();
  int64_t DueNs(const Worker& w, uint64_t j) const {
    return t0_ns_ + static_cast<int64_t>((w.index() + j * workers_.size()) * send_interval_ns_);
  }
  void Settle(DeviceState& d) {
    d.settled.store(!d.ack_in_flight && d.ack_sent_through >= d.highest_seen);
  }
  bool AllSettled() const {
    for (const auto& d : devices_) {
      if (!d.settled.load()) return false;
    }
    return true;
  }

  std::vector<DeviceChannel>& channels_;
  const LoadPlan& plan_;
  const LoadSpec spec_;
  // Workers (and their completion queues) outlive the calls and alarms
  // below, which are destroyed first.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<DeviceState> devices_;
  std::vector<std::unique_ptr<Slot>> slots_;
  absl::flat_hash_map<std::string, int> device_index_;
  double send_interval_ns_ = 0;

  // Set by Run while the streams already deliver (nothing is in the window
  // before); fixed once sending starts.
  int64_t run_start_ns_ = 0;
  std::atomic<int64_t> t0_ns_{0}, start_ns_{kNever}, end_ns_{kNever};

  // Operations started and not yet completed: the queues shut down at 0.
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int> ready_streams_{0};
  std::atomic<int64_t> sends_in_flight_{0};
  std::atomic<int> acks_in_flight_{0};
  std::atomic<uint64_t> expected_{0};      // envelopes of answered sends
  std::atomic<uint64_t> received_{0};      // this run's envelopes received
  std::atomic<uint64_t> received_any_{0};  // every new envelope (drains)
  std::atomic<bool> stopping_{false};
  std::atomic<bool> pace_stop_{false};
};

void SendCall::Proceed(bool ok) { engine->OnSendDone(this, ok); }
void StreamOp::Proceed(bool ok) { engine->OnStream(device, ok); }
void AckOp::Proceed(bool ok) { engine->OnAckDone(device, ok); }
void Slot::Proceed(bool ok) { engine->OnSlotWake(this, ok); }
void PaceOp::Proceed(bool ok) { engine->OnPace(worker, ok); }

void Engine::OpenStream(int device) {
  DeviceState& d = devices_[device];
  d.stream = std::make_unique<StreamOp>(this, device);
  d.ack = std::make_unique<AckOp>(this, device);
  StreamOp& s = *d.stream;
  d.channel->Authenticate(&s.context);
  v1::ReceiveRequest request;
  request.set_window_messages(spec_.ack_mode == AckMode::kStopAndWait ? 1 : spec_.window_messages);
  request.set_max_envelopes_per_message(spec_.max_envelopes_per_message);
  request.set_watermarks_after_version(d.channel->watermark_version);
  ++outstanding_;
  s.reader = d.channel->stub->PrepareAsyncReceive(&s.context, request, d.worker->cq());
  s.state = StreamOp::State::kStart;
  s.reader->StartCall(&s);
}

void Engine::OnStream(int device, bool ok) {
  DeviceState& d = devices_[device];
  StreamOp& s = *d.stream;
  switch (s.state) {
    case StreamOp::State::kStart:
    case StreamOp::State::kRead: {
      if (!ok) {
        s.state = StreamOp::State::kFinish;
        s.reader->Finish(&s.status, &s);
        return;
      }
      bool envelopes = false;
      if (s.state == StreamOp::State::kRead) envelopes = HandleMessage(d, s.response);
      if (envelopes && spec_.ack_mode == AckMode::kStopAndWait) {
        // The v1 client: acknowledge, and read on only once answered.
        s.state = StreamOp::State::kWaitAck;
        StartAck(device, d.highest_seen);
        return;
      }
      s.state = StreamOp::State::kRead;
      s.reader->Read(&s.response, &s);
      if (envelopes) MaybeAck(device);
      return;
    }
    case StreamOp::State::kFinish: {
      if (!(stopping_ && s.status.error_code() == grpc::StatusCode::CANCELLED)) {
        d.worker->stats().Error(
            s.status.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "the stream ended") : s.status,
            "Receive");
      }
      s.state = StreamOp::State::kDone;
      --outstanding_;
      return;
    }
    case StreamOp::State::kWaitAck:
    case StreamOp::State::kDone:
      return;
  }
}

bool Engine::HandleMessage(DeviceState& d, const v1::ReceiveResponse& r) {
  const int64_t now = NowNs();
  const bool in_window = InWindow(now);
  WorkerStats& stats = d.worker->stats();
  if (r.queue_drained() && !d.ready) {
    d.ready = true;
    ++ready_streams_;
  }
  for (const auto& w : r.watermarks()) OnWatermark(d, w, now);
  if (in_window) stats.watermarks += r.watermarks_size();
  if (r.envelopes_size() == 0) {
    if (in_window && r.watermarks_size() > 0) stats.watermark_only_messages++;
    return false;
  }
  if (in_window) {
    stats.messages++;
    stats.message_envelopes += r.envelopes_size();
  }
  for (const auto& e : r.envelopes()) {
    if (e.sequence() <= d.highest_seen) {
      stats.duplicates++;
      continue;
    }
    d.highest_seen = e.sequence();
    ++received_any_;
    uint32_t slot = 0;
    int64_t sent_ns = 0;
    if (e.type() != v1::ENVELOPE_TYPE_PLAINTEXT || !ReadStamp(e.content(), &slot, &sent_ns)) {
      stats.other++;
      continue;
    }
    if (sent_ns < run_start_ns_) {
      stats.stale++;
      continue;
    }
    ++received_;
    if (in_window) {
      stats.delivered++;
      stats.latency_ms.push_back((now - sent_ns) / 1e6);
    }
    if (slot != kOpenLoopSlot) ReleaseSlot(slot, sent_ns, 1);
  }
  Settle(d);
  return true;
}

void Engine::OnWatermark(DeviceState& d, const v1::DeliveryWatermark& w, int64_t now) {
  d.channel->watermark_version = std::max(d.channel->watermark_version, w.version());
  auto it = device_index_.find(DeviceKey(w.recipient().account_id(), w.recipient().device_id()));
  if (it == device_index_.end()) return;
  PendingReceipts& p = d.receipts[it->second];
  p.through = std::max(p.through, w.delivered_through());
  WorkerStats& stats = d.worker->stats();
  while (!p.sent.empty() && p.sent.front().first <= p.through) {
    if (InWindow(now)) stats.receipt_ms.push_back((now - p.sent.front().second) / 1e6);
    p.sent.pop_front();
  }
}

void Engine::TrackReceipts(DeviceState& d, const SendCall& c, int64_t now) {
  const auto& recipients = plan_.recipients[c.device];
  if (c.response.envelope_ids_size() != static_cast<int>(recipients.size())) return;
  WorkerStats& stats = d.worker->stats();
  for (size_t i = 0; i < recipients.size(); ++i) {
    uint64_t sequence = 0;
    if (!absl::SimpleHexAtoi(c.response.envelope_ids(static_cast<int>(i)), &sequence)) continue;
    PendingReceipts& p = d.receipts[recipients[i]];
    if (sequence <= p.through) {
      // The watermark came before the Send's answer.
      if (InWindow(now)) stats.receipt_ms.push_back((now - c.stamp_ns) / 1e6);
      continue;
    }
    if (p.sent.size() >= kMaxPendingReceipts) {
      p.sent.pop_front();
      stats.receipts_untracked++;
    }
    p.sent.emplace_back(sequence, c.stamp_ns);
  }
}

void Engine::MaybeAck(int device) {
  DeviceState& d = devices_[device];
  if (!d.ack_in_flight && d.highest_seen > d.ack_sent_through) StartAck(device, d.highest_seen);
}

void Engine::StartAck(int device, uint64_t through) {
  DeviceState& d = devices_[device];
  AckOp& a = *d.ack;
  a.rpc.reset();
  a.context = std::make_unique<grpc::ClientContext>();
  a.context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  d.channel->Authenticate(a.context.get());
  a.request.set_through_sequence(through);
  a.response.Clear();
  a.status = grpc::Status::OK;
  d.ack_in_flight = true;
  d.ack_sent_through = through;
  Settle(d);
  ++outstanding_;
  ++acks_in_flight_;
  a.start_ns = NowNs();
  a.rpc = d.channel->stub->PrepareAsyncAck(a.context.get(), a.request, d.worker->cq());
  a.rpc->StartCall();
  a.rpc->Finish(&a.response, &a.status, &a);
}

void Engine::OnAckDone(int device, bool ok) {
  DeviceState& d = devices_[device];
  AckOp& a = *d.ack;
  const int64_t now = NowNs();
  WorkerStats& stats = d.worker->stats();
  d.ack_in_flight = false;
  if (ok && a.status.ok()) {
    stats.acked_deleted += a.response.deleted();
    if (InWindow(now)) {
      stats.acks++;
      stats.ack_rtt_ms.push_back((now - a.start_ns) / 1e6);
    }
  } else {
    stats.Error(ok ? a.status : grpc::Status(grpc::StatusCode::UNKNOWN, "call failed"), "Ack");
  }
  StreamOp& s = *d.stream;
  if (s.state == StreamOp::State::kWaitAck) {
    s.state = StreamOp::State::kRead;
    s.reader->Read(&s.response, &s);
  } else {
    MaybeAck(device);
  }
  Settle(d);
  --acks_in_flight_;
  --outstanding_;
}

void Engine::IssueSend(int device, uint32_t slot, int64_t stamp_ns) {
  DeviceState& d = devices_[device];
  SendCall* c = d.worker->TakeSendCall(this);
  c->device = device;
  c->slot = slot;
  c->stamp_ns = stamp_ns;
  c->request = plan_.sends[device];
  for (auto& e : *c->request.mutable_envelopes()) Stamp(e.mutable_content(), slot, stamp_ns);
  c->request.set_want_receipts(spec_.want_receipts);
  if (spec_.idempotency_keys) {
    // Unique per device across runs: the run's start, then a counter.
    char key[16];
    const uint64_t n = d.next_key++;
    const int64_t run = t0_ns_;
    std::memcpy(key, &run, 8);
    std::memcpy(key + 8, &n, 8);
    c->request.set_idempotency_key(std::string(key, sizeof(key)));
  }
  c->response.Clear();
  c->status = grpc::Status::OK;
  c->context = std::make_unique<grpc::ClientContext>();
  c->context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  d.channel->Authenticate(c->context.get());
  ++outstanding_;
  ++sends_in_flight_;
  c->start_ns = NowNs();
  c->rpc = d.channel->stub->PrepareAsyncSend(c->context.get(), c->request, d.worker->cq());
  c->rpc->StartCall();
  c->rpc->Finish(&c->response, &c->status, c);
}

void Engine::OnSendDone(SendCall* c, bool ok) {
  DeviceState& d = devices_[c->device];
  const int64_t now = NowNs();
  WorkerStats& stats = d.worker->stats();
  const int n = static_cast<int>(plan_.recipients[c->device].size());
  const bool good = ok && c->status.ok();
  if (good) {
    expected_ += n;
    if (InWindow(now)) {
      stats.sends++;
      stats.envelopes_sent += n;
      stats.send_rtt_ms.push_back((now - c->start_ns) / 1e6);
    }
    if (spec_.want_receipts) TrackReceipts(d, *c, now);
  } else {
    stats.Error(ok ? c->status : grpc::Status(grpc::StatusCode::UNKNOWN, "call failed"), "Send");
  }
  const uint32_t slot = c->slot;
  const int64_t stamp = c->stamp_ns;
  d.worker->ReturnSendCall(c);
  // A failed send's envelopes never come: release them all.
  if (slot != kOpenLoopSlot) ReleaseSlot(slot, stamp, good || !spec_.receive ? 1 : 1 + n);
  --sends_in_flight_;
  --outstanding_;
}

void Engine::ReleaseSlot(uint32_t index, int64_t stamp_ns, int n) {
  if (index >= slots_.size()) return;
  Slot* slot = slots_[index].get();
  if (slot->stamp_ns.load() != stamp_ns) return;  // an earlier send of this slot
  if (slot->remaining.fetch_sub(n) == n) NextSend(slot);
}

void Engine::NextSend(Slot* slot) {
  if (NowNs() >= end_ns_ || stopping_ || FillDone()) return;
  Worker* owner = devices_[slot->device].worker;
  if (tls_worker == owner) {
    IssueSlot(slot);
    return;
  }
  ++outstanding_;
  slot->alarm.Set(owner->cq(), gpr_inf_past(GPR_CLOCK_MONOTONIC), slot);
}

void Engine::IssueSlot(Slot* slot) {
  const int64_t stamp = NowNs();
  // Without streams only the answer is waited for.
  slot->remaining.store(
      1 + (spec_.receive ? static_cast<int>(plan_.recipients[slot->device].size()) : 0));
  slot->stamp_ns.store(stamp);
  IssueSend(slot->device, slot->index, stamp);
}

void Engine::OnSlotWake(Slot* slot, bool ok) {
  if (ok && NowNs() < end_ns_ && !stopping_ && !FillDone()) IssueSlot(slot);
  --outstanding_;
}

void Engine::OnPace(Worker* worker, bool ok) {
  PaceOp& pace = *worker->pace();
  if (ok && !pace.senders.empty()) {
    WorkerStats& stats = worker->stats();
    int started = 0;
    for (int64_t now = NowNs(); started < kMaxSendsPerPace; ++started) {
      const int64_t due = DueNs(*worker, pace.next_index);
      if (due >= end_ns_ || due > now) break;
      const int device = pace.senders[pace.next_index % pace.senders.size()];
      ++pace.next_index;
      now = NowNs();
      if (due >= start_ns_) {
        stats.issued++;
        stats.lag_ms.push_back((now - due) / 1e6);
      }
      // Stamped with its due time: lateness counts as latency.
      IssueSend(device, kOpenLoopSlot, due);
    }
    const int64_t next = DueNs(*worker, pace.next_index);
    pace.next_due.store(next >= end_ns_ ? kNever : next);
  }
  pace.armed.store(false);
  --outstanding_;
}

void Engine::PacerLoop() {
  while (!pace_stop_) {
    int64_t soonest = kNever;
    bool armed = false;
    for (auto& w : workers_) {
      PaceOp* p = w->pace().get();
      if (!p) continue;
      if (p->armed.load()) {
        armed = true;
      } else {
        soonest = std::min(soonest, p->next_due.load());
      }
    }
    if (soonest == kNever && !armed) return;  // every schedule is done
    // While a worker is busy with its sends, its next due time is unknown:
    // look again soon rather than sleep past it.
    const int64_t now = NowNs();
    const int64_t until = armed ? std::min(soonest, now + 100000) : soonest;
    if (until > now) SleepUntilNs(until);
    const int64_t woke = NowNs();
    for (auto& w : workers_) {
      PaceOp* p = w->pace().get();
      if (!p || p->armed.load() || p->next_due.load() > woke) continue;
      p->armed.store(true);
      ++outstanding_;
      p->alarm.Set(w->cq(), gpr_inf_past(GPR_CLOCK_MONOTONIC), p);
    }
  }
}

LoadResult Engine::Run(WindowObserver* observer) {
  LoadResult result;
  const size_t n = channels_.size();
  run_start_ns_ = NowNs();
  const int threads = std::max(1, std::min<int>(spec_.threads, static_cast<int>(n)));
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(i));
  for (size_t i = 0; i < n; ++i) {
    devices_[i].channel = &channels_[i];
    devices_[i].worker = workers_[i % threads].get();
    workers_[i % threads]->devices().push_back(static_cast<int>(i));
    device_index_[DeviceKey(channels_[i].credentials.account_id,
                            channels_[i].credentials.device_id)] = static_cast<int>(i);
  }
  const bool drain = spec_.send_mode == SendMode::kNone;
  const bool fill = !spec_.receive;
  if (drain || fill) {
    // A drain is timed from the streams' opening: the backlog flows at once.
    const int64_t now = NowNs();
    t0_ns_ = now;
    end_ns_ = now + static_cast<int64_t>(spec_.seconds * 1e9);
    start_ns_ = now;
  }
  if (spec_.receive) {
    for (size_t i = 0; i < n; ++i) OpenStream(static_cast<int>(i));
    result.streams = static_cast<int>(n);
  }
  for (auto& w : workers_) w->Start();

  if (!drain && !fill) {
    // Every stream has sent what was queued before the run starts.
    const int64_t ready_by = NowNs() + 10'000'000'000;
    while (ready_streams_ < static_cast<int>(n) && NowNs() < ready_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const int64_t t0 = NowNs() + 20'000'000;
    const int64_t start = t0 + static_cast<int64_t>(spec_.warmup_seconds * 1e9);
    t0_ns_ = t0;
    end_ns_ = start + static_cast<int64_t>(spec_.seconds * 1e9);
    start_ns_ = start;
  }

  // Senders.
  std::vector<int> senders;
  for (size_t i = 0; i < n; ++i) {
    if (i < plan_.sends.size() && plan_.sends[i].envelopes_size() > 0) {
      senders.push_back(static_cast<int>(i));
    }
  }
  std::thread pacer;
  if (spec_.send_mode == SendMode::kClosedLoop && !senders.empty()) {
    for (int k = 0; k < spec_.in_flight; ++k) {
      slots_.push_back(
          std::make_unique<Slot>(this, static_cast<uint32_t>(k), senders[k % senders.size()]));
    }
    for (auto& slot : slots_) {
      ++outstanding_;
      slot->alarm.Set(devices_[slot->device].worker->cq(), GrpcDeadline(t0_ns_), slot.get());
    }
  } else if (spec_.send_mode == SendMode::kOpenLoop && !senders.empty()) {
    double envelopes = 0;
    for (int s : senders) envelopes += plan_.sends[s].envelopes_size();
    const double per_send = envelopes / senders.size();
    send_interval_ns_ = 1e9 * per_send / spec_.envelope_rate;
    for (auto& w : workers_) {
      auto pace = std::make_unique<PaceOp>(this, w.get());
      for (int d : w->devices()) {
        if (plan_.sends[d].envelopes_size() > 0) pace->senders.push_back(d);
      }
      if (pace->senders.empty()) continue;  // nothing on this worker's schedule
      pace->next_due.store(DueNs(*w, 0));
      w->pace() = std::move(pace);
    }
    pacer = std::thread([this] { PacerLoop(); });
  }

  // The measured window.
  SleepUntilNs(start_ns_);
  auto cpu_before = ReadProcess(0);
  if (observer) observer->OnWindowStart();
  int64_t window_end = end_ns_;
  if (drain || fill) {
    auto done = [&] {
      return drain ? ready_streams_ >= static_cast<int>(n) : FillDone() && sends_in_flight_ == 0;
    };
    while (NowNs() < end_ns_ && !done()) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    window_end = std::min(NowNs(), end_ns_.load());
  } else {
    SleepUntilNs(end_ns_);
  }
  if (observer) observer->OnWindowEnd();
  auto cpu_after = ReadProcess(0);
  result.seconds = (window_end - start_ns_) / 1e9;
  if (cpu_before.ok() && cpu_after.ok()) {
    result.generator_cpu_seconds = cpu_after->cpu_seconds - cpu_before->cpu_seconds;
  }

  // Drain: what was sent arrives and is acknowledged, so that the next run
  // starts with empty queues.
  const int64_t drain_by = NowNs() + static_cast<int64_t>(spec_.drain_seconds * 1e9);
  if (pacer.joinable()) {
    while (NowNs() < drain_by) {
      bool done = true;
      for (auto& w : workers_) {
        if (w->pace() && (w->pace()->armed.load() || w->pace()->next_due.load() != kNever)) {
          done = false;
        }
      }
      if (done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pace_stop_ = true;
    pacer.join();
  }
  auto settled = [&] {
    if (sends_in_flight_ > 0) return false;
    if (!spec_.receive) return true;
    if (acks_in_flight_ > 0 || !AllSettled()) return false;
    return drain || received_ >= expected_;
  };
  while (NowNs() < drain_by && !settled()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (spec_.receive && !drain) {
    result.undelivered_after_drain = expected_ > received_ ? expected_ - received_ : 0;
  }
  stopping_ = true;
  for (auto& d : devices_) {
    if (d.stream) d.stream->context.TryCancel();
  }
  while (outstanding_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& w : workers_) w->cq()->Shutdown();
  for (auto& w : workers_) w->Join();

  // Merge.
  WorkerStats all;
  for (auto& w : workers_) {
    WorkerStats& s = w->stats();
    auto append = [](std::vector<double>& to, const std::vector<double>& from) {
      to.insert(to.end(), from.begin(), from.end());
    };
    append(all.latency_ms, s.latency_ms);
    append(all.send_rtt_ms, s.send_rtt_ms);
    append(all.receipt_ms, s.receipt_ms);
    append(all.ack_rtt_ms, s.ack_rtt_ms);
    append(all.lag_ms, s.lag_ms);
    result.sends += s.sends;
    result.envelopes_sent += s.envelopes_sent;
    result.delivered += s.delivered;
    result.watermarks += s.watermarks;
    result.watermark_only_messages += s.watermark_only_messages;
    result.receipts_untracked += s.receipts_untracked;
    result.messages += s.messages;
    result.message_envelopes += s.message_envelopes;
    result.acks += s.acks;
    result.acked_deleted += s.acked_deleted;
    result.duplicates += s.duplicates;
    result.stale += s.stale;
    result.other += s.other;
    result.issued_sends += s.issued;
    for (const auto& [code, count] : s.errors) result.errors[code] += count;
    for (const auto& [code, example] : s.error_examples) {
      result.error_examples.emplace(code, example);
    }
    if (w->pace()) {
      // Sends due in the window on this worker's schedule.
      for (uint64_t j = 0;; ++j) {
        const int64_t due = DueNs(*w, j);
        if (due >= end_ns_) break;
        if (due >= start_ns_) result.offered_sends++;
      }
    }
  }
  if (drain) result.delivered = received_any_;
  result.latency_ms = Summarize(std::move(all.latency_ms));
  result.send_rtt_ms = Summarize(std::move(all.send_rtt_ms));
  result.receipt_ms = Summarize(std::move(all.receipt_ms));
  result.ack_rtt_ms = Summarize(std::move(all.ack_rtt_ms));
  result.lag_ms = Summarize(std::move(all.lag_ms));
  result.streams_ready = ready_streams_;

  if (spec_.send_mode == SendMode::kOpenLoop) {
    if (result.lag_ms.p99 > spec_.max_lag_p99_ms) {
      result.invalid_reasons.push_back(
          absl::StrFormat("the generator's p99 lag behind its schedule was %.2f ms (> %.2f ms)",
                          result.lag_ms.p99, spec_.max_lag_p99_ms));
    }
    if (result.issued_sends < result.offered_sends) {
      result.invalid_reasons.push_back(
          absl::StrFormat("the generator started %d of the %d sends due in the window",
                          result.issued_sends, result.offered_sends));
    }
  }
  if (!drain && spec_.receive && result.streams_ready < result.streams) {
    result.invalid_reasons.push_back(
        absl::StrFormat("%d of %d streams never signalled queue_drained",
                        result.streams - result.streams_ready, result.streams));
  }
  result.valid = result.invalid_reasons.empty();
  return result;
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(std::vector<DeviceChannel>& channels, const LoadPlan& plan,
                                   const LoadSpec& spec, WindowObserver* observer) {
  if (channels.empty()) return absl::InvalidArgumentError("no devices");
  if (spec.send_mode != SendMode::kNone &&
      (plan.sends.size() != channels.size() || plan.recipients.size() != channels.size())) {
    return absl::InvalidArgumentError("the plan needs a send and its recipients per device");
  }
  if (spec.send_mode == SendMode::kClosedLoop && spec.in_flight < 1) {
    return absl::InvalidArgumentError("a closed loop needs at least one send in flight");
  }
  if (spec.send_mode == SendMode::kOpenLoop && !(spec.envelope_rate > 0)) {
    return absl::InvalidArgumentError("an open loop needs an envelope rate");
  }
  if (spec.seconds <= 0 || spec.warmup_seconds < 0 || spec.threads < 1) {
    return absl::InvalidArgumentError("seconds > 0, warm-up >= 0 and threads >= 1");
  }
  Engine engine(channels, plan, spec);
  return engine.Run(observer);
}

}  // namespace carerelay::bench
