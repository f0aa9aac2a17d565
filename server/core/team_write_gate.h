// Keeps a team send and a change of that team's membership from crossing.
//
// A send checks who must receive (the team's readers) on its caller's
// thread, then the delivery writer writes its envelopes later, without a
// transaction. A membership change (removal, role change, narrowing) that
// commits in between must not let the send through with the old readers:
// the removed member would get an envelope the server no longer lets them
// read. So:
//
// - a send takes Version(team) BEFORE it reads the team, and the writer
//   writes it only if Version(team) is still that, while holding
//   ReadLock(team) for the write;
// - a change holds a ChangeLock (exclusive) from its read of the team to
//   its commit, and the version moves when the lock is released, after the
//   commit.
//
// Either the send's envelopes are written before the change reads the
// queues (and the change then sees and drops what the removed member may no
// longer read), or the send is refused with ABORTED and the client sends
// again against the new membership. Teams share 64 stripes: a change of one
// team refuses in-flight sends of the teams on its stripe too, which costs a
// retry, never correctness.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_TEAM_WRITE_GATE_H_
#define CARERELAY_SERVER_CORE_TEAM_WRITE_GATE_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "server/store/ids.h"

namespace carerelay::core {

class TeamWriteGate {
 private:
  struct Stripe {
    absl::Mutex mu;
    std::atomic<uint64_t> version{0};
  };

 public:
  static constexpr size_t kStripes = 64;

  static size_t StripeOf(const store::TeamId& team) {
    return absl::Hash<store::TeamId>()(team) % kStripes;
  }

  uint64_t Version(size_t stripe) const {
    return stripes_[stripe].version.load(std::memory_order_acquire);
  }
  uint64_t Version(const store::TeamId& team) const { return Version(StripeOf(team)); }

  // Held by a membership change from its read to its commit.
  class ChangeLock {
   public:
    ChangeLock(TeamWriteGate* gate, const store::TeamId& team)
        : stripe_(&gate->stripes_[StripeOf(team)]) {
      stripe_->mu.Lock();
    }
    ~ChangeLock() {
      stripe_->version.fetch_add(1, std::memory_order_release);
      stripe_->mu.Unlock();
    }
    ChangeLock(const ChangeLock&) = delete;
    ChangeLock& operator=(const ChangeLock&) = delete;

   private:
    Stripe* stripe_;
  };

  // Held by the writer while it checks versions and writes.
  void ReadLock(size_t stripe) ABSL_NO_THREAD_SAFETY_ANALYSIS { stripes_[stripe].mu.ReaderLock(); }
  void ReadUnlock(size_t stripe) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    stripes_[stripe].mu.ReaderUnlock();
  }

 private:
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_TEAM_WRITE_GATE_H_
