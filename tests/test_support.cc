#include "tests/test_support.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "client/key_upload.h"

namespace carerelay::testing {
namespace {

// In-process servers can leave gRPC threads ending calls as a test binary
// exits; without OpenSSL's exit handler they keep their per-thread state
// valid (see client/cli/main.cc).
[[maybe_unused]] const int kNoOpenSslExitHandler =
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);

}  // namespace

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
  limits.calls_per_second = 1e6;
  limits.call_burst = 1e6;
  limits.prekey_fetches_per_hour = 1e6;
  limits.team_lookups_per_day = 1e6;
  // Tests upload tens of MiB at full speed; AbuseLimitsTest sets its own.
  limits.upload_bytes_per_second = 1e15;
  limits.upload_byte_burst = 1e15;
  return limits;
}

TestServer::TestServer(core::Limits limits, bool sync, std::vector<std::string> access_overrides,
                       std::string contact_policy)
    : data_dir_(dir_.Sub("data")),
      limits_(limits),
      sync_(sync),
      access_overrides_(std::move(access_overrides)),
      contact_policy_(std::move(contact_policy)) {
  Start(0);
}

TestServer::~TestServer() { Stop(); }

void TestServer::Start(int port) {
  ServerConfig config;
  config.listen = "127.0.0.1:" + std::to_string(port);
  config.data_dir = data_dir_;
  config.metrics_listen = "127.0.0.1:0";  // a free port each: tests run side by side
  config.tls_cert = TlsDir() + "/server.crt";
  config.tls_key = TlsDir() + "/server.key";
  config.sync = sync_;
  config.limits = limits_;
  config.access_overrides = access_overrides_;
  config.contact_policy = contact_policy_;
  config.helpdesk = helpdesk_;
  config.timer_interval = absl::Hours(24);
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

std::string TestServer::IssueCode(const std::string& name, v1::AccountKind kind, absl::Duration ttl,
                                  const std::vector<v1::Function>& functions) {
  auto code = server_->accounts().IssueEnrollmentCode(name, kind, ttl, functions);
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
  // LinkDevice is signed with the identity key (issue 15).
  crypto::ProfileStore* keys = d->profile_.get();
  d->client_->SetIdentitySigner(
      [keys](absl::string_view message) { return keys->SignWithIdentity(message); });
  // Dated by the server's (fake) clock, as a real client's clock is near
  // a real server's.
  d->client_->SetClock([&server] { return server.clock().Now(); });
  return d;
}

v1::RegisterRequest TestDevice::MakeRegisterRequest(const std::string& code, int one_time_prekeys) {
  auto keys = keys_->PrepareRegistration(absl::Now(), one_time_prekeys);
  EXPECT_TRUE(keys.ok()) << keys.status();
  return client::MakeRegisterRequest(*keys, code, "test device");
}

std::unique_ptr<TestDevice> TestDevice::Enroll(TestServer& server, const std::string& name,
                                               v1::AccountKind kind,
                                               const std::vector<v1::Function>& functions) {
  auto d = Unregistered(server);
  auto registered = d->client_->Register(
      d->MakeRegisterRequest(server.IssueCode(name, kind, absl::Hours(1), functions)));
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

std::vector<v1::Envelope> TestDevice::ReceiveBacklog(bool ack) {
  std::vector<v1::Envelope> out;
  auto stream = client_->Receive();
  if (!stream.ok()) return out;
  v1::ReceiveResponse response;
  while ((*stream)->Next(&response)) {
    for (const auto& e : response.envelopes()) out.push_back(e);
    // Acknowledged per stream message, so a backlog larger than the window
    // keeps flowing.
    if (ack && response.envelopes_size() > 0) {
      auto acked = client_->Ack(response.envelopes().rbegin()->sequence());
      if (!acked.ok()) ADD_FAILURE() << "ack failed: " << acked.status();
    }
    if (response.queue_drained()) break;
  }
  (*stream)->Cancel();
  while ((*stream)->Next(&response)) {
  }
  (*stream)->Finish().IgnoreError();
  return out;
}

StreamCollector::StreamCollector(client::RelayClient& client, const v1::ReceiveRequest& request,
                                 bool ack) {
  auto stream = client.Receive(request);
  if (!stream.ok()) abort();
  stream_ = *std::move(stream);
  thread_ = std::thread([this, &client, ack] {
    v1::ReceiveResponse response;
    while (stream_->Next(&response)) {
      {
        absl::MutexLock lock(&mu_);
        for (const auto& e : response.envelopes()) got_.push_back(e);
        for (const auto& w : response.watermarks()) watermarks_.push_back(w);
        if (response.queue_drained()) drained_ = true;
        if (response.envelopes_size() > 0) messages_.push_back(response);
      }
      if (ack && response.envelopes_size() > 0) {
        // Fails harmlessly once the stream has been replaced or cancelled.
        client.Ack(response.envelopes().rbegin()->sequence()).IgnoreError();
      }
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

std::vector<v1::ReceiveResponse> StreamCollector::messages() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

std::vector<v1::DeliveryWatermark> StreamCollector::watermarks() const {
  absl::MutexLock lock(&mu_);
  return watermarks_;
}

std::vector<v1::DeliveryWatermark> StreamCollector::WaitForWatermarks(size_t n,
                                                                      absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return watermarks_.size() >= n || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return watermarks_;
}

bool StreamCollector::drained() const {
  absl::MutexLock lock(&mu_);
  return drained_;
}

MessengerDevice::MessengerDevice(TestServer& server, const std::string& code,
                                 std::string passphrase)
    : server_(server), passphrase_(std::move(passphrase)) {
  Open();
  auto r = messenger_->Register(code, "device");
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    abort();
  }
  credentials_ = relay_->credentials();
}

std::unique_ptr<MessengerDevice> MessengerDevice::NewAccount(TestServer& server,
                                                             const std::string& name,
                                                             v1::AccountKind kind,
                                                             const std::string& passphrase) {
  return std::make_unique<MessengerDevice>(server, server.IssueCode(name, kind), passphrase);
}

std::unique_ptr<MessengerDevice> MessengerDevice::Link(TestServer& server,
                                                       MessengerDevice& existing) {
  auto link = existing.relay().LinkDevice();
  EXPECT_TRUE(link.ok()) << link.status();
  if (!link.ok()) abort();
  return std::make_unique<MessengerDevice>(server, link->code());
}

void MessengerDevice::Open() {
  crypto::ProfileOptions options;
  options.passphrase = passphrase_;
  options.allow_unencrypted = passphrase_.empty();
  options.sync_writes = false;
  auto profile = crypto::ProfileStore::Open(dir_.Sub("keys"), options);
  ASSERT_TRUE(profile.ok()) << profile.status();
  profile_ = *std::move(profile);
  auto state = client::DeviceState::Open(dir_.Sub("state"));
  ASSERT_TRUE(state.ok()) << state.status();
  state_ = *std::move(state);
  client::ConnectionOptions connection;
  connection.target = target_.empty() ? server_.target() : target_;
  connection.ca_file = TlsDir() + "/ca.crt";
  relay_ = *client::RelayClient::Create(connection);
  if (!credentials_.account_id.empty()) relay_->SetCredentials(credentials_);
  // LinkDevice is dated by the server's (fake) clock.
  TestServer& server = server_;
  relay_->SetClock([&server] { return server.clock().Now(); });
  messenger_ = std::make_unique<client::Messenger>(relay_.get(), profile_.get(), state_.get());
  transfer_ = std::make_unique<client::AttachmentTransfer>(relay_.get(), messenger_.get(),
                                                           profile_.get(), dir_.Sub("work"));
  handover_ = std::make_unique<client::HistoryHandover>(messenger_.get(), transfer_.get(),
                                                        relay_.get(), profile_.get());
  messenger_->SetHistoryHandover(handover_.get());
}

void MessengerDevice::ConnectVia(const std::string& target) {
  target_ = target;
  Reopen();
}

void MessengerDevice::Reopen() {
  handover_.reset();
  transfer_.reset();
  messenger_.reset();
  relay_.reset();
  state_.reset();
  profile_.reset();
  Open();
}

std::vector<client::ReceivedMessage> MessengerDevice::Drain() {
  std::vector<client::ReceivedMessage> got;
  absl::Status s = messenger_->Receive(false, [&](const client::ReceivedMessage& m) {
    got.push_back(m);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return got;
}

std::vector<std::string> MessengerDevice::Texts() {
  std::vector<std::string> texts;
  for (const auto& m : Drain()) {
    if (m.kind == client::ReceivedMessage::Kind::kContent && m.content.has_text()) {
      texts.push_back(m.content.text().body());
    }
  }
  return texts;
}

std::string NewTeamWithRecordedConsent(MessengerDevice& coordinator) {
  auto created = coordinator.relay().CreateTeam(v1::ROLE_COORDINATOR);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return "";
  v1::RecordConsentRequest consent;
  consent.set_team_id(created->team_id());
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  auto recorded = coordinator.relay().RecordConsent(consent);
  EXPECT_TRUE(recorded.ok()) << recorded.status();
  return created->team_id();
}

void JoinTeam(MessengerDevice& coordinator, const std::string& team, MessengerDevice& who,
              v1::Role role) {
  auto invited = coordinator.relay().Invite(team, who.account(), role);
  ASSERT_TRUE(invited.ok()) << invited.status();
  auto joined = who.relay().RespondToInvitation(team, true);
  ASSERT_TRUE(joined.ok()) << joined.status();
}

std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) found.push_back(entry.path().string());
  }
  return found;
}

}  // namespace carerelay::testing
