// ChildProcess: a program the relay benchmark starts beside itself (the
// server under test, the no-op relay, the fdatasync probe, perf), so that
// each one's CPU time and context switches are its own. Its stdout and
// stderr go to a file the benchmark reads afterwards.
//
// Ownership: the object owns the process. Destroying it stops the process
// (SIGTERM, then SIGKILL after 10 s) and reaps it, so a failed benchmark
// leaves nothing running.
//
// Thread-safety: not thread-safe; one owner.
#ifndef CARERELAY_BENCH_CHILD_PROCESS_H_
#define CARERELAY_BENCH_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace carerelay::bench {

class ChildProcess {
 public:
  // Runs argv[0] (a path, or a name looked up in PATH) with `argv`, stdin
  // from /dev/null, stdout and stderr appended to `output_path`.
  // INTERNAL if it cannot be started (a program that is missing exits
  // with 127 instead: see Wait).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& output_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& output_path() const { return output_path_; }

  // The exit code if it has exited (128 + N when killed by signal N),
  // nullopt while it runs. Does not block.
  std::optional<int> Poll();
  // Waits up to `timeout` for it to exit; DEADLINE_EXCEEDED if it still runs.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // Sends `signal`, waits up to `timeout`, then SIGKILL; the exit code.
  int Stop(int signal, absl::Duration timeout);
  // What it wrote to stdout and stderr so far.
  std::string Output() const;

 private:
  ChildProcess(pid_t pid, std::string output_path)
      : pid_(pid), output_path_(std::move(output_path)) {}

  pid_t pid_;
  std::string output_path_;
  std::optional<int> exit_code_;
};

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_CHILD_PROCESS_H_
