// A RocksDB environment whose disk fills up and fails: a byte budget for the
// files written through it (a write past it fails with ENOSPC, as RocksDB's
// IOStatus::NoSpace), and EIO on demand on syncs and on writes. For the
// disk-full and I/O-error tests of issue 16 (item 5): "nothing is
// acknowledged that is not stored; a failed fsync is never acknowledged".
//
// Why an Env and not only a small tmpfs: a real small filesystem shows the
// whole server failing for real (disk_full_test.cc does it too, where the
// machine lets a test mount one), but it cannot fail a single fsync, let the
// test choose the instant the disk fills, or run in a CI container that may
// not mount anything. RocksDB 7.8 runs a legacy Env such as this one behind
// an adapter (power_loss_env.h explains it), so every file the store writes
// goes through here; disk_full_test.cc checks it (the budget bites).
//
// How to use it:
//   DiskFullEnv env;                   // over rocksdb::Env::Default(), or over
//   DiskFullEnv env(&power_loss_env);  // another test environment
//   options.env = &env;                // DatabaseOptions / ServerConfig::store_env
//   env.SetFreeBytes(0);               // the disk is full from now on
//   env.RemoveLimit();                 // the operator made room
//   env.FailSyncs(DiskFullEnv::Files::kWal);  // every WAL fsync: EIO
//   env.StopFailures();
//
// What is simulated:
// - The budget. The environment counts the bytes of the files written
//   through it (the size each reached by its appends, less what was deleted,
//   truncated or replaced by a rename): that is the disk's "used".
//   SetFreeBytes(n) lets n more bytes be written: a real disk's free space,
//   so deleting a file gives its bytes back, as it does on a real disk. An
//   append that does not fit writes the part that fits (the page cache
//   takes what the disk has room for, like write(2) on a real full disk),
//   then fails with rocksdb::Status::NoSpace ("No space left on device":
//   an IOError with the kNoSpace subcode, exactly what RocksDB's POSIX
//   environment returns for ENOSPC).
// - EIO on syncs (FailSyncs): WritableFile::Sync and Fsync of the chosen
//   files fail with an IOError ("Input/output error") and do not reach the
//   environment underneath: over a PowerLossEnv the data is then not
//   durable, the worst a failed fsync may mean (Linux drops the dirty pages
//   it could not write back). RangeSync is passed through: it promises
//   nothing (power_loss_env.h).
// - EIO on writes (FailWrites): appends to the chosen files fail with an
//   IOError and write nothing.
//
// What is not simulated (and why it is acceptable here):
// - Space that is not file data: metadata, directory blocks, preallocation.
//   RocksDB preallocates its WAL (fallocate); it ignores a failed
//   preallocation, and a real full disk then fails the append, which is
//   what happens here.
// - Files this environment did not write (a store opened before on another
//   environment) are not counted: use one environment for the store's whole
//   life in a test. Every file written through it counts and fails alike,
//   RocksDB's info log (LOG) included, as on a real disk: sparing it once
//   hid a crash (store/database.cc, InfoLogger).
// - File creation, renames and deletions never fail; a sync that fails once
//   may succeed later (a real disk may keep failing; RocksDB never syncs a
//   WAL again after a failed sync, so it does not matter to the store).
// - Directory fsyncs never fail.
//
// Thread-safety: thread-safe, like any rocksdb::Env. The switches may be
// flipped from any thread while the store runs; an append or sync already
// in progress sees the old setting or the new, never half of each.
#ifndef CARERELAY_TESTS_DISK_FULL_ENV_H_
#define CARERELAY_TESTS_DISK_FULL_ENV_H_

#include <rocksdb/env.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace carerelay::testing {

class DiskFullEnv : public rocksdb::EnvWrapper {
 public:
  // Which files an injected EIO hits.
  enum class Files {
    kNone,
    kWal,  // the write-ahead logs (*.log): the relay's acknowledgement path
    kAll,  // every file the store writes (tables, MANIFEST, WAL, ...)
  };

