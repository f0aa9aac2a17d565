// Care teams through a real server over TLS on a real RocksDB: the default
// access matrix cell by cell, consent with and without a patient account,
// the coordinator and case-manager rules, removal, exact recipient sets,
// narrowing, close and erase (checked in the store itself), the blind index,
// the direct-message policy and the audit chain (tampered in RocksDB).
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "carerelay/v1/admin.grpc.pb.h"
#include "proto/audit_chain.h"
#include "proto/error_detail.h"
#include "server/store/audit_table.h"
#include "server/store/database.h"
#include "server/store/team_table.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using Addresses = std::set<std::string>;  // "account.device"

v1::AccountKind KindFor(v1::Role role) {
  switch (role) {
    case v1::ROLE_PATIENT:
      return v1::ACCOUNT_KIND_PATIENT;
    case v1::ROLE_CAREGIVER:
      return v1::ACCOUNT_KIND_CAREGIVER;
    case v1::ROLE_SOCIAL:
      return v1::ACCOUNT_KIND_SOCIAL;
    case v1::ROLE_CASE_MANAGER:
      return v1::ACCOUNT_KIND_CASE_MANAGER;
    case v1::ROLE_HELPDESK:
      return v1::ACCOUNT_KIND_HELPDESK;
    default:
      return v1::ACCOUNT_KIND_PROFESSIONAL;
  }
}

std::string TeamOf(const absl::StatusOr<v1::Team>& team) {
  EXPECT_TRUE(team.ok()) << team.status();
  return team.ok() ? team->team_id() : "";
}

const v1::Member* MemberOf(const v1::Team& team, const std::string& account) {
  for (const auto& m : team.members()) {
    if (m.account_id() == account) return &m;
  }
  return nullptr;
}

v1::RecordConsentRequest Consent(const std::string& team) {
  v1::RecordConsentRequest r;
  r.set_team_id(team);
  r.set_given_by(v1::CONSENT_GIVER_PATIENT);
  r.set_method(v1::CONSENT_METHOD_WRITTEN);
  r.set_reference("form 2026-118");
  return r;
}

// A coordinator designation with the agreement of a patient without an
// account, recorded by the caller (her daughter agreed on the phone).
v1::DesignateCoordinatorRequest WithAgreement(const std::string& team, const std::string& account) {
  v1::DesignateCoordinatorRequest r;
  r.set_team_id(team);
  r.set_account_id(account);
  r.set_agreed_by(v1::CONSENT_GIVER_REPRESENTATIVE);
  r.set_agreement_method(v1::CONSENT_METHOD_ORAL);
  r.set_agreement_reference("call 2026-118-2");
  return r;
}

v1::AccessRule Rule(v1::Role role, v1::Channel channel, bool read, bool post) {
  v1::AccessRule r;
  r.set_role(role);
  r.set_channel(channel);
  r.set_read(read);
  r.set_post(post);
  return r;
}

// Which devices must receive a post by `sender` on `channel`: the server's
// answer to an empty send (the devices it lists as missing), or its refusal.
absl::StatusOr<Addresses> MustReceive(TestDevice& sender, const std::string& team,
                                      v1::Channel channel) {
  auto sent = sender.client().SendToTeam(team, channel, {});
  if (sent.ok()) return absl::InternalError("an empty send was accepted");
  auto detail = GetDetail(sent.status());
  if (!detail || !detail->has_device_mismatch()) return sent.status();
  Addresses out;
  for (const auto& d : detail->device_mismatch().missing()) {
    out.insert(d.account_id() + "." + std::to_string(d.device_id()));
  }
  return out;
}

// Posts `payload` as PLAINTEXT to exactly the devices the server says must
// receive it.
absl::StatusOr<v1::SendResponse> Post(TestDevice& sender, const std::string& team,
                                      v1::Channel channel, const std::string& payload) {
  auto readers = MustReceive(sender, team, channel);
  if (!readers.ok()) return readers.status();
  std::vector<v1::OutgoingEnvelope> envelopes;
  for (const auto& a : *readers) {
    v1::OutgoingEnvelope e;
    e.set_account_id(a.substr(0, 32));
    e.set_device_id(std::stoul(a.substr(33)));
    e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
    e.set_content(payload);
    envelopes.push_back(std::move(e));
  }
  return sender.client().SendToTeam(team, channel, std::move(envelopes));
}

bool Received(TestDevice& d, const std::string& payload) {
  for (const auto& e : d.ReceiveBacklog()) {
    if (e.content() == payload) return true;
  }
  return false;
}

std::vector<v1::TeamEvent> Events(TestDevice& d, const std::string& team) {
  std::vector<v1::TeamEvent> out;
  for (const auto& e : d.ReceiveBacklog()) {
    if (e.type() != v1::ENVELOPE_TYPE_SERVER_EVENT || e.team_id() != team) continue;
    v1::TeamEvent event;
    EXPECT_TRUE(event.ParseFromString(e.content()));
    out.push_back(event);
  }
  return out;
}

void AckEverything(TestDevice& d) { d.ReceiveBacklog(/*ack=*/true); }

// A team convened by a coordinator, with the patient's consent recorded (the
// patient has no account) unless told otherwise.
class TeamTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestDevice> Person(const std::string& name, v1::Role role) {
    return TestDevice::Enroll(server_, name, KindFor(role));
  }
  std::string NewTeam(TestDevice& coordinator, bool record_consent = true) {
    std::string team = TeamOf(coordinator.client().CreateTeam(v1::ROLE_COORDINATOR));
    if (record_consent) {
      EXPECT_TRUE(coordinator.client().RecordConsent(Consent(team)).ok());
    }
    return team;
  }
  void Join(TestDevice& by, const std::string& team, TestDevice& who, v1::Role role,
            bool acts_for_patient = false) {
    auto invited = by.client().Invite(team, who.account_id(), role, acts_for_patient);
    ASSERT_TRUE(invited.ok()) << invited.status();
    auto joined = who.client().RespondToInvitation(team, true);
    ASSERT_TRUE(joined.ok()) << joined.status();
  }

  TestServer server_;
};

// --- The access matrix ------------------------------------------------------

struct Cell {
  v1::Role role;
  v1::Channel channel;
  bool read;
  bool post;
};

// The default matrix as the README documents it, written out independently
// of the server's table.
const Cell kDefaultMatrix[] = {
    {v1::ROLE_PATIENT, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_PATIENT, v1::CHANNEL_CARE, false, false},
    {v1::ROLE_PATIENT, v1::CHANNEL_CLINICAL, false, false},
    {v1::ROLE_PATIENT, v1::CHANNEL_INTAKE, false, false},
    {v1::ROLE_CAREGIVER, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_CAREGIVER, v1::CHANNEL_CARE, false, false},
    {v1::ROLE_CAREGIVER, v1::CHANNEL_CLINICAL, false, false},
    {v1::ROLE_CAREGIVER, v1::CHANNEL_INTAKE, false, false},
    {v1::ROLE_COORDINATOR, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_COORDINATOR, v1::CHANNEL_CARE, true, true},
    {v1::ROLE_COORDINATOR, v1::CHANNEL_CLINICAL, true, true},
    {v1::ROLE_COORDINATOR, v1::CHANNEL_INTAKE, true, true},
    {v1::ROLE_PROFESSIONAL, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_PROFESSIONAL, v1::CHANNEL_CARE, true, true},
    {v1::ROLE_PROFESSIONAL, v1::CHANNEL_CLINICAL, true, true},
    {v1::ROLE_PROFESSIONAL, v1::CHANNEL_INTAKE, false, false},
    {v1::ROLE_SOCIAL, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, true},
    {v1::ROLE_SOCIAL, v1::CHANNEL_CLINICAL, false, false},
    {v1::ROLE_SOCIAL, v1::CHANNEL_INTAKE, false, false},
    {v1::ROLE_CASE_MANAGER, v1::CHANNEL_TEAM, true, true},
    {v1::ROLE_CASE_MANAGER, v1::CHANNEL_CARE, true, true},
    {v1::ROLE_CASE_MANAGER, v1::CHANNEL_CLINICAL, false, false},
    {v1::ROLE_CASE_MANAGER, v1::CHANNEL_INTAKE, true, true},
    {v1::ROLE_HELPDESK, v1::CHANNEL_TEAM, false, false},
    {v1::ROLE_HELPDESK, v1::CHANNEL_CARE, false, false},
    {v1::ROLE_HELPDESK, v1::CHANNEL_CLINICAL, false, false},
    {v1::ROLE_HELPDESK, v1::CHANNEL_INTAKE, true, true},
};

TEST_F(TeamTest, DefaultAccessMatrixEveryRoleChannelAndRight) {
  std::map<v1::Role, std::unique_ptr<TestDevice>> by_role;
  // The patient joins last: once they are on the team, invitations wait for
  // their consent.
  const v1::Role kJoinOrder[] = {v1::ROLE_CAREGIVER,    v1::ROLE_PROFESSIONAL, v1::ROLE_SOCIAL,
                                 v1::ROLE_CASE_MANAGER, v1::ROLE_HELPDESK,     v1::ROLE_PATIENT};
  by_role[v1::ROLE_COORDINATOR] = Person("Coordinator", v1::ROLE_COORDINATOR);
  for (v1::Role role : kJoinOrder) by_role[role] = Person(v1::Role_Name(role), role);
  // A second device for the professional: every device of a reader counts.
  auto professional2 = TestDevice::Link(server_, *by_role[v1::ROLE_PROFESSIONAL]);
  TestDevice& coordinator = *by_role[v1::ROLE_COORDINATOR];
  const std::string team = NewTeam(coordinator);
  for (v1::Role role : kJoinOrder) Join(coordinator, team, *by_role[role], role);

  std::map<std::pair<v1::Role, v1::Channel>, Cell> expected;
  for (const Cell& c : kDefaultMatrix) expected[{c.role, c.channel}] = c;

  int payload_number = 0;
  for (const Cell& cell : kDefaultMatrix) {
    SCOPED_TRACE(v1::Role_Name(cell.role) + " on " + v1::Channel_Name(cell.channel));
    TestDevice& sender = *by_role[cell.role];
    const std::string payload = "post " + std::to_string(++payload_number);
    auto sent = Post(sender, team, cell.channel, payload);
    if (!cell.post) {
      EXPECT_EQ(sent.status().code(), absl::StatusCode::kPermissionDenied) << sent.status();
      continue;
    }
    ASSERT_TRUE(sent.ok()) << sent.status();
    // Exactly the readers of the channel received it, on every device.
    for (auto& [role, device] : by_role) {
      if (device.get() == &sender) continue;
      bool reads = expected[{role, cell.channel}].read;
      EXPECT_EQ(Received(*device, payload), reads)
          << v1::Role_Name(role) << " reading " << v1::Channel_Name(cell.channel);
    }
    const bool professional_reads = expected[{v1::ROLE_PROFESSIONAL, cell.channel}].read;
    EXPECT_EQ(Received(*professional2, payload), professional_reads);
  }
  // Reading is also what the team view says, for every member.
  auto view = coordinator.client().GetTeam(team);
  ASSERT_TRUE(view.ok());
  for (const auto& m : view->members()) {
    for (const Cell& cell : kDefaultMatrix) {
      if (cell.role != m.role()) continue;
      bool reads = std::count(m.can_read().begin(), m.can_read().end(), cell.channel) > 0;
      bool posts = std::count(m.can_post().begin(), m.can_post().end(), cell.channel) > 0;
      EXPECT_EQ(reads, cell.read) << v1::Role_Name(cell.role) << v1::Channel_Name(cell.channel);
      EXPECT_EQ(posts, cell.post) << v1::Role_Name(cell.role) << v1::Channel_Name(cell.channel);
    }
  }
}

