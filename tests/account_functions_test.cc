// Functions, not account kinds (issue 17, item 4), through a real server
// over TLS on a real RocksDB: the roles and lookups that follow a function
// whatever the profession, the administrator's grants and withdrawals on the
// admin socket with their log, and a store written before functions
// migrated at start.
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "carerelay/v1/admin.grpc.pb.h"
#include "server/store/account_table.h"
#include "server/store/database.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

class AccountFunctionsTest : public ::testing::Test {
 protected:
  // Functions and their log, as the administrator sees them.
  v1::AccountFunctions Functions(const std::string& account) {
    grpc::ClientContext ctx;
    v1::ListAccountFunctionsRequest request;
    request.set_account_id(account);
    v1::ListAccountFunctionsResponse response;
    grpc::Status s = Admin().ListAccountFunctions(&ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.accounts_size(), 1);
    return response.accounts_size() == 1 ? response.accounts(0) : v1::AccountFunctions();
  }

  grpc::Status Change(const std::string& account, std::vector<v1::Function> grant,
                      std::vector<v1::Function> withdraw = {},
                      v1::AccountKind kind = v1::ACCOUNT_KIND_UNSPECIFIED) {
    grpc::ClientContext ctx;
    v1::SetAccountFunctionsRequest request;
    request.set_account_id(account);
    for (auto f : grant) request.add_grant(f);
    for (auto f : withdraw) request.add_withdraw(f);
    request.set_kind(kind);
    v1::AccountFunctions response;
    return Admin().SetAccountFunctions(&ctx, request, &response);
  }

  v1::Admin::Stub& Admin() {
    if (!admin_) {
      admin_ = v1::Admin::NewStub(grpc::CreateChannel(server_.server().admin_address(),
                                                      grpc::InsecureChannelCredentials()));
    }
    return *admin_;
  }

  // A team `coordinator` convened, with a recorded consent.
  std::string NewTeam(TestDevice& coordinator, v1::Role as = v1::ROLE_COORDINATOR) {
    auto team = coordinator.client().CreateTeam(as);
    EXPECT_TRUE(team.ok()) << team.status();
    if (!team.ok()) return "";
    v1::RecordConsentRequest consent;
    consent.set_team_id(team->team_id());
    consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
    consent.set_method(v1::CONSENT_METHOD_WRITTEN);
    EXPECT_TRUE(coordinator.client().RecordConsent(consent).ok());
    return team->team_id();
  }

  TestServer server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// "A nurse may be case manager for one patient and home nurse for another."
TEST_F(AccountFunctionsTest, ANurseIsCaseManagerOnOneTeamAndHomeNurseOnAnother) {
  auto nurse = TestDevice::Enroll(server_, "Anne Peeters", v1::ACCOUNT_KIND_PROFESSIONAL);
  auto gp = TestDevice::Enroll(server_, "Dr Luc Martin", v1::ACCOUNT_KIND_PROFESSIONAL);

  // Without the function: no case-manager role, no lookup by national number.
  EXPECT_EQ(nurse->client().CreateTeam(v1::ROLE_CASE_MANAGER).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(nurse->client().FindTeams(std::string(32, 'x')).status().code(),
            absl::StatusCode::kPermissionDenied);
  const std::string gp_team = NewTeam(*gp);
  auto refused = gp->client().Invite(gp_team, nurse->account_id(), v1::ROLE_CASE_MANAGER);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "case_manager function"))
      << refused.status();

