// carerelayd's configuration: command-line flags, or the same names in a
// config file (`--config FILE`, `key = value` lines; see
// deploy/carerelayd.conf.example). Flags override the file.
#ifndef CARERELAY_SERVER_SERVER_CONFIG_H_
#define CARERELAY_SERVER_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/helpdesk_policy.h"
#include "server/core/limits.h"

namespace CLI {
class App;
}
namespace rocksdb {
class Env;
}

namespace carerelay {

struct ServerConfig {
  // host:port to serve on; port 0 picks a free port (tests).
  std::string listen = "127.0.0.1:7443";
  std::string data_dir = "data";
  // PEM server certificate chain and private key.
  std::string tls_cert;
  std::string tls_key;
  // Plaintext, for development only; refused unless `listen` is loopback.
  bool dev_plaintext = false;
  // Sync the WAL before acknowledging a send. Off only for benchmarks.
  bool sync = true;
  // Attachment blocks in RocksDB blob files rather than its sorted tables
  // (store/database.h; bench/README.md has the measurements).
  bool attachment_blob_files = false;
  // How often expired envelopes and codes are deleted.
  absl::Duration expiry_interval = absl::Minutes(10);
  // Seconds given to in-flight calls on SIGTERM/SIGINT.
  int shutdown_grace_seconds = 10;
  // trace, debug, info, warn, error.
  std::string log_level = "info";
  core::Limits limits;
  // Cells of the access matrix that differ from the default, each
  // "ROLE:CHANNEL=RIGHTS" (access_matrix.h), e.g. "social:clinical=r".
  std::vector<std::string> access_overrides;
  // Who may message whom outside a team channel: "care-relationship" or
  // "directory" (core/contact_policy.h).
  std::string contact_policy = "care-relationship";
  // Urgent messages, intakes and their escalation (server/helpdesk_options.h).
  core::HelpdeskPolicy helpdesk;
  // How often due timers (deadlines, reminders) are looked for.
  absl::Duration timer_interval = absl::Seconds(5);
  // Transport limits, enforced by gRPC before any handler (or credential
  // check) runs (README, "Abuse limits"). The largest request or response
  // message: an upload piece is 4 MiB, so 8 MiB leaves room for a send to
  // many devices; larger gets RESOURCE_EXHAUSTED, never parsed.
  size_t max_message_bytes = 8 << 20;
  // Concurrent calls on one connection (HTTP/2 streams).
  uint32_t max_streams_per_connection = 100;
  // Memory gRPC may use for its buffers (past it, it cancels streams with
  // RESOURCE_EXHAUSTED to free them), and threads for its handlers (past
  // them, new calls wait).
  size_t memory_quota_bytes = size_t{256} << 20;
  int max_threads = 256;
  // A connection with no call for this long is closed.
  absl::Duration max_connection_idle = absl::Minutes(10);
  // Serve gRPC server reflection (lets grpcurl list the services). Off by
  // default; deploy/run-dev-server.sh turns it on for development.
  bool reflection = false;
  // host:port of the Prometheus metrics endpoint (api/metrics_endpoint.h);
  // empty: none. Loopback by default: it needs no credentials.
  std::string metrics_listen = "127.0.0.1:9464";
  // The store's RocksDB environment (not a flag): tests give one that
  // simulates power loss (store/database.h). Not owned.
  rocksdb::Env* store_env = nullptr;
};

// Declares every option on `app` (the `serve` command), bound to `config`.
void AddServerOptions(CLI::App* app, ServerConfig* config);

// INVALID_ARGUMENT with what to fix: TLS files missing, plaintext off
// loopback, a limit that is zero, a malformed access override.
absl::Status ValidateConfig(const ServerConfig& config);

}  // namespace carerelay

#endif  // CARERELAY_SERVER_SERVER_CONFIG_H_
