#include "client/blind_index.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "client/name_folding.h"
#include "crypto/openssl_ptr.h"

namespace carerelay::client {
namespace {

constexpr size_t kNissSize = 11;
constexpr size_t kNirSize = 13;
constexpr size_t kNirWithKeySize = 15;
constexpr size_t kMaxKeyFileSize = 64 * 1024;

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// `digits` (at most 18 of them) as a number.
uint64_t ToNumber(absl::string_view digits) {
  uint64_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
  return n;
}

absl::StatusOr<std::string> CheckNiss(const std::string& n, absl::string_view written) {
  // Check digits: 97 - (first nine digits mod 97); people born in 2000 or
  // later get the same with a 2 in front of the nine digits.
  const uint64_t body = ToNumber(absl::string_view(n).substr(0, 9));
  const uint64_t check = ToNumber(absl::string_view(n).substr(9, 2));
  if (97 - body % 97 == check || 97 - (2000000000ULL + body) % 97 == check) return n;
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", written,
      "\" looks like a Belgian national number (NISS/INSZ) but its check digits do not match: "
      "a digit is probably mistyped; check it on the eID card or the insurance card"));
}

absl::StatusOr<std::string> CheckNir(const std::string& n, absl::string_view written) {
  std::string body = n.substr(0, kNirSize);
  // Corsica: departments 2A and 2B; everything else is digits.
  const bool corsica = body[5] == '2' && (body[6] == 'A' || body[6] == 'B');
  std::string numeric = body;
  if (corsica) numeric.replace(5, 2, body[6] == 'A' ? "19" : "18");
  if (!AllDigits(numeric)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", written,
                     "\" is not a French NIR: it must be digits, except a Corsican department "
                     "2A or 2B in 6th-7th position"));
  }
  if (body[0] == '0' || body[0] == '9') {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", written, "\" is not a French NIR: its first digit (sex) must be 1 to 8"));
  }
  if (n.size() == kNirWithKeySize) {
    const std::string key = n.substr(kNirSize);
    const uint64_t expected = 97 - ToNumber(numeric) % 97;
    if (!AllDigits(key) || ToNumber(key) != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", written,
          "\" looks like a French NIR with its key, but the key (last two digits) does not "
          "match: a digit is probably mistyped; check it on the carte Vitale"));
    }
  }
  return body;
}

}  // namespace

absl::StatusOr<std::string> NormaliseNationalNumber(absl::string_view written) {
  std::string n;
  for (char c : written) {
    if (c == ' ' || c == '.' || c == '-' || c == '/' || c == '\t') continue;
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a national number has only digits (and 2A/2B for Corsica), written with optional "
          "spaces, dots, dashes or slashes; \"",
          written, "\" has other characters"));
    }
    n.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  if (n.size() == kNissSize) {
    if (!AllDigits(n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", written, "\" is not a Belgian NISS/INSZ: it must be 11 digits"));
    }
    return CheckNiss(n, written);
  }
  if (n.size() == kNirSize || n.size() == kNirWithKeySize) return CheckNir(n, written);
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", written, "\" is neither a Belgian NISS/INSZ (11 digits, e.g. 85.07.30-033.28) nor a ",
      "French NIR (13 characters, or 15 with its key, e.g. 1 85 07 2A 123 456 65): it has ",
      n.size(), " digits and letters"));
}

namespace {

// HMAC-SHA256(org_key, label || 0x00 || normalised).
absl::StatusOr<std::string> KeyedHash(absl::string_view org_key, absl::string_view label,
                                      absl::string_view normalised) {
  if (org_key.size() != kOrganisationKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("an organisation key is ", kOrganisationKeySize,
                                                   " bytes, not ", org_key.size()));
  }
  crypto::EvpMacPtr mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) return absl::InternalError("OpenSSL has no HMAC");
  crypto::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return absl::InternalError("EVP_MAC_CTX_new failed");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  const unsigned char separator = 0;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t out_size = 0;
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(org_key.data()),
                   org_key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(label.data()),
                     label.size()) != 1 ||
      EVP_MAC_update(ctx.get(), &separator, 1) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(normalised.data()),
                     normalised.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out, &out_size, sizeof(out)) != 1 || out_size != 32) {
    return absl::InternalError("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), out_size);
}

}  // namespace

absl::StatusOr<std::string> BlindIndex(absl::string_view org_key, absl::string_view normalised) {
  // A number in another written form would give an index that finds
  // nothing, silently: refuse it instead.
  absl::StatusOr<std::string> check = NormaliseNationalNumber(normalised);
  if (!check.ok() || *check != normalised) {
    return absl::InvalidArgumentError(
        "the blind index is computed over a normalised national number "
        "(NormaliseNationalNumber)");
  }
  return KeyedHash(org_key, kBlindIndexLabel, normalised);
}

