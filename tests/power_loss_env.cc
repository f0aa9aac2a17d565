#include "tests/power_loss_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace carerelay::testing {
namespace {

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::string Normalize(const std::string& path) {
  std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();  // "dir/" -> "dir"
  return p.string();
}

std::string ParentDir(const std::string& path) {
  return std::filesystem::path(Normalize(path)).parent_path().string();
}

// The info log (LOG, LOG.old.*) is not store data and RocksDB creates it
// through the target environment's logger: left alone.
bool IsInfoLog(const std::string& path) {
  return absl::StartsWith(std::filesystem::path(path).filename().string(), "LOG");
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<uint64_t> SizeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InternalError(absl::StrCat("stat ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

absl::Status WriteAll(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status PwriteAll(int fd, const char* data, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("pwrite: ", std::strerror(errno)));
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

}  // namespace

// What the disk holds durably of one file opened for writing, and what it
// would lose. Positions are byte offsets in the file.
struct PowerLossEnv::FileState {
  absl::Mutex mu;
  // The durable length before this open: 0 for a new file; the old length
  // of a reused or reopened file.
  uint64_t base ABSL_GUARDED_BY(mu) = 0;
  // Where the next append goes.
  uint64_t pos ABSL_GUARDED_BY(mu) = 0;
  // [0, synced) is durable with the content written.
  uint64_t synced ABSL_GUARDED_BY(mu) = 0;
  // The old content of [undo_start, undo_start + undo.size()): bytes of the
  // old file (below `base`) overwritten since the last sync.
  uint64_t undo_start ABSL_GUARDED_BY(mu) = 0;
  std::string undo ABSL_GUARDED_BY(mu);
  // Reads the old content before it is overwritten (reused files only).
  std::unique_ptr<Fd> old_reader ABSL_GUARDED_BY(mu);
  bool open ABSL_GUARDED_BY(mu) = true;

  // The sync that started when `position` bytes were written succeeded.
  void Synced(uint64_t position) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (position <= synced) return;
    synced = position;
    if (synced > undo_start) {
      const uint64_t drop = std::min<uint64_t>(synced - undo_start, undo.size());
      undo.erase(0, drop);
      undo_start = synced;
    }
  }
};

// A file open for writing: forwards to the real file, keeping FileState up
// to date. The calls that change neither content nor durability (Flush,
// Allocate, hints...) go to the real file through WritableFileWrapper.
class PowerLossEnv::TrackedFile : public rocksdb::WritableFileWrapper {
 public:
  TrackedFile(PowerLossEnv* env, std::shared_ptr<FileState> state,
              std::unique_ptr<rocksdb::WritableFile> target)
      : rocksdb::WritableFileWrapper(target.get()),
        env_(env),
        state_(std::move(state)),
        file_(std::move(target)) {}

  ~TrackedFile() override {
    file_.reset();  // closes the real file if Close was not called
    absl::MutexLock lock(&state_->mu);
    state_->open = false;
  }

  rocksdb::Status Append(const rocksdb::Slice& data) override { return AppendTracked(data); }
  rocksdb::Status Append(const rocksdb::Slice& data,
                         const rocksdb::DataVerificationInfo& /*info*/) override {
    return AppendTracked(data);
  }
  // Only direct I/O writes at an offset; the store does not use it.
  rocksdb::Status PositionedAppend(const rocksdb::Slice&, uint64_t) override {
    return rocksdb::Status::NotSupported("PowerLossEnv: PositionedAppend");
  }
  rocksdb::Status PositionedAppend(const rocksdb::Slice&, uint64_t,
                                   const rocksdb::DataVerificationInfo&) override {
    return rocksdb::Status::NotSupported("PowerLossEnv: PositionedAppend");
  }

  rocksdb::Status Truncate(uint64_t size) override {
    rocksdb::Status s = file_->Truncate(size);
    if (!s.ok()) return s;
    absl::MutexLock lock(&state_->mu);
    // Taken as durable at once (power_loss_env.h).
    state_->pos = size;
    state_->base = std::min(state_->base, size);
    state_->synced = std::min(state_->synced, size);
    if (state_->undo_start >= size) {
      state_->undo.clear();
      state_->undo_start = size;
    } else {
      state_->undo.resize(std::min<uint64_t>(state_->undo.size(), size - state_->undo_start));
    }
    return s;
  }

  rocksdb::Status Sync() override { return SyncTracked(/*full=*/false); }
  rocksdb::Status Fsync() override { return SyncTracked(/*full=*/true); }
  // sync_file_range: no durability guarantee (power_loss_env.h).
  rocksdb::Status RangeSync(uint64_t offset, uint64_t nbytes) override {
    return file_->RangeSync(offset, nbytes);
  }

  rocksdb::Status Close() override {
    rocksdb::Status s = file_->Close();
    absl::MutexLock lock(&state_->mu);
    state_->open = false;
    state_->old_reader.reset();
    return s;
  }

 private:
  rocksdb::Status AppendTracked(const rocksdb::Slice& data) {
    {
      FileState& f = *state_;
      absl::MutexLock lock(&f.mu);
      if (f.pos < f.base && f.old_reader != nullptr) {
        // Keep the old bytes this append overwrites, from where the undo
        // ends (appends are sequential, so it ends at `pos`).
        const uint64_t end = std::min<uint64_t>(f.base, f.pos + data.size());
        const uint64_t from = std::max<uint64_t>(f.pos, f.undo_start + f.undo.size());
        if (f.undo.empty()) f.undo_start = std::max(f.undo_start, f.pos);
        if (end > from) {
          std::string old(end - from, '\0');
          ssize_t r =
              ::pread(f.old_reader->get(), old.data(), old.size(), static_cast<off_t>(from));
          if (r != static_cast<ssize_t>(old.size())) {
            return rocksdb::Status::IOError("PowerLossEnv: cannot read the old content");
          }
          f.undo.append(old);
        }
      }
      rocksdb::Status s = file_->Append(data);
      if (!s.ok()) return s;
      f.pos += data.size();
    }
    env_->counters_.bytes_appended.fetch_add(data.size());
    return rocksdb::Status::OK();
  }

  rocksdb::Status SyncTracked(bool full) {
    uint64_t position;
    {
      absl::MutexLock lock(&state_->mu);
      position = state_->pos;
    }
    // Without the lock: RocksDB appends while the WAL syncs. What is appended
    // meanwhile counts as not synced.
    rocksdb::Status s = full ? file_->Fsync() : file_->Sync();
    if (!s.ok()) return s;
    env_->FileSynced(state_.get(), position);
    return s;
  }

  PowerLossEnv* const env_;
  const std::shared_ptr<FileState> state_;
  std::unique_ptr<rocksdb::WritableFile> file_;  // the real file
};

// A directory: its fsync makes the entries created or renamed in it durable.
class PowerLossEnv::TrackedDirectory : public rocksdb::Directory {
 public:
  TrackedDirectory(PowerLossEnv* env, std::string path, std::unique_ptr<rocksdb::Directory> target)
      : env_(env), path_(std::move(path)), target_(std::move(target)) {}

  rocksdb::Status Fsync() override {
    rocksdb::Status s = target_->Fsync();
    if (s.ok()) env_->DirectorySynced(path_);
    return s;
  }
  rocksdb::Status Close() override { return target_->Close(); }
  size_t GetUniqueId(char* id, size_t max_size) const override {
    return target_->GetUniqueId(id, max_size);
  }

 private:
  PowerLossEnv* const env_;
  const std::string path_;
  std::unique_ptr<rocksdb::Directory> target_;
};

PowerLossEnv::PowerLossEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}

PowerLossEnv::~PowerLossEnv() = default;

void PowerLossEnv::PullPlug() {
  absl::MutexLock lock(&mu_);
  plugged_.store(true, std::memory_order_seq_cst);
}

PowerLossEnv::Counters PowerLossEnv::counters() const {
  Counters c;
  c.files_created = counters_.files_created.load();
  c.files_reused = counters_.files_reused.load();
  c.bytes_appended = counters_.bytes_appended.load();
  c.syncs = counters_.syncs.load();
  c.dir_syncs = counters_.dir_syncs.load();
  c.renames = counters_.renames.load();
  c.deletions_ignored = counters_.deletions_ignored.load();
  return c;
}

void PowerLossEnv::FileSynced(FileState* state, uint64_t position) {
  counters_.syncs.fetch_add(1);
  // Under mu_: a sync either completes before the plug is pulled (durable)
  // or after (lost), never half-way.
  absl::MutexLock lock(&mu_);
  if (plugged()) return;
  absl::MutexLock file_lock(&state->mu);
  state->Synced(position);
}

void PowerLossEnv::DirectorySynced(const std::string& dir) {
  counters_.dir_syncs.fetch_add(1);
  const std::string d = Normalize(dir);
  absl::MutexLock lock(&mu_);
  if (plugged()) return;
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const PendingEntry& e) { return e.dir == d; }),
                 pending_.end());
}

