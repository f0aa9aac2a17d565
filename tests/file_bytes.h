// Small byte helpers the tests, the fuzz targets and their fixtures share:
// a whole file's bytes, and a SHA-256 (the digest an upload declares).
// Header-only; pure functions, thread-safe.
#ifndef CARERELAY_TESTS_FILE_BYTES_H_
#define CARERELAY_TESTS_FILE_BYTES_H_

#include <openssl/sha.h>

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/string_view.h"

namespace carerelay::testing {

// The bytes of the file at `path`; empty if it cannot be read.
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// SHA-256 of `bytes`, 32 raw bytes.
inline std::string Sha256(absl::string_view bytes) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace carerelay::testing

#endif  // CARERELAY_TESTS_FILE_BYTES_H_
