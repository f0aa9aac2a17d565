// What the integration tests share: a temporary directory, a real carerelayd
// started in-process on a loopback port with TLS over a real RocksDB in a
// temporary directory (with a fake clock), and registered test devices whose
// keys come from real libsignal profiles (crypto/).
#ifndef CARERELAY_TESTS_TEST_SUPPORT_H_
#define CARERELAY_TESTS_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "client/attachment_transfer.h"
#include "client/history_handover.h"
#include "client/messenger.h"
#include "client/relay_client.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "server/core/clock.h"
#include "server/server.h"

namespace carerelay::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The directory of the development TLS material made for the test run
// (ctest fixture make_test_tls).
std::string TlsDir();

// Limits for tests: the defaults, with rate limits high enough not to
// interfere unless a test lowers them.
core::Limits TestLimits();

class TestServer {
 public:
  // `contact_policy` (--contact-policy): "directory" here, unlike the
  // server's default, so that tests of other things can message between
  // two professionals without convening a team first; the tests of the
  // policy give "care-relationship".
  explicit TestServer(core::Limits limits = TestLimits(), bool sync = true,
                      std::vector<std::string> access_overrides = {},
                      std::string contact_policy = "directory");
  ~TestServer();

  Server& server() { return *server_; }
  core::FakeClock& clock() { return clock_; }
  std::string target() const { return "localhost:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }

  // A fresh enrollment code from the administrator, for an account that
  // will hold `functions`.
  std::string IssueCode(const std::string& name,
                        v1::AccountKind kind = v1::ACCOUNT_KIND_PROFESSIONAL,
                        absl::Duration ttl = absl::Hours(1),
                        const std::vector<v1::Function>& functions = {});
  // Stops gracefully and starts again on the same data directory and port.
  void Restart();
  // Urgency and helpdesk settings used from the next (re)start; the timer
  // thread never runs on its own in tests (Server::RunTimers does it).
  core::HelpdeskPolicy& helpdesk_policy() { return helpdesk_; }
  void Stop();

 private:
  void Start(int port);
  TempDir dir_;
  std::string data_dir_;
  core::Limits limits_;
  bool sync_;
  std::vector<std::string> access_overrides_;
  std::string contact_policy_;
  core::HelpdeskPolicy helpdesk_;
  core::FakeClock clock_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

// One registered device: a libsignal profile for its keys and a client.
class TestDevice {
 public:
  // Registers a new account with an enrollment code.
  static std::unique_ptr<TestDevice> Enroll(TestServer& server, const std::string& name,
                                            v1::AccountKind kind = v1::ACCOUNT_KIND_PROFESSIONAL,
                                            const std::vector<v1::Function>& functions = {});
  // Registers another device of `existing`'s account with a link code.
  static std::unique_ptr<TestDevice> Link(TestServer& server, TestDevice& existing);
  // A device with keys and a client but not registered (for registration tests).
  static std::unique_ptr<TestDevice> Unregistered(TestServer& server);

  // A RegisterRequest with this device's real keys.
  v1::RegisterRequest MakeRegisterRequest(const std::string& code, int one_time_prekeys = 10);

  client::RelayClient& client() { return *client_; }
  crypto::KeyManager& keys() { return *keys_; }
  crypto::ProfileStore& profile() { return *profile_; }
  const std::string& account_id() const { return client_->credentials().account_id; }
  uint32_t device_id() const { return client_->credentials().device_id; }
  std::string address() const { return account_id() + "." + std::to_string(device_id()); }

  // Sends `payload` as PLAINTEXT to every device of `account_id`.
  absl::StatusOr<v1::SendResponse> SendBytes(const std::string& account_id,
                                             const std::string& payload);
  // Opens a stream, reads until the backlog is drained, closes it. With
  // `ack`, acknowledges everything read (cumulatively, on that stream)
  // before closing, so it is deleted from the queue.
  std::vector<v1::Envelope> ReceiveBacklog(bool ack = false);

 private:
  TestDevice() = default;
  TempDir dir_;
  std::unique_ptr<crypto::ProfileStore> profile_;
  std::unique_ptr<crypto::KeyManager> keys_;
  std::unique_ptr<client::RelayClient> client_;
};

// Reads what a stream delivers on a background thread. With `ack` (the
// default, as a real client does) it acknowledges each message through its
// last envelope once recorded, so the window keeps moving; without it the
// stream stops when its window is full.
class StreamCollector {
 public:
  explicit StreamCollector(client::RelayClient& client,
                           const v1::ReceiveRequest& request = v1::ReceiveRequest(),
                           bool ack = true);
  ~StreamCollector();
  // Waits until at least `n` envelopes arrived (or `timeout`); returns all so far.
  std::vector<v1::Envelope> WaitFor(size_t n, absl::Duration timeout = absl::Seconds(20));
  // Waits for the stream to end and returns its status.
  absl::Status WaitEnd(absl::Duration timeout = absl::Seconds(20));
  bool drained() const;
  // Stream messages that carried envelopes, and the watermarks seen.
  std::vector<v1::ReceiveResponse> messages() const;
  std::vector<v1::DeliveryWatermark> watermarks() const;
  // Waits until at least `n` watermarks arrived (or `timeout`).
  std::vector<v1::DeliveryWatermark> WaitForWatermarks(size_t n,
                                                       absl::Duration timeout = absl::Seconds(20));
  void Cancel();

 private:
  std::unique_ptr<client::ReceiveStream> stream_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<v1::Envelope> got_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReceiveResponse> messages_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DeliveryWatermark> watermarks_ ABSL_GUARDED_BY(mu_);
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// One device of a person with the whole client stack: its own profile
// directory (real libsignal keys), device state, relay client and messenger.
// Reopen() simulates the client process restarting.
class MessengerDevice {
 public:
  // Registers with `code` (an enrollment or link code); aborts the test on
  // failure. The key store is encrypted under `passphrase` if not empty.
  MessengerDevice(TestServer& server, const std::string& code, std::string passphrase = "");
  static std::unique_ptr<MessengerDevice> NewAccount(
      TestServer& server, const std::string& name,
      v1::AccountKind kind = v1::ACCOUNT_KIND_PROFESSIONAL, const std::string& passphrase = "");
  static std::unique_ptr<MessengerDevice> Link(TestServer& server, MessengerDevice& existing);

  void Reopen();
  // Reopens, connecting to `target` (a CutProxy) instead of the server.
  void ConnectVia(const std::string& target);

  client::Messenger& m() { return *messenger_; }
  client::RelayClient& relay() { return *relay_; }
  crypto::ProfileStore& profile() { return *profile_; }
  const std::string& account() const { return credentials_.account_id; }
  uint32_t device_id() const { return credentials_.device_id; }
  const std::string& directory() const { return dir_.path(); }

  // Everything queued, processed and acknowledged.
  std::vector<client::ReceivedMessage> Drain();
  // The texts among Drain().
  std::vector<std::string> Texts();

 private:
  void Open();

  TestServer& server_;
  std::string target_;  // empty: the server itself
  std::string passphrase_;
  TempDir dir_;
  client::DeviceCredentials credentials_;
  std::unique_ptr<crypto::ProfileStore> profile_;
  std::unique_ptr<client::DeviceState> state_;
  std::unique_ptr<client::RelayClient> relay_;
  std::unique_ptr<client::Messenger> messenger_;
  // Wired into the messenger, as the CLI's profile does.
  std::unique_ptr<client::AttachmentTransfer> transfer_;
  std::unique_ptr<client::HistoryHandover> handover_;
};

// A care team convened by `coordinator`, with the consent of a patient
// without an account recorded (so members can be invited); its id.
std::string NewTeamWithRecordedConsent(MessengerDevice& coordinator);
// `coordinator` invites `who` with `role` and `who` accepts.
void JoinTeam(MessengerDevice& coordinator, const std::string& team, MessengerDevice& who,
              v1::Role role);

// The regular files under `dir` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle);

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_TEST_SUPPORT_H_