rocksdb::Status PowerLossEnv::OpenTracked(const std::string& fname, OpenMode mode,
                                          const std::string& old_fname,
                                          std::unique_ptr<rocksdb::WritableFile>* result,
                                          const rocksdb::EnvOptions& options) {
  const std::string path = Normalize(fname);
  const bool existed = Exists(path);
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s;
  switch (mode) {
    case OpenMode::kNew:
      s = target()->NewWritableFile(fname, &file, options);
      break;
    case OpenMode::kReopen:
      s = target()->ReopenWritableFile(fname, &file, options);
      break;
    case OpenMode::kReuse:
      // The target renames old_fname to fname and overwrites it in place.
      s = target()->ReuseWritableFile(fname, old_fname, &file, options);
      break;
  }
  if (!s.ok()) return s;

  auto state = std::make_shared<FileState>();
  {
    absl::MutexLock file_lock(&state->mu);
    if (mode != OpenMode::kNew) {
      absl::StatusOr<uint64_t> size = SizeOf(path);
      if (!size.ok()) return rocksdb::Status::IOError(std::string(size.status().message()));
      // A reused file's old content is taken as it is now (it is an obsolete
      // WAL: recovery ignores it, whichever bytes of it survive).
      state->base = *size;
      state->pos = mode == OpenMode::kReopen ? *size : 0;
      state->synced = 0;
      state->undo_start = 0;
      if (mode == OpenMode::kReuse) {
        state->old_reader = std::make_unique<Fd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!state->old_reader->ok()) {
          return rocksdb::Status::IOError("PowerLossEnv: cannot open " + path);
        }
      }
    }
  }

  absl::MutexLock lock(&mu_);
  if (mode == OpenMode::kReuse) {
    const std::string old_path = Normalize(old_fname);
    files_.erase(old_path);
    PendingEntry e;
    e.kind = PendingEntry::Kind::kRenamed;
    e.dir = ParentDir(path);
    e.path = path;
    e.from = old_path;
    pending_.push_back(std::move(e));
    counters_.files_reused.fetch_add(1);
  } else if (mode == OpenMode::kReopen) {
    auto it = files_.find(path);
    if (it != files_.end()) {
      // Reopened in the same power cycle: what it already lost stays lost.
      absl::MutexLock old_lock(&it->second->mu);
      absl::MutexLock file_lock(&state->mu);
      state->base = it->second->base;
      state->synced = it->second->synced;
      state->undo_start = it->second->undo_start;
      state->undo = it->second->undo;
    }
  } else {
    counters_.files_created.fetch_add(1);
    if (!existed) {
      PendingEntry e;
      e.kind = PendingEntry::Kind::kCreated;
      e.dir = ParentDir(path);
      e.path = path;
      pending_.push_back(std::move(e));
    }
  }
  files_[path] = state;
  *result = std::make_unique<TrackedFile>(this, std::move(state), std::move(file));
  return rocksdb::Status::OK();
}

