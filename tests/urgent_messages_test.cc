// Urgent messages that must be acknowledged, through a real server over TLS
// on a real RocksDB with real libsignal sessions; a fake clock drives the
// reminders (Server::RunTimers), nothing sleeps.
#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ReceivedMessage;

std::vector<v1::Alert> Alerts(MessengerDevice& d, v1::Alert::Kind kind) {
  std::vector<v1::Alert> out;
  for (const auto& m : d.Drain()) {
    if (m.kind == ReceivedMessage::Kind::kAlert && m.alert.kind() == kind) out.push_back(m.alert);
  }
  return out;
}

// The id of the envelope that brought an urgent text to `d`.
std::string UrgentEnvelope(MessengerDevice& d, const std::string& text) {
  for (const auto& m : d.Drain()) {
    if (m.kind == ReceivedMessage::Kind::kContent && m.content.text().body() == text) {
      EXPECT_EQ(m.envelope.priority(), v1::PRIORITY_URGENT);
      EXPECT_TRUE(m.envelope.ack_required());
      return m.envelope.id();
    }
  }
  ADD_FAILURE() << "no urgent message \"" << text << "\"";
  return "";
}

int Fire(TestServer& server) {
  auto fired = server.server().RunTimers();
  EXPECT_TRUE(fired.ok()) << fired.status();
  return fired.ok() ? *fired : -1;
}

class UrgentMessagesTest : public ::testing::Test {
 protected:
  // A team convened by `gp` (coordinator, consent recorded) with `others`
  // as active professionals.
  std::string Team(MessengerDevice& gp, const std::vector<MessengerDevice*>& others) {
    auto team = gp.relay().CreateTeam(v1::ROLE_COORDINATOR);
    EXPECT_TRUE(team.ok()) << team.status();
    v1::RecordConsentRequest consent;
    consent.set_team_id(team->team_id());
    consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
    consent.set_method(v1::CONSENT_METHOD_WRITTEN);
    consent.set_reference("form 12");
    EXPECT_TRUE(gp.relay().RecordConsent(consent).ok());
    for (MessengerDevice* o : others) {
      EXPECT_TRUE(gp.relay().Invite(team->team_id(), o->account(), v1::ROLE_PROFESSIONAL).ok());
      EXPECT_TRUE(o->relay().RespondToInvitation(team->team_id(), true).ok());
    }
    return team->team_id();
  }

  TestServer server_;
};

