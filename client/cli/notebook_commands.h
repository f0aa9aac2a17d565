// `carerelay notebook ...`: a care team's liaison notebook ("cahier de
// liaison", client/notebook.h) — dated entries of a kind, pinned beside the
// conversation, end-to-end encrypted like messages:
//
//   notebook add TEAM --kind KIND [--channel C] [--date YYYY-MM-DD] TEXT...
//   notebook list TEAM [--channel C] [--revisions]
//   notebook edit TEAM ENTRY TEXT... [--kind KIND] [--date YYYY-MM-DD]
//
// KIND is visit, observation, treatment, incident or handover (the note to
// the next visitor). An entry goes on #care unless --channel says
// otherwise, to everyone who reads the channel; `list` shows what this
// device holds (received or written), the latest text of each entry, and
// with --revisions what it said before. Only an entry's author edits it.
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_NOTEBOOK_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_NOTEBOOK_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/content.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class NotebookCommands {
 public:
  explicit NotebookCommands(CLI::App* app);
  NotebookCommands(const NotebookCommands&) = delete;
  NotebookCommands& operator=(const NotebookCommands&) = delete;

  bool parsed() const;
  int Run(Profile& profile, const Globals& g);

 private:
  int Add(Profile& p, const Globals& g, const std::string& team_id);
  int List(Profile& p, const Globals& g, const std::string& team_id);
  int Edit(Profile& p, const Globals& g, const std::string& team_id);

  std::string team_, kind_, channel_, date_, entry_;
  std::vector<std::string> words_;
  bool revisions_ = false;
  CLI::App *notebook_, *add_, *list_, *edit_;
};

// The kinds as people type them (visit, observation, treatment, incident,
// handover; the proto's names too), and in the person's language.
//   INVALID_ARGUMENT naming the tokens, for anything else
absl::StatusOr<v1::NotebookEntry::Kind> ParseNotebookKind(const std::string& typed);
std::string NotebookKindToken(v1::NotebookEntry::Kind kind);
std::string NotebookKindLabel(v1::NotebookEntry::Kind kind);

// A notebook entry's fields in a --json object (entry_id, kind, date,
// revision, text), the same wherever one is printed.
void AddNoteJson(const v1::NotebookEntry& entry, nlohmann::json* j);

// Sends a new notebook entry on `channel` of `team_id` (the CLI's
// `notebook add` and the chat's /note). Returns the entry's id. Errors of
// NewNotebookEntry and SendTeamContent.
absl::StatusOr<std::string> AddNote(client::Messenger& m, const std::string& team_id,
                                    v1::Channel channel, v1::NotebookEntry::Kind kind,
                                    const std::string& text, absl::Time dated);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_NOTEBOOK_COMMANDS_H_
