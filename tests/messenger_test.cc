// End-to-end encryption through a real carerelayd: real libsignal sessions
// between real profiles, over TLS, with the server storing only ciphertext.
#include "client/messenger.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "server/store/account_table.h"
#include "server/store/prekey_table.h"
#include "tests/cut_proxy.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ReceivedMessage;
using Device = MessengerDevice;

// (message id, recipient "account.device") for every device a kDelivered
// entry lists; fails the test if an entry lists a device twice.
using DeliveredPair = std::pair<std::string, std::string>;
std::multiset<DeliveredPair> Deliveries(const std::vector<ReceivedMessage>& got) {
  std::multiset<DeliveredPair> out;
  for (const auto& m : got) {
    if (m.kind != ReceivedMessage::Kind::kDelivered) continue;
    EXPECT_FALSE(m.delivery.message_id.empty());
    EXPECT_TRUE(m.envelope.id().empty()) << "a delivery is not an envelope";
    for (const auto& to : m.delivery.to) {
      EXPECT_EQ(to.envelope_id.size(), 16u) << to.envelope_id;
      out.insert({m.delivery.message_id, to.device.ToString()});
    }
  }
  return out;
}

// The raw envelopes and watermarks of `relay`'s stream until the backlog is
// drained; everything delivered is acknowledged (cumulatively, while the
// stream is open) when `ack`.
struct RawBacklog {
  std::vector<v1::Envelope> envelopes;
  std::vector<v1::DeliveryWatermark> watermarks;
};
RawBacklog ReadRaw(client::RelayClient& relay, uint64_t watermarks_after_version, bool ack) {
  RawBacklog out;
  v1::ReceiveRequest request;
  request.set_watermarks_after_version(watermarks_after_version);
  auto stream = relay.Receive(request);
  if (!stream.ok()) {
    ADD_FAILURE() << stream.status();
    return out;
  }
  v1::ReceiveResponse response;
  while ((*stream)->Next(&response)) {
    for (const auto& e : response.envelopes()) out.envelopes.push_back(e);
    for (const auto& w : response.watermarks()) out.watermarks.push_back(w);
    if (ack && response.envelopes_size() > 0) {
      auto acked = relay.Ack(response.envelopes().rbegin()->sequence());
      EXPECT_TRUE(acked.ok()) << acked.status();
    }
    if (response.queue_drained()) break;
  }
  (*stream)->Cancel();
  while ((*stream)->Next(&response)) {
  }
  (*stream)->Finish().IgnoreError();  // CANCELLED: we ended it
  return out;
}

// What the server holds in `device`'s queue, read straight from its store
// (as a curious server, or a leaked copy, would have it).
absl::Status ReadRawQueue(TestServer& server, const store::DeviceRef& device,
                          std::vector<v1::Envelope>* out) {
  bool more = false;
  return server.server().relay().ReadQueue(device, 0, UINT64_MAX, 100, 1 << 20, out, &more);
}

v1::OutgoingEnvelope Plaintext(const std::string& account, uint32_t device,
                               const std::string& payload) {
  v1::OutgoingEnvelope e;
  e.set_account_id(account);
  e.set_device_id(device);
  e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  e.set_content(payload);
  return e;
}

size_t CountPayload(const std::vector<v1::Envelope>& got, const std::string& payload) {
  return std::count_if(got.begin(), got.end(),
                       [&](const v1::Envelope& e) { return e.content() == payload; });
}

class MessengerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice1 = MessengerDevice::NewAccount(server, "Alice");
    alice2 = MessengerDevice::Link(server, *alice1);
    bob1 = MessengerDevice::NewAccount(server, "Bob");
    bob2 = MessengerDevice::Link(server, *bob1);
  }
  TestServer server;
  std::unique_ptr<Device> alice1, alice2, bob1, bob2;
};

