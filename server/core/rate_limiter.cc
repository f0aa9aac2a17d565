#include "server/core/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "proto/error_detail.h"

namespace carerelay::core {
namespace {
constexpr size_t kPruneAbove = 100000;
}

RateLimiter::RateLimiter(const Clock* clock, std::string what, double rate_per_second, double burst)
    : clock_(clock), what_(std::move(what)), rate_(rate_per_second), burst_(burst) {}

absl::Status RateLimiter::Take(const std::string& key, double cost) {
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (buckets_.size() > kPruneAbove) {
    absl::erase_if(buckets_, [&](const auto& kv) {
      return kv.second.tokens + absl::ToDoubleSeconds(now - kv.second.updated) * rate_ >= burst_;
    });
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh && now > b.updated) {
    b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.updated) * rate_);
    b.updated = now;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return absl::OkStatus();
  }
  double wait = rate_ > 0 ? (cost - b.tokens) / rate_ : 3600;
  v1::ErrorDetail detail;
  detail.set_retry_after_seconds(static_cast<uint32_t>(std::ceil(wait)));
  return WithDetail(absl::ResourceExhaustedError(absl::StrCat(
                        "too many ", what_, ": the limit is ", rate_, " per second (burst ", burst_,
                        "); retry in ", detail.retry_after_seconds(), " s")),
                    detail);
}

}  // namespace carerelay::core
