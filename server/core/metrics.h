// What the server counts about itself, for monitoring, rendered in the
// Prometheus text exposition format (version 0.0.4) by the metrics endpoint
// (api/metrics_endpoint.h). Never content, never who: calls by method and
// status, latencies, envelope counts, and figures read at scrape time
// (queue size, streams, the store's compaction debt, memory).
//
// Counting is cheap (a relaxed atomic add, or a short lock the first time a
// method or status is seen); rendering takes a snapshot.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_METRICS_H_
#define CARERELAY_SERVER_CORE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace carerelay::core {

// A latency histogram with fixed buckets, from 0.5 ms to 10 s.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(absl::Duration d);
  // Appends the _bucket, _sum and _count lines of `name` with `labels`
  // (`key="value",...`, possibly empty).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // the last is +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  // Counters the server's parts add to.
  enum class Counter {
    kEnvelopesDelivered,     // written to a receive stream
    kEnvelopesAcknowledged,  // acknowledged by their recipient device
    kRateLimited,            // calls refused with RESOURCE_EXHAUSTED
    kCount,
  };

  // One finished RPC: `method` as gRPC names it ("/carerelay.v1.Messages/Send"),
  // `code` its status code (grpc::StatusCode).
  void RecordCall(const std::string& method, int code, absl::Duration latency);
  void Add(Counter counter, uint64_t n = 1);
  void ObserveSync(absl::Duration latency);

  // A figure read when Prometheus scrapes: `name` (carerelay_...), its help
  // text, and its type ("gauge", or "counter" for a total kept elsewhere).
  void AddReading(std::string name, std::string help, std::string type,
                  std::function<double()> read);

  // The whole exposition.
  std::string Render() const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Counter::kCount)> counters_{};
  LatencyHistogram sync_latency_;

  mutable absl::Mutex mu_;
  // By (method, code); the counters are stable once inserted.
  std::map<std::pair<std::string, int>, std::unique_ptr<std::atomic<uint64_t>>> calls_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<LatencyHistogram>> latency_ ABSL_GUARDED_BY(mu_);
  struct Reading {
    std::string name, help, type;
    std::function<double()> read;
  };
  std::vector<Reading> readings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_METRICS_H_