TEST_F(MessengerTest, PairwiseBothDirectionsReachEveryDevice) {
  auto first = alice1->m().SendText(bob1->account(), "bonjour Bob");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(bob2->m().SendText(alice1->account(), "dag Alice").ok());
  auto second = alice1->m().SendText(bob1->account(), "second");
  ASSERT_TRUE(second.ok()) << second.status();

  // bob1 also gets the copy of what bob2 sent, so both show the conversation.
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"bonjour Bob", "dag Alice", "second"}));
  // bob2 gets Alice's messages; the copy of its own message goes to bob1,
  // not back to itself.
  auto bob2_got = bob2->Drain();
  std::vector<std::string> bob2_texts;
  for (const auto& m : bob2_got) {
    if (m.kind == ReceivedMessage::Kind::kContent) bob2_texts.push_back(m.content.text().body());
  }
  EXPECT_EQ(bob2_texts, (std::vector<std::string>{"bonjour Bob", "second"}));

  auto alice1_got = alice1->Drain();  // bob2's message, then the deliveries
  int texts = 0;
  for (const auto& m : alice1_got) {
    if (m.kind == ReceivedMessage::Kind::kContent) {
      ++texts;
      EXPECT_EQ(m.content.text().body(), "dag Alice");
      EXPECT_EQ(m.sender.account_id, bob1->account());
      EXPECT_EQ(m.sender.device_id, bob2->device_id());
    }
    EXPECT_NE(m.kind, ReceivedMessage::Kind::kProblem) << m.problem;
  }
  EXPECT_EQ(texts, 1);
  // bob1 and bob2 stored both messages; the copies to alice2 ask for no
  // receipt, and nothing is listed twice.
  const std::string b1 = bob1->account() + "." + std::to_string(bob1->device_id());
  const std::string b2 = bob2->account() + "." + std::to_string(bob2->device_id());
  EXPECT_EQ(Deliveries(alice1_got), (std::multiset<DeliveredPair>{
                                        {*first, b1}, {*first, b2}, {*second, b1}, {*second, b2}}));

  // alice2 sees the whole conversation: Bob's message and Alice's own two as
  // copies marked with whom they were for; bob1 sees bob2's copy.
  auto alice2_got = alice2->Drain();
  std::vector<std::string> alice2_texts;
  for (const auto& m : alice2_got) {
    EXPECT_NE(m.kind, ReceivedMessage::Kind::kProblem) << m.problem;
    if (m.kind != ReceivedMessage::Kind::kContent) continue;
    alice2_texts.push_back(m.content.text().body());
    if (m.sender.account_id == alice1->account()) {
      EXPECT_EQ(m.content.sync_for_account_id(), bob1->account());
    }
  }
  EXPECT_EQ(alice2_texts, (std::vector<std::string>{"bonjour Bob", "dag Alice", "second"}));
}

