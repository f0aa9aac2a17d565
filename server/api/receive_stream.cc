#include "server/api/receive_stream.h"

#include "server/api/grpc_status.h"

namespace carerelay::api {
namespace {
constexpr size_t kMaxEnvelopesPerMessage = 64;
constexpr size_t kMaxBytesPerMessage = 1 << 20;
}  // namespace

// Bridges hub callbacks to the stream; outlives the stream if the hub still
// holds it, and then does nothing.
class ReceiveStream::Listener : public core::QueueListener {
 public:
  explicit Listener(ReceiveStream* stream) : stream_(stream) {}
  void OnQueued(uint64_t) override {
    absl::MutexLock lock(&mu_);
    if (stream_) stream_->Pump();
  }
  void OnClosed(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    if (stream_) stream_->Close(ToGrpc(status));
  }
  void Detach() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  ReceiveStream* stream_ ABSL_GUARDED_BY(mu_);
};

ReceiveStream::ReceiveStream(core::Relay* relay, const store::DeviceRef& device)
    : relay_(relay), device_(device), listener_(std::make_shared<Listener>(this)) {}

void ReceiveStream::Start() {
  backlog_end_ = relay_->hub()->HighestBegun();
  relay_->hub()->Subscribe(device_, listener_);
  // Pumps again once writes begun before now are final (often at once).
  relay_->hub()->NotifyAtWatermark(backlog_end_, listener_);
  Pump();
}

void ReceiveStream::Pump() {
  {
    absl::MutexLock lock(&mu_);
    if (busy_ || closing_) {
      dirty_ = true;
      return;
    }
    busy_ = true;
  }
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      dirty_ = false;
    }
    std::vector<v1::Envelope> envelopes;
    uint64_t watermark = relay_->hub()->Watermark();
    absl::Status s = relay_->ReadQueue(device_, cursor_, watermark, kMaxEnvelopesPerMessage,
                                       kMaxBytesPerMessage, &envelopes);
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (!s.ok()) {
        closing_ = true;
        close_status_ = ToGrpc(s);
      }
      if (!closing_) {
        bool drained = envelopes.size() < kMaxEnvelopesPerMessage && watermark >= backlog_end_;
        if (!envelopes.empty() || (drained && !drained_sent_)) {
          response_.Clear();
          for (auto& e : envelopes) *response_.add_envelopes() = std::move(e);
          if (!response_.envelopes().empty()) {
            cursor_ = response_.envelopes().rbegin()->sequence();
          }
          if (drained && !drained_sent_) {
            response_.set_queue_drained(true);
            drained_sent_ = true;
          }
          // busy_ stays set until OnWriteDone.
        } else if (dirty_) {
          continue;
        } else {
          busy_ = false;
          return;
        }
      } else {
        busy_ = false;
        FinishIfClosingLocked(&finish_now);
      }
    }
    if (finish_now) {
      Finish(close_status_);
    } else {
      StartWrite(&response_);
    }
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
  {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    if (!ok && !closing_) {
      closing_ = true;
      close_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    FinishIfClosingLocked(&finish_now);
  }
  if (finish_now) {
    Finish(close_status_);
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
