// Abuse limits (issue 15) through a real server over TLS on a real RocksDB:
// each test is an attack or an accident an ordinary account could cause,
// and what keeps the care team working (README, "Abuse limits").
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <random>
#include <set>

#include "absl/strings/match.h"
#include "carerelay/v1/alerts.pb.h"
#include "proto/error_detail.h"
#include "server/store/attachment_table.h"
#include "tests/file_bytes.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

v1::OutgoingEnvelope To(const TestDevice& device, const std::string& payload) {
  v1::OutgoingEnvelope e;
  e.set_account_id(device.account_id());
  e.set_device_id(device.device_id());
  e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  e.set_content(payload);
  return e;
}

// Streams `bytes` from `offset` to the end, `piece` bytes per message.
absl::StatusOr<v1::AttachmentInfo> UploadFrom(client::RelayClient& c, const std::string& id,
                                              const std::string& bytes, uint64_t offset,
                                              size_t piece) {
  uint64_t at = offset;
  return c.Upload(id, offset, [&]() -> absl::StatusOr<std::string> {
    std::string next = bytes.substr(at, piece);
    at += next.size();
    return next;
  });
}

std::set<std::string> Contents(const std::vector<v1::Envelope>& envelopes) {
  std::set<std::string> out;
  for (const auto& e : envelopes) {
    if (e.type() == v1::ENVELOPE_TYPE_PLAINTEXT) out.insert(e.content());
  }
  return out;
}

// Finding 2, the attack: a colleague fills someone's offline device with
// messages. Their share of its queue runs out; everyone else still reaches it.
TEST(AbuseLimitsTest, OneSenderCannotFillAColleaguesQueue) {
  core::Limits limits = TestLimits();
  limits.max_queue_depth = 20;
  limits.max_queue_share = 5;
  TestServer server(limits);
  auto mallory = TestDevice::Enroll(server, "Mallory");
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");  // offline
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(mallory->SendBytes(bob->account_id(), "noise").ok()) << i;
  }
  auto refused = mallory->SendBytes(bob->account_id(), "more noise");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "share")) << refused.status();

  auto urgent = alice->SendBytes(bob->account_id(), "the discharge is tomorrow");
  ASSERT_TRUE(urgent.ok()) << urgent.status();
  EXPECT_EQ(urgent->not_queued_size(), 0);

  // Once Bob has received, Mallory's share is free again.
  auto got = bob->ReceiveBacklog(/*ack=*/true);
  EXPECT_EQ(got.size(), 6u);
  EXPECT_TRUE(Contents(got).count("the discharge is tomorrow"));
  EXPECT_TRUE(mallory->SendBytes(bob->account_id(), "sorry").ok());
}

// Finding 2, the accident: a device nobody uses any more (never revoked)
// fills up on a busy team. Team posts go on reaching every other device; the
// sender is told, per post, which device did not get it and why.
TEST(AbuseLimitsTest, AForgottenDeviceDoesNotBlockTheTeam) {
  core::Limits limits = TestLimits();
  limits.max_queue_depth = 6;
  limits.max_queue_share = 6;
  TestServer server(limits);
  auto coordinator = TestDevice::Enroll(server, "Coordinator");
  auto nurse = TestDevice::Enroll(server, "Nurse");
  auto old_tablet = TestDevice::Link(server, *nurse);  // forgotten in a drawer

  auto team = coordinator->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(team.ok()) << team.status();
  v1::RecordConsentRequest consent;
  consent.set_team_id(team->team_id());
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  consent.set_reference("form 2026-211");
  ASSERT_TRUE(coordinator->client().RecordConsent(consent).ok());
  ASSERT_TRUE(coordinator->client()
                  .Invite(team->team_id(), nurse->account_id(), v1::ROLE_PROFESSIONAL, false)
                  .ok());
  ASSERT_TRUE(nurse->client().RespondToInvitation(team->team_id(), true).ok());

  const int kPosts = 10;
  int not_queued = 0;
  std::string last_key;
  for (int i = 0; i < kPosts; ++i) {
    v1::SendRequest r;
    r.set_team_id(team->team_id());
    r.set_channel(v1::CHANNEL_TEAM);
    r.set_idempotency_key("post-" + std::to_string(i));
    *r.add_envelopes() = To(*nurse, "post " + std::to_string(i));
    *r.add_envelopes() = To(*old_tablet, "post " + std::to_string(i));
    auto sent = coordinator->client().Send(r);
    ASSERT_TRUE(sent.ok()) << "post " << i << ": " << sent.status();
    ASSERT_EQ(sent->envelope_ids_size(), 2);
    EXPECT_FALSE(sent->envelope_ids(0).empty());
    if (sent->not_queued_size() > 0) {
      ++not_queued;
      ASSERT_EQ(sent->not_queued_size(), 1);
      const v1::NotQueued& n = sent->not_queued(0);
      EXPECT_EQ(n.device().account_id(), old_tablet->account_id());
      EXPECT_EQ(n.device().device_id(), old_tablet->device_id());
      EXPECT_EQ(n.index(), 1u);
      EXPECT_EQ(n.reason(), v1::NOT_QUEUED_REASON_QUEUE_FULL);
      EXPECT_TRUE(sent->envelope_ids(1).empty());
      // A retry of that post gets the same answer, not-queued list included.
      auto again = coordinator->client().Send(r);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_TRUE(again->replayed());
      EXPECT_EQ(again->not_queued_size(), 1);
    }
    // The nurse's phone is in use: it receives as the posts come.
    nurse->ReceiveBacklog(/*ack=*/true);
  }
  EXPECT_GE(not_queued, kPosts - 6);
  // The old tablet holds what fitted, and nothing more.
  EXPECT_LE(old_tablet->ReceiveBacklog().size(), 6u);

  // A direct message to the nurse reaches her phone, and says the tablet is full.
  v1::SendRequest direct_request;
  direct_request.set_account_id(nurse->account_id());
  *direct_request.add_envelopes() = To(*nurse, "direct");
  *direct_request.add_envelopes() = To(*old_tablet, "direct");
  auto direct = coordinator->client().Send(direct_request);
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(direct->not_queued_size(), 1);
}

