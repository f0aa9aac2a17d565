// The delivery contract (v2) through a real server over TLS on a real
// RocksDB: send/receive, windowed streams and cumulative acknowledgement
// (clamped to what the stream delivered), delivery watermarks, idempotency
// keys, order, live delivery, stream replacement, expiry, limits, exact
// recipient sets, malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
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

v1::ReceiveRequest Window(uint32_t messages, uint32_t envelopes = 0, uint64_t after_version = 0) {
  v1::ReceiveRequest r;
  r.set_window_messages(messages);
  r.set_max_envelopes_per_message(envelopes);
  r.set_watermarks_after_version(after_version);
  return r;
}

uint64_t Sequence(const std::string& envelope_id) { return std::stoull(envelope_id, nullptr, 16); }

TEST(RelayTest, SendReceiveCumulativeAckAndDeliveryWatermarks) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  // bob's queue starts with the server's announcement of bob2 (issue 15),
  // left there: draining it would open a stream that may still be closing
  // on the server when the send below arrives.
  auto bob2 = TestDevice::Link(server, *bob);

  v1::SendRequest request = Request(bob->account_id(), {1, 2}, "opaque ciphertext");
  request.set_want_receipts(true);
  auto sent = alice->client().Send(request);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(sent->envelope_ids_size(), 2);
  EXPECT_FALSE(sent->replayed());

  for (TestDevice* d : {bob.get(), bob2.get()}) {
    // With no stream ever opened, an acknowledgement applies to nothing.
    auto no_stream = d->client().Ack(UINT64_MAX);
    ASSERT_TRUE(no_stream.ok()) << no_stream.status();
    EXPECT_EQ(no_stream->acknowledged_through(), 0u);
    EXPECT_EQ(no_stream->deleted(), 0u);
    const std::vector<v1::Envelope> all = d->ReceiveBacklog();
    std::vector<v1::Envelope> got;
    for (const auto& e : all) {
      if (e.type() == v1::ENVELOPE_TYPE_PLAINTEXT) got.push_back(e);
    }
    ASSERT_EQ(got.size(), 1u) << d->address();
    EXPECT_EQ(got[0].content(), "opaque ciphertext");
    EXPECT_EQ(got[0].type(), v1::ENVELOPE_TYPE_PLAINTEXT);
    EXPECT_EQ(got[0].sender().account_id(), alice->account_id());
    EXPECT_EQ(got[0].sender().device_id(), 1u);
    EXPECT_EQ(got[0].destination_device_id(), d->device_id());
    EXPECT_EQ(got[0].id(), sent->envelope_ids(d->device_id() - 1));
    EXPECT_EQ(got[0].sequence(), Sequence(got[0].id()));
    EXPECT_TRUE(got[0].receipt_requested());
    EXPECT_GT(got[0].expires_at_ms(), got[0].server_timestamp_ms());
    // Not acknowledged yet: delivered again.
    EXPECT_EQ(Ids(d->ReceiveBacklog(/*ack=*/true)), Ids(all));
    EXPECT_TRUE(d->ReceiveBacklog().empty());
  }

  // The sender's stream carries one watermark per recipient device, never
  // an envelope.
  StreamCollector alice_stream(alice->client());
  auto marks = alice_stream.WaitForWatermarks(2);
  ASSERT_EQ(marks.size(), 2u);
  std::set<uint32_t> from;
  uint64_t highest_version = 0;
  for (const auto& w : marks) {
    EXPECT_EQ(w.recipient().account_id(), bob->account_id());
    from.insert(w.recipient().device_id());
    EXPECT_EQ(w.delivered_through(), Sequence(sent->envelope_ids(w.recipient().device_id() - 1)));
    highest_version = std::max(highest_version, w.version());
  }
  EXPECT_EQ(from, (std::set<uint32_t>{1, 2}));
  EXPECT_TRUE(alice_stream.WaitFor(1, absl::Milliseconds(200)).empty());
  alice_stream.Cancel();
  EXPECT_EQ(alice_stream.WaitEnd().code(), absl::StatusCode::kCancelled);

  // A reconnect from the stored version gets no watermark again...
  StreamCollector again(alice->client(), Window(0, 0, highest_version));
  EXPECT_TRUE(again.WaitForWatermarks(1, absl::Milliseconds(300)).empty());
  // ...until one moves: live, on the open stream.
  request.clear_idempotency_key();
  auto second = alice->client().Send(request);
  ASSERT_TRUE(second.ok()) << second.status();
  bob->ReceiveBacklog(/*ack=*/true);
  auto moved = again.WaitForWatermarks(1);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].recipient().device_id(), 1u);
  EXPECT_EQ(moved[0].delivered_through(), Sequence(second->envelope_ids(0)));
  EXPECT_GT(moved[0].version(), highest_version);
  again.Cancel();

  // Without want_receipts, an acknowledgement moves no watermark.
  ASSERT_TRUE(alice->client().Send(Request(bob->account_id(), {1, 2})).ok());
  bob->ReceiveBacklog(true);
  bob2->ReceiveBacklog(true);
  StreamCollector quiet(alice->client(), Window(0, 0, moved[0].version()));
  auto later = quiet.WaitForWatermarks(2, absl::Milliseconds(300));
  // Only bob2's watermark for the second send, which it had not acknowledged yet.
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].recipient().device_id(), 2u);
  EXPECT_EQ(later[0].delivered_through(), Sequence(second->envelope_ids(1)));
}