TEST(TeamAccessOverride, DeploymentOverrideChangesWhoReadsAndPosts) {
  // A deployment that lets social workers read (not post on) #clinical and
  // takes #team away from caregivers.
  TestServer server(TestLimits(), true, {"social:clinical=r", "CAREGIVER:team=-"});
  auto gp = TestDevice::Enroll(server, "GP");
  auto social = TestDevice::Enroll(server, "Social", v1::ACCOUNT_KIND_SOCIAL);
  auto son = TestDevice::Enroll(server, "Son", v1::ACCOUNT_KIND_CAREGIVER);
  const std::string team = TeamOf(gp->client().CreateTeam(v1::ROLE_COORDINATOR));
  ASSERT_TRUE(gp->client().RecordConsent(Consent(team)).ok());
  for (auto [who, role] :
       {std::pair{social.get(), v1::ROLE_SOCIAL}, std::pair{son.get(), v1::ROLE_CAREGIVER}}) {
    ASSERT_TRUE(gp->client().Invite(team, who->account_id(), role).ok());
    ASSERT_TRUE(who->client().RespondToInvitation(team, true).ok());
  }
  auto readers = MustReceive(*gp, team, v1::CHANNEL_CLINICAL);
  ASSERT_TRUE(readers.ok()) << readers.status();
  EXPECT_EQ(*readers, (Addresses{social->address()}));
  EXPECT_EQ(Post(*social, team, v1::CHANNEL_CLINICAL, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  readers = MustReceive(*gp, team, v1::CHANNEL_TEAM);
  ASSERT_TRUE(readers.ok());
  EXPECT_EQ(*readers, (Addresses{social->address()}));
  EXPECT_EQ(Post(*son, team, v1::CHANNEL_TEAM, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
}

// --- Exact recipient sets ----------------------------------------------------

TEST_F(TeamTest, SendMustNameExactlyTheReadersDevices) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto nurse2 = TestDevice::Link(server_, *nurse);
  AckEverything(*nurse);  // the announcement of nurse2 (issue 15): not a team event
  auto social = Person("Social worker", v1::ROLE_SOCIAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *social, v1::ROLE_SOCIAL);

  auto send = [&](std::vector<std::pair<TestDevice*, uint32_t>> to) {
    std::vector<v1::OutgoingEnvelope> envelopes;
    for (auto [d, device_id] : to) {
      v1::OutgoingEnvelope e;
      e.set_account_id(d->account_id());
      e.set_device_id(device_id);
      e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
      e.set_content("bp 90/60");
      envelopes.push_back(e);
    }
    return gp->client().SendToTeam(team, v1::CHANNEL_CLINICAL, envelopes);
  };
  // Missing the nurse's second device, and the social worker (who cannot read
  // #clinical) named: both reported.
  auto sent = send({{nurse.get(), 1}, {social.get(), 1}});
  ASSERT_EQ(sent.status().code(), absl::StatusCode::kFailedPrecondition) << sent.status();
  auto detail = GetDetail(sent.status());
  ASSERT_TRUE(detail && detail->has_device_mismatch());
  ASSERT_EQ(detail->device_mismatch().missing_size(), 1);
  EXPECT_EQ(detail->device_mismatch().missing(0).account_id(), nurse->account_id());
  EXPECT_EQ(detail->device_mismatch().missing(0).device_id(), 2u);
  ASSERT_EQ(detail->device_mismatch().extra_size(), 1);
  EXPECT_EQ(detail->device_mismatch().extra(0).account_id(), social->account_id());
  EXPECT_TRUE(nurse->ReceiveBacklog().size() == Events(*nurse, team).size());  // nothing queued

  // A revoked device is stale.
  ASSERT_TRUE(nurse->client().RevokeDevice(2).ok());
  sent = send({{nurse.get(), 1}, {nurse.get(), 2}});
  detail = GetDetail(sent.status());
  ASSERT_TRUE(detail && detail->has_device_mismatch()) << sent.status();
  ASSERT_EQ(detail->device_mismatch().stale_size(), 1);
  EXPECT_EQ(detail->device_mismatch().stale(0).device_id(), 2u);

  sent = send({{nurse.get(), 1}});
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(Received(*nurse, "bp 90/60"));
  EXPECT_FALSE(Received(*social, "bp 90/60"));
  // The envelope is marked with its team and channel.
  for (const auto& e : nurse->ReceiveBacklog()) {
    if (e.content() != "bp 90/60") continue;
    EXPECT_EQ(e.team_id(), team);
    EXPECT_EQ(e.channel(), v1::CHANNEL_CLINICAL);
  }
}

// --- Consent -----------------------------------------------------------------

TEST_F(TeamTest, ConsentWithoutPatientAccountMustBeRecordedFirst) {
  auto liaison = Person("Liaison nurse", v1::ROLE_COORDINATOR);
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  auto daughter = Person("Daughter", v1::ROLE_CAREGIVER);
  const std::string team = NewTeam(*liaison, /*record_consent=*/false);

  auto invited = liaison->client().Invite(team, physio->account_id(), v1::ROLE_PROFESSIONAL);
  EXPECT_EQ(invited.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(invited.status().message().find("consent"), absl::string_view::npos);
  // The family can be invited before: they can agree themselves.
  Join(*liaison, team, *daughter, v1::ROLE_CAREGIVER);
  // Only the coordinator or case manager records consent.
  EXPECT_EQ(daughter->client().RecordConsent(Consent(team)).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::RecordConsentRequest missing_method = Consent(team);
  missing_method.set_method(v1::CONSENT_METHOD_UNSPECIFIED);
  EXPECT_EQ(liaison->client().RecordConsent(missing_method).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto recorded = liaison->client().RecordConsent(Consent(team));
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->consent().given_by(), v1::CONSENT_GIVER_PATIENT);
  EXPECT_EQ(recorded->consent().method(), v1::CONSENT_METHOD_WRITTEN);
  EXPECT_EQ(recorded->consent().reference(), "form 2026-118");
  EXPECT_EQ(recorded->consent().recorded_by_account_id(), liaison->account_id());
  EXPECT_FALSE(recorded->patient_has_account());
  Join(*liaison, team, *physio, v1::ROLE_PROFESSIONAL);

  // Withdrawal closes the team: no more messages.
  v1::RecordConsentRequest withdraw = Consent(team);
  withdraw.set_withdraw(true);
  auto closed = liaison->client().RecordConsent(withdraw);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->status(), v1::TEAM_STATUS_CLOSED);
  EXPECT_TRUE(closed->consent().withdrawn());
  EXPECT_EQ(Post(*physio, team, v1::CHANNEL_TEAM, "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
  bool saw_withdrawal = false;
  for (const auto& e : Events(*physio, team)) {
    if (e.kind() == v1::TeamEvent::KIND_CONSENT_WITHDRAWN) saw_withdrawal = true;
  }
  EXPECT_TRUE(saw_withdrawal);
}

TEST_F(TeamTest, PatientWithAccountAgreesToMembersAndCoordinator) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto social = Person("Social", v1::ROLE_SOCIAL);
  auto son = Person("Son", v1::ROLE_CAREGIVER);
  const std::string team = NewTeam(*gp, /*record_consent=*/false);
  Join(*gp, team, *patient, v1::ROLE_PATIENT);

  // With the patient on the team, the coordinator cannot record consent for them.
  EXPECT_EQ(gp->client().RecordConsent(Consent(team)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // An invitation waits for the patient.
  auto invited = gp->client().Invite(team, nurse->account_id(), v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(invited.ok()) << invited.status();
  EXPECT_TRUE(invited->patient_has_account());
  EXPECT_EQ(MemberOf(*invited, nurse->account_id())->status(), v1::MEMBER_STATUS_AWAITING_CONSENT);
  EXPECT_EQ(nurse->client().RespondToInvitation(team, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Someone awaiting consent does not see the rest of the team.
  auto seen = nurse->client().GetTeam(team);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(MemberOf(*seen, patient->account_id()), nullptr);
  // Only the patient side answers.
  EXPECT_EQ(gp->client().AnswerConsent(team, nurse->account_id(), true).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(patient->client().AnswerConsent(team, nurse->account_id(), true).ok());
  ASSERT_TRUE(nurse->client().RespondToInvitation(team, true).ok());

  // A refusal removes the invitation.
  ASSERT_TRUE(gp->client().Invite(team, social->account_id(), v1::ROLE_SOCIAL).ok());
  auto refused = patient->client().AnswerConsent(team, social->account_id(), false);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(MemberOf(*refused, social->account_id()), nullptr);
  bool told = false;
  for (const auto& e : Events(*social, team)) {
    if (e.kind() == v1::TeamEvent::KIND_CONSENT_REFUSED) told = true;
  }
  EXPECT_TRUE(told) << "the refused person is told";

  // The patient invites their son themselves: no consent step.
  auto son_invited = patient->client().Invite(team, son->account_id(), v1::ROLE_CAREGIVER, true);
  ASSERT_TRUE(son_invited.ok()) << son_invited.status();
  EXPECT_EQ(MemberOf(*son_invited, son->account_id())->status(), v1::MEMBER_STATUS_INVITED);
  // But the patient cannot invite professionals (the coordinator convenes).
  EXPECT_EQ(patient->client().Invite(team, social->account_id(), v1::ROLE_SOCIAL).status().code(),
            absl::StatusCode::kPermissionDenied);

  // Designating the nurse as coordinator waits for the patient too.
  auto pending = gp->client().DesignateCoordinator(team, nurse->account_id());
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->pending_coordinator_account_id(), nurse->account_id());
  EXPECT_EQ(pending->coordinator_account_id(), gp->account_id());
  auto designated = patient->client().AnswerConsent(team, nurse->account_id(), true);
  ASSERT_TRUE(designated.ok()) << designated.status();
  EXPECT_EQ(designated->coordinator_account_id(), nurse->account_id());
  EXPECT_EQ(MemberOf(*designated, gp->account_id())->role(), v1::ROLE_PROFESSIONAL);
  EXPECT_TRUE(designated->pending_coordinator_account_id().empty());

  // The patient can remove anyone, at any time, the coordinator included.
  auto removed = patient->client().RemoveMember(team, nurse->account_id());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(MemberOf(*removed, nurse->account_id()), nullptr);
  EXPECT_TRUE(removed->coordinator_account_id().empty());
  // ... but not themselves out of their own team by someone else.
  EXPECT_EQ(gp->client().RemoveMember(team, patient->account_id()).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// --- Coordinator and case manager -----------------------------------------------

TEST_F(TeamTest, CoordinatorAndCaseManagerAreNeverTheSamePersonAndHandOver) {
  auto manager = Person("Case manager", v1::ROLE_CASE_MANAGER);
  auto gp = Person("GP", v1::ROLE_PROFESSIONAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto other_manager = Person("Other case manager", v1::ROLE_CASE_MANAGER);

  // Creating as case manager needs a case-manager account, and vice versa.
  EXPECT_EQ(gp->client().CreateTeam(v1::ROLE_CASE_MANAGER).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager->client().CreateTeam(v1::ROLE_COORDINATOR).status().code(),
            absl::StatusCode::kPermissionDenied);
  const std::string team = TeamOf(manager->client().CreateTeam(v1::ROLE_CASE_MANAGER));
  ASSERT_TRUE(manager->client().RecordConsent(Consent(team)).ok());
  Join(*manager, team, *gp, v1::ROLE_PROFESSIONAL);
  Join(*manager, team, *nurse, v1::ROLE_PROFESSIONAL);

  // One case manager per team.
  EXPECT_EQ(manager->client()
                .Invite(team, other_manager->account_id(), v1::ROLE_CASE_MANAGER)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // The case manager is never the coordinator.
  auto self = manager->client().DesignateCoordinator(team, manager->account_id());
  EXPECT_EQ(self.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(self.status().message().find("case manager"), absl::string_view::npos);
  // Nor can anyone be given the case manager's role by a role change.
  EXPECT_EQ(
      manager->client().ChangeRole(team, gp->account_id(), v1::ROLE_CASE_MANAGER).status().code(),
      absl::StatusCode::kInvalidArgument);
  // Members cannot designate.
  EXPECT_EQ(nurse->client().DesignateCoordinator(team, nurse->account_id()).status().code(),
            absl::StatusCode::kPermissionDenied);

  // Handover from the case manager to the GP.
  auto handed = manager->client().DesignateCoordinator(WithAgreement(team, gp->account_id()));
  ASSERT_TRUE(handed.ok()) << handed.status();
  EXPECT_EQ(handed->coordinator_account_id(), gp->account_id());
  EXPECT_EQ(handed->case_manager_account_id(), manager->account_id());
  // The coordinator cannot leave before handing over; after, they can.
  EXPECT_EQ(gp->client().RemoveMember(team, gp->account_id()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto again = gp->client().DesignateCoordinator(WithAgreement(team, nurse->account_id()));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->coordinator_account_id(), nurse->account_id());
  EXPECT_EQ(MemberOf(*again, gp->account_id())->role(), v1::ROLE_PROFESSIONAL);
  int coordinators = 0;
  for (const auto& m : again->members()) coordinators += m.role() == v1::ROLE_COORDINATOR;
  EXPECT_EQ(coordinators, 1);
  EXPECT_TRUE(gp->client().RemoveMember(team, gp->account_id()).ok());
}

// Issue 17, item 3 (in part): the case manager convenes and proposes; once
// the patient side is on the team, a removal is theirs or the coordinator's.
TEST_F(TeamTest, TheCaseManagerNeverRemovesAMemberAgainstThePatientSide) {
  auto manager = Person("Case manager", v1::ROLE_CASE_MANAGER);
  auto gp = Person("GP", v1::ROLE_PROFESSIONAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  const std::string team = TeamOf(manager->client().CreateTeam(v1::ROLE_CASE_MANAGER));
  ASSERT_TRUE(manager->client().RecordConsent(Consent(team)).ok());
  Join(*manager, team, *gp, v1::ROLE_PROFESSIONAL);
  Join(*manager, team, *nurse, v1::ROLE_PROFESSIONAL);
  // Convening, before the patient side is there: she may.
  ASSERT_TRUE(manager->client().RemoveMember(team, gp->account_id()).ok());
  Join(*manager, team, *patient, v1::ROLE_PATIENT);
  auto refused = manager->client().RemoveMember(team, nurse->account_id());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "the patient side"))
      << refused.status();
  ASSERT_NE(MemberOf(*patient->client().GetTeam(team), nurse->account_id()), nullptr);
  // The patient removes, as ever.
  EXPECT_TRUE(patient->client().RemoveMember(team, nurse->account_id()).ok());
}

// --- The patient side coordinating, and agreeing to every coordinator -------

// "Coordination may be the person themselves, a family caregiver or a
// professional": a patient convenes their own team, keeps their role (and
// its access), invites professionals without a consent step, and hands over.
TEST_F(TeamTest, APatientCoordinatesTheirOwnTeamAndHandsOver) {
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto gp = Person("GP", v1::ROLE_PROFESSIONAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto son = Person("Son", v1::ROLE_CAREGIVER);

  // A patient cannot convene as a case manager.
  EXPECT_EQ(patient->client().CreateTeam(v1::ROLE_CASE_MANAGER).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto created = patient->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string team = created->team_id();
  EXPECT_EQ(created->coordinator_account_id(), patient->account_id());
  EXPECT_TRUE(created->patient_has_account());
  const v1::Member* me = MemberOf(*created, patient->account_id());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->role(), v1::ROLE_PATIENT);
  EXPECT_TRUE(me->coordinates());
  // Coordinating gives no clinical access: the patient's row of the matrix.
  EXPECT_EQ(me->can_read_size(), 1);

  // They invite a professional themselves: no consent step.
  auto invited = patient->client().Invite(team, gp->account_id(), v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(invited.ok()) << invited.status();
  EXPECT_EQ(MemberOf(*invited, gp->account_id())->status(), v1::MEMBER_STATUS_INVITED);
  // The person invited sees who convenes them before joining.
  auto seen = gp->client().GetTeam(team);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->coordinator_account_id(), patient->account_id());
  ASSERT_TRUE(gp->client().RespondToInvitation(team, true).ok());
  Join(*patient, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*patient, team, *son, v1::ROLE_CAREGIVER);

  // They narrow, remove, read the audit log; they never record consent in
  // their own place.
  ASSERT_TRUE(patient->client()
                  .SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, false)})
                  .ok());
  EXPECT_TRUE(patient->client().ReadAudit(team).ok());
  EXPECT_EQ(patient->client().RecordConsent(Consent(team)).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(patient->client().RemoveMember(team, nurse->account_id()).ok());
  // Nobody removes the patient coordinator, and a patient side coordinator
  // is never designated with a recorded agreement (they agree themselves).
  EXPECT_EQ(gp->client().RemoveMember(team, patient->account_id()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      patient->client().DesignateCoordinator(WithAgreement(team, gp->account_id())).status().code(),
      absl::StatusCode::kInvalidArgument);

  // Handing over to the GP needs nobody else's agreement: the patient is
  // the patient side. They stay the patient and stop coordinating.
  auto handed = patient->client().DesignateCoordinator(team, gp->account_id());
  ASSERT_TRUE(handed.ok()) << handed.status();
  EXPECT_EQ(handed->coordinator_account_id(), gp->account_id());
  EXPECT_EQ(MemberOf(*handed, gp->account_id())->role(), v1::ROLE_COORDINATOR);
  EXPECT_EQ(MemberOf(*handed, patient->account_id())->role(), v1::ROLE_PATIENT);
  EXPECT_FALSE(MemberOf(*handed, patient->account_id())->coordinates());
  // The GP hands coordination back to the patient: it waits for the
  // patient's own answer like any designation by a professional.
  auto back = gp->client().DesignateCoordinator(team, patient->account_id());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->pending_coordinator_account_id(), patient->account_id());
  auto agreed = patient->client().AnswerConsent(team, patient->account_id(), true);
  ASSERT_TRUE(agreed.ok()) << agreed.status();
  EXPECT_EQ(agreed->coordinator_account_id(), patient->account_id());
  EXPECT_EQ(MemberOf(*agreed, gp->account_id())->role(), v1::ROLE_PROFESSIONAL);
  int coordinating = 0;
  for (const auto& m : agreed->members()) coordinating += m.coordinates();
  EXPECT_EQ(coordinating, 1);
  // The patient coordinator cannot leave without handing over.
  EXPECT_EQ(patient->client().RemoveMember(team, patient->account_id()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A caregiver (a parent, say) convening the team acts for the patient.
  auto parent = Person("Parent", v1::ROLE_CAREGIVER);
  auto own = parent->client().CreateTeam(v1::ROLE_COORDINATOR);
  ASSERT_TRUE(own.ok()) << own.status();
  const v1::Member* p = MemberOf(*own, parent->account_id());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->role(), v1::ROLE_CAREGIVER);
  EXPECT_TRUE(p->acts_for_patient());
  EXPECT_TRUE(p->coordinates());
  EXPECT_EQ(own->coordinator_account_id(), parent->account_id());
  // The blind index is made with the organisation's key, which only
  // professionals hold.
  EXPECT_EQ(parent->client().SetBlindIndex(own->team_id(), std::string(32, 'x'), "2026-1").code(),
            absl::StatusCode::kPermissionDenied);
}

// "The beneficiary or their circle must agree to the professional designated
// to coordinate": with no patient-side account, a designation carries their
// recorded agreement, which the team and its audit log keep.
TEST_F(TeamTest, EveryCoordinatorDesignationNeedsThePatientSidesAgreement) {
  auto liaison = Person("Liaison nurse", v1::ROLE_COORDINATOR);
  auto gp = Person("GP", v1::ROLE_PROFESSIONAL);
  auto daughter = Person("Daughter", v1::ROLE_CAREGIVER);
  const std::string team = NewTeam(*liaison);
  Join(*liaison, team, *gp, v1::ROLE_PROFESSIONAL);

  auto refused = liaison->client().DesignateCoordinator(team, gp->account_id());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "must agree")) << refused.status();
  // Half an agreement is not one.
  v1::DesignateCoordinatorRequest half = WithAgreement(team, gp->account_id());
  half.clear_agreement_method();
  EXPECT_EQ(liaison->client().DesignateCoordinator(half).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::DesignateCoordinatorRequest named = WithAgreement(team, gp->account_id());
  named.set_agreement_reference(std::string(65, 'n'));
  EXPECT_EQ(liaison->client().DesignateCoordinator(named).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto still = liaison->client().GetTeam(team);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->coordinator_account_id(), liaison->account_id()) << "nothing half-applied";

  auto handed = liaison->client().DesignateCoordinator(WithAgreement(team, gp->account_id()));
  ASSERT_TRUE(handed.ok()) << handed.status();
  EXPECT_EQ(handed->coordinator_account_id(), gp->account_id());
  ASSERT_TRUE(handed->has_coordinator_agreement());
  EXPECT_EQ(handed->coordinator_agreement().given_by(), v1::CONSENT_GIVER_REPRESENTATIVE);
  EXPECT_EQ(handed->coordinator_agreement().method(), v1::CONSENT_METHOD_ORAL);
  EXPECT_EQ(handed->coordinator_agreement().reference(), "call 2026-118-2");
  EXPECT_EQ(handed->coordinator_agreement().recorded_by_account_id(), liaison->account_id());
  EXPECT_GT(handed->coordinator_agreement().given_at_ms(), 0);

  // The audit log: the agreement, who recorded it and for whom, then the
  // designation.
  auto audit = gp->client().ReadAudit(team);
  ASSERT_TRUE(audit.ok()) << audit.status();
  int agreement_at = -1, designated_at = -1;
  for (int i = 0; i < audit->entries_size(); ++i) {
    const v1::TeamEvent& e = audit->entries(i).event();
    if (e.kind() == v1::TeamEvent::KIND_COORDINATOR_AGREEMENT_RECORDED) {
      agreement_at = i;
      EXPECT_EQ(e.actor_account_id(), liaison->account_id());
      EXPECT_EQ(e.subject_account_id(), gp->account_id());
      EXPECT_EQ(e.detail(), "representative, oral");
    }
    if (e.kind() == v1::TeamEvent::KIND_COORDINATOR_DESIGNATED) designated_at = i;
  }
  ASSERT_GE(agreement_at, 0);
  EXPECT_GT(designated_at, agreement_at);

  // Once the patient side has an account, they answer themselves: a
  // recorded agreement is refused, and the designation waits for them.
  Join(*gp, team, *daughter, v1::ROLE_CAREGIVER, /*acts_for_patient=*/true);
  EXPECT_EQ(
      gp->client().DesignateCoordinator(WithAgreement(team, liaison->account_id())).status().code(),
      absl::StatusCode::kInvalidArgument);
  auto pending = gp->client().DesignateCoordinator(team, liaison->account_id());
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->pending_coordinator_account_id(), liaison->account_id());
  auto answered = daughter->client().AnswerConsent(team, liaison->account_id(), true);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->coordinator_account_id(), liaison->account_id());
  EXPECT_FALSE(answered->has_coordinator_agreement())
      << "the recorded agreement was for the previous coordinator";
}

// "The person should have access to their own data": the patient side lets
// itself read #care (and #clinical), the patient and the caregivers acting
// for them only, and takes it back; nobody else widens it or narrows it.
TEST_F(TeamTest, ThePatientSideWidensItsOwnReading) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto daughter = Person("Daughter", v1::ROLE_CAREGIVER);
  auto neighbour = Person("Neighbour", v1::ROLE_CAREGIVER);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *daughter, v1::ROLE_CAREGIVER, /*acts_for_patient=*/true);
  Join(*daughter, team, *neighbour, v1::ROLE_CAREGIVER);
  ASSERT_TRUE(gp->client().Invite(team, patient->account_id(), v1::ROLE_PATIENT).ok());
  ASSERT_TRUE(patient->client().RespondToInvitation(team, true).ok());
  const std::string patient_device = patient->address();
  auto readers = MustReceive(*nurse, team, v1::CHANNEL_CARE);
  ASSERT_TRUE(readers.ok()) << readers.status();
  EXPECT_EQ(readers->count(patient_device), 0u);

  auto set = [&](TestDevice& who, v1::Role role, v1::Channel channel, bool read, bool post) {
    return who.client().SetTeamAccess(team, {Rule(role, channel, read, post)}).status().code();
  };
  // Only the patient side opens it, only for reading, never #intake.
  EXPECT_EQ(set(*gp, v1::ROLE_PATIENT, v1::CHANNEL_CARE, true, false),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(set(*patient, v1::ROLE_PATIENT, v1::CHANNEL_CARE, true, true),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(set(*patient, v1::ROLE_PATIENT, v1::CHANNEL_INTAKE, true, false),
            absl::StatusCode::kInvalidArgument);
  auto opened = patient->client().SetTeamAccess(
      team, {Rule(v1::ROLE_PATIENT, v1::CHANNEL_CARE, true, false),
             Rule(v1::ROLE_CAREGIVER, v1::CHANNEL_CLINICAL, true, false)});
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ(opened->widened_size(), 2);
  const v1::Member* me = MemberOf(*opened, patient->account_id());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->can_read_size(), 2) << "#team and #care";
  EXPECT_EQ(me->can_post_size(), 1) << "reading only";

  // A post on #care now reaches the patient; one on #clinical the daughter
  // who acts for her, not the neighbour.
  readers = MustReceive(*nurse, team, v1::CHANNEL_CARE);
  ASSERT_TRUE(readers.ok()) << readers.status();
  EXPECT_EQ(readers->count(patient_device), 1u);
  ASSERT_TRUE(Post(*nurse, team, v1::CHANNEL_CARE, "care for the patient").ok());
  EXPECT_TRUE(Received(*patient, "care for the patient"));
  ASSERT_TRUE(Post(*nurse, team, v1::CHANNEL_CLINICAL, "clinical for the daughter").ok());
  EXPECT_TRUE(Received(*daughter, "clinical for the daughter"));
  EXPECT_FALSE(Received(*neighbour, "clinical for the daughter"));
  EXPECT_EQ(Post(*patient, team, v1::CHANNEL_CARE, "x").status().code(),
            absl::StatusCode::kPermissionDenied);

  // The coordinator does not take it back; the patient side does, and what
  // was queued for it on #care goes.
  EXPECT_EQ(set(*gp, v1::ROLE_PATIENT, v1::CHANNEL_CARE, false, false),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(Post(*nurse, team, v1::CHANNEL_CARE, "care queued before closing").ok());
  auto closed = daughter->client().SetTeamAccess(
      team, {Rule(v1::ROLE_PATIENT, v1::CHANNEL_CARE, false, false)});
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->widened_size(), 1);
  EXPECT_EQ(MemberOf(*closed, patient->account_id())->can_read_size(), 1);
  EXPECT_FALSE(Received(*patient, "care queued before closing"));

  // The audit log has both changes, by whom.
  auto audit = patient->client().ReadAudit(team);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<std::string> access;
  for (const auto& entry : audit->entries()) {
    if (entry.event().kind() == v1::TeamEvent::KIND_ACCESS_NARROWED) {
      access.push_back(entry.event().detail());
    }
  }
  EXPECT_EQ(access,
            (std::vector<std::string>{"patient:care=r caregiver:clinical=r", "patient:care=-"}));
}

TEST_F(TeamTest, RolesMustFitTheAccountKind) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  const std::string team = NewTeam(*gp);
  EXPECT_EQ(gp->client().Invite(team, patient->account_id(), v1::ROLE_PROFESSIONAL).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gp->client().Invite(team, helpdesk->account_id(), v1::ROLE_SOCIAL).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gp->client().Invite(team, patient->account_id(), v1::ROLE_COORDINATOR).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gp->client().Invite(team, std::string(32, '0'), v1::ROLE_PATIENT).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(gp->client().Invite(team, "zz", v1::ROLE_PATIENT).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(gp->client().Invite(team, patient->account_id(), v1::ROLE_PATIENT).ok());
  EXPECT_EQ(gp->client().Invite(team, patient->account_id(), v1::ROLE_PATIENT).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// --- Removal ---------------------------------------------------------------------

TEST_F(TeamTest, RemovalCutsAccessAtOnceAndDropsUndeliveredEnvelopes) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *physio, v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CLINICAL, "before removal").ok());
  // A direct message between them, outside the team, is not the team's.
  ASSERT_TRUE(gp->SendBytes(physio->account_id(), "direct").ok());

  ASSERT_TRUE(gp->client().RemoveMember(team, physio->account_id()).ok());
  // The undelivered team envelope is gone; the direct message and the
  // removal notice remain.
  auto backlog = physio->ReceiveBacklog();
  bool removal_notice = false;
  for (const auto& e : backlog) {
    EXPECT_NE(e.content(), "before removal");
    if (e.type() == v1::ENVELOPE_TYPE_SERVER_EVENT) {
      v1::TeamEvent event;
      ASSERT_TRUE(event.ParseFromString(e.content()));
      if (event.kind() == v1::TeamEvent::KIND_REMOVED &&
          event.subject_account_id() == physio->account_id()) {
        removal_notice = true;
        EXPECT_EQ(event.actor_account_id(), gp->account_id());
      }
    }
  }
  EXPECT_TRUE(removal_notice);
  EXPECT_TRUE(Received(*physio, "direct"));
  // No more sends to or from the removed member.
  auto readers = MustReceive(*gp, team, v1::CHANNEL_CLINICAL);
  ASSERT_TRUE(readers.ok());
  EXPECT_EQ(*readers, (Addresses{nurse->address()}));
  EXPECT_EQ(Post(*physio, team, v1::CHANNEL_TEAM, "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(physio->client().GetTeam(team).status().code(), absl::StatusCode::kNotFound);
  // The remaining members are told.
  bool nurse_told = false;
  for (const auto& e : Events(*nurse, team)) {
    if (e.kind() == v1::TeamEvent::KIND_REMOVED) nurse_told = true;
  }
  EXPECT_TRUE(nurse_told);
}

// --- Narrowing ---------------------------------------------------------------------

TEST_F(TeamTest, PatientNarrowsButNeverWidens) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto social = Person("Social", v1::ROLE_SOCIAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *social, v1::ROLE_SOCIAL);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *patient, v1::ROLE_PATIENT);

  auto rule = [](v1::Role role, v1::Channel channel, bool read, bool post) {
    v1::AccessRule r;
    r.set_role(role);
    r.set_channel(channel);
    r.set_read(read);
    r.set_post(post);
    return r;
  };
  // Widening is refused, for anyone.
  EXPECT_EQ(patient->client()
                .SetTeamAccess(team, {rule(v1::ROLE_SOCIAL, v1::CHANNEL_CLINICAL, true, false)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A professional cannot narrow.
  EXPECT_EQ(nurse->client()
                .SetTeamAccess(team, {rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false)})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // The patient keeps the social worker out of #care.
  auto narrowed = patient->client().SetTeamAccess(
      team, {rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false)});
  ASSERT_TRUE(narrowed.ok()) << narrowed.status();
  ASSERT_EQ(narrowed->narrowed_size(), 1);
  auto readers = MustReceive(*nurse, team, v1::CHANNEL_CARE);
  ASSERT_TRUE(readers.ok());
  EXPECT_EQ(readers->count(social->address()), 0u);
  EXPECT_EQ(Post(*social, team, v1::CHANNEL_CARE, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  // #team is untouched.
  readers = MustReceive(*nurse, team, v1::CHANNEL_TEAM);
  ASSERT_TRUE(readers.ok());
  EXPECT_EQ(readers->count(social->address()), 1u);
  // Setting the cell back to the deployment's lifts the narrowing.
  auto lifted =
      patient->client().SetTeamAccess(team, {rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, true)});
  ASSERT_TRUE(lifted.ok());
  EXPECT_EQ(lifted->narrowed_size(), 0);
  readers = MustReceive(*nurse, team, v1::CHANNEL_CARE);
  EXPECT_EQ(readers->count(social->address()), 1u);
}

// The server answers team sends from a cache of the team's readers; each
// change must apply to the very next send, the cache primed just before.
TEST_F(TeamTest, EveryChangeAppliesToTheVeryNextSend) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto social = Person("Social", v1::ROLE_SOCIAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *social, v1::ROLE_SOCIAL);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *patient, v1::ROLE_PATIENT);
  auto readers = [&](v1::Channel channel) {
    auto r = MustReceive(*gp, team, channel);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Addresses{};
  };

  // A new device of a member.
  EXPECT_EQ(readers(v1::CHANNEL_CARE).count(nurse->address()), 1u);
  auto phone = TestDevice::Link(server_, *nurse);
  EXPECT_EQ(readers(v1::CHANNEL_CARE).count(phone->address()), 1u);
  // Its revocation.
  ASSERT_TRUE(nurse->client().RevokeDevice(phone->device_id()).ok());
  EXPECT_EQ(readers(v1::CHANNEL_CARE).count(phone->address()), 0u);
  // Narrowing by the patient.
  v1::AccessRule rule;
  rule.set_role(v1::ROLE_SOCIAL);
  rule.set_channel(v1::CHANNEL_CARE);
  EXPECT_EQ(readers(v1::CHANNEL_CARE).count(social->address()), 1u);
  ASSERT_TRUE(patient->client().SetTeamAccess(team, {rule}).ok());
  EXPECT_EQ(readers(v1::CHANNEL_CARE).count(social->address()), 0u);
  EXPECT_EQ(Post(*social, team, v1::CHANNEL_CARE, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  // Removal: out of every channel, and the removed member may not post.
  EXPECT_EQ(readers(v1::CHANNEL_TEAM).count(social->address()), 1u);
  ASSERT_TRUE(Post(*social, team, v1::CHANNEL_TEAM, "before").ok());
  ASSERT_TRUE(gp->client().RemoveMember(team, social->account_id()).ok());
  EXPECT_EQ(readers(v1::CHANNEL_TEAM).count(social->address()), 0u);
  EXPECT_EQ(social->client().SendToTeam(team, v1::CHANNEL_TEAM, {}).status().code(),
            absl::StatusCode::kNotFound);
  // A revoked sender is refused at once, even though it authenticated a
  // moment before.
  auto laptop = TestDevice::Link(server_, *gp);
  ASSERT_TRUE(laptop->client().ListDevices().ok());
  ASSERT_TRUE(gp->client().RevokeDevice(laptop->device_id()).ok());
  EXPECT_EQ(laptop->client().ListDevices().status().code(), absl::StatusCode::kUnauthenticated);
}

// Team sends racing a removal: no envelope ever reaches the removed member
// after the removal has committed, and a send refused for the race queues
// nothing.
TEST_F(TeamTest, SendsRacingARemovalNeverReachTheRemovedMember) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *physio, v1::ROLE_PROFESSIONAL);
  AckEverything(*physio);
  // The devices as they were before the removal: a racing send names them.
  auto before = MustReceive(*gp, team, v1::CHANNEL_CLINICAL);
  ASSERT_TRUE(before.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, aborted{0};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      std::vector<v1::OutgoingEnvelope> envelopes;
      for (const auto& a : *before) {
        v1::OutgoingEnvelope e;
        e.set_account_id(a.substr(0, 32));
        e.set_device_id(std::stoul(a.substr(33)));
        e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
        e.set_content("race " + std::to_string(i));
        envelopes.push_back(std::move(e));
      }
      auto sent = gp->client().SendToTeam(team, v1::CHANNEL_CLINICAL, std::move(envelopes));
      if (sent.ok()) {
        ++accepted;
      } else if (sent.status().code() == absl::StatusCode::kAborted) {
        ++aborted;
      } else {
        // After the removal: the physio is an extra device now.
        EXPECT_EQ(sent.status().code(), absl::StatusCode::kFailedPrecondition) << sent.status();
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(gp->client().RemoveMember(team, physio->account_id()).ok());
  absl::SleepFor(absl::Milliseconds(100));
  stop = true;
  sender.join();
  EXPECT_GT(accepted.load(), 0);
  // Whatever was queued for the physio before the removal was dropped by it;
  // nothing was queued after it. Only the removal's own event remains.
  for (const auto& e : physio->ReceiveBacklog()) {
    EXPECT_NE(e.type(), v1::ENVELOPE_TYPE_PLAINTEXT) << e.content();
  }
}

// --- Direct messages ------------------------------------------------------------------

// The default contact policy (care-relationship): professionals message each
// other directly only about someone they both care for, on a shared open
// team; anyone reaches the helpdesk; nobody reaches a patient outside their
// team. Prekey bundles (to start a session) follow the same rule.
TEST(ContactPolicyTest, DirectMessagesFollowTheCareRelationshipByDefault) {
  TestServer server(TestLimits(), /*sync=*/true, /*access_overrides=*/{}, "care-relationship");
  auto gp = TestDevice::Enroll(server, "GP", v1::ACCOUNT_KIND_PROFESSIONAL);
  auto nurse = TestDevice::Enroll(server, "Nurse", v1::ACCOUNT_KIND_PROFESSIONAL);
  auto social = TestDevice::Enroll(server, "Social worker", v1::ACCOUNT_KIND_SOCIAL);
  auto patient = TestDevice::Enroll(server, "Patient", v1::ACCOUNT_KIND_PATIENT);
  auto helpdesk = TestDevice::Enroll(server, "Helpdesk", v1::ACCOUNT_KIND_HELPDESK);

  auto refused = gp->SendBytes(nurse->account_id(), "about Mrs D.");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "share no open care team"))
      << refused.status();
  EXPECT_EQ(gp->client().GetPrekeyBundles(nurse->account_id()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(social->SendBytes(gp->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  // The helpdesk, which anyone may call, and which calls back.
  EXPECT_TRUE(gp->SendBytes(helpdesk->account_id(), "please route").ok());
  EXPECT_TRUE(helpdesk->SendBytes(nurse->account_id(), "a call for you").ok());
  EXPECT_TRUE(patient->SendBytes(helpdesk->account_id(), "please call me").ok());
  EXPECT_EQ(nurse->SendBytes(patient->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);

  // Caring for the same person on an open team, they may.
  const std::string team = TeamOf(gp->client().CreateTeam(v1::ROLE_COORDINATOR));
  ASSERT_TRUE(gp->client().RecordConsent(Consent(team)).ok());
  ASSERT_TRUE(gp->client().Invite(team, nurse->account_id(), v1::ROLE_PROFESSIONAL).ok());
  EXPECT_EQ(gp->SendBytes(nurse->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied)
      << "an invitation is not yet membership";
  ASSERT_TRUE(nurse->client().RespondToInvitation(team, true).ok());
  EXPECT_TRUE(gp->SendBytes(nurse->account_id(), "about Mrs D.").ok());
  EXPECT_TRUE(nurse->client().GetPrekeyBundles(gp->account_id()).ok());
  // Not once the pathway has ended.
  ASSERT_TRUE(gp->client().CloseTeam(team, "end of pathway").ok());
  EXPECT_EQ(gp->SendBytes(nurse->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
}

// A deployment that wants an open professional directory (--contact-policy
// directory; TeamTest's server): professionals reach each other; patients
// and caregivers are still reached only through their team or the helpdesk.
TEST_F(TeamTest, DirectMessagesInDirectoryMode) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto stranger = Person("Stranger GP", v1::ROLE_PROFESSIONAL);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  EXPECT_TRUE(gp->SendBytes(stranger->account_id(), "hello colleague").ok());
  EXPECT_TRUE(gp->client().GetPrekeyBundles(stranger->account_id()).ok());
  EXPECT_EQ(stranger->SendBytes(patient->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(patient->SendBytes(stranger->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(patient->SendBytes(helpdesk->account_id(), "please call me").ok());
  EXPECT_TRUE(helpdesk->SendBytes(patient->account_id(), "calling back").ok());
  // The patient is reached once on a team with them (ContactPolicyTest
  // follows a team's life).
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *patient, v1::ROLE_PATIENT);
  EXPECT_TRUE(gp->SendBytes(patient->account_id(), "welcome").ok());
}

// --- Blind index ------------------------------------------------------------------------

TEST_F(TeamTest, HelpdeskFindsTeamsByBlindIndexOthersCannot) {
  auto gp = Person("Dr Martin", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  auto manager = Person("Case manager", v1::ROLE_CASE_MANAGER);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  const std::string index(32, '\x5a');  // stands for HMAC(org key, national number)

  EXPECT_EQ(gp->client().SetBlindIndex(team, "short", "2026-1").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(nurse->client().SetBlindIndex(team, index, "2026-1").code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(gp->client().SetBlindIndex(team, index, "2026-1").ok());

  auto found = helpdesk->client().FindTeams(index);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].team_id(), team);
  EXPECT_EQ((*found)[0].coordinator_account_id(), gp->account_id());
  EXPECT_EQ((*found)[0].coordinator_name(), "Dr Martin");
  EXPECT_EQ((*found)[0].key_version(), "2026-1");
  auto by_manager = manager->client().FindTeams(index);
  ASSERT_TRUE(by_manager.ok());
  EXPECT_EQ(by_manager->size(), 1u);
  EXPECT_TRUE(helpdesk->client().FindTeams(std::string(32, '\x01'))->empty());
  for (TestDevice* d : {nurse.get(), gp.get(), patient.get()}) {
    EXPECT_EQ(d->client().FindTeams(index).status().code(), absl::StatusCode::kPermissionDenied);
  }
  // Key rotation: a second version is added beside the first; re-registering
  // a version replaces it.
  const std::string rotated(32, '\x6b');
  ASSERT_TRUE(gp->client().SetBlindIndex(team, rotated, "2027-1").ok());
  EXPECT_EQ(helpdesk->client().FindTeams(rotated)->size(), 1u);
  EXPECT_EQ(helpdesk->client().FindTeams(index)->size(), 1u);
  const std::string replaced(32, '\x7c');
  ASSERT_TRUE(gp->client().SetBlindIndex(team, replaced, "2026-1").ok());
  EXPECT_TRUE(helpdesk->client().FindTeams(index)->empty());
  // Every lookup is in the team's audit log, with who looked.
  auto audit = gp->client().ReadAudit(team);
  ASSERT_TRUE(audit.ok());
  int lookups = 0;
  for (const auto& e : audit->entries()) {
    if (e.event().kind() == v1::TeamEvent::KIND_FOUND_BY_INDEX) {
      ++lookups;
      EXPECT_TRUE(e.event().actor_account_id() == helpdesk->account_id() ||
                  e.event().actor_account_id() == manager->account_id());
    }
  }
  EXPECT_EQ(lookups, 4);

  // Issue 15 (lower): versions do not pile up. Four are kept (the two
  // above and two more); a fifth drops the oldest, "2027-1".
  for (int v = 2; v <= 4; ++v) {
    ASSERT_TRUE(gp->client()
                    .SetBlindIndex(team, std::string(32, static_cast<char>('\x10' + v)),
                                   "2028-" + std::to_string(v))
                    .ok());
  }
  EXPECT_TRUE(helpdesk->client().FindTeams(rotated)->empty()) << "the oldest version stays";
  EXPECT_EQ(helpdesk->client().FindTeams(replaced)->size(), 1u);
  EXPECT_EQ(helpdesk->client().FindTeams(std::string(32, '\x14'))->size(), 1u);
}

// Issue 18, item 4: the name-and-birth-date index sits beside the national
// number's: replaced and limited per kind; a lookup says which kind matched
// and the audit log names it.
TEST_F(TeamTest, ANameAndBirthDateIndexSitsBesideTheNationalNumbers) {
  auto gp = Person("Dr Martin", v1::ROLE_COORDINATOR);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  const std::string team = NewTeam(*gp);
  const auto kName = v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE;
  const std::string by_number(32, '\x21'), by_name(32, '\x22'), renamed(32, '\x23');
  ASSERT_TRUE(gp->client().SetBlindIndex(team, by_number, "2026-1").ok());
  ASSERT_TRUE(gp->client().SetBlindIndex(team, by_name, "2026-1", kName).ok());
  auto found = helpdesk->client().FindTeams(by_number);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u) << "the same key version, another kind: both kept";
  EXPECT_EQ((*found)[0].index_kind(), v1::BLIND_INDEX_KIND_NATIONAL_NUMBER);
  found = helpdesk->client().FindTeams(by_name);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].team_id(), team);
  EXPECT_EQ((*found)[0].index_kind(), kName);

  // A new name index under the same key replaces the name index only.
  ASSERT_TRUE(gp->client().SetBlindIndex(team, renamed, "2026-1", kName).ok());
  EXPECT_TRUE(helpdesk->client().FindTeams(by_name)->empty());
  EXPECT_EQ(helpdesk->client().FindTeams(renamed)->size(), 1u);
  EXPECT_EQ(helpdesk->client().FindTeams(by_number)->size(), 1u);
  // Four more name versions drop the oldest name index, never the number's.
  for (int v = 1; v <= 4; ++v) {
    ASSERT_TRUE(gp->client()
                    .SetBlindIndex(team, std::string(32, static_cast<char>('\x30' + v)),
                                   "2027-" + std::to_string(v), kName)
                    .ok());
  }
  EXPECT_TRUE(helpdesk->client().FindTeams(renamed)->empty());
  EXPECT_EQ(helpdesk->client().FindTeams(by_number)->size(), 1u);
  EXPECT_EQ(helpdesk->client().FindTeams(std::string(32, '\x31'))->size(), 1u);
  EXPECT_EQ(gp->client()
                .SetBlindIndex(team, by_name, "2026-1", static_cast<v1::BlindIndexKind>(7))
                .code(),
            absl::StatusCode::kInvalidArgument);

  // The audit log tells a lookup by name from one by national number.
  auto audit = gp->client().ReadAudit(team);
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> lookups;
  for (const auto& e : audit->entries()) {
    if (e.event().kind() == v1::TeamEvent::KIND_FOUND_BY_INDEX) {
      lookups.push_back(e.event().detail());
    }
  }
  const std::string by_name_2026 = "2026-1 name-and-birth-date";
  EXPECT_EQ(lookups, (std::vector<std::string>{"2026-1", by_name_2026, by_name_2026, "2026-1",
                                               "2026-1", "2027-1 name-and-birth-date"}));
}

// --- Close and erase ----------------------------------------------------------------------

// Every key in the store that mentions the team (raw id or hex): none may
// remain after erasure.
std::vector<std::string> TeamTraces(const std::string& data_dir, const std::string& team_hex) {
  auto db = store::Database::Open(data_dir, store::DatabaseOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  auto team = store::TeamId::FromHex(team_hex);
  std::vector<std::string> traces;
  for (int t = 0; t < store::kTableCount; ++t) {
    auto table = static_cast<store::Table>(t);
    (*db)
        ->Scan(table, "", "",
               [&](absl::string_view k, absl::string_view v) {
                 if (absl::StrContains(k, team->Bytes()) || absl::StrContains(v, team->Bytes()) ||
                     absl::StrContains(v, team_hex)) {
                   traces.push_back(absl::StrCat("table ", t, " key size ", k.size()));
                 }
                 return true;
               })
        .IgnoreError();
  }
  return traces;
}

// Traces outside what an erasure keeps: the audit log and its erased-team
// record (the meta table).
std::vector<std::string> TracesBeyondTheKeptAudit(const std::string& data_dir,
                                                  const std::string& team_hex) {
  std::vector<std::string> beyond;
  for (const std::string& t : TeamTraces(data_dir, team_hex)) {
    if (!absl::StartsWith(t, absl::StrCat("table ", static_cast<int>(store::Table::kAudit), " ")) &&
        !absl::StartsWith(t, absl::StrCat("table ", static_cast<int>(store::Table::kMeta), " "))) {
      beyond.push_back(t);
    }
  }
  return beyond;
}

// Every value in the store that holds `marker`, by table.
std::vector<int> TablesHolding(const std::string& data_dir, const std::string& marker) {
  auto db = store::Database::Open(data_dir, store::DatabaseOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  std::vector<int> tables;
  for (int t = 0; t < store::kTableCount; ++t) {
    (*db)
        ->Scan(static_cast<store::Table>(t), "", "",
               [&](absl::string_view k, absl::string_view v) {
                 if (absl::StrContains(k, marker) || absl::StrContains(v, marker)) {
                   tables.push_back(t);
                 }
                 return true;
               })
        .IgnoreError();
  }
  return tables;
}

// The administrator's view, through the server's admin socket.
std::unique_ptr<v1::Admin::Stub> AdminOf(TestServer& server) {
  return v1::Admin::NewStub(
      grpc::CreateChannel(server.server().admin_address(), grpc::InsecureChannelCredentials()));
}

TEST_F(TeamTest, CloseKeepsHistoryUntilRetentionThenErasesEverything) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(gp->client().SetBlindIndex(team, std::string(32, 'i'), "2026-1").ok());
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CARE, "undelivered").ok());

  EXPECT_EQ(nurse->client().CloseTeam(team, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto closed = gp->client().CloseTeam(team, "end of pathway");
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->status(), v1::TEAM_STATUS_CLOSED);
  EXPECT_EQ(closed->erase_after_ms() - closed->closed_at_ms(),
            absl::ToInt64Milliseconds(absl::Hours(24 * 90)));
  // Closed: no more messages or changes; still readable.
  EXPECT_EQ(Post(*gp, team, v1::CHANNEL_CARE, "late").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gp->client().Invite(team, nurse->account_id(), v1::ROLE_SOCIAL).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(nurse->client().GetTeam(team).ok());
  EXPECT_TRUE(gp->client().VerifyAudit(team)->intact());

  // Retention not over: nothing erased.
  server_.clock().Advance(absl::Hours(24 * 89));
  server_.server().RunExpiry();
  EXPECT_TRUE(gp->client().GetTeam(team).ok());
  server_.clock().Advance(absl::Hours(24 * 2));
  server_.server().RunExpiry();
  EXPECT_EQ(gp->client().GetTeam(team).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(gp->client().ListTeams()->empty());
  // Members are told (so their devices can forget the team); once they have
  // acknowledged that notice, nothing of the team is left in the store.
  bool erased_notice = false;
  for (const auto& e : Events(*nurse, team)) {
    if (e.kind() == v1::TeamEvent::KIND_ERASED) erased_notice = true;
  }
  EXPECT_TRUE(erased_notice);
  AckEverything(*gp);
  AckEverything(*nurse);
  // Its audit log is kept for the administrator, the erasure last...
  auto admin = AdminOf(server_);
  grpc::ClientContext ctx;
  v1::ListErasedTeamsResponse listed;
  ASSERT_TRUE(admin->ListErasedTeams(&ctx, v1::ListErasedTeamsRequest(), &listed).ok());
  ASSERT_EQ(listed.teams_size(), 1);
  EXPECT_EQ(listed.teams(0).team_id(), team);
  EXPECT_EQ(listed.teams(0).reason(), "retention period ended");
  // ...for 30 years by default, then it goes too.
  server_.clock().Advance(absl::Hours(24 * 365 * 30) - absl::Hours(1));
  server_.server().RunExpiry();
  grpc::ClientContext again;
  listed.Clear();
  ASSERT_TRUE(admin->ListErasedTeams(&again, v1::ListErasedTeamsRequest(), &listed).ok());
  EXPECT_EQ(listed.teams_size(), 1);
  server_.clock().Advance(absl::Hours(2));
  server_.server().RunExpiry();
  grpc::ClientContext after;
  listed.Clear();
  ASSERT_TRUE(admin->ListErasedTeams(&after, v1::ListErasedTeamsRequest(), &listed).ok());
  EXPECT_EQ(listed.teams_size(), 0);
  server_.Stop();
  EXPECT_EQ(TeamTraces(server_.data_dir(), team), std::vector<std::string>{});
}

// Issue 17, item 8: erasure deletes the content at once and keeps the
// content-free audit chain, for the administrator only.
TEST_F(TeamTest, EraseOnRequestKeepsOnlyTheContentFreeAuditChainForTheAdministrator) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  const std::string index = "BLIND-INDEX-MARKER-0123456789abc";
  ASSERT_EQ(index.size(), 32u);
  ASSERT_TRUE(gp->client().SetBlindIndex(team, index, "2026-1").ok());
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CLINICAL, "CONTENT-MARKER queued ciphertext").ok());
  ASSERT_TRUE(Post(*nurse, team, v1::CHANNEL_CLINICAL, "CONTENT-MARKER another").ok());
  auto before = gp->client().VerifyAudit(team);
  ASSERT_TRUE(before.ok()) << before.status();

  EXPECT_EQ(nurse->client().EraseTeam(team).status().code(), absl::StatusCode::kPermissionDenied);
  auto erased = gp->client().EraseTeam(team);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_GE(erased->envelopes_deleted(), 2u);
  EXPECT_EQ(erased->audit_entries_kept(), before->entries() + 1) << "the erasure is the last";
  EXPECT_EQ(erased->audit_kept_until_ms(),
            absl::ToUnixMillis(server_.clock().Now() + absl::Hours(24 * 365 * 30)));
  EXPECT_FALSE(Received(*nurse, "CONTENT-MARKER queued ciphertext"));
  EXPECT_TRUE(helpdesk->client().FindTeams(index)->empty());
  EXPECT_EQ(gp->client().GetTeam(team).status().code(), absl::StatusCode::kNotFound);
  // Members can no longer read the log; the erasure event they got carries
  // the head the administrator's copy checks against.
  EXPECT_EQ(gp->client().ReadAudit(team).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gp->client().VerifyAudit(team).status().code(), absl::StatusCode::kNotFound);
  std::string head_told;
  for (const auto& e : Events(*nurse, team)) {
    if (e.kind() == v1::TeamEvent::KIND_ERASED) head_told = e.audit_hash();
  }
  EXPECT_FALSE(head_told.empty());
  AckEverything(*gp);
  AckEverything(*nurse);

  auto admin = AdminOf(server_);
  grpc::ClientContext ctx;
  v1::ReadErasedTeamAuditRequest request;
  request.set_team_id(team);
  v1::ReadErasedTeamAuditResponse kept;
  grpc::Status read = admin->ReadErasedTeamAudit(&ctx, request, &kept);
  ASSERT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(kept.team().team_id(), team);
  EXPECT_EQ(kept.team().reason(), "erased on request");
  EXPECT_TRUE(kept.verified().intact()) << kept.verified().problem();
  ASSERT_EQ(kept.entries_size(), static_cast<int>(erased->audit_entries_kept()));
  EXPECT_EQ(kept.entries(kept.entries_size() - 1).event().kind(), v1::TeamEvent::KIND_ERASED);
  EXPECT_EQ(kept.entries(kept.entries_size() - 1).event().actor_account_id(), gp->account_id());
  EXPECT_EQ(kept.team().audit_head_hash(), head_told);
  EXPECT_EQ(kept.verified().head_hash(), head_told);
  for (const char* bad : {"not-a-team", "00112233445566778899aabbccddeeff"}) {
    grpc::ClientContext c;
    request.set_team_id(bad);
    EXPECT_EQ(admin->ReadErasedTeamAudit(&c, request, &kept).error_code(),
              std::string(bad) == "not-a-team" ? grpc::StatusCode::INVALID_ARGUMENT
                                               : grpc::StatusCode::NOT_FOUND);
  }

  server_.Stop();
  // Nothing of the content anywhere in the store; the team only in its log.
  EXPECT_EQ(TablesHolding(server_.data_dir(), "CONTENT-MARKER"), std::vector<int>{});
  EXPECT_EQ(TablesHolding(server_.data_dir(), index), std::vector<int>{});
  EXPECT_EQ(TracesBeyondTheKeptAudit(server_.data_dir(), team), std::vector<std::string>{});
}

// --- Audit log --------------------------------------------------------------------------------

TEST_F(TeamTest, AuditLogRecordsChangesAndOnlyPatientSideAndCoordinatorRead) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto daughter = Person("Daughter", v1::ROLE_CAREGIVER);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *daughter, v1::ROLE_CAREGIVER);

  auto audit = daughter->client().ReadAudit(team);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<v1::TeamEvent::Kind> kinds;
  for (const auto& e : audit->entries()) kinds.push_back(e.event().kind());
  EXPECT_EQ(kinds, (std::vector<v1::TeamEvent::Kind>{
                       v1::TeamEvent::KIND_CREATED, v1::TeamEvent::KIND_CONSENT_RECORDED,
                       v1::TeamEvent::KIND_INVITED, v1::TeamEvent::KIND_JOINED,
                       v1::TeamEvent::KIND_INVITED, v1::TeamEvent::KIND_JOINED}));
  EXPECT_EQ(audit->entries(2).event().subject_account_id(), nurse->account_id());
  EXPECT_EQ(audit->entries(2).event().actor_account_id(), gp->account_id());
  EXPECT_EQ(audit->entries(2).event().role(), v1::ROLE_PROFESSIONAL);
  EXPECT_EQ(nurse->client().ReadAudit(team).status().code(), absl::StatusCode::kPermissionDenied);
  // Paging.
  auto page = gp->client().ReadAudit(team, 2, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries_size(), 3);
  EXPECT_EQ(page->entries(0).sequence(), 3u);
  EXPECT_TRUE(page->more());
  // The events members received carry the chain head, which matches the log.
  auto events = Events(*daughter, team);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().audit_sequence(), 6u);
  EXPECT_EQ(events.back().audit_hash(), audit->entries(5).hash());
  auto verified = gp->client().VerifyAudit(team);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact()) << verified->problem();
  EXPECT_EQ(verified->entries(), 6u);
  EXPECT_EQ(verified->head_hash(), audit->entries(5).hash());
}

// Alters entry `sequence` of `team` directly in RocksDB with `change`.
void Tamper(const std::string& data_dir, const std::string& team_hex, uint64_t sequence,
            const std::function<void(std::string*)>& change) {
  auto db = store::Database::Open(data_dir, store::DatabaseOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  auto team = store::TeamId::FromHex(team_hex);
  const std::string key = store::AuditKey(*team, sequence);
  auto txn = (*db)->Begin();
  auto value = txn->GetForUpdate(store::Table::kAudit, key);
  ASSERT_TRUE(value.ok()) << value.status();
  std::string altered = *value;
  change(&altered);
  ASSERT_NE(altered, *value);
  ASSERT_TRUE(txn->Put(store::Table::kAudit, key, altered).ok());
  ASSERT_TRUE(txn->Commit().ok());
}

TEST_F(TeamTest, AuditVerificationFindsAnEntryAlteredInTheStore) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);                           // entries 3, 4
  Join(*gp, team, *physio, v1::ROLE_PROFESSIONAL);                          // entries 5, 6
  ASSERT_TRUE(gp->client().RemoveMember(team, physio->account_id()).ok());  // 7
  ASSERT_TRUE(gp->client().VerifyAudit(team)->intact());

  // Someone with access to the disk rewrites entry 5 to hide who invited the
  // physio: a valid entry, different content, old hash.
  server_.Stop();
  Tamper(server_.data_dir(), team, 5, [&](std::string* bytes) {
    v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*bytes));
    entry.mutable_event()->set_actor_account_id(nurse->account_id());
    *bytes = entry.SerializeAsString();
  });
  server_.Restart();
  auto verified = gp->client().VerifyAudit(team);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_FALSE(verified->intact());
  EXPECT_EQ(verified->broken_at_sequence(), 5u);
  EXPECT_EQ(verified->entries(), 4u) << "entries before the break check";
  EXPECT_NE(verified->problem().find("altered"), std::string::npos) << verified->problem();

  // Recomputing that entry's hash as well moves the break to the link.
  server_.Stop();
  Tamper(server_.data_dir(), team, 5, [&](std::string* bytes) {
    v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*bytes));
    entry.set_hash(AuditEntryHash(entry));
    *bytes = entry.SerializeAsString();
  });
  server_.Restart();
  verified = gp->client().VerifyAudit(team);
  ASSERT_TRUE(verified.ok());
  EXPECT_FALSE(verified->intact());
  EXPECT_EQ(verified->broken_at_sequence(), 6u);
  EXPECT_NE(verified->problem().find("does not link to entry 5"), std::string::npos)
      << verified->problem();
}

TEST_F(TeamTest, AuditVerificationFindsDamagedAndDeletedEntries) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);  // entries 1..4
  const std::string other = NewTeam(*gp);
  Join(*gp, other, *nurse, v1::ROLE_PROFESSIONAL);  // entries 1..4
  server_.Stop();
  // A flipped byte inside entry 3.
  Tamper(server_.data_dir(), team, 3, [](std::string* bytes) { (*bytes)[bytes->size() / 2] ^= 1; });
  server_.Restart();
  auto verified = gp->client().VerifyAudit(team);
  ASSERT_TRUE(verified.ok());
  EXPECT_FALSE(verified->intact());
  EXPECT_EQ(verified->broken_at_sequence(), 3u) << verified->problem();

  // The last entry deleted: the log no longer reaches the head the team
  // record (and every member's device) holds.
  server_.Stop();
  {
    auto db = store::Database::Open(server_.data_dir(), store::DatabaseOptions{});
    ASSERT_TRUE(db.ok());
    auto txn = (*db)->Begin();
    ASSERT_TRUE(
        txn->Delete(store::Table::kAudit, store::AuditKey(*store::TeamId::FromHex(other), 4)).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  server_.Restart();
  verified = gp->client().VerifyAudit(other);
  ASSERT_TRUE(verified.ok());
  EXPECT_FALSE(verified->intact());
  EXPECT_EQ(verified->broken_at_sequence(), 4u) << verified->problem();
  EXPECT_NE(verified->problem().find("missing"), std::string::npos) << verified->problem();
}

// --- Abuse and review findings (issue 15) ----------------------------------------------

std::vector<v1::TeamEvent> EventsOfKind(TestDevice& d, const std::string& team,
                                        v1::TeamEvent::Kind kind) {
  std::vector<v1::TeamEvent> out;
  for (const auto& e : Events(d, team)) {
    if (e.kind() == kind) out.push_back(e);
  }
  return out;
}

bool BacklogHas(TestDevice& d, const std::string& payload) {
  for (const auto& e : d.ReceiveBacklog()) {
    if (e.content() == payload) return true;
  }
  return false;
}

// Finding 1: a call carries at most one rule per cell of the matrix, no cell
// twice, and becomes one audit entry and one event however many cells it sets.
// Bad requests change nothing.
TEST_F(TeamTest, SetTeamAccessIsBoundedRejectsDuplicatesAndIsOneEvent) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  AckEverything(*nurse);
  const uint64_t head = gp->client().GetTeam(team)->audit_sequence();

  // Many rules (a flood, mostly repeats of valid cells): refused whole.
  std::vector<v1::AccessRule> flood;
  for (int i = 0; i < 5000; ++i)
    flood.push_back(Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false));
  auto refused = gp->client().SetTeamAccess(team, flood);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  // The same cell twice in one call: refused.
  refused = gp->client().SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false),
                                              Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, true)});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("twice"), absl::string_view::npos) << refused.status();
  // Nothing was applied, logged or announced.
  auto unchanged = gp->client().GetTeam(team);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->narrowed_size(), 0);
  // (Stops here if the flood went through: reading thousands of events
  // without acknowledging would stall on the delivery window.)
  ASSERT_EQ(unchanged->audit_sequence(), head);
  EXPECT_TRUE(Events(*nurse, team).empty());

  // Three cells at once: one audit entry, one event naming all three.
  v1::AccessRule padded = Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, false);
  // Fields this server does not know are not kept in the team record.
  // Field 99, length-delimited (tag 794 = 0x9a 0x06), 1000 bytes (0xe8 0x07).
  ASSERT_TRUE(padded.ParseFromString(padded.SerializeAsString() + "\x9a\x06\xe8\x07" +
                                     std::string(1000, 'x')));
  ASSERT_GT(padded.ByteSizeLong(), 1000u);
  auto set = gp->client().SetTeamAccess(
      team, {padded, Rule(v1::ROLE_SOCIAL, v1::CHANNEL_TEAM, true, false),
             Rule(v1::ROLE_PROFESSIONAL, v1::CHANNEL_CARE, true, false)});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->narrowed_size(), 3);
  for (const auto& r : set->narrowed()) {
    EXPECT_LT(r.ByteSizeLong(), 16u) << "unknown fields were stored";
  }
  EXPECT_EQ(set->audit_sequence(), head + 1);
  auto events = EventsOfKind(*nurse, team, v1::TeamEvent::KIND_ACCESS_NARROWED);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].detail().find("social:care=r"), std::string::npos) << events[0].detail();
  EXPECT_NE(events[0].detail().find("professional:care=r"), std::string::npos)
      << events[0].detail();
}

