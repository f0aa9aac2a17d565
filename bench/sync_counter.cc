#include "bench/sync_counter.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace carerelay::bench {
namespace {

constexpr char kFdatasync[] = "syscalls:sys_enter_fdatasync";
constexpr char kFsync[] = "syscalls:sys_enter_fsync";

// Opens a FIFO without blocking on its other end (O_RDWR never waits).
int OpenFifo(const std::string& path) {
  unlink(path.c_str());
  if (mkfifo(path.c_str(), 0600) != 0) return -1;
  return open(path.c_str(), O_RDWR | O_CLOEXEC);
}

// perf stat -x, lines: "COUNT,UNIT,EVENT,..." (COUNT may be "<not counted>").
absl::StatusOr<SyncCounts> ParsePerfOutput(const std::string& text) {
  SyncCounts counts;
  bool fdatasync_seen = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() < 3) continue;
    uint64_t n = 0;
    const bool counted = absl::SimpleAtoi(absl::StripAsciiWhitespace(f[0]), &n);
    if (f[2] == kFdatasync) {
      if (!counted) return absl::UnavailableError("perf did not count fdatasync: " + line);
      counts.fdatasync = n;
      fdatasync_seen = true;
    } else if (f[2] == kFsync && counted) {
      counts.fsync = n;
    }
  }
  if (!fdatasync_seen) return absl::UnavailableError("no fdatasync count in perf's output");
  return counts;
}

}  // namespace

SyncCounter::SyncCounter(std::unique_ptr<ChildProcess> perf, int control_fd, int ack_fd,
                         std::string output_path, std::string control_path, std::string ack_path)
    : perf_(std::move(perf)),
      control_fd_(control_fd),
      ack_fd_(ack_fd),
      output_path_(std::move(output_path)),
      control_path_(std::move(control_path)),
      ack_path_(std::move(ack_path)) {}

SyncCounter::~SyncCounter() {
  if (perf_) perf_->Stop(SIGINT, absl::Seconds(5));
  if (control_fd_ >= 0) close(control_fd_);
  if (ack_fd_ >= 0) close(ack_fd_);
  unlink(control_path_.c_str());
  unlink(ack_path_.c_str());
}

absl::StatusOr<std::unique_ptr<SyncCounter>> SyncCounter::Attach(const std::string& perf_binary,
                                                                 pid_t pid,
                                                                 const std::string& scratch_dir) {
  static int instance = 0;
  const std::string base = absl::StrCat(scratch_dir, "/perf-", pid, "-", instance++);
  const std::string control_path = base + ".ctl";
  const std::string ack_path = base + ".ack";
  const std::string output_path = base + ".out";
  int control_fd = OpenFifo(control_path);
  int ack_fd = OpenFifo(ack_path);
  if (control_fd < 0 || ack_fd < 0) {
    if (control_fd >= 0) close(control_fd);
    if (ack_fd >= 0) close(ack_fd);
    return absl::UnavailableError(absl::StrCat("cannot make perf's control FIFOs in ", scratch_dir,
                                               ": ", std::strerror(errno)));
  }
  auto perf = ChildProcess::Start(
      {perf_binary, "stat", "-x", ",", "-D", "-1", "--control",
       absl::StrCat("fifo:", control_path, ",", ack_path), "-e",
       absl::StrCat(kFdatasync, ",", kFsync), "-p", absl::StrCat(pid), "-o", output_path},
      base + ".log");
  std::unique_ptr<SyncCounter> counter;
  if (perf.ok()) {
    counter = std::unique_ptr<SyncCounter>(
        new SyncCounter(*std::move(perf), control_fd, ack_fd, output_path, control_path, ack_path));
  } else {
    close(control_fd);
    close(ack_fd);
    return absl::UnavailableError(perf.status().message());
  }
  // Events start disabled (-D -1); an acknowledged "disable" says perf is
  // attached and listening.
  absl::Status ready = counter->Command("disable");
  if (!ready.ok()) {
    std::string log = counter->perf_->Output();
    return absl::UnavailableError(absl::StrCat("perf stat did not start (", ready.message(), ")",
                                               log.empty() ? "" : ": " + log));
  }
  return counter;
}

absl::Status SyncCounter::Command(const std::string& command) {
  const std::string line = command + "\n";
  if (write(control_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return absl::UnavailableError(absl::StrCat("writing to perf: ", std::strerror(errno)));
  }
  // perf answers "ack\n"; 5 s covers a slow start on a loaded machine.
  std::string got;
  for (int waited_ms = 0; got.find('\n') == std::string::npos;) {
    if (auto code = perf_->Poll()) {
      return absl::UnavailableError(absl::StrCat("perf exited with ", *code));
    }
    pollfd p{ack_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char buf[64];
      ssize_t n = read(ack_fd_, buf, sizeof(buf));
      if (n > 0) got.append(buf, n);
    } else if ((waited_ms += 50) >= 5000) {
      return absl::DeadlineExceededError("perf did not acknowledge '" + command + "'");
    }
  }
  return absl::OkStatus();
}

absl::Status SyncCounter::Enable() { return Command("enable"); }
absl::Status SyncCounter::Disable() { return Command("disable"); }

absl::StatusOr<SyncCounts> SyncCounter::Finish() {
  if (!perf_) return absl::FailedPreconditionError("already finished");
  perf_->Stop(SIGINT, absl::Seconds(5));
  perf_.reset();
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  return ParsePerfOutput(text.str());
}

}  // namespace carerelay::bench
