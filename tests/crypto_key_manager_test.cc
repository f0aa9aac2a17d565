// KeyManager: signed prekey rotation and one-time prekey batches, persisted in
// a real profile.

#include <gtest/gtest.h>
#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include <set>
#include <string>

#include "crypto/key_manager.h"
#include "crypto/signal_ptr.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using testing::TempDir;
using testing::TestOptions;

class KeyManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    keys_.reset();
    store_.reset();
    CR_ASSERT_OK_AND_ASSIGN(store_, ProfileStore::Open(dir_.Sub("p"), TestOptions()));
    keys_ = std::make_unique<KeyManager>(store_.get());
  }

  bool SignatureVerifies(const PublicSignedPreKey& key) {
    SignalRef<ec_public_key> identity;
    const std::string& id = store_->local_identity().identity_key;
    EXPECT_EQ(curve_decode_point(Out(identity), Bytes(id), id.size(), store_->signal_context_ptr()),
              0);
    return curve_verify_signature(identity.get(), Bytes(key.public_key), key.public_key.size(),
                                  Bytes(key.signature), key.signature.size()) == 1;
  }
  bool HoldsSignedPreKey(uint32_t id) {
    return signal_protocol_signed_pre_key_contains_key(store_->store_context(), id) == 1;
  }
  bool HoldsPreKey(uint32_t id) {
    return signal_protocol_pre_key_contains_key(store_->store_context(), id) == 1;
  }

  TempDir dir_;
  std::unique_ptr<ProfileStore> store_;
  std::unique_ptr<KeyManager> keys_;
  const absl::Time t0_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(KeyManagerTest, SignedPreKeyIsSignedByTheIdentityKey) {
  EXPECT_TRUE(absl::IsNotFound(keys_->CurrentSignedPreKey().status()));
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey key, keys_->RotateSignedPreKey(t0_));
  EXPECT_EQ(key.key_id, 1u);
  ASSERT_EQ(key.public_key.size(), 33u);
  EXPECT_EQ(key.public_key[0], '\x05');
  EXPECT_EQ(key.signature.size(), 64u);
  EXPECT_EQ(key.created, t0_);
  EXPECT_TRUE(SignatureVerifies(key));
  PublicSignedPreKey forged = key;
  forged.signature[10] ^= 1;
  EXPECT_FALSE(SignatureVerifies(forged));

  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey current, keys_->CurrentSignedPreKey());
  EXPECT_EQ(current.key_id, key.key_id);
  EXPECT_EQ(current.public_key, key.public_key);
  EXPECT_EQ(current.signature, key.signature);
  EXPECT_EQ(current.created, t0_);
}

TEST_F(KeyManagerTest, RotationKeepsThePreviousKeyAndDeletesOlderOnes) {
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey k1, keys_->RotateSignedPreKey(t0_));
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey k2, keys_->RotateSignedPreKey(t0_ + absl::Hours(48)));
  EXPECT_EQ(k2.key_id, 2u);
  EXPECT_NE(k2.public_key, k1.public_key);
  EXPECT_TRUE(HoldsSignedPreKey(1)) << "kept for messages built on it before the rotation";
  EXPECT_TRUE(HoldsSignedPreKey(2));
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey k3, keys_->RotateSignedPreKey(t0_ + absl::Hours(96)));
  EXPECT_EQ(k3.key_id, 3u);
  EXPECT_FALSE(HoldsSignedPreKey(1)) << "older keys are deleted";
  EXPECT_TRUE(HoldsSignedPreKey(2));
  EXPECT_TRUE(HoldsSignedPreKey(3));
  CR_ASSERT_OK_AND_ASSIGN(std::vector<uint32_t> ids, store_->SignedPreKeyIds());
  EXPECT_EQ(ids, (std::vector<uint32_t>{2, 3}));

  // Survives a restart; ids continue.
  Open();
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey current, keys_->CurrentSignedPreKey());
  EXPECT_EQ(current.key_id, 3u);
  CR_ASSERT_OK_AND_ASSIGN(PublicSignedPreKey k4, keys_->RotateSignedPreKey(t0_ + absl::Hours(144)));
  EXPECT_EQ(k4.key_id, 4u);
  EXPECT_FALSE(HoldsSignedPreKey(2));
}

