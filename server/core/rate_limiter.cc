#include "server/core/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "proto/error_detail.h"

namespace carerelay::core {
namespace {
constexpr size_t kPruneAbove = 100000;
}

absl::Status RetryAfterError(absl::string_view message, absl::Duration wait) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(wait));
  v1::ErrorDetail detail;
  // Clamped: a zero would invite an immediate retry, and the field is 32 bits.
  detail.set_retry_after_seconds(static_cast<uint32_t>(
      std::clamp(seconds, 1.0, static_cast<double>(std::numeric_limits<uint32_t>::max()))));
  return WithDetail(absl::ResourceExhaustedError(
                        absl::StrCat(message, "; retry in ", detail.retry_after_seconds(), " s")),
                    detail);
}

RateLimiter::RateLimiter(const Clock* clock, std::string what, double rate_per_second, double burst)
    : clock_(clock), what_(std::move(what)), rate_(rate_per_second), burst_(burst) {}

std::optional<absl::Duration> RateLimiter::TryTake(const std::string& key, double cost) {
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
    return std::nullopt;
  }
  return rate_ > 0 ? absl::Seconds((cost - b.tokens) / rate_) : absl::Hours(1);
}

absl::Status RateLimiter::Take(const std::string& key, double cost) {
  std::optional<absl::Duration> wait = TryTake(key, cost);
  if (!wait) return absl::OkStatus();
  return RetryAfterError(absl::StrCat("too many ", what_, ": the limit is ", rate_,
                                      " per second (burst ", burst_, ")"),
                         *wait);
}

}  // namespace carerelay::core
