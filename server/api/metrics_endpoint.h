// The metrics endpoint: core::Metrics over plain HTTP/1.1 for Prometheus,
// `GET /metrics` on its own address (`--metrics-listen`, 127.0.0.1:9464 by
// default; keep it on loopback or a management network: it needs no
// credentials, and says how busy the server is, never what it carries).
// Anything else gets 404, or 405 for another method.
//
// One thread accepts and answers one scrape at a time, with a 2 s limit
// per request: a scraper is not a client, and a slow one must not hold
// anything else up.
//
// Thread-safety: Start and Stop from one thread; Stop is idempotent and
// called by the destructor.
#ifndef CARERELAY_SERVER_API_METRICS_ENDPOINT_H_
#define CARERELAY_SERVER_API_METRICS_ENDPOINT_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/core/metrics.h"

namespace carerelay::api {

class MetricsEndpoint {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free one) and serves
  // `metrics`, which must outlive the endpoint. INVALID_ARGUMENT for an
  // address that does not parse; UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                                const core::Metrics* metrics);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  MetricsEndpoint(int fd, int port, const core::Metrics* metrics);
  void Serve();
  void Answer(int client);

  int fd_;
  int port_;
  const core::Metrics* metrics_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace carerelay::api

#endif  // CARERELAY_SERVER_API_METRICS_ENDPOINT_H_
