#include "bench/noop_relay_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace carerelay::bench {
namespace {

constexpr int64_t kQueueTtlMs = 30LL * 24 * 3600 * 1000;

std::string DeviceKey(absl::string_view account_id, uint32_t device_id) {
  return absl::StrCat(account_id, ".", device_id);
}

// A stream refused before it starts (no device named, window too large).
// gRPC's callback API owns reactors by raw pointer until OnDone.
class FailedStream : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  explicit FailedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

struct NoopRelayService::Device {
  Device(std::string k, std::string account, uint32_t id)
      : key(std::move(k)), account_id(std::move(account)), device_id(id) {}
  const std::string key;
  const std::string account_id;
  const uint32_t device_id;

  absl::Mutex mu;
  // Not yet sent on the current stream, in sequence order.
  std::deque<v1::Envelope> queued ABSL_GUARDED_BY(mu);
  Stream* stream ABSL_GUARDED_BY(mu) = nullptr;
  // This device's delivery watermarks as a sender, by recipient key.
  absl::flat_hash_map<std::string, v1::DeliveryWatermark> watermarks ABSL_GUARDED_BY(mu);
  uint64_t watermark_version ABSL_GUARDED_BY(mu) = 0;
};

// One Receive call. Its state is guarded by its device's mutex, so that a
// send, an acknowledgement and the stream agree on the queue. gRPC allows
// one write in flight: `busy_` marks it, and Finish is called only when no
// write is in flight, so a stream found under the device's mutex with
// `busy_` set by the finder stays alive until its OnWriteDone.
// Lifetime: created by Receive, deletes itself in OnDone.
class NoopRelayService::Stream : public grpc::ServerWriteReactor<v1::ReceiveResponse> {
 public:
  Stream(Device* device, uint32_t window, uint32_t per_message, uint64_t watermarks_after)
      : device_(device),
        window_(window),
        per_message_(per_message),
        sent_version_(watermarks_after) {}

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&device_->mu);
      busy_ = false;
      if (!ok && !closing_) {
        closing_ = true;
        close_status_ = grpc::Status::CANCELLED;
      }
      if (closing_ && !finished_) {
        finished_ = true;
        finish = true;
        status = close_status_;
      }
    }
    if (finish) {
      Finish(status);
      return;
    }
    Pump(device_);
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&device_->mu);
      if (!closing_) {
        closing_ = true;
        close_status_ = grpc::Status::CANCELLED;
      }
      if (!busy_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&device_->mu);
      if (device_->stream == this) {
        RequeueLocked();
        device_->stream = nullptr;
      }
    }
    delete this;
  }

  // Puts what this stream delivered and nobody acknowledged back in front
  // of the device's queue: the next stream delivers it again.
  void RequeueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(device_->mu) {
    while (!unacked_.empty()) {
      device_->queued.push_front(std::move(unacked_.back()));
      unacked_.pop_back();
    }
    unacked_messages_.clear();
  }

  // Marks the stream as ending with `status`; true when the caller must
  // call Finish now (no write in flight).
  bool CloseLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(device_->mu) {
    if (!closing_) {
      closing_ = true;
      close_status_ = status;
    }
    if (busy_ || finished_) return false;
    finished_ = true;
    return true;
  }

  // Fills response_ with the next message; false if there is nothing to
  // send. Watermarks changed since the last message, then, while the window
  // has room, queued envelopes up to the per-message caps.
  bool ComposeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(device_->mu) {
    response_.Clear();
    if (device_->watermark_version > sent_version_) {
      for (const auto& [key, w] : device_->watermarks) {
        if (w.version() > sent_version_) *response_.add_watermarks() = w;
      }
      sent_version_ = device_->watermark_version;
    }
    if (unacked_messages_.size() < window_ && !device_->queued.empty()) {
      size_t bytes = 0;
      while (!device_->queued.empty() &&
             static_cast<uint32_t>(response_.envelopes_size()) < per_message_) {
        v1::Envelope& e = device_->queued.front();
        // Content plus routing metadata: close enough for a size cap.
        const size_t size = e.content().size() + 128;
        if (response_.envelopes_size() > 0 && bytes + size > kMaxMessageBytes) break;
        bytes += size;
        cursor_ = std::max(cursor_, e.sequence());
        unacked_.push_back(e);
        *response_.add_envelopes() = std::move(e);
        device_->queued.pop_front();
        if (backlog_ > 0) --backlog_;
      }
      unacked_messages_.push_back(cursor_);
    }
    if (!drained_sent_ && backlog_ == 0) {
      response_.set_queue_drained(true);
      drained_sent_ = true;
    }
    return response_.envelopes_size() > 0 || response_.watermarks_size() > 0 ||
           response_.queue_drained();
  }

  Device* const device_;
  const uint32_t window_;
  const uint32_t per_message_;
  uint64_t sent_version_ ABSL_GUARDED_BY(device_->mu);
  bool busy_ ABSL_GUARDED_BY(device_->mu) = false;
  bool closing_ ABSL_GUARDED_BY(device_->mu) = false;
  bool finished_ ABSL_GUARDED_BY(device_->mu) = false;
  bool drained_sent_ ABSL_GUARDED_BY(device_->mu) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(device_->mu);
  // Envelopes queued when the stream opened and not yet sent.
  size_t backlog_ ABSL_GUARDED_BY(device_->mu) = 0;
  // Highest sequence sent on this stream: where acknowledgements clamp.
  uint64_t cursor_ ABSL_GUARDED_BY(device_->mu) = 0;
  std::deque<v1::Envelope> unacked_ ABSL_GUARDED_BY(device_->mu);
  // Last sequence of each unacknowledged message with envelopes: the window.
  std::deque<uint64_t> unacked_messages_ ABSL_GUARDED_BY(device_->mu);
  // The message being written; only touched by whoever set busy_.
  v1::ReceiveResponse response_;
};

