// `carerelay send-file | get-file | files`: documents on a team channel
// (attachment_transfer.h).
//
//   send-file --team T --channel C FILE [--caption TEXT] [--type MEDIA/TYPE]
//   get-file ATTACHMENT [--out PATH] [--force]
//   files [--team T]
//
// Transfers show a progress bar on a terminal (never with --json), retry a
// cut connection on their own, and resume when run again after failing.
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_FILE_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_FILE_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class FileCommands {
 public:
  // Adds `send`, `get` and `list` to the `file` noun; the options are bound
  // to this object, which must outlive parsing and Run.
  explicit FileCommands(CLI::App* file);
  FileCommands(const FileCommands&) = delete;
  FileCommands& operator=(const FileCommands&) = delete;

  bool parsed() const;
  // Runs the parsed command; returns the exit code.
  int Run(Profile& profile, const Globals& g);

 private:
  int SendFile(Profile& p, const Globals& g);
  int GetFile(Profile& p, const Globals& g);
  int List(Profile& p, const Globals& g);

  std::string team_, channel_, path_, caption_, type_, attachment_, out_, new_version_of_;
  bool force_ = false;
  CLI::App *send_ = nullptr, *get_ = nullptr, *list_ = nullptr;
};

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_FILE_COMMANDS_H_
