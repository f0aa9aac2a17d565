// carerelay-send-bench: the envelopes/s a simple concurrent sender gets
// acknowledged, with sync on and with sync off (issue 2's measurement).
//
// C threads, each one registered sender device with its own client, send
// PLAINTEXT envelopes of E bytes in a closed loop (one Send in flight per
// thread) to M recipient accounts in turn, for D seconds after a warm-up.
// A send is counted when the server acknowledged it, i.e. (sync on) when its
// write is synced to the WAL. Each send carries an idempotency key (as every
// client send does under delivery contract v2; --idempotency-keys off to
// compare), so the server's idempotency check is part of what is measured.
// Recipients never receive: this measures the write path only.
//
// The server is either started in this process (one per sync mode, each on
// its own temporary data directory, runs interleaved so that the machine's
// noise hits both modes alike) or a running carerelayd given by --target.
// In-process, the bench also counts the RocksDB WAL writes each run made by
// reading the WAL files, which shows how many sends share one write: the
// group commit. With the v2 write path (server/core/delivery_writer.h) a
// WAL write is one batch of every pending send, and one WAL sync covers one
// or more such writes, so sends per sync are at least sends per WAL write
// (carerelay-bench counts the syncs themselves).
//
// Performance is measured here, never asserted: the exit code says only
// whether every run got at least one send through.
#include <stdlib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_relay.h"
#include "bench/bench_support.h"
#include "client/relay_client.h"
#include "server/server.h"

namespace carerelay::bench {
namespace {

// Everything the bench can be told. Issue 8's load generator grows from
// here: keep one field per option, documented where it is declared to CLI11.
struct SendBenchOptions {
  // Where to send: empty target means an in-process carerelayd.
  std::string target;
  std::string ca_file;       // with --target
  std::string admin_socket;  // with --target: to issue enrollment codes
  std::string tls_dir;       // in-process: server.crt, server.key, ca.crt
  std::string tls_script = CARERELAY_SOURCE_DIR "/deploy/make-dev-tls.sh";
  std::string data_dir;       // in-process: parent of the servers' data dirs
  std::string sync = "both";  // in-process: on, off, both

  // The load.
  std::vector<int> concurrency = {1, 4, 16};
  int senders = 0;  // 0: the largest concurrency
  int recipients = 4;
  int recipient_devices = 1;
  size_t envelope_bytes = 256;
  std::string idempotency_keys = "on";
  double seconds = 5;
  double warmup_seconds = 1;
  int repeat = 1;

  // Output.
  bool json = false;
  bool quiet = false;
};

// ---------------------------------------------------------------------------
// Small utilities.

// A key no other send of this process uses: a process-wide counter (the
// bench's devices are registered afresh each time it runs).
std::string NextIdempotencyKey() {
  static std::atomic<uint64_t> next{1};
  const uint64_t n = next++;
  return std::string(reinterpret_cast<const char*>(&n), sizeof(n));
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// ---------------------------------------------------------------------------
// RocksDB WAL records, counted from the files (the format of RocksDB's
// db/log_format.h, stable since LevelDB): 32 KiB blocks of physical records,
// each with a header checksum(4) | length(2, LE) | type(1) [| log number(4)
// for the recyclable types 5..8]; one logical record is a FULL fragment or
// FIRST MIDDLE* LAST, and holds the WriteBatch of one write group:
// sequence(8) | count(4, LE) | entries. With the v2 writer a record is one
// batch of sends (and acknowledgements); each WAL sync covers one or more.

struct WalCount {
  uint64_t records = 0;  // write groups
  uint64_t entries = 0;  // puts/deletes in them
};

WalCount CountWalFile(const std::string& path) {
  constexpr size_t kBlock = 32768;
  WalCount count;
  std::ifstream in(path, std::ios::binary);
  std::string block(kBlock, '\0');
  std::string head;  // first 12 bytes of the logical record being read
  bool in_record = false;
  auto finish = [&] {
    ++count.records;
    if (head.size() >= 12) {
      const auto* p = reinterpret_cast<const unsigned char*>(head.data()) + 8;
      count.entries += p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
    }
    head.clear();
    in_record = false;
  };
  while (in) {
    in.read(block.data(), kBlock);
    size_t n = static_cast<size_t>(in.gcount());
    size_t pos = 0;
    while (pos + 7 <= n) {
      const auto* h = reinterpret_cast<const unsigned char*>(block.data()) + pos;
      size_t length = h[4] | (h[5] << 8);
      int type = h[6];
      if (type == 0 && length == 0) break;  // block trailer or preallocated space
      size_t header = (type >= 5 && type <= 8) ? 11 : 7;
      if (pos + header + length > n) return count;  // torn tail: being written
      absl::string_view payload(block.data() + pos + header, length);
      auto take_head = [&] {
        if (head.size() < 12) {
          head.append(payload.data(), std::min(payload.size(), 12 - head.size()));
        }
      };
      switch (type) {
        case 1:
        case 5:  // FULL
          head.clear();
          take_head();
          finish();
          break;
        case 2:
        case 6:  // FIRST
          head.clear();
          in_record = true;
          take_head();
          break;
        case 3:
        case 7:  // MIDDLE
          if (in_record) take_head();
          break;
        case 4:
        case 8:  // LAST
          if (in_record) {
            take_head();
            finish();
          }
          break;
        default:  // metadata records (e.g. compression type)
          break;
      }
      pos += header + length;
    }
  }
  return count;
}

// WAL files of a data directory (NNNNNN.log) and their counts.
std::map<std::string, WalCount> CountWal(const std::string& dir) {
  std::map<std::string, WalCount> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".log" &&
        std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; })) {
      out[name] = CountWalFile(entry.path().string());
    }
  }
  return out;
}

