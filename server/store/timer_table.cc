#include "server/store/timer_table.h"

#include "server/store/encoding.h"

namespace carerelay::store {

std::string Timer::Key() const {
  std::string key;
  AppendBigEndian64(&key, static_cast<uint64_t>(due_ms));
  key.push_back(static_cast<char>(kind));
  key.append(target);
  return key;
}

absl::StatusOr<Timer> Timer::FromKey(absl::string_view key) {
  if (key.size() < 9) return absl::InvalidArgumentError("not a timer key");
  Timer t;
  t.due_ms = static_cast<int64_t>(ReadBigEndian64(key, 0));
  t.kind = static_cast<TimerKind>(static_cast<uint8_t>(key[8]));
  t.target = std::string(key.substr(9));
  return t;
}

absl::Status TimerTable::Schedule(Transaction& txn, const Timer& timer) {
  return txn.Put(Table::kTimers, timer.Key(), "");
}

absl::Status TimerTable::Cancel(Transaction& txn, const Timer& timer) {
  return txn.Delete(Table::kTimers, timer.Key());
}

absl::StatusOr<std::vector<Timer>> TimerTable::Due(
    int64_t now_ms, size_t max, const std::function<bool(const Timer&)>& skip) const {
  std::vector<Timer> due;
  absl::Status damaged = absl::OkStatus();
  absl::Status s = db_->Scan(Table::kTimers, "", "", [&](absl::string_view key, absl::string_view) {
    absl::StatusOr<Timer> t = Timer::FromKey(key);
    if (!t.ok()) {
      damaged = t.status();
      return false;
    }
    if (t->due_ms > now_ms || due.size() >= max) return false;
    if (skip && skip(*t)) return true;
    due.push_back(*std::move(t));
    return true;
  });
  if (!s.ok()) return s;
  if (!damaged.ok()) return damaged;
  return due;
}

absl::StatusOr<bool> TimerTable::Take(Transaction& txn, const Timer& timer) {
  const std::string key = timer.Key();
  absl::StatusOr<std::string> v = txn.GetForUpdate(Table::kTimers, key);
  if (absl::IsNotFound(v.status())) return false;
  if (!v.ok()) return v.status();
  absl::Status s = txn.Delete(Table::kTimers, key);
  if (!s.ok()) return s;
  return true;
}

}  // namespace carerelay::store
