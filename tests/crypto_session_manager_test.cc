// Pairwise sessions between real libsignal parties, each device with its own
// profile (RocksDB in a temporary directory): Alice and Bob, two devices each.

#include <gtest/gtest.h>
#include <signal/protocol.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/content_codec.h"
#include "crypto/session_manager.h"
#include "crypto/signal_ptr.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using testing::AccountId;
using testing::Device;
using testing::TempDir;
using testing::TestOptions;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    for (auto [name, account, device] : {std::tuple{"alice1", 'a', 1u},
                                         {"alice2", 'a', 2u},
                                         {"bob1", 'b', 1u},
                                         {"bob2", 'b', 2u}}) {
      CR_ASSERT_OK_AND_ASSIGN(devices_[name],
                              Device::Create(dir_.Sub(name), Address{AccountId(account), device}));
    }
  }

  Device& D(const std::string& name) { return *devices_.at(name); }

  // `from` builds a session with `to` from a freshly fetched bundle.
  void Connect(const std::string& from, const std::string& to, bool one_time_prekey = true) {
    CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle bundle, D(to).Bundle(one_time_prekey));
    CR_ASSERT_OK(D(from).sessions->ProcessPreKeyBundle(D(to).address, bundle));
  }

  EncryptedMessage Send(const std::string& from, const std::string& to, const std::string& text) {
    absl::StatusOr<EncryptedMessage> message = D(from).sessions->Encrypt(D(to).address, text);
    EXPECT_TRUE(message.ok()) << from << " -> " << to << ": " << message.status();
    return message.ok() ? *message : EncryptedMessage{};
  }

  absl::StatusOr<std::string> Receive(const std::string& to, const std::string& from,
                                      const EncryptedMessage& message) {
    return D(to).sessions->Decrypt(D(from).address, message.type, message.ciphertext);
  }

  TempDir dir_;
  std::map<std::string, std::unique_ptr<Device>> devices_;
};

TEST_F(SessionTest, EveryDeviceTalksToEveryOtherBothWays) {
  const std::vector<std::string> names = {"alice1", "alice2", "bob1", "bob2"};
  // Every pair of devices, own account included (a person's devices see the
  // same conversation): the first one fetches the other's bundle and writes;
  // the other answers on the session the PreKey message built.
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      const std::string& initiator = names[i];
      const std::string& responder = names[j];
      Connect(initiator, responder);
      const std::string hello = absl::StrCat("hello from ", initiator, " to ", responder);
      EncryptedMessage first = Send(initiator, responder, hello);
      EXPECT_EQ(first.type, MessageType::kPreKey) << initiator << "->" << responder;
      CR_ASSERT_OK_AND_ASSIGN(std::string plain, Receive(responder, initiator, first));
      EXPECT_EQ(plain, hello);
      EncryptedMessage answer = Send(responder, initiator, "hello back");
      EXPECT_EQ(answer.type, MessageType::kWhisper) << responder << "->" << initiator;
      CR_ASSERT_OK_AND_ASSIGN(std::string back, Receive(initiator, responder, answer));
      EXPECT_EQ(back, "hello back");
    }
  }
  // Ordinary messages in every direction from here on.
  for (int round = 0; round < 3; ++round) {
    for (const auto& from : names) {
      for (const auto& to : names) {
        if (from == to) continue;
        const std::string text = absl::StrCat("round ", round, " ", from, "->", to);
        EncryptedMessage message = Send(from, to, text);
        EXPECT_EQ(message.type, MessageType::kWhisper) << from << "->" << to;
        EXPECT_EQ(message.ciphertext.find(text), std::string::npos);
        CR_ASSERT_OK_AND_ASSIGN(std::string plain, Receive(to, from, message));
        EXPECT_EQ(plain, text);
      }
    }
  }
}

