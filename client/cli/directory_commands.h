// `carerelay directory ...`: the directory of professionals
// (directory.proto): public professional information each professional
// publishes about themself, searches, and absences with a substitute.
//
//   directory publish [--name] [--profession] [--organisation] [--practice-id]
//                     [--language L]... [--region] [--postcode] [--pool]
//                                                   Directory.PublishEntry
//   directory search [--name] [--profession] [--organisation] [--region] [--pool]
//                                                   Directory.SearchDirectory
//   directory show ACCOUNT                          Directory.GetEntry
//   directory absence --from T --to T --substitute ACCOUNT | --clear
//                                                   Directory.SetAbsence
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_DIRECTORY_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_DIRECTORY_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/directory.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class DirectoryCommands {
 public:
  explicit DirectoryCommands(CLI::App* app);
  DirectoryCommands(const DirectoryCommands&) = delete;
  DirectoryCommands& operator=(const DirectoryCommands&) = delete;

  bool parsed() const;
  int Run(Profile& profile, const Globals& g);

 private:
  struct Options {
    std::string name, profession, organisation, practice_id, region, postcode, account;
    std::vector<std::string> languages;
    bool pool = false, clear = false;
    std::string from, to, substitute;
  };
  Options o_;
  CLI::App *directory_, *publish_, *search_, *show_, *absence_;
};

// "2026-03-14 09:30" or "2026-03-14" (local time) to Unix milliseconds.
absl::StatusOr<int64_t> ParseLocalTime(const std::string& text);

nlohmann::json DirectoryEntryJson(const v1::DirectoryEntry& e);
std::string DirectoryEntryLine(const v1::DirectoryEntry& e);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_DIRECTORY_COMMANDS_H_
