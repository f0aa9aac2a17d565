#include "server/store/queue_table.h"

#include <algorithm>

#include "server/store/account_table.h"
#include "server/store/encoding.h"

namespace carerelay::store {
namespace {

constexpr size_t kQueueKeySize = AccountId::kSize + 4 + 8;
constexpr char kSequenceCeilingKey[] = "queue_sequence_ceiling";

std::string QueueKey(const DeviceRef& device, uint64_t sequence) {
  std::string key = DeviceKey(device);
  AppendBigEndian64(&key, sequence);
  return key;
}

}  // namespace

absl::Status QueueTable::Append(Transaction& txn, const DeviceRef& device,
                                const v1::Envelope& envelope) {
  return txn.Put(Table::kQueue, QueueKey(device, envelope.sequence()),
                 envelope.SerializeAsString());
}

void QueueTable::Append(Batch& batch, const DeviceRef& device, uint64_t sequence,
                        absl::string_view body, absl::string_view stamp) {
  batch.PutConcat(Table::kQueue, QueueKey(device, sequence), body, stamp);
}

void QueueTable::Delete(Batch& batch, const DeviceRef& device, uint64_t sequence) {
  batch.Delete(Table::kQueue, QueueKey(device, sequence));
}

absl::Status QueueTable::Read(const DeviceRef& device, uint64_t after, size_t max, int64_t now_ms,
                              std::vector<v1::Envelope>* out) const {
  if (max == 0) return absl::OkStatus();
  std::string prefix = DeviceKey(device);
  std::string start = QueueKey(device, after + 1);
  absl::Status parse = absl::OkStatus();
  size_t added = 0;
  absl::Status s =
      db_->Scan(Table::kQueue, prefix, start, [&](absl::string_view k, absl::string_view v) {
        v1::Envelope e;
        if (k.size() != kQueueKeySize || !e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          parse = absl::DataLossError("store: unreadable queued envelope");
          return false;
        }
        if (e.expires_at_ms() != 0 && e.expires_at_ms() < now_ms) return true;
        out->push_back(std::move(e));
        return ++added < max;
      });
  if (!s.ok()) return s;
  return parse;
}

absl::StatusOr<v1::Envelope> QueueTable::GetForUpdate(Transaction& txn, const DeviceRef& device,
                                                      uint64_t sequence) {
  absl::StatusOr<std::string> bytes = txn.GetForUpdate(Table::kQueue, QueueKey(device, sequence));
  if (!bytes.ok()) return bytes.status();
  v1::Envelope e;
  if (!e.ParseFromString(*bytes)) return absl::DataLossError("store: unreadable queued envelope");
  return e;
}

absl::Status QueueTable::Delete(Transaction& txn, const DeviceRef& device, uint64_t sequence) {
  return txn.Delete(Table::kQueue, QueueKey(device, sequence));
}

absl::Status QueueTable::DeleteDevice(Transaction& txn, const DeviceRef& device) {
  return txn.DeletePrefix(Table::kQueue, DeviceKey(device));
}

absl::StatusOr<uint64_t> QueueTable::DeleteTeamEnvelopes(Transaction& txn, const DeviceRef& device,
                                                         const std::string& team_id_hex) {
  return DeleteTeamEnvelopesIf(txn, device, team_id_hex, [](const v1::Envelope&) { return true; });
}

absl::StatusOr<uint64_t> QueueTable::DeleteTeamChannelEnvelopes(Transaction& txn,
                                                                const DeviceRef& device,
                                                                const std::string& team_id_hex,
                                                                const std::vector<int>& channels) {
  if (channels.empty()) return 0;
  return DeleteTeamEnvelopesIf(txn, device, team_id_hex, [&](const v1::Envelope& e) {
    return e.channel() != v1::CHANNEL_UNSPECIFIED &&
           std::find(channels.begin(), channels.end(), e.channel()) != channels.end();
  });
}

absl::StatusOr<uint64_t> QueueTable::DeleteTeamEnvelopesIf(
    Transaction& txn, const DeviceRef& device, const std::string& team_id_hex,
    const std::function<bool(const v1::Envelope&)>& which) {
  std::vector<std::string> keys;
  absl::Status s = db_->Scan(Table::kQueue, DeviceKey(device), "",
                             [&](absl::string_view k, absl::string_view v) {
                               v1::Envelope e;
                               // An unreadable envelope is left for expiry:
                               // it cannot be shown to be the team's.
                               if (e.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
                                   e.team_id() == team_id_hex && which(e)) {
                                 keys.emplace_back(k);
                               }
                               return true;
                             });
  if (!s.ok()) return s;
  for (const auto& k : keys) {
    s = txn.Delete(Table::kQueue, k);
    if (!s.ok()) return s;
  }
  return keys.size();
}

absl::StatusOr<uint64_t> QueueTable::DeleteExpired(int64_t now_ms) {
  uint64_t total = 0;
  std::string resume;
  constexpr size_t kBatch = 1000;
  for (;;) {
    std::vector<std::pair<std::string, AccountId>> keys;
    std::string last;
    absl::Status s =
        db_->Scan(Table::kQueue, "", resume, [&](absl::string_view k, absl::string_view v) {
          last.assign(k.data(), k.size());
          v1::Envelope e;
          if (k.size() == kQueueKeySize && e.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
              e.expires_at_ms() != 0 && e.expires_at_ms() < now_ms) {
            keys.emplace_back(std::string(k), SenderOf(e));
          }
          return keys.size() < kBatch;
        });
    if (!s.ok()) return s;
    if (keys.empty()) return total;
    auto txn = db_->Begin();
    for (const auto& [k, sender] : keys) {
      absl::Status d = txn->Delete(Table::kQueue, k);
      if (!d.ok()) return d;
    }
    absl::Status c = txn->Commit();
    if (!c.ok()) return c;
    for (const auto& [k, sender] : keys) {
      auto account = AccountId::FromBytes(absl::string_view(k).substr(0, AccountId::kSize));
      if (account.ok()) ReleaseDepth({*account, ReadBigEndian32(k, AccountId::kSize)}, sender, 1);
    }
    total += keys.size();
    if (keys.size() < kBatch) return total;
    resume = last + '\0';
  }
}

AccountId QueueTable::SenderOf(const v1::Envelope& envelope) {
  // A client's envelope always names its sender (the relay sets it); an
  // envelope without one is the server's.
  absl::StatusOr<AccountId> sender = AccountId::FromHex(envelope.sender().account_id());
  return sender.ok() ? *sender : AccountId();
}

absl::StatusOr<QueueTable::Counters*> QueueTable::CountersLocked(const DeviceRef& device) {
  auto it = depth_.find(device);
  if (it != depth_.end()) return &it->second;
  Counters counted;
  absl::Status s =
      db_->Scan(Table::kQueue, DeviceKey(device), "", [&](absl::string_view, absl::string_view v) {
        v1::Envelope e;
        // Unreadable: counted, as the server's.
        AccountId sender;
        if (e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          sender = SenderOf(e);
        }
        ++counted.total;
        ++counted.by_sender[sender];
        return true;
      });
  if (!s.ok()) return s;
  return &depth_.emplace(device, std::move(counted)).first->second;
}

absl::StatusOr<QueueTable::Room> QueueTable::ReserveDepth(const DeviceRef& device,
                                                          const AccountId& sender, uint64_t n,
                                                          uint64_t depth_limit,
                                                          uint64_t share_limit) {
  absl::MutexLock lock(&depth_mu_);
  absl::StatusOr<Counters*> counters = CountersLocked(device);
  if (!counters.ok()) return counters.status();
  Counters& c = **counters;
  if (c.total + n > depth_limit) return Room::kQueueFull;
  uint64_t& from_sender = c.by_sender[sender];
  if (from_sender + n > share_limit) return Room::kShareFull;
  c.total += n;
  from_sender += n;
  return Room::kReserved;
}

void QueueTable::ReleaseDepth(const DeviceRef& device, const AccountId& sender, uint64_t n) {
  absl::MutexLock lock(&depth_mu_);
  auto it = depth_.find(device);
  // Unknown devices are counted from the store when next needed. A counter
  // can only go low (by a release racing its first count), never high, so a
  // limit never refuses a send it should accept.
  if (it == depth_.end()) return;
  Counters& c = it->second;
  c.total = c.total > n ? c.total - n : 0;
  auto from = c.by_sender.find(sender);
  if (from == c.by_sender.end()) return;
  if (from->second > n) {
    from->second -= n;
  } else {
    c.by_sender.erase(from);
  }
}

void QueueTable::ReleaseDepth(const DeviceRef& device, uint64_t n) {
  if (n > 0) ForgetDepth(device);
}

absl::StatusOr<uint64_t> QueueTable::Depth(const DeviceRef& device) {
  absl::MutexLock lock(&depth_mu_);
  absl::StatusOr<Counters*> counters = CountersLocked(device);
  if (!counters.ok()) return counters.status();
  return (*counters)->total;
}

absl::StatusOr<uint64_t> QueueTable::DepthFrom(const DeviceRef& device, const AccountId& sender) {
  absl::MutexLock lock(&depth_mu_);
  absl::StatusOr<Counters*> counters = CountersLocked(device);
  if (!counters.ok()) return counters.status();
  auto it = (*counters)->by_sender.find(sender);
  return it == (*counters)->by_sender.end() ? 0 : it->second;
}

void QueueTable::ForgetDepth(const DeviceRef& device) {
  absl::MutexLock lock(&depth_mu_);
  depth_.erase(device);
}

absl::StatusOr<std::unique_ptr<SequenceAllocator>> SequenceAllocator::Open(Database* db,
                                                                           uint64_t lease) {
  std::unique_ptr<SequenceAllocator> alloc(new SequenceAllocator(db, lease));
  absl::StatusOr<std::string> stored = db->Get(Table::kMeta, kSequenceCeilingKey);
  uint64_t first = 1;
  if (stored.ok()) {
    if (stored->size() != 8) return absl::DataLossError("store: malformed sequence ceiling");
    first = ReadBigEndian64(*stored, 0);
  } else if (!absl::IsNotFound(stored.status())) {
    return stored.status();
  }
  absl::MutexLock lock(&alloc->mu_);
  alloc->next_ = first;
  absl::Status s = alloc->PersistCeiling(first + lease);
  if (!s.ok()) return s;
  alloc->ceiling_ = first + lease;
  return alloc;
}

absl::Status SequenceAllocator::PersistCeiling(uint64_t ceiling) {
  std::string value;
  AppendBigEndian64(&value, ceiling);
  auto txn = db_->Begin();
  absl::Status s = txn->Put(Table::kMeta, kSequenceCeilingKey, value);
  if (!s.ok()) return s;
  return txn->Commit();
}

absl::StatusOr<uint64_t> SequenceAllocator::Allocate(uint64_t n) {
  absl::MutexLock lock(&mu_);
  if (next_ + n > ceiling_) {
    // Persist before handing out, so no number is ever handed out twice.
    uint64_t ceiling = next_ + n + lease_;
    absl::Status s = PersistCeiling(ceiling);
    if (!s.ok()) return s;
    ceiling_ = ceiling;
  }
  uint64_t first = next_;
  next_ += n;
  return first;
}

}  // namespace carerelay::store
