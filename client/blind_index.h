// Blind index: how the helpdesk finds an existing patient's team without the
// server ever learning who the patient is (DESIGN.md, "Care teams").
//
// The index of a patient is HMAC-SHA256 under an organisation key of their
// normalised national number:
//
//   index = HMAC-SHA256(org_key, "carerelay-blind-index-v1" || 0x00 || normalised)
//
// and, for a person without a Belgian or French national number (or a
// caller who does not know it), a second index of their normalised name and
// birth date, under its own label so the two can never collide:
//
//   index = HMAC-SHA256(org_key, "carerelay-name-index-v1" || 0x00 ||
//                       "YYYY-MM-DD" || 0x00 || folded name)
//
// The second index has far less entropy than a national number: whoever
// holds the organisation key can test a guessed name and birth date, as with
// a national number, and two people may share one (a match is checked with
// the team before anything is said). The server, without the key, can test
// neither.
//
// The organisation key is shared out of band by the organisation's members
// (coordinators, case managers, helpdesk) and never reaches the server, so
// the server stores an opaque 32-byte value it cannot invert, and cannot
// even test a guessed national number against. Whoever holds the key can;
// that is why the key file must stay private to its owner.
//
// Key rotation. The key file lists several keys, newest first: the first is
// the current key (used to register a team's index), the others are previous
// keys kept during a rotation (a lookup tries all of them, since a team may
// still be indexed under an old key). After a rotation, members re-register
// each team's index under the new key version; the server keeps one index
// per (team, key version), replacing it on re-registration.
//
// Thread-safety: free functions without shared state; thread-safe.
#ifndef CARERELAY_CLIENT_BLIND_INDEX_H_
#define CARERELAY_CLIENT_BLIND_INDEX_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::client {

// The domain-separation label hashed before the national number; a new label
// would be a new, incompatible index.
inline constexpr absl::string_view kBlindIndexLabel = "carerelay-blind-index-v1";
inline constexpr absl::string_view kNameIndexLabel = "carerelay-name-index-v1";
// Organisation keys are 256 bits.
inline constexpr size_t kOrganisationKeySize = 32;
// The longest key version the server accepts (SetBlindIndexRequest).
inline constexpr size_t kMaxKeyVersionSize = 32;

// The one written form of a national number that is hashed, so that every
// way a person writes it finds the same team:
//   - spaces, dots, dashes and slashes are removed, letters upper-cased;
//   - a Belgian NISS/INSZ (rijksregisternummer, BIS number) is 11 digits
//     whose last two are the check digits (97 - number mod 97, with the
//     2000+ variant): returned as its 11 digits;
//   - a French NIR (numero de securite sociale) is 13 characters, digits
//     except the department of Corsica "2A" or "2B" (characters 6-7), or 15
//     with its 2-digit key, which is then checked and dropped: returned as
//     its 13 characters.
// INVALID_ARGUMENT, saying what is wrong, for anything else (wrong length,
// other characters, check digits or key that do not match: a mistyped digit
// would otherwise silently find no team).
absl::StatusOr<std::string> NormaliseNationalNumber(absl::string_view written);

// HMAC-SHA256(org_key, kBlindIndexLabel || 0x00 || normalised): 32 bytes.
// INVALID_ARGUMENT if `org_key` is not kOrganisationKeySize bytes or
// `normalised` is not the output of NormaliseNationalNumber; INTERNAL if
// OpenSSL fails.
absl::StatusOr<std::string> BlindIndex(absl::string_view org_key, absl::string_view normalised);

// The normalised name and birth date that the second index hashes:
// "YYYY-MM-DD", a 0x00 byte, and the folded name (name_folding.h). The
// birth date is written YYYY-MM-DD, DD/MM/YYYY, DD.MM.YYYY or DD-MM-YYYY, a
// real date from 1880 on. INVALID_ARGUMENT, saying what is wrong, for a
// name FoldName refuses or a date it cannot read.
absl::StatusOr<std::string> NormaliseNameAndBirthDate(absl::string_view name,
                                                      absl::string_view birth_date);

// HMAC-SHA256(org_key, kNameIndexLabel || 0x00 || normalised): 32 bytes.
// INVALID_ARGUMENT if `org_key` is not kOrganisationKeySize bytes or
// `normalised` is not the output of NormaliseNameAndBirthDate; INTERNAL if
// OpenSSL fails.
absl::StatusOr<std::string> NameBlindIndex(absl::string_view org_key, absl::string_view normalised);

// One organisation key. The key bytes are wiped when the object goes.
struct OrganisationKey {
  OrganisationKey() = default;
  OrganisationKey(std::string version, std::string key);
  OrganisationKey(const OrganisationKey&) = default;
  OrganisationKey& operator=(const OrganisationKey&) = default;
  ~OrganisationKey();

  std::string version;  // e.g. "2026-1", at most kMaxKeyVersionSize bytes
  std::string key;      // kOrganisationKeySize raw bytes
};

// The keys of a key file, current first (never empty once parsed).
struct OrganisationKeyring {
  std::vector<OrganisationKey> keys;
  const OrganisationKey& current() const { return keys.front(); }
};

// Parses a key file's text: one key per line, "<key_version> <64 hex
// characters>", the current key first; blank lines and lines starting with
// '#' are ignored. Versions are 1 to 32 characters of letters, digits, '.',
// '_' and '-', each listed once. INVALID_ARGUMENT naming the line (never the
// key) for anything else, or when there is no key at all. `source` names the
// file in messages.
absl::StatusOr<OrganisationKeyring> ParseOrganisationKeys(absl::string_view text,
                                                          absl::string_view source);

// Reads and parses the key file at `path`.
//   NOT_FOUND            no file there (the message says how to get one)
//   FAILED_PRECONDITION  the file's mode gives any access to the group or to
//                        others (the key would not be private): it is not
//                        read; the message gives the chmod to run
//   INVALID_ARGUMENT     not a regular file, or not a valid key file
//   INTERNAL             it cannot be read
absl::StatusOr<OrganisationKeyring> LoadOrganisationKeys(const std::string& path);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_BLIND_INDEX_H_
