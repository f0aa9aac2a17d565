#include "server/core/server_envelopes.h"

#include "server/core/envelope_id.h"

namespace carerelay::core {

ServerEnvelopes::ServerEnvelopes(DeliveryHub* hub, store::QueueTable* queues, int64_t now_ms,
                                 int64_t expires_at_ms)
    : hub_(hub), queues_(queues), now_ms_(now_ms), expires_at_ms_(expires_at_ms) {}

ServerEnvelopes::~ServerEnvelopes() {
  if (first_ != 0 && !published_) hub_->Abandon(first_);
}

void ServerEnvelopes::Add(const store::DeviceRef& device, v1::Envelope envelope) {
  devices_.push_back(device);
  envelopes_.push_back(std::move(envelope));
}

absl::Status ServerEnvelopes::Write(store::Transaction& txn) {
  if (devices_.empty()) return absl::OkStatus();
  if (first_ != 0) return absl::FailedPreconditionError("server envelopes written twice");
  absl::StatusOr<uint64_t> first = hub_->Begin(devices_.size());
  if (!first.ok()) return first.status();
  first_ = *first;
  for (size_t i = 0; i < devices_.size(); ++i) {
    v1::Envelope& e = envelopes_[i];
    e.set_sequence(first_ + i);
    e.set_id(EnvelopeId(first_ + i));
    e.set_destination_device_id(devices_[i].device_id);
    e.set_server_timestamp_ms(now_ms_);
    e.set_expires_at_ms(expires_at_ms_);
    absl::Status s = queues_->Append(txn, devices_[i], e);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

void ServerEnvelopes::Publish() {
  if (first_ == 0 || published_) return;
  published_ = true;
  // Counted as the server's (the zero sender), never refused.
  for (const auto& d : devices_) {
    queues_->ReserveDepth(d, store::AccountId(), 1, UINT64_MAX, UINT64_MAX).IgnoreError();
  }
  hub_->Publish(first_, std::move(devices_));
}

}  // namespace carerelay::core