TEST_F(KeyManagerTest, SignedPreKeyDueFollowsAge) {
  CR_ASSERT_OK_AND_ASSIGN(bool due, keys_->SignedPreKeyDue(t0_, absl::Hours(48)));
  EXPECT_TRUE(due) << "none yet";
  CR_ASSERT_OK(keys_->RotateSignedPreKey(t0_));
  CR_ASSERT_OK_AND_ASSIGN(due, keys_->SignedPreKeyDue(t0_ + absl::Hours(47), absl::Hours(48)));
  EXPECT_FALSE(due);
  CR_ASSERT_OK_AND_ASSIGN(due, keys_->SignedPreKeyDue(t0_ + absl::Hours(48), absl::Hours(48)));
  EXPECT_TRUE(due);
}

TEST_F(KeyManagerTest, OneTimePreKeyBatchesHaveFreshIdsAcrossRestarts) {
  CR_ASSERT_OK_AND_ASSIGN(std::vector<PublicPreKey> batch, keys_->GenerateOneTimePreKeys(100));
  ASSERT_EQ(batch.size(), 100u);
  std::set<uint32_t> ids;
  std::set<std::string> publics;
  for (const PublicPreKey& key : batch) {
    ids.insert(key.key_id);
    publics.insert(key.public_key);
    EXPECT_EQ(key.public_key.size(), 33u);
    EXPECT_TRUE(HoldsPreKey(key.key_id));
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(publics.size(), 100u);
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), 100u);
  CR_ASSERT_OK_AND_ASSIGN(size_t count, keys_->OneTimePreKeyCount());
  EXPECT_EQ(count, 100u);

  Open();
  CR_ASSERT_OK_AND_ASSIGN(std::vector<PublicPreKey> next, keys_->GenerateOneTimePreKeys(5));
  EXPECT_EQ(next.front().key_id, 101u);
  EXPECT_EQ(next.back().key_id, 105u);
  CR_ASSERT_OK_AND_ASSIGN(count, keys_->OneTimePreKeyCount());
  EXPECT_EQ(count, 105u);

  EXPECT_TRUE(absl::IsInvalidArgument(keys_->GenerateOneTimePreKeys(0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->GenerateOneTimePreKeys(101).status()));
}

TEST_F(KeyManagerTest, ReplenishTopsUpOnlyBelowThreshold) {
  CR_ASSERT_OK_AND_ASSIGN(std::vector<PublicPreKey> none, keys_->ReplenishOneTimePreKeys(20));
  EXPECT_TRUE(none.empty());
  CR_ASSERT_OK_AND_ASSIGN(std::vector<PublicPreKey> some, keys_->ReplenishOneTimePreKeys(7));
  EXPECT_EQ(some.size(), 93u);
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->ReplenishOneTimePreKeys(0, 0, 10).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->ReplenishOneTimePreKeys(0, 50, 40).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->ReplenishOneTimePreKeys(0, 10, 101).status()));
}

TEST_F(KeyManagerTest, PrepareRegistrationGathersEverythingAndIsRepeatable) {
  CR_ASSERT_OK_AND_ASSIGN(RegistrationKeys keys, keys_->PrepareRegistration(t0_));
  EXPECT_EQ(keys.identity_key, store_->local_identity().identity_key);
  EXPECT_EQ(keys.registration_id, store_->local_identity().registration_id);
  EXPECT_EQ(keys.signed_prekey.key_id, 1u);
  EXPECT_TRUE(SignatureVerifies(keys.signed_prekey));
  EXPECT_EQ(keys.one_time_prekeys.size(), 100u);

  CR_ASSERT_OK_AND_ASSIGN(RegistrationKeys retry, keys_->PrepareRegistration(t0_, 10));
  EXPECT_EQ(retry.signed_prekey.key_id, 1u) << "the current signed prekey is reused";
  ASSERT_EQ(retry.one_time_prekeys.size(), 10u);
  EXPECT_EQ(retry.one_time_prekeys.front().key_id, 101u);
  EXPECT_TRUE(absl::IsInvalidArgument(keys_->PrepareRegistration(t0_, 101).status()));
}

}  // namespace
}  // namespace carerelay::crypto