// Records written between two counts; nullopt if a WAL file was deleted in
// between (its last records are then unknown).
std::optional<WalCount> WalDelta(const std::map<std::string, WalCount>& before,
                                 const std::map<std::string, WalCount>& after) {
  WalCount d;
  for (const auto& [name, b] : before) {
    if (!after.count(name)) return std::nullopt;
  }
  for (const auto& [name, a] : after) {
    auto it = before.find(name);
    d.records += a.records - (it == before.end() ? 0 : it->second.records);
    d.entries += a.entries - (it == before.end() ? 0 : it->second.entries);
  }
  return d;
}

// ---------------------------------------------------------------------------
// A server to send to and its registered devices.

struct Device {
  client::DeviceCredentials credentials;
  std::string profile_dir;  // its keys: the identity key signs link requests
};

struct Target {
  std::string label;               // "on", "off", or "remote"
  std::unique_ptr<Server> server;  // in-process only
  std::string data_dir;            // in-process only
  client::ConnectionOptions connection;
  std::string admin_address;  // unix:... for codes
  std::vector<Device> senders;
  std::vector<std::vector<Device>> recipients;  // [account][device]
};

absl::StatusOr<std::string> IssueCode(Target& t, const std::string& name) {
  return IssueEnrollmentCode(t.server.get(), t.admin_address, name, absl::Hours(1));
}

// Registers one device with real libsignal keys (the profile is thrown away
// afterwards: the bench sends PLAINTEXT envelopes).
absl::StatusOr<Device> RegisterDevice(const Target& t, const std::string& code,
                                      const std::string& scratch) {
  auto request = MakeRegisterRequest(scratch);
  if (!request.ok()) return request.status();
  auto credentials = RegisterWithCode(t.connection, *std::move(request), code);
  if (!credentials.ok()) return credentials.status();
  return Device{*credentials, scratch};
}

