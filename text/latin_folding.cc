#include "text/latin_folding.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/ascii.h"

namespace carerelay::text {
namespace {

// Letters of Latin-1 Supplement and Latin Extended-A, by ranges of code
// points that fold to the same ASCII.
struct Fold {
  char32_t first, last;
  const char* ascii;
};

constexpr Fold kFolds[] = {
    // Latin-1 Supplement (U+00C0-U+00FF; U+00D7 and U+00F7 are signs).
    {0xC0, 0xC5, "a"},
    {0xC6, 0xC6, "ae"},
    {0xC7, 0xC7, "c"},
    {0xC8, 0xCB, "e"},
    {0xCC, 0xCF, "i"},
    {0xD0, 0xD0, "d"},
    {0xD1, 0xD1, "n"},
    {0xD2, 0xD6, "o"},
    {0xD8, 0xD8, "o"},
    {0xD9, 0xDC, "u"},
    {0xDD, 0xDD, "y"},
    {0xDE, 0xDE, "th"},
    {0xDF, 0xDF, "ss"},
    {0xE0, 0xE5, "a"},
    {0xE6, 0xE6, "ae"},
    {0xE7, 0xE7, "c"},
    {0xE8, 0xEB, "e"},
    {0xEC, 0xEF, "i"},
    {0xF0, 0xF0, "d"},
    {0xF1, 0xF1, "n"},
    {0xF2, 0xF6, "o"},
    {0xF8, 0xF8, "o"},
    {0xF9, 0xFC, "u"},
    {0xFD, 0xFD, "y"},
    {0xFE, 0xFE, "th"},
    {0xFF, 0xFF, "y"},
    // Latin Extended-A (U+0100-U+017F), in its order of base letters.
    {0x100, 0x105, "a"},
    {0x106, 0x10D, "c"},
    {0x10E, 0x111, "d"},
    {0x112, 0x11B, "e"},
    {0x11C, 0x123, "g"},
    {0x124, 0x127, "h"},
    {0x128, 0x131, "i"},
    {0x132, 0x133, "ij"},
    {0x134, 0x135, "j"},
    {0x136, 0x138, "k"},
    {0x139, 0x142, "l"},
    {0x143, 0x14B, "n"},
    {0x14C, 0x151, "o"},
    {0x152, 0x153, "oe"},
    {0x154, 0x159, "r"},
    {0x15A, 0x161, "s"},
    {0x162, 0x167, "t"},
    {0x168, 0x173, "u"},
    {0x174, 0x175, "w"},
    {0x176, 0x178, "y"},
    {0x179, 0x17E, "z"},
    {0x17F, 0x17F, "s"},
};

// "a" to "z", each a NUL-terminated string FoldLatinLetter can return.
constexpr char kAscii[26][2] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
                                "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z"};

}  // namespace

bool DecodeUtf8(absl::string_view s, size_t* i, char32_t* out) {
  if (*i >= s.size()) return false;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(*i);
  const size_t n = b0 < 0x80           ? 1
                   : (b0 >> 5) == 0x6  ? 2
                   : (b0 >> 4) == 0xE  ? 3
                   : (b0 >> 3) == 0x1E ? 4
                                       : 0;
  if (n == 0 || *i + n > s.size()) return false;
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (byte(*i + k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  *i += n;
  *out = cp;
  return true;
}

const char* FoldLatinLetter(char32_t c) {
  if (c < 0x80) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return nullptr;
    return kAscii[absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a'];
  }
  const Fold* fold = std::find_if(std::begin(kFolds), std::end(kFolds),
                                  [c](const Fold& f) { return f.first <= c && c <= f.last; });
  return fold == std::end(kFolds) ? nullptr : fold->ascii;
}

bool IsCombiningAccent(char32_t c) { return c >= 0x300 && c <= 0x36F; }

std::string FoldForSearch(absl::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    const size_t start = i;
    char32_t c = 0;
    if (!DecodeUtf8(utf8, &i, &c)) {
      out.push_back(utf8[i++]);  // a malformed byte, kept
      continue;
    }
    if (IsCombiningAccent(c)) continue;
    if (const char* folded = FoldLatinLetter(c)) {
      out.append(folded);
    } else {
      out.append(utf8.data() + start, i - start);
    }
  }
  return out;
}

}  // namespace carerelay::text
