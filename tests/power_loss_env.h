// A RocksDB environment that simulates a power loss: what a store wrote but
// never made durable disappears. For tests of "a send is acknowledged only
// after it is durable" (DESIGN.md, Delivery contract; issue 14, "Durability
// must be proven, not assumed").
//
// Why: killing the server process (crash_test.cc) cannot show this loss: the
// kernel's page cache survives a killed process, so an acknowledgement given
// before the WAL's fdatasync still looks durable after a SIGKILL. Only the
// machine losing power drops it. This environment keeps, like LevelDB's
// fault_injection_test.cc and RocksDB's FaultInjectionTestEnv, what was made
// durable and how, and on SimulatePowerLoss() puts every file back to that
// state.
//
// Why an Env and not a FileSystem: RocksDB 7.8 does its I/O through the
// FileSystem API, and runs a legacy Env such as this one behind an adapter
// (Env's default FileSystem calls the Env's own virtual functions), so every
// file the store writes goes through here; power_loss_env_test.cc checks it
// (the WAL's appends and syncs are seen, an unsynced write is lost).
//
// How to use it:
//   PowerLossEnv env;                      // over rocksdb::Env::Default()
//   options.env = &env;                    // DatabaseOptions / ServerConfig::store_env
//   ... run the store ...
//   env.PullPlug();                        // the instant the power goes
//   ... tear the store down (even a clean Close: nothing reaches the disk) ...
//   env.SimulatePowerLoss();               // the files as the disk kept them
//   ... reopen on the same directory ...
//
// What is simulated (the strict case: everything not made durable is lost):
// - File data. Per file opened for writing through this environment, the
//   prefix made durable by WritableFile::Sync or Fsync (bytes appended before
//   the call started; appends that race with it count as not synced). At a
//   power loss the file is cut back to that prefix. Close() does not make
//   anything durable, Flush() neither. RangeSync (sync_file_range) does not
//   either: Linux documents that it writes no metadata and flushes no disk
//   cache, so it gives no guarantee after a crash.
// - Overwrites of a reused file (ReuseWritableFile: RocksDB recycles WAL
//   files, recycle_log_file_num) and appends to a reopened file
//   (ReopenWritableFile): the bytes overwritten since the last sync get their
//   old content back (the content the file had when it was reused); what was
//   appended past the old end is cut. (RocksDB 7.8 turns recycling off under
//   its default kPointInTimeRecovery, so the relay's store never reuses a
//   file; the test exercises this with a RocksDB that does.)
// - Directory entries. A file created (NewWritableFile, or renamed into
//   place) becomes durable only when its directory is fsynced
//   (Directory::Fsync) through this environment (a rename: its destination's
//   directory). At a power loss, renames not made durable are undone (in
//   reverse order, restoring the content a rename replaced, e.g. CURRENT)
//   and files created since are removed.
// - The plug: after PullPlug(), nothing becomes durable any more. Syncs and
//   directory fsyncs still succeed (the process cannot tell the power went),
//   deletions are not carried out (so nothing the disk held is lost by a
//   cleanup that could not have happened), and the store may go on and even
//   close cleanly: SimulatePowerLoss() undoes all of it. Callers that observe
//   the process from outside (clients) must count only what they observed
//   before plugged() turned true: a real machine would not have answered
//   after that instant.
//
// What is not simulated (and why it is acceptable here):
// - Partial persistence: a real disk may keep some unsynced pages (torn
//   writes, reordered pages). Here unsynced data is always dropped whole,
//   one of the outcomes a real power loss can have and the one that tests
//   "acknowledged only after durable"; RocksDB's checksums handle the torn
//   cases and have their own tests.
// - A disk that lies about fsync, bit rot, I/O errors (see RocksDB's own
//   FaultInjectionTestFS for error injection).
// - Deletions before PullPlug() are durable at once (a deleted file never
//   reappears); truncation (WritableFile::Truncate, Env::Truncate: RocksDB
//   trims preallocated WAL space on recovery) and the trim PosixWritableFile
//   does on Close are durable at once too. A file reappearing, or growing
//   back, after a power loss would at worst give recovery more data, never
//   less.
// - Directory creation and removal (CreateDir, DeleteDir before the plug),
//   the info log (LOG*: not store data), and file locks: passed through.
// - Files opened for random writes (NewRandomRWFile), hard links and memory
//   mapped writes are refused (NotSupported), so a store that would use them
//   fails loudly instead of being simulated wrongly. The relay's store does
//   not use them.
//
// Thread-safety: thread-safe, like any rocksdb::Env. PullPlug() may be called
// from any thread while the store runs. SimulatePowerLoss() requires that no
// file opened for writing through this environment is still open (close or
// destroy the store first).
#ifndef CARERELAY_TESTS_POWER_LOSS_ENV_H_
#define CARERELAY_TESTS_POWER_LOSS_ENV_H_

#include <rocksdb/env.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace carerelay::testing {