rocksdb::Status PowerLossEnv::NewWritableFile(const std::string& fname,
                                              std::unique_ptr<rocksdb::WritableFile>* result,
                                              const rocksdb::EnvOptions& options) {
  if (IsInfoLog(fname)) return target()->NewWritableFile(fname, result, options);
  return OpenTracked(fname, OpenMode::kNew, "", result, options);
}

rocksdb::Status PowerLossEnv::ReopenWritableFile(const std::string& fname,
                                                 std::unique_ptr<rocksdb::WritableFile>* result,
                                                 const rocksdb::EnvOptions& options) {
  if (IsInfoLog(fname)) return target()->ReopenWritableFile(fname, result, options);
  return OpenTracked(fname, OpenMode::kReopen, "", result, options);
}

rocksdb::Status PowerLossEnv::ReuseWritableFile(const std::string& fname,
                                                const std::string& old_fname,
                                                std::unique_ptr<rocksdb::WritableFile>* result,
                                                const rocksdb::EnvOptions& options) {
  if (Exists(Normalize(fname))) {
    // Never done by RocksDB; a rename over a file would need its content kept.
    return rocksdb::Status::NotSupported("PowerLossEnv: reuse onto an existing file");
  }
  counters_.renames.fetch_add(1);
  return OpenTracked(fname, OpenMode::kReuse, old_fname, result, options);
}

