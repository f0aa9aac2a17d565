// carerelayd: the relay server, and `carerelayd admin ...` for the
// administrator. Run `carerelayd --help`.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/admin.grpc.pb.h"
#include "server/admin_commands.h"
#include "server/core/account_registry.h"
#include "server/server.h"
#include "server/store/queue_table.h"

namespace carerelay {
namespace {

absl::StatusOr<v1::AccountKind> ParseKind(std::string name) {
  name = absl::AsciiStrToUpper(name);
  v1::AccountKind kind;
  if (v1::AccountKind_Parse("ACCOUNT_KIND_" + name, &kind) &&
      kind != v1::ACCOUNT_KIND_UNSPECIFIED) {
    return kind;
  }
  return absl::InvalidArgumentError(
      "unknown account kind \"" + name +
      "\"; use patient, caregiver, professional, social, case_manager or helpdesk");
}

struct EnrollOptions {
  std::string data_dir = "data";
  std::string name;
  std::string kind;
  int ttl_hours = 24 * 7;
};

// Issues an enrollment code through the running server's admin socket, or,
// when no server runs, directly on the store.
int Enroll(const EnrollOptions& o) {
  auto kind = ParseKind(o.kind);
  if (!kind.ok()) {
    std::cerr << "error: " << kind.status().message() << "\n";
    return 2;
  }
  std::string code;
  int64_t expires = 0;
  if (std::unique_ptr<v1::Admin::Stub> stub = ConnectAdmin(o.data_dir)) {
    grpc::ClientContext ctx;
    v1::IssueEnrollmentCodeRequest req;
    req.set_display_name(o.name);
    req.set_kind(*kind);
    req.set_ttl_seconds(o.ttl_hours * 3600);
    v1::IssueEnrollmentCodeResponse resp;
    grpc::Status s = stub->IssueEnrollmentCode(&ctx, req, &resp);
    if (!s.ok()) {
      std::cerr << "error: " << s.error_message() << "\n";
      return 1;
    }
    code = resp.code();
    expires = resp.expires_at_unix();
  } else {
    auto db = store::Database::Open(o.data_dir, store::DatabaseOptions{});
    if (!db.ok()) {
      std::cerr << "error: " << db.status().message() << "\n";
      return 1;
    }
    core::SystemClock clock;
    store::QueueTable queues(db->get());
    auto sequences = store::SequenceAllocator::Open(db->get());
    if (!sequences.ok()) {
      std::cerr << "error: " << sequences.status().message() << "\n";
      return 1;
    }
    core::DeliveryHub hub(sequences->get());
    core::AccountRegistry registry(db->get(), &hub, &queues, &clock, core::Limits{});
    auto issued = registry.IssueEnrollmentCode(o.name, *kind, absl::Hours(o.ttl_hours));
    if (!issued.ok()) {
      std::cerr << "error: " << issued.status().message() << "\n";
      return 1;
    }
    code = issued->code;
    expires = absl::ToUnixSeconds(issued->expires_at);
  }
  std::cout << code << "\n";
  std::cerr << "enrollment code for \"" << o.name << "\" (" << absl::AsciiStrToLower(o.kind)
            << "), single use, expires "
            << absl::FormatTime("%Y-%m-%d %H:%M %Z", absl::FromUnixSeconds(expires),
                                absl::LocalTimeZone())
            << "\n";
  return 0;
}

int Serve(const ServerConfig& config) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");

  // Signals are taken by sigwait below, never by the gRPC or RocksDB threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = Server::Start(config);
  if (!server.ok()) {
    spdlog::error("event=start_failed status=\"{}\"", server.status().ToString());
    std::cerr << "carerelayd: " << server.status().message() << "\n";
    return 1;
  }
  std::cerr << "carerelayd ready on " << config.listen << " (port " << (*server)->port() << ", "
            << (config.dev_plaintext ? "PLAINTEXT, development only" : "TLS") << ")\n";
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=signal signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown(absl::Seconds(config.shutdown_grace_seconds));
  return 0;
}

}  // namespace
}  // namespace carerelay

