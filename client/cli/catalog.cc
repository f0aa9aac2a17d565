#include "client/cli/catalog.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/catalog_files.h"

namespace carerelay::cli {
namespace {

std::atomic<Language> current_language{Language::kEnglish};

// Undoes the two escapes of the format; false on any other escape or a
// trailing backslash.
bool Unescape(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out->push_back(in[i]);
      continue;
    }
    if (++i == in.size()) return false;
    if (in[i] == 'n') {
      out->push_back('\n');
    } else if (in[i] == '\\') {
      out->push_back('\\');
    } else {
      return false;
    }
  }
  return true;
}

void ParseFile(const internal::CatalogFile& file, Catalog* catalog) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(file.text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return absl::StrCat(file.name, ":", line_number, ": "); };
    size_t eq = line.find(" = ");
    if (eq == absl::string_view::npos) {
      catalog->errors.push_back(where() + "expected `key = text`");
      continue;
    }
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    std::string text;
    if (key.empty() || key.find(' ') != std::string::npos) {
      catalog->errors.push_back(where() + "the key must be one word");
      continue;
    }
    if (!Unescape(line.substr(eq + 3), &text)) {
      catalog->errors.push_back(where() + "only \\n and \\\\ may follow a backslash");
      continue;
    }
    if (!catalog->texts.emplace(key, std::move(text)).second) {
      catalog->errors.push_back(where() + "duplicate key " + key);
    }
  }
}

// Catalog arrays are indexed by Language.
constexpr size_t kLanguageCount = static_cast<size_t>(Language::kGerman) + 1;

std::array<Catalog, kLanguageCount> ParseAll() {
  std::array<Catalog, kLanguageCount> catalogs;
  for (size_t i = 0; i < internal::kCatalogFileCount; ++i) {
    const internal::CatalogFile& file = internal::kCatalogFiles[i];
    for (Language language : AllLanguages()) {
      if (LanguageCode(language) == file.language) {
        ParseFile(file, &catalogs[static_cast<size_t>(language)]);
      }
    }
  }
  return catalogs;
}

// The language named by the start of a locale or code ("fr_BE.UTF-8"), if
// there is a catalog for it.
std::optional<Language> LanguageNamed(std::string_view name) {
  std::string code = absl::AsciiStrToLower(std::string(name.substr(0, 2)));
  if (name.size() > 2 && name[2] != '_' && name[2] != '-' && name[2] != '.' && name[2] != '@') {
    return std::nullopt;
  }
  for (Language language : AllLanguages()) {
    if (LanguageCode(language) == code) return language;
  }
  return std::nullopt;
}

}  // namespace

const std::vector<Language>& AllLanguages() {
  static const std::vector<Language> all = {Language::kEnglish, Language::kFrench, Language::kDutch,
                                            Language::kGerman};
  return all;
}

std::string_view LanguageCode(Language language) {
  switch (language) {
    case Language::kFrench:
      return "fr";
    case Language::kDutch:
      return "nl";
    case Language::kGerman:
      return "de";
    case Language::kEnglish:
      break;
  }
  return "en";
}

absl::StatusOr<Language> ChooseLanguage(std::string_view flag) {
  if (!flag.empty()) {
    std::optional<Language> language = LanguageNamed(flag);
    if (!language) {
      return absl::InvalidArgumentError(
          absl::StrCat("--lang ", std::string(flag), ": carerelay speaks en, fr, nl and de"));
    }
    return *language;
  }
  for (const char* variable : {"CARERELAY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = getenv(variable);
    if (value == nullptr || *value == '\0') continue;
    // The first one set decides, as for every program reading the locale.
    return LanguageNamed(value).value_or(Language::kEnglish);
  }
  return Language::kEnglish;
}

void SetLanguage(Language language) { current_language.store(language); }
Language CurrentLanguage() { return current_language.load(); }

const Catalog& CatalogOf(Language language) {
  static const std::array<Catalog, kLanguageCount> catalogs = ParseAll();
  return catalogs[static_cast<size_t>(language)];
}

std::vector<std::string> PlaceholdersOf(std::string_view text) {
  std::vector<std::string> names;
  for (size_t open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    size_t close = text.find('}', open);
    if (close == std::string_view::npos) break;
    names.emplace_back(text.substr(open + 1, close - open - 1));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string Tr(std::string_view key, std::initializer_list<TrArg> args) {
  const std::string* text = nullptr;
  for (Language language : {CurrentLanguage(), Language::kEnglish}) {
    const auto& texts = CatalogOf(language).texts;
    auto it = texts.find(key);
    if (it != texts.end()) {
      text = &it->second;
      break;
    }
  }
  if (text == nullptr) return std::string(key);
  std::string out;
  out.reserve(text->size());
  for (size_t i = 0; i < text->size();) {
    if ((*text)[i] == '{') {
      size_t close = text->find('}', i);
      if (close != std::string::npos) {
        std::string_view name(text->data() + i + 1, close - i - 1);
        auto arg =
            std::find_if(args.begin(), args.end(), [&](const TrArg& a) { return a.first == name; });
        if (arg != args.end()) {
          out += arg->second;
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back((*text)[i++]);
  }
  return out;
}

}  // namespace carerelay::cli
