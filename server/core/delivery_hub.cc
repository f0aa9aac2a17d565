#include "server/core/delivery_hub.h"

namespace carerelay::core {

absl::StatusOr<uint64_t> DeliveryHub::Begin(uint64_t n) {
  absl::MutexLock lock(&mu_);
  // Allocation happens under the hub's lock so pending_ is filled in
  // sequence order.
  absl::StatusOr<uint64_t> first = sequences_->Allocate(n);
  if (!first.ok()) return first.status();
  if (!initialized_) {
    // Everything below the first number of this run is already durable.
    watermark_ = *first - 1;
    initialized_ = true;
  }
  pending_.emplace(*first, Pending{*first + n - 1, false, {}});
  highest_begun_ = *first + n - 1;
  return *first;
}

std::vector<store::DeviceRef> DeliveryHub::AdvanceLocked(
    std::vector<std::weak_ptr<QueueListener>>* reached) {
  std::vector<store::DeviceRef> notify;
  while (!pending_.empty() && pending_.begin()->second.done) {
    Pending& p = pending_.begin()->second;
    watermark_ = p.last;
    notify.insert(notify.end(), p.devices.begin(), p.devices.end());
    pending_.erase(pending_.begin());
  }
  auto end = watermark_waiters_.upper_bound(watermark_);
  for (auto it = watermark_waiters_.begin(); it != end; ++it) reached->push_back(it->second);
  watermark_waiters_.erase(watermark_waiters_.begin(), end);
  return notify;
}

void DeliveryHub::Publish(uint64_t first, std::vector<store::DeviceRef> devices) {
  std::vector<store::DeviceRef> notify;
  std::vector<std::weak_ptr<QueueListener>> reached;
  uint64_t watermark;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(first);
    if (it == pending_.end()) return;
    it->second.done = true;
    it->second.devices = std::move(devices);
    notify = AdvanceLocked(&reached);
    watermark = watermark_;
  }
  Notify(notify, watermark);
  for (auto& weak : reached) {
    if (auto listener = weak.lock()) listener->OnQueued(watermark);
  }
}

void DeliveryHub::Abandon(uint64_t first) { Publish(first, {}); }

uint64_t DeliveryHub::Watermark() const {
  absl::MutexLock lock(&mu_);
  if (!initialized_) return UINT64_MAX;  // nothing written by this run yet
  return watermark_;
}

uint64_t DeliveryHub::HighestBegun() const {
  absl::MutexLock lock(&mu_);
  return highest_begun_;
}

void DeliveryHub::NotifyAtWatermark(uint64_t target, std::weak_ptr<QueueListener> listener) {
  uint64_t watermark;
  {
    absl::MutexLock lock(&mu_);
    if (initialized_ && watermark_ < target) {
      watermark_waiters_.emplace(target, std::move(listener));
      return;
    }
    watermark = initialized_ ? watermark_ : UINT64_MAX;
  }
  if (auto l = listener.lock()) l->OnQueued(watermark);
}

void DeliveryHub::Notify(const std::vector<store::DeviceRef>& devices, uint64_t watermark) {
  if (devices.empty()) return;
  std::vector<std::shared_ptr<QueueListener>> targets;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& d : devices) {
      auto it = listeners_.find(d);
      if (it != listeners_.end()) targets.push_back(it->second);
    }
  }
  for (auto& t : targets) t->OnQueued(watermark);
}

void DeliveryHub::Subscribe(const store::DeviceRef& device,
                            std::shared_ptr<QueueListener> listener) {
  std::shared_ptr<QueueListener> previous;
  bool refused = false;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      refused = true;
    } else {
      auto& slot = listeners_[device];
      previous = std::move(slot);
      slot = listener;
    }
  }
  if (refused) {
    listener->OnClosed(absl::UnavailableError("the server is shutting down; reconnect later"));
    return;
  }
  if (previous) {
    previous->OnClosed(absl::AbortedError("replaced by a newer receive stream for this device"));
  }
}

void DeliveryHub::Unsubscribe(const store::DeviceRef& device, const QueueListener* listener) {
  std::shared_ptr<QueueListener> removed;  // released outside the lock
  absl::MutexLock lock(&mu_);
  auto it = listeners_.find(device);
  if (it != listeners_.end() && it->second.get() == listener) {
    removed = std::move(it->second);
    listeners_.erase(it);
  }
}

std::shared_ptr<QueueListener> DeliveryHub::ListenerOf(const store::DeviceRef& device) const {
  absl::MutexLock lock(&mu_);
  auto it = listeners_.find(device);
  return it == listeners_.end() ? nullptr : it->second;
}

Acknowledged DeliveryHub::Acknowledge(const store::DeviceRef& device, uint64_t through) {
  std::shared_ptr<QueueListener> listener = ListenerOf(device);
  if (!listener) return Acknowledged{};
  return listener->TakeAcknowledged(through);
}

void DeliveryHub::PushWatermark(const store::DeviceRef& sender, const store::Watermark& watermark) {
  std::shared_ptr<QueueListener> listener = ListenerOf(sender);
  if (listener) listener->OnWatermark(watermark);
}

void DeliveryHub::Disconnect(const store::DeviceRef& device, const absl::Status& status) {
  std::shared_ptr<QueueListener> target;
  {
    absl::MutexLock lock(&mu_);
    auto it = listeners_.find(device);
    if (it == listeners_.end()) return;
    target = std::move(it->second);
    listeners_.erase(it);
  }
  target->OnClosed(status);
}

void DeliveryHub::Shutdown() {
  absl::flat_hash_map<store::DeviceRef, std::shared_ptr<QueueListener>> all;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    all.swap(listeners_);
  }
  for (auto& [device, listener] : all) {
    listener->OnClosed(absl::UnavailableError("the server is shutting down; reconnect later"));
  }
}

size_t DeliveryHub::StreamCount() const {
  absl::MutexLock lock(&mu_);
  return listeners_.size();
}

}  // namespace carerelay::core
