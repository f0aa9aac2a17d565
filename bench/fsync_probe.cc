// carerelay-fsync-probe: how long fdatasync takes on the file system of a
// directory, measured the way a write-ahead log uses it: append a block of
// --bytes (4 KiB), then fdatasync, again and again, back to back or at
// --rate syncs per second, for --seconds (or until SIGINT/SIGTERM).
// --mode overwrite writes into a file filled beforehand instead of growing
// it (what RocksDB's WAL recycling does: no file size to sync).
//
// carerelay-bench runs it beside the server during each measured window, on
// the server's data directory, so that every run reports the disk's sync
// time under the same conditions. It prints one JSON object with --json.
//
//   carerelay-fsync-probe --dir DATA_DIR                 # back to back, 5 s
//   carerelay-fsync-probe --dir DATA_DIR --rate 20 --seconds 30 --json
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_support.h"

namespace carerelay::bench {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

struct ProbeOptions {
  std::string dir;
  double seconds = 5;
  double rate = 0;  // syncs/s; 0: back to back
  size_t bytes = 4096;
  std::string mode = "append";
  size_t overwrite_mib = 64;
  bool json = false;
};

int64_t NowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

void SleepUntilNs(int64_t ns) {
  timespec t{};
  t.tv_sec = ns / 1000000000;
  t.tv_nsec = ns % 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR && !g_stop) {
  }
}

// The file system type of `dir`, by statfs magic number.
std::string FileSystemName(const std::string& dir) {
  struct statfs s {};
  if (statfs(dir.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    case 0xF2F52010:
      return "f2fs";
    default:
      return absl::StrFormat("0x%x", static_cast<unsigned long>(s.f_type));
  }
}

// The probe's file: created in `dir`, unlinked at once (nothing is left
// behind, even on a kill), closed when destroyed.
class ProbeFile {
 public:
  explicit ProbeFile(const std::string& dir) {
    std::string pattern = dir + "/carerelay-fsync-probe-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    fd_ = mkstemp(buf.data());
    if (fd_ >= 0) unlink(buf.data());
  }
  ~ProbeFile() {
    if (fd_ >= 0) close(fd_);
  }
  ProbeFile(const ProbeFile&) = delete;
  ProbeFile& operator=(const ProbeFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

nlohmann::json Stats(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  return {{"p50", Percentile(ms, 50)},           {"p90", Percentile(ms, 90)},
          {"p99", Percentile(ms, 99)},           {"p99_9", Percentile(ms, 99.9)},
          {"max", ms.empty() ? 0.0 : ms.back()}, {"mean", ms.empty() ? 0.0 : sum / ms.size()}};
}

int Run(const ProbeOptions& o) {
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  ProbeFile file(o.dir);
  if (file.fd() < 0) {
    std::cerr << "carerelay-fsync-probe: cannot create a file in " << o.dir << ": "
              << std::strerror(errno) << "\n";
    return 2;
  }
  std::string block(o.bytes, '\0');
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + 7);
  const bool overwrite = o.mode == "overwrite";
  const off_t span = static_cast<off_t>(o.overwrite_mib) << 20;
  if (overwrite) {
    // Fill and sync the file once: later writes change no file size.
    for (off_t at = 0; at < span; at += static_cast<off_t>(block.size())) {
      if (pwrite(file.fd(), block.data(), block.size(), at) < 0) {
        std::cerr << "carerelay-fsync-probe: write: " << std::strerror(errno) << "\n";
        return 2;
      }
    }
    fsync(file.fd());
  }
  // A growing file is cut back now and then so that a long run does not
  // fill the disk; the cut is not timed.
  const off_t append_limit = off_t{256} << 20;
  std::vector<double> sync_ms, write_sync_ms;
  const int64_t start = NowNs();
  const int64_t end = start + static_cast<int64_t>(o.seconds * 1e9);
  off_t offset = 0;
  int64_t due = start;
  int errors = 0;
  std::string first_error;
  while (!g_stop) {
    if (o.rate > 0) {
      if (due >= end) break;
      SleepUntilNs(due);
      due += static_cast<int64_t>(1e9 / o.rate);
      if (g_stop) break;
    } else if (NowNs() >= end) {
      break;
    }
    if (overwrite && offset + static_cast<off_t>(block.size()) > span) offset = 0;
    if (!overwrite && offset >= append_limit) {
      if (ftruncate(file.fd(), 0) == 0) fsync(file.fd());
      offset = 0;
    }
    const int64_t t0 = NowNs();
    ssize_t w = pwrite(file.fd(), block.data(), block.size(), offset);
    const int64_t t1 = NowNs();
    int rc = w < 0 ? -1 : fdatasync(file.fd());
    const int64_t t2 = NowNs();
    if (w < 0 || rc != 0) {
      if (errors++ == 0) first_error = std::strerror(errno);
      continue;
    }
    offset += static_cast<off_t>(block.size());
    sync_ms.push_back((t2 - t1) / 1e6);
    write_sync_ms.push_back((t2 - t0) / 1e6);
  }
  const double elapsed = (NowNs() - start) / 1e9;
  nlohmann::json out = {{"dir", o.dir},
                        {"filesystem", FileSystemName(o.dir)},
                        {"mode", o.mode},
                        {"bytes", o.bytes},
                        {"rate", o.rate},
                        {"seconds", elapsed},
                        {"syncs", sync_ms.size()},
                        {"errors", errors},
                        {"first_error", first_error},
                        {"fdatasync_ms", Stats(sync_ms)},
                        {"write_and_fdatasync_ms", Stats(write_sync_ms)}};
  if (o.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%zu x (%zu-byte %s + fdatasync) on %s (%s) in %.1f s: fdatasync p50 %.2f ms, p90 "
        "%.2f ms, p99 %.2f ms, max %.2f ms%s\n",
        sync_ms.size(), o.bytes, overwrite ? "overwrite" : "append", o.dir,
        out["filesystem"].get<std::string>(), elapsed, out["fdatasync_ms"]["p50"].get<double>(),
        out["fdatasync_ms"]["p90"].get<double>(), out["fdatasync_ms"]["p99"].get<double>(),
        out["fdatasync_ms"]["max"].get<double>(),
        errors ? absl::StrFormat("; %d errors (%s)", errors, first_error) : "");
  }
  return sync_ms.empty() ? 1 : 0;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  carerelay::bench::ProbeOptions o;
  CLI::App app{
      "carerelay-fsync-probe: fdatasync latency of a directory's file system, measured as a "
      "write-ahead log uses it (append a block, fdatasync, repeat)"};
  app.add_option("--dir", o.dir,
                 "Directory on the file system to measure (a file is created "
                 "there and removed)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--seconds", o.seconds, "How long (SIGINT or SIGTERM end it earlier)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rate", o.rate, "Syncs per second (0: back to back)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--bytes", o.bytes, "Bytes written before each fdatasync")
      ->check(CLI::Range(1, 16 << 20))
      ->capture_default_str();
  app.add_option("--mode", o.mode,
                 "append: a growing file (a new WAL); overwrite: a file filled beforehand "
                 "(a recycled WAL)")
      ->check(CLI::IsMember({"append", "overwrite"}))
      ->capture_default_str();
  app.add_option("--overwrite-mib", o.overwrite_mib,
                 "Size of the file --mode overwrite cycles "
                 "through")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_flag("--json", o.json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  return carerelay::bench::Run(o);
}
