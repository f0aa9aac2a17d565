#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace carerelay {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read the ", what, " ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& c) {
  if (c.dev_plaintext) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(c.tls_cert, "TLS certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(c.tls_key, "TLS private key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& config,
                                                      const core::Clock* clock) {
  absl::Status s = ValidateConfig(config);
  if (!s.ok()) return s;
  auto creds = Credentials(config);
  if (!creds.ok()) return creds.status();

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  std::unique_ptr<Server> server(new Server());
  if (clock == nullptr) {
    server->system_clock_ = std::make_unique<core::SystemClock>();
    clock = server->system_clock_.get();
  }
  server->clock_ = clock;

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the data directory ", config.data_dir, ": ", ec.message()));
  }
  ::chmod(config.data_dir.c_str(), 0700);  // queued ciphertext and metadata: owner only
  store::DatabaseOptions db_options;
  db_options.sync = config.sync;
  db_options.attachment_blob_files = config.attachment_blob_files;
  db_options.env = config.store_env;
  auto db = store::Database::Open(config.data_dir, db_options);
  if (!db.ok()) return db.status();
  server->db_ = *std::move(db);
  server->queues_ = std::make_unique<store::QueueTable>(server->db_.get());
  auto sequences = store::SequenceAllocator::Open(server->db_.get());
  if (!sequences.ok()) return sequences.status();
  server->sequences_ = *std::move(sequences);
  server->hub_ = std::make_unique<core::DeliveryHub>(server->sequences_.get());
  server->accounts_ = std::make_unique<core::AccountRegistry>(
      server->db_.get(), server->hub_.get(), server->queues_.get(), clock, config.limits);
  // Account kinds from before functions (account_functions.h), before any
  // call reads them.
  absl::StatusOr<int> migrated = server->accounts_->MigrateLegacyKinds();
  if (!migrated.ok()) return migrated.status();
  if (*migrated > 0) spdlog::info("event=accounts_migrated to=functions accounts={}", *migrated);
  auto matrix = core::AccessMatrix::WithOverrides(config.access_overrides);
  if (!matrix.ok()) return matrix.status();
  server->matrix_ = std::make_unique<core::AccessMatrix>(*std::move(matrix));
  server->team_table_ = std::make_unique<store::TeamTable>(server->db_.get());
  server->audit_table_ = std::make_unique<store::AuditTable>(server->db_.get());
  server->audit_ = std::make_unique<core::AuditLog>(server->audit_table_.get());
  server->erased_team_table_ = std::make_unique<store::ErasedTeamTable>(server->db_.get());
  server->erased_teams_ = std::make_unique<core::ErasedTeams>(
      server->db_.get(), server->erased_team_table_.get(), server->audit_.get(), clock,
      config.limits.erased_team_audit_retention);
  server->teams_ = std::make_unique<core::CareTeams>(
      server->db_.get(), server->team_table_.get(), server->queues_.get(), server->audit_.get(),
      server->erased_teams_.get(), server->hub_.get(), server->accounts_.get(),
      server->matrix_.get(), clock, config.limits);
  server->attachment_table_ = std::make_unique<store::AttachmentTable>(server->db_.get());
  server->attachments_ =
      std::make_unique<core::Attachments>(server->db_.get(), server->attachment_table_.get(),
                                          server->teams_.get(), clock, config.limits);
  server->teams_->AddTeamData(server->attachments_.get());
  auto contact_mode = core::ContactPolicy::ParseMode(config.contact_policy);
  if (!contact_mode.ok()) return contact_mode.status();
  server->contacts_ = std::make_unique<core::ContactPolicy>(server->accounts_.get(),
                                                            server->teams_.get(), *contact_mode);
  server->prekeys_ = std::make_unique<core::PrekeyDirectory>(
      server->db_.get(), server->accounts_.get(), server->contacts_.get(), clock, config.limits);
  server->receipts_ = std::make_unique<store::ReceiptTable>(server->db_.get());
  server->send_keys_ = std::make_unique<store::SendKeyTable>(server->db_.get());
  server->metrics_ = std::make_unique<core::Metrics>();
  server->writer_ = std::make_unique<core::DeliveryWriter>(
      server->db_.get(), server->queues_.get(), server->receipts_.get(), server->send_keys_.get(),
      server->hub_.get(), server->teams_->write_gate(), server->metrics_.get());
  server->relay_ = std::make_unique<core::Relay>(
      server->db_.get(), server->queues_.get(), server->receipts_.get(), server->send_keys_.get(),
      server->hub_.get(), server->writer_.get(), server->accounts_.get(), server->teams_.get(),
      server->contacts_.get(), clock, config.limits);
  server->relay_->set_metrics(server->metrics_.get());

  server->rosters_ =
      std::make_unique<core::OrganisationRosters>(server->accounts_.get(), server->teams_.get());
  server->accounts_service_ =
      std::make_unique<api::AccountsService>(server->accounts_.get(), server->rosters_.get());
  server->keys_service_ =
      std::make_unique<api::KeysService>(server->accounts_.get(), server->prekeys_.get());
  server->messages_service_ =
      std::make_unique<api::MessagesService>(server->accounts_.get(), server->relay_.get());
  server->team_lookups_ =
      std::make_unique<core::TeamLookups>(server->teams_.get(), clock, config.limits);
  server->teams_service_ = std::make_unique<api::TeamsService>(
      server->accounts_.get(), server->teams_.get(), server->team_lookups_.get());
  server->attachments_service_ = std::make_unique<api::AttachmentsService>(
      server->accounts_.get(), server->attachments_.get());
  server->admin_service_ = std::make_unique<api::AdminService>(
      server->accounts_.get(), server->erased_teams_.get(), server->db_.get());
  s = server->StartHelpdesk(config);
  if (!s.ok()) return s;

  grpc::EnableDefaultHealthCheckService(true);
  // A process-wide switch in gRPC: once on, every server built after it
  // serves reflection.
  if (config.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<api::RpcMetricsFactory>(server->metrics_.get()));
    builder.experimental().SetInterceptorCreators(std::move(creators));  // gRPC owns them
  }
  builder.AddListeningPort(config.listen, *creds, &server->port_);
  builder.RegisterService(server->accounts_service_.get());
  builder.RegisterService(server->keys_service_.get());
  builder.RegisterService(server->messages_service_.get());
  builder.RegisterService(server->teams_service_.get());
  builder.RegisterService(server->attachments_service_.get());
  builder.RegisterService(server->urgency_service_.get());
  builder.RegisterService(server->intakes_service_.get());
  builder.RegisterService(server->directory_service_.get());
  // Transport limits (server_config.h). gRPC 1.51's HTTP/2 transport reads
  // a whole message before it compares its length with the limit
  // (grpc/grpc#43012), but before any handler parses it or looks at its
  // credentials; the memory quota makes it cancel streams when its buffers
  // run over, which bounds the rest.
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config.max_streams_per_connection));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_idle)));
  grpc::ResourceQuota quota("carerelayd");
  quota.Resize(config.memory_quota_bytes);
  quota.SetMaxThreads(config.max_threads);
  builder.SetResourceQuota(quota);
  // Notice dead clients of idle receive streams; a client pinging more
  // often than every 10 s without data is cut off after two strikes.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  server->grpc_ = builder.BuildAndStart();
  if (!server->grpc_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen,
                                               " (in use, or not an address of this machine?)"));
  }

  std::string socket = (std::filesystem::absolute(config.data_dir) / "admin.sock").string();
  std::filesystem::remove(socket, ec);
  server->admin_address_ = "unix:" + socket;
  grpc::ServerBuilder admin_builder;
  admin_builder.AddListeningPort(server->admin_address_, grpc::InsecureServerCredentials());
  admin_builder.RegisterService(server->admin_service_.get());
  server->admin_grpc_ = admin_builder.BuildAndStart();
  if (!server->admin_grpc_) {
    return absl::UnavailableError("cannot open the admin socket " + socket);
  }
  ::chmod(socket.c_str(), 0600);

  server->AddMetricReadings();
  if (!config.metrics_listen.empty()) {
    // Monitoring must not stop the relay: a port in use is logged, and the
    // server serves without it (Prometheus then shows the target down).
    auto endpoint = api::MetricsEndpoint::Start(config.metrics_listen, server->metrics_.get());
    if (endpoint.ok()) {
      server->metrics_endpoint_ = *std::move(endpoint);
    } else {
      spdlog::error("event=metrics_listen_failed listen={} status=\"{}\"", config.metrics_listen,
                    endpoint.status().ToString());
    }
  }

  server->expiry_thread_ = std::thread(
      [srv = server.get(), interval = config.expiry_interval] { srv->ExpiryLoop(interval); });
  server->timer_thread_ = std::thread(
      [srv = server.get(), interval = config.timer_interval] { srv->TimerLoop(interval); });
  spdlog::info("event=started listen={} port={} tls={} sync={} data_dir={}", config.listen,
               server->port_, !config.dev_plaintext, config.sync, config.data_dir);
  return server;
}

