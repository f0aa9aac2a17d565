// The CLI's message catalogs (client/cli/catalog.h): every language has every
// key with the same placeholders, every key the sources use exists, no key is
// left unused, and the language is chosen from --lang, CARERELAY_LANG and the
// locale. And the help and parse errors built on them (client/cli/help_text.h).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "client/cli/catalog.h"
#include "client/cli/help_text.h"

namespace carerelay::cli {
namespace {

namespace fs = std::filesystem;

std::string Name(Language language) { return std::string(LanguageCode(language)); }

TEST(CliCatalogTest, EveryCatalogParsesWithoutErrors) {
  for (Language language : AllLanguages()) {
    const Catalog& catalog = CatalogOf(language);
    EXPECT_TRUE(catalog.errors.empty())
        << Name(language) << ": " << ::testing::PrintToString(catalog.errors);
    EXPECT_GT(catalog.texts.size(), 10u) << Name(language) << " is nearly empty";
    for (const auto& [key, text] : catalog.texts) {
      EXPECT_FALSE(text.empty()) << Name(language) << ": " << key << " has no text";
    }
  }
}

TEST(CliCatalogTest, EveryCatalogHasEveryKeyWithTheSamePlaceholders) {
  const Catalog& english = CatalogOf(Language::kEnglish);
  for (Language language : AllLanguages()) {
    if (language == Language::kEnglish) continue;
    const Catalog& other = CatalogOf(language);
    for (const auto& [key, text] : english.texts) {
      auto it = other.texts.find(key);
      if (it == other.texts.end()) {
        ADD_FAILURE() << Name(language) << " lacks " << key << " (en: \"" << text << "\")";
        continue;
      }
      EXPECT_EQ(PlaceholdersOf(it->second), PlaceholdersOf(text))
          << key << " in " << Name(language) << ": \"" << it->second << "\" vs en \"" << text
          << "\"";
    }
    for (const auto& [key, text] : other.texts) {
      EXPECT_TRUE(english.texts.count(key))
          << Name(language) << " has " << key << ", which English does not";
    }
  }
}

// The string literals of the CLI's sources that name a catalog key: the
// argument of every Tr("...") call, and any literal of the form
// "area.word..." whose area is one of the catalog's (keys chosen by a switch,
// like the error hints).
struct KeyUse {
  std::string key;
  std::string where;
};
std::vector<KeyUse> KeysUsedInSources(const std::set<std::string>& areas) {
  std::vector<KeyUse> uses;
  const std::regex tr_call(R"re(\bTr\(\s*"([^"]*)")re");
  const std::regex literal(R"re("([a-z][a-z0-9_]*)\.([a-z0-9_.]+)")re");
  for (const auto& entry : fs::directory_iterator(CARERELAY_CLI_SOURCE_DIR)) {
    const fs::path& path = entry.path();
    if (path.extension() != ".cc" && path.extension() != ".h") continue;
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string source = buffer.str();
    const std::string file = path.filename().string();
    for (std::sregex_iterator it(source.begin(), source.end(), tr_call), end; it != end; ++it) {
      uses.push_back({(*it)[1].str(), file});
    }
    for (std::sregex_iterator it(source.begin(), source.end(), literal), end; it != end; ++it) {
      if (areas.count((*it)[1].str()))
        uses.push_back({(*it)[1].str() + "." + (*it)[2].str(), file});
    }
  }
  return uses;
}

TEST(CliCatalogTest, EveryKeyTheSourcesUseExistsAndEveryKeyIsUsed) {
  const Catalog& english = CatalogOf(Language::kEnglish);
  std::set<std::string> areas;
  for (const auto& [key, text] : english.texts) areas.insert(key.substr(0, key.find('.')));
  std::vector<KeyUse> uses = KeysUsedInSources(areas);
  ASSERT_FALSE(uses.empty()) << "no Tr(\"...\") found under " << CARERELAY_CLI_SOURCE_DIR;
  std::set<std::string> used;
  for (const KeyUse& use : uses) {
    used.insert(use.key);
    EXPECT_TRUE(english.texts.count(use.key))
        << use.where << " uses " << use.key << ", which the catalogs do not have";
  }
  for (const auto& [key, text] : english.texts) {
    EXPECT_TRUE(used.count(key)) << key << " is in the catalogs but no source uses it";
  }
}

TEST(CliCatalogTest, TrFillsPlaceholdersAndFallsBack) {
  SetLanguage(Language::kFrench);
  EXPECT_EQ(Tr("error.line", {{"message", "boom"}}), "erreur : boom");
  SetLanguage(Language::kDutch);
  EXPECT_EQ(Tr("error.line", {{"message", "boom"}}), "fout: boom");
  SetLanguage(Language::kGerman);
  EXPECT_EQ(Tr("error.line", {{"message", "boom"}}), "Fehler: boom");
  SetLanguage(Language::kEnglish);
  EXPECT_EQ(Tr("error.line", {{"message", "boom"}}), "error: boom");
  // A placeholder nobody fills stays visible rather than vanishing.
  EXPECT_EQ(Tr("error.line"), "error: {message}");
  // An unknown key shows itself: a bug, but never an empty line.
  EXPECT_EQ(Tr("no.such_key"), "no.such_key");
  EXPECT_EQ(PlaceholdersOf("{b} and {a}, {b}"), (std::vector<std::string>{"a", "b"}));
}

// A delivery (a watermark of the relay turned into "delivered to") reads
// as a sentence in each language: who, which device, which message.
TEST(CliCatalogTest, DeliveriesReadWellInEveryLanguage) {
  struct Expected {
    Language language;
    std::string direct, team, chat, chat_earlier;
  };
  const Expected expected[] = {
      {Language::kEnglish,
       "delivered to Dr. Luc Martin (device 1), 3f2ab0c1 (device 2): your message of "
       "2026-03-14 09:30",
       "delivered to Dr. Luc Martin (device 1), 3f2ab0c1 (device 2): your message of "
       "2026-03-14 09:30 in team 5f0c1a2b #clinical",
       "09:31  [4] delivered to Dr. Luc Martin (device 1), 3f2ab0c1 (device 2)",
       "09:31  your message of 2026-03-14 09:30 delivered to Dr. Luc Martin (device 1), "
       "3f2ab0c1 (device 2)"},
      {Language::kFrench,
       "remis à Dr. Luc Martin (appareil 1), 3f2ab0c1 (appareil 2) : votre message du "
       "2026-03-14 09:30",
       "remis à Dr. Luc Martin (appareil 1), 3f2ab0c1 (appareil 2) : votre message du "
       "2026-03-14 09:30 dans l'équipe 5f0c1a2b #clinical",
       "09:31  [4] remis à Dr. Luc Martin (appareil 1), 3f2ab0c1 (appareil 2)",
       "09:31  votre message du 2026-03-14 09:30 remis à Dr. Luc Martin (appareil 1), "
       "3f2ab0c1 (appareil 2)"},
      {Language::kDutch,
       "afgeleverd bij Dr. Luc Martin (toestel 1), 3f2ab0c1 (toestel 2): uw bericht van "
       "2026-03-14 09:30",
       "afgeleverd bij Dr. Luc Martin (toestel 1), 3f2ab0c1 (toestel 2): uw bericht van "
       "2026-03-14 09:30 in team 5f0c1a2b #clinical",
       "09:31  [4] afgeleverd bij Dr. Luc Martin (toestel 1), 3f2ab0c1 (toestel 2)",
       "09:31  uw bericht van 2026-03-14 09:30 afgeleverd bij Dr. Luc Martin (toestel 1), "
       "3f2ab0c1 (toestel 2)"},
      {Language::kGerman,
       "zugestellt an Dr. Luc Martin (Gerät 1), 3f2ab0c1 (Gerät 2): Ihre Nachricht vom "
       "2026-03-14 09:30",
       "zugestellt an Dr. Luc Martin (Gerät 1), 3f2ab0c1 (Gerät 2): Ihre Nachricht vom "
       "2026-03-14 09:30 in Team 5f0c1a2b #clinical",
       "09:31  [4] zugestellt an Dr. Luc Martin (Gerät 1), 3f2ab0c1 (Gerät 2)",
       "09:31  Ihre Nachricht vom 2026-03-14 09:30 zugestellt an Dr. Luc Martin (Gerät 1), "
       "3f2ab0c1 (Gerät 2)"},
  };
  const std::string sent = "2026-03-14 09:30";
  for (const Expected& e : expected) {
    SetLanguage(e.language);
    // As cli_common.cc's DeliveredTo joins them.
    const std::string to =
        Tr("message.delivered_device", {{"name", "Dr. Luc Martin"}, {"device", "1"}}) + ", " +
        Tr("message.delivered_device", {{"name", "3f2ab0c1"}, {"device", "2"}});
    EXPECT_EQ(Tr("message.delivered", {{"to", to}, {"sent", sent}}), e.direct) << Name(e.language);
    EXPECT_EQ(
        Tr("message.delivered_team", {{"to", to},
                                      {"sent", sent},
                                      {"team", Tr("message.team_label", {{"team", "5f0c1a2b"}})},
                                      {"channel", "clinical"}}),
        e.team)
        << Name(e.language);
    EXPECT_EQ(Tr("chat.line.delivered", {{"time", "09:31"}, {"message", "[4]"}, {"to", to}}),
              e.chat)
        << Name(e.language);
    EXPECT_EQ(
        Tr("chat.line.delivered",
           {{"time", "09:31"}, {"message", Tr("chat.your_message", {{"sent", sent}})}, {"to", to}}),
        e.chat_earlier)
        << Name(e.language);
  }
  SetLanguage(Language::kEnglish);
}

class LanguageChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVariables) unsetenv(v);
  }
  void TearDown() override {
    for (const char* v : kVariables) unsetenv(v);
  }
  static constexpr const char* kVariables[] = {"CARERELAY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"};
};

TEST_F(LanguageChoiceTest, FlagThenCarerelayLangThenTheLocale) {
  EXPECT_EQ(*ChooseLanguage(""), Language::kEnglish);
  setenv("LANG", "nl_BE.UTF-8", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kDutch);
  setenv("LC_MESSAGES", "fr_FR.UTF-8", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kFrench);
  setenv("LC_ALL", "C.UTF-8", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kEnglish) << "the C locale is English";
  setenv("CARERELAY_LANG", "nl", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kDutch);
  EXPECT_EQ(*ChooseLanguage("fr"), Language::kFrench) << "--lang wins";
  EXPECT_EQ(*ChooseLanguage("FR"), Language::kFrench);
  EXPECT_EQ(*ChooseLanguage("en"), Language::kEnglish);
}

TEST_F(LanguageChoiceTest, LocalesWithoutACatalogAreEnglishButABadFlagIsRefused) {
  setenv("LANG", "de_BE.UTF-8", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kGerman) << "German, the East Belgian locale";
  setenv("LANG", "it_IT.UTF-8", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kEnglish);
  setenv("LANG", "french", 1);
  EXPECT_EQ(*ChooseLanguage(""), Language::kEnglish) << "\"fr\" must be the whole code";
  EXPECT_EQ(*ChooseLanguage("de"), Language::kGerman);
  auto italian = ChooseLanguage("it");
  ASSERT_FALSE(italian.ok());
  EXPECT_EQ(italian.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(italian.status().message().find("en, fr, nl and de"), std::string::npos);
  EXPECT_FALSE(ChooseLanguage("frx").ok());
}

// What CLI11 throws for a command line, caught (nullptr if it parsed).
std::unique_ptr<CLI::ParseError> ParseErrorOf(std::vector<std::string> args) {
  CLI::App app{"test"};
  std::string team, role;
  int limit = 0;
  bool json = false, yes = false;
  app.add_option("team", team, "Team id")->required();
  app.add_option("--role", role, "Role")->required();
  app.add_option("--limit", limit, "At most");
  CLI::Option* json_flag = app.add_flag("--json", json, "JSON");
  app.add_flag("--yes", yes, "Sure")->excludes(json_flag);
  std::vector<char*> argv{const_cast<char*>("carerelay")};
  for (std::string& arg : args) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return std::make_unique<CLI::ParseError>(e);
  }
  return nullptr;
}

// Each error a person can make on the command line, as CLI11 2.1 words it,
// reads in every language with the names and values as typed.
TEST(CliHelpTextTest, ParseErrorsReadInEveryLanguage) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> kept;  // what the text must show as typed
  };
  const Case cases[] = {
      {{"--role", "social"}, {"team"}},                        // a required argument missing
      {{"5f0c1a2b"}, {"--role"}},                              // a required option missing
      {{"5f0c1a2b", "--role", "social", "extra"}, {"extra"}},  // one argument too many
      {{"5f0c1a2b", "--role"}, {"--role"}},                    // an option without its value
      {{"5f0c1a2b", "--role", "x", "--limit", "ten"}, {"ten", "--limit"}},    // not a number
      {{"5f0c1a2b", "--role", "x", "--yes", "--json"}, {"--yes", "--json"}},  // exclusive
  };
  for (const Case& c : cases) {
    std::unique_ptr<CLI::ParseError> error = ParseErrorOf(c.args);
    ASSERT_NE(error, nullptr) << ::testing::PrintToString(c.args);
    SetLanguage(Language::kEnglish);
    const std::string english = ParseErrorText(*error);
    for (Language language : AllLanguages()) {
      SetLanguage(language);
      const std::string text = ParseErrorText(*error);
      EXPECT_EQ(text.find("help."), std::string::npos) << text;
      for (const std::string& kept : c.kept) {
        EXPECT_NE(text.find(kept), std::string::npos)
            << Name(language) << ": \"" << text << "\" lacks " << kept << " (CLI11: \""
            << error->what() << "\")";
      }
      if (language != Language::kEnglish) {
        EXPECT_NE(text, english) << Name(language) << " left CLI11's \"" << error->what()
                                 << "\" untranslated";
      }
    }
  }
  // An error nobody recognised keeps CLI11's own words rather than vanishing.
  SetLanguage(Language::kFrench);
  EXPECT_EQ(ParseErrorText(CLI::ConfigError("INI was not able to parse x")),
            "INI was not able to parse x");
  SetLanguage(Language::kEnglish);
}