// Finding 5: only the patient side removes the patient side, and a team that
// has had an active patient side never falls back to a recorded consent.
TEST_F(TeamTest, ConvenerCannotRemoveThePatientSideNorFallBackToRecordedConsent) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto manager = Person("Case manager", v1::ROLE_CASE_MANAGER);
  auto daughter = Person("Daughter", v1::ROLE_CAREGIVER);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);  // consent recorded
  Join(*gp, team, *manager, v1::ROLE_CASE_MANAGER);
  Join(*gp, team, *daughter, v1::ROLE_CAREGIVER, /*acts_for_patient=*/true);

  // Neither convener can take the daughter off the team.
  for (TestDevice* convener : {gp.get(), manager.get()}) {
    auto removed = convener->client().RemoveMember(team, daughter->account_id());
    EXPECT_EQ(removed.status().code(), absl::StatusCode::kPermissionDenied) << removed.status();
  }
  ASSERT_NE(MemberOf(*gp->client().GetTeam(team), daughter->account_id()), nullptr);

  // She leaves herself. The recorded consent (older than her) no longer
  // stands in for the patient, and none can be recorded again.
  ASSERT_TRUE(daughter->client().RemoveMember(team, daughter->account_id()).ok());
  auto invited = gp->client().Invite(team, nurse->account_id(), v1::ROLE_PROFESSIONAL);
  EXPECT_EQ(invited.status().code(), absl::StatusCode::kFailedPrecondition) << invited.status();
  auto recorded = gp->client().RecordConsent(Consent(team));
  EXPECT_EQ(recorded.status().code(), absl::StatusCode::kFailedPrecondition) << recorded.status();
  recorded = manager->client().RecordConsent(Consent(team));
  EXPECT_EQ(recorded.status().code(), absl::StatusCode::kFailedPrecondition) << recorded.status();
  // The family can still be asked back: they agree themselves.
  auto again = gp->client().Invite(team, daughter->account_id(), v1::ROLE_CAREGIVER, true);
  EXPECT_TRUE(again.ok()) << again.status();
}