// Issue 15, finding 3: a device added to an account is announced, as a
// changed safety number is: to the account's other devices by the server,
// and to someone who already wrote to the account when they next meet the
// new device (sending to it, or receiving its first message). Fails before
// the fix: nobody was told.
TEST_F(MessengerTest, NewDeviceIsAnnouncedToTheAccountAndItsContacts) {
  const auto device_added = [](const std::vector<ReceivedMessage>& got) {
    std::vector<ReceivedMessage> found;
    for (const auto& m : got) {
      if (m.kind == ReceivedMessage::Kind::kAlert &&
          m.alert.kind() == v1::Alert::KIND_DEVICE_ADDED) {
        found.push_back(m);
      }
    }
    return found;
  };
  auto carol = MessengerDevice::NewAccount(server, "Carol");
  auto dave = MessengerDevice::NewAccount(server, "Dave");
  // Carol and Dave know Bob's two devices; meeting them first is not news.
  ASSERT_TRUE(carol->m().SendText(bob1->account(), "hello Bob").ok());
  ASSERT_TRUE(bob1->m().SendText(dave->account(), "hello Dave").ok());
  EXPECT_TRUE(carol->m().TakeNewDevices().empty());
  EXPECT_TRUE(device_added(dave->Drain()).empty());
  bob1->Drain();

  auto bob3 = MessengerDevice::Link(server, *bob1);
  // Bob's other devices are told by the server, with the new device's name.
  for (Device* d : {bob1.get(), bob2.get()}) {
    auto told = device_added(d->Drain());
    ASSERT_EQ(told.size(), 1u);
    EXPECT_EQ(told[0].alert.subject_account_id(), bob1->account());
    EXPECT_EQ(told[0].alert.new_device().device_id(), bob3->device_id());
    EXPECT_FALSE(told[0].alert.device_name().empty());
  }
  EXPECT_TRUE(device_added(bob3->Drain()).empty());

  // Carol, writing to Bob again, meets the new device once.
  ASSERT_TRUE(carol->m().SendText(bob1->account(), "still there?").ok());
  auto met = carol->m().TakeNewDevices();
  ASSERT_EQ(met.size(), 1u);
  EXPECT_EQ(met[0].account_id, bob1->account());
  EXPECT_EQ(met[0].device_id, bob3->device_id());
  ASSERT_TRUE(carol->m().SendText(bob1->account(), "third").ok());
  EXPECT_TRUE(carol->m().TakeNewDevices().empty());

  // Dave hears first from the new device: the notice comes before its message.
  ASSERT_TRUE(bob3->m().SendText(dave->account(), "from my new phone").ok());
  auto got = dave->Drain();
  auto notices = device_added(got);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].sender.account_id, bob1->account());
  EXPECT_EQ(notices[0].sender.device_id, bob3->device_id());
  EXPECT_EQ(notices[0].alert.new_device().device_id(), bob3->device_id());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().content.text().body(), "from my new phone");
}

TEST_F(MessengerTest, GroupMessagesWithSenderKeys) {
  std::vector<std::string> members = {alice1->account(), bob1->account()};
  v1::Content c;
  c.mutable_text()->set_body("team: discharge tomorrow");
  ASSERT_TRUE(alice1->m().SendGroupContent("team-42", members, c).ok());
  c.mutable_text()->set_body("team: noted");
  ASSERT_TRUE(bob2->m().SendGroupContent("team-42", members, c).ok());

  auto group_texts = [](Device& d) {
    std::vector<std::string> out;
    for (const auto& m : d.Drain()) {
      EXPECT_NE(m.kind, ReceivedMessage::Kind::kProblem) << m.problem;
      if (m.kind == ReceivedMessage::Kind::kContent && m.content.has_text()) {
        EXPECT_EQ(m.content.group_id(), "team-42");
        EXPECT_EQ(m.envelope.type(), v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE);
        out.push_back(m.content.text().body());
      }
    }
    return out;
  };
  EXPECT_EQ(group_texts(*bob1),
            (std::vector<std::string>{"team: discharge tomorrow", "team: noted"}));
  EXPECT_EQ(group_texts(*alice2),
            (std::vector<std::string>{"team: discharge tomorrow", "team: noted"}));
  EXPECT_EQ(group_texts(*alice1), (std::vector<std::string>{"team: noted"}));
  EXPECT_EQ(group_texts(*bob2), (std::vector<std::string>{"team: discharge tomorrow"}));
}

