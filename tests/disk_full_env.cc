#include "tests/disk_full_env.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace carerelay::testing {
namespace {

std::string Normalize(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

bool IsWal(const std::string& path) { return absl::EndsWith(path, ".log"); }

uint64_t SizeOnDisk(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

// A file open for writing: appends go through the budget and the injected
// write errors, syncs through the injected sync errors. Everything else
// (Flush, Allocate, hints, Close) goes to the real file.
class DiskFullEnv::CountedFile : public rocksdb::WritableFileWrapper {
 public:
  CountedFile(DiskFullEnv* env, std::string path, std::unique_ptr<rocksdb::WritableFile> target)
      : rocksdb::WritableFileWrapper(target.get()),
        env_(env),
        path_(std::move(path)),
        file_(std::move(target)) {}

  rocksdb::Status Append(const rocksdb::Slice& data) override { return Counted(data); }
  rocksdb::Status Append(const rocksdb::Slice& data,
                         const rocksdb::DataVerificationInfo& /*info*/) override {
    return Counted(data);
  }
  // Direct I/O only; the store does not use it.
  rocksdb::Status PositionedAppend(const rocksdb::Slice&, uint64_t) override {
    return rocksdb::Status::NotSupported("DiskFullEnv: PositionedAppend");
  }
  rocksdb::Status PositionedAppend(const rocksdb::Slice&, uint64_t,
                                   const rocksdb::DataVerificationInfo&) override {
    return rocksdb::Status::NotSupported("DiskFullEnv: PositionedAppend");
  }
  rocksdb::Status Truncate(uint64_t size) override {
    rocksdb::Status s = file_->Truncate(size);
    if (s.ok()) env_->Track(path_, size);
    return s;
  }
  rocksdb::Status Sync() override { return Synced(/*full=*/false); }
  rocksdb::Status Fsync() override { return Synced(/*full=*/true); }

 private:
  rocksdb::Status Counted(const rocksdb::Slice& data) {
    if (env_->Fails(Op::kWrite, path_)) {
      env_->write_errors_.fetch_add(1);
      return rocksdb::Status::IOError("DiskFullEnv: injected write error",
                                      path_ + ": Input/output error");
    }
    const uint64_t fits = env_->Reserve(path_, data.size());
    if (fits > 0) {
      rocksdb::Status s = file_->Append(rocksdb::Slice(data.data(), fits));
      if (!s.ok()) {
        env_->Unreserve(path_, fits);
        return s;
      }
      env_->bytes_appended_.fetch_add(fits);
    }
    if (fits < data.size()) {
      env_->no_space_errors_.fetch_add(1);
      if (fits > 0) env_->partial_appends_.fetch_add(1);
      // The message RocksDB's POSIX environment gives for ENOSPC.
      return rocksdb::Status::NoSpace("While appending to file: " + path_,
                                      "No space left on device");
    }
    return rocksdb::Status::OK();
  }

  rocksdb::Status Synced(bool full) {
    if (env_->Fails(Op::kSync, path_)) {
      env_->sync_errors_.fetch_add(1);
      // Not passed down: what the failed sync should have made durable is
      // not (disk_full_env.h).
      return rocksdb::Status::IOError("While fdatasync: " + path_, "Input/output error");
    }
    rocksdb::Status s = full ? file_->Fsync() : file_->Sync();
    if (s.ok()) env_->syncs_.fetch_add(1);
    return s;
  }

  DiskFullEnv* const env_;
  const std::string path_;
  std::unique_ptr<rocksdb::WritableFile> file_;
};

DiskFullEnv::DiskFullEnv(rocksdb::Env* target)
    : rocksdb::EnvWrapper(target != nullptr ? target : rocksdb::Env::Default()) {}

DiskFullEnv::~DiskFullEnv() = default;

void DiskFullEnv::SetFreeBytes(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  capacity_ = used_ + bytes;
}

void DiskFullEnv::RemoveLimit() {
  absl::MutexLock lock(&mu_);
  capacity_.reset();
}

uint64_t DiskFullEnv::used_bytes() const {
  absl::MutexLock lock(&mu_);
  return used_;
}

std::optional<uint64_t> DiskFullEnv::free_bytes() const {
  absl::MutexLock lock(&mu_);
  if (!capacity_) return std::nullopt;
  return *capacity_ > used_ ? *capacity_ - used_ : 0;
}

void DiskFullEnv::FailSyncs(Files files) {
  absl::MutexLock lock(&mu_);
  fail_syncs_ = files;
}

void DiskFullEnv::FailWrites(Files files) {
  absl::MutexLock lock(&mu_);
  fail_writes_ = files;
}

void DiskFullEnv::StopFailures() {
  absl::MutexLock lock(&mu_);
  fail_syncs_ = Files::kNone;
  fail_writes_ = Files::kNone;
}

DiskFullEnv::Counters DiskFullEnv::counters() const {
  Counters c;
  c.bytes_appended = bytes_appended_.load();
  c.no_space_errors = no_space_errors_.load();
  c.sync_errors = sync_errors_.load();
  c.write_errors = write_errors_.load();
  c.syncs = syncs_.load();
  c.partial_appends = partial_appends_.load();
  return c;
}

bool DiskFullEnv::Fails(Op op, const std::string& path) const {
  absl::MutexLock lock(&mu_);
  const Files files = op == Op::kSync ? fail_syncs_ : fail_writes_;
  switch (files) {
    case Files::kNone:
      return false;
    case Files::kWal:
      return IsWal(path);
    case Files::kAll:
      return true;
  }
  return false;
}

uint64_t DiskFullEnv::Reserve(const std::string& path, uint64_t n) {
  absl::MutexLock lock(&mu_);
  uint64_t fits = n;
  if (capacity_) fits = std::min<uint64_t>(n, *capacity_ > used_ ? *capacity_ - used_ : 0);
  used_ += fits;
  sizes_[path] += fits;
  return fits;
}

void DiskFullEnv::Unreserve(const std::string& path, uint64_t n) {
  absl::MutexLock lock(&mu_);
  used_ -= n;
  sizes_[path] -= n;
}

void DiskFullEnv::Track(const std::string& path, uint64_t size) {
  absl::MutexLock lock(&mu_);
  uint64_t& tracked = sizes_[path];
  used_ = used_ - tracked + size;
  tracked = size;
}

rocksdb::Status DiskFullEnv::NewWritableFile(const std::string& fname,
                                             std::unique_ptr<rocksdb::WritableFile>* result,
                                             const rocksdb::EnvOptions& options) {
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s = target()->NewWritableFile(fname, &file, options);
  if (!s.ok()) return s;
  const std::string path = Normalize(fname);
  Track(path, 0);  // a new file, or an old one truncated
  *result = std::make_unique<CountedFile>(this, path, std::move(file));
  return s;
}

rocksdb::Status DiskFullEnv::ReopenWritableFile(const std::string& fname,
                                                std::unique_ptr<rocksdb::WritableFile>* result,
                                                const rocksdb::EnvOptions& options) {
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s = target()->ReopenWritableFile(fname, &file, options);
  if (!s.ok()) return s;
  const std::string path = Normalize(fname);
  Track(path, SizeOnDisk(path));
  *result = std::make_unique<CountedFile>(this, path, std::move(file));
  return s;
}

rocksdb::Status DiskFullEnv::ReuseWritableFile(const std::string& fname,
                                               const std::string& old_fname,
                                               std::unique_ptr<rocksdb::WritableFile>* result,
                                               const rocksdb::EnvOptions& options) {
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s = target()->ReuseWritableFile(fname, old_fname, &file, options);
  if (!s.ok()) return s;
  const std::string path = Normalize(fname);
  {
    // The old file is renamed and overwritten from the start: its blocks
    // stay allocated, so its size stays counted, under the new name.
    absl::MutexLock lock(&mu_);
    auto it = sizes_.find(Normalize(old_fname));
    const uint64_t size = it != sizes_.end() ? it->second : 0;
    if (it != sizes_.end()) sizes_.erase(it);
    sizes_[path] = size;
  }
  *result = std::make_unique<CountedFile>(this, path, std::move(file));
  return s;
}

rocksdb::Status DiskFullEnv::NewRandomRWFile(const std::string& fname,
                                             std::unique_ptr<rocksdb::RandomRWFile>*,
                                             const rocksdb::EnvOptions&) {
  // Writes at an offset would escape the budget; the store does not use them.
  return rocksdb::Status::NotSupported("DiskFullEnv: random-access writes are not counted", fname);
}

rocksdb::Status DiskFullEnv::LinkFile(const std::string& src, const std::string&) {
  return rocksdb::Status::NotSupported("DiskFullEnv: hard links are not counted", src);
}

rocksdb::Status DiskFullEnv::DeleteFile(const std::string& fname) {
  rocksdb::Status s = target()->DeleteFile(fname);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sizes_.find(Normalize(fname));
  if (it != sizes_.end()) {
    used_ -= it->second;  // a real disk gets the blocks back
    sizes_.erase(it);
  }
  return s;
}

rocksdb::Status DiskFullEnv::Truncate(const std::string& fname, size_t size) {
  rocksdb::Status s = target()->Truncate(fname, size);
  if (!s.ok()) return s;
  const std::string path = Normalize(fname);
  absl::MutexLock lock(&mu_);
  auto it = sizes_.find(path);
  if (it != sizes_.end() && it->second > size) {
    used_ -= it->second - size;
    it->second = size;
  }
  return s;
}

rocksdb::Status DiskFullEnv::RenameFile(const std::string& src, const std::string& target_name) {
  rocksdb::Status s = target()->RenameFile(src, target_name);
  if (!s.ok()) return s;
  const std::string from = Normalize(src);
  const std::string to = Normalize(target_name);
  absl::MutexLock lock(&mu_);
  auto replaced = sizes_.find(to);
  if (replaced != sizes_.end()) {
    used_ -= replaced->second;  // the file the rename replaced is gone
    sizes_.erase(replaced);
  }
  auto moved = sizes_.find(from);
  if (moved != sizes_.end()) {
    const uint64_t size = moved->second;
    sizes_.erase(moved);
    sizes_[to] = size;
  }
  return s;
}

rocksdb::Status DiskFullEnv::GetFreeSpace(const std::string& path, uint64_t* diskfree) {
  {
    absl::MutexLock lock(&mu_);
    if (capacity_) {
      *diskfree = *capacity_ > used_ ? *capacity_ - used_ : 0;
      return rocksdb::Status::OK();
    }
  }
  return target()->GetFreeSpace(path, diskfree);
}

}  // namespace carerelay::testing
