// `carerelay roster ...`: an organisation's roster (accounts.proto) — the
// staff accounts who act for a home-nursing service, a pharmacy, a care
// home or a hospital's social service on its teams, and who is on duty.
//
//   roster show [ORGANISATION]                  Accounts.GetRoster
//   roster add ACCOUNT                          Accounts.ChangeRoster (the organisation)
//   roster remove ACCOUNT                       Accounts.ChangeRoster (the organisation)
//   roster on-duty [--staff ACCOUNT] [--org ORGANISATION]
//   roster off-duty [--staff ACCOUNT] [--org ORGANISATION]
//                                               Accounts.ChangeRoster
//
// A staff member puts themselves on or off duty (their organisation found
// from their account when they are on one roster; --org otherwise); the
// organisation's devices name the staff member with --staff.
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_ROSTER_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_ROSTER_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "carerelay/v1/accounts.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class RosterCommands {
 public:
  explicit RosterCommands(CLI::App* app);
  RosterCommands(const RosterCommands&) = delete;
  RosterCommands& operator=(const RosterCommands&) = delete;

  bool parsed() const;
  int Run(Profile& profile, const Globals& g);

 private:
  int Change(Profile& p, const Globals& g, v1::ChangeRosterRequest::Action action);
  void PrintRoster(const Globals& g, const v1::Roster& roster) const;

  std::string organisation_, staff_;
  CLI::App *roster_, *show_, *add_, *remove_, *on_duty_, *off_duty_;
};

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_ROSTER_COMMANDS_H_