NoopRelayService::NoopRelayService() = default;
NoopRelayService::~NoopRelayService() = default;

NoopRelayService::Device* NoopRelayService::FindOrAddDevice(const std::string& key,
                                                            const std::string& account_id,
                                                            uint32_t device_id) {
  {
    absl::ReaderMutexLock lock(&devices_mu_);
    auto it = devices_.find(key);
    if (it != devices_.end()) return it->second.get();
  }
  absl::MutexLock lock(&devices_mu_);
  auto& slot = devices_[key];
  if (!slot) slot = std::make_unique<Device>(key, account_id, device_id);
  return slot.get();
}

NoopRelayService::Device* NoopRelayService::CallerDevice(
    const grpc::CallbackServerContext& context) {
  const auto& md = context.client_metadata();
  auto a = md.find("carerelay-account");
  auto d = md.find("carerelay-device");
  uint32_t device_id = 0;
  if (a == md.end() || d == md.end() ||
      !absl::SimpleAtoi(absl::string_view(d->second.data(), d->second.size()), &device_id)) {
    return nullptr;
  }
  std::string account(a->second.data(), a->second.size());
  return FindOrAddDevice(DeviceKey(account, device_id), account, device_id);
}

void NoopRelayService::Pump(Device* device) {
  Stream* stream = nullptr;
  {
    absl::MutexLock lock(&device->mu);
    stream = device->stream;
    if (stream == nullptr || stream->busy_ || stream->closing_) return;
    if (!stream->ComposeLocked()) return;
    stream->busy_ = true;
  }
  // Outside the lock: the write may complete on this thread.
  stream->StartWrite(&stream->response_);
}

