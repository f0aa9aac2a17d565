#include "client/cli/roster_commands.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/team_view.h"

namespace carerelay::cli {

RosterCommands::RosterCommands(CLI::App* app) {
  roster_ = app->add_subcommand("roster", Tr("help.roster"));
  roster_->require_subcommand(1);
  roster_->footer(HelpExamples(
      "  carerelay --profile soins-ixelles roster add 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3\n"
      "  carerelay --profile nurse roster on-duty",
      Tr("help.roster.note")));
  show_ = roster_->add_subcommand("show", Tr("help.roster.show"));
  show_->add_option("organisation", organisation_, Tr("help.roster.show.organisation"));
  show_->footer(HelpExamples("  carerelay roster show"));
  add_ = roster_->add_subcommand("add", Tr("help.roster.add"));
  add_->add_option("account", staff_, Tr("help.roster.add.account"))->required();
  add_->footer(HelpExamples("  carerelay roster add 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));
  remove_ = roster_->add_subcommand("remove", Tr("help.roster.remove"));
  remove_->add_option("account", staff_, Tr("help.roster.remove.account"))->required();
  remove_->footer(HelpExamples("  carerelay roster remove 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));
  on_duty_ = roster_->add_subcommand("on-duty", Tr("help.roster.on_duty"));
  off_duty_ = roster_->add_subcommand("off-duty", Tr("help.roster.off_duty"));
  for (CLI::App* duty : {on_duty_, off_duty_}) {
    duty->add_option("--staff", staff_, Tr("help.roster.duty.staff"));
    duty->add_option("--org", organisation_, Tr("help.roster.duty.org"));
  }
  on_duty_->footer(
      HelpExamples("  carerelay --profile nurse roster on-duty\n"
                   "  carerelay --profile soins-ixelles roster on-duty --staff 3f2ab0c1"
                   "d2e3f4a5b6c7d8e9f0a1b2c3"));
  off_duty_->footer(HelpExamples("  carerelay --profile nurse roster off-duty"));
}

bool RosterCommands::parsed() const { return roster_->parsed(); }

void RosterCommands::PrintRoster(const Globals& g, const v1::Roster& roster) const {
  nlohmann::json staff = nlohmann::json::array();
  std::string human = Tr("roster.heading", {{"name", roster.display_name()},
                                            {"account", roster.organisation_account_id()}});
  if (roster.staff().empty()) absl::StrAppend(&human, "\n  ", Tr("roster.empty"));
  for (const v1::RosterEntry& e : roster.staff()) {
    staff.push_back({{"account_id", e.account_id()},
                     {"display_name", e.display_name()},
                     {"on_duty", e.on_duty()},
                     {"since", FormatTime(e.since_ms())}});
    absl::StrAppend(&human, "\n  ",
                    Tr(e.on_duty() ? "roster.entry_on_duty" : "roster.entry_off_duty",
                       {{"name", e.display_name()},
                        {"account", e.account_id()},
                        {"since", FormatTime(e.since_ms())}}));
  }
  Print(g,
        {{"organisation_account_id", roster.organisation_account_id()},
         {"display_name", roster.display_name()},
         {"staff", staff}},
        human);
}

int RosterCommands::Change(Profile& p, const Globals& g, v1::ChangeRosterRequest::Action action) {
  v1::ChangeRosterRequest request;
  request.set_action(action);
  request.set_organisation_account_id(organisation_);
  const bool duty = action == v1::ChangeRosterRequest::ACTION_ON_DUTY ||
                    action == v1::ChangeRosterRequest::ACTION_OFF_DUTY;
  if (duty && staff_.empty()) {
    // A staff member's own shift: their organisation, if only one.
    request.set_staff_account_id(p.config().account_id);
    if (organisation_.empty()) {
      auto account = p.relay().GetAccount();
      if (!account.ok()) return Fail(account.status(), g);
      if (account->staff_of_size() != 1) {
        return UsageError(Tr(account->staff_of().empty() ? "roster.usage_on_no_roster"
                                                         : "roster.usage_which_org"),
                          g);
      }
      request.set_organisation_account_id(account->staff_of(0));
    }
  } else {
    auto staff = client::ResolveAccount(staff_, nullptr);
    if (!staff.ok()) return UsageError(std::string(staff.status().message()), g);
    request.set_staff_account_id(*staff);
  }
  auto roster = p.relay().ChangeRoster(request);
  if (!roster.ok()) return Fail(roster.status(), g);
  PrintRoster(g, *roster);
  return kExitOk;
}

int RosterCommands::Run(Profile& p, const Globals& g) {
  if (add_->parsed()) return Change(p, g, v1::ChangeRosterRequest::ACTION_ADD);
  if (remove_->parsed()) return Change(p, g, v1::ChangeRosterRequest::ACTION_REMOVE);
  if (on_duty_->parsed()) return Change(p, g, v1::ChangeRosterRequest::ACTION_ON_DUTY);
  if (off_duty_->parsed()) return Change(p, g, v1::ChangeRosterRequest::ACTION_OFF_DUTY);
  // show: the organisation named, this account's own, or the one roster
  // this account is on.
  std::string organisation = organisation_;
  if (organisation.empty()) {
    auto account = p.relay().GetAccount();
    if (!account.ok()) return Fail(account.status(), g);
    if (account->kind() != v1::ACCOUNT_KIND_ORGANISATION && account->staff_of_size() == 1) {
      organisation = account->staff_of(0);
    }
  }
  auto roster = p.relay().GetRoster(organisation);
  if (!roster.ok()) return Fail(roster.status(), g);
  PrintRoster(g, *roster);
  return kExitOk;
}

}  // namespace carerelay::cli
