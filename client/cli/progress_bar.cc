#include "client/cli/progress_bar.h"

#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/attachment_pointer.h"
#include "client/cli/catalog.h"

namespace carerelay::cli {

ProgressBar::~ProgressBar() {
  if (drawn_) std::cerr << "\n";
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!shown_) return;
  const absl::Time now = absl::Now();
  if (done < total && now - last_ < absl::Milliseconds(100)) return;
  last_ = now;
  constexpr int kWidth = 30;
  const double share = total == 0 ? 1.0 : static_cast<double>(done) / total;
  const int filled = static_cast<int>(share * kWidth);
  std::cerr << absl::StrFormat("\r%s  [%s%s] %3d%%  %s   ", label_, std::string(filled, '#'),
                               std::string(kWidth - filled, '-'), static_cast<int>(share * 100),
                               Tr("file.progress_amount", {{"done", client::HumanSize(done)},
                                                           {"total", client::HumanSize(total)}}))
            << std::flush;
  drawn_ = true;
}

}  // namespace carerelay::cli
