// carerelay-bench: a load generator that drives a real carerelayd over TLS,
// with its baselines measured in the same run (issue 8).
//
// What it measures, in order (each phase can be switched off):
//  1. Load. T care teams of M professional members with D devices each are
//     created through the Teams API (coordinator = member 0, consent recorded,
//     the others invited and accepting). Senders post PLAINTEXT envelopes of
//     E opaque bytes (not encrypted: this is a relay benchmark) on the TEAM
//     channel, one envelope per reader device (the team's active members'
//     devices from GetTeam minus the sender device), in a closed loop
//     (--concurrency sends in flight) or an open loop (--rate sends/s). One
//     Receive stream per device reads and acknowledges what arrives. Each
//     payload carries its send time (CLOCK_MONOTONIC, the same clock in every
//     process of this machine), so the receiver measures send->delivery.
//  2. Baselines, with the same devices, requests and concurrency: (a) a no-op
//     gRPC service with the Messages shapes (bench/noop_service.proto,
//     in-memory mailboxes, same TLS) = the gRPC ceiling; (b) raw RocksDB
//     synced WriteBatches of the same shape (one batch per send, one value of
//     the stored envelope's size per reader) = the storage ceiling.
//  3. Scale and recovery: --idle-streams N idle Receive streams (the server's
//     RSS before and after, per stream), and --backlog N queued envelopes
//     (filled with the store API while the server is down), the time from
//     start to ready and to the first send, then the drain throughput.
//
// The server runs as a child process (carerelayd, the default, so that its
// RSS and CPU are its own), in this process (--server inprocess: the
// generator then shares the figures), or is a running one (--target).
//
// Performance is measured here, never asserted: the exit code says only
// whether the load run got envelopes delivered without setup errors.
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <netinet/in.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_relay.h"
#include "bench/bench_support.h"
#include "client/relay_client.h"
#include "noop_service.grpc.pb.h"
#include "server/core/envelope_id.h"
#include "server/server.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/queue_table.h"

namespace carerelay::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  // Server.
  std::string server = "spawn";  // spawn, inprocess (ignored with --target)
  std::string server_binary = CARERELAYD_PATH;
  std::string target;
  std::string ca_file;
  std::string admin_socket;
  int server_pid = 0;
  std::string tls_dir;
  std::string tls_script = CARERELAY_SOURCE_DIR "/deploy/make-dev-tls.sh";
  std::string sync = "on";
  // Load.
  int teams = 4;
  int members = 4;
  int devices = 1;
  size_t envelope_bytes = 256;
  int concurrency = 16;
  double rate = 0;     // sends/s, open loop; 0 = closed loop
  int receivers = -1;  // -1: every device
  // Closed loop: envelopes sent but not yet received; -1: one send's worth
  // per sender thread.
  int64_t max_undelivered = -1;
  double duration = 5;
  double warmup = 1;
  int repeat = 1;
  int setup_threads = 4;
  // Phases.
  bool load = true;
  bool baselines = true;
  int idle_streams = 0;
  int streams_per_connection = 200;
  uint64_t backlog = 0;
  int backlog_devices = 16;
  double drain_seconds = 30;
  // Output.
  bool json = false;
};

// ---------------------------------------------------------------------------
// Utilities.

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

// RSS, peak RSS and CPU seconds of a process (0: this one), from /proc.
struct ProcStats {
  double rss_mib = 0;
  double hwm_mib = 0;
  double cpu_seconds = 0;
  int threads = 0;
};

