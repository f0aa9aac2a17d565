// The one written form of a person's name that the second blind index
// hashes (blind_index.h), so that the ways a helpdesk and a care team write
// the same name find the same team: "Marie-Thérèse DUBOIS",
// "Dubois, Marie Therese" and "marie therese dubois" fold alike.
//
//   - letters of the Latin script (ASCII, Latin-1, Latin Extended-A, and
//     combining accents as a decomposed keyboard types them) lose their
//     accents and case: é -> e, Ç -> c, ß -> ss, æ -> ae, œ -> oe, ĳ -> ij;
//   - apostrophes disappear inside a word (D'Hondt, d’Hondt -> dhondt);
//   - spaces, hyphens, commas and dots separate words;
//   - the words are sorted, so the order of given and family names does not
//     matter, and joined by one space.
//
// What it does not fold, by design: transliterations ("Müller" and
// "Mueller" stay different), particles written joined or apart
// ("Van den Bossche" and "Vandenbossche"), and other scripts, which are
// refused: the team profile is written in Latin letters by professionals.
//
// Thread-safety: a pure function; thread-safe.
#ifndef CARERELAY_CLIENT_NAME_FOLDING_H_
#define CARERELAY_CLIENT_NAME_FOLDING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::client {

// The longest name accepted, in bytes of UTF-8.
inline constexpr size_t kMaxNameSize = 200;

// The folded name (see above). INVALID_ARGUMENT, saying what is wrong, for
// malformed UTF-8, a character that is neither a Latin letter nor a
// separator (a digit, another script), fewer than two letters, or more than
// kMaxNameSize bytes.
absl::StatusOr<std::string> FoldName(absl::string_view written);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_NAME_FOLDING_H_
