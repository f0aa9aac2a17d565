// WindowSampler: what carerelay-bench measures outside the generator
// during a run's window, at its exact edges (async_load.h's
// WindowObserver): the server process's CPU time, context switches, RSS and
// threads (/proc/PID), its fdatasync and fsync calls (sync_counter.h), the
// disk's fdatasync latency in the same seconds (carerelay-fsync-probe on
// the data directory's file system, at a low rate beside the server), and
// the machine's load average.
//
// Each part that cannot be measured (perf missing, no data directory) is
// reported as absent with the reason, never guessed.
//
// Thread-safety: not thread-safe; the run calls it from one thread.
#ifndef CARERELAY_BENCH_WINDOW_SAMPLER_H_
#define CARERELAY_BENCH_WINDOW_SAMPLER_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "bench/async_load.h"
#include "bench/child_process.h"
#include "bench/proc_stats.h"
#include "bench/sync_counter.h"

namespace carerelay::bench {

struct SamplerOptions {
  pid_t server_pid = 0;
  // perf, for SyncCounter; empty: do not count syncs.
  std::string perf_binary = "perf";
  // carerelay-fsync-probe and the directory it measures; either empty: no
  // probe.
  std::string probe_binary;
  std::string probe_dir;
  double probe_rate = 20;  // fdatasyncs per second
  std::string scratch_dir;
};

struct FsyncFigures {
  uint64_t syncs = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::string filesystem;
};

struct WindowSample {
  std::optional<ProcessSample> server_before, server_after;
  std::string server_error;
  std::optional<SyncCounts> syncs;
  std::string syncs_unavailable;  // why `syncs` is absent
  std::optional<FsyncFigures> fsync;
  std::string fsync_unavailable;  // why `fsync` is absent
  LoadAverage load_before, load_after;
};

class WindowSampler : public WindowObserver {
 public:
  explicit WindowSampler(SamplerOptions options) : options_(std::move(options)) {}
  ~WindowSampler() override = default;

  // Before the run: attaches the sync counter (it takes a moment).
  void Prepare();
  void OnWindowStart() override;
  void OnWindowEnd() override;
  // After the run: what was measured.
  WindowSample Finish();

 private:
  SamplerOptions options_;
  std::unique_ptr<SyncCounter> counter_;
  std::unique_ptr<ChildProcess> probe_;
  std::string probe_output_;
  WindowSample sample_;
};

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_WINDOW_SAMPLER_H_
