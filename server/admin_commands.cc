#include "server/admin_commands.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/consistency_check.h"
#include "server/store/database.h"

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

}  // namespace

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

}  // namespace carerelay
