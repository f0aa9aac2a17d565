// Persisted timers (store/timer_table.h) and the scheduler that fires them
// (core/scheduler.h) on a real RocksDB in a temporary directory, with a fake
// clock: order, exactly once (also with two runs racing, and across a
// reopen of the store), a failing handler keeping its timer, cancellation.
#include "server/core/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto db = store::Database::Open(dir_.Sub("db"), store::DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    timers_ = std::make_unique<store::TimerTable>(db_.get());
    queues_ = std::make_unique<store::QueueTable>(db_.get());
    auto sequences = store::SequenceAllocator::Open(db_.get());
    ASSERT_TRUE(sequences.ok());
    sequences_ = *std::move(sequences);
    hub_ = std::make_unique<core::DeliveryHub>(sequences_.get());
    scheduler_ = std::make_unique<core::Scheduler>(db_.get(), timers_.get(), hub_.get(),
                                                   queues_.get(), &clock_, core::Limits());
    scheduler_->Register(store::TimerKind::kIntakeDeadline,
                         [this](store::Transaction& txn, const store::Timer& t, int64_t now,
                                core::ServerEnvelopes&) -> absl::Status {
                           if (t.target == "fail") return absl::UnavailableError("not now");
                           fired_.push_back(t.target);
                           // A handler's writes commit with the timer's removal.
                           return txn.Put(store::Table::kMeta, "fired-" + t.target, "1");
                         });
  }

  void Close() {
    scheduler_.reset();
    hub_.reset();
    sequences_.reset();
    queues_.reset();
    timers_.reset();
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
  }

  void Schedule(int64_t due_ms, const std::string& target,
                store::TimerKind kind = store::TimerKind::kIntakeDeadline) {
    auto txn = db_->Begin();
    ASSERT_TRUE(timers_->Schedule(*txn, {due_ms, kind, target}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  int Run() {
    auto fired = scheduler_->RunDue();
    return fired.ok() ? *fired : -1;
  }

  TempDir dir_;
  core::FakeClock clock_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::TimerTable> timers_;
  std::unique_ptr<store::QueueTable> queues_;
  std::unique_ptr<store::SequenceAllocator> sequences_;
  std::unique_ptr<core::DeliveryHub> hub_;
  std::unique_ptr<core::Scheduler> scheduler_;
  std::vector<std::string> fired_;
};

TEST_F(SchedulerTest, FiresDueTimersOnceInDueOrder) {
  const int64_t now = clock_.NowMs();
  Schedule(now + 3000, "c");
  Schedule(now + 1000, "a");
  Schedule(now + 2000, "b");
  Schedule(now + 60000, "later");
  EXPECT_EQ(Run(), 0);
  clock_.Advance(absl::Seconds(3));
  EXPECT_EQ(Run(), 3);
  EXPECT_EQ(fired_, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Run(), 0);
  EXPECT_TRUE(db_->Get(store::Table::kMeta, "fired-b").ok());
  auto due = timers_->Due(clock_.NowMs() + 60000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].target, "later");
}

TEST_F(SchedulerTest, ConcurrentRunsFireEachTimerOnce) {
  const int64_t now = clock_.NowMs();
  for (int i = 0; i < 200; ++i) Schedule(now + i, "t" + std::to_string(i));
  clock_.Advance(absl::Seconds(1));
  std::atomic<int> total{0};
  std::vector<std::thread> runners;
  // A handler may run in two runs at once (the timer is taken after it):
  // what counts is what commits. Each firing adds one to its timer's count,
  // under a lock, as a real handler locks its intake.
  scheduler_->Register(store::TimerKind::kIntakeDeadline,
                       [&](store::Transaction& txn, const store::Timer& t, int64_t,
                           core::ServerEnvelopes&) -> absl::Status {
                         const std::string key = "count-" + t.target;
                         auto count = txn.GetForUpdate(store::Table::kMeta, key);
                         if (!count.ok() && !absl::IsNotFound(count.status())) {
                           return count.status();
                         }
                         const int n = count.ok() ? std::stoi(*count) : 0;
                         return txn.Put(store::Table::kMeta, key, std::to_string(n + 1));
                       });
  for (int r = 0; r < 4; ++r) {
    runners.emplace_back([&] {
      auto fired = scheduler_->RunDue();
      EXPECT_TRUE(fired.ok()) << fired.status();
      if (fired.ok()) total += *fired;
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_EQ(total.load(), 200);
  for (int i = 0; i < 200; ++i) {
    auto count = db_->Get(store::Table::kMeta, "count-t" + std::to_string(i));
    ASSERT_TRUE(count.ok()) << "timer " << i << " never fired";
    EXPECT_EQ(*count, "1") << "timer " << i << " fired " << *count << " times";
  }
}

// The lock order (store/database.h): a timer comes after what its handler
// locks. While the handler runs, the timer is not yet locked, so a
// transition that holds the intake and cancels the timer cannot be waiting
// for a scheduler that holds the timer and waits for the intake.
TEST_F(SchedulerTest, TheTimerIsLockedOnlyAfterItsHandlerRan) {
  Schedule(clock_.NowMs(), "intake");
  bool unlocked = false;
  scheduler_->Register(store::TimerKind::kIntakeDeadline,
                       [&](store::Transaction&, const store::Timer& t, int64_t,
                           core::ServerEnvelopes&) -> absl::Status {
                         // Another transaction can lock the timer now (it
                         // would wait for the lock timeout if the scheduler
                         // held it); it rolls back and leaves it.
                         auto other = db_->Begin();
                         auto taken = timers_->Take(*other, t);
                         EXPECT_TRUE(taken.ok()) << taken.status();
                         unlocked = taken.ok() && *taken;
                         return absl::OkStatus();
                       });
  EXPECT_EQ(Run(), 1);
  EXPECT_TRUE(unlocked);
  // And a timer cancelled while its handler ran fires nothing: the
  // handler's writes roll back with it.
  Schedule(clock_.NowMs(), "cancelled");
  scheduler_->Register(store::TimerKind::kIntakeDeadline,
                       [&](store::Transaction& txn, const store::Timer& t, int64_t,
                           core::ServerEnvelopes&) -> absl::Status {
                         auto other = db_->Begin();
                         EXPECT_TRUE(timers_->Cancel(*other, t).ok());
                         EXPECT_TRUE(other->Commit().ok());
                         return txn.Put(store::Table::kMeta, "fired-" + t.target, "1");
                       });
  EXPECT_EQ(Run(), 0);
  EXPECT_TRUE(absl::IsNotFound(db_->Get(store::Table::kMeta, "fired-cancelled").status()));
}

TEST_F(SchedulerTest, FailingHandlerKeepsItsTimerAndUnknownKindsStay) {
  const int64_t now = clock_.NowMs();
  Schedule(now, "fail");
  Schedule(now, "ok");
  Schedule(now, "urgent", store::TimerKind::kUrgentReminder);  // no handler registered
  auto fired = scheduler_->RunDue();
  EXPECT_FALSE(fired.ok()) << "the first failure is reported after the others ran";
  EXPECT_EQ(fired_, std::vector<std::string>{"ok"});
  auto due = timers_->Due(now, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);  // "fail" and the unknown kind, for a later run
  EXPECT_FALSE(db_->Get(store::Table::kMeta, "fired-fail").ok());
}

// Issue 15 (lower): a run takes the first 1,000 due timers; 1,000 failing
// ones at the head used to be all it ever took, so nothing else fired again.
// A failing timer now waits for its retry time, doubling, off to the side.
TEST_F(SchedulerTest, FailingTimersNeverHoldBackTheOthers) {
  const int64_t now = clock_.NowMs();
  for (int i = 0; i < 1200; ++i) {
    // Unknown kind: no handler, so each fails (a newer server's timers).
    Schedule(now - 1000, "stuck-" + std::to_string(i), static_cast<store::TimerKind>(77));
  }
  Schedule(now, "deadline");
  EXPECT_EQ(Run(), -1);  // the first 1,000 fail and are reported
  EXPECT_TRUE(fired_.empty());
  EXPECT_EQ(Run(), -1);  // passed over: the other 200 fail, the deadline fires
  EXPECT_EQ(fired_, std::vector<std::string>{"deadline"});
  clock_.Advance(absl::Seconds(1));
  Schedule(clock_.NowMs(), "later deadline");
  EXPECT_EQ(Run(), 1);  // every failing one waits for its retry time
  EXPECT_EQ(fired_, (std::vector<std::string>{"deadline", "later deadline"}));
  // They are tried again after their retry time, and still kept.
  clock_.Advance(core::Scheduler::kFirstRetry);
  EXPECT_EQ(Run(), -1);
  auto due = timers_->Due(clock_.NowMs(), 5000);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->size(), 1200u);
}

TEST_F(SchedulerTest, CancelledTimersNeverFireAndTimersSurviveAReopen) {
  const int64_t now = clock_.NowMs();
  Schedule(now + 1000, "kept");
  Schedule(now + 1000, "cancelled");
  {
    auto txn = db_->Begin();
    ASSERT_TRUE(
        timers_->Cancel(*txn, {now + 1000, store::TimerKind::kIntakeDeadline, "cancelled"}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  ASSERT_NO_FATAL_FAILURE(Close());
  clock_.Advance(absl::Hours(1));
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(Run(), 1);
  EXPECT_EQ(fired_, std::vector<std::string>{"kept"});
  ASSERT_NO_FATAL_FAILURE(Close());
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(Run(), 0);
}

}  // namespace
}  // namespace carerelay::testing
