// bench_relay: what the relay benchmarks (carerelay-bench, carerelay-send-bench)
// both do to get a carerelayd to measure and devices to drive it: development
// TLS material, a server config with every limit out of the benchmark's way,
// enrollment codes (in-process or over the admin socket), and registering and
// linking devices with real libsignal keys. One copy, so that both measure
// the same server setup.
#ifndef CARERELAY_BENCH_BENCH_RELAY_H_
#define CARERELAY_BENCH_BENCH_RELAY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/relay_client.h"
#include "server/server.h"

namespace carerelay::bench {

// Whether the TLS script's stderr reaches the terminal.
enum class ScriptStderr { kShow, kDiscard };

// The directory with server.crt, server.key and ca.crt: `tls_dir` when given,
// else SCRATCH/tls made by running `tls_script` (its stdout discarded). On
// failure the message ends with "; `hint`", which names the options to use.
absl::StatusOr<std::string> PrepareTls(const std::string& tls_dir, const std::string& tls_script,
                                       const std::string& scratch, ScriptStderr script_stderr,
                                       absl::string_view hint);

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

// A RegisterRequest (without its code) with real libsignal keys from a new
// unencrypted profile at `profile_dir`: the server checks the signed
// prekey's signature, so the keys must be real even though the benchmarks
// send PLAINTEXT envelopes.
absl::StatusOr<v1::RegisterRequest> MakeRegisterRequest(const std::string& profile_dir);

// Registers `request` with `code` (an enrollment or link code) on a new
// client; returns the new device's credentials.
absl::StatusOr<client::DeviceCredentials> RegisterWithCode(
    const client::ConnectionOptions& connection, v1::RegisterRequest request,
    const std::string& code);

// A code that links one more device to the account of `device`.
absl::StatusOr<std::string> IssueLinkCode(const client::ConnectionOptions& connection,
                                          const client::DeviceCredentials& device);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_BENCH_RELAY_H_
