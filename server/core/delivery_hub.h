// Live delivery: tells a device's open receive stream that its queue grew.
//
// Why a watermark: sends commit concurrently, so envelope 6 can be durable
// before envelope 5. A stream that read 6 and moved its cursor past 5 would
// skip 5 until its next reconnect. Every sequence number is therefore taken
// through the hub (Begin) and each writer reports its outcome (Publish or
// Abandon); the hub keeps the watermark: the highest sequence at or below
// which every number is committed or abandoned. Streams read their queue
// only up to the watermark, so they deliver in sequence order and never skip.
//
// This is an in-process notification. A multi-node deployment replaces it with
// the storage engine's own change notifications; core/ sees only this class.
//
// Thread-safety: thread-safe. Listeners are called without the hub's lock
// held, possibly from the thread that committed a send.
#ifndef CARERELAY_SERVER_CORE_DELIVERY_HUB_H_
#define CARERELAY_SERVER_CORE_DELIVERY_HUB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/ids.h"
#include "server/store/queue_table.h"
#include "server/store/receipt_table.h"

namespace carerelay::core {

// One envelope a stream delivered and the client has not acknowledged yet:
// what an acknowledgement needs to delete it and move its sender's delivery
// watermark, without reading it back from the store.
struct DeliveredEnvelope {
  uint64_t sequence = 0;
  store::AccountId from;    // QueueTable::SenderOf: whose share it frees
  store::DeviceRef sender;  // meaningful only with `receipt`
  bool receipt = false;     // the sender asked for a delivery watermark
};

// What an acknowledgement took from a stream.
struct Acknowledged {
  // The acknowledged sequence, clamped to what the stream delivered; 0 when
  // the device has no stream.
  uint64_t through = 0;
  std::vector<DeliveredEnvelope> envelopes;
};

// What a receive stream implements.
class QueueListener {
 public:
  virtual ~QueueListener() = default;
  // The client stored everything through `through`: removes what the
  // stream delivered up to there from its window and returns it. Opens the
  // window (the stream may send again).
  virtual Acknowledged TakeAcknowledged(uint64_t through) = 0;
  // A delivery watermark of this device's sends moved (durably).
  virtual void OnWatermark(const store::Watermark& watermark) = 0;
  // The device's queue may hold envelopes up to `watermark` it has not read.
  virtual void OnQueued(uint64_t watermark) = 0;
  // The stream must end with `status` (replaced by a newer stream, device
  // revoked, server shutting down).
  virtual void OnClosed(const absl::Status& status) = 0;
};

class DeliveryHub {
 public:
  // `sequences` must outlive the hub.
  explicit DeliveryHub(store::SequenceAllocator* sequences) : sequences_(sequences) {}

  // Reserves `n` consecutive sequence numbers for one write; returns the
  // first. The caller must later call Publish or Abandon with it.
  absl::StatusOr<uint64_t> Begin(uint64_t n);
  // The write that began at `first` committed; `devices` got envelopes.
  void Publish(uint64_t first, std::vector<store::DeviceRef> devices);
  // The write that began at `first` failed; nothing was queued.
  void Abandon(uint64_t first);

  // Every sequence <= Watermark() is committed or abandoned.
  uint64_t Watermark() const;
  // The highest sequence handed out so far: once the watermark reaches it,
  // everything written before this call is readable.
  uint64_t HighestBegun() const;
  // Calls `listener->OnQueued` once the watermark reaches `target` (at once
  // if it has). Lets a stream tell its client the backlog is complete only
  // when writes begun before it opened are final.
  void NotifyAtWatermark(uint64_t target, std::weak_ptr<QueueListener> listener);

  // Makes `listener` the device's stream. A previous one gets OnClosed
  // (ABORTED). After Shutdown, the listener gets OnClosed (UNAVAILABLE) at
  // once instead.
  void Subscribe(const store::DeviceRef& device, std::shared_ptr<QueueListener> listener);
  // Removes `listener` if it is still the device's stream.
  void Unsubscribe(const store::DeviceRef& device, const QueueListener* listener);
  // Applies a cumulative acknowledgement to the device's current stream
  // (QueueListener::TakeAcknowledged); nothing if it has none.
  Acknowledged Acknowledge(const store::DeviceRef& device, uint64_t through);
  // Tells `sender`'s stream, if any, that a watermark of its sends moved.
  void PushWatermark(const store::DeviceRef& sender, const store::Watermark& watermark);
  // Ends the device's stream, if any, with `status`.
  void Disconnect(const store::DeviceRef& device, const absl::Status& status);
  // Ends every stream (UNAVAILABLE) and refuses new ones.
  void Shutdown();

  size_t StreamCount() const;

 private:
  struct Pending {
    uint64_t last;
    bool done = false;
    std::vector<store::DeviceRef> devices;
  };
  // Pops finished writes from the front; returns devices to notify.
  std::vector<store::DeviceRef> AdvanceLocked(std::vector<std::weak_ptr<QueueListener>>* reached)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const std::vector<store::DeviceRef>& devices, uint64_t watermark);
  std::shared_ptr<QueueListener> ListenerOf(const store::DeviceRef& device) const;

  store::SequenceAllocator* sequences_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t watermark_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t highest_begun_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, std::weak_ptr<QueueListener>> watermark_waiters_ ABSL_GUARDED_BY(mu_);
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<store::DeviceRef, std::shared_ptr<QueueListener>> listeners_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_DELIVERY_HUB_H_
