// The progress bar of document transfers (`file send`, `file get`, and
// `/file`, `/get` in the chat).
//
// Not thread-safe: one bar is drawn by one thread.
#ifndef CARERELAY_CLIENT_CLI_PROGRESS_BAR_H_
#define CARERELAY_CLIENT_CLI_PROGRESS_BAR_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/time.h"

namespace carerelay::cli {

// A one-line bar on stderr, redrawn at most ten times a second:
// "letter.pdf  [#########-----------]  45%  2.1 of 4.6 MiB". Draws nothing
// unless `shown` (a terminal, and not --json); ends its line when destroyed.
class ProgressBar {
 public:
  ProgressBar(std::string label, bool shown) : label_(std::move(label)), shown_(shown) {}
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  bool shown_;
  bool drawn_ = false;
  absl::Time last_ = absl::InfinitePast();
};

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_PROGRESS_BAR_H_