void Server::AddMetricReadings() {
  core::Metrics& m = *metrics_;
  m.AddReading("carerelay_envelopes_queued_total", "Envelopes made durable in device queues.",
               "counter", [this] { return static_cast<double>(writer_->stats().envelopes); });
  m.AddReading("carerelay_wal_syncs_total", "Write-ahead-log syncs by the delivery writer.",
               "counter", [this] { return static_cast<double>(writer_->stats().syncs); });
  m.AddReading("carerelay_queued_envelopes",
               "Envelopes waiting in device queues (RocksDB's estimate).", "gauge", [this] {
                 auto n = db_->IntProperty(store::Table::kQueue, "rocksdb.estimate-num-keys");
                 return n.ok() ? static_cast<double>(*n) : -1;
               });
  m.AddReading("carerelay_receive_streams", "Open receive streams (devices online).", "gauge",
               [this] { return static_cast<double>(hub_->StreamCount()); });
  m.AddReading("carerelay_held_calls",
               "Calls held because their device called again before its retry-after.", "gauge",
               [this] { return static_cast<double>(accounts_->refusal_hold().held()); });
  auto rocks = [this](const std::string& property) {
    return [this, property] {
      auto n = db_->IntProperty(property);
      return n.ok() ? static_cast<double>(*n) : -1;
    };
  };
  m.AddReading("carerelay_store_pending_compaction_bytes",
               "Bytes RocksDB estimates it must compact (a growing debt slows writes).", "gauge",
               rocks("rocksdb.estimate-pending-compaction-bytes"));
  m.AddReading("carerelay_store_write_stopped",
               "1 while RocksDB stops writes to let compaction catch up.", "gauge",
               rocks("rocksdb.is-write-stopped"));
  m.AddReading("carerelay_store_delayed_write_rate_bytes",
               "Write rate RocksDB holds writes to while stalling (0: no stall).", "gauge",
               rocks("rocksdb.actual-delayed-write-rate"));
  m.AddReading("carerelay_store_refusing_writes",
               "0 while the store accepts writes; 1 while the disk is full (it resumes by itself "
               "once there is room); 2 after an I/O error (restart needed, see the log).",
               "gauge", [this] {
                 const absl::StatusCode code = db_->write_state().code();
                 if (code == absl::StatusCode::kOk) return 0.0;
                 return code == absl::StatusCode::kResourceExhausted ? 1.0 : 2.0;
               });
  m.AddReading("carerelay_store_resumes_total",
               "Times the store resumed writing by itself after a full disk.", "counter",
               [this] { return static_cast<double>(db_->resumes()); });
  m.AddReading("carerelay_store_live_bytes", "Size of the store's live files.", "gauge",
               rocks("rocksdb.live-sst-files-size"));
  m.AddReading("carerelay_data_dir_free_bytes",
               "Space left on the data directory's filesystem for its user.", "gauge", [this] {
                 std::error_code ec;
                 auto space = std::filesystem::space(db_->dir(), ec);
                 return ec ? -1.0 : static_cast<double>(space.available);
               });
  m.AddReading("carerelay_process_resident_bytes", "Resident memory of the server process.",
               "gauge", [] {
                 std::ifstream statm("/proc/self/statm");
                 double pages = 0, resident = 0;
                 statm >> pages >> resident;
                 return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
               });
}

