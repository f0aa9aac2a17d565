#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "crypto/safety_number.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using testing::AccountId;
using testing::TempDir;
using testing::TestOptions;

class SafetyNumberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    CR_ASSERT_OK_AND_ASSIGN(alice_, ProfileStore::Open(dir_.Sub("alice"), TestOptions()));
    CR_ASSERT_OK_AND_ASSIGN(bob_, ProfileStore::Open(dir_.Sub("bob"), TestOptions()));
    CR_ASSERT_OK_AND_ASSIGN(mallory_, ProfileStore::Open(dir_.Sub("mallory"), TestOptions()));
  }
  const std::string& Key(ProfileStore& store) { return store.local_identity().identity_key; }

  TempDir dir_;
  std::unique_ptr<ProfileStore> alice_, bob_, mallory_;
  const std::string alice_id_ = AccountId('a');
  const std::string bob_id_ = AccountId('b');
};

TEST_F(SafetyNumberTest, BothSidesSeeTheSameSixtyDigits) {
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber at_alice,
      ComputeSafetyNumber(alice_->signal(), alice_id_, Key(*alice_), bob_id_, Key(*bob_)));
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber at_bob,
      ComputeSafetyNumber(bob_->signal(), bob_id_, Key(*bob_), alice_id_, Key(*alice_)));
  EXPECT_EQ(at_alice.digits, at_bob.digits);
  EXPECT_EQ(at_alice.displayable, at_bob.displayable);
  ASSERT_EQ(at_alice.digits.size(), 60u);
  for (char c : at_alice.digits) EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(c)));
  ASSERT_EQ(at_alice.displayable.size(), 60u + 11u);
  for (size_t i = 5; i < at_alice.displayable.size(); i += 6)
    EXPECT_EQ(at_alice.displayable[i], ' ');

  // Scanning each other's code matches.
  CR_ASSERT_OK_AND_ASSIGN(bool match,
                          MatchesScannedSafetyNumber(alice_->signal(), at_alice, at_bob.scannable));
  EXPECT_TRUE(match);
  CR_ASSERT_OK_AND_ASSIGN(match,
                          MatchesScannedSafetyNumber(bob_->signal(), at_bob, at_alice.scannable));
  EXPECT_TRUE(match);
}

TEST_F(SafetyNumberTest, ChangesWhenAKeyChanges) {
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber genuine,
      ComputeSafetyNumber(alice_->signal(), alice_id_, Key(*alice_), bob_id_, Key(*bob_)));
  // Mallory presents her key as Bob's.
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber intercepted,
      ComputeSafetyNumber(alice_->signal(), alice_id_, Key(*alice_), bob_id_, Key(*mallory_)));
  EXPECT_NE(genuine.digits, intercepted.digits);
  // What Bob scans at Alice's (intercepted) screen does not match his.
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber at_bob,
      ComputeSafetyNumber(bob_->signal(), bob_id_, Key(*bob_), alice_id_, Key(*alice_)));
  CR_ASSERT_OK_AND_ASSIGN(
      bool match, MatchesScannedSafetyNumber(bob_->signal(), at_bob, intercepted.scannable));
  EXPECT_FALSE(match);
  // The same keys under other account ids give another number too.
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber other_ids,
      ComputeSafetyNumber(alice_->signal(), AccountId('e'), Key(*alice_), bob_id_, Key(*bob_)));
  EXPECT_NE(genuine.digits, other_ids.digits);
}

TEST_F(SafetyNumberTest, RejectsBadInput) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      ComputeSafetyNumber(alice_->signal(), "", Key(*alice_), bob_id_, Key(*bob_)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ComputeSafetyNumber(alice_->signal(), alice_id_, "bad", bob_id_, Key(*bob_)).status()));
  CR_ASSERT_OK_AND_ASSIGN(
      SafetyNumber ours,
      ComputeSafetyNumber(alice_->signal(), alice_id_, Key(*alice_), bob_id_, Key(*bob_)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      MatchesScannedSafetyNumber(alice_->signal(), ours, "\xff\xff not a code").status()));
}

}  // namespace
}  // namespace carerelay::crypto