// Finding 6: losing read access to a channel in any way drops what was
// queued for it, in the same change; what the person can still read stays.
TEST_F(TeamTest, LosingReadAccessWithoutRemovalDropsWhatWasQueued) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto social = Person("Social", v1::ROLE_SOCIAL);
  auto helpdesk = Person("Helpdesk", v1::ROLE_HELPDESK);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *social, v1::ROLE_SOCIAL);
  Join(*gp, team, *helpdesk, v1::ROLE_HELPDESK);

  // A role change: the nurse, now social, no longer reads #clinical.
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CLINICAL, "clinical before role change").ok());
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CARE, "care before role change").ok());
  ASSERT_TRUE(gp->client().ChangeRole(team, nurse->account_id(), v1::ROLE_SOCIAL).ok());
  EXPECT_FALSE(BacklogHas(*nurse, "clinical before role change"));
  EXPECT_TRUE(BacklogHas(*nurse, "care before role change"));

  // A narrowing: the social worker loses #care.
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_CARE, "care before narrowing").ok());
  ASSERT_TRUE(Post(*gp, team, v1::CHANNEL_TEAM, "team before narrowing").ok());
  ASSERT_TRUE(gp->client()
                  .SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, true)})
                  .ok());
  EXPECT_FALSE(BacklogHas(*social, "care before narrowing"));
  EXPECT_TRUE(BacklogHas(*social, "team before narrowing"));

  // A coordinator handover: the former coordinator loses #intake.
  ASSERT_TRUE(Post(*helpdesk, team, v1::CHANNEL_INTAKE, "intake before handover").ok());
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *physio, v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(Post(*physio, team, v1::CHANNEL_CLINICAL, "clinical before handover").ok());
  auto handed = gp->client().DesignateCoordinator(WithAgreement(team, physio->account_id()));
  ASSERT_TRUE(handed.ok()) << handed.status();
  ASSERT_EQ(handed->coordinator_account_id(), physio->account_id());
  EXPECT_FALSE(BacklogHas(*gp, "intake before handover"));
  EXPECT_TRUE(BacklogHas(*gp, "clinical before handover"));
}