rocksdb::Status PowerLossEnv::NewRandomRWFile(const std::string& fname,
                                              std::unique_ptr<rocksdb::RandomRWFile>*,
                                              const rocksdb::EnvOptions&) {
  return rocksdb::Status::NotSupported("PowerLossEnv: random-access writes are not simulated",
                                       fname);
}

rocksdb::Status PowerLossEnv::NewMemoryMappedFileBuffer(
    const std::string& fname, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>*) {
  return rocksdb::Status::NotSupported("PowerLossEnv: mapped writes are not simulated", fname);
}

rocksdb::Status PowerLossEnv::LinkFile(const std::string& src, const std::string&) {
  return rocksdb::Status::NotSupported("PowerLossEnv: hard links are not simulated", src);
}

rocksdb::Status PowerLossEnv::NewDirectory(const std::string& name,
                                           std::unique_ptr<rocksdb::Directory>* result) {
  std::unique_ptr<rocksdb::Directory> dir;
  rocksdb::Status s = target()->NewDirectory(name, &dir);
  if (!s.ok()) return s;
  *result = std::make_unique<TrackedDirectory>(this, Normalize(name), std::move(dir));
  return s;
}

rocksdb::Status PowerLossEnv::DeleteFile(const std::string& fname) {
  const std::string path = Normalize(fname);
  // Under mu_: a deletion happens wholly before the plug or not at all.
  absl::MutexLock lock(&mu_);
  if (plugged()) {
    // The cleanup of a machine without power never happened.
    counters_.deletions_ignored.fetch_add(1);
    return rocksdb::Status::OK();
  }
  rocksdb::Status s = target()->DeleteFile(fname);
  if (!s.ok()) return s;
  files_.erase(path);
  // Its creation needs no undoing any more (and a later file of the same
  // name must not be removed for it).
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const PendingEntry& e) {
                                  return e.kind == PendingEntry::Kind::kCreated && e.path == path;
                                }),
                 pending_.end());
  return s;
}

rocksdb::Status PowerLossEnv::DeleteDir(const std::string& dirname) {
  absl::MutexLock lock(&mu_);
  if (plugged()) {
    counters_.deletions_ignored.fetch_add(1);
    return rocksdb::Status::OK();
  }
  return target()->DeleteDir(dirname);
}

rocksdb::Status PowerLossEnv::Truncate(const std::string& fname, size_t size) {
  rocksdb::Status s = target()->Truncate(fname, size);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = files_.find(Normalize(fname));
  if (it != files_.end()) {
    // Taken as durable at once (power_loss_env.h).
    FileState& f = *it->second;
    absl::MutexLock file_lock(&f.mu);
    f.pos = std::min<uint64_t>(f.pos, size);
    f.base = std::min<uint64_t>(f.base, size);
    f.synced = std::min<uint64_t>(f.synced, size);
    if (f.undo_start >= size) {
      f.undo.clear();
      f.undo_start = size;
    } else {
      f.undo.resize(std::min<uint64_t>(f.undo.size(), size - f.undo_start));
    }
  }
  return s;
}