TEST_F(SessionTest, SimultaneousInitiationConverges) {
  // Both sides fetch each other's bundle and write before either message
  // arrives: each ends up with two candidate sessions, and libsignal settles
  // on a common one as messages flow.
  Connect("alice1", "bob1");
  Connect("bob1", "alice1");
  EncryptedMessage from_alice = Send("alice1", "bob1", "crossing 1");
  EncryptedMessage from_bob = Send("bob1", "alice1", "crossing 2");
  EXPECT_EQ(from_alice.type, MessageType::kPreKey);
  EXPECT_EQ(from_bob.type, MessageType::kPreKey);
  CR_ASSERT_OK_AND_ASSIGN(std::string p1, Receive("bob1", "alice1", from_alice));
  CR_ASSERT_OK_AND_ASSIGN(std::string p2, Receive("alice1", "bob1", from_bob));
  EXPECT_EQ(p1, "crossing 1");
  EXPECT_EQ(p2, "crossing 2");
  for (int i = 0; i < 3; ++i) {
    const std::string a = absl::StrCat("a", i), b = absl::StrCat("b", i);
    CR_ASSERT_OK_AND_ASSIGN(std::string pa, Receive("bob1", "alice1", Send("alice1", "bob1", a)));
    CR_ASSERT_OK_AND_ASSIGN(std::string pb, Receive("alice1", "bob1", Send("bob1", "alice1", b)));
    EXPECT_EQ(pa, a);
    EXPECT_EQ(pb, b);
  }
}

TEST_F(SessionTest, FirstMessageIsPreKeyThenWhisperAfterTheReply) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK_AND_ASSIGN(bool has, D("bob1").sessions->HasSession(D("alice1").address));
  EXPECT_FALSE(has);
  EncryptedMessage m1 = Send("alice1", "bob1", "hello");
  EncryptedMessage m2 = Send("alice1", "bob1", "are you there?");
  EXPECT_EQ(m1.type, MessageType::kPreKey);
  EXPECT_EQ(m2.type, MessageType::kPreKey) << "still unacknowledged";
  CR_ASSERT_OK_AND_ASSIGN(std::string p1, Receive("bob1", "alice1", m1));
  CR_ASSERT_OK_AND_ASSIGN(std::string p2, Receive("bob1", "alice1", m2));
  EXPECT_EQ(p1, "hello");
  EXPECT_EQ(p2, "are you there?");
  CR_ASSERT_OK_AND_ASSIGN(has, D("bob1").sessions->HasSession(D("alice1").address));
  EXPECT_TRUE(has);

  EncryptedMessage reply = Send("bob1", "alice1", "yes");
  EXPECT_EQ(reply.type, MessageType::kWhisper);
  CR_ASSERT_OK_AND_ASSIGN(std::string r, Receive("alice1", "bob1", reply));
  EXPECT_EQ(r, "yes");
  EXPECT_EQ(Send("alice1", "bob1", "good").type, MessageType::kWhisper);
}

TEST_F(SessionTest, WorksWithoutAOneTimePreKey) {
  Connect("alice1", "bob1", /*one_time_prekey=*/false);
  EncryptedMessage m = Send("alice1", "bob1", "server was out of one-time prekeys");
  CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("bob1", "alice1", m));
  EXPECT_EQ(p, "server was out of one-time prekeys");
}

TEST_F(SessionTest, PreKeyMessagesOutOfOrder) {
  Connect("alice1", "bob1");
  std::vector<EncryptedMessage> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(Send("alice1", "bob1", absl::StrCat("p", i)));
  for (int i : {2, 0, 1}) {
    CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("bob1", "alice1", sent[i]));
    EXPECT_EQ(p, absl::StrCat("p", i));
  }
}

TEST_F(SessionTest, OutOfOrderWithinTheRatchetAndAcrossARatchetStep) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "hi")));
  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "hi back")));

  std::vector<EncryptedMessage> chain;
  for (int i = 0; i < 5; ++i) chain.push_back(Send("alice1", "bob1", absl::StrCat("m", i)));
  // Hold m0 back; deliver the others shuffled.
  for (int i : {3, 1, 4, 2}) {
    CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("bob1", "alice1", chain[i]));
    EXPECT_EQ(p, absl::StrCat("m", i));
  }
  // A ratchet step: Bob answers, Alice moves to a new sending chain.
  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "ok")));
  EncryptedMessage after = Send("alice1", "bob1", "new chain");
  CR_ASSERT_OK_AND_ASSIGN(std::string p_after, Receive("bob1", "alice1", after));
  EXPECT_EQ(p_after, "new chain");
  // The late message from the old chain still decrypts.
  CR_ASSERT_OK_AND_ASSIGN(std::string late, Receive("bob1", "alice1", chain[0]));
  EXPECT_EQ(late, "m0");
}

