// End-to-end tests of the `carerelay` CLI against a real `carerelayd`.
//
// Both binaries run as real processes: carerelayd serves TLS on a free
// loopback port with its data in a temporary directory, accounts are
// enrolled with `carerelayd admin enroll` (through the running server's
// admin socket), and every `carerelay` command runs as a subprocess with a
// temporary CARERELAY_HOME; the tests check its stdout, stderr and exit code.
//
// Nothing here depends on timing except generous timeouts: every process is
// killed and reaped by RAII even when an assertion fails, and a child dies
// with the test process (PR_SET_PDEATHSIG).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

#ifndef CARERELAYD_PATH
#error "CARERELAYD_PATH must be defined (tests/CMakeLists.txt)"
#endif
#ifndef CARERELAY_CLI_PATH
#error "CARERELAY_CLI_PATH must be defined (tests/CMakeLists.txt)"
#endif

constexpr auto kCommandTimeout = seconds(90);
constexpr auto kStartTimeout = seconds(60);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string Trim(std::string s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/carerelay-cli-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << strerror(errno);
      return;
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Environment of a child: ours without any CARERELAY_* variable (so the
// developer's own setup never leaks in), in English whatever the machine's
// locale (the checks read English text) unless the test asks for a
// language, plus the given ones.
using Env = std::map<std::string, std::string>;

std::vector<std::string> ChildEnvironment(const Env& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (key.rfind("CARERELAY_", 0) == 0 || extra.count(key)) continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  if (!extra.count("CARERELAY_LANG")) env.push_back("CARERELAY_LANG=en");
  return env;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a.find(' ') == std::string::npos ? a : "'" + a + "'";
  }
  return s;
}

// A child process. Its stdout goes to `stdout_path`, or to a pipe we read
// (ReadStdoutUntil) when that is empty; its stderr goes to `stderr_path`
// (which may be the same file); its stdin is /dev/null, or with
// `pipe_stdin` a pipe we write (WriteStdin, CloseStdin). Killed with SIGKILL
// and reaped on destruction if still running.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const Env& env, const fs::path& stdout_path,
        const fs::path& stderr_path, bool pipe_stdin = false)
      : command_(CommandLine(argv)) {
    std::vector<std::string> env_strings = ChildEnvironment(env);
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<char*> c_argv, c_env;
    for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    for (const auto& e : env_strings) c_env.push_back(const_cast<char*>(e.c_str()));
    c_env.push_back(nullptr);

    int out_pipe[2] = {-1, -1};
    int out_fd = -1;
    if (stdout_path.empty()) {
      if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << strerror(errno);
        return;
      }
    } else {
      out_fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    int in_pipe[2] = {-1, -1};
    if (pipe_stdin && pipe2(in_pipe, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      for (int fd : {out_pipe[0], out_pipe[1], out_fd}) {
        if (fd >= 0) close(fd);
      }
      return;
    }
    int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int in_fd = pipe_stdin ? in_pipe[0] : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if ((stdout_path.empty() ? out_pipe[1] : out_fd) < 0 || err_fd < 0 || in_fd < 0) {
      ADD_FAILURE() << "cannot open the child's files: " << strerror(errno);
      for (int fd : {out_pipe[0], out_pipe[1], out_fd, err_fd, in_fd, in_pipe[1]}) {
        if (fd >= 0) close(fd);
      }
      return;
    }
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGPIPE, SIG_DFL);
      dup2(in_fd, 0);
      dup2(stdout_path.empty() ? out_pipe[1] : out_fd, 1);
      dup2(err_fd, 2);
      execve(c_argv[0], c_argv.data(), c_env.data());
      _exit(127);
    }
    int spawn_errno = errno;
    for (int fd : {out_pipe[1], out_fd, err_fd, in_fd}) {
      if (fd >= 0) close(fd);
    }
    if (pid < 0) {
      if (out_pipe[0] >= 0) close(out_pipe[0]);
      if (in_pipe[1] >= 0) close(in_pipe[1]);
      ADD_FAILURE() << "fork: " << strerror(spawn_errno);
      return;
    }
    pid_ = pid;
    stdout_pipe_ = out_pipe[0];
    stdin_pipe_ = in_pipe[1];
  }

  ~Child() {
    if (running()) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (stdout_pipe_ >= 0) close(stdout_pipe_);
    CloseStdin();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  bool running() const { return pid_ > 0 && !status_.has_value(); }
  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }

  // Reaps the child if it has exited; waits at most `timeout`. Returns its
  // wait status, or nullopt if it is still running.
  std::optional<int> Wait(Clock::duration timeout) {
    if (!started() || status_) return status_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        status_ = status;
        return status_;
      }
      if (r < 0 && errno != EINTR) {
        ADD_FAILURE() << "waitpid: " << strerror(errno);
        status_ = -1;
        return status_;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  void Signal(int sig) {
    if (running()) kill(pid_, sig);
  }

  // Kills the child (SIGKILL) and reaps it.
  void Kill() {
    if (!running()) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = status;
  }

  // Reads the piped stdout into the buffer until a whole line (ended by a
  // newline, or the last one at EOF) containing `needle` has arrived
  // (true), or until EOF or the timeout (false).
  bool ReadStdoutUntil(const std::string& needle, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const size_t whole = stdout_eof_ ? stdout_.size() : stdout_.rfind('\n') + 1;
      for (const auto& line : Lines(stdout_.substr(0, whole))) {
        if (Contains(line, needle)) return true;
      }
      if (stdout_pipe_ < 0 || stdout_eof_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{stdout_pipe_, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (r < 0 && errno != EINTR) return false;
      if (r <= 0) continue;
      char buf[4096];
      ssize_t n = read(stdout_pipe_, buf, sizeof buf);
      if (n > 0) {
        stdout_.append(buf, n);
      } else if (n == 0 || errno != EINTR) {
        stdout_eof_ = true;
      }
    }
  }
  // Reads the rest of the piped stdout (after the child exited).
  void DrainStdout() {
    if (stdout_pipe_ < 0) return;
    char buf[4096];
    for (;;) {
      pollfd p{stdout_pipe_, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return;
      ssize_t n = read(stdout_pipe_, buf, sizeof buf);
      if (n <= 0) return;
      stdout_.append(buf, n);
    }
  }
  const std::string& stdout_text() const { return stdout_; }

  // Types `text` on the piped stdin; false if the child no longer reads.
  bool WriteStdin(const std::string& text) {
    signal(SIGPIPE, SIG_IGN);  // a child that died is an error, not our end
    for (size_t done = 0; done < text.size();) {
      if (stdin_pipe_ < 0) return false;
      ssize_t n = write(stdin_pipe_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  // The end of the piped stdin (what Ctrl-D is on a terminal).
  void CloseStdin() {
    if (stdin_pipe_ >= 0) close(stdin_pipe_);
    stdin_pipe_ = -1;
  }

 private:
  std::string command_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  int stdin_pipe_ = -1;
  int stdout_pipe_ = -1;
  bool stdout_eof_ = false;
  std::string stdout_;
};

struct Result {
  std::string command;
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;

  // For assertion messages.
  std::string Describe() const {
    std::ostringstream s;
    s << "\n$ " << command << "\nexit code: " << exit_code << (timed_out ? " (TIMED OUT)" : "")
      << "\n--- stdout ---\n"
      << out << "--- stderr ---\n"
      << err << "--------------";
    return s.str();
  }
};

std::ostream& operator<<(std::ostream& os, const Result& r) { return os << r.Describe(); }

// Runs a command to completion (killed after `timeout`), capturing its
// output in files under `scratch`.
Result RunCommand(const std::vector<std::string>& argv, const Env& env, const fs::path& scratch,
                  Clock::duration timeout = kCommandTimeout) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  const fs::path out = scratch / ("cmd-" + std::to_string(n) + ".out");
  const fs::path err = scratch / ("cmd-" + std::to_string(n) + ".err");
  Result r;
  r.command = CommandLine(argv);
  {
    Child child(argv, env, out, err);
    if (!child.started()) return r;
    std::optional<int> status = child.Wait(timeout);
    if (!status) {
      r.timed_out = true;
      child.Kill();
    } else if (WIFEXITED(*status)) {
      r.exit_code = WEXITSTATUS(*status);
    }
  }
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

std::string TlsDir() { return CARERELAY_TEST_TLS_DIR; }

// A carerelayd process serving TLS on a free loopback port, its data in a
// temporary directory. Stopped (SIGTERM, then SIGKILL) and reaped on
// destruction.
class ServerProcess {
 public:
  // `options`: more carerelayd options (limits a test needs).
  explicit ServerProcess(const fs::path& root, std::vector<std::string> options = {})
      : data_dir_(root / "data"), log_(root / "carerelayd.log"), options_(std::move(options)) {}
  ~ServerProcess() { Stop(); }

  // Starts it and waits until it accepts TCP connections. Adds a fatal
  // failure (with the server's log) if it does not.
  void Start() {
    fs::create_directories(data_dir_);
    std::vector<std::string> argv{CARERELAYD_PATH, "--listen", "127.0.0.1:0", "--data-dir",
                                  data_dir_.string(), "--tls-cert", TlsDir() + "/server.crt",
                                  "--tls-key", TlsDir() + "/server.key",
                                  // Two professionals message each other here
                                  // without a team; the discharge scenario and
                                  // ContactPolicyTest run the default policy.
                                  "--contact-policy", "directory"};
    argv.insert(argv.end(), options_.begin(), options_.end());
    child_ = std::make_unique<Child>(argv, Env{}, log_, log_);
    ASSERT_TRUE(child_->started());
    // "carerelayd ready on 127.0.0.1:0 (port 41234, TLS)" on stderr.
    const std::regex ready(R"(carerelayd ready on \S+ \(port (\d+), TLS\))");
    const auto deadline = Clock::now() + kStartTimeout;
    std::smatch m;
    for (;;) {
      std::string log = ReadFile(log_);
      if (std::regex_search(log, m, ready)) {
        port_ = std::stoi(m[1].str());
        break;
      }
      ASSERT_FALSE(child_->Wait(seconds(0)).has_value())
          << "carerelayd exited before it was ready:\n"
          << log;
      ASSERT_LT(Clock::now(), deadline) << "carerelayd not ready in time:\n" << log;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GT(port_, 0);
    // It said so; check that it really accepts connections.
    for (;;) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (ok) break;
      ASSERT_LT(Clock::now(), deadline) << "carerelayd does not accept connections:\n"
                                        << ReadFile(log_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Stop() {
    if (!child_ || !child_->running()) return;
    child_->Signal(SIGTERM);
    if (!child_->Wait(seconds(30))) child_->Kill();
  }

  bool running() const { return child_ && child_->running(); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const fs::path& data_dir() const { return data_dir_; }
  std::string log() const { return ReadFile(log_); }

 private:
  fs::path data_dir_;
  fs::path log_;
  std::vector<std::string> options_;
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

void CheckPrerequisites() {
  ASSERT_TRUE(fs::exists(CARERELAYD_PATH)) << CARERELAYD_PATH << " is not built";
  ASSERT_TRUE(fs::exists(CARERELAY_CLI_PATH)) << CARERELAY_CLI_PATH << " is not built";
  for (const char* f : {"server.crt", "server.key", "ca.crt"}) {
    ASSERT_TRUE(fs::exists(TlsDir() + "/" + f))
        << TlsDir() << "/" << f << " is missing: run deploy/make-dev-tls.sh " << TlsDir()
        << " (ctest does it through the make_test_tls fixture)";
  }
}

constexpr char kPassphrase[] = "correct horse battery staple";

// Parses every stdout line as a JSON object; adds a failure for any that
// is not.
std::vector<nlohmann::json> JsonLines(const Result& r) {
  std::vector<nlohmann::json> out;
  for (const auto& line : Lines(r.out)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line << r;
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(CheckPrerequisites());
    ASSERT_FALSE(root_.path().empty());
    home_ = root_.path() / "home";
    scratch_ = root_.path() / "scratch";
    fs::create_directories(home_);
    fs::create_directories(scratch_);
    server_ = std::make_unique<ServerProcess>(root_.path(), ServerOptions());
    ASSERT_NO_FATAL_FAILURE(server_->Start());
  }
  // carerelayd options beyond the defaults, for a fixture that needs them.
  virtual std::vector<std::string> ServerOptions() const { return {}; }

  void TearDown() override {
    if (HasFailure() && server_) {
      std::cerr << "---- carerelayd log ----\n" << server_->log() << "------------------------\n";
    }
    server_.reset();  // before root_ goes
  }

  // The environment of `carerelay` for a profile: our home, and the
  // passphrase if the profile is an encrypted one.
  Env CliEnv(const std::string& profile, const Env& extra = {}) {
    Env env{{"CARERELAY_HOME", home_.string()}, {"HOME", root_.path().string()}};
    if (auto it = passphrases_.find(profile); it != passphrases_.end()) {
      env["CARERELAY_PASSPHRASE"] = it->second;
    }
    for (const auto& [k, v] : extra) env[k] = v;
    return env;
  }

  // carerelay --profile PROFILE ARGS...
  Result Cli(const std::string& profile, const std::vector<std::string>& args,
             const Env& extra = {}) {
    std::vector<std::string> argv{CARERELAY_CLI_PATH, "--profile", profile};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, CliEnv(profile, extra), scratch_);
  }

  // carerelayd admin enroll against the running server. `kind`: patient,
  // caregiver, professional, social, case_manager or helpdesk.
  void Enroll(const std::string& name, std::string* code,
              const std::string& kind = "professional") {
    ASSERT_TRUE(server_->running());
    Result r = RunCommand({CARERELAYD_PATH, "admin", "enroll", "--data-dir",
                           server_->data_dir().string(), "--name", name, "--kind", kind},
                          Env{}, scratch_);
    ASSERT_EQ(r.exit_code, 0) << r;
    *code = Trim(r.out);
    ASSERT_FALSE(code->empty()) << r;
    ASSERT_EQ(Lines(r.out).size(), 1u) << "stdout should hold only the code" << r;
    EXPECT_TRUE(Contains(r.err, "single use")) << r;
    EXPECT_TRUE(Contains(r.err, "(" + kind + ")")) << r;
  }

  std::vector<std::string> RegisterArgs(const std::string& code) {
    return {"register", "--server", server_->address(), "--ca-file", TlsDir() + "/ca.crt",
            "--code",   code};
  }

  // Registers PROFILE with CODE: unencrypted if `passphrase` is empty.
  // Returns the account id (from `whoami --json`).
  void Register(const std::string& profile, const std::string& code, const std::string& passphrase,
                std::string* account_id, const std::string& device_name = "") {
    std::vector<std::string> args = RegisterArgs(code);
    if (passphrase.empty()) {
      args.push_back("--unencrypted");
    } else {
      passphrases_[profile] = passphrase;
    }
    if (!device_name.empty()) {
      args.push_back("--device-name");
      args.push_back(device_name);
    }
    Result r = Cli(profile, args);
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, "Registered ")) << r;
    Result who = Cli(profile, {"--json", "whoami"});
    ASSERT_EQ(who.exit_code, 0) << who;
    auto lines = JsonLines(who);
    ASSERT_EQ(lines.size(), 1u) << who;
    ASSERT_TRUE(lines[0].contains("account_id")) << who;
    *account_id = lines[0]["account_id"].get<std::string>();
    ASSERT_FALSE(account_id->empty()) << who;
    EXPECT_TRUE(Contains(r.out, "as account " + *account_id)) << r << who;
  }

  // Enrolls NAME (an account of `kind`) and registers it as PROFILE.
  void NewAccount(const std::string& profile, const std::string& name,
                  const std::string& passphrase, std::string* account_id,
                  const std::string& kind = "professional") {
    std::string code;
    ASSERT_NO_FATAL_FAILURE(Enroll(name, &code, kind));
    ASSERT_NO_FATAL_FAILURE(Register(profile, code, passphrase, account_id));
  }

  // The GP creates a team with the patient's consent on record; the nurse
  // (a professional, her profile under `nurse_passphrase`) and the social
  // worker join it. Sets the three account ids and the team's first 8
  // characters.
  void TeamOfGpNurseAndSocialWorker(const std::string& nurse_passphrase, std::string* gp,
                                    std::string* nurse, std::string* social, std::string* t8) {
    ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", gp));
    ASSERT_NO_FATAL_FAILURE(NewAccount("nurse", "Anne Peeters", nurse_passphrase, nurse));
    ASSERT_NO_FATAL_FAILURE(NewAccount("social", "Sarah Claes", "", social, "social"));
    Result r = Cli("gp", {"--json", "team", "create"});
    ASSERT_EQ(r.exit_code, 0) << r;
    *t8 = JsonLines(r).at(0).value("team_id", "").substr(0, 8);
    ASSERT_EQ(
        Cli("gp", {"team", "consent", *t8, "--record", "--by", "patient", "--method", "written"})
            .exit_code,
        0);
    for (const auto& [profile, account, role] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"nurse", *nurse, "professional"}, {"social", *social, "social"}}) {
      ASSERT_EQ(Cli("gp", {"team", "invite", *t8, account, "--role", role}).exit_code, 0);
      ASSERT_EQ(Cli(profile, {"team", "accept", *t8}).exit_code, 0);
    }
  }

  void Send(const std::string& profile, const std::string& to, const std::string& text) {
    Result r = Cli(profile, {"send", "--to", to, text});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, "sent (end-to-end encrypted) to " + to.substr(0, 8))) << r;
  }

  TempDir root_;
  fs::path home_;
  fs::path scratch_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, std::string> passphrases_;
};

std::string Short(const std::string& account) { return account.substr(0, 8); }

// Register two people (one unencrypted profile, one under a passphrase),
// exchange messages, receipts, safety numbers.
TEST_F(CliTest, RegisterSendReceiveWithReceiptsAndSafetyNumbers) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", kPassphrase, &bob));
  ASSERT_NE(alice, bob);

  // whoami, both forms.
  Result who = Cli("bob", {"--json", "whoami"});
  ASSERT_EQ(who.exit_code, 0) << who;
  auto w = JsonLines(who);
  ASSERT_EQ(w.size(), 1u) << who;
  EXPECT_EQ(w[0]["account_id"], bob);
  EXPECT_EQ(w[0]["display_name"], "Bob Doctor");
  EXPECT_EQ(w[0]["kind"], "ACCOUNT_KIND_PROFESSIONAL");
  EXPECT_EQ(w[0]["this_device"], 1);
  EXPECT_EQ(w[0]["devices"].size(), 1u) << who;
  who = Cli("alice", {"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who;
  EXPECT_TRUE(Contains(who.out, "Alice Nurse")) << who;
  EXPECT_TRUE(Contains(who.out, "account " + alice)) << who;

  Result profiles = RunCommand({CARERELAY_CLI_PATH, "profiles"}, CliEnv(""), scratch_);
  ASSERT_EQ(profiles.exit_code, 0) << profiles;
  EXPECT_EQ(profiles.out, "alice\nbob\n") << profiles;

  // alice -> bob, read as text.
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "BP 160/95 this morning"));
  Result rcv = Cli("bob", {"receive"});
  ASSERT_EQ(rcv.exit_code, 0) << rcv;
  EXPECT_TRUE(Contains(rcv.out, Short(alice) + ": BP 160/95 this morning")) << rcv;
  EXPECT_FALSE(Contains(rcv.out, "no new messages")) << rcv;

  // The sender learns that bob's device 1 stored it (bob shares no team
  // with alice, so her device knows him by his short id).
  Result receipts = Cli("alice", {"receive"});
  ASSERT_EQ(receipts.exit_code, 0) << receipts;
  EXPECT_TRUE(std::regex_search(
      receipts.out, std::regex(R"(^\[[0-9: -]+\] delivered to )" + Short(bob) +
                               R"( \(device 1\): your message of \d{4}-\d\d-\d\d \d\d:\d\d\n$)")))
      << receipts;

  // alice -> bob, read as JSON.
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "Discharge letter is on its way"));
  rcv = Cli("bob", {"--json", "receive"});
  ASSERT_EQ(rcv.exit_code, 0) << rcv;
  auto messages = JsonLines(rcv);
  ASSERT_EQ(messages.size(), 1u) << "exactly the new message, nothing shown twice" << rcv;
  EXPECT_EQ(messages[0].value("type", ""), "text") << rcv;
  EXPECT_EQ(messages[0].value("text", ""), "Discharge letter is on its way") << rcv;
  EXPECT_EQ(messages[0].value("from", ""), alice + ".1") << rcv;
  EXPECT_FALSE(messages[0].value("envelope_id", "").empty()) << rcv;
  EXPECT_FALSE(messages[0].value("message_id", "").empty()) << rcv;
  const std::string envelope_id = messages[0].value("envelope_id", "");

  receipts = Cli("alice", {"--json", "receive"});
  ASSERT_EQ(receipts.exit_code, 0) << receipts;
  auto r = JsonLines(receipts);
  ASSERT_EQ(r.size(), 1u) << receipts;
  EXPECT_EQ(r[0].value("type", ""), "delivered") << receipts;
  EXPECT_EQ(r[0].value("device", ""), bob + ".1") << receipts;
  EXPECT_EQ(r[0].value("account_id", ""), bob) << receipts;
  EXPECT_EQ(r[0].value("device_id", 0), 1) << receipts;
  // The envelope bob's device stored, and the message it carried.
  EXPECT_EQ(r[0].value("for_envelope", ""), envelope_id) << receipts;
  EXPECT_EQ(r[0].value("message_id", ""), messages[0].value("message_id", "")) << receipts;
  EXPECT_FALSE(r[0].contains("team")) << receipts;

  // Nothing is shown twice.
  rcv = Cli("bob", {"receive"});
  ASSERT_EQ(rcv.exit_code, 0) << rcv;
  EXPECT_EQ(rcv.out, "no new messages\n") << rcv;
  rcv = Cli("bob", {"--json", "receive"});
  ASSERT_EQ(rcv.exit_code, 0) << rcv;
  EXPECT_EQ(rcv.out, "") << rcv;
  receipts = Cli("alice", {"receive"});
  ASSERT_EQ(receipts.exit_code, 0) << receipts;
  EXPECT_EQ(receipts.out, "no new messages\n") << receipts;

  // The reply, from the passphrase-protected profile.
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "Thanks, seen"));
  rcv = Cli("alice", {"receive"});
  ASSERT_EQ(rcv.exit_code, 0) << rcv;
  EXPECT_TRUE(Contains(rcv.out, Short(bob) + ": Thanks, seen")) << rcv;

  // Safety numbers: both sides see the same 60 digits for the pair.
  Result sa = Cli("alice", {"safety-number", bob});
  Result sb = Cli("bob", {"safety-number", alice});
  ASSERT_EQ(sa.exit_code, 0) << sa;
  ASSERT_EQ(sb.exit_code, 0) << sb;
  const std::regex line(R"(^device 1: ((?:\d{5} ){11}\d{5})$)");
  std::smatch ma, mb;
  auto la = Lines(sa.out), lb = Lines(sb.out);
  ASSERT_EQ(la.size(), 1u) << sa;
  ASSERT_EQ(lb.size(), 1u) << sb;
  ASSERT_TRUE(std::regex_match(la[0], ma, line)) << sa;
  ASSERT_TRUE(std::regex_match(lb[0], mb, line)) << sb;
  EXPECT_EQ(ma[1].str(), mb[1].str()) << sa << sb;

  Result ja = Cli("alice", {"--json", "safety-number", bob});
  Result jb = Cli("bob", {"--json", "safety-number", alice});
  ASSERT_EQ(ja.exit_code, 0) << ja;
  ASSERT_EQ(jb.exit_code, 0) << jb;
  auto na = JsonLines(ja), nb = JsonLines(jb);
  ASSERT_EQ(na.size(), 1u) << ja;
  ASSERT_EQ(nb.size(), 1u) << jb;
  std::string digits = ma[1].str();
  digits.erase(std::remove(digits.begin(), digits.end(), ' '), digits.end());
  EXPECT_EQ(na[0].value("safety_number", ""), digits) << ja;
  EXPECT_EQ(nb[0].value("safety_number", ""), digits) << jb;
  EXPECT_EQ(na[0].value("device", ""), bob + ".1") << ja;
  EXPECT_EQ(nb[0].value("device", ""), alice + ".1") << jb;
  EXPECT_EQ(na[0].value("changed", true), false) << ja;

  // A third account has its own, different safety number with alice.
  std::string carol;
  ASSERT_NO_FATAL_FAILURE(NewAccount("carol", "Carol Social", "", &carol));
  ASSERT_NO_FATAL_FAILURE(Send("carol", alice, "hello"));
  Result sc = Cli("carol", {"--json", "safety-number", alice});
  ASSERT_EQ(sc.exit_code, 0) << sc;
  auto nc = JsonLines(sc);
  ASSERT_EQ(nc.size(), 1u) << sc;
  EXPECT_NE(nc[0].value("safety_number", ""), digits) << sc;

  // keys: prekeys are stocked on the server.
  Result keys = Cli("bob", {"keys"});
  ASSERT_EQ(keys.exit_code, 0) << keys;
  std::smatch mk;
  ASSERT_TRUE(
      std::regex_search(keys.out, mk, std::regex(R"((\d+) one-time prekeys on the server)")))
      << keys;
  EXPECT_GT(std::stoi(mk[1].str()), 0) << keys;
}

