// server_process: the systems carerelay-bench measures, each started as a
// process of its own on loopback with the same TLS material, so that each
// one's CPU time and context switches are read from its own /proc entry:
// carerelayd on a data directory, with the limits out of the benchmark's
// way and the sync setting of the run, and carerelay-noop-relay.
#ifndef CARERELAY_BENCH_SERVER_PROCESS_H_
#define CARERELAY_BENCH_SERVER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/child_process.h"

namespace carerelay::bench {

struct ServerProcess {
  std::unique_ptr<ChildProcess> process;
  std::string target;         // localhost:PORT
  std::string admin_address;  // carerelayd: unix:DATA_DIR/admin.sock
  double ready_seconds = 0;   // start -> answering
};

struct CarerelaydLaunch {
  std::string binary;
  std::string data_dir;
  std::string tls_dir;  // server.crt, server.key
  bool sync = true;
  std::string log_path;
  std::string log_level = "warn";
  // Appended to the command line (tuning flags of the server under test).
  std::vector<std::string> extra_args;
  // false (the throughput benchmarks): the queue depth, send and
  // registration limits raised out of the benchmark's way. true: carerelayd's
  // own defaults, for the overload benchmark, which measures them (an option
  // cannot be given twice, so extra_args cannot lower a raised one).
  bool default_limits = false;
  // 0: pick a free one.
  int port = 0;
};

// Starts carerelayd and returns once its admin socket answers (it is bound
// after the store opened and the TCP port is bound). INTERNAL with its log
// when it exits at start.
absl::StatusOr<ServerProcess> StartCarerelayd(const CarerelaydLaunch& launch);

// Starts carerelay-noop-relay and returns once a TLS connection to it
// succeeds (with the CA of `tls_dir`).
absl::StatusOr<ServerProcess> StartNoopRelay(const std::string& binary, const std::string& tls_dir,
                                             const std::string& log_path);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_SERVER_PROCESS_H_