TEST_F(UrgentMessagesTest, RemindedUntilAcknowledgedFromASecondDevice) {
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto gp_phone = MessengerDevice::Link(server_, *gp);

  auto id = nurse->m().SendUrgentText(gp->account(), "Mme Dubois: BP 210/120, call me");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_FALSE(id->empty());
  UrgentEnvelope(*gp, "Mme Dubois: BP 210/120, call me");
  const std::string on_phone = UrgentEnvelope(*gp_phone, "Mme Dubois: BP 210/120, call me");

  // Nothing is due before two minutes.
  server_.clock().Advance(absl::Seconds(119));
  EXPECT_EQ(Fire(server_), 0);
  server_.clock().Advance(absl::Seconds(1));
  EXPECT_EQ(Fire(server_), 1);
  for (MessengerDevice* d : {gp.get(), gp_phone.get()}) {
    auto reminders = Alerts(*d, v1::Alert::KIND_URGENT_REMINDER);
    ASSERT_EQ(reminders.size(), 1u);
    EXPECT_EQ(reminders[0].message_id(), *id);
    EXPECT_EQ(reminders[0].reminder(), 1u);
    EXPECT_EQ(reminders[0].message_sender().account_id(), nurse->account());
  }

  // The phone acknowledges with the id of the envelope it received: the
  // person has acknowledged, whichever device did it.
  auto ack = gp_phone->relay().AcknowledgeUrgent(on_phone);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->message_id(), *id);
  EXPECT_FALSE(ack->already_acknowledged());
  auto again = gp->relay().AcknowledgeUrgent(*id);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_acknowledged());
  auto told = Alerts(*nurse, v1::Alert::KIND_URGENT_ACKNOWLEDGED);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].subject_account_id(), gp->account());

  // No more reminders, no escalation.
  for (int i = 0; i < 12; ++i) {
    server_.clock().Advance(absl::Minutes(2));
    EXPECT_EQ(Fire(server_), 0);
  }
  EXPECT_TRUE(Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER).empty());
  EXPECT_TRUE(Alerts(*nurse, v1::Alert::KIND_URGENT_ESCALATED).empty());

  auto status = nurse->relay().ListAcknowledgements(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->recipients_size(), 1);
  EXPECT_TRUE(status->recipients(0).acknowledged());
  EXPECT_EQ(status->recipients(0).acknowledged_by().device_id(), gp_phone->device_id());
  EXPECT_EQ(status->recipients(0).reminders(), 1u);
  EXPECT_EQ(status->next_reminder_at_ms(), 0);
  EXPECT_FALSE(status->escalated());
  // Only the sender (or the team's coordinator) sees who acknowledged.
  EXPECT_EQ(gp->relay().ListAcknowledgements(*id).status().code(), absl::StatusCode::kNotFound);

  // Kept as long as the envelopes are (the queue time-to-live), then forgotten.
  server_.clock().Advance(absl::Hours(24 * 29));
  server_.server().RunExpiry();
  EXPECT_TRUE(nurse->relay().ListAcknowledgements(*id).ok());
  server_.clock().Advance(absl::Hours(24 * 2));
  server_.server().RunExpiry();
  EXPECT_EQ(nurse->relay().ListAcknowledgements(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gp_phone->relay().AcknowledgeUrgent(on_phone).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(UrgentMessagesTest, TeamMessageRemindsTheSilentThenEscalatesToCoordinatorAndHelpdesk) {
  auto helpdesk =
      MessengerDevice::NewAccount(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_HELPDESK);
  server_.helpdesk_policy().helpdesk_accounts = {helpdesk->account()};
  server_.Restart();
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto physio = MessengerDevice::NewAccount(server_, "Jan Claes");
  const std::string team = Team(*gp, {nurse.get(), physio.get()});
  for (MessengerDevice* d : {gp.get(), nurse.get(), physio.get()}) d->Drain();

  auto id = nurse->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fall at home, on the floor");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_FALSE(id->empty());
  ASSERT_TRUE(
      gp->relay().AcknowledgeUrgent(UrgentEnvelope(*gp, "Fall at home, on the floor")).ok());
  UrgentEnvelope(*physio, "Fall at home, on the floor");

  // Reminders at 2, 4, ... 18 minutes to the physio only.
  for (int i = 1; i <= 9; ++i) {
    server_.clock().Advance(absl::Minutes(2));
    EXPECT_EQ(Fire(server_), 1) << "minute " << 2 * i;
  }
  auto reminders = Alerts(*physio, v1::Alert::KIND_URGENT_REMINDER);
  ASSERT_EQ(reminders.size(), 9u);
  EXPECT_EQ(reminders.back().reminder(), 9u);
  EXPECT_TRUE(Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER).empty());
  EXPECT_TRUE(Alerts(*gp, v1::Alert::KIND_URGENT_ESCALATED).empty());

  // The coordinator sees who has not acknowledged before the escalation.
  auto status = gp->relay().ListAcknowledgements(*id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->team_id(), team);
  EXPECT_EQ(status->recipients_size(), 2);
  for (const auto& r : status->recipients()) {
    EXPECT_EQ(r.acknowledged(), r.account_id() == gp->account()) << r.name();
  }
  EXPECT_EQ(physio->relay().ListAcknowledgements(*id).status().code(), absl::StatusCode::kNotFound);

  // At 20 minutes: the escalation, once, to the coordinator, the helpdesk
  // and the sender, naming who never answered.
  server_.clock().Advance(absl::Minutes(2));
  EXPECT_EQ(Fire(server_), 1);
  for (MessengerDevice* d : {gp.get(), helpdesk.get(), nurse.get()}) {
    auto escalated = Alerts(*d, v1::Alert::KIND_URGENT_ESCALATED);
    ASSERT_EQ(escalated.size(), 1u);
    EXPECT_EQ(escalated[0].message_id(), *id);
    EXPECT_EQ(escalated[0].team_id(), team);
    ASSERT_EQ(escalated[0].unacknowledged_account_ids_size(), 1);
    EXPECT_EQ(escalated[0].unacknowledged_account_ids(0), physio->account());
  }
  EXPECT_TRUE(Alerts(*physio, v1::Alert::KIND_URGENT_ESCALATED).empty());
  server_.clock().Advance(absl::Minutes(30));
  EXPECT_EQ(Fire(server_), 0);
  status = nurse->relay().ListAcknowledgements(*id);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->escalated());
}