// Finding 8: every authenticated call spends its device's budget, a change
// that is audited or announced more than a read; Send, Receive and Ack have
// their own limits and never run out with it.
TEST(AbuseLimitsTest, EveryCallSpendsTheDevicesCallBudget) {
  core::Limits limits = TestLimits();
  limits.calls_per_second = 1;
  limits.call_burst = 20;
  TestServer server(limits);
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bob = TestDevice::Enroll(server, "Bob");
  ASSERT_TRUE(bob->SendBytes(alice->account_id(), "hello").ok());

  int reads = 0;
  absl::Status refused;
  for (; reads < 40; ++reads) {
    auto teams = alice->client().ListTeams();
    if (!teams.ok()) {
      refused = teams.status();
      break;
    }
  }
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << "never refused";
  EXPECT_LE(reads, 20);
  auto detail = GetDetail(refused);
  ASSERT_TRUE(detail.has_value());
  EXPECT_GE(detail->retry_after_seconds(), 1u);

  // Her messages still flow; Bob's budget is his own.
  EXPECT_EQ(alice->ReceiveBacklog(/*ack=*/true).size(), 1u);
  EXPECT_TRUE(alice->SendBytes(bob->account_id(), "still here").ok());
  EXPECT_TRUE(bob->client().ListTeams().ok());

  // A new team costs ten reads: the refilled budget pays for one, not two.
  server.clock().Advance(absl::Seconds(12));
  auto first = alice->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = alice->client().CreateTeam(v1::ROLE_COORDINATOR);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted) << second.status();
}

// Issue 16, overload: a device that calls again before the retry-after it
// was given is answered no sooner than that (core/refusal_hold.h), Send (a
// callback handler) and the other calls (synchronous) alike, so a flooder
// costs the server a few answers per retry-after instead of thousands per
// second. Its colleagues are not held. Durations are checked from below.
TEST(AbuseLimitsTest, ADeviceIgnoringItsRetryAfterIsHeldUntilThen) {
  core::Limits limits = TestLimits();
  limits.send_burst = 3;
  limits.call_burst = 20;
  limits.refusal_hold = absl::Milliseconds(500);
  // The fake clock stands still: nothing refills during the test.
  TestServer server(limits);
  auto mallory = TestDevice::Enroll(server, "Mallory");
  auto alice = TestDevice::Enroll(server, "Alice");

  absl::Status refused;
  for (int i = 0; i < 5 && refused.ok(); ++i) {
    refused = mallory->SendBytes(alice->account_id(), "noise").status();
  }
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  const absl::Time sends_refused = absl::Now();
  auto again = mallory->SendBytes(alice->account_id(), "more noise");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kResourceExhausted) << again.status();
  ASSERT_TRUE(GetDetail(again.status()).has_value());
  EXPECT_GE(absl::Now() - sends_refused, absl::Milliseconds(450));

  // Alice, who was never refused, is not held by Mallory's refusals.
  ASSERT_TRUE(alice->SendBytes(mallory->account_id(), "hello").ok());

  refused = absl::OkStatus();
  for (int i = 0; i < 40 && refused.ok(); ++i) refused = mallory->client().ListTeams().status();
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  const absl::Time calls_refused = absl::Now();
  EXPECT_EQ(mallory->client().ListTeams().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GE(absl::Now() - calls_refused, absl::Milliseconds(450));

  // A device that waits its retry-after out is served: held calls are
  // handled as usual once released.
  server.clock().Advance(absl::Seconds(10));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(mallory->client().ListTeams().ok());
  EXPECT_TRUE(mallory->SendBytes(alice->account_id(), "sorry").ok());
}

