#include "bench/idle_streams.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "carerelay/v1/messages.grpc.pb.h"

namespace carerelay::bench {
namespace {

struct IdleCall {
  enum class State { kStarting, kFirstRead, kIdle, kFailed };
  grpc::ClientContext context;
  v1::ReceiveResponse response;
  std::unique_ptr<grpc::ClientAsyncReader<v1::ReceiveResponse>> reader;
  State state = State::kStarting;
};

}  // namespace

IdleStreamsResult RunIdleStreams(const std::string& target, const std::string& ca_pem,
                                 const std::vector<client::DeviceCredentials>& devices,
                                 int streams_per_connection, pid_t server_pid) {
  IdleStreamsResult r;
  r.requested = static_cast<int>(devices.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (auto before = ReadProcess(server_pid); before.ok()) r.before = *before;
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  auto creds = grpc::SslCredentials(ssl);
  std::vector<std::unique_ptr<v1::Messages::Stub>> stubs;
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<IdleCall>> calls;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < devices.size(); ++i) {
    if (i % streams_per_connection == 0) {
      grpc::ChannelArguments args;
      // A distinct argument per channel: its own connection.
      args.SetInt("carerelay.bench.connection", static_cast<int>(i));
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
      stubs.push_back(v1::Messages::NewStub(grpc::CreateCustomChannel(target, creds, args)));
    }
    auto call = std::make_unique<IdleCall>();
    call->context.AddMetadata("carerelay-account", devices[i].account_id);
    call->context.AddMetadata("carerelay-device", absl::StrCat(devices[i].device_id));
    call->context.AddMetadata("carerelay-secret", absl::Base64Escape(devices[i].secret));
    call->reader = stubs.back()->PrepareAsyncReceive(&call->context, v1::ReceiveRequest(), &cq);
    call->reader->StartCall(call.get());
    calls.push_back(std::move(call));
  }
  // Established = the stream's first message arrived (the drained marker of
  // an empty queue).
  int settled = 0;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(120);
  while (settled < r.requested) {
    void* tag = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&tag, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) {
      if (r.error.empty()) r.error = "streams not established within 120 s";
      break;
    }
    auto* call = static_cast<IdleCall*>(tag);
    if (!ok) {
      if (r.error.empty()) r.error = "a stream failed to open";
      call->state = IdleCall::State::kFailed;
      ++settled;
      continue;
    }
    if (call->state == IdleCall::State::kStarting) {
      call->state = IdleCall::State::kFirstRead;
      call->reader->Read(&call->response, call);
    } else if (call->state == IdleCall::State::kFirstRead) {
      call->state = IdleCall::State::kIdle;
      ++r.established;
      ++settled;
    }
  }
  r.open_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  if (auto after = ReadProcess(server_pid); after.ok()) r.after = *after;
  // Cancel, then reap every operation still in the queue before it goes.
  int pending = 0;
  for (auto& c : calls) {
    c->context.TryCancel();
    if (c->state == IdleCall::State::kIdle) {
      c->reader->Read(&c->response, c.get());
      ++pending;
    } else if (c->state != IdleCall::State::kFailed) {
      ++pending;  // its start or first read is still queued
    }
  }
  const auto reap_deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < pending; ++i) {
    void* tag = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&tag, &ok, reap_deadline) != grpc::CompletionQueue::GOT_EVENT) break;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return r;
}

}  // namespace carerelay::bench