// Someone removed from the team is cut off from its urgent messages too: no
// more reminders, no acknowledging, no escalation as sender, not chased in
// the escalation (issue 15).
TEST_F(UrgentMessagesTest, RemovedMembersAreNeitherRemindedNorEscalatedToNorAcknowledge) {
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto physio = MessengerDevice::NewAccount(server_, "Jan Claes");
  auto pharmacist = MessengerDevice::NewAccount(server_, "Marie Dupont");
  const std::string team = Team(*gp, {nurse.get(), physio.get(), pharmacist.get()});
  for (MessengerDevice* d : {gp.get(), nurse.get(), physio.get(), pharmacist.get()}) d->Drain();

  auto id = nurse->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fall at home, on the floor");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(gp->relay().AcknowledgeUrgent(*id).ok());
  ASSERT_TRUE(gp->relay().RemoveMember(team, physio->account()).ok());
  physio->Drain();

  server_.clock().Advance(absl::Minutes(2));
  EXPECT_EQ(Fire(server_), 1);
  EXPECT_TRUE(Alerts(*physio, v1::Alert::KIND_URGENT_REMINDER).empty());
  EXPECT_EQ(Alerts(*pharmacist, v1::Alert::KIND_URGENT_REMINDER).size(), 1u);
  EXPECT_EQ(physio->relay().AcknowledgeUrgent(*id).status().code(), absl::StatusCode::kNotFound);

  // The sender leaves the team before the escalation.
  ASSERT_TRUE(gp->relay().RemoveMember(team, nurse->account()).ok());
  nurse->Drain();
  for (int minute = 4; minute <= 20; minute += 2) {
    server_.clock().Advance(absl::Minutes(2));
    Fire(server_);
  }
  EXPECT_TRUE(Alerts(*physio, v1::Alert::KIND_URGENT_REMINDER).empty());
  auto escalated = Alerts(*gp, v1::Alert::KIND_URGENT_ESCALATED);
  ASSERT_EQ(escalated.size(), 1u);
  ASSERT_EQ(escalated[0].unacknowledged_account_ids_size(), 1);
  EXPECT_EQ(escalated[0].unacknowledged_account_ids(0), pharmacist->account());
  EXPECT_TRUE(Alerts(*nurse, v1::Alert::KIND_URGENT_ESCALATED).empty());
  EXPECT_TRUE(Alerts(*physio, v1::Alert::KIND_URGENT_ESCALATED).empty());
}