class PowerLossEnv : public rocksdb::EnvWrapper {
 public:
  // What the environment saw since it was created (never reset): lets a test
  // check that the store's I/O really goes through it.
  struct Counters {
    uint64_t files_created = 0;  // NewWritableFile (the info log excepted)
    uint64_t files_reused = 0;   // ReuseWritableFile (recycled WAL files)
    uint64_t bytes_appended = 0;
    uint64_t syncs = 0;      // WritableFile Sync/Fsync calls
    uint64_t dir_syncs = 0;  // Directory::Fsync calls
    uint64_t renames = 0;
    uint64_t deletions_ignored = 0;  // deletions after PullPlug()
  };

  // What one SimulatePowerLoss() undid.
  struct Report {
    uint64_t files_cut = 0;       // files whose unsynced tail was dropped
    uint64_t bytes_dropped = 0;   // bytes cut from those tails
    uint64_t bytes_restored = 0;  // overwritten bytes given their old content
    uint64_t files_removed = 0;   // creations not made durable
    uint64_t renames_undone = 0;  // renames not made durable
  };

  // Wraps rocksdb::Env::Default() (not owned: a process-wide singleton).
  // Must outlive every store opened on it.
  PowerLossEnv();
  ~PowerLossEnv() override;
  PowerLossEnv(const PowerLossEnv&) = delete;
  PowerLossEnv& operator=(const PowerLossEnv&) = delete;

  static const char* kClassName() { return "PowerLossEnv"; }
  const char* Name() const override { return kClassName(); }

  // The power goes: from now on nothing becomes durable (see the top of this
  // file). Idempotent.
  void PullPlug();
  // Whether PullPlug() was called since the last power loss. An observer
  // that reads false after seeing an effect (an answer, a delivery) knows
  // that effect came from a machine that still had power.
  bool plugged() const { return plugged_.load(std::memory_order_seq_cst); }

  // Puts every file back to what was durable (PullPlug() first if it was
  // not called) and forgets all tracking: the files as they are afterwards
  // are the disk after the machine restarts, and the power is back.
  // FAILED_PRECONDITION if a file opened for writing is still open;
  // INTERNAL if a file could not be restored.
  absl::StatusOr<Report> SimulatePowerLoss();

  Counters counters() const;

  // rocksdb::Env: the calls that change files.
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
  rocksdb::Status NewMemoryMappedFileBuffer(
      const std::string& fname, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>* result) override;
  rocksdb::Status NewDirectory(const std::string& name,
                               std::unique_ptr<rocksdb::Directory>* result) override;
  rocksdb::Status DeleteFile(const std::string& fname) override;
  rocksdb::Status DeleteDir(const std::string& dirname) override;
  rocksdb::Status Truncate(const std::string& fname, size_t size) override;
  rocksdb::Status RenameFile(const std::string& src, const std::string& target) override;
  rocksdb::Status LinkFile(const std::string& src, const std::string& target) override;

 private:
  class TrackedFile;
  class TrackedDirectory;
  struct FileState;
  // A change of a directory not yet made durable by an fsync of it.
  struct PendingEntry {
    enum class Kind { kCreated, kRenamed } kind;
    std::string dir;   // the directory whose fsync makes it durable
    std::string path;  // kCreated: the file; kRenamed: the new name
    std::string from;  // kRenamed: the old name
    // kRenamed over an existing file: that file's content, restored if the
    // rename is undone.
    bool replaced = false;
    std::string replaced_content;
  };

  enum class OpenMode { kNew, kReopen, kReuse };
  // Opens `fname` through the target and tracks it: a new (or truncated)
  // file, an existing one appended to, or `old_fname` renamed to `fname`
  // and overwritten in place.
  rocksdb::Status OpenTracked(const std::string& fname, OpenMode mode, const std::string& old_fname,
                              std::unique_ptr<rocksdb::WritableFile>* result,
                              const rocksdb::EnvOptions& options);
  // A sync of `state` that started when `position` bytes were written
  // succeeded: durable unless the plug was pulled first.
  void FileSynced(FileState* state, uint64_t position);
  // An fsync of `dir` succeeded: its pending entries are durable unless the
  // plug was pulled first.
  void DirectorySynced(const std::string& dir);

  struct AtomicCounters {
    std::atomic<uint64_t> files_created{0};
    std::atomic<uint64_t> files_reused{0};
    std::atomic<uint64_t> bytes_appended{0};
    std::atomic<uint64_t> syncs{0};
    std::atomic<uint64_t> dir_syncs{0};
    std::atomic<uint64_t> renames{0};
    std::atomic<uint64_t> deletions_ignored{0};
  };

  mutable absl::Mutex mu_;
  // Written under mu_, so that a sync is recorded wholly before the plug or
  // not at all; read without it by observers.
  std::atomic<bool> plugged_{false};
  // Files opened for writing since the last power loss, by current name.
  absl::flat_hash_map<std::string, std::shared_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  // Directory changes not yet durable, oldest first.
  std::vector<PendingEntry> pending_ ABSL_GUARDED_BY(mu_);
  AtomicCounters counters_;
};

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_POWER_LOSS_ENV_H_
