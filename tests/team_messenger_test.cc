// Care-team messaging with the whole client stack through a real server:
// real libsignal sender keys per team channel, removal making later
// messages undecryptable for the removed member even with the ciphertext,
// the team profile reaching members (new ones included, and across a
// coordinator handover) and never the server's files or logs, senders shown
// with their name and role.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ReceivedMessage;

class TeamMessengerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gp = MessengerDevice::NewAccount(server, "Dr Luc Martin");
    // The nurse's key store is encrypted, as on a real device.
    nurse = MessengerDevice::NewAccount(server, "Anne Peeters", v1::ACCOUNT_KIND_PROFESSIONAL,
                                        "correct horse battery staple");
    physio = MessengerDevice::NewAccount(server, "Jan Claes");
    team = NewTeamWithRecordedConsent(*gp);
    ASSERT_FALSE(team.empty());
    Join(*nurse);
    Join(*physio);
  }
  void Join(MessengerDevice& who, v1::Role role = v1::ROLE_PROFESSIONAL) {
    ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, who, role));
  }
  static std::vector<std::string> TeamTexts(const std::vector<ReceivedMessage>& got) {
    std::vector<std::string> texts;
    for (const auto& m : got) {
      if (m.kind == ReceivedMessage::Kind::kContent && m.content.has_text()) {
        texts.push_back(m.content.text().body());
      }
    }
    return texts;
  }

  TestServer server;
  std::unique_ptr<MessengerDevice> gp, nurse, physio;
  std::string team;
};

TEST_F(TeamMessengerTest, ChannelMessagesReachReadersWithSenderNameAndRole) {
  auto social = MessengerDevice::NewAccount(server, "Sofie Maes", v1::ACCOUNT_KIND_SOCIAL);
  Join(*social, v1::ROLE_SOCIAL);
  auto nurse2 = MessengerDevice::Link(server, *nurse);
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "INR 3.4, dose halved").ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "home help from Monday").ok());

  for (MessengerDevice* d : {nurse.get(), nurse2.get()}) {
    auto got = d->Drain();
    EXPECT_EQ(TeamTexts(got),
              (std::vector<std::string>{"INR 3.4, dose halved", "home help from Monday"}));
    for (const auto& m : got) {
      if (m.kind != ReceivedMessage::Kind::kContent || !m.content.has_text()) continue;
      EXPECT_EQ(m.team_id, team);
      EXPECT_EQ(m.sender_name, "Dr Luc Martin");
      EXPECT_EQ(m.sender_role, v1::ROLE_COORDINATOR);
    }
  }
  // The social worker reads #care, not #clinical (nothing was even sent to it).
  EXPECT_EQ(TeamTexts(social->Drain()), (std::vector<std::string>{"home help from Monday"}));
  // Nor may they post there.
  EXPECT_EQ(social->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
}

