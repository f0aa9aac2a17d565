// The consistency checker (core/consistency_check.h) on a real store: a
// checkpoint of a running server with a team, queued messages, an urgent
// message waiting for its reminder, an intake with its deadline and an
// unfinished upload is consistent; then each kind of damage, written into
// the copy by hand, is reported by a line that names it.
#include "server/core/consistency_check.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "server/store/encoding.h"
#include "server/store/records.pb.h"
#include "server/store/timer_table.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using store::Table;

class ConsistencyCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gp_ = MessengerDevice::NewAccount(server_, "Dr Luc Martin");
    nurse_ = MessengerDevice::NewAccount(server_, "Anne Peeters");
    helpdesk_ =
        MessengerDevice::NewAccount(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_HELPDESK);
    team_ = NewTeamWithRecordedConsent(*gp_);
    JoinTeam(*gp_, team_, *nurse_, v1::ROLE_PROFESSIONAL);
    // Queued for the nurse, who does not read: texts, an urgent message
    // waiting for its reminder.
    ASSERT_TRUE(gp_->m().SendTeamText(team_, v1::CHANNEL_CARE, "Visit at 10").ok());
    auto urgent = gp_->m().SendUrgentTeamText(team_, v1::CHANNEL_CARE, "Call me now");
    ASSERT_TRUE(urgent.ok()) << urgent.status();
    v1::OpenIntakeRequest call;
    call.set_caller_kind(v1::CALLER_KIND_CAREGIVER);
    call.set_urgency(v1::INTAKE_URGENCY_NORMAL);
    call.set_category(v1::INTAKE_CATEGORY_HOSPITAL_DISCHARGE);
    call.set_source(v1::INTAKE_SOURCE_LIVE);
    call.set_team_id(team_);
    auto intake = helpdesk_->relay().OpenIntake(call);
    ASSERT_TRUE(intake.ok()) << intake.status();
    intake_ = intake->intake_id();
    auto upload = gp_->relay().CreateUpload(team_, v1::CHANNEL_CARE, 1000, std::string(32, 'd'));
    ASSERT_TRUE(upload.ok()) << upload.status();

    // A checkpoint of the running server, opened as a store of its own.
    ASSERT_TRUE(server_.server().database().Checkpoint(copy_dir_).ok());
    auto db = store::Database::Open(copy_dir_, store::DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  core::CheckReport Check() {
    auto report = core::CheckConsistency(*db_);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : core::CheckReport();
  }

  // Runs `damage` in a transaction on the copy and expects exactly the
  // violations that contain `expected`.
  void ExpectReported(const std::function<void(store::Transaction&)>& damage,
                      const std::string& expected) {
    auto txn = db_->Begin();
    damage(*txn);
    ASSERT_TRUE(txn->Commit().ok());
    core::CheckReport report = Check();
    ASSERT_FALSE(report.violations.empty()) << "not reported: " << expected;
    for (const std::string& v : report.violations) {
      EXPECT_TRUE(absl::StrContains(v, expected)) << v << "\n(expected: " << expected << ")";
    }
  }

  std::string TeamBytes() const {
    auto id = store::TeamId::FromHex(team_);
    EXPECT_TRUE(id.ok());
    return std::string(id->Bytes());
  }

  store::TeamRecord Team() {
    auto raw = db_->Get(Table::kTeams, TeamBytes());
    store::TeamRecord team;
    EXPECT_TRUE(raw.ok() && team.ParseFromString(*raw));
    return team;
  }

  TestServer server_;
  TempDir dir_;
  const std::string copy_dir_ = dir_.Sub("copy");
  std::unique_ptr<MessengerDevice> gp_, nurse_, helpdesk_;
  std::string team_, intake_;
  std::unique_ptr<store::Database> db_;
};

TEST_F(ConsistencyCheckTest, ACheckpointOfARunningServerIsConsistent) {
  core::CheckReport report = Check();
  EXPECT_TRUE(report.violations.empty()) << absl::StrJoin(report.violations, "\n");
  EXPECT_GE(report.envelopes, 2u);
  EXPECT_EQ(report.teams, 1u);
  EXPECT_GE(report.audit_entries, 3u);
  EXPECT_EQ(report.attachments, 1u);
  EXPECT_EQ(report.intakes, 1u);
  EXPECT_EQ(report.urgent_messages, 1u);
  EXPECT_EQ(report.timers, 2u);  // the reminder and the deadline
}

TEST_F(ConsistencyCheckTest, AnEnvelopeForADeviceThatDoesNotExist) {
  ExpectReported(
      [&](store::Transaction& txn) {
        auto account = store::AccountId::FromHex(nurse_->account());
        std::string key(account->Bytes());
        store::AppendBigEndian32(&key, 99);
        store::AppendBigEndian64(&key, 1u << 30);
        v1::Envelope e;
        e.set_sequence(1u << 30);
        e.set_destination_device_id(99);
        ASSERT_TRUE(txn.Put(Table::kQueue, key, e.SerializeAsString()).ok());
      },
      "no such device");
}

