// carerelay-bench: the delivery contract v2 (issue 14), measured fairly.
//
// Three kinds of processes: carerelayd (started here on a temporary data
// directory, or a running one), carerelay-noop-relay (the same protocol with
// no storage: the ceiling) and this generator, which drives both the same
// way: the same care teams, devices, requests and connection layout (one
// TLS connection per device, device_channel.h), from one or two threads
// (async_load.h). Runs are interleaved (for each repeat, each run kind, the
// no-op relay then carerelayd), so that a noisy machine's drift hits both.
//
// Run kinds: stop-and-wait (window 1, each message acknowledged before the
// next read: the v1 client, labelled as such), a closed loop per window size
// of the sweep (cumulative acknowledgements, one in flight per device), and
// an open loop at a fixed offered rate (latency from each send's due time;
// the generator's lag behind its schedule makes the run invalid when high).
//
// Per run: envelopes/s delivered; send->delivery p50/p99/p99.9; the server
// process's CPU µs and context switches per delivered envelope (/proc/PID
// read at the window's edges); its syncs/s and sends per sync (fdatasync and
// fsync calls counted by perf); fdatasync p50/p99 of the data directory's
// disk in the same seconds (carerelay-fsync-probe beside the server); the
// load average. JSON with --json.
//
// Then, optionally: idle streams (server RSS per open stream) and a backlog
// (fill N envelopes through the relay with no receiver, restart, time to
// ready and to the first send, drain throughput).
//
// Performance is measured here, never asserted: the exit code says only
// whether the runs got envelopes delivered without setup errors.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/async_load.h"
#include "bench/bench_devices.h"
#include "bench/bench_support.h"
#include "bench/device_channel.h"
#include "bench/idle_streams.h"
#include "bench/load_world.h"
#include "bench/proc_stats.h"
#include "bench/rocksdb_baseline.h"
#include "bench/server_process.h"
#include "bench/window_sampler.h"
#include "client/relay_client.h"

