#include "client/device_state.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace carerelay::client {
namespace {

constexpr char kProcessedPrefix[] = "processed/";
constexpr char kSenderKeyPrefix[] = "sender_key/";

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::FailedPreconditionError("the profile is in use by another carerelay process");
  }
  return absl::InternalError("device state: " + s.ToString());
}

}  // namespace

DeviceState::DeviceState(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
DeviceState::~DeviceState() = default;

absl::StatusOr<std::unique_ptr<DeviceState>> DeviceState::Open(const std::string& directory) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, directory, &raw);
  if (!s.ok()) return FromRocks(s);
  return std::unique_ptr<DeviceState>(new DeviceState(std::unique_ptr<rocksdb::DB>(raw)));
}

absl::StatusOr<bool> DeviceState::MarkProcessed(const std::string& envelope_id, absl::Time now) {
  std::string key = kProcessedPrefix + envelope_id;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
  if (s.ok()) return false;
  if (!s.IsNotFound()) return FromRocks(s);
  absl::Status put =
      FromRocks(db_->Put(rocksdb::WriteOptions(), key, std::to_string(absl::ToUnixSeconds(now))));
  if (!put.ok()) return put;
  return true;
}

absl::Status DeviceState::PruneProcessed(absl::Time before) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(kProcessedPrefix); it->Valid() && it->key().starts_with(kProcessedPrefix);
       it->Next()) {
    int64_t seen = 0;
    if (absl::SimpleAtoi(it->value().ToString(), &seen) && seen < absl::ToUnixSeconds(before)) {
      batch.Delete(it->key());
    }
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

absl::StatusOr<bool> DeviceState::HasSenderKey(const std::string& group_id,
                                               const std::string& device) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(),
                               absl::StrCat(kSenderKeyPrefix, group_id, "/", device), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s);
  return true;
}

absl::Status DeviceState::MarkSenderKeySent(const std::string& group_id,
                                            const std::string& device) {
  return FromRocks(
      db_->Put(rocksdb::WriteOptions(), absl::StrCat(kSenderKeyPrefix, group_id, "/", device), ""));
}

absl::Status DeviceState::ForgetSenderKeyRecipients(const std::string& group_id) {
  std::string prefix = absl::StrCat(kSenderKeyPrefix, group_id, "/");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

}  // namespace carerelay::client
