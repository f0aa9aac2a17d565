// What a device keeps (client/history.h) and the liaison notebook
// (client/notebook.h), with the whole client stack through a real server:
// every device keeps what it received and sent, in order, with who wrote it
// in which role, only of the channels its role reads; search folds accents;
// a client killed between storing and acknowledging loses nothing and keeps
// nothing twice; a notebook entry edited keeps its earlier text, and only
// its author may edit it; a forged message id cannot overwrite what someone
// said; nothing of it is in clear on the server or in the device's files;
// a member who joins later receives, end to end encrypted from the
// coordinator's device, the history of the channels their role reads
// within the team's setting, the discharge letter included, and the audit
// log records with whom it was shared, never what.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "client/attachment_transfer.h"
#include "client/history.h"
#include "client/notebook.h"
#include "client/team_view.h"
#include "server/store/account_table.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::HistoryQuery;
using client::ReceivedMessage;

// The texts (or notebook bodies) of `entries`, in order.
std::vector<std::string> Bodies(const std::vector<v1::HistoryEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    out.push_back(e.content().has_notebook_entry() ? e.content().notebook_entry().body()
                                                   : e.content().text().body());
  }
  return out;
}

std::vector<v1::HistoryEntry> TeamHistory(MessengerDevice& device, const std::string& team,
                                          const std::string& search = "",
                                          std::vector<int> channels = {}) {
  HistoryQuery query;
  query.team_id = team;
  query.search = search;
  query.channels = std::move(channels);
  auto entries = device.m().history().List(query);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::vector<v1::HistoryEntry>{};
}

size_t Problems(const std::vector<ReceivedMessage>& got) {
  return std::count_if(got.begin(), got.end(), [](const ReceivedMessage& m) {
    return m.kind == ReceivedMessage::Kind::kProblem;
  });
}

class TeamHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gp = MessengerDevice::NewAccount(server, "Dr Luc Martin", v1::ACCOUNT_KIND_PROFESSIONAL,
                                     "gp passphrase");
    nurse = MessengerDevice::NewAccount(server, "Anne Peeters", v1::ACCOUNT_KIND_PROFESSIONAL,
                                        "nurse passphrase");
    daughter = MessengerDevice::NewAccount(server, "Sophie Dubois", v1::ACCOUNT_KIND_CAREGIVER);
    team = NewTeamWithRecordedConsent(*gp);
    ASSERT_FALSE(team.empty());
    ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *nurse, v1::ROLE_PROFESSIONAL));
    ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *daughter, v1::ROLE_CAREGIVER));
    for (auto* d : {gp.get(), nurse.get(), daughter.get()}) d->Drain();
  }

  TestServer server;
  std::unique_ptr<MessengerDevice> gp, nurse, daughter;
  std::string team;
};