TEST(CliHelpTextTest, TheLanguageIsReadBeforeParsing) {
  EXPECT_EQ(*LanguageFromArguments({"--lang", "fr", "team", "list"}), Language::kFrench);
  EXPECT_EQ(*LanguageFromArguments({"team", "list", "--lang=nl"}), Language::kDutch);
  EXPECT_EQ(*LanguageFromArguments({"--lang", "de", "--json", "team", "list"}), Language::kEnglish)
      << "--json reads the same in every language";
  EXPECT_FALSE(LanguageFromArguments({"--json", "--lang", "it", "team", "list"}).ok())
      << "a language without a catalog is refused, --json or not";
}

TEST(CliHelpTextTest, HelpSpeaksTheCurrentLanguage) {
  for (Language language : AllLanguages()) {
    SetLanguage(language);
    CLI::App app{"carerelay"};
    std::string team;
    app.add_option("--team", team, "Team id");
    CLI::App* list = app.add_subcommand("list", "List");
    list->footer(HelpExamples("  carerelay list"));
    LocalizeHelp(app);
    const std::string help = app.help();
    EXPECT_NE(help.find(Tr("help.label.usage") + ":"), std::string::npos) << help;
    EXPECT_NE(help.find("\n" + Tr("help.label.options") + ":\n"), std::string::npos) << help;
    EXPECT_NE(help.find("\n" + Tr("help.label.commands") + ":\n"), std::string::npos) << help;
    EXPECT_NE(help.find(Tr("help.label.help_flag")), std::string::npos) << help;
    if (language != Language::kEnglish) {
      EXPECT_EQ(help.find("Subcommands"), std::string::npos) << help;
      EXPECT_EQ(help.find("Print this help"), std::string::npos) << help;
    }
    EXPECT_EQ(list->help().find(Tr("help.label.help_flag")) != std::string::npos, true)
        << "a command's own --help is translated too";
    EXPECT_EQ(HelpExamples("  carerelay list"), Tr("help.example") + "\n  carerelay list");
  }
  SetLanguage(Language::kEnglish);
  // Continuation lines (six spaces) belong to the command above them.
  EXPECT_EQ(HelpExamples("  carerelay a \\\n      --b\n  carerelay c", "Note."),
            "Examples:\n  carerelay a \\\n      --b\n  carerelay c\nNote.");
  EXPECT_EQ(HelpExamples("  carerelay a \\\n      --b"), "Example:\n  carerelay a \\\n      --b");
}

}  // namespace
}  // namespace carerelay::cli