TEST_F(ConsistencyCheckTest, AMissingMembershipIndexEntry) {
  ExpectReported(
      [&](store::Transaction& txn) {
        auto account = store::AccountId::FromHex(nurse_->account());
        ASSERT_TRUE(
            txn.Delete(Table::kMemberships, std::string(account->Bytes()) + TeamBytes()).ok());
      },
      "the index does not say so");
}

TEST_F(ConsistencyCheckTest, AnAuditEntryChanged) {
  ExpectReported(
      [&](store::Transaction& txn) {
        std::string key = TeamBytes();
        store::AppendBigEndian64(&key, 1);
        auto raw = db_->Get(Table::kAudit, key);
        ASSERT_TRUE(raw.ok()) << raw.status();
        v1::AuditEntry entry;
        ASSERT_TRUE(entry.ParseFromString(*raw));
        entry.mutable_event()->set_actor_account_id(helpdesk_->account());
        ASSERT_TRUE(txn.Put(Table::kAudit, key, entry.SerializeAsString()).ok());
      },
      "chain broken at entry 1");
}

TEST_F(ConsistencyCheckTest, TwoActiveCoordinators) {
  ExpectReported(
      [&](store::Transaction& txn) {
        store::TeamRecord team = Team();
        for (auto& m : *team.mutable_members()) m.set_role(v1::ROLE_COORDINATOR);
        ASSERT_TRUE(txn.Put(Table::kTeams, TeamBytes(), team.SerializeAsString()).ok());
      },
      "two active coordinators");
}

TEST_F(ConsistencyCheckTest, ATimerForNothingAndAReminderWithoutItsTimer) {
  ExpectReported(
      [&](store::Transaction& txn) {
        store::Timer orphan{123, store::TimerKind::kIntakeDeadline, std::string(16, 'x')};
        ASSERT_TRUE(txn.Put(Table::kTimers, orphan.Key(), "").ok());
      },
      "which does not exist");
  // Put back, then lose the reminder's timer.
  auto txn = db_->Begin();
  ASSERT_TRUE(
      txn->Delete(Table::kTimers,
                  store::Timer{123, store::TimerKind::kIntakeDeadline, std::string(16, 'x')}.Key())
          .ok());
  ASSERT_TRUE(txn->Commit().ok());
  ASSERT_TRUE(Check().violations.empty());
  ExpectReported(
      [&](store::Transaction& txn) {
        std::vector<std::string> reminders;
        ASSERT_TRUE(db_->Scan(Table::kTimers, "", "",
                              [&](absl::string_view key, absl::string_view) {
                                auto t = store::Timer::FromKey(key);
                                if (t.ok() && t->kind == store::TimerKind::kUrgentReminder) {
                                  reminders.emplace_back(key);
                                }
                                return true;
                              })
                        .ok());
        ASSERT_EQ(reminders.size(), 1u);
        ASSERT_TRUE(txn.Delete(Table::kTimers, reminders[0]).ok());
      },
      "that no timer will fire");
}

TEST_F(ConsistencyCheckTest, AnIntakeNamingATeamThatIsGoneAndAnOrphanAttachment) {
  // The team record goes (its index, audit and attachments stay): the
  // intake, the attachment and the membership index all point at nothing.
  auto txn = db_->Begin();
  ASSERT_TRUE(txn->Delete(Table::kTeams, TeamBytes()).ok());
  ASSERT_TRUE(txn->Commit().ok());
  core::CheckReport report = Check();
  const std::string all = absl::StrJoin(report.violations, "\n");
  EXPECT_TRUE(absl::StrContains(all, "intakes: intake " + intake_ + " names team")) << all;
  EXPECT_TRUE(absl::StrContains(all, "attachments: ")) << all;
  EXPECT_TRUE(absl::StrContains(all, "which does not exist")) << all;
}

TEST_F(ConsistencyCheckTest, AStrayAttachmentBlock) {
  ExpectReported(
      [&](store::Transaction& txn) {
        std::string attachment;
        ASSERT_TRUE(db_->Scan(Table::kAttachments, "a", "",
                              [&](absl::string_view key, absl::string_view) {
                                attachment = std::string(key.substr(1));
                                return false;
                              })
                        .ok());
        std::string key = TeamBytes() + attachment;
        store::AppendBigEndian64(&key, 0);
        ASSERT_TRUE(txn.Put(Table::kAttachmentBlocks, key, "x").ok());
      },
      "1 bytes in its blocks, 0 recorded");
}

}  // namespace
}  // namespace carerelay::testing