// A team post asks for delivery receipts: the sender sees, per reader
// device that stored it, "delivered" with the reader's name and where it
// was posted; never for its own account's devices, never for the sender
// keys sent ahead of it, never twice.
TEST_F(TeamMessengerTest, TeamPostsShowWhichReadersStoredThem) {
  auto gp_phone = MessengerDevice::Link(server, *gp);
  gp->Drain();  // the members joining
  auto post = gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "INR 2.1 today");
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(TeamTexts(nurse->Drain()), (std::vector<std::string>{"INR 2.1 today"}));
  EXPECT_EQ(TeamTexts(gp_phone->Drain()), (std::vector<std::string>{"INR 2.1 today"}));

  auto deliveries = [&]() {
    std::vector<std::pair<std::string, client::Delivery::To>> out;
    for (const auto& m : gp->Drain()) {
      if (m.kind != ReceivedMessage::Kind::kDelivered) continue;
      EXPECT_EQ(m.team_id, team);
      EXPECT_EQ(m.channel,
                m.delivery.urgent_message_id.empty() ? v1::CHANNEL_CLINICAL : v1::CHANNEL_CARE);
      for (const auto& to : m.delivery.to) out.emplace_back(m.delivery.message_id, to);
    }
    return out;
  };
  auto got = deliveries();
  ASSERT_EQ(got.size(), 1u) << "the nurse's device only: not the GP's phone, not the sender keys";
  EXPECT_EQ(got[0].first, *post);
  EXPECT_EQ(got[0].second.device.account_id, nurse->account());
  EXPECT_EQ(got[0].second.device.device_id, nurse->device_id());
  EXPECT_EQ(got[0].second.name, "Anne Peeters");

  EXPECT_EQ(TeamTexts(physio->Drain()), (std::vector<std::string>{"INR 2.1 today"}));
  got = deliveries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, *post);
  EXPECT_EQ(got[0].second.device.account_id, physio->account());
  EXPECT_EQ(got[0].second.name, "Jan Claes");
  EXPECT_TRUE(deliveries().empty()) << "each delivery is shown once";

  // An urgent post names its urgent message id too.
  auto urgent = gp->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fall at home, call back");
  ASSERT_TRUE(urgent.ok()) << urgent.status();
  ASSERT_FALSE(urgent->empty());
  nurse->Drain();
  physio->Drain();
  std::vector<ReceivedMessage> urgent_deliveries;
  for (const auto& m : gp->Drain()) {
    if (m.kind == ReceivedMessage::Kind::kDelivered) urgent_deliveries.push_back(m);
  }
  size_t devices = 0;
  for (const auto& m : urgent_deliveries) {
    EXPECT_EQ(m.delivery.urgent_message_id, *urgent);
    EXPECT_FALSE(m.delivery.message_id.empty());
    EXPECT_EQ(m.channel, v1::CHANNEL_CARE);
    devices += m.delivery.to.size();
  }
  EXPECT_EQ(devices, 2u) << "the nurse and the physio";
}

TEST_F(TeamMessengerTest, RemovedMemberCannotDecryptWhatIsSentAfterEvenWithTheCiphertext) {
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "before removal").ok());
  EXPECT_EQ(TeamTexts(physio->Drain()), (std::vector<std::string>{"before removal"}));
  EXPECT_EQ(TeamTexts(nurse->Drain()), (std::vector<std::string>{"before removal"}));

  // The coordinator removes the physio from another device-less path (the
  // server API) and sends at once, without having processed any event.
  ASSERT_TRUE(gp->relay().RemoveMember(team, physio->account()).ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "after removal").ok());

  // The ciphertext the nurse got, handed to the removed physio.
  v1::Envelope stolen;
  {
    // Read without acknowledging: it stays queued for the nurse's messenger.
    StreamCollector raw(nurse->relay(), v1::ReceiveRequest(), /*ack=*/false);
    for (const auto& e : raw.WaitFor(1)) {
      if (e.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE) stolen = e;
    }
    raw.Cancel();
  }
  ASSERT_FALSE(stolen.id().empty()) << "the nurse was sent the group message";
  std::vector<ReceivedMessage> out;
  ASSERT_TRUE(physio->m().ProcessEnvelope(stolen, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, ReceivedMessage::Kind::kProblem) << out[0].content.DebugString();
  EXPECT_TRUE(TeamTexts(out).empty());
  // The physio's queue has no team message, only the removal notice.
  for (const auto& m : physio->Drain()) {
    EXPECT_FALSE(m.kind == ReceivedMessage::Kind::kContent && m.content.has_text());
  }
  // The nurse, still a member, reads it.
  EXPECT_EQ(TeamTexts(nurse->Drain()), (std::vector<std::string>{"after removal"}));
}

