#include "bench/bench_relay.h"

#include <cstdint>

namespace carerelay::bench {

ServerConfig BenchServerConfig(const std::string& listen, const std::string& data_dir,
                               const std::string& tls_dir, bool sync) {
  ServerConfig c;
  c.listen = listen;
  c.data_dir = data_dir;
  c.tls_cert = tls_dir + "/server.crt";
  c.tls_key = tls_dir + "/server.key";
  c.sync = sync;
  c.log_level = "warn";
  // No metrics endpoint: the default port is fixed, and two benchmarks (or
  // a running carerelayd) on one machine would collide on it.
  c.metrics_listen = "";
  // The benchmarks send between professionals who share no team.
  c.contact_policy = "directory";
  c.limits.max_queue_depth = uint64_t{1} << 40;
  c.limits.max_queue_share = uint64_t{1} << 40;
  c.limits.calls_per_second = 1e9;
  c.limits.call_burst = 1e9;
  c.limits.prekey_fetches_per_hour = 1e9;
  c.limits.sends_per_second = 1e9;
  c.limits.send_burst = 1e9;
  c.limits.registrations_per_minute = 1e9;
  c.limits.registration_burst = 1e9;
  c.limits.upload_bytes_per_second = 1e15;
  c.limits.upload_byte_burst = 1e15;
  return c;
}

absl::StatusOr<std::string> IssueEnrollmentCode(Server* in_process,
                                                const std::string& admin_address,
                                                const std::string& name, absl::Duration ttl) {
  if (in_process) {
    auto code =
        in_process->accounts().IssueEnrollmentCode(name, v1::ACCOUNT_KIND_PROFESSIONAL, ttl);
    if (!code.ok()) return code.status();
    return code->code;
  }
  return IssueEnrollmentCodeOverSocket(admin_address, name, ttl);
}

}  // namespace carerelay::bench