grpc::ServerUnaryReactor* NoopRelayService::Send(grpc::CallbackServerContext* context,
                                                 const v1::SendRequest* request,
                                                 v1::SendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Device* sender = CallerDevice(*context);
  if (sender == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no device in the metadata"));
    return reactor;
  }
  if (request->envelopes_size() == 0) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no envelopes"));
    return reactor;
  }
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const auto& out : request->envelopes()) {
    Device* to = FindOrAddDevice(DeviceKey(out.account_id(), out.device_id()), out.account_id(),
                                 out.device_id());
    v1::Envelope e;
    e.set_type(out.type());
    e.mutable_sender()->set_account_id(sender->account_id);
    e.mutable_sender()->set_device_id(sender->device_id);
    e.set_destination_device_id(out.device_id());
    e.set_server_timestamp_ms(now_ms);
    e.set_expires_at_ms(now_ms + kQueueTtlMs);
    e.set_content(out.content());
    if (request->has_team_id()) {
      e.set_team_id(request->team_id());
      e.set_channel(request->channel());
    }
    e.set_priority(request->priority());
    e.set_ack_required(request->ack_required());
    e.set_receipt_requested(request->want_receipts());
    uint64_t sequence = 0;
    {
      // Numbered under the recipient's lock: sequences increase along its
      // queue, as the protocol promises.
      absl::MutexLock lock(&to->mu);
      sequence = next_sequence_++;
      e.set_sequence(sequence);
      e.set_id(absl::StrFormat("%016x", sequence));
      to->queued.push_back(std::move(e));
    }
    response->add_envelope_ids(absl::StrFormat("%016x", sequence));
    Pump(to);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::ReceiveResponse>* NoopRelayService::Receive(
    grpc::CallbackServerContext* context, const v1::ReceiveRequest* request) {
  Device* device = CallerDevice(*context);
  if (device == nullptr) {
    return new FailedStream(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no device in the metadata"));
  }
  if (request->window_messages() > kMaxWindowMessages ||
      request->max_envelopes_per_message() > kMaxEnvelopesPerMessage) {
    return new FailedStream(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("window_messages is at most ", kMaxWindowMessages,
                     " and max_envelopes_per_message at most ", kMaxEnvelopesPerMessage)));
  }
  const uint32_t window =
      request->window_messages() ? request->window_messages() : kDefaultWindowMessages;
  const uint32_t per_message = request->max_envelopes_per_message()
                                   ? request->max_envelopes_per_message()
                                   : kDefaultEnvelopesPerMessage;
  // Deletes itself in OnDone.
  auto* stream = new Stream(device, window, per_message, request->watermarks_after_version());
  Stream* replaced = nullptr;
  const grpc::Status taken_over(grpc::StatusCode::ABORTED,
                                "another Receive stream of this device took over");
  {
    absl::MutexLock lock(&device->mu);
    if (Stream* old = device->stream) {
      old->RequeueLocked();
      if (old->CloseLocked(taken_over)) replaced = old;
    }
    device->stream = stream;
    stream->backlog_ = device->queued.size();
  }
  if (replaced) replaced->Finish(taken_over);
  Pump(device);
  return stream;
}

grpc::ServerUnaryReactor* NoopRelayService::Ack(grpc::CallbackServerContext* context,
                                                const v1::AckRequest* request,
                                                v1::AckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Device* device = CallerDevice(*context);
  if (device == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no device in the metadata"));
    return reactor;
  }
  // Highest acknowledged sequence per sender that asked for receipts.
  struct Receipt {
    std::string account_id;
    uint32_t device_id = 0;
    uint64_t through = 0;
  };
  absl::flat_hash_map<std::string, Receipt> receipts;
  {
    absl::MutexLock lock(&device->mu);
    Stream* stream = device->stream;
    if (stream != nullptr) {
      const uint64_t through = std::min(request->through_sequence(), stream->cursor_);
      uint32_t deleted = 0;
      while (!stream->unacked_.empty() && stream->unacked_.front().sequence() <= through) {
        const v1::Envelope& e = stream->unacked_.front();
        if (e.receipt_requested()) {
          Receipt& r = receipts[DeviceKey(e.sender().account_id(), e.sender().device_id())];
          r.account_id = e.sender().account_id();
          r.device_id = e.sender().device_id();
          r.through = std::max(r.through, e.sequence());
        }
        ++deleted;
        stream->unacked_.pop_front();
      }
      while (!stream->unacked_messages_.empty() && stream->unacked_messages_.front() <= through) {
        stream->unacked_messages_.pop_front();
      }
      response->set_deleted(deleted);
      response->set_acknowledged_through(through);
    }
  }
  for (const auto& [key, r] : receipts) {
    Device* sender = FindOrAddDevice(key, r.account_id, r.device_id);
    {
      absl::MutexLock lock(&sender->mu);
      v1::DeliveryWatermark& w = sender->watermarks[device->key];
      if (r.through > w.delivered_through()) {
        w.mutable_recipient()->set_account_id(device->account_id);
        w.mutable_recipient()->set_device_id(device->device_id);
        w.set_delivered_through(r.through);
        w.set_version(++sender->watermark_version);
      }
    }
    Pump(sender);
  }
  Pump(device);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace carerelay::bench
