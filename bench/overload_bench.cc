// carerelay-overload-bench (issue 16, item 6): does one flooding client get
// refused clearly while everyone else keeps their latency?
//
// One carerelayd child process with the production abuse limits (not
// server_process.h's StartCarerelayd, which lifts the send rate out of the
// way for throughput runs), and two care teams of two accounts with one
// device each, set up through the relay's API (load_world.h):
//
//  - the victim: team 0's two devices post to each other on an open loop at
//    a modest rate (async_load.h, one worker thread), with Receive streams,
//    cumulative acknowledgements and delivery receipts, as a client in use
//    does. Measured: send round trip (issue -> SendResponse) and send ->
//    delivery (from each send's due time) p50/p99/p99.9;
//  - the flooder: team 1's first device, from its own account, sends to its
//    colleague on team 1 and creates and uploads documents on team 1 as fast
//    as it can, from several threads, each with its own TLS connection and
//    one call in flight (blocking calls). Its colleague's device drains its
//    queue (Receive + Ack), so that the flooder is held back by the rate
//    limits and not by the queue share of its recipient.
//
// Each repeat runs the victim alone ("unloaded"), then again with the
// flooder going from the window's start ("loaded"). Counted for the flooder
// in the measured window: calls by kind (Send, CreateUpload, Upload) and
// answer (OK; RESOURCE_EXHAUSTED with ErrorDetail.retry_after_seconds in the
// gRPC status details; RESOURCE_EXHAUSTED without one; anything else), the
// retry-after values, the bytes it got stored. Also the server's CPU in each
// window (/proc/PID), which says what the refused calls cost.
//
// Everything runs on this machine: the flooder, the victim's client and the
// server share its CPUs, so the flooder's own CPU is taken from the server
// and from the victim's client too, which a flooder on another machine would
// not do. The report says so.
//
// Performance is measured, never asserted. With --check the exit code says
// whether the flooder was refused with RESOURCE_EXHAUSTED carrying a
// retry-after, and never without one (a property of the server, not a
// speed): the smoke test uses it.
#include <grpcpp/grpcpp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/async_load.h"
#include "bench/bench_devices.h"
#include "bench/bench_support.h"
#include "bench/child_process.h"
#include "bench/device_channel.h"
#include "bench/load_world.h"
#include "bench/proc_stats.h"
#include "bench/server_process.h"
#include "bench/window_sampler.h"
#include "carerelay/v1/attachments.grpc.pb.h"
#include "carerelay/v1/common.pb.h"
#include "carerelay/v1/messages.grpc.pb.h"

namespace carerelay::bench {
namespace {

struct Options {
  std::string server_binary = CARERELAYD_PATH;
  std::string tls_dir;
  std::string tls_script = std::string(CARERELAY_SOURCE_DIR) + "/deploy/make-dev-tls.sh";
  std::string sync = "on";
  std::vector<std::string> server_args;
  double victim_rate = 50;  // envelopes/s over both victim devices
  size_t envelope_bytes = 256;
  double duration = 15;
  double warmup = 2;
  double drain = 10;
  int repeat = 1;
  int flood_send_threads = 4;
  int flood_upload_threads = 2;
  size_t flood_envelope_bytes = 1024;
  size_t upload_kib = 1024;
  size_t piece_kib = 256;
  bool flood_idempotency_keys = false;
  // Diagnostics: a flooder that waits the retry-after it is given (what it
  // gets stored then costs alone); the flooder's threads at this nice value
  // (how much of the effect is its own CPU on this shared machine).
  bool flood_honor_retry_after = false;
  int flood_nice = 0;
  bool check = false;
  bool json = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---------------------------------------------------------------------------
// The server, with its own limits.

// carerelayd with its abuse limits at their defaults: the point of this
// benchmark.
absl::StatusOr<ServerProcess> StartWithDefaultLimits(const Options& o, const std::string& data_dir,
                                                     const std::string& tls_dir,
                                                     const std::string& log_path) {
  CarerelaydLaunch launch;
  launch.binary = o.server_binary;
  launch.data_dir = data_dir;
  launch.tls_dir = tls_dir;
  launch.sync = o.sync == "on";
  launch.log_path = log_path;
  launch.extra_args = o.server_args;
  launch.default_limits = true;
  return StartCarerelayd(launch);
}

// ---------------------------------------------------------------------------
// The flooder's answers.

struct CallCounts {
  uint64_t calls = 0;
  uint64_t ok = 0;
  uint64_t refused_with_retry_after = 0;
  uint64_t refused_without_retry_after = 0;
  uint64_t other = 0;
  uint64_t bytes_stored = 0;  // uploads: ciphertext bytes the server took
  std::map<uint32_t, uint64_t> retry_after_seconds;
  std::map<std::string, uint64_t> other_codes;
  std::string refused_without_example, other_example, refused_example;
};

enum class Call { kSend, kCreateUpload, kUpload, kGetUpload };
constexpr int kCallKinds = 4;

// What the flooder's calls got, in the measured window and over the whole
// loaded run. Thread-safe: every flooder thread records here.
class FloodStats {
 public:
  void SetInWindow(bool in) { in_window_.store(in); }

