#include "server/store/database.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/transaction.h>
#include <rocksdb/utilities/transaction_db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace carerelay::store {
namespace {

constexpr const char* kTableNames[kTableCount] = {
    "default",  // rocksdb::kDefaultColumnFamilyName
    "accounts",       "devices",          "enrollment_codes",
    "signed_prekeys", "one_time_prekeys", "queue",
    "teams",          "memberships",      "blind_indexes",
    "audit",          "attachments",      "attachment_blocks",
    "timers",         "urgent_messages",  "intakes",
    "directory",      "send_keys",        "receipts",
    "resources",
};

// How long the store waits between two attempts to resume after a write
// error: short enough that a client retrying after the operator made room
// gets through within seconds, long enough that a disk still full costs one
// failed flush a second.
constexpr absl::Duration kResumeInterval = absl::Seconds(1);

bool IsNoSpace(const rocksdb::Status& s) {
  return s.IsIOError() &&
         (s.subcode() == rocksdb::Status::kNoSpace || s.subcode() == rocksdb::Status::kSpaceLimit);
}

// What the operator reads, in the status a client gets and in the log.
constexpr const char* kDiskFullAction =
    "free space on the data directory's disk; the server resumes writing by itself";
constexpr const char* kRestartAction =
    "restart carerelayd (e.g. systemctl restart carerelayd): it recovers everything that was "
    "acknowledged from the write-ahead log; if the error comes back, check the disk (dmesg, "
    "smartctl) and restore from the last backup if it is failing";
constexpr const char* kDiskFullRestartAction =
    "free space on the data directory's disk, then restart carerelayd (e.g. systemctl restart "
    "carerelayd): it recovers everything that was acknowledged from the write-ahead log";

// Room a resume needs besides the memtables it flushes: a new write-ahead
// log, a MANIFEST record, an OPTIONS file.
constexpr uint64_t kResumeHeadroomBytes = 1 << 20;

// RocksDB's diagnostic log, sent to the server's log instead of a LOG file in
// the data directory. Why: RocksDB 7.8's file logger (EnvLogger) ignores a
// failed write to its LOG file and writes to the same file again the next
// time RocksDB logs anything; Debian builds RocksDB with assertions on, and
// that second write aborts the process
// (WritableFileWriter::AssertFalseAndGetStatusForPrevError). On a full disk
// the LOG file fills up with the rest, and RocksDB logs on every error it
// handles: the server died while handling the full disk. The server's log
// goes to stderr (the journal), not to the data directory's disk.
class InfoLogger : public rocksdb::Logger {
 public:
  // RocksDB's INFO lines (hundreds at each open, several per flush and
  // compaction) are the server's debug lines: formatted only when shown.
  InfoLogger()
      : rocksdb::Logger(spdlog::should_log(spdlog::level::debug)
                            ? rocksdb::InfoLogLevel::INFO_LEVEL
                            : rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void LogHeader(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    // Logged as a warning at every open of a TransactionDB, and as an
    // error when a new store is created: neither is one.
    if (std::strstr(format, "Transaction write_policy is ") != nullptr ||
        std::strstr(format, "Error when reading %s dir") != nullptr) {
      level = rocksdb::InfoLogLevel::INFO_LEVEL;
    }
    const spdlog::level::level_enum to =
        level >= rocksdb::InfoLogLevel::FATAL_LEVEL   ? spdlog::level::critical
        : level == rocksdb::InfoLogLevel::ERROR_LEVEL ? spdlog::level::err
        : level == rocksdb::InfoLogLevel::WARN_LEVEL  ? spdlog::level::warn
                                                      : spdlog::level::debug;
    if (!spdlog::should_log(to)) return;  // the server's level
    char buffer[512];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (n < 0) return;
    std::string text;
    if (static_cast<size_t>(n) < sizeof(buffer)) {
      text.assign(buffer, n);
    } else {
      text.resize(static_cast<size_t>(n) + 1);
      std::vsnprintf(text.data(), text.size(), format, ap);
      text.resize(static_cast<size_t>(n));
    }
    // One line, and a quoted value that stays one value.
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '"', '\'');
    Sink().log(to, "event=rocksdb_log message=\"{}\"", text);
  }