TEST_F(TeamMessengerTest, TeamProfileReachesMembersAndNeverTheServer) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  spdlog::set_level(spdlog::level::trace);

  const std::string name = "Jeanne Vandermeulen-Q7X";
  const std::string national_number = "45.02.11-123.45";
  v1::TeamProfile profile;
  profile.set_team_id(team);
  profile.set_patient_name(name);
  profile.set_birth_date("1945-02-11");
  profile.set_national_number(national_number);
  profile.set_general_practitioner("Dr Luc Martin");
  profile.set_address("Rue Haute 12, 1000 Bruxelles");
  auto sent = gp->m().SetTeamProfile(profile);
  ASSERT_TRUE(sent.ok()) << sent.status();
  nurse->Drain();
  auto held = nurse->m().GetTeamProfile(team);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->patient_name(), name);
  EXPECT_EQ((*held)->national_number(), national_number);

  // A member who joins later gets it from the coordinator's device once it
  // sees them join.
  auto pharmacist = MessengerDevice::NewAccount(server, "Pharmacist");
  Join(*pharmacist);
  gp->Drain();
  pharmacist->Drain();
  held = pharmacist->m().GetTeamProfile(team);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value()) << "the new member received the team profile";
  EXPECT_EQ((*held)->national_number(), national_number);

  // The profile is not in the clear in the members' key stores either.
  server.Restart();
  spdlog::default_logger()->flush();
  auto digits = std::string("4502111234");
  size_t files = 0;
  for (const std::string& dir : {server.data_dir(), nurse->directory()}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      ++files;
      EXPECT_EQ(content.find(name), std::string::npos) << entry.path();
      EXPECT_EQ(content.find(national_number), std::string::npos) << entry.path();
      EXPECT_EQ(content.find(digits), std::string::npos) << entry.path();
      EXPECT_EQ(content.find("Vandermeulen"), std::string::npos) << entry.path();
    }
  }
  EXPECT_GT(files, 6u);
  EXPECT_FALSE(log.str().empty());
  EXPECT_EQ(log.str().find("Vandermeulen"), std::string::npos);
  EXPECT_EQ(log.str().find(national_number), std::string::npos);
  spdlog::default_logger()->sinks().pop_back();
  spdlog::set_level(spdlog::level::warn);
}

// A coordinator handover does not orphan the team profile: a member who reads
// the old coordinator's profile only after the handover takes it (it was
// sent while they could set it), and someone who joins after the handover
// gets it from the new coordinator's device.
TEST_F(TeamMessengerTest, TheTeamProfileSurvivesACoordinatorHandover) {
  v1::TeamProfile profile;
  profile.set_team_id(team);
  profile.set_patient_name("Simone Lambert-H4");
  profile.set_birth_date("1938-07-21");
  ASSERT_TRUE(gp->m().SetTeamProfile(profile).ok());

  // The GP hands over to the nurse, with the patient's agreement recorded
  // (she has no account), before the nurse has read anything.
  v1::DesignateCoordinatorRequest handover;
  handover.set_team_id(team);
  handover.set_account_id(nurse->account());
  handover.set_agreed_by(v1::CONSENT_GIVER_PATIENT);
  handover.set_agreement_method(v1::CONSENT_METHOD_ORAL);
  auto handed = gp->relay().DesignateCoordinator(handover);
  ASSERT_TRUE(handed.ok()) << handed.status();
  ASSERT_EQ(handed->coordinator_account_id(), nurse->account());
  ASSERT_EQ(handed->former_profile_editors_size(), 1);
  EXPECT_EQ(handed->former_profile_editors(0).account_id(), gp->account());

  // A fresh start of the nurse's device knows only the team as it is now.
  nurse->Reopen();
  std::vector<ReceivedMessage> got = nurse->Drain();
  for (const auto& m : got) {
    EXPECT_NE(m.kind, ReceivedMessage::Kind::kProblem) << m.problem;
  }
  auto held = nurse->m().GetTeamProfile(team);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value()) << "the profile sent before the handover was taken";
  EXPECT_EQ((*held)->patient_name(), "Simone Lambert-H4");

  // The former coordinator may no longer set it.
  profile.set_patient_name("Someone else");
  EXPECT_EQ(gp->m().SetTeamProfile(profile).status().code(), absl::StatusCode::kPermissionDenied);

  // Someone who joins after the handover learns who the team is for.
  auto pharmacist = MessengerDevice::NewAccount(server, "Pharmacist");
  ASSERT_NO_FATAL_FAILURE(JoinTeam(*nurse, team, *pharmacist, v1::ROLE_PROFESSIONAL));
  nurse->Drain();
  pharmacist->Drain();
  held = pharmacist->m().GetTeamProfile(team);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value()) << "the new member received the team profile";
  EXPECT_EQ((*held)->patient_name(), "Simone Lambert-H4");
}

}  // namespace
}  // namespace carerelay::testing