TEST_F(SessionTest, DuplicatesAreReportedAsAlreadyExists) {
  Connect("alice1", "bob1");
  EncryptedMessage prekey = Send("alice1", "bob1", "once");
  CR_ASSERT_OK(Receive("bob1", "alice1", prekey));
  absl::StatusOr<std::string> again = Receive("bob1", "alice1", prekey);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();

  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "ack")));
  EncryptedMessage whisper = Send("alice1", "bob1", "twice?");
  ASSERT_EQ(whisper.type, MessageType::kWhisper);
  CR_ASSERT_OK(Receive("bob1", "alice1", whisper));
  again = Receive("bob1", "alice1", whisper);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_NE(again.status().message().find("duplicate"), std::string::npos);
}

TEST_F(SessionTest, TamperedCiphertextIsRejectedAndLeavesTheSessionIntact) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "setup")));
  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "setup ack")));
  EncryptedMessage message = Send("alice1", "bob1", "the dose is 5 mg");
  ASSERT_EQ(message.type, MessageType::kWhisper);

  for (size_t i = 0; i < message.ciphertext.size(); ++i) {
    EncryptedMessage tampered = message;
    tampered.ciphertext[i] ^= 0x04;
    absl::StatusOr<std::string> result = Receive("bob1", "alice1", tampered);
    ASSERT_FALSE(result.ok()) << "byte " << i << " accepted: " << *result;
    EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << i << ": " << result.status();
  }
  // Truncated, garbage, and a type that does not match the bytes.
  EXPECT_TRUE(absl::IsInvalidArgument(
      Receive("bob1", "alice1", {MessageType::kWhisper, message.ciphertext.substr(0, 20)})
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      Receive("bob1", "alice1", {MessageType::kWhisper, std::string(80, 'x')}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      Receive("bob1", "alice1", {MessageType::kPreKey, message.ciphertext}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(Receive("bob1", "alice1", {MessageType::kWhisper, ""}).status()));

  // None of that disturbed the session: the genuine message still decrypts.
  CR_ASSERT_OK_AND_ASSIGN(std::string plain, Receive("bob1", "alice1", message));
  EXPECT_EQ(plain, "the dose is 5 mg");
}

TEST_F(SessionTest, TamperedPreKeyMessageIsRejectedAndPinsNothing) {
  Connect("alice1", "bob1");
  EncryptedMessage message = Send("alice1", "bob1", "hello");
  ASSERT_EQ(message.type, MessageType::kPreKey);
  // Flip the last byte of the embedded SignalMessage: its MAC. (The outer
  // registration id is not authenticated by the protocol, so flipping just
  // any byte would not do.)
  signal_context* context = D("bob1").store->signal_context_ptr();
  SignalRef<pre_key_signal_message> parsed;
  ASSERT_EQ(pre_key_signal_message_deserialize(Out(parsed), Bytes(message.ciphertext),
                                               message.ciphertext.size(), context),
            0);
  const std::string inner =
      BufferToString(ciphertext_message_get_serialized(reinterpret_cast<ciphertext_message*>(
          pre_key_signal_message_get_signal_message(parsed.get()))));
  const size_t at = message.ciphertext.find(inner);
  ASSERT_NE(at, std::string::npos);
  EncryptedMessage tampered = message;
  tampered.ciphertext[at + inner.size() - 1] ^= 0x10;

  absl::StatusOr<std::string> result = Receive("bob1", "alice1", tampered);
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  // The failed first message must not leave Alice's key pinned.
  EXPECT_TRUE(absl::IsNotFound(D("bob1").store->PinnedIdentity(D("alice1").address).status()));
  CR_ASSERT_OK_AND_ASSIGN(bool has, D("bob1").sessions->HasSession(D("alice1").address));
  EXPECT_FALSE(has);

  CR_ASSERT_OK_AND_ASSIGN(std::string plain, Receive("bob1", "alice1", message));
  EXPECT_EQ(plain, "hello");
  CR_ASSERT_OK_AND_ASSIGN(IdentityPin pin, D("bob1").store->PinnedIdentity(D("alice1").address));
  EXPECT_EQ(pin.trusted_key, D("alice1").store->local_identity().identity_key);
}

TEST_F(SessionTest, SessionsSurviveAClientRestart) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "before restart")));
  EncryptedMessage in_flight = Send("bob1", "alice1", "sent while alice was down");

  CR_ASSERT_OK(D("alice1").Reopen());
  CR_ASSERT_OK(D("bob1").Reopen());

  CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("alice1", "bob1", in_flight));
  EXPECT_EQ(p, "sent while alice was down");
  for (int i = 0; i < 3; ++i) {
    EncryptedMessage a = Send("alice1", "bob1", absl::StrCat("a", i));
    EXPECT_EQ(a.type, MessageType::kWhisper);
    CR_ASSERT_OK_AND_ASSIGN(std::string pa, Receive("bob1", "alice1", a));
    EXPECT_EQ(pa, absl::StrCat("a", i));
    CR_ASSERT_OK(D("bob1").Reopen());
    CR_ASSERT_OK_AND_ASSIGN(
        std::string pb, Receive("alice1", "bob1", Send("bob1", "alice1", absl::StrCat("b", i))));
    EXPECT_EQ(pb, absl::StrCat("b", i));
  }
}