TEST_F(MessengerTest, RotationCutsOffAFormerMember) {
  std::vector<std::string> both = {alice1->account(), bob1->account()};
  v1::Content c;
  c.mutable_text()->set_body("before");
  ASSERT_TRUE(alice1->m().SendGroupContent("team-7", both, c).ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"before"}));

  // Bob leaves: Alice rotates and sends to her own other device only.
  ASSERT_TRUE(alice1->m().RotateGroupKey("team-7").ok());
  c.mutable_text()->set_body("after");
  ASSERT_TRUE(alice1->m().SendGroupContent("team-7", {alice1->account()}, c).ok());
  // Take the group ciphertext the server relayed to alice2 (as a curious
  // server or a leaked copy would) and hand it to Bob: his old key cannot
  // read it.
  store::DeviceRef alice2_ref{*store::AccountId::FromHex(alice2->account()), alice2->device_id()};
  std::vector<v1::Envelope> raw;
  ASSERT_TRUE(ReadRawQueue(server, alice2_ref, &raw).ok());
  const v1::Envelope* group_message = nullptr;
  for (const auto& e : raw) {
    if (e.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE) group_message = &e;
  }
  ASSERT_NE(group_message, nullptr);
  std::vector<ReceivedMessage> out;
  ASSERT_TRUE(bob1->m().ProcessEnvelope(*group_message, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ReceivedMessage::Kind::kProblem);
  // alice2 reads it.
  EXPECT_EQ(alice2->Texts(), (std::vector<std::string>{"before", "after"}));
}

TEST_F(MessengerTest, DuplicatesAndOutOfOrderEnvelopes) {
  bob1->Drain();  // the announcement of bob2 (linked by the fixture)
  for (const char* t : {"one", "two", "three"}) {
    ASSERT_TRUE(alice1->m().SendText(bob1->account(), t).ok());
  }
  // Fetch the raw envelopes without processing them.
  store::DeviceRef bob_ref{*store::AccountId::FromHex(bob1->account()), bob1->device_id()};
  std::vector<v1::Envelope> raw;
  ASSERT_TRUE(ReadRawQueue(server, bob_ref, &raw).ok());
  ASSERT_EQ(raw.size(), 3u);

  std::vector<ReceivedMessage> out;
  // Out of order: three, one, then one again (duplicate), then two.
  ASSERT_TRUE(bob1->m().ProcessEnvelope(raw[2], &out).ok());
  ASSERT_TRUE(bob1->m().ProcessEnvelope(raw[0], &out).ok());
  ASSERT_TRUE(bob1->m().ProcessEnvelope(raw[0], &out).ok());
  ASSERT_TRUE(bob1->m().ProcessEnvelope(raw[1], &out).ok());
  std::vector<std::string> texts;
  for (const auto& m : out) {
    ASSERT_EQ(m.kind, ReceivedMessage::Kind::kContent) << m.problem;
    texts.push_back(m.content.text().body());
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"three", "one", "two"}));
  // Delivered again by the stream (not yet acknowledged): shown nowhere twice.
  EXPECT_TRUE(bob1->Texts().empty());
}

TEST_F(MessengerTest, LostEnvelopesDoNotBreakTheSession) {
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "first").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"first"}));
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "lost").ok());
  // The envelope is lost before bob1 reads it.
  store::DeviceRef bob_ref{*store::AccountId::FromHex(bob1->account()), bob1->device_id()};
  std::vector<v1::Envelope> raw;
  ASSERT_TRUE(ReadRawQueue(server, bob_ref, &raw).ok());
  ASSERT_EQ(raw.size(), 1u);
  {
    // Acknowledged on an open stream without being processed: gone.
    StreamCollector stream(bob1->relay(), v1::ReceiveRequest(), /*ack=*/false);
    ASSERT_EQ(stream.WaitFor(1).size(), 1u);
    auto acked = bob1->relay().Ack(raw[0].sequence());
    ASSERT_TRUE(acked.ok()) << acked.status();
    EXPECT_EQ(acked->acknowledged_through(), raw[0].sequence());
    EXPECT_EQ(acked->deleted(), 1u);
    stream.Cancel();
  }
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "after the loss").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"after the loss"}));
}

