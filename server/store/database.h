// The relay's embedded store: one RocksDB TransactionDB in a data directory,
// one column family per kind of record.
//
// Only store/ sees RocksDB. core/ works with the tables (account_table.h,
// prekey_table.h, queue_table.h) and with Transaction, the unit of
// atomicity: every change that spans records is one Transaction, committed in
// one write that is synced to the WAL before Commit() returns (unless the
// store was opened with sync off, for benchmarks).
//
// Write errors (a full disk, an I/O error): RocksDB stops accepting writes
// after a write or sync of its files fails, and so does every call here that
// writes (RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE otherwise; the
// message says what to do). Once a second the store checks whether it can
// resume: when the disk has room for the memtables' flush (otherwise it logs
// `event=store_resume_waiting` with the free and needed bytes, once a
// minute), it calls RocksDB's DB::Resume, which flushes the memtables (so
// whatever a failed sync left unsynced is durable before writes resume) and
// moves to a new write-ahead log, and logs `event=store_resumed`. Where a
// resume is not possible or not safe in this process, it logs
// `event=store_needs_restart` with what the operator must do (free space,
// then restart) and refuses writes with UNAVAILABLE until the restart:
// after an I/O error RocksDB ranks fatal (EIO: the disk may have dropped
// data a failed fsync should have written), and after the write-ahead log's
// own write failed while no memtable held anything (RocksDB would keep
// writing to the failed log, which Debian's assertion-enabled RocksDB
// aborts on). While writes are stopped, Flush, Purge and Checkpoint refuse
// too, and Close does not flush (the restart replays the log).
//
// RocksDB's diagnostic log goes to standard error in the server's log format
// at the server's level (`event=rocksdb_log`; its INFO lines at debug
// level; never to standard output), never to a LOG file in the data
// directory: RocksDB 7.8's file logger aborts the process when it writes
// again after a failed write, e.g. on a full disk.
//
// Thread-safety: Database is thread-safe. A Transaction belongs to one thread.
#ifndef CARERELAY_SERVER_STORE_DATABASE_H_
#define CARERELAY_SERVER_STORE_DATABASE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class Env;
class TransactionDB;
class WriteBatch;
class Transaction;
class ColumnFamilyHandle;
class Iterator;
}  // namespace rocksdb

namespace carerelay::store {

// Column families. Key encodings are documented in the table that owns each.
enum class Table {
  kMeta,              // "default": store-wide counters, erased_team_table.h
  kAccounts,          // account_table.h
  kDevices,           // account_table.h
  kEnrollmentCodes,   // account_table.h
  kSignedPrekeys,     // prekey_table.h
  kOneTimePrekeys,    // prekey_table.h
  kQueue,             // queue_table.h
  kTeams,             // team_table.h
  kMemberships,       // team_table.h
  kBlindIndexes,      // team_table.h
  kAudit,             // audit_table.h
  kAttachments,       // attachment_table.h
  kAttachmentBlocks,  // attachment_table.h
  kTimers,            // timer_table.h
  kUrgentMessages,    // urgent_table.h
  kIntakes,           // intake_table.h
  kDirectory,         // directory_table.h
  kSendKeys,          // send_key_table.h (idempotency keys of sends)
  kReceipts,          // receipt_table.h (delivery watermarks)
  kResources,         // resource_table.h (the map of resources)
};
inline constexpr int kTableCount = 20;

struct DatabaseOptions {
  // Sync the WAL before a commit returns. Off only for benchmarks: a crash
  // may then lose acknowledged sends.
  bool sync = true;
  // Block cache for reads, in bytes.
  size_t block_cache_bytes = 64 << 20;
  // Keep attachment blocks in RocksDB's blob files instead of its sorted
  // tables. Off by default: bench/attachment_store_bench measures both.
  bool attachment_blob_files = false;
  // The RocksDB environment; null for the default (the real file system).
  // Tests pass one that loses unsynced writes (power-loss simulation).
  // Not owned; must outlive the database.
  rocksdb::Env* env = nullptr;
};

class Database;
class Transaction;

// Blind writes for Database::Write: no reads, no locks. For the relay's hot
// path (delivery_writer.h), where one thread owns every key it writes (queue
// appends, deletes of delivered envelopes, watermarks), so a transaction's
// row locks would buy nothing. Not thread-safe.
class Batch {
 public:
  // `db` must outlive the batch.
  explicit Batch(const Database* db);
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void Put(Table table, absl::string_view key, absl::string_view value);
  // `value` is written as the concatenation of `first` and `second` (no copy
  // into a temporary): a pre-serialized envelope and its id and sequence.
  void PutConcat(Table table, absl::string_view key, absl::string_view first,
                 absl::string_view second);
  void Delete(Table table, absl::string_view key);
  size_t Count() const;
  bool empty() const { return Count() == 0; }

