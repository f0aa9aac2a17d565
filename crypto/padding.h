// Message padding: hides the exact length of a plaintext from anyone who sees
// the ciphertext (the server, the network) by rounding it up to a multiple of
// kPaddingBlock bytes before encryption, as Signal does.
//
// Format: plaintext || 0x80 || 0x00 ... 0x00, total length a non-zero multiple
// of kPaddingBlock. The 0x80 marker is always present (a plaintext whose
// length is already a multiple gets a whole extra block), so unpadding is
// unambiguous.
//
// Pure functions; thread-safe.

#ifndef CARERELAY_CRYPTO_PADDING_H_
#define CARERELAY_CRYPTO_PADDING_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::crypto {

inline constexpr size_t kPaddingBlock = 160;

// The padded form of `plaintext`. Never fails.
std::string PadMessage(absl::string_view plaintext);

// The plaintext inside `padded`. InvalidArgument (and no out-of-bounds read)
// if `padded` is empty, not a multiple of kPaddingBlock, or does not end with
// 0x80 followed only by zero bytes. Only ever applied to authenticated
// plaintext, so it need not be constant-time.
absl::StatusOr<std::string> UnpadMessage(absl::string_view padded);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_PADDING_H_