TEST_F(MessengerTest, ClientRestartKeepsSessions) {
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "before restart").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"before restart"}));
  ASSERT_TRUE(bob1->m().SendText(alice1->account(), "reply").ok());
  alice1->Reopen();
  bob1->Reopen();
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "after restart").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"after restart"}));
  auto alice_texts = alice1->Texts();
  EXPECT_EQ(alice_texts, (std::vector<std::string>{"reply"}));
  // The sessions were reused, not rebuilt: messages are plain SignalMessages.
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "again").ok());
  store::DeviceRef bob_ref{*store::AccountId::FromHex(bob1->account()), bob1->device_id()};
  std::vector<v1::Envelope> raw;
  ASSERT_TRUE(ReadRawQueue(server, bob_ref, &raw).ok());
  // Only "again": the delivery of "reply" is a watermark, never queued.
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].type(), v1::ENVELOPE_TYPE_CIPHERTEXT);
}

TEST_F(MessengerTest, TamperedCiphertextIsReportedAndAcknowledged) {
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "intact").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"intact"}));
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "to be tampered").ok());
  store::DeviceRef bob_ref{*store::AccountId::FromHex(bob1->account()), bob1->device_id()};
  std::vector<v1::Envelope> raw;
  ASSERT_TRUE(ReadRawQueue(server, bob_ref, &raw).ok());
  ASSERT_EQ(raw.size(), 1u);
  v1::Envelope tampered = raw[0];
  std::string body = tampered.content();
  body[body.size() / 2] ^= 0x20;
  tampered.set_content(body);
  tampered.set_id("ffffffffffff0001");  // as a separate delivery
  std::vector<ReceivedMessage> out;
  ASSERT_TRUE(bob1->m().ProcessEnvelope(tampered, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ReceivedMessage::Kind::kProblem);
  // The genuine one still decrypts afterwards: a failed decrypt changes nothing.
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"to be tampered"}));
}

TEST_F(MessengerTest, LostSessionIsReestablished) {
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "hello").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"hello"}));
  ASSERT_TRUE(bob1->m().SendText(alice1->account(), "hi").ok());  // alice's session confirmed
  EXPECT_EQ(alice1->Texts(), (std::vector<std::string>{"hi"}));
  // Bob's device loses its session with Alice (e.g. restored from an old backup).
  crypto::SessionManager bob_sessions(&bob1->profile());
  ASSERT_TRUE(bob_sessions.DeleteSession({alice1->account(), alice1->device_id()}).ok());

  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "unreadable").ok());
  std::vector<ReceivedMessage> problems;
  for (auto& m : bob1->Drain()) {
    if (m.kind == ReceivedMessage::Kind::kProblem) problems.push_back(m);
  }
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].problem.code(), absl::StatusCode::kDataLoss) << problems[0].problem;

  // Alice is told, and the conversation works again in both directions.
  bool told = false;
  for (const auto& m : alice1->Drain()) {
    if (m.kind == ReceivedMessage::Kind::kContent && m.content.has_session_reset()) told = true;
    EXPECT_NE(m.kind, ReceivedMessage::Kind::kProblem) << m.problem;
  }
  EXPECT_TRUE(told);
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "readable again").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"readable again"}));
}

