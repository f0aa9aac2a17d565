// The delivery contract through a real server over TLS on a real RocksDB:
// send/receive/ack, order, live delivery, stream replacement, receipts,
// expiry, limits, exact recipient sets, malformed input.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "proto/error_detail.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

std::vector<std::string> Ids(const std::vector<v1::Envelope>& envelopes) {
  std::vector<std::string> ids;
  for (const auto& e : envelopes) ids.push_back(e.id());
  return ids;
}

v1::SendRequest Request(const std::string& account, std::vector<uint32_t> devices,
                        const std::string& payload = "x") {
  v1::SendRequest r;
  r.set_account_id(account);
  for (uint32_t d : devices) {
    auto* e = r.add_envelopes();
    e->set_account_id(account);
    e->set_device_id(d);
    e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
    e->set_content(payload);
  }
  return r;
}

TEST(RelayTest, SendReceiveAckAndReceipt) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  auto bob2 = TestDevice::Link(server, *bob);

  auto sent = alice->SendBytes(bob->account_id(), "opaque ciphertext");
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(sent->envelope_ids_size(), 2);
  EXPECT_EQ(alice->client().KnownDevices(bob->account_id()), (std::vector<uint32_t>{1, 2}));

  for (TestDevice* d : {bob.get(), bob2.get()}) {
    auto got = d->ReceiveBacklog();
    ASSERT_EQ(got.size(), 1u) << d->address();
    EXPECT_EQ(got[0].content(), "opaque ciphertext");
    EXPECT_EQ(got[0].type(), v1::ENVELOPE_TYPE_PLAINTEXT);
    EXPECT_EQ(got[0].sender().account_id(), alice->account_id());
    EXPECT_EQ(got[0].sender().device_id(), 1u);
    EXPECT_EQ(got[0].destination_device_id(), d->device_id());
    EXPECT_GT(got[0].expires_at_ms(), got[0].server_timestamp_ms());
    // Not acknowledged yet: delivered again.
    EXPECT_EQ(Ids(d->ReceiveBacklog()), Ids(got));
    auto acked = d->client().Ack(Ids(got));
    ASSERT_TRUE(acked.ok()) << acked.status();
    EXPECT_EQ(*acked, 1u);
    EXPECT_TRUE(d->ReceiveBacklog().empty());
    // Acknowledging again is harmless.
    EXPECT_EQ(*d->client().Ack(Ids(got)), 0u);
  }

  auto receipts = alice->ReceiveBacklog();
  ASSERT_EQ(receipts.size(), 2u);
  std::set<uint32_t> from;
  for (const auto& r : receipts) {
    EXPECT_EQ(r.type(), v1::ENVELOPE_TYPE_DELIVERY_RECEIPT);
    EXPECT_EQ(r.receipt_from().account_id(), bob->account_id());
    from.insert(r.receipt_from().device_id());
    EXPECT_TRUE(r.receipt_for_envelope_id() == sent->envelope_ids(0) ||
                r.receipt_for_envelope_id() == sent->envelope_ids(1));
  }
  EXPECT_EQ(from, (std::set<uint32_t>{1, 2}));
  ASSERT_TRUE(alice->client().Ack(Ids(receipts)).ok());
  // Receipts get no receipts.
  EXPECT_TRUE(bob->ReceiveBacklog().empty());
}

TEST(RelayTest, QueueIsDeliveredInOrder) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(alice->SendBytes(bob->account_id(), "m" + std::to_string(i)).ok());
  }
  auto got = bob->ReceiveBacklog();  // spans several stream messages (64 per message)
  ASSERT_EQ(got.size(), 150u);
  for (int i = 0; i < 150; ++i) {
    EXPECT_EQ(got[i].content(), "m" + std::to_string(i));
    if (i > 0) EXPECT_GT(got[i].sequence(), got[i - 1].sequence());
  }
}

TEST(RelayTest, LiveDeliveryWhileStreamIsOpen) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "queued").ok());
  StreamCollector stream(bob->client());
  auto first = stream.WaitFor(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(stream.drained());
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "live 1").ok());
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "live 2").ok());
  auto all = stream.WaitFor(3);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].content(), "live 1");
  EXPECT_EQ(all[2].content(), "live 2");
}