TEST_F(SessionTest, EncryptedProfilesSurviveARestartToo) {
  TempDir dir;
  ProfileOptions options;
  options.passphrase = "care team";
  CR_ASSERT_OK_AND_ASSIGN(auto carol,
                          Device::Create(dir.Sub("carol"), Address{AccountId('c'), 1}, options));
  CR_ASSERT_OK_AND_ASSIGN(auto dave,
                          Device::Create(dir.Sub("dave"), Address{AccountId('d'), 1}, options));
  CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle bundle, dave->Bundle());
  CR_ASSERT_OK(carol->sessions->ProcessPreKeyBundle(dave->address, bundle));
  CR_ASSERT_OK_AND_ASSIGN(EncryptedMessage m,
                          carol->sessions->Encrypt(dave->address, "x-ray at 3"));
  CR_ASSERT_OK(carol->Reopen());
  CR_ASSERT_OK(dave->Reopen());
  CR_ASSERT_OK_AND_ASSIGN(std::string p,
                          dave->sessions->Decrypt(carol->address, m.type, m.ciphertext));
  EXPECT_EQ(p, "x-ray at 3");
  CR_ASSERT_OK_AND_ASSIGN(EncryptedMessage r, dave->sessions->Encrypt(carol->address, "noted"));
  CR_ASSERT_OK(dave->Reopen());
  CR_ASSERT_OK(carol->Reopen());
  CR_ASSERT_OK_AND_ASSIGN(std::string pr,
                          carol->sessions->Decrypt(dave->address, r.type, r.ciphertext));
  EXPECT_EQ(pr, "noted");
}

