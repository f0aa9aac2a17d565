// The command-line help and parse errors of `carerelay`, in the person's
// language: what `--help` prints (its headings, each command's and option's
// description, the examples' heading) and what CLI11 says when the command
// line does not parse ("--code is required" becomes "--code est requis").
//
// The language must be known before the parser is built, since CLI11 keeps
// the descriptions it is given: main() first reads --lang and --json from the
// raw arguments (LanguageFromArguments), sets it, then builds the commands
// with descriptions from the catalogs (help_*.txt), then calls LocalizeHelp.
//
// Thread-safety: everything here runs on main's thread before any other
// thread reads the catalogs.
#ifndef CARERELAY_CLIENT_CLI_HELP_TEXT_H_
#define CARERELAY_CLIENT_CLI_HELP_TEXT_H_

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/catalog.h"

namespace carerelay::cli {

// The language the arguments ask for, read before parsing: English with
// --json anywhere (scripts read the same in every language), else
// ChooseLanguage of the value of --lang X or --lang=X ("" if absent: the
// environment decides). INVALID_ARGUMENT as ChooseLanguage's, for a --lang
// other than en, fr, nl or de.
absl::StatusOr<Language> LanguageFromArguments(const std::vector<std::string>& args);

// The footer of a command's help: "Example:" (or "Examples:" for several)
// in the current language, then `commands` as written (each command a line
// indented by two spaces, a continuation by six), then `note` if not empty.
// Commands stay as people type them, in every language.
std::string HelpExamples(std::string_view commands, std::string_view note = {});

// Once every command is added to `app`: puts the help's headings ("Usage",
// "Options", "Subcommands", "REQUIRED", the value kinds TEXT, INT...), the
// groups of every command and the --help flag's description in the
// current language.
void LocalizeHelp(CLI::App& app);

// What went wrong with the command line, in the current language. CLI11
// gives its errors as English sentences; the ones people meet (a required
// option or argument missing, an unexpected argument, a value missing or of
// the wrong kind, options that exclude each other) are recognised and
// translated, with the option names and values kept as typed. Any other
// error keeps CLI11's English text.
std::string ParseErrorText(const CLI::ParseError& error);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_HELP_TEXT_H_
