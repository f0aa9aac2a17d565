#include "tests/test_support.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "client/key_upload.h"

namespace carerelay::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/carerelay-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) abort();
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TlsDir() { return CARERELAY_TEST_TLS_DIR; }

core::Limits TestLimits() {
  core::Limits limits;
  limits.sends_per_second = 1e6;
  limits.send_burst = 1e6;
  limits.registrations_per_minute = 1e6;
  limits.registration_burst = 1e6;
  return limits;
}

TestServer::TestServer(core::Limits limits, bool sync)
    : data_dir_(dir_.Sub("data")), limits_(limits), sync_(sync) {
  Start(0);
}

TestServer::~TestServer() { Stop(); }

void TestServer::Start(int port) {
  ServerConfig config;
  config.listen = "127.0.0.1:" + std::to_string(port);
  config.data_dir = data_dir_;
  config.tls_cert = TlsDir() + "/server.crt";
  config.tls_key = TlsDir() + "/server.key";
  config.sync = sync_;
  config.limits = limits_;
  config.log_level = "warn";
  auto server = Server::Start(config, &clock_);
  if (!server.ok()) {
    ADD_FAILURE() << "server did not start: " << server.status();
    abort();
  }
  server_ = *std::move(server);
  port_ = server_->port();
}

void TestServer::Stop() {
  if (server_) server_->Shutdown(absl::Seconds(5));
  server_.reset();
}

void TestServer::Restart() {
  Stop();
  Start(port_);
}

std::string TestServer::IssueCode(const std::string& name, v1::AccountKind kind,
                                  absl::Duration ttl) {
  auto code = server_->accounts().IssueEnrollmentCode(name, kind, ttl);
  EXPECT_TRUE(code.ok()) << code.status();
  return code.ok() ? code->code : "";
}

std::unique_ptr<TestDevice> TestDevice::Unregistered(TestServer& server) {
  std::unique_ptr<TestDevice> d(new TestDevice());
  crypto::ProfileOptions options;
  options.allow_unencrypted = true;
  options.sync_writes = false;
  auto profile = crypto::ProfileStore::Open(d->dir_.Sub("profile"), options);
  if (!profile.ok()) {
    ADD_FAILURE() << profile.status();
    abort();
  }
  d->profile_ = *std::move(profile);
  d->keys_ = std::make_unique<crypto::KeyManager>(d->profile_.get());
  client::ConnectionOptions connection;
  connection.target = server.target();
  connection.ca_file = TlsDir() + "/ca.crt";
  auto client = client::RelayClient::Create(connection);
  if (!client.ok()) abort();
  d->client_ = *std::move(client);
  return d;
}

v1::RegisterRequest TestDevice::MakeRegisterRequest(const std::string& code, int one_time_prekeys) {
  auto keys = keys_->PrepareRegistration(absl::Now(), one_time_prekeys);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return client::MakeRegisterRequest(*keys, code, "test device");
}

std::unique_ptr<TestDevice> TestDevice::Enroll(TestServer& server, const std::string& name,
                                               v1::AccountKind kind) {
  auto d = Unregistered(server);
  auto registered = d->client_->Register(d->MakeRegisterRequest(server.IssueCode(name, kind)));
  if (!registered.ok()) {
    ADD_FAILURE() << "registration failed: " << registered.status();
    abort();
  }
  return d;
}

std::unique_ptr<TestDevice> TestDevice::Link(TestServer& server, TestDevice& existing) {
  auto link = existing.client().LinkDevice();
  if (!link.ok()) {
    ADD_FAILURE() << "link code: " << link.status();
    abort();
  }
  auto d = Unregistered(server);
  auto registered = d->client_->Register(d->MakeRegisterRequest(link->code()));
  if (!registered.ok()) {
    ADD_FAILURE() << "linking failed: " << registered.status();
    abort();
  }
  return d;
}

absl::StatusOr<v1::SendResponse> TestDevice::SendBytes(const std::string& account_id,
                                                       const std::string& payload) {
  return client_->SendToAccount(account_id, [&](const v1::DeviceAddress&) {
    v1::OutgoingEnvelope e;
    e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
    e.set_content(payload);
    return absl::StatusOr<v1::OutgoingEnvelope>(e);
  });
}

std::vector<v1::Envelope> TestDevice::ReceiveBacklog() {
  std::vector<v1::Envelope> out;
  auto stream = client_->Receive();
  if (!stream.ok()) return out;
  v1::ReceiveResponse response;
  while ((*stream)->Next(&response)) {
    for (const auto& e : response.envelopes()) out.push_back(e);
    if (response.queue_drained()) break;
  }
  (*stream)->Cancel();
  while ((*stream)->Next(&response)) {
  }
  (*stream)->Finish().IgnoreError();
  return out;
}

StreamCollector::StreamCollector(client::RelayClient& client) {
  auto stream = client.Receive();
  if (!stream.ok()) abort();
  stream_ = *std::move(stream);
  thread_ = std::thread([this] {
    v1::ReceiveResponse response;
    while (stream_->Next(&response)) {
      absl::MutexLock lock(&mu_);
      for (const auto& e : response.envelopes()) got_.push_back(e);
      if (response.queue_drained()) drained_ = true;
    }
    absl::Status s = stream_->Finish();
    absl::MutexLock lock(&mu_);
    status_ = s;
    ended_ = true;
  });
}

StreamCollector::~StreamCollector() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

void StreamCollector::Cancel() { stream_->Cancel(); }

std::vector<v1::Envelope> StreamCollector::WaitFor(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return got_.size() >= n || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return got_;
}

absl::Status StreamCollector::WaitEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ended = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) {
    return absl::DeadlineExceededError("stream did not end");
  }
  return status_;
}

bool StreamCollector::drained() const {
  absl::MutexLock lock(&mu_);
  return drained_;
}

}  // namespace carerelay::testing
