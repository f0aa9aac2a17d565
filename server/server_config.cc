#include "server/server_config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/loopback.h"
#include "server/core/access_matrix.h"
#include "server/core/contact_policy.h"
#include "server/helpdesk_options.h"

namespace carerelay {

void AddServerOptions(CLI::App* app, ServerConfig* c) {
  app->set_config("--config", "", "Read options from this file (key = value lines)");
  // A misspelt key in a config file must not be silently ignored.
  app->allow_config_extras(false);
  app->add_option("--listen", c->listen, "host:port to serve gRPC on")->capture_default_str();
  app->add_option("--data-dir", c->data_dir, "RocksDB data directory")->capture_default_str();
  app->add_option("--tls-cert", c->tls_cert, "PEM certificate chain of the server");
  app->add_option("--tls-key", c->tls_key, "PEM private key of the server");
  app->add_flag("--dev-plaintext", c->dev_plaintext,
                "Serve without TLS (development only; loopback addresses only)");
  app->add_option("--sync", c->sync,
                  "Sync the WAL before acknowledging a send (false only for benchmarks)")
      ->capture_default_str();
  app->add_option("--attachment-blob-files", c->attachment_blob_files,
                  "Keep attachment bytes in RocksDB blob files (see bench/README.md)")
      ->capture_default_str();
  app->add_option_function<int>(
      "--expiry-interval-seconds", [c](int s) { c->expiry_interval = absl::Seconds(s); },
      "How often expired envelopes and codes are deleted (default 600)");
  app->add_option("--shutdown-grace-seconds", c->shutdown_grace_seconds,
                  "Time given to in-flight calls on SIGTERM")
      ->capture_default_str();
  app->add_option("--log-level", c->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app->add_option("--contact-policy", c->contact_policy,
                  "Direct messages between professionals: care-relationship (only between those "
                  "who share an open team) or directory (between any professionals); anyone may "
                  "message the helpdesk, and patients and caregivers only their care team")
      ->capture_default_str();

  app->add_option("--max-message-bytes", c->max_message_bytes,
                  "Largest request or response message, in bytes")
      ->capture_default_str();
  app->add_option("--max-streams-per-connection", c->max_streams_per_connection,
                  "Concurrent calls on one client connection")
      ->capture_default_str();
  app->add_option("--memory-quota-bytes", c->memory_quota_bytes,
                  "Memory gRPC may use for its buffers")
      ->capture_default_str();
  app->add_option("--max-threads", c->max_threads, "Threads gRPC may run handlers on")
      ->capture_default_str();
  app->add_option_function<int>(
      "--max-connection-idle-seconds", [c](int s) { c->max_connection_idle = absl::Seconds(s); },
      "Close a connection idle (no call) this long (default 600)");
  app->add_option("--reflection", c->reflection,
                  "Serve gRPC server reflection (development; off by default)")
      ->capture_default_str();
  app->add_option("--metrics-listen", c->metrics_listen,
                  "host:port of the Prometheus metrics endpoint (GET /metrics, no credentials: "
                  "keep it on loopback or a management network); empty turns it off")
      ->capture_default_str();

  core::Limits& l = c->limits;
  app->add_option("--max-envelope-bytes", l.max_envelope_bytes, "Ciphertext bytes per envelope")
      ->capture_default_str();
  app->add_option("--max-envelopes-per-send", l.max_envelopes_per_send,
                  "Recipient devices per send")
      ->capture_default_str();
  app->add_option("--max-queue-depth", l.max_queue_depth, "Envelopes waiting per device")
      ->capture_default_str();
  app->add_option("--max-queue-share", l.max_queue_share,
                  "Envelopes from one sender account waiting per device")
      ->capture_default_str();
  app->add_option_function<int>(
      "--queue-ttl-days", [c](int d) { c->limits.queue_ttl = absl::Hours(24 * d); },
      "Days an envelope waits for its device (default 30)");
  app->add_option("--sends-per-second", l.sends_per_second, "Send rate per device")
      ->capture_default_str();
  app->add_option("--send-burst", l.send_burst, "Send burst per device")->capture_default_str();
  app->add_option("--team-lookups-per-day", l.team_lookups_per_day,
                  "Lookups of teams by national number per account and day")
      ->capture_default_str();
  app->add_option_function<uint64_t>(
      "--max-attachment-mib-per-account",
      [c](uint64_t mib) { c->limits.max_attachment_bytes_per_account = mib << 20; },
      "Document ciphertext one account may hold on the server, in MiB (default 2048)");
  app->add_option("--max-open-uploads-per-device", l.max_open_uploads_per_device,
                  "Unfinished uploads one device may have at once")
      ->capture_default_str();
  app->add_option_function<double>(
      "--upload-mib-per-second",
      [c](double mib) { c->limits.upload_bytes_per_second = mib * (1 << 20); },
      "Document ciphertext one account may upload per second, in MiB, after its burst "
      "(default 1)");
  app->add_option_function<double>(
      "--upload-burst-mib", [c](double mib) { c->limits.upload_byte_burst = mib * (1 << 20); },
      "Document ciphertext one account may upload at once, in MiB; at least --max-attachment-mib "
      "(default 100)");
  app->add_option("--max-open-link-codes", l.max_open_link_codes,
                  "Unexpired link codes one account may have at once")
      ->capture_default_str();
  app->add_option_function<int>(
      "--closed-intake-retention-days",
      [c](int d) { c->limits.closed_intake_retention = absl::Hours(24 * d); },
      "Days a resolved or cancelled intake is kept (default 400)");
  app->add_option("--max-teams-per-account", l.max_teams_per_account,
                  "Open teams one account may have created")
      ->capture_default_str();
  app->add_option("--prekey-fetches-per-hour", l.prekey_fetches_per_hour,
                  "Prekey bundle fetches by one account of another's devices, per hour")
      ->capture_default_str();
  app->add_option("--calls-per-second", l.calls_per_second,
                  "Rate of other authenticated calls per device (weighted)")
      ->capture_default_str();
  app->add_option("--call-burst", l.call_burst, "Burst of other calls per device (weighted)")
      ->capture_default_str();
  app->add_option_function<int64_t>(
      "--refusal-hold-ms", [c](int64_t ms) { c->limits.refusal_hold = absl::Milliseconds(ms); },
      "Longest a device's call is held when it calls again before its retry-after; 0: never "
      "(default 1000)");
  app->add_option("--max-held-calls-per-device", l.max_held_calls_per_device,
                  "Calls of one device held at once for ignoring its retry-after")
      ->capture_default_str();
  app->add_option("--max-held-calls", l.max_held_calls,
                  "Calls held at once in all; keep it well under --max-threads")
      ->capture_default_str();
  app->add_option("--registrations-per-minute", l.registrations_per_minute,
                  "Registrations per client address")
      ->capture_default_str();
  app->add_option("--registration-burst", l.registration_burst,
                  "Registration burst per client address")
      ->capture_default_str();
  app->add_option("--max-prekeys-per-upload", l.max_prekeys_per_upload,
                  "One-time prekeys per upload")
      ->capture_default_str();
  app->add_option("--max-prekey-stock", l.max_prekey_stock, "One-time prekeys held per device")
      ->capture_default_str();
  app->add_option("--max-devices-per-account", l.max_devices_per_account,
                  "Active devices per account")
      ->capture_default_str();
  app->add_option("--max-receive-window", l.max_receive_window,
                  "Stream messages a receiving device may leave unacknowledged")
      ->capture_default_str();
  app->add_option("--max-name-bytes", l.max_name_bytes, "Bytes in a display or device name")
      ->capture_default_str();
  app->add_option("--max-team-members", l.max_team_members,
                  "People on one team (members, invited, case manager)")
      ->capture_default_str();
  app->add_option_function<int>(
      "--closed-team-retention-days",
      [c](int d) { c->limits.closed_team_retention = absl::Hours(24 * d); },
      "Days a closed team's history is kept before it is erased (default 90)");
  app->add_option_function<int>(
      "--erased-team-audit-retention-days",
      [c](int d) { c->limits.erased_team_audit_retention = absl::Hours(24 * int64_t{d}); },
      "Days an erased team's content-free audit log is kept for the administrator (default "
      "10950, 30 years; 0: deleted at the next expiry run)");
  app->add_option_function<uint64_t>(
      "--max-attachment-mib", [c](uint64_t m) { c->limits.max_attachment_bytes = m << 20; },
      "MiB of ciphertext in one attachment (default 100)");
  app->add_option_function<int>(
      "--attachment-retention-days",
      [c](int d) { c->limits.attachment_retention = absl::Hours(24 * d); },
      "Days a complete attachment is kept (default 30)");
  app->add_option_function<int>(
      "--attachment-upload-timeout-hours",
      [c](int h) { c->limits.attachment_upload_timeout = absl::Hours(h); },
      "Hours an unfinished upload may wait to be resumed (default 24)");
  app->add_option("--access", c->access_overrides,
                  "Access matrix override ROLE:CHANNEL=RIGHTS (rp, r, p or -), repeatable; e.g. "
                  "--access social:clinical=r")
      ->take_all();
  AddHelpdeskOptions(app, c);
}

absl::Status ValidateConfig(const ServerConfig& c) {
  if (c.dev_plaintext) {
    if (!IsLoopbackHostPort(c.listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dev-plaintext serves without TLS and is only allowed on a loopback address "
          "(127.0.0.1:PORT or [::1]:PORT), not ",
          c.listen));
    }
  } else if (c.tls_cert.empty() || c.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "TLS is required: give --tls-cert and --tls-key (deploy/make-dev-tls.sh makes "
        "development ones)");
  }
  if (c.max_message_bytes < (size_t{4} << 20) + 4096 || c.max_message_bytes > (size_t{1} << 30)) {
    return absl::InvalidArgumentError(
        "--max-message-bytes must be between 4 MiB + 4 KiB (an upload piece) and 1 GiB");
  }
  if (c.max_streams_per_connection == 0 || c.memory_quota_bytes < (size_t{64} << 20) ||
      c.max_threads < 8 || c.max_connection_idle <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--max-streams-per-connection and --max-connection-idle-seconds must be positive, "
        "--memory-quota-bytes at least 64 MiB, --max-threads at least 8");
  }
  const core::Limits& l = c.limits;
  if (l.max_envelope_bytes == 0 || l.max_envelopes_per_send == 0 || l.max_queue_depth == 0 ||
      l.sends_per_second <= 0 || l.send_burst < 1 || l.registrations_per_minute <= 0 ||
      l.registration_burst < 1 || l.max_prekeys_per_upload == 0 || l.max_prekey_stock == 0 ||
      l.max_devices_per_account == 0 || l.queue_ttl <= absl::ZeroDuration() ||
      l.max_queue_share == 0 || l.calls_per_second <= 0 || l.call_burst < 1 ||
      l.prekey_fetches_per_hour < 1 || l.team_lookups_per_day < 1 ||
      l.max_attachment_bytes_per_account == 0 || l.max_open_uploads_per_device == 0 ||
      l.max_teams_per_account == 0 || l.max_open_link_codes == 0 ||
      l.closed_intake_retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("every limit must be positive");
  }
  if (l.max_receive_window == 0 || l.max_name_bytes == 0 || l.max_team_members == 0 ||
      l.closed_team_retention < absl::ZeroDuration() ||
      l.erased_team_audit_retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("every limit must be positive");
  }
  if (l.max_attachment_bytes == 0 || l.max_attachment_bytes > (uint64_t{1} << 40) ||
      l.attachment_retention <= absl::ZeroDuration() ||
      l.attachment_upload_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--max-attachment-mib (at most 1048576), --attachment-retention-days and "
        "--attachment-upload-timeout-hours must be positive");
  }
  // A burst below the largest document would refuse one document sent on a
  // full budget, and the client gives up on RESOURCE_EXHAUSTED; the `!(a >=
  // b)` forms also refuse NaN.
  if (!(l.upload_bytes_per_second > 0) ||
      !(l.upload_byte_burst >= static_cast<double>(l.max_attachment_bytes))) {
    return absl::InvalidArgumentError(
        "--upload-mib-per-second must be positive and --upload-burst-mib at least "
        "--max-attachment-mib, so that one document never waits");
  }
  if (l.refusal_hold < absl::ZeroDuration() || l.refusal_hold > absl::Seconds(60)) {
    return absl::InvalidArgumentError("--refusal-hold-ms must be between 0 and 60000");
  }
  if (l.max_held_calls >= static_cast<size_t>(std::max(c.max_threads, 0))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-held-calls (", l.max_held_calls, ") must be below --max-threads (",
                     c.max_threads, "): a held call keeps its thread; lower --max-held-calls"));
  }
  if (c.expiry_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--expiry-interval-seconds must be at least 1");
  }
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return absl::InvalidArgumentError(
        "--log-level must be one of trace, debug, info, warn, "
        "error, critical; got \"" +
        c.log_level + "\"");
  }
  absl::Status contacts = core::ContactPolicy::ParseMode(c.contact_policy).status();
  if (!contacts.ok()) return contacts;
  if (c.shutdown_grace_seconds < 0) {
    return absl::InvalidArgumentError("--shutdown-grace-seconds must not be negative");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("--data-dir must not be empty");
  if (c.timer_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--timer-interval-seconds must be at least 1");
  }
  absl::Status helpdesk = c.helpdesk.Validate();
  if (!helpdesk.ok()) return helpdesk;
  return core::AccessMatrix::WithOverrides(c.access_overrides).status();
}

}  // namespace carerelay
