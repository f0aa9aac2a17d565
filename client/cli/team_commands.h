// `carerelay team ...`: the care-team commands (one care team per patient
// pathway, teams.proto) and the words the CLI uses for team events.
//
//   team create [--as coordinator|case-manager]      Teams.CreateTeam
//   team list                                        Teams.ListTeams
//   team members TEAM                                Teams.GetTeam
//   team invite TEAM ACCOUNT --role R [--acts-for-patient]   Teams.Invite
//   team accept TEAM | team decline TEAM             Teams.RespondToInvitation
//   team remove TEAM ACCOUNT | team leave TEAM       Teams.RemoveMember
//   team role TEAM ACCOUNT ROLE                      Teams.ChangeRole
//   team coordinator TEAM ACCOUNT                    Teams.DesignateCoordinator
//   team consent TEAM --record|--withdraw ...        Teams.RecordConsent
//   team consent TEAM --agree|--refuse ACCOUNT       Teams.AnswerConsent
//   team access TEAM [--role --channel --read --post]  Teams.GetTeam / SetTeamAccess
//   team profile TEAM [--set ... | --share]          local store / pairwise sends
//   team index TEAM [--national-number NN]           Teams.SetBlindIndex
//   team find --national-number NN                   Teams.FindTeams
//   team close TEAM [--reason R]                     Teams.CloseTeam
//   team erase TEAM --yes                            Teams.EraseTeam
//   team audit TEAM [--verify]                       Teams.ReadAudit (+ VerifyAudit)
//
// A TEAM is its id, or a unique prefix of at least 8 characters among the
// caller's teams; an ACCOUNT is a full account id, or a unique prefix of at
// least 8 hex characters among the team's members.
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_TEAM_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_TEAM_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "carerelay/v1/teams.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"
#include "client/messenger.h"
#include "client/relay_client.h"

namespace carerelay::cli {

class TeamCommands {
 public:
  // Adds `team` and its subcommands to `app`. The options are bound to this
  // object, which must outlive parsing and Run.
  explicit TeamCommands(CLI::App* app);
  TeamCommands(const TeamCommands&) = delete;
  TeamCommands& operator=(const TeamCommands&) = delete;

  // Whether the command line named a `team` subcommand.
  bool parsed() const;
  // Runs it; returns the exit code.
  int Run(Profile& profile, const Globals& g);

 private:
  struct Options {
    std::string team, account, role, as = "coordinator";
    bool acts_for_patient = false;
    // consent
    bool record = false, withdraw = false;
    std::string agree, refuse, by, method, at, reference;
    // access
    std::string channel, read, post;
    // profile
    bool set = false, share = false;
    std::string name, birth_date, national_number, gp, address, notes;
    // index, find
    std::string org_key;
    // close, erase, audit
    std::string reason;
    bool yes = false, verify = false;
  };

  int Create(Profile& p, const Globals& g);
  int List(Profile& p, const Globals& g);
  int Members(Profile& p, const Globals& g);
  int Invite(Profile& p, const Globals& g);
  int Respond(Profile& p, const Globals& g, bool accept);
  int Remove(Profile& p, const Globals& g, bool leave);
  int ChangeRole(Profile& p, const Globals& g);
  int Coordinator(Profile& p, const Globals& g);
  int Consent(Profile& p, const Globals& g);
  int Access(Profile& p, const Globals& g);
  int ShowOrSetProfile(Profile& p, const Globals& g);
  int Index(Profile& p, const Globals& g);
  int Find(Profile& p, const Globals& g);
  int Close(Profile& p, const Globals& g);
  int Erase(Profile& p, const Globals& g);
  int Audit(Profile& p, const Globals& g);

  Options o_;
  CLI::App* team_ = nullptr;
  CLI::App *create_, *list_, *members_, *invite_, *accept_, *decline_, *remove_, *leave_, *role_,
      *coordinator_, *consent_, *access_, *profile_, *index_, *find_, *close_, *erase_, *audit_;
};

// The team id `given` names: itself when it is a full id, else the one
// team of the caller's whose id starts with it (at least 8 characters).
absl::StatusOr<std::string> ResolveTeam(client::RelayClient& relay, const std::string& given);

// "Dr Martin (COORDINATOR)": a display name (or the short account id when
// unknown) and, if known, the role.
std::string PersonLabel(const std::string& name, v1::Role role, const std::string& account_id);

// A team event in words, e.g. "Dr Martin (COORDINATOR) invited Anne Dupont
// as CAREGIVER"; `actor` and `subject` are labels as PersonLabel makes them.
std::string DescribeTeamEvent(const v1::TeamEvent& event, const std::string& actor,
                              const std::string& subject);

// A member's channels (Member.can_read, can_post): "#team #care", or "-"
// for none; and as a JSON list of names for --json output.
std::string HashChannels(const google::protobuf::RepeatedField<int>& channels);
nlohmann::json ChannelList(const google::protobuf::RepeatedField<int>& channels);

// A member's status in the person's language ("invited", "invité(e)", ...);
// client::MemberStatusName is the token for --json output.
std::string MemberStatusLabel(v1::MemberStatus status);

// "invited", "role_changed", ...: the event kind for --json output.
std::string EventKindName(v1::TeamEvent::Kind kind);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_TEAM_COMMANDS_H_