namespace carerelay::bench {
namespace {

struct Options {
  // Programs.
  std::string server_binary = CARERELAYD_PATH;
  std::string noop_binary = NOOP_RELAY_PATH;
  std::string probe_binary = FSYNC_PROBE_PATH;
  std::string perf_binary = "perf";
  bool no_perf = false;
  // Server.
  std::string target;
  std::string ca_file;
  std::string admin_socket;
  int server_pid = 0;
  std::string data_dir;  // with --target: for the fdatasync probe
  std::string tls_dir;
  std::string tls_script = CARERELAY_SOURCE_DIR "/deploy/make-dev-tls.sh";
  std::string sync = "on";
  std::vector<std::string> server_args;
  std::vector<std::string> systems = {"noop", "carerelay"};
  // World.
  int teams = 4;
  int members = 4;
  int devices = 1;
  size_t envelope_bytes = 256;
  int setup_threads = 4;
  // Runs.
  std::vector<uint32_t> windows = {1, 4, 16, 64};
  bool sweep = true;
  bool stop_and_wait = true;
  double open_loop_rate = 2000;
  uint32_t open_loop_window = 16;
  uint32_t max_envelopes_per_message = 0;
  // Enough to saturate a synced relay whose sync takes milliseconds (with 64,
  // the closed loop measured the fsync's latency, not the relay's capacity).
  int in_flight = 256;
  double duration = 30;
  double warmup = 2;
  double drain = 10;
  int repeat = 1;
  int threads = 2;
  bool receipts = true;
  bool idempotency_keys = true;
  double max_lag_ms = 1.0;
  double probe_rate = 20;
  // Phases.
  bool load = true;
  bool rocksdb_baseline = false;
  int idle_streams = 0;
  int streams_per_connection = 200;
  uint64_t backlog = 0;
  int backlog_devices = 16;
  double backlog_seconds = 600;
  // Output.
  bool json = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Many connections need many descriptors: the soft limit up to the hard one.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// ---------------------------------------------------------------------------
// The systems under test.

struct System {
  std::string name;  // carerelay, noop
  ServerProcess server;
  pid_t pid = 0;  // 0: unknown (a --target without --server-pid)
  std::vector<DeviceChannel> channels;
};

// carerelayd's "event=delivery_stats ..." line (logged at shutdown, over
// its whole life): what the server itself counted.
std::optional<nlohmann::json> DeliveryStatsFromLog(const std::string& log) {
  std::optional<nlohmann::json> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("event=delivery_stats");
    if (at == std::string::npos) continue;
    unsigned long long batches = 0, syncs = 0, sends = 0, envelopes = 0, acks = 0;
    if (sscanf(line.c_str() + at,
               "event=delivery_stats batches=%llu syncs=%llu sends=%llu envelopes=%llu acks=%llu",
               &batches, &syncs, &sends, &envelopes, &acks) == 5) {
      out = nlohmann::json{{"batches", batches},
                           {"syncs", syncs},
                           {"sends", sends},
                           {"envelopes", envelopes},
                           {"acks", acks},
                           {"sends_per_sync", syncs ? static_cast<double>(sends) / syncs : 0.0}};
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Runs.

struct RunKind {
  std::string label;
  LoadSpec spec;
};

std::vector<RunKind> RunKinds(const Options& o) {
  LoadSpec base;
  base.max_envelopes_per_message = o.max_envelopes_per_message;
  base.in_flight = o.in_flight;
  base.warmup_seconds = o.warmup;
  base.seconds = o.duration;
  base.drain_seconds = o.drain;
  base.want_receipts = o.receipts;
  base.idempotency_keys = o.idempotency_keys;
  base.threads = o.threads;
  base.max_lag_p99_ms = o.max_lag_ms;
  std::vector<RunKind> kinds;
  if (o.stop_and_wait) {
    RunKind k{"stop-and-wait", base};
    k.spec.ack_mode = AckMode::kStopAndWait;
    k.spec.window_messages = 1;
    kinds.push_back(k);
  }
  for (uint32_t w : o.sweep ? o.windows : std::vector<uint32_t>()) {
    RunKind k{absl::StrCat("window ", w), base};
    k.spec.window_messages = w;
    kinds.push_back(k);
  }
  if (o.open_loop_rate > 0) {
    RunKind k{absl::StrFormat("open loop %.0f/s", o.open_loop_rate), base};
    k.spec.send_mode = SendMode::kOpenLoop;
    k.spec.envelope_rate = o.open_loop_rate;
    k.spec.window_messages = o.open_loop_window;
    kinds.push_back(k);
  }
  return kinds;
}

struct RunRecord {
  std::string system;
  RunKind kind;
  int repeat = 0;
  LoadResult load;
  WindowSample sample;
};

double ServerCpuSeconds(const RunRecord& r) {
  if (!r.sample.server_before || !r.sample.server_after) return -1;
  return r.sample.server_after->cpu_seconds - r.sample.server_before->cpu_seconds;
}

double ServerSwitches(const RunRecord& r) {
  if (!r.sample.server_before || !r.sample.server_after) return -1;
  return static_cast<double>(r.sample.server_after->switches()) -
         static_cast<double>(r.sample.server_before->switches());
}

nlohmann::json DistributionJson(const Distribution& d) {
  return {{"count", d.count}, {"p50", d.p50}, {"p90", d.p90},  {"p99", d.p99},
          {"p99_9", d.p999},  {"max", d.max}, {"mean", d.mean}};
}

const char* kNa = "n/a";

nlohmann::json RunJson(const RunRecord& r) {
  const LoadResult& l = r.load;
  const LoadSpec& s = r.kind.spec;
  nlohmann::json j = {
      {"system", r.system},
      {"run", r.kind.label},
      {"repeat", r.repeat},
      {"mode", s.send_mode == SendMode::kOpenLoop ? "open-loop" : "closed-loop"},
      {"acknowledgement", s.ack_mode == AckMode::kStopAndWait ? "stop-and-wait" : "cumulative"},
      {"window_messages", s.ack_mode == AckMode::kStopAndWait ? 1u : s.window_messages},
      {"max_envelopes_per_message", s.max_envelopes_per_message},
      {"sends_in_flight", s.send_mode == SendMode::kClosedLoop ? s.in_flight : 0},
      {"offered_envelopes_per_second", s.send_mode == SendMode::kOpenLoop ? s.envelope_rate : 0},
      {"want_receipts", s.want_receipts},
      {"idempotency_keys", s.idempotency_keys},
      {"valid", l.valid},
      {"invalid_reasons", l.invalid_reasons},
      {"seconds", l.seconds},
      {"envelopes_delivered", l.delivered},
      {"envelopes_delivered_per_second", l.delivered_per_second()},
      {"sends", l.sends},
      {"sends_per_second", l.sends_per_second()},
      {"envelopes_sent", l.envelopes_sent},
      {"latency_ms", DistributionJson(l.latency_ms)},
      {"send_rtt_ms", DistributionJson(l.send_rtt_ms)},
      {"receipts",
       {{"watermarks", l.watermarks},
        {"watermark_only_messages", l.watermark_only_messages},
        {"send_to_receipt_ms", DistributionJson(l.receipt_ms)},
        {"untracked", l.receipts_untracked}}},
      {"receive",
       {{"messages", l.messages},
        {"envelopes_per_message", l.envelopes_per_message()},
        {"acks", l.acks},
        {"ack_rtt_ms", DistributionJson(l.ack_rtt_ms)},
        {"acked_deleted", l.acked_deleted},
        {"duplicates", l.duplicates},
        {"stale", l.stale},
        {"other", l.other}}},
      {"undelivered_after_drain", l.undelivered_after_drain},
      {"streams", l.streams},
      {"streams_ready", l.streams_ready},
      {"errors", l.errors},
      {"error_examples", l.error_examples},
      {"generator",
       {{"threads", s.threads},
        {"cpu_seconds", l.generator_cpu_seconds},
        {"cpu_percent_of_one_core", l.seconds > 0 ? 100 * l.generator_cpu_seconds / l.seconds : 0},
        {"offered_sends", l.offered_sends},
        {"issued_sends", l.issued_sends},
        {"lag_ms", DistributionJson(l.lag_ms)}}},
      {"load_average",
       {{"before",
         {r.sample.load_before.one, r.sample.load_before.five, r.sample.load_before.fifteen}},
        {"after",
         {r.sample.load_after.one, r.sample.load_after.five, r.sample.load_after.fifteen}}}},
  };
  const double cpu = ServerCpuSeconds(r);
  if (cpu >= 0) {
    const double switches = ServerSwitches(r);
    j["server"] = {{"cpu_seconds", cpu},
                   {"cpu_percent_of_one_core", l.seconds > 0 ? 100 * cpu / l.seconds : 0},
                   {"cpu_us_per_envelope", l.delivered ? 1e6 * cpu / l.delivered : 0},
                   {"context_switches", switches},
                   {"voluntary_context_switches",
                    static_cast<double>(r.sample.server_after->voluntary_switches) -
                        static_cast<double>(r.sample.server_before->voluntary_switches)},
                   {"context_switches_per_envelope", l.delivered ? switches / l.delivered : 0},
                   {"rss_mib", r.sample.server_after->rss_mib},
                   {"peak_rss_mib", r.sample.server_after->peak_mib},
                   {"threads_before", r.sample.server_before->threads},
                   {"threads_after", r.sample.server_after->threads}};
  } else {
    j["server"] = kNa;
    j["server_unavailable_because"] =
        r.sample.server_error.empty() ? "no server pid (give --server-pid)" : r.sample.server_error;
  }
  if (r.sample.syncs) {
    const uint64_t syncs = r.sample.syncs->syncs();
    j["syncs"] = {{"fdatasync", r.sample.syncs->fdatasync},
                  {"fsync", r.sample.syncs->fsync},
                  {"per_second", l.seconds > 0 ? syncs / l.seconds : 0},
                  {"sends_per_sync", syncs ? static_cast<double>(l.sends) / syncs : 0},
                  {"envelopes_per_sync", syncs ? static_cast<double>(l.envelopes_sent) / syncs : 0},
                  {"counted_by", "perf stat syscalls:sys_enter_fdatasync,sys_enter_fsync -p PID"}};
  } else {
    j["syncs"] = kNa;
    j["syncs_unavailable_because"] = r.sample.syncs_unavailable;
  }
  if (r.sample.fsync) {
    j["fdatasync_probe"] = {{"syncs", r.sample.fsync->syncs},
                            {"p50_ms", r.sample.fsync->p50_ms},
                            {"p99_ms", r.sample.fsync->p99_ms},
                            {"max_ms", r.sample.fsync->max_ms},
                            {"filesystem", r.sample.fsync->filesystem},
                            {"what", "4 KiB append + fdatasync, beside the server"}};
  } else {
    j["fdatasync_probe"] = kNa;
    j["fdatasync_probe_unavailable_because"] = r.sample.fsync_unavailable;
  }
  return j;
}

void PrintRun(const RunRecord& r) {
  const LoadResult& l = r.load;
  std::cout << absl::StrFormat(
      "%-9s %-17s %8.0f envelopes/s  latency p50 %.2f p99 %.2f p99.9 %.2f ms%s\n", r.system,
      r.kind.label, l.delivered_per_second(), l.latency_ms.p50, l.latency_ms.p99, l.latency_ms.p999,
      l.valid ? "" : "  [INVALID]");
  std::string server = "server n/a";
  const double cpu = ServerCpuSeconds(r);
  if (cpu >= 0 && l.delivered > 0) {
    server = absl::StrFormat(
        "server %.0f%% of a core, %.1f us and %.2f context switches per "
        "envelope",
        100 * cpu / l.seconds, 1e6 * cpu / l.delivered, ServerSwitches(r) / l.delivered);
  }
  std::string syncs = "syncs n/a";
  if (r.sample.syncs) {
    const uint64_t n = r.sample.syncs->syncs();
    syncs = absl::StrFormat("%.0f syncs/s, %.1f sends per sync", n / l.seconds,
                            n ? static_cast<double>(l.sends) / n : 0.0);
  }
  std::cout << absl::StrFormat("          %s; %s\n", server, syncs);
  std::cout << absl::StrFormat(
      "          %.1f envelopes per message, Ack p50 %.2f ms, Send p50 %.2f ms, receipt p50 %.2f "
      "ms; generator %.0f%% of a core",
      l.envelopes_per_message(), l.ack_rtt_ms.p50, l.send_rtt_ms.p50, l.receipt_ms.p50,
      l.seconds > 0 ? 100 * l.generator_cpu_seconds / l.seconds : 0);
  if (r.kind.spec.send_mode == SendMode::kOpenLoop) {
    std::cout << absl::StrFormat(", lag p99 %.2f ms (%d/%d sends)", l.lag_ms.p99, l.issued_sends,
                                 l.offered_sends);
  }
  std::cout << "\n";
  std::cout << absl::StrFormat(
      "          fdatasync %s; load average %.2f -> %.2f",
      r.sample.fsync
          ? absl::StrFormat("p50 %.2f p99 %.2f ms", r.sample.fsync->p50_ms, r.sample.fsync->p99_ms)
          : "n/a",
      r.sample.load_before.one, r.sample.load_after.one);
  std::string errors;
  for (const auto& [code, n] : l.errors) absl::StrAppend(&errors, " ", code, "=", n);
  if (!errors.empty()) std::cout << "; errors:" << errors;
  if (l.undelivered_after_drain) std::cout << "; " << l.undelivered_after_drain << " NOT delivered";
  std::cout << "\n";
  for (const auto& [code, m] : l.error_examples) std::cout << "          e.g. " << m << "\n";
  for (const auto& reason : l.invalid_reasons) std::cout << "          invalid: " << reason << "\n";
}

// Medians per (system, run kind), and the targets.
nlohmann::json Summarize(const std::vector<RunRecord>& records, const std::vector<RunKind>& kinds,
                         const std::vector<std::string>& systems, bool human) {
  auto median = [&](const std::string& system, const std::string& label, auto f) {
    std::vector<double> v;
    for (const auto& r : records) {
      if (r.system == system && r.kind.label == label) v.push_back(f(r));
    }
    return v.empty() ? std::optional<double>() : std::optional<double>(Median(v));
  };
  nlohmann::json rows = nlohmann::json::array();
  std::string best_label;
  double best = -1;
  if (human) std::cout << "\nSummary (median of the repeats)\n";
  for (const auto& kind : kinds) {
    nlohmann::json row = {{"run", kind.label}};
    std::optional<double> relay_eps, noop_eps;
    for (const auto& system : systems) {
      auto eps = median(system, kind.label,
                        [](const RunRecord& r) { return r.load.delivered_per_second(); });
      auto p99 =
          median(system, kind.label, [](const RunRecord& r) { return r.load.latency_ms.p99; });
      auto cpu_us = median(system, kind.label, [](const RunRecord& r) {
        const double cpu = ServerCpuSeconds(r);
        return cpu >= 0 && r.load.delivered ? 1e6 * cpu / r.load.delivered : -1.0;
      });
      bool valid = true;
      for (const auto& r : records) {
        if (r.system == system && r.kind.label == kind.label && !r.load.valid) valid = false;
      }
      if (!eps) continue;
      row[system] = {{"envelopes_delivered_per_second", *eps},
                     {"p99_ms", *p99},
                     {"server_cpu_us_per_envelope", *cpu_us},
                     {"valid", valid}};
      if (system == "carerelay") relay_eps = eps;
      if (system == "noop") noop_eps = eps;
    }
    if (relay_eps && noop_eps && *noop_eps > 0) row["carerelay_over_noop"] = *relay_eps / *noop_eps;
    if (relay_eps && kind.spec.send_mode == SendMode::kClosedLoop &&
        kind.spec.ack_mode == AckMode::kCumulative && *relay_eps > best) {
      best = *relay_eps;
      best_label = kind.label;
    }
    if (human) {
      std::cout << absl::StrFormat("  %-17s", kind.label);
      for (const auto& system : systems) {
        if (row.contains(system)) {
          std::cout << absl::StrFormat("  %s %.0f/s p99 %.2f ms%s", system,
                                       row[system]["envelopes_delivered_per_second"].get<double>(),
                                       row[system]["p99_ms"].get<double>(),
                                       row[system]["valid"].get<bool>() ? "" : " [INVALID]");
        }
      }
      if (row.contains("carerelay_over_noop")) {
        std::cout << absl::StrFormat("  = %.0f%% of the no-op relay",
                                     100 * row["carerelay_over_noop"].get<double>());
      }
      std::cout << "\n";
    }
    rows.push_back(row);
  }
  // The targets of issue 14, from these runs: measured, never asserted.
  nlohmann::json targets = nlohmann::json::array();
  auto target = [&](const std::string& what, std::optional<double> value, double bound,
                    bool at_most, const std::string& where) {
    nlohmann::json t = {{"target", what}, {"bound", bound}, {"where", where}};
    if (value) {
      t["measured"] = *value;
      t["met"] = at_most ? *value <= bound : *value >= bound;
    } else {
      t["measured"] = kNa;
      t["met"] = kNa;
    }
    targets.push_back(t);
  };
  std::optional<double> best_eps, best_ratio, best_cpu, open_p99;
  std::string open_label;
  for (const auto& row : rows) {
    if (row["run"] == best_label) {
      if (row.contains("carerelay")) {
        best_eps = row["carerelay"]["envelopes_delivered_per_second"].get<double>();
        const double cpu = row["carerelay"]["server_cpu_us_per_envelope"].get<double>();
        if (cpu >= 0) best_cpu = cpu;
      }
      if (row.contains("carerelay_over_noop"))
        best_ratio = row["carerelay_over_noop"].get<double>();
    }
  }
  for (const auto& kind : kinds) {
    if (kind.spec.send_mode != SendMode::kOpenLoop) continue;
    open_label = kind.label;
    for (const auto& row : rows) {
      if (row["run"] == kind.label && row.contains("carerelay") &&
          row["carerelay"]["valid"].get<bool>()) {
        open_p99 = row["carerelay"]["p99_ms"].get<double>();
      }
    }
  }
  target(">= 20,000 envelopes/s delivered end to end, synced", best_eps, 20000, false, best_label);
  target(">= 50% of the no-op relay in the same run", best_ratio, 0.5, false, best_label);
  target("p99 send->delivery <= 3 ms at 2,000 envelopes/s offered", open_p99, 3, true,
         open_label.empty() ? "no open-loop run" : open_label + " (valid runs only)");
  target("<= 50 us of server CPU per delivered envelope", best_cpu, 50, true, best_label);
  if (human) {
    std::cout << "Targets (issue 14; measured, not asserted):\n";
    for (const auto& t : targets) {
      std::string measured = t["measured"].is_number()
                                 ? absl::StrFormat("%.3g", t["measured"].get<double>())
                                 : std::string(kNa);
      std::string met = t["met"].is_boolean() ? (t["met"].get<bool>() ? "met" : "NOT met") : kNa;
      std::cout << absl::StrFormat("  %-58s %10s  %-7s (%s)\n", t["target"].get<std::string>(),
                                   measured, met, t["where"].get<std::string>());
    }
  }
  return {{"runs", rows}, {"targets", targets}};
}

// ---------------------------------------------------------------------------
// Backlog: fill through the relay with no receiver, restart, first send,
// drain.

struct BacklogResult {
  nlohmann::json json;
  bool ok = false;
};

BacklogResult RunBacklog(const Options& o, System& relay, const CarerelaydLaunch& launch,
                         const client::ConnectionOptions& connection, const std::string& ca_pem,
                         const v1::RegisterRequest& tmpl) {
  BacklogResult out;
  nlohmann::json& j = out.json;
  j["envelopes_requested"] = o.backlog;
  j["devices"] = o.backlog_devices;
  WorldSpec ws;
  ws.teams = 1;
  ws.members = o.backlog_devices + 1;
  ws.envelope_bytes = o.envelope_bytes;
  ws.setup_threads = o.setup_threads;
  auto world = BuildWorld(connection, relay.server.admin_address, ws, tmpl);
  if (!world.ok()) {
    j["error"] = world.status().ToString();
    return out;
  }
  // Member 0 posts; nobody has a stream.
  LoadPlan fill = world->plan;
  for (size_t i = 1; i < fill.sends.size(); ++i) {
    fill.sends[i].clear_envelopes();
    fill.recipients[i].clear();
  }
  auto channels = ConnectDevices(relay.server.target, ca_pem, world->devices, absl::Seconds(30));
  if (!channels.ok()) {
    j["error"] = channels.status().ToString();
    return out;
  }
  LoadSpec spec;
  spec.receive = false;
  spec.in_flight = o.in_flight;
  spec.seconds = o.backlog_seconds;
  spec.warmup_seconds = 0;
  spec.stop_after_envelopes = o.backlog;
  spec.want_receipts = false;
  spec.threads = o.threads;
  auto filled = RunLoad(*channels, fill, spec, nullptr);
  if (!filled.ok()) {
    j["error"] = filled.status().ToString();
    return out;
  }
  j["filled_with"] = "team posts through the relay, no receive stream open";
  j["fill_seconds"] = filled->seconds;
  j["envelopes_queued"] = filled->envelopes_sent;
  j["fill_envelopes_per_second"] =
      filled->seconds > 0 ? filled->envelopes_sent / filled->seconds : 0;
  j["fill_errors"] = filled->errors;
  // Restart on the same data directory and port.
  relay.server.process->Stop(SIGTERM, absl::Seconds(60));
  const auto start = std::chrono::steady_clock::now();
  auto restarted = StartCarerelayd(launch);
  if (!restarted.ok()) {
    j["error"] = restarted.status().ToString();
    return out;
  }
  relay.server = *std::move(restarted);
  relay.pid = relay.server.process->pid();
  j["start_to_ready_seconds"] = relay.server.ready_seconds;
  auto client = client::RelayClient::Create(connection);
  if (!client.ok()) {
    j["error"] = client.status().ToString();
    return out;
  }
  (*client)->SetCredentials(world->devices[0]);
  for (;;) {
    auto sent = (*client)->Send(fill.sends[0]);
    if (sent.ok()) break;
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      j["error"] = "first send after the restart: " + sent.status().ToString();
      return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  j["start_to_first_send_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (auto p = ReadProcess(relay.pid); p.ok()) j["server_rss_after_start_mib"] = p->rss_mib;
  const uint64_t queued = filled->envelopes_sent + fill.recipients[0].size();
  LoadSpec drain;
  drain.send_mode = SendMode::kNone;
  drain.seconds = o.backlog_seconds;
  drain.threads = o.threads;
  drain.window_messages = o.open_loop_window;
  drain.max_envelopes_per_message = o.max_envelopes_per_message;
  auto drained = RunLoad(*channels, LoadPlan(), drain, nullptr);
  if (!drained.ok()) {
    j["error"] = drained.status().ToString();
    return out;
  }
  j["drain_window_messages"] = o.open_loop_window;
  // Every envelope the streams delivered until each signalled queue_drained:
  // the backlog, the first send and the team's membership events.
  j["drained"] = drained->delivered;
  j["streams_drained"] = drained->streams_ready;
  j["drain_seconds"] = drained->seconds;
  j["drain_envelopes_per_second"] = drained->delivered_per_second();
  j["drain_envelopes_per_message"] = drained->envelopes_per_message();
  j["drain_errors"] = drained->errors;
  out.ok = drained->streams_ready == drained->streams && drained->delivered >= queued;
  if (!out.ok) {
    j["error"] = absl::StrCat("drained ", drained->delivered, " of at least ", queued, "; ",
                              drained->streams_ready, " of ", drained->streams,
                              " streams signalled queue_drained");
  }
  return out;
}

// ---------------------------------------------------------------------------

int Main(Options o) {
  RaiseFileLimit();
  // A child that dies while we write to it must not kill the bench.
  signal(SIGPIPE, SIG_IGN);
  TempDir scratch("carerelay-bench", 2);
  const bool human = !o.json;
  auto tls =
      PrepareTls(o.tls_dir, o.tls_script, scratch.path(), ScriptStderr::kDiscard, "give --tls-dir");
  if (!tls.ok()) {
    std::cerr << "carerelay-bench: " << tls.status().message() << "\n";
    return 2;
  }
  const std::string ca_file = o.target.empty() ? *tls + "/ca.crt" : o.ca_file;
  const std::string ca_pem = ReadFile(ca_file);

  // carerelayd: started here, or the one at --target; not at all when only
  // the no-op relay is measured (then the teams are made up).
  const bool with_relay =
      std::find(o.systems.begin(), o.systems.end(), "carerelay") != o.systems.end() ||
      o.idle_streams > 0 || o.backlog > 0;
  System relay;
  relay.name = "carerelay";
  CarerelaydLaunch launch;
  std::string data_dir = o.data_dir;
  if (!with_relay) {
    // The fdatasync probe still measures the file system a data directory
    // would be on.
    data_dir = scratch.path();
  } else if (o.target.empty()) {
    data_dir = scratch.path() + "/data";
    launch.binary = o.server_binary;
    launch.data_dir = data_dir;
    launch.tls_dir = *tls;
    launch.sync = o.sync == "on";
    launch.log_path = scratch.path() + "/carerelayd.log";
    launch.extra_args = o.server_args;
    // Info: carerelayd logs its own delivery counts at shutdown (nothing
    // per call), read below.
    launch.log_level = "info";
    launch.port = FreePort();
    auto started = StartCarerelayd(launch);
    if (!started.ok()) {
      std::cerr << "carerelay-bench: cannot start carerelayd: " << started.status() << "\n";
      return 2;
    }
    relay.server = *std::move(started);
    relay.pid = relay.server.process->pid();
  } else {
    relay.server.target = o.target;
    relay.server.admin_address = "unix:" + std::filesystem::absolute(o.admin_socket).string();
    relay.pid = o.server_pid;
  }
  client::ConnectionOptions connection;
  connection.target = relay.server.target;
  connection.ca_file = ca_file;

  const std::string keys_dir = scratch.path() + "/keys";
  auto tmpl = MakeRegisterRequest(keys_dir);
  if (!tmpl.ok()) {
    std::cerr << "carerelay-bench: keys: " << tmpl.status() << "\n";
    return 2;
  }
  nlohmann::json out;
  const LoadAverage load_at_start = ReadLoadAverage();
  out["machine"] = {
      {"cpus", std::thread::hardware_concurrency()},
      {"load_average_at_start", {load_at_start.one, load_at_start.five, load_at_start.fifteen}},
      {"note", "server, no-op relay and generator share these CPUs"}};
  out["config"] = {{"server", !with_relay        ? "none (no-op relay only; teams made up)"
                              : o.target.empty() ? "carerelayd child process"
                                                 : o.target},
                   {"sync", o.target.empty() ? o.sync : "server's setting"},
                   {"server_args", o.server_args},
                   {"systems", o.systems},
                   {"teams", o.teams},
                   {"members_per_team", o.members},
                   {"devices_per_member", o.devices},
                   {"envelope_bytes", o.envelope_bytes},
                   {"sends_in_flight", o.in_flight},
                   {"windows", o.sweep ? o.windows : std::vector<uint32_t>()},
                   {"stop_and_wait", o.stop_and_wait},
                   {"open_loop_envelopes_per_second", o.open_loop_rate},
                   {"open_loop_window", o.open_loop_window},
                   {"duration", o.duration},
                   {"warmup", o.warmup},
                   {"repeat", o.repeat},
                   {"generator_threads", o.threads},
                   {"want_receipts", o.receipts},
                   {"idempotency_keys", o.idempotency_keys},
                   {"connections", "one TLS connection per device"},
                   {"payload", "opaque bytes (PLAINTEXT type), not encrypted"}};
  int exit_code = 0;

  if (o.load) {
    WorldSpec ws;
    ws.teams = o.teams;
    ws.members = o.members;
    ws.devices = o.devices;
    ws.identity_profile_dir = keys_dir;
    ws.envelope_bytes = o.envelope_bytes;
    ws.setup_threads = o.setup_threads;
    auto world = with_relay ? BuildWorld(connection, relay.server.admin_address, ws, *tmpl)
                            : absl::StatusOr<World>(SyntheticWorld(ws));
    if (!world.ok()) {
      std::cerr << "carerelay-bench: setting up the teams failed: " << world.status() << "\n";
      return 2;
    }
    const size_t per_send = world->plan.recipients.empty() ? 0 : world->plan.recipients[0].size();
    out["setup_seconds"] = world->setup_seconds;
    out["devices"] = world->devices.size();
    out["envelopes_per_send"] = per_send;
    std::vector<System*> systems;
    System noop;
    noop.name = "noop";
    for (const auto& name : o.systems) {
      if (name == "carerelay") {
        systems.push_back(&relay);
      } else if (name == "noop") {
        auto started =
            StartNoopRelay(o.noop_binary, *tls, scratch.path() + "/carerelay-noop-relay.log");
        if (!started.ok()) {
          std::cerr << "carerelay-bench: cannot start the no-op relay: " << started.status()
                    << "\n";
          return 2;
        }
        noop.server = *std::move(started);
        noop.pid = noop.server.process->pid();
        systems.push_back(&noop);
      }
    }
    for (System* s : systems) {
      auto channels = ConnectDevices(s->server.target, ca_pem, world->devices, absl::Seconds(60));
      if (!channels.ok()) {
        std::cerr << "carerelay-bench: " << s->name << ": " << channels.status() << "\n";
        return 2;
      }
      s->channels = *std::move(channels);
    }
    const std::vector<RunKind> kinds = RunKinds(o);
    if (human) {
      std::cout << absl::StrFormat(
          "carerelay-bench: %d teams x %d professionals x %d device(s) = %d devices, one TLS "
          "connection each; %d envelopes of %d opaque bytes per send (TEAM channel); %s; "
          "receipts %s; generator on %d thread(s); %s s measured after %s s; %d CPUs shared by "
          "all; load average %.2f; setup %.1f s\n\n",
          o.teams, o.members, o.devices, world->devices.size(), per_send, o.envelope_bytes,
          o.target.empty() ? "carerelayd sync " + o.sync : "carerelayd at " + o.target,
          o.receipts ? "on" : "off", o.threads, absl::StrCat(o.duration), absl::StrCat(o.warmup),
          std::thread::hardware_concurrency(), load_at_start.one, world->setup_seconds);
    }
    std::vector<RunRecord> records;
    for (int rep = 0; rep < o.repeat; ++rep) {
      for (const auto& kind : kinds) {
        for (System* s : systems) {
          SamplerOptions so;
          so.server_pid = s->pid;
          so.perf_binary = o.no_perf || s->pid == 0 ? "" : o.perf_binary;
          so.probe_binary = o.probe_rate > 0 ? o.probe_binary : "";
          so.probe_dir = data_dir;
          so.probe_rate = o.probe_rate;
          so.scratch_dir = scratch.path();
          WindowSampler sampler(so);
          sampler.Prepare();
          auto result = RunLoad(s->channels, world->plan, kind.spec, &sampler);
          if (!result.ok()) {
            std::cerr << "carerelay-bench: " << kind.label << ": " << result.status() << "\n";
            return 2;
          }
          RunRecord r{s->name, kind, rep, *std::move(result), sampler.Finish()};
          if (human) PrintRun(r);
          if (r.load.delivered == 0) exit_code = 1;
          records.push_back(std::move(r));
        }
      }
    }
    out["runs"] = nlohmann::json::array();
    for (const auto& r : records) out["runs"].push_back(RunJson(r));
    std::vector<std::string> names;
    for (System* s : systems) names.push_back(s->name);
    out["summary"] = Summarize(records, kinds, names, human);

    if (o.rocksdb_baseline) {
      RocksBaselineSpec rs;
      rs.dir = scratch.path() + "/rocksdb-baseline";
      rs.sync = o.sync == "on";
      rs.writers = std::min(o.in_flight, 64);
      rs.values_per_batch = static_cast<int>(std::max<size_t>(per_send, 1));
      // The relay's stored record: the envelope and its routing metadata.
      rs.value_bytes = o.envelope_bytes + 128;
      rs.warmup_seconds = o.warmup;
      rs.seconds = o.duration;
      RocksBaselineResult rr = RunRocksBaseline(rs);
      out["rocksdb_baseline"] = {{"batches_per_second", rr.batches_per_second()},
                                 {"values_per_second", rr.values_per_second()},
                                 {"values_per_batch", rs.values_per_batch},
                                 {"value_bytes", rs.value_bytes},
                                 {"writers", rs.writers},
                                 {"sync", rs.sync},
                                 {"error", rr.error}};
      if (human) {
        std::cout << absl::StrFormat(
            "RocksDB alone (in the generator's process): %.0f synced WriteBatches/s of %d x %d "
            "bytes from %d writers = %.0f values/s%s\n",
            rr.batches_per_second(), rs.values_per_batch, rs.value_bytes, rs.writers,
            rr.values_per_second(), rr.error.empty() ? "" : "; error: " + rr.error);
      }
    }
    if (noop.server.process) noop.server.process->Stop(SIGTERM, absl::Seconds(10));
  }

  if (o.idle_streams > 0) {
    const auto t = std::chrono::steady_clock::now();
    auto devices = RegisterAccounts(connection, relay.server.admin_address, *tmpl, o.idle_streams,
                                    o.setup_threads, "Bench idle");
    const double register_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    if (!devices.ok()) {
      out["idle_streams"] = {{"error", devices.status().ToString()}};
      exit_code = 1;
    } else {
      IdleStreamsResult r = RunIdleStreams(relay.server.target, ca_pem, *devices,
                                           o.streams_per_connection, relay.pid);
      const double delta = r.after.rss_mib - r.before.rss_mib;
      out["idle_streams"] = {{"requested", r.requested},
                             {"established", r.established},
                             {"register_seconds", register_seconds},
                             {"open_seconds", r.open_seconds},
                             {"streams_per_connection", o.streams_per_connection},
                             {"server_rss_before_mib", r.before.rss_mib},
                             {"server_rss_after_mib", r.after.rss_mib},
                             {"server_threads_after", r.after.threads},
                             {"kib_per_stream", r.established ? 1024 * delta / r.established : 0},
                             {"error", r.error}};
      if (human) {
        std::cout << absl::StrFormat(
            "Idle streams: %d of %d open (registering %.1f s, opening %.1f s); server RSS %.0f "
            "-> %.0f MiB = %.1f KiB per stream%s\n",
            r.established, r.requested, register_seconds, r.open_seconds, r.before.rss_mib,
            r.after.rss_mib, r.established ? 1024 * delta / r.established : 0.0,
            r.error.empty() ? "" : "; error: " + r.error);
      }
      if (r.established == 0) exit_code = 1;
    }
  }

  if (o.backlog > 0) {
    if (!relay.server.process) {
      std::cerr << "carerelay-bench: --backlog needs a carerelayd this bench starts\n";
      exit_code = 1;
    } else {
      BacklogResult b = RunBacklog(o, relay, launch, connection, ca_pem, *tmpl);
      out["backlog"] = b.json;
      if (human) std::cout << "Backlog: " << b.json.dump() << "\n";
      if (!b.ok) exit_code = 1;
    }
  }

  if (relay.server.process) {
    relay.server.process->Stop(SIGTERM, absl::Seconds(60));
    auto stats = DeliveryStatsFromLog(relay.server.process->Output());
    if (stats) {
      out["carerelayd_delivery_stats"] = *stats;
      out["carerelayd_delivery_stats"]["what"] =
          "carerelayd's own counts over its whole life (all runs, warm-ups and drains), from "
          "its log at shutdown";
      if (human)
        std::cout << "carerelayd's own delivery counts, whole session: " << stats->dump() << "\n";
    } else {
      out["carerelayd_delivery_stats"] = kNa;
    }
  }
  if (o.json) std::cout << out.dump(2) << "\n";
  return exit_code;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  carerelay::bench::Options o;
  CLI::App app{
      "carerelay-bench: the delivery contract measured fairly: carerelayd and a no-op relay of "
      "the same protocol, each its own process, driven alike by an asynchronous generator (one "
      "TLS connection per device); stop-and-wait, a window sweep and an open loop; idle "
      "streams; a backlog"};
  app.footer(
      "Examples:\n"
      "  carerelay-bench                                      # the suite: 30 s runs, both "
      "systems\n"
      "  carerelay-bench --windows 16 --no-stop-and-wait --open-loop-rate 0 --duration 10\n"
      "  carerelay-bench --systems carerelay --no-sweep --no-stop-and-wait   # the open loop\n"
      "  carerelay-bench --no-load --idle-streams 10000\n"
      "  carerelay-bench --no-load --backlog 1000000\n"
      "See bench/README.md.");
  auto* programs = "Programs";
  app.add_option("--server-binary", o.server_binary, "carerelayd to start")
      ->capture_default_str()
      ->group(programs);
  app.add_option("--noop-binary", o.noop_binary, "carerelay-noop-relay to start")
      ->capture_default_str()
      ->group(programs);
  app.add_option("--probe-binary", o.probe_binary, "carerelay-fsync-probe")
      ->capture_default_str()
      ->group(programs);
  app.add_option("--perf", o.perf_binary, "perf, to count the server's syncs")
      ->capture_default_str()
      ->group(programs);
  app.add_flag("--no-perf", o.no_perf, "Do not count syncs (they are reported as n/a)")
      ->group(programs);
  auto* where = "Server";
  app.add_option("--target", o.target, "host:port of a running carerelayd instead")->group(where);
  app.add_option("--ca-file", o.ca_file, "With --target: PEM CA of its certificate")->group(where);
  app.add_option("--admin-socket", o.admin_socket,
                 "With --target: its DATA_DIR/admin.sock (enrollment codes; same machine). Start "
                 "it with limits a benchmark does not hit (bench/README.md)")
      ->group(where);
  app.add_option("--server-pid", o.server_pid,
                 "With --target: its pid, for its CPU, context switches and syncs")
      ->group(where);
  app.add_option("--data-dir", o.data_dir, "With --target: its data directory (fdatasync probe)")
      ->group(where);
  app.add_option("--tls-dir", o.tls_dir,
                 "Directory with server.crt, server.key, ca.crt (default: made with --tls-script "
                 "in a temporary directory); the no-op relay uses it too")
      ->group(where);
  app.add_option("--tls-script", o.tls_script, "Script making development TLS material")
      ->capture_default_str()
      ->group(where);
  app.add_option("--sync", o.sync, "The started carerelayd syncs its WAL before answering")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->group(where);
  app.add_option("--server-arg", o.server_args,
                 "One more argument for the started carerelayd (repeat; e.g. a tuning flag)")
      ->group(where);
  app.add_option("--systems", o.systems, "Systems to measure, in this order within each run kind")
      ->delimiter(',')
      ->check(CLI::IsMember({"noop", "carerelay"}))
      ->capture_default_str()
      ->group(where);
  auto* world = "Teams";
  app.add_option("--teams", o.teams, "Care teams")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(world);
  app.add_option("--members", o.members, "Professional members per team (member 0 coordinates)")
      ->check(CLI::Range(2, 100))
      ->capture_default_str()
      ->group(world);
  app.add_option("--devices", o.devices, "Devices per member")
      ->check(CLI::Range(1, 16))
      ->capture_default_str()
      ->group(world);
  app.add_option("--envelope-bytes", o.envelope_bytes,
                 "Bytes per envelope (a 16-byte header with the send time, then filler)")
      ->check(CLI::Range(16, 256 * 1024))
      ->capture_default_str()
      ->group(world);
  app.add_option("--setup-threads", o.setup_threads, "Parallel registrations during setup")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(world);
  auto* runs = "Runs";
  app.add_option("--windows", o.windows,
                 "The sweep: a closed-loop run per ReceiveRequest.window_messages "
                 "(comma-separated)")
      ->delimiter(',')
      ->check(CLI::Range(1, 256))
      ->capture_default_str()
      ->group(runs);
  app.add_flag("!--no-sweep", o.sweep, "No closed-loop window runs")->group(runs);
  app.add_flag("--stop-and-wait,!--no-stop-and-wait", o.stop_and_wait,
               "A closed-loop run in the v1 client's way: window 1, each message acknowledged "
               "before the next read")
      ->capture_default_str()
      ->group(runs);
  app.add_option("--open-loop-rate", o.open_loop_rate,
                 "An open-loop run offering this many envelopes/s (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--open-loop-window", o.open_loop_window,
                 "window_messages of the open-loop run (and of a backlog drain)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str()
      ->group(runs);
  app.add_option("--max-envelopes-per-message", o.max_envelopes_per_message,
                 "ReceiveRequest.max_envelopes_per_message (0: the server's default)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str()
      ->group(runs);
  app.add_option("--in-flight", o.in_flight,
                 "Closed loop: sends in flight end to end (a send's slot is free again once it "
                 "is answered and every envelope arrived)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--duration", o.duration, "Measured seconds per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--warmup", o.warmup, "Unmeasured seconds before each run's window")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--drain", o.drain, "At most this long after a run for what was sent to arrive")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--repeat", o.repeat, "Interleaved repeats of every run; summaries are medians")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--threads", o.threads, "Generator threads (completion queues)")
      ->check(CLI::Range(1, 2))
      ->capture_default_str()
      ->group(runs);
  app.add_flag("!--no-receipts", o.receipts, "Sends without want_receipts")->group(runs);
  app.add_flag("!--no-idempotency-keys", o.idempotency_keys, "Sends without idempotency keys")
      ->group(runs);
  app.add_option("--max-lag-ms", o.max_lag_ms,
                 "Open loop: a run whose generator lags its schedule more than this at p99 is "
                 "invalid")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(runs);
  app.add_option("--probe-rate", o.probe_rate,
                 "fdatasyncs/s of carerelay-fsync-probe beside the server during each window "
                 "(0: no probe)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(runs);
  auto* phases = "Phases";
  app.add_flag("!--no-load", o.load, "Skip the runs")->group(phases);
  app.add_flag("--rocksdb-baseline", o.rocksdb_baseline,
               "After the runs: raw RocksDB synced WriteBatches of a send's shape")
      ->group(phases);
  app.add_option("--idle-streams", o.idle_streams,
                 "Then: N devices (one account each) open an idle Receive stream each; server "
                 "RSS per stream (0: skip)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_option("--streams-per-connection", o.streams_per_connection,
                 "Idle streams per TLS connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_option("--backlog", o.backlog,
                 "Then: queue N envelopes through the relay with no receiver, restart it, time "
                 "ready and the first send, drain (0: skip)")
      ->capture_default_str()
      ->group(phases);
  app.add_option("--backlog-devices", o.backlog_devices, "Devices the backlog is queued for")
      ->check(CLI::Range(1, 99))
      ->capture_default_str()
      ->group(phases);
  app.add_option("--backlog-seconds", o.backlog_seconds, "At most this long to fill, and to drain")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(phases);
  app.add_flag("--json", o.json, "Print one JSON object instead of text")->group("Output");
  CLI11_PARSE(app, argc, argv);
  if (!o.target.empty() && (o.admin_socket.empty() || o.ca_file.empty())) {
    std::cerr << "carerelay-bench: --target needs --ca-file and --admin-socket\n";
    return 2;
  }
  return carerelay::bench::Main(o);
}