TEST_F(TeamHistoryTest, EveryDeviceKeepsWhatItsRoleReadsInOrderAndSearchable) {
  auto view = gp->relay().GetTeam(team);
  ASSERT_TRUE(view.ok()) << view.status();
  const v1::Member* daughter_member = client::FindMember(*view, daughter->account());
  ASSERT_NE(daughter_member, nullptr);
  ASSERT_FALSE(client::CanRead(*daughter_member, v1::CHANNEL_CLINICAL))
      << "the test needs a role that does not read #clinical";

  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "Décès du conjoint en mars").ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_TEAM, "Passage à 10 h demain").ok());
  nurse->Drain();
  ASSERT_TRUE(nurse->m().SendTeamText(team, v1::CHANNEL_TEAM, "Pansement refait").ok());
  ASSERT_TRUE(gp->m().SendText(nurse->account(), "Appelez-moi après la visite").ok());
  nurse->Drain();
  daughter->Drain();
  gp->Drain();

  // The nurse's device: all three team messages in order, with who and role.
  auto got = TeamHistory(*nurse, team);
  ASSERT_EQ(Bodies(got), (std::vector<std::string>{"Décès du conjoint en mars",
                                                   "Passage à 10 h demain", "Pansement refait"}));
  EXPECT_EQ(got[0].sender_account_id(), gp->account());
  EXPECT_EQ(got[0].sender_name(), "Dr Luc Martin");
  EXPECT_EQ(got[0].sender_role(), v1::ROLE_COORDINATOR);
  EXPECT_EQ(got[0].channel(), v1::CHANNEL_CLINICAL);
  EXPECT_EQ(got[2].sender_account_id(), nurse->account()) << "what it sent is kept too";
  EXPECT_EQ(got[2].sender_role(), v1::ROLE_PROFESSIONAL);
  // The GP's device has the same thread, its own messages included.
  EXPECT_EQ(Bodies(TeamHistory(*gp, team)), Bodies(got));
  // The daughter's device: nothing of #clinical, which a caregiver does not
  // read.
  EXPECT_EQ(Bodies(TeamHistory(*daughter, team)),
            (std::vector<std::string>{"Passage à 10 h demain", "Pansement refait"}));

  // Search folds accents and case; every word must appear; by channel.
  EXPECT_EQ(Bodies(TeamHistory(*nurse, team, "deces MARS")),
            (std::vector<std::string>{"Décès du conjoint en mars"}));
  EXPECT_TRUE(TeamHistory(*nurse, team, "deces avril").empty());
  EXPECT_EQ(Bodies(TeamHistory(*nurse, team, "", {v1::CHANNEL_TEAM})),
            (std::vector<std::string>{"Passage à 10 h demain", "Pansement refait"}));
  EXPECT_EQ(TeamHistory(*nurse, team, "martin").size(), 2u) << "the sender's name is searched";
  HistoryQuery last;
  last.team_id = team;
  last.limit = 1;
  EXPECT_EQ(Bodies(*nurse->m().history().List(last)),
            (std::vector<std::string>{"Pansement refait"}));

  // A direct conversation is kept on both sides, under the other person.
  HistoryQuery direct;
  direct.peer_account_id = nurse->account();
  EXPECT_EQ(Bodies(*gp->m().history().List(direct)),
            (std::vector<std::string>{"Appelez-moi après la visite"}));
  direct.peer_account_id = gp->account();
  EXPECT_EQ(Bodies(*nurse->m().history().List(direct)),
            (std::vector<std::string>{"Appelez-moi après la visite"}));

  // Kept across a restart (sealed in the profile), and forgotten with the
  // team when its member is removed.
  nurse->Reopen();
  EXPECT_EQ(TeamHistory(*nurse, team).size(), 3u);
  ASSERT_TRUE(gp->relay().RemoveMember(team, daughter->account()).ok());
  daughter->Drain();
  EXPECT_TRUE(TeamHistory(*daughter, team).empty());
}

TEST_F(TeamHistoryTest,
       AClientKilledBetweenStoringAndAcknowledgingLosesNothingAndKeepsNothingTwice) {
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "Insuline 8 UI").ok());
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "Glycémie à jeun demain").ok());
  // The nurse's device takes the envelopes off the wire and processes them
  // (the history entry committed with the session update), then dies before
  // acknowledging: nothing reaches the server.
  store::DeviceRef ref{*store::AccountId::FromHex(nurse->account()), nurse->device_id()};
  std::vector<v1::Envelope> raw;
  bool more = false;
  ASSERT_TRUE(
      server.server().relay().ReadQueue(ref, 0, UINT64_MAX, 100, 1 << 20, &raw, &more).ok());
  std::vector<v1::Envelope> texts;
  for (const auto& e : raw) {
    if (e.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE) texts.push_back(e);
  }
  ASSERT_EQ(texts.size(), 2u);
  std::vector<ReceivedMessage> shown;
  for (const auto& e : raw) ASSERT_TRUE(nurse->m().ProcessEnvelope(e, &shown).ok());
  EXPECT_EQ(TeamHistory(*nurse, team).size(), 2u);

  // Restarted: the server delivers both again; they are acknowledged now,
  // shown nowhere twice, and kept once.
  nurse->Reopen();
  EXPECT_TRUE(nurse->Texts().empty()) << "already shown before the crash";
  EXPECT_EQ(Bodies(TeamHistory(*nurse, team)),
            (std::vector<std::string>{"Insuline 8 UI", "Glycémie à jeun demain"}));
  std::vector<v1::Envelope> left;
  ASSERT_TRUE(
      server.server().relay().ReadQueue(ref, 0, UINT64_MAX, 100, 1 << 20, &left, &more).ok());
  EXPECT_TRUE(left.empty()) << "acknowledged on the second run";
}

