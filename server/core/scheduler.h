// Fires persisted timers (store/timer_table.h) when they fall due, exactly
// once: each timer is taken (locked and deleted) in the same transaction as
// its effect, so a timer whose effect committed is gone, and one whose
// effect failed is still there to fire again. The timer is taken after its
// handler has run, because a timer comes last in the store's lock order
// (database.h): the handler locks what it changes (the intake, the urgent
// message) first, as a transition of that intake or message does before it
// cancels the timer. When the timer turns out to be gone (another run fired
// it, or a transition cancelled it meanwhile), the handler's writes are
// rolled back: a handler may run more often than its timer fires, and
// must keep every effect inside the transaction. Timers that fell due while
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
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
  // Returning an error rolls everything back, the timer included. It must
  // lock (GetForUpdate) what it reads to decide before it writes, and must
  // not lock another timer than those it schedules.
  using Handler = std::function<absl::Status(store::Transaction& txn, const store::Timer& timer,
                                             int64_t now_ms, ServerEnvelopes& out)>;

  // All pointers must outlive the scheduler.
  Scheduler(store::Database* db, store::TimerTable* timers, DeliveryHub* hub,
            store::QueueTable* queues, const Clock* clock, const Limits& limits);

  void Register(store::TimerKind kind, Handler handler);

  // Fires every timer due now, each in its own transaction, earliest first.
  // Returns how many fired. A timer whose handler fails stays, and is
  // passed over until its retry time (kFirstRetry, doubling up to
  // kLastRetry; kept in memory), so that failing timers, however many,
  // never hold back the others; the first error is returned after the
  // others have run.
  absl::StatusOr<int> RunDue();

  static constexpr absl::Duration kFirstRetry = absl::Seconds(30);
  static constexpr absl::Duration kLastRetry = absl::Hours(1);

 private:
  void RetryLater(const store::Timer& timer, int64_t now_ms);
  void Forget(const store::Timer& timer);

  store::Database* db_;
  store::TimerTable* timers_;
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  const Clock* clock_;
  const Limits limits_;
  std::map<store::TimerKind, Handler> handlers_;
  struct Retry {
    int64_t at_ms = 0;
    absl::Duration delay;
  };
  absl::Mutex retry_mu_;
  // By Timer::Key(); a timer leaves it when it fires or is gone.
  absl::flat_hash_map<std::string, Retry> retries_ ABSL_GUARDED_BY(retry_mu_);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_SCHEDULER_H_
