#include "crypto/padding.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace carerelay::crypto {
namespace {
constexpr char kMarker = static_cast<char>(0x80);
}  // namespace

std::string PadMessage(absl::string_view plaintext) {
  // +1 for the marker, then up to the next multiple of the block.
  const size_t padded_len = (plaintext.size() / kPaddingBlock + 1) * kPaddingBlock;
  std::string padded(padded_len, '\0');
  padded.replace(0, plaintext.size(), plaintext.data(), plaintext.size());
  padded[plaintext.size()] = kMarker;
  return padded;
}

absl::StatusOr<std::string> UnpadMessage(absl::string_view padded) {
  if (padded.empty() || padded.size() % kPaddingBlock != 0) {
    return absl::InvalidArgumentError(absl::StrCat("malformed padding: length ", padded.size(),
                                                   " is not a non-zero multiple of ",
                                                   kPaddingBlock));
  }
  // Walk back over the zero fill; the marker must sit within the last block.
  size_t i = padded.size();
  const size_t lowest = padded.size() - kPaddingBlock;
  while (i > lowest && padded[i - 1] == '\0') --i;
  if (i == lowest || padded[i - 1] != kMarker) {
    return absl::InvalidArgumentError("malformed padding: no 0x80 marker before the zero fill");
  }
  return std::string(padded.substr(0, i - 1));
}

}  // namespace carerelay::crypto