  // What the environment did since it was created (never reset).
  struct Counters {
    uint64_t bytes_appended = 0;   // bytes written through it
    uint64_t no_space_errors = 0;  // appends refused with ENOSPC
    uint64_t sync_errors = 0;      // syncs failed with EIO
    uint64_t write_errors = 0;     // appends failed with EIO
    uint64_t syncs = 0;            // syncs that succeeded
    uint64_t partial_appends = 0;  // ENOSPC appends that wrote a part
  };

  // Wraps `target` (not owned; rocksdb::Env::Default() if null), which must
  // outlive this environment. No budget, no failures.
  explicit DiskFullEnv(rocksdb::Env* target = nullptr);
  ~DiskFullEnv() override;
  DiskFullEnv(const DiskFullEnv&) = delete;
  DiskFullEnv& operator=(const DiskFullEnv&) = delete;

  static const char* kClassName() { return "DiskFullEnv"; }
  const char* Name() const override { return kClassName(); }

  // From now on, `bytes` more may be written (the disk's free space); 0:
  // the disk is full.
  void SetFreeBytes(uint64_t bytes);
  // No budget any more (the operator freed space).
  void RemoveLimit();
  // Bytes the files written through this environment hold now.
  uint64_t used_bytes() const;
  // Free bytes under the budget; nullopt without one.
  std::optional<uint64_t> free_bytes() const;

  // Syncs (Sync, Fsync) of `files` fail with EIO until StopFailures().
  void FailSyncs(Files files);
  // Appends to `files` fail with EIO until StopFailures().
  void FailWrites(Files files);
  // Syncs and appends succeed again (the budget stays).
  void StopFailures();

  Counters counters() const;

  // rocksdb::Env: the calls that change the size of files.
  rocksdb::Status NewWritableFile(const std::string& fname,
                                  std::unique_ptr<rocksdb::WritableFile>* result,
                                  const rocksdb::EnvOptions& options) override;
  rocksdb::Status ReopenWritableFile(const std::string& fname,
                                     std::unique_ptr<rocksdb::WritableFile>* result,
                                     const rocksdb::EnvOptions& options) override;
  rocksdb::Status ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                    std::unique_ptr<rocksdb::WritableFile>* result,
                                    const rocksdb::EnvOptions& options) override;
  rocksdb::Status NewRandomRWFile(const std::string& fname,
                                  std::unique_ptr<rocksdb::RandomRWFile>* result,
                                  const rocksdb::EnvOptions& options) override;
  rocksdb::Status DeleteFile(const std::string& fname) override;
  rocksdb::Status Truncate(const std::string& fname, size_t size) override;
  rocksdb::Status RenameFile(const std::string& src, const std::string& target) override;
  rocksdb::Status LinkFile(const std::string& src, const std::string& target) override;
  // The budget's free space when there is one (RocksDB's SstFileManager and
  // the server's metrics ask); the target's otherwise.
  rocksdb::Status GetFreeSpace(const std::string& path, uint64_t* diskfree) override;

 private:
  class CountedFile;
  enum class Op { kSync, kWrite };

  // Whether an injected EIO hits `path` for `op` now.
  bool Fails(Op op, const std::string& path) const;
  // Reserves room for `n` bytes appended to `path`: returns how many fit
  // (all of them without a budget) and counts them as used.
  uint64_t Reserve(const std::string& path, uint64_t n);
  // Gives back `n` bytes of a reservation that was not written.
  void Unreserve(const std::string& path, uint64_t n);
  // Starts counting `path` with `size` bytes (a new or reopened file).
  void Track(const std::string& path, uint64_t size);

  mutable absl::Mutex mu_;
  // Sizes of the files written through this environment, by path.
  absl::flat_hash_map<std::string, uint64_t> sizes_ ABSL_GUARDED_BY(mu_);
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> capacity_ ABSL_GUARDED_BY(mu_);
  Files fail_syncs_ ABSL_GUARDED_BY(mu_) = Files::kNone;
  Files fail_writes_ ABSL_GUARDED_BY(mu_) = Files::kNone;

  std::atomic<uint64_t> bytes_appended_{0};
  std::atomic<uint64_t> no_space_errors_{0};
  std::atomic<uint64_t> sync_errors_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> partial_appends_{0};
};

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_DISK_FULL_ENV_H_
