// Persisted timers: deadlines and re-notifications that must survive a
// restart (core/scheduler.h fires them).
//
// Key encoding:
//   timers: due_ms (8, BE) | kind (1) | target (the owner's id) -> ""
// Due time first, so "what is due" is a scan from the start that stops at
// the first key in the future. The key is derived from what its owner
// already stores (the due time, the kind, the owner's id), so the owner can
// cancel a timer without keeping a handle to it, and scheduling the same
// timer twice is one timer.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_TIMER_TABLE_H_
#define CARERELAY_SERVER_STORE_TIMER_TABLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"

namespace carerelay::store {

// What a timer is for; the scheduler hands it to the handler of its kind.
enum class TimerKind : uint8_t {
  kUrgentReminder = 1,  // target: the urgent message sequence (8, BE)
  kIntakeDeadline = 2,  // target: the intake id (16)
};

struct Timer {
  int64_t due_ms = 0;
  TimerKind kind = TimerKind::kUrgentReminder;
  std::string target;  // raw bytes

  std::string Key() const;
  // INVALID_ARGUMENT for a key that is not a timer key.
  static absl::StatusOr<Timer> FromKey(absl::string_view key);
};

class TimerTable {
 public:
  explicit TimerTable(Database* db) : db_(db) {}

  absl::Status Schedule(Transaction& txn, const Timer& timer);
  // Removing a timer that is not there is not an error.
  absl::Status Cancel(Transaction& txn, const Timer& timer);
  // Up to `max` timers due at or before `now_ms`, earliest first (a
  // snapshot: another thread may fire them first, see Take). Timers for
  // which `skip` says true are passed over and not counted.
  absl::StatusOr<std::vector<Timer>> Due(
      int64_t now_ms, size_t max, const std::function<bool(const Timer&)>& skip = nullptr) const;
  // Locks and deletes `timer` in `txn`: true if this transaction took it,
  // false if it is gone (already fired or cancelled).
  absl::StatusOr<bool> Take(Transaction& txn, const Timer& timer);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_TIMER_TABLE_H_
