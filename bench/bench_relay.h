// bench_relay: what the benchmarks that start carerelayd in their own
// process (carerelay-send-bench, carerelay-transfer-bench) add to
// bench_devices.h: a server config with every limit out of the benchmark's
// way, and enrollment codes from that in-process server. One copy, so that
// they measure the same server setup.
#ifndef CARERELAY_BENCH_BENCH_RELAY_H_
#define CARERELAY_BENCH_BENCH_RELAY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/bench_devices.h"
#include "server/server.h"

namespace carerelay::bench {

// A server config on `listen` over `data_dir` with the TLS material of
// `tls_dir`, logging warnings only, and limits out of the benchmark's way:
// every device sends as fast as it can, queues may hold any backlog (or
// recipients never drain), setup registers many devices from one peer.
ServerConfig BenchServerConfig(const std::string& listen, const std::string& data_dir,
                               const std::string& tls_dir, bool sync);

// An enrollment code for a professional account named `name`, valid for
// `ttl`: from `in_process` when the server runs in this process, else over
// the admin socket at `admin_address` (unix:...).
absl::StatusOr<std::string> IssueEnrollmentCode(Server* in_process,
                                                const std::string& admin_address,
                                                const std::string& name, absl::Duration ttl);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_BENCH_RELAY_H_