int main(int argc, char** argv) {
  using namespace carerelay;
  // Debian builds Abseil without NDEBUG, which leaves mutex deadlock
  // detection on: a graph update on every lock, measurable on the send path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // No OpenSSL exit handler: it would race gRPC threads still ending calls
  // (see client/cli/main.cc).
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  CLI::App app{"carerelayd: the carerelay relay server"};
  app.footer(
      "Example:\n  carerelayd --listen 127.0.0.1:7443 --data-dir data \\\n"
      "    --tls-cert deploy/dev-tls/server.crt --tls-key deploy/dev-tls/server.key\n"
      "  carerelayd admin enroll --data-dir data --name \"Dr. Anne Peeters\" --kind professional");
  ServerConfig config;
  AddServerOptions(&app, &config);

  CLI::App* admin = app.add_subcommand("admin", "Administrator commands (on this machine)");
  admin->require_subcommand(1);
  EnrollOptions enroll;
  CLI::App* enroll_cmd =
      admin->add_subcommand("enroll", "Issue a single-use enrollment code for a new account");
  enroll_cmd->add_option("--data-dir", enroll.data_dir, "The server's data directory")
      ->capture_default_str();
  enroll_cmd->add_option("--name", enroll.name, "Display name of the person")->required();
  enroll_cmd
      ->add_option("--kind", enroll.kind,
                   "patient, caregiver, professional, social, case_manager, helpdesk")
      ->required();
  enroll_cmd->add_option("--ttl-hours", enroll.ttl_hours, "Hours before the code expires")
      ->capture_default_str();
  enroll_cmd->footer(
      "Example:\n  carerelayd admin enroll --data-dir data --name \"Marie Dubois\" --kind "
      "caregiver --ttl-hours 72");

  std::string store_dir = "data";
  CLI::App* check_cmd = admin->add_subcommand(
      "check",
      "Check the store's consistency (queues, teams and their audit chains, attachments, "
      "timers, urgent messages, intakes); on a running server, on a checkpoint of it. Exit 0: "
      "consistent; 1: one line per violation on stdout; 2: could not check");
  check_cmd->add_option("--data-dir", store_dir, "The server's data directory")
      ->capture_default_str();
  check_cmd->footer("Example:\n  carerelayd admin check --data-dir data");

  std::string backup_to;
  CLI::App* backup_cmd = admin->add_subcommand(
      "backup",
      "Write a consistent copy of the store to a new directory, while the server runs (a "
      "RocksDB checkpoint: hard links on the same filesystem)");
  backup_cmd->add_option("--data-dir", store_dir, "The server's data directory")
      ->capture_default_str();
  backup_cmd->add_option("--to", backup_to, "The new directory for the copy")->required();
  backup_cmd->footer(
      "Example:\n  carerelayd admin backup --data-dir data --to /var/backups/carerelay/2026-03-14");

  std::string restore_from;
  CLI::App* restore_cmd =
      admin->add_subcommand("restore", "Make a new data directory from a backup, and check it");
  restore_cmd->add_option("--from", restore_from, "The backup's directory")->required();
  restore_cmd->add_option("--data-dir", store_dir, "The new data directory (must be new or empty)")
      ->required();
  restore_cmd->footer(
      "Example:\n  carerelayd admin restore --from /var/backups/carerelay/2026-03-14 --data-dir "
      "data-restored");

  CLI11_PARSE(app, argc, argv);
  if (enroll_cmd->parsed()) return Enroll(enroll);
  if (check_cmd->parsed()) return CheckStore(store_dir);
  if (backup_cmd->parsed()) return BackupStore(store_dir, backup_to);
  if (restore_cmd->parsed()) return RestoreStore(restore_from, store_dir);
  return Serve(config);
}
