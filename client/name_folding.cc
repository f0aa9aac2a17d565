#include "client/name_folding.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "text/latin_folding.h"

namespace carerelay::client {
namespace {

bool IsSeparator(char32_t c) { return c == ' ' || c == '\t' || c == '-' || c == ',' || c == '.'; }
bool IsApostrophe(char32_t c) { return c == '\'' || c == 0x2019 || c == 0x02BC; }

}  // namespace

absl::StatusOr<std::string> FoldName(absl::string_view written) {
  if (written.size() > kMaxNameSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a name is at most ", kMaxNameSize, " bytes; this one is ", written.size()));
  }
  std::vector<std::string> words(1);
  size_t letters = 0;
  for (size_t i = 0; i < written.size();) {
    char32_t c = 0;
    if (!text::DecodeUtf8(written, &i, &c)) {
      return absl::InvalidArgumentError("the name is not valid UTF-8 text");
    }
    if (IsSeparator(c)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (IsApostrophe(c) || text::IsCombiningAccent(c)) continue;
    const char* folded = text::FoldLatinLetter(c);
    if (folded == nullptr) {
      return absl::InvalidArgumentError(
          "a name is written with letters of the Latin alphabet (accents allowed), spaces, "
          "hyphens and apostrophes; it has another character (a digit, a sign, another "
          "script)");
    }
    words.back().append(folded);
    ++letters;
  }
  if (words.back().empty()) words.pop_back();
  if (letters < 2) return absl::InvalidArgumentError("a name has at least two letters");
  std::sort(words.begin(), words.end());
  return absl::StrJoin(words, " ");
}

}  // namespace carerelay::client
