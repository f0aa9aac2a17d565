// SyncCounter: how many times a process synced files to disk during a
// measured window, counted by the kernel (perf's syscall tracepoints for
// fdatasync and fsync, attached to the process): no cooperation from the
// process, and nothing slows it down but a counter increment per sync.
//
// carerelay-bench uses it on the server under test for "syncs/s" and "sends
// per sync" (the group commit). With the relay's write path (one syncer
// thread syncing the WAL), fdatasync calls are WAL syncs; RocksDB's flushes
// and compactions add a few syncs of their own files (MANIFEST, tables),
// counted too. Threads the process starts after Attach are not counted
// (perf attaches to the threads it finds).
//
// perf runs as a child process with its events disabled; Enable and Disable
// bracket the window exactly (perf's --control FIFOs, acknowledged).
//
// Thread-safety: not thread-safe; one owner.
#ifndef CARERELAY_BENCH_SYNC_COUNTER_H_
#define CARERELAY_BENCH_SYNC_COUNTER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/child_process.h"

namespace carerelay::bench {

struct SyncCounts {
  uint64_t fdatasync = 0;
  uint64_t fsync = 0;
  uint64_t syncs() const { return fdatasync + fsync; }
};

class SyncCounter {
 public:
  // Starts `perf_binary` attached to `pid`, events off, its FIFOs and output
  // in `scratch_dir`. UNAVAILABLE with the reason when perf cannot count
  // (not installed, not permitted: see perf_event_paranoid).
  static absl::StatusOr<std::unique_ptr<SyncCounter>> Attach(const std::string& perf_binary,
                                                             pid_t pid,
                                                             const std::string& scratch_dir);
  ~SyncCounter();
  SyncCounter(const SyncCounter&) = delete;
  SyncCounter& operator=(const SyncCounter&) = delete;

  // Starts and stops counting; each returns once perf acknowledged.
  absl::Status Enable();
  absl::Status Disable();
  // Ends perf and returns what was counted while enabled.
  absl::StatusOr<SyncCounts> Finish();

 private:
  SyncCounter(std::unique_ptr<ChildProcess> perf, int control_fd, int ack_fd,
              std::string output_path, std::string control_path, std::string ack_path);
  absl::Status Command(const std::string& command);

  std::unique_ptr<ChildProcess> perf_;
  int control_fd_;
  int ack_fd_;
  std::string output_path_;
  std::string control_path_;
  std::string ack_path_;
};

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_SYNC_COUNTER_H_
