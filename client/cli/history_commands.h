// What this device keeps of its conversations (client/history.h), read
// back and searched, without the server:
//
//   team history TEAM [--channel C] [--search WORDS] [--last N]
//   message history ACCOUNT [--search WORDS] [--last N]
//   team history-visibility TEAM [whole-pathway | from-joining | last-days N]
//   team history-handover TEAM ACCOUNT
//
// The last is the team's setting of how much history a member who joins
// later receives from the others' devices (history_handover.h):
// Teams.SetHistoryVisibility, the patient side's or the coordinator's.
// `history-handover` hands a member the history again from this device (a
// coordinator's or case manager's), when the hand-over as they joined
// failed or came before this device held what it holds now.
//
// Only what this device received or sent is there: the server keeps no
// content to ask for. Searching folds accents and case ("deces" finds
// "Décès"), every word must appear.
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_HISTORY_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_HISTORY_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "carerelay/v1/content.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class HistoryCommands {
 public:
  // Adds `history` under `team` and under `message`.
  HistoryCommands(CLI::App* team, CLI::App* message);
  HistoryCommands(const HistoryCommands&) = delete;
  HistoryCommands& operator=(const HistoryCommands&) = delete;

  bool parsed() const;
  int Run(Profile& profile, const Globals& g);

 private:
  int TeamHistory(Profile& p, const Globals& g);
  int Conversation(Profile& p, const Globals& g);
  int Visibility(Profile& p, const Globals& g);
  int Handover(Profile& p, const Globals& g);

  std::string team_, channel_, search_, account_, setting_;
  size_t last_ = 0;
  uint32_t days_ = 0;
  CLI::App *team_history_, *message_history_, *visibility_, *handover_;
};

// One history entry as a line ("2026-03-14 09:12  #care  Dr Martin
// (COORDINATOR): ...") and as a --json object; `self` is this account.
std::string HistoryLine(const v1::HistoryEntry& entry, const std::string& self);
nlohmann::json HistoryJson(const v1::HistoryEntry& entry);

// A history visibility in words, from its token as a TeamEvent's detail
// carries it ("from_joining", "last_days 30", "whole_pathway").
std::string HistoryVisibilityLabel(const std::string& detail);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_HISTORY_COMMANDS_H_