TEST_F(TeamHistoryTest, ANotebookEntryEditedKeepsItsHistoryAndOnlyItsAuthorEditsIt) {
  auto first = client::NewNotebookEntry(v1::NotebookEntry::KIND_NOTE_TO_NEXT_VISITOR,
                                        "Insuline 8 UI le soir", absl::Now());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string entry_id = first->notebook_entry().entry_id();
  ASSERT_TRUE(nurse->m().SendTeamContent(team, v1::CHANNEL_TEAM, *first).ok());
  gp->Drain();
  daughter->Drain();

  // Someone else may not edit it: refused on their device...
  auto by_gp =
      client::EditNotebookEntry(gp->m().history(), team, entry_id, gp->account(), "Insuline 12 UI",
                                v1::NotebookEntry::KIND_UNSPECIFIED, absl::InfinitePast());
  EXPECT_EQ(by_gp.status().code(), absl::StatusCode::kPermissionDenied);
  // ...and, forged past that check, by every device that receives it.
  v1::Content forged;
  forged.set_message_id(client::NewMessageId());
  forged.mutable_notebook_entry()->set_entry_id(entry_id);
  forged.mutable_notebook_entry()->set_kind(v1::NotebookEntry::KIND_NOTE_TO_NEXT_VISITOR);
  forged.mutable_notebook_entry()->set_body("Insuline 12 UI");
  forged.mutable_notebook_entry()->set_revision(2);
  forged.mutable_notebook_entry()->set_dated_ms(absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(gp->m().SendTeamContent(team, v1::CHANNEL_TEAM, forged).ok());
  EXPECT_EQ(Problems(nurse->Drain()), 1u);
  EXPECT_EQ(Problems(daughter->Drain()), 1u);

  // The author edits it: everyone sees the new text, and the old one kept.
  auto edit = client::EditNotebookEntry(
      nurse->m().history(), team, entry_id, nurse->account(), "Insuline 6 UI le soir (Dr Martin)",
      v1::NotebookEntry::KIND_TREATMENT_CHANGE, absl::InfinitePast());
  ASSERT_TRUE(edit.ok()) << edit.status();
  EXPECT_EQ(edit->channel, v1::CHANNEL_TEAM);
  ASSERT_TRUE(nurse->m().SendTeamContent(team, edit->channel, edit->content).ok());
  EXPECT_EQ(Problems(daughter->Drain()), 0u);
  for (MessengerDevice* d : {nurse.get(), daughter.get()}) {
    auto notebook = client::ListNotebook(d->m().history(), team);
    ASSERT_TRUE(notebook.ok()) << notebook.status();
    ASSERT_EQ(notebook->size(), 1u);
    const client::NotebookItem& item = notebook->front();
    EXPECT_EQ(item.entry_id, entry_id);
    ASSERT_EQ(item.revisions.size(), 2u) << "the forged edit is not there";
    EXPECT_EQ(item.current().body(), "Insuline 6 UI le soir (Dr Martin)");
    EXPECT_EQ(item.current().kind(), v1::NotebookEntry::KIND_TREATMENT_CHANGE);
    EXPECT_EQ(item.current().revision(), 2u);
    EXPECT_EQ(item.revisions.front().content().notebook_entry().body(), "Insuline 8 UI le soir");
    EXPECT_EQ(item.revisions.front().sender_account_id(), nurse->account());
  }
}

TEST_F(TeamHistoryTest, AForgedMessageIdDoesNotOverwriteWhatSomeoneSaid) {
  ASSERT_TRUE(nurse->m().SendTeamText(team, v1::CHANNEL_TEAM, "Patiente stable").ok());
  auto kept = TeamHistory(*nurse, team);
  ASSERT_EQ(kept.size(), 1u);
  daughter->Drain();
  // The GP's device reuses the nurse's message id and time.
  v1::Content forged;
  forged.mutable_text()->set_body("Patiente à hospitaliser");
  forged.set_message_id(kept[0].content().message_id());
  forged.set_sent_at_ms(kept[0].content().sent_at_ms());
  ASSERT_TRUE(gp->m().SendTeamContent(team, v1::CHANNEL_TEAM, forged).ok());
  EXPECT_EQ(Problems(daughter->Drain()), 1u);
  auto got = TeamHistory(*daughter, team);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content().text().body(), "Patiente stable");
  EXPECT_EQ(got[0].sender_account_id(), nurse->account());
}

