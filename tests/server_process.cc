#include "tests/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/key_upload.h"

namespace carerelay::testing {
namespace {

const absl::Duration kStartTimeout = absl::Seconds(30);
const absl::Duration kReapTimeout = absl::Seconds(10);
const absl::Duration kStopTimeout = absl::Seconds(30);
const absl::Duration kRegisterTimeout = absl::Seconds(60);

// The carerelayd binary: $CARERELAY_TEST_CARERELAYD if set (a copy put
// aside, as tests/kill_soak.sh does, so that a rebuild of the shared build
// directory during a long run cannot remove it from under the test), else
// the one this build made.
std::string CarerelaydPath() {
  const char* path = getenv("CARERELAY_TEST_CARERELAYD");
  return path && *path ? path : CARERELAYD_PATH;
}

bool AcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                  const std::string& stdout_path,
                                                  const std::string& stderr_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) {
    ADD_FAILURE() << "cannot open the child's files: " << strerror(errno);
    return nullptr;
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out);
  close(err);
  close(in);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  Signal(SIGKILL);
  if (!Wait(kReapTimeout)) {
    // SIGKILL cannot be refused; only a process stuck in the kernel
    // (e.g. on a dead disk) gets here.
    ADD_FAILURE() << "child " << pid_ << " not reaped after SIGKILL";
  }
}

void ChildProcess::Signal(int sig) {
  absl::MutexLock lock(&mu_);
  if (!reaped_) kill(pid_, sig);
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (reaped_) return status_;
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_ = true;
        status_ = status;
        return status_;
      }
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

Deadline::Deadline(absl::Duration timeout, std::function<void()> on_timeout)
    : thread_([this, timeout, on_timeout = std::move(on_timeout)] {
        if (!done_.WaitForNotificationWithTimeout(timeout)) {
          expired_ = true;
          on_timeout();
        }
      }) {}

Deadline::~Deadline() {
  done_.Notify();
  thread_.join();
}

ServerProcess::ServerProcess(const TempDir& dir, int port, std::vector<std::string> extra_args)
    : dir_(dir), data_dir_(dir.Sub("data")), port_(port), extra_args_(std::move(extra_args)) {}

std::string ServerProcess::target() const { return absl::StrCat("localhost:", port_); }

std::string ServerProcess::Enroll(const std::string& name, const std::string& kind) {
  std::string out = dir_.Sub(absl::StrCat("enroll-", ++enrolls_, ".out"));
  std::string err = dir_.Sub(absl::StrCat("enroll-", enrolls_, ".err"));
  auto child = ChildProcess::Start({CarerelaydPath(), "admin", "enroll", "--data-dir", data_dir_,
                                    "--name", name, "--kind", kind},
                                   out, err);
  if (!child) return "";
  std::optional<int> status = child->Wait(kStartTimeout);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    ADD_FAILURE() << "carerelayd admin enroll failed ("
                  << (status ? DescribeWaitStatus(*status) : "timed out")
                  << "): " << ReadWholeFile(err);
    return "";
  }
  std::string code = ReadWholeFile(out);
  while (!code.empty() && (code.back() == '\n' || code.back() == '\r')) code.pop_back();
  EXPECT_FALSE(code.empty()) << "no code printed; stderr: " << ReadWholeFile(err);
  return code;
}

ServerProcess::AdminRun ServerProcess::Admin(std::vector<std::string> args) {
  AdminRun run;
  const std::string out = dir_.Sub(absl::StrCat("admin-", ++admins_, ".out"));
  const std::string err = dir_.Sub(absl::StrCat("admin-", admins_, ".err"));
  args.insert(args.begin(), {CarerelaydPath(), "admin"});
  auto child = ChildProcess::Start(args, out, err);
  if (!child) return run;
  std::optional<int> status = child->Wait(kStartTimeout);
  if (status && WIFEXITED(*status)) run.exit_code = WEXITSTATUS(*status);
  run.out = ReadWholeFile(out);
  run.err = ReadWholeFile(err);
  return run;
}

