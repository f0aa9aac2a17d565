// bench_devices: what every relay benchmark does to get devices to drive a
// carerelayd, without linking the server: development TLS material,
// enrollment codes over a server's admin socket, and registering and
// linking devices with real libsignal keys. carerelay-bench (which only
// talks to a server in another process) uses it directly; bench_relay.h
// adds the in-process server for the benchmarks that start one.
#ifndef CARERELAY_BENCH_BENCH_DEVICES_H_
#define CARERELAY_BENCH_BENCH_DEVICES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "carerelay/v1/accounts.pb.h"
#include "client/relay_client.h"

namespace carerelay::bench {

// Whether the TLS script's stderr reaches the terminal.
enum class ScriptStderr { kShow, kDiscard };

// The directory with server.crt, server.key and ca.crt: `tls_dir` when given,
// else SCRATCH/tls made by running `tls_script` (its stdout discarded). On
// failure the message ends with "; `hint`", which names the options to use.
absl::StatusOr<std::string> PrepareTls(const std::string& tls_dir, const std::string& tls_script,
                                       const std::string& scratch, ScriptStderr script_stderr,
                                       absl::string_view hint);

// An enrollment code for a professional account named `name`, valid for
// `ttl`, from the running server whose admin socket is `admin_address`
// (unix:...). The server must be on this machine.
absl::StatusOr<std::string> IssueEnrollmentCodeOverSocket(const std::string& admin_address,
                                                          const std::string& name,
                                                          absl::Duration ttl);

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

// A code that links one more device to the account of `device`; the
// request is signed with the identity key in `identity_profile_dir` (the
// device's, made by MakeRegisterRequest), as the server requires.
absl::StatusOr<std::string> IssueLinkCode(const client::ConnectionOptions& connection,
                                          const client::DeviceCredentials& device,
                                          const std::string& identity_profile_dir);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_BENCH_DEVICES_H_
