// ProfileStore over a real RocksDB in a temporary directory: creation,
// encryption at rest, passphrase handling, identity pinning, persistence.

#include <gtest/gtest.h>
#include <signal/curve.h>
#include <signal/ratchet.h>
#include <signal/signal_protocol.h>

#include <string>

#include "crypto/profile_store.h"
#include "crypto/signal_ptr.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using testing::ReadAllFiles;
using testing::TempDir;
using testing::TestOptions;

ProfileOptions Encrypted(const std::string& passphrase) {
  ProfileOptions options;
  options.passphrase = passphrase;
  options.sync_writes = false;
  return options;  // default (production) scrypt cost
}

// The identity private key as libsignal sees it through the store.
std::string IdentityPrivateKey(ProfileStore& store) {
  SignalRef<ratchet_identity_key_pair> pair;
  EXPECT_EQ(signal_protocol_identity_get_key_pair(store.store_context(), Out(pair)), 0);
  SignalBuffer serialized;
  EXPECT_EQ(
      ec_private_key_serialize(Out(serialized), ratchet_identity_key_pair_get_private(pair.get())),
      0);
  return BufferToString(serialized.get());
}

bool AnyFileContains(const std::string& dir, const std::string& needle) {
  for (const auto& [path, bytes] : ReadAllFiles(dir)) {
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(ProfileStoreTest, UnencryptedModeMustBeExplicit) {
  TempDir dir;
  ProfileOptions options;  // empty passphrase, allow_unencrypted false
  absl::StatusOr<std::unique_ptr<ProfileStore>> store =
      ProfileStore::Open(dir.Sub("profile"), options);
  EXPECT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
}

TEST(ProfileStoreTest, CreatesIdentityOnFirstOpenAndKeepsIt) {
  TempDir dir;
  LocalIdentity first;
  std::string private_key;
  {
    CR_ASSERT_OK_AND_ASSIGN(auto store, ProfileStore::Open(dir.Sub("p"), TestOptions()));
    first = store->local_identity();
    private_key = IdentityPrivateKey(*store);
    EXPECT_FALSE(store->encrypted());
  }
  ASSERT_EQ(first.identity_key.size(), 33u);
  EXPECT_EQ(first.identity_key[0], '\x05');
  EXPECT_GE(first.registration_id, 1u);
  EXPECT_LE(first.registration_id, 16380u);
  EXPECT_EQ(private_key.size(), 32u);

  CR_ASSERT_OK_AND_ASSIGN(auto reopened, ProfileStore::Open(dir.Sub("p"), TestOptions()));
  EXPECT_EQ(reopened->local_identity().identity_key, first.identity_key);
  EXPECT_EQ(reopened->local_identity().registration_id, first.registration_id);
  EXPECT_EQ(IdentityPrivateKey(*reopened), private_key);

  // A different directory is a different identity.
  CR_ASSERT_OK_AND_ASSIGN(auto other, ProfileStore::Open(dir.Sub("q"), TestOptions()));
  EXPECT_NE(other->local_identity().identity_key, first.identity_key);
}

TEST(ProfileStoreTest, EncryptedProfileNeedsTheRightPassphraseAndKeepsKeysOffDisk) {
  TempDir dir;
  const std::string path = dir.Sub("p");
  LocalIdentity identity;
  std::string private_key;
  {
    CR_ASSERT_OK_AND_ASSIGN(auto store, ProfileStore::Open(path, Encrypted("correct horse")));
    EXPECT_TRUE(store->encrypted());
    identity = store->local_identity();
    private_key = IdentityPrivateKey(*store);
  }

  // Wrong passphrase: a clear error, and nothing is overwritten.
  absl::StatusOr<std::unique_ptr<ProfileStore>> wrong =
      ProfileStore::Open(path, Encrypted("battery staple"));
  ASSERT_TRUE(absl::IsUnauthenticated(wrong.status())) << wrong.status();
  EXPECT_NE(wrong.status().message().find("wrong passphrase"), std::string::npos);

  // No passphrase for an encrypted profile.
  absl::StatusOr<std::unique_ptr<ProfileStore>> none = ProfileStore::Open(path, TestOptions());
  EXPECT_TRUE(absl::IsFailedPrecondition(none.status())) << none.status();

  CR_ASSERT_OK_AND_ASSIGN(auto reopened, ProfileStore::Open(path, Encrypted("correct horse")));
  EXPECT_EQ(reopened->local_identity().identity_key, identity.identity_key);
  EXPECT_EQ(reopened->local_identity().registration_id, identity.registration_id);
  EXPECT_EQ(IdentityPrivateKey(*reopened), private_key);
  reopened.reset();

  // Neither the private key nor even the public one is anywhere in the
  // RocksDB files (SST, WAL, MANIFEST, LOG) in clear.
  EXPECT_FALSE(AnyFileContains(path, private_key));
  EXPECT_FALSE(AnyFileContains(path, identity.identity_key));
}

TEST(ProfileStoreTest, ControlUnencryptedProfileHasTheKeyInClear) {
  // Proves the scan above can see a key when it is there.
  TempDir dir;
  std::string private_key;
  {
    CR_ASSERT_OK_AND_ASSIGN(auto store, ProfileStore::Open(dir.Sub("p"), TestOptions()));
    private_key = IdentityPrivateKey(*store);
  }
  EXPECT_TRUE(AnyFileContains(dir.Sub("p"), private_key));
}

TEST(ProfileStoreTest, UnencryptedProfileRefusesAPassphrase) {
  TempDir dir;
  { CR_ASSERT_OK(ProfileStore::Open(dir.Sub("p"), TestOptions())); }
  ProfileOptions options = TestOptions();
  options.passphrase = "late idea";
  EXPECT_TRUE(absl::IsFailedPrecondition(ProfileStore::Open(dir.Sub("p"), options).status()));
}

TEST(ProfileStoreTest, OneOpenAtATimeAndNoSilentCreation) {
  TempDir dir;
  CR_ASSERT_OK_AND_ASSIGN(auto store, ProfileStore::Open(dir.Sub("p"), TestOptions()));
  absl::StatusOr<std::unique_ptr<ProfileStore>> second =
      ProfileStore::Open(dir.Sub("p"), TestOptions());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();

  ProfileOptions no_create = TestOptions();
  no_create.create_if_missing = false;
  EXPECT_TRUE(absl::IsNotFound(ProfileStore::Open(dir.Sub("missing"), no_create).status()));
}

class PinningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    CR_ASSERT_OK_AND_ASSIGN(store_, ProfileStore::Open(dir_.Sub("p"), TestOptions()));
    key_a_ = NewKey();
    key_b_ = NewKey();
  }

  std::string NewKey() {
    SignalRef<ec_key_pair> pair;
    EXPECT_EQ(curve_generate_key_pair(store_->signal_context_ptr(), Out(pair)), 0);
    SignalBuffer serialized;
    EXPECT_EQ(ec_public_key_serialize(Out(serialized), ec_key_pair_get_public(pair.get())), 0);
    return BufferToString(serialized.get());
  }

  // libsignal's view: 1 trusted, 0 untrusted.
  int IsTrusted(const Address& address, const std::string& key) {
    SignalRef<ec_public_key> decoded;
    EXPECT_EQ(
        curve_decode_point(Out(decoded), Bytes(key), key.size(), store_->signal_context_ptr()), 0);
    const signal_protocol_address a = ToSignalAddress(address);
    return signal_protocol_identity_is_trusted_identity(store_->store_context(), &a, decoded.get());
  }
  int Save(const Address& address, const std::string* key) {
    SignalRef<ec_public_key> decoded;
    if (key != nullptr) {
      EXPECT_EQ(
          curve_decode_point(Out(decoded), Bytes(*key), key->size(), store_->signal_context_ptr()),
          0);
    }
    const signal_protocol_address a = ToSignalAddress(address);
    return signal_protocol_identity_save_identity(store_->store_context(), &a, decoded.get());
  }

  TempDir dir_;
  std::unique_ptr<ProfileStore> store_;
  std::string key_a_, key_b_;
  const Address bob_{std::string(32, 'b'), 1};
};

