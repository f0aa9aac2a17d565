#include "server/store/attachment_table.h"

#include "server/store/encoding.h"

namespace carerelay::store {
namespace {

std::string RecordKey(const AttachmentId& id) { return absl::StrCat("a", id.Bytes()); }

std::string TeamKey(absl::string_view team, absl::string_view id) {
  return absl::StrCat("t", team, id);
}

std::string ExpiryKey(int64_t expires_at_ms, absl::string_view id) {
  std::string key = "x";
  AppendBigEndian64(&key, static_cast<uint64_t>(expires_at_ms));
  key.append(id.data(), id.size());
  return key;
}

std::string BlockPrefix(const AttachmentRecord& record) {
  return absl::StrCat(record.team_id(), record.attachment_id());
}

std::string BlockKey(const AttachmentRecord& record, uint64_t index) {
  std::string key = BlockPrefix(record);
  AppendBigEndian64(&key, index);
  return key;
}

absl::StatusOr<AttachmentRecord> Parse(absl::StatusOr<std::string> raw) {
  if (!raw.ok()) return raw.status();
  AttachmentRecord record;
  if (!record.ParseFromString(*raw)) {
    return absl::DataLossError("store: unreadable attachment record");
  }
  return record;
}

}  // namespace

absl::StatusOr<AttachmentRecord> AttachmentTable::Get(const AttachmentId& id) const {
  return Parse(db_->Get(Table::kAttachments, RecordKey(id)));
}

absl::StatusOr<AttachmentRecord> AttachmentTable::GetForUpdate(Transaction& txn,
                                                               const AttachmentId& id) {
  return Parse(txn.GetForUpdate(Table::kAttachments, RecordKey(id)));
}

absl::Status AttachmentTable::Put(Transaction& txn, const AttachmentRecord* before,
                                  const AttachmentRecord& after) {
  auto id = AttachmentId::FromBytes(after.attachment_id());
  if (!id.ok()) return id.status();
  if (before != nullptr && before->expires_at_ms() != after.expires_at_ms()) {
    absl::Status s =
        txn.Delete(Table::kAttachments, ExpiryKey(before->expires_at_ms(), id->Bytes()));
    if (!s.ok()) return s;
  }
  absl::Status s = txn.Put(Table::kAttachments, RecordKey(*id), after.SerializeAsString());
  if (s.ok()) s = txn.Put(Table::kAttachments, TeamKey(after.team_id(), id->Bytes()), "");
  if (s.ok()) s = txn.Put(Table::kAttachments, ExpiryKey(after.expires_at_ms(), id->Bytes()), "");
  return s;
}

absl::Status AttachmentTable::Delete(Transaction& txn, const AttachmentRecord& record) {
  auto id = AttachmentId::FromBytes(record.attachment_id());
  if (!id.ok()) return id.status();
  absl::Status s = txn.Delete(Table::kAttachments, RecordKey(*id));
  if (s.ok()) s = txn.Delete(Table::kAttachments, TeamKey(record.team_id(), id->Bytes()));
  if (s.ok()) {
    s = txn.Delete(Table::kAttachments, ExpiryKey(record.expires_at_ms(), id->Bytes()));
  }
  if (s.ok()) s = DeleteBlocks(txn, record);
  return s;
}

absl::Status AttachmentTable::PutBlock(Transaction& txn, const AttachmentRecord& record,
                                       uint64_t index, absl::string_view data) {
  return txn.Put(Table::kAttachmentBlocks, BlockKey(record, index), data);
}

absl::Status AttachmentTable::DeleteBlocks(Transaction& txn, const AttachmentRecord& record) {
  return txn.DeletePrefix(Table::kAttachmentBlocks, BlockPrefix(record));
}

absl::Status AttachmentTable::ScanBlocks(
    const AttachmentRecord& record, uint64_t first,
    const std::function<bool(uint64_t, absl::string_view)>& fn) const {
  const std::string prefix = BlockPrefix(record);
  return db_->Scan(Table::kAttachmentBlocks, prefix, BlockKey(record, first),
                   [&](absl::string_view key, absl::string_view value) {
                     if (key.size() != prefix.size() + 8) return true;
                     return fn(ReadBigEndian64(key, prefix.size()), value);
                   });
}

absl::StatusOr<uint64_t> AttachmentTable::DeleteTeam(Transaction& txn, const TeamId& team) {
  std::vector<AttachmentRecord> records;
  absl::Status bad;
  const std::string prefix = absl::StrCat("t", team.Bytes());
  absl::Status s =
      db_->Scan(Table::kAttachments, prefix, prefix, [&](absl::string_view key, absl::string_view) {
        auto id = AttachmentId::FromBytes(key.substr(prefix.size()));
        absl::StatusOr<AttachmentRecord> record =
            id.ok() ? GetForUpdate(txn, *id) : absl::StatusOr<AttachmentRecord>(id.status());
        if (absl::IsNotFound(record.status())) return true;
        if (!record.ok()) {
          bad = record.status();
          return false;
        }
        records.push_back(*std::move(record));
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  for (const auto& record : records) {
    s = Delete(txn, record);
    if (!s.ok()) return s;
  }
  // Blocks without a record (none are expected) go with the team too.
  s = txn.DeletePrefix(Table::kAttachmentBlocks, team.Bytes());
  if (!s.ok()) return s;
  return records.size();
}

absl::StatusOr<std::vector<AttachmentId>> AttachmentTable::ExpiredBy(int64_t now_ms,
                                                                     size_t limit) const {
  std::vector<AttachmentId> ids;
  absl::Status bad;
  absl::Status s =
      db_->Scan(Table::kAttachments, "x", "x", [&](absl::string_view key, absl::string_view) {
        if (ids.size() >= limit || key.size() != 1 + 8 + AttachmentId::kSize) return false;
        const int64_t at = static_cast<int64_t>(ReadBigEndian64(key, 1));
        if (at > now_ms) return false;
        auto id = AttachmentId::FromBytes(key.substr(9));
        if (!id.ok()) {
          bad = id.status();
          return false;
        }
        ids.push_back(*id);
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return ids;
}

absl::Status AttachmentTable::ForEach(
    const std::function<bool(const AttachmentRecord&)>& fn) const {
  absl::Status bad;
  absl::Status s =
      db_->Scan(Table::kAttachments, "a", "a", [&](absl::string_view, absl::string_view value) {
        AttachmentRecord record;
        if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          bad = absl::DataLossError("store: unreadable attachment record");
          return false;
        }
        return fn(record);
      });
  if (!s.ok()) return s;
  return bad;
}

absl::Status AttachmentTable::Purge(const std::vector<AttachmentRecord>& deleted) {
  if (deleted.empty()) return absl::OkStatus();
  std::vector<std::string> prefixes;
  prefixes.reserve(deleted.size());
  for (const auto& record : deleted) prefixes.push_back(BlockPrefix(record));
  return db_->Purge(Table::kAttachmentBlocks, prefixes);
}

absl::Status AttachmentTable::PurgeTeams(const std::vector<TeamId>& teams) {
  std::vector<std::string> prefixes;
  prefixes.reserve(teams.size());
  for (const auto& team : teams) prefixes.emplace_back(team.Bytes());
  return db_->Purge(Table::kAttachmentBlocks, prefixes);
}

}  // namespace carerelay::store