TEST(RelayTest, ConcurrentSendersAreDeliveredOnceEachInSequenceOrder) {
  TestServer server;
  auto bob = TestDevice::Enroll(server, "Bob");
  StreamCollector stream(bob->client());
  constexpr int kSenders = 6, kEach = 40;
  std::vector<std::unique_ptr<TestDevice>> senders;
  for (int i = 0; i < kSenders; ++i) senders.push_back(TestDevice::Enroll(server, "S"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kSenders; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto s =
            senders[i]->SendBytes(bob->account_id(), std::to_string(i) + ":" + std::to_string(j));
        ASSERT_TRUE(s.ok()) << s.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto got = stream.WaitFor(kSenders * kEach);
  ASSERT_EQ(got.size(), static_cast<size_t>(kSenders * kEach));
  std::set<std::string> ids;
  for (size_t i = 0; i < got.size(); ++i) {
    ids.insert(got[i].id());
    if (i > 0) EXPECT_GT(got[i].sequence(), got[i - 1].sequence()) << "at " << i;
  }
  EXPECT_EQ(ids.size(), got.size());
}

TEST(RelayTest, NewStreamReplacesOldOne) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  StreamCollector old_stream(bob->client());
  old_stream.WaitFor(0);
  absl::SleepFor(absl::Milliseconds(100));
  StreamCollector new_stream(bob->client());
  EXPECT_EQ(old_stream.WaitEnd().code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "to the new one").ok());
  auto got = new_stream.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content(), "to the new one");
}

TEST(RelayTest, RevocationEndsTheStream) {
  TestServer server;
  auto bob = TestDevice::Enroll(server, "Bob");
  auto bob2 = TestDevice::Link(server, *bob);
  StreamCollector stream(bob2->client());
  stream.WaitFor(0);
  ASSERT_TRUE(bob->client().RevokeDevice(bob2->device_id()).ok());
  EXPECT_EQ(stream.WaitEnd().code(), absl::StatusCode::kUnauthenticated);
}

TEST(RelayTest, EnvelopesSurviveRestart) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "before restart").ok());
  server.Restart();
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "after restart").ok());
  auto got = bob->ReceiveBacklog();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].content(), "before restart");
  EXPECT_EQ(got[1].content(), "after restart");
  EXPECT_GT(got[1].sequence(), got[0].sequence());
}

TEST(RelayTest, EnvelopesExpireAfterTtl) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "old").ok());
  server.clock().Advance(absl::Hours(24 * 29));
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "newer").ok());
  server.clock().Advance(absl::Hours(24 * 2));  // the first is 31 days old
  auto got = bob->ReceiveBacklog();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content(), "newer");
  auto expired = server.server().relay().ExpireEnvelopes();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1u);
}

TEST(RelayTest, RecipientSetMustBeExact) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto alice2 = TestDevice::Link(server, *alice);
  auto bob = TestDevice::Enroll(server, "Bob");
  auto bob2 = TestDevice::Link(server, *bob);
  auto bob3 = TestDevice::Link(server, *bob);
  ASSERT_TRUE(bob->client().RevokeDevice(3).ok());

  // Names 1 (fine), 3 (revoked: stale), 9 (unknown: extra); misses 2.
  auto r = alice->client().Send(Request(bob->account_id(), {1, 3, 9}));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  auto detail = GetDetail(r.status());
  ASSERT_TRUE(detail.has_value());
  const auto& m = detail->device_mismatch();
  ASSERT_EQ(m.missing_size(), 1);
  EXPECT_EQ(m.missing(0).device_id(), 2u);
  ASSERT_EQ(m.stale_size(), 1);
  EXPECT_EQ(m.stale(0).device_id(), 3u);
  ASSERT_EQ(m.extra_size(), 1);
  EXPECT_EQ(m.extra(0).device_id(), 9u);

  // A changed registration id is stale.
  v1::SendRequest wrong_reg = Request(bob->account_id(), {1, 2});
  wrong_reg.mutable_envelopes(0)->set_registration_id(16000);
  auto s = alice->client().Send(wrong_reg);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetDetail(s.status())->device_mismatch().stale_size(), 1);

  // A device of another account is extra.
  v1::SendRequest foreign = Request(bob->account_id(), {1, 2});
  foreign.mutable_envelopes(1)->set_account_id(alice->account_id());
  s = alice->client().Send(foreign);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetDetail(s.status())->device_mismatch().extra_size(), 1);

  // Nothing was queued by the refused sends.
  EXPECT_TRUE(bob->ReceiveBacklog().empty());

  // To one's own account: the other devices, never the sending one.
  auto own = alice->client().Send(Request(alice->account_id(), {1, 2}));
  ASSERT_EQ(own.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetDetail(own.status())->device_mismatch().extra(0).device_id(), 1u);
  EXPECT_TRUE(alice->client().Send(Request(alice->account_id(), {2})).ok());
  EXPECT_EQ(alice2->ReceiveBacklog().size(), 1u);

  // The client library fixes its list and retries by itself.
  alice->client().ForgetDevices(bob->account_id());
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "fixed").ok());
  EXPECT_EQ(alice->client().KnownDevices(bob->account_id()), (std::vector<uint32_t>{1, 2}));
}