::testing::AssertionResult ServerProcess::StoreIsConsistent() {
  AdminRun run = Admin({"check", "--data-dir", data_dir_});
  if (run.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "admin check exited " << run.exit_code << ":\n"
                                       << run.out << run.err;
}

::testing::AssertionResult ServerProcess::Start() {
  if (process_ && process_->Running()) return ::testing::AssertionFailure() << "already running";
  log_path_ = dir_.Sub(absl::StrCat("carerelayd-", starts_++, ".log"));
  std::vector<std::string> argv = {
      CarerelaydPath(), "--listen", absl::StrCat("127.0.0.1:", port_), "--data-dir", data_dir_,
      "--tls-cert", TlsDir() + "/server.crt", "--tls-key", TlsDir() + "/server.key", "--log-level",
      "warn", "--sync", "true",
      // Limits out of the way: the recipient never drains during the
      // load, and all threads send as one device.
      "--max-queue-depth", "100000000", "--max-queue-share", "100000000", "--sends-per-second",
      "1000000", "--send-burst", "1000000", "--shutdown-grace-seconds", "5",
      // The load messages between two professionals without a team.
      "--contact-policy", "directory"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_ = ChildProcess::Start(argv, dir_.Sub("carerelayd.stdout"), log_path_);
  if (!process_) return ::testing::AssertionFailure() << "could not start carerelayd";
  absl::Time deadline = absl::Now() + kStartTimeout;
  for (;;) {
    if (std::optional<int> status = process_->Wait(absl::ZeroDuration())) {
      return ::testing::AssertionFailure()
             << "carerelayd exited during start (" << DescribeWaitStatus(*status) << "); its log:\n"
             << Tail(ReadWholeFile(log_path_));
    }
    // The line is written once Server::Start returned (store open, port
    // bound); the connect confirms it is this process that listens.
    if (ReadWholeFile(log_path_).find("carerelayd ready on") != std::string::npos &&
        AcceptsConnections(port_)) {
      return ::testing::AssertionSuccess();
    }
    if (absl::Now() > deadline) {
      process_->Signal(SIGKILL);
      return ::testing::AssertionFailure()
             << "carerelayd not ready within " << kStartTimeout << "; its log:\n"
             << Tail(ReadWholeFile(log_path_));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

::testing::AssertionResult ServerProcess::Crash() {
  if (!process_) return ::testing::AssertionFailure() << "not running";
  process_->Signal(SIGKILL);
  std::optional<int> status = process_->Wait(kReapTimeout);
  if (!status) return ::testing::AssertionFailure() << "not reaped after SIGKILL";
  if (!WIFSIGNALED(*status) || WTERMSIG(*status) != SIGKILL) {
    return ::testing::AssertionFailure()
           << "carerelayd had already ended (" << DescribeWaitStatus(*status) << "); its log:\n"
           << Tail(ReadWholeFile(log_path_));
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ServerProcess::Stop() {
  if (!process_) return ::testing::AssertionSuccess();
  process_->Signal(SIGTERM);
  std::optional<int> status = process_->Wait(kStopTimeout);
  if (!status) {
    process_->Signal(SIGKILL);
    return ::testing::AssertionFailure()
           << "carerelayd did not stop within " << kStopTimeout << " of SIGTERM";
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return ::testing::AssertionFailure()
           << "carerelayd stopped with " << DescribeWaitStatus(*status) << "; its log:\n"
           << Tail(ReadWholeFile(log_path_));
  }
  return ::testing::AssertionSuccess();
}

void ServerProcess::Abort() {
  if (process_) process_->Signal(SIGKILL);
}

std::unique_ptr<Device> RegisterDevice(ServerProcess& server, const std::string& code,
                                       client::ConnectionOptions connection) {
  auto d = std::make_unique<Device>();
  crypto::ProfileOptions options;
  options.allow_unencrypted = true;
  options.sync_writes = false;
  auto profile = crypto::ProfileStore::Open(d->dir.Sub("profile"), options);
  if (!profile.ok()) {
    ADD_FAILURE() << profile.status();
    return nullptr;
  }
  d->profile = *std::move(profile);
  d->keys = std::make_unique<crypto::KeyManager>(d->profile.get());
  auto keys = d->keys->PrepareRegistration(absl::Now(), 10);
  if (!keys.ok()) {
    ADD_FAILURE() << keys.status();
    return nullptr;
  }
  v1::RegisterRequest request = client::MakeRegisterRequest(*keys, code, "crash test device");
  connection.target = server.target();
  connection.ca_file = TlsDir() + "/ca.crt";
  auto client = client::RelayClient::Create(connection);
  if (!client.ok()) {
    ADD_FAILURE() << client.status();
    return nullptr;
  }
  d->client = *std::move(client);
  absl::StatusOr<v1::RegisterResponse> registered;
  {
    Deadline deadline(kRegisterTimeout, [&] { server.Abort(); });
    registered = d->client->Register(request);
  }
  if (!registered.ok()) {
    ADD_FAILURE() << "registration failed: " << registered.status();
    return nullptr;
  }
  return d;
}

}  // namespace carerelay::testing
