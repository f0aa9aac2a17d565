// carerelayd assembled: the store, the core, the gRPC services (with health
// checking and reflection) on the network address, and the Admin service on
// a Unix socket in the data directory.
//
// Used by main.cc and by in-process tests. Thread-safe.
#ifndef CARERELAY_SERVER_SERVER_H_
#define CARERELAY_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/api/accounts_service.h"
#include "server/api/admin_service.h"
#include "server/api/attachments_service.h"
#include "server/api/directory_service.h"
#include "server/api/intakes_service.h"
#include "server/api/keys_service.h"
#include "server/api/messages_service.h"
#include "server/api/metrics_endpoint.h"
#include "server/api/rpc_metrics.h"
#include "server/api/teams_service.h"
#include "server/api/urgency_service.h"
#include "server/core/access_matrix.h"
#include "server/core/account_registry.h"
#include "server/core/attachments.h"
#include "server/core/audit_log.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/contact_policy.h"
#include "server/core/delivery_hub.h"
#include "server/core/intake_desk.h"
#include "server/core/organisation_rosters.h"
#include "server/core/prekey_directory.h"
#include "server/core/professional_directory.h"
#include "server/core/relay.h"
#include "server/core/scheduler.h"
#include "server/core/team_lookups.h"
#include "server/core/urgent_messages.h"
#include "server/server_config.h"
#include "server/store/attachment_table.h"
#include "server/store/audit_table.h"
#include "server/store/database.h"
#include "server/store/directory_table.h"
#include "server/store/intake_table.h"
#include "server/store/queue_table.h"
#include "server/store/team_table.h"
#include "server/store/timer_table.h"
#include "server/store/urgent_table.h"

namespace carerelay {

class Server {
 public:
  // Opens the store and starts serving. `clock` (tests) must outlive the
  // server; null means the system clock.
  // FAILED_PRECONDITION: the data directory is in use; INVALID_ARGUMENT: bad
  // config or TLS files; UNAVAILABLE: the address could not be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config,
                                                       const core::Clock* clock = nullptr);
  ~Server();

  // The bound TCP port.
  int port() const { return port_; }
  // "unix:/path/admin.sock".
  const std::string& admin_address() const { return admin_address_; }

  // Deletes expired envelopes, codes and attachments and erases closed
  // teams whose retention ended; the expiry thread calls it every
  // --expiry-interval.
  // Public so tests with a fake clock can run it at once.
  void RunExpiry();

  // Fires the persisted timers that are due (intake deadlines, urgent
  // reminders), each exactly once; returns how many fired. Start runs it
  // before serving (so timers that fell due while the server was down fire
  // at once) and the timer thread every --timer-interval-seconds. Public so
  // tests with a fake clock run it at once.
  absl::StatusOr<int> RunTimers();

  // Graceful stop: ends receive streams, refuses new calls, lets in-flight
  // calls finish within `grace`, then closes the store. Idempotent.
  void Shutdown(absl::Duration grace);

  core::AccountRegistry& accounts() { return *accounts_; }
  core::Relay& relay() { return *relay_; }
  core::CareTeams& teams() { return *teams_; }
  core::Attachments& attachments() { return *attachments_; }
  // The store, for tests that check what it holds.
  store::Database& database() { return *db_; }
  core::DeliveryHub& hub() { return *hub_; }
  core::DeliveryWriter& writer() { return *writer_; }
  core::IntakeDesk& intakes() { return *intakes_; }
  core::UrgentMessages& urgent() { return *urgent_; }
  core::ProfessionalDirectory& directory() { return *directory_; }
  // The metrics endpoint's port; 0 when there is none.
  int metrics_port() const { return metrics_endpoint_ ? metrics_endpoint_->port() : 0; }

 private:
  Server() = default;
  void ExpiryLoop(absl::Duration interval);
  // What the metrics endpoint reads when scraped.
  void AddMetricReadings();
  void TimerLoop(absl::Duration interval);
  absl::Status StartHelpdesk(const ServerConfig& config);

  const core::Clock* clock_ = nullptr;
  std::unique_ptr<core::SystemClock> system_clock_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::QueueTable> queues_;
  std::unique_ptr<store::SequenceAllocator> sequences_;
  std::unique_ptr<core::DeliveryHub> hub_;
  std::unique_ptr<core::AccountRegistry> accounts_;
  std::unique_ptr<core::PrekeyDirectory> prekeys_;
  std::unique_ptr<store::TeamTable> team_table_;
  std::unique_ptr<store::AuditTable> audit_table_;
  std::unique_ptr<core::AuditLog> audit_;
  std::unique_ptr<store::ErasedTeamTable> erased_team_table_;
  std::unique_ptr<core::ErasedTeams> erased_teams_;
  std::unique_ptr<core::AccessMatrix> matrix_;
  std::unique_ptr<core::CareTeams> teams_;
  std::unique_ptr<core::OrganisationRosters> rosters_;
  std::unique_ptr<core::TeamLookups> team_lookups_;
  std::unique_ptr<store::AttachmentTable> attachment_table_;
  std::unique_ptr<core::Attachments> attachments_;
  std::unique_ptr<core::ContactPolicy> contacts_;
  std::unique_ptr<store::ReceiptTable> receipts_;
  std::unique_ptr<store::SendKeyTable> send_keys_;
  std::unique_ptr<core::DeliveryWriter> writer_;
  std::unique_ptr<core::Relay> relay_;
  // Monitoring: what the server counts, and the endpoint Prometheus
  // scrapes (none when --metrics-listen is empty or cannot be bound).
  std::unique_ptr<core::Metrics> metrics_;
  std::unique_ptr<api::MetricsEndpoint> metrics_endpoint_;
  // Helpdesk and urgency (issue 6).
  std::unique_ptr<store::TimerTable> timer_table_;
  std::unique_ptr<store::UrgentTable> urgent_table_;
  std::unique_ptr<store::IntakeTable> intake_table_;
  std::unique_ptr<store::DirectoryTable> directory_table_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::unique_ptr<core::ProfessionalDirectory> directory_;
  std::unique_ptr<store::ResourceTable> resource_table_;
  std::unique_ptr<core::ResourceMap> resources_;
  std::unique_ptr<core::UrgentMessages> urgent_;
  std::unique_ptr<core::IntakeDesk> intakes_;
  std::unique_ptr<api::UrgencyService> urgency_service_;
  std::unique_ptr<api::IntakesService> intakes_service_;
  std::unique_ptr<api::DirectoryService> directory_service_;
  std::thread timer_thread_;
  std::unique_ptr<api::AccountsService> accounts_service_;
  std::unique_ptr<api::KeysService> keys_service_;
  std::unique_ptr<api::MessagesService> messages_service_;
  std::unique_ptr<api::TeamsService> teams_service_;
  std::unique_ptr<api::AttachmentsService> attachments_service_;
  std::unique_ptr<api::AdminService> admin_service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<grpc::Server> admin_grpc_;
  int port_ = 0;
  std::string admin_address_;
  absl::Notification stopping_;
  std::thread expiry_thread_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace carerelay

#endif  // CARERELAY_SERVER_SERVER_H_