  ASSERT_TRUE(Change(nurse->account_id(), {v1::FUNCTION_CASE_MANAGER}).ok());
  // Case manager on the team she convenes...
  auto convened = nurse->client().CreateTeam(v1::ROLE_CASE_MANAGER);
  ASSERT_TRUE(convened.ok()) << convened.status();
  // ...home nurse on the GP's, in the same account.
  ASSERT_TRUE(gp->client().Invite(gp_team, nurse->account_id(), v1::ROLE_PROFESSIONAL).ok());
  auto joined = nurse->client().RespondToInvitation(gp_team, true);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_TRUE(nurse->client().FindTeams(std::string(32, 'x')).ok());
  auto me = nurse->client().GetAccount();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->kind(), v1::ACCOUNT_KIND_PROFESSIONAL);
  ASSERT_EQ(me->functions_size(), 1);
  EXPECT_EQ(me->functions(0), v1::FUNCTION_CASE_MANAGER);

  // Withdrawn: what the function gave goes at once.
  ASSERT_TRUE(Change(nurse->account_id(), {}, {v1::FUNCTION_CASE_MANAGER}).ok());
  EXPECT_EQ(nurse->client().FindTeams(std::string(32, 'x')).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(nurse->client().CreateTeam(v1::ROLE_CASE_MANAGER).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// "Helpdesk staff may also be social workers": two functions and a
// profession in one account.
TEST_F(AccountFunctionsTest, AnAccountWithTwoFunctions) {
  auto worker = TestDevice::Enroll(server_, "Sophie Lambert", v1::ACCOUNT_KIND_SOCIAL);
  auto gp = TestDevice::Enroll(server_, "Dr Luc Martin", v1::ACCOUNT_KIND_PROFESSIONAL);
  ASSERT_TRUE(
      Change(worker->account_id(), {v1::FUNCTION_HELPDESK, v1::FUNCTION_CASE_MANAGER}).ok());
  const v1::AccountFunctions shown = Functions(worker->account_id());
  EXPECT_EQ(shown.kind(), v1::ACCOUNT_KIND_SOCIAL);
  ASSERT_EQ(shown.functions_size(), 2);

  const std::string one = NewTeam(*gp);
  const std::string two = NewTeam(*gp);
  const std::string three = NewTeam(*gp);
  ASSERT_TRUE(gp->client().Invite(one, worker->account_id(), v1::ROLE_SOCIAL).ok());
  ASSERT_TRUE(gp->client().Invite(two, worker->account_id(), v1::ROLE_HELPDESK).ok());
  ASSERT_TRUE(gp->client().Invite(three, worker->account_id(), v1::ROLE_CASE_MANAGER).ok());
  for (const auto& t : {one, two, three}) {
    ASSERT_TRUE(worker->client().RespondToInvitation(t, true).ok()) << t;
  }
  // Not a health professional for all that.
  const std::string four = NewTeam(*gp);
  EXPECT_EQ(gp->client().Invite(four, worker->account_id(), v1::ROLE_PROFESSIONAL).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The helpdesk function: anyone may message her directly, under the
  // care-relationship policy too.
  TestServer strict(TestLimits(), true, {}, "care-relationship");
  auto helpdesk = TestDevice::Enroll(strict, "Line", v1::ACCOUNT_KIND_SOCIAL);
  auto stranger = TestDevice::Enroll(strict, "Dr Vos", v1::ACCOUNT_KIND_PROFESSIONAL);
  EXPECT_EQ(stranger->SendBytes(helpdesk->account_id(), "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto strict_admin = v1::Admin::NewStub(
      grpc::CreateChannel(strict.server().admin_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::SetAccountFunctionsRequest grant;
  grant.set_account_id(helpdesk->account_id());
  grant.add_grant(v1::FUNCTION_HELPDESK);
  v1::AccountFunctions granted;
  ASSERT_TRUE(strict_admin->SetAccountFunctions(&ctx, grant, &granted).ok());
  EXPECT_TRUE(stranger->SendBytes(helpdesk->account_id(), "x").ok());
}

TEST_F(AccountFunctionsTest, TheAdministratorGrantsAndWithdrawsAndEveryChangeIsLogged) {
  auto nurse = TestDevice::Enroll(server_, "Anne Peeters", v1::ACCOUNT_KIND_PROFESSIONAL);
  auto patient = TestDevice::Enroll(server_, "Jeanne Dubois", v1::ACCOUNT_KIND_PATIENT);
  // A legacy kind at enrollment: staff with that function, logged so.
  auto line = TestDevice::Enroll(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_HELPDESK);
  v1::AccountFunctions enrolled = Functions(line->account_id());
  EXPECT_EQ(enrolled.kind(), v1::ACCOUNT_KIND_STAFF);
  ASSERT_EQ(enrolled.functions_size(), 1);
  EXPECT_EQ(enrolled.functions(0), v1::FUNCTION_HELPDESK);
  ASSERT_EQ(enrolled.changes_size(), 1);
  EXPECT_EQ(enrolled.changes(0).by(), "enrollment");

  ASSERT_TRUE(Change(nurse->account_id(), {v1::FUNCTION_CASE_MANAGER, v1::FUNCTION_ASSESSOR}).ok());
  server_.clock().Advance(absl::Hours(24));
  ASSERT_TRUE(Change(nurse->account_id(), {v1::FUNCTION_CASE_MANAGER}, {v1::FUNCTION_ASSESSOR},
                     v1::ACCOUNT_KIND_SOCIAL)
                  .ok());
  v1::AccountFunctions log = Functions(nurse->account_id());
  EXPECT_EQ(log.kind(), v1::ACCOUNT_KIND_SOCIAL);
  ASSERT_EQ(log.functions_size(), 1);
  EXPECT_EQ(log.functions(0), v1::FUNCTION_CASE_MANAGER);
  // Granted twice, logged once; the kind, then the withdrawal.
  ASSERT_EQ(log.changes_size(), 4);
  EXPECT_EQ(log.changes(0).function(), v1::FUNCTION_CASE_MANAGER);
  EXPECT_TRUE(log.changes(0).granted());
  EXPECT_EQ(log.changes(1).function(), v1::FUNCTION_ASSESSOR);
  EXPECT_EQ(log.changes(2).function(), v1::FUNCTION_UNSPECIFIED);
  EXPECT_EQ(log.changes(2).kind(), v1::ACCOUNT_KIND_SOCIAL);
  EXPECT_EQ(log.changes(3).function(), v1::FUNCTION_ASSESSOR);
  EXPECT_FALSE(log.changes(3).granted());
  EXPECT_EQ(log.changes(3).at_ms() - log.changes(0).at_ms(), 24 * 3600 * 1000);
  for (const auto& c : log.changes()) EXPECT_EQ(c.by(), "administrator");

  // Bad changes are refused whole: nothing applied, nothing logged.
  struct Bad {
    std::string account;
    std::vector<v1::Function> grant, withdraw;
    v1::AccountKind kind;
    grpc::StatusCode code;
  };
  const std::vector<Bad> bad = {
      {patient->account_id(),
       {v1::FUNCTION_HELPDESK},
       {},
       v1::ACCOUNT_KIND_UNSPECIFIED,
       grpc::StatusCode::INVALID_ARGUMENT},
      {patient->account_id(),
       {},
       {},
       v1::ACCOUNT_KIND_PROFESSIONAL,
       grpc::StatusCode::INVALID_ARGUMENT},
      {nurse->account_id(),
       {v1::FUNCTION_HELPDESK},
       {},
       v1::ACCOUNT_KIND_CAREGIVER,
       grpc::StatusCode::INVALID_ARGUMENT},
      {nurse->account_id(),
       {v1::FUNCTION_HELPDESK},
       {v1::FUNCTION_HELPDESK},
       v1::ACCOUNT_KIND_UNSPECIFIED,
       grpc::StatusCode::INVALID_ARGUMENT},
      {nurse->account_id(),
       {static_cast<v1::Function>(99)},
       {},
       v1::ACCOUNT_KIND_UNSPECIFIED,
       grpc::StatusCode::INVALID_ARGUMENT},
      {nurse->account_id(), {}, {}, v1::ACCOUNT_KIND_HELPDESK, grpc::StatusCode::INVALID_ARGUMENT},
      {"00112233445566778899aabbccddeeff",
       {v1::FUNCTION_HELPDESK},
       {},
       v1::ACCOUNT_KIND_UNSPECIFIED,
       grpc::StatusCode::NOT_FOUND},
      {"not an id",
       {v1::FUNCTION_HELPDESK},
       {},
       v1::ACCOUNT_KIND_UNSPECIFIED,
       grpc::StatusCode::INVALID_ARGUMENT},
  };
  for (const Bad& b : bad) {
    grpc::Status s = Change(b.account, b.grant, b.withdraw, b.kind);
    EXPECT_EQ(s.error_code(), b.code) << b.account << " " << s.error_message();
    EXPECT_FALSE(s.error_message().empty());
  }
  EXPECT_EQ(Functions(nurse->account_id()).changes_size(), 4);
  EXPECT_EQ(Functions(patient->account_id()).changes_size(), 0);
  EXPECT_EQ(Functions(patient->account_id()).kind(), v1::ACCOUNT_KIND_PATIENT);

  // The listing: every account with functions or a log, the patient not.
  grpc::ClientContext ctx;
  v1::ListAccountFunctionsResponse all;
  ASSERT_TRUE(Admin().ListAccountFunctions(&ctx, v1::ListAccountFunctionsRequest(), &all).ok());
  std::set<std::string> listed;
  for (const auto& a : all.accounts()) listed.insert(a.account_id());
  EXPECT_EQ(listed, (std::set<std::string>{nurse->account_id(), line->account_id()}));
}

// A store written before functions (accounts of kind CASE_MANAGER and
// HELPDESK, no functions, no log: the bytes today's code wrote) is migrated
// when the server starts, once.
TEST_F(AccountFunctionsTest, AStoreFromBeforeFunctionsIsMigrated) {
  auto line = TestDevice::Enroll(server_, "Helpdesk Brussels", v1::ACCOUNT_KIND_STAFF);
  auto cm = TestDevice::Enroll(server_, "Case manager Ixelles", v1::ACCOUNT_KIND_STAFF);
  auto gp = TestDevice::Enroll(server_, "Dr Luc Martin", v1::ACCOUNT_KIND_PROFESSIONAL);
  const std::string team = NewTeam(*gp);
  ASSERT_TRUE(gp->client().SetBlindIndex(team, std::string(32, 'n'), "2026-1").ok());
  server_.Stop();
  {
    auto db = store::Database::Open(server_.data_dir(), store::DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    store::AccountTable accounts(db->get());
    for (auto [who, kind] : {std::pair{line.get(), v1::ACCOUNT_KIND_HELPDESK},
                             std::pair{cm.get(), v1::ACCOUNT_KIND_CASE_MANAGER}}) {
      auto id = store::AccountId::FromHex(who->account_id());
      ASSERT_TRUE(id.ok());
      auto txn = (*db)->Begin();
      auto record = accounts.GetAccountForUpdate(*txn, *id);
      ASSERT_TRUE(record.ok()) << record.status();
      store::AccountRecord old;
      old.set_account_id(record->account_id());
      old.set_display_name(record->display_name());
      old.set_kind(kind);
      old.set_next_device_id(record->next_device_id());
      old.set_created_at_ms(record->created_at_ms());
      ASSERT_TRUE(accounts.PutAccount(*txn, old).ok());
      ASSERT_TRUE(txn->Commit().ok());
    }
  }
  server_.Restart();

  for (auto [who, function] : {std::pair{line.get(), v1::FUNCTION_HELPDESK},
                               std::pair{cm.get(), v1::FUNCTION_CASE_MANAGER}}) {
    const v1::AccountFunctions migrated = Functions(who->account_id());
    EXPECT_EQ(migrated.kind(), v1::ACCOUNT_KIND_STAFF);
    ASSERT_EQ(migrated.functions_size(), 1);
    EXPECT_EQ(migrated.functions(0), function);
    ASSERT_EQ(migrated.changes_size(), 1);
    EXPECT_EQ(migrated.changes(0).by(), "migration");
    // And what the kind gave, the function still gives.
    EXPECT_EQ(who->client().FindTeams(std::string(32, 'n'))->size(), 1u);
  }
  EXPECT_TRUE(cm->client().CreateTeam(v1::ROLE_CASE_MANAGER).ok());
  EXPECT_EQ(gp->client().Invite(team, line->account_id(), v1::ROLE_PROFESSIONAL).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "staff gained no profession in the migration";
  ASSERT_TRUE(gp->client().Invite(team, line->account_id(), v1::ROLE_HELPDESK).ok());

  // Once: a second start changes nothing.
  server_.Restart();
  admin_.reset();
  EXPECT_EQ(Functions(line->account_id()).changes_size(), 1);
}

}  // namespace
}  // namespace carerelay::testing
