// Token buckets keyed by a string (a device, a client address): each key may
// spend `burst` at once and regains `rate_per_second` per second.
//
// Thread-safe. Memory: one small entry per key seen recently; full buckets
// are dropped when the table grows, since a full bucket is the default.
#ifndef CARERELAY_SERVER_CORE_RATE_LIMITER_H_
#define CARERELAY_SERVER_CORE_RATE_LIMITER_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/core/clock.h"

namespace carerelay::core {

class RateLimiter {
 public:
  // `what` names the limit in error messages ("sends", "registrations").
  RateLimiter(const Clock* clock, std::string what, double rate_per_second, double burst);

  // Takes `cost` tokens from `key`'s bucket. RESOURCE_EXHAUSTED (with
  // ErrorDetail.retry_after_seconds) when there are not enough.
  absl::Status Take(const std::string& key, double cost = 1);

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
