// carerelayd as a child process of a test, for the tests that must kill it
// (SIGKILL) and start it again on the same data directory: the crash test
// and the kill soak. A ChildProcess runs a program; a ServerProcess runs
// carerelayd (and `carerelayd admin ...`) on one data directory and port;
// RegisterDevice registers a device on it with keys from a real libsignal
// profile.
//
// Every child process is killed and reaped whatever happens (RAII, and it
// dies with the test process), and every wait has a deadline, so a stuck
// server fails the test instead of hanging it. The server binary is the one
// the build made, or $CARERELAY_TEST_CARERELAYD.
#ifndef CARERELAY_TESTS_SERVER_PROCESS_H_
#define CARERELAY_TESTS_SERVER_PROCESS_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/relay_client.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "tests/file_bytes.h"  // ReadWholeFile, for its users too
#include "tests/test_support.h"

namespace carerelay::testing {

// The last `n` characters of `text` (for logs in failure messages).
std::string Tail(const std::string& text, size_t n = 3000);

// A child process started with fork/exec. Destroying it kills it (SIGKILL)
// and reaps it; it also dies with the test process (PR_SET_PDEATHSIG), so no
// server outlives the test. Signal and Wait may be called from any thread.
class ChildProcess {
 public:
  // Runs `argv` with stdin from /dev/null, stdout to `stdout_path` and
  // stderr to `stderr_path`. Must be called from a thread that outlives the
  // child (the parent-death signal follows the forking thread): the test's
  // main thread.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv,
                                             const std::string& stdout_path,
                                             const std::string& stderr_path);
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Sends `sig` unless the child has been reaped (its pid may be reused).
  void Signal(int sig);
  // Waits up to `timeout` for the child to exit; its wait status, or nullopt.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running() { return !Wait(absl::ZeroDuration()).has_value(); }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  const pid_t pid_;
  absl::Mutex mu_;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  int status_ ABSL_GUARDED_BY(mu_) = 0;
};

// "exit code N", "signal N", ... for a waitpid status.
std::string DescribeWaitStatus(int status);

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none).
int PickFreePort();

// Calls `on_timeout` on its own thread if not destroyed within `timeout`:
// the way to bound a blocking call that has no deadline of its own.
class Deadline {
 public:
  Deadline(absl::Duration timeout, std::function<void()> on_timeout);
  ~Deadline();
  bool expired() const { return expired_; }

 private:
  absl::Notification done_;
  std::atomic<bool> expired_{false};
  std::thread thread_;
};

// carerelayd as a child process on one data directory and one port, with
// sync on and the send limits out of the way (a test's load comes from a
// few devices at full speed).
class ServerProcess {
 public:
  // `extra_args` are added to carerelayd's command line at every start
  // (options the base command line below does not set).
  ServerProcess(const TempDir& dir, int port, std::vector<std::string> extra_args = {});

  const std::string& data_dir() const { return data_dir_; }
  std::string target() const;
  int starts() const { return starts_; }
  pid_t pid() const { return process_ ? process_->pid() : 0; }
  // Replaces the extra arguments, for the next start.
  void set_extra_args(std::vector<std::string> extra_args) { extra_args_ = std::move(extra_args); }

  // `carerelayd admin enroll` of an account of `kind` (the store is opened
  // directly when no server runs, through the admin socket otherwise); the
  // code it prints, "" after a test failure.
  std::string Enroll(const std::string& name, const std::string& kind = "professional");

  // `carerelayd admin ARGS...` on this data directory: its exit code (-1
  // if it did not exit in time), stdout and stderr.
  struct AdminRun {
    int exit_code = -1;
    std::string out, err;
  };
  AdminRun Admin(std::vector<std::string> args);
  // `carerelayd admin check` passes (on the running server's checkpoint, or
  // on the stopped store).
  ::testing::AssertionResult StoreIsConsistent();

  // Starts carerelayd and waits until it accepts connections.
  ::testing::AssertionResult Start();
  // SIGKILL, and reaped before returning (so the store lock and the port are
  // free for the next start).
  ::testing::AssertionResult Crash();
  // SIGTERM: graceful shutdown, which must end with exit code 0.
  ::testing::AssertionResult Stop();
  // From any thread: kill it so that calls blocked on it return.
  void Abort();

 private:
  const TempDir& dir_;
  const std::string data_dir_;
  const int port_;
  std::vector<std::string> extra_args_;
  int starts_ = 0;
  int enrolls_ = 0;
  int admins_ = 0;
  std::string log_path_;
  std::unique_ptr<ChildProcess> process_;
};

// A registered device whose keys come from a real libsignal profile.
struct Device {
  TempDir dir;
  std::unique_ptr<crypto::ProfileStore> profile;
  std::unique_ptr<crypto::KeyManager> keys;
  std::unique_ptr<client::RelayClient> client;

  const std::string& account_id() const { return client->credentials().account_id; }
  uint32_t device_id() const { return client->credentials().device_id; }
};

// Registers a device on `server` with an enrollment `code`; null after a
// test failure. `connection` gives the client's options (its target and CA
// file are set here).
std::unique_ptr<Device> RegisterDevice(
    ServerProcess& server, const std::string& code,
    client::ConnectionOptions connection = client::ConnectionOptions());

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_SERVER_PROCESS_H_