TEST(RelayTest, WindowHoldsBackAndCoalescesUntilAcknowledged) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  // Window of one message: stop-and-wait.
  StreamCollector stream(bob->client(), Window(1), /*ack=*/false);
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "first").ok());
  ASSERT_EQ(stream.WaitFor(1).size(), 1u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(alice->SendBytes(bob->account_id(), "more").ok());
  // The window is full: nothing more comes until the acknowledgement.
  EXPECT_EQ(stream.WaitFor(2, absl::Milliseconds(300)).size(), 1u);
  auto first = stream.WaitFor(1);
  // An acknowledgement beyond what was delivered is clamped to it.
  auto acked = bob->client().Ack(first[0].sequence() + 1000);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->acknowledged_through(), first[0].sequence());
  EXPECT_EQ(acked->deleted(), 1u);
  // The five waiting envelopes leave in one message.
  auto all = stream.WaitFor(6);
  ASSERT_EQ(all.size(), 6u);
  auto messages = stream.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].envelopes_size(), 5);
  // Repeating an acknowledgement, or one below it, deletes nothing more.
  auto again = bob->client().Ack(first[0].sequence());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->deleted(), 0u);
  auto rest = bob->client().Ack(all.back().sequence());
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->deleted(), 5u);
  stream.Cancel();
  EXPECT_EQ(stream.WaitEnd().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(bob->ReceiveBacklog().empty());
}

TEST(RelayTest, AcknowledgementNeverDeletesWhatTheStreamDidNotDeliver) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(alice->SendBytes(bob->account_id(), "m" + std::to_string(i)).ok());
  }
  // One envelope per message, window of one: the stream delivers only the first.
  StreamCollector stream(bob->client(), Window(1, 1), /*ack=*/false);
  auto got = stream.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(stream.WaitFor(2, absl::Milliseconds(200)).size(), 1u);
  // "Through everything" deletes the one delivered envelope only.
  auto acked = bob->client().Ack(UINT64_MAX);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->deleted(), 1u);
  EXPECT_EQ(acked->acknowledged_through(), got[0].sequence());
  auto next = stream.WaitFor(2);
  ASSERT_EQ(next.size(), 2u);
  stream.Cancel();
  EXPECT_EQ(stream.WaitEnd().code(), absl::StatusCode::kCancelled);
  auto left = bob->ReceiveBacklog();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].content(), "m1");
  EXPECT_EQ(left[2].content(), "m3");
}

TEST(RelayTest, SecondStreamTakesOverTheWindow) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(alice->SendBytes(bob->account_id(), "m").ok());
  StreamCollector first(bob->client(), Window(4), /*ack=*/false);
  auto delivered = first.WaitFor(3);
  ASSERT_EQ(delivered.size(), 3u);
  StreamCollector second(bob->client(), Window(4), /*ack=*/false);
  EXPECT_EQ(first.WaitEnd().code(), absl::StatusCode::kAborted);
  // Unacknowledged on the first: delivered again on the second.
  auto redelivered = second.WaitFor(3);
  EXPECT_EQ(Ids(redelivered), Ids(delivered));
  // The first stream's acknowledgement, arriving late, applies to the
  // second, clamped to what the second delivered.
  auto acked = bob->client().Ack(delivered[1].sequence());
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->deleted(), 2u);
  ASSERT_TRUE(alice->SendBytes(bob->account_id(), "live").ok());
  auto live = second.WaitFor(4);
  ASSERT_EQ(live.size(), 4u);
  EXPECT_EQ(live[3].content(), "live");
  second.Cancel();
  EXPECT_EQ(second.WaitEnd().code(), absl::StatusCode::kCancelled);
  auto left = bob->ReceiveBacklog();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id(), delivered[2].id());
}