// Finding 11: prekey bundles say which devices a person has and take one of
// their one-time prekeys: only someone who may message that person gets
// them, and not without end.
TEST(AbuseLimitsTest, PrekeyBundlesOnlyForContactsAndNotWithoutEnd) {
  core::Limits limits = TestLimits();
  limits.prekey_fetches_per_hour = 3;
  TestServer server(limits);
  auto stranger = TestDevice::Enroll(server, "Stranger");
  auto patient = TestDevice::Enroll(server, "Patient", v1::ACCOUNT_KIND_PATIENT);
  auto gp = TestDevice::Enroll(server, "GP");
  auto nurse = TestDevice::Enroll(server, "Nurse");

  auto denied = stranger->client().GetPrekeyBundles(patient->account_id(), 0);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();

  for (int i = 0; i < 3; ++i) {
    auto bundles = gp->client().GetPrekeyBundles(nurse->account_id(), 0);
    ASSERT_TRUE(bundles.ok()) << i << ": " << bundles.status();
  }
  auto drained = gp->client().GetPrekeyBundles(nurse->account_id(), 0);
  EXPECT_EQ(drained.status().code(), absl::StatusCode::kResourceExhausted) << drained.status();
  // Another colleague, and one's own devices, are not held back by it.
  EXPECT_TRUE(gp->client().GetPrekeyBundles(stranger->account_id(), 0).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(nurse->client().GetPrekeyBundles(nurse->account_id(), 0).ok());
  }
  server.clock().Advance(absl::Minutes(20));
  EXPECT_TRUE(gp->client().GetPrekeyBundles(nurse->account_id(), 0).ok());
}

// Finding 10: looking teams up by national number has a daily allowance per
// account, misses included (a miss is what enumeration is made of).
TEST(AbuseLimitsTest, LookupsByNationalNumberHaveADailyAllowance) {
  core::Limits limits = TestLimits();
  limits.team_lookups_per_day = 3;
  TestServer server(limits);
  auto helpdesk = TestDevice::Enroll(server, "Helpdesk", v1::ACCOUNT_KIND_HELPDESK);
  auto colleague = TestDevice::Enroll(server, "Helpdesk 2", v1::ACCOUNT_KIND_HELPDESK);
  for (int i = 0; i < 3; ++i) {
    auto miss = helpdesk->client().FindTeams(std::string(32, static_cast<char>('a' + i)));
    ASSERT_TRUE(miss.ok()) << i << ": " << miss.status();
    EXPECT_TRUE(miss->empty());
  }
  auto refused = helpdesk->client().FindTeams(std::string(32, 'z'));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "national number")) << refused.status();
  EXPECT_TRUE(colleague->client().FindTeams(std::string(32, 'z')).ok());
  server.clock().Advance(absl::Hours(8));  // a third of a day: one more
  EXPECT_TRUE(helpdesk->client().FindTeams(std::string(32, 'y')).ok());
  EXPECT_FALSE(helpdesk->client().FindTeams(std::string(32, 'x')).ok());
}

