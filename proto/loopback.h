// Whether a "host:port" names this machine only, for the development-only
// plaintext mode of the server (--listen) and of the client (--server):
// shared so both sides accept exactly the same addresses.
#ifndef CARERELAY_PROTO_LOOPBACK_H_
#define CARERELAY_PROTO_LOOPBACK_H_

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace carerelay {

// True for "127.x.y.z:PORT" (127.0.0.0/8), "[::1]:PORT", "[::ffff:127.x.y.z]:PORT"
// and "localhost:PORT", the port a number. The host is parsed as an address,
// never resolved: a name such as "127.evil.example" is not loopback, and
// neither is anything without a port.
inline bool IsLoopbackHostPort(absl::string_view host_port) {
  std::string host;
  absl::string_view port;
  if (absl::ConsumePrefix(&host_port, "[")) {
    const size_t close = host_port.find("]:");
    if (close == absl::string_view::npos) return false;
    host = std::string(host_port.substr(0, close));
    port = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == absl::string_view::npos) return false;
    host = std::string(host_port.substr(0, colon));
    port = host_port.substr(colon + 1);
  }
  uint32_t port_number = 0;
  if (port.empty() || !absl::SimpleAtoi(port, &port_number) || port_number > 65535) return false;
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace carerelay

#endif  // CARERELAY_PROTO_LOOPBACK_H_