TEST(RelayTest, IdempotencyKeyQueuesARetryOnlyOnce) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  v1::SendRequest request = Request(bob->account_id(), {1}, "once");
  request.set_idempotency_key("retry-me-0001");
  auto first = alice->client().Send(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed());
  // A retry, even changed, gets the first answer and queues nothing.
  request.mutable_envelopes(0)->set_content("twice?");
  auto retry = alice->client().Send(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed());
  EXPECT_EQ(retry->envelope_ids(0), first->envelope_ids(0));
  // Concurrent retries of a new key: one send, the same ids for all.
  request.set_idempotency_key("retry-me-0002");
  std::vector<absl::StatusOr<v1::SendResponse>> results(4, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = alice->client().Send(request); });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->envelope_ids(0), results[0]->envelope_ids(0));
    if (!r->replayed()) ++fresh;
  }
  EXPECT_EQ(fresh, 1);
  // The key is per sending device: Bob may use the same one.
  v1::SendRequest back = Request(alice->account_id(), {1});
  back.set_idempotency_key("retry-me-0001");
  auto bobs = bob->client().Send(back);
  ASSERT_TRUE(bobs.ok());
  EXPECT_FALSE(bobs->replayed());
  // Survives a restart.
  request.set_idempotency_key("retry-me-0001");
  server.Restart();
  auto after = alice->client().Send(request);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->replayed());
  auto got = bob->ReceiveBacklog();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].content(), "once");
  // Forgotten after the idempotency window.
  server.clock().Advance(absl::Hours(25));
  ASSERT_TRUE(server.server().relay().ExpireEnvelopes().ok());
  auto late = alice->client().Send(request);
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->replayed());
  // Too long a key is refused.
  request.set_idempotency_key(std::string(65, 'k'));
  EXPECT_EQ(alice->client().Send(request).status().code(), absl::StatusCode::kInvalidArgument);
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
    if (i > 0) {
      EXPECT_GT(got[i].sequence(), got[i - 1].sequence());
    }
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
    if (i > 0) {
      EXPECT_GT(got[i].sequence(), got[i - 1].sequence()) << "at " << i;
    }
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

// A stream whose call authenticated just before a revocation committed,
// and subscribed just after it, is ended too: no stream of a revoked device
// stays open. Streams are opened back to back while the revocation runs;
// each ends, replaced by the next (ABORTED) or refused or ended by the
// revocation (UNAUTHENTICATED).
TEST(RelayTest, StreamsOpenedDuringARevocationAllEnd) {
  TestServer server;
  auto bob = TestDevice::Enroll(server, "Bob");
  for (int round = 0; round < 10; ++round) {
    auto phone = TestDevice::Link(server, *bob);
    std::vector<std::unique_ptr<StreamCollector>> streams;
    std::thread opener([&] {
      for (int i = 0; i < 8; ++i) {
        streams.push_back(std::make_unique<StreamCollector>(phone->client()));
      }
    });
    ASSERT_TRUE(bob->client().RevokeDevice(phone->device_id()).ok());
    opener.join();
    for (size_t i = 0; i < streams.size(); ++i) {
      const absl::Status end = streams[i]->WaitEnd(absl::Seconds(10));
      EXPECT_TRUE(end.code() == absl::StatusCode::kUnauthenticated ||
                  end.code() == absl::StatusCode::kAborted)
          << "round " << round << ", stream " << i << ": " << end;
    }
  }
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
  bob->ReceiveBacklog(/*ack=*/true);  // the announcements of bob2 and bob3 (issue 15)

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
  server_type.mutable_envelopes(0)->set_type(v1::ENVELOPE_TYPE_SERVER_EVENT);
  EXPECT_EQ(code(server_type), absl::StatusCode::kInvalidArgument);
  v1::SendRequest bad_priority = Request(bob->account_id(), {1});
  bad_priority.set_priority(static_cast<v1::Priority>(42));
  EXPECT_EQ(code(bad_priority), absl::StatusCode::kInvalidArgument);

  // A window or message cap over the limit ends the stream at once.
  StreamCollector too_wide(bob->client(), Window(100000));
  EXPECT_EQ(too_wide.WaitEnd().code(), absl::StatusCode::kInvalidArgument);
  StreamCollector too_big(bob->client(), Window(0, 5000));
  EXPECT_EQ(too_big.WaitEnd().code(), absl::StatusCode::kInvalidArgument);
  // Acknowledging someone else's envelope, on one's own stream, deletes nothing.
  auto sent = alice->SendBytes(bob->account_id(), "mine");
  ASSERT_TRUE(sent.ok());
  StreamCollector alice_stream(alice->client(), v1::ReceiveRequest(), /*ack=*/false);
  alice_stream.WaitFor(0);
  auto acked = alice->client().Ack(Sequence(sent->envelope_ids(0)));
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->deleted(), 0u);
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
  auto got = bob->ReceiveBacklog(/*ack=*/true);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_TRUE(alice->SendBytes(bob->account_id(), "room again").ok());
}