 private:
  // Standard error, with the server's format: never standard output, which
  // is what `carerelayd admin` commands print their results on.
  static spdlog::logger& Sink() {
    static const std::shared_ptr<spdlog::logger> sink = [] {
      std::shared_ptr<spdlog::logger> l = spdlog::get("rocksdb");
      // Through the registry: it takes the format set with set_pattern.
      if (l == nullptr) l = spdlog::stderr_logger_mt("rocksdb");
      l->set_level(spdlog::level::trace);  // filtered above, at the server's level
      return l;
    }();
    return *sink;
  }
};

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = "store: " + s.ToString();
  if (IsNoSpace(s)) {
    // The write did not happen: the client may send again once there is room.
    return absl::ResourceExhaustedError(
        absl::StrCat("store: the data directory's disk is full, nothing was stored (", s.ToString(),
                     "); ", kDiskFullAction));
  }
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(msg);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
      return absl::AbortedError(msg);
    case rocksdb::Status::kIOError:
      if (s.ToString().find("lock") != std::string::npos) {
        return absl::FailedPreconditionError(msg +
                                             " (is another carerelayd using this data directory?)");
      }
      return absl::UnavailableError(msg);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// The upper bound of a prefix scan: the prefix with its last byte that is not
// 0xff incremented (empty means unbounded).
std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

// An iterator that owns its upper bound (ReadOptions keeps only a pointer).
class BoundedIterator : public rocksdb::Iterator {
 public:
  BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, absl::string_view prefix)
      : upper_(PrefixSuccessor(prefix)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }
  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(const rocksdb::Slice& t) override { it_->Seek(t); }
  void SeekForPrev(const rocksdb::Slice& t) override { it_->SeekForPrev(t); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  rocksdb::Slice key() const override { return it_->key(); }
  rocksdb::Slice value() const override { return it_->value(); }
  rocksdb::Status status() const override { return it_->status(); }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

namespace {

// A write's failure as the caller reports it. An I/O error while writes are
// stopped is answered with the store's state (Database::write_state), which
// knows whether it resumes by itself or needs a restart; RocksDB's own
// status only repeats the first error.
absl::Status WriteFailure(const Database& db, const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsIOError()) {
    if (absl::Status state = db.write_state(); !state.ok()) return state;
  }
  return FromRocks(s);
}

}  // namespace

struct Database::Handles {
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
};

struct Database::Health {
  mutable absl::Mutex mu;
  // The error that stopped writes; OK while they are accepted.
  rocksdb::Status error ABSL_GUARDED_BY(mu);
  uint64_t failures ABSL_GUARDED_BY(mu) = 0;
  // `failures` when the last successful resume began.
  uint64_t recovered_through ABSL_GUARDED_BY(mu) = 0;
  uint64_t resumes ABSL_GUARDED_BY(mu) = 0;
  // A write-ahead log write or sync failed since `error` was set: RocksDB
  // keeps that log's writer, which aborts the process (assertions on) if
  // written again, until a resume switches to a new log (RecoveryLoop).
  bool wal_failed ABSL_GUARDED_BY(mu) = false;
  // RocksDB will not resume, or cannot safely: only a restart brings writes
  // back.
  bool needs_restart ABSL_GUARDED_BY(mu) = false;
  bool closing ABSL_GUARDED_BY(mu) = false;
};

// Learns from RocksDB when it stops writes (a background error). Called
// synchronously by the write, sync or flush that failed, before it returns.
class Database::ErrorListener : public rocksdb::EventListener {
 public:
  explicit ErrorListener(std::shared_ptr<Health> health) : health_(std::move(health)) {}
  const char* Name() const override { return "carerelay.ErrorListener"; }

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* bg_error) override {
    if (bg_error->ok()) return;
    absl::MutexLock lock(&health_->mu);
    // kWriteCallback: the write-ahead log's append or sync failed.
    const bool wal = reason == rocksdb::BackgroundErrorReason::kWriteCallback;
    // After a WAL append failed, a WAL sync already under way (the relay's
    // syncer, racing the failed write) fails with RocksDB's "Writer has
    // previous error": the same log writer refusing to sync because of that
    // append's error (only its SyncWithoutFlush returns this instead of
    // aborting). RocksDB ranks an IOError without a subcode fatal, turning a
    // full disk it can resume from into an error it cannot. Suppressing it
    // (listener.h allows it) keeps the first, identical error: writes stay
    // stopped, the caller still gets its failure (its records stay
    // unacknowledged), and the resume flushes every memtable to new table
    // files and moves to a new log before writes go on, so nothing depends
    // on the failed log afterwards. Only with a NoSpace error from the same
    // log held: any other cause keeps RocksDB's classification.
    if (wal && !health_->error.ok() && !health_->needs_restart && health_->wal_failed &&
        IsNoSpace(health_->error) &&
        absl::StrContains(bg_error->ToString(), "Writer has previous error")) {
      *bg_error = rocksdb::Status::OK();
      return;
    }
    // Errors that do not stop writes (a compaction out of space) are left
    // to RocksDB, which retries them.
    if (bg_error->severity() < rocksdb::Status::Severity::kHardError) return;
    if (health_->error.ok()) {
      ++health_->failures;
      health_->wal_failed = false;
      spdlog::error(
          "event=store_write_failed status=\"{}\" action=\"{}\"", bg_error->ToString(),
          IsNoSpace(*bg_error) ? kDiskFullAction : "none yet: the server tries to resume");
    }
    if (wal) health_->wal_failed = true;
    if (health_->error.ok() || bg_error->severity() > health_->error.severity()) {
      health_->error = *bg_error;
    }
  }