// Finding 7: each narrowing belongs to the side that set it; the
// coordinator cannot lift the patient's, the patient can lift the
// coordinator's, and nobody shuts the patient side out of #team.
TEST_F(TeamTest, CoordinatorCannotUndoThePatientsNarrowingNorShutThePatientOut) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto patient = Person("Patient", v1::ROLE_PATIENT);
  auto social = Person("Social", v1::ROLE_SOCIAL);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  Join(*gp, team, *social, v1::ROLE_SOCIAL);
  Join(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  Join(*gp, team, *patient, v1::ROLE_PATIENT);

  ASSERT_TRUE(patient->client()
                  .SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false)})
                  .ok());
  // The coordinator tries to lift it: refused, and it stays.
  auto lifted =
      gp->client().SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, true)});
  EXPECT_EQ(lifted.status().code(), absl::StatusCode::kPermissionDenied) << lifted.status();
  auto readers = MustReceive(*nurse, team, v1::CHANNEL_CARE);
  ASSERT_TRUE(readers.ok()) << readers.status();
  EXPECT_EQ(readers->count(social->address()), 0u);

  // The coordinator's own narrowing: lifted by the coordinator, or by the patient.
  ASSERT_TRUE(gp->client()
                  .SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_TEAM, true, false)})
                  .ok());
  ASSERT_TRUE(
      gp->client().SetTeamAccess(team, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_TEAM, true, true)}).ok());
  ASSERT_TRUE(gp->client()
                  .SetTeamAccess(team, {Rule(v1::ROLE_PROFESSIONAL, v1::CHANNEL_CARE, true, false)})
                  .ok());
  auto by_patient = patient->client().SetTeamAccess(
      team, {Rule(v1::ROLE_PROFESSIONAL, v1::CHANNEL_CARE, true, true)});
  ASSERT_TRUE(by_patient.ok()) << by_patient.status();
  ASSERT_EQ(by_patient->narrowed_size(), 1);  // the patient's own #care narrowing
  EXPECT_EQ(by_patient->narrowed(0).role(), v1::ROLE_SOCIAL);

  // The patient side keeps #team: the coordinator cannot take it away.
  for (v1::Role role : {v1::ROLE_PATIENT, v1::ROLE_CAREGIVER}) {
    auto shut = gp->client().SetTeamAccess(team, {Rule(role, v1::CHANNEL_TEAM, false, false)});
    EXPECT_EQ(shut.status().code(), absl::StatusCode::kInvalidArgument) << v1::Role_Name(role);
    shut = gp->client().SetTeamAccess(team, {Rule(role, v1::CHANNEL_TEAM, true, false)});
    EXPECT_EQ(shut.status().code(), absl::StatusCode::kInvalidArgument) << v1::Role_Name(role);
  }
  readers = MustReceive(*nurse, team, v1::CHANNEL_TEAM);
  ASSERT_TRUE(readers.ok());
  EXPECT_EQ(readers->count(patient->address()), 1u);
  EXPECT_TRUE(Post(*patient, team, v1::CHANNEL_TEAM, "still here").ok());
}

