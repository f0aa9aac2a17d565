// The store's lock order (store/database.h: team, then intake, then urgent
// message, then timer) under two threads that take each side at once,
// through a real server over TLS on a real RocksDB. Before the order was
// fixed, a deadline or reminder firing during a transition, or an intake
// transition during a team's erasure, waited for the lock timeout and failed
// with ABORTED; these tests start both sides together many times and
// require every call to succeed (or fail for a reason of the domain, never
// for a lock). A fake clock makes the timers due; nothing sleeps.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "absl/synchronization/barrier.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ReceivedMessage;

constexpr int kRounds = 20;
constexpr int kBatch = 10;

// Runs `a` and `b` on two threads released together, `a` after `a_delay`.
// A call through gRPC takes a fraction of a millisecond to reach its first
// lock while the timers run in this process: the rounds sweep `a_delay`
// across that span so that some rounds take the locks in both orders.
void AtOnce(const std::function<void()>& a, const std::function<void()>& b,
            absl::Duration a_delay = absl::ZeroDuration()) {
  absl::Barrier start(2);
  std::thread other([&] {
    start.Block();
    b();
  });
  start.Block();
  const absl::Time go = absl::Now() + a_delay;
  while (absl::Now() < go) {
  }  // a spin: a sleep this short is not precise
  a();
  other.join();
}

absl::Duration Sweep(int round) { return absl::Microseconds(100) * round; }

v1::OpenIntakeRequest HighUrgencyCall(const std::string& team = "") {
  v1::OpenIntakeRequest r;
  r.set_caller_kind(v1::CALLER_KIND_CAREGIVER);
  r.set_urgency(v1::INTAKE_URGENCY_HIGH);  // routed within 15 minutes
  r.set_category(v1::INTAKE_CATEGORY_HOSPITAL_DISCHARGE);
  r.set_source(v1::INTAKE_SOURCE_LIVE);
  r.set_team_id(team);
  return r;
}

class LockOrderTest : public ::testing::Test {
 protected:
  LockOrderTest() {
    helpdesk_ =
        MessengerDevice::NewAccount(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_HELPDESK);
    gp_ = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  }

  absl::Status Fire() { return server_.server().RunTimers().status(); }

  TestServer server_;
  std::unique_ptr<MessengerDevice> helpdesk_, gp_;
};

// timer -> intake (a deadline firing) against intake -> timer (a routing
// that cancels that deadline). Each round makes kBatch deadlines due at
// once; the timers fire in the order the helpdesk routes the calls, so the
// two threads cross each other somewhere along the batch.
TEST_F(LockOrderTest, DeadlinesFiringWhileTheHelpdeskRoutesTheCalls) {
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> intakes;
    for (int i = 0; i < kBatch; ++i) {
      auto intake = helpdesk_->relay().OpenIntake(HighUrgencyCall());
      ASSERT_TRUE(intake.ok()) << intake.status();
      intakes.push_back(intake->intake_id());
      server_.clock().Advance(absl::Milliseconds(1));  // due one after the other
    }
    server_.clock().Advance(absl::Minutes(16));  // every deadline is due
    absl::Status fired;
    std::vector<absl::Status> routed;
    AtOnce([&] { fired = Fire(); },
           [&] {
             for (const std::string& id : intakes) {
               v1::RouteIntakeRequest route;
               route.set_intake_id(id);
               route.set_route_kind(v1::ROUTE_KIND_PROFESSIONAL);
               route.set_account_id(gp_->account());
               routed.push_back(helpdesk_->relay().RouteIntake(route).status());
             }
           },
           Sweep(round));
    ASSERT_TRUE(fired.ok()) << "round " << round << ": " << fired;
    for (const absl::Status& s : routed) ASSERT_TRUE(s.ok()) << "round " << round << ": " << s;
    for (const std::string& id : intakes) {
      auto after = helpdesk_->relay().GetIntake(id);
      ASSERT_TRUE(after.ok()) << after.status();
      EXPECT_EQ(after->state(), v1::INTAKE_STATE_ROUTED);
    }
  }
}

