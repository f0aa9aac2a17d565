// The CLI's message catalogs (client/cli/catalog.h): every language has every
// key with the same placeholders, every key the sources use exists, no key is
// left unused, and the language is chosen from --lang, CARERELAY_LANG and the
// locale.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "client/cli/catalog.h"

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

}  // namespace
}  // namespace carerelay::cli
