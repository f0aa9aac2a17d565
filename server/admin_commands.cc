#include "server/admin_commands.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_context.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "server/api/admin_service.h"
#include "server/core/account_functions.h"
#include "server/core/account_registry.h"
#include "server/core/clock.h"
#include "server/core/consistency_check.h"
#include "server/core/erased_teams.h"
#include "server/store/audit_table.h"
#include "server/store/database.h"
#include "server/store/erased_team_table.h"
#include "server/store/queue_table.h"

namespace carerelay {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& what) {
  std::cerr << "error: " << what << "\n";
  return 2;
}

// Checks the closed store in `dir` and prints the report.
int CheckClosedStore(const std::string& dir, const std::string& what) {
  auto db = store::Database::Open(dir, store::DatabaseOptions{});
  if (!db.ok()) return Fail(absl::StrCat("cannot open ", dir, ": ", db.status().message()));
  const absl::Time start = absl::Now();
  absl::StatusOr<core::CheckReport> report = core::CheckConsistency(**db);
  (*db)->Close().IgnoreError();
  if (!report.ok())
    return Fail(absl::StrCat("cannot check ", what, ": ", report.status().message()));
  for (const std::string& v : report->violations) std::cout << v << "\n";
  std::cerr << what << ": " << report->violations.size() << " violation(s); read "
            << report->envelopes << " queued envelopes, " << report->teams << " teams ("
            << report->audit_entries << " audit entries), " << report->attachments
            << " attachments, " << report->intakes << " intakes, " << report->urgent_messages
            << " urgent messages, " << report->timers << " timers in "
            << absl::ToInt64Milliseconds(absl::Now() - start) << " ms\n";
  return report->violations.empty() ? 0 : 1;
}

// Asks the running server for a checkpoint in `dir` (absolute).
absl::Status RemoteCheckpoint(v1::Admin::Stub& admin, const std::string& dir,
                              v1::CheckpointResponse* response) {
  grpc::ClientContext ctx;
  v1::CheckpointRequest request;
  request.set_directory(dir);
  grpc::Status s = admin.Checkpoint(&ctx, request, response);
  if (!s.ok())
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return absl::OkStatus();
}

std::string Json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  std::string out;
  // Cannot fail for a generated message (no Any fields to resolve).
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

absl::StatusOr<v1::AccountKind> ParseKind(std::string name) {
  name = absl::AsciiStrToUpper(name);
  v1::AccountKind kind;
  if (v1::AccountKind_Parse("ACCOUNT_KIND_" + name, &kind) &&
      kind != v1::ACCOUNT_KIND_UNSPECIFIED) {
    return kind;
  }
  return absl::InvalidArgumentError(
      "unknown account kind \"" + name +
      "\"; use patient, caregiver, professional, social, staff or organisation (case_manager and "
      "helpdesk are functions: --function)");
}

absl::StatusOr<std::vector<v1::Function>> ParseFunctions(const std::vector<std::string>& names) {
  std::vector<v1::Function> out;
  for (const auto& n : names) {
    auto f = core::ParseFunction(n);
    if (!f.ok()) return f.status();
    out.push_back(*f);
  }
  return out;
}

// The Admin service over a store no server is using: what the admin socket
// would answer, for the commands that work on a stopped server too. Open
// makes the store if there is none (an enrollment before the first start).
class ClosedStoreAdmin {
 public:
  static absl::StatusOr<std::unique_ptr<ClosedStoreAdmin>> Open(const std::string& data_dir) {
    auto a = std::make_unique<ClosedStoreAdmin>();
    auto db = store::Database::Open(data_dir, store::DatabaseOptions{});
    if (!db.ok()) return db.status();
    a->db_ = *std::move(db);
    a->queues_ = std::make_unique<store::QueueTable>(a->db_.get());
    auto sequences = store::SequenceAllocator::Open(a->db_.get());
    if (!sequences.ok()) return sequences.status();
    a->sequences_ = *std::move(sequences);
    a->hub_ = std::make_unique<core::DeliveryHub>(a->sequences_.get());
    a->accounts_ = std::make_unique<core::AccountRegistry>(
        a->db_.get(), a->hub_.get(), a->queues_.get(), &a->clock_, core::Limits{});
    a->erased_table_ = std::make_unique<store::ErasedTeamTable>(a->db_.get());
    a->audit_table_ = std::make_unique<store::AuditTable>(a->db_.get());
    a->audit_ = std::make_unique<core::AuditLog>(a->audit_table_.get());
    // The retention matters only to an erasure, which no admin call makes.
    a->erased_ = std::make_unique<core::ErasedTeams>(
        a->db_.get(), a->erased_table_.get(), a->audit_.get(), &a->clock_, absl::ZeroDuration());
    a->service_ =
        std::make_unique<api::AdminService>(a->accounts_.get(), a->erased_.get(), a->db_.get());
    return a;
  }
  ~ClosedStoreAdmin() {
    if (db_) db_->Close().IgnoreError();
  }