  // RocksDB's own recovery from a full disk (its default SstFileManager)
  // waits until the disk has as much free space as a memtable may hold
  // (64 MiB), which a small disk may never have, and refuses DB::Resume
  // meanwhile: the recovery thread resumes instead, as soon as a flush fits.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }

 private:
  const std::shared_ptr<Health> health_;
};

Database::Database(std::string dir, DatabaseOptions options)
    : dir_(std::move(dir)),
      options_(options),
      handles_(std::make_unique<Handles>()),
      health_(std::make_shared<Health>()) {}

Database::~Database() { Close().IgnoreError(); }

absl::Status Database::write_state() const {
  absl::MutexLock lock(&health_->mu);
  if (health_->error.ok()) return absl::OkStatus();
  if (health_->needs_restart && IsNoSpace(health_->error)) {
    return absl::UnavailableError(absl::StrCat(
        "store: the data directory's disk is full and writes cannot resume without a restart (",
        health_->error.ToString(), "); ", kDiskFullRestartAction));
  }
  if (health_->needs_restart || !IsNoSpace(health_->error)) {
    return absl::UnavailableError(
        absl::StrCat("store: writes stopped after an I/O error (", health_->error.ToString(), "); ",
                     health_->needs_restart ? kRestartAction : "retrying"));
  }
  return FromRocks(health_->error);
}

uint64_t Database::write_failures() const {
  absl::MutexLock lock(&health_->mu);
  return health_->failures;
}

bool Database::RecoveredFrom(uint64_t failures) const {
  absl::MutexLock lock(&health_->mu);
  return failures > 0 && health_->recovered_through >= failures;
}

uint64_t Database::resumes() const {
  absl::MutexLock lock(&health_->mu);
  return health_->resumes;
}

namespace {

// The write-ahead log RocksDB writes to now; 0 if it cannot say.
uint64_t CurrentWalNumber(rocksdb::DB* db) {
  std::unique_ptr<rocksdb::LogFile> wal;
  if (!db->GetCurrentWalFile(&wal).ok() || wal == nullptr) return 0;
  return wal->LogNumber();
}

}  // namespace