TEST_F(MessengerTest, ChangedIdentityBlocksSendingUntilTrusted) {
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "hello").ok());
  auto numbers = alice1->m().SafetyNumbers(bob1->account());
  ASSERT_TRUE(numbers.ok()) << numbers.status();
  ASSERT_EQ(numbers->size(), 2u);
  // Bob's side computes the same number for the pair (alice1, bob1).
  bob1->Drain();
  auto bob_numbers = bob1->m().SafetyNumbers(alice1->account());
  ASSERT_TRUE(bob_numbers.ok()) << bob_numbers.status();
  for (const auto& n : *bob_numbers) {
    if (n.remote.device_id == alice1->device_id()) {
      EXPECT_EQ(n.number.digits, (*numbers)[0].number.digits);
    }
  }

  // The server (compromised) substitutes a new identity for bob1's device,
  // and Alice's session with it is gone (so she fetches a bundle again).
  TempDir mallory_dir;
  crypto::ProfileOptions options;
  options.allow_unencrypted = true;
  auto mallory = crypto::ProfileStore::Open(mallory_dir.Sub("keys"), options);
  ASSERT_TRUE(mallory.ok());
  crypto::KeyManager mallory_keys(mallory->get());
  auto forged = mallory_keys.PrepareRegistration(absl::Now(), 1);
  ASSERT_TRUE(forged.ok());
  store::DeviceRef bob_ref{*store::AccountId::FromHex(bob1->account()), bob1->device_id()};
  server.Stop();
  {
    auto db = store::Database::Open(server.data_dir(), store::DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    store::AccountTable accounts(db->get());
    store::PrekeyTable prekeys(db->get());
    auto device = accounts.GetDevice(bob_ref);
    ASSERT_TRUE(device.ok());
    device->set_identity_key(forged->identity_key);
    store::SignedPrekeyRecord spk;
    spk.set_key_id(forged->signed_prekey.key_id);
    spk.set_public_key(forged->signed_prekey.public_key);
    spk.set_signature(forged->signed_prekey.signature);
    auto txn = (*db)->Begin();
    ASSERT_TRUE(accounts.PutDevice(*txn, bob_ref.account, *device).ok());
    ASSERT_TRUE(prekeys.PutSignedPrekey(*txn, bob_ref, spk).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  server.Restart();
  crypto::SessionManager alice_sessions(&alice1->profile());
  ASSERT_TRUE(alice_sessions.DeleteSession({bob1->account(), bob1->device_id()}).ok());

  auto blocked = alice1->m().SendText(bob1->account(), "secret");
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kFailedPrecondition) << blocked.status();
  auto after = alice1->m().SafetyNumbers(bob1->account());
  ASSERT_TRUE(after.ok());
  bool flagged = false;
  for (const auto& n : *after) flagged |= n.changed;
  EXPECT_TRUE(flagged);

  auto trusted = alice1->m().Trust(bob1->account());
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(*trusted, 1);
  EXPECT_TRUE(alice1->m().SendText(bob1->account(), "after trusting").ok());
}

// Delivery receipts are watermarks on the sender's stream: each recipient
// device's acknowledgement shows as "delivered" for exactly the messages it
// covers, and a reconnect that passes the version kept shows none again.
TEST_F(MessengerTest, DeliveriesComeFromWatermarksOnceEach) {
  auto first = alice1->m().SendText(bob1->account(), "first");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string b1 = bob1->account() + "." + std::to_string(bob1->device_id());
  const std::string b2 = bob2->account() + "." + std::to_string(bob2->device_id());

  // Nothing is delivered before a device stores it.
  EXPECT_TRUE(Deliveries(alice1->Drain()).empty());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"first"}));
  auto second = alice1->m().SendText(bob1->account(), "second");
  ASSERT_TRUE(second.ok()) << second.status();
  // bob1's watermark covers "first" only: "second" was sent after.
  EXPECT_EQ(Deliveries(alice1->Drain()), (std::multiset<DeliveredPair>{{*first, b1}}));
  EXPECT_TRUE(Deliveries(alice1->Drain()).empty()) << "shown once";

  EXPECT_EQ(bob2->Texts(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"second"}));
  auto got = alice1->Drain();
  EXPECT_EQ(Deliveries(got),
            (std::multiset<DeliveredPair>{{*first, b2}, {*second, b1}, {*second, b2}}));
  for (const auto& m : got) {
    if (m.kind != ReceivedMessage::Kind::kDelivered) continue;
    EXPECT_TRUE(m.team_id.empty());
    EXPECT_GT(m.delivery.sent_at, absl::Now() - absl::Minutes(5));
    for (const auto& to : m.delivery.to) EXPECT_EQ(to.device.account_id, bob1->account());
  }
  // alice2 sent nothing: the watermarks are alice1's alone.
  EXPECT_TRUE(Deliveries(alice2->Drain()).empty());

  // The process restarts: the version it kept is passed again, so nothing
  // comes back (although the server still holds the watermarks).
  alice1->Reopen();
  EXPECT_TRUE(Deliveries(alice1->Drain()).empty());
  RawBacklog all = ReadRaw(alice1->relay(), 0, /*ack=*/false);
  std::set<std::string> devices;
  uint64_t version = 0;
  for (const auto& w : all.watermarks) {
    devices.insert(w.recipient().account_id() + "." + std::to_string(w.recipient().device_id()));
    version = std::max(version, w.version());
  }
  EXPECT_EQ(devices, (std::set<std::string>{b1, b2})) << "from version 0, both are there";
  EXPECT_TRUE(ReadRaw(alice1->relay(), version, false).watermarks.empty());

  // A message sent now is still matched after the restart.
  auto third = alice1->m().SendText(bob1->account(), "third");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"third"}));
  EXPECT_EQ(Deliveries(alice1->Drain()), (std::multiset<DeliveredPair>{{*third, b1}}));
}