TEST_F(TeamHistoryTest, NothingKeptIsInClearOnTheServerOrOnTheDevice) {
  const std::string marker = "MARKER-91c2-hist-Vandenbroucke";
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, marker + " message").ok());
  auto note = client::NewNotebookEntry(v1::NotebookEntry::KIND_OBSERVATION, marker + " notebook",
                                       absl::Now());
  ASSERT_TRUE(note.ok());
  ASSERT_TRUE(gp->m().SendTeamContent(team, v1::CHANNEL_CARE, *note).ok());
  nurse->Drain();
  ASSERT_EQ(TeamHistory(*nurse, team, "Vandenbroucke").size(), 2u);
  // Written out: the server's store flushed, the devices' profiles closed.
  server.Restart();
  nurse->Reopen();
  gp->Reopen();
  EXPECT_TRUE(FilesContaining(server.data_dir(), marker).empty());
  EXPECT_TRUE(FilesContaining(server.data_dir(), "Vandenbroucke").empty());
  EXPECT_TRUE(FilesContaining(nurse->directory(), "Vandenbroucke").empty())
      << "the history is sealed under the nurse's passphrase";
  EXPECT_TRUE(FilesContaining(gp->directory(), "Vandenbroucke").empty());
  EXPECT_EQ(TeamHistory(*nurse, team, "Vandenbroucke").size(), 2u) << "and still readable";
}