// Lower finding: directory entries are read by everyone's searches, so
// nothing unbounded and nothing the server does not know is stored in one.
TEST(AbuseLimitsTest, DirectoryEntriesAreBoundedAndHoldOnlyKnownFields) {
  TestServer server;
  auto gp = TestDevice::Enroll(server, "Dr Anne Peeters");
  auto colleague = TestDevice::Enroll(server, "Dr Jan Claes");
  v1::DirectoryEntry entry;
  entry.set_profession("general practitioner");
  entry.set_region("Bruxelles");
  entry.add_languages(std::string(1 << 20, 'f'));
  auto refused = gp->client().PublishDirectoryEntry(entry);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();

  entry.clear_languages();
  entry.add_languages("fr");
  // Field 999: unknown to the server (a newer client, or 512 KiB of padding).
  entry.GetReflection()->MutableUnknownFields(&entry)->AddLengthDelimited(
      999, std::string(512 * 1024, 'p'));
  ASSERT_TRUE(gp->client().PublishDirectoryEntry(entry).ok());
  v1::Absence absence;
  absence.set_from_ms(server.clock().NowMs());
  absence.set_to_ms(server.clock().NowMs() + 86400000);
  absence.set_substitute_account_id(colleague->account_id());
  absence.GetReflection()->MutableUnknownFields(&absence)->AddLengthDelimited(
      998, std::string(512 * 1024, 'q'));
  ASSERT_TRUE(gp->client().SetAbsence(absence).ok());

  auto stored = colleague->client().GetDirectoryEntry(gp->account_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->GetReflection()->GetUnknownFields(*stored).field_count(), 0);
  EXPECT_EQ(stored->absence().GetReflection()->GetUnknownFields(stored->absence()).field_count(),
            0);
  EXPECT_LT(stored->ByteSizeLong(), 4096u);
}

// Lower finding: teams had no quota. One account may have created so many
// open teams; being invited to other people's teams does not count (or an
// attacker could use up someone else's), closing one frees a place.
TEST(AbuseLimitsTest, OpenTeamsOneAccountCreatesAreBounded) {
  core::Limits limits = TestLimits();
  limits.max_teams_per_account = 2;
  TestServer server(limits);
  auto gp = TestDevice::Enroll(server, "GP");
  auto other = TestDevice::Enroll(server, "Other GP");
  // Another GP brings her onto two teams of his first.
  for (int i = 0; i < 2; ++i) {
    auto theirs = other->client().CreateTeam(v1::ROLE_COORDINATOR);
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    v1::RecordConsentRequest consent;
    consent.set_team_id(theirs->team_id());
    consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
    consent.set_method(v1::CONSENT_METHOD_WRITTEN);
    consent.set_reference("form " + std::to_string(i));
    ASSERT_TRUE(other->client().RecordConsent(consent).ok());
    ASSERT_TRUE(
        other->client().Invite(theirs->team_id(), gp->account_id(), v1::ROLE_PROFESSIONAL).ok());
    ASSERT_TRUE(gp->client().RespondToInvitation(theirs->team_id(), true).ok());
  }
  std::vector<std::string> mine;
  for (int i = 0; i < 2; ++i) {
    auto team = gp->client().CreateTeam(v1::ROLE_COORDINATOR);
    ASSERT_TRUE(team.ok()) << i << ": " << team.status();
    mine.push_back(team->team_id());
  }
  auto third = gp->client().CreateTeam(v1::ROLE_COORDINATOR);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted) << third.status();
  ASSERT_TRUE(gp->client().CloseTeam(mine[0], "care ended").ok());
  EXPECT_TRUE(gp->client().CreateTeam(v1::ROLE_COORDINATOR).ok());
}