void Database::RecoveryLoop() {
  const absl::Time opened = absl::Now();
  int failed_attempts = 0;  // resumes tried, and failed, since writes stopped
  int waits = 0;            // checks that found too little room
  bool stopped = false;
  absl::Time stopped_since;
  // The error (a value of `failures`) whose failed log was recorded, and
  // that log's number (0: unknown).
  uint64_t recorded_failure = 0;
  uint64_t failed_wal = 0;
  for (;;) {
    uint64_t failures = 0;
    bool wal_failed = false;
    bool no_space = false;
    {
      absl::MutexLock lock(&health_->mu);
      auto wanted = [h = health_.get()] {
        return h->closing || (!h->error.ok() && !h->needs_restart);
      };
      health_->mu.Await(absl::Condition(&wanted));
      if (health_->closing) return;
      if (!stopped) {
        stopped = true;
        stopped_since = absl::Now();
      }
      // Give the operator a moment; wake at once on close.
      auto closing = [h = health_.get()] { return h->closing; };
      if (health_->mu.AwaitWithTimeout(absl::Condition(&closing), kResumeInterval)) return;
      failures = health_->failures;
      wal_failed = health_->wal_failed;
      no_space = IsNoSpace(health_->error);
      if (health_->error.severity() >= rocksdb::Status::Severity::kFatalError) {
        health_->needs_restart = true;
        spdlog::error("event=store_needs_restart status=\"{}\" action=\"{}\"",
                      health_->error.ToString(),
                      no_space ? kDiskFullRestartAction : kRestartAction);
        continue;
      }
    }
    rocksdb::DB* const root = db_->GetRootDB();  // the TransactionDB does not forward Resume
    // Only this thread switches logs while writes are stopped (Flush, Purge,
    // Checkpoint and Close refuse meanwhile), so the log current now is the
    // one that failed.
    if (wal_failed && recorded_failure != failures) {
      recorded_failure = failures;
      failed_wal = CurrentWalNumber(root);
    }

    // A resume on a disk still full fails in its flush, having written
    // table files only to delete them: wait until the flush fits. (Where
    // the environment cannot tell, try.)
    uint64_t free_bytes = 0;
    absl::StatusOr<uint64_t> memtables = IntProperty("rocksdb.cur-size-all-mem-tables");
    const uint64_t needed = (memtables.ok() ? *memtables : 0) + kResumeHeadroomBytes;
    if (root->GetEnv()->GetFreeSpace(dir_, &free_bytes).ok() && free_bytes < needed) {
      // Once, then once a minute while the disk stays full.
      if (waits++ % 60 == 0) {
        spdlog::error(
            "event=store_resume_waiting free_bytes={} needed_bytes={} stopped_for_s={} "
            "action=\"{}\"",
            free_bytes, needed, absl::ToInt64Seconds(absl::Now() - stopped_since), kDiskFullAction);
      }
      continue;
    }

    // A resume moves RocksDB to a new write-ahead log only when some table
    // has unflushed writes in memory (DBImpl::FlushMemTable switches
    // memtables only then). If the log's own write failed while every
    // memtable was empty (the first write after a flush or an open), a
    // resume would succeed and keep the failed log's writer, and the next
    // write to it aborts the process (RocksDB asserts a failed writer is
    // never written again). Nothing can make that safe in this process.
    if (wal_failed) {
      absl::StatusOr<uint64_t> in_memory = IntProperty("rocksdb.num-entries-active-mem-table");
      if (!in_memory.ok() ||
          (*in_memory == 0 && (failed_wal == 0 || CurrentWalNumber(root) == failed_wal))) {
        absl::MutexLock lock(&health_->mu);
        health_->needs_restart = true;
        spdlog::error(
            "event=store_needs_restart status=\"{}\" reason=\"the write-ahead log failed with "
            "nothing in memory to flush; writing to it again is unsafe\" action=\"{}\"",
            health_->error.ToString(), no_space ? kDiskFullRestartAction : kRestartAction);
        continue;
      }
    }

    // Flushes the memtables (moving to a new write-ahead log), then clears
    // the error; or fails, and the error stays.
    rocksdb::Status s = root->Resume();
    absl::MutexLock lock(&health_->mu);
    if (s.ok()) {
      ++health_->resumes;
      health_->recovered_through = failures;
      // A new error during the resume stays (and is resumed from next).
      if (health_->failures == failures) {
        health_->error = rocksdb::Status::OK();
        health_->wal_failed = false;
      }
      spdlog::warn("event=store_resumed stopped_for_ms={} attempts={} uptime_s={}",
                   absl::ToInt64Milliseconds(absl::Now() - stopped_since), failed_attempts + 1,
                   absl::ToInt64Seconds(absl::Now() - opened));
      failed_attempts = 0;
      waits = 0;
      stopped = false;
      continue;
    }
    ++failed_attempts;
    if (s.severity() >= rocksdb::Status::Severity::kFatalError ||
        health_->error.severity() >= rocksdb::Status::Severity::kFatalError) {
      if (s.severity() > health_->error.severity()) health_->error = s;
      health_->needs_restart = true;
      spdlog::error("event=store_needs_restart status=\"{}\" action=\"{}\"", s.ToString(),
                    IsNoSpace(health_->error) ? kDiskFullRestartAction : kRestartAction);
    } else if (!s.IsBusy() && (failed_attempts == 1 || failed_attempts % 60 == 0)) {
      // (Busy: RocksDB is resuming by itself at that moment; not news.)
      // Once, then once a minute while it keeps failing.
      spdlog::error(
          "event=store_resume_failed attempts={} status=\"{}\" action=\"{}\"", failed_attempts,
          s.ToString(),
          IsNoSpace(s) || IsNoSpace(health_->error) ? kDiskFullAction : "none yet: retrying");
    }
  }
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& dir,
                                                         const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database(dir, options));  // private constructor

  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.IncreaseParallelism(2);
  // Concurrent writers are grouped by RocksDB's write thread: one leader
  // writes and syncs the WAL for the whole group (group commit).
  opts.enable_pipelined_write = true;
  opts.max_total_wal_size = 256 << 20;
  opts.keep_log_file_num = 5;
  opts.max_log_file_size = 16 << 20;
  // No WAL recycling (recycle_log_file_num): RocksDB 7.8 turns it off under
  // the point-in-time recovery the relay needs (a recycled WAL cannot tell an
  // old record from a torn new one), so a WAL sync also writes the file size.
  // The relay's writer thread and a control-plane commit rarely meet:
  // yielding instead of blocking keeps the write thread's handoff short.
  opts.enable_write_thread_adaptive_yield = true;
  if (options.env != nullptr) opts.env = options.env;
  // Learns of write errors, and leaves recovery to this store's recovery
  // thread (ErrorListener::OnErrorRecoveryBegin says why).
  opts.listeners.push_back(std::make_shared<ErrorListener>(db->health_));
  // No LOG file in the data directory (InfoLogger says why).
  opts.info_log = std::make_shared<InfoLogger>();

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_opts(opts);
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  opts.table_factory = cf_opts.table_factory;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kTableNames) descriptors.emplace_back(name, cf_opts);
  if (options.attachment_blob_files) {
    // Blocks are 64 KiB: in blob files, compaction moves their keys only.
    // Garbage collection rewrites blob files as their blocks are deleted.
    rocksdb::ColumnFamilyOptions& blocks =
        descriptors[static_cast<int>(Table::kAttachmentBlocks)].options;
    blocks.enable_blob_files = true;
    blocks.min_blob_size = 4096;
    blocks.blob_file_size = 64 << 20;
    blocks.enable_blob_garbage_collection = true;
    blocks.blob_garbage_collection_age_cutoff = 1.0;
  }

  rocksdb::TransactionDBOptions txn_opts;
  txn_opts.transaction_lock_timeout = 2000;  // ms

  rocksdb::TransactionDB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::TransactionDB::Open(opts, txn_opts, dir, descriptors, &db->handles_->cf, &raw);
  if (!s.ok()) return FromRocks(s);
  db->db_.reset(raw);
  db->recovery_ = std::thread([d = db.get()] { d->RecoveryLoop(); });
  return db;
}