void Server::ExpiryLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    RunExpiry();
  }
}

absl::Status Server::StartHelpdesk(const ServerConfig& config) {
  timer_table_ = std::make_unique<store::TimerTable>(db_.get());
  urgent_table_ = std::make_unique<store::UrgentTable>(db_.get());
  intake_table_ = std::make_unique<store::IntakeTable>(db_.get());
  directory_table_ = std::make_unique<store::DirectoryTable>(db_.get());
  directory_ = std::make_unique<core::ProfessionalDirectory>(
      db_.get(), directory_table_.get(), accounts_.get(), clock_, config.limits);
  resource_table_ = std::make_unique<store::ResourceTable>(db_.get());
  resources_ = std::make_unique<core::ResourceMap>(db_.get(), resource_table_.get(),
                                                   accounts_.get(), clock_);
  urgent_ = std::make_unique<core::UrgentMessages>(
      db_.get(), urgent_table_.get(), timer_table_.get(), team_table_.get(), audit_.get(),
      matrix_.get(), accounts_.get(), directory_.get(), hub_.get(), queues_.get(), clock_,
      config.limits, config.helpdesk);
  intakes_ = std::make_unique<core::IntakeDesk>(
      db_.get(), intake_table_.get(), timer_table_.get(), team_table_.get(), audit_.get(),
      teams_.get(), accounts_.get(), directory_.get(), hub_.get(), queues_.get(), clock_,
      config.limits, config.helpdesk);
  teams_->AddTeamData(intakes_.get());
  relay_->set_urgency(urgent_.get());
  scheduler_ = std::make_unique<core::Scheduler>(db_.get(), timer_table_.get(), hub_.get(),
                                                 queues_.get(), clock_, config.limits);
  scheduler_->Register(store::TimerKind::kUrgentReminder,
                       [u = urgent_.get()](store::Transaction& txn, const store::Timer& t,
                                           int64_t now, core::ServerEnvelopes& out) {
                         return u->OnReminderDue(txn, t, now, out);
                       });
  scheduler_->Register(
      store::TimerKind::kIntakeDeadline,
      [d = intakes_.get()](store::Transaction& txn, const store::Timer& t, int64_t now,
                           core::ServerEnvelopes& out) { return d->OnDeadline(txn, t, now, out); });
  urgency_service_ = std::make_unique<api::UrgencyService>(accounts_.get(), urgent_.get());
  intakes_service_ = std::make_unique<api::IntakesService>(accounts_.get(), intakes_.get());
  directory_service_ =
      std::make_unique<api::DirectoryService>(accounts_.get(), directory_.get(), resources_.get());
  // What fell due while the server was down fires now, before serving.
  absl::StatusOr<int> fired = RunTimers();
  if (!fired.ok()) {
    spdlog::warn("event=timers_failed status=\"{}\"", fired.status().ToString());
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Server::RunTimers() {
  absl::StatusOr<int> fired = scheduler_->RunDue();
  if (fired.ok() && *fired > 0) spdlog::info("event=timers_fired count={}", *fired);
  return fired;
}

void Server::TimerLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<int> fired = RunTimers();
    if (!fired.ok()) {
      spdlog::warn("event=timers_failed status=\"{}\"", fired.status().ToString());
    }
  }
}

