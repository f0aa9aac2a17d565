// Group messages with sender keys between real libsignal parties: Alice and
// Bob with two devices each, plus Carol, who leaves.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/content_codec.h"
#include "crypto/group_manager.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using testing::AccountId;
using testing::Device;
using testing::TempDir;

constexpr char kTeam[] = "team-0f3a:CARE";

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    for (auto [name, account, device] : {std::tuple{"alice1", 'a', 1u},
                                         {"alice2", 'a', 2u},
                                         {"bob1", 'b', 1u},
                                         {"bob2", 'b', 2u},
                                         {"carol1", 'c', 1u}}) {
      names_.push_back(name);
      CR_ASSERT_OK_AND_ASSIGN(devices_[name],
                              Device::Create(dir_.Sub(name), Address{AccountId(account), device}));
    }
  }

  Device& D(const std::string& name) { return *devices_.at(name); }

  // Sends `from`'s distribution message to each of `to`, the way the client
  // does: as Content over the pairwise session.
  void Distribute(const std::string& from, const std::vector<std::string>& to,
                  const std::string& distribution) {
    carerelay::v1::Content content;
    content.mutable_sender_key_distribution()->set_group_id(kTeam);
    content.mutable_sender_key_distribution()->set_distribution_message(distribution);
    CR_ASSERT_OK_AND_ASSIGN(std::string padded, EncodeContent(content));
    for (const std::string& name : to) {
      if (name == from) continue;
      CR_ASSERT_OK_AND_ASSIGN(bool has, D(from).sessions->HasSession(D(name).address));
      if (!has) {
        CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle bundle, D(name).Bundle());
        CR_ASSERT_OK(D(from).sessions->ProcessPreKeyBundle(D(name).address, bundle));
      }
      CR_ASSERT_OK_AND_ASSIGN(EncryptedMessage m,
                              D(from).sessions->Encrypt(D(name).address, padded));
      CR_ASSERT_OK_AND_ASSIGN(std::string plain,
                              D(name).sessions->Decrypt(D(from).address, m.type, m.ciphertext));
      CR_ASSERT_OK_AND_ASSIGN(carerelay::v1::Content received, DecodeContent(plain));
      ASSERT_TRUE(received.has_sender_key_distribution());
      CR_ASSERT_OK(D(name).groups->ProcessDistributionMessage(
          received.sender_key_distribution().group_id(), D(from).address,
          received.sender_key_distribution().distribution_message()));
    }
  }

  void EveryoneDistributes(const std::vector<std::string>& members) {
    for (const std::string& from : members) {
      CR_ASSERT_OK_AND_ASSIGN(std::string distribution, D(from).groups->DistributionMessage(kTeam));
      Distribute(from, members, distribution);
    }
  }

  absl::StatusOr<std::string> Read(const std::string& reader, const std::string& sender,
                                   const std::string& ciphertext) {
    return D(reader).groups->Decrypt(kTeam, D(sender).address, ciphertext);
  }

  TempDir dir_;
  std::vector<std::string> names_;
  std::map<std::string, std::unique_ptr<Device>> devices_;
};

TEST_F(GroupTest, EncryptOnceEveryOtherDeviceDecrypts) {
  EveryoneDistributes(names_);
  for (const std::string& sender : names_) {
    for (int i = 0; i < 3; ++i) {
      const std::string text = absl::StrCat(sender, " says ", i);
      CR_ASSERT_OK_AND_ASSIGN(std::string ciphertext, D(sender).groups->Encrypt(kTeam, text));
      EXPECT_EQ(ciphertext.find(text), std::string::npos);
      for (const std::string& reader : names_) {
        if (reader == sender) continue;
        CR_ASSERT_OK_AND_ASSIGN(std::string plain, Read(reader, sender, ciphertext));
        EXPECT_EQ(plain, text) << reader << " reading " << sender;
      }
    }
  }
}

TEST_F(GroupTest, NoKeyMeansNotFound) {
  absl::StatusOr<std::string> no_own_key = D("alice1").groups->Encrypt(kTeam, "x");
  EXPECT_TRUE(absl::IsNotFound(no_own_key.status())) << no_own_key.status();

  CR_ASSERT_OK(D("alice1").groups->DistributionMessage(kTeam));
  CR_ASSERT_OK_AND_ASSIGN(std::string ciphertext, D("alice1").groups->Encrypt(kTeam, "x"));
  absl::StatusOr<std::string> not_distributed = Read("bob1", "alice1", ciphertext);
  EXPECT_TRUE(absl::IsNotFound(not_distributed.status())) << not_distributed.status();
}

TEST_F(GroupTest, OutOfOrderDuplicateAndTampered) {
  EveryoneDistributes({"alice1", "bob1"});
  std::vector<std::string> sent;
  for (int i = 0; i < 4; ++i) {
    CR_ASSERT_OK_AND_ASSIGN(std::string c,
                            D("alice1").groups->Encrypt(kTeam, absl::StrCat("g", i)));
    sent.push_back(c);
  }
  for (int i : {2, 0, 3}) {
    CR_ASSERT_OK_AND_ASSIGN(std::string p, Read("bob1", "alice1", sent[i]));
    EXPECT_EQ(p, absl::StrCat("g", i));
  }
  absl::StatusOr<std::string> duplicate = Read("bob1", "alice1", sent[2]);
  EXPECT_TRUE(absl::IsAlreadyExists(duplicate.status())) << duplicate.status();

  for (size_t i = 0; i < sent[1].size(); ++i) {
    std::string tampered = sent[1];
    tampered[i] ^= 0x02;
    absl::StatusOr<std::string> result = Read("bob1", "alice1", tampered);
    ASSERT_FALSE(result.ok()) << "byte " << i << " accepted";
    EXPECT_TRUE(absl::IsInvalidArgument(result.status()) || absl::IsNotFound(result.status()))
        << i << ": " << result.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(Read("bob1", "alice1", "garbage").status()));
  CR_ASSERT_OK_AND_ASSIGN(std::string p1, Read("bob1", "alice1", sent[1]));
  EXPECT_EQ(p1, "g1");
}