absl::StatusOr<std::string> NormaliseNameAndBirthDate(absl::string_view name,
                                                      absl::string_view birth_date) {
  auto folded = FoldName(name);
  if (!folded.ok()) return folded.status();
  const absl::string_view d = absl::StripAsciiWhitespace(birth_date);
  // YYYY-MM-DD, or day first with '/', '.' or '-'.
  int year = 0, month = 0, day = 0;
  auto number = [&](size_t at, size_t n, int* out) {
    return at + n <= d.size() && AllDigits(d.substr(at, n)) &&
           absl::SimpleAtoi(d.substr(at, n), out);
  };
  bool read = false;
  if (d.size() == 10 && d[4] == '-' && d[7] == '-') {
    read = number(0, 4, &year) && number(5, 2, &month) && number(8, 2, &day);
  } else if (d.size() == 10 && d[2] == d[5] && (d[2] == '/' || d[2] == '.' || d[2] == '-')) {
    read = number(0, 2, &day) && number(3, 2, &month) && number(6, 4, &year);
  }
  const absl::CivilDay date(year, month, day);
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (!read || date.year() != year || date.month() != month || date.day() != day || year < 1880 ||
      date > today + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the birth date \"", d,
        "\" is not a past date written YYYY-MM-DD, DD/MM/YYYY or DD.MM.YYYY (from 1880 on)"));
  }
  return absl::StrCat(absl::FormatCivilTime(date), std::string(1, '\0'), *folded);
}

absl::StatusOr<std::string> NameBlindIndex(absl::string_view org_key,
                                           absl::string_view normalised) {
  const size_t cut = normalised.find('\0');
  auto check =
      cut == absl::string_view::npos
          ? absl::StatusOr<std::string>(absl::InvalidArgumentError(""))
          : NormaliseNameAndBirthDate(normalised.substr(cut + 1), normalised.substr(0, cut));
  if (!check.ok() || *check != normalised) {
    return absl::InvalidArgumentError(
        "the name index is computed over a normalised name and birth date "
        "(NormaliseNameAndBirthDate)");
  }
  return KeyedHash(org_key, kNameIndexLabel, normalised);
}

OrganisationKey::OrganisationKey(std::string version, std::string key)
    : version(std::move(version)), key(std::move(key)) {}

OrganisationKey::~OrganisationKey() { OPENSSL_cleanse(key.data(), key.size()); }

absl::StatusOr<OrganisationKeyring> ParseOrganisationKeys(absl::string_view text,
                                                          absl::string_view source) {
  OrganisationKeyring ring;
  std::set<std::string> versions;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, " line ", line_number, ": ", why,
          "; each line is \"<key_version> <64 hex characters>\", the current key first"));
    };
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) return bad("expected two fields");
    const absl::string_view version = fields[0];
    const absl::string_view hex = fields[1];
    if (version.size() > kMaxKeyVersionSize) return bad("the key version is longer than 32");
    for (char c : version) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        return bad("the key version may only have letters, digits, '.', '_' and '-'");
      }
    }
    if (hex.size() != 2 * kOrganisationKeySize) return bad("the key is not 64 hex characters");
    for (char c : hex) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return bad("the key is not 64 hex characters");
      }
    }
    if (!versions.insert(std::string(version)).second) {
      return bad(absl::StrCat("key version ", version, " is listed twice"));
    }
    ring.keys.emplace_back(std::string(version), absl::HexStringToBytes(hex));
  }
  if (ring.keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " has no key; each line is \"<key_version> <64 hex characters>\""));
  }
  return ring;
}

absl::StatusOr<OrganisationKeyring> LoadOrganisationKeys(const std::string& path) {
  // Opened first and checked through the descriptor, so the checked file is
  // the read one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "no organisation key at ", path,
          ": ask your organisation's administrator for the key file, save it there with mode "
          "600, or give its path with --org-key FILE"));
    }
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is a symbolic link: give the key file itself with --org-key"));
    }
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the organisation key %s is open to other users (mode %04o): it must be readable by "
        "you alone; run `chmod 600 %s` (and ask whether the key must be rotated)",
        path, st.st_mode & 07777, path));
  }
  if (static_cast<size_t>(st.st_size) > kMaxKeyFileSize) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is too large for a key file"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  absl::StatusOr<OrganisationKeyring> ring = ParseOrganisationKeys(text, path);
  OPENSSL_cleanse(text.data(), text.size());
  return ring;
}

}  // namespace carerelay::client
