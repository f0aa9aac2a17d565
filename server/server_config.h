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
  // Urgent messages, intakes and their escalation (server/helpdesk_options.h).
  core::HelpdeskPolicy helpdesk;
  // How often due timers (deadlines, reminders) are looked for.
  absl::Duration timer_interval = absl::Seconds(5);
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