TEST_F(PinningTest, TrustOnFirstUseThenRefuseAChangeUntilAccepted) {
  EXPECT_TRUE(absl::IsNotFound(store_->PinnedIdentity(bob_).status()));
  EXPECT_EQ(IsTrusted(bob_, key_a_), 1) << "first use is trusted";
  ASSERT_EQ(Save(bob_, &key_a_), 0);
  CR_ASSERT_OK_AND_ASSIGN(IdentityPin pin, store_->PinnedIdentity(bob_));
  EXPECT_EQ(pin.trusted_key, key_a_);
  EXPECT_TRUE(pin.changed_key.empty());
  EXPECT_EQ(IsTrusted(bob_, key_a_), 1);

  // Another key for the same device: refused, and recorded for the user.
  EXPECT_EQ(IsTrusted(bob_, key_b_), 0);
  CR_ASSERT_OK_AND_ASSIGN(pin, store_->PinnedIdentity(bob_));
  EXPECT_EQ(pin.trusted_key, key_a_);
  EXPECT_EQ(pin.changed_key, key_b_);
  CR_ASSERT_OK_AND_ASSIGN(std::vector<Address> changed, store_->AddressesWithChangedIdentity());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0], bob_);

  // Another device of the same account is another pin.
  EXPECT_EQ(IsTrusted(Address{bob_.account_id, 2}, key_b_), 1);

  // The user accepts the new key.
  CR_ASSERT_OK(store_->TrustIdentity(bob_, key_b_));
  CR_ASSERT_OK_AND_ASSIGN(pin, store_->PinnedIdentity(bob_));
  EXPECT_EQ(pin.trusted_key, key_b_);
  EXPECT_TRUE(pin.changed_key.empty());
  EXPECT_EQ(IsTrusted(bob_, key_b_), 1);
  EXPECT_EQ(IsTrusted(bob_, key_a_), 0);
}

