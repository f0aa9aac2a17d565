#include "server/core/server_envelopes.h"

#include <spdlog/spdlog.h>

#include "server/core/envelope_id.h"

namespace carerelay::core {

ServerEnvelopes::ServerEnvelopes(DeliveryHub* hub, store::QueueTable* queues, int64_t now_ms,
                                 const Limits& limits, ServerShare share)
    : hub_(hub),
      queues_(queues),
      now_ms_(now_ms),
      expires_at_ms_(now_ms + absl::ToInt64Milliseconds(limits.queue_ttl)),
      share_limit_(share == ServerShare::kCapped ? limits.max_queue_share : UINT64_MAX) {}

ServerEnvelopes::~ServerEnvelopes() {
  if (first_ == 0 || published_) return;
  hub_->Abandon(first_);
  for (const auto& d : written_) queues_->ReleaseDepth(d, store::AccountId(), 1);
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
    // Counted now, before the commit, so that two transactions at once
    // cannot both take the last place of the share.
    absl::StatusOr<store::QueueTable::Room> room =
        queues_->ReserveDepth(devices_[i], store::AccountId(), 1, UINT64_MAX, share_limit_);
    if (!room.ok()) return room.status();
    if (*room != store::QueueTable::Room::kReserved) {
      ++skipped_;  // its sequence number stays unused, as an abandoned one does
      continue;
    }
    written_.push_back(devices_[i]);
    v1::Envelope& e = envelopes_[i];
    e.set_sequence(first_ + i);
    e.set_id(EnvelopeId(first_ + i));
    e.set_destination_device_id(devices_[i].device_id);
    e.set_server_timestamp_ms(now_ms_);
    e.set_expires_at_ms(expires_at_ms_);
    absl::Status s = queues_->Append(txn, devices_[i], e);
    if (!s.ok()) return s;
  }
  if (skipped_ > 0) {
    spdlog::warn("event=server_envelopes_skipped count={} reason=server_share_full share={}",
                 skipped_, share_limit_);
  }
  return absl::OkStatus();
}

void ServerEnvelopes::Publish() {
  if (first_ == 0 || published_) return;
  published_ = true;
  hub_->Publish(first_, std::move(written_));
}

}  // namespace carerelay::core
