// carerelay-noop-relay: the no-op relay (noop_relay_service.h) as a server
// process of its own, with the same TLS and the same gRPC server settings
// as carerelayd, so that carerelay-bench measures both through the same
// connections and reads each one's CPU time and context switches from its
// own /proc entry. Runs until SIGINT or SIGTERM.
//
//   carerelay-noop-relay --listen 127.0.0.1:7444 --tls-cert server.crt --tls-key server.key
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "bench/noop_relay_service.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:7444";
  std::string tls_cert, tls_key;
  bool plaintext = false;
  CLI::App app{
      "carerelay-noop-relay: carerelay.v1.Messages (windowed Receive, cumulative Ack, delivery "
      "watermarks) with no storage: the protocol ceiling carerelay-bench compares carerelayd "
      "with"};
  app.add_option("--listen", listen, "host:port")->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain");
  app.add_option("--tls-key", tls_key, "PEM private key");
  app.add_flag("--dev-plaintext", plaintext, "No TLS (development only)");
  CLI11_PARSE(app, argc, argv);
  if (!plaintext && (tls_cert.empty() || tls_key.empty())) {
    std::cerr << "carerelay-noop-relay: give --tls-cert and --tls-key (or --dev-plaintext)\n";
    return 2;
  }
  // SIGINT and SIGTERM end the process through sigwait below, not a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (plaintext) {
    creds = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({ReadFile(tls_key), ReadFile(tls_cert)});
    creds = grpc::SslServerCredentials(ssl);
  }
  carerelay::bench::NoopRelayService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, creds, &port);
  builder.RegisterService(&service);
  // As carerelayd (server/server.cc).
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "carerelay-noop-relay: cannot listen on " << listen << "\n";
    return 1;
  }
  std::cout << "carerelay-noop-relay listening on port " << port << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