 private:
  friend class Database;
  const Database* db_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  absl::Status status_;
};

// How far a commit is durable when it returns.
enum class Durability {
  // In the WAL and synced to disk: survives a power loss. Every change that
  // acknowledges something to a client (a send, a registration, a team
  // change) is synced.
  kSynced,
  // In the WAL, written to the operating system but not synced: survives the
  // process crashing, not the machine. For changes whose loss only repeats
  // work the client does anyway (acknowledgements: a lost one means the
  // envelope is delivered again and acknowledged again). A later synced
  // commit syncs it too, the WAL being one sequential file.
  kBuffered,
};

class Database {
 public:
  // Opens (creating if needed) the store in `dir`. FAILED_PRECONDITION if
  // another process holds it (RocksDB's LOCK file); INTERNAL on corruption.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& dir,
                                                        const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A new transaction. Reads through it see committed data and its own
  // writes; GetForUpdate locks the key until Commit or destruction.
  std::unique_ptr<Transaction> Begin(Durability durability = Durability::kSynced);

  // Point read outside a transaction. NOT_FOUND if absent.
  absl::StatusOr<std::string> Get(Table table, absl::string_view key) const;

  // Calls `fn(key, value)` for each key with `prefix`, in key order, starting
  // at `start` (or the prefix itself), until fn returns false.
  // The scan sees a consistent snapshot.
  absl::Status Scan(
      Table table, absl::string_view prefix, absl::string_view start,
      absl::FunctionRef<bool(absl::string_view key, absl::string_view value)> fn) const;

  // Number of keys with this prefix (a scan; used to rebuild counters).
  absl::StatusOr<uint64_t> CountPrefix(Table table, absl::string_view prefix) const;

  // Writes `batch` atomically to the WAL and the memtables without syncing
  // the WAL (readers see it at once: callers gate visibility themselves, see
  // DeliveryHub). Durable only after a later SyncWal, or a synced commit.
  // On an I/O error, and while writes are stopped: write_state()
  // (RESOURCE_EXHAUSTED on a full disk, UNAVAILABLE otherwise); so for
  // Transaction::Commit.
  absl::Status Write(Batch& batch);
  // Makes every write that returned before this call durable (fdatasync of
  // the WAL). Does nothing when the store was opened with sync off.
  // UNAVAILABLE on an I/O error: the store then refuses further writes.
  absl::Status SyncWal();

  // Writes every memtable to the store's files (and so releases the WAL).
  // While writes are stopped (write_state()), that state: only the store's
  // own resume flushes then.
  absl::Status Flush();

  // Makes deleted values under these prefixes disappear from the store's
  // files, not only from its reads: flushes every table (so the write-ahead
  // log that held them is released) and compacts each prefix's key range (so
  // no sorted table or blob file keeps them). For erasure (attachments,
  // GDPR); costly, so call it once after a batch of deletions, off the
  // request path. The compaction is not exclusive: other compactions, and
  // writes, go on meanwhile. Refused while writes are stopped (Flush).
  absl::Status Purge(Table table, const std::vector<std::string>& prefixes);
  // How many times Purge ran since the store was opened.
  uint64_t purges() const { return purges_.load(std::memory_order_relaxed); }

  // Writes a consistent copy of the whole store, as of now, to `dir` (which
  // must not exist; its parent must), while reads and writes go on: RocksDB's
  // checkpoint, hard links to the immutable table files where `dir` is on
  // the same filesystem, copies otherwise. The copy opens with Open like any
  // data directory. ALREADY_EXISTS if `dir` exists; UNAVAILABLE on an I/O
  // error (nothing half-written is left under `dir`'s name); write_state()
  // while writes are stopped (it flushes first, see Flush). Returns the
  // size of what is in `dir`.
  struct CheckpointSize {
    uint32_t files = 0;
    uint64_t bytes = 0;
  };
  absl::StatusOr<CheckpointSize> Checkpoint(const std::string& dir);

