#include "client/device_state.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace carerelay::client {
namespace {

constexpr char kProcessedPrefix[] = "processed/";
constexpr char kSenderKeyPrefix[] = "sender_key/";
constexpr char kSenderKeyReceivedPrefix[] = "sender_key_received/";
constexpr char kAuditHeadPrefix[] = "audit_head/";
// sent/<device>/<sequence as 16 hex digits>: fixed width, so the keys of a
// device sort by sequence and a watermark covers a contiguous range.
constexpr char kSentPrefix[] = "sent/";
constexpr char kWatermarkVersionKey[] = "watermark_version";
constexpr char kPrunedAtKey[] = "pruned_at";

std::string SentKey(const std::string& device, uint64_t sequence) {
  return absl::StrCat(kSentPrefix, device, "/", absl::Hex(sequence, absl::kZeroPad16));
}

// message id, urgent id, team, channel, sent at (Unix ms), tab-separated:
// ids are hex and never hold a tab.
std::string EncodeSent(const SentEnvelope& e) {
  return absl::StrJoin({e.message_id, e.urgent_message_id, e.team_id, std::to_string(e.channel),
                        std::to_string(absl::ToUnixMillis(e.sent_at))},
                       "\t");
}

bool DecodeSent(absl::string_view key, absl::string_view value, SentEnvelope* e) {
  key.remove_prefix(sizeof(kSentPrefix) - 1);
  const size_t slash = key.rfind('/');
  if (slash == absl::string_view::npos) return false;
  e->device = std::string(key.substr(0, slash));
  if (!absl::SimpleHexAtoi(key.substr(slash + 1), &e->sequence)) return false;
  std::vector<absl::string_view> fields = absl::StrSplit(value, '\t');
  int64_t sent_ms = 0;
  if (fields.size() != 5 || !absl::SimpleAtoi(fields[3], &e->channel) ||
      !absl::SimpleAtoi(fields[4], &sent_ms)) {
    return false;
  }
  e->message_id = std::string(fields[0]);
  e->urgent_message_id = std::string(fields[1]);
  e->team_id = std::string(fields[2]);
  e->sent_at = absl::FromUnixMillis(sent_ms);
  return true;
}

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

absl::StatusOr<bool> DeviceState::IsProcessed(const std::string& envelope_id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kProcessedPrefix + envelope_id, &value);
  if (s.ok()) return true;
  if (!s.IsNotFound()) return FromRocks(s);
  return false;
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
  return DeleteUnder(absl::StrCat(kSenderKeyPrefix, group_id, "/"));
}

absl::Status DeviceState::DeleteUnder(const std::string& prefix) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(it->key());
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

absl::StatusOr<std::vector<std::string>> DeviceState::DevicesUnder(const std::string& prefix,
                                                                   const std::string& group_id) {
  const std::string start = absl::StrCat(prefix, group_id, "/");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::vector<std::string> devices;
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
    std::string device = it->key().ToString().substr(start.size());
    // A device name has no '/': anything else belongs to a longer group id
    // that starts with this one and a '/'.
    if (device.find('/') != std::string::npos) continue;
    devices.push_back(std::move(device));
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return devices;
}

absl::StatusOr<std::vector<std::string>> DeviceState::SenderKeyRecipients(
    const std::string& group_id) {
  return DevicesUnder(kSenderKeyPrefix, group_id);
}

absl::Status DeviceState::ForgetSenderKeyRecipient(const std::string& group_id,
                                                   const std::string& device) {
  return FromRocks(
      db_->Delete(rocksdb::WriteOptions(), absl::StrCat(kSenderKeyPrefix, group_id, "/", device)));
}

absl::Status DeviceState::MarkSenderKeyReceived(const std::string& group_id,
                                                const std::string& device) {
  return FromRocks(db_->Put(rocksdb::WriteOptions(),
                            absl::StrCat(kSenderKeyReceivedPrefix, group_id, "/", device), ""));
}

absl::StatusOr<std::vector<std::string>> DeviceState::SenderKeysReceived(
    const std::string& group_id) {
  return DevicesUnder(kSenderKeyReceivedPrefix, group_id);
}

absl::Status DeviceState::ForgetSenderKeyReceived(const std::string& group_id,
                                                  const std::string& device) {
  return FromRocks(db_->Delete(rocksdb::WriteOptions(),
                               absl::StrCat(kSenderKeyReceivedPrefix, group_id, "/", device)));
}

