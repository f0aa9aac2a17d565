#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "crypto/at_rest_cipher.h"

namespace carerelay::crypto {
namespace {

// Cheap parameters: these tests are about the cipher, not the KDF cost.
ScryptParams Cheap() { return ScryptParams{1 << 10, 8, 1}; }

TEST(ScryptTest, Rfc7914Vector) {
  // RFC 7914, section 12, second vector.
  absl::StatusOr<std::string> key = Scrypt("password", "NaCl", ScryptParams{1024, 8, 16}, 64);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(absl::BytesToHexString(*key),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

TEST(ScryptTest, ValidatesParameters) {
  EXPECT_TRUE(ValidateScryptParams(ScryptParams{}).ok());
  EXPECT_FALSE(ValidateScryptParams(ScryptParams{1000, 8, 1}).ok());        // not a power of 2
  EXPECT_FALSE(ValidateScryptParams(ScryptParams{1 << 8, 8, 1}).ok());      // too cheap
  EXPECT_FALSE(ValidateScryptParams(ScryptParams{1ull << 30, 8, 1}).ok());  // too costly
  EXPECT_FALSE(ValidateScryptParams(ScryptParams{1 << 15, 0, 1}).ok());
  EXPECT_FALSE(ValidateScryptParams(ScryptParams{1 << 15, 8, 0}).ok());
}

TEST(AtRestCipherTest, SealOpenRoundTripAndFreshNonces) {
  absl::StatusOr<AtRestCipher> cipher =
      AtRestCipher::FromPassphrase("correct horse", std::string(16, 's'), Cheap());
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  absl::StatusOr<std::string> a = cipher->Seal("slot", "secret record");
  absl::StatusOr<std::string> b = cipher->Seal("slot", "secret record");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b) << "a fresh nonce per record";
  EXPECT_EQ(a->size(), AtRestCipher::kNonceSize + 13 + AtRestCipher::kTagSize);
  EXPECT_EQ(a->find("secret record"), std::string::npos);
  absl::StatusOr<std::string> opened = cipher->Open("slot", *a);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret record");
  // Empty plaintexts work too.
  absl::StatusOr<std::string> empty = cipher->Seal("slot", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*cipher->Open("slot", *empty), "");
}

TEST(AtRestCipherTest, RejectsWrongKeySlotTamperingAndTruncation) {
  absl::StatusOr<AtRestCipher> cipher =
      AtRestCipher::FromPassphrase("correct horse", std::string(16, 's'), Cheap());
  absl::StatusOr<AtRestCipher> other =
      AtRestCipher::FromPassphrase("battery staple", std::string(16, 's'), Cheap());
  ASSERT_TRUE(cipher.ok() && other.ok());
  absl::StatusOr<std::string> sealed = cipher->Seal("session/alice.1", "ratchet state");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(absl::IsDataLoss(other->Open("session/alice.1", *sealed).status()));
  EXPECT_TRUE(absl::IsDataLoss(cipher->Open("session/bob.1", *sealed).status()));
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] ^= 0x01;
    EXPECT_TRUE(absl::IsDataLoss(cipher->Open("session/alice.1", tampered).status())) << i;
  }
  EXPECT_TRUE(absl::IsDataLoss(cipher->Open("session/alice.1", sealed->substr(0, 27)).status()));
  EXPECT_TRUE(absl::IsDataLoss(cipher->Open("session/alice.1", "").status()));
}

TEST(AtRestCipherTest, RejectsBadInputs) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      AtRestCipher::FromPassphrase("", std::string(16, 's'), Cheap()).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(AtRestCipher::FromPassphrase("pw", "short", Cheap()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AtRestCipher::FromKey("too short").status()));
  EXPECT_TRUE(AtRestCipher::FromKey(std::string(32, 'k')).ok());
}

TEST(AtRestCipherTest, SameInputsDeriveTheSameKey) {
  absl::StatusOr<AtRestCipher> first =
      AtRestCipher::FromPassphrase("pw", std::string(16, 'a'), Cheap());
  absl::StatusOr<AtRestCipher> second =
      AtRestCipher::FromPassphrase("pw", std::string(16, 'a'), Cheap());
  absl::StatusOr<AtRestCipher> other_salt =
      AtRestCipher::FromPassphrase("pw", std::string(16, 'b'), Cheap());
  ASSERT_TRUE(first.ok() && second.ok() && other_salt.ok());
  absl::StatusOr<std::string> sealed = first->Seal("x", "y");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(second->Open("x", *sealed).ok());
  EXPECT_FALSE(other_salt->Open("x", *sealed).ok());
}

}  // namespace
}  // namespace carerelay::crypto
