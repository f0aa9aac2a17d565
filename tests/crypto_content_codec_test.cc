#include <gtest/gtest.h>

#include <string>

#include "crypto/content_codec.h"
#include "crypto/padding.h"

namespace carerelay::crypto {
namespace {

TEST(ContentCodecTest, RoundTripsTextAndSetsVersion) {
  carerelay::v1::Content content;
  content.mutable_text()->set_body("Discharge letter is on its way; home nurse visit at 10:00.");
  content.set_message_id("m-1");
  content.set_sent_at_ms(1700000000000);
  absl::StatusOr<std::string> encoded = EncodeContent(content);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->size() % kPaddingBlock, 0u);
  absl::StatusOr<carerelay::v1::Content> decoded = DecodeContent(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->version(), kContentVersion);
  EXPECT_EQ(decoded->text().body(), content.text().body());
  EXPECT_EQ(decoded->message_id(), "m-1");
  EXPECT_EQ(decoded->sent_at_ms(), 1700000000000);
}

TEST(ContentCodecTest, RoundTripsSenderKeyDistribution) {
  carerelay::v1::Content content;
  content.mutable_sender_key_distribution()->set_group_id("team-7");
  content.mutable_sender_key_distribution()->set_distribution_message(
      std::string("\x01\x00\xff", 3));
  absl::StatusOr<std::string> encoded = EncodeContent(content);
  ASSERT_TRUE(encoded.ok());
  absl::StatusOr<carerelay::v1::Content> decoded = DecodeContent(*encoded);
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(decoded->has_sender_key_distribution());
  EXPECT_EQ(decoded->sender_key_distribution().distribution_message(),
            std::string("\x01\x00\xff", 3));
}

TEST(ContentCodecTest, RejectsBadVersionsPaddingAndGarbage) {
  carerelay::v1::Content future;
  future.set_version(kContentVersion + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeContent(future).status()));
  std::string serialized;
  ASSERT_TRUE(future.SerializeToString(&serialized));
  EXPECT_TRUE(absl::IsUnimplemented(DecodeContent(PadMessage(serialized)).status()));

  carerelay::v1::Content unversioned;
  unversioned.mutable_text()->set_body("x");
  ASSERT_TRUE(unversioned.SerializeToString(&serialized));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeContent(PadMessage(serialized)).status()));

  EXPECT_TRUE(absl::IsInvalidArgument(DecodeContent("not padded").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeContent(PadMessage("\xff\xff\xff")).status()));
}

}  // namespace
}  // namespace carerelay::crypto