  // A RocksDB integer property (for monitoring), summed over every table,
  // or of one table: e.g. "rocksdb.estimate-pending-compaction-bytes",
  // "rocksdb.estimate-num-keys". NOT_FOUND if RocksDB does not know it.
  absl::StatusOr<uint64_t> IntProperty(const std::string& property) const;
  absl::StatusOr<uint64_t> IntProperty(Table table, const std::string& property) const;

  // Flushes memtables and closes; afterwards every call fails. Idempotent.
  // While writes are stopped it closes without flushing and returns
  // write_state(): the next open replays the write-ahead log, which holds
  // every synced write.
  absl::Status Close();

  // Whether writes are accepted now: OK, or why not (RESOURCE_EXHAUSTED: the
  // disk is full; UNAVAILABLE: an I/O error), with what the operator must do.
  absl::Status write_state() const;
  // Write errors that stopped the store since it was opened (failed writes
  // refused because of an earlier one are not counted).
  uint64_t write_failures() const;
  // Whether the store resumed after the `failures`-th write error (a value
  // of write_failures() read while write_state() was not OK): everything
  // written before that error, synced or not, is now durable. False for 0.
  bool RecoveredFrom(uint64_t failures) const;
  // Successful recoveries since the store was opened (for monitoring).
  uint64_t resumes() const;

  bool sync() const { return options_.sync; }
  const std::string& dir() const { return dir_; }

  // For store/ only.
  rocksdb::TransactionDB* rocks() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* handle(Table table) const;
  std::unique_ptr<rocksdb::Iterator> NewIterator(Table table, absl::string_view prefix) const;

 private:
  struct Handles;
  // What RocksDB reported of write errors, shared with its event listener
  // (which RocksDB may keep after the Database is gone).
  struct Health;
  class ErrorListener;
  Database(std::string dir, DatabaseOptions options);
  // The thread that resumes the store after a write error.
  void RecoveryLoop();

  std::string dir_;
  std::atomic<uint64_t> purges_{0};
  DatabaseOptions options_;
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::unique_ptr<Handles> handles_;
  std::shared_ptr<Health> health_;
  std::thread recovery_;
};

// A set of reads and writes committed atomically. Not thread-safe.
// Destroying an uncommitted Transaction rolls it back.
//
// Lock order. GetForUpdate, Put and Delete lock their key until the end of
// the transaction; two transactions that lock the same two keys in opposite
// orders wait for each other until the lock timeout (2 s), then fail with
// ABORTED. So every transaction that locks more than one of these takes
// them in this order:
//   1. teams (kTeams; the audit log of a team is written under its lock),
//   2. intakes,
//   3. urgent messages,
//   4. timers,
// and everything else (queues, attachments, accounts) after those it
// reads to decide. A transaction that learns which team to lock from an
// intake or urgent message reads that record first without locking it,
// locks the team, then locks the record and checks it still names that
// team. Deadlock detection is on as well: a cycle the order missed fails
// at once with ABORTED instead of after the timeout.
class Transaction {
 public:
  ~Transaction();

  absl::StatusOr<std::string> Get(Table table, absl::string_view key);
  // Reads and locks the key until the transaction ends, so concurrent
  // transactions touching it wait (ABORTED on lock timeout or deadlock).
  absl::StatusOr<std::string> GetForUpdate(Table table, absl::string_view key);
  absl::Status Put(Table table, absl::string_view key, absl::string_view value);
  absl::Status Delete(Table table, absl::string_view key);
  // Deletes every key with this prefix (point deletes; for per-device data).
  absl::Status DeletePrefix(Table table, absl::string_view prefix);
  // Takes the first key with `prefix`: reads and locks it and deletes it in
  // this transaction, so concurrent takers each get a different key.
  // NOT_FOUND if none. At most one take per prefix per transaction.
  absl::StatusOr<std::pair<std::string, std::string>> PopFirstForUpdate(Table table,
                                                                        absl::string_view prefix);

  // Writes everything atomically; durable (WAL synced) when the database
  // syncs. Only once.
  absl::Status Commit();

 private:
  friend class Database;
  Transaction(const Database* db, std::unique_ptr<rocksdb::Transaction> txn);
  const Database* db_;
  std::unique_ptr<rocksdb::Transaction> txn_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_DATABASE_H_
