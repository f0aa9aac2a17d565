#include "server/store/database.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/transaction.h>
#include <rocksdb/utilities/transaction_db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

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
};

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = "store: " + s.ToString();
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

struct Database::Handles {
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
};

Database::Database(std::string dir, DatabaseOptions options)
    : dir_(std::move(dir)), options_(options), handles_(std::make_unique<Handles>()) {}

Database::~Database() { Close().IgnoreError(); }

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
  if (!db_) return absl::OkStatus();
  // Flushing memtables makes the next start fast: nothing to replay from the
  // WAL. A crash skips this and the WAL replay recovers the same data.
  rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handles_->cf);
  if (s.ok()) s = db_->FlushWAL(/*sync=*/true);
  for (auto* h : handles_->cf) db_->DestroyColumnFamilyHandle(h);
  handles_->cf.clear();
  rocksdb::Status c = db_->Close();
  db_.reset();
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
  return FromRocks(db_->Write(wo, direct, batch.batch_.get()));
}

absl::Status Database::SyncWal() {
  if (!db_) return absl::FailedPreconditionError("store: closed");
  if (!options_.sync) return absl::OkStatus();
  return FromRocks(db_->SyncWAL());
}

absl::Status Database::Flush() {
  if (!db_) return absl::FailedPreconditionError("store: closed");
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
  return FromRocks(s);
}

}  // namespace carerelay::store
