// Fires persisted timers (store/timer_table.h) when they fall due, exactly
// once: each timer is taken (locked and deleted) in the same transaction as
// its effect, so a timer whose effect committed is gone, and one whose
// effect failed is still there to fire again. Timers that fell due while
// the server was down fire on the first RunDue after the restart.
//
// Time comes from the injected clock: tests advance a FakeClock and call
// RunDue (Server::RunTimers) instead of sleeping.
//
// Thread-safety: thread-safe. Register every handler before the first
// RunDue. Concurrent RunDue calls each take different timers.
#ifndef CARERELAY_SERVER_CORE_SCHEDULER_H_
#define CARERELAY_SERVER_CORE_SCHEDULER_H_

#include <functional>
#include <map>

#include "absl/status/statusor.h"
#include "server/core/clock.h"
#include "server/core/delivery_hub.h"
#include "server/core/limits.h"
#include "server/core/server_envelopes.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"
#include "server/store/timer_table.h"

namespace carerelay::core {

class Scheduler {
 public:
  // What a timer does: its writes go into `txn` (it may schedule further
  // timers there), its alerts into `out` (delivered once committed).
  // Returning an error rolls everything back, the timer included.
  using Handler = std::function<absl::Status(store::Transaction& txn, const store::Timer& timer,
                                             int64_t now_ms, ServerEnvelopes& out)>;

  // All pointers must outlive the scheduler.
  Scheduler(store::Database* db, store::TimerTable* timers, DeliveryHub* hub,
            store::QueueTable* queues, const Clock* clock, const Limits& limits);

  void Register(store::TimerKind kind, Handler handler);

  // Fires every timer due now, each in its own transaction, earliest first.
  // Returns how many fired. A timer whose handler fails stays for the next
  // run; the first such error is returned after the others have run.
  absl::StatusOr<int> RunDue();

 private:
  store::Database* db_;
  store::TimerTable* timers_;
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  const Clock* clock_;
  const Limits limits_;
  std::map<store::TimerKind, Handler> handlers_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_SCHEDULER_H_