TEST_F(GroupTest, RotationLocksOutTheMemberWhoLeft) {
  EveryoneDistributes(names_);
  CR_ASSERT_OK_AND_ASSIGN(std::string before, D("alice1").groups->Encrypt(kTeam, "before"));
  CR_ASSERT_OK_AND_ASSIGN(std::string late, D("alice1").groups->Encrypt(kTeam, "late"));
  CR_ASSERT_OK_AND_ASSIGN(std::string carol_reads, Read("carol1", "alice1", before));
  EXPECT_EQ(carol_reads, "before");

  // Carol leaves the team: the others rotate and redistribute without her.
  const std::vector<std::string> remaining = {"alice1", "alice2", "bob1", "bob2"};
  for (const std::string& member : remaining) {
    CR_ASSERT_OK_AND_ASSIGN(std::string old_distribution,
                            D(member).groups->DistributionMessage(kTeam));
    CR_ASSERT_OK_AND_ASSIGN(std::string rotated, D(member).groups->RotateSenderKey(kTeam));
    EXPECT_NE(rotated, old_distribution);
    Distribute(member, remaining, rotated);
    CR_ASSERT_OK(D(member).groups->ForgetSender(kTeam, D("carol1").address));
  }

  CR_ASSERT_OK_AND_ASSIGN(std::string after, D("alice1").groups->Encrypt(kTeam, "after"));
  for (const char* reader : {"alice2", "bob1", "bob2"}) {
    CR_ASSERT_OK_AND_ASSIGN(std::string p, Read(reader, "alice1", after));
    EXPECT_EQ(p, "after");
    // A message sent just before the rotation still decrypts.
    CR_ASSERT_OK_AND_ASSIGN(std::string l, Read(reader, "alice1", late));
    EXPECT_EQ(l, "late");
  }
  absl::StatusOr<std::string> locked_out = Read("carol1", "alice1", after);
  EXPECT_TRUE(absl::IsNotFound(locked_out.status())) << locked_out.status();
  EXPECT_NE(locked_out.status().message().find("rotated"), std::string::npos)
      << locked_out.status();

  // And the others no longer accept Carol's group messages.
  CR_ASSERT_OK_AND_ASSIGN(std::string from_carol,
                          D("carol1").groups->Encrypt(kTeam, "still here?"));
  EXPECT_TRUE(absl::IsNotFound(Read("bob1", "carol1", from_carol).status()));
}

TEST_F(GroupTest, RedeliveredDistributionCannotReopenOldMessages) {
  CR_ASSERT_OK_AND_ASSIGN(std::string distribution, D("alice1").groups->DistributionMessage(kTeam));
  CR_ASSERT_OK(
      D("bob1").groups->ProcessDistributionMessage(kTeam, D("alice1").address, distribution));
  CR_ASSERT_OK_AND_ASSIGN(std::string c, D("alice1").groups->Encrypt(kTeam, "read once"));
  CR_ASSERT_OK(Read("bob1", "alice1", c));
  // The same distribution message again (a resend, or a replay).
  CR_ASSERT_OK(
      D("bob1").groups->ProcessDistributionMessage(kTeam, D("alice1").address, distribution));
  absl::StatusOr<std::string> replay = Read("bob1", "alice1", c);
  EXPECT_TRUE(absl::IsAlreadyExists(replay.status())) << replay.status();
  // Newer messages keep flowing.
  CR_ASSERT_OK_AND_ASSIGN(std::string c2, D("alice1").groups->Encrypt(kTeam, "next"));
  CR_ASSERT_OK_AND_ASSIGN(std::string p2, Read("bob1", "alice1", c2));
  EXPECT_EQ(p2, "next");
}

TEST_F(GroupTest, SenderKeysSurviveARestart) {
  EveryoneDistributes({"alice1", "bob1"});
  CR_ASSERT_OK_AND_ASSIGN(std::string c1, D("alice1").groups->Encrypt(kTeam, "one"));
  CR_ASSERT_OK(D("alice1").Reopen());
  CR_ASSERT_OK(D("bob1").Reopen());
  CR_ASSERT_OK_AND_ASSIGN(std::string c2, D("alice1").groups->Encrypt(kTeam, "two"));
  CR_ASSERT_OK_AND_ASSIGN(std::string p2, Read("bob1", "alice1", c2));
  CR_ASSERT_OK_AND_ASSIGN(std::string p1, Read("bob1", "alice1", c1));
  EXPECT_EQ(p1, "one");
  EXPECT_EQ(p2, "two");
}

TEST_F(GroupTest, RejectsBadArguments) {
  EXPECT_TRUE(absl::IsInvalidArgument(D("alice1").groups->DistributionMessage("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      D("alice1").groups->DistributionMessage(std::string("a\0b", 3)).status()));
  CR_ASSERT_OK_AND_ASSIGN(std::string own, D("alice1").groups->DistributionMessage(kTeam));
  EXPECT_TRUE(absl::IsInvalidArgument(
      D("alice1").groups->ProcessDistributionMessage(kTeam, D("alice1").address, own)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      D("bob1").groups->ProcessDistributionMessage(kTeam, D("alice1").address, "garbage")));
}

}  // namespace
}  // namespace carerelay::crypto
