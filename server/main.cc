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
#include "server/server.h"

namespace carerelay {
namespace {

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
                   "patient, caregiver, professional, social, staff or organisation (a service "
                   "with a roster of staff: carerelay roster); case_manager and helpdesk are "
                   "taken as staff with that function")
      ->required();
  enroll_cmd->add_option("--function", enroll.functions,
                         "case_manager, helpdesk, helpdesk_supervisor or assessor (repeat)");
  enroll_cmd->add_option("--ttl-hours", enroll.ttl_hours, "Hours before the code expires")
      ->capture_default_str();
  enroll_cmd->footer(
      "Example:\n  carerelayd admin enroll --data-dir data --name \"Marie Dubois\" --kind "
      "caregiver --ttl-hours 72\n  carerelayd admin enroll --data-dir data --name \"Sophie "
      "Lambert\" --kind social --function case_manager");

  FunctionsOptions functions;
  CLI::App* functions_cmd = admin->add_subcommand(
      "functions",
      "Show the accounts' functions (case manager, helpdesk, helpdesk supervisor, assessor) and "
      "their log; with --grant, --withdraw or --kind, change one account's");
  functions_cmd->add_option("--data-dir", functions.data_dir, "The server's data directory")
      ->capture_default_str();
  functions_cmd->add_option("--account", functions.account, "The account's id");
  functions_cmd->add_option("--grant", functions.grant, "A function to grant (repeat)");
  functions_cmd->add_option("--withdraw", functions.withdraw, "A function to withdraw (repeat)");
  functions_cmd->add_option("--kind", functions.kind,
                            "A new kind: professional, social or staff (never to or from patient, "
                            "caregiver or organisation)");
  functions_cmd->footer(
      "Example:\n  carerelayd admin functions --data-dir data --account "
      "3f2a9c0d5e6b7a8190a1b2c3d4e5f607 --grant case_manager\n  carerelayd admin functions "
      "--data-dir data");

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

  CLI::App* erased_cmd = admin->add_subcommand(
      "erased-teams",
      "List the erased teams whose content-free audit log is still kept (one JSON object per "
      "line)");
  erased_cmd->add_option("--data-dir", store_dir, "The server's data directory")
      ->capture_default_str();
  erased_cmd->footer("Example:\n  carerelayd admin erased-teams --data-dir data");

  std::string erased_team;
  CLI::App* erased_audit_cmd = admin->add_subcommand(
      "erased-audit",
      "Print an erased team's audit log and check its chain, for a legal request (JSON). Exit "
      "0: the chain checks; 1: broken; 2: could not read");
  erased_audit_cmd->add_option("--data-dir", store_dir, "The server's data directory")
      ->capture_default_str();
  erased_audit_cmd->add_option("--team", erased_team, "The erased team's id")->required();
  erased_audit_cmd->footer(
      "Example:\n  carerelayd admin erased-audit --data-dir data --team "
      "3f2a9c0d5e6b7a8190a1b2c3d4e5f607");

  int service_days = 14;
  CLI::App* hours_cmd = admin->add_subcommand(
      "service-hours",
      "Show the helpdesk line's open hours for the coming days, with its holidays and closures, "
      "as configured (--service-hours, --service-time-zone, --service-holidays, "
      "--service-closure, given before `admin` or in --config)");
  hours_cmd->add_option("--days", service_days, "How many days from today")->capture_default_str();
  hours_cmd->footer(
      "Example:\n  carerelayd --config /etc/carerelay/carerelayd.conf admin service-hours --days "
      "30");

  CLI11_PARSE(app, argc, argv);
  if (enroll_cmd->parsed()) return Enroll(enroll);
  if (functions_cmd->parsed()) return AccountFunctions(functions);
  if (check_cmd->parsed()) return CheckStore(store_dir);
  if (backup_cmd->parsed()) return BackupStore(store_dir, backup_to);
  if (restore_cmd->parsed()) return RestoreStore(restore_from, store_dir);
  if (erased_cmd->parsed()) return ListErasedTeams(store_dir);
  if (erased_audit_cmd->parsed()) return ReadErasedTeamAudit(store_dir, erased_team);
  if (hours_cmd->parsed()) return ShowServiceHours(config.helpdesk.service_hours, service_days);
  return Serve(config);
}
