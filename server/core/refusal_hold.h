// Holds the calls of a device that ignores the retry-after it was given.
//
// A refusal (RESOURCE_EXHAUSTED with ErrorDetail.retry_after_seconds) costs
// the limiter a hash lookup, but the server about 85 µs of CPU: gRPC's
// poller, threads and TLS, not our code (bench/README.md, "Issue 16:
// overload"). A client that calls again at once after every refusal made
// the server spend most of its CPU saying no, and everyone else waited. So a
// device's calls that arrive before its retry-after has passed are held
// until then (at most `max_hold`) and only then handled as usual: served if
// its budget has refilled, refused again otherwise. A flooder on one
// connection is then answered a few times per retry-after, not thousands of
// times per second, while a client that honours retry-after is never held.
//
// Held calls are bounded, per device and in all, so that holding cannot
// itself be turned against the server: past either bound a call is handled
// at once, as it would be without the hold. A held synchronous call keeps
// its gRPC thread (Limits::max_held_calls stays well under the server's
// thread limit); a held callback call keeps no thread, only its closure.
//
// Time is the real clock (absl::Now), not core::Clock: holding is about the
// wall time a client waits, also in tests that move a fake clock.
//
// Thread-safe. Keys are device references as strings (DeviceRef::ToString).
#ifndef CARERELAY_SERVER_CORE_REFUSAL_HOLD_H_
#define CARERELAY_SERVER_CORE_REFUSAL_HOLD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace carerelay::core {

class RefusalHold {
 public:
  struct Options {
    // The longest a call is held (a retry-after of an hour, for a daily
    // allowance, still holds one second); zero turns holding off.
    absl::Duration max_hold = absl::Seconds(1);
    size_t max_held_per_device = 16;
    size_t max_held = 64;
  };

  explicit RefusalHold(Options options);
  // Runs every deferred call at once and releases every waiting one, so that
  // no call is left unanswered; both are handled as usual.
  ~RefusalHold();

  RefusalHold(const RefusalHold&) = delete;
  RefusalHold& operator=(const RefusalHold&) = delete;

  // Records `status` given to `device`'s call: a RESOURCE_EXHAUSTED with a
  // retry-after holds the device's calls until then (capped at max_hold).
  // Anything else is ignored.
  void NoteAnswer(const std::string& device, const absl::Status& status);

  // For a synchronous handler: returns at once, or when the device's
  // retry-after has passed if it was refused lately.
  void Wait(const std::string& device);

  // For a callback handler: runs `call` now on this thread, or later on the
  // hold's own thread once the device's retry-after has passed. `call` must
  // not block for long: it delays every other held call.
  void Defer(const std::string& device, std::function<void()> call);

  // Calls held right now, waiting or deferred (a gauge for /metrics).
  size_t held() const;

 private:
  struct Device {
    absl::Time refused_until;
    size_t held = 0;
  };
  struct Deferred {
    absl::Time due;
    std::string device;
    std::function<void()> call;
  };

  // How long a call from `device` arriving now is held; when not zero, the
  // call counts as held until Release.
  absl::Duration Admit(const std::string& device) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::string& device) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunDeferred();

  const Options options_;
  mutable absl::Mutex mu_;
  // Devices refused lately; an entry goes once its hold has passed and no
  // call of it is held, so the map is empty while nobody is refused.
  absl::flat_hash_map<std::string, Device> devices_ ABSL_GUARDED_BY(mu_);
  // devices_.size(), read without the lock: every call of every device asks
  // Admit, and while nobody is refused it answers without taking mu_.
  std::atomic<size_t> refused_devices_{0};
  size_t held_ ABSL_GUARDED_BY(mu_) = 0;
  // At most max_held entries: scanned, not ordered.
  std::vector<Deferred> deferred_ ABSL_GUARDED_BY(mu_);
  absl::CondVar deferred_cv_;  // a call was deferred, or stopping_ was set
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_REFUSAL_HOLD_H_