  api::AdminService& service() { return *service_; }

 private:
  core::SystemClock clock_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::QueueTable> queues_;
  std::unique_ptr<store::SequenceAllocator> sequences_;
  std::unique_ptr<core::DeliveryHub> hub_;
  std::unique_ptr<core::AccountRegistry> accounts_;
  std::unique_ptr<store::ErasedTeamTable> erased_table_;
  std::unique_ptr<store::AuditTable> audit_table_;
  std::unique_ptr<core::AuditLog> audit_;
  std::unique_ptr<core::ErasedTeams> erased_;
  std::unique_ptr<api::AdminService> service_;
};

// One Admin call: on the running server's admin socket, or, when no server
// answers there, on the store itself.
template <typename Request, typename Response>
grpc::Status CallAdmin(const std::string& data_dir,
                       grpc::Status (v1::Admin::Stub::*remote)(grpc::ClientContext*, const Request&,
                                                               Response*),
                       grpc::Status (api::AdminService::*local)(grpc::ServerContext*,
                                                                const Request*, Response*),
                       const Request& request, Response* response) {
  if (std::unique_ptr<v1::Admin::Stub> admin = ConnectAdmin(data_dir)) {
    grpc::ClientContext ctx;
    return ((*admin).*remote)(&ctx, request, response);
  }
  auto closed = ClosedStoreAdmin::Open(data_dir);
  if (!closed.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(closed.status().code()),
                        std::string(closed.status().message()));
  }
  grpc::ServerContext ctx;
  return ((*closed)->service().*local)(&ctx, &request, response);
}

}  // namespace

int Enroll(const EnrollOptions& o) {
  auto kind = ParseKind(o.kind);
  if (!kind.ok()) return Fail(std::string(kind.status().message()));
  auto functions = ParseFunctions(o.functions);
  if (!functions.ok()) return Fail(std::string(functions.status().message()));
  v1::IssueEnrollmentCodeRequest request;
  request.set_display_name(o.name);
  request.set_kind(*kind);
  request.set_ttl_seconds(o.ttl_hours * 3600);
  for (v1::Function f : *functions) request.add_functions(f);
  v1::IssueEnrollmentCodeResponse issued;
  grpc::Status s = CallAdmin(o.data_dir, &v1::Admin::Stub::IssueEnrollmentCode,
                             &api::AdminService::IssueEnrollmentCode, request, &issued);
  if (!s.ok()) {
    std::cerr << "error: " << s.error_message() << "\n";
    return 1;
  }
  std::cout << issued.code() << "\n";
  std::string what = absl::AsciiStrToLower(o.kind);
  for (const auto& f : o.functions) absl::StrAppend(&what, ", ", absl::AsciiStrToLower(f));
  std::cerr << "enrollment code for \"" << o.name << "\" (" << what << "), single use, expires "
            << absl::FormatTime("%Y-%m-%d %H:%M %Z",
                                absl::FromUnixSeconds(issued.expires_at_unix()),
                                absl::LocalTimeZone())
            << "\n";
  return 0;
}

