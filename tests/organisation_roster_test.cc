// Organisations on care teams through their roster (accounts.proto,
// ChangeRoster; care_teams.h, "Organisations"), with the whole client stack
// through a real server: a home-nursing service joins a team once; its
// staff on duty read the team, post for it and acknowledge an urgent
// message for it, the audit log naming them; a staff member off the roster
// cannot decrypt what is sent afterwards, even with the ciphertext; nobody
// is re-invited.
#include <gtest/gtest.h>

#include "client/team_view.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ReceivedMessage;

std::vector<std::string> TeamTexts(const std::vector<ReceivedMessage>& got) {
  std::vector<std::string> texts;
  for (const auto& m : got) {
    if (m.kind == ReceivedMessage::Kind::kContent && m.content.has_text()) {
      texts.push_back(m.content.text().body());
    }
  }
  return texts;
}

class OrganisationRosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gp = MessengerDevice::NewAccount(server, "Dr Luc Martin");
    physio = MessengerDevice::NewAccount(server, "Jan Claes");
    service = MessengerDevice::NewAccount(server, "Soins Ixelles", v1::ACCOUNT_KIND_ORGANISATION);
    anne = MessengerDevice::NewAccount(server, "Anne Peeters");
    marc = MessengerDevice::NewAccount(server, "Marc Dubois");
    team = NewTeamWithRecordedConsent(*gp);
    ASSERT_FALSE(team.empty());
    ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *physio, v1::ROLE_PROFESSIONAL));
    ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *service, v1::ROLE_PROFESSIONAL));
  }

  absl::StatusOr<v1::Roster> Change(MessengerDevice& by, const std::string& staff,
                                    v1::ChangeRosterRequest::Action action,
                                    const std::string& organisation = "") {
    v1::ChangeRosterRequest request;
    request.set_organisation_account_id(organisation);
    request.set_staff_account_id(staff);
    request.set_action(action);
    return by.relay().ChangeRoster(request);
  }

  // The team's audit entries of `kind`.
  std::vector<v1::TeamEvent> Audit(v1::TeamEvent::Kind kind) {
    std::vector<v1::TeamEvent> out;
    auto log = gp->relay().ReadAudit(team);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return out;
    for (const auto& entry : log->entries()) {
      if (entry.event().kind() == kind) out.push_back(entry.event());
    }
    return out;
  }

  TestServer server;
  std::unique_ptr<MessengerDevice> gp, physio, service, anne, marc;
  std::string team;
};

