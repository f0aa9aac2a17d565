#include "client/cli/help_text.h"

#include <regex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace carerelay::cli {
namespace {

// CLI11's own name for the group every option and command starts in.
constexpr char kOptionsGroup[] = "Options";
constexpr char kSubcommandsGroup[] = "Subcommands";

void LocalizeGroups(CLI::App* app, const std::string& options, const std::string& subcommands,
                    const std::string& help) {
  if (CLI::Option* help_flag = app->get_help_ptr(); help_flag != nullptr) {
    help_flag->description(help);
  }
  for (CLI::Option* option : app->get_options()) {
    if (option->get_group() == kOptionsGroup) option->group(options);
  }
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_group() == kSubcommandsGroup) sub->group(subcommands);
    LocalizeGroups(sub, options, subcommands, help);
  }
}

// One English error of CLI11, recognised by its whole text: the catalog key
// of its translation and the names of the placeholders its groups fill.
struct KnownError {
  std::regex english;
  const char* key;
  std::vector<const char*> placeholders;
};

const std::vector<KnownError>& KnownErrors() {
  // The texts of CLI/Error.hpp (CLI11 2.1) that a person can cause; the
  // order matters where one text is a special case of another.
  static const std::vector<KnownError> known = {
      {std::regex("A subcommand is required"), "help.error.command_required", {}},
      {std::regex("(.+) is required"), "help.error.required", {"name"}},
      {std::regex("The following arguments? (?:was|were) not expected: (.*)"),
       "help.error.unexpected",
       {"arguments"}},
      {std::regex("(.+): [0-9]+ required .* missing"), "help.error.value_missing", {"name"}},
      {std::regex("Expected (?:exactly|at least) [0-9]+ arguments? to (.+), got [0-9]+"),
       "help.error.value_missing",
       {"name"}},
      {std::regex("Could not convert: (.+) = (.*)"), "help.error.not_a_value", {"name", "value"}},
      {std::regex("The value (.*) is not an allowed value for (.+)"),
       "help.error.not_a_value",
       {"value", "name"}},
      {std::regex("(.+): too many inputs for a flag"), "help.error.flag_value", {"name"}},
      {std::regex("(.+) requires (.+)"), "help.error.requires", {"name", "other"}},
      {std::regex("(.+) excludes (.+)"), "help.error.excludes", {"name", "other"}},
  };
  return known;
}

}  // namespace

absl::StatusOr<Language> LanguageFromArguments(const std::vector<std::string>& args) {
  std::string flag;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") json = true;
    if (args[i] == "--lang" && i + 1 < args.size()) flag = args[i + 1];
    if (absl::StartsWith(args[i], "--lang=")) flag = args[i].substr(7);
  }
  absl::StatusOr<Language> chosen = ChooseLanguage(flag);
  if (json && chosen.ok()) return Language::kEnglish;
  return chosen;
}

std::string HelpExamples(std::string_view commands, std::string_view note) {
  int count = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(commands.data(), commands.size()), '\n')) {
    if (absl::StartsWith(line, "  ") && !absl::StartsWith(line, "   ")) ++count;
  }
  std::string footer = Tr(count > 1 ? "help.examples" : "help.example");
  footer.append("\n").append(commands);
  if (!note.empty()) footer.append("\n").append(note);
  return footer;
}

void LocalizeHelp(CLI::App& app) {
  // Every command shares the root's formatter.
  CLI::Formatter* formatter = dynamic_cast<CLI::Formatter*>(app.get_formatter().get());
  if (formatter != nullptr) {
    const std::pair<const char*, const char*> labels[] = {
        {"Usage", "help.label.usage"},
        {"OPTIONS", "help.label.options_placeholder"},
        {"SUBCOMMAND", "help.label.command_placeholder"},
        {"SUBCOMMANDS", "help.label.commands_placeholder"},
        {"Positionals", "help.label.arguments"},
        {"REQUIRED", "help.label.required"},
        {"TEXT", "help.label.text"},
        {"INT", "help.label.number"},
        {"UINT", "help.label.number"},
        {"FLOAT", "help.label.number"},
    };
    for (const auto& [label, key] : labels) formatter->label(label, Tr(key));
  }
  LocalizeGroups(&app, Tr("help.label.options"), Tr("help.label.commands"),
                 Tr("help.label.help_flag"));
}

std::string ParseErrorText(const CLI::ParseError& error) {
  const std::string english = error.what();
  for (const KnownError& known : KnownErrors()) {
    std::smatch match;
    if (!std::regex_match(english, match, known.english)) continue;
    std::vector<TrArg> args;
    for (size_t i = 0; i < known.placeholders.size(); ++i) {
      args.emplace_back(known.placeholders[i], match[i + 1].str());
    }
    switch (args.size()) {
      case 0:
        return Tr(known.key);
      case 1:
        return Tr(known.key, {args[0]});
      default:
        return Tr(known.key, {args[0], args[1]});
    }
  }
  return english;
}

}  // namespace carerelay::cli
