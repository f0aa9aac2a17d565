// Folding of text in the Latin script to plain lower-case ASCII letters, so
// that what people type without accents finds what was written with them:
// "Thérèse" and "therese", "Straße" and "strasse", "Œuvre" and "oeuvre".
// Used by the client's name index (client/name_folding.h) and by the
// server's search of the resource map (server/core/resource_map.h), so the
// two fold alike.
//
// Covered: ASCII, Latin-1 Supplement and Latin Extended-A letters, and
// combining accents (U+0300-U+036F, as a decomposed keyboard sends them),
// which are dropped. Not covered, by design: transliterations ("ü" folds to
// "u", never "ue") and other scripts.
//
// Thread-safety: pure functions; thread-safe.
#ifndef CARERELAY_TEXT_LATIN_FOLDING_H_
#define CARERELAY_TEXT_LATIN_FOLDING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace carerelay::text {

// Decodes the UTF-8 code point at `*i` of `s`, advancing `*i` past it.
// False for malformed UTF-8 (overlong forms, surrogates, truncation), and
// `*i` is left unchanged.
bool DecodeUtf8(absl::string_view s, size_t* i, char32_t* out);

// The lower-case ASCII letters of a Latin letter ("e" for 'É', "ss" for
// 'ß', "ae" for 'æ'), or nullptr when `c` is not one.
const char* FoldLatinLetter(char32_t c);

bool IsCombiningAccent(char32_t c);

// `utf8` with every Latin letter folded, combining accents dropped, ASCII
// lower-cased, and anything else (digits, punctuation, other scripts,
// malformed bytes) kept as it is. For matching a search against text.
std::string FoldForSearch(absl::string_view utf8);

}  // namespace carerelay::text

#endif  // CARERELAY_TEXT_LATIN_FOLDING_H_