int AccountFunctions(const FunctionsOptions& o) {
  if (!fs::exists(o.data_dir)) return Fail(absl::StrCat("no data directory ", o.data_dir));
  const bool change = !o.grant.empty() || !o.withdraw.empty() || !o.kind.empty();
  v1::ListAccountFunctionsResponse shown;
  grpc::Status s;
  if (change) {
    if (o.account.empty()) {
      return Fail("--grant, --withdraw and --kind change one account: name it with --account");
    }
    v1::SetAccountFunctionsRequest request;
    request.set_account_id(o.account);
    auto grant = ParseFunctions(o.grant);
    if (!grant.ok()) return Fail(std::string(grant.status().message()));
    auto withdraw = ParseFunctions(o.withdraw);
    if (!withdraw.ok()) return Fail(std::string(withdraw.status().message()));
    for (v1::Function f : *grant) request.add_grant(f);
    for (v1::Function f : *withdraw) request.add_withdraw(f);
    if (!o.kind.empty()) {
      auto kind = ParseKind(o.kind);
      if (!kind.ok()) return Fail(std::string(kind.status().message()));
      request.set_kind(*kind);
    }
    s = CallAdmin(o.data_dir, &v1::Admin::Stub::SetAccountFunctions,
                  &api::AdminService::SetAccountFunctions, request, shown.add_accounts());
  } else {
    v1::ListAccountFunctionsRequest request;
    request.set_account_id(o.account);
    s = CallAdmin(o.data_dir, &v1::Admin::Stub::ListAccountFunctions,
                  &api::AdminService::ListAccountFunctions, request, &shown);
  }
  if (!s.ok()) {
    std::cerr << "error: " << s.error_message() << "\n";
    return 1;
  }
  for (const auto& a : shown.accounts()) std::cout << Json(a, false) << "\n";
  return 0;
}

std::unique_ptr<v1::Admin::Stub> ConnectAdmin(const std::string& data_dir) {
  const fs::path socket = fs::absolute(data_dir) / "admin.sock";
  if (!fs::exists(socket)) return nullptr;
  auto channel = grpc::CreateChannel("unix:" + socket.string(), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    return nullptr;
  }
  return v1::Admin::NewStub(channel);
}