TEST_F(CliTest, ErrorsHaveDocumentedExitCodesAndClearMessages) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", kPassphrase, &bob));

  // Wrong passphrase: 1, says so.
  Result r = Cli("bob", {"whoami"}, {{"CARERELAY_PASSPHRASE", "not the passphrase"}});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "wrong passphrase")) << r;
  EXPECT_FALSE(Contains(r.out, bob)) << r;
  // No passphrase at all: 1, says how to give it.
  r = RunCommand({CARERELAY_CLI_PATH, "--profile", "bob", "whoami"},
                 Env{{"CARERELAY_HOME", home_.string()}}, scratch_);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "CARERELAY_PASSPHRASE")) << r;
  // --passphrase-file works instead of the environment.
  const fs::path pass_file = root_.path() / "passphrase";
  std::ofstream(pass_file) << kPassphrase << "\n";
  r = RunCommand(
      {CARERELAY_CLI_PATH, "--profile", "bob", "--passphrase-file", pass_file.string(), "whoami"},
      Env{{"CARERELAY_HOME", home_.string()}}, scratch_);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "account " + bob)) << r;
  // CARERELAY_PROFILE picks the profile.
  r = RunCommand({CARERELAY_CLI_PATH, "whoami"},
                 Env{{"CARERELAY_HOME", home_.string()}, {"CARERELAY_PROFILE", "alice"}}, scratch_);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "account " + alice)) << r;

  // A passphrase for an unencrypted profile: 1 (not 4, "identity changed",
  // although the profile's path says "identity").
  std::string ident;
  ASSERT_NO_FATAL_FAILURE(NewAccount("identity", "Ida Entity", "", &ident));
  r = Cli("identity", {"whoami"}, {{"CARERELAY_PASSPHRASE", kPassphrase}});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "not encrypted")) << r;
  EXPECT_FALSE(Contains(r.err, "safety-number")) << "no identity-change hint" << r;

  // Unknown profile: 3, says to register.
  r = Cli("nobody", {"whoami"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_TRUE(Contains(r.err, "no profile \"nobody\"")) << r;
  EXPECT_TRUE(Contains(r.err, "register")) << r;
  r = Cli("nobody", {"--json", "receive"});
  EXPECT_EQ(r.exit_code, 3) << r;
  auto j = JsonLines(r);
  ASSERT_EQ(j.size(), 1u) << r;
  EXPECT_EQ(j[0].value("code", ""), "NOT_FOUND") << r;
  EXPECT_TRUE(Contains(j[0].value("error", ""), "no profile")) << r;

  // Bad usage: 2.
  r = Cli("alice", {"send", "hello"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.out + r.err, "--to")) << r;
  r = Cli("alice", {"send", "--to", bob});
  EXPECT_EQ(r.exit_code, 2) << "no text" << r;
  r = Cli("alice", {"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r;
  r = RunCommand({CARERELAY_CLI_PATH}, CliEnv("alice"), scratch_);
  EXPECT_EQ(r.exit_code, 2) << "no command" << r;
  r = Cli("alice", {"device"});
  EXPECT_EQ(r.exit_code, 2) << "device without a subcommand" << r;
  r = Cli("alice", {"device", "revoke", "two"});
  EXPECT_EQ(r.exit_code, 2) << r;

  // Registering with a used code: 1, "already been used"; a fresh code then
  // works for the same profile name.
  std::string code;
  ASSERT_NO_FATAL_FAILURE(Enroll("Carol Social", &code));
  std::string carol;
  ASSERT_NO_FATAL_FAILURE(Register("carol", code, "", &carol));
  auto args = RegisterArgs(code);
  args.push_back("--unencrypted");
  r = Cli("dave", args);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "already been used")) << r;
  r = Cli("dave", {"whoami"});
  EXPECT_EQ(r.exit_code, 3) << "a failed registration leaves no usable profile" << r;
  std::string fresh, dave;
  ASSERT_NO_FATAL_FAILURE(Enroll("Dave Helpdesk", &fresh));
  ASSERT_NO_FATAL_FAILURE(Register("dave", fresh, "", &dave));
  EXPECT_NE(dave, carol);

  // A registered profile name is not overwritten.
  std::string another;
  ASSERT_NO_FATAL_FAILURE(Enroll("Eve", &another));
  args = RegisterArgs(another);
  args.push_back("--unencrypted");
  r = Cli("alice", args);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "already registered")) << r;
  r = Cli("alice", {"--json", "whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, alice)) << r;

  // An unknown code: 1.
  args = RegisterArgs("AAAAA-BBBBB-CCCCC-DDDDD");
  args.push_back("--unencrypted");
  r = Cli("frank", args);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "unknown enrollment code")) << r;

  // Registering without a passphrase or --unencrypted: refused, says how.
  std::string unused;
  ASSERT_NO_FATAL_FAILURE(Enroll("Grace", &unused));
  r = Cli("grace", RegisterArgs(unused));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "--unencrypted")) << r;

  // Sending to an unknown account fails (1) with a message.
  r = Cli("alice", {"send", "--to", std::string(32, '0'), "hello?"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "error: ")) << r;

  // Server gone: 1 with the hint.
  server_->Stop();
  r = Cli("alice", {"whoami"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "is carerelayd running")) << r;
}

