#include "server/api/receive_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/api/grpc_status.h"

namespace carerelay::api {

absl::StatusOr<ReceiveWindow> ReceiveWindow::From(const v1::ReceiveRequest& request,
                                                  uint32_t max_messages) {
  ReceiveWindow w;
  if (request.window_messages() > max_messages) {
    return absl::InvalidArgumentError(absl::StrCat("a receive window holds at most ", max_messages,
                                                   " messages on this server, not ",
                                                   request.window_messages()));
  }
  w.messages = std::min(w.messages, max_messages);
  if (request.max_envelopes_per_message() > kMaxEnvelopes) {
    return absl::InvalidArgumentError(absl::StrCat("a stream message carries at most ",
                                                   kMaxEnvelopes, " envelopes, not ",
                                                   request.max_envelopes_per_message()));
  }
  if (request.window_messages() != 0) w.messages = request.window_messages();
  if (request.max_envelopes_per_message() != 0) {
    w.envelopes_per_message = request.max_envelopes_per_message();
  }
  return w;
}

// Bridges hub callbacks to the stream; outlives the stream if the hub still
// holds it, and then does nothing.
class ReceiveStream::Listener : public core::QueueListener {
 public:
  explicit Listener(ReceiveStream* stream) : stream_(stream) {}
  void OnQueued(uint64_t) override {
    absl::MutexLock lock(&mu_);
    if (!stream_) return;
    {
      absl::MutexLock stream_lock(&stream_->mu_);
      stream_->queue_dirty_ = true;
    }
    stream_->Pump();
  }
  void OnClosed(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    if (stream_) stream_->Close(ToGrpc(status));
  }
  core::Acknowledged TakeAcknowledged(uint64_t through) override {
    absl::MutexLock lock(&mu_);
    if (!stream_) return {};
    core::Acknowledged taken = stream_->TakeAcknowledged(through);
    stream_->Pump();  // the window may have opened
    return taken;
  }
  void OnWatermark(const store::Watermark& watermark) override {
    absl::MutexLock lock(&mu_);
    if (!stream_) return;
    stream_->AddWatermark(watermark);
    stream_->Pump();
  }
  void Detach() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  ReceiveStream* stream_ ABSL_GUARDED_BY(mu_);
};

ReceiveStream::ReceiveStream(core::Relay* relay, const store::DeviceRef& device,
                             const ReceiveWindow& window, uint64_t watermarks_after_version)
    : relay_(relay),
      device_(device),
      window_(window),
      watermarks_after_version_(watermarks_after_version),
      listener_(std::make_shared<Listener>(this)) {}

void ReceiveStream::Start() {
  backlog_end_ = relay_->hub()->HighestBegun();
  relay_->hub()->Subscribe(device_, listener_);
  // The call authenticated before it subscribed: a revocation that
  // committed in between disconnected no stream, so look again now. One
  // that commits after this check finds the stream subscribed and ends it.
  if (!relay_->accounts()->IsActive(device_)) {
    Close(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "this device has been revoked"));
    return;
  }
  // After subscribing: a watermark that moves meanwhile is pushed as well
  // (twice at worst; latest value wins).
  std::vector<store::Watermark> stored;
  absl::Status s = relay_->ReadWatermarks(device_, watermarks_after_version_, &stored);
  if (!s.ok()) {
    Close(ToGrpc(s));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& w : stored) AddWatermarkLocked(w);
    started_ = true;
  }
  // Pumps again once writes begun before now are final (often at once).
  relay_->hub()->NotifyAtWatermark(backlog_end_, listener_);
  Pump();
}

void ReceiveStream::AddWatermark(const store::Watermark& watermark) {
  absl::MutexLock lock(&mu_);
  AddWatermarkLocked(watermark);
}

void ReceiveStream::AddWatermarkLocked(const store::Watermark& watermark) {
  auto sent = sent_versions_.find(watermark.recipient);
  if (sent != sent_versions_.end() && sent->second >= watermark.version) return;
  store::Watermark& slot = watermarks_[watermark.recipient];
  if (watermark.version >= slot.version) slot = watermark;
}

core::Acknowledged ReceiveStream::TakeAcknowledged(uint64_t through) {
  absl::MutexLock lock(&mu_);
  core::Acknowledged taken;
  // Clamped: an acknowledgement never covers what this stream did not send.
  taken.through = std::min(through, cursor_);
  while (!unacked_.empty() && unacked_.front().sequence <= taken.through) {
    taken.envelopes.push_back(unacked_.front());
    unacked_.pop_front();
  }
  while (!unacked_messages_.empty() && unacked_messages_.front() <= taken.through) {
    unacked_messages_.pop_front();
  }
  return taken;
}