absl::StatusOr<uint64_t> Database::IntProperty(const std::string& property) const {
  if (!db_) return absl::FailedPreconditionError("store is closed");
  uint64_t value = 0;
  if (!db_->GetAggregatedIntProperty(property, &value)) {
    return absl::NotFoundError(absl::StrCat("no RocksDB property ", property));
  }
  return value;
}

absl::StatusOr<uint64_t> Database::IntProperty(Table table, const std::string& property) const {
  if (!db_) return absl::FailedPreconditionError("store is closed");
  uint64_t value = 0;
  if (!db_->GetIntProperty(handle(table), property, &value)) {
    return absl::NotFoundError(absl::StrCat("no RocksDB property ", property));
  }
  return value;
}

absl::StatusOr<Database::CheckpointSize> Database::Checkpoint(const std::string& dir) {
  if (!db_) return absl::FailedPreconditionError("store is closed");
  if (std::filesystem::exists(dir)) {
    return absl::AlreadyExistsError(absl::StrCat(dir, " already exists; name a new directory"));
  }
  // It flushes the memtables first: not while writes are stopped (Flush).
  if (absl::Status stopped = write_state(); !stopped.ok()) return stopped;
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return FromRocks(s);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // 0: flush the memtables first, so the copy needs no write-ahead log.
  // RocksDB builds it under a temporary name and renames it when complete.
  s = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
  if (!s.ok()) return FromRocks(s);
  CheckpointSize size;
  std::error_code ec;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!f.is_regular_file(ec)) continue;
    ++size.files;
    size.bytes += f.file_size(ec);
  }
  return size;
}

