#include "server/core/refusal_hold.h"

#include <algorithm>
#include <utility>

#include "proto/error_detail.h"

namespace carerelay::core {
namespace {
// Entries in the refused-devices map before the passed ones are swept.
constexpr size_t kSweepAbove = 1024;
}  // namespace
RefusalHold::RefusalHold(Options options) : options_(options) {
  thread_ = std::thread([this] { RunDeferred(); });
}

RefusalHold::~RefusalHold() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    deferred_cv_.Signal();
  }
  thread_.join();
}

void RefusalHold::NoteAnswer(const std::string& device, const absl::Status& status) {
  if (status.code() != absl::StatusCode::kResourceExhausted) return;
  if (options_.max_hold <= absl::ZeroDuration()) return;
  std::optional<v1::ErrorDetail> detail = GetDetail(status);
  if (!detail || detail->retry_after_seconds() == 0) return;
  const absl::Time now = absl::Now();
  const absl::Time until =
      now + std::min(absl::Seconds(detail->retry_after_seconds()), options_.max_hold);
  absl::MutexLock lock(&mu_);
  // Devices refused once that never called again stay until this sweep.
  if (devices_.size() >= kSweepAbove) {
    absl::erase_if(devices_, [&](const auto& kv) {
      return kv.second.held == 0 && kv.second.refused_until <= now;
    });
  }
  Device& d = devices_[device];
  d.refused_until = std::max(d.refused_until, until);
  refused_devices_.store(devices_.size(), std::memory_order_relaxed);
}

absl::Duration RefusalHold::Admit(const std::string& device) {
  if (stopping_) return absl::ZeroDuration();
  auto it = devices_.find(device);
  if (it == devices_.end()) return absl::ZeroDuration();
  const absl::Duration left = it->second.refused_until - absl::Now();
  if (left <= absl::ZeroDuration()) {
    // Its hold has passed: forget it, unless calls of it are still held.
    if (it->second.held == 0) {
      devices_.erase(it);
      refused_devices_.store(devices_.size(), std::memory_order_relaxed);
    }
    return absl::ZeroDuration();
  }
  if (it->second.held >= options_.max_held_per_device || held_ >= options_.max_held) {
    return absl::ZeroDuration();
  }
  ++it->second.held;
  ++held_;
  return left;
}

void RefusalHold::Release(const std::string& device) {
  --held_;
  auto it = devices_.find(device);
  if (it != devices_.end()) --it->second.held;
}

void RefusalHold::Wait(const std::string& device) {
  // A refusal noted just now by another thread may be missed: that call is
  // then handled at once, as it would have been a moment earlier.
  if (refused_devices_.load(std::memory_order_relaxed) == 0) return;
  absl::MutexLock lock(&mu_);
  const absl::Duration hold = Admit(device);
  if (hold == absl::ZeroDuration()) return;
  // Wakes early only when the hold is being destroyed.
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), hold);
  Release(device);
}

void RefusalHold::Defer(const std::string& device, std::function<void()> call) {
  if (refused_devices_.load(std::memory_order_relaxed) == 0) {
    call();  // nobody is refused (see Wait)
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    const absl::Duration hold = Admit(device);
    if (hold > absl::ZeroDuration()) {
      deferred_.push_back(Deferred{absl::Now() + hold, device, std::move(call)});
      deferred_cv_.Signal();
      return;
    }
  }
  call();
}

size_t RefusalHold::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

void RefusalHold::RunDeferred() {
  absl::MutexLock lock(&mu_);
  while (!stopping_ || !deferred_.empty()) {
    const absl::Time now = absl::Now();
    std::vector<std::function<void()>> due;
    absl::Time next = absl::InfiniteFuture();
    for (auto it = deferred_.begin(); it != deferred_.end();) {
      if (stopping_ || it->due <= now) {
        due.push_back(std::move(it->call));
        Release(it->device);
        it = deferred_.erase(it);
      } else {
        next = std::min(next, it->due);
        ++it;
      }
    }
    if (due.empty()) {
      deferred_cv_.WaitWithDeadline(&mu_, next);
      continue;
    }
    mu_.Unlock();
    for (auto& call : due) call();
    mu_.Lock();
  }
}

}  // namespace carerelay::core