// Issue 19, item 2: the physiotherapist invited after discharge reads the
// letter and what was said before on the channels a professional reads; a
// caregiver joining later gets #team only; "the last day" and "from
// joining" hand over less and nothing; the server holds only ciphertext.
TEST_F(TeamHistoryTest, MembersWhoJoinLaterReceiveTheHistoryTheirRoleReadsWithinTheSetting) {
  const std::string marker = "Vandenbroucke-7c1e";
  const int64_t two_days_ago = absl::ToUnixMillis(absl::Now() - absl::Hours(48));
  v1::Content early;
  early.mutable_text()->set_body("Lettre de sortie de Mme " + marker + " : anticoagulants");
  early.set_sent_at_ms(two_days_ago);
  ASSERT_TRUE(gp->m().SendTeamContent(team, v1::CHANNEL_CLINICAL, early).ok());
  const std::string letter_path = gp->directory() + "/lettre-de-sortie.pdf";
  const std::string letter = "%PDF-1.4 lettre de sortie " + marker + std::string(5000, 'x');
  std::ofstream(letter_path, std::ios::binary) << letter;
  client::AttachmentTransfer gp_files(&gp->relay(), &gp->m(), &gp->profile(),
                                      gp->directory() + "/files");
  client::SendFileRequest send;
  send.team_id = team;
  send.channel = v1::CHANNEL_CLINICAL;
  send.path = letter_path;
  auto sent = gp_files.SendFile(send);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_TEAM, "Retour à domicile jeudi").ok());
  nurse->Drain();
  daughter->Drain();

  // The physiotherapist joins; the GP's device hands the history over as it
  // sees the event.
  auto physio = MessengerDevice::NewAccount(server, "Jan Claes");
  ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *physio, v1::ROLE_PROFESSIONAL));
  EXPECT_EQ(Problems(gp->Drain()), 0u);
  auto got = physio->Drain();
  EXPECT_EQ(Problems(got), 0u);
  auto share = std::find_if(got.begin(), got.end(),
                            [](const ReceivedMessage& m) { return m.content.has_history_share(); });
  ASSERT_NE(share, got.end());
  EXPECT_EQ(share->history_entries, 3);
  EXPECT_EQ(share->sender.account_id, gp->account());
  auto history = TeamHistory(*physio, team);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].content().text().body(),
            "Lettre de sortie de Mme " + marker + " : anticoagulants");
  EXPECT_EQ(history[0].sender_name(), "Dr Luc Martin");
  EXPECT_EQ(history[0].shared_by_account_id(), gp->account());
  EXPECT_TRUE(history[1].content().has_attachment());
  // The letter posted before she joined opens, byte for byte.
  client::AttachmentTransfer physio_files(&physio->relay(), &physio->m(), &physio->profile(),
                                          physio->directory() + "/files");
  auto fetched = physio_files.GetFile(sent->pointer.attachment_id(), physio->directory(), false);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  std::ifstream in(fetched->path, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), letter);

  // A caregiver joining later: #team only, whatever the GP's device holds.
  auto son = MessengerDevice::NewAccount(server, "Marc Dubois", v1::ACCOUNT_KIND_CAREGIVER);
  ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *son, v1::ROLE_CAREGIVER));
  gp->Drain();
  son->Drain();
  EXPECT_EQ(Bodies(TeamHistory(*son, team)), (std::vector<std::string>{"Retour à domicile jeudi"}));

  // The audit log says with whom, how much, never what.
  auto log = gp->relay().ReadAudit(team);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<v1::TeamEvent> shared;
  for (const auto& entry : log->entries()) {
    if (entry.event().kind() == v1::TeamEvent::KIND_HISTORY_SHARED) shared.push_back(entry.event());
  }
  ASSERT_EQ(shared.size(), 2u);
  EXPECT_EQ(shared[0].actor_account_id(), gp->account());
  EXPECT_EQ(shared[0].subject_account_id(), physio->account());
  EXPECT_TRUE(absl::StartsWith(shared[0].detail(), "3 entries since ")) << shared[0].detail();
  EXPECT_TRUE(absl::EndsWith(shared[0].detail(), " on #team #care #clinical"))
      << shared[0].detail();
  EXPECT_EQ(shared[1].subject_account_id(), son->account());
  EXPECT_EQ(shared[1].detail().find(marker), std::string::npos);

  // Only the patient side or the coordinator sets what newcomers receive.
  v1::SetHistoryVisibilityRequest setting;
  setting.set_team_id(team);
  setting.set_scope(v1::HistoryVisibility::SCOPE_LAST_DAYS);
  setting.set_days(1);
  EXPECT_EQ(nurse->relay().SetHistoryVisibility(setting).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto set = gp->relay().SetHistoryVisibility(setting);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->history_visibility().scope(), v1::HistoryVisibility::SCOPE_LAST_DAYS);
  gp->Drain();
  auto pharmacist = MessengerDevice::NewAccount(server, "Els Maes");
  ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *pharmacist, v1::ROLE_PROFESSIONAL));
  gp->Drain();
  pharmacist->Drain();
  EXPECT_EQ(TeamHistory(*pharmacist, team).size(), 2u) << "not the letter of two days ago";

  setting.set_scope(v1::HistoryVisibility::SCOPE_FROM_JOINING);
  setting.set_days(0);
  ASSERT_TRUE(gp->relay().SetHistoryVisibility(setting).ok());
  gp->Drain();
  auto dietitian = MessengerDevice::NewAccount(server, "Lies Peeters");
  ASSERT_NO_FATAL_FAILURE(JoinTeam(*gp, team, *dietitian, v1::ROLE_PROFESSIONAL));
  gp->Drain();
  dietitian->Drain();
  EXPECT_TRUE(TeamHistory(*dietitian, team).empty()) << "from joining: nothing earlier";

  // What the server holds of all this is ciphertext.
  server.Restart();
  EXPECT_TRUE(FilesContaining(server.data_dir(), marker).empty());
}

