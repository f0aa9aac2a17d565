// A loopback TCP proxy that can cut a connection mid-stream: how tests show
// that uploads and downloads resume after a network failure. TLS passes
// through it untouched (it forwards bytes), so the client still verifies the
// real server.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_TESTS_CUT_PROXY_H_
#define CARERELAY_TESTS_CUT_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace carerelay::testing {

class CutProxy {
 public:
  // Listens on 127.0.0.1 (an ephemeral port) and forwards to
  // 127.0.0.1:`target_port`. Aborts the test if it cannot listen.
  explicit CutProxy(int target_port);
  ~CutProxy();
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  // "localhost:PORT", for ConnectionOptions::target.
  std::string target() const { return "localhost:" + std::to_string(port_); }

  // Once more than `bytes` have been forwarded from the client (`upstream`)
  // or to the client (downstream), counted from this call on, cuts the
  // connection carrying them; once: later connections are left alone.
  void CutOnceAfter(uint64_t bytes, bool upstream);
  // How many connections were cut so far.
  int cuts() const { return cuts_.load(); }

 private:
  void AcceptLoop();
  void Forward(int client, int server);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe: written to stop every loop
  std::atomic<bool> stopping_{false};
  std::atomic<int> cuts_{0};
  std::mutex mu_;
  uint64_t cut_after_ = 0;  // 0: no cut armed
  uint64_t moved_ = 0;      // bytes in the armed direction since arming
  bool cut_upstream_ = true;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_CUT_PROXY_H_