// A retry of a send with the same idempotency key returns the first answer
// and queues nothing twice; a key whose send failed may be used again.
TEST_F(MessengerTest, RetryWithTheSameIdempotencyKeyIsQueuedOnce) {
  v1::SendRequest request;
  request.set_account_id(bob1->account());
  *request.add_envelopes() = Plaintext(bob1->account(), bob1->device_id(), "once");
  *request.add_envelopes() = Plaintext(bob1->account(), bob2->device_id(), "once");
  request.set_idempotency_key("discharge-letter-0001");
  auto sent = alice1->relay().Send(request);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_FALSE(sent->replayed());
  auto again = alice1->relay().Send(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed());
  EXPECT_EQ(std::vector<std::string>(again->envelope_ids().begin(), again->envelope_ids().end()),
            std::vector<std::string>(sent->envelope_ids().begin(), sent->envelope_ids().end()));
  EXPECT_EQ(CountPayload(ReadRaw(bob1->relay(), 0, true).envelopes, "once"), 1u);
  EXPECT_EQ(CountPayload(ReadRaw(bob2->relay(), 0, true).envelopes, "once"), 1u);

  // Without a key of its own, every call is a new send.
  request.clear_idempotency_key();
  request.mutable_envelopes(0)->set_content("twice");
  request.mutable_envelopes(1)->set_content("twice");
  auto one = alice1->relay().Send(request);
  auto two = alice1->relay().Send(request);
  ASSERT_TRUE(one.ok() && two.ok()) << one.status() << two.status();
  EXPECT_FALSE(two->replayed());
  EXPECT_EQ(CountPayload(ReadRaw(bob1->relay(), 0, true).envelopes, "twice"), 2u);

  // Refused for a missing device (bob2): nothing stored under the key, so
  // the corrected send may use it and is queued.
  v1::SendRequest partial;
  partial.set_account_id(bob1->account());
  *partial.add_envelopes() = Plaintext(bob1->account(), bob1->device_id(), "corrected");
  partial.set_idempotency_key("corrected-0001");
  auto refused = alice1->relay().Send(partial);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  *partial.add_envelopes() = Plaintext(bob1->account(), bob2->device_id(), "corrected");
  auto corrected = alice1->relay().Send(partial);
  ASSERT_TRUE(corrected.ok()) << corrected.status();
  EXPECT_FALSE(corrected->replayed());
  EXPECT_EQ(CountPayload(ReadRaw(bob1->relay(), 0, true).envelopes, "corrected"), 1u);
  EXPECT_EQ(CountPayload(ReadRaw(bob2->relay(), 0, true).envelopes, "corrected"), 1u);
}

