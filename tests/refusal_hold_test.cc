// core::RefusalHold on its own: which calls it holds, for how long at least,
// and that it never holds more than its bounds or leaves a call behind.
// Durations are checked from below only (a held call is not answered before
// its device's retry-after): never how quickly anything runs.
#include "server/core/refusal_hold.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "server/core/rate_limiter.h"

namespace carerelay::core {
namespace {

constexpr absl::Duration kHold = absl::Milliseconds(300);

RefusalHold::Options Holding(size_t per_device = 16, size_t in_all = 64) {
  return RefusalHold::Options{kHold, per_device, in_all};
}

absl::Status Refusal() { return RetryAfterError("sends from this device", absl::Seconds(1)); }

TEST(RefusalHoldTest, AnUnrefusedDeviceIsNeverHeld) {
  RefusalHold hold(Holding());
  hold.NoteAnswer("a", absl::OkStatus());
  hold.NoteAnswer("a", absl::InvalidArgumentError("bad"));
  // RESOURCE_EXHAUSTED without a retry-after (a full queue share) does not
  // tell the client to wait, so it is not held for calling again.
  hold.NoteAnswer("a", absl::ResourceExhaustedError("queue share"));
  hold.Wait("a");
  std::thread::id ran_on;
  hold.Defer("a", [&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(hold.held(), 0u);
}

TEST(RefusalHoldTest, ACallBeforeTheRetryAfterWaitsForIt) {
  RefusalHold hold(Holding());
  const absl::Time refused = absl::Now();
  hold.NoteAnswer("flooder", Refusal());

  hold.Wait("flooder");
  EXPECT_GE(absl::Now() - refused, kHold);

  // Once it has passed, the device is not held again until refused again.
  std::thread::id ran_on;
  hold.Defer("flooder", [&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());

  // Another device is never held by someone else's refusal.
  hold.NoteAnswer("flooder", Refusal());
  hold.Defer("colleague", [&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(RefusalHoldTest, ADeferredCallRunsOnTheHoldsThreadOnceTheRetryAfterHasPassed) {
  RefusalHold hold(Holding());
  const absl::Time refused = absl::Now();
  hold.NoteAnswer("flooder", Refusal());
  absl::Notification done;
  absl::Time ran_at;
  std::thread::id ran_on;
  hold.Defer("flooder", [&] {
    ran_at = absl::Now();
    ran_on = std::this_thread::get_id();
    done.Notify();
  });
  EXPECT_EQ(hold.held(), 1u);
  done.WaitForNotification();
  EXPECT_GE(ran_at - refused, kHold);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(RefusalHoldTest, HeldCallsAreBoundedPerDeviceAndInAll) {
  RefusalHold hold(Holding(/*per_device=*/2, /*in_all=*/3));
  hold.NoteAnswer("a", Refusal());
  hold.NoteAnswer("b", Refusal());
  std::atomic<int> deferred{0};
  const std::thread::id me = std::this_thread::get_id();
  auto call = [&] {
    if (std::this_thread::get_id() != me) ++deferred;
  };
  hold.Defer("a", call);
  hold.Defer("a", call);
  EXPECT_EQ(hold.held(), 2u);
  hold.Defer("a", call);  // past the device's bound: runs at once
  EXPECT_EQ(hold.held(), 2u);
  hold.Defer("b", call);
  EXPECT_EQ(hold.held(), 3u);
  hold.Defer("b", call);  // past the bound in all: runs at once
  EXPECT_EQ(hold.held(), 3u);
  // Held calls all run in the end.
  while (hold.held() > 0) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(deferred.load(), 3);
}

TEST(RefusalHoldTest, ALongRetryAfterHoldsNoLongerThanTheLimit) {
  RefusalHold hold(Holding());
  const absl::Time refused = absl::Now();
  hold.NoteAnswer("a", RetryAfterError("lookups today", absl::Hours(20)));
  hold.Wait("a");
  const absl::Duration waited = absl::Now() - refused;
  EXPECT_GE(waited, kHold);
  // Far from the 20 hours (a bound on correctness, not on speed).
  EXPECT_LT(waited, absl::Minutes(10));
}

TEST(RefusalHoldTest, DestroyingTheHoldRunsEveryDeferredCallAtOnce) {
  std::atomic<int> ran{0};
  {
    RefusalHold hold(RefusalHold::Options{absl::Seconds(60), 16, 64});
    hold.NoteAnswer("a", RetryAfterError("sends", absl::Seconds(60)));
    for (int i = 0; i < 5; ++i) hold.Defer("a", [&] { ++ran; });
    EXPECT_EQ(hold.held(), 5u);
  }
  EXPECT_EQ(ran.load(), 5);
}

TEST(RefusalHoldTest, AZeroHoldTurnsItOff) {
  RefusalHold hold(RefusalHold::Options{absl::ZeroDuration(), 16, 64});
  hold.NoteAnswer("a", Refusal());
  std::thread::id ran_on;
  hold.Defer("a", [&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace carerelay::core