// Finding 8, server envelopes: team events and alerts were never refused,
// so whoever could cause them (team changes, invitations, urgent
// reminders) grew an offline device's queue without bound. The server's
// own share of a device's queue is capped like any sender's; past it the
// notices are skipped, while messages from people and the account's
// security announcements still arrive. Fails before the fix: all 16 events
// were queued.
TEST(AbuseLimitsTest, TheServersNoticesToAnOfflineDeviceAreCapped) {
  core::Limits limits = TestLimits();
  limits.max_queue_share = 10;
  TestServer server(limits);
  auto gp = TestDevice::Enroll(server, "GP");
  auto nurse = TestDevice::Enroll(server, "Nurse");  // offline
  auto physio = TestDevice::Enroll(server, "Physio");
  auto team = gp->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(team.ok()) << team.status();
  v1::RecordConsentRequest consent;
  consent.set_team_id(team->team_id());
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  consent.set_reference("form 1");
  ASSERT_TRUE(gp->client().RecordConsent(consent).ok());
  ASSERT_TRUE(
      gp->client().Invite(team->team_id(), nurse->account_id(), v1::ROLE_PROFESSIONAL).ok());
  ASSERT_TRUE(nurse->client().RespondToInvitation(team->team_id(), true).ok());
  nurse->ReceiveBacklog(/*ack=*/true);

  // 16 changes, each an event to every active member. The coordinator
  // reads as they come; the nurse's device is off.
  gp->ReceiveBacklog(/*ack=*/true);
  int gp_events = 0;
  auto count_events = [](const std::vector<v1::Envelope>& got) {
    int n = 0;
    for (const auto& e : got) n += e.type() == v1::ENVELOPE_TYPE_SERVER_EVENT;
    return n;
  };
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(
        gp->client().Invite(team->team_id(), physio->account_id(), v1::ROLE_PROFESSIONAL).ok());
    ASSERT_TRUE(gp->client().RemoveMember(team->team_id(), physio->account_id()).ok());
    gp_events += count_events(gp->ReceiveBacklog(/*ack=*/true));
  }
  EXPECT_EQ(gp_events, 16);  // whoever reads gets every event
  ASSERT_TRUE(gp->SendBytes(nurse->account_id(), "the discharge is tomorrow").ok());
  auto phone = TestDevice::Link(server, *nurse);  // a security announcement

  int events = 0, device_added = 0;
  std::set<std::string> texts;
  for (const auto& e : nurse->ReceiveBacklog(/*ack=*/true)) {
    if (e.type() == v1::ENVELOPE_TYPE_SERVER_EVENT) ++events;
    if (e.type() == v1::ENVELOPE_TYPE_ALERT) {
      v1::Alert a;
      ASSERT_TRUE(a.ParseFromString(e.content()));
      if (a.kind() == v1::Alert::KIND_DEVICE_ADDED) ++device_added;
    }
    if (e.type() == v1::ENVELOPE_TYPE_PLAINTEXT) texts.insert(e.content());
  }
  EXPECT_EQ(events, 10);  // the share; the other 6 were skipped
  EXPECT_EQ(device_added, 1);
  EXPECT_TRUE(texts.count("the discharge is tomorrow"));
  // Read, the share is free again.
  ASSERT_TRUE(
      gp->client().Invite(team->team_id(), physio->account_id(), v1::ROLE_PROFESSIONAL).ok());
  EXPECT_EQ(count_events(nurse->ReceiveBacklog(/*ack=*/true)), 1);
}