void Server::RunExpiry() {
  auto envelopes = relay_->ExpireEnvelopes();
  auto codes = accounts_->DeleteExpiredCodes();
  auto teams = teams_->EraseExpired();
  auto erased_audits = erased_teams_->DeleteExpired();
  if (!erased_audits.ok()) {
    spdlog::warn("event=expiry_failed erased_team_audit_status=\"{}\"",
                 erased_audits.status().ToString());
  } else if (*erased_audits > 0) {
    spdlog::info("event=expired erased_team_audit_logs={}", *erased_audits);
  }
  auto attachments = attachments_->DeleteExpired();
  auto purged = attachments_->PurgeErased();
  if (!purged.ok()) {
    spdlog::warn("event=attachment_purge_failed status=\"{}\"", purged.status().ToString());
  }
  auto urgent = urgent_->DeleteExpired();
  if (!urgent.ok()) {
    spdlog::warn("event=expiry_failed urgent_status=\"{}\"", urgent.status().ToString());
  }
  auto intakes = intakes_->DeleteClosed();
  if (!intakes.ok()) {
    spdlog::warn("event=expiry_failed intakes_status=\"{}\"", intakes.status().ToString());
  } else if (*intakes > 0) {
    spdlog::info("event=expired closed_intakes={}", *intakes);
  }
  if (!envelopes.ok() || !codes.ok() || !teams.ok() || !attachments.ok()) {
    spdlog::warn(
        "event=expiry_failed envelopes_status=\"{}\" codes_status=\"{}\" teams_status=\"{}\" "
        "attachments_status=\"{}\"",
        envelopes.status().ToString(), codes.status().ToString(), teams.status().ToString(),
        attachments.status().ToString());
  } else if (*envelopes > 0 || *codes > 0 || *teams > 0 || *attachments > 0) {
    spdlog::info("event=expired envelopes={} codes={} teams_erased={} attachments={}", *envelopes,
                 *codes, *teams, *attachments);
  }
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_.exchange(true)) return;
  spdlog::info("event=shutting_down grace_s={}", absl::ToInt64Seconds(grace));
  stopping_.Notify();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  if (timer_thread_.joinable()) timer_thread_.join();
  if (metrics_endpoint_) metrics_endpoint_->Stop();  // it reads the store
  // Streams first: they never end on their own, and Shutdown waits for them.
  hub_->Shutdown();
  grpc_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  admin_grpc_->Shutdown(std::chrono::system_clock::now());
  grpc_->Wait();
  admin_grpc_->Wait();
  // After the calls: every send accepted is written and synced first.
  writer_->Stop();
  core::DeliveryWriter::Stats stats = writer_->stats();
  spdlog::info("event=delivery_stats batches={} syncs={} sends={} envelopes={} acks={}",
               stats.batches, stats.syncs, stats.sends, stats.envelopes, stats.acks);
  absl::Status s = db_->Close();
  if (!s.ok()) spdlog::error("event=store_close_failed status=\"{}\"", s.ToString());
  spdlog::info("event=stopped");
}

Server::~Server() {
  if (grpc_) Shutdown(absl::Seconds(1));
  if (expiry_thread_.joinable() || timer_thread_.joinable()) {
    stopping_.Notify();
    if (expiry_thread_.joinable()) expiry_thread_.join();
    if (timer_thread_.joinable()) timer_thread_.join();
  }
}

}  // namespace carerelay
