#include "server/core/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace carerelay::core {

Scheduler::Scheduler(store::Database* db, store::TimerTable* timers, DeliveryHub* hub,
                     store::QueueTable* queues, const Clock* clock, const Limits& limits)
    : db_(db), timers_(timers), hub_(hub), queues_(queues), clock_(clock), limits_(limits) {}

void Scheduler::Register(store::TimerKind kind, Handler handler) {
  handlers_[kind] = std::move(handler);
}

void Scheduler::RetryLater(const store::Timer& timer, int64_t now_ms) {
  absl::MutexLock lock(&retry_mu_);
  Retry& r = retries_[timer.Key()];
  r.delay = r.delay == absl::ZeroDuration() ? kFirstRetry : std::min(2 * r.delay, kLastRetry);
  r.at_ms = now_ms + absl::ToInt64Milliseconds(r.delay);
}

void Scheduler::Forget(const store::Timer& timer) {
  absl::MutexLock lock(&retry_mu_);
  retries_.erase(timer.Key());
}

absl::StatusOr<int> Scheduler::RunDue() {
  const int64_t now = clock_->NowMs();
  absl::StatusOr<std::vector<store::Timer>> due =
      timers_->Due(now, 1000, [&](const store::Timer& t) {
        absl::MutexLock lock(&retry_mu_);
        auto it = retries_.find(t.Key());
        return it != retries_.end() && it->second.at_ms > now;
      });
  if (!due.ok()) return due.status();
  int fired = 0;
  absl::Status first_error = absl::OkStatus();
  for (const store::Timer& timer : *due) {
    auto handler = handlers_.find(timer.kind);
    auto txn = db_->Begin();
    ServerEnvelopes out(hub_, queues_, now, limits_);
    absl::Status s = absl::OkStatus();
    if (handler == handlers_.end()) {
      // A kind this server does not know (a newer server wrote it): keep it.
      s = absl::InternalError(
          absl::StrCat("no handler for timer kind ", static_cast<int>(timer.kind)));
    }
    // The handler first: it locks what it changes, and only then is the
    // timer locked (the store's lock order, database.h).
    if (s.ok()) s = handler->second(*txn, timer, now, out);
    if (s.ok()) {
      absl::StatusOr<bool> taken = timers_->Take(*txn, timer);
      if (taken.ok() && !*taken) {
        // Fired by a concurrent run, or cancelled meanwhile: what the
        // handler did is rolled back with the transaction.
        Forget(timer);
        continue;
      }
      s = taken.status();
    }
    if (s.ok()) s = out.Write(*txn);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) {
      if (first_error.ok()) first_error = s;
      RetryLater(timer, now);
      continue;
    }
    Forget(timer);
    out.Publish();
    ++fired;
  }
  if (!first_error.ok()) return first_error;
  return fired;
}

}  // namespace carerelay::core