absl::Status RegisterAll(Target& t, const SendBenchOptions& o, const std::string& scratch) {
  int n = 0;
  auto scratch_dir = [&] { return absl::StrCat(scratch, "/profile-", t.label, "-", n++); };
  for (int i = 0; i < o.senders; ++i) {
    auto code = IssueCode(t, absl::StrCat("Bench Sender ", i));
    if (!code.ok()) return code.status();
    auto d = RegisterDevice(t, *code, scratch_dir());
    if (!d.ok()) return d.status();
    t.senders.push_back(*d);
  }
  for (int i = 0; i < o.recipients; ++i) {
    auto code = IssueCode(t, absl::StrCat("Bench Recipient ", i));
    if (!code.ok()) return code.status();
    auto first = RegisterDevice(t, *code, scratch_dir());
    if (!first.ok()) return first.status();
    std::vector<Device> devices = {*first};
    for (int k = 1; k < o.recipient_devices; ++k) {
      auto link = IssueLinkCode(t.connection, first->credentials, first->profile_dir);
      if (!link.ok()) return link.status();
      auto d = RegisterDevice(t, *link, scratch_dir());
      if (!d.ok()) return d.status();
      devices.push_back(*d);
    }
    t.recipients.push_back(std::move(devices));
  }
  std::error_code ec;
  for (int i = 0; i < n; ++i) {
    std::filesystem::remove_all(absl::StrCat(scratch, "/profile-", t.label, "-", i), ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Target>> StartInProcess(const SendBenchOptions& o, bool sync,
                                                       const std::string& tls_dir,
                                                       const std::string& parent) {
  auto t = std::make_unique<Target>();
  t->label = sync ? "on" : "off";
  ServerConfig config = BenchServerConfig(
      "127.0.0.1:0", absl::StrCat(parent, "/data-sync-", t->label), tls_dir, sync);
  auto server = Server::Start(config);
  if (!server.ok()) return server.status();
  t->server = *std::move(server);
  t->data_dir = config.data_dir;
  t->connection.target = absl::StrCat("localhost:", t->server->port());
  t->connection.ca_file = tls_dir + "/ca.crt";
  return t;
}

// ---------------------------------------------------------------------------
// One measured run.

struct RunResult {
  std::string sync;
  int concurrency = 0;
  int repeat = 0;
  double seconds = 0;
  uint64_t sends = 0;                      // acknowledged in the measured window
  uint64_t envelopes = 0;                  // in those sends
  uint64_t all_sends = 0;                  // acknowledged, warm-up included
  uint64_t replayed = 0;                   // answered as a replay (must stay 0)
  std::map<std::string, uint64_t> errors;  // status code name -> count
  std::map<std::string, std::string> error_examples;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  double cpu_percent = 0;  // of one core, this process (server included if in-process)
  std::optional<WalCount> wal;

  double sends_per_second() const { return seconds > 0 ? sends / seconds : 0; }
  double envelopes_per_second() const { return seconds > 0 ? envelopes / seconds : 0; }
  std::optional<double> sends_per_wal_write() const {
    if (!wal || wal->records == 0) return std::nullopt;
    return static_cast<double>(all_sends) / wal->records;
  }
};

struct ThreadStats {
  std::vector<double> latencies_ms;
  uint64_t sends = 0, envelopes = 0, all_sends = 0, replayed = 0;
  std::map<std::string, uint64_t> errors;
  std::map<std::string, std::string> error_examples;
};

RunResult RunOnce(Target& t, const SendBenchOptions& o, int concurrency, int repeat) {
  using SteadyClock = std::chrono::steady_clock;
  std::map<std::string, WalCount> wal_before;
  if (!t.data_dir.empty()) wal_before = CountWal(t.data_dir);

  std::vector<ThreadStats> stats(concurrency);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  SteadyClock::time_point measure_start, measure_end;
  const auto warmup = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(o.warmup_seconds));
  const auto window =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.seconds));

  for (int i = 0; i < concurrency; ++i) {
    threads.emplace_back([&, i] {
      ThreadStats& s = stats[i];
      s.latencies_ms.reserve(1 << 16);
      auto client = client::RelayClient::Create(t.connection);
      if (!client.ok()) {
        s.errors[absl::StatusCodeToString(client.status().code())]++;
        ready++;
        return;
      }
      (*client)->SetCredentials(t.senders[i].credentials);
      // One request per recipient account, built once; each send stamps a
      // counter into the content so that no two envelopes are equal.
      std::mt19937_64 rng(i * 7919 + repeat);
      std::vector<v1::SendRequest> requests;
      for (const auto& account : t.recipients) {
        v1::SendRequest r;
        r.set_account_id(account[0].credentials.account_id);
        for (const auto& d : account) {
          auto* e = r.add_envelopes();
          e->set_account_id(d.credentials.account_id);
          e->set_device_id(d.credentials.device_id);
          e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
          std::string content(std::max<size_t>(o.envelope_bytes, 8), '\0');
          for (char& c : content) c = static_cast<char>(rng());
          e->set_content(std::move(content));
        }
        requests.push_back(std::move(r));
      }
      ready++;
      while (!go) std::this_thread::yield();
      uint64_t counter = 0;
      for (size_t k = i;; ++k) {
        v1::SendRequest& r = requests[k % requests.size()];
        ++counter;
        for (auto& e : *r.mutable_envelopes()) {
          std::memcpy(e.mutable_content()->data(), &counter, sizeof(counter));
        }
        if (o.idempotency_keys == "on") r.set_idempotency_key(NextIdempotencyKey());
        auto start = SteadyClock::now();
        if (start >= measure_end) break;
        auto sent = (*client)->Send(r);
        auto end = SteadyClock::now();
        if (sent.ok()) {
          ++s.all_sends;
          if (sent->replayed()) ++s.replayed;
          if (start >= measure_start && end <= measure_end) {
            ++s.sends;
            s.envelopes += r.envelopes_size();
            s.latencies_ms.push_back(
                std::chrono::duration<double, std::milli>(end - start).count());
          }
        } else {
          std::string code = absl::StatusCodeToString(sent.status().code());
          if (start >= measure_start && end <= measure_end) s.errors[code]++;
          if (!s.error_examples.count(code)) {
            s.error_examples[code] = std::string(sent.status().message());
          }
        }
      }
    });
  }
  while (ready < concurrency) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto now = SteadyClock::now();
  measure_start = now + warmup;
  measure_end = measure_start + window;
  double cpu_start = 0;
  std::thread cpu_probe([&] {
    std::this_thread::sleep_until(measure_start);
    cpu_start = CpuSeconds();
  });
  go = true;
  cpu_probe.join();
  for (auto& th : threads) th.join();
  double cpu_end = CpuSeconds();

  RunResult r;
  r.sync = t.label;
  r.concurrency = concurrency;
  r.repeat = repeat;
  r.seconds = o.seconds;
  std::vector<double> latencies;
  for (auto& s : stats) {
    r.sends += s.sends;
    r.envelopes += s.envelopes;
    r.all_sends += s.all_sends;
    r.replayed += s.replayed;
    for (auto& [code, n] : s.errors) r.errors[code] += n;
    for (auto& [code, m] : s.error_examples) r.error_examples.emplace(code, m);
    latencies.insert(latencies.end(), s.latencies_ms.begin(), s.latencies_ms.end());
  }
  std::sort(latencies.begin(), latencies.end());
  r.p50_ms = Percentile(latencies, 50);
  r.p90_ms = Percentile(latencies, 90);
  r.p99_ms = Percentile(latencies, 99);
  r.p999_ms = Percentile(latencies, 99.9);
  r.max_ms = latencies.empty() ? 0 : latencies.back();
  double sum = 0;
  for (double l : latencies) sum += l;
  r.mean_ms = latencies.empty() ? 0 : sum / latencies.size();
  // Includes the last sends' tail after the window; close enough for a
  // coarse "what is saturated" figure.
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - measure_start).count();
  r.cpu_percent = elapsed > 0 ? 100.0 * (cpu_end - cpu_start) / elapsed : 0;
  if (!t.data_dir.empty()) r.wal = WalDelta(wal_before, CountWal(t.data_dir));
  return r;
}

