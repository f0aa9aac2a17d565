#include <gtest/gtest.h>

#include <string>

#include "crypto/padding.h"

namespace carerelay::crypto {
namespace {

TEST(PaddingTest, RoundTripsEveryLengthAroundBlockBoundaries) {
  for (size_t len = 0; len <= 3 * kPaddingBlock + 1; ++len) {
    std::string plaintext(len, '\0');
    for (size_t i = 0; i < len; ++i) plaintext[i] = static_cast<char>(i * 7);
    const std::string padded = PadMessage(plaintext);
    ASSERT_EQ(padded.size() % kPaddingBlock, 0u) << len;
    ASSERT_GT(padded.size(), len) << "the marker always fits";
    ASSERT_LE(padded.size(), len + kPaddingBlock);
    absl::StatusOr<std::string> unpadded = UnpadMessage(padded);
    ASSERT_TRUE(unpadded.ok()) << len << ": " << unpadded.status();
    EXPECT_EQ(*unpadded, plaintext);
  }
}

TEST(PaddingTest, HidesLengthsWithinABlock) {
  EXPECT_EQ(PadMessage("").size(), kPaddingBlock);
  EXPECT_EQ(PadMessage("hi").size(), PadMessage(std::string(159, 'x')).size());
  EXPECT_EQ(PadMessage(std::string(160, 'x')).size(), 2 * kPaddingBlock);
}

TEST(PaddingTest, KeepsTrailingZerosAndMarkerBytesOfThePlaintext) {
  const std::string tricky = std::string("data\x80\0\0", 7);
  absl::StatusOr<std::string> unpadded = UnpadMessage(PadMessage(tricky));
  ASSERT_TRUE(unpadded.ok());
  EXPECT_EQ(*unpadded, tricky);
}

TEST(PaddingTest, RejectsMalformedPadding) {
  // Empty, and lengths that are not a multiple of the block.
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage("abc\x80").status()));
  std::string padded = PadMessage("hello");
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage(padded.substr(1)).status()));
  // All zeros: no marker at all.
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage(std::string(kPaddingBlock, '\0')).status()));
  // A non-zero byte after the marker.
  std::string garbage_tail = padded;
  garbage_tail.back() = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage(garbage_tail).status()));
  // The byte before the zero fill is not the marker.
  std::string wrong_marker = padded;
  wrong_marker[5] = 0x7f;
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage(wrong_marker).status()));
  // A whole block of zero fill (the marker would be in an earlier block).
  std::string long_fill = PadMessage(std::string(kPaddingBlock - 1, 'x'));
  long_fill.append(kPaddingBlock, '\0');
  EXPECT_TRUE(absl::IsInvalidArgument(UnpadMessage(long_fill).status()));
}

}  // namespace
}  // namespace carerelay::crypto
