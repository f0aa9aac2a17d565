#include "server/core/metrics.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace carerelay::core {
namespace {

// The status code's name as gRPC spells it (Abseil numbers them alike).
std::string CodeName(int code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat(code) : name;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.6g", v);
}

void Header(const std::string& name, const std::string& help, const std::string& type,
            std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

void LatencyHistogram::Observe(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(absl::ToInt64Microseconds(d)),
                        std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& labels,
                              std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < kBounds.size() ? Number(kBounds[i]) : "+Inf";
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", le, "\"} ", cumulative, "\n");
  }
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ",
                  Number(sum_micros_.load(std::memory_order_relaxed) / 1e6), "\n");
  absl::StrAppend(out, name, "_count", braces, " ", count_.load(std::memory_order_relaxed), "\n");
}

void Metrics::RecordCall(const std::string& method, int code, absl::Duration latency) {
  std::atomic<uint64_t>* calls = nullptr;
  LatencyHistogram* histogram = nullptr;
  {
    // Every call comes here: a shared lock once the method and code are known.
    absl::ReaderMutexLock lock(&mu_);
    auto c = calls_.find({method, code});
    auto h = latency_.find(method);
    if (c != calls_.end() && h != latency_.end()) {
      calls = c->second.get();
      histogram = h->second.get();
    }
  }
  if (!calls) {
    absl::MutexLock lock(&mu_);
    auto& c = calls_[{method, code}];
    if (!c) c = std::make_unique<std::atomic<uint64_t>>(0);
    calls = c.get();
    auto& h = latency_[method];
    if (!h) h = std::make_unique<LatencyHistogram>();
    histogram = h.get();
  }
  calls->fetch_add(1, std::memory_order_relaxed);
  histogram->Observe(latency);
  // gRPC and Abseil number status codes alike.
  if (code == static_cast<int>(absl::StatusCode::kResourceExhausted)) Add(Counter::kRateLimited);
}

void Metrics::Add(Counter counter, uint64_t n) {
  counters_[static_cast<size_t>(counter)].fetch_add(n, std::memory_order_relaxed);
}

void Metrics::ObserveSync(absl::Duration latency) { sync_latency_.Observe(latency); }

void Metrics::AddReading(std::string name, std::string help, std::string type,
                         std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  readings_.push_back({std::move(name), std::move(help), std::move(type), std::move(read)});
}

std::string Metrics::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  Header("carerelay_rpcs_total", "Calls finished, by method and status code.", "counter", &out);
  for (const auto& [key, n] : calls_) {
    absl::StrAppend(&out, "carerelay_rpcs_total{method=\"", key.first, "\",code=\"",
                    CodeName(key.second), "\"} ", n->load(std::memory_order_relaxed), "\n");
  }
  Header("carerelay_rpc_duration_seconds",
         "Time from a call's arrival to its status, by method (a stream: its whole life).",
         "histogram", &out);
  for (const auto& [method, h] : latency_) {
    h->Render("carerelay_rpc_duration_seconds", absl::StrCat("method=\"", method, "\""), &out);
  }
  struct Named {
    Counter counter;
    const char* name;
    const char* help;
  };
  for (const Named& c : {
           Named{Counter::kEnvelopesDelivered, "carerelay_envelopes_delivered_total",
                 "Envelopes written to receive streams (a redelivery counts again)."},
           Named{Counter::kEnvelopesAcknowledged, "carerelay_envelopes_acknowledged_total",
                 "Envelopes acknowledged by their recipient device (and so deleted)."},
           Named{Counter::kRateLimited, "carerelay_rate_limited_total",
                 "Calls refused with RESOURCE_EXHAUSTED (rates, quotas, full queues)."},
       }) {
    Header(c.name, c.help, "counter", &out);
    absl::StrAppend(&out, c.name, " ",
                    counters_[static_cast<size_t>(c.counter)].load(std::memory_order_relaxed),
                    "\n");
  }
  Header("carerelay_wal_sync_duration_seconds",
         "Time of each write-ahead-log sync that makes sends and acknowledgements durable.",
         "histogram", &out);
  sync_latency_.Render("carerelay_wal_sync_duration_seconds", "", &out);
  for (const Reading& r : readings_) {
    Header(r.name, r.help, r.type, &out);
    absl::StrAppend(&out, r.name, " ", Number(r.read()), "\n");
  }
  return out;
}

}  // namespace carerelay::core