// ---------------------------------------------------------------------------
// Reporting.

nlohmann::json ToJson(const RunResult& r) {
  nlohmann::json j = {
      {"sync", r.sync},
      {"concurrency", r.concurrency},
      {"repeat", r.repeat},
      {"seconds", r.seconds},
      {"sends", r.sends},
      {"envelopes", r.envelopes},
      {"sends_per_second", r.sends_per_second()},
      {"envelopes_per_second", r.envelopes_per_second()},
      {"latency_ms",
       {{"mean", r.mean_ms},
        {"p50", r.p50_ms},
        {"p90", r.p90_ms},
        {"p99", r.p99_ms},
        {"p99_9", r.p999_ms},
        {"max", r.max_ms}}},
      {"errors", r.errors},
      {"error_examples", r.error_examples},
      {"replayed", r.replayed},
      {"process_cpu_percent", r.cpu_percent},
  };
  if (r.wal) {
    j["wal"] = {{"sends_incl_warmup", r.all_sends},
                {"write_groups", r.wal->records},
                {"entries", r.wal->entries}};
    if (auto g = r.sends_per_wal_write()) j["wal"]["sends_per_write_group"] = *g;
  }
  return j;
}

struct Summary {
  std::string sync;
  int concurrency;
  double envelopes_per_second, sends_per_second, p50_ms, p99_ms;
  std::optional<double> sends_per_wal_write;
  uint64_t errors;
};