TEST(RelayTest, MalformedRequestsAreRefused) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  auto code = [&](const v1::SendRequest& r) { return alice->client().Send(r).status().code(); };

  EXPECT_EQ(code(v1::SendRequest()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Request("xyz", {1})), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Request(std::string(32, 'f'), {1})), absl::StatusCode::kNotFound);
  v1::SendRequest twice = Request(bob->account_id(), {1, 1});
  EXPECT_EQ(code(twice), absl::StatusCode::kInvalidArgument);
  v1::SendRequest server_type = Request(bob->account_id(), {1});
  server_type.mutable_envelopes(0)->set_type(v1::ENVELOPE_TYPE_DELIVERY_RECEIPT);
  EXPECT_EQ(code(server_type), absl::StatusCode::kInvalidArgument);
  v1::SendRequest bad_priority = Request(bob->account_id(), {1});
  bad_priority.set_priority(static_cast<v1::Priority>(42));
  EXPECT_EQ(code(bad_priority), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(bob->client().Ack({"nothex"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bob->client().Ack({std::string(400, '1')}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bob->client().Ack(std::vector<std::string>(1001, "0000000000000001")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Someone else's envelope id acknowledges nothing.
  auto sent = alice->SendBytes(bob->account_id(), "mine");
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*alice->client().Ack({sent->envelope_ids(0)}), 0u);
  EXPECT_EQ(bob->ReceiveBacklog().size(), 1u);
}

TEST(RelayTest, EnvelopeSizeAndCountLimits) {
  core::Limits limits = TestLimits();
  limits.max_envelope_bytes = 1000;
  limits.max_envelopes_per_send = 2;
  TestServer server(limits);
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  auto big = alice->client().Send(Request(bob->account_id(), {1}, std::string(1001, 'x')));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("1000"), std::string::npos);
  EXPECT_TRUE(alice->client().Send(Request(bob->account_id(), {1}, std::string(1000, 'x'))).ok());
  auto many = alice->client().Send(Request(bob->account_id(), {1, 2, 3}));
  EXPECT_EQ(many.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RelayTest, QueueDepthLimit) {
  core::Limits limits = TestLimits();
  limits.max_queue_depth = 5;
  TestServer server(limits);
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(alice->SendBytes(bob->account_id(), "m").ok());
  auto full = alice->SendBytes(bob->account_id(), "one too many");
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("full"), std::string::npos);
  auto got = bob->ReceiveBacklog();
  ASSERT_EQ(got.size(), 5u);
  ASSERT_TRUE(bob->client().Ack(Ids(got)).ok());
  EXPECT_TRUE(alice->SendBytes(bob->account_id(), "room again").ok());
}

TEST(RelayTest, SendRateLimitPerDevice) {
  core::Limits limits = TestLimits();
  limits.sends_per_second = 1;
  limits.send_burst = 3;
  TestServer server(limits);
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(alice->client().Send(Request(bob->account_id(), {1})).ok());
  }
  auto limited = alice->client().Send(Request(bob->account_id(), {1}));
  ASSERT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  auto detail = GetDetail(limited.status());
  ASSERT_TRUE(detail.has_value());
  EXPECT_GE(detail->retry_after_seconds(), 1u);
  // Another device has its own bucket.
  EXPECT_TRUE(bob->client().Send(Request(alice->account_id(), {1})).ok());
  server.clock().Advance(absl::Seconds(2));
  EXPECT_TRUE(alice->client().Send(Request(bob->account_id(), {1})).ok());
}

}  // namespace
}  // namespace carerelay::testing