rocksdb::Status PowerLossEnv::RenameFile(const std::string& src, const std::string& target_name) {
  if (IsInfoLog(src) || IsInfoLog(target_name)) return target()->RenameFile(src, target_name);
  const std::string from = Normalize(src);
  const std::string to = Normalize(target_name);
  PendingEntry e;
  e.kind = PendingEntry::Kind::kRenamed;
  e.dir = ParentDir(to);
  e.path = to;
  e.from = from;
  if (Exists(to)) {
    // Replaced by the rename (CURRENT, IDENTITY): its content comes back if
    // the rename is undone.
    absl::StatusOr<std::string> content = ReadAll(to);
    if (!content.ok()) return rocksdb::Status::IOError(std::string(content.status().message()));
    e.replaced = true;
    e.replaced_content = *std::move(content);
  }
  rocksdb::Status s = target()->RenameFile(src, target_name);
  if (!s.ok()) return s;
  counters_.renames.fetch_add(1);
  absl::MutexLock lock(&mu_);
  auto it = files_.find(from);
  std::shared_ptr<FileState> moved;
  if (it != files_.end()) {
    moved = std::move(it->second);
    files_.erase(it);
  }
  files_.erase(to);
  if (moved != nullptr) files_[to] = std::move(moved);
  pending_.push_back(std::move(e));
  return s;
}

absl::StatusOr<PowerLossEnv::Report> PowerLossEnv::SimulatePowerLoss() {
  PullPlug();
  absl::MutexLock lock(&mu_);
  for (const auto& [path, state] : files_) {
    absl::MutexLock file_lock(&state->mu);
    if (state->open) {
      return absl::FailedPreconditionError(absl::StrCat(
          "PowerLossEnv: ", path, " is still open for writing; close the store first"));
    }
  }

  Report report;
  // File data first, under the names the files have now.
  for (const auto& [path, state] : files_) {
    FileState& f = *state;
    absl::MutexLock file_lock(&f.mu);
    if (!Exists(path)) continue;
    absl::StatusOr<uint64_t> size = SizeOf(path);
    if (!size.ok()) return size.status();
    const uint64_t durable = std::max(f.base, f.synced);
    const uint64_t new_size = std::min(*size, durable);
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.ok()) {
      return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
    }
    if (!f.undo.empty() && f.undo_start < new_size) {
      const uint64_t n = std::min<uint64_t>(f.undo.size(), new_size - f.undo_start);
      absl::Status w = PwriteAll(fd.get(), f.undo.data(), n, f.undo_start);
      if (!w.ok()) return w;
      report.bytes_restored += n;
    }
    if (*size > new_size) {
      if (::ftruncate(fd.get(), static_cast<off_t>(new_size)) != 0) {
        return absl::InternalError(absl::StrCat("ftruncate ", path, ": ", std::strerror(errno)));
      }
      ++report.files_cut;
      report.bytes_dropped += *size - new_size;
    }
  }
  // Then the directory changes, newest first.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    const PendingEntry& e = *it;
    if (e.kind == PendingEntry::Kind::kCreated) {
      if (Exists(e.path)) {
        if (::unlink(e.path.c_str()) != 0) {
          return absl::InternalError(absl::StrCat("unlink ", e.path, ": ", std::strerror(errno)));
        }
        ++report.files_removed;
      }
      continue;
    }
    if (Exists(e.path)) {
      if (::rename(e.path.c_str(), e.from.c_str()) != 0) {
        return absl::InternalError(
            absl::StrCat("rename ", e.path, " back to ", e.from, ": ", std::strerror(errno)));
      }
    }
    if (e.replaced) {
      absl::Status w = WriteAll(e.path, e.replaced_content);
      if (!w.ok()) return w;
    }
    ++report.renames_undone;
  }
  files_.clear();
  pending_.clear();
  plugged_.store(false, std::memory_order_seq_cst);
  return report;
}

}  // namespace carerelay::testing
