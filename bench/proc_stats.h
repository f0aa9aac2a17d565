// proc_stats: what the relay benchmarks read about a process from /proc,
// so that a server's cost is its own and not the load generator's: CPU time,
// context switches, memory, threads; and the machine's load average, which
// says how much else was running during a measurement.
#ifndef CARERELAY_BENCH_PROC_STATS_H_
#define CARERELAY_BENCH_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace carerelay::bench {

struct ProcessSample {
  // utime + stime of /proc/PID/stat: every thread, exited ones included.
  double cpu_seconds = 0;
  // voluntary_ctxt_switches and nonvoluntary_ctxt_switches summed over
  // /proc/PID/task/*/status. Linux counts them per thread and forgets a
  // thread's counts when it exits, so threads that came and went between two
  // samples are missing (compare `threads` of both samples).
  uint64_t voluntary_switches = 0;
  uint64_t involuntary_switches = 0;
  double rss_mib = 0;   // VmRSS
  double peak_mib = 0;  // VmHWM
  int threads = 0;

  uint64_t switches() const { return voluntary_switches + involuntary_switches; }
};

// Reads process `pid` (0: this process). NOT_FOUND when it does not exist.
absl::StatusOr<ProcessSample> ReadProcess(pid_t pid);

// The first three fields of /proc/loadavg.
struct LoadAverage {
  double one = 0, five = 0, fifteen = 0;
};
LoadAverage ReadLoadAverage();

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_PROC_STATS_H_