std::vector<Summary> Summarize(const std::vector<RunResult>& runs,
                               const std::vector<std::string>& labels,
                               const std::vector<int>& concurrency) {
  std::vector<Summary> out;
  for (const auto& label : labels) {
    for (int c : concurrency) {
      std::vector<double> eps, sps, p50, p99, group;
      uint64_t errors = 0;
      for (const auto& r : runs) {
        if (r.sync != label || r.concurrency != c) continue;
        eps.push_back(r.envelopes_per_second());
        sps.push_back(r.sends_per_second());
        p50.push_back(r.p50_ms);
        p99.push_back(r.p99_ms);
        if (auto g = r.sends_per_wal_write()) group.push_back(*g);
        for (const auto& [code, n] : r.errors) errors += n;
      }
      Summary s{label, c, Median(eps), Median(sps), Median(p50), Median(p99), std::nullopt, errors};
      if (!group.empty()) s.sends_per_wal_write = Median(group);
      out.push_back(s);
    }
  }
  return out;
}

std::string SyncName(const std::string& label) {
  return label == "on" ? "on" : label == "off" ? "off" : "srv";  // as the server is set
}

void PrintRun(const RunResult& r) {
  std::string errors;
  for (const auto& [code, n] : r.errors) absl::StrAppend(&errors, " ", code, "=", n);
  std::cout << absl::StrFormat(
      "  sync %-3s  conc %3d  run %d:  %9.0f sends/s  %9.0f envelopes/s  p50 %6.2f ms  p99 "
      "%7.2f ms  cpu %4.0f%%%s%s\n",
      SyncName(r.sync), r.concurrency, r.repeat + 1, r.sends_per_second(), r.envelopes_per_second(),
      r.p50_ms, r.p99_ms, r.cpu_percent,
      r.sends_per_wal_write() ? absl::StrFormat("  %.1f sends/WAL write", *r.sends_per_wal_write())
                              : "",
      errors.empty() ? "" : "  errors:" + errors);
  for (const auto& [code, message] : r.error_examples) {
    std::cout << "      e.g. " << code << ": " << message << "\n";
  }
}

void PrintSummary(const std::vector<Summary>& summary, const SendBenchOptions& o) {
  std::cout << "\nSummary (median of " << o.repeat << " run" << (o.repeat > 1 ? "s" : "")
            << " per configuration)\n";
  std::cout << "  sync  concurrency  envelopes/s    sends/s   p50 ms   p99 ms  sends/WAL write"
               "  errors\n";
  for (const auto& s : summary) {
    std::cout << absl::StrFormat(
        "  %-4s  %11d  %11.0f  %9.0f  %7.2f  %7.2f  %15s  %6d\n", SyncName(s.sync), s.concurrency,
        s.envelopes_per_second, s.sends_per_second, s.p50_ms, s.p99_ms,
        s.sends_per_wal_write ? absl::StrFormat("%.1f", *s.sends_per_wal_write) : "n/a", s.errors);
  }
}

// Group commit shows as throughput that grows with concurrency under sync
// (one sync serves many sends) and as sends per WAL write above 1.
nlohmann::json GroupCommit(const std::vector<Summary>& summary, bool print) {
  nlohmann::json j = nlohmann::json::object();
  const Summary* low = nullptr;
  const Summary* high = nullptr;
  for (const auto& s : summary) {
    if (s.sync != "on") continue;
    if (!low || s.concurrency < low->concurrency) low = &s;
    if (!high || s.concurrency > high->concurrency) high = &s;
  }
  if (!low || !high || low == high || low->envelopes_per_second <= 0) return j;
  double scaling = high->envelopes_per_second / low->envelopes_per_second;
  j = {{"low_concurrency", low->concurrency},
       {"high_concurrency", high->concurrency},
       {"envelopes_per_second_ratio", scaling}};
  if (high->sends_per_wal_write) j["sends_per_wal_write_at_high"] = *high->sends_per_wal_write;
  if (print) {
    std::cout << absl::StrFormat(
        "\nGroup commit (sync on): concurrency %d reaches %.1fx the envelopes/s of concurrency "
        "%d",
        high->concurrency, scaling, low->concurrency);
    if (high->sends_per_wal_write) {
      std::cout << absl::StrFormat("; %.1f sends share each WAL write", *high->sends_per_wal_write);
    }
    std::cout << ".\n";
  }
  return j;
}