absl::Status Database::Close() {
  if (recovery_.joinable()) {
    {
      absl::MutexLock lock(&health_->mu);
      health_->closing = true;
    }
    recovery_.join();
  }
  if (!db_) return absl::OkStatus();
  // Flushing memtables makes the next start fast: nothing to replay from the
  // WAL. A crash skips this and the WAL replay recovers the same data. Not
  // while writes are stopped: the flush would write to a failed log writer
  // (see Flush); the next start replays the log instead, which holds every
  // acknowledged (synced) write.
  rocksdb::Status s;
  absl::Status stopped = write_state();
  if (!stopped.ok()) {
    spdlog::warn("event=store_closed_unflushed status=\"{}\"", stopped.ToString());
  } else {
    s = db_->Flush(rocksdb::FlushOptions(), handles_->cf);
    if (s.ok()) s = db_->FlushWAL(/*sync=*/true);
  }
  for (auto* h : handles_->cf) db_->DestroyColumnFamilyHandle(h);
  handles_->cf.clear();
  rocksdb::Status c = db_->Close();
  db_.reset();
  // (Its own failure to sync the failed log at close only repeats this.)
  if (!stopped.ok()) return stopped;
  if (!s.ok()) return FromRocks(s);
  return FromRocks(c);
}

Batch::Batch(const Database* db) : db_(db), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;

void Batch::Put(Table table, absl::string_view key, absl::string_view value) {
  if (status_.ok())
    status_ = FromRocks(batch_->Put(db_->handle(table), ToSlice(key), ToSlice(value)));
}

void Batch::PutConcat(Table table, absl::string_view key, absl::string_view first,
                      absl::string_view second) {
  if (!status_.ok()) return;
  rocksdb::Slice k = ToSlice(key);
  rocksdb::Slice parts[2] = {ToSlice(first), ToSlice(second)};
  status_ = FromRocks(
      batch_->Put(db_->handle(table), rocksdb::SliceParts(&k, 1), rocksdb::SliceParts(parts, 2)));
}