// Issue 19, item 3: a device linked to the account starts with the history
// another of its devices holds, as the account's own (nothing marked handed
// over, no audit entry).
TEST_F(TeamHistoryTest, ALinkedDeviceStartsWithTheAccountsHistory) {
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CLINICAL, "INR 2.4, dose inchangée").ok());
  auto note =
      client::NewNotebookEntry(v1::NotebookEntry::KIND_VISIT_DONE, "Toilette faite", absl::Now());
  ASSERT_TRUE(note.ok());
  ASSERT_TRUE(nurse->m().SendTeamContent(team, v1::CHANNEL_CARE, *note).ok());
  nurse->Drain();
  const auto before = Bodies(TeamHistory(*nurse, team));
  ASSERT_EQ(before.size(), 2u);

  // Her replacement phone is linked; her old device sees it added and hands
  // it the history.
  auto phone = MessengerDevice::Link(server, *nurse);
  EXPECT_EQ(Problems(nurse->Drain()), 0u);
  EXPECT_EQ(Problems(phone->Drain()), 0u);
  auto got = TeamHistory(*phone, team);
  EXPECT_EQ(Bodies(got), before);
  for (const auto& e : got) EXPECT_TRUE(e.shared_by_account_id().empty()) << "her own history";
  EXPECT_TRUE(TeamHistory(*nurse, team).size() == 2u) << "the old device keeps nothing twice";
  auto notebook = client::ListNotebook(phone->m().history(), team);
  ASSERT_TRUE(notebook.ok());
  EXPECT_EQ(notebook->size(), 1u);
  // The same person: no hand-over in the team's audit log.
  auto log = gp->relay().ReadAudit(team);
  ASSERT_TRUE(log.ok()) << log.status();
  for (const auto& entry : log->entries()) {
    EXPECT_NE(entry.event().kind(), v1::TeamEvent::KIND_HISTORY_SHARED);
  }
  // What comes next reaches both.
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "Passage demain 9 h").ok());
  phone->Drain();
  EXPECT_EQ(TeamHistory(*phone, team).size(), 3u);
}

// Issue 19, item 5: a second version of a document, the first kept; a
// "version" claiming a document of another channel is refused.
TEST_F(TeamHistoryTest, ASecondVersionOfADocumentKeepsTheFirst) {
  client::AttachmentTransfer gp_files(&gp->relay(), &gp->m(), &gp->profile(),
                                      gp->directory() + "/files");
  const std::string path = gp->directory() + "/schema.txt";
  std::ofstream(path) << "Bisoprolol 2.5 mg le matin";
  client::SendFileRequest first;
  first.team_id = team;
  first.channel = v1::CHANNEL_CLINICAL;
  first.path = path;
  auto v1_sent = gp_files.SendFile(first);
  ASSERT_TRUE(v1_sent.ok()) << v1_sent.status();
  std::ofstream(path, std::ios::trunc) << "Bisoprolol 5 mg le matin (depuis le 14 mars)";
  client::SendFileRequest second;
  second.path = path;
  second.new_version_of = v1_sent->pointer.attachment_id();
  auto v2_sent = gp_files.SendFile(second);
  ASSERT_TRUE(v2_sent.ok()) << v2_sent.status();
  EXPECT_EQ(v2_sent->pointer.document_id(), v1_sent->pointer.attachment_id());
  EXPECT_EQ(v2_sent->pointer.version(), 2u);
  EXPECT_EQ(v2_sent->pointer.channel(), v1::CHANNEL_CLINICAL) << "the document's channel";
  // Another channel for a new version is refused before anything is sent.
  client::SendFileRequest elsewhere = second;
  elsewhere.channel = v1::CHANNEL_TEAM;
  EXPECT_EQ(gp_files.SendFile(elsewhere).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(Problems(nurse->Drain()), 0u);
  auto held = nurse->m().ListAttachments(team);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 2u);
  client::AttachmentTransfer nurse_files(&nurse->relay(), &nurse->m(), &nurse->profile(),
                                         nurse->directory() + "/files");
  auto read = [&](const std::string& id) {
    auto got = nurse_files.GetFile(id, nurse->directory() + "/" + id + ".txt", false);
    EXPECT_TRUE(got.ok()) << got.status();
    std::ifstream in(got.ok() ? got->path : "", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(v1_sent->pointer.attachment_id()), "Bisoprolol 2.5 mg le matin");
  EXPECT_EQ(read(v2_sent->pointer.attachment_id()), "Bisoprolol 5 mg le matin (depuis le 14 mars)");

  // A pointer forged as version 3 of that document on #team: refused.
  v1::Content forged;
  *forged.mutable_attachment() = v2_sent->pointer;
  forged.mutable_attachment()->set_channel(v1::CHANNEL_TEAM);
  forged.mutable_attachment()->set_version(3);
  forged.mutable_attachment()->set_attachment_id(std::string(32, 'a'));
  ASSERT_TRUE(gp->m().SendTeamContent(team, v1::CHANNEL_TEAM, forged).ok());
  EXPECT_EQ(Problems(nurse->Drain()), 1u);
  EXPECT_EQ(nurse->m().ListAttachments(team)->size(), 2u);
}

}  // namespace
}  // namespace carerelay::testing
