// The Prometheus metrics endpoint of a real server over TLS: scraped over
// plain HTTP after sends, a receive, an acknowledgement and a refused call,
// it counts them by method and status, times the WAL syncs, reads the
// store's figures, and answers nothing but GET /metrics. Each line is valid
// in the text exposition format.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

// One HTTP request to 127.0.0.1:`port`; the whole response.
std::string Http(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

// The samples of a scrape: "name{labels}" -> value. Fails the test on a
// line that is not a comment or a sample.
std::map<std::string, double> Scrape(int port) {
  const std::string response = Http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response.substr(0, 200);
  EXPECT_TRUE(absl::StrContains(response, "Content-Type: text/plain; version=0.0.4"));
  std::map<std::string, double> samples;
  std::istringstream body(response.substr(response.find("\r\n\r\n") + 4));
  static const std::regex kSample(R"(^([a-z_]+(\{[^}]*\})?) (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-z_]+ .+$)");
  for (std::string line; std::getline(body, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kSample)) {
      double v = 0;
      EXPECT_TRUE(absl::SimpleAtod(m[3].str(), &v)) << line;
      samples[m[1].str()] = v;
    } else {
      EXPECT_TRUE(std::regex_match(line, kComment)) << "not a sample nor a comment: " << line;
    }
  }
  return samples;
}

TEST(MetricsTest, CountsCallsEnvelopesSyncsAndReadsTheStore) {
  core::Limits limits = TestLimits();
  limits.max_queue_depth = 2;  // the third send finds the GP's queue full
  limits.max_queue_share = 2;
  TestServer server(limits);
  ASSERT_GT(server.server().metrics_port(), 0);
  auto nurse = TestDevice::Enroll(server, "Anne Peeters");
  auto gp = TestDevice::Enroll(server, "Dr Luc Martin");
  ASSERT_TRUE(nurse->SendBytes(gp->account_id(), "wound looks better").ok());
  ASSERT_TRUE(nurse->SendBytes(gp->account_id(), "same dressing").ok());
  auto refused = nurse->SendBytes(gp->account_id(), "one too many");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(gp->ReceiveBacklog(/*ack=*/true).size(), 2u);

  std::map<std::string, double> m = Scrape(server.server().metrics_port());
  auto at = [&](const std::string& key) {
    auto it = m.find(key);
    EXPECT_NE(it, m.end()) << key << " missing";
    return it == m.end() ? -1 : it->second;
  };
  EXPECT_EQ(at(R"(carerelay_rpcs_total{method="/carerelay.v1.Messages/Send",code="OK"})"), 2);
  EXPECT_EQ(
      at(R"(carerelay_rpcs_total{method="/carerelay.v1.Messages/Send",code="RESOURCE_EXHAUSTED"})"),
      1);
  // Every Send call is timed once, whatever its status.
  double sends = 0;
  for (const auto& [key, value] : m) {
    if (absl::StartsWith(key, R"(carerelay_rpcs_total{method="/carerelay.v1.Messages/Send",)")) {
      sends += value;
    }
  }
  EXPECT_GE(sends, 3);
  EXPECT_EQ(at(R"(carerelay_rpc_duration_seconds_count{method="/carerelay.v1.Messages/Send"})"),
            sends);
  EXPECT_EQ(
      at(R"(carerelay_rpc_duration_seconds_bucket{method="/carerelay.v1.Messages/Send",le="+Inf"})"),
      sends);
  EXPECT_GE(at("carerelay_rate_limited_total"), 1);
  EXPECT_EQ(at("carerelay_envelopes_queued_total"), 2);
  EXPECT_EQ(at("carerelay_envelopes_delivered_total"), 2);
  EXPECT_EQ(at("carerelay_envelopes_acknowledged_total"), 2);
  EXPECT_GE(at("carerelay_wal_syncs_total"), 1);
  EXPECT_GE(at("carerelay_wal_sync_duration_seconds_count"), 1);
  EXPECT_EQ(at("carerelay_wal_sync_duration_seconds_count"), at("carerelay_wal_syncs_total"));
  EXPECT_GE(at("carerelay_queued_envelopes"), 0);
  EXPECT_LE(at("carerelay_receive_streams"), 1);  // the backlog's, if it has not ended yet
  EXPECT_GE(at("carerelay_store_pending_compaction_bytes"), 0);
  EXPECT_EQ(at("carerelay_store_write_stopped"), 0);
  EXPECT_EQ(at("carerelay_store_refusing_writes"), 0);
  EXPECT_EQ(at("carerelay_store_resumes_total"), 0);
  EXPECT_EQ(at("carerelay_held_calls"), 0);
  EXPECT_GT(at("carerelay_data_dir_free_bytes"), 0);
  EXPECT_GT(at("carerelay_process_resident_bytes"), 1 << 20);

  // Only GET /metrics.
  EXPECT_TRUE(absl::StartsWith(Http(server.server().metrics_port(), "GET / HTTP/1.1\r\n\r\n"),
                               "HTTP/1.1 404"));
  EXPECT_TRUE(absl::StartsWith(
      Http(server.server().metrics_port(), "POST /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 405"));
  // Nothing about who or what: no account id appears.
  const std::string all = Http(server.server().metrics_port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(absl::StrContains(all, nurse->account_id()));
  EXPECT_FALSE(absl::StrContains(all, "wound"));
}

}  // namespace
}  // namespace carerelay::testing
