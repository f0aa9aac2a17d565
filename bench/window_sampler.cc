#include "bench/window_sampler.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace carerelay::bench {

void WindowSampler::Prepare() {
  sample_ = WindowSample();
  if (options_.perf_binary.empty()) {
    sample_.syncs_unavailable = "not counted (--no-perf)";
    return;
  }
  auto counter =
      SyncCounter::Attach(options_.perf_binary, options_.server_pid, options_.scratch_dir);
  if (counter.ok()) {
    counter_ = *std::move(counter);
  } else {
    sample_.syncs_unavailable = std::string(counter.status().message());
  }
}

void WindowSampler::OnWindowStart() {
  sample_.load_before = ReadLoadAverage();
  if (counter_) {
    absl::Status s = counter_->Enable();
    if (!s.ok()) {
      sample_.syncs_unavailable = std::string(s.message());
      counter_.reset();
    }
  }
  auto before = ReadProcess(options_.server_pid);
  if (before.ok()) {
    sample_.server_before = *before;
  } else {
    sample_.server_error = std::string(before.status().message());
  }
  if (options_.probe_binary.empty() || options_.probe_dir.empty()) {
    sample_.fsync_unavailable = "no data directory to probe";
    return;
  }
  static int instance = 0;
  probe_output_ = absl::StrCat(options_.scratch_dir, "/fsync-probe-", instance++, ".json");
  // Ended by SIGINT at the window's end; --seconds only bounds a lost one.
  auto probe =
      ChildProcess::Start({options_.probe_binary, "--dir", options_.probe_dir, "--rate",
                           absl::StrCat(options_.probe_rate), "--seconds", "3600", "--json"},
                          probe_output_);
  if (probe.ok()) {
    probe_ = *std::move(probe);
  } else {
    sample_.fsync_unavailable = std::string(probe.status().message());
  }
}

void WindowSampler::OnWindowEnd() {
  if (probe_) probe_->Stop(SIGINT, absl::Seconds(10));
  auto after = ReadProcess(options_.server_pid);
  if (after.ok()) {
    sample_.server_after = *after;
  } else {
    sample_.server_error = std::string(after.status().message());
  }
  if (counter_) {
    absl::Status s = counter_->Disable();
    if (!s.ok()) {
      sample_.syncs_unavailable = std::string(s.message());
      counter_.reset();
    }
  }
  sample_.load_after = ReadLoadAverage();
}

WindowSample WindowSampler::Finish() {
  if (counter_) {
    auto counts = counter_->Finish();
    if (counts.ok()) {
      sample_.syncs = *counts;
    } else {
      sample_.syncs_unavailable = std::string(counts.status().message());
    }
    counter_.reset();
  }
  if (probe_) {
    const std::string text = probe_->Output();
    probe_.reset();
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("fdatasync_ms")) {
      sample_.fsync_unavailable = "carerelay-fsync-probe printed no figures: " + text;
    } else {
      FsyncFigures f;
      f.syncs = j.value("syncs", uint64_t{0});
      f.p50_ms = j["fdatasync_ms"].value("p50", 0.0);
      f.p99_ms = j["fdatasync_ms"].value("p99", 0.0);
      f.max_ms = j["fdatasync_ms"].value("max", 0.0);
      f.filesystem = j.value("filesystem", "");
      sample_.fsync = f;
    }
  }
  return sample_;
}

}  // namespace carerelay::bench
