// AtRestCipher: encryption of a client profile's records at rest.
//
// A key is derived from the user's passphrase with scrypt (memory-hard, so a
// stolen profile resists offline guessing), then every record is sealed with
// AES-256-GCM under a fresh random 96-bit nonce. The record's location (column
// family and key) is authenticated as associated data, so a record cannot be
// moved to another slot (e.g. an old session record replayed in place of a
// new one for another contact) without detection.
//
// Sealed format: nonce (12 bytes) || ciphertext || GCM tag (16 bytes).
// Random nonces are safe for far more records than a profile writes in its
// life (the GCM bound is 2^32 messages per key).
//
// Thread-safety: immutable after creation; Seal and Open may be called
// concurrently. The key is wiped from memory on destruction.

#ifndef CARERELAY_CRYPTO_AT_REST_CIPHER_H_
#define CARERELAY_CRYPTO_AT_REST_CIPHER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::crypto {

// scrypt cost. The default (N=2^15, r=8, p=1) takes about 32 MiB and a
// fraction of a second: once per profile open, never per message.
struct ScryptParams {
  uint64_t n = uint64_t{1} << 15;
  uint32_t r = 8;
  uint32_t p = 1;
};

// OK, or InvalidArgument if `params` are not usable: N must be a power of two
// in 2^10..2^22, r in 1..32, p in 1..16 (the upper bounds keep a corrupted
// profile from asking for gigabytes of memory).
absl::Status ValidateScryptParams(const ScryptParams& params);

// Raw scrypt (RFC 7914) with OpenSSL's EVP_KDF "SCRYPT", for `out_len` bytes.
// Internal if OpenSSL fails. Does not apply ValidateScryptParams, so that the
// RFC's test vectors can be checked.
absl::StatusOr<std::string> Scrypt(absl::string_view passphrase, absl::string_view salt,
                                   const ScryptParams& params, size_t out_len);

class AtRestCipher {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kSaltSize = 16;

  // Derives the key from `passphrase` and `salt` (kSaltSize random bytes kept
  // in the profile). InvalidArgument for an empty passphrase or bad params.
  static absl::StatusOr<AtRestCipher> FromPassphrase(absl::string_view passphrase,
                                                     absl::string_view salt,
                                                     const ScryptParams& params);
  // Uses `key` (kKeySize bytes) directly. InvalidArgument on a wrong size.
  static absl::StatusOr<AtRestCipher> FromKey(absl::string_view key);

  AtRestCipher(AtRestCipher&& other) noexcept;
  AtRestCipher& operator=(AtRestCipher&& other) noexcept;
  AtRestCipher(const AtRestCipher&) = delete;
  AtRestCipher& operator=(const AtRestCipher&) = delete;
  ~AtRestCipher();

  // Encrypts `plaintext`, binding it to `associated_data`. Internal if
  // OpenSSL fails.
  absl::StatusOr<std::string> Seal(absl::string_view associated_data,
                                   absl::string_view plaintext) const;
  // Decrypts a Seal output. DataLoss if it is truncated, was sealed under
  // another key or other associated data, or was modified.
  absl::StatusOr<std::string> Open(absl::string_view associated_data,
                                   absl::string_view sealed) const;

 private:
  AtRestCipher() = default;
  void Wipe();

  unsigned char key_[kKeySize] = {};
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_AT_REST_CIPHER_H_
