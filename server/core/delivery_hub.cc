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
  pending_.emplace(*first, Pending{*first + n - 1});
  return *first;
}

std::vector<store::DeviceRef> DeliveryHub::AdvanceLocked() {
  std::vector<store::DeviceRef> notify;
  while (!pending_.empty() && pending_.begin()->second.done) {
    Pending& p = pending_.begin()->second;
    watermark_ = p.last;
    notify.insert(notify.end(), p.devices.begin(), p.devices.end());
    pending_.erase(pending_.begin());
  }
  return notify;
}

void DeliveryHub::Publish(uint64_t first, std::vector<store::DeviceRef> devices) {
  std::vector<store::DeviceRef> notify;
  uint64_t watermark;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(first);
    if (it == pending_.end()) return;
    it->second.done = true;
    it->second.devices = std::move(devices);
    notify = AdvanceLocked();
    watermark = watermark_;
  }
  Notify(notify, watermark);
}

void DeliveryHub::Abandon(uint64_t first) { Publish(first, {}); }

uint64_t DeliveryHub::Watermark() const {
  absl::MutexLock lock(&mu_);
  if (!initialized_) return UINT64_MAX;  // nothing written by this run yet
  return watermark_;
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
    previous->OnClosed(
        absl::AbortedError("replaced by a newer receive stream for this device"));
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