  void Record(Call call, const grpc::Status& status, uint64_t bytes_stored) {
    const bool in = in_window_.load();
    absl::MutexLock lock(&mu_);
    Add(total_[static_cast<int>(call)], status, bytes_stored);
    if (in) Add(window_[static_cast<int>(call)], status, bytes_stored);
  }

  nlohmann::json Json(bool window) {
    absl::MutexLock lock(&mu_);
    const auto& c = window ? window_ : total_;
    return {{"send", ToJson(c[0])},
            {"create_upload", ToJson(c[1])},
            {"upload", ToJson(c[2])},
            {"get_upload", ToJson(c[3])}};
  }

  // Summed over the call kinds, in the window or in total.
  CallCounts Sum(bool window) {
    absl::MutexLock lock(&mu_);
    CallCounts s;
    for (const auto& c : window ? window_ : total_) {
      s.calls += c.calls;
      s.ok += c.ok;
      s.refused_with_retry_after += c.refused_with_retry_after;
      s.refused_without_retry_after += c.refused_without_retry_after;
      s.other += c.other;
      s.bytes_stored += c.bytes_stored;
      for (const auto& [k, v] : c.retry_after_seconds) s.retry_after_seconds[k] += v;
    }
    return s;
  }

 private:
  static void Add(CallCounts& c, const grpc::Status& status, uint64_t bytes_stored) {
    ++c.calls;
    if (status.ok()) {
      ++c.ok;
      c.bytes_stored += bytes_stored;
      return;
    }
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // The server puts carerelay.v1.ErrorDetail in the status details
      // (api/grpc_status.cc); libcarerelay reads retry_after_seconds there.
      v1::ErrorDetail detail;
      if (!status.error_details().empty() && detail.ParseFromString(status.error_details()) &&
          detail.retry_after_seconds() > 0) {
        ++c.refused_with_retry_after;
        ++c.retry_after_seconds[detail.retry_after_seconds()];
        if (c.refused_example.empty()) c.refused_example = status.error_message();
      } else {
        ++c.refused_without_retry_after;
        if (c.refused_without_example.empty()) c.refused_without_example = status.error_message();
      }
      return;
    }
    ++c.other;
    ++c.other_codes[std::to_string(status.error_code())];
    if (c.other_example.empty()) c.other_example = status.error_message();
  }

  static nlohmann::json ToJson(const CallCounts& c) {
    nlohmann::json retry = nlohmann::json::object();
    for (const auto& [k, v] : c.retry_after_seconds) retry[std::to_string(k)] = v;
    nlohmann::json j = {{"calls", c.calls},
                        {"ok", c.ok},
                        {"refused_with_retry_after", c.refused_with_retry_after},
                        {"refused_without_retry_after", c.refused_without_retry_after},
                        {"other_errors", c.other},
                        {"other_codes", c.other_codes},
                        {"retry_after_seconds", retry},
                        {"bytes_stored", c.bytes_stored}};
    if (!c.refused_example.empty()) j["refused_example"] = c.refused_example;
    if (!c.refused_without_example.empty()) {
      j["refused_without_retry_after_example"] = c.refused_without_example;
    }
    if (!c.other_example.empty()) j["other_example"] = c.other_example;
    return j;
  }