int CheckStore(const std::string& data_dir) {
  if (!fs::exists(data_dir)) return Fail(absl::StrCat("no data directory ", data_dir));
  std::unique_ptr<v1::Admin::Stub> admin = ConnectAdmin(data_dir);
  if (!admin) return CheckClosedStore(data_dir, data_dir);
  // Running: check a checkpoint (hard links on the same filesystem).
  const fs::path copy = fs::absolute(data_dir) /
                        absl::StrCat("check-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
  v1::CheckpointResponse taken;
  absl::Status s = RemoteCheckpoint(*admin, copy.string(), &taken);
  if (!s.ok())
    return Fail(absl::StrCat("the running server could not take a checkpoint: ", s.message()));
  const int result = CheckClosedStore(
      copy.string(), absl::StrCat(data_dir, " (running; checked as of its checkpoint)"));
  std::error_code ec;
  fs::remove_all(copy, ec);
  if (ec)
    std::cerr << "warning: could not remove the checkpoint " << copy << ": " << ec.message()
              << "\n";
  return result;
}

int BackupStore(const std::string& data_dir, const std::string& to) {
  const fs::path target = fs::absolute(to);
  if (fs::exists(target))
    return Fail(absl::StrCat(target.string(), " already exists; name a new directory"));
  const absl::Time start = absl::Now();
  uint64_t bytes = 0;
  uint32_t files = 0;
  if (std::unique_ptr<v1::Admin::Stub> admin = ConnectAdmin(data_dir)) {
    v1::CheckpointResponse taken;
    absl::Status s = RemoteCheckpoint(*admin, target.string(), &taken);
    if (!s.ok()) return Fail(absl::StrCat("backup failed: ", s.message()));
    bytes = taken.bytes();
    files = taken.files();
  } else {
    if (!fs::exists(data_dir)) return Fail(absl::StrCat("no data directory ", data_dir));
    auto db = store::Database::Open(data_dir, store::DatabaseOptions{});
    if (!db.ok()) return Fail(absl::StrCat("cannot open ", data_dir, ": ", db.status().message()));
    auto size = (*db)->Checkpoint(target.string());
    (*db)->Close().IgnoreError();
    if (!size.ok()) return Fail(absl::StrCat("backup failed: ", size.status().message()));
    bytes = size->bytes;
    files = size->files;
  }
  std::cerr << "backup of " << data_dir << " in " << target.string() << ": " << files << " files, "
            << bytes << " bytes, " << absl::ToInt64Milliseconds(absl::Now() - start) << " ms\n"
            << "copy it off this machine (it holds ciphertext and metadata, see the README); "
               "restore with: carerelayd admin restore --from "
            << target.string() << " --data-dir NEW_DIR\n";
  return 0;
}

int RestoreStore(const std::string& from, const std::string& data_dir) {
  if (!fs::exists(fs::path(from) / "CURRENT")) {
    return Fail(absl::StrCat(from, " is not a carerelay backup (no CURRENT file)"));
  }
  std::error_code ec;
  if (fs::exists(data_dir) && !fs::is_empty(data_dir, ec)) {
    return Fail(absl::StrCat(data_dir,
                             " is not empty; restore into a new directory, then point "
                             "carerelayd's --data-dir at it"));
  }
  const absl::Time start = absl::Now();
  // Into a temporary name first, so a restore cut short leaves no directory
  // that looks whole.
  const fs::path partial = fs::path(data_dir).string() + ".restoring";
  fs::remove_all(partial, ec);
  fs::copy(from, partial, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(partial, ec);
    return Fail(absl::StrCat("cannot copy ", from, ": ", ec.message()));
  }
  if (fs::exists(data_dir)) fs::remove(data_dir, ec);  // the empty directory
  fs::rename(partial, data_dir, ec);
  if (ec) return Fail(absl::StrCat("cannot move the copy into ", data_dir, ": ", ec.message()));
  std::cerr << "restored " << from << " into " << data_dir << " in "
            << absl::ToInt64Milliseconds(absl::Now() - start) << " ms; checking it\n";
  const int checked = CheckClosedStore(data_dir, data_dir);
  if (checked == 0) {
    std::cerr << "start the server on it with --data-dir " << data_dir << "\n";
  }
  return checked;
}

int ListErasedTeams(const std::string& data_dir) {
  if (!fs::exists(data_dir)) return Fail(absl::StrCat("no data directory ", data_dir));
  v1::ListErasedTeamsResponse listed;
  grpc::Status s =
      CallAdmin(data_dir, &v1::Admin::Stub::ListErasedTeams, &api::AdminService::ListErasedTeams,
                v1::ListErasedTeamsRequest(), &listed);
  if (!s.ok()) return Fail(absl::StrCat("cannot list erased teams: ", s.error_message()));
  for (const auto& t : listed.teams()) std::cout << Json(t, false) << "\n";
  std::cerr << listed.teams_size() << " erased team(s) with an audit log kept\n";
  return 0;
}

int ReadErasedTeamAudit(const std::string& data_dir, const std::string& team_id) {
  if (!fs::exists(data_dir)) return Fail(absl::StrCat("no data directory ", data_dir));
  v1::ReadErasedTeamAuditRequest request;
  request.set_team_id(team_id);
  v1::ReadErasedTeamAuditResponse read;
  grpc::Status s = CallAdmin(data_dir, &v1::Admin::Stub::ReadErasedTeamAudit,
                             &api::AdminService::ReadErasedTeamAudit, request, &read);
  if (!s.ok()) return Fail(absl::StrCat("cannot read the audit log: ", s.error_message()));
  std::cout << Json(read, true) << "\n";
  const v1::VerifyAuditResponse& v = read.verified();
  if (!v.intact()) {
    std::cerr << "the chain is broken at entry " << v.broken_at_sequence() << ": " << v.problem()
              << "\n";
    return 1;
  }
  std::cerr << v.entries() << " entries; the chain checks against the head kept at the erasure\n";
  return 0;
}

int ShowServiceHours(const core::ServiceCalendar& calendar, int days) {
  absl::Status valid = calendar.Validate();
  if (!valid.ok()) return Fail(std::string(valid.message()));
  if (days < 1 || days > 366) return Fail("--days takes 1 to 366");
  if (calendar.always_open()) {
    std::cout << "No --service-hours: the line is open around the clock, and intake deadlines "
                 "run day and night.\n";
    return 0;
  }
  std::cout << "Service hours (" << calendar.time_zone_name()
            << "); intake deadlines count only these:\n";
  const absl::TimeZone& zone = calendar.time_zone();
  absl::CivilDay day = calendar.LocalDay(absl::Now());
  for (int i = 0; i < days; ++i, ++day) {
    std::string line = absl::FormatCivilTime(day);
    absl::StrAppend(&line, " ", absl::FormatTime("%a", absl::FromCivil(day, zone), zone), "  ");
    const auto open = calendar.OpenOn(day);
    for (size_t k = 0; k < open.size(); ++k) {
      absl::StrAppend(&line, k ? ", " : "", absl::FormatTime("%H:%M", open[k].first, zone), "-",
                      absl::FormatTime("%H:%M", open[k].second, zone));
    }
    if (open.empty()) {
      const std::string why = calendar.ClosedBecause(day);
      absl::StrAppend(&line, "closed", why.empty() ? "" : " (", why, why.empty() ? "" : ")");
    }
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace carerelay