TEST_F(SessionTest, IdentityChangeBlocksSendingUntilTrusted) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "hello bob")));
  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "hello alice")));
  const Address bob1 = D("bob1").address;
  const std::string old_key = D("bob1").store->local_identity().identity_key;

  // Bob re-installs: same address, new profile, new identity key.
  D("bob1").Close();
  std::filesystem::remove_all(D("bob1").directory());
  CR_ASSERT_OK_AND_ASSIGN(devices_["bob1"], Device::Create(dir_.Sub("bob1-new"), bob1));
  const std::string new_key = D("bob1").store->local_identity().identity_key;
  ASSERT_NE(new_key, old_key);

  // Alice fetches Bob's new bundle: refused.
  CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle bundle, D("bob1").Bundle());
  absl::Status process = D("alice1").sessions->ProcessPreKeyBundle(bob1, bundle);
  EXPECT_TRUE(absl::IsFailedPrecondition(process)) << process;
  EXPECT_NE(process.message().find("untrusted identity"), std::string::npos) << process;
  CR_ASSERT_OK_AND_ASSIGN(IdentityPin pin, D("alice1").store->PinnedIdentity(bob1));
  EXPECT_EQ(pin.trusted_key, old_key);
  EXPECT_EQ(pin.changed_key, new_key) << "recorded so the user can be told";

  // And sending on the old session is refused too.
  absl::StatusOr<EncryptedMessage> blocked = D("alice1").sessions->Encrypt(bob1, "are you ok?");
  EXPECT_TRUE(absl::IsFailedPrecondition(blocked.status())) << blocked.status();

  // New Bob writes first (he trusts Alice on first use): refused by Alice.
  Connect("bob1", "alice1");
  EncryptedMessage from_new_bob = Send("bob1", "alice1", "new phone");
  ASSERT_EQ(from_new_bob.type, MessageType::kPreKey);
  absl::StatusOr<std::string> refused = Receive("alice1", "bob1", from_new_bob);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  // Alice compares safety numbers and accepts the new key.
  CR_ASSERT_OK(D("alice1").store->TrustIdentity(bob1, new_key));
  CR_ASSERT_OK_AND_ASSIGN(bool has, D("alice1").sessions->HasSession(bob1));
  EXPECT_FALSE(has) << "the session on the old key is gone";
  CR_ASSERT_OK_AND_ASSIGN(std::string accepted, Receive("alice1", "bob1", from_new_bob));
  EXPECT_EQ(accepted, "new phone");
  EncryptedMessage reply = Send("alice1", "bob1", "welcome back");
  CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("bob1", "alice1", reply));
  EXPECT_EQ(p, "welcome back");
}

TEST_F(SessionTest, DeletedSessionIsReEstablished) {
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "one")));
  CR_ASSERT_OK(D("alice1").sessions->DeleteSession(D("bob1").address));
  CR_ASSERT_OK(D("alice1").sessions->DeleteSession(D("bob1").address));  // idempotent
  absl::StatusOr<EncryptedMessage> none = D("alice1").sessions->Encrypt(D("bob1").address, "x");
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();

  // Reset: a new bundle, a new PreKey message; Bob's replaced session follows.
  Connect("alice1", "bob1");
  EncryptedMessage fresh = Send("alice1", "bob1", "session reset");
  EXPECT_EQ(fresh.type, MessageType::kPreKey);
  CR_ASSERT_OK_AND_ASSIGN(std::string p, Receive("bob1", "alice1", fresh));
  EXPECT_EQ(p, "session reset");
  CR_ASSERT_OK_AND_ASSIGN(std::string r,
                          Receive("alice1", "bob1", Send("bob1", "alice1", "got it")));
  EXPECT_EQ(r, "got it");
}

TEST_F(SessionTest, MissingSessionOrSpentPreKeyIsNotFound) {
  // A SignalMessage with no session at all.
  Connect("alice1", "bob1");
  CR_ASSERT_OK(Receive("bob1", "alice1", Send("alice1", "bob1", "hi")));
  CR_ASSERT_OK(Receive("alice1", "bob1", Send("bob1", "alice1", "hi")));
  EncryptedMessage whisper = Send("alice1", "bob1", "for bob1 only");
  absl::StatusOr<std::string> lost = Receive("bob2", "alice1", whisper);
  EXPECT_TRUE(absl::IsNotFound(lost.status())) << lost.status();

  // Two senders given the same one-time prekey: the second finds it spent.
  CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle bundle, D("bob2").Bundle());
  CR_ASSERT_OK(D("alice1").sessions->ProcessPreKeyBundle(D("bob2").address, bundle));
  CR_ASSERT_OK(D("alice2").sessions->ProcessPreKeyBundle(D("bob2").address, bundle));
  CR_ASSERT_OK(Receive("bob2", "alice1", Send("alice1", "bob2", "first")));
  absl::StatusOr<std::string> spent = Receive("bob2", "alice2", Send("alice2", "bob2", "second"));
  EXPECT_TRUE(absl::IsNotFound(spent.status())) << spent.status();
}