  std::atomic<bool> in_window_{false};
  absl::Mutex mu_;
  CallCounts window_[kCallKinds] ABSL_GUARDED_BY(mu_);
  CallCounts total_[kCallKinds] ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// The flooder.

struct FloodSetup {
  std::vector<DeviceChannel>* send_channels;    // the flooder device, one per thread
  std::vector<DeviceChannel>* upload_channels;  // the same device, one per thread
  DeviceChannel* drain_channel;                 // its colleague's device
  v1::SendRequest send;                         // the flooder's post to its colleague
  std::string team_id;
  std::string document;  // one document's ciphertext (filler)
  std::string digest;    // its SHA-256
  size_t piece_bytes = 0;
  bool idempotency_keys = false;
  bool honor_retry_after = false;
  int nice = 0;
};

// Runs the flooder's threads from construction to Stop().
class Flooder {
 public:
  Flooder(const FloodSetup& setup, FloodStats* stats) : setup_(setup), stats_(stats) {}
  ~Flooder() { Stop(); }
  Flooder(const Flooder&) = delete;
  Flooder& operator=(const Flooder&) = delete;

  void Start() {
    threads_.emplace_back([this] {
      Renice();
      Drain();
    });
    for (auto& c : *setup_.send_channels) {
      threads_.emplace_back([this, &c] {
        Renice();
        SendLoop(c);
      });
    }
    for (auto& c : *setup_.upload_channels) {
      threads_.emplace_back([this, &c] {
        Renice();
        UploadLoop(c);
      });
    }
  }

