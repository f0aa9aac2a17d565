#include "bench/server_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"

namespace carerelay::bench {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(120);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Polls `ready` every 2 ms until it holds, the process exits, or the time
// is up; the seconds it took.
template <typename Ready>
absl::StatusOr<double> WaitReady(ChildProcess& process, const std::string& what, Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (auto code = process.Poll()) {
      return absl::InternalError(
          absl::StrCat(what, " exited with ", *code, " at start; its output:\n", process.Output()));
    }
    if (ready()) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (std::chrono::steady_clock::now() - start > kStartTimeout) {
      return absl::DeadlineExceededError(absl::StrCat(what, " not ready after 120 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

absl::StatusOr<ServerProcess> StartCarerelayd(const CarerelaydLaunch& launch) {
  const int port = launch.port ? launch.port : FreePort();
  // Limits out of the benchmark's way (bench_relay.cc's BenchServerConfig
  // for the in-process benchmarks): every device sends as fast as it can,
  // queues may hold any backlog, setup registers many devices from one peer.
  std::vector<std::string> argv = {
      launch.binary, "--listen", absl::StrCat("127.0.0.1:", port), "--data-dir", launch.data_dir,
      "--tls-cert", launch.tls_dir + "/server.crt", "--tls-key", launch.tls_dir + "/server.key",
      "--sync", launch.sync ? "true" : "false", "--log-level", launch.log_level,
      // Not measured; its fixed default port
      // would collide between benchmarks.
      "--metrics-listen", "",
      // Sends between professionals who share
      // no team.
      "--contact-policy", "directory"};
  if (!launch.default_limits) {
    argv.insert(argv.end(),
                {"--max-queue-depth", "1099511627776", "--sends-per-second", "1000000000",
                 "--send-burst", "1000000000", "--registrations-per-minute", "1000000000",
                 "--registration-burst", "1000000000", "--upload-mib-per-second", "1000000000",
                 "--upload-burst-mib", "1000000000"});
  }
  argv.insert(argv.end(), launch.extra_args.begin(), launch.extra_args.end());
  auto process = ChildProcess::Start(argv, launch.log_path);
  if (!process.ok()) return process.status();
  ServerProcess s;
  s.process = *std::move(process);
  s.target = absl::StrCat("localhost:", port);
  const std::string socket = launch.data_dir + "/admin.sock";
  s.admin_address = "unix:" + std::filesystem::absolute(socket).string();
  auto channel = grpc::CreateChannel(s.admin_address, grpc::InsecureChannelCredentials());
  auto ready = WaitReady(*s.process, "carerelayd", [&] {
    return std::filesystem::exists(socket) &&
           channel->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::milliseconds(20));
  });
  if (!ready.ok()) return ready.status();
  s.ready_seconds = *ready;
  return s;
}

absl::StatusOr<ServerProcess> StartNoopRelay(const std::string& binary, const std::string& tls_dir,
                                             const std::string& log_path) {
  const int port = FreePort();
  auto process =
      ChildProcess::Start({binary, "--listen", absl::StrCat("127.0.0.1:", port), "--tls-cert",
                           tls_dir + "/server.crt", "--tls-key", tls_dir + "/server.key"},
                          log_path);
  if (!process.ok()) return process.status();
  ServerProcess s;
  s.process = *std::move(process);
  s.target = absl::StrCat("localhost:", port);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(tls_dir + "/ca.crt");
  auto channel = grpc::CreateChannel(s.target, grpc::SslCredentials(ssl));
  auto ready = WaitReady(*s.process, "carerelay-noop-relay", [&] {
    return channel->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::milliseconds(20));
  });
  if (!ready.ok()) return ready.status();
  s.ready_seconds = *ready;
  return s;
}

}  // namespace carerelay::bench