// Issue 16, overload: upload bytes cost one call whatever their size, so a
// flooder stored 70 MiB/s and slowed everyone's sends 7-9x. Each account now
// has a byte budget, charged as the bytes arrive: a document on a full
// budget never waits, but past the budget an upload is refused with a
// retry-after, keeps every whole block it had sent, and resumes after the
// wait; another account is unaffected. Fails before the fix: the second
// upload completes at once.
TEST(AbuseLimitsTest, UploadBytesAreBudgetedPerAccount) {
  constexpr size_t kPiece = 128 << 10;
  core::Limits limits = TestLimits();
  limits.max_attachment_bytes = 1 << 20;
  limits.upload_bytes_per_second = 512 << 10;
  limits.upload_byte_burst = 1 << 20;  // the largest document, as the server requires
  TestServer server(limits);
  auto gp = TestDevice::Enroll(server, "GP");
  auto nurse = TestDevice::Enroll(server, "Nurse");
  auto team = gp->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(team.ok()) << team.status();
  v1::RecordConsentRequest consent;
  consent.set_team_id(team->team_id());
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  consent.set_reference("form 2026-212");
  ASSERT_TRUE(gp->client().RecordConsent(consent).ok());
  ASSERT_TRUE(
      gp->client().Invite(team->team_id(), nurse->account_id(), v1::ROLE_PROFESSIONAL).ok());
  ASSERT_TRUE(nurse->client().RespondToInvitation(team->team_id(), true).ok());
  auto create = [&](TestDevice& d, const std::string& bytes) {
    auto created =
        d.client().CreateUpload(team->team_id(), v1::CHANNEL_CARE, bytes.size(), Sha256(bytes));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->attachment_id() : std::string();
  };

  // Half the budget: a letter goes in at once. (The fake clock does not
  // move until the test moves it, so nothing refills meanwhile.)
  const std::string letter(512 << 10, 'l');
  const std::string letter_id = create(*gp, letter);
  auto sent_letter = UploadFrom(gp->client(), letter_id, letter, 0, kPiece);
  ASSERT_TRUE(sent_letter.ok()) << sent_letter.status();
  EXPECT_EQ(sent_letter->state(), v1::UPLOAD_STATE_COMPLETE);

  // The largest document, random so that a misplaced block shows: the
  // other half of the budget (4 pieces) goes in, the fifth piece is refused.
  std::string scan(1 << 20, '\0');
  std::mt19937 rng(16);
  for (char& c : scan) c = static_cast<char>(rng());
  const std::string id = create(*gp, scan);
  ASSERT_FALSE(id.empty());
  auto first = UploadFrom(gp->client(), id, scan, 0, kPiece);
  ASSERT_EQ(first.status().code(), absl::StatusCode::kResourceExhausted) << first.status();
  EXPECT_TRUE(absl::StrContains(first.status().message(), "--upload-mib-per-second"))
      << first.status();
  auto detail = GetDetail(first.status());
  ASSERT_TRUE(detail.has_value()) << "no retry-after: " << first.status();
  // One piece at 512 KiB/s is a quarter second, rounded up.
  EXPECT_EQ(detail->retry_after_seconds(), 1u);
  // Every whole block of the paid-for 512 KiB is kept, as after a cut.
  const uint64_t block = store::AttachmentTable::kBlockBytes;
  auto held = gp->client().GetUpload(id);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->state(), v1::UPLOAD_STATE_UPLOADING);
  EXPECT_EQ(held->received_bytes(), uint64_t{512 << 10} / block * block);

  // Without the wait, nothing more: not from this device, not from another
  // device of the same account (the budget is the account's).
  auto again = UploadFrom(gp->client(), id, scan, held->received_bytes(), kPiece);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kResourceExhausted) << again.status();
  EXPECT_TRUE(GetDetail(again.status()).has_value()) << again.status();
  auto laptop = TestDevice::Link(server, *gp);
  const std::string note(64 << 10, 'n');
  const std::string note_id = create(*laptop, note);
  auto from_laptop = UploadFrom(laptop->client(), note_id, note, 0, kPiece);
  EXPECT_EQ(from_laptop.status().code(), absl::StatusCode::kResourceExhausted)
      << from_laptop.status();
  auto unchanged = gp->client().GetUpload(id);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_EQ(unchanged->received_bytes(), held->received_bytes());

  // The colleague's budget is her own: her largest document goes in at once.
  const std::string report(1 << 20, 'r');
  const std::string report_id = create(*nurse, report);
  auto hers = UploadFrom(nurse->client(), report_id, report, 0, kPiece);
  ASSERT_TRUE(hers.ok()) << hers.status();
  EXPECT_EQ(hers->state(), v1::UPLOAD_STATE_COMPLETE);

  // Waiting as told, the upload resumes where the relay holds it, moves
  // forward each time, and completes.
  uint64_t at = held->received_bytes();
  uint32_t wait = detail->retry_after_seconds();
  bool complete = false;
  absl::Duration waited;
  for (int round = 0; round < 20 && !complete; ++round) {
    server.clock().Advance(absl::Seconds(wait));
    waited += absl::Seconds(wait);
    auto resumed = UploadFrom(gp->client(), id, scan, at, kPiece);
    if (resumed.ok()) {
      ASSERT_EQ(resumed->state(), v1::UPLOAD_STATE_COMPLETE) << resumed->DebugString();
      complete = true;
      break;
    }
    ASSERT_EQ(resumed.status().code(), absl::StatusCode::kResourceExhausted) << resumed.status();
    auto d = GetDetail(resumed.status());
    ASSERT_TRUE(d.has_value()) << resumed.status();
    wait = d->retry_after_seconds();
    auto now_held = gp->client().GetUpload(id);
    ASSERT_TRUE(now_held.ok()) << now_held.status();
    EXPECT_GT(now_held->received_bytes(), at) << "no progress in round " << round;
    EXPECT_EQ(now_held->received_bytes() % block, 0u);
    at = now_held->received_bytes();
  }
  ASSERT_TRUE(complete) << "still at " << at << " of " << scan.size() << " bytes";
  // The bytes past the budget came no faster than its rate.
  EXPECT_GE(waited, absl::Seconds(static_cast<double>(scan.size() - held->received_bytes()) /
                                  limits.upload_bytes_per_second));

  // Intact: the colleague downloads exactly what was uploaded.
  std::string got;
  absl::Status download =
      nurse->client().Download(id, 0, [&](uint64_t offset, absl::string_view data) {
        if (offset != got.size()) return absl::DataLossError("out of order");
        got.append(data.data(), data.size());
        return absl::OkStatus();
      });
  ASSERT_TRUE(download.ok()) << download;
  EXPECT_TRUE(got == scan) << "downloaded " << got.size() << " bytes, uploaded " << scan.size();
}

}  // namespace
}  // namespace carerelay::testing
