#include "bench/bench_support.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace carerelay::bench {

TempDir::TempDir(absl::string_view prefix, int exit_code) {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base && *base ? base : "/tmp", "/", prefix, "-XXXXXX");
  // mkdtemp rewrites the X's in place, so it needs a writable buffer.
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    perror("mkdtemp");
    exit(exit_code);
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  // Best effort: a leftover scratch directory must not fail a finished run.
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void Check(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

}  // namespace carerelay::bench