void ReceiveStream::Pump() {
  for (;;) {
    bool read_queue;
    uint64_t after;
    {
      absl::MutexLock lock(&mu_);
      if (busy_ || closing_ || !started_) return;
      read_queue = WindowOpenLocked() && queue_dirty_;
      if (!read_queue && watermarks_.empty()) return;
      busy_ = true;
      if (read_queue) queue_dirty_ = false;
      after = cursor_;
    }
    std::vector<v1::Envelope> envelopes;
    bool more = false;
    uint64_t hub_watermark = 0;
    absl::Status s = absl::OkStatus();
    if (read_queue) {
      hub_watermark = relay_->hub()->Watermark();
      s = relay_->ReadQueue(device_, after, hub_watermark, window_.envelopes_per_message,
                            ReceiveWindow::kMaxBytes, &envelopes, &more);
    }
    bool finish_now = false;
    bool write = false;
    grpc::Status finish_status;
    {
      absl::MutexLock lock(&mu_);
      if (!s.ok() && !closing_) {
        closing_ = true;
        close_status_ = ToGrpc(s);
      }
      if (closing_) {
        busy_ = false;
        FinishIfClosingLocked(&finish_now);
        finish_status = close_status_;
      } else {
        if (more) queue_dirty_ = true;
        response_.Clear();
        const bool drained = read_queue && !more && hub_watermark >= backlog_end_;
        if (drained && !drained_sent_) {
          response_.set_queue_drained(true);
          drained_sent_ = true;
        }
        for (auto& e : envelopes) {
          core::DeliveredEnvelope d;
          d.sequence = e.sequence();
          d.from = store::QueueTable::SenderOf(e);
          d.receipt = e.receipt_requested();
          if (d.receipt) {
            auto account = store::AccountId::FromHex(e.sender().account_id());
            if (account.ok()) {
              d.sender = {*account, e.sender().device_id()};
            } else {
              d.receipt = false;  // no sender to tell
            }
          }
          unacked_.push_back(d);
          *response_.add_envelopes() = std::move(e);
        }
        if (!envelopes.empty()) {
          cursor_ = response_.envelopes().rbegin()->sequence();
          unacked_messages_.push_back(cursor_);
          if (core::Metrics* metrics = relay_->metrics()) {
            metrics->Add(core::Metrics::Counter::kEnvelopesDelivered, envelopes.size());
          }
        }
        for (const auto& [recipient, w] : watermarks_) {
          v1::DeliveryWatermark* out = response_.add_watermarks();
          out->mutable_recipient()->set_account_id(recipient.account.Hex());
          out->mutable_recipient()->set_device_id(recipient.device_id);
          out->set_delivered_through(w.delivered_through);
          out->set_version(w.version);
          sent_versions_[recipient] = w.version;
        }
        watermarks_.clear();
        if (response_.envelopes().empty() && response_.watermarks().empty() &&
            !response_.queue_drained()) {
          busy_ = false;  // nothing to send after all; look again if told meanwhile
          continue;
        }
        write = true;  // busy_ stays set until OnWriteDone
      }
    }
    if (finish_now) Finish(finish_status);
    if (write) StartWrite(&response_);
    return;
  }
}

void ReceiveStream::FinishIfClosingLocked(bool* finish_now) {
  if (closing_ && !busy_ && !finished_) {
    finished_ = true;
    *finish_now = true;
  }
}

void ReceiveStream::Close(const grpc::Status& status) {
  bool finish_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = status;
    FinishIfClosingLocked(&finish_now);
  }
  if (finish_now) Finish(status);
}

void ReceiveStream::OnWriteDone(bool ok) {
  bool finish_now = false;
  grpc::Status finish_status;
  {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    if (!ok && !closing_) {
      closing_ = true;
      close_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    FinishIfClosingLocked(&finish_now);
    finish_status = close_status_;
  }
  if (finish_now) {
    Finish(finish_status);
    return;
  }
  Pump();
}

void ReceiveStream::OnCancel() {
  Close(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream"));
}

void ReceiveStream::OnDone() {
  relay_->hub()->Unsubscribe(device_, listener_.get());
  listener_->Detach();
  delete this;
}

}  // namespace carerelay::api