// A member who can no longer read the message's channel (a role change, a
// narrowing) lost the message itself (its envelopes were dropped): they are
// no longer reminded and cannot acknowledge it either (issue 15).
TEST_F(UrgentMessagesTest, MembersWhoLostTheChannelAreNoLongerRemindedNorAcknowledge) {
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto pharmacist = MessengerDevice::NewAccount(server_, "Marie Dupont");
  const std::string team = Team(*gp, {nurse.get(), pharmacist.get()});
  for (MessengerDevice* d : {gp.get(), nurse.get(), pharmacist.get()}) d->Drain();

  auto id = nurse->m().SendUrgentTeamText(team, v1::CHANNEL_CLINICAL, "K+ 6.8 this morning");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(gp->relay().AcknowledgeUrgent(*id).ok());
  // As a social-sector member the pharmacist no longer reads #clinical.
  ASSERT_TRUE(gp->relay().ChangeRole(team, pharmacist->account(), v1::ROLE_SOCIAL).ok());
  pharmacist->Drain();

  server_.clock().Advance(absl::Minutes(2));
  Fire(server_);
  EXPECT_TRUE(Alerts(*pharmacist, v1::Alert::KIND_URGENT_REMINDER).empty());
  EXPECT_EQ(pharmacist->relay().AcknowledgeUrgent(*id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(UrgentMessagesTest, AbsentRecipientsSubstituteIsRemindedAndMayAcknowledge) {
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto locum = MessengerDevice::NewAccount(server_, "Dr Eva Janssens");
  v1::DirectoryEntry entry;
  entry.set_profession("general practitioner");
  entry.set_region("Bruxelles");
  ASSERT_TRUE(gp->relay().PublishDirectoryEntry(entry).ok());
  v1::Absence absence;
  absence.set_from_ms(server_.clock().NowMs());
  absence.set_to_ms(server_.clock().NowMs() + absl::ToInt64Milliseconds(absl::Hours(72)));
  absence.set_substitute_account_id(locum->account());
  auto shown = gp->relay().SetAbsence(absence);
  ASSERT_TRUE(shown.ok()) << shown.status();
  // Senders see the absence and who stands in.
  auto looked_up = nurse->relay().GetDirectoryEntry(gp->account());
  ASSERT_TRUE(looked_up.ok());
  EXPECT_TRUE(looked_up->absent_now());
  EXPECT_EQ(looked_up->absence().substitute_name(), "Dr Eva Janssens");

  auto id = nurse->m().SendUrgentText(gp->account(), "INR 6.2 this morning");
  ASSERT_TRUE(id.ok()) << id.status();
  server_.clock().Advance(absl::Minutes(2));
  EXPECT_EQ(Fire(server_), 1);
  auto to_locum = Alerts(*locum, v1::Alert::KIND_URGENT_REMINDER);
  ASSERT_EQ(to_locum.size(), 1u);
  EXPECT_EQ(to_locum[0].on_behalf_of_account_id(), gp->account());
  EXPECT_EQ(Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER).size(), 1u);

  auto ack = locum->relay().AcknowledgeUrgent(*id);
  ASSERT_TRUE(ack.ok()) << ack.status();
  auto status = nurse->relay().ListAcknowledgements(*id);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->recipients_size(), 1);
  EXPECT_TRUE(status->recipients(0).acknowledged());
  EXPECT_EQ(status->recipients(0).substitute_account_id(), locum->account());
  EXPECT_EQ(status->recipients(0).acknowledged_by().account_id(), locum->account());
  // Someone who is neither recipient nor substitute cannot acknowledge.
  auto stranger = MessengerDevice::NewAccount(server_, "Jan Claes");
  EXPECT_EQ(stranger->relay().AcknowledgeUrgent(*id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(UrgentMessagesTest, ReminderDueWhileServerWasDownFiresOnceAtRestart) {
  auto nurse = MessengerDevice::NewAccount(server_, "Anne Peeters");
  auto gp = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
  auto id = nurse->m().SendUrgentText(gp->account(), "Wound infected, needs a visit today");
  ASSERT_TRUE(id.ok()) << id.status();
  gp->Drain();

  server_.Stop();
  server_.clock().Advance(absl::Minutes(5));
  server_.Restart();  // Start fires what fell due while down
  EXPECT_EQ(Fire(server_), 0);
  auto reminders = Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER);
  ASSERT_EQ(reminders.size(), 1u) << "one reminder for the missed ones, not three";
  // The next one comes at the next multiple of the interval (6 minutes).
  server_.clock().Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(server_), 1);
  EXPECT_EQ(Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER).size(), 1u);

  // Down past the window: the escalation fires once at restart.
  server_.Stop();
  server_.clock().Advance(absl::Hours(1));
  server_.Restart();
  EXPECT_EQ(Fire(server_), 0);
  EXPECT_EQ(Alerts(*nurse, v1::Alert::KIND_URGENT_ESCALATED).size(), 1u);
  EXPECT_TRUE(Alerts(*gp, v1::Alert::KIND_URGENT_REMINDER).empty());
}

TEST_F(UrgentMessagesTest, AcknowledgementRequiredOnlyForUrgentSends) {
  auto nurse = TestDevice::Enroll(server_, "Anne Peeters");
  auto gp = TestDevice::Enroll(server_, "Dr Luc Martin");
  v1::SendRequest request;
  request.set_account_id(gp->account_id());
  request.set_ack_required(true);
  v1::OutgoingEnvelope* e = request.add_envelopes();
  e->set_account_id(gp->account_id());
  e->set_device_id(gp->device_id());
  e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  e->set_content("x");
  EXPECT_EQ(nurse->client().Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(gp->ReceiveBacklog().empty()) << "a refused send queues nothing";
  EXPECT_EQ(nurse->client().AcknowledgeUrgent("not-an-id").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(nurse->client().AcknowledgeUrgent("00000000000000ff").status().code(),
            absl::StatusCode::kNotFound);
}

// A client that did not hear the answer (a cut connection, a restart) sends
// again with the same idempotency key: the retry is answered with the first
// send's ids and urgent message id, and nothing is queued or tracked twice
// (found by the kill soak: urgent sends did not record their key).
TEST_F(UrgentMessagesTest, UrgentSendRetriedWithItsKeyIsQueuedAndTrackedOnce) {
  auto nurse = TestDevice::Enroll(server_, "Anne Peeters");
  auto gp = TestDevice::Enroll(server_, "Dr Luc Martin");
  v1::SendRequest request;
  request.set_account_id(gp->account_id());
  request.set_priority(v1::PRIORITY_URGENT);
  request.set_ack_required(true);
  request.set_idempotency_key("urgent-wound-0001");
  v1::OutgoingEnvelope* e = request.add_envelopes();
  e->set_account_id(gp->account_id());
  e->set_device_id(gp->device_id());
  e->set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
  e->set_content("wound infected");
  auto first = nurse->client().Send(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->urgent_message_id().empty());
  EXPECT_FALSE(first->replayed());

  auto retry = nurse->client().Send(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed());
  EXPECT_EQ(retry->urgent_message_id(), first->urgent_message_id());
  EXPECT_EQ(retry->envelope_ids(0), first->envelope_ids(0));
  server_.Restart();
  auto after_restart = nurse->client().Send(request);
  ASSERT_TRUE(after_restart.ok()) << after_restart.status();
  EXPECT_TRUE(after_restart->replayed());
  EXPECT_EQ(after_restart->urgent_message_id(), first->urgent_message_id());

  EXPECT_EQ(gp->ReceiveBacklog(/*ack=*/true).size(), 1u) << "queued once";
  // One urgent message, so one reminder when the first one falls due.
  server_.clock().Advance(absl::Minutes(3));
  EXPECT_EQ(Fire(server_), 1);
}

}  // namespace
}  // namespace carerelay::testing