int Main(const SendBenchOptions& o) {
  TempDir scratch("carerelay-send-bench", 1);
  std::vector<std::unique_ptr<Target>> targets;
  std::string tls_dir;
  std::string data_parent = o.data_dir.empty() ? scratch.path() : o.data_dir;
  if (o.target.empty()) {
    auto tls = PrepareTls(o.tls_dir, o.tls_script, scratch.path(), ScriptStderr::kShow,
                          "give --tls-dir or --tls-script");
    if (!tls.ok()) {
      std::cerr << "carerelay-send-bench: " << tls.status().message() << "\n";
      return 2;
    }
    tls_dir = *tls;
    std::vector<bool> modes;
    if (o.sync != "off") modes.push_back(true);
    if (o.sync != "on") modes.push_back(false);
    for (bool sync : modes) {
      auto t = StartInProcess(o, sync, tls_dir, data_parent);
      if (!t.ok()) {
        std::cerr << "carerelay-send-bench: cannot start carerelayd: " << t.status() << "\n";
        return 2;
      }
      targets.push_back(*std::move(t));
    }
  } else {
    auto t = std::make_unique<Target>();
    t->label = "remote";
    t->connection.target = o.target;
    t->connection.ca_file = o.ca_file;
    t->admin_address = "unix:" + std::filesystem::absolute(o.admin_socket).string();
    targets.push_back(std::move(t));
  }
  for (auto& t : targets) {
    absl::Status s = RegisterAll(*t, o, scratch.path());
    if (!s.ok()) {
      std::cerr << "carerelay-send-bench: registering the bench's devices failed: " << s << "\n";
      if (absl::IsResourceExhausted(s)) {
        std::cerr << "  (give the server higher --registrations-per-minute and "
                     "--registration-burst for a benchmark)\n";
      }
      return 2;
    }
  }

  const bool human = !o.json;
  if (human && !o.quiet) {
    std::cout << "carerelay-send-bench: "
              << (o.target.empty() ? "in-process carerelayd over TLS on loopback (server and "
                                     "load generator share this machine's CPUs)"
                                   : "carerelayd at " + o.target +
                                         " (sync as that server is configured: \"srv\")")
              << "\n  " << o.senders << " sender devices, " << o.recipients
              << " recipient accounts x " << o.recipient_devices << " device(s), "
              << o.envelope_bytes << "-byte envelopes, closed loop, " << o.seconds
              << " s measured after " << o.warmup_seconds << " s warm-up, " << o.repeat
              << " repeat(s); " << std::thread::hardware_concurrency() << " CPUs\n\n";
  }
  std::vector<RunResult> runs;
  bool all_sent = true;
  // Interleaved: every configuration sees the same drift of a noisy machine.
  for (int rep = 0; rep < o.repeat; ++rep) {
    for (int c : o.concurrency) {
      for (auto& t : targets) {
        RunResult r = RunOnce(*t, o, c, rep);
        if (r.sends == 0) all_sent = false;
        if (human && !o.quiet) PrintRun(r);
        runs.push_back(std::move(r));
      }
    }
  }
  std::vector<std::string> labels;
  for (auto& t : targets) labels.push_back(t->label);
  auto summary = Summarize(runs, labels, o.concurrency);
  if (human) {
    PrintSummary(summary, o);
    GroupCommit(summary, true);
  } else {
    nlohmann::json j;
    j["config"] = {{"target", o.target.empty() ? "in-process" : o.target},
                   {"senders", o.senders},
                   {"recipients", o.recipients},
                   {"recipient_devices", o.recipient_devices},
                   {"envelope_bytes", o.envelope_bytes},
                   {"seconds", o.seconds},
                   {"warmup_seconds", o.warmup_seconds},
                   {"repeat", o.repeat},
                   {"concurrency", o.concurrency},
                   {"sync", o.target.empty() ? o.sync : "server's setting"}};
    j["machine"] = {{"cpus", std::thread::hardware_concurrency()}};
    j["runs"] = nlohmann::json::array();
    for (const auto& r : runs) j["runs"].push_back(ToJson(r));
    j["summary"] = nlohmann::json::array();
    for (const auto& s : summary) {
      nlohmann::json e = {{"sync", s.sync},
                          {"concurrency", s.concurrency},
                          {"envelopes_per_second", s.envelopes_per_second},
                          {"sends_per_second", s.sends_per_second},
                          {"p50_ms", s.p50_ms},
                          {"p99_ms", s.p99_ms},
                          {"errors", s.errors}};
      if (s.sends_per_wal_write) e["sends_per_wal_write"] = *s.sends_per_wal_write;
      j["summary"].push_back(e);
    }
    j["group_commit"] = GroupCommit(summary, false);
    std::cout << j.dump(2) << "\n";
  }
  for (auto& t : targets) {
    if (t->server) t->server->Shutdown(absl::Seconds(5));
  }
  if (!all_sent) {
    std::cerr << "carerelay-send-bench: a run got no send acknowledged (see its errors)\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  using carerelay::bench::SendBenchOptions;
  SendBenchOptions o;
  CLI::App app{
      "carerelay-send-bench: envelopes/s that concurrent senders get acknowledged by carerelayd, "
      "with sync on and off"};
  app.footer(
      "Examples:\n"
      "  carerelay-send-bench                                  # in-process, sync on and off\n"
      "  carerelay-send-bench --concurrency 1,16 --seconds 10 --repeat 3 --json\n"
      "  carerelay-send-bench --target localhost:7443 --ca-file deploy/dev-tls/ca.crt \\\n"
      "      --admin-socket data/admin.sock   # a running server started with high limits\n"
      "See bench/README.md.");
  auto* where = "Server";
  app.add_option("--target", o.target,
                 "host:port of a running carerelayd (default: start one in this process)")
      ->group(where);
  app.add_option("--ca-file", o.ca_file, "With --target: PEM CA of the server's certificate")
      ->group(where);
  app.add_option("--admin-socket", o.admin_socket,
                 "With --target: the server's DATA_DIR/admin.sock, to issue enrollment codes. The "
                 "server needs limits a benchmark does not hit: --sends-per-second, "
                 "--send-burst, --max-queue-depth, --registrations-per-minute")
      ->group(where);
  app.add_option("--tls-dir", o.tls_dir,
                 "In-process: directory with server.crt, server.key, ca.crt (default: made with "
                 "--tls-script in a temporary directory)")
      ->group(where);
  app.add_option("--tls-script", o.tls_script, "Script making development TLS material")
      ->capture_default_str()
      ->group(where);
  app.add_option("--data-dir", o.data_dir,
                 "In-process: where the servers' data directories go (kept; default: a "
                 "temporary directory, removed)")
      ->group(where);
  app.add_option("--sync", o.sync,
                 "In-process: sync the WAL before acknowledging (on), not (off), or run both "
                 "servers interleaved (both)")
      ->check(CLI::IsMember({"both", "on", "off"}))
      ->capture_default_str()
      ->group(where);
  auto* load = "Load";
  app.add_option("--concurrency,-c", o.concurrency,
                 "Concurrent sender threads (each its own device), one run per value")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--senders", o.senders, "Sender devices to register (default: max concurrency)")
      ->check(CLI::NonNegativeNumber)
      ->group(load);
  app.add_option("--recipients", o.recipients, "Recipient accounts, sent to in turn")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--recipient-devices", o.recipient_devices,
                 "Devices per recipient account (one envelope each per send)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str()
      ->group(load);
  app.add_option("--envelope-bytes", o.envelope_bytes, "Content bytes per envelope")
      ->check(CLI::Range(8, 256 * 1024))
      ->capture_default_str()
      ->group(load);
  app.add_option("--idempotency-keys", o.idempotency_keys,
                 "A unique SendRequest.idempotency_key on every send")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->group(load);
  app.add_option("--seconds", o.seconds, "Measured seconds per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--warmup-seconds", o.warmup_seconds, "Unmeasured seconds before each run")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(load);
  app.add_option("--repeat", o.repeat,
                 "Runs per configuration (interleaved); the summary gives medians")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(load);
  auto* output = "Output";
  app.add_flag("--json", o.json, "Print one JSON document instead of tables")->group(output);
  app.add_flag("--quiet,-q", o.quiet, "Human output: only the summary")->group(output);
  CLI11_PARSE(app, argc, argv);

  int max_c = *std::max_element(o.concurrency.begin(), o.concurrency.end());
  if (o.senders == 0) o.senders = max_c;
  if (o.senders < max_c) {
    std::cerr << "carerelay-send-bench: --senders (" << o.senders
              << ") must be at least the largest --concurrency (" << max_c
              << "): each thread sends as its own device\n";
    return 2;
  }
  if (!o.target.empty() && o.admin_socket.empty()) {
    std::cerr << "carerelay-send-bench: --target needs --admin-socket (to enroll the bench's "
                 "devices)\n";
    return 2;
  }
  return carerelay::bench::Main(o);
}