void Batch::Delete(Table table, absl::string_view key) {
  if (status_.ok()) status_ = FromRocks(batch_->Delete(db_->handle(table), ToSlice(key)));
}

size_t Batch::Count() const { return batch_->Count(); }

absl::Status Database::Write(Batch& batch) {
  if (!db_) return absl::FailedPreconditionError("store: closed");
  if (!batch.status_.ok()) return batch.status_;
  rocksdb::WriteOptions wo;
  wo.sync = false;
  // Blind writes of keys only the writer thread touches: no lock manager.
  rocksdb::TransactionDBWriteOptimizations direct;
  direct.skip_concurrency_control = true;
  direct.skip_duplicate_key_check = true;
  return WriteFailure(*this, db_->Write(wo, direct, batch.batch_.get()));
}

absl::Status Database::SyncWal() {
  if (!db_) return absl::FailedPreconditionError("store: closed");
  if (!options_.sync) return absl::OkStatus();
  // RocksDB's SyncWAL does not look at its background error: after a failed
  // WAL write it would only fail again, less clearly.
  if (absl::Status stopped = write_state(); !stopped.ok()) return stopped;
  return FromRocks(db_->SyncWAL());
}

absl::Status Database::Flush() {
  if (!db_) return absl::FailedPreconditionError("store: closed");
  // While writes are stopped only the recovery thread's resume may flush: a
  // flush outside it moves to a new write-ahead log by writing out the old
  // log's buffer, and if that log failed, RocksDB aborts the process.
  if (absl::Status stopped = write_state(); !stopped.ok()) return stopped;
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_->cf));
}

absl::Status Database::Purge(Table table, const std::vector<std::string>& prefixes) {
  purges_.fetch_add(1, std::memory_order_relaxed);
  absl::Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  rocksdb::Status s;
  rocksdb::CompactRangeOptions options;
  options.exclusive_manual_compaction = false;
  // The deleted values may sit in the last level, which a compaction leaves
  // alone unless forced.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  const bool blobs = options_.attachment_blob_files && table == Table::kAttachmentBlocks;
  if (blobs) {
    // A blob file goes only when none of its blobs is referenced, and blobs
    // of other keys share the file: relocate every live blob (whole table).
    options.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
    options.blob_garbage_collection_age_cutoff = 1.0;
    return FromRocks(db_->CompactRange(options, handle(table), nullptr, nullptr));
  }
  for (const std::string& prefix : prefixes) {
    const std::string end = PrefixSuccessor(prefix);
    const rocksdb::Slice b(prefix), e(end);
    s = db_->CompactRange(options, handle(table), &b, end.empty() ? nullptr : &e);
    if (!s.ok()) return FromRocks(s);
  }
  return absl::OkStatus();
}

rocksdb::ColumnFamilyHandle* Database::handle(Table table) const {
  return handles_->cf[static_cast<int>(table)];
}

std::unique_ptr<Transaction> Database::Begin(Durability durability) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync && durability == Durability::kSynced;
  // The lock order (database.h) keeps deadlocks out; detection is the net
  // under it: a cycle fails at once with ABORTED instead of stalling both
  // transactions for the lock timeout.
  rocksdb::TransactionOptions to;
  to.deadlock_detect = true;
  std::unique_ptr<rocksdb::Transaction> txn(db_->BeginTransaction(wo, to));
  return std::unique_ptr<Transaction>(new Transaction(this, std::move(txn)));
}

absl::StatusOr<std::string> Database::Get(Table table, absl::string_view key) const {
  if (!db_) return absl::FailedPreconditionError("store is closed");
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(table), ToSlice(key), &value);
  if (!s.ok()) return FromRocks(s);
  return value;
}

std::unique_ptr<rocksdb::Iterator> Database::NewIterator(Table table,
                                                         absl::string_view prefix) const {
  return std::make_unique<BoundedIterator>(db_.get(), handle(table), prefix);
}

