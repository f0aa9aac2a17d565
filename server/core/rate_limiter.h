// Token buckets keyed by a string (a device, a client address, an account):
// each key may spend `burst` at once and regains `rate_per_second` per
// second.
//
// Thread-safe. Memory: one small entry per key seen recently; full buckets
// are dropped when the table grows, since a full bucket is the default.
#ifndef CARERELAY_SERVER_CORE_RATE_LIMITER_H_
#define CARERELAY_SERVER_CORE_RATE_LIMITER_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"

namespace carerelay::core {

// RESOURCE_EXHAUSTED with `message` followed by "; retry in N s", carrying
// ErrorDetail.retry_after_seconds = N: `wait` rounded up to whole seconds
// (at least 1), so that a client which waits that long finds the budget
// refilled.
absl::Status RetryAfterError(absl::string_view message, absl::Duration wait);

class RateLimiter {
 public:
  // `what` names the limit in error messages ("sends", "registrations").
  RateLimiter(const Clock* clock, std::string what, double rate_per_second, double burst);

  // Takes `cost` tokens from `key`'s bucket. RESOURCE_EXHAUSTED (with
  // ErrorDetail.retry_after_seconds) when there are not enough; then
  // nothing is taken.
  absl::Status Take(const std::string& key, double cost = 1);
  // As Take, for a caller that words its own refusal: nullopt when the
  // tokens were taken; otherwise nothing is taken and the result is how
  // long until the bucket holds `cost` (one hour when the rate is 0). A
  // cost above the burst never fits: callers keep their costs within it.
  std::optional<absl::Duration> TryTake(const std::string& key, double cost);

  double rate_per_second() const { return rate_; }
  double burst() const { return burst_; }

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  const Clock* clock_;
  const std::string what_;
  const double rate_;
  const double burst_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_RATE_LIMITER_H_
