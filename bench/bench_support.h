// bench_support: the small pieces every carerelay benchmark needs and that
// used to be copied from one benchmark's source into the next: a scratch
// directory, the latency statistics the reports print, and the "fail loudly"
// checks of the Google Benchmark micro-benchmarks. Kept free of the server
// and client so that a micro-benchmark linking it builds without them; the
// relay helpers (TLS, a bench server's config, enrollment) are in
// bench/bench_relay.h.
#ifndef CARERELAY_BENCH_BENCH_SUPPORT_H_
#define CARERELAY_BENCH_BENCH_SUPPORT_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::bench {

// A fresh directory $TMPDIR/PREFIX-XXXXXX (/tmp without TMPDIR), removed with
// everything in it when destroyed, so that runs leave nothing behind.
class TempDir {
 public:
  // Exits the process with `exit_code` when the directory cannot be made:
  // a benchmark without scratch space has nothing to measure, and each
  // benchmark keeps its own documented exit codes.
  TempDir(absl::string_view prefix, int exit_code);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The p-th percentile (0..100) of `sorted` by nearest rank; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

// The median of `v` (the mean of the middle two for an even count); 0 when
// empty. Summaries of repeated runs use it: one slow run does not move it.
double Median(std::vector<double> v);

// Micro-benchmarks cannot fail softly: a broken setup is reported and ends
// the run, rather than timing an error path.
template <typename T>
T Check(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, value.status().ToString().c_str());
    std::abort();
  }
  return *std::move(value);
}
void Check(const absl::Status& status, const char* what);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_BENCH_SUPPORT_H_