// A server where one sender may have only 3 envelopes waiting per device.
class CliSmallQueueShareTest : public CliTest {
 protected:
  std::vector<std::string> ServerOptions() const override { return {"--max-queue-share", "3"}; }
};

// Issue 15, finding 2, as the person sending sees it: a device whose queue
// (or the sender's share of it) is full is skipped, the others get the
// message, and `send` says which device did not, and why, on stderr.
TEST_F(CliSmallQueueShareTest, ASendThatSkipsAFullDeviceSaysSo) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", "", &bob));
  Result link = Cli("bob", {"device", "link"});
  ASSERT_EQ(link.exit_code, 0) << link;
  std::string phone;
  ASSERT_NO_FATAL_FAILURE(
      Register("bob-phone", Trim(Lines(link.out).at(0)), "", &phone, "bob's phone"));
  // Bob's first device is left in a drawer; his phone reads as messages come.
  for (int i = 0; i < 3; ++i) {
    Result r = Cli("alice", {"send", "--to", bob, "message " + std::to_string(i)});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_FALSE(Contains(r.err, "not delivered")) << r;
    ASSERT_EQ(Cli("bob-phone", {"receive"}).exit_code, 0);
  }
  Result r = Cli("alice", {"send", "--to", bob, "the fourth"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "not delivered to")) << r;
  EXPECT_TRUE(Contains(r.err, "(device 1)")) << r;
  r = Cli("bob-phone", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "the fourth")) << r;
}

TEST_F(CliTest, LinkedDeviceGetsMessagesUntilRevoked) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", kPassphrase, &bob));
  // bob and alice's first device already have a session.
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "before the phone"));
  Result r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "before the phone")) << r;

  Result link = Cli("alice", {"device", "link"});
  ASSERT_EQ(link.exit_code, 0) << link;
  auto link_lines = Lines(link.out);
  ASSERT_FALSE(link_lines.empty()) << link;
  const std::string link_code = Trim(link_lines[0]);
  EXPECT_TRUE(Contains(link.out, "single use")) << link;

  std::string phone_account;
  ASSERT_NO_FATAL_FAILURE(
      Register("alice-phone", link_code, kPassphrase, &phone_account, "alice's phone"));
  EXPECT_EQ(phone_account, alice) << "a link code adds a device to the same account";
  r = Cli("alice-phone", {"--json", "whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto who = JsonLines(r);
  ASSERT_EQ(who.size(), 1u) << r;
  EXPECT_EQ(who[0]["this_device"], 2) << r;
  EXPECT_EQ(who[0]["display_name"], "Alice Nurse") << r;

  // The link code is single use.
  auto args = RegisterArgs(link_code);
  args.push_back("--unencrypted");
  r = Cli("alice-tablet", args);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "already been used")) << r;

  // device list shows both.
  Result list = Cli("alice", {"device", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  auto devices = Lines(list.out);
  ASSERT_EQ(devices.size(), 2u) << list;
  EXPECT_TRUE(devices[0].rfind("1  carerelay cli", 0) == 0) << list;
  EXPECT_TRUE(Contains(devices[0], "(this device)")) << list;
  EXPECT_TRUE(devices[1].rfind("2  alice's phone", 0) == 0) << list;
  EXPECT_FALSE(Contains(devices[1], "(this device)")) << list;
  list = Cli("alice-phone", {"--json", "device", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  auto jd = JsonLines(list);
  ASSERT_EQ(jd.size(), 2u) << list;
  EXPECT_EQ(jd[0]["this_device"], false) << list;
  EXPECT_EQ(jd[1]["this_device"], true) << list;
  EXPECT_EQ(jd[1]["name"], "alice's phone") << list;

  // A message to the account reaches both devices.
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "Lab results are in"));
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(bob) + ": Lab results are in")) << r;
  EXPECT_FALSE(Contains(r.out, "before the phone")) << r;
  r = Cli("alice-phone", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(bob) + ": Lab results are in")) << r;
  EXPECT_FALSE(Contains(r.out, "before the phone")) << "sent before the phone existed" << r;
  // bob learns that each of alice's devices stored it (on one line or
  // two, as the watermarks came).
  r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "delivered to ")) << r;
  EXPECT_TRUE(Contains(r.out, Short(alice) + " (device 1)")) << r;
  EXPECT_TRUE(Contains(r.out, Short(alice) + " (device 2)")) << r;

  // What one device sends, the other sees as a copy.
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "On my way"));
  r = Cli("alice-phone", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "you (other device) -> " + Short(bob) + ": On my way")) << r;
  r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(alice) + ": On my way")) << r;

  // Revoke the phone while it is following: it is cut off at once, and
  // says why.
  const fs::path follow_err = scratch_ / "phone-follow.err";
  Child follow({CARERELAY_CLI_PATH, "--profile", "alice-phone", "receive", "--follow"},
               CliEnv("alice-phone"), /*stdout_path=*/"", follow_err);
  ASSERT_TRUE(follow.started());
  // Once it shows a message it is certainly connected and following.
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "Are you following?"));
  ASSERT_TRUE(follow.ReadStdoutUntil(Short(bob) + ": Are you following?", kCommandTimeout))
      << follow.stdout_text() << ReadFile(follow_err);
  r = Cli("alice", {"device", "revoke", "2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "device 2 revoked")) << r;
  std::optional<int> status = follow.Wait(kCommandTimeout);
  ASSERT_TRUE(status.has_value()) << "a revoked device's receive --follow kept running";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1)
      << "receive --follow of a revoked device: wait status " << *status << "\n"
      << ReadFile(follow_err);
  EXPECT_TRUE(Contains(ReadFile(follow_err), "revoked")) << ReadFile(follow_err);
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(bob) + ": Are you following?")) << r;

  // And stays locked out.
  r = Cli("alice-phone", {"receive"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "revoked")) << r;
  r = Cli("alice-phone", {"send", "--to", bob, "still here?"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "revoked")) << r;

  list = Cli("alice", {"device", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_EQ(Lines(list.out).size(), 1u) << list;
  r = Cli("alice", {"device", "revoke", "2"});
  EXPECT_EQ(r.exit_code, 1) << "already revoked" << r;

  // bob can still write to alice (the stale device is dropped).
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "After revocation"));
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(bob) + ": After revocation")) << r;
}

TEST_F(CliTest, ReceiveFollowShowsNewMessagesUntilInterrupted) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", kPassphrase, &bob));

  const fs::path err = scratch_ / "follow.err";
  Child follow({CARERELAY_CLI_PATH, "--profile", "bob", "receive", "--follow"}, CliEnv("bob"),
               /*stdout_path=*/"", err);
  ASSERT_TRUE(follow.started());

  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "first while following"));
  ASSERT_TRUE(follow.ReadStdoutUntil(Short(alice) + ": first while following", kCommandTimeout))
      << "stdout so far:\n"
      << follow.stdout_text() << "\nstderr:\n"
      << ReadFile(err);
  // Still running after the queue drained; a message sent now arrives live.
  ASSERT_TRUE(follow.running());
  ASSERT_FALSE(follow.Wait(seconds(0)).has_value())
      << "receive --follow exited after the first message\n"
      << follow.stdout_text() << ReadFile(err);
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "second while following"));
  ASSERT_TRUE(follow.ReadStdoutUntil(Short(alice) + ": second while following", kCommandTimeout))
      << "stdout so far:\n"
      << follow.stdout_text() << "\nstderr:\n"
      << ReadFile(err);

  follow.Signal(SIGINT);
  std::optional<int> status = follow.Wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << "receive --follow ignored SIGINT";
  follow.DrainStdout();
  EXPECT_TRUE(WIFEXITED(*status)) << "status " << *status << "\n" << ReadFile(err);
  if (WIFEXITED(*status)) {
    EXPECT_EQ(WEXITSTATUS(*status), 0) << ReadFile(err);
  }
  EXPECT_FALSE(Contains(follow.stdout_text(), "no new messages")) << follow.stdout_text();

  // Both were acknowledged: nothing is shown again, and alice learns that
  // both were delivered, once.
  Result r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "no new messages\n") << r;
  r = Cli("alice", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto receipts = JsonLines(r);
  EXPECT_EQ(receipts.size(), 2u) << r;
  std::set<std::string> delivered;
  for (const auto& j : receipts) {
    EXPECT_EQ(j.value("type", ""), "delivered") << r;
    EXPECT_EQ(j.value("device", ""), bob + ".1") << r;
    delivered.insert(j.value("message_id", ""));
  }
  EXPECT_EQ(delivered.size(), 2u) << "one per message" << r;
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "no new messages\n") << r;
}

// Every regular file under `dir` (recursively) whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && Contains(ReadFile(it->path()), needle)) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

// `team members --json` as account id -> member object.
std::map<std::string, nlohmann::json> MembersByAccount(const std::vector<nlohmann::json>& lines) {
  std::map<std::string, nlohmann::json> members;
  for (const auto& j : lines) members[j.value("account_id", "")] = j;
  return members;
}

bool ListHas(const nlohmann::json& list, const std::string& item) {
  return list.is_array() && std::find(list.begin(), list.end(), item) != list.end();
}

// Issue 15, finding 12: `receive` acknowledges a message only once it is
// kept in the profile (decrypted, sealed like the keys), and drops it from
// there only once it is written out. The CLI is killed (SIGKILL) while it
// is blocked writing the message to its stdout (a pipe nobody reads, full):
// the server has been acknowledged, the person has seen nothing. The next
// `receive` shows it. Before the fix it was lost: acknowledged, then printed.
TEST_F(CliTest, ReceiveKilledBeforeShowingLosesNothing) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", "", &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", kPassphrase, &bob));
  const std::string text = "potassium 6.8 mmol/L, call back";
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, text));

  // A stdout that takes nothing: a FIFO whose buffer we fill and never read.
  const fs::path fifo = scratch_ / "bob-stdout.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0) << strerror(errno);
  const int filler = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(filler, 0) << strerror(errno);
  const std::string junk(4096, 'x');
  while (write(filler, junk.data(), junk.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN) << strerror(errno);

  const fs::path err = scratch_ / "killed-receive.err";
  {
    Child receive({CARERELAY_CLI_PATH, "--profile", "bob", "receive"}, CliEnv("bob"), fifo, err);
    ASSERT_TRUE(receive.started());
    // Wait until it is stuck writing to stdout, i.e. showing the message.
    const std::string wchan = "/proc/" + std::to_string(receive.pid()) + "/wchan";
    const auto deadline = Clock::now() + kCommandTimeout;
    bool blocked = false;
    while (!blocked && Clock::now() < deadline) {
      ASSERT_FALSE(receive.Wait(std::chrono::milliseconds(50)).has_value())
          << "receive exited instead of blocking on its stdout\n"
          << ReadFile(err);
      blocked = Contains(ReadFile(wchan), "pipe_write");  // or anon_pipe_write
    }
    ASSERT_TRUE(blocked) << "receive never blocked writing its stdout (wchan " << ReadFile(wchan)
                         << ")\n"
                         << ReadFile(err);
    receive.Kill();
  }
  close(filler);
  close(reader);

  // What Bob's profile keeps meanwhile is sealed: the text is nowhere in
  // clear there. (Alice's profile, made without a passphrase for this test,
  // keeps what she sent in her history unsealed, as it keeps her keys.)
  EXPECT_TRUE(FilesContaining(home_ / "profiles" / "bob", text).empty());
  EXPECT_TRUE(FilesContaining(server_->data_dir(), text).empty());

  Result r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, Short(alice) + ": " + text))
      << "the acknowledged message was lost when receive was killed" << r;
  // Shown once: not kept, not queued any more.
  r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "no new messages\n") << r;
}

// Issue 15, finding 3, through the CLI: a passphrase profile keeps its
// device secret sealed with the keys (config.json holds none, so a copy of
// the directory cannot act as the device), `device link` proves the
// identity key, and the new device is announced to the account's other
// device and to a correspondent who writes to it. Fails before the fix:
// config.json held the secret and nobody was told.
TEST_F(CliTest, DeviceSecretIsSealedAndNewDevicesAreAnnounced) {
  std::string alice, bob;
  ASSERT_NO_FATAL_FAILURE(NewAccount("alice", "Alice Nurse", kPassphrase, &alice));
  ASSERT_NO_FATAL_FAILURE(NewAccount("bob", "Bob Doctor", "", &bob));
  const fs::path alice_config = home_ / "profiles" / "alice" / "config.json";
  const std::string config = ReadFile(alice_config);
  ASSERT_FALSE(config.empty());
  EXPECT_FALSE(Contains(config, "device_secret")) << config;
  EXPECT_TRUE(Contains(config, alice)) << config;
  // (an --unencrypted profile has nothing to seal it with: it keeps it)
  EXPECT_TRUE(Contains(ReadFile(home_ / "profiles" / "bob" / "config.json"), "device_secret"));

  // A copy of the profile without the passphrase can do nothing.
  fs::copy(home_ / "profiles" / "alice", home_ / "profiles" / "stolen",
           fs::copy_options::recursive);
  Result r = Cli("stolen", {"device", "link"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "passphrase")) << r;

  // Bob and Alice write to each other.
  ASSERT_NO_FATAL_FAILURE(Send("bob", alice, "hello Alice"));
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_NO_FATAL_FAILURE(Send("alice", bob, "hello Bob"));
  r = Cli("bob", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;

  // Alice links a phone, with her passphrase (it signs the request).
  Result link = Cli("alice", {"device", "link"});
  ASSERT_EQ(link.exit_code, 0) << link;
  std::string phone_account;
  ASSERT_NO_FATAL_FAILURE(Register("alice-phone", Trim(Lines(link.out).at(0)), kPassphrase,
                                   &phone_account, "alice phone"));
  ASSERT_EQ(phone_account, alice);
  EXPECT_FALSE(
      Contains(ReadFile(home_ / "profiles" / "alice-phone" / "config.json"), "device_secret"));

  // Her first device is told, with what to do if it was not her.
  r = Cli("alice", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "a new device was added to your account: device 2 \"alice phone\""))
      << r;
  EXPECT_TRUE(Contains(r.out, "carerelay device revoke 2")) << r;
  r = Cli("alice", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "") << "told once" << r;

  // Bob, writing to Alice again, is told she has a new device.
  r = Cli("bob", {"send", "--to", alice, "are you on your phone?"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.err, Short(alice) + " added a new device (device 2)")) << r;
  EXPECT_TRUE(Contains(r.err, "carerelay safety-number " + alice)) << r;
  r = Cli("bob", {"send", "--to", alice, "once only"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(Contains(r.err, "added a new device")) << r;
  r = Cli("alice-phone", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "are you on your phone?")) << r;
}

// Issue 15: `--dev-plaintext` sent the device secret in clear to any
// address. It is refused unless the server is on this machine, and nothing
// is registered. Fails before the fix.
TEST_F(CliTest, DevPlaintextOnlyToLoopback) {
  for (const std::string server : {"127.evil.example:7443", "192.0.2.1:7443"}) {
    Result r = Cli("far", {"register", "--server", server, "--dev-plaintext", "--unencrypted",
                           "--code", "AAAAA-BBBBB-CCCCC-DDDDD"});
    EXPECT_NE(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.err, "only allowed to a loopback address")) << r;
    EXPECT_FALSE(fs::exists(home_ / "profiles" / "far" / "config.json")) << r;
    EXPECT_FALSE(fs::exists(home_ / "profiles" / "far" / "keys")) << r;
  }
}