// Issue 15, finding 13: `queue_drained` must come with the last envelope of
// the backlog, not with the first stream message the byte cap cut short.
TEST(RelayTest, QueueDrainedOnlyAfterTheWholeBacklog) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  const std::string big(200 * 1024, 'b');
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(alice->SendBytes(bob->account_id(), big).ok());
  StreamCollector stream(bob->client(), Window(1));
  ASSERT_EQ(stream.WaitFor(12).size(), 12u);
  auto messages = stream.messages();
  ASSERT_GE(messages.size(), 3u);  // about 1 MiB per message
  size_t delivered = 0;
  for (const auto& m : messages) {
    delivered += m.envelopes_size();
    if (m.queue_drained()) {
      EXPECT_EQ(delivered, 12u) << "drained with envelopes still queued";
    }
  }
  EXPECT_TRUE(stream.drained());
}

// A sender that opens a stream, reads until queue_drained and resumes later
// after the highest version it saw (what the messenger does) must see every
// recipient's watermark, while recipients acknowledge at the same moment.
// The stream once sent queue_drained with a watermark pushed live before it
// had added the stored ones of lower version: those were never shown.
TEST(RelayTest, NoDeliveryWatermarkIsSkippedByAResumingSender) {
  TestServer server;
  auto alice = TestDevice::Enroll(server, "Alice");
  constexpr int kRecipients = 24;
  std::vector<std::unique_ptr<TestDevice>> recipients;
  std::map<std::string, uint64_t> sent_through;
  for (int i = 0; i < kRecipients; ++i) {
    recipients.push_back(TestDevice::Enroll(server, absl::StrCat("Reader ", i)));
    v1::SendRequest request = Request(recipients.back()->account_id(), {1});
    request.set_want_receipts(true);
    auto sent = alice->client().Send(request);
    ASSERT_TRUE(sent.ok()) << sent.status();
    sent_through[recipients.back()->account_id()] = Sequence(sent->envelope_ids(0));
  }
  // Each recipient acknowledges once, one after the other, while alice
  // keeps opening short streams.
  std::atomic<bool> all_acknowledged{false};
  std::thread readers([&] {
    std::vector<std::thread> each;
    for (auto& r : recipients) each.emplace_back([&r] { r->ReceiveBacklog(/*ack=*/true); });
    for (auto& t : each) t.join();
    all_acknowledged = true;
  });
  std::map<std::string, uint64_t> seen;
  uint64_t version = 0;
  for (bool last = false; !last;) {
    // The last round opens after every acknowledgement is written: what it
    // does not show either was skipped for good.
    last = all_acknowledged;
    auto stream = alice->client().Receive(Window(0, 0, version));
    if (!stream.ok()) {
      ADD_FAILURE() << stream.status();
      break;
    }
    v1::ReceiveResponse response;
    bool drained = false;
    while (!drained && (*stream)->Next(&response)) {
      for (const auto& w : response.watermarks()) {
        seen[w.recipient().account_id()] = w.delivered_through();
        version = std::max(version, w.version());
      }
      drained = response.queue_drained();
    }
    (*stream)->Cancel();
    while ((*stream)->Next(&response)) {
    }
    (*stream)->Finish().IgnoreError();
    EXPECT_TRUE(drained) << "the stream ended before queue_drained";
  }
  readers.join();
  EXPECT_EQ(seen, sent_through);
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