  void Stop() {
    stop_.store(true);
    {
      absl::MutexLock lock(&drain_mu_);
      if (drain_context_) drain_context_->TryCancel();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  static void Prepare(grpc::ClientContext* context, const DeviceChannel& c) {
    c.Authenticate(context);
    // A call the server stalls on must not keep the flooder past its run.
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  // Linux: a thread's nice value is its own (setpriority on its tid).
  void Renice() const {
    if (setup_.nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), setup_.nice);
  }

  // A client that does as it is told: waits the retry-after of a refusal.
  void Backoff(const grpc::Status& s) {
    if (!setup_.honor_retry_after || s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      return;
    }
    v1::ErrorDetail detail;
    if (!detail.ParseFromString(s.error_details())) return;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::seconds(std::max<uint32_t>(1, detail.retry_after_seconds()));
    while (!stop_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void SendLoop(DeviceChannel& c) {
    v1::SendRequest request = setup_.send;
    uint64_t n = 0;
    const auto key_prefix = absl::StrCat("flood-", reinterpret_cast<uintptr_t>(&c), "-");
    while (!stop_.load()) {
      // A key per send makes each refused send cost the server an
      // idempotency lookup first (relay.cc checks replays before the rate).
      if (setup_.idempotency_keys) request.set_idempotency_key(absl::StrCat(key_prefix, n++));
      grpc::ClientContext context;
      Prepare(&context, c);
      v1::SendResponse response;
      grpc::Status s = c.stub->Send(&context, request, &response);
      stats_->Record(Call::kSend, s, 0);
      Backoff(s);
    }
  }

  void UploadLoop(DeviceChannel& c) {
    auto stub = v1::Attachments::NewStub(c.channel);
    std::string attachment_id;  // created, not yet uploaded
    uint64_t offset = 0;        // what the relay holds of it
    while (!stop_.load()) {
      if (attachment_id.empty()) {
        v1::CreateUploadRequest request;
        request.set_team_id(setup_.team_id);
        request.set_channel(v1::CHANNEL_TEAM);
        request.set_ciphertext_size(setup_.document.size());
        request.set_digest(setup_.digest);
        grpc::ClientContext context;
        Prepare(&context, c);
        v1::AttachmentInfo info;
        grpc::Status s = stub->CreateUpload(&context, request, &info);
        stats_->Record(Call::kCreateUpload, s, 0);
        Backoff(s);
        if (s.ok()) {
          attachment_id = info.attachment_id();
          offset = 0;
        }
        continue;
      }
      grpc::ClientContext context;
      Prepare(&context, c);
      v1::AttachmentInfo info;
      auto writer = stub->Upload(&context, &info);
      v1::UploadChunk chunk;
      chunk.set_attachment_id(attachment_id);
      chunk.set_offset(offset);
      // Writes stop once the server has answered (a refusal comes before it
      // reads the first piece).
      for (size_t at = offset; at < setup_.document.size(); at += setup_.piece_bytes) {
        chunk.set_data(setup_.document.substr(at, setup_.piece_bytes));
        if (!writer->Write(chunk)) break;
        chunk.clear_attachment_id();
        chunk.clear_offset();
      }
      writer->WritesDone();
      grpc::Status s = writer->Finish();
      const bool complete = s.ok() && info.state() == v1::UPLOAD_STATE_COMPLETE;
      stats_->Record(Call::kUpload, s, complete ? info.ciphertext_size() : 0);
      Backoff(s);
      // Refused by the call budget or the upload byte budget: the upload is
      // still open with the whole blocks it had received; continue from
      // there, as the client library does. Done, or anything else: start a
      // new one.
      if (s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
        attachment_id.clear();
        continue;
      }
      grpc::ClientContext ask;
      Prepare(&ask, c);
      v1::GetUploadRequest get;
      get.set_attachment_id(attachment_id);
      v1::AttachmentInfo held;
      grpc::Status asked = stub->GetUpload(&ask, get, &held);
      stats_->Record(Call::kGetUpload, asked, 0);
      Backoff(asked);
      if (asked.ok()) {
        offset = held.received_bytes();
      } else if (asked.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
        attachment_id.clear();
      }
    }
  }

  // The colleague's device receives and acknowledges everything, so that
  // the flooder's sends never stop on its share of that device's queue.
  void Drain() {
    DeviceChannel& c = *setup_.drain_channel;
    while (!stop_.load()) {
      auto context = std::make_unique<grpc::ClientContext>();
      c.Authenticate(context.get());
      {
        absl::MutexLock lock(&drain_mu_);
        if (stop_.load()) return;
        drain_context_ = context.get();
      }
      v1::ReceiveRequest request;
      request.set_window_messages(64);
      auto reader = c.stub->Receive(context.get(), request);
      v1::ReceiveResponse response;
      while (reader->Read(&response)) {
        uint64_t through = 0;
        for (const auto& e : response.envelopes()) through = std::max(through, e.sequence());
        if (through == 0) continue;
        grpc::ClientContext ack_context;
        c.Authenticate(&ack_context);
        v1::AckRequest ack;
        ack.set_through_sequence(through);
        v1::AckResponse ack_response;
        c.stub->Ack(&ack_context, ack, &ack_response);
      }
      reader->Finish();
      absl::MutexLock lock(&drain_mu_);
      drain_context_ = nullptr;
    }
  }

  const FloodSetup& setup_;
  FloodStats* stats_;
  std::atomic<bool> stop_{false};
  absl::Mutex drain_mu_;
  grpc::ClientContext* drain_context_ ABSL_GUARDED_BY(drain_mu_) = nullptr;
  std::vector<std::thread> threads_;
};

// Marks the flooder's calls that complete inside the victim's measured
// window, and samples the server at the window's edges.
class OverloadObserver : public WindowObserver {
 public:
  OverloadObserver(WindowSampler* sampler, FloodStats* stats) : sampler_(sampler), stats_(stats) {}
  void OnWindowStart() override {
    if (stats_) stats_->SetInWindow(true);
    self_before_ = ReadProcess(0);
    sampler_->OnWindowStart();
  }
  void OnWindowEnd() override {
    sampler_->OnWindowEnd();
    self_after_ = ReadProcess(0);
    if (stats_) stats_->SetInWindow(false);
  }
  // This process's CPU seconds in the window (victim's client and flooder).
  double SelfCpuSeconds() const {
    if (!self_before_.ok() || !self_after_.ok()) return 0;
    return self_after_->cpu_seconds - self_before_->cpu_seconds;
  }

 private:
  WindowSampler* sampler_;
  FloodStats* stats_;
  absl::StatusOr<ProcessSample> self_before_ = absl::UnknownError("not sampled");
  absl::StatusOr<ProcessSample> self_after_ = absl::UnknownError("not sampled");
};

nlohmann::json DistJson(const Distribution& d) {
  return {{"count", d.count}, {"p50", d.p50}, {"p90", d.p90},  {"p99", d.p99},
          {"p99_9", d.p999},  {"max", d.max}, {"mean", d.mean}};
}

struct RunFigures {
  double send_p50 = 0, send_p99 = 0, delivery_p50 = 0, delivery_p99 = 0;
};

// One victim run, with or without the flooder; its JSON and figures.
nlohmann::json RunOnce(const Options& o, bool loaded, pid_t server_pid,
                       std::vector<DeviceChannel>& victim, const LoadPlan& plan,
                       const FloodSetup& flood, RunFigures* figures, CallCounts* flood_window,
                       CallCounts* flood_run) {
  LoadSpec spec;
  spec.send_mode = SendMode::kOpenLoop;
  spec.envelope_rate = o.victim_rate;
  spec.warmup_seconds = o.warmup;
  spec.seconds = o.duration;
  spec.drain_seconds = o.drain;
  spec.window_messages = 16;
  spec.want_receipts = true;
  spec.idempotency_keys = true;
  // One worker: the victim is one ordinary client, not a load generator.
  spec.threads = 1;
  // Reported, not a reason to discard the run: under the flood the
  // victim's client shares the CPUs with the flooder (see the note).
  spec.max_lag_p99_ms = 1e9;

  SamplerOptions so;
  so.server_pid = server_pid;
  so.perf_binary = "";
  WindowSampler sampler(so);
  sampler.Prepare();
  FloodStats stats;
  OverloadObserver observer(&sampler, loaded ? &stats : nullptr);
  std::unique_ptr<Flooder> flooder;
  if (loaded) {
    flooder = std::make_unique<Flooder>(flood, &stats);
    flooder->Start();
  }
  auto result = RunLoad(victim, plan, spec, &observer);
  if (flooder) flooder->Stop();
  WindowSample sample = sampler.Finish();

  nlohmann::json j;
  j["phase"] = loaded ? "loaded" : "unloaded";
  if (!result.ok()) {
    j["error"] = result.status().ToString();
    return j;
  }
  const LoadResult& r = *result;
  j["seconds"] = r.seconds;
  j["victim"] = {{"sends", r.sends},
                 {"delivered", r.delivered},
                 {"send_ms", DistJson(r.send_rtt_ms)},
                 {"delivery_ms", DistJson(r.latency_ms)},
                 {"receipt_ms", DistJson(r.receipt_ms)},
                 {"generator_lag_ms", DistJson(r.lag_ms)},
                 {"undelivered_after_drain", r.undelivered_after_drain},
                 {"errors", r.errors},
                 {"error_examples", r.error_examples},
                 {"valid", r.valid},
                 {"invalid_reasons", r.invalid_reasons}};
  nlohmann::json server;
  if (sample.server_before && sample.server_after && r.seconds > 0) {
    const double cpu = sample.server_after->cpu_seconds - sample.server_before->cpu_seconds;
    server["cpu_seconds"] = cpu;
    server["cores_used"] = cpu / r.seconds;
    server["threads"] = sample.server_after->threads;
    server["rss_mib"] = sample.server_after->rss_mib;
  } else {
    server["error"] = sample.server_error;
  }
  j["server"] = server;
  j["bench_process_cores_used"] = r.seconds > 0 ? observer.SelfCpuSeconds() / r.seconds : 0;
  j["load_average"] = {sample.load_after.one, sample.load_after.five, sample.load_after.fifteen};
  figures->send_p50 = r.send_rtt_ms.p50;
  figures->send_p99 = r.send_rtt_ms.p99;
  figures->delivery_p50 = r.latency_ms.p50;
  figures->delivery_p99 = r.latency_ms.p99;
  if (loaded) {
    nlohmann::json f = stats.Json(/*window=*/true);
    const CallCounts sum = stats.Sum(/*window=*/true);
    f["per_second"] = {
        {"calls", sum.calls / r.seconds},
        {"ok", sum.ok / r.seconds},
        {"refused", (sum.refused_with_retry_after + sum.refused_without_retry_after) / r.seconds},
        {"upload_mib_stored", sum.bytes_stored / r.seconds / (1 << 20)}};
    j["flooder_in_window"] = f;
    j["flooder_whole_run"] = stats.Json(/*window=*/false);
    *flood_window = sum;
    *flood_run = stats.Sum(/*window=*/false);
  }
  return j;
}

void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

int Main(const Options& o) {
  RaiseFileLimit();
  signal(SIGPIPE, SIG_IGN);
  TempDir scratch("carerelay-overload-bench", 2);
  auto tls =
      PrepareTls(o.tls_dir, o.tls_script, scratch.path(), ScriptStderr::kDiscard, "give --tls-dir");
  if (!tls.ok()) {
    std::cerr << "carerelay-overload-bench: " << tls.status().message() << "\n";
    return 2;
  }
  const std::string ca_pem = ReadFile(*tls + "/ca.crt");
  auto server =
      StartWithDefaultLimits(o, scratch.path() + "/data", *tls, scratch.path() + "/carerelayd.log");
  if (!server.ok()) {
    std::cerr << "carerelay-overload-bench: cannot start carerelayd: " << server.status() << "\n";
    return 2;
  }
  client::ConnectionOptions connection;
  connection.target = server->target;
  connection.ca_file = *tls + "/ca.crt";
  const std::string keys_dir = scratch.path() + "/keys";
  auto tmpl = MakeRegisterRequest(keys_dir);
  if (!tmpl.ok()) {
    std::cerr << "carerelay-overload-bench: keys: " << tmpl.status() << "\n";
    return 2;
  }
  // Team 0: the victim's two devices; team 1: the flooder and its colleague.
  WorldSpec ws;
  ws.teams = 2;
  ws.members = 2;
  ws.devices = 1;
  ws.identity_profile_dir = keys_dir;
  ws.envelope_bytes = o.envelope_bytes;
  ws.setup_threads = 2;
  auto world = BuildWorld(connection, server->admin_address, ws, *tmpl);
  if (!world.ok()) {
    std::cerr << "carerelay-overload-bench: setting up the teams failed: " << world.status()
              << "\n";
    return 2;
  }
  std::vector<int> victim_ids, flood_ids;
  for (size_t i = 0; i < world->devices.size(); ++i) {
    (world->team_of[i] == 0 ? victim_ids : flood_ids).push_back(static_cast<int>(i));
  }
  if (victim_ids.size() != 2 || flood_ids.size() != 2) {
    std::cerr << "carerelay-overload-bench: unexpected world shape\n";
    return 2;
  }
  // The victim's plan, renumbered to its own two channels.
  LoadPlan victim_plan;
  for (int i : victim_ids) {
    victim_plan.sends.push_back(world->plan.sends[i]);
    std::vector<int> to;
    for (int r : world->plan.recipients[i]) {
      to.push_back(static_cast<int>(std::find(victim_ids.begin(), victim_ids.end(), r) -
                                    victim_ids.begin()));
    }
    victim_plan.recipients.push_back(std::move(to));
  }
  std::vector<client::DeviceCredentials> victim_devices = {world->devices[victim_ids[0]],
                                                           world->devices[victim_ids[1]]};
  const auto& flooder_device = world->devices[flood_ids[0]];
  auto victim = ConnectDevices(server->target, ca_pem, victim_devices, absl::Seconds(60));
  auto send_channels =
      ConnectDevices(server->target, ca_pem,
                     std::vector<client::DeviceCredentials>(o.flood_send_threads, flooder_device),
                     absl::Seconds(60));
  auto upload_channels =
      ConnectDevices(server->target, ca_pem,
                     std::vector<client::DeviceCredentials>(o.flood_upload_threads, flooder_device),
                     absl::Seconds(60));
  auto drain =
      ConnectDevices(server->target, ca_pem, {world->devices[flood_ids[1]]}, absl::Seconds(60));
  for (const auto* c : {&victim, &send_channels, &upload_channels, &drain}) {
    if (!c->ok()) {
      std::cerr << "carerelay-overload-bench: " << c->status() << "\n";
      return 2;
    }
  }

  FloodSetup flood;
  flood.send_channels = &*send_channels;
  flood.upload_channels = &*upload_channels;
  flood.drain_channel = &(*drain)[0];
  flood.send = world->plan.sends[flood_ids[0]];
  for (auto& e : *flood.send.mutable_envelopes()) {
    e.set_content(std::string(o.flood_envelope_bytes, 'f'));
  }
  flood.team_id = world->team_ids[1];
  flood.document.assign(o.upload_kib << 10, 'd');
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(flood.document.data()), flood.document.size(),
         digest);
  flood.digest.assign(reinterpret_cast<const char*>(digest), sizeof(digest));
  flood.piece_bytes = std::max<size_t>(1, o.piece_kib << 10);
  flood.idempotency_keys = o.flood_idempotency_keys;
  flood.honor_retry_after = o.flood_honor_retry_after;
  flood.nice = o.flood_nice;

  const LoadAverage load_at_start = ReadLoadAverage();
  nlohmann::json out;
  out["machine"] = {
      {"cpus", std::thread::hardware_concurrency()},
      {"load_average_at_start", {load_at_start.one, load_at_start.five, load_at_start.fifteen}},
      {"note",
       "carerelayd, the victim's client and the flooder share these CPUs: the flooder takes CPU "
       "from the server and from the victim's client"}};
  out["config"] = {{"server", "carerelayd child process, default abuse limits"},
                   {"sync", o.sync},
                   {"server_args", o.server_args},
                   {"victim", "2 devices posting to each other on an open loop, 1 client thread"},
                   {"victim_envelopes_per_second", o.victim_rate},
                   {"envelope_bytes", o.envelope_bytes},
                   {"duration", o.duration},
                   {"warmup", o.warmup},
                   {"repeat", o.repeat},
                   {"flood_send_threads", o.flood_send_threads},
                   {"flood_upload_threads", o.flood_upload_threads},
                   {"flood_envelope_bytes", o.flood_envelope_bytes},
                   {"upload_kib", o.upload_kib},
                   {"piece_kib", o.piece_kib},
                   {"flood_idempotency_keys", o.flood_idempotency_keys},
                   {"flood_honor_retry_after", o.flood_honor_retry_after},
                   {"flood_nice", o.flood_nice},
                   {"connections", "one TLS connection per victim device and per flooder thread"}};
  out["setup_seconds"] = world->setup_seconds;

  std::vector<double> send_p99_unloaded, send_p99_loaded, delivery_p99_unloaded,
      delivery_p99_loaded, send_p50_unloaded, send_p50_loaded, delivery_p50_unloaded,
      delivery_p50_loaded;
  CallCounts flood_total;
  // --check: every answer of the loaded runs, warm-up and drain included.
  uint64_t refused_with = 0, refused_without = 0;
  bool runs_ok = true;
  out["runs"] = nlohmann::json::array();
  for (int rep = 0; rep < o.repeat; ++rep) {
    for (bool loaded : {false, true}) {
      RunFigures f;
      CallCounts window, whole;
      nlohmann::json j = RunOnce(o, loaded, server->process->pid(), *victim, victim_plan, flood, &f,
                                 &window, &whole);
      refused_with += whole.refused_with_retry_after;
      refused_without += whole.refused_without_retry_after;
      j["repeat"] = rep;
      if (j.contains("error")) runs_ok = false;
      if (!o.json) std::cerr << j.dump() << "\n";
      out["runs"].push_back(std::move(j));
      (loaded ? send_p99_loaded : send_p99_unloaded).push_back(f.send_p99);
      (loaded ? delivery_p99_loaded : delivery_p99_unloaded).push_back(f.delivery_p99);
      (loaded ? send_p50_loaded : send_p50_unloaded).push_back(f.send_p50);
      (loaded ? delivery_p50_loaded : delivery_p50_unloaded).push_back(f.delivery_p50);
      flood_total.calls += window.calls;
      flood_total.ok += window.ok;
      flood_total.refused_with_retry_after += window.refused_with_retry_after;
      flood_total.refused_without_retry_after += window.refused_without_retry_after;
      flood_total.other += window.other;
      for (const auto& [k, v] : window.retry_after_seconds) flood_total.retry_after_seconds[k] += v;
    }
  }
  const auto ratio = [](double loaded, double unloaded) {
    return unloaded > 0 ? loaded / unloaded : 0.0;
  };
  nlohmann::json retry = nlohmann::json::object();
  for (const auto& [k, v] : flood_total.retry_after_seconds) retry[std::to_string(k)] = v;
  const double send_ratio = ratio(Median(send_p99_loaded), Median(send_p99_unloaded));
  const double delivery_ratio = ratio(Median(delivery_p99_loaded), Median(delivery_p99_unloaded));
  out["summary"] = {{"medians_over_repeats", o.repeat},
                    {"victim_send_ms",
                     {{"p50_unloaded", Median(send_p50_unloaded)},
                      {"p50_loaded", Median(send_p50_loaded)},
                      {"p99_unloaded", Median(send_p99_unloaded)},
                      {"p99_loaded", Median(send_p99_loaded)},
                      {"p99_ratio", send_ratio}}},
                    {"victim_delivery_ms",
                     {{"p50_unloaded", Median(delivery_p50_unloaded)},
                      {"p50_loaded", Median(delivery_p50_loaded)},
                      {"p99_unloaded", Median(delivery_p99_unloaded)},
                      {"p99_loaded", Median(delivery_p99_loaded)},
                      {"p99_ratio", delivery_ratio}}},
                    {"flooder_in_windows",
                     {{"calls", flood_total.calls},
                      {"ok", flood_total.ok},
                      {"refused_with_retry_after", flood_total.refused_with_retry_after},
                      {"refused_without_retry_after", flood_total.refused_without_retry_after},
                      {"other_errors", flood_total.other},
                      {"retry_after_seconds", retry}}},
                    {"target", "victim send and delivery p99 loaded within 2x of unloaded"},
                    {"target_met", send_ratio > 0 && send_ratio <= 2 && delivery_ratio > 0 &&
                                       delivery_ratio <= 2}};
  std::cout << (o.json ? out.dump() : out["summary"].dump(2)) << "\n";
  if (!runs_ok) return 1;
  if (o.check &&
      (flood_total.refused_with_retry_after == 0 || flood_total.refused_without_retry_after > 0)) {
    std::cerr << "carerelay-overload-bench: --check: the flooder got "
              << flood_total.refused_with_retry_after
              << " RESOURCE_EXHAUSTED with a retry-after and "
              << flood_total.refused_without_retry_after << " without\n";
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  carerelay::bench::Options o;
  CLI::App app{
      "carerelay-overload-bench: a flooding client against a victim's latency (bench/README.md)"};
  app.add_option("--server-binary", o.server_binary, "carerelayd to start")->capture_default_str();
  app.add_option("--tls-dir", o.tls_dir, "server.crt, server.key, ca.crt (else made)");
  app.add_option("--tls-script", o.tls_script, "Makes TLS material when --tls-dir is not given")
      ->capture_default_str();
  app.add_option("--sync", o.sync, "on|off: carerelayd --sync")->capture_default_str();
  app.add_option("--server-arg", o.server_args, "Passed to carerelayd (repeatable)");
  app.add_option("--victim-rate", o.victim_rate, "Victim envelopes/s (both devices)")
      ->capture_default_str();
  app.add_option("--envelope-bytes", o.envelope_bytes, "Victim envelope bytes")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "Measured seconds per run")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Seconds before the window (the flooder runs)")
      ->capture_default_str();
  app.add_option("--drain", o.drain, "Seconds allowed after the window for deliveries")
      ->capture_default_str();
  app.add_option("--repeat", o.repeat, "Unloaded/loaded pairs; medians in the summary")
      ->capture_default_str();
  app.add_option("--flood-send-threads", o.flood_send_threads,
                 "Flooder threads sending (one connection, one call in flight each)")
      ->capture_default_str();
  app.add_option("--flood-upload-threads", o.flood_upload_threads,
                 "Flooder threads creating and uploading documents")
      ->capture_default_str();
  app.add_option("--flood-envelope-bytes", o.flood_envelope_bytes, "Flooder envelope bytes")
      ->capture_default_str();
  app.add_option("--upload-kib", o.upload_kib, "Flooder document size")->capture_default_str();
  app.add_option("--piece-kib", o.piece_kib, "Flooder upload message size (at most 4096)")
      ->capture_default_str();
  app.add_flag("--flood-idempotency-keys", o.flood_idempotency_keys,
               "Flooder sends carry idempotency keys (a lookup before the rate limit)");
  app.add_flag("--flood-honor-retry-after", o.flood_honor_retry_after,
               "Diagnostic: the flooder waits each refusal's retry-after");
  app.add_option("--flood-nice", o.flood_nice,
                 "Diagnostic: nice value of the flooder's threads (0-19)")
      ->capture_default_str();
  app.add_flag("--check", o.check,
               "Exit 3 unless the flooder was refused with RESOURCE_EXHAUSTED + retry-after, "
               "and never without a retry-after");
  app.add_flag("--json", o.json, "One JSON object on stdout (every run and the summary)");
  CLI11_PARSE(app, argc, argv);
  return carerelay::bench::Main(o);
}