// A care team the way its people use it, every step a `carerelay` process
// against one carerelayd: a GP convenes a team for a patient without an
// account, records the patient's consent, sets the (end-to-end encrypted)
// team profile, registers the blind index with the organisation key file and
// invites a home nurse, a social worker and the patient's daughter. Each
// channel reaches exactly the roles that may read it; the helpdesk finds the
// team by national number and a professional may not; removing a member
// cuts them off and leaves an intact audit log.
TEST_F(CliTest, CareTeamChannelsBlindIndexAndAudit) {
  std::string gp, nurse, social, daughter, helpdesk;
  // One profile under a passphrase (the nurse's: few commands, each pays
  // for scrypt), the others unencrypted to keep the test fast.
  ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", &gp));
  ASSERT_NO_FATAL_FAILURE(NewAccount("nurse", "Anne Peeters", kPassphrase, &nurse));
  ASSERT_NO_FATAL_FAILURE(NewAccount("social", "Sarah Claes", "", &social, "social"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("daughter", "Marie Dubois", "", &daughter, "caregiver"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("helpdesk", "Tom Helpdesk", "", &helpdesk, "helpdesk"));

  // The GP convenes the team, and is its coordinator.
  Result r = Cli("gp", {"--json", "team", "create"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto created = JsonLines(r);
  ASSERT_EQ(created.size(), 1u) << r;
  const std::string team = created[0].value("team_id", "");
  ASSERT_EQ(team.size(), 32u) << r;
  EXPECT_EQ(created[0].value("role", ""), "COORDINATOR") << r;
  const std::string t8 = team.substr(0, 8);  // what people type

  // The patient has no account: until their consent is recorded, no
  // professional can be invited.
  r = Cli("gp", {"team", "invite", t8, nurse, "--role", "professional"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "consent")) << r;
  r = Cli("gp", {"team", "consent", t8, "--record", "--by", "patient", "--method", "written",
                 "--reference", "DOSSIER-2291"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "consent given by the patient (written)")) << r;
  EXPECT_TRUE(Contains(r.out, "reference DOSSIER-2291")) << r;

  // Who the patient is: only in the team profile.
  const std::string patient = "Jeanne Dubois";
  const std::string niss = "41.03.02-123.20";  // a valid NISS (check digits 20)
  r = Cli("gp", {"team", "profile", t8, "--set", "--name", patient, "--birth-date", "1941-03-02",
                 "--national-number", niss});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "team profile saved")) << r;

  // The organisation key file, where `team find` looks by default
  // ($CARERELAY_HOME/organisation.key), readable by its owner only.
  const fs::path key_file = home_ / "organisation.key";
  std::ofstream(key_file) << "# organisation key, newest first\n"
                          << "2026-1 "
                          << "8f3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e"
                          << "1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a\n";
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
  // A copy others may read is refused, with the fix.
  const fs::path open_key = root_.path() / "open-organisation.key";
  fs::copy_file(key_file, open_key);
  fs::permissions(open_key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);
  r = Cli("gp", {"team", "index", t8, "--org-key", open_key.string()});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "chmod 600")) << r;
  // The national number comes from the team profile.
  r = Cli("gp", {"team", "index", t8, "--org-key", key_file.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "registered the search index of team " + team)) << r;
  // The profile has a name and a birth date too: the second index.
  EXPECT_TRUE(Contains(r.out, "registered the name-and-birth-date search index of team " + team))
      << r;
  EXPECT_TRUE(Contains(r.out, "organisation key 2026-1")) << r;

  // Invitations, then each accepts.
  struct Invitee {
    std::string profile, account, role_arg, role;
  };
  // Roles are typed as tokens and read in the person's language.
  const std::vector<Invitee> invitees = {{"nurse", nurse, "professional", "professional"},
                                         {"social", social, "social", "social worker"},
                                         {"daughter", daughter, "caregiver", "caregiver"}};
  for (const Invitee& i : invitees) {
    r = Cli("gp", {"team", "invite", t8, i.account, "--role", i.role_arg});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, "as " + i.role + ": waiting for them to accept")) << r;
  }
  r = Cli("nurse", {"team", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, team + "  open  you: professional (invited)")) << r;
  for (const Invitee& i : invitees) {
    r = Cli(i.profile, {"team", "accept", t8});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, "you joined team " + team + " as " + i.role)) << r;
  }
  // The GP's device sees them join and sends them the team profile.
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Anne Peeters joined the team as professional")) << r;
  EXPECT_TRUE(Contains(r.out, "Marie Dubois joined the team as caregiver")) << r;

  // Everyone is on the team with their role, and reads what the matrix says.
  r = Cli("gp", {"--json", "team", "members", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto members = MembersByAccount(JsonLines(r));
  ASSERT_EQ(members.size(), 4u) << r;
  const std::map<std::string, std::string> roles = {
      {gp, "COORDINATOR"}, {nurse, "PROFESSIONAL"}, {social, "SOCIAL"}, {daughter, "CAREGIVER"}};
  for (const auto& [account, role] : roles) {
    ASSERT_TRUE(members.count(account)) << account << r;
    EXPECT_EQ(members[account].value("role", ""), role) << r;
    EXPECT_EQ(members[account].value("status", ""), "active") << r;
  }
  EXPECT_EQ(members[gp].value("display_name", ""), "Dr Luc Martin") << r;
  EXPECT_EQ(members[gp].value("you", false), true) << r;
  EXPECT_TRUE(ListHas(members[nurse]["can_read"], "clinical")) << r;
  EXPECT_TRUE(ListHas(members[social]["can_read"], "care")) << r;
  EXPECT_FALSE(ListHas(members[social]["can_read"], "clinical")) << r;
  EXPECT_EQ(members[daughter]["can_read"], nlohmann::json::array({"team"})) << r;
  // Roles and channels read in the person's language; --json keeps tokens.
  for (const auto& [lang, caregiver, social_worker, care] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"fr", "Marie Dubois (aidant proche)", "Sarah Claes (travailleur social)", "#soins"},
           {"nl", "Marie Dubois (mantelzorger)", "Sarah Claes (maatschappelijk werker)", "#zorg"},
           {"de", "Marie Dubois (pflegender Angehöriger)", "Sarah Claes (Sozialarbeiter)",
            "#Pflege"}}) {
    r = Cli("gp", {"--lang", lang, "team", "members", t8});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, caregiver)) << r;
    EXPECT_TRUE(Contains(r.out, social_worker)) << r;
    EXPECT_TRUE(Contains(r.out, care)) << r;
    r = Cli("gp", {"--lang", lang, "team", "access", t8});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, care)) << r;
  }

  // The GP writes on three channels.
  const std::string clinical_text = "INR 3.4 today: skip tonight's warfarin";
  const std::string care_text = "Home help starts Monday 9:00";
  const std::string team_text = "Visit moved to 14:00";
  for (const auto& [channel, text] : std::vector<std::pair<std::string, std::string>>{
           {"clinical", clinical_text}, {"care", care_text}, {"team", team_text}}) {
    r = Cli("gp", {"send", "--team", t8, "--channel", channel, text});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(Contains(r.out, "sent (end-to-end encrypted) to #" + channel + " of team " + t8))
        << r;
  }

  // The nurse (professional) reads all three, with the GP's name and team
  // role, the team (by its patient once the profile is held), and got the
  // team profile.
  const std::string from_gp = "Dr Luc Martin (coordinator) in team " + t8 + " (" + patient + ") #";
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, from_gp + "clinical: " + clinical_text)) << r;
  EXPECT_TRUE(Contains(r.out, from_gp + "care: " + care_text)) << r;
  EXPECT_TRUE(Contains(r.out, from_gp + "team: " + team_text)) << r;
  EXPECT_TRUE(Contains(r.out, "team profile updated by Dr Luc Martin (coordinator)")) << r;
  r = Cli("nurse", {"team", "profile", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "patient:          " + patient)) << r;
  EXPECT_TRUE(Contains(r.out, "national number:  " + niss)) << r;

  // The social worker reads #care and #team, never #clinical.
  r = Cli("social", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::map<std::string, nlohmann::json> texts;  // channel -> message
  for (const auto& j : JsonLines(r)) {
    if (j.value("type", "") == "text") texts[j.value("channel", "")] = j;
  }
  EXPECT_FALSE(texts.count("clinical")) << r;
  EXPECT_FALSE(Contains(r.out, clinical_text)) << r;
  ASSERT_TRUE(texts.count("care")) << r;
  EXPECT_EQ(texts["care"].value("text", ""), care_text) << r;
  EXPECT_EQ(texts["care"].value("team", ""), team) << r;
  EXPECT_EQ(texts["care"].value("sender_name", ""), "Dr Luc Martin") << r;
  EXPECT_EQ(texts["care"].value("sender_role", ""), "COORDINATOR") << r;
  EXPECT_EQ(texts["care"].value("from", ""), gp + ".1") << r;
  ASSERT_TRUE(texts.count("team")) << r;
  EXPECT_EQ(texts["team"].value("text", ""), team_text) << r;

  // The daughter (caregiver) reads #team only.
  r = Cli("daughter", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, from_gp + "team: " + team_text)) << r;
  EXPECT_FALSE(Contains(r.out, clinical_text)) << r;
  EXPECT_FALSE(Contains(r.out, care_text)) << r;
  EXPECT_FALSE(Contains(r.out, "#clinical")) << r;
  EXPECT_FALSE(Contains(r.out, "#care")) << r;

  // The GP learns which readers' devices stored each post, by name.
  r = Cli("gp", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::map<std::string, std::set<std::string>> delivered;  // channel -> names
  for (const auto& j : JsonLines(r)) {
    if (j.value("type", "") != "delivered") continue;
    EXPECT_EQ(j.value("team", ""), team) << r;
    delivered[j.value("channel", "")].insert(j.value("name", ""));
  }
  EXPECT_EQ(delivered, (std::map<std::string, std::set<std::string>>{
                           {"clinical", {"Anne Peeters"}},
                           {"care", {"Anne Peeters", "Sarah Claes"}},
                           {"team", {"Anne Peeters", "Sarah Claes", "Marie Dubois"}}}))
      << r;

  // The social worker may not post on #clinical: a clear error, exit 1,
  // and nothing reaches anyone.
  const std::string refused_text = "May I see the lab results?";
  r = Cli("social", {"send", "--team", t8, "--channel", "clinical", refused_text});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "error: ")) << r;
  EXPECT_TRUE(Contains(r.err, "may not post on #clinical")) << r;
  EXPECT_FALSE(Contains(r.out, "sent")) << r;
  r = Cli("social", {"--json", "send", "--team", t8, "--channel", "clinical", refused_text});
  EXPECT_EQ(r.exit_code, 1) << r;
  auto refused = JsonLines(r);
  ASSERT_EQ(refused.size(), 1u) << r;
  EXPECT_EQ(refused[0].value("code", ""), "PERMISSION_DENIED") << r;

  // The helpdesk finds the team by the national number however it is
  // written, with the key file at its default place.
  r = Cli("helpdesk", {"team", "find", "--national-number", "41030212320"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "team " + team + "  open")) << r;
  EXPECT_TRUE(Contains(r.out, "coordinator: Dr Luc Martin (" + gp + ")")) << r;
  r = Cli("helpdesk", {"--json", "team", "find", "--national-number", "41 03 02 123 20"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto found = JsonLines(r);
  ASSERT_EQ(found.size(), 1u) << r;
  EXPECT_EQ(found[0].value("team_id", ""), team) << r;
  EXPECT_EQ(found[0].value("key_version", ""), "2026-1") << r;
  EXPECT_EQ(found[0].value("coordinator_account_id", ""), gp) << r;
  // Another (valid) number finds nothing.
  r = Cli("helpdesk", {"team", "find", "--national-number", "85.07.30-033.28"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "no team found")) << r;
  EXPECT_FALSE(Contains(r.out, team)) << r;
  // A professional with the same key file is refused by the server.
  r = Cli("nurse", {"team", "find", "--national-number", niss});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only accounts with the helpdesk or case-manager function")) << r;
  EXPECT_FALSE(Contains(r.out, team)) << r;

  // The GP removes the social worker: cut off from what is sent next.
  r = Cli("gp", {"team", "remove", t8, social.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "removed Sarah Claes from team " + team)) << r;
  const std::string after_text = "New care plan from Tuesday";
  r = Cli("gp", {"send", "--team", t8, "--channel", "care", after_text});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("social", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  // (The removed member's device can no longer read the team, so it names
  // the GP without their role.)
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin removed Sarah Claes from the team") ||
              Contains(r.out, "Dr Luc Martin (coordinator) removed Sarah Claes from the team"))
      << r;
  EXPECT_FALSE(Contains(r.out, after_text)) << r;
  r = Cli("social", {"send", "--team", t8, "--channel", "care", "Still here?"});
  EXPECT_EQ(r.exit_code, 1) << r;
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, from_gp + "care: " + after_text)) << r;
  EXPECT_TRUE(Contains(r.out, "removed Sarah Claes from the team")) << r;
  EXPECT_FALSE(Contains(r.out, refused_text)) << r;
  EXPECT_FALSE(Contains(r.out, "Still here?")) << r;
  r = Cli("gp", {"--json", "team", "members", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  members = MembersByAccount(JsonLines(r));
  EXPECT_EQ(members.size(), 3u) << r;
  EXPECT_FALSE(members.count(social)) << r;
  EXPECT_EQ(members[nurse].value("role", ""), "PROFESSIONAL") << r;

  // The audit log has every change, the helpdesk's two lookups (not the
  // failed ones), and its chain checks.
  r = Cli("gp", {"--json", "team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> events;
  for (const auto& j : JsonLines(r)) events.push_back(j.value("event", ""));
  const std::vector<std::string> expected = {
      "created",        "consent_recorded", "blind_index_set", "blind_index_set", "invited",
      "invited",        "invited",          "joined",          "joined",          "joined",
      "found_by_index", "found_by_index",   "removed"};
  EXPECT_EQ(events, expected) << r;
  r = Cli("gp", {"team", "audit", t8, "--verify"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Trim(r.out), "audit log intact (" + std::to_string(expected.size()) + " entries)") << r;
  r = Cli("gp", {"--json", "team", "audit", t8, "--verify"});
  EXPECT_EQ(r.exit_code, 0) << r;
  auto verified = JsonLines(r);
  ASSERT_EQ(verified.size(), 1u) << r;
  EXPECT_EQ(verified[0].value("intact", false), true) << r;
  EXPECT_EQ(verified[0].value("entries", 0), static_cast<int>(expected.size())) << r;

  // Who the patient is never reached the server. (The scan does see what
  // the server stores, e.g. display names given at enrollment.)
  EXPECT_FALSE(FilesContaining(server_->data_dir(), "Sarah Claes").empty());
  for (const std::string& secret : {patient, niss, std::string("41030212320")}) {
    EXPECT_EQ(FilesContaining(server_->data_dir(), secret), std::vector<std::string>{}) << secret;
    EXPECT_FALSE(Contains(server_->log(), secret)) << secret;
  }

  // A channel typed by its name in another language is the same channel.
  r = Cli("gp",
          {"--lang", "fr", "--json", "send", "--team", t8, "--channel", "#Soins", "Kiné mardi"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(JsonLines(r).at(0).value("channel", ""), "care") << r;
  r = Cli("gp", {"send", "--team", t8, "--channel", "kitchen", "?"});
  EXPECT_EQ(r.exit_code, 2) << r;
}

// Documents: shared on #clinical, shown by receive with the command to fetch
// them, fetched with the integrity check, listed; not delivered to a member
// who may not read the channel; each download in the audit log.
// A patient convenes and coordinates their own team from the CLI: they keep
// the patient's role, invite a professional without a consent step, and
// hand over without anyone recording an agreement for them.
TEST_F(CliTest, APatientCoordinatesTheirOwnTeam) {
  std::string patient, gp;
  ASSERT_NO_FATAL_FAILURE(NewAccount("patient", "Jeanne Dubois", "", &patient, "patient"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", &gp));
  Result r = Cli("patient", {"--json", "team", "create"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto created = JsonLines(r);
  ASSERT_EQ(created.size(), 1u) << r;
  const std::string t8 = created[0].value("team_id", "").substr(0, 8);
  EXPECT_EQ(created[0].value("role", ""), "PATIENT") << r;
  EXPECT_TRUE(created[0].value("coordinates", false)) << r;

  r = Cli("patient", {"team", "invite", t8, gp, "--role", "professional"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("gp", {"team", "accept", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("gp", {"team", "members", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "coordinator: Jeanne Dubois")) << r;
  EXPECT_TRUE(Contains(r.out, "Jeanne Dubois (patient), coordinates the team")) << r;

  // She is the patient side: nobody records an agreement for her.
  r = Cli("patient", {"team", "coordinator", t8, gp, "--by", "representative", "--method", "oral"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "they agree to the coordinator themselves")) << r;
  r = Cli("patient", {"team", "coordinator", t8, gp, "--by", "neighbour", "--method", "oral"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "--by takes patient or representative")) << r;
  r = Cli("patient", {"team", "coordinator", t8, gp});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin is now the coordinator")) << r;

  // She erases it (a GDPR request): the content goes, the administrator
  // keeps the content-free audit log and can read it for a legal request.
  r = Cli("patient", {"--json", "team", "erase", t8, "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto erased = JsonLines(r);
  ASSERT_EQ(erased.size(), 1u) << r;
  const std::string team = erased[0].value("team_id", "");
  EXPECT_GE(erased[0].value("audit_entries_kept", 0), 5) << r;
  EXPECT_FALSE(erased[0].value("audit_kept_until", "").empty()) << r;
  r = Cli("gp", {"team", "audit", t8});
  EXPECT_NE(r.exit_code, 0) << "members no longer read it" << r;
  const std::string data_dir = server_->data_dir().string();
  r = RunCommand({CARERELAYD_PATH, "admin", "erased-teams", "--data-dir", data_dir}, Env{},
                 scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, team)) << r;
  EXPECT_TRUE(Contains(r.out, "erased on request")) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "erased-audit", "--data-dir", data_dir, "--team", team},
                 Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "\"intact\": true")) << r;
  EXPECT_TRUE(Contains(r.out, "KIND_ERASED")) << r;
  EXPECT_TRUE(Contains(r.out, "KIND_COORDINATOR_DESIGNATED")) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "erased-audit", "--data-dir", data_dir, "--team",
                  "00112233445566778899aabbccddeeff"},
                 Env{}, scratch_);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "no erased team's audit log is kept")) << r;
}

// Issue 17, item 7: a home-nursing service is on the team once, under a
// role; its roster says which nurses read and act for it. A nurse on duty
// reads the team's messages; taken off the roster, she no longer sees the
// team, and the team's audit log says who changed what.
// Issue 19, items 1 and 4, through the CLI: what each device keeps of the
// team (`team history`, searched; the chat opening on it) and the liaison
// notebook (`notebook add | list | edit`, /note in the chat), the edit
// keeping what the entry said before and refused to anyone but its author.
TEST_F(CliTest, TheTeamKeepsItsHistoryAndItsLiaisonNotebook) {
  std::string gp, nurse, social, t8;
  ASSERT_NO_FATAL_FAILURE(TeamOfGpNurseAndSocialWorker(kPassphrase, &gp, &nurse, &social, &t8));
  Result r = Cli("gp", {"send", "--team", t8, "--channel", "clinical", "Décès du conjoint"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;

  // A notebook entry from the nurse, on #care by default.
  r = Cli("nurse", {"--json", "notebook", "add", t8, "--kind", "visit", "Toilette faite"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string entry = JsonLines(r).at(0).value("entry_id", "");
  ASSERT_EQ(entry.size(), 32u) << r;
  EXPECT_EQ(JsonLines(r).at(0).value("channel", ""), "care") << r;
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "[notebook, visit done, ")) << r;
  EXPECT_TRUE(Contains(r.out, "Toilette faite  (entry " + entry.substr(0, 8) + ")")) << r;

  // Only its author edits it; the GP is refused, the nurse's edit reaches
  // the GP, who sees the latest text and what it said before.
  r = Cli("gp", {"notebook", "edit", t8, entry.substr(0, 8), "Rien fait"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only its author edits a notebook entry")) << r;
  r = Cli("nurse", {"notebook", "edit", t8, entry.substr(0, 8), "Toilette et pansement faits"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "(revision 2)")) << r;
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("gp", {"notebook", "list", t8, "--revisions"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Liaison notebook of team " + t8 + ": 1 entries")) << r;
  EXPECT_TRUE(Contains(r.out,
                       "visit done  #care  Anne Peeters (professional): Toilette et "
                       "pansement faits  (edited "))
      << r;
  EXPECT_TRUE(Contains(r.out, "version 1 (")) << r;
  EXPECT_TRUE(Contains(r.out, "): Toilette faite")) << r;
  r = Cli("gp", {"--lang", "fr", "notebook", "list", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Cahier de liaison de l'équipe " + t8)) << r;
  EXPECT_TRUE(Contains(r.out, "passage effectué")) << r;
  r = Cli("gp", {"notebook", "add", t8, "--kind", "gossip", "x"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "visit, observation, treatment, incident or handover")) << r;

  // The GP's history: its own message, the entry and its edit, searchable
  // without the accents.
  r = Cli("gp", {"team", "history", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "#clinical  you: Décès du conjoint")) << r;
  EXPECT_TRUE(Contains(r.out, "#care  Anne Peeters (professional): [notebook, visit done, ")) << r;
  EXPECT_TRUE(Contains(r.out, "[notebook edited, visit done, ")) << r;
  r = Cli("gp", {"--json", "team", "history", t8, "--search", "deces"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto found = JsonLines(r).at(0)["entries"];
  ASSERT_EQ(found.size(), 1u) << r;
  EXPECT_EQ(found[0].value("text", ""), "Décès du conjoint") << r;
  EXPECT_EQ(found[0].value("channel", ""), "clinical") << r;
  r = Cli("gp", {"team", "history", t8, "--search", "nothing-like-it"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "nothing in this history matches")) << r;

  // The nurse's chat opens on the recent history and takes /note.
  const fs::path err = scratch_ / "chat-history.err";
  Child chat({CARERELAY_CLI_PATH, "--profile", "nurse", "chat", "--team", t8}, CliEnv("nurse"),
             /*stdout_path=*/"", err, /*pipe_stdin=*/true);
  ASSERT_TRUE(chat.started());
  auto why = [&] {
    return "\n--- chat stdout ---\n" + chat.stdout_text() + "--- chat stderr ---\n" + ReadFile(err);
  };
  ASSERT_TRUE(chat.ReadStdoutUntil("--- now ---", kCommandTimeout)) << why();
  EXPECT_TRUE(Contains(chat.stdout_text(), "Dr Luc Martin (coordinator): Décès du conjoint"))
      << why();
  ASSERT_TRUE(chat.WriteStdin("/note handover Insuline 8 UI le soir\n"));
  ASSERT_TRUE(chat.ReadStdoutUntil("(note to the next visitor) added on #team", kCommandTimeout))
      << why();
  ASSERT_TRUE(chat.WriteStdin("/quit\n"));
  EXPECT_TRUE(chat.ReadStdoutUntil("Chat closed.", kCommandTimeout)) << why();
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "[notebook, note to the next visitor, ")) << r;

  // What members who join later receive: the whole pathway by default; the
  // coordinator narrows it, the nurse may not, a typo is a usage error.
  r = Cli("gp", {"team", "history-visibility", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "receive the whole pathway's history")) << r;
  r = Cli("gp", {"team", "history-visibility", t8, "last-days", "30"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "receive the last 30 days of history")) << r;
  r = Cli("nurse", {"team", "history-visibility", t8, "whole-pathway"});
  EXPECT_EQ(r.exit_code, 1) << r;
  r = Cli("gp", {"team", "history-visibility", t8, "sometimes"});
  EXPECT_EQ(r.exit_code, 2) << r;
  r = Cli("gp", {"team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out,
                       "set what members who join later receive of the history: the last "
                       "30 days of history"))
      << r;

  // A document's second version: sent where the first is, the first kept.
  const std::string schema = (scratch_ / "schema.txt").string();
  std::ofstream(schema) << "Bisoprolol 2.5 mg";
  r = Cli("gp", {"--json", "send-file", "--team", t8, "--channel", "clinical", schema});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string first = JsonLines(r).at(0).value("attachment_id", "");
  std::ofstream(schema, std::ios::trunc) << "Bisoprolol 5 mg";
  r = Cli("gp", {"file", "send", "--new-version-of", first, schema});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "version 2 of document " + first)) << r;
  r = Cli("gp", {"file", "send", schema});
  EXPECT_EQ(r.exit_code, 2) << r;
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("nurse", {"files", "--team", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "(version 2; earlier: version 1 " + first + ")")) << r;

  // The coordinator hands the history to a member again (say the first
  // hand-over failed); from anyone else's device nothing goes.
  r = Cli("gp", {"team", "history-handover", t8, social});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "entries of the team's history to " + social.substr(0, 8))) << r;
  r = Cli("nurse", {"team", "history-handover", t8, social});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "nothing was handed over")) << r;
  r = Cli("social", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin (coordinator) handed you the history of")) << r;
  r = Cli("gp", {"team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin handed Sarah Claes the team's history (")) << r;
}

TEST_F(CliTest, AHomeNursingServiceIsOnTheTeamThroughItsRoster) {
  std::string gp, service, anne;
  ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", &gp));
  ASSERT_NO_FATAL_FAILURE(NewAccount("service", "Soins Ixelles", "", &service, "organisation"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("anne", "Anne Peeters", "", &anne));
  Result r = Cli("gp", {"--json", "team", "create"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string t8 = JsonLines(r).at(0).value("team_id", "").substr(0, 8);
  r = Cli("gp", {"team", "consent", t8, "--record", "--by", "patient", "--method", "oral"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("gp", {"team", "invite", t8, service, "--role", "professional"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("service", {"team", "accept", t8});
  ASSERT_EQ(r.exit_code, 0) << r;

  // Anne is not on the roster yet: she cannot go on duty.
  r = Cli("anne", {"roster", "on-duty"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "roster add")) << r;
  r = Cli("service", {"roster", "add", anne});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Roster of Soins Ixelles")) << r;
  EXPECT_TRUE(Contains(r.out, "Anne Peeters  " + anne + "  off duty")) << r;
  r = Cli("anne", {"roster", "on-duty"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Anne Peeters  " + anne + "  on duty")) << r;
  r = Cli("anne", {"--lang", "fr", "roster", "show"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Planning de Soins Ixelles")) << r;
  r = Cli("anne", {"roster", "add", gp});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "not an organisation")) << r;

  r = Cli("gp", {"team", "members", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "on duty for it: Anne Peeters (" + anne.substr(0, 8) + ")")) << r;
  r = Cli("gp", {"send", "--team", t8, "--channel", "clinical", "Wound care at 10"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("anne", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Wound care at 10")) << r;
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin")) << r;
  r = Cli("anne", {"--json", "team", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, t8)) << r;

  r = Cli("service", {"roster", "remove", anne});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("anne", {"--json", "team", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(Contains(r.out, t8)) << "off the roster, the team is not hers to see" << r;
  r = Cli("gp", {"team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "is on duty for Soins Ixelles")) << r;
  EXPECT_TRUE(Contains(r.out, "off the roster of Soins Ixelles")) << r;
}

// Issue 18, item 4: a person without a Belgian or French national number
// (a team profile with a name and a birth date only) is indexed by them and
// found by the helpdesk however the name and the date are written; a match
// by name says to check it, and the team's audit log says how it was found.
TEST_F(CliTest, APersonWithoutANationalNumberIsFoundByNameAndBirthDate) {
  std::string gp, helpdesk;
  ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", &gp));
  ASSERT_NO_FATAL_FAILURE(NewAccount("helpdesk", "Tom Helpdesk", "", &helpdesk, "helpdesk"));
  Result r = Cli("gp", {"--json", "team", "create"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto created = JsonLines(r);
  ASSERT_EQ(created.size(), 1u) << r;
  const std::string team = created[0].value("team_id", "");
  const std::string t8 = team.substr(0, 8);
  r = Cli("gp", {"team", "profile", t8, "--set", "--name", "Amina El Idrissi"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "needs --name and --birth-date")) << r;
  r = Cli("gp", {"team", "profile", t8, "--set", "--name", "Amina El Idrissi", "--birth-date",
                 "1952-11-04"});
  ASSERT_EQ(r.exit_code, 0) << r;

  std::ofstream(home_ / "organisation.key")
      << "2026-1 8f3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a\n";
  fs::permissions(home_ / "organisation.key", fs::perms::owner_read | fs::perms::owner_write);
  r = Cli("gp", {"team", "index", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "registered the name-and-birth-date search index of team " + team))
      << r;
  EXPECT_FALSE(Contains(r.out, "by the national number")) << r;

  // Family name first, capitals, a comma, the date day first: found.
  r = Cli("helpdesk",
          {"team", "find", "--name", "EL IDRISSI, Amina", "--birth-date", "04/11/1952"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "team " + team + "  open")) << r;
  EXPECT_TRUE(Contains(r.out, "coordinator: Dr Luc Martin (" + gp + ")")) << r;
  EXPECT_TRUE(Contains(r.out, "another person may share them")) << r;
  r = Cli("helpdesk",
          {"--json", "team", "find", "--name", "amina el-idrissi", "--birth-date", "1952-11-04"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto found = JsonLines(r);
  ASSERT_EQ(found.size(), 1u) << r;
  EXPECT_EQ(found[0].value("team_id", ""), team) << r;
  EXPECT_EQ(found[0].value("found_by", ""), "name_and_birth_date") << r;
  // Another day, or another person: nothing.
  r = Cli("helpdesk", {"team", "find", "--name", "Amina El Idrissi", "--birth-date", "1952-11-05"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "no team found for this name and birth date")) << r;
  EXPECT_FALSE(Contains(r.out, team)) << r;
  // Bad input: a clear usage error, nothing looked up.
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"team", "find", "--name", "Amina El Idrissi"},
           {"team", "find", "--national-number", "41.03.02-123.20", "--name", "A B", "--birth-date",
            "1952-11-04"},
           {"team", "find", "--name", "Amina 2", "--birth-date", "1952-11-04"},
           {"team", "find", "--name", "Amina El Idrissi", "--birth-date", "31/02/1952"}}) {
    r = Cli("helpdesk", bad);
    EXPECT_EQ(r.exit_code, 2) << r;
  }

  // The team sees that it was looked up, and how.
  r = Cli("gp", {"team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "registered the team's name-and-birth-date search index")) << r;
  EXPECT_TRUE(
      Contains(r.out, Short(helpdesk) + " found the team by the patient's name and birth date"))
      << r;
}

// Issue 18, item 3: the helpdesk loads a region's social map from a CSV
// file as a spreadsheet writes it, anyone finds a resource by need, area and
// language, a bad file is refused whole with its line, importing again
// updates, and the export reads back.
TEST_F(CliTest, TheHelpdeskLoadsASocialMapAndAnyoneFindsAResource) {
  std::string helpdesk, nurse;
  ASSERT_NO_FATAL_FAILURE(NewAccount("helpdesk", "Tom Helpdesk", "", &helpdesk, "helpdesk"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("nurse", "Anne Peeters", "", &nurse));
  const fs::path map = root_.path() / "social-map.csv";
  std::ofstream(map) << "Name;Kind;Needs;Areas;Languages;Phone;Hours;Source_ref\r\n"
                     << "Aide & Soins à Domicile;service;soins à domicile,aide familiale;"
                        "1050,1000;fr,nl;02 647 00 00;Mon-Fri 8-17;BS-1\r\n"
                     << "Thuiszorg Brussel;service;thuiszorg;1000;nl;02 000 00 00;;BS-2\r\n"
                     << "\"Groupe de parole; aidants proches\";activity;soutien aux aidants;"
                        "Ixelles;fr;;;BS-3\r\n";
  Result r = Cli("nurse", {"resource", "import", map.string()});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only accounts with the helpdesk function")) << r;
  r = Cli("helpdesk", {"resource", "import", map.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "imported 3 resources from " + map.string() + ": 3 new, 0 updated"))
      << r;

  r = Cli("nurse", {"resource", "search", "--need", "SOINS A DOMICILE", "--area", "105",
                    "--language", "fr"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out,
                       "Aide & Soins à Domicile (service)  02 647 00 00  Mon-Fri 8-17  "
                       "fr/nl  [1050, 1000]"))
      << r;
  EXPECT_FALSE(Contains(r.out, "Thuiszorg")) << r;
  r = Cli("nurse", {"--lang", "nl", "resource", "search", "--kind", "activity"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Groupe de parole; aidants proches (activiteit)")) << r;
  r = Cli("nurse", {"--json", "resource", "search", "--need", "thuiszorg"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto found = JsonLines(r);
  ASSERT_EQ(found.size(), 1u) << r;
  const std::string thuiszorg = found[0].value("resource_id", "");
  r = Cli("nurse", {"resource", "search", "--need", "dentiste"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "no resource found")) << r;
  r = Cli("nurse", {"resource", "search"});
  EXPECT_EQ(r.exit_code, 2) << r;

  // One bad row: refused with its line, nothing of the file imported.
  const fs::path bad = root_.path() / "bad-map.csv";
  std::ofstream(bad) << "name,kind\nNew service,service\nA shop,shop\n";
  r = Cli("helpdesk", {"resource", "import", bad.string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "line 3: kind \"shop\"")) << r;
  r = Cli("nurse", {"resource", "search", "--need", "new service"});
  EXPECT_TRUE(Contains(r.out, "no resource found")) << r;

  // Edited by hand, then the same map imported again: updated, not doubled.
  r = Cli("helpdesk", {"resource", "edit", thuiszorg, "--hours", "Ma-Vr 9-17"});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("helpdesk", {"resource", "import", map.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "0 new, 3 updated")) << r;
  r = Cli("nurse", {"resource", "show", thuiszorg});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Thuiszorg Brussel (service)  02 000 00 00  nl  [1000]")) << r;

  // The helpdesk answers a call with a resource of the map (by its name,
  // written any way) and one that is not in it: the answer keeps the
  // first's id, and shows its name.
  r = Cli("helpdesk", {"--json", "intake", "open", "--caller", "caregiver", "--urgency", "low",
                       "--category", "access-to-care", "--voicemail"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string call = JsonLines(r).at(0).value("intake_id", "");
  r = Cli("helpdesk", {"--json", "intake", "answer", call, "--oriented", "--resource",
                       "thuiszorg BRUSSEL", "--resource", "la maison medicale du quartier"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto answered = JsonLines(r);
  ASSERT_EQ(answered.size(), 1u) << r;
  EXPECT_EQ(answered[0]["orientation"],
            nlohmann::json({thuiszorg, "la maison medicale du quartier"}))
      << r;
  r = Cli("helpdesk", {"intake", "show", call});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "(Thuiszorg Brussel, la maison medicale du quartier)")) << r;
  r = Cli("helpdesk", {"intake", "answer", call, "--resource", "00112233445566778899aabbccddeeff"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "no resource 00112233445566778899aabbccddeeff")) << r;

  // The export reads back: three rows and the header.
  const fs::path exported = root_.path() / "exported.csv";
  r = Cli("nurse", {"resource", "export", "--output", exported.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "exported 3 resources")) << r;
  std::ifstream in(exported);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(Contains(text.str(), "id,name,kind,needs,address,areas,")) << text.str();
  EXPECT_TRUE(Contains(text.str(), "\"Groupe de parole; aidants proches\",activity")) << text.str();
  r = Cli("helpdesk", {"resource", "remove", thuiszorg});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("nurse", {"resource", "show", thuiszorg});
  EXPECT_EQ(r.exit_code, 1) << r;
}

// Issue 17, item 4: functions, granted at enrollment and by the
// administrator, each change logged.
TEST_F(CliTest, TheAdministratorGivesFunctions) {
  const std::string data_dir = server_->data_dir().string();
  Result r = RunCommand({CARERELAYD_PATH, "admin", "enroll", "--data-dir", data_dir, "--name",
                         "Sophie Lambert", "--kind", "social", "--function", "helpdesk"},
                        Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "(social, helpdesk)")) << r;
  std::string sophie;
  ASSERT_NO_FATAL_FAILURE(Register("sophie", Trim(r.out), "", &sophie));
  r = Cli("sophie", {"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "ACCOUNT_KIND_SOCIAL, FUNCTION_HELPDESK")) << r;

  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir, "--account",
                  sophie, "--grant", "case_manager", "--withdraw", "helpdesk"},
                 Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("sophie", {"--json", "whoami"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(JsonLines(r).at(0)["functions"], nlohmann::json::array({"FUNCTION_CASE_MANAGER"})) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir}, Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  auto listed = JsonLines(r);
  ASSERT_EQ(listed.size(), 1u) << r;
  EXPECT_EQ(listed[0].value("account_id", ""), sophie);
  EXPECT_EQ(listed[0]["changes"].size(), 3u) << "enrollment, grant, withdrawal" << r;
  EXPECT_EQ(listed[0]["changes"][0].value("by", ""), "enrollment") << r;
  EXPECT_EQ(listed[0]["changes"][1].value("by", ""), "administrator") << r;

  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir, "--account",
                  sophie, "--grant", "juggler"},
                 Env{}, scratch_);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "case_manager, helpdesk, helpdesk_supervisor or assessor")) << r;
  r = RunCommand(
      {CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir, "--grant", "assessor"}, Env{},
      scratch_);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "--account")) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir, "--account",
                  sophie, "--kind", "patient"},
                 Env{}, scratch_);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "cannot become a patient account")) << r;

  // The same on a stopped server, on the store itself.
  server_->Stop();
  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir, "--account",
                  sophie, "--grant", "assessor"},
                 Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "FUNCTION_ASSESSOR")) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir}, Env{}, scratch_);
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_EQ(JsonLines(r).size(), 1u) << r;
  EXPECT_EQ(JsonLines(r)[0]["changes"].size(), 4u) << "the grant on the stopped store too" << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "erased-teams", "--data-dir", data_dir}, Env{},
                 scratch_);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.err, "0 erased team(s)")) << r;
  r = RunCommand({CARERELAYD_PATH, "admin", "functions", "--data-dir", data_dir + "-typo"}, Env{},
                 scratch_);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "no data directory")) << r;
}

TEST_F(CliTest, DocumentsAreSharedFetchedAndAudited) {
  std::string gp, nurse, social, t8;
  ASSERT_NO_FATAL_FAILURE(TeamOfGpNurseAndSocialWorker("", &gp, &nurse, &social, &t8));
  Cli("nurse", {"receive"});
  Cli("social", {"receive"});

  std::string letter = "%PDF-1.4\nDischarge letter for the home nurse\n";
  for (int i = 0; i < 20000; ++i) letter += "line " + std::to_string(i) + "\n";
  const std::string pdf = (scratch_ / "discharge letter.pdf").string();
  std::ofstream(pdf, std::ios::binary) << letter;
  Result r = Cli("gp", {"send-file", "--team", t8, "--channel", "clinical", pdf, "--caption",
                        "Cardiology, 21 Nov"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "shared discharge letter.pdf (")) << r;
  EXPECT_TRUE(Contains(r.out, "on #clinical of team " + t8)) << r;
  // A file that is not there, and a channel that does not exist.
  r = Cli("gp", {"send-file", "--team", t8, "--channel", "clinical", "missing.pdf"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "missing.pdf")) << r;
  r = Cli("gp", {"send-file", "--team", t8, "--channel", "gossip", pdf});
  EXPECT_EQ(r.exit_code, 2) << r;

  r = Cli("nurse", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string id;
  for (const auto& j : JsonLines(r)) {
    if (j.value("type", "") == "document") id = j.value("attachment_id", "");
  }
  ASSERT_EQ(id.size(), 32u) << r;
  r = Cli("nurse", {"files"});
  EXPECT_TRUE(Contains(r.out, id + "  discharge letter.pdf")) << r;
  EXPECT_TRUE(Contains(r.out, "#clinical  \"Cardiology, 21 Nov\"")) << r;

  const std::string inbox = (scratch_ / "inbox").string();
  fs::create_directories(inbox);
  r = Cli("nurse", {"get-file", id, "--out", inbox});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "integrity checked")) << r;
  std::ifstream in(scratch_ / "inbox" / "discharge letter.pdf", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), letter);
  r = Cli("nurse", {"get-file", id, "--out", inbox});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "--force")) << r;
  EXPECT_EQ(Cli("nurse", {"get-file", id, "--out", inbox, "--force"}).exit_code, 0);

  // The social worker reads #care, not #clinical: no pointer, no key.
  r = Cli("social", {"receive"});
  EXPECT_FALSE(Contains(r.out, "discharge letter")) << r;
  r = Cli("social", {"get-file", id});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "received no document")) << r;

  r = Cli("gp", {"team", "audit", t8});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(
      Contains(r.out, "Anne Peeters downloaded a document from #clinical (attachment " + id))
      << r;
}

// The helpdesk and urgency commands end to end: the directory (publish,
// search, absence), an intake from a voicemail to resolution through the
// CLI of the helpdesk and of the GP, and an urgent message acknowledged
// with `ack` and followed with `acks`. (Deadlines and reminders need a
// clock that moves: intake_desk_test and urgent_messages_test drive them
// with a fake one.)
TEST_F(CliTest, DirectoryIntakesAndUrgentMessages) {
  std::string gp, nurse, helpdesk, locum, patient;
  ASSERT_NO_FATAL_FAILURE(NewAccount("gp", "Dr Luc Martin", "", &gp));
  ASSERT_NO_FATAL_FAILURE(NewAccount("nurse", "Anne Peeters", "", &nurse));
  ASSERT_NO_FATAL_FAILURE(NewAccount("locum", "Dr Eva Janssens", "", &locum));
  ASSERT_NO_FATAL_FAILURE(NewAccount("helpdesk", "Tom Helpdesk", "", &helpdesk, "helpdesk"));
  ASSERT_NO_FATAL_FAILURE(NewAccount("patient", "Jeanne Dubois", "", &patient, "patient"));

  // The directory: professionals publish themselves; patients cannot.
  Result r = Cli("nurse", {"directory", "publish", "--profession", "home nurse", "--organisation",
                           "Soins Ixelles", "--practice-id", "5-12345-67-890", "--language", "fr",
                           "--language", "nl", "--region", "Ixelles", "--postcode", "1050"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "published: " + nurse)) << r;
  r = Cli("gp",
          {"directory", "publish", "--profession", "general practitioner", "--region", "Ixelles"});
  ASSERT_EQ(r.exit_code, 0) << r;
  // No postcode: the place reads "(Ixelles)", without a stray space.
  r = Cli("helpdesk", {"directory", "show", gp});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Dr Luc Martin, general practitioner (Ixelles)")) << r;
  // In French and Dutch, what the CLI adds is translated; what the
  // professional published is not.
  r = Cli("helpdesk", {"--lang", "fr", "directory", "search", "--region", "105"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out,
                       "Anne Peeters, home nurse, Soins Ixelles (1050 Ixelles)  n° INAMI/RPPS "
                       "5-12345-67-890  fr/nl"))
      << r;
  r = Cli("helpdesk", {"directory", "search", "--name", "nobody-by-this-name"},
          {{"CARERELAY_LANG", "nl"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "niemand gevonden\n") << r;
  r = Cli("patient", {"directory", "publish", "--region", "Ixelles"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "patients and caregivers never are")) << r;
  r = Cli("helpdesk", {"--json", "directory", "search", "--profession", "nurse"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto found = JsonLines(r);
  ASSERT_EQ(found.size(), 1u) << r;
  EXPECT_EQ(found[0].value("account_id", ""), nurse) << r;
  EXPECT_EQ(found[0].value("practice_id", ""), "5-12345-67-890") << r;
  r = Cli("helpdesk", {"directory", "search", "--region", "105"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Anne Peeters, home nurse, Soins Ixelles (1050 Ixelles)")) << r;

  // The GP is away; the locum stands in, and senders see it.
  r = Cli("gp", {"directory", "absence", "--from", "2020-01-01", "--to", "2100-01-01",
                 "--substitute", locum});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "ABSENT until")) << r;
  EXPECT_TRUE(Contains(r.out, "substitute Dr Eva Janssens")) << r;
  r = Cli("nurse",
          {"directory", "absence", "--from", "tomorrow", "--to", "later", "--substitute", gp});
  EXPECT_EQ(r.exit_code, 2) << r;

  // An urgent message: the GP's substitute is named to the sender, the GP
  // sees it marked URGENT and acknowledges it, the sender follows it.
  r = Cli("nurse", {"send", "--urgent", "--to", gp, "INR 6.2 this morning, call me"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "is absent until")) << r;
  std::smatch match;
  const std::string sent_out = r.out;
  ASSERT_TRUE(std::regex_search(sent_out, match, std::regex("carerelay acks ([0-9a-f]{16})"))) << r;
  const std::string urgent_id = match[1];
  r = Cli("nurse", {"acks", urgent_id});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "0 of 1 acknowledged")) << r;
  EXPECT_TRUE(Contains(r.out, "absent, substitute Dr Eva Janssens")) << r;
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "URGENT")) << r;
  EXPECT_TRUE(Contains(r.out, "INR 6.2 this morning, call me")) << r;
  const std::string received = r.out;
  ASSERT_TRUE(std::regex_search(received, match, std::regex("carerelay ack ([0-9a-f]{16})"))) << r;
  r = Cli("gp", {"ack", match[1]});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "urgent message " + urgent_id + " acknowledged")) << r;
  r = Cli("nurse", {"--json", "acks", urgent_id});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto acks = JsonLines(r);
  ASSERT_EQ(acks.size(), 1u) << r;
  ASSERT_EQ(acks[0]["recipients"].size(), 1u) << r;
  EXPECT_TRUE(acks[0]["recipients"][0].value("acknowledged", false)) << r;
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "urgent message " + urgent_id + " acknowledged by " + Short(gp)))
      << r;
  r = Cli("locum", {"acks", urgent_id});
  EXPECT_EQ(r.exit_code, 1) << r;

  // An intake from a voicemail: only the helpdesk opens one.
  r = Cli("nurse",
          {"intake", "open", "--caller", "patient", "--urgency", "high", "--category", "alert"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only accounts with the helpdesk function open intakes")) << r;
  r = Cli("helpdesk",
          {"intake", "open", "--caller", "someone", "--urgency", "high", "--category", "alert"});
  EXPECT_EQ(r.exit_code, 2) << r;
  const std::string notes = "Daughter: mother discharged today, no nurse visit planned";
  r = Cli("helpdesk", {"--json", "intake", "open", "--caller", "caregiver", "--urgency", "high",
                       "--category", "hospital-discharge", "--voicemail", "--notes", notes});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto opened = JsonLines(r);
  ASSERT_EQ(opened.size(), 1u) << r;
  const std::string intake = opened[0].value("intake_id", "");
  ASSERT_EQ(intake.size(), 32u) << r;
  EXPECT_EQ(opened[0].value("state", ""), "new") << r;
  EXPECT_EQ(opened[0].value("source", ""), "voicemail") << r;

  // Routed to the nurse, with the notes (end-to-end encrypted to her).
  r = Cli("helpdesk", {"intake", "route", intake, "--to", nurse, "--notes", notes});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "routed")) << r;
  EXPECT_TRUE(Contains(r.out, "with Anne Peeters")) << r;
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "is routed to you")) << r;
  EXPECT_TRUE(Contains(r.out, notes)) << r;
  r = Cli("nurse", {"--json", "intake", "list", "--mine"});
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_EQ(JsonLines(r).size(), 1u) << r;
  r = Cli("nurse", {"intake", "resolve", intake});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only an accepted intake can be resolved")) << r;
  r = Cli("nurse", {"intake", "accept", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "accepted")) << r;
  r = Cli("nurse", {"intake", "resolve", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  r = Cli("nurse", {"intake", "accept", intake});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "resolved")) << r;
  r = Cli("helpdesk", {"intake", "show", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  for (const char* step : {"opened by", "routed by", "accepted by", "resolved by"}) {
    EXPECT_TRUE(Contains(r.out, step)) << step << r;
  }
  // The history names people, not short ids.
  EXPECT_TRUE(Contains(r.out, "routed by Tom Helpdesk -> Anne Peeters")) << r;
  EXPECT_TRUE(Contains(r.out, "accepted by Anne Peeters")) << r;
  EXPECT_FALSE(Contains(r.out, "by " + Short(nurse))) << r;
  r = Cli("helpdesk", {"--lang", "fr", "intake", "show", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out,
                       "  résolue  urgence élevée  sortie d'hospitalisation  appelant : "
                       "aidant proche (messagerie vocale) confiée à Anne Peeters"))
      << r;
  EXPECT_TRUE(Contains(r.out, "acceptée par Anne Peeters")) << r;
  r = Cli("helpdesk", {"--lang", "nl", "intake", "show", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "aanvaard door Anne Peeters")) << r;
  r = Cli("helpdesk", {"--json", "--lang", "nl", "intake", "show", intake});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "\"state\":\"resolved\"")) << "--json stays English" << r;
  r = Cli("helpdesk", {"intake", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "no intakes")) << r;
  r = Cli("helpdesk", {"--json", "intake", "list", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto all = JsonLines(r);
  ASSERT_EQ(all.size(), 1u) << r;
  EXPECT_EQ(all[0].value("state", ""), "resolved") << r;
  r = Cli("helpdesk", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "is now resolved")) << r;

  // A call the helpdesk returns, then answers itself with the resources it
  // proposed.
  r = Cli("helpdesk", {"--json", "intake", "open", "--caller", "caregiver", "--urgency", "low",
                       "--category", "access-to-care", "--voicemail"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string call = JsonLines(r).at(0).value("intake_id", "");
  r = Cli("helpdesk", {"intake", "callback", call, "--at", "yesterday"});
  EXPECT_EQ(r.exit_code, 2) << r;
  const time_t in_three_hours = time(nullptr) + 3 * 3600;
  struct tm local;
  char later[32];
  ASSERT_TRUE(localtime_r(&in_three_hours, &local) != nullptr);
  ASSERT_GT(strftime(later, sizeof later, "%Y-%m-%d %H:%M", &local), 0u);
  r = Cli("helpdesk", {"intake", "callback", call, "--at", later});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "callback promised for")) << r;
  r = Cli("helpdesk", {"intake", "list", "--callbacks"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, call + "  new")) << r;
  EXPECT_TRUE(Contains(r.out, "call back ")) << r;
  r = Cli("helpdesk", {"intake", "answer", call, "--resource", "home-care Ixelles", "--resource",
                       "CPAS Ixelles"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "closed: answered by the helpdesk")) << r;
  r = Cli("helpdesk", {"--lang", "nl", "intake", "show", call});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "beantwoord door de helpdesk (home-care Ixelles, CPAS Ixelles)"))
      << r;
  EXPECT_TRUE(Contains(r.out, "terugbellen beloofd")) << r;
  r = Cli("helpdesk", {"--json", "intake", "show", call});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(JsonLines(r).at(0).value("outcome", ""), "answered") << r;

  // The line's report, as a spreadsheet takes it: this test's two calls,
  // one routed, one answered.
  const time_t a_day_ago = time(nullptr) - 24 * 3600;
  char since[32];
  ASSERT_TRUE(localtime_r(&a_day_ago, &local) != nullptr);
  ASSERT_GT(strftime(since, sizeof since, "%Y-%m-%d %H:%M", &local), 0u);
  r = Cli("helpdesk", {"intake", "report", "--from", since, "--to", later, "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "dimension,value,count\nall,intakes,2\n")) << r;
  EXPECT_TRUE(Contains(r.out, "outcome,answered,1\noutcome,routed,1\n")) << r;
  EXPECT_TRUE(Contains(r.out, "\nclosure,2,")) << r;
  r = Cli("helpdesk", {"--lang", "fr", "intake", "report", "--from", since, "--to", later});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "2 demandes ouvertes du")) << r;
  EXPECT_TRUE(Contains(r.out, "  outcome: answered 1 routed 1\n")) << r;
  EXPECT_TRUE(Contains(r.out, "  clôturées : 2 appels, médiane ")) << r;
  r = Cli("nurse", {"intake", "report", "--from", since, "--to", later});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only accounts with the helpdesk or helpdesk_supervisor")) << r;
}

// Case management from the CLI: the helpdesk passes a call to an assessor,
// who names a case manager for a period with the call's notes; the case
// manager hears of it; an evaluation extends it, another ends it. The
// reminder and the missed date need a clock that moves: intake_desk_test.
TEST_F(CliTest, AnAssessorNamesACaseManagerAndEvaluates) {
  const std::string data_dir = server_->data_dir().string();
  auto enroll = [&](const std::string& profile, const std::string& name, const std::string& kind,
                    const std::string& function, std::string* id) {
    Result e = RunCommand({CARERELAYD_PATH, "admin", "enroll", "--data-dir", data_dir, "--name",
                           name, "--kind", kind, "--function", function},
                          Env{}, scratch_);
    ASSERT_EQ(e.exit_code, 0) << e;
    ASSERT_NO_FATAL_FAILURE(Register(profile, Trim(e.out), "", id));
  };
  std::string helpdesk, assessor, cm;
  ASSERT_NO_FATAL_FAILURE(enroll("helpdesk", "Tom Helpdesk", "staff", "helpdesk", &helpdesk));
  ASSERT_NO_FATAL_FAILURE(enroll("assessor", "Sophie Dubois", "social", "assessor", &assessor));
  ASSERT_NO_FATAL_FAILURE(enroll("cm", "Marie Dupont", "professional", "case_manager", &cm));
  Result r = Cli("helpdesk", {"--json", "intake", "open", "--caller", "professional", "--urgency",
                              "normal", "--category", "coordination-request"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string call = JsonLines(r).at(0).value("intake_id", "");
  r = Cli("helpdesk", {"intake", "route", call, "--assessor", cm});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "does not have the assessor function")) << r;
  r = Cli("helpdesk", {"intake", "route", call, "--assessor", assessor});
  ASSERT_EQ(r.exit_code, 0) << r;

  // Either a nominee or "not fitting", and always a reason.
  r = Cli("assessor",
          {"intake", "assess", call, "--nominate", cm, "--not-fitting", "--reason", "both"});
  EXPECT_EQ(r.exit_code, 2) << r;
  r = Cli("assessor", {"intake", "assess", call, "--nominate", cm});
  EXPECT_EQ(r.exit_code, 2) << r;
  const std::string reason = "Unstable situation, no coordination in place";
  r = Cli("assessor", {"intake", "assess", call, "--nominate", cm, "--period-days", "60",
                       "--reason", reason, "--notes", "Lives alone, three admissions since May"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Marie Dupont is the case manager until the evaluation on")) << r;
  EXPECT_TRUE(Contains(r.out, "notes sent end-to-end encrypted")) << r;
  r = Cli("cm", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "you are named case manager on intake " + Short(call))) << r;
  EXPECT_TRUE(Contains(r.out, "Lives alone, three admissions since May")) << r;
  r = Cli("cm", {"intake", "list", "--case-management"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "case management")) << r;
  EXPECT_TRUE(Contains(r.out, "(period 1)")) << r;
  r = Cli("assessor", {"--lang", "fr", "intake", "show", call});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "case manager nommé par Sophie Dubois -> Marie Dupont")) << r;
  EXPECT_TRUE(Contains(r.out, "\"" + reason + "\"")) << r;

  r = Cli("assessor", {"intake", "evaluate", call, "--extend", "--end", "--reason", "both"});
  EXPECT_EQ(r.exit_code, 2) << r;
  r = Cli("cm", {"intake", "evaluate", call, "--end", "--reason", "my own"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "only accounts with the assessor function")) << r;
  r = Cli("assessor", {"intake", "evaluate", call, "--extend", "--period-days", "30", "--reason",
                       "Coordination being set up"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "case management extended, next evaluation")) << r;
  r = Cli("assessor", {"--json", "intake", "evaluate", call, "--end", "--reason",
                       "Stable; the GP coordinates"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto ended = JsonLines(r);
  ASSERT_EQ(ended.size(), 1u) << r;
  EXPECT_EQ(ended[0].value("state", ""), "resolved") << r;
  EXPECT_EQ(ended[0]["case_management"].value("periods", 0), 2) << r;
  EXPECT_EQ(ended[0]["history"].back().value("kind", ""), "ended") << r;
  r = Cli("cm", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "is now resolved (by " + Short(assessor) + ")")) << r;
}

// The command names listed under "Commands:" in an English help text.
std::vector<std::string> SubcommandsInHelp(const std::string& help) {
  std::vector<std::string> names;
  const std::string heading = "\nCommands:\n";
  size_t at = help.find(heading);
  if (at == std::string::npos) return names;
  std::istringstream lines(help.substr(at + heading.size()));
  std::string line;
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

// The words every help shows, in each language.
struct HelpWords {
  std::string lang, usage, example, options;
};
const HelpWords kHelpWords[] = {
    {"en", "Usage:", "Example", "Options:"},
    {"fr", "Utilisation:", "Exemple", "Options:"},
    {"nl", "Gebruik:", "Voorbeeld", "Opties:"},
    {"de", "Aufruf:", "Beispiel", "Optionen:"},
};

// Walks the whole command tree from `carerelay --help`, so a new command is
// checked without anyone adding it here; each command's help is read in
// every language: translated, with its example.
TEST(CliHelpTest, EveryCommandsHelpHasAnExampleInEveryLanguage) {
  ASSERT_NO_FATAL_FAILURE(CheckPrerequisites());
  TempDir dir;
  const Env env{{"CARERELAY_HOME", (dir.path() / "home").string()}};
  const std::regex untranslated_key(R"(\bhelp\.[a-z_]+\.)");
  std::vector<std::vector<std::string>> pending = {{}};
  std::set<std::string> seen;
  while (!pending.empty()) {
    std::vector<std::string> command = pending.back();
    pending.pop_back();
    std::string english;
    for (const HelpWords& words : kHelpWords) {
      std::vector<std::string> argv{CARERELAY_CLI_PATH, "--lang", words.lang};
      argv.insert(argv.end(), command.begin(), command.end());
      argv.push_back("--help");
      Result r = RunCommand(argv, env, dir.path());
      EXPECT_EQ(r.exit_code, 0) << r;
      EXPECT_TRUE(Contains(r.out, words.usage)) << r;
      EXPECT_TRUE(Contains(r.out, words.example)) << r;
      EXPECT_TRUE(Contains(r.out, words.options)) << r;
      EXPECT_FALSE(std::regex_search(r.out, untranslated_key)) << "a key without text" << r;
      if (words.lang == "en") {
        english = r.out;
        for (const std::string& sub : SubcommandsInHelp(r.out)) {
          std::vector<std::string> longer = command;
          longer.push_back(sub);
          pending.push_back(longer);
        }
      } else {
        EXPECT_NE(r.out, english) << words.lang << " help is the English one" << r;
        EXPECT_FALSE(Contains(r.out, "Print this help")) << r;
      }
    }
    EXPECT_FALSE(fs::exists(dir.path() / "home")) << "--help must not create profiles";
    std::string name;
    for (const std::string& word : command) name += (name.empty() ? "" : " ") + word;
    seen.insert(name);
  }
  // The walk reached the leaves of every noun.
  for (const char* command : {"account register", "message send", "message acks", "file get",
                              "contact trust", "profile list", "device revoke", "team audit",
                              "intake list", "directory absence", "resource import", "chat"}) {
    EXPECT_TRUE(seen.count(command)) << command << " was not reached from carerelay --help";
  }
  // Without --lang, the environment decides.
  Result r =
      RunCommand({CARERELAY_CLI_PATH, "team", "--help"},
                 Env{{"CARERELAY_HOME", (dir.path() / "home").string()}, {"CARERELAY_LANG", "nl"}},
                 dir.path());
  EXPECT_TRUE(Contains(r.out, "Gebruik:")) << r;
}

// A command line that does not parse is refused (2) in the person's
// language, naming what was typed; --json keeps it English for scripts.
TEST(CliHelpTest, ParseErrorsSpeakThePersonsLanguage) {
  ASSERT_NO_FATAL_FAILURE(CheckPrerequisites());
  TempDir dir;
  const Env env{{"CARERELAY_HOME", (dir.path() / "home").string()}};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CARERELAY_CLI_PATH);
    return RunCommand(args, env, dir.path());
  };
  Result r = run({"--lang", "fr", "team", "invite", "5f0c1a2b", "3f2ab0c1"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "erreur : --role est obligatoire")) << r;
  EXPECT_TRUE(Contains(r.err, "--help")) << r;
  r = run({"--lang", "nl", "device", "revoke", "two"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "two")) << r;
  EXPECT_TRUE(Contains(r.err, "device_id")) << r;
  EXPECT_FALSE(Contains(r.err, "not a valid value")) << r;
  r = run({"--lang", "de", "message", "receive", "--follow", "later"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "later")) << r;
  EXPECT_FALSE(Contains(r.err, "not expected")) << r;
  r = run({"--lang", "fr", "team"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_FALSE(Contains(r.err, "command is missing")) << r;
  // --json: one English JSON object on stdout, as every other error.
  r = run({"--lang", "fr", "--json", "team", "invite", "5f0c1a2b", "3f2ab0c1"});
  EXPECT_EQ(r.exit_code, 2) << r;
  auto j = JsonLines(r);
  ASSERT_EQ(j.size(), 1u) << r;
  EXPECT_EQ(j[0].value("error", ""), "--role is required") << r;
  EXPECT_EQ(j[0].value("code", ""), "INVALID_ARGUMENT") << r;
  // A language without a catalog is refused, in English.
  r = run({"--lang", "it", "team", "list"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(Contains(r.err, "en, fr, nl and de")) << r;
}

// A shortcut is the NOUN VERB it stands for: same help, same result.
TEST(CliHelpTest, ShortcutsAreTheirNounVerb) {
  ASSERT_NO_FATAL_FAILURE(CheckPrerequisites());
  TempDir dir;
  Env env{{"CARERELAY_HOME", (dir.path() / "home").string()}};
  for (const auto& [shortcut, full] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"send", {"message", "send"}},
           {"ack", {"message", "ack"}},
           {"send-file", {"file", "send"}},
           {"files", {"file", "list"}},
           {"whoami", {"account", "show"}},
           {"trust", {"contact", "trust"}}}) {
    Result by_shortcut = RunCommand({CARERELAY_CLI_PATH, "--profile", "nobody", shortcut, "--help"},
                                    env, dir.path());
    std::vector<std::string> argv{CARERELAY_CLI_PATH, "--profile", "nobody"};
    argv.insert(argv.end(), full.begin(), full.end());
    argv.push_back("--help");
    Result by_name = RunCommand(argv, env, dir.path());
    EXPECT_EQ(by_shortcut.exit_code, 0) << by_shortcut;
    EXPECT_EQ(by_shortcut.out, by_name.out) << shortcut;
  }
  // Without a profile, the shortcut and the full command fail the same way
  // (exit 3, what to run next).
  Result shortcut =
      RunCommand({CARERELAY_CLI_PATH, "--profile", "nobody", "files"}, env, dir.path());
  Result full =
      RunCommand({CARERELAY_CLI_PATH, "--profile", "nobody", "file", "list"}, env, dir.path());
  EXPECT_EQ(shortcut.exit_code, 3) << shortcut;
  EXPECT_EQ(full.exit_code, 3) << full;
  EXPECT_EQ(shortcut.err, full.err);
}

// Waits until the file at `path` holds `needle` (true) or `timeout` passes.
bool FileEventuallyContains(const fs::path& path, const std::string& needle,
                            Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (Contains(ReadFile(path), needle)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// `carerelay chat` as a person uses it, through a pipe for its stdin: the
// home nurse keeps the team's conversation open while the GP writes (a
// plain and an urgent message); she replies, shares a document, acknowledges
// the urgent message, sends her own urgent one and sees it acknowledged,
// is refused a channel her role may not post on, and leaves with /quit. The
// social worker's chat shows the refusal of #clinical and ends cleanly on
// Ctrl-C, and a chat whose input ends leaves on its own.
TEST_F(CliTest, ChatShowsLiveMessagesAndSendsRepliesFilesAndAcknowledgements) {
  std::string gp, nurse, social, t8;
  ASSERT_NO_FATAL_FAILURE(TeamOfGpNurseAndSocialWorker(kPassphrase, &gp, &nurse, &social, &t8));

  // The nurse opens the chat: #team first (the first channel she may post
  // on), then #clinical.
  const fs::path err = scratch_ / "chat-nurse.err";
  Child chat({CARERELAY_CLI_PATH, "--profile", "nurse", "chat", "--team", t8}, CliEnv("nurse"),
             /*stdout_path=*/"", err, /*pipe_stdin=*/true);
  ASSERT_TRUE(chat.started());
  auto seen = [&](const std::string& needle) {
    return chat.ReadStdoutUntil(needle, kCommandTimeout);
  };
  auto why = [&] {
    return "\n--- chat stdout ---\n" + chat.stdout_text() + "--- chat stderr ---\n" + ReadFile(err);
  };
  ASSERT_TRUE(seen("you write on #team")) << why();
  EXPECT_TRUE(Contains(chat.stdout_text(), "as Anne Peeters (professional)")) << why();
  ASSERT_TRUE(chat.WriteStdin("/channel clinical\n"));
  ASSERT_TRUE(seen("You now write on #clinical.")) << why();

  // The GP writes: a plain message, then an urgent one; both show live with
  // the GP's name and role, the urgent one marked and numbered for /ack.
  Result r = Cli("gp", {"send", "--team", t8, "--channel", "clinical", "BP 150/90, keep the dose"});
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_TRUE(seen("BP 150/90, keep the dose")) << why();
  EXPECT_TRUE(std::regex_search(
      chat.stdout_text(),
      std::regex(R"(\[\d+\] \S+ \S+ #clinical  Dr Luc Martin \(coordinator\): BP 150/90)")))
      << why();
  r = Cli("gp", {"--json", "send", "--urgent", "--team", t8, "--channel", "clinical",
                 "INR 6.2 this morning, call me"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string urgent_id = JsonLines(r).at(0).value("urgent_message_id", "");
  ASSERT_FALSE(urgent_id.empty()) << r;
  ASSERT_TRUE(seen("INR 6.2 this morning, call me")) << why();
  std::smatch match;
  const std::string shown = chat.stdout_text();
  ASSERT_TRUE(std::regex_search(
      shown, match,
      std::regex(R"(#clinical  URGENT  Dr Luc Martin \(coordinator\): INR 6\.2 this morning, )"
                 R"(call me  \(acknowledge with /ack (\d+)\))")))
      << why();
  const std::string urgent_n = match[1];

  // She replies; the GP receives it from her, by name and role, and her
  // chat shows, live, that the GP's device stored it.
  ASSERT_TRUE(chat.WriteStdin("Calling you in 5 minutes\n"));
  ASSERT_TRUE(seen("sent to #clinical")) << why();
  const std::string replied = chat.stdout_text();
  ASSERT_TRUE(std::regex_search(replied, match, std::regex(R"(\[(\d+)\] sent to #clinical)")))
      << why();
  const std::string reply_n = match[1];
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(r.out, "Anne Peeters (professional) in team " + t8)) << r;
  EXPECT_TRUE(Contains(r.out, "#clinical: Calling you in 5 minutes")) << r;
  ASSERT_TRUE(seen("[" + reply_n + "] delivered to Dr Luc Martin (device 1)")) << why();

  // A document, with /file; the GP fetches it and gets the same bytes.
  std::string letter = "Wound care plan, week 1\n";
  for (int i = 0; i < 5000; ++i) letter += "day " + std::to_string(i) + ": clean, dress\n";
  const fs::path plan = scratch_ / "wound-care.txt";
  std::ofstream(plan, std::ios::binary) << letter;
  ASSERT_TRUE(chat.WriteStdin("/file " + plan.string() + "\n"));
  ASSERT_TRUE(seen("shared wound-care.txt (")) << why();
  r = Cli("gp", {"--json", "receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string attachment;
  for (const auto& j : JsonLines(r)) {
    if (j.value("type", "") == "document") attachment = j.value("attachment_id", "");
  }
  ASSERT_EQ(attachment.size(), 32u) << r;
  const fs::path inbox = scratch_ / "gp-inbox";
  fs::create_directories(inbox);
  r = Cli("gp", {"get-file", attachment, "--out", inbox.string()});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(ReadFile(inbox / "wound-care.txt"), letter);

  // She acknowledges the urgent message by its number; the GP sees it.
  ASSERT_TRUE(chat.WriteStdin("/ack " + urgent_n + "\n"));
  ASSERT_TRUE(seen("acknowledged; the sender is told")) << why();
  r = Cli("gp", {"--json", "acks", urgent_id});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto acks = JsonLines(r);
  ASSERT_EQ(acks.size(), 1u) << r;
  bool nurse_acknowledged = false;
  for (const auto& recipient : acks[0]["recipients"]) {
    if (recipient.value("account_id", "") == nurse) {
      nurse_acknowledged = recipient.value("acknowledged", false);
    }
  }
  EXPECT_TRUE(nurse_acknowledged) << r;

  // Her own urgent message: the GP's acknowledgement shows as it arrives.
  ASSERT_TRUE(chat.WriteStdin("/urgent Please confirm the 8:30 visit\n"));
  ASSERT_TRUE(seen("sent URGENT to #clinical")) << why();
  const std::string sent_out = chat.stdout_text();
  ASSERT_TRUE(
      std::regex_search(sent_out, match, std::regex(R"(\[(\d+)\] sent URGENT to #clinical)")))
      << why();
  const std::string own_n = match[1];
  r = Cli("gp", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string gp_out = r.out;
  ASSERT_TRUE(std::regex_search(gp_out, match, std::regex("carerelay ack ([0-9a-f]{16})"))) << r;
  ASSERT_EQ(Cli("gp", {"ack", match[1]}).exit_code, 0);
  ASSERT_TRUE(seen("Dr Luc Martin acknowledged your urgent message [" + own_n + "]")) << why();
  ASSERT_TRUE(chat.WriteStdin("/acks " + own_n + "\n"));
  ASSERT_TRUE(seen("1 of 1 acknowledged")) << why();

  // A channel her role may not post on: a clear error, and she stays on
  // #clinical.
  ASSERT_TRUE(chat.WriteStdin("/channel intake\n/members\n"));
  ASSERT_TRUE(seen("Sarah Claes (social worker)")) << why();
  EXPECT_TRUE(FileEventuallyContains(
      err, "your role (professional) may not post on #intake; you may post on:", kCommandTimeout))
      << why();
  EXPECT_FALSE(Contains(chat.stdout_text(), "You now write on #intake")) << why();

  ASSERT_TRUE(chat.WriteStdin("/quit\n"));
  std::optional<int> status = chat.Wait(kCommandTimeout);
  ASSERT_TRUE(status.has_value()) << "chat did not end on /quit" << why();
  chat.DrainStdout();
  ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status << why();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << why();
  EXPECT_TRUE(Contains(chat.stdout_text(), "Chat closed.")) << why();

  // The social worker may not post on #clinical: refused at the start, and
  // by /channel; Ctrl-C ends her chat cleanly.
  r = Cli("social", {"chat", "--team", t8, "--channel", "clinical"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(Contains(r.err, "your role (social worker) may not post on #clinical")) << r;
  const fs::path social_err = scratch_ / "chat-social.err";
  Child social_chat({CARERELAY_CLI_PATH, "--profile", "social", "chat", "--team", t8},
                    CliEnv("social"), /*stdout_path=*/"", social_err, /*pipe_stdin=*/true);
  ASSERT_TRUE(social_chat.ReadStdoutUntil("you write on #team", kCommandTimeout))
      << social_chat.stdout_text() << ReadFile(social_err);
  ASSERT_TRUE(social_chat.WriteStdin("/channel clinical\n"));
  EXPECT_TRUE(FileEventuallyContains(
      social_err,
      "your role (social worker) may not post on #clinical; you may post on: #team #care",
      kCommandTimeout))
      << ReadFile(social_err);
  social_chat.Signal(SIGINT);
  status = social_chat.Wait(kCommandTimeout);
  ASSERT_TRUE(status.has_value()) << "chat ignored SIGINT" << ReadFile(social_err);
  ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status << ReadFile(social_err);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << ReadFile(social_err);

  // The end of input (Ctrl-D) leaves too.
  Child ended({CARERELAY_CLI_PATH, "--profile", "social", "chat", "--team", t8}, CliEnv("social"),
              /*stdout_path=*/"", social_err, /*pipe_stdin=*/true);
  ended.CloseStdin();
  status = ended.Wait(kCommandTimeout);
  ASSERT_TRUE(status.has_value()) << "chat did not end with its input" << ReadFile(social_err);
  ended.DrainStdout();
  ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0) << ReadFile(social_err);
  EXPECT_TRUE(Contains(ended.stdout_text(), "Chat closed.")) << ended.stdout_text();

  // For scripts: --json makes every event one JSON object per line, and the
  // input is read the same way (lines typed ahead are handled in order).
  Child json_chat({CARERELAY_CLI_PATH, "--profile", "gp", "--json", "chat", "--team", t8,
                   "--channel", "clinical"},
                  CliEnv("gp"), /*stdout_path=*/"", scratch_ / "chat-gp.err",
                  /*pipe_stdin=*/true);
  ASSERT_TRUE(json_chat.WriteStdin("Noted, see you at 8:30\n/channel gossip\n/quit\n"));
  // Read while it runs, so a full pipe never blocks it.
  EXPECT_TRUE(json_chat.ReadStdoutUntil("\"bye\"", kCommandTimeout)) << json_chat.stdout_text();
  status = json_chat.Wait(kCommandTimeout);
  ASSERT_TRUE(status.has_value()) << ReadFile(scratch_ / "chat-gp.err");
  json_chat.DrainStdout();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << json_chat.stdout_text() << ReadFile(scratch_ / "chat-gp.err");
  std::vector<std::string> events;
  for (const auto& line : Lines(json_chat.stdout_text())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object() && j.contains("event")) << line;
    events.push_back(j["event"].get<std::string>());
    if (events.back() == "sent") {
      EXPECT_EQ(j.value("channel", ""), "clinical") << line;
    }
    if (events.back() == "error") {
      EXPECT_TRUE(Contains(j.value("error", ""), "gossip")) << line;
    }
  }
  for (const char* event : {"ready", "sent", "error", "bye"}) {
    EXPECT_NE(std::find(events.begin(), events.end(), event), events.end())
        << event << "\n"
        << json_chat.stdout_text();
  }
  r = Cli("nurse", {"receive"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(Contains(
      r.out, "Dr Luc Martin (coordinator) in team " + t8 + " #clinical: Noted, see you at 8:30"))
      << r;
}

}  // namespace

// --json output stays valid JSON when what a person typed is not UTF-8 (the
// bytes are replaced), rather than the CLI aborting.
TEST(CliHelpTest, JsonErrorsSurviveBytesThatAreNotUtf8) {
  ASSERT_NO_FATAL_FAILURE(CheckPrerequisites());
  TempDir dir;
  Env env{{"CARERELAY_HOME", (dir.path() / "home").string()}};
  Result r = RunCommand({CARERELAY_CLI_PATH, "--json", "--lang", "\xe9x", "profile", "list"}, env,
                        dir.path());
  EXPECT_EQ(r.exit_code, 2) << r;
  nlohmann::json j = nlohmann::json::parse(Lines(r.out).at(0), nullptr, false);
  ASSERT_TRUE(j.is_object()) << r;
  EXPECT_EQ(j.value("code", ""), "INVALID_ARGUMENT") << r;
  EXPECT_TRUE(Contains(j.value("error", ""), "\xef\xbf\xbdx")) << r;
}