ProcStats ReadProc(int pid) {
  ProcStats s;
  std::string base = pid ? absl::StrCat("/proc/", pid) : "/proc/self";
  std::ifstream status(base + "/status");
  std::string line;
  while (std::getline(status, line)) {
    long kb = 0;
    if (sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1) s.rss_mib = kb / 1024.0;
    if (sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1) s.hwm_mib = kb / 1024.0;
    int t = 0;
    if (sscanf(line.c_str(), "Threads: %d", &t) == 1) s.threads = t;
  }
  std::ifstream stat(base + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name: state is field 3, utime 14,
  // stime 15.
  size_t close = all.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(all.substr(close + 2));
    std::vector<std::string> f;
    std::string w;
    while (in >> w && f.size() < 13) f.push_back(w);
    if (f.size() >= 13) {
      double tick = sysconf(_SC_CLK_TCK);
      s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
  }
  return s;
}

// Many streams need many descriptors: the soft limit up to the hard one.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Payload header: magic | sender device index | send time (ns). The rest of
// the envelope is filler: opaque bytes, as the relay sees ciphertext.
constexpr uint32_t kMagic = 0x48425243;  // "CRBH"
constexpr size_t kHeaderBytes = 16;

void StampPayload(std::string* content, uint32_t sender, int64_t send_ns) {
  std::memcpy(content->data(), &kMagic, 4);
  std::memcpy(content->data() + 4, &sender, 4);
  std::memcpy(content->data() + 8, &send_ns, 8);
}

bool ReadStamp(const std::string& content, int64_t* send_ns) {
  uint32_t magic = 0;
  if (content.size() < kHeaderBytes) return false;
  std::memcpy(&magic, content.data(), 4);
  if (magic != kMagic) return false;
  std::memcpy(send_ns, content.data() + 8, 8);
  return true;
}

// ---------------------------------------------------------------------------
// The server under test.

struct ServerHandle {
  std::string mode;  // spawn, inprocess, remote
  std::unique_ptr<Server> in_process;
  pid_t pid = 0;
  std::string data_dir;
  std::string admin_address;  // unix:...
  client::ConnectionOptions connection;
  ServerConfig config;  // spawn and inprocess
  std::string log_path;
  std::string binary;  // spawn

  int stats_pid() const { return mode == "inprocess" ? 0 : pid; }
};

absl::StatusOr<std::string> IssueCode(ServerHandle& s, const std::string& name) {
  return IssueEnrollmentCode(s.in_process.get(), s.admin_address, name, absl::Hours(2));
}

// Starts carerelayd as a child (or in this process) on `data_dir`; returns
// once it answers on its admin socket (spawn) or Start returned
// (inprocess). `ready_seconds` gets that time.
absl::Status StartServer(ServerHandle& s, double* ready_seconds) {
  auto start = SteadyClock::now();
  if (s.mode == "inprocess") {
    auto server = Server::Start(s.config);
    if (!server.ok()) return server.status();
    s.in_process = *std::move(server);
    s.admin_address = s.in_process->admin_address();
  } else {
    std::vector<std::string> argv = {
        s.binary,
        "--listen",
        s.config.listen,
        "--data-dir",
        s.config.data_dir,
        "--tls-cert",
        s.config.tls_cert,
        "--tls-key",
        s.config.tls_key,
        "--sync",
        s.config.sync ? "true" : "false",
        "--log-level",
        "warn",
        "--max-queue-depth",
        "1099511627776",
        "--sends-per-second",
        "1000000000",
        "--send-burst",
        "1000000000",
        "--registrations-per-minute",
        "1000000000",
        "--registration-burst",
        "1000000000",
    };
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      int fd = open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    s.pid = pid;
    s.admin_address = "unix:" + s.config.data_dir + "/admin.sock";
    // Ready = the admin socket answers (it is bound after the store opened
    // and the TCP port is bound).
    auto channel = grpc::CreateChannel(s.admin_address, grpc::InsecureChannelCredentials());
    for (;;) {
      int wstatus = 0;
      if (waitpid(pid, &wstatus, WNOHANG) == pid) {
        s.pid = 0;
        return absl::InternalError(
            absl::StrCat("carerelayd exited at start; see its log: ", ReadFile(s.log_path)));
      }
      if (std::filesystem::exists(s.config.data_dir + "/admin.sock") &&
          channel->WaitForConnected(std::chrono::system_clock::now() +
                                    std::chrono::milliseconds(20))) {
        break;
      }
      if (SteadyClock::now() - start > std::chrono::seconds(120)) {
        return absl::DeadlineExceededError("carerelayd not ready after 120 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  if (ready_seconds) {
    *ready_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  }
  return absl::OkStatus();
}

void StopServer(ServerHandle& s) {
  if (s.in_process) {
    s.in_process->Shutdown(absl::Seconds(5));
    s.in_process.reset();
  }
  if (s.pid > 0) {
    kill(s.pid, SIGTERM);
    int wstatus = 0;
    waitpid(s.pid, &wstatus, 0);
    s.pid = 0;
  }
}

// ---------------------------------------------------------------------------
// Devices, accounts and teams.

struct Device {
  client::DeviceCredentials credentials;
  uint32_t registration_id = 0;
  int team = -1;
};

// One set of real libsignal keys, reused by every bench device: the server
// checks the signed prekey's signature, not that identities differ, and
// generating keys per device would make setup, not the relay, the benchmark.
absl::StatusOr<v1::RegisterRequest> MakeRegisterTemplate(const std::string& scratch) {
  return MakeRegisterRequest(scratch + "/keys");
}

absl::StatusOr<Device> Register(const ServerHandle& s, v1::RegisterRequest request,
                                const std::string& code) {
  const uint32_t registration_id = request.registration_id();
  auto credentials = RegisterWithCode(s.connection, std::move(request), code);
  if (!credentials.ok()) return credentials.status();
  return Device{*credentials, registration_id, -1};
}

// Runs fn(i) for i in [0, n) on `threads` threads; the first error wins.
absl::Status ParallelFor(int n, int threads, const std::function<absl::Status(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  absl::Status first;
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        absl::Status s = fn(i);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first.ok()) first = s;
          next = n;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return first;
}

// `count` accounts of one device each, registered in parallel.
absl::StatusOr<std::vector<Device>> RegisterAccounts(ServerHandle& s,
                                                     const v1::RegisterRequest& tmpl, int count,
                                                     int threads, const std::string& prefix) {
  std::vector<Device> out(count);
  absl::Status st = ParallelFor(count, threads, [&](int i) -> absl::Status {
    auto code = IssueCode(s, absl::StrCat(prefix, " ", i));
    if (!code.ok()) return code.status();
    auto d = Register(s, tmpl, *code);
    if (!d.ok()) return d.status();
    out[i] = *d;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

struct World {
  std::vector<Device> devices;         // every device of every member
  std::vector<std::string> team_ids;   // by team
  std::vector<v1::SendRequest> sends;  // by device: its post on its team channel
  std::vector<int> receiving;          // device index -> 1 if it has a stream
  double setup_seconds = 0;
};

v1::RecordConsentRequest Consent(const std::string& team) {
  v1::RecordConsentRequest r;
  r.set_team_id(team);
  r.set_given_by(v1::CONSENT_GIVER_PATIENT);
  r.set_method(v1::CONSENT_METHOD_WRITTEN);
  r.set_reference("bench");
  return r;
}

// Creates the teams: member 0 (a professional) creates the team as its
// coordinator and records the patient's consent; the others are invited as
// professionals and accept. Then every device's post is computed from
// GetTeam (the readers of the TEAM channel minus the sender device).
absl::StatusOr<World> BuildWorld(ServerHandle& s, const Options& o,
                                 const v1::RegisterRequest& tmpl) {
  auto start = SteadyClock::now();
  World w;
  const int accounts = o.teams * o.members;
  // [team][member][device]
  std::vector<std::vector<std::vector<Device>>> tree(o.teams,
                                                     std::vector<std::vector<Device>>(o.members));
  absl::Status st = ParallelFor(accounts, o.setup_threads, [&](int i) -> absl::Status {
    int team = i / o.members, member = i % o.members;
    auto code = IssueCode(s, absl::StrCat("Bench T", team, " M", member));
    if (!code.ok()) return code.status();
    auto first = Register(s, tmpl, *code);
    if (!first.ok()) return first.status();
    tree[team][member].push_back(*first);
    for (int d = 1; d < o.devices; ++d) {
      auto link = IssueLinkCode(s.connection, first->credentials);
      if (!link.ok()) return link.status();
      auto more = Register(s, tmpl, *link);
      if (!more.ok()) return more.status();
      tree[team][member].push_back(*more);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  w.team_ids.resize(o.teams);
  std::vector<v1::Team> teams(o.teams);
  st = ParallelFor(o.teams, o.setup_threads, [&](int t) -> absl::Status {
    auto client_of = [&](int member) {
      auto c = client::RelayClient::Create(s.connection);
      if (c.ok()) (*c)->SetCredentials(tree[t][member][0].credentials);
      return c;
    };
    auto coordinator = client_of(0);
    if (!coordinator.ok()) return coordinator.status();
    auto team = (*coordinator)->CreateTeam(v1::ROLE_COORDINATOR);
    if (!team.ok()) return team.status();
    const std::string id = team->team_id();
    auto consent = (*coordinator)->RecordConsent(Consent(id));
    if (!consent.ok()) return consent.status();
    for (int m = 1; m < o.members; ++m) {
      auto invited =
          (*coordinator)->Invite(id, tree[t][m][0].credentials.account_id, v1::ROLE_PROFESSIONAL);
      if (!invited.ok()) return invited.status();
      auto member = client_of(m);
      if (!member.ok()) return member.status();
      auto joined = (*member)->RespondToInvitation(id, true);
      if (!joined.ok()) return joined.status();
    }
    auto got = (*coordinator)->GetTeam(id);
    if (!got.ok()) return got.status();
    teams[t] = *got;
    w.team_ids[t] = id;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  for (int t = 0; t < o.teams; ++t) {
    for (auto& member : tree[t]) {
      for (auto& d : member) {
        d.team = t;
        w.devices.push_back(d);
      }
    }
  }
  std::mt19937_64 rng(42);
  for (const Device& sender : w.devices) {
    v1::SendRequest r;
    r.set_team_id(w.team_ids[sender.team]);
    r.set_channel(v1::CHANNEL_TEAM);
    for (const auto& m : teams[sender.team].members()) {
      if (m.status() != v1::MEMBER_STATUS_ACTIVE) continue;
      if (std::find(m.can_read().begin(), m.can_read().end(), v1::CHANNEL_TEAM) ==
          m.can_read().end()) {
        continue;
      }
      for (const auto& dev : m.devices()) {
        if (m.account_id() == sender.credentials.account_id &&
            dev.device_id() == sender.credentials.device_id) {
          continue;
        }
        auto* e = r.add_envelopes();
        e->set_account_id(m.account_id());
        e->set_device_id(dev.device_id());
        e->set_registration_id(dev.registration_id());
        e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
        std::string content(std::max(o.envelope_bytes, kHeaderBytes), '\0');
        for (char& c : content) c = static_cast<char>(rng());
        e->set_content(std::move(content));
      }
    }
    w.sends.push_back(std::move(r));
  }
  int receivers = o.receivers < 0 ? static_cast<int>(w.devices.size()) : o.receivers;
  w.receiving.assign(w.devices.size(), 0);
  for (int i = 0; i < std::min<int>(receivers, w.devices.size()); ++i) w.receiving[i] = 1;
  w.setup_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return w;
}

// ---------------------------------------------------------------------------
// What the load talks to: carerelayd through libcarerelay, or the no-op
// service through its stub, with the same requests.

class Stream {
 public:
  virtual ~Stream() = default;
  virtual bool Next(v1::ReceiveResponse* r) = 0;
  virtual void Cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual absl::Status Send(size_t device, const v1::SendRequest& r) = 0;
  virtual absl::StatusOr<std::unique_ptr<Stream>> Receive(size_t device) = 0;
  virtual absl::Status Ack(size_t device, const std::vector<std::string>& ids) = 0;
};

class RelayStream : public Stream {
 public:
  explicit RelayStream(std::unique_ptr<client::ReceiveStream> s) : s_(std::move(s)) {}
  bool Next(v1::ReceiveResponse* r) override { return s_->Next(r); }
  void Cancel() override { s_->Cancel(); }

 private:
  std::unique_ptr<client::ReceiveStream> s_;
};

class RelayTransport : public Transport {
 public:
  RelayTransport() = default;
  static absl::StatusOr<std::unique_ptr<RelayTransport>> Create(
      const client::ConnectionOptions& c, const std::vector<Device>& devices) {
    auto t = std::make_unique<RelayTransport>();
    for (const auto& d : devices) {
      auto client = client::RelayClient::Create(c);
      if (!client.ok()) return client.status();
      (*client)->SetCredentials(d.credentials);
      t->clients_.push_back(*std::move(client));
    }
    return t;
  }
  absl::Status Send(size_t device, const v1::SendRequest& r) override {
    return clients_[device]->Send(r).status();
  }
  absl::StatusOr<std::unique_ptr<Stream>> Receive(size_t device) override {
    auto s = clients_[device]->Receive();
    if (!s.ok()) return s.status();
    return std::unique_ptr<Stream>(std::make_unique<RelayStream>(*std::move(s)));
  }
  absl::Status Ack(size_t device, const std::vector<std::string>& ids) override {
    return clients_[device]->Ack(ids).status();
  }

 private:
  std::vector<std::unique_ptr<client::RelayClient>> clients_;
};

// ---------------------------------------------------------------------------
// The no-op service: Send puts each envelope in the recipient device's
// in-memory mailbox and wakes its stream; Receive is a callback stream (as
// carerelayd's) writing up to 64 envelopes per message; Ack returns. Devices
// are named by the same metadata carerelayd reads (unchecked).

class NoopService;

class NoopReactor : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  NoopReactor(NoopService* service, std::string device);
  void Pump();
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void FinishOnce(const grpc::Status& status);
  NoopService* service_;
  std::string device_;
  v1::ReceiveResponse response_;
  bool writing_ = false;  // guarded by service_->mu_
  bool finished_ = false;
  bool sent_first_ = false;
};

class NoopService final : public carerelay::bench::NoopRelay::WithCallbackMethod_Receive<
                              carerelay::bench::NoopRelay::Service> {
 public:
  grpc::Status Send(grpc::ServerContext*, const v1::SendRequest* request,
                    v1::SendResponse* response) override {
    std::vector<NoopReactor*> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& out : request->envelopes()) {
        std::string key = absl::StrCat(out.account_id(), ".", out.device_id());
        v1::Envelope e;
        uint64_t seq = ++sequence_;
        e.set_id(core::EnvelopeId(seq));
        e.set_sequence(seq);
        e.set_type(out.type());
        e.set_destination_device_id(out.device_id());
        e.set_content(out.content());
        Mailbox& box = boxes_[key];
        box.queue.push_back(std::move(e));
        if (box.reactor) wake.push_back(box.reactor);
        response->add_envelope_ids(core::EnvelopeId(seq));
      }
    }
    for (NoopReactor* r : wake) r->Pump();
    return grpc::Status::OK;
  }
  grpc::ServerWriteReactor<v1::ReceiveResponse>* Receive(grpc::CallbackServerContext* context,
                                                         const v1::ReceiveRequest*) override {
    std::string device;
    const auto& md = context->client_metadata();
    auto a = md.find("carerelay-account");
    auto d = md.find("carerelay-device");
    if (a != md.end() && d != md.end()) {
      device = absl::StrCat(absl::string_view(a->second.data(), a->second.size()), ".",
                            absl::string_view(d->second.data(), d->second.size()));
    }
    // gRPC's callback API owns reactors by raw pointer: OnDone deletes it.
    auto* reactor = new NoopReactor(this, device);
    {
      std::lock_guard<std::mutex> lock(mu_);
      boxes_[device].reactor = reactor;
    }
    reactor->Pump();
    return reactor;
  }
  grpc::Status Ack(grpc::ServerContext*, const v1::AckRequest* request,
                   v1::AckResponse* response) override {
    response->set_deleted(request->envelope_ids_size());
    return grpc::Status::OK;
  }

 private:
  friend class NoopReactor;
  struct Mailbox {
    std::deque<v1::Envelope> queue;
    NoopReactor* reactor = nullptr;
  };
  std::mutex mu_;
  uint64_t sequence_ = 0;
  std::unordered_map<std::string, Mailbox> boxes_;
};

NoopReactor::NoopReactor(NoopService* service, std::string device)
    : service_(service), device_(std::move(device)) {}

void NoopReactor::Pump() {
  {
    std::lock_guard<std::mutex> lock(service_->mu_);
    if (writing_ || finished_) return;
    auto& box = service_->boxes_[device_];
    if (box.queue.empty() && sent_first_) return;
    response_.Clear();
    while (!box.queue.empty() && response_.envelopes_size() < 64) {
      *response_.add_envelopes() = std::move(box.queue.front());
      box.queue.pop_front();
    }
    response_.set_queue_drained(box.queue.empty());
    sent_first_ = true;
    writing_ = true;
  }
  // Outside the lock: a reaction may run on this thread.
  StartWrite(&response_);
}

void NoopReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishOnce(grpc::Status::CANCELLED);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(service_->mu_);
    writing_ = false;
  }
  Pump();
}

void NoopReactor::OnCancel() { FinishOnce(grpc::Status::CANCELLED); }

void NoopReactor::FinishOnce(const grpc::Status& status) {
  {
    std::lock_guard<std::mutex> lock(service_->mu_);
    if (finished_) return;
    finished_ = true;
  }
  Finish(status);
}

void NoopReactor::OnDone() {
  {
    std::lock_guard<std::mutex> lock(service_->mu_);
    auto it = service_->boxes_.find(device_);
    if (it != service_->boxes_.end() && it->second.reactor == this) it->second.reactor = nullptr;
  }
  delete this;
}

class NoopStream : public Stream {
 public:
  NoopStream(std::unique_ptr<grpc::ClientContext> ctx,
             std::unique_ptr<grpc::ClientReader<v1::ReceiveResponse>> reader)
      : ctx_(std::move(ctx)), reader_(std::move(reader)) {}
  bool Next(v1::ReceiveResponse* r) override { return reader_->Read(r); }
  void Cancel() override { ctx_->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<v1::ReceiveResponse>> reader_;
};

// Same channel arguments, credentials and metadata as libcarerelay.
class NoopTransport : public Transport {
 public:
  NoopTransport(const std::string& target, const std::string& ca_pem,
                const std::vector<Device>& devices) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem;
    auto creds = grpc::SslCredentials(ssl);
    for (const auto& d : devices) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(64 << 20);
      args.SetMaxSendMessageSize(64 << 20);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
      stubs_.push_back(
          carerelay::bench::NoopRelay::NewStub(grpc::CreateCustomChannel(target, creds, args)));
      credentials_.push_back(d.credentials);
    }
  }
  absl::Status Send(size_t device, const v1::SendRequest& r) override {
    auto ctx = Context(device, true);
    v1::SendResponse resp;
    return client::FromGrpc(stubs_[device]->Send(ctx.get(), r, &resp));
  }
  absl::StatusOr<std::unique_ptr<Stream>> Receive(size_t device) override {
    auto ctx = Context(device, false);
    v1::ReceiveRequest req;
    auto reader = stubs_[device]->Receive(ctx.get(), req);
    return std::unique_ptr<Stream>(std::make_unique<NoopStream>(std::move(ctx), std::move(reader)));
  }
  absl::Status Ack(size_t device, const std::vector<std::string>& ids) override {
    auto ctx = Context(device, true);
    v1::AckRequest req;
    for (const auto& id : ids) req.add_envelope_ids(id);
    v1::AckResponse resp;
    return client::FromGrpc(stubs_[device]->Ack(ctx.get(), req, &resp));
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context(size_t device, bool unary) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (unary) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const auto& c = credentials_[device];
    ctx->AddMetadata("carerelay-account", c.account_id);
    ctx->AddMetadata("carerelay-device", std::to_string(c.device_id));
    ctx->AddMetadata("carerelay-secret", absl::Base64Escape(c.secret));
    return ctx;
  }
  std::vector<std::unique_ptr<carerelay::bench::NoopRelay::Stub>> stubs_;
  std::vector<client::DeviceCredentials> credentials_;
};

// ---------------------------------------------------------------------------
// One load run.

struct LoadResult {
  std::string system;  // carerelay, noop-grpc
  double seconds = 0;
  uint64_t sends = 0;
  uint64_t envelopes_sent = 0;
  uint64_t delivered = 0;        // bench envelopes received in the window
  uint64_t other_delivered = 0;  // delivery receipts, server events
  uint64_t undelivered_at_end = 0;
  std::map<std::string, uint64_t> errors;
  std::map<std::string, std::string> error_examples;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double process_cpu_seconds = 0;  // this process, in the window
  // Where delivery time goes: envelopes per stream message, Ack round trip.
  double envelopes_per_message = 0, ack_p50 = 0, ack_p99 = 0;
  std::optional<ProcStats> server_before, server_after;
  double target_rate = 0;

  double sends_per_second() const { return seconds > 0 ? sends / seconds : 0; }
  double delivered_per_second() const { return seconds > 0 ? delivered / seconds : 0; }
};

struct ReceiverStats {
  std::vector<double> latencies_ms;
  std::vector<double> ack_ms;  // in the window
  uint64_t delivered = 0, other = 0;
  uint64_t batches = 0, batch_envelopes = 0;  // in the window
};

LoadResult RunLoad(const std::string& system, Transport& transport, const World& w,
                   const Options& o, int stats_pid) {
  LoadResult result;
  result.system = system;
  result.seconds = o.duration;
  result.target_rate = o.rate;
  const size_t n = w.devices.size();
  // Envelopes that should arrive at a device with a stream, per send of
  // each device: what the drain after the window waits for.
  std::vector<uint64_t> expected_per_send(n, 0);
  std::unordered_map<std::string, int> index;
  for (size_t i = 0; i < n; ++i) {
    index[absl::StrCat(w.devices[i].credentials.account_id, ".",
                       w.devices[i].credentials.device_id)] = i;
  }
  for (size_t i = 0; i < n; ++i) {
    for (const auto& e : w.sends[i].envelopes()) {
      auto it = index.find(absl::StrCat(e.account_id(), ".", e.device_id()));
      if (it != index.end() && w.receiving[it->second]) ++expected_per_send[i];
    }
  }
  std::atomic<uint64_t> expected{0}, received{0};
  std::atomic<bool> stop_receivers{false};
  SteadyClock::time_point t0 = SteadyClock::now() + std::chrono::milliseconds(200);
  auto to_duration = [](double s) {
    return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  };
  const SteadyClock::time_point measure_start = t0 + to_duration(o.warmup);
  const SteadyClock::time_point measure_end = measure_start + to_duration(o.duration);

  // Receivers: one stream per receiving device, each on its own thread.
  std::vector<ReceiverStats> rstats(n);
  std::vector<std::unique_ptr<Stream>> streams(n);
  std::vector<std::thread> receivers;
  std::mutex err_mu;
  auto note_error = [&](const absl::Status& s, bool count) {
    std::lock_guard<std::mutex> lock(err_mu);
    std::string code = absl::StatusCodeToString(s.code());
    if (count) result.errors[code]++;
    result.error_examples.emplace(code, std::string(s.message()));
  };
  for (size_t i = 0; i < n; ++i) {
    if (!w.receiving[i]) continue;
    auto s = transport.Receive(i);
    if (!s.ok()) {
      note_error(s.status(), true);
      continue;
    }
    streams[i] = *std::move(s);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!streams[i]) continue;
    receivers.emplace_back([&, i] {
      ReceiverStats& rs = rstats[i];
      rs.latencies_ms.reserve(1 << 15);
      v1::ReceiveResponse resp;
      std::vector<std::string> ids;
      while (streams[i]->Next(&resp)) {
        const int64_t now_ns = MonotonicNs();
        const auto now = SteadyClock::now();
        const bool in_window = now >= measure_start && now < measure_end;
        ids.clear();
        for (const auto& e : resp.envelopes()) {
          ids.push_back(e.id());
          int64_t sent_ns = 0;
          if (e.type() == v1::ENVELOPE_TYPE_PLAINTEXT && ReadStamp(e.content(), &sent_ns)) {
            received++;
            if (in_window) {
              rs.delivered++;
              rs.latencies_ms.push_back((now_ns - sent_ns) / 1e6);
            }
          } else {
            rs.other++;
          }
        }
        if (!ids.empty()) {
          auto ack_start = SteadyClock::now();
          absl::Status acked = transport.Ack(i, ids);
          if (!acked.ok()) note_error(acked, in_window);
          if (in_window) {
            rs.ack_ms.push_back(
                std::chrono::duration<double, std::milli>(SteadyClock::now() - ack_start).count());
            rs.batches++;
            rs.batch_envelopes += ids.size();
          }
        }
        if (stop_receivers) break;
      }
    });
  }

  // Senders: --concurrency threads; thread k posts as device k mod n.
  // stats_pid: 0 this process, -1 none (the no-op service lives here).
  const bool want_stats = stats_pid >= 0;
  if (!want_stats) stats_pid = 0;
  ProcStats server_before = ReadProc(stats_pid);
  double self_cpu_before = 0;
  std::thread cpu_probe([&] {
    std::this_thread::sleep_until(measure_start);
    server_before = ReadProc(stats_pid);
    self_cpu_before = ReadProc(0).cpu_seconds;
  });
  struct SenderStats {
    uint64_t sends = 0, envelopes = 0;
  };
  std::vector<SenderStats> sstats(o.concurrency);
  std::vector<std::thread> senders;
  for (int k = 0; k < o.concurrency; ++k) {
    senders.emplace_back([&, k] {
      const size_t device = k % n;
      v1::SendRequest r = w.sends[device];
      if (r.envelopes_size() == 0) return;
      uint64_t sequence = 0;
      std::this_thread::sleep_until(t0);
      for (;;) {
        SteadyClock::time_point scheduled = SteadyClock::now();
        if (o.rate > 0) {
          // Open loop: send j of this thread is due at t0 + (k + j*C)/R
          // regardless of how the previous ones went; the send time stamped
          // is the due time, so a server that falls behind shows as latency.
          scheduled = t0 + to_duration((k + sequence * o.concurrency) / o.rate);
          if (scheduled >= measure_end) break;
          std::this_thread::sleep_until(scheduled);
        } else {
          if (scheduled >= measure_end) break;
          // End-to-end backpressure: a closed loop on sends alone would
          // outrun delivery and measure a growing queue, not the relay.
          while (o.max_undelivered > 0 &&
                 static_cast<int64_t>(expected.load() - received.load()) > o.max_undelivered &&
                 SteadyClock::now() < measure_end) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }
        ++sequence;
        const int64_t stamp_ns =
            o.rate > 0
                ? std::chrono::duration_cast<std::chrono::nanoseconds>(scheduled.time_since_epoch())
                      .count()
                : MonotonicNs();
        for (auto& e : *r.mutable_envelopes()) {
          StampPayload(e.mutable_content(), static_cast<uint32_t>(device), stamp_ns);
        }
        absl::Status s = transport.Send(device, r);
        auto done = SteadyClock::now();
        const bool in_window = done >= measure_start && done < measure_end;
        if (s.ok()) {
          expected += expected_per_send[device];
          if (in_window) {
            sstats[k].sends++;
            sstats[k].envelopes += r.envelopes_size();
          }
        } else {
          note_error(s, in_window);
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  cpu_probe.join();
  ProcStats server_after = ReadProc(stats_pid);
  double self_cpu_after = ReadProc(0).cpu_seconds;
  // Drain: wait for what was sent to arrive (not counted unless in the
  // window, which has ended), then end the streams.
  auto drain_until = SteadyClock::now() + std::chrono::seconds(10);
  while (received < expected && SteadyClock::now() < drain_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.undelivered_at_end = expected > received ? expected - received : 0;
  stop_receivers = true;
  for (auto& s : streams) {
    if (s) s->Cancel();
  }
  for (auto& t : receivers) t.join();

  std::vector<double> lat, acks;
  uint64_t batches = 0, batch_envelopes = 0;
  for (auto& rs : rstats) {
    acks.insert(acks.end(), rs.ack_ms.begin(), rs.ack_ms.end());
    batches += rs.batches;
    batch_envelopes += rs.batch_envelopes;
    result.delivered += rs.delivered;
    result.other_delivered += rs.other;
    lat.insert(lat.end(), rs.latencies_ms.begin(), rs.latencies_ms.end());
  }
  for (auto& ss : sstats) {
    result.sends += ss.sends;
    result.envelopes_sent += ss.envelopes;
  }
  std::sort(lat.begin(), lat.end());
  result.p50 = Percentile(lat, 50);
  result.p90 = Percentile(lat, 90);
  result.p99 = Percentile(lat, 99);
  result.p999 = Percentile(lat, 99.9);
  result.max = lat.empty() ? 0 : lat.back();
  std::sort(acks.begin(), acks.end());
  result.ack_p50 = Percentile(acks, 50);
  result.ack_p99 = Percentile(acks, 99);
  result.envelopes_per_message = batches ? static_cast<double>(batch_envelopes) / batches : 0;
  result.process_cpu_seconds = self_cpu_after - self_cpu_before;
  if (want_stats) {
    result.server_before = server_before;
    result.server_after = server_after;
  }
  return result;
}

// ---------------------------------------------------------------------------
// The storage ceiling: raw RocksDB, one WriteBatch per send with one value
// per reader device of the size carerelayd stores, synced as carerelayd's
// commits are, from --concurrency threads (RocksDB groups their commits).

struct RocksResult {
  double seconds = 0;
  uint64_t batches = 0, values = 0;
  size_t value_bytes = 0;
  std::string error;
  double batches_per_second() const { return seconds > 0 ? batches / seconds : 0; }
  double values_per_second() const { return seconds > 0 ? values / seconds : 0; }
};

RocksResult RunRocks(const World& w, const Options& o, const std::string& dir) {
  RocksResult r;
  r.seconds = o.duration;
  // The record carerelayd writes: the envelope with its routing metadata.
  v1::Envelope sample;
  sample.set_id(core::EnvelopeId(1u << 30));
  sample.set_sequence(1u << 30);
  sample.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  sample.mutable_sender()->set_account_id(std::string(32, 'a'));
  sample.mutable_sender()->set_device_id(1);
  sample.set_destination_device_id(1);
  sample.set_server_timestamp_ms(1795000000000);
  sample.set_expires_at_ms(1797600000000);
  sample.set_team_id(std::string(32, 'b'));
  sample.set_channel(v1::CHANNEL_TEAM);
  sample.set_content(std::string(std::max(o.envelope_bytes, kHeaderBytes), 'x'));
  const std::string value = sample.SerializeAsString();
  r.value_bytes = value.size();
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    r.error = s.ToString();
    return r;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = o.sync == "on";
  std::atomic<uint64_t> seq{1};
  std::vector<uint64_t> batches(o.concurrency), values(o.concurrency);
  auto t0 = SteadyClock::now() + std::chrono::milliseconds(50);
  auto start = t0 + std::chrono::duration_cast<SteadyClock::duration>(
                        std::chrono::duration<double>(o.warmup));
  auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                         std::chrono::duration<double>(o.duration));
  std::vector<std::thread> threads;
  for (int k = 0; k < o.concurrency; ++k) {
    threads.emplace_back([&, k] {
      const int per_batch = w.sends[k % w.sends.size()].envelopes_size();
      std::string key(28, '\0');
      std::mt19937_64 rng(k);
      std::this_thread::sleep_until(t0);
      while (SteadyClock::now() < end) {
        rocksdb::WriteBatch batch;
        for (int i = 0; i < per_batch; ++i) {
          // queue key: account (16) | device (4) | sequence (8, BE)
          uint64_t a = rng(), b = rng(), q = seq++;
          std::memcpy(key.data(), &a, 8);
          std::memcpy(key.data() + 8, &b, 8);
          for (int j = 0; j < 8; ++j) key[20 + j] = static_cast<char>(q >> (56 - 8 * j));
          batch.Put(key, value);
        }
        rocksdb::Status ws = db->Write(wo, &batch);
        auto done = SteadyClock::now();
        if (ws.ok() && done >= start && done < end) {
          batches[k]++;
          values[k] += per_batch;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < o.concurrency; ++k) {
    r.batches += batches[k];
    r.values += values[k];
  }
  db->Close();
  return r;
}

// ---------------------------------------------------------------------------
// Idle streams: N devices with an open Receive stream each, held by one
// completion queue (threads per stream would measure the generator).

struct IdleResult {
  int requested = 0;
  int established = 0;
  double register_seconds = 0;
  double open_seconds = 0;
  ProcStats before, after;
  std::string error;
};

IdleResult RunIdleStreams(ServerHandle& s, const Options& o, const v1::RegisterRequest& tmpl) {
  IdleResult r;
  r.requested = o.idle_streams;
  auto t = SteadyClock::now();
  auto devices = RegisterAccounts(s, tmpl, o.idle_streams, o.setup_threads, "Bench idle");
  r.register_seconds = std::chrono::duration<double>(SteadyClock::now() - t).count();
  if (!devices.ok()) {
    r.error = devices.status().ToString();
    return r;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  r.before = ReadProc(s.stats_pid());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(s.connection.ca_file);
  auto creds = grpc::SslCredentials(ssl);
  std::vector<std::unique_ptr<v1::Messages::Stub>> stubs;
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext ctx;
    v1::ReceiveResponse resp;
    std::unique_ptr<grpc::ClientAsyncReader<v1::ReceiveResponse>> reader;
    int state = 0;  // 0 starting, 1 reading first, 2 idle
  };
  std::vector<std::unique_ptr<Call>> calls;
  t = SteadyClock::now();
  for (int i = 0; i < o.idle_streams; ++i) {
    if (i % o.streams_per_connection == 0) {
      grpc::ChannelArguments args;
      // A distinct argument per channel: its own TCP connection, so that no
      // connection carries more streams than a server would allow.
      args.SetInt("carerelay.bench.connection", i);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
      stubs.push_back(
          v1::Messages::NewStub(grpc::CreateCustomChannel(s.connection.target, creds, args)));
    }
    auto call = std::make_unique<Call>();
    const auto& c = (*devices)[i].credentials;
    call->ctx.AddMetadata("carerelay-account", c.account_id);
    call->ctx.AddMetadata("carerelay-device", std::to_string(c.device_id));
    call->ctx.AddMetadata("carerelay-secret", absl::Base64Escape(c.secret));
    call->reader = stubs.back()->PrepareAsyncReceive(&call->ctx, v1::ReceiveRequest(), &cq);
    call->reader->StartCall(call.get());
    calls.push_back(std::move(call));
  }
  // Established = the server answered the stream's first message (the
  // drained marker of an empty queue).
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(120);
  while (r.established < o.idle_streams) {
    void* tag = nullptr;
    bool ok = false;
    auto st = cq.AsyncNext(&tag, &ok, deadline);
    if (st != grpc::CompletionQueue::GOT_EVENT) break;
    auto* call = static_cast<Call*>(tag);
    if (!ok) {
      if (r.error.empty()) r.error = "a stream failed to open";
      call->state = 3;
      continue;
    }
    if (call->state == 0) {
      call->state = 1;
      call->reader->Read(&call->resp, call);
    } else if (call->state == 1) {
      call->state = 2;
      r.established++;
    }
  }
  r.open_seconds = std::chrono::duration<double>(SteadyClock::now() - t).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r.after = ReadProc(s.stats_pid());
  for (auto& c : calls) c->ctx.TryCancel();
  // Reap the cancelled reads and the finishes before the queue goes.
  int pending = 0;
  for (auto& c : calls) {
    if (c->state == 2) {
      c->reader->Read(&c->resp, c.get());
      ++pending;
    }
  }
  auto reap_deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < pending; ++i) {
    void* tag;
    bool ok;
    if (cq.AsyncNext(&tag, &ok, reap_deadline) != grpc::CompletionQueue::GOT_EVENT) break;
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return r;
}

// ---------------------------------------------------------------------------
// Backlog: fill N envelopes into the queues of a few devices with the store
// API while the server is down (big transactions, sync off, then one synced
// write), restart, time ready and first send, then drain with acks.

struct BacklogResult {
  uint64_t envelopes = 0;
  int devices = 0;
  double fill_seconds = 0;
  double start_seconds = 0;       // Server::Start returned / admin socket answers
  double first_send_seconds = 0;  // from start, a send acknowledged
  double drain_seconds = 0;
  uint64_t drained = 0;
  ProcStats after_start;
  std::string error;
  double drain_per_second() const { return drain_seconds > 0 ? drained / drain_seconds : 0; }
};

absl::Status FillQueues(const std::string& data_dir, const Device& sender,
                        const std::vector<Device>& devices, uint64_t count, size_t bytes) {
  store::DatabaseOptions options;
  options.sync = false;
  auto db = store::Database::Open(data_dir, options);
  if (!db.ok()) return db.status();
  store::QueueTable queues(db->get());
  auto sequences = store::SequenceAllocator::Open(db->get());
  if (!sequences.ok()) return sequences.status();
  std::vector<store::DeviceRef> refs;
  for (const auto& d : devices) {
    auto a = store::AccountId::FromHex(d.credentials.account_id);
    if (!a.ok()) return a.status();
    refs.push_back({*a, d.credentials.device_id});
  }
  const int64_t now = absl::ToUnixMillis(absl::Now());
  v1::Envelope e;
  e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  // From a device without a stream: the delivery receipts the drain's acks
  // cause are written (part of the cost) but not delivered (not counted).
  e.mutable_sender()->set_account_id(sender.credentials.account_id);
  e.mutable_sender()->set_device_id(sender.credentials.device_id);
  e.set_server_timestamp_ms(now);
  e.set_expires_at_ms(now + 30LL * 86400 * 1000);
  std::string content(std::max(bytes, kHeaderBytes), 'q');
  constexpr uint64_t kPerTxn = 20000;
  for (uint64_t done = 0; done < count;) {
    uint64_t n = std::min(kPerTxn, count - done);
    auto first = (*sequences)->Allocate(n);
    if (!first.ok()) return first.status();
    auto txn = (*db)->Begin();
    for (uint64_t i = 0; i < n; ++i) {
      const auto& ref = refs[(done + i) % refs.size()];
      e.set_id(core::EnvelopeId(*first + i));
      e.set_sequence(*first + i);
      e.set_destination_device_id(ref.device_id);
      StampPayload(&content, 0, 0);
      e.set_content(content);
      absl::Status s = queues.Append(*txn, ref, e);
      if (!s.ok()) return s;
    }
    absl::Status s = txn->Commit();
    if (!s.ok()) return s;
    done += n;
  }
  return (*db)->Close();
}

BacklogResult RunBacklog(ServerHandle& s, const Options& o, const v1::RegisterRequest& tmpl) {
  BacklogResult r;
  r.envelopes = o.backlog;
  r.devices = o.backlog_devices;
  auto devices = RegisterAccounts(s, tmpl, o.backlog_devices + 1, o.setup_threads, "Bench backlog");
  if (!devices.ok()) {
    r.error = devices.status().ToString();
    return r;
  }
  Device sender = (*devices)[0];
  std::vector<Device> queued(devices->begin() + 1, devices->end());
  StopServer(s);
  auto t = SteadyClock::now();
  absl::Status filled = FillQueues(s.config.data_dir, sender, queued, o.backlog, o.envelope_bytes);
  r.fill_seconds = std::chrono::duration<double>(SteadyClock::now() - t).count();
  if (!filled.ok()) {
    r.error = filled.ToString();
    return r;
  }
  auto start = SteadyClock::now();
  absl::Status started = StartServer(s, &r.start_seconds);
  if (!started.ok()) {
    r.error = started.ToString();
    return r;
  }
  // The first send: the sender to the first queued device's account.
  auto c = client::RelayClient::Create(s.connection);
  if (!c.ok()) {
    r.error = c.status().ToString();
    return r;
  }
  (*c)->SetCredentials(sender.credentials);
  v1::SendRequest req;
  req.set_account_id(queued[0].credentials.account_id);
  auto* e = req.add_envelopes();
  e->set_account_id(queued[0].credentials.account_id);
  e->set_device_id(queued[0].credentials.device_id);
  e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  e->set_content(std::string(std::max(o.envelope_bytes, kHeaderBytes), 'f'));
  for (;;) {
    auto sent = (*c)->Send(req);
    if (sent.ok()) break;
    if (SteadyClock::now() - start > std::chrono::seconds(60)) {
      r.error = "first send: " + sent.status().ToString();
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.first_send_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  r.after_start = ReadProc(s.stats_pid());
  // Drain: a stream per queued device, acknowledging each batch.
  auto transport = RelayTransport::Create(s.connection, queued);
  if (!transport.ok()) {
    r.error = transport.status().ToString();
    return r;
  }
  std::atomic<uint64_t> drained{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const uint64_t per_device = o.backlog / queued.size();
  t = SteadyClock::now();
  const auto limit = t + std::chrono::duration_cast<SteadyClock::duration>(
                             std::chrono::duration<double>(o.drain_seconds));
  std::vector<std::unique_ptr<Stream>> streams(queued.size());
  for (size_t i = 0; i < queued.size(); ++i) {
    auto stream = (*transport)->Receive(i);
    if (stream.ok()) streams[i] = *std::move(stream);
  }
  // Ends the streams at --drain-seconds if they have not drained by then.
  std::thread watchdog([&] {
    while (!stop && SteadyClock::now() < limit) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& st : streams) {
      if (st) st->Cancel();
    }
  });
  for (size_t i = 0; i < queued.size(); ++i) {
    if (!streams[i]) continue;
    threads.emplace_back([&, i] {
      v1::ReceiveResponse resp;
      uint64_t mine = 0;
      std::vector<std::string> ids;
      while (streams[i]->Next(&resp)) {
        ids.clear();
        for (const auto& env : resp.envelopes()) ids.push_back(env.id());
        if (!ids.empty()) (*transport)->Ack(i, ids).IgnoreError();
        mine += ids.size();
        drained += ids.size();
        if (resp.queue_drained() && mine >= per_device) break;
      }
    });
  }
  for (auto& th : threads) th.join();
  r.drain_seconds = std::chrono::duration<double>(SteadyClock::now() - t).count();
  stop = true;
  watchdog.join();
  r.drained = drained;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return r;
}

// ---------------------------------------------------------------------------
// Reporting.

nlohmann::json ToJson(const LoadResult& r) {
  nlohmann::json j = {
      {"system", r.system},
      {"seconds", r.seconds},
      {"open_loop_rate", r.target_rate},
      {"sends", r.sends},
      {"sends_per_second", r.sends_per_second()},
      {"envelopes_sent", r.envelopes_sent},
      {"envelopes_delivered", r.delivered},
      {"envelopes_delivered_per_second", r.delivered_per_second()},
      {"other_envelopes_delivered", r.other_delivered},
      {"undelivered_after_drain", r.undelivered_at_end},
      {"latency_ms",
       {{"p50", r.p50}, {"p90", r.p90}, {"p99", r.p99}, {"p99_9", r.p999}, {"max", r.max}}},
      {"errors", r.errors},
      {"error_examples", r.error_examples},
      {"generator_process_cpu_seconds", r.process_cpu_seconds},
      {"receive",
       {{"envelopes_per_message", r.envelopes_per_message},
        {"ack_ms_p50", r.ack_p50},
        {"ack_ms_p99", r.ack_p99}}},
  };
  if (r.server_before && r.server_after) {
    j["server"] = {{"rss_mib", r.server_after->rss_mib},
                   {"peak_rss_mib", r.server_after->hwm_mib},
                   {"cpu_seconds", r.server_after->cpu_seconds - r.server_before->cpu_seconds},
                   {"threads", r.server_after->threads}};
  }
  return j;
}

void PrintLoad(const LoadResult& r, bool shared_process) {
  std::string errors;
  for (const auto& [code, n] : r.errors) absl::StrAppend(&errors, " ", code, "=", n);
  std::cout << absl::StrFormat(
      "  %-10s %8.0f sends/s  %9.0f envelopes delivered/s  latency ms p50 %.2f p90 %.2f p99 "
      "%.2f p99.9 %.2f max %.1f\n",
      r.system, r.sends_per_second(), r.delivered_per_second(), r.p50, r.p90, r.p99, r.p999, r.max);
  if (r.server_before && r.server_after) {
    double cpu = r.server_after->cpu_seconds - r.server_before->cpu_seconds;
    std::cout << absl::StrFormat(
        "             server: CPU %.2f s (%.0f%% of one core)%s, RSS %.0f MiB, peak %.0f MiB\n",
        cpu, 100 * cpu / r.seconds, shared_process ? " [shared with the generator]" : "",
        r.server_after->rss_mib, r.server_after->hwm_mib);
  }
  std::cout << absl::StrFormat(
      "             receive: %.1f envelopes per stream message, Ack round trip p50 %.2f ms p99 "
      "%.2f ms\n",
      r.envelopes_per_message, r.ack_p50, r.ack_p99);
  std::cout << absl::StrFormat("             generator process CPU %.2f s (%.0f%%)",
                               r.process_cpu_seconds, 100 * r.process_cpu_seconds / r.seconds);
  if (r.other_delivered) {
    std::cout << ", " << r.other_delivered << " other envelopes (delivery receipts, team events)";
  }
  if (r.undelivered_at_end) std::cout << ", " << r.undelivered_at_end << " NOT delivered";
  std::cout << (errors.empty() ? ", no errors" : ", errors:" + errors) << "\n";
  for (const auto& [code, m] : r.error_examples)
    std::cout << "             e.g. " << code << ": " << m << "\n";
}

int Main(Options o) {
  RaiseFileLimit();
  TempDir scratch("carerelay-bench", 2);
  auto tls =
      PrepareTls(o.tls_dir, o.tls_script, scratch.path(), ScriptStderr::kDiscard, "give --tls-dir");
  if (!tls.ok() && o.target.empty()) {
    std::cerr << "carerelay-bench: " << tls.status().message() << "\n";
    return 2;
  }
  ServerHandle server;
  if (!o.target.empty()) {
    server.mode = "remote";
    server.pid = o.server_pid;
    server.connection.target = o.target;
    server.connection.ca_file = o.ca_file;
    server.admin_address = "unix:" + std::filesystem::absolute(o.admin_socket).string();
  } else {
    server.mode = o.server;
    server.data_dir = scratch.path() + "/data";
    server.log_path = scratch.path() + "/carerelayd.log";
    server.binary = o.server_binary;
    int port = FreePort();
    server.config =
        BenchServerConfig(absl::StrCat("127.0.0.1:", port), server.data_dir, *tls, o.sync == "on");
    server.connection.target = absl::StrCat("localhost:", port);
    server.connection.ca_file = *tls + "/ca.crt";
    absl::Status s = StartServer(server, nullptr);
    if (!s.ok()) {
      std::cerr << "carerelay-bench: cannot start carerelayd: " << s << "\n";
      return 2;
    }
  }
  const bool shared = server.mode == "inprocess";
  const bool human = !o.json;
  auto tmpl = MakeRegisterTemplate(scratch.path());
  if (!tmpl.ok()) {
    std::cerr << "carerelay-bench: keys: " << tmpl.status() << "\n";
    StopServer(server);
    return 2;
  }
  nlohmann::json out;
  out["config"] = {{"server", server.mode},
                   {"sync", o.target.empty() ? o.sync : "server's setting"},
                   {"teams", o.teams},
                   {"members_per_team", o.members},
                   {"devices_per_member", o.devices},
                   {"envelope_bytes", o.envelope_bytes},
                   {"concurrency", o.concurrency},
                   {"rate", o.rate},
                   {"max_undelivered", o.max_undelivered},
                   {"duration", o.duration},
                   {"warmup", o.warmup},
                   {"repeat", o.repeat},
                   {"payload", "opaque bytes (PLAINTEXT type), not encrypted"}};
  out["machine"] = {{"cpus", std::thread::hardware_concurrency()}};
  int exit_code = 0;

  if (o.load) {
    auto world = BuildWorld(server, o, *tmpl);
    if (!world.ok()) {
      std::cerr << "carerelay-bench: setting up teams failed: " << world.status() << "\n";
      StopServer(server);
      return 2;
    }
    int receiving = 0;
    for (int x : world->receiving) receiving += x;
    const int per_send = world->sends.empty() ? 0 : world->sends[0].envelopes_size();
    if (o.max_undelivered < 0) o.max_undelivered = int64_t{o.concurrency} * std::max(per_send, 1);
    out["config"]["max_undelivered"] = o.max_undelivered;
    if (human) {
      std::cout << "carerelay-bench: carerelayd "
                << (server.mode == "spawn"       ? "as a child process"
                    : server.mode == "inprocess" ? "in this process (figures shared)"
                                                 : "at " + o.target)
                << ", TLS on loopback, sync " << (o.target.empty() ? o.sync : "(server's)") << "; "
                << std::thread::hardware_concurrency() << " CPUs shared by all\n"
                << "  " << o.teams << " teams x " << o.members << " professionals x " << o.devices
                << " device(s) = " << world->devices.size() << " devices, " << receiving
                << " receive streams; " << per_send << " envelopes of " << o.envelope_bytes
                << " opaque bytes per send (TEAM channel; PLAINTEXT, not encrypted: a relay "
                   "benchmark)\n"
                << "  "
                << (o.rate > 0
                        ? absl::StrFormat("open loop at %.0f sends/s over %d threads", o.rate,
                                          o.concurrency)
                        : absl::StrFormat("closed loop, %d sends in flight, at most %d envelopes "
                                          "undelivered",
                                          o.concurrency, o.max_undelivered))
                << ", " << o.duration << " s measured after " << o.warmup
                << " s warm-up; server pid " << (server.pid ? server.pid : getpid())
                << "; setup (teams, devices) took "
                << absl::StrFormat("%.1f s", world->setup_seconds) << "\n\n";
    }
    out["setup_seconds"] = world->setup_seconds;
    out["devices"] = world->devices.size();
    out["receive_streams"] = receiving;
    out["envelopes_per_send"] = per_send;
    auto relay = RelayTransport::Create(server.connection, world->devices);
    // The no-op service, on the same TLS, in this process.
    NoopService noop;
    std::unique_ptr<grpc::Server> noop_server;
    int noop_port = 0;
    if (o.baselines && tls.ok()) {
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back(
          {ReadFile(*tls + "/server.key"), ReadFile(*tls + "/server.crt")});
      grpc::ServerBuilder builder;
      builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &noop_port);
      builder.RegisterService(&noop);
      noop_server = builder.BuildAndStart();
    }
    std::unique_ptr<NoopTransport> noop_transport;
    if (noop_server) {
      noop_transport = std::make_unique<NoopTransport>(absl::StrCat("localhost:", noop_port),
                                                       ReadFile(*tls + "/ca.crt"), world->devices);
    }
    std::vector<LoadResult> relay_runs, noop_runs;
    std::vector<RocksResult> rocks_runs;
    // Interleaved, so that a noisy machine's drift hits every system alike.
    for (int rep = 0; rep < o.repeat; ++rep) {
      if (noop_transport) {
        noop_runs.push_back(RunLoad("noop-grpc", *noop_transport, *world, o, -1));
        if (human) PrintLoad(noop_runs.back(), false);
      }
      relay_runs.push_back(RunLoad("carerelay", **relay, *world, o, server.stats_pid()));
      if (human) PrintLoad(relay_runs.back(), shared);
      if (o.baselines) {
        rocks_runs.push_back(RunRocks(*world, o, absl::StrCat(scratch.path(), "/rocksdb-", rep)));
        const auto& rr = rocks_runs.back();
        if (human) {
          std::cout << absl::StrFormat(
              "  %-10s %8.0f batches/s %9.0f values/s (WriteBatch of %d x %zu-byte values, "
              "sync %s)%s\n",
              "rocksdb", rr.batches_per_second(), rr.values_per_second(), per_send, rr.value_bytes,
              o.sync, rr.error.empty() ? "" : "  error: " + rr.error);
        }
      }
      if (human) std::cout << "\n";
    }
    if (noop_server) noop_server->Shutdown(std::chrono::system_clock::now());
    auto med = [](const auto& runs, auto f) {
      std::vector<double> v;
      for (const auto& r : runs) v.push_back(f(r));
      return Median(v);
    };
    double relay_eps =
        med(relay_runs, [](const LoadResult& r) { return r.delivered_per_second(); });
    double relay_sps = med(relay_runs, [](const LoadResult& r) { return r.sends_per_second(); });
    double relay_p99 = med(relay_runs, [](const LoadResult& r) { return r.p99; });
    nlohmann::json summary = {{"carerelay_envelopes_delivered_per_second", relay_eps},
                              {"carerelay_sends_per_second", relay_sps},
                              {"carerelay_p99_ms", relay_p99}};
    if (!noop_runs.empty()) {
      double noop_eps =
          med(noop_runs, [](const LoadResult& r) { return r.delivered_per_second(); });
      summary["noop_grpc_envelopes_delivered_per_second"] = noop_eps;
      summary["ratio_to_noop_grpc"] = noop_eps > 0 ? relay_eps / noop_eps : 0;
    }
    if (!rocks_runs.empty()) {
      double rocks_vps =
          med(rocks_runs, [](const RocksResult& r) { return r.values_per_second(); });
      double rocks_bps =
          med(rocks_runs, [](const RocksResult& r) { return r.batches_per_second(); });
      summary["rocksdb_values_per_second"] = rocks_vps;
      summary["rocksdb_batches_per_second"] = rocks_bps;
      summary["ratio_to_rocksdb"] = rocks_bps > 0 ? relay_sps / rocks_bps : 0;
    }
    if (human) {
      std::cout << absl::StrFormat("Summary (median of %d): carerelay %.0f envelopes/s delivered",
                                   o.repeat, relay_eps);
      if (summary.contains("ratio_to_noop_grpc")) {
        std::cout << absl::StrFormat(
            " = %.0f%% of the no-op gRPC service (%.0f/s)",
            100 * summary["ratio_to_noop_grpc"].get<double>(),
            summary["noop_grpc_envelopes_delivered_per_second"].get<double>());
      }
      if (summary.contains("ratio_to_rocksdb")) {
        std::cout << absl::StrFormat(
            "; %.0f sends/s = %.0f%% of raw RocksDB's batches of the same shape (%.0f/s)",
            relay_sps, 100 * summary["ratio_to_rocksdb"].get<double>(),
            summary["rocksdb_batches_per_second"].get<double>());
      }
      std::cout << absl::StrFormat("; p99 send->delivery %.2f ms\n", relay_p99);
    }
    out["runs"] = nlohmann::json::array();
    for (const auto& r : noop_runs) out["runs"].push_back(ToJson(r));
    for (const auto& r : relay_runs) out["runs"].push_back(ToJson(r));
    out["rocksdb_runs"] = nlohmann::json::array();
    for (const auto& r : rocks_runs) {
      out["rocksdb_runs"].push_back({{"seconds", r.seconds},
                                     {"batches_per_second", r.batches_per_second()},
                                     {"values_per_second", r.values_per_second()},
                                     {"value_bytes", r.value_bytes},
                                     {"values_per_batch", per_send},
                                     {"sync", o.sync == "on"},
                                     {"error", r.error}});
    }
    out["summary"] = summary;
    if (relay_eps <= 0) exit_code = 1;
  }

  if (o.idle_streams > 0) {
    IdleResult r = RunIdleStreams(server, o, *tmpl);
    double delta = r.after.rss_mib - r.before.rss_mib;
    out["idle_streams"] = {{"requested", r.requested},
                           {"established", r.established},
                           {"register_seconds", r.register_seconds},
                           {"open_seconds", r.open_seconds},
                           {"server_rss_before_mib", r.before.rss_mib},
                           {"server_rss_after_mib", r.after.rss_mib},
                           {"server_threads_after", r.after.threads},
                           {"kib_per_stream", r.established ? 1024 * delta / r.established : 0},
                           {"error", r.error}};
    if (human) {
      std::cout << absl::StrFormat(
          "Idle streams: %d of %d open (registering the devices took %.1f s, opening %.1f s); "
          "server RSS %.0f -> %.0f MiB = %.1f KiB per stream%s%s\n",
          r.established, r.requested, r.register_seconds, r.open_seconds, r.before.rss_mib,
          r.after.rss_mib, r.established ? 1024 * delta / r.established : 0.0,
          shared ? " [in-process: includes the generator's side]" : "",
          r.error.empty() ? "" : "  error: " + r.error);
    }
    if (!r.error.empty() && r.established == 0) exit_code = 1;
  }

  if (o.backlog > 0) {
    if (server.mode == "remote") {
      std::cerr << "carerelay-bench: --backlog needs a server this bench starts\n";
    } else {
      BacklogResult r = RunBacklog(server, o, *tmpl);
      out["backlog"] = {{"envelopes", r.envelopes},
                        {"devices", r.devices},
                        {"filled_with", "QueueTable::Append, 20000 per transaction, server down"},
                        {"fill_seconds", r.fill_seconds},
                        {"start_to_ready_seconds", r.start_seconds},
                        {"start_to_first_send_seconds", r.first_send_seconds},
                        {"server_rss_after_start_mib", r.after_start.rss_mib},
                        {"drained", r.drained},
                        {"drain_seconds", r.drain_seconds},
                        {"drain_envelopes_per_second", r.drain_per_second()},
                        {"error", r.error}};
      if (human) {
        std::cout << absl::StrFormat(
            "Backlog: %d envelopes queued for %d devices (store API, %.1f s); start -> ready "
            "%.3f s (%s), -> first send acknowledged %.3f s; drained %d in %.1f s = %.0f "
            "envelopes/s (streams + acks)%s\n",
            r.envelopes, r.devices, r.fill_seconds, r.start_seconds,
            server.mode == "inprocess" ? "Server::Start returned" : "admin socket answers",
            r.first_send_seconds, r.drained, r.drain_seconds, r.drain_per_second(),
            r.error.empty() ? "" : "  error: " + r.error);
      }
      if (!r.error.empty()) exit_code = 1;
    }
  }
  StopServer(server);
  if (o.json) std::cout << out.dump(2) << "\n";
  return exit_code;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  carerelay::bench::Options o;
  CLI::App app{
      "carerelay-bench: load generator for carerelayd over TLS (teams, senders, receive "
      "streams), with a no-op gRPC and a raw RocksDB baseline measured in the same run; idle "
      "stream scale; restart with a backlog"};
  app.footer(
      "Examples:\n"
      "  carerelay-bench                                   # 4 teams x 4, 16 in flight, 5 s\n"
      "  carerelay-bench --rate 500 --concurrency 32       # open loop, 500 sends/s\n"
      "  carerelay-bench --no-load --idle-streams 10000\n"
      "  carerelay-bench --no-load --backlog 1000000\n"
      "  carerelay-bench --target localhost:7443 --ca-file deploy/dev-tls/ca.crt \\\n"
      "      --admin-socket data/admin.sock --server-pid $(pidof carerelayd) --no-baselines\n"
      "See bench/README.md.");
  auto* where = "Server";
  app.add_option("--server", o.server,
                 "spawn: carerelayd as a child process (its RSS and CPU are its own); "
                 "inprocess: Server::Start in this process (figures include the generator)")
      ->check(CLI::IsMember({"spawn", "inprocess"}))
      ->capture_default_str()
      ->group(where);
  app.add_option("--server-binary", o.server_binary, "carerelayd to spawn")
      ->capture_default_str()
      ->group(where);
  app.add_option("--target", o.target, "host:port of a running carerelayd instead")->group(where);
  app.add_option("--ca-file", o.ca_file, "With --target: PEM CA of its certificate")->group(where);
  app.add_option("--admin-socket", o.admin_socket,
                 "With --target: its DATA_DIR/admin.sock (enrollment codes; same machine). Start "
                 "it with limits a benchmark does not hit (see bench/README.md)")
      ->group(where);
  app.add_option("--server-pid", o.server_pid,
                 "With --target: its pid, to report its RSS and CPU from /proc")
      ->group(where);
  app.add_option("--tls-dir", o.tls_dir,
                 "Directory with server.crt, server.key, ca.crt (default: made with --tls-script "
                 "in a temporary directory); the no-op baseline uses it too")
      ->group(where);
  app.add_option("--tls-script", o.tls_script, "Script making development TLS material")
      ->capture_default_str()
      ->group(where);
  app.add_option("--sync", o.sync,
                 "Started server and RocksDB baseline: sync the WAL before acknowledging")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->group(where);
  auto* load = "Load";
  app.add_option("--teams", o.teams, "Care teams")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--members", o.members, "Professional members per team (member 0 coordinates)")
      ->check(CLI::Range(2, 100))
      ->capture_default_str()
      ->group(load);
  app.add_option("--devices", o.devices, "Devices per member")
      ->check(CLI::Range(1, 16))
      ->capture_default_str()
      ->group(load);
  app.add_option("--envelope-bytes", o.envelope_bytes,
                 "Bytes per envelope (16-byte header with the send time, then filler)")
      ->check(CLI::Range(16, 256 * 1024))
      ->capture_default_str()
      ->group(load);
  app.add_option("--concurrency,-c", o.concurrency,
                 "Sender threads (closed loop: sends in flight); thread k posts as device k mod "
                 "devices; also the RocksDB baseline's writer threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--rate", o.rate,
                 "Open loop: sends/s in total, spread over the --concurrency threads; latency "
                 "counts from each send's due time (0: closed loop)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--receivers", o.receivers,
                 "Devices with a Receive stream (-1: all); the others' queues grow")
      ->capture_default_str()
      ->group(load);
  app.add_option("--max-undelivered", o.max_undelivered,
                 "Closed loop: senders wait while more envelopes than this are sent but not yet "
                 "received, so that the loop is end to end (-1: concurrency x envelopes per "
                 "send; 0: no limit, sends then outrun delivery and latency measures the "
                 "growing queues)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 40))
      ->capture_default_str()
      ->group(load);
  app.add_option("--duration", o.duration, "Measured seconds per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--warmup", o.warmup, "Unmeasured seconds before each run")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--repeat", o.repeat, "Interleaved runs of each system; the summary is medians")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--setup-threads", o.setup_threads, "Parallel registrations during setup")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  auto* phases = "Phases";
  app.add_flag("!--no-load", o.load, "Skip the load run (and its baselines)")->group(phases);
  app.add_flag("!--no-baselines", o.baselines, "Skip the no-op gRPC and RocksDB baselines")
      ->group(phases);
  app.add_option("--idle-streams", o.idle_streams,
                 "Then: register N devices (one account each), open an idle Receive stream for "
                 "each, report the server's RSS per stream (0: skip)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_option("--streams-per-connection", o.streams_per_connection,
                 "Idle streams per TCP connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_option("--backlog", o.backlog,
                 "Then: stop the server, queue N envelopes with the store API, start it again: "
                 "time to ready and to the first send, then drain throughput (0: skip)")
      ->capture_default_str()
      ->group(phases);
  app.add_option("--backlog-devices", o.backlog_devices, "Devices the backlog is spread over")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_option("--drain-seconds", o.drain_seconds, "At most this long draining the backlog")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_flag("--json", o.json, "Print one JSON object instead of text")->group("Output");
  CLI11_PARSE(app, argc, argv);
  if (!o.target.empty() && o.admin_socket.empty()) {
    std::cerr << "carerelay-bench: --target needs --admin-socket (to enroll devices)\n";
    return 2;
  }
  return carerelay::bench::Main(o);
}
