#include "bench/proc_stats.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace carerelay::bench {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Adds the context switches of one /proc/.../status file.
void AddSwitches(const std::string& status_path, ProcessSample* s) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long n = 0;
    if (sscanf(line.c_str(), "voluntary_ctxt_switches: %llu", &n) == 1) {
      s->voluntary_switches += n;
    } else if (sscanf(line.c_str(), "nonvoluntary_ctxt_switches: %llu", &n) == 1) {
      s->involuntary_switches += n;
    }
  }
}

}  // namespace

absl::StatusOr<ProcessSample> ReadProcess(pid_t pid) {
  const std::string base = pid ? absl::StrCat("/proc/", pid) : "/proc/self";
  ProcessSample s;
  const std::string stat = Slurp(base + "/stat");
  // The command name is parenthesised and may hold spaces: fields are
  // counted after the last ')'. State is field 3, utime 14, stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no process ", pid, " (", base, "/stat)"));
  }
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string w; fields.size() < 13 && in >> w;) fields.push_back(w);
  if (fields.size() == 13) {
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / tick;
  }
  std::ifstream status(base + "/status");
  std::string line;
  while (std::getline(status, line)) {
    long kb = 0;
    int threads = 0;
    if (sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1) s.rss_mib = kb / 1024.0;
    if (sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1) s.peak_mib = kb / 1024.0;
    if (sscanf(line.c_str(), "Threads: %d", &threads) == 1) s.threads = threads;
  }
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(base + "/task", ec)) {
    AddSwitches(task.path().string() + "/status", &s);
  }
  return s;
}

LoadAverage ReadLoadAverage() {
  LoadAverage l;
  std::istringstream in(Slurp("/proc/loadavg"));
  in >> l.one >> l.five >> l.fifteen;
  return l;
}

}  // namespace carerelay::bench