// timer -> urgent message (a reminder firing) against urgent message ->
// timer (the last acknowledgement, which cancels the reminder).
TEST_F(LockOrderTest, RemindersFiringWhileTheRecipientAcknowledges) {
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> messages;
    for (int i = 0; i < kBatch; ++i) {
      auto id = nurse->m().SendUrgentText(gp_->account(), "Mme Dubois: fell at home, call me");
      ASSERT_TRUE(id.ok()) << id.status();
      messages.push_back(*id);
      server_.clock().Advance(absl::Milliseconds(1));
    }
    server_.clock().Advance(absl::Minutes(2));  // every first reminder is due
    absl::Status fired;
    std::vector<absl::Status> acknowledged;
    AtOnce([&] { fired = Fire(); },
           [&] {
             for (const std::string& id : messages) {
               acknowledged.push_back(gp_->relay().AcknowledgeUrgent(id).status());
             }
           },
           Sweep(round));
    ASSERT_TRUE(fired.ok()) << "round " << round << ": " << fired;
    for (const absl::Status& s : acknowledged) {
      ASSERT_TRUE(s.ok()) << "round " << round << ": " << s;
    }
    for (const std::string& id : messages) {
      auto status = nurse->relay().ListAcknowledgements(id);
      ASSERT_TRUE(status.ok()) << status.status();
      EXPECT_EQ(status->next_reminder_at_ms(), 0);  // nothing left to remind
    }
    gp_->Drain();
    nurse->Drain();
  }
}

// intake -> team (a transition writing the team's audit log) against
// team -> intake (the team's erasure unlinking its intakes).
TEST_F(LockOrderTest, AnIntakeClosedWhileItsTeamIsErased) {
  for (int round = 0; round < kRounds; ++round) {
    const std::string team = NewTeamWithRecordedConsent(*gp_);
    auto intake = helpdesk_->relay().OpenIntake(HighUrgencyCall(team));
    ASSERT_TRUE(intake.ok()) << intake.status();
    absl::Status cancelled, erased;
    AtOnce([&] { cancelled = helpdesk_->relay().CancelIntake(intake->intake_id()).status(); },
           [&] { erased = gp_->relay().EraseTeam(team).status(); });
    ASSERT_TRUE(cancelled.ok()) << "round " << round << ": " << cancelled;
    ASSERT_TRUE(erased.ok()) << "round " << round << ": " << erased;
    auto after = helpdesk_->relay().GetIntake(intake->intake_id());
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->state(), v1::INTAKE_STATE_CANCELLED);
    EXPECT_TRUE(after->team_id().empty());  // the erasure unlinked it
  }
}

// An alert that names a team is written under the team's lock: an
// acknowledgement racing the sender's removal either reaches the sender
// while they are a member (and the removal then drops it with the rest of
// the team's envelopes) or not at all.
TEST_F(LockOrderTest, AnAcknowledgementNeverReachesASenderRemovedMeanwhile) {
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto physio = MessengerDevice::NewAccount(server_, "Jan Claes");
  for (int round = 0; round < kRounds; ++round) {
    const std::string team = NewTeamWithRecordedConsent(*gp_);
    JoinTeam(*gp_, team, *nurse, v1::ROLE_PROFESSIONAL);
    JoinTeam(*gp_, team, *physio, v1::ROLE_PROFESSIONAL);
    physio->Drain();
    auto id = physio->m().SendUrgentTeamText(team, v1::CHANNEL_TEAM, "Fall risk: bed rails today");
    ASSERT_TRUE(id.ok()) << id.status();
    gp_->Drain();
    absl::Status acknowledged, removed;
    AtOnce([&] { acknowledged = nurse->relay().AcknowledgeUrgent(*id).status(); },
           [&] { removed = gp_->relay().RemoveMember(team, physio->account()).status(); });
    ASSERT_TRUE(removed.ok()) << "round " << round << ": " << removed;
    // The nurse is still on the team: the acknowledgement counts either way.
    ASSERT_TRUE(acknowledged.ok()) << "round " << round << ": " << acknowledged;
    for (const ReceivedMessage& m : physio->Drain()) {
      EXPECT_FALSE(m.kind == ReceivedMessage::Kind::kAlert && m.alert.team_id() == team)
          << "round " << round << ": alert " << v1::Alert::Kind_Name(m.alert.kind())
          << " reached a sender removed from the team";
    }
    nurse->Drain();
  }
}

}  // namespace
}  // namespace carerelay::testing
