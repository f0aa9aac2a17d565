// The message catalogs of the `carerelay` CLI: every sentence the CLI prints
// to a person, in English, French and Dutch.
//
// The catalogs are plain text files under client/cli/catalog/<language>/, one
// file per area of the CLI (common.txt, team.txt, ...), built into the binary
// so a copied `carerelay` needs nothing beside it. Each non-blank line that
// does not start with '#' is
//
//   key = text
//
// where `text` may contain `\n` (a line break), `\\` (a backslash) and
// placeholders `{name}` that Tr() fills in. Every language has exactly the
// same keys with the same placeholders; the catalog test checks it, and that
// every key the sources ask for exists.
//
// Only what a person reads is translated. --json output, ids, command names
// and the server's own error details stay as they are, so scripts and logs
// read the same in every language.
//
// Thread-safety: SetLanguage() is called once, before any Tr(); after that
// everything here is read-only and safe from any thread.
#ifndef CARERELAY_CLIENT_CLI_CATALOG_H_
#define CARERELAY_CLIENT_CLI_CATALOG_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace carerelay::cli {

enum class Language { kEnglish, kFrench, kDutch, kGerman };

// Every language, in a fixed order (English first: the reference catalog).
const std::vector<Language>& AllLanguages();
// "en", "fr", "nl", "de".
std::string_view LanguageCode(Language language);

// The language to speak: `flag` (--lang) if not empty, else the first of
// CARERELAY_LANG, LC_ALL, LC_MESSAGES and LANG that is set and not empty.
// A locale such as "fr_BE.UTF-8" or "nl" counts by its first two letters;
// "C", "POSIX" and languages without a catalog give English.
// INVALID_ARGUMENT only for a --lang other than en, fr, nl or de (a person asked
// for it explicitly, so silently answering in English would mislead).
absl::StatusOr<Language> ChooseLanguage(std::string_view flag);

// The language Tr() uses from now on (English until called).
void SetLanguage(Language language);
Language CurrentLanguage();

// One filled-in placeholder: {"name", value}.
using TrArg = std::pair<std::string_view, std::string>;

// The text of `key` in the current language with its placeholders filled.
// A key missing from that language falls back to English, then to the key
// itself (the catalog test keeps both from happening in a release); an
// unknown placeholder is left as written.
std::string Tr(std::string_view key, std::initializer_list<TrArg> args = {});

// One language's catalog as parsed, for the catalog test.
struct Catalog {
  std::map<std::string, std::string, std::less<>> texts;  // key -> text
  // One entry per malformed or duplicate line: "team.txt:12: why".
  std::vector<std::string> errors;
};
const Catalog& CatalogOf(Language language);

// The placeholders a text uses ("{team}" -> "team"), sorted, without repeats.
std::vector<std::string> PlaceholdersOf(std::string_view text);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_CATALOG_H_