absl::Status Database::Scan(
    Table table, absl::string_view prefix, absl::string_view start,
    absl::FunctionRef<bool(absl::string_view, absl::string_view)> fn) const {
  if (!db_) return absl::FailedPreconditionError("store is closed");
  auto it = NewIterator(table, prefix);
  it->Seek(ToSlice(start.empty() ? prefix : start));
  for (; it->Valid(); it->Next()) {
    if (!fn(ToView(it->key()), ToView(it->value()))) break;
  }
  return FromRocks(it->status());
}

absl::StatusOr<uint64_t> Database::CountPrefix(Table table, absl::string_view prefix) const {
  uint64_t n = 0;
  absl::Status s = Scan(table, prefix, "", [&](absl::string_view, absl::string_view) {
    ++n;
    return true;
  });
  if (!s.ok()) return s;
  return n;
}

Transaction::Transaction(const Database* db, std::unique_ptr<rocksdb::Transaction> txn)
    : db_(db), txn_(std::move(txn)) {}

Transaction::~Transaction() {
  if (txn_) txn_->Rollback().PermitUncheckedError();
}

absl::StatusOr<std::string> Transaction::Get(Table table, absl::string_view key) {
  std::string value;
  rocksdb::Status s = txn_->Get(rocksdb::ReadOptions(), db_->handle(table), ToSlice(key), &value);
  if (!s.ok()) return FromRocks(s);
  return value;
}

absl::StatusOr<std::string> Transaction::GetForUpdate(Table table, absl::string_view key) {
  std::string value;
  rocksdb::Status s =
      txn_->GetForUpdate(rocksdb::ReadOptions(), db_->handle(table), ToSlice(key), &value);
  if (!s.ok()) return FromRocks(s);
  return value;
}

absl::Status Transaction::Put(Table table, absl::string_view key, absl::string_view value) {
  return FromRocks(txn_->Put(db_->handle(table), ToSlice(key), ToSlice(value)));
}

absl::Status Transaction::Delete(Table table, absl::string_view key) {
  return FromRocks(txn_->Delete(db_->handle(table), ToSlice(key)));
}

absl::Status Transaction::DeletePrefix(Table table, absl::string_view prefix) {
  std::vector<std::string> keys;
  absl::Status s = db_->Scan(table, prefix, "", [&](absl::string_view k, absl::string_view) {
    keys.emplace_back(k);
    return true;
  });
  if (!s.ok()) return s;
  for (const auto& k : keys) {
    // Blind deletes: no lock needed, and deleting a key a concurrent
    // transaction just wrote would be a race the caller prevents anyway.
    rocksdb::Status d = txn_->DeleteUntracked(db_->handle(table), k);
    if (!d.ok()) return FromRocks(d);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::string>> Transaction::PopFirstForUpdate(
    Table table, absl::string_view prefix) {
  // Another transaction may take the first key between our scan and our
  // lock; then GetForUpdate finds it gone and we look again.
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string key;
    absl::Status s = db_->Scan(table, prefix, "", [&](absl::string_view k, absl::string_view) {
      key.assign(k.data(), k.size());
      return false;
    });
    if (!s.ok()) return s;
    if (key.empty()) return absl::NotFoundError("none left");
    absl::StatusOr<std::string> value = GetForUpdate(table, key);
    if (value.ok()) {
      absl::Status d = Delete(table, key);
      if (!d.ok()) return d;
      return std::make_pair(std::move(key), *std::move(value));
    }
    if (!absl::IsNotFound(value.status())) return value.status();
  }
  return absl::AbortedError("store: too much contention taking the first key of a prefix");
}

absl::Status Transaction::Commit() {
  if (!txn_) return absl::FailedPreconditionError("transaction already committed");
  rocksdb::Status s = txn_->Commit();
  txn_.reset();
  return WriteFailure(*db_, s);
}

}  // namespace carerelay::store
