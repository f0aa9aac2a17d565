// The plaintext of every end-to-end encrypted message: a carerelay.v1.Content
// protobuf (proto/carerelay/v1/content.proto), serialized then padded
// (padding.h). These two functions are the only place that format is made
// and read, so pairwise and group messages cannot drift apart.
//
// Pure functions; thread-safe.

#ifndef CARERELAY_CRYPTO_CONTENT_CODEC_H_
#define CARERELAY_CRYPTO_CONTENT_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/content.pb.h"

namespace carerelay::crypto {

// The Content.version this client writes and understands.
inline constexpr uint32_t kContentVersion = 1;

// Serializes and pads `content`. A version of 0 is written as kContentVersion.
// InvalidArgument if content.version is set to another value or serialization
// fails.
absl::StatusOr<std::string> EncodeContent(const carerelay::v1::Content& content);

// Unpads and parses a decrypted plaintext. InvalidArgument for bad padding, a
// protobuf that does not parse or a missing version; Unimplemented for a
// version newer than kContentVersion (the sender runs a newer client).
absl::StatusOr<carerelay::v1::Content> DecodeContent(absl::string_view padded);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_CONTENT_CODEC_H_