// The connection is cut while a send's answer comes back: the client cannot
// know whether it was queued, sends it again under the same key, and the
// message arrives once.
TEST_F(MessengerTest, SendCutMidAnswerIsRetriedAndArrivesOnce) {
  CutProxy proxy(server.server().port());
  alice1->ConnectVia(proxy.target());
  // Sessions and device lists first (this client's cache), so that the
  // next call after the cut is armed is the send itself.
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), "hello").ok());
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"hello"}));
  EXPECT_EQ(bob2->Texts(), (std::vector<std::string>{"hello"}));
  proxy.CutOnceAfter(1, /*upstream=*/false);
  auto sent = alice1->m().SendText(bob1->account(), "through a tunnel");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(proxy.cuts(), 1);
  // One envelope per device is queued. (The queue itself is counted: a
  // second copy of the same ciphertext would be dropped by the session as
  // a duplicate, so the texts alone could not show it.)
  EXPECT_EQ(ReadRaw(bob1->relay(), 0, /*ack=*/false).envelopes.size(), 1u);
  EXPECT_EQ(ReadRaw(bob2->relay(), 0, /*ack=*/false).envelopes.size(), 1u);
  EXPECT_EQ(bob1->Texts(), (std::vector<std::string>{"through a tunnel"}));
  EXPECT_EQ(bob2->Texts(), (std::vector<std::string>{"through a tunnel"}));
}

TEST_F(MessengerTest, ServerNeverStoresOrLogsPlaintext) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  spdlog::set_level(spdlog::level::trace);

  const std::string marker = "MARKER-7f3a9c-Peeters-85073100123";
  ASSERT_TRUE(alice1->m().SendText(bob1->account(), marker + " pairwise").ok());
  v1::Content c;
  c.mutable_text()->set_body(marker + " group");
  ASSERT_TRUE(alice1->m().SendGroupContent("g", {bob1->account()}, c).ok());
  // A helpdesk intake routed to Bob, with the caller's words as its notes:
  // the server keeps the intake's ids and states, never the notes.
  auto helpdesk = MessengerDevice::NewAccount(server, "Helpdesk", v1::ACCOUNT_KIND_HELPDESK);
  v1::OpenIntakeRequest call;
  call.set_caller_kind(v1::CALLER_KIND_PATIENT);
  call.set_urgency(v1::INTAKE_URGENCY_HIGH);
  call.set_category(v1::INTAKE_CATEGORY_ACCESS_TO_CARE);
  call.set_source(v1::INTAKE_SOURCE_VOICEMAIL);
  auto intake = helpdesk->relay().OpenIntake(call);
  ASSERT_TRUE(intake.ok()) << intake.status();
  v1::RouteIntakeRequest route;
  route.set_intake_id(intake->intake_id());
  route.set_route_kind(v1::ROUTE_KIND_PROFESSIONAL);
  route.set_account_id(bob1->account());
  auto routed = helpdesk->relay().RouteIntake(route);
  ASSERT_TRUE(routed.ok()) << routed.status();
  ASSERT_TRUE(helpdesk->m().SendIntakeNotes(*routed, marker + " intake notes").ok());
  // Flush memtables to SST files and write everything out.
  server.Restart();
  spdlog::default_logger()->flush();

  size_t files = 0, bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    bytes += content.size();
    EXPECT_EQ(content.find(marker), std::string::npos) << "plaintext in " << entry.path();
    EXPECT_EQ(content.find("Peeters"), std::string::npos) << entry.path();
  }
  EXPECT_GT(files, 3u);
  EXPECT_GT(bytes, 0u);
  EXPECT_FALSE(log.str().empty());
  EXPECT_EQ(log.str().find(marker), std::string::npos);
  spdlog::default_logger()->sinks().pop_back();
  spdlog::set_level(spdlog::level::warn);
  // And the recipient does read it.
  auto texts = bob1->Texts();
  ASSERT_EQ(texts.size(), 3u);
  EXPECT_EQ(texts[0], marker + " pairwise");
  EXPECT_EQ(texts[2], marker + " intake notes");
}

}  // namespace
}  // namespace carerelay::testing
