#include "tests/cut_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace carerelay::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::cerr << "CutProxy: " << what << "\n";
  std::abort();
}

}  // namespace

CutProxy::CutProxy(int target_port) : target_port_(target_port) {
  if (::pipe(wake_) != 0) Die("pipe");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (::listen(listen_fd_, 16) != 0) Die("listen");
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

CutProxy::~CutProxy() {
  stopping_ = true;
  char c = 1;
  (void)!::write(wake_[1], &c, 1);
  acceptor_.join();
  for (auto& t : connections_) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void CutProxy::CutOnceAfter(uint64_t bytes, bool upstream) {
  std::lock_guard<std::mutex> lock(mu_);
  cut_after_ = bytes;
  moved_ = 0;
  cut_upstream_ = upstream;
}

void CutProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    connections_.emplace_back([this, client, server] { Forward(client, server); });
  }
}

void CutProxy::Forward(int client, int server) {
  char buffer[16384];
  bool open = true;
  while (open && !stopping_) {
    pollfd fds[3] = {{client, POLLIN, 0}, {server, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (fds[2].revents) break;
    for (int i = 0; i < 2 && open; ++i) {
      if (!fds[i].revents) continue;
      const int from = i == 0 ? client : server;
      const int to = i == 0 ? server : client;
      const ssize_t n = ::read(from, buffer, sizeof(buffer));
      if (n <= 0) {
        open = false;
        break;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cut_upstream_ == (i == 0)) moved_ += static_cast<uint64_t>(n);
        if (cut_after_ > 0 && moved_ > cut_after_) {
          cut_after_ = 0;
          ++cuts_;
          open = false;  // drop this piece and the connection
          // An abrupt reset, as when a train enters a tunnel.
          linger l{1, 0};
          ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
          ::setsockopt(server, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
          break;
        }
      }
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(to, buffer + done, static_cast<size_t>(n - done));
        if (w <= 0) {
          open = false;
          break;
        }
        done += w;
      }
    }
  }
  ::close(client);
  ::close(server);
}

}  // namespace carerelay::testing