// Lower finding: people invited but not active see only what is about them
// (the roster the team view hides from them) until they join.
TEST_F(TeamTest, InvitedPeopleReceiveNoRosterEventsBeforeTheyJoin) {
  auto gp = Person("GP", v1::ROLE_COORDINATOR);
  auto nurse = Person("Nurse", v1::ROLE_PROFESSIONAL);
  auto physio = Person("Physio", v1::ROLE_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  ASSERT_TRUE(gp->client().Invite(team, nurse->account_id(), v1::ROLE_PROFESSIONAL).ok());
  Join(*gp, team, *physio, v1::ROLE_PROFESSIONAL);
  ASSERT_TRUE(gp->client().ChangeRole(team, physio->account_id(), v1::ROLE_SOCIAL).ok());
  for (const auto& e : Events(*nurse, team)) {
    EXPECT_EQ(e.subject_account_id(), nurse->account_id())
        << "an invited person was told " << v1::TeamEvent::Kind_Name(e.kind()) << " about "
        << e.subject_account_id();
  }
  EXPECT_EQ(EventsOfKind(*nurse, team, v1::TeamEvent::KIND_INVITED).size(), 1u);
  // Once they join, they hear of changes.
  ASSERT_TRUE(nurse->client().RespondToInvitation(team, true).ok());
  AckEverything(*nurse);
  ASSERT_TRUE(gp->client().ChangeRole(team, physio->account_id(), v1::ROLE_PROFESSIONAL).ok());
  EXPECT_EQ(EventsOfKind(*nurse, team, v1::TeamEvent::KIND_ROLE_CHANGED).size(), 1u);
}

}  // namespace
}  // namespace carerelay::testing