TEST_F(OrganisationRosterTest, TheServiceKeepsItsRosterAndRefusesWhatIsNotItsToChange) {
  using A = v1::ChangeRosterRequest;
  auto roster = Change(*service, anne->account(), A::ACTION_ADD);
  ASSERT_TRUE(roster.ok()) << roster.status();
  ASSERT_EQ(roster->staff_size(), 1);
  EXPECT_EQ(roster->staff(0).display_name(), "Anne Peeters");
  EXPECT_FALSE(roster->staff(0).on_duty()) << "added off duty";
  ASSERT_TRUE(Change(*service, marc->account(), A::ACTION_ADD).ok());

  // What each may not do, and nothing changed by it.
  EXPECT_EQ(Change(*service, anne->account(), A::ACTION_ADD).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "already on it";
  EXPECT_EQ(Change(*anne, marc->account(), A::ACTION_ON_DUTY, service->account()).status().code(),
            absl::StatusCode::kPermissionDenied)
      << "staff put only themselves on duty";
  EXPECT_EQ(Change(*anne, anne->account(), A::ACTION_REMOVE, service->account()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      Change(*physio, physio->account(), A::ACTION_ON_DUTY, service->account()).status().code(),
      absl::StatusCode::kPermissionDenied)
      << "not on the roster";
  EXPECT_EQ(Change(*gp, anne->account(), A::ACTION_ADD).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a GP is not an organisation";
  auto patient = MessengerDevice::NewAccount(server, "Mme Dubois", v1::ACCOUNT_KIND_PATIENT);
  EXPECT_EQ(Change(*service, patient->account(), A::ACTION_ADD).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a patient is never staff";
  EXPECT_EQ(Change(*service, "not-hex", A::ACTION_ADD).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Change(*service, anne->account(), A::ACTION_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(physio->relay().GetRoster(service->account()).status().code(),
            absl::StatusCode::kNotFound);
  auto seen = anne->relay().GetRoster(service->account());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->staff_size(), 2);
  auto account = anne->relay().GetAccount();
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(std::vector<std::string>(account->staff_of().begin(), account->staff_of().end()),
            std::vector<std::string>{service->account()});

  // An organisation is a member like a person, never a coordinator.
  v1::DesignateCoordinatorRequest designate;
  designate.set_team_id(team);
  designate.set_account_id(service->account());
  EXPECT_FALSE(gp->relay().DesignateCoordinator(designate).ok());
}

// The case: an urgent message to the service acknowledged by one
// staff member on duty, the audit log naming them; a staff member removed
// from the roster no longer able to decrypt what follows.
TEST_F(OrganisationRosterTest, StaffOnDutyReadPostAndAcknowledgeForTheServiceUntilRemoved) {
  using A = v1::ChangeRosterRequest;
  ASSERT_TRUE(Change(*service, anne->account(), A::ACTION_ADD).ok());
  ASSERT_TRUE(Change(*service, marc->account(), A::ACTION_ADD).ok());
  // Anne's shift starts; Marc is off duty.
  ASSERT_TRUE(Change(*anne, anne->account(), A::ACTION_ON_DUTY, service->account()).ok());

  auto view = gp->relay().GetTeam(team);
  ASSERT_TRUE(view.ok()) << view.status();
  const v1::Member* member = client::FindMember(*view, service->account());
  ASSERT_NE(member, nullptr);
  ASSERT_EQ(member->on_duty_size(), 1);
  EXPECT_EQ(member->on_duty(0).account_id(), anne->account());
  // Anne sees the team as the service does; Marc not at all.
  auto anne_view = anne->relay().GetTeam(team);
  ASSERT_TRUE(anne_view.ok()) << anne_view.status();
  EXPECT_EQ(marc->relay().GetTeam(team).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "Wound care at 10").ok());
  EXPECT_EQ(TeamTexts(anne->Drain()), (std::vector<std::string>{"Wound care at 10"}));
  EXPECT_TRUE(TeamTexts(marc->Drain()).empty()) << "off duty: nothing sent to Marc";
  EXPECT_EQ(TeamTexts(physio->Drain()), (std::vector<std::string>{"Wound care at 10"}));

  // Anne posts for the service: the others read her name and the service.
  ASSERT_TRUE(anne->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "Dressing changed").ok());
  bool seen = false;
  for (const auto& m : gp->Drain()) {
    if (m.kind != ReceivedMessage::Kind::kContent || !m.content.has_text()) continue;
    EXPECT_EQ(m.content.text().body(), "Dressing changed");
    EXPECT_EQ(m.sender_name, "Anne Peeters (Soins Ixelles)");
    EXPECT_EQ(m.sender_role, v1::ROLE_PROFESSIONAL);
    seen = true;
  }
  EXPECT_TRUE(seen);

  // An urgent message: the service is one recipient; Anne answers for it.
  auto urgent = gp->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fall at home, go now");
  ASSERT_TRUE(urgent.ok()) << urgent.status();
  EXPECT_EQ(TeamTexts(anne->Drain()), (std::vector<std::string>{"Fall at home, go now"}));
  auto status = gp->relay().ListAcknowledgements(*urgent);
  ASSERT_TRUE(status.ok()) << status.status();
  std::vector<std::string> recipients;
  for (const auto& r : status->recipients()) recipients.push_back(r.account_id());
  EXPECT_EQ(std::count(recipients.begin(), recipients.end(), service->account()), 1);
  EXPECT_EQ(std::count(recipients.begin(), recipients.end(), anne->account()), 0)
      << "staff stand for the service, not for themselves";
  EXPECT_EQ(marc->relay().AcknowledgeUrgent(*urgent).status().code(), absl::StatusCode::kNotFound)
      << "off duty";
  auto ack = anne->relay().AcknowledgeUrgent(*urgent);
  ASSERT_TRUE(ack.ok()) << ack.status();
  status = gp->relay().ListAcknowledgements(*urgent);
  ASSERT_TRUE(status.ok());
  for (const auto& r : status->recipients()) {
    if (r.account_id() != service->account()) continue;
    EXPECT_TRUE(r.acknowledged());
    EXPECT_EQ(r.acknowledged_by().account_id(), anne->account());
  }
  auto logged = Audit(v1::TeamEvent::KIND_URGENT_ACKNOWLEDGED_FOR);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].actor_account_id(), anne->account());
  EXPECT_EQ(logged[0].subject_account_id(), service->account());
  EXPECT_EQ(logged[0].detail(), *urgent);
  auto roster_changes = Audit(v1::TeamEvent::KIND_ROSTER_CHANGED);
  ASSERT_EQ(roster_changes.size(), 3u) << "Anne and Marc added, Anne on duty";
  EXPECT_EQ(roster_changes[2].detail(), anne->account() + " on duty");
  EXPECT_EQ(roster_changes[2].actor_account_id(), anne->account());

  physio->Drain();
  // The service takes Anne off its roster: no re-invitation anywhere, and
  // what is sent next is beyond her, even with the ciphertext. Marc's
  // shift starts and he reads it.
  ASSERT_TRUE(Change(*service, anne->account(), A::ACTION_REMOVE).ok());
  ASSERT_TRUE(Change(*marc, marc->account(), A::ACTION_ON_DUTY, service->account()).ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "New dressing protocol").ok());
  v1::Envelope stolen;
  {
    StreamCollector raw(physio->relay(), v1::ReceiveRequest(), /*ack=*/false);
    for (const auto& e : raw.WaitFor(1)) {
      if (e.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE) stolen = e;
    }
    raw.Cancel();
  }
  ASSERT_FALSE(stolen.id().empty()) << "the physio was sent the group message";
  std::vector<ReceivedMessage> out;
  ASSERT_TRUE(anne->m().ProcessEnvelope(stolen, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ReceivedMessage::Kind::kProblem) << out[0].content.DebugString();
  EXPECT_TRUE(TeamTexts(anne->Drain()).empty()) << "nothing more is sent to Anne";
  EXPECT_EQ(anne->relay().GetTeam(team).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TeamTexts(marc->Drain()), (std::vector<std::string>{"New dressing protocol"}));
  EXPECT_EQ(TeamTexts(physio->Drain()), (std::vector<std::string>{"New dressing protocol"}));
  EXPECT_EQ(Audit(v1::TeamEvent::KIND_INVITED).size(), 2u) << "the physio and the service only";
}

// The service removed from the team: what was queued for its staff on duty
// goes with it, as a removed member's does.
TEST_F(OrganisationRosterTest, WhatWasQueuedForStaffGoesWhenTheServiceIsRemoved) {
  using A = v1::ChangeRosterRequest;
  ASSERT_TRUE(Change(*service, anne->account(), A::ACTION_ADD).ok());
  ASSERT_TRUE(Change(*anne, anne->account(), A::ACTION_ON_DUTY, service->account()).ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "Wound care at 10").ok());
  // Anne has not read it yet when the service leaves the team.
  ASSERT_TRUE(gp->relay().RemoveMember(team, service->account()).ok());
  EXPECT_TRUE(TeamTexts(anne->Drain()).empty());
  EXPECT_EQ(anne->relay().GetTeam(team).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TeamTexts(physio->Drain()), (std::vector<std::string>{"Wound care at 10"}));
}

}  // namespace
}  // namespace carerelay::testing