TEST_F(PinningTest, PinsSurviveRestartAndANullSaveNeverUnpins) {
  ASSERT_EQ(Save(bob_, &key_a_), 0);
  // libsignal versions that undo a pin after a failed decryption save null;
  // that must not reset trust on first use.
  ASSERT_EQ(Save(bob_, nullptr), 0);
  EXPECT_EQ(IsTrusted(bob_, key_b_), 0);
  store_.reset();
  CR_ASSERT_OK_AND_ASSIGN(store_, ProfileStore::Open(dir_.Sub("p"), TestOptions()));
  CR_ASSERT_OK_AND_ASSIGN(IdentityPin pin, store_->PinnedIdentity(bob_));
  EXPECT_EQ(pin.trusted_key, key_a_);
  EXPECT_EQ(pin.changed_key, key_b_);
}

TEST_F(PinningTest, TrustIdentityValidatesItsInput) {
  EXPECT_TRUE(absl::IsInvalidArgument(store_->TrustIdentity(bob_, "short")));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->TrustIdentity(bob_, std::string(33, '\x07'))));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->TrustIdentity(Address{"", 1}, key_a_)));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->TrustIdentity(Address{bob_.account_id, 0}, key_a_)));
  // Accepting a key never seen before pins it (verified out of band first).
  CR_EXPECT_OK(store_->TrustIdentity(bob_, key_a_));
  EXPECT_EQ(IsTrusted(bob_, key_a_), 1);
}

}  // namespace
}  // namespace carerelay::crypto