TEST_F(SessionTest, BadBundlesAreRejected) {
  CR_ASSERT_OK_AND_ASSIGN(PreKeyBundle good, D("bob1").Bundle());
  const Address bob1 = D("bob1").address;

  PreKeyBundle forged = good;
  forged.signed_prekey_signature[5] ^= 1;
  absl::Status status = D("alice1").sessions->ProcessPreKeyBundle(bob1, forged);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;

  PreKeyBundle wrong_device = good;
  wrong_device.device_id = 2;
  EXPECT_TRUE(
      absl::IsInvalidArgument(D("alice1").sessions->ProcessPreKeyBundle(bob1, wrong_device)));

  PreKeyBundle bad_key = good;
  bad_key.identity_key = "not a key";
  EXPECT_TRUE(absl::IsInvalidArgument(D("alice1").sessions->ProcessPreKeyBundle(bob1, bad_key)));

  PreKeyBundle bad_prekey = good;
  bad_prekey.one_time_prekey->public_key.resize(10);
  EXPECT_TRUE(absl::IsInvalidArgument(D("alice1").sessions->ProcessPreKeyBundle(bob1, bad_prekey)));

  EXPECT_TRUE(
      absl::IsInvalidArgument(D("alice1").sessions->ProcessPreKeyBundle(Address{"", 1}, good)));
  CR_ASSERT_OK_AND_ASSIGN(bool has, D("alice1").sessions->HasSession(bob1));
  EXPECT_FALSE(has) << "nothing was stored";
  // A forged bundle must not pin its identity key either.
  EXPECT_TRUE(absl::IsNotFound(D("alice1").store->PinnedIdentity(bob1).status()));

  CR_EXPECT_OK(D("alice1").sessions->ProcessPreKeyBundle(bob1, good));
}

TEST_F(SessionTest, SessionBookkeeping) {
  Connect("alice1", "bob1");
  Connect("alice1", "bob2");
  CR_ASSERT_OK_AND_ASSIGN(std::vector<uint32_t> devices,
                          D("alice1").sessions->DevicesWithSessions(AccountId('b')));
  EXPECT_EQ(devices, (std::vector<uint32_t>{1, 2}));
  CR_ASSERT_OK_AND_ASSIGN(uint32_t registration_id,
                          D("alice1").sessions->RemoteRegistrationId(D("bob2").address));
  EXPECT_EQ(registration_id, D("bob2").store->local_identity().registration_id);
  CR_ASSERT_OK_AND_ASSIGN(int deleted, D("alice1").sessions->DeleteAllSessions(AccountId('b')));
  EXPECT_EQ(deleted, 2);
  CR_ASSERT_OK_AND_ASSIGN(devices, D("alice1").sessions->DevicesWithSessions(AccountId('b')));
  EXPECT_TRUE(devices.empty());
}

TEST_F(SessionTest, PaddedContentEndToEnd) {
  Connect("alice1", "bob1");
  carerelay::v1::Content content;
  content.mutable_text()->set_body("Mrs D. discharged today; GP visit Thursday.");
  content.set_message_id("msg-42");
  CR_ASSERT_OK_AND_ASSIGN(std::string padded, EncodeContent(content));
  EncryptedMessage message = Send("alice1", "bob1", padded);
  CR_ASSERT_OK_AND_ASSIGN(std::string plain, Receive("bob1", "alice1", message));
  CR_ASSERT_OK_AND_ASSIGN(carerelay::v1::Content received, DecodeContent(plain));
  EXPECT_EQ(received.text().body(), content.text().body());
  EXPECT_EQ(received.message_id(), "msg-42");
  // Two short texts of different lengths give ciphertexts of one length.
  content.mutable_text()->set_body("ok");
  CR_ASSERT_OK_AND_ASSIGN(std::string short_padded, EncodeContent(content));
  EXPECT_EQ(Send("alice1", "bob1", short_padded).ciphertext.size(), message.ciphertext.size());
}

}  // namespace
}  // namespace carerelay::crypto
