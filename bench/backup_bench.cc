// carerelay-backup-bench: what a backup, a restore and a consistency check
// cost on a store of a given size (issue 16). Fills a new store with
// --mib MiB of document blocks (random bytes, as ciphertext is) in the
// attachment table, closes and reopens it, then times, on the real code
// paths of `carerelayd admin`:
//   checkpoint  Database::Checkpoint (what `admin backup` and the online
//               `admin check` ask the running server for), to the same
//               filesystem: hard links;
//   restore     the copy `admin restore` makes of it (every byte);
//   check       core::CheckConsistency over the restored store (which
//               reads records, not document bytes: blocks without a record
//               cost it nothing, so here it shows its fixed cost only).
//
//   carerelay-backup-bench --dir /var/tmp --mib 1024
//   carerelay-backup-bench --mib 16 --json          # the smoke test
#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/core/consistency_check.h"
#include "server/store/database.h"
#include "server/store/encoding.h"

namespace carerelay::bench {
namespace {

namespace fs = std::filesystem;

uint64_t DirBytes(const fs::path& dir) {
  uint64_t bytes = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) bytes += f.file_size();
  }
  return bytes;
}

int Run(const std::string& parent, int mib, bool json) {
  const fs::path root = fs::path(parent) / absl::StrFormat("carerelay-backup-bench-%d", getpid());
  fs::create_directories(root);
  const fs::path data = root / "data", backup = root / "backup", restored = root / "restored";
  // Fill: 64 KiB blocks (a sealed chunk's size), 256 per commit. The store
  // stays open, its last writes in the memtable, as on a serving server:
  // the checkpoint flushes them first.
  auto db = store::Database::Open(data.string(), store::DatabaseOptions{});
  if (!db.ok()) {
    std::cerr << db.status() << "\n";
    return 1;
  }
  {
    std::mt19937_64 rng(42);
    std::string block(64 * 1024, '\0');
    const uint64_t blocks = static_cast<uint64_t>(mib) * 16;
    for (uint64_t i = 0; i < blocks;) {
      auto txn = (*db)->Begin(store::Durability::kBuffered);
      for (int n = 0; n < 256 && i < blocks; ++n, ++i) {
        for (size_t j = 0; j < block.size(); j += 8) {
          const uint64_t r = rng();
          std::memcpy(block.data() + j, &r, 8);
        }
        std::string key(32, 'b');  // a team and attachment id nobody has
        store::AppendBigEndian64(&key, i);
        absl::Status s = txn->Put(store::Table::kAttachmentBlocks, key, block);
        if (!s.ok()) {
          std::cerr << s << "\n";
          return 1;
        }
      }
      absl::Status s = txn->Commit();
      if (!s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
  }
  const uint64_t store_bytes = DirBytes(data);
  absl::Time t = absl::Now();
  auto taken = (*db)->Checkpoint(backup.string());
  const absl::Duration checkpoint = absl::Now() - t;
  (void)(*db)->Close();
  if (!taken.ok()) {
    std::cerr << taken.status() << "\n";
    return 1;
  }
  t = absl::Now();
  fs::copy(backup, restored, fs::copy_options::recursive);
  const absl::Duration restore = absl::Now() - t;
  auto copy = store::Database::Open(restored.string(), store::DatabaseOptions{});
  if (!copy.ok()) {
    std::cerr << copy.status() << "\n";
    return 1;
  }
  t = absl::Now();
  auto report = core::CheckConsistency(**copy);
  const absl::Duration check = absl::Now() - t;
  (void)(*copy)->Close();
  const bool consistent = report.ok() && report->violations.empty();
  fs::remove_all(root);
  if (json) {
    nlohmann::json j = {{"store_bytes", store_bytes},
                        {"checkpoint_ms", absl::ToDoubleMilliseconds(checkpoint)},
                        {"restore_ms", absl::ToDoubleMilliseconds(restore)},
                        {"check_ms", absl::ToDoubleMilliseconds(check)},
                        {"consistent", consistent}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "store %.0f MiB: checkpoint %.0f ms (hard links), restore (copy) %.0f ms, check %.0f ms, "
        "%s\n",
        store_bytes / 1048576.0, absl::ToDoubleMilliseconds(checkpoint),
        absl::ToDoubleMilliseconds(restore), absl::ToDoubleMilliseconds(check),
        consistent ? "consistent" : "NOT consistent");
  }
  return consistent ? 0 : 1;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  CLI::App app{"carerelay-backup-bench: backup, restore and check times for a store of a size"};
  std::string dir = std::filesystem::temp_directory_path().string();
  int mib = 1024;
  bool json = false;
  app.add_option("--dir", dir, "Where to build the store (its filesystem is measured)")
      ->capture_default_str();
  app.add_option("--mib", mib, "Document bytes in the store, MiB")->capture_default_str();
  app.add_flag("--json", json, "One JSON object instead of the line");
  CLI11_PARSE(app, argc, argv);
  return carerelay::bench::Run(dir, mib, json);
}
