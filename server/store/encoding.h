// Fixed-width big-endian integers for keys, so that byte order is numeric
// order and a prefix scan of a device's queue returns it in sequence order.
#ifndef CARERELAY_SERVER_STORE_ENCODING_H_
#define CARERELAY_SERVER_STORE_ENCODING_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace carerelay::store {

inline void AppendBigEndian32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

// Reads 4 or 8 bytes at `pos`; the caller checks the length first.
inline uint32_t ReadBigEndian32(absl::string_view s, size_t pos) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

inline uint64_t ReadBigEndian64(absl::string_view s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_ENCODING_H_