absl::Status DeviceState::RememberAuditHead(const std::string& team_id, const AuditHead& head) {
  absl::StatusOr<std::optional<AuditHead>> known = LastAuditHead(team_id);
  if (!known.ok()) return known.status();
  if (known->has_value() && (*known)->sequence >= head.sequence) return absl::OkStatus();
  return FromRocks(db_->Put(rocksdb::WriteOptions(), kAuditHeadPrefix + team_id,
                            absl::StrCat(head.sequence, " ", absl::BytesToHexString(head.hash))));
}

absl::StatusOr<std::optional<AuditHead>> DeviceState::LastAuditHead(const std::string& team_id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kAuditHeadPrefix + team_id, &value);
  if (s.IsNotFound()) return std::optional<AuditHead>();
  if (!s.ok()) return FromRocks(s);
  AuditHead head;
  const size_t space = value.find(' ');
  if (space == std::string::npos || !absl::SimpleAtoi(value.substr(0, space), &head.sequence)) {
    return absl::DataLossError("device state: a remembered audit head is damaged");
  }
  head.hash = absl::HexStringToBytes(value.substr(space + 1));
  return std::optional<AuditHead>(std::move(head));
}

absl::Status DeviceState::ForgetTeam(const std::string& team_id) {
  return FromRocks(db_->Delete(rocksdb::WriteOptions(), kAuditHeadPrefix + team_id));
}

absl::Status DeviceState::RememberSent(const std::vector<SentEnvelope>& sent) {
  rocksdb::WriteBatch batch;
  for (const SentEnvelope& e : sent) batch.Put(SentKey(e.device, e.sequence), EncodeSent(e));
  std::lock_guard<std::mutex> lock(sent_mu_);
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

absl::StatusOr<std::vector<SentEnvelope>> DeviceState::TakeDelivered(
    const std::vector<DeliveredThrough>& watermarks, uint64_t version) {
  std::lock_guard<std::mutex> lock(sent_mu_);
  absl::StatusOr<uint64_t> kept_version = WatermarkVersion();
  if (!kept_version.ok()) return kept_version.status();
  // One range per device (the highest watermark wins), in device order.
  std::map<std::string, uint64_t> through;
  for (const DeliveredThrough& w : watermarks) {
    uint64_t& t = through[w.device];
    t = std::max(t, w.delivered_through);
  }
  rocksdb::WriteBatch batch;
  std::vector<SentEnvelope> delivered;
  for (const auto& [device, delivered_through] : through) {
    const std::string prefix = absl::StrCat(kSentPrefix, device, "/");
    const std::string last = SentKey(device, delivered_through);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) &&
                           it->key().compare(rocksdb::Slice(last)) <= 0;
         it->Next()) {
      batch.Delete(it->key());
      // A damaged record is dropped rather than kept for ever.
      SentEnvelope e;
      if (DecodeSent(it->key().ToString(), it->value().ToString(), &e)) {
        delivered.push_back(std::move(e));
      }
    }
    if (!it->status().ok()) return FromRocks(it->status());
  }
  if (version > *kept_version) batch.Put(kWatermarkVersionKey, std::to_string(version));
  absl::Status s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
  if (!s.ok()) return s;
  return delivered;
}

absl::StatusOr<uint64_t> DeviceState::WatermarkVersion() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kWatermarkVersionKey, &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s);
  uint64_t version = 0;
  if (!absl::SimpleAtoi(value, &version)) {
    return absl::DataLossError("device state: the delivery watermark version is damaged");
  }
  return version;
}

absl::Status DeviceState::PruneSent(absl::Time before) {
  std::lock_guard<std::mutex> lock(sent_mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  for (it->Seek(kSentPrefix); it->Valid() && it->key().starts_with(kSentPrefix); it->Next()) {
    SentEnvelope e;
    if (!DecodeSent(it->key().ToString(), it->value().ToString(), &e) || e.sent_at < before) {
      batch.Delete(it->key());
    }
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

absl::Status DeviceState::PruneIfDue(absl::Time now, absl::Duration keep, absl::Duration every) {
  std::string value;
  rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), kPrunedAtKey, &value);
  if (!got.ok() && !got.IsNotFound()) return FromRocks(got);
  int64_t last = 0;
  if (got.ok() && absl::SimpleAtoi(value, &last) && now - absl::FromUnixSeconds(last) < every &&
      absl::FromUnixSeconds(last) <= now) {
    return absl::OkStatus();
  }
  absl::Status s = PruneProcessed(now - keep);
  if (s.ok()) s = PruneSent(now - keep);
  if (!s.ok()) return s;
  return FromRocks(
      db_->Put(rocksdb::WriteOptions(), kPrunedAtKey, std::to_string(absl::ToUnixSeconds(now))));
}

}  // namespace carerelay::client
